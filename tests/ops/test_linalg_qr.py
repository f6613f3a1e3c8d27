"""qr (graphc/ops/linalg_qr.py): numpy's modes, the textbook adjoint on tall, square and wide
matrices, and where the derivative does not exist."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 4), (2, 5, 3)])
@pytest.mark.parametrize("mode", ["reduced", "complete"])
def test_values_are_numpys(rng, shape, mode):
    x = rng.standard_normal(shape)
    X = gc.var("X", shape=shape)
    q, r = gc.qr(X, mode=mode)
    want_q, want_r = np.linalg.qr(x, mode=mode)
    assert q.shape == want_q.shape and r.shape == want_r.shape
    got_q, got_r = gc.compile([X], [q, r])(x)
    np.testing.assert_allclose(got_q, want_q, atol=1e-12)
    np.testing.assert_allclose(got_r, want_r, atol=1e-12)


def test_mode_r_is_r_alone(rng):
    x = rng.standard_normal((4, 3))
    X = gc.var("X", shape=(4, 3))
    r = gc.qr(X, mode="r")
    assert str(r) == "qr(X)[1]"
    np.testing.assert_allclose(gc.compile([X], r)(x), np.linalg.qr(x, mode="r"), atol=1e-12)
    np.testing.assert_allclose(gc.qr(x, mode="r"), np.linalg.qr(x, mode="r"), atol=1e-12)
    with pytest.raises(gc.ArgumentError, match="mode must be one of 'reduced', 'complete', 'r'"):
        gc.qr(X, mode="raw")


def test_log_det_through_r_is_the_inverse_transpose(rng):
    """log|det X| = sum(log|diag R|): its gradient through qr is inv(X).T (cookbook)."""
    x = rng.standard_normal((2, 3, 3))
    X = gc.var("X", shape=(2, 3, 3))
    _, r = gc.qr(X)
    y = gc.sum(gc.log(gc.abs(gc.diagonal(r, axis1=-2, axis2=-1))))
    g = gc.compile([X], gc.grad(y, X))(x)
    np.testing.assert_allclose(g, np.swapaxes(np.linalg.inv(x), -1, -2), atol=1e-10)


def test_where_the_derivative_does_not_exist(rng):
    X = gc.var("X", shape=(4, 3))
    q, _ = gc.qr(X, mode="complete")
    with pytest.raises(gc.GradError, match="mode='complete' of a 4 x 3 matrix"):
        gc.grad(gc.sum(q), X)
    x = gc.var("x")  # dims unknown: tall or wide?
    with pytest.raises(gc.GradError, match="needs the last two dims of x known"):
        gc.grad(gc.sum(gc.qr(x)[0]), x)
    # Not of full rank: r is singular, the gradient NaN (solve's convention; where rounding
    # leaves r nearly singular, it is finite and very large).
    Y = gc.var("Y", shape=(3, 2))
    f = gc.compile([Y], gc.grad(gc.sum(gc.qr(Y)[0]), Y))
    with np.errstate(all="ignore"):
        g = f(np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]))
    assert np.all(np.isnan(g))
