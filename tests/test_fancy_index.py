"""Integer-array and boolean-mask indexing (issue 15 item 4) against numpy: where the
advanced axes go, repeated indices accumulating in the gradient, masks whose length is known
at run time only, printing and parsing, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc import eager
from graphc.parse import parse

X = np.arange(2.0 * 3 * 4).reshape(2, 3, 4) - 7.5
IDX = np.array([1, 0, 1])
KEYS = [
    [1, 0, 1],
    np.array([-1, 0]),
    (IDX, slice(None), [3, -1, 0]),  # separated: the advanced axes go first
    (slice(None), [2, 0], [1, 3]),  # adjacent: they stay in place
    (0, slice(None), [1, 2]),  # an int counts as advanced next to arrays
    (slice(None), 0, [1, 2]),
    (None, [1, 0], None, [0, 0]),  # None separates
    ([1, 0], Ellipsis, [1, 2]),  # ... separates when it stands for axes
    (slice(None), [0, 1, 2], Ellipsis, [1, 2, 3]),  # ... separates, even for no axes
    ([[0], [1]], [[0, 2]]),  # broadcasting index arrays
    (Ellipsis, [3, 3, 0]),
    (slice(1, None), [[2, 0], [1, 1]], slice(None, None, -2)),
    np.array([[True, False, True], [False, True, True]]),  # a mask of two axes
    (slice(None), np.array([True, False, True])),
    (np.array([True, False]), slice(None), [1, 3]),
    [],
]


@pytest.mark.parametrize("key", KEYS, ids=range(len(KEYS)))
def test_values_shapes_and_gradients_are_numpys(key):
    expected = X[key]
    x = gc.var("x", shape=X.shape)
    y = x[key]
    assert y.shape == expected.shape  # constant masks: their True count is known
    head = np.random.default_rng(0).standard_normal(expected.shape)
    grad = np.zeros_like(X)
    np.add.at(grad, key if not isinstance(key, list) else (np.asarray(key, int),), head)
    f = gc.compile([x], [y, gc.grad(gc.sum(y * head), x)])
    value, g = f(X)
    np.testing.assert_array_equal(value, expected)
    np.testing.assert_allclose(g, grad)
    t = eager.tensor(X).requires_grad_(True)
    gc.sum(t[key] * head).backward()
    np.testing.assert_allclose(t.grad.numpy(), grad)
    np.testing.assert_array_equal(gc.ops.getitem(X, key), expected)  # plain numpy


def test_repeated_indices_accumulate_and_second_order_gathers():
    x = gc.var("x", shape=(4,))
    y = gc.sum(x[[0, 2, 0, 0]] ** 3)
    g = gc.grad(y, x)
    data = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(gc.compile([x], g)(data), [9.0, 0.0, 27.0, 0.0])
    hess = gc.compile([x], gc.hessian(y, x))(data)
    np.testing.assert_allclose(hess, np.diag([18.0, 0.0, 18.0, 0.0]))
    t = gc.jvp(x[[0, 0, 3]], {x: np.array([1.0, 10.0, 100.0, 1000.0])})
    np.testing.assert_allclose(gc.compile([x], t)(data), [1.0, 1.0, 1000.0])


def test_an_index_bound_later_prints_and_parses_back():
    x, idx = gc.var("x"), gc.var("idx", dtype="int64")
    y = gc.sum(x[idx] ** 2)
    g = gc.grad(y, x)
    assert str(x[idx]) == "x[idx]"
    assert str(g) == "zeros_like(x).at[idx].add(2*x[idx])"
    assert str(x[:, [0, 2]]) == "x[:, [0, 2]]"
    assert str(x[[1, 1], None]) == "x[[1, 1], None]"  # not broadcast_to(1, shape=(2,))
    assert (
        gc.latex(g) == r"\operatorname{index\_grad}\left(2 x_{[idx]}, x, \text{index}=[idx]\right)"
    )
    data, index = np.arange(5.0), np.array([4, -1, 0])
    back = parse(str(g), dtypes={"idx": "int64"}).expr
    expected = np.array([0.0, 0.0, 0.0, 0.0, 16.0])
    for graph in (g, back):
        np.testing.assert_allclose(graph.eval(x=data, idx=index)[0], expected)
    assert gc.compile([x, idx], x[idx]).source.splitlines()[-2].strip() == "t1 = x[idx]"


def test_masks_of_data_have_a_length_known_at_run_time_only():
    x = gc.var("x", shape=(2, 3))
    y = x[x > 0]
    assert y.shape == (None,)  # not guessed
    assert str(y) == "x[x > 0]"
    data = np.array([[1.0, -2.0, 3.0], [-1.0, 5.0, 0.0]])
    value, g = gc.compile([x], [y, gc.grad(gc.sum(y**2), x)])(data)
    np.testing.assert_array_equal(value, [1.0, 3.0, 5.0])
    np.testing.assert_allclose(g, np.where(data > 0, 2 * data, 0.0))
    np.testing.assert_allclose(parse(str(y)).expr.eval(x=data)[0], value)
    t = eager.tensor(data).requires_grad_(True)
    (t[t > 0] ** 2).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), g)


def test_out_of_bounds_indices_name_the_index_and_axis():
    x = gc.var("x", shape=(3, 4))
    with pytest.raises(
        gc.OutOfBoundsError, match="index 4 is out of bounds for axis 1 with size 4"
    ):
        x[:, [0, 4]]  # a constant: when the graph is built
    assert issubclass(gc.OutOfBoundsError, IndexError)
    idx = gc.var("idx", dtype="int64")
    f = gc.compile([x, idx], x[idx])
    for run in (
        lambda: f(np.zeros((3, 4)), np.array([0, -4])),
        lambda: x[idx].eval(x=np.zeros((3, 4)), idx=np.array([0, -4])),
        lambda: eager.tensor(np.zeros((3, 4)))[eager.tensor(np.array([0, -4]))],
    ):
        with pytest.raises(gc.OutOfBoundsError, match="index -4 is out of bounds for axis 0"):
            run()


def test_bad_index_arrays_are_graphc_errors():
    x = gc.var("x", shape=(3, 4))
    with pytest.raises(gc.DTypeError, match="integers or booleans, got float64"):
        x[[0.5, 1.0]]
    with pytest.raises(gc.DTypeError, match="integers or booleans, got float32"):
        x[gc.var("i", dtype="float32")]
    with pytest.raises(gc.ShapeError, match="boolean index did not match"):
        x[gc.var("m", shape=(4,), dtype=bool)]
    with pytest.raises(gc.ShapeError, match="could not be broadcast together"):
        x[[0, 1], [0, 1, 2]]
    with pytest.raises(gc.ShapeError, match="boolean scalar index"):
        x[np.True_ if False else np.array(True)]


def test_take_is_numpys_take_and_its_gradient_accumulates():
    data = np.arange(12.0).reshape(3, 4)
    x = gc.var("x", shape=(3, 4))
    for indices, axis in (([3, 0, 3], 1), ([[5, 5], [0, 11]], None), ([-1, 0], 0)):
        y = x.take(indices, axis=axis)
        np.testing.assert_array_equal(y.eval(x=data)[0], np.take(data, indices, axis=axis))
        expected = np.zeros_like(data)
        flat = expected.reshape(-1) if axis is None else expected
        np.add.at(flat, (slice(None),) * (axis or 0) + (np.asarray(indices),), 1.0)
        np.testing.assert_allclose(gc.grad(gc.sum(y), x).eval(x=data)[0], expected)
    with pytest.raises(gc.OutOfBoundsError, match="index 12 is out of bounds"):
        gc.take(eager.tensor(data), [12])
    with pytest.raises(gc.DTypeError, match="indices must be integers"):
        gc.take(x, [0.5])


def _random_key(rng, ndim):
    items = []
    for _ in range(rng.integers(1, ndim + 2)):
        kind = rng.choice(["int", "slice", "none", "ellipsis", "array", "mask"])
        if kind == "int":
            items.append(int(rng.integers(-2, 2)))
        elif kind == "slice":
            items.append(
                slice(*rng.choice([None, -1, 0, 1, 2], size=2), rng.choice([None, -1, 2]))
            )
        elif kind == "none":
            items.append(None)
        elif kind == "ellipsis" and not any(i is Ellipsis for i in items):
            items.append(Ellipsis)
        elif kind == "array":
            items.append(rng.integers(-2, 2, size=rng.integers(1, 3, size=rng.integers(0, 3))))
        elif kind == "mask":
            items.append(rng.random(rng.integers(2, 4)) < 0.5)
    return tuple(items)


def test_random_keys_agree_with_numpy():
    """Shapes, values, gradients and refusals of random keys mixing ints, slices, None, ...,
    integer arrays and masks (of 2 or 3 entries: some fit their axis)."""
    rng = np.random.default_rng(5)
    data = np.arange(36.0).reshape(2, 3, 2, 3)
    x, x_unknown = gc.var("x", shape=data.shape), gc.var("x", shape=(None,) * 4)
    agreed = 0
    for _ in range(300):
        key = _random_key(rng, data.ndim)
        try:
            expected = data[key]
        except IndexError:
            with pytest.raises(gc.ShapeError):
                x[key]
            continue
        y = x[key]
        assert y.shape == expected.shape, key
        loose = x_unknown[key].shape  # dims not known are None, the others numpy's
        assert len(loose) == expected.ndim and all(
            d is None or d == e for d, e in zip(loose, expected.shape)
        ), key
        grad = np.zeros_like(data)
        np.add.at(grad, key, 1.0)
        value, g = gc.compile([x], [y, gc.grad(gc.sum(y), x)])(data)
        np.testing.assert_array_equal(value, expected)
        np.testing.assert_array_equal(g, grad)
        agreed += 1
    assert agreed > 100


def test_jacobians_through_a_mask_of_data_go_forward():
    """An output whose length depends on the data has a column per entry of x: forward mode
    (chosen when x's size is known and y's is not); reverse mode cannot seed its rows."""
    x = gc.var("x", shape=(4,))
    data = np.array([1.0, -1.0, 2.0, 3.0])
    j = gc.jacobian(gc.sin(x[x > 0]), x)
    assert j.shape == (None, 4)
    expected = np.diag(np.cos(data))[data > 0]
    np.testing.assert_allclose(gc.compile([x], j)(data), expected)
    h = gc.hessian(gc.sum(x[x > 0] ** 3), x)
    np.testing.assert_allclose(gc.compile([x], h)(data), np.diag(np.where(data > 0, 6 * data, 0)))
    with pytest.raises(gc.GraphcError, match="forward mode only"):
        gc.compile([x], gc.jacobian(x[x > 0], x, mode="rev"))(data)
