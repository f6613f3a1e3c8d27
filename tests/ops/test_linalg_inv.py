"""Determinants and inverses (graphc/ops/linalg_inv.py): the cookbook's printed forms,
textbook values, batching, unknown ranks, eager mode."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc import testing


def _spd(rng, *shape):
    a = rng.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def test_grad_of_log_det_prints_inv_T():
    X = gc.var("X", shape=(3, 3))
    assert str(gc.grad(gc.log(gc.det(X)), X)) == "inv(X).T"
    assert str(gc.grad(gc.slogdet(X)[1], X)) == "inv(X).T"


def test_grad_of_det_is_det_times_inv_T(rng):
    """Jacobi's formula, and log|det| through a negative determinant."""
    x = rng.standard_normal((3, 3))
    x[0] *= -1 if np.linalg.det(x) > 0 else 1  # a negative determinant
    X = gc.var("X", shape=(3, 3))
    sign, logdet = gc.slogdet(X)
    f = gc.compile([X], [gc.grad(gc.det(X), X), gc.grad(logdet, X), sign])
    g_det, g_log, s = f(x)
    np.testing.assert_allclose(g_det, np.linalg.det(x) * np.linalg.inv(x).T, rtol=1e-12)
    np.testing.assert_allclose(g_log, np.linalg.inv(x).T, rtol=1e-12)
    assert s == -1.0


def test_batched_slogdet_and_inv(rng):
    x = _spd(rng, 4, 3, 3)
    X = gc.var("X", shape=(4, 3, 3))
    sign, logdet = gc.slogdet(X)
    assert sign.shape == logdet.shape == (4,)
    y = gc.inv(X)
    f = gc.compile([X], [logdet, gc.grad(gc.sum(logdet), X), gc.grad(gc.sum(y), X)])
    ld, g_ld, g_inv = f(x)
    np.testing.assert_allclose(ld, np.linalg.slogdet(x)[1])
    inv_t = np.swapaxes(np.linalg.inv(x), -1, -2)
    np.testing.assert_allclose(g_ld, inv_t, rtol=1e-12)
    ones = np.ones((4, 3, 3))
    np.testing.assert_allclose(g_inv, -inv_t @ ones @ inv_t, rtol=1e-12)


def test_solve_gradient_takes_one_more_solve_and_no_inverse(rng):
    a, b = _spd(rng, 3, 3), rng.standard_normal(3)
    A, B = gc.var("A", shape=(3, 3)), gc.var("b", shape=(3,))
    x = gc.solve(A, B)
    grads = gc.grad(gc.sum(x * x), [A, B])
    assert not any(n.op == "inv" for n in gc.ir.toposort(grads))
    ga, gb = gc.compile([A, B], grads)(a, b)
    xv = np.linalg.solve(a, b)
    want_b = np.linalg.solve(a.T, 2 * xv)
    np.testing.assert_allclose(gb, want_b, rtol=1e-12)
    np.testing.assert_allclose(ga, -np.outer(want_b, xv), rtol=1e-12)


@pytest.mark.parametrize("a_shape, b_shape", [((2, 3, 3), (3,)), ((3, 3), (3, 2)), ((3, 3), (3,))])
def test_solve_with_ranks_unknown_until_run(rng, a_shape, b_shape):
    """Whether b is a vector decides the rule: with shapes undeclared it is read at run time
    (a stack of matrices with one vector b: each x is a column)."""
    a, b = _spd(rng, *a_shape), rng.standard_normal(b_shape)
    A, B = gc.var("A"), gc.var("b")
    x = gc.solve(A, B)
    loss = gc.sum(gc.sin(x))
    unshaped = gc.compile([A, B], gc.grad(loss, [A, B]))(a, b)
    A2, B2 = gc.var("A", shape=a_shape), gc.var("b", shape=b_shape)
    loss2 = gc.sum(gc.sin(gc.solve(A2, B2)))
    declared = gc.compile([A2, B2], gc.grad(loss2, [A2, B2]))(a, b)
    for u, d in zip(unshaped, declared):
        np.testing.assert_allclose(u, d, rtol=1e-12)
    tangents = gc.compile([A, B], gc.jvp(x, {A: A * 0.5, B: B}))(a, b)
    eps = 1e-6
    fd = (np.linalg.solve(a + eps * a / 2, b + eps * b) - np.linalg.solve(a, b)) / eps
    np.testing.assert_allclose(tangents, fd, rtol=1e-4, atol=1e-6)


def test_square_matrices_are_required():
    with pytest.raises(gc.ShapeError, match="det: needs square matrices"):
        gc.det(gc.var("X", shape=(2, 3)))
    with pytest.raises(gc.ShapeError, match="solve: shapes"):
        gc.solve(gc.var("A", shape=(3, 3)), gc.var("b", shape=(2,)))


def test_eager_slogdet_backward(rng):
    from graphc import eager

    x = _spd(rng, 3, 3)
    t = eager.tensor(x, requires_grad=True)
    sign, logdet = gc.slogdet(t)
    (2.0 * logdet + sign).backward()
    np.testing.assert_allclose(t.grad.numpy(), 2 * np.linalg.inv(x).T, rtol=1e-12)


@pytest.mark.parametrize("a_shape, b_shape", [((3, 3), (3,)), ((2, 3, 3), (3,)), ((3, 3), (3, 2))])
def test_solve_second_order(rng, a_shape, b_shape):
    """solve's rules differentiate again when the ranks are declared (the recipe checks first
    order only: with shapes undeclared, second order needs the ranks)."""
    a, b = _spd(rng, *a_shape), rng.standard_normal(b_shape)
    testing.assert_grads(gc.solve, [a, b], order=2, rng=rng)
