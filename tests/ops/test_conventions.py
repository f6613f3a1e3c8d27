"""Derivative conventions at the points where ops are not differentiable (documented on the
ops): the values every mode must agree on, where finite differences cannot decide."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc import testing


def _grads(fn, args):
    """Reverse-mode gradients of sum(fn(*args)) for every argument: compiled, and eager when
    it exists (both must give the same convention)."""
    xs = [gc.var(f"x{i}", np.shape(a)) for i, a in enumerate(args)]
    results = [gc.compile(xs, gc.grad(gc.sum(fn(*xs)), xs))(*args)]
    if testing.eager_available():
        from graphc import eager

        ts = [eager.tensor(a, requires_grad=True) for a in args]
        results.append([g.data for g in eager.grad(gc.sum(fn(*ts)), ts)])
    return [[np.asarray(g) for g in r] for r in results]


def _jvp(fn, args, tangents):
    xs = [gc.var(f"x{i}", np.shape(a)) for i, a in enumerate(args)]
    return np.asarray(gc.compile(xs, gc.jvp(fn(*xs), dict(zip(xs, tangents))))(*args))


@pytest.mark.parametrize(
    "fn,args,expected",
    [
        # Ties split the gradient evenly, as PyTorch does.
        (gc.maximum, [np.array([1.0, 2.0]), np.array([1.0, 0.0])], [[0.5, 1.0], [0.5, 0.0]]),
        (gc.minimum, [np.array([1.0, 2.0]), np.array([1.0, 0.0])], [[0.5, 0.0], [0.5, 1.0]]),
        (gc.max, [np.array([3.0, 1.0, 3.0])], [[0.5, 0.0, 0.5]]),
        (
            lambda x: gc.min(x, axis=1),
            [np.array([[1.0, 1.0, 1.0], [0.0, 2.0, 0.0]])],
            [[[1 / 3, 1 / 3, 1 / 3], [0.5, 0.0, 0.5]]],
        ),
        # relu'(0) = 0 and abs'(0) = sign(0) = 0.
        (gc.relu, [np.array([-1.0, 0.0, 2.0])], [[0.0, 0.0, 1.0]]),
        (gc.abs, [np.array([-1.0, 0.0, 2.0])], [[-1.0, 0.0, 1.0]]),
        (gc.sign, [np.array([-1.0, 0.0, 2.0])], [[0.0, 0.0, 0.0]]),
        # clip passes the gradient to x on the closed interval, to the active bound elsewhere.
        (
            gc.clip,
            [np.array([-2.0, -1.0, 0.0, 1.0, 2.0]), np.array(-1.0), np.array(1.0)],
            [[0.0, 1.0, 1.0, 1.0, 0.0], 1.0, 1.0],
        ),
        # With lo > hi, numpy's clip is hi everywhere (minimum(maximum(x, lo), hi)): only hi
        # gets the gradient. With lo == hi and x below, lo does; never two inputs at once.
        (
            gc.clip,
            [np.array([-2.0, 0.0, 2.0]), np.array(1.0), np.array(-1.0)],
            [[0.0] * 3, 0.0, 3.0],
        ),
        (
            gc.clip,
            [np.array([-2.0, 0.0, 2.0]), np.array(0.0), np.array(0.0)],
            [[0.0, 1.0, 0.0], 1.0, 1.0],
        ),
        (lambda x: gc.where(x > 0, x * x, -x), [np.array([-1.0, 0.0, 3.0])], [[-1.0, -1.0, 6.0]]),
    ],
)
def test_reverse_mode_conventions(fn, args, expected):
    for grads in _grads(fn, args):
        for g, e in zip(grads, expected, strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-12)


def test_forward_mode_agrees_at_ties():
    a, b = np.array([1.0, 2.0]), np.array([1.0, 0.0])
    t = _jvp(gc.maximum, [a, b], [np.array([1.0, 1.0]), np.array([3.0, 5.0])])
    np.testing.assert_allclose(t, [2.0, 1.0])
    t = _jvp(gc.max, [np.array([3.0, 1.0, 3.0])], [np.array([1.0, 10.0, 3.0])])
    np.testing.assert_allclose(t, 2.0)


# --- finite answers at edge points (issue 11, item 6) ---------------------------------------


@pytest.mark.parametrize(
    "data,expected",
    [
        ([2.0, 0.0, 3.0], [0.0, 6.0, 0.0]),  # one zero: the product of the others there
        ([0.0, 0.0, 3.0], [0.0, 0.0, 0.0]),  # two zeros: every product of the others has a zero
        ([2.0, 5.0, 3.0], [15.0, 6.0, 10.0]),
    ],
)
def test_prod_gradient_is_the_product_of_the_others(data, expected):
    data = np.array(data)
    for grads in _grads(gc.prod, [data]):
        np.testing.assert_array_equal(grads[0], expected)
    x = gc.var("x")
    for simplify in (True, False):
        g = gc.compile([x], gc.grad(gc.prod(x), x, simplify=simplify), simplify=simplify)
        np.testing.assert_array_equal(g(data), expected)
        out = g(data.astype(np.float32))
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, expected)
    assert float(_jvp(gc.prod, [data], [np.ones(3)])) == sum(expected)
    np.testing.assert_array_equal(gc.ops.prod_others(data), expected)  # plain numpy


def test_prod_gradient_with_axis_keepdims_and_second_order_at_zeros():
    a = np.array([[0.0, 2.0, 3.0], [1.0, 0.0, 0.0], [4.0, 5.0, 0.5]])
    for grads in _grads(
        lambda x: gc.prod(x, axis=1, keepdims=True) * np.array([[1.0], [2.0], [3.0]]), [a]
    ):
        np.testing.assert_allclose(grads[0], [[6.0, 0.0, 0.0], [0.0, 0.0, 0.0], [7.5, 6.0, 60.0]])
    np.testing.assert_array_equal(
        _jvp(lambda x: gc.prod(x, axis=0), [a], [np.ones((3, 3))]), [4.0, 10.0, 1.5]
    )
    # The Hessian of x0*x1*x2 is x_k off the diagonal: exact with one, two or three zeros.
    v = gc.var("v", shape=(3,))
    hessian = gc.compile([v], gc.hessian(gc.prod(v), v))
    for point in ([2.0, 0.0, 3.0], [0.0, 0.0, 3.0], [0.0, 0.0, 0.0], [2.0, 5.0, 3.0]):
        x0, x1, x2 = point
        np.testing.assert_array_equal(
            hessian(np.array(point)), [[0, x2, x1], [x2, 0, x0], [x1, x0, 0]]
        )
    from graphc import eager

    t = eager.tensor(np.array([0.0, 0.0, 3.0]), requires_grad=True)
    (g,) = eager.grad(gc.prod(t), [t], create_graph=True)
    (h,) = eager.grad(g[0], [t])
    np.testing.assert_array_equal(h.numpy(), [0.0, 3.0, 0.0])


def test_power_derivatives_at_zero_are_finite_in_every_mode():
    """x**0 is the constant 1 (d/dx = 0, also at 0); d(0**y)/dy = 0 for y >= 0 (JAX's rule),
    not 0 * log(0) = NaN; the simplified and the literal graph and eager mode agree."""
    from graphc import eager

    x, y = gc.var("x"), gc.var("y")
    for simplify in (True, False):

        def run(expr, wrt, *args, simplify=simplify):
            f = gc.compile([x, y], gc.grad(expr, wrt, simplify=simplify), simplify=simplify)
            return [float(v) for v in f(*args)]

        assert run(x**y, [x, y], 0.0, 0.0) == [0.0, 0.0]
        assert run(x**y, [x, y], 0.0, 2.0) == [0.0, 0.0]
        assert run(x**y, [x, y], 0.0, 1.0) == [1.0, 0.0]
        assert run(x**0 + 0 * y, [x], 0.0, 1.0) == [0.0]
        assert run(0.0**y + 0 * x, [y], 1.0, 2.0) == [0.0]
        f = gc.compile(
            [x, y], gc.jvp(x**y, {x: 1.0, y: 1.0}, simplify=simplify), simplify=simplify
        )
        assert float(f(0.0, 0.0)) == 0.0
    tx, ty = eager.tensor(0.0, requires_grad=True), eager.tensor(0.0, requires_grad=True)
    (tx**ty + tx**0 + 0.0 ** (ty + 2.0)).backward()
    assert (float(tx.grad), float(ty.grad)) == (0.0, 0.0)
    u = gc.var("u", shape=())
    assert float(gc.compile([u], gc.hessian(u**2.0, u))(0.0)) == 2.0


def test_log_sum_exp_gradient_is_a_finite_softmax_when_simplified():
    """The simplifier computes log(sum(exp(x))) as logsumexp(x); the gradient is derived
    from that stable form too. simplify=False differentiates the literal formula, which
    overflows as numpy's exp(x)/sum(exp(x)) does."""
    data = np.array([1000.0, 0.0, -1.0, 2.0])
    x = gc.var("x")
    y = gc.log(gc.sum(gc.exp(x)))
    softmax = np.exp(data - data.max()) / np.exp(data - data.max()).sum()
    np.testing.assert_allclose(gc.compile([x], gc.grad(y, x))(data), softmax)
    np.testing.assert_allclose(gc.compile([x], gc.jvp(y, {x: np.ones(4)}))(data), 1.0)
    v = gc.var("v", shape=(4,))
    hessian = gc.compile([v], gc.hessian(gc.log(gc.sum(gc.exp(v))), v))(data)
    np.testing.assert_allclose(hessian, np.diag(softmax) - np.outer(softmax, softmax), atol=1e-300)
    rows = gc.compile([x], gc.grad(gc.sum(gc.log(gc.sum(gc.exp(x), axis=1)) * 3), x))
    np.testing.assert_allclose(rows(np.stack([data, data])), 3 * np.stack([softmax, softmax]))
    with np.errstate(all="ignore"):
        literal = gc.compile([x], gc.grad(y, x, simplify=False), simplify=False)(data)
    assert np.isnan(literal[0])
