"""numpy's vocabulary by name (issue 15): every public callable of `numpy` and `numpy.linalg`
is either a `gc` op reached from numpy (derived from the op table, graphc.numpy_interop) or in
graphc.numpy_names.NOT_SUPPORTED with the reason; and the functions issue 15 names are all
supported."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import graphc as gc
from graphc.numpy_interop import NAMESPACES, numpy_table, op_by_numpy_name, supported_names
from graphc.numpy_names import ATTRIBUTE_QUERIES, DIFFERENT_MEANING, NOT_SUPPORTED, REASONS

# Issue 15's list: numpy's names (a `gc` function or a `Symbol` method each).
ISSUE_15 = (
    "ravel flatten cumsum cumprod std var log2 log10 exp2 arcsinh arccosh arctanh reciprocal "
    "mod logaddexp einsum tensordot inner split vstack hstack flip swapaxes moveaxis repeat "
    "tile trace diag diagonal triu tril sort roll diff cross kron floor ceil round erf "
    "linspace atleast_2d nan_to_num sinc det slogdet inv solve cholesky eigh qr svd norm"
).split()


def numpy_callables():
    """(qualified name, object) of every public callable in numpy and numpy.linalg."""
    out = []
    for prefix, module in NAMESPACES:
        for name in dir(module):
            obj = getattr(module, name, None)
            if not name.startswith("_") and callable(obj) and not inspect.ismodule(obj):
                out.append((prefix + name, obj))
    return out


def _supported(name, obj) -> bool:
    try:
        return obj in numpy_table() or name in ATTRIBUTE_QUERIES
    except TypeError:  # unhashable
        return False


def test_every_numpy_callable_is_a_gc_op_or_listed_with_a_reason():
    missing = [
        name
        for name, obj in numpy_callables()
        if not _supported(name, obj) and name not in REASONS
    ]
    assert not missing, (
        "numpy callables that are neither a gc op nor in graphc/numpy_names.py NOT_SUPPORTED "
        f"(add an op with that numpy name, or list it with the reason): {missing}"
    )


def test_no_listed_name_is_supported():
    """A name in the list that graphc has is stale: an op gained it (then drop it from the
    list), unless numpy means something else by it (DIFFERENT_MEANING)."""
    stale = sorted(
        name for name, obj in numpy_callables() if name in REASONS and _supported(name, obj)
    )
    assert not stale, f"graphc has these now: drop them from numpy_names.NOT_SUPPORTED: {stale}"
    ops = op_by_numpy_name()
    for name in DIFFERENT_MEANING:
        assert name in REASONS and name.rsplit(".", 1)[-1] in ops, name
    shadowed = {n for n in REASONS if n.rsplit(".", 1)[-1] in ops and n.startswith("linalg.")}
    assert shadowed == DIFFERENT_MEANING


def test_each_name_is_listed_once_with_a_reason():
    names = [n for _, group in NOT_SUPPORTED for n in group]
    assert len(names) == len(set(names))
    assert all(why.strip() and group for why, group in NOT_SUPPORTED)


def test_the_list_renders_for_users():
    text = gc.not_supported()
    for why, names in NOT_SUPPORTED:
        assert why in text and f"numpy.{names[0]}" in text
    assert gc.not_supported("unique") == f"numpy.unique: {REASONS['unique']}"
    assert gc.not_supported("numpy.linalg.eig").startswith("numpy.linalg.eig: complex")
    with pytest.raises(gc.ArgumentError, match="numpy.sum is not in the list"):
        gc.not_supported("sum")


@pytest.mark.parametrize("name", ISSUE_15)
def test_issue_15s_functions_are_supported(name):
    """Each is a gc function or a method; where numpy has the name (np.<name> or
    np.linalg.<name>), numpy's function on a symbol is the op."""
    assert hasattr(gc, name) or hasattr(gc.Symbol, name), name
    for prefix, module in NAMESPACES:
        if callable(getattr(module, name, None)) and prefix + name not in DIFFERENT_MEANING:
            assert prefix + name in supported_names(), prefix + name


def test_integer_and_boolean_indexing():
    x = gc.var("x", shape=(4,))
    data = np.array([1.0, -2.0, 3.0, 0.5])
    ys = [x[[0, 2, 2]], x[np.array([True, False, True, True])]]
    got = gc.compile([x], ys)(data)
    np.testing.assert_array_equal(got[0], data[[0, 2, 2]])
    np.testing.assert_array_equal(got[1], data[[True, False, True, True]])
