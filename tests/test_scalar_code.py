"""Scalar code (graphc.scalar_code): 0-d float64 runs of a program computed on Python floats
agree with numpy's statements (to 1 ulp where finite, exactly with their warnings and errors
elsewhere), keep output types, and leave float32 alone."""

from __future__ import annotations

import itertools
import math
import runpy
import warnings

import numpy as np
import pytest
from op_recipes import RECIPES, make_args

import graphc as gc
from benchmarks.workloads import recurrence_math
from graphc import scalar_code
from graphc.ops import OPS
from graphc.ops.scalar import scalar_template


@pytest.fixture
def every_statement(monkeypatch):
    """Lower runs of any length (a lone statement too)."""
    monkeypatch.setattr(scalar_code, "MIN_RUN", 1)


def _programs(inputs, outputs, **kwargs):
    """The same graph compiled with scalar code, and a callable running numpy's statements
    only (each program is emitted at its first call)."""
    lowered, plain = gc.compile(inputs, outputs, **kwargs), gc.compile(inputs, outputs, **kwargs)

    def run_plain(*args):
        scalar_code.ENABLED = False
        try:
            return plain(*args)
        finally:
            scalar_code.ENABLED = True

    return lowered, run_plain


def _ulps(a, b) -> float:
    a, b = float(a), float(b)
    if math.isnan(a) and math.isnan(b) or a == b:
        return 0
    return abs(a - b) / math.ulp(max(abs(a), abs(b)))


def _same(got, want, ulps=1):
    """Same type, dtype and value (to `ulps` units in the last place; nan == nan)."""
    assert type(got) is type(want), (type(got), type(want))
    assert np.asarray(got).dtype == np.asarray(want).dtype
    if np.asarray(want).dtype.kind == "f":
        assert _ulps(got, want) <= ulps, (got, want)
    else:
        assert got == want


def _lowered_elementwise():
    """Names of the elementwise ops that scalar code writes, each with a recipe case of 0-d
    float inputs."""
    out = []
    for name, op in sorted(OPS.items()):
        if getattr(op, "template", None) and scalar_template(op, None) is not None:
            case = next((c for c in RECIPES[name].cases if all(_zero_d(s) for s in c[0])), None)
            out.append(pytest.param(name, case, id=name))
    return out


def _zero_d(spec) -> bool:
    return (getattr(spec, "shape", spec) == ()) and getattr(spec, "kind", "float") == "float"


LOWERED = _lowered_elementwise()


def test_the_ops_written_as_python_floats():
    """Derived from the op table (ufunc name, infix operator, comparison) or given."""
    names = {p.values[0] for p in LOWERED}
    assert {"add", "multiply", "divide", "tanh", "exp", "log1p", "arcsin", "less"} <= names
    assert {"power", "square", "maximum", "relu", "abs", "sign"} <= names
    assert not names & {"floor", "ceil", "sigmoid", "where", "erf", "mod"}
    assert scalar_template(OPS["arccosh"], None) == "math.acosh({0})"


@pytest.mark.parametrize("name,case", LOWERED)
def test_each_op_agrees_with_numpy_at_0d_float64(name, case, rng, every_statement):
    assert case is not None, f"{name}: no recipe case with 0-d float inputs"
    arrays, attrs = make_args(name, case, rng)
    xs = [gc.var(f"x{i}", shape=(), dtype=np.float64) for i in range(len(arrays))]
    y = OPS[name](*xs, **attrs)
    lowered, plain = _programs(xs, [y])
    (got,), (want,) = lowered(*arrays), plain(*arrays)
    assert "math" in lowered.source or "try:" in lowered.source
    _same(got, want)


EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1000.0, -1000.0, 1e200, -1e-310, np.inf, -np.inf, np.nan]


