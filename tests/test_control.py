"""cond, while_loop, fori_loop and scan: values, derivatives (reverse, forward, second
order, nested), emitted code, errors naming the user's line, and save/load."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import graphc as gc
from graphc import eager
from graphc.ops import OPS


def _line(offset: int) -> str:
    """`test_control.py:N` for the caller's line plus `offset`."""
    frame = inspect.currentframe().f_back
    return f"test_control.py:{frame.f_lineno + offset}"


# --- cond ----------------------------------------------------------------------------------


def test_cond_values_and_gradients_in_both_branches():
    x, w = gc.var("x"), gc.var("w")
    y = gc.cond(gc.sum(x) > 0, lambda a: gc.exp(a) * w, lambda a: a * a, x)
    assert y.op == "get" and y.inputs[0].op == "cond"
    f = gc.compile([x, w], y)
    for xv in (np.array([0.5, 0.7]), np.array([-0.5, 0.1])):
        ref = np.exp(xv) * 0.3 if xv.sum() > 0 else xv * xv
        np.testing.assert_allclose(f(xv, np.array(0.3)), ref)
        gc.check_grad(gc.sum(y), [x, w], {"x": xv, "w": np.array(0.3)})


def test_cond_tuple_results_closures_and_emitted_if_block():
    x, p = gc.var("x", shape=(3,)), gc.var("p", shape=())
    hi, lo = gc.cond(p > 1, lambda a: (a * p, gc.sin(a)), lambda a: (a, a - p), x)
    f = gc.compile([x, p], [hi, lo])
    xv = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(f(xv, np.float64(2.0)), (xv * 2, np.sin(xv)))
    np.testing.assert_allclose(f(xv, np.float64(0.5)), (xv, xv - 0.5))
    assert "    if " in f.source and "    else:" in f.source
    gc.check_grad(gc.sum(hi * lo), [x, p], {"x": xv, "p": np.float64(2.0)})
    gc.check_grad(gc.sum(hi * lo), [x, p], {"x": xv, "p": np.float64(0.5)})


def test_cond_number_in_one_branch_takes_the_other_branch_type():
    x = gc.var("x", shape=(2,), dtype=np.float32)
    y = gc.cond(gc.sum(x) > 0, lambda: x * 2, lambda: 0)
    assert y.dtype == np.float32 and y.shape == (2,)
    out = gc.compile([x], y)(np.array([-1.0, 0.5], np.float32))
    assert out.dtype == np.float32 and out.tolist() == [0.0, 0.0]


def test_cond_second_order_through_both_branches():
    s = gc.var("s")
    y = gc.cond(s > 0, lambda a: gc.sin(a) * a, lambda a: a**3, s)
    g = gc.grad(y, s)
    f = gc.compile([s], [g, gc.grad(g, s)])
    for v in (0.7, -0.4):
        g1, g2 = f(np.float64(v))
        if v > 0:
            np.testing.assert_allclose(
                [g1, g2], [np.sin(v) + v * np.cos(v), 2 * np.cos(v) - v * np.sin(v)]
            )
        else:
            np.testing.assert_allclose([g1, g2], [3 * v * v, 6 * v])


def test_cond_on_numbers_and_eager_tensors_runs_python():
    assert gc.cond(np.bool_(True), lambda a: a + 1, lambda a: a - 1, 1.0) == 2.0
    t = eager.tensor(np.array([1.0, -2.0]), requires_grad=True)
    y = gc.cond(t.sum() < 0, lambda a: a * 3, lambda a: a, t)
    y.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), [3.0, 3.0])


def test_eager_cond_gives_tensors_where_a_branch_returns_a_number():
    t = eager.tensor(np.array(-2.0), requires_grad=True)
    y = gc.cond(t > 0, lambda a: a * 2, lambda a: 0.0, t)
    assert isinstance(y, eager.Tensor) and float(y) == 0.0
    (y * t).backward()  # a constant times t: d/dt = 0.0
    assert float(t.grad) == 0.0
    pair = gc.cond(t < 0, lambda a: (a * 2, 1), lambda a: (0.0, 2), t)
    assert all(isinstance(v, eager.Tensor) for v in pair)
    with pytest.raises(gc.GraphcError, match="cond: branch result 0"):
        gc.cond(t < 0, lambda a: "text", lambda a: a, t)


def test_cond_errors_name_the_calling_line():
    x = gc.var("x", shape=(3,), dtype=np.float64)
    with pytest.raises(gc.ShapeError, match=_line(1)) as err:
        gc.cond(gc.sum(x) > 0, lambda: x, lambda: x[:2])
    assert "cond" in str(err.value) and "(3,)" in str(err.value) and "(2,)" in str(err.value)
    with pytest.raises(gc.DTypeError, match=_line(1)):
        gc.cond(gc.sum(x), lambda: x, lambda: x)
    with pytest.raises(gc.GraphcError, match=_line(1)):
        gc.cond(gc.sum(x) > 0, lambda: (x, x), lambda: x)


