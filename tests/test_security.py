"""Security: no user value becomes emitted code, a loaded graph's origins are never read as
files, `gc.load` reads only bounded regular files, and `np.matrix` data is plain array data."""

from __future__ import annotations

import enum
import json
import linecache
import os
import warnings

import numpy as np
import pytest

import graphc as gc
from graphc import serialize
from graphc.codegen import literal


def _evil_number(base, marker):
    """A `base` subclass whose text forms are a Python call that creates `marker`."""
    payload = f"__import__('pathlib').Path({str(marker)!r}).touch()"

    class Evil(base):
        def __repr__(self):
            return payload

        __str__ = __repr__

        def __format__(self, spec):
            return payload

    return Evil


class Two(enum.IntEnum):
    TWO = 2


@pytest.mark.parametrize("base, value", [(float, 2.0), (int, 2), (complex, 2 + 0j)])
def test_number_subclass_text_never_becomes_code(tmp_path, base, value):
    marker = tmp_path / "pwned"
    evil = _evil_number(base, marker)(value)
    x = gc.var("x")
    for simplify in (True, False):
        f = gc.compile([x], x * evil, simplify=simplify)
        np.testing.assert_allclose(f(np.arange(3.0)), [0.0, 2.0, 4.0])
    g = gc.compile([x], gc.grad(gc.sum(x * evil), x))
    np.testing.assert_allclose(g(np.arange(3.0)), [2.0, 2.0, 2.0])
    assert not marker.exists()


def test_int_enum_constant():
    x = gc.var("x")
    y = x * Two.TWO
    assert type(y.inputs[1].attrs["value"]) is int
    np.testing.assert_allclose(gc.compile([x], y)(np.arange(3.0)), [0.0, 2.0, 4.0])
    np.testing.assert_allclose(gc.compile([x], x**Two.TWO)(np.arange(3.0)), [0.0, 1.0, 4.0])


def test_literal_writes_only_exact_builtins(tmp_path):
    evil = _evil_number(float, tmp_path / "pwned")(1.5)
    assert literal(evil) is None  # a subclass is never formatted
    assert literal(1.5) == "1.5" and literal(-2) == "(-2)" and literal(True) == "True"


def _graph_with_origin(sym, filename: str, line: int = 1) -> str:
    """`sym`'s JSON with every origin pointing at `filename`:`line`."""
    doc = json.loads(sym.tojson())
    doc["files"] = [filename]
    for node in doc["graph"]["nodes"]:
        node["origin"] = [0, line]
    return json.dumps(doc)


@pytest.fixture
def secret_file(tmp_path, monkeypatch):
    """A file holding a secret, and the list of file names linecache is asked for."""
    path = tmp_path / "secret.txt"
    path.write_text("TOPSECRET=hunter2\n")
    asked = []
    for fn in ("getline", "getlines", "updatecache"):
        real = getattr(linecache, fn)

        def spy(filename, *args, _real=real, **kwargs):
            asked.append(filename)
            return _real(filename, *args, **kwargs)

        monkeypatch.setattr(linecache, fn, spy)
    return str(path), asked


def test_loaded_origin_is_never_read_by_a_shape_error(secret_file):
    path, asked = secret_file
    x, y = gc.var("x"), gc.var("y")
    z = gc.load_json(_graph_with_origin(x + y, path))
    assert z.where() == f"{path}:1"
    f = gc.compile([gc.var("x"), gc.var("y")], z)
    with pytest.raises(gc.ShapeError) as info:
        f(np.zeros(2), np.zeros(3))
    assert f"{path}:1" in str(info.value)
    assert "TOPSECRET" not in str(info.value) and path not in asked


def test_loaded_origin_is_never_read_by_a_runtime_note(secret_file):
    path, asked = secret_file
    x, y = gc.var("x"), gc.var("y")
    z = gc.load_json(_graph_with_origin(x**y, path))
    f = gc.compile([gc.var("x"), gc.var("y")], z, simplify=False)
    with pytest.raises(Exception) as info:  # numpy: integers to negative integer powers
        f(np.arange(3), np.array(-1))
    notes = str(info.value) + "\n".join(getattr(info.value, "__notes__", []))
    assert f"defined at {path}:1" in notes
    assert "TOPSECRET" not in notes and path not in asked


