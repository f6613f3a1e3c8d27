"""A node's static dtype is the dtype every mode computes (issue 11, item 7): compiled with
and without simplification (constant folding), plain numpy and eager, for every elementwise op
on integer, float and weak (Python number) operands; where one mode refuses, all raise the
same graphc error. The power of two Python ints follows Python (`2 ** -1` is 0.5, float64);
an integer array to a negative integer power is refused as numpy does, but as a DTypeError."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import graphc as gc
from graphc.eager import tensor

pytestmark = pytest.mark.filterwarnings("ignore")

VALUES = {
    "int": 2,
    "negative int": -1,
    "float": 1.5,
    "int64": np.array([2, 3]),
    "int32": np.array([2, 3], np.int32),
    "negative int64": np.array([-1, -2]),
    "float32": np.array([1.5, 2.0], np.float32),
}
ELEMENTWISE = sorted(
    name
    for name in gc.__all__
    if isinstance(getattr(gc, name), gc.ops.OpDef) and getattr(gc, name).elementwise
)


def _outcome(fn):
    try:
        return np.asarray(fn()).dtype
    except gc.GraphcError as exc:
        return type(exc).__name__


def _outcomes(op, args):
    try:
        y = op(*(gc.const(a) for a in args))
    except gc.GraphcError as exc:
        out = {"static": type(exc).__name__}
    else:
        out = {
            "static": y.dtype,
            "compiled": _outcome(lambda: gc.compile([], y)()),
            "unsimplified": _outcome(lambda: gc.compile([], y, simplify=False)()),
        }
    out["numpy"] = _outcome(lambda: op(*args))
    if any(isinstance(a, np.ndarray) for a in args):
        out["eager"] = _outcome(
            lambda: op(*(tensor(a) if isinstance(a, np.ndarray) else a for a in args)).numpy()
        )
    return out


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_static_dtype_is_the_computed_dtype_in_every_mode(name):
    op = getattr(gc, name)
    names = list(VALUES) if op.nin < 3 else ["int", "float", "int64", "float32"]
    for combo in itertools.product(names, repeat=op.nin):
        out = _outcomes(op, [VALUES[k] for k in combo])
        assert len({str(v) for v in out.values()}) == 1, (combo, out)


def test_power_of_python_ints_follows_python():
    y = gc.const(2) ** gc.const(-1)
    assert y.dtype == np.float64
    assert gc.compile([], y)() == 0.5 == gc.power(2, -1)
    assert (gc.const(2) ** gc.const(3)).dtype == np.int64
    n = gc.var("n", dtype=np.int64)
    with pytest.raises(gc.DTypeError, match="integers to negative integer powers"):
        gc.power(np.array([2]), -1)
    with pytest.raises(gc.DTypeError, match="integers to negative integer powers"):
        tensor(np.array([2])) ** -1
    with pytest.raises(gc.DTypeError, match="integers to negative integer powers"):
        n**-1
