"""Reverse and forward mode as graph walks: `grad` (heads, unreached inputs, dtypes, higher
order, shared sub-graphs), `jvp`, `jacobian`, `hessian`, numerically stable rules at large
magnitudes, `value_and_grad` and `check_grad`. Per-op finite-difference sweeps live in
tests/ops/."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.ops import OPS


def _run(inputs, outputs, *arrays):
    return gc.compile(inputs, outputs)(*arrays)


# --- grad: heads ------------------------------------------------------------------------------


def test_non_scalar_output_needs_a_head():
    x = gc.var("x", shape=(3,))
    with pytest.raises(gc.GradError, match=r"head=.*\(3,\)|\(3,\).*head="):
        gc.grad(x * x, x)
    # Size-1 outputs are scalars, as in PyTorch.
    g = _run([x], gc.grad(gc.sum(x, keepdims=True), x), np.ones(3))
    np.testing.assert_array_equal(g, np.ones(3))


def test_head_is_a_vector_jacobian_product(rng):
    x = gc.var("x", shape=(3,))
    w = gc.var("w", shape=(3,))
    v = rng.normal(size=3)
    xs, ws = rng.normal(size=3), rng.normal(size=3)
    for head in (v, gc.const(v), w):
        g = _run([x, w], gc.grad(gc.sin(x), x, head=head), xs, v if head is w else ws)
        np.testing.assert_allclose(g, np.cos(xs) * v)


def test_bad_heads():
    x = gc.var("x", shape=(3,))
    with pytest.raises(gc.ShapeError, match=r"\(2,\)"):
        gc.grad(x * 2, x, head=np.ones(2))
    with pytest.raises(gc.GradError):  # the same error is a GradError too
        gc.grad(x * 2, x, head=np.ones((1, 3)))
    with pytest.raises(gc.DTypeError):
        gc.grad(x * 2, x, head=gc.var("h", dtype=np.int64))
    with pytest.raises(gc.DTypeError):
        gc.grad(x * 2, x, head=np.array(["a", "b", "c"]))
    # An integer array head is cast to the output's dtype.
    h = gc.grad(gc.var("y", dtype=np.float64) * x, x, head=np.array([1, 2, 3]))
    assert h is not None


def test_grad_of_a_group_or_non_symbol_is_an_error():
    x = gc.var("x")
    with pytest.raises(gc.GradError, match="Group"):
        gc.grad(gc.Group([x, x * 2]), x)
    with pytest.raises(gc.GradError):
        gc.grad(3.0, x)
    with pytest.raises(gc.GradError):
        gc.grad(x * 2, [x, 3.0])


# --- grad: inputs -----------------------------------------------------------------------------


def test_list_of_inputs_and_unreached_inputs_get_zeros():
    x, z, n = gc.var("x"), gc.var("z"), gc.var("n")
    y = gc.sum(gc.exp(x))
    gs = gc.grad(y, [x, z])
    assert isinstance(gs, list) and len(gs) == 2
    gx, gz = _run([x, z], gs, np.zeros(2), np.ones((2, 3)))
    np.testing.assert_array_equal(gx, [1.0, 1.0])
    np.testing.assert_array_equal(gz, np.zeros((2, 3)))
    assert gz.shape == (2, 3)
    # Through stop_gradient, comparisons and integer casts nothing flows either.
    y2 = gc.sum(gc.stop_gradient(x) * 3) + gc.sum((x > 0) * 1.0) + gc.sum(x.astype(np.int64))
    np.testing.assert_array_equal(_run([x], gc.grad(y2, x), np.ones(2)), [0.0, 0.0])
    assert isinstance(gc.grad(y, (x,)), list)
    assert isinstance(gc.grad(y * n, x), gc.Symbol)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.uint8])
def test_integer_and_boolean_inputs_raise(dtype):
    k = gc.var("k", dtype=dtype)
    x = gc.var("x")
    with pytest.raises(gc.DTypeError, match="'k'"):
        gc.grad(gc.sum(x * k), k)
    with pytest.raises(gc.DTypeError, match="'k'"):
        gc.grad(gc.sum(x * k), [x, k])
    with pytest.raises(gc.DTypeError):
        gc.jvp(x * k, {k: np.ones(2)})
    # Differentiating an integer-valued output is an error too.
    with pytest.raises(gc.DTypeError):
        gc.grad(gc.sum(k), x)


def test_gradient_with_respect_to_an_intermediate_node():
    x = gc.var("x")
    u = x * x
    y = gc.sum(gc.sin(u))
    xs = np.array([0.5, 1.5])
    np.testing.assert_allclose(_run([x], gc.grad(y, u), xs), np.cos(xs * xs))


def test_grad_result_is_an_ordinary_symbol():
    x = gc.var("x")
    g = gc.grad(gc.sum(gc.tanh(x)), x)
    assert isinstance(g, gc.Symbol) and isinstance(str(g), str)
    exe = g.bind({"x": np.array([0.0, 1.0])})
    np.testing.assert_allclose(exe.forward()[0], 1 - np.tanh([0.0, 1.0]) ** 2)
    gg = gc.grad(gc.sum(g), x)
    np.testing.assert_allclose(
        gg.eval(x=np.array([0.5]))[0], -2 * np.tanh(0.5) * (1 - np.tanh(0.5) ** 2)
    )


# --- higher order and shared sub-graphs ----------------------------------------------------


def test_third_derivative_of_a_polynomial():
    x = gc.var("x")
    p = 3 * x**4 - 2 * x**3 + 5 * x**2 - x + 7
    g = p
    for _ in range(3):  # (the sum: derivatives of an elementwise p at several points)
        g = gc.grad(gc.sum(g), x)
    xs = np.array([-1.5, 0.0, 2.0])
    np.testing.assert_allclose(_run([x], g, xs), 72 * xs - 12)
    assert _run([x], gc.grad(gc.grad(g, x), x), 1.3) == pytest.approx(0.0)


def test_second_order_through_nonlinear_ops():
    x = gc.var("x")
    y = gc.sum(gc.exp(gc.sin(x)))
    g2 = gc.grad(gc.sum(gc.grad(y, x)), x)
    xs = np.array([0.2, -0.7])
    expected = np.exp(np.sin(xs)) * (np.cos(xs) ** 2 - np.sin(xs))
    np.testing.assert_allclose(_run([x], g2, xs), expected)


def test_shared_subgraph_cotangent_is_built_once(monkeypatch):
    calls = []
    cls = type(OPS["exp"])
    rule = cls.vjp_some

    def counting(self, wanted, g, y, *xs, **attrs):
        calls.append(y)
        return rule(self, wanted, g, y, *xs, **attrs)

    monkeypatch.setattr(cls, "vjp_some", counting)  # on the class: undone cleanly
    x = gc.var("x")
    e = gc.exp(x)  # shared by both outputs and used twice in the first
    y = gc.sum(e * e) + gc.sum(e * 3.0)
    g = gc.grad(y, x)
    assert len(calls) == 1
    xs = np.array([0.1, 0.4])
    np.testing.assert_allclose(_run([x], g, xs), 2 * np.exp(2 * xs) + 3 * np.exp(xs))
    calls.clear()
    out = gc.Group([gc.sum(e * e), e * 3.0])
    exe = out.bind({"x": xs})
    exe.forward(is_train=True)
    exe.backward([None, np.array([1.0, 2.0])])
    assert len(calls) == 1
    np.testing.assert_allclose(
        exe.grad_dict["x"], 2 * np.exp(2 * xs) + 3 * np.exp(xs) * [1.0, 2.0]
    )


# --- forward mode, jacobian, hessian --------------------------------------------------------


def test_jvp_against_numpy(rng):
    x, w = gc.var("x", shape=(3,)), gc.var("w", shape=(3, 2))
    y = gc.tanh(gc.matmul(x, w))
    xs, ws = rng.normal(size=3), rng.normal(size=(3, 2))
    tx, tw = rng.normal(size=3), rng.normal(size=(3, 2))
    t = gc.jvp(y, {x: tx, w: tw})
    d = 1 - np.tanh(xs @ ws) ** 2
    np.testing.assert_allclose(_run([x, w], t, xs, ws), d * (tx @ ws + xs @ tw))
    t1, t2 = gc.jvp([y, gc.sum(x)], {x: tx})
    np.testing.assert_allclose(_run([x, w], t2, xs, ws), tx.sum())
    # An output that does not depend on the tangents gets zeros.
    z = gc.var("z", shape=(2,))
    np.testing.assert_array_equal(_run([z, x], gc.jvp(z * 2, {x: tx}), np.ones(2), xs), [0.0, 0.0])
    with pytest.raises(gc.ShapeError):
        gc.jvp(y, {x: np.ones(4)})


def test_jvp_and_vjp_are_transposes(rng):
    x = gc.var("x", shape=(4,))
    y = gc.softmax(x) * gc.sum(x**2)
    xs, u, v = rng.normal(size=4), rng.normal(size=4), rng.normal(size=4)
    ju = _run([x], gc.jvp(y, {x: u}), xs)
    jtv = _run([x], gc.grad(y, x, head=v), xs)
    assert np.dot(v, ju) == pytest.approx(np.dot(jtv, u))


@pytest.mark.parametrize("n_out", [2, 5])  # fewer entries than x: rows; more: columns
def test_jacobian_against_numpy(rng, n_out):
    x = gc.var("x", shape=(3,))
    a = rng.normal(size=(n_out, 3))
    y = gc.sin(gc.matmul(gc.const(a), x))
    xs = rng.normal(size=3)
    j = gc.jacobian(y, x)
    assert j.shape == (n_out, 3)
    expected = np.cos(a @ xs)[:, None] * a
    np.testing.assert_allclose(_run([x], j, xs), expected)
    for mode in ("rev", "fwd"):
        np.testing.assert_allclose(_run([x], gc.jacobian(y, x, mode=mode), xs), expected)


def test_jacobian_shapes_and_errors():
    x = gc.var("x", shape=(2, 2))
    y = x * 3.0
    j = gc.jacobian(y, x)
    assert j.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(_run([x], j, np.ones((2, 2))), 3 * np.eye(4).reshape(2, 2, 2, 2))
    assert gc.jacobian(gc.sum(x), x).shape == (2, 2)
    u = gc.var("u")  # no shape: the Jacobian is batched once data is bound
    np.testing.assert_allclose(_run([u], gc.jacobian(u * 2, u), np.ones(3)), 2 * np.eye(3))


def test_hessian_against_numpy(rng):
    x = gc.var("x", shape=(3,))
    a = rng.normal(size=(3, 3))
    y = gc.sum(x**3) + gc.dot(x, gc.matmul(gc.const(a), x)) + gc.dot(x, x) ** 2
    xs = rng.normal(size=3)
    h = gc.hessian(y, x)
    assert h.shape == (3, 3)
    expected = np.diag(6 * xs) + a + a.T + 8 * np.outer(xs, xs) + 4 * np.dot(xs, xs) * np.eye(3)
    np.testing.assert_allclose(_run([x], h, xs), expected)
    with pytest.raises(gc.GradError):
        gc.hessian(x * 2, x)


def test_hessian_of_logsumexp_is_diag_p_minus_ppT(rng):
    x = gc.var("x", shape=(4,))
    xs = rng.normal(size=4)
    p = np.exp(xs - xs.max())
    p /= p.sum()
    np.testing.assert_allclose(
        _run([x], gc.hessian(gc.logsumexp(x), x), xs), np.diag(p) - np.outer(p, p), atol=1e-12
    )


# --- numerical stability at magnitude 1000 --------------------------------------------------

BIG = np.array([[1000.0, -1000.0, 999.0], [-1000.0, -999.0, 1000.0]])


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z):
    return np.where(
        z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z)))
    )


@pytest.mark.parametrize(
    "name", ["logsumexp", "softmax", "log_softmax", "sigmoid", "softplus", "cross_entropy"]
)
def test_stable_gradients_at_magnitude_1000(name):
    z = gc.var("z", shape=(2, 3))
    v = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    labels = np.array([1, 2])
    p = _softmax(BIG)
    if name == "logsumexp":
        y = gc.sum(gc.logsumexp(z, axis=1) * np.array([1.0, 2.0]))
        expected = p * np.array([[1.0], [2.0]])
    elif name == "softmax":
        y = gc.sum(gc.softmax(z) * v)
        expected = p * (v - (p * v).sum(axis=-1, keepdims=True))
    elif name == "log_softmax":
        y = gc.sum(gc.log_softmax(z) * v)
        expected = v - p * v.sum(axis=-1, keepdims=True)
    elif name == "sigmoid":
        y = gc.sum(gc.sigmoid(z) * v)
        s = _sigmoid(BIG)
        expected = v * s * (1 - s)
    elif name == "softplus":
        y = gc.sum(gc.softplus(z) * v)
        expected = v * _sigmoid(BIG)
    else:
        y = gc.cross_entropy(z, gc.const(labels))
        expected = (p - np.eye(3)[labels]) / 2
    value, g = _run([z], [y, gc.grad(y, z)], BIG)
    assert np.isfinite(value) and np.all(np.isfinite(g))
    np.testing.assert_allclose(g, expected, atol=1e-12)
    assert gc.check_grad(y, z, {"z": BIG}) < 1e-6


# --- value_and_grad ----------------------------------------------------------------------


def test_value_and_grad_traces_once_per_signature():
    traces = []

    def f(w, b, x):
        traces.append(1)
        return gc.sum(gc.tanh(x * w + b) ** 2)

    vg = gc.value_and_grad(f)
    x = np.array([0.5, -1.0])
    v1, g1 = vg(np.array([1.0, 2.0]), 0.5, x)
    v2, g2 = vg(np.array([3.0, 1.0]), 0.1, x)
    assert len(traces) == 1
    assert "def fn(w, b, x)" in vg.source
    t = np.tanh(x * np.array([3.0, 1.0]) + 0.1)
    assert v2 == pytest.approx(np.sum(t**2))
    np.testing.assert_allclose(g2, 2 * t * (1 - t * t) * x)
    vg(np.ones(3), 0.5, np.ones(3))  # a new shape: traced again
    vg(np.ones(2, np.float32), np.float32(0.5), x.astype(np.float32))  # a new dtype
    assert len(traces) == 3
    _, gb = gc.value_and_grad(f, argnums=1)(np.ones(2), 0.5, x)
    assert np.shape(gb) == ()
    _, (gw, gb2) = gc.value_and_grad(f, argnums=(0, 1))(np.ones(2), 0.5, x)
    assert gb2 == pytest.approx(gb) and gw.shape == (2,)


def test_value_and_grad_errors():
    vg = gc.value_and_grad(lambda x: x * 2)
    with pytest.raises(gc.GradError, match="scalar"):
        vg(np.ones(3))
    with pytest.raises(gc.DTypeError):
        gc.value_and_grad(lambda n: gc.sum(n * 2.0))(np.arange(3))
    with pytest.raises(gc.GradError, match="argnums"):
        gc.value_and_grad(lambda x: gc.sum(x), argnums=2)(np.ones(2))
    with pytest.raises(gc.GradError, match="argnums"):
        gc.value_and_grad(lambda x: gc.sum(x), argnums=[0])
    with pytest.raises(gc.DTypeError):
        gc.value_and_grad(lambda x: gc.sum(x))("text")
    for returned in [lambda x: (gc.sum(x), x), lambda x: [gc.sum(x)], lambda x: None]:
        with pytest.raises(gc.GradError, match="must return a scalar"):
            gc.value_and_grad(returned)(np.ones(3))
    # A function that ignores its argument has a zero gradient.
    value, g = gc.value_and_grad(lambda x: 3.0)(np.ones(2))
    assert value == 3.0
    np.testing.assert_array_equal(g, [0.0, 0.0])


def test_value_and_grad_with_varargs_and_keywords():
    def f(*xs, scale):
        return gc.sum(xs[0] * xs[1]) * scale

    value, g = gc.value_and_grad(f, argnums=(0, 1))(
        np.array([1.0, 2.0]), np.array([3.0, 4.0]), scale=2.0
    )
    assert value == 22.0
    np.testing.assert_array_equal(g[0], [6.0, 8.0])
    np.testing.assert_array_equal(g[1], [2.0, 4.0])


# --- check_grad -------------------------------------------------------------------------------


def test_check_grad_passes_on_correct_rules(rng):
    x, w = gc.var("x"), gc.var("w")
    y = gc.sum(gc.log1p(gc.exp(gc.matmul(x, w))))
    args = {"x": rng.normal(size=(3, 2)), "w": rng.normal(size=(2, 4))}
    err = gc.check_grad(y, [x, w], args)
    assert 0 <= err < 1e-7
    assert args["x"].shape == (3, 2)  # the caller's arrays are left as they were


def test_check_grad_names_the_worst_entry():
    x = gc.var("x")
    wrong = gc.sum(gc.stop_gradient(x) * x)  # reverse mode misses half of d(x*x)
    with pytest.raises(gc.GradientCheckError, match=r"x\[2\]"):
        gc.check_grad(wrong, x, {"x": np.array([0.1, 0.2, 3.0])})
    err = gc.check_grad(wrong, x, {"x": np.array([0.1, 0.2, 3.0])}, atol=10.0)
    assert err == pytest.approx(3.0, rel=1e-6)


def test_check_grad_step_per_dtype():
    x = gc.var("x", dtype=np.float32)
    y = gc.sum(gc.sin(x))
    err = gc.check_grad(y, x, {"x": np.array([0.3, 1.2], np.float32)}, rtol=1e-2, atol=1e-3)
    assert err < 1e-3


def test_check_grad_errors():
    x, n = gc.var("x"), gc.var("n")
    with pytest.raises(gc.BindError, match="'n'"):
        gc.check_grad(gc.sum(x * n), x, {"x": np.ones(2)})
    with pytest.raises(gc.DTypeError, match="'n'"):
        gc.check_grad(gc.sum(x * n), n, {"x": np.ones(2), "n": np.arange(2)})
    with pytest.raises(gc.GradError):
        gc.check_grad(x * 2, x, {"x": np.ones(2)})
    with pytest.raises(gc.GradError):
        gc.check_grad(gc.sum(x), x * 2, {"x": np.ones(2)})


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: gc.mean(x) * 1.0,
        lambda x: 2.0 * gc.mean(x * 3) / 4,
        lambda x: gc.sum(x),
        lambda x: gc.max(x) + gc.norm(x) * 0.5,
        lambda x: gc.logsumexp(x * 2.0),
    ],
)
def test_float32_inputs_keep_float32_gradients(fn):
    # The implicit head 1.0 and Python constants are weakly typed, as numpy's scalars are.
    x32 = np.array([0.5, 1.5, -1.0], np.float32)
    value, g = gc.value_and_grad(fn)(x32)
    assert value.dtype == np.float32 and g.dtype == np.float32
    x = gc.var("x")
    assert gc.compile([x], gc.grad(fn(x), x))(x32).dtype == np.float32


def test_jacobian_mode_and_empty_shapes():
    x = gc.var("x", shape=(0,))
    j = gc.jacobian(gc.sin(x), x)
    assert j.shape == (0, 0)
    with pytest.raises(gc.GradError, match="mode"):
        gc.jacobian(gc.sin(x), x, mode="sideways")
