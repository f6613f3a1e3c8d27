"""The numpy vocabulary beyond the recipes (issue 15): values and derivatives at the points the
random recipes never sample (zeros, infinities, jumps), methods, operators, and parse-back."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import graphc as gc
from graphc import testing
from graphc.parse import parse

# --- elementwise ---------------------------------------------------------------------------


def test_sinc_derivatives_at_and_near_zero():
    """sinc'(0) = 0 and sinc''(0) = -pi**2/3 (the Taylor branch), and the exact branch
    beyond it, in compiled and eager mode."""
    x = gc.var("x", shape=())
    d1 = gc.grad(gc.sinc(x), x)
    d2 = gc.grad(d1, x)
    f = gc.compile([x], [d1, d2])
    mpmath.mp.dps = 50
    for at in (0.0, 1e-9, 0.02, 0.5, -1.5):
        if at == 0.0:
            want1, want2 = 0.0, -(math.pi**2) / 3
        else:  # the exact formulas, in 50 digits (no cancellation)
            t, u = mpmath.mpf(at), mpmath.pi * at
            d1_exact = (mpmath.cos(u) - mpmath.sin(u) / u) / t
            want1 = float(d1_exact)
            want2 = float(-(mpmath.pi**2) * mpmath.sin(u) / u - 2 * d1_exact / t)
        got1, got2 = f(np.float64(at))
        assert got1 == pytest.approx(want1, rel=1e-12, abs=1e-15)
        assert got2 == pytest.approx(want2, rel=1e-9)


def test_nan_to_num_passes_gradient_only_where_finite():
    data = np.array([np.nan, np.inf, -np.inf, 1.5])
    x = gc.var("x", shape=(4,))
    y = gc.nan_to_num(x, posinf=7.0)
    f = gc.compile([x], [y, gc.grad(gc.sum(3.0 * y), x)])
    value, grad = f(data)
    np.testing.assert_array_equal(value, np.nan_to_num(data, posinf=7.0))
    np.testing.assert_array_equal(grad, [0.0, 0.0, 0.0, 3.0])


@pytest.mark.parametrize("name", ["floor", "ceil", "round"])
def test_rounding_has_zero_derivatives_even_at_jumps(name):
    """Zero gradients and tangents (not None, not an error), at integers and halves too."""
    data = np.array([-1.5, -1.0, 0.0, 0.5, 2.0, 2.3])
    x = gc.var("x", shape=(6,))
    y = getattr(gc, name)(x)
    g, t = gc.compile([x], gc.grad(gc.sum(y * x), [x]) + gc.jvp([y], {x: np.ones(6)}))(data)
    np.testing.assert_array_equal(g, getattr(np, name)(data))  # d(y*x)/dx = y + 0
    np.testing.assert_array_equal(t, np.zeros(6))


def test_mod_operator_method_and_gradients():
    a, b = np.array([5.5, -5.5, 2.0]), np.array([2.0, 2.0, -3.0])
    x, y = gc.var("x", shape=(3,)), gc.var("y", shape=(3,))
    out = [x % y, 7.0 % x, x % 2]
    f = gc.compile([x, y], out + gc.grad(gc.sum(x % y), [x, y]))
    r1, r2, r3, gx, gy = f(a, b)
    np.testing.assert_array_equal(r1, np.mod(a, b))
    np.testing.assert_array_equal(r2, np.mod(7.0, a))
    np.testing.assert_array_equal(r3, np.mod(a, 2))
    np.testing.assert_array_equal(gx, np.ones(3))
    np.testing.assert_array_equal(gy, -np.floor(a / b))
    if testing.eager_available():
        from graphc import eager

        t = eager.tensor(a)
        np.testing.assert_array_equal(np.asarray((t % 2).data), np.mod(a, 2))
        np.testing.assert_array_equal(np.asarray((3.0 % t).data), np.mod(3.0, a))


def test_logaddexp_is_stable_and_its_gradient_is_softmax_weights():
    a, b = np.array([1000.0, -1000.0, 0.3]), np.array([999.0, -1001.0, 0.3])
    x, y = gc.var("x", shape=(3,)), gc.var("y", shape=(3,))
    value, gx, gy = gc.compile(
        [x, y], [gc.logaddexp(x, y), *gc.grad(gc.sum(gc.logaddexp(x, y)), [x, y])]
    )(a, b)
    np.testing.assert_allclose(value, np.logaddexp(a, b))
    np.testing.assert_allclose(gx, 1 / (1 + np.exp(b - a)))
    np.testing.assert_allclose(gx + gy, np.ones(3))


@pytest.mark.parametrize("dtype,expected", [("float32", "float32"), ("int64", "float64")])
def test_erf_dtype(dtype, expected):
    x = gc.var("x", shape=(3,), dtype=dtype)
    y = gc.erf(x)
    assert y.dtype == np.dtype(expected)
    out = gc.compile([x], y)(np.array([0, 1, -2]).astype(dtype))
    assert out.dtype == np.dtype(expected)
    np.testing.assert_allclose(out, [0.0, math.erf(1.0), math.erf(-2.0)], rtol=1e-6)
    assert gc.erf(np.float32(0.5)).dtype == np.float32


def test_round_decimals_and_method():
    data = np.array([1.234, -5.678])
    x = gc.var("x", shape=(2,))
    np.testing.assert_array_equal(gc.compile([x], x.round(1))(data), data.round(1))
    np.testing.assert_array_equal(gc.compile([x], gc.round(x, -1))(data), np.round(data, -1))
    with pytest.raises(gc.ArgumentError, match="decimals must be an int"):
        gc.round(x, 1.5)


@pytest.mark.parametrize(
    "text",
    [
        "x % 3 + mod(y, x)",
        "log2(x) + log10(y) + exp2(x) + reciprocal(y)",
        "logaddexp(x, y) + erf(x) + sinc(y) + floor(x) + ceil(y) + round(x, decimals=1)",
        "nan_to_num(x / y, posinf=1.0)",
    ],
)
def test_printed_text_parses_back(text):
    """str() of the new ops parses back to the same values (names from the op table)."""
    y, xs = parse(text)
    again, xs2 = parse(str(y))
    data = {"x": np.array([0.3, 1.7]), "y": np.array([1.5, 0.2])}
    first = gc.compile(list(xs.values()), y)(*[data[n] for n in xs])
    second = gc.compile(list(xs2.values()), again)(*[data[n] for n in xs2])
    np.testing.assert_allclose(second, first, rtol=1e-12)


# --- rearranging -------------------------------------------------------------------------


def test_methods_and_split_pieces():
    data = np.arange(12.0).reshape(3, 4)
    x = gc.var("x", shape=(3, 4))
    outs = [x.ravel(), x.flatten(), x.swapaxes(0, 1), x.repeat(2, axis=0)]
    outs += gc.split(x, 2, axis=1)
    got = gc.compile([x], outs)(data)
    want = [data.ravel(), data.flatten(), data.swapaxes(0, 1), data.repeat(2, axis=0)]
    want += np.split(data, 2, axis=1)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    assert gc.split(x, (1, 3), axis=1, index=2).shape == (3, 1)
    with pytest.raises(gc.ShapeError, match="equal sections"):
        gc.split(x, 5, axis=1)


def test_split_parses_as_a_list_of_pieces():
    y, xs = parse("split(x, 3)[2] * 2 + sum(concatenate(split(x, (1, 4))))", {"x": (6,)})
    data = np.arange(6.0)
    np.testing.assert_array_equal(gc.compile([xs["x"]], y)(data), data[4:] * 2 + 15.0)
    piece = gc.split(xs["x"], 3)[1]
    again, xs2 = parse(str(piece), {"x": (6,)})
    np.testing.assert_array_equal(gc.compile([xs2["x"]], again)(data), data[2:4])


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: gc.tile(x, (2, 3)),
        lambda x: gc.repeat(x, 3, axis=-1),
        lambda x: gc.roll(gc.flip(x, 0), 2),
        lambda x: gc.vstack([x, x * 2]),
    ],
    ids=["tile", "repeat", "roll-flip", "vstack"],
)
def test_rearranging_gradients_with_unknown_shapes(fn):
    """Rules that need no shapes: vars declaring nothing give numpy's gradient."""
    data = np.arange(6.0).reshape(2, 3)
    x = gc.var("x")
    weights = fn(np.ones((2, 3)))
    w = np.random.default_rng(0).standard_normal(np.shape(weights))
    g = gc.compile([x], gc.grad(gc.sum(fn(x) * w), x))(data)
    xs = gc.var("x", shape=(2, 3))
    want = gc.compile([xs], gc.grad(gc.sum(fn(xs) * w), xs))(data)
    np.testing.assert_allclose(g, want)


