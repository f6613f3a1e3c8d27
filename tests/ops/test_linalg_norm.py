"""norm (graphc/ops/linalg_norm.py): numpy.linalg.norm's semantics, textbook gradients, and
the documented subgradients where a norm has no derivative."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc import testing
from graphc.parse import parse

CALLS = [
    ((5,), {}),
    ((2, 3, 4), {}),
    ((5,), {"ord": 0}),
    ((5,), {"ord": -2.5}),
    ((3, 4), {"ord": "fro", "keepdims": True}),
    ((3, 4), {"ord": "nuc"}),
    ((3, 4), {"ord": -2}),
    ((3, 4), {"ord": -np.inf}),
    ((2, 3, 4), {"ord": 1, "axis": (2, 0), "keepdims": True}),
    ((2, 3, 4), {"ord": 2, "axis": (0, 2)}),
    ((2, 3, 4), {"ord": np.inf, "axis": 1}),
]


@pytest.mark.parametrize("shape,kw", CALLS)
def test_values_are_numpys(rng, shape, kw):
    x = rng.standard_normal(shape)
    want = np.linalg.norm(x, **kw)
    np.testing.assert_allclose(gc.norm(x, **kw), want, rtol=1e-12)
    X = gc.var("X", shape=shape)
    y = gc.norm(X, **kw)
    assert y.shape == np.shape(want)
    np.testing.assert_allclose(gc.compile([X], y)(x), want, rtol=1e-12)
    if testing.eager_available():
        from graphc import eager

        np.testing.assert_allclose(eager.tensor(x).norm(**kw).numpy(), want, rtol=1e-12)


def test_textbook_gradients(rng):
    """d||X||_F = X/||X||_F, d||X||_* = U V.T, d||X||_2 = u1 v1.T, d||x||_1 = sign(x)."""
    x = rng.standard_normal((4, 3))
    X = gc.var("X", shape=(4, 3))
    g_fro, g_nuc, g_2 = (gc.grad(gc.norm(X, ord=o), X) for o in ("fro", "nuc", 2))
    assert str(g_fro) == "X/norm(X, ord='fro')"
    assert str(g_nuc) == "svd(X, full_matrices=False)[0] @ svd(X, full_matrices=False)[2]"
    got = gc.compile([X], [g_fro, g_nuc, g_2, gc.grad(gc.norm(X[0], ord=1), X)])(x)
    U, _, Vh = np.linalg.svd(x, full_matrices=False)
    one = np.zeros_like(x)
    one[0] = np.sign(x[0])
    for g, want in zip(got, [x / np.linalg.norm(x), U @ Vh, np.outer(U[:, 0], Vh[0]), one]):
        np.testing.assert_allclose(g, want, atol=1e-12)


def test_subgradients_where_a_norm_has_no_derivative():
    """The module's conventions (JAX's): NaN for the 2-norm at 0, sign(x) for the 1-norm,
    ties of inf-norms and of the matrix 1-norm share the gradient evenly."""
    x = gc.var("x", shape=(4,))
    f = gc.compile(
        [x],
        [
            gc.grad(gc.norm(x), x),
            gc.grad(gc.norm(x, ord=1), x),
            gc.grad(gc.norm(x, ord=np.inf), x),
        ],
    )
    with np.errstate(invalid="ignore"):
        g2, _, _ = f(np.zeros(4))
    assert np.all(np.isnan(g2))
    _, g1, ginf = f(np.array([0.0, -3.0, 3.0, 1.0]))
    np.testing.assert_array_equal(g1, [0.0, -1.0, 1.0, 1.0])
    np.testing.assert_array_equal(ginf, [0.0, -0.5, 0.5, 0.0])
    X = gc.var("X", shape=(2, 2))
    g = gc.compile([X], gc.grad(gc.norm(X, ord=1), X))(np.array([[1.0, -2.0], [-2.0, 1.0]]))
    np.testing.assert_array_equal(g, [[0.5, -0.5], [-0.5, 0.5]])  # both columns sum to 3
    g = gc.compile([X], gc.grad(gc.norm(X, ord=2), X))(2 * np.eye(2))  # s = (2, 2): tied
    np.testing.assert_allclose(g, 0.5 * np.eye(2), atol=1e-12)


def test_numpys_errors_as_graphc_errors():
    x3 = gc.var("x", shape=(2, 3, 4))
    with pytest.raises(gc.ShapeError, match="without axis takes a 1 or 2-d array, got rank 3"):
        gc.norm(x3, ord=1)
    with pytest.raises(gc.ArgumentError, match="'nuc' is a matrix norm"):
        gc.norm(x3, ord="nuc", axis=1)
    with pytest.raises(gc.ArgumentError, match="ord=3 is no matrix norm"):
        gc.norm(x3, ord=3, axis=(0, 1))
    with pytest.raises(gc.ArgumentError, match="an int or a pair of ints"):
        gc.norm(x3, axis=(0, 1, 2))
    with pytest.raises(gc.ShapeError, match="repeated axis"):
        gc.norm(x3, axis=(1, -2))
    with pytest.raises(gc.ArgumentError, match="ord must be None, a number"):
        gc.norm(x3, ord="max")


def test_unknown_rank():
    """Without axis, ord 1, 2, inf (and their negatives) are a vector or a matrix norm by
    x's rank: the value waits for the data, the gradient needs the rank."""
    x = gc.var("x")
    data = np.array([[1.0, -2.0], [3.0, 4.0]])
    np.testing.assert_allclose(gc.compile([x], gc.norm(x, ord=1))(data), 6.0)
    with pytest.raises(gc.GradError, match="needs x's rank"):
        gc.grad(gc.norm(x, ord=1), x)
    g_nuc, g_3 = gc.grad(gc.norm(x, ord="nuc"), x), gc.grad(gc.norm(x, ord=3), x)
    U, _, Vh = np.linalg.svd(data)
    np.testing.assert_allclose(gc.compile([x], g_nuc)(data), U @ Vh, atol=1e-12)
    v = np.array([1.0, -2.0])
    want = np.sign(v) * np.abs(v) ** 2 / np.linalg.norm(v, 3) ** 2
    np.testing.assert_allclose(gc.compile([x], g_3)(v), want, atol=1e-12)


@pytest.mark.parametrize("text", ["norm(x, ord=inf, axis=1)", "norm(x, ord=-inf)"])
def test_infinite_ord_prints_and_parses(rng, text):
    y = parse(text, shapes={"x": (3, 2)}).expr
    assert str(y) == text
    data = rng.standard_normal((3, 2))
    kw = {"ord": np.inf, "axis": 1} if "axis" in text else {"ord": -np.inf}
    X = gc.var("x", shape=(3, 2))
    np.testing.assert_allclose(gc.compile([X], y)(data), np.linalg.norm(data, **kw))
