"""Decompositions (graphc/ops/linalg_decomp.py): textbook derivatives, the lower-triangle
convention, batching, and eigenvectors where eigenvalues repeat."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc


def _spd(rng, *shape):
    a = rng.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def test_cholesky_factors_and_its_gradient_lives_on_the_lower_triangle(rng):
    x = _spd(rng, 2, 3, 3)
    X = gc.var("X", shape=(2, 3, 3))
    L = gc.cholesky(X)
    h = rng.standard_normal((2, 3, 3))
    f = gc.compile([X], [L, gc.grad(gc.sum(L * h), X)])
    low, g = f(x)
    np.testing.assert_allclose(low @ np.swapaxes(low, -1, -2), x, rtol=1e-12)
    assert np.all(np.triu(g, 1) == 0)  # the upper triangle is never read
    # Along a symmetric direction, <g, E> is the derivative (the symmetric convention).
    e = rng.standard_normal((2, 3, 3))
    e = e + np.swapaxes(e, -1, -2)
    eps = 1e-6
    fd = np.sum((np.linalg.cholesky(x + eps * e) - np.linalg.cholesky(x - eps * e)) * h) / eps / 2
    np.testing.assert_allclose(np.sum(g * e), fd, rtol=1e-6)


def test_eigenvalue_gradient_is_v_v_T(rng):
    """d w_k / dX = v_k v_k.T (Matrix Cookbook (67)), on the lower triangle."""
    x = _spd(rng, 3, 3)
    X = gc.var("X", shape=(3, 3))
    w, v = gc.eigh(X)
    g = gc.compile([X], gc.grad(w[2], X))(x)
    vk = np.linalg.eigh(x)[1][:, 2]
    outer = np.outer(vk, vk)
    np.testing.assert_allclose(g, np.tril(2 * outer) - np.diag(np.diag(outer)), atol=1e-12)


def test_repeated_eigenvalues():
    """Documented: the eigenvalues' gradient stays finite; through the eigenvectors it is
    not finite (they are not unique there)."""
    X = gc.var("X", shape=(3, 3))
    w, v = gc.eigh(X)
    f = gc.compile([X], [gc.grad(gc.sum(w * w), X), gc.grad(gc.sum(v[:, 0]), X)])
    with np.errstate(all="ignore"):
        gw, gv = f(2 * np.eye(3))
    np.testing.assert_allclose(gw, 4 * np.eye(3))
    assert not np.all(np.isfinite(gv))


def test_eager_eigh_backward(rng):
    from graphc import eager

    x = _spd(rng, 3, 3)
    t = eager.tensor(x, requires_grad=True)
    w, v = gc.eigh(t)
    gc.sum(w).backward()
    np.testing.assert_allclose(t.grad.numpy(), np.eye(3), atol=1e-12)  # d tr / dX = I


@pytest.mark.parametrize("op", [gc.cholesky, gc.eigh])
def test_square_matrices_are_required(op):
    with pytest.raises(gc.ShapeError, match="needs square matrices"):
        op(gc.var("X", shape=(2, 3)))