@pytest.mark.parametrize("name", ["x" * 5000, "a\nb.py", "\x00"], ids=["long", "newline", "nul"])
def test_origin_file_names_are_bounded(name):
    with pytest.raises(gc.SerializationError, match="file names"):
        gc.load_json(_graph_with_origin(gc.var("x") * 2, name))


def test_load_reads_a_regular_file(tmp_path):
    path = tmp_path / "g.json"
    gc.sin(gc.var("x")).save(path)
    assert str(gc.load(path)) == "sin(x)"
    assert str(gc.load(str(path).encode())) == "sin(x)"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_load_refuses_a_fifo_without_waiting(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)
    with pytest.raises(gc.SerializationError, match="not a regular file"):
        gc.load(path)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_load_refuses_a_device():
    with pytest.raises(gc.SerializationError, match="not a regular file"):
        gc.load("/dev/zero")


def test_load_refuses_a_directory_and_a_missing_file(tmp_path):
    with pytest.raises(gc.SerializationError, match="not a regular file|cannot read"):
        gc.load(tmp_path)
    with pytest.raises(gc.SerializationError, match="cannot read"):
        gc.load(tmp_path / "missing.json")


def test_load_refuses_a_file_over_the_limit(tmp_path, monkeypatch):
    path = tmp_path / "g.json"
    gc.sin(gc.var("x")).save(path)
    monkeypatch.setattr(serialize, "MAX_LOAD_BYTES", path.stat().st_size - 1)
    with pytest.raises(gc.SerializationError, match="limit"):
        gc.load(path)
    monkeypatch.setattr(serialize, "MAX_LOAD_BYTES", path.stat().st_size)
    assert str(gc.load(path)) == "sin(x)"


with warnings.catch_warnings():  # numpy discourages np.matrix; users still pass it
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    M = np.matrix([[1.0, 2.0], [3.0, 4.0]])
SQUARES = np.array([[1.0, 4.0], [9.0, 16.0]])
PRODUCT = np.array([[7.0, 10.0], [15.0, 22.0]])


def test_matrix_is_plain_data_in_compiled_functions():
    x = gc.var("x")
    f = gc.compile([x], x * x)
    f(np.ones((2, 2)))  # a plain array of the same signature first: the fast path's key
    for _ in range(2):
        out = f(M)
        assert type(out) is np.ndarray
        np.testing.assert_array_equal(out, SQUARES)
    np.testing.assert_array_equal(f(x=M), SQUARES)
    np.testing.assert_array_equal(gc.compile([x], x @ x)(M), PRODUCT)


def test_matrix_is_plain_data_in_eval_bind_and_value_and_grad():
    x = gc.var("x")
    np.testing.assert_array_equal((x * x).eval(x=M)[0], SQUARES)
    m = M.copy()
    exe = gc.sum(x * x).bind({"x": m})
    assert exe.forward()[0] == 30.0
    m[0, 0] = 2.0  # still bound by reference (a view of the matrix's data)
    assert exe.forward()[0] == 33.0
    vg = gc.value_and_grad(lambda a: gc.sum(a * a))
    vg(np.ones((2, 2)))
    for _ in range(2):
        value, g = vg(M)
        assert value == 30.0 and type(g) is np.ndarray
        np.testing.assert_array_equal(g, 2 * np.asarray(M))


def test_matrix_is_plain_data_in_numpy_and_eager_calls():
    from graphc import eager

    out = gc.multiply(M, M)
    assert type(out) is np.ndarray
    np.testing.assert_array_equal(out, SQUARES)
    np.testing.assert_array_equal((eager.tensor(M) * eager.tensor(M)).numpy(), SQUARES)
    np.testing.assert_array_equal((eager.from_numpy(M) * M).numpy(), SQUARES)
    x = gc.var("x")
    np.testing.assert_array_equal(gc.compile([x], x * gc.const(M))(np.ones((2, 2))), np.asarray(M))


def test_masked_arrays_are_refused():
    masked = np.ma.masked_array([1.0, 2.0], mask=[False, True])
    x = gc.var("x")
    with pytest.raises(gc.DTypeError, match="masked arrays"):
        gc.compile([x], x * x)(masked)
    with pytest.raises(gc.DTypeError, match="masked arrays"):
        (x * x).eval(x=masked)
    with pytest.raises(gc.DTypeError, match="masked arrays"):
        gc.multiply(masked, 2.0)