# --- while_loop ----------------------------------------------------------------------------


def test_while_loop_gradients_match_finite_differences():
    x, w = gc.var("x"), gc.var("w")
    y = gc.while_loop(lambda v: gc.sum(v) < 10.0, lambda v: v * 1.3 + gc.sin(w) * v, x)
    gc.check_grad(gc.sum(y * y), [x, w], {"x": np.array([0.5, 0.7]), "w": np.array(0.3)})

    def body(c):
        i, v = c
        return i + 1, gc.tanh(v * w) + v

    i, v = gc.while_loop(lambda c: c[0] < 5, body, (0, x))
    assert i.dtype == np.int64
    gc.check_grad(gc.sum(v), [x, w], {"x": np.array([0.5, 0.7]), "w": np.array(0.3)})


def test_while_loop_saves_carries_only_when_the_reverse_pass_reads_them():
    x = gc.var("x", shape=())
    linear = gc.while_loop(lambda v: v < 100.0, lambda v: v * 3.0, x)
    f = gc.compile([x], [linear, gc.grad(linear, x)])
    np.testing.assert_allclose(f(np.float64(2.0)), (162.0, 81.0))
    assert "while " in f.source and ".append(" not in f.source  # a trip count is enough
    square = gc.while_loop(lambda v: v < 100.0, lambda v: v * v, x)
    f = gc.compile([x], [square, gc.grad(square, x)])
    np.testing.assert_allclose(f(np.float64(1.5)), (1.5**16, 16 * 1.5**15))
    assert ".append(" in f.source and "range(" in f.source
    # Without a gradient nothing is saved.
    assert ".append(" not in gc.compile([x], square).source


def test_while_loop_zero_iterations_gives_the_identity():
    x = gc.var("x", shape=(2,))
    y = gc.while_loop(lambda v: gc.sum(v) < 0.0, lambda v: v * v, x)
    f = gc.compile([x], [y, gc.grad(gc.sum(y), x)])
    value, grad = f(np.array([1.0, 2.0]))
    np.testing.assert_allclose(value, [1.0, 2.0])
    np.testing.assert_allclose(grad, [1.0, 1.0])


def test_while_loop_100000_iterations_on_scalars():
    x, w = gc.var("x", shape=()), gc.var("w", shape=())

    def body(c):
        i, v = c
        return i + 1, v + 1e-5 * gc.sin(v * w)

    _, v = gc.while_loop(lambda c: c[0] < 100000, body, (0, x))
    gc.check_grad(v, [x, w], {"x": np.float64(0.3), "w": np.float64(1.2)})


def test_while_loop_on_numbers_and_eager_tensors_runs_python():
    assert gc.while_loop(lambda v: v < 10, lambda v: v * 3, 1) == 27
    t = eager.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = gc.while_loop(lambda v: v.sum() < 10, lambda v: v * 2, t)
    y.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), [4.0, 4.0])


def test_while_loop_carry_errors_name_the_calling_line():
    x = gc.var("x", shape=(3,))
    with pytest.raises(gc.ShapeError, match=_line(1)) as err:
        gc.while_loop(lambda v: gc.sum(v) < 1, lambda v: v[1:], x)
    assert "while_loop" in str(err.value) and "carry 0" in str(err.value)
    with pytest.raises(gc.DTypeError, match=_line(1)):
        gc.while_loop(lambda c: c < 3, lambda c: c + 0.5, gc.var("i", dtype=np.int64))
    with pytest.raises(gc.ShapeError, match=_line(1)):
        gc.while_loop(lambda v: v < 1, lambda v: v * 2, x)
    with pytest.raises(gc.GraphcError, match=_line(1)):
        gc.while_loop(lambda c: c[0] < 1, lambda c: c[0], (x, x))


# --- fori_loop and scan --------------------------------------------------------------------


def test_fori_loop_with_symbolic_bounds():
    x, w, n = gc.var("x"), gc.var("w"), gc.var("n", dtype=np.int64)
    y = gc.fori_loop(1, n, lambda i, v: v * gc.cos(v * i) + w, x)
    args = {"x": np.array([0.5, 0.7]), "w": np.array(0.3), "n": np.array(4)}
    gc.check_grad(gc.sum(y), [x, w], args)
    f = gc.compile([x, w, n], y)
    ref = args["x"]
    for i in range(1, 4):
        ref = ref * np.cos(ref * i) + 0.3
    np.testing.assert_allclose(f(**args), ref)
    assert "for i in np.arange(1, n):" in f.source


