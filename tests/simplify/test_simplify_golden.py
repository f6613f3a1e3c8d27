"""Golden strings: the seed tutorials' gradients print in textbook form after simplification.

`ones_like(x)` is how the gradient of `sum(x)` prints: ones of x's shape and dtype. A detached
value prints as `stop_gradient(...)`, the way `y.detach()` itself prints.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.simplify import count_ops


@pytest.mark.parametrize("shape", [None, (4,)])
def test_two_dot_x_x_is_4x(shape):
    x = gc.var("x", shape=shape)
    assert str(gc.grad(2 * gc.dot(x, x), x)) == "4*x"


@pytest.mark.parametrize("shape", [None, (4,)])
def test_sum_of_squares_is_2x(shape):
    x = gc.var("x", shape=shape)
    assert str(gc.grad(gc.sum(x * x), x)) == "2*x"
    assert str(gc.grad((x * x).sum(), x)) == "2*x"


@pytest.mark.parametrize("shape", [None, (4,)])
def test_sum_is_ones_of_x(shape):
    x = gc.var("x", shape=shape)
    g = gc.grad(gc.sum(x), x)
    assert str(g) == "ones_like(x)"
    value = gc.compile([x], g)(np.arange(4.0))
    assert value.dtype == np.float64 and np.array_equal(value, np.ones(4))


def test_sum_gradient_keeps_float32():
    x = gc.var("x", dtype=np.float32)
    g = gc.grad(gc.sum(x), x)
    assert g.dtype == np.float32
    assert gc.compile([x], g)(np.zeros(3, np.float32)).dtype == np.float32


def test_detached_value_is_the_gradient():
    x = gc.var("x")
    y = x * x
    u = y.detach()
    z = u * x
    g = gc.grad(gc.sum(z), x)
    assert str(g) == str(u) == "stop_gradient(x**2)"
    data = np.arange(4.0)
    assert np.array_equal(gc.compile([x], g)(data), data * data)


def test_linear_regression_gradients_read_as_means():
    t0, t1 = gc.var("t0", shape=()), gc.var("t1", shape=())
    X, Y = gc.var("X", shape=(6,)), gc.var("Y", shape=(6,))
    loss = gc.mean((t0 + t1 * X - Y) ** 2 / 2)
    assert str(gc.grad(loss, t0)) == "mean(X*t1 - Y + t0)"
    assert str(gc.grad(loss, t1)) == "mean(X*(X*t1 - Y + t0))"


def test_linear_regression_without_shapes_stays_short():
    t0, t1, X, Y = (gc.var(n) for n in ("t0", "t1", "X", "Y"))
    loss = gc.mean((t0 + t1 * X - Y) ** 2 / 2)
    g0, g1 = gc.grad(loss, t0), gc.grad(loss, t1)
    # Unknown shapes keep sum_to (x summed to t0's shape) and size (the count).
    assert str(g0) == "sum_to(X*t1 - Y + t0, t0)/size(X*t1 - Y + t0)"
    assert str(g1) == "sum_to(X*(X*t1 - Y + t0), t1)/size(X*t1 - Y + t0)"
    args = dict(t0=0.5, t1=1.5, X=np.arange(1.0, 7.0), Y=np.array([13.0, 14, 20, 21, 25, 30]))
    r = args["t0"] + args["t1"] * args["X"] - args["Y"]
    f = gc.compile([t0, t1, X, Y], [g0, g1])
    got = f(**{k: np.asarray(v) for k, v in args.items()})
    np.testing.assert_allclose(got, [r.mean(), (r * args["X"]).mean()], rtol=1e-12)


def test_sigmoid_and_tanh_derivatives():
    x = gc.var("x")
    assert str(gc.grad(gc.sum(gc.sigmoid(x)), x)) == "(1 - sigmoid(x))*sigmoid(x)"
    assert str(gc.grad(gc.sum(gc.tanh(x)), x)) == "1 - tanh(x)**2"
    assert str(gc.grad(gc.sum(gc.softplus(x)), x)) == "sigmoid(x)"


@pytest.mark.parametrize(
    "make, text",
    [
        (lambda x: x**3, "3*x**2"),
        (lambda x: gc.exp(2 * x), "2*exp(2*x)"),
        (lambda x: gc.log(x), "1/x"),
        (lambda x: gc.sqrt(x), "1/(2*sqrt(x))"),
        (lambda x: gc.sin(x) * gc.cos(x), "cos(2*x)"),  # sympy.simplify on a small cluster
    ],
)
def test_textbook_derivatives(make, text):
    x = gc.var("x")
    assert str(gc.grad(gc.sum(make(x)), x)) == text


def test_gradient_is_smaller_than_derived():
    x = gc.var("x")
    y = gc.sum(gc.sin(x) * gc.exp(-(x**2)) + gc.log1p(x**2) + gc.sqrt(x**2 + 1))
    raw = gc.grad(y, x, simplify=False)
    simple = gc.grad(y, x)
    assert count_ops(simple) <= 0.7 * count_ops(raw)


def test_stabilising_rewrites():
    x = gc.var("x")
    assert gc.simplify(gc.log(1 + x)).op == "log1p"
    assert gc.simplify(gc.log(x + 1)).op == "log1p"
    assert gc.simplify(gc.exp(x) - 1).op == "expm1"
    lse = gc.simplify(gc.log(gc.sum(gc.exp(x), axis=0)))
    assert lse.op == "logsumexp" and lse.attrs["axis"] == 0
    tiny = np.array([1e-18])
    assert gc.compile([x], gc.log(1 + x))(tiny)[0] == 1e-18
    assert gc.compile([x], gc.exp(x) - 1)(tiny)[0] == 1e-18
    assert np.isfinite(gc.compile([x], gc.log(gc.sum(gc.exp(x))))(np.array([1000.0, 1000.0])))


def test_identities_are_dropped():
    x = gc.var("x")
    for expr in (x * 1, 1 * x, x + 0, 0 + x, x - 0, x / 1, -(-x), x**1):  # noqa: B002
        assert gc.simplify(expr) is x


def test_values_are_not_changed_on_real_inputs():
    """No rewrite that is false for some real input: sqrt(x**2) is |x|, not x, and
    exp(log(x)) is nan for x < 0."""
    x = gc.var("x")
    data = np.array([-2.0, 3.0])
    with np.errstate(invalid="ignore"):
        sq = gc.compile([x], gc.sqrt(x**2))(data)
        el = gc.compile([x], gc.exp(gc.log(x)))(data)
        s2 = gc.compile([x], gc.sqrt(x) ** 2)(data)
    np.testing.assert_array_equal(sq, [2.0, 3.0])
    assert np.isnan(el[0]) and el[1] == pytest.approx(3.0)
    assert np.isnan(s2[0]) and s2[1] == pytest.approx(3.0)
    assert str(gc.simplify(gc.exp(gc.log(x)))) == "exp(log(x))"


def test_cancellation_keeps_shape():
    """x - x is zero of x's shape, never a scalar 0 (a dropped leaf must not shrink it)."""
    x, y = gc.var("x"), gc.var("y")
    f = gc.compile([x, y], gc.simplify(y + (x - x)))
    assert f(np.ones(3), np.array(2.0)).shape == (3,)


def test_non_elementwise_ops_print_with_numpy_names():
    x, w = gc.var("x"), gc.var("w")
    assert str(gc.dot(x, w)) == "dot(x, w)"
    assert str(gc.sum(x, axis=0)) == "sum(x, axis=0)"
    assert str(gc.tanh(gc.dot(x, w)) * 2) == "2*tanh(dot(x, w))"
    assert str(gc.mean(x, axis=(0, 1), keepdims=True)) == "mean(x, axis=(0, 1), keepdims=True)"
