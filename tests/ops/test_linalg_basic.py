"""Matrix structure ops (graphc/ops/linalg_basic.py): textbook values, batching, identities
of sizes known only at run time, and the documented refusals."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc


def test_grad_of_trace_is_the_identity():
    X = gc.var("X", shape=(3, 3), dtype="float64")
    g = gc.grad(gc.trace(X), X)
    assert g.op == "eye"  # the textbook I, not a mask built from X
    np.testing.assert_array_equal(gc.compile([X], g)(np.ones((3, 3))), np.eye(3))


def test_grad_of_trace_AXB(rng):
    """d tr(A X B) / dX = A.T B.T (Matrix Cookbook (100))."""
    A, X, B = (gc.var(n, shape=(3, 3)) for n in "AXB")
    a, x, b = (rng.standard_normal((3, 3)) for _ in range(3))
    got = gc.compile([A, X, B], gc.grad(gc.trace(A @ X @ B), X))(a, x, b)
    np.testing.assert_allclose(got, a.T @ b.T)


def test_batched_trace_and_diagonal(rng):
    x = rng.standard_normal((4, 3, 3))
    X = gc.var("X", shape=(None, 3, 3))
    y = gc.trace(X, axis1=-2, axis2=-1)
    assert y.shape == (None,)
    f = gc.compile([X], [y, gc.grad(gc.sum(y * y), X)])
    tr, g = f(x)
    np.testing.assert_allclose(tr, np.trace(x, axis1=1, axis2=2))
    np.testing.assert_allclose(g, 2 * tr[:, None, None] * np.eye(3))
    d = gc.compile([X], gc.diagonal(X, 1, -2, -1))(x)
    np.testing.assert_array_equal(d, np.diagonal(x, 1, -2, -1))


def test_eye_of_a_size_known_at_run_time(rng):
    """The identity basis of a vector whose length only the data gives."""
    v = gc.var("v")
    n = gc.size(v)
    e = gc.eye(n)
    assert e.shape == (None, None)
    out = gc.compile([v], [e, gc.eye(n, n + 1, k=1, dtype="float32")])(np.ones(4))
    np.testing.assert_array_equal(out[0], np.eye(4))
    assert out[1].dtype == np.float32
    np.testing.assert_array_equal(out[1], np.eye(4, 5, 1))
    # Once the shape is declared, the size is static.
    w = gc.var("w", shape=(5,))
    assert gc.eye(gc.size(w)).shape == (5, 5)
    assert gc.eye(gc.size(w), 2).shape == (5, 2)
    np.testing.assert_array_equal(gc.eye(2, 3, k=-1), np.eye(2, 3, -1))


def test_eye_like_vector_and_stack():
    v = gc.var("v", shape=(3,), dtype="float32")
    assert gc.eye_like(v).shape == (3, 3) and gc.eye_like(v).dtype == np.float32
    S = gc.var("S", shape=(2, 3, 4))
    assert gc.eye_like(S, 1).shape == (3, 4)
    np.testing.assert_array_equal(gc.eye_like(np.ones((2, 3, 4)), 1), np.eye(3, 4, 1))


@pytest.mark.parametrize("bad", [1.5, True, "3"])
def test_eye_refuses_non_integer_sizes(bad):
    with pytest.raises(gc.ArgumentError, match="eye: N and M must be ints"):
        gc.eye(bad)


def test_diag_gradient_with_the_rank_unknown(rng):
    """numpy's diag builds a matrix from a vector but takes a matrix's diagonal: until the
    rank is known its gradient is diag_grad, which becomes diag / diag_embed at bind."""
    x = gc.var("x")
    g = gc.grad(gc.sum(gc.diag(x, 1) * 2.0), x)
    assert "diag_grad" in str(g)
    f = gc.compile([x], g)
    np.testing.assert_array_equal(f(np.ones(3)), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(f(np.ones((2, 3))), 2 * np.eye(2, 3, 1))
    v = gc.var("v", shape=(None,))
    assert gc.grad(gc.sum(gc.diag(v)), v).op != "diag_grad"


def test_diag_embed_is_the_adjoint_of_diagonal(rng):
    """<diagonal(x), v> == <x, diag_embed(v, x)> for a non-square stack."""
    x = rng.standard_normal((2, 3, 5))
    v = rng.standard_normal((5, 2))
    lhs = np.sum(np.diagonal(x, 1, 0, 1) * v)
    rhs = np.sum(x * gc.diag_embed(v, x, 1, 0, 1))
    np.testing.assert_allclose(lhs, rhs)
    with pytest.raises(gc.ShapeError, match="diag_embed: a diagonal of shape"):
        gc.diag_embed(gc.var("v", shape=(4,)), gc.var("x", shape=(3, 3)))


@pytest.mark.parametrize("op", [gc.triu, gc.tril, gc.matrix_transpose])
def test_matrix_ops_refuse_vectors(op):
    with pytest.raises(gc.ShapeError, match="at least 2 dims"):
        op(gc.var("v", shape=(3,)))


def test_matrix_transpose_of_a_matrix_is_T():
    X = gc.var("X", shape=(2, 3))
    y = gc.matrix_transpose(gc.var("Y", shape=(4, 2, 3)))
    assert y.shape == (4, 3, 2)
    assert gc.ops.OPS["matrix_transpose"].resolve(X).op == "transpose"


def test_eager_trace_backward():
    from graphc import eager

    t = eager.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    gc.trace(t, 1).backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.eye(2, 3, 1))