def test_scan_values_gradients_and_reverse():
    x, w, xs = gc.var("x"), gc.var("w"), gc.var("xs")
    rng = np.random.default_rng(3)
    args = {"x": np.array([0.5, 0.7]), "w": np.array(0.3), "xs": rng.normal(size=(5, 2))}
    for reverse in (False, True):
        c, ys = gc.scan(lambda c, xk: (c * gc.tanh(xk) + w, c * xk), x, xs, reverse=reverse)
        gc.check_grad(gc.sum(c) + gc.sum(ys * ys), [x, w, xs], args)
        carry, rows = args["x"], [None] * 5
        for k in range(4, -1, -1) if reverse else range(5):
            rows[k] = carry * args["xs"][k]
            carry = carry * np.tanh(args["xs"][k]) + 0.3
        out = gc.compile([x, w, xs], [c, ys])(**args)
        np.testing.assert_allclose(out[0], carry)
        np.testing.assert_allclose(out[1], np.stack(rows))


def test_scan_rnn_gradient_matches_the_unrolled_rnn():
    steps, hidden, inputs = 4, 3, 2
    W, U = gc.var("W", shape=(hidden, hidden)), gc.var("U", shape=(inputs, hidden))
    h0, xs = gc.var("h0", shape=(hidden,)), gc.var("xs", shape=(steps, inputs))

    def cell(h, x):
        h = gc.tanh(gc.dot(h, W) + gc.dot(x, U))
        return h, gc.sum(h * h)

    h, losses = gc.scan(cell, h0, xs)
    scanned = gc.sum(losses) + gc.sum(h)
    state, unrolled = h0, 0.0
    for t in range(steps):
        state, loss = cell(state, xs[t])
        unrolled = unrolled + loss
    unrolled = unrolled + gc.sum(state)
    params = [W, U, h0, xs]
    rng = np.random.default_rng(7)
    values = [rng.normal(scale=0.5, size=p.shape) for p in params]
    a = gc.compile(params, [scanned] + gc.grad(scanned, params))(*values)
    # The unrolled reference needs no simplification (and its sympy pass is slow).
    b = gc.compile(params, [unrolled] + gc.grad(unrolled, params, simplify=False), simplify=False)(
        *values
    )
    for got, want in zip(a, b):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert "for k in range(4):" in gc.compile(params, scanned).source


def test_scan_whose_emitted_body_is_empty():
    # The gradient's forward scan keeps its carry and its ys are not needed: the emitted
    # loop had no statement (an IndentationError at compile time).
    x = gc.var("x", shape=(3,))
    _, ys = gc.scan(lambda c, row: (c, x), x, gc.stack([x, x]))
    g = gc.compile([x], gc.grad(gc.sum(ys), x))(np.ones(3))
    np.testing.assert_array_equal(g, [2.0, 2.0, 2.0])


# --- nesting, forward mode, higher order ---------------------------------------------------


def test_nested_control_flow_differentiates():
    x, w, xs = gc.var("x"), gc.var("w"), gc.var("xs")

    def body(v):
        return gc.cond(gc.sum(v) > 1.0, lambda a: a * 1.5 + w, lambda a: gc.exp(a) * w + a, v)

    y = gc.while_loop(lambda v: gc.sum(v) < 20.0, body, x)
    gc.check_grad(gc.sum(y * y), [x, w], {"x": np.array([0.1, 0.2]), "w": np.array(0.3)})

    def outer(c, row):
        c2, ys = gc.scan(lambda ci, e: (ci * gc.sin(e) + w, ci * e), c, row)
        return c2, gc.sum(ys)

    c, ys = gc.scan(outer, x, xs)
    rng = np.random.default_rng(1)
    gc.check_grad(
        gc.sum(c) + gc.sum(ys),
        [x, w, xs],
        {"x": np.array(0.5), "w": np.array(0.3), "xs": rng.normal(size=(3, 4))},
    )


@pytest.mark.parametrize("kind", ["cond", "while", "fori", "scan"])
def test_forward_mode_agrees_with_reverse_mode(kind):
    x, w, xs = gc.var("x", shape=(2,)), gc.var("w", shape=()), gc.var("xs", shape=(5, 2))
    y = {
        "cond": lambda: gc.cond(gc.sum(x) > 0, lambda a: gc.exp(a) * w, lambda a: a * a, x),
        "while": lambda: gc.while_loop(
            lambda v: gc.sum(v) < 10.0, lambda v: v * 1.3 + gc.sin(w) * v, x
        ),
        "fori": lambda: gc.fori_loop(0, 4, lambda i, v: gc.sin(v) * w + i, x),
        "scan": lambda: gc.scan(lambda c, e: (c * gc.tanh(e) + w, c * e), x, xs)[0],
    }[kind]()
    u, s = np.array([1.0, 0.5]), 0.7
    tangent = gc.jvp(y, {x: u, w: np.float64(s)})
    grads = gc.grad(y, [x, w], head=np.ones(2))
    rng = np.random.default_rng(2)
    t, gx, gw = gc.compile([x, w, xs], [tangent] + grads)(
        np.array([0.3, 0.4]), np.float64(0.3), rng.normal(size=(5, 2))
    )
    np.testing.assert_allclose(np.sum(t), gx @ u + gw * s, rtol=1e-10)