def _run_recorded(fn, *args):
    """fn's result (or its exception type) and the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn(*args)
        except Exception as exc:  # noqa: BLE001 - compared between the two programs
            result = type(exc)
    return result, [(w.category, str(w.message)) for w in caught]


@pytest.mark.parametrize("name", [p.values[0] for p in LOWERED])
def test_edge_points_give_numpy_values_and_warnings(name, every_statement):
    """0, -0, inf, nan, overflow, a log of a negative: the same values, warnings and
    (under np.errstate(all="raise")) errors as numpy's statements."""
    op = OPS[name]
    xs = [gc.var(f"x{i}", shape=(), dtype=np.float64) for i in range(op.nin)]
    # through a multiplication: an overflow of Python's * must not pass unseen either
    y = op(*[x * 1.0 for x in xs])
    lowered, plain = _programs(xs, [y], simplify=False)
    points = EDGES if op.nin == 1 else [0.0, -0.0, 1.5, -2.0, 1e200, np.inf, -np.inf, np.nan]
    for args in itertools.product(points, repeat=op.nin):
        args = [np.array(a) for a in args]
        got, got_warnings = _run_recorded(lowered, *args)
        want, want_warnings = _run_recorded(plain, *args)
        assert got_warnings == want_warnings, args
        if isinstance(want, type):
            assert got is want, args
        else:
            _same(got[0], want[0])
        with np.errstate(all="raise"):
            got, want = _run_recorded(lowered, *args)[0], _run_recorded(plain, *args)[0]
        assert (got if isinstance(got, type) else type(got)) is (
            want if isinstance(want, type) else type(want)
        ), args


def test_a_silent_overflow_runs_numpy_with_its_warning():
    """1e200 * 1e200 is inf on Python floats without a word; tanh(inf) is 1.0: the check
    after the product sends the run to numpy's statements, which warn."""
    a, b = gc.var("a", shape=(), dtype=np.float64), gc.var("b", shape=(), dtype=np.float64)
    f = gc.compile([a, b], gc.tanh(a * b) + a)
    assert "math.tanh" in f.source and "raise ArithmeticError" in f.source
    with pytest.warns(RuntimeWarning, match="overflow encountered in multiply"):
        assert f(np.array(1e200), np.array(1e200)) == 1.0 + 1e200
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        f(np.array(1e200), np.array(1e200))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f(np.array(0.5), np.array(2.0)) == math.tanh(1.0) + 0.5


def _recurrence(steps):
    a = gc.var("a", shape=(), dtype=np.float64)
    xs = gc.var("xs", shape=(steps,), dtype=np.float64)
    return a, xs, recurrence_math(gc, a, xs, steps=steps)


def test_a_scalar_recurrence_reads_its_inputs_once_and_returns_numpy_scalars():
    a, xs, loss = _recurrence(30)
    lowered, plain = _programs([a, xs], [loss, gc.grad(loss, a)])
    args = np.array(0.9), np.linspace(-1, 1, 30)
    got, want = lowered(*args), plain(*args)
    source = lowered.source
    assert source.count("xs.tolist()") == 1 and source.count("float(a)") == 1
    assert "np.tanh" in source  # numpy's statements: the fallback
    for g, w in zip(got, want, strict=True):
        _same(g, w, ulps=8)


def test_a_gradient_in_a_vector_and_a_mixed_program():
    """Vector statements around a scalar run: the run's inputs are deleted after both
    branches, results are numpy scalars, values as numpy's."""
    w = gc.var("w", shape=(), dtype=np.float64)
    x = gc.var("x", shape=(5,), dtype=np.float64)
    s = gc.sum(gc.exp(w * x))
    loss = gc.log1p(gc.tanh(s) * w) + gc.sin(x[1]) * w
    lowered, plain = _programs([w, x], [loss, *gc.grad(loss, [w, x])])
    args = np.array(0.3), np.linspace(0.1, 0.5, 5)
    assert "math." in lowered.source
    for g, want in zip(lowered(*args), plain(*args), strict=True):
        if np.ndim(want):
            np.testing.assert_allclose(g, want, rtol=1e-14)
            assert g.dtype == want.dtype
        else:
            _same(g, want, ulps=8)


def test_float32_stays_numpy():
    a = gc.var("a", shape=(), dtype=np.float32)
    y = gc.tanh(a * a) * gc.exp(a)
    f = gc.compile([a], [y, gc.grad(y, a)])
    value, grad = f(np.array(0.7, dtype=np.float32))
    assert "math" not in f.source and "try:" not in f.source
    assert value.dtype == grad.dtype == np.float32
    assert value == np.tanh(np.float32(0.7) * np.float32(0.7)) * np.exp(np.float32(0.7))


