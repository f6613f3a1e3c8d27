"""svd (graphc/ops/linalg_svd.py): textbook derivatives, batching, the reduced factors,
compute_uv, and where singular values repeat."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.parse import parse


def test_singular_value_gradients_are_u_v_T(rng):
    """d s_k / dX = u_k v_k.T, per matrix of a batch."""
    x = rng.standard_normal((2, 4, 3))
    X = gc.var("X", shape=(2, 4, 3))
    u, s, vh = gc.svd(X, full_matrices=False)
    g1, g_all = gc.compile([X], [gc.grad(gc.sum(s[:, 1]), X), gc.grad(gc.sum(s), X)])(x)
    U, _, Vh = np.linalg.svd(x, full_matrices=False)
    np.testing.assert_allclose(g1, U[..., :, 1:2] @ Vh[..., 1:2, :], atol=1e-12)
    np.testing.assert_allclose(g_all, U @ Vh, atol=1e-12)


def test_compute_uv_false_is_the_singular_values(rng):
    x = rng.standard_normal((3, 2))
    X = gc.var("X", shape=(3, 2))
    s = gc.svd(X, compute_uv=False)
    assert str(s) == "svd(X, full_matrices=False)[1]"
    # The cookbook's d sum(s) = U V.T (the head's broadcast ones folded away).
    assert (
        str(gc.grad(gc.sum(s), X))
        == "svd(X, full_matrices=False)[0] @ svd(X, full_matrices=False)[2]"
    )
    value, grad = gc.compile([X], [s, gc.grad(gc.sum(s), X)])(x)
    np.testing.assert_allclose(value, np.linalg.svd(x, compute_uv=False))
    U, _, Vh = np.linalg.svd(x, full_matrices=False)
    np.testing.assert_allclose(grad, U @ Vh, atol=1e-12)
    np.testing.assert_allclose(gc.svd(x, compute_uv=False), np.linalg.svd(x, compute_uv=False))
    with pytest.raises(gc.ArgumentError, match="compute_uv must be True or False"):
        gc.svd(X, compute_uv="no")
    with pytest.raises(gc.ArgumentError, match="full_matrices must be True or False"):
        gc.svd(X, full_matrices=None)


def test_full_matrices_of_a_non_square_matrix_have_no_gradient(rng):
    X = gc.var("X", shape=(4, 3))
    u, s, vh = gc.svd(X)
    assert u.shape == (4, 4) and vh.shape == (3, 3)
    with pytest.raises(gc.GradError, match="full_matrices=False"):
        gc.grad(gc.sum(u), X)
    with pytest.raises(gc.GradError, match="full_matrices=False"):
        gc.jvp([s], {X: np.ones((4, 3))})
    # The singular values alone still have a gradient.
    x = rng.standard_normal((4, 3))
    g = gc.compile([X], gc.grad(gc.sum(s), X))(x)
    U, _, Vh = np.linalg.svd(x, full_matrices=False)
    np.testing.assert_allclose(g, U @ Vh, atol=1e-12)


def test_full_factors_of_a_square_matrix_differentiate(rng):
    x = rng.standard_normal((3, 3))
    X = gc.var("X", shape=(3, 3))
    full = gc.svd(X)
    reduced = gc.svd(X, full_matrices=False)
    loss = [gc.sum(f[0] * np.arange(9.0).reshape(3, 3)) + gc.sum(f[2][0]) for f in (full, reduced)]
    g_full, g_reduced = gc.compile([X], [gc.grad(y, X) for y in loss])(x)
    np.testing.assert_allclose(g_full, g_reduced, atol=1e-12)


def test_repeated_singular_values():
    """Documented: through u and vh the gradient (and tangent) is not finite; through s the
    gradient is U diag(gs) V.T, finite."""
    X = gc.var("X", shape=(3, 3))
    u, s, vh = gc.svd(X)
    (du,) = gc.jvp([u], {X: np.arange(9.0).reshape(3, 3)})
    f = gc.compile([X], [gc.grad(gc.sum(s), X), gc.grad(gc.sum(u[:, 0]), X), du])
    with np.errstate(all="ignore"):
        gs, gu, tu = f(2 * np.eye(3))
    np.testing.assert_allclose(gs, np.eye(3), atol=1e-12)
    assert not np.all(np.isfinite(gu))
    assert not np.all(np.isfinite(tu))


def test_a_named_svd_parses_back(rng):
    """The let-form names the svd node when its factors are used more than once: the
    parser reads `t1 = svd(...)` as the tuple of results (was: const of a tuple)."""
    X = gc.var("X", shape=(3, 3))
    y = gc.grad(gc.sum(gc.svd(X, full_matrices=False)[0]), X)
    text = str(y)
    assert text.startswith("t1 = svd(X, full_matrices=False)\n")
    back = parse(text, shapes={"X": (3, 3)}).expr
    x = rng.standard_normal((3, 3))
    np.testing.assert_allclose(gc.compile([X], back)(x), gc.compile([X], y)(x), atol=1e-12)
