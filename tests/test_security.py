"""Security: no user value becomes emitted code, a loaded graph's origins are never read as
files, `gc.load` reads only bounded regular files, and `np.matrix` data is plain array data."""

from __future__ import annotations

import enum

import numpy as np
import pytest

import graphc as gc
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
    np.testing.assert_allclose(gc.compile([x], x ** Two.TWO)(np.arange(3.0)), [0.0, 1.0, 4.0])


def test_literal_writes_only_exact_builtins(tmp_path):
    evil = _evil_number(float, tmp_path / "pwned")(1.5)
    assert literal(evil) is None  # a subclass is never formatted
    assert literal(1.5) == "1.5" and literal(-2) == "(-2)" and literal(True) == "True"