# --- along an axis -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        np.array([[1.5, 2.0, 0.0, 3.0, -0.5], [0.5, 0.0, 0.0, 2.0, 0.0]]),
        np.array([[0.0, 0.0, 0.0, 1.0, 2.0], [2.0, -1.0, 0.5, 1.5, 0.0]]),
    ],
    ids=["one-and-three-zeros", "leading-zeros"],
)
@pytest.mark.parametrize("axis", [1, 0, None])
def test_cumprod_derivatives_are_exact_at_zeros(data, axis):
    """First and second derivatives (both modes) against finite differences with zeros in
    the data: no division by zero, no NaN (PyTorch's first-order rule agrees)."""
    testing.assert_grads(lambda x: gc.cumprod(x, axis), [data], order=2)


def test_cumprod_gradient_at_zeros_is_the_product_of_the_others():
    data = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    x = gc.var("x", shape=(5,))
    g = gc.compile([x], gc.grad(gc.sum(gc.cumprod(x)), x))(data)
    want = [sum(np.prod(np.delete(data[: j + 1], i)) for j in range(i, 5)) for i in range(5)]
    np.testing.assert_array_equal(g, want)  # [1, 2 + 6, 0, 0, 0], exactly
    assert np.all(np.isfinite(g))


def test_sort_gradient_follows_the_permutation_and_ties_the_stable_order():
    data = np.array([3.0, 1.0, 2.0, 1.0])
    x = gc.var("x", shape=(4,))
    w = np.array([10.0, 20.0, 30.0, 40.0])
    g = gc.compile([x], gc.grad(gc.sum(gc.sort(x) * w), x))(data)
    # sorted order (stable): x[1]=1 -> 10, x[3]=1 -> 20, x[2]=2 -> 30, x[0]=3 -> 40
    np.testing.assert_array_equal(g, [40.0, 10.0, 30.0, 20.0])
    flat = gc.compile([x], gc.sort(gc.reshape(x, (2, 2)), axis=None))(data)
    np.testing.assert_array_equal(flat, np.sort(data))