def test_second_order_gradients():
    a = gc.var("a", shape=(), dtype=np.float64)
    y = gc.tanh(a * a) * gc.exp(-a) + gc.log1p(a * a)
    g = gc.grad(y, a)
    lowered, plain = _programs([a], [y, g, gc.grad(g, a)])
    assert "math." in lowered.source
    for got, want in zip(lowered(np.array(0.4)), plain(np.array(0.4)), strict=True):
        _same(got, want, ulps=16)


def test_loop_bodies_on_scalars():
    """A fori_loop's body on a 0-d carry runs as floats, each iteration; gradients too."""
    a = gc.var("a", shape=(), dtype=np.float64)
    y = gc.fori_loop(0, 20, lambda i, h: gc.tanh(a * h + 0.5) * 1.5, a)
    lowered, plain = _programs([a], [y, gc.grad(y, a)])
    got, want = lowered(np.array(0.3)), plain(np.array(0.3))
    assert "math.tanh" in lowered.source
    for g, w in zip(got, want, strict=True):
        _same(g, w, ulps=64)


def test_export_is_standalone_with_math(tmp_path):
    a, xs, loss = _recurrence(5)
    f = gc.compile([a, xs], [loss, gc.grad(loss, a)])
    path = tmp_path / "rec.py"
    f.export(path, name="run")
    text = path.read_text()
    assert "import math" in text and "graphc" not in text.replace("# Generated by graphc", "")
    args = np.array(0.9), np.linspace(-1, 1, 5)
    for got, want in zip(runpy.run_path(str(path))["run"](*args), f(*args), strict=True):
        _same(got, want, ulps=0)


def test_debug_and_teaching_programs_stay_numpy():
    a = gc.var("a", shape=(), dtype=np.float64)
    y = gc.tanh(a * a) * 2.0
    assert "math" not in gc.compile([a], y, debug=True).source
    assert "try:" in gc.compile([a], y).source


def test_a_gradient_in_a_vector_read_entry_by_entry_is_built_as_a_list():
    """The gradient of x[0], x[1], ... is a sum of one-hot vectors: a list updated in
    place (`L[k] += g`), one `np.array` at the end, numpy's bits (its -0.0 too)."""
    a, xs, loss = _recurrence(30)
    lowered, plain = _programs([a, xs], [loss, *gc.grad(loss, [a, xs])])
    args = np.array(0.9), np.linspace(-1, 1, 30)
    got, want = lowered(*args), plain(*args)
    fast = lowered.source.split("try:")[1].split("except (ArithmeticError, ValueError)")[0]
    assert "_index_grad" not in fast and "] += " in fast and "np.array(" in fast
    assert lowered.source.count("try:") == 1  # one run: the vector does not split it
    for g, w in zip(got[:2], want[:2], strict=True):
        _same(g, w, ulps=8)
    assert type(got[2]) is np.ndarray and got[2].dtype == np.float64
    np.testing.assert_allclose(got[2], want[2], rtol=1e-14)
    x = gc.var("x", shape=(3,), dtype=np.float64)
    c = gc.var("c", shape=(), dtype=np.float64)
    y = gc.tanh(x[0] * c) + x[1] * (c * 2.0) + x[0] * c
    lowered, plain = _programs([x, c], [y, gc.grad(y, x)])
    for value in (-0.0, 0.0, 1.5, -2.0):
        args = np.array([0.0, 1.0, 2.0]), np.array(value)
        got, want = lowered(*args)[1], plain(*args)[1]
        assert got.tobytes() == want.tobytes(), (value, got, want)


