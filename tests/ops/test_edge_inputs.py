"""Edge inputs of the op table found by fuzzing: lists of symbols, empty arrays, scalars
joined by stack/concatenate. Each gives a value or a graphc error, in every mode."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc import eager


def test_a_list_holding_symbols_or_tensors_is_stacked_like_numpy():
    x = gc.var("x")
    m = gc.mean([x, x + 2])  # was an AttributeError from numpy
    value, g = gc.compile([x], [m, gc.grad(m, x)])(np.float64(1.0))
    assert (float(value), float(g)) == (2.0, 1.0)
    t = eager.tensor(1.0, requires_grad=True)
    gc.mean([t, t * 3]).backward()
    assert float(t.grad) == 2.0
    assert gc.sum([[x, 1.0], [2.0, x]]).eval(x=np.float64(3.0))[0] == 9.0
    assert gc.mean([np.float64(1.0), 2.0]) == 1.5  # numbers alone stay plain numpy


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 3)])
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
def test_empty_arrays_give_empty_results_in_every_mode(op, shape):
    """As scipy.special: softmax of an empty array is empty, logsumexp of an empty sum -inf."""
    fn = (lambda v: gc.logsumexp(v, axis=-1)) if op == "logsumexp" else getattr(gc, op)
    data = np.ones(shape)
    expected = np.full(shape[:-1], -np.inf) if op == "logsumexp" else np.ones(shape)
    x = gc.var("x")
    results = [gc.compile([x], fn(x))(data), fn(data), fn(eager.tensor(data)).numpy()]
    for r in results:
        assert r.shape == expected.shape
        np.testing.assert_array_equal(r, expected)
    g = gc.compile([x], gc.grad(gc.sum(fn(x)), x))(data)
    assert g.shape == shape


def test_max_over_an_empty_axis_is_a_shape_error_naming_the_line():
    x = gc.var("x")
    f = gc.compile([x], gc.max(x, axis=1))
    assert f(np.ones((0, 3))).shape == (0,)
    with pytest.raises(gc.ShapeError, match=r"test_edge_inputs.py:\d+: max: .*empty"):
        f(np.ones((3, 0)))


def test_gradients_of_joins_whose_output_shape_is_unknown():
    x = gc.var("x")
    g = gc.grad(gc.stack([x]), x)  # was an IndexError from ops/select.py
    assert float(gc.compile([x], g)(np.float64(2.0))) == 1.0
    g = gc.grad(gc.concatenate([x]), x)
    np.testing.assert_array_equal(gc.compile([x], g)(np.ones(1)), [1.0])
    g = gc.grad(gc.stack([x, x], axis=-1)[..., 0], x)
    assert float(gc.compile([x], g)(np.float64(1.0))) == 1.0


def test_concatenate_of_a_scalar_is_refused_while_another_shape_is_unknown():
    with pytest.raises(gc.ShapeError, match="concatenate: .*same non-zero rank"):
        gc.concatenate([1.0, 0, gc.var("v")])


def test_integer_power_with_a_negative_constant_exponent_is_a_dtype_error():
    """numpy refuses an integer array to a negative integer power (ValueError at run time,
    or from constant folding at compile time): a DTypeError naming the line when the graph is
    built. Python numbers on both sides keep Python's `**` (found by fuzzing the parser:
    power(-3, -3) raised numpy's ValueError from the simplifier's constant folding)."""
    from graphc.parse import parse

    n = gc.var("n", dtype=np.int64)
    with pytest.raises(
        gc.DTypeError,
        match=r"test_edge_inputs.py:\d+: power: integers to "
        "negative integer powers",
    ):
        n**-2
    with pytest.raises(gc.ParseError, match=r"power: integers.*column 1: 'power\(stack"):
        parse("power(stack([-3]), -3)")
    y = parse("power(-3, -3)").expr
    assert float(gc.compile([], y)()) == (-3) ** -3 == float(gc.compile([], y, simplify=False)())
    assert gc.compile([n], n**-2.0)(np.array(2)) == 0.25
    assert gc.compile([n], n**2)(np.array(3)) == 9


@pytest.mark.parametrize(
    "index", [[2, 0, 1], np.array([2, 0, 1]), np.array([True, False, True]), (0, [1, 2])]
)
def test_array_indices_index_as_numpy_in_every_mode(index):
    """Integer arrays and masks index as in numpy in every mode: never numpy's
    ambiguous-truth ValueError, nor a list read as a tuple of indices."""
    data = np.arange(9.0).reshape(3, 3)
    x = gc.var("x")
    assert np.array_equal(x[index].eval(x=data)[0], data[index])
    assert np.array_equal(eager.tensor(data)[index].numpy(), data[index])