def test_second_derivative_through_while_loop():
    s = gc.var("s", shape=())
    y = gc.while_loop(lambda v: v < 10.0, lambda v: v * v + 1.0, s)
    g = gc.grad(y, s)
    f = gc.compile([s], [y, g, gc.grad(g, s), gc.hessian(y, s)])
    value, g1, g2, h = f(np.float64(1.5))  # (1.5^2 + 1)^2 + 1 = 11.5625
    assert value == 11.5625
    np.testing.assert_allclose([g1, g2, h], [4 * 1.5 * (1.5**2 + 1), 12 * 1.5**2 + 4, 31.0])


# --- interpretation, emission, save/load ---------------------------------------------------


def test_impl_interprets_the_sub_graphs():
    x = gc.var("x")
    y = gc.while_loop(lambda v: v < 10.0, lambda v: v * 2, x)
    node = y.inputs[0]
    final, hist, trips = OPS["while_loop"].impl(np.float64(1.5), **node.attrs)
    assert (final, trips) == (12.0, 3)
    np.testing.assert_allclose(hist, [1.5, 3.0, 6.0])
    c, ys = gc.scan(lambda c, e: (c + e, c * e), gc.const(0.0), gc.var("xs"))
    out = OPS["scan"].impl(0.0, np.arange(3.0), **c.inputs[0].attrs)
    np.testing.assert_allclose(out[1], [0.0, 0.0, 2.0])


def test_emitted_loops_are_plain_python():
    x = gc.var("x", shape=())
    y = gc.while_loop(lambda v: v < 100.0, lambda v: v * v, x)
    source = gc.compile([x], [y, gc.grad(y, x)]).source
    assert "    while v < 100.0:\n        v_hist.append(v)\n        v = v * v\n" in source
    assert "for k in range(len(v_hist) - 1, -1, -1):" in source


def test_save_and_load_round_trip_control_flow_and_its_gradient():
    a = gc.var("a")
    b = gc.while_loop(lambda v: gc.norm(v) < 1000, lambda v: v * 2, a * 2)
    c = gc.cond(gc.sum(b) > 0, lambda: b, lambda: 100 * b)
    d, scanned = gc.scan(lambda carry, e: (carry * e, gc.sin(e)), c, a)
    g = gc.grad(gc.sum(d) + gc.sum(scanned), a)
    loaded = gc.load_json(_dump([d, g]))
    f1, f2 = gc.compile([a], [d, g]), gc.compile(_vars(loaded), loaded)
    for value in (np.array([0.3, -0.2]), np.array([-1.5, 0.4])):
        for x1, x2 in zip(f1(value), f2(value)):
            np.testing.assert_allclose(x1, x2)


def _dump(symbols):
    from graphc.serialize import tojson

    return tojson(symbols)


def _vars(outputs):
    from graphc.ir import free_vars

    return free_vars(outputs)


def test_loading_a_sub_graph_that_is_not_closed_fails():
    import json

    x, w = gc.var("x"), gc.var("w")
    doc = json.loads(gc.while_loop(lambda v: v < 10, lambda v: v * w, x).tojson())
    for key in ("cond", "body"):  # w is read by the body but no longer a param
        doc["graph"]["nodes"][2]["attrs"][key]["$graph"]["inputs"] = [0]
    doc["graph"]["nodes"][2]["inputs"] = [0]
    with pytest.raises(gc.SerializationError, match="reads var 'w'"):
        gc.load_json(json.dumps(doc))


def test_numbers_kept_in_variables_are_numpy_scalars():
    # Emitted reductions call array methods (x.sum()): a branch or carry holding a Python
    # number must still have them.
    p, x = gc.var("p"), gc.var("x")
    y = gc.cond(p > 0, lambda: 2.0, lambda: gc.sum(x))
    f = gc.compile([p, x], gc.sum(y) * 3)
    assert f(np.float64(1.0), np.ones(3)) == 6.0 and f(np.float64(-1.0), np.ones(3)) == 9.0
    v = gc.while_loop(
        lambda c: gc.sum(c[1]) < 5.0, lambda c: (c[0], c[1] + gc.sum(c[0])), (1.0, x)
    )
    assert gc.compile([x], v[1])(np.float64(0.5)) == 5.5