def test_linspace_of_numbers_is_a_constant_and_of_symbols_linear():
    np.testing.assert_array_equal(gc.linspace(0.0, 1.0, 5), np.linspace(0.0, 1.0, 5))
    a, b = gc.var("a", shape=()), gc.var("b", shape=())
    y = gc.linspace(a, b, 4, endpoint=False)
    ga, gb = gc.compile([a, b], gc.grad(gc.sum(y), [a, b]))(np.float64(1.0), np.float64(3.0))
    assert (ga, gb) == (pytest.approx(2.5), pytest.approx(1.5))  # sum of 1-t and of t
    # A tangent for one end only (the other's is None).
    (t,) = gc.jvp([y], {b: np.float64(1.0)})
    np.testing.assert_allclose(
        gc.compile([a, b], t)(np.float64(1.0), np.float64(3.0)), [0, 0.25, 0.5, 0.75]
    )
    with pytest.raises(gc.ShapeError, match="scalars"):
        gc.linspace(gc.var("v", shape=(2,)), 1.0)


def test_variance_and_std_methods_and_ddof():
    data = np.arange(6.0).reshape(2, 3) ** 2
    x = gc.var("x", shape=(2, 3))
    outs = [x.var(), x.var(1, ddof=1), x.std(0), gc.std(x, ddof=1, keepdims=True)]
    got = gc.compile([x], outs)(data)
    want = [data.var(), data.var(1, ddof=1), data.std(0), data.std(ddof=1, keepdims=True)]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-13)
    assert gc.variance is gc.ops.OPS["variance"] and gc.var("z").op == "var"


def test_diff_cross_and_cumsum_parse_back():
    y, xs = parse("diff(x, n=2) + cumsum(x)[2:] + sum(cross(x[:3], x[1:4]))", {"x": (5,)})
    data = np.array([1.0, 4.0, 2.0, 8.0, 5.0])
    want = np.diff(data, 2) + np.cumsum(data)[2:] + np.cross(data[:3], data[1:4]).sum()
    np.testing.assert_allclose(gc.compile([xs["x"]], y)(data), want)
    again, xs2 = parse(str(y), {"x": (5,)})
    np.testing.assert_allclose(gc.compile([xs2["x"]], again)(data), want)


# --- einsum and the contractions through it ------------------------------------------------