@pytest.mark.parametrize("backend", ["numexpr", "array_api"])
def test_numexpr_programs_lower_scalars_and_array_api_programs_do_not(backend):
    """numexpr's programs are numpy programs with fused statements: their 0-d runs are Python
    floats too (numexpr would cost a call per 0-d statement, 10x the scalar recurrence);
    array_api programs read arrays of any library, so they stay array statements."""
    pytest.importorskip({"numexpr": "numexpr", "array_api": "array_api_compat"}[backend])
    a, xs, loss = _recurrence(30)
    outputs = [loss, gc.grad(loss, a)]
    f = gc.compile([a, xs], outputs, backend=backend)
    args = np.array(0.9), np.linspace(-1, 1, 30)
    for g, w in zip(f(*args), gc.compile([a, xs], outputs)(*args), strict=True):
        assert np.asarray(g).dtype == np.float64 and _ulps(g, w) <= 8
    assert ("math.tanh" in f.source) is (backend == "numexpr")


def test_values_proved_finite_by_their_ranges_need_no_check(monkeypatch):
    """With `a` and `xs` checked once to lie in [-1e15, 1e15], `a*h + xs[t]` cannot be an
    inf or a nan (`tanh` keeps `h` in [-1, 1]): no check per step, and each forward step is
    one statement. Inputs outside the bound, infinite or nan run numpy's statements."""
    monkeypatch.setattr(scalar_code, "LIST_GUARD_CHECKS", 1)  # 40 steps: guard the list too
    a, xs, loss = _recurrence(40)
    outputs = [loss, gc.grad(loss, a)]
    lowered, plain = _programs([a, xs], outputs)
    x = np.linspace(-1, 1, 40)
    for args in [
        (0.9, x),
        (3e15, x),
        (0.9, x * 1e16),
        (np.inf, x),
        (0.5, np.where(x > 0, np.nan, x)),
    ]:
        args = np.array(args[0]), args[1]
        with warnings.catch_warnings(record=True) as got_warnings:
            warnings.simplefilter("always")
            got = lowered(*args)
        with warnings.catch_warnings(record=True) as want_warnings:
            warnings.simplefilter("always")
            want = plain(*args)
        assert [str(w.message) for w in got_warnings] == [str(w.message) for w in want_warnings]
        for g, w in zip(got, want, strict=True):
            _same(g, w, ulps=8)
    forward = lowered.source.split("except")[0]
    assert "if not -1e15 <= xs.min() <= xs.max() <= 1e15: raise ArithmeticError" in forward
    assert "if not -1e15 <= t2 <= 1e15: raise ArithmeticError" in forward
    # one check in all: the gradient's, a sum of 39 products whose range is not bounded
    assert forward.count("math.tanh(") == 40 and forward.count(" - t") == 1
    assert "math.tanh(((t2 * t3) + t1[1]))" in forward


def test_a_range_the_analysis_cannot_bound_keeps_its_checks():
    """`h = a*h + x[t]` grows without a squashing op: past a few steps its range is not
    provably finite, so those values keep their check."""
    a = gc.var("a", shape=(), dtype=np.float64)
    xs = gc.var("xs", shape=(30,), dtype=np.float64)
    h = xs[0]
    for t in range(1, 30):
        h = gc.exp(a * h + xs[t]) - 1.0
    lowered, plain = _programs([a, xs], [h, gc.grad(h, a)])
    args = np.array(0.01), np.linspace(-0.01, 0.01, 30)
    for g, w in zip(lowered(*args), plain(*args), strict=True):
        _same(g, w, ulps=8)
    assert " - t" in lowered.source.split("except")[0]


def test_a_short_run_does_not_pay_for_an_arrays_guard():
    """An array's guard (its min and max) costs about a hundred checks: a 40-step run keeps
    its checks and bounds only its scalars; 200 steps guard the array instead."""
    a, xs, loss = _recurrence(40)
    f = gc.compile([a, xs], [loss, gc.grad(loss, a)])
    f(np.array(0.9), np.linspace(-1, 1, 40))
    forward = f.source.split("except")[0]
    assert "xs.min()" not in forward and forward.count(" - t") > 30
    a, xs, loss = _recurrence(200)
    f = gc.compile([a, xs], [loss, gc.grad(loss, a)])
    f(np.array(0.9), np.linspace(-1, 1, 200))
    forward = f.source.split("except")[0]
    assert "xs.min()" in forward and forward.count(" - t") == 1