def test_the_gradient_of_an_einsum_is_an_einsum():
    a, b = gc.var("a", shape=(2, 3)), gc.var("b", shape=(3, 4))
    ga, gb = gc.grad(gc.sum(gc.einsum("ij,jk->ik", a, b)), [a, b], simplify=False)
    for g in (ga, gb):
        assert "einsum" in {n.op for n in gc.ir.toposort([g])}
    A, B = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    got_a, got_b = gc.compile([a, b], [ga, gb])(A, B)
    np.testing.assert_allclose(got_a, np.ones((2, 4)) @ B.T)
    np.testing.assert_allclose(got_b, A.T @ np.ones((2, 4)))


def test_einsum_diagonal_gradient_with_unknown_shapes():
    x = gc.var("x")
    g = gc.compile([x], gc.grad(gc.einsum("ii", x) * 2.0, x))(np.arange(9.0).reshape(3, 3))
    np.testing.assert_array_equal(g, 2 * np.eye(3))


def test_einsum_parses_back_and_refuses_ellipsis():
    y, xs = parse("einsum(a, b, subscripts='ij,jk->ik')", {"a": (2, 3), "b": (3, 2)})
    again, _ = parse(str(y), {"a": (2, 3), "b": (3, 2)})
    assert again.attrs == y.attrs == {"subscripts": "ij,jk->ik"}
    with pytest.raises(gc.ArgumentError, match=r"'\.\.\.' is not supported"):
        gc.einsum("...i,i", xs["a"], xs["b"])
    with pytest.raises(gc.ShapeError, match="axis 'j'"):
        gc.einsum("ij,jk", xs["a"], gc.var("c", shape=(4, 2)))


@pytest.mark.parametrize(
    "build,shapes",
    [
        (lambda a, b: gc.tensordot(a, b, axes=((0,), (1,))), ((3, 4), (2, 3))),
        (lambda a, b: gc.tensordot(a, b, 1), ((2, 3, 4), (4, 2))),
        (gc.inner, ((2, 3), (4, 3))),
        (gc.kron, ((2, 1, 2), (2, 3))),
    ],
)
def test_contraction_gradients_with_undeclared_ranks(build, shapes, tmp_path):
    """Deferred to bind (product_vjp), as for @ and dot: first and second derivatives, in
    compiled code and in an exported module (the runtime helper), equal the declared ones."""
    rng = np.random.default_rng(0)
    A, B = (rng.standard_normal(s) for s in shapes)

    def derivatives(a, b):
        ga = gc.grad(gc.sum(gc.sin(build(a, b))), a)
        return [ga, gc.grad(gc.sum(ga * ga), b)]

    a, b = gc.var("a"), gc.var("b")
    f = gc.compile([a, b], derivatives(a, b))
    want = gc.compile(
        [x := gc.var("a", shape=shapes[0]), y := gc.var("b", shape=shapes[1])],
        derivatives(x, y),
    )(A, B)
    for got, w in zip(f(A, B), want):
        np.testing.assert_allclose(got, w, rtol=1e-12, atol=1e-12)
    path = tmp_path / "exported.py"
    f.export(path, name="run")
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # our own emitted module
    for got, w in zip(namespace["run"](A, B), want):
        np.testing.assert_allclose(got, w, rtol=1e-12, atol=1e-12)


def test_nd_dot_gradient_in_exported_code_with_undeclared_ranks(tmp_path):
    """np.dot of stacks is not matmul: the rank-generic rule (and its runtime helper, in an
    exported module) computes dot's gradient, not matmul's."""
    rng = np.random.default_rng(0)
    A, D = rng.standard_normal((2, 3)), rng.standard_normal((2, 3, 4))
    a, b = gc.var("a"), gc.var("b")
    f = gc.compile([a, b], gc.grad(gc.sum(gc.dot(a, b) ** 2), [a, b]))
    path = tmp_path / "exported.py"
    f.export(path, name="run")
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # the test's own module
    a2, b2 = gc.var("a", shape=(2, 3)), gc.var("b", shape=(2, 3, 4))
    want = gc.compile([a2, b2], gc.grad(gc.sum(gc.dot(a2, b2) ** 2), [a2, b2]))(A, D)
    for got, w in zip(namespace["run"](A, D), want, strict=True):
        np.testing.assert_allclose(got, w, rtol=1e-12)
    testing.assert_grads(gc.dot, [A, D], order=2)
