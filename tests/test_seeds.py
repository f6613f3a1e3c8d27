"""The seed tutorials' examples (shared/seeds/) as tests, through `gc.grad` + `gc.compile`,
`value_and_grad` and `bind`/`backward`."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc


def _run(inputs, outputs, *arrays):
    return gc.compile(inputs, outputs)(*arrays)


def test_dot_gradient_is_4x():
    x = gc.var("x")
    y = 2 * gc.dot(x, x)
    value, g = _run([x], [y, gc.grad(y, x)], np.arange(4.0))
    assert value == 28.0
    np.testing.assert_array_equal(g, [0.0, 4.0, 8.0, 12.0])
    exe = y.bind({"x": np.arange(4.0)})
    exe.forward(is_train=True)
    exe.backward()
    np.testing.assert_array_equal(exe.grad_dict["x"], [0.0, 4.0, 8.0, 12.0])


def test_sum_gradient_is_ones():
    x = gc.var("x")
    g = _run([x], gc.grad(gc.sum(x), x), np.arange(4.0))
    np.testing.assert_array_equal(g, np.ones(4))


def test_sum_of_squares_and_head_of_ones_give_2x():
    x = gc.var("x")
    xs = np.arange(4.0)
    np.testing.assert_array_equal(_run([x], gc.grad(gc.sum(x * x), x), xs), 2 * xs)
    np.testing.assert_array_equal(_run([x], gc.grad(x * x, x, head=np.ones(4)), xs), 2 * xs)
    exe = (x * x).bind({"x": xs})
    exe.forward(is_train=True)
    exe.backward(np.ones(4))
    np.testing.assert_array_equal(exe.grad_dict["x"], 2 * xs)


def test_detach_gives_u_then_2x():
    x = gc.var("x")
    xs = np.arange(4.0)
    y = x * x
    u = y.detach()
    z = u * x
    g1 = _run([x], gc.grad(gc.sum(z), x), xs)
    np.testing.assert_array_equal(g1, xs * xs)  # x.grad == u
    g2 = _run([x], gc.grad(gc.sum(y), x), xs)
    np.testing.assert_array_equal(g2, 2 * xs)
    assert _run([x], gc.grad(gc.sum(gc.stop_gradient(y) * x), x), xs).tolist() == [0, 1, 4, 9]


def test_mean_of_scaled_square():
    a = gc.var("a")
    out = gc.mean(3 * (a + 3) ** 2)
    np.testing.assert_allclose(_run([a], gc.grad(out, a), np.array([2.0, 3.0])), [15.0, 18.0])


def test_stack_with_head_ones():
    m = gc.var("m")
    n = gc.stack([m[0] ** 2, m[1] ** 3])
    g = _run([m], gc.grad(n, m, head=np.array([1.0, 1.0])), np.array([2.0, 3.0]))
    np.testing.assert_array_equal(g, [4.0, 27.0])
    with pytest.raises(gc.GradError):
        gc.grad(gc.stack([gc.var("p", shape=()) ** 2, gc.var("q", shape=()) ** 3]), m)


X = np.array([1, 2, 3, 4, 5, 6])
Y = np.array([13, 14, 20, 21, 25, 30])


def _h(theta0, theta1, x):
    return theta0 + theta1 * x


def _loss(theta0, theta1, x, y):
    return gc.mean((_h(theta0, theta1, x) - y) ** 2 / 2)


def test_linear_regression_through_grad():
    t0, t1 = gc.var("theta0"), gc.var("theta1")
    loss = _loss(t0, t1, X, Y)
    value, g0, g1 = _run([t0, t1], [loss] + gc.grad(loss, [t0, t1]), 0.0, 0.0)
    assert value == pytest.approx(227.58333333333334)
    assert g0 == pytest.approx(-20.5) and g1 == pytest.approx(-81.66666666666666)


def test_linear_regression_through_value_and_grad():
    vg = gc.value_and_grad(_loss, argnums=(0, 1))
    value, (g0, g1) = vg(0.0, 0.0, X, Y)
    assert value == pytest.approx(227.58333333333334)
    assert g0 == pytest.approx(-20.5) and g1 == pytest.approx(-81.66666666666666)
    g_theta1 = gc.value_and_grad(_loss, argnums=1)(0.0, 0.0, X, Y)[1]
    assert g_theta1 == pytest.approx(-81.66666666666666)


def test_linear_regression_through_bind_and_backward():
    t0, t1, x, y = gc.var("theta0"), gc.var("theta1"), gc.var("X"), gc.var("Y")
    loss = _loss(t0, t1, x, y)
    exe = loss.bind({"theta0": np.array(0.0), "theta1": np.array(0.0), "X": X, "Y": Y})
    assert set(exe.grad_dict) == {"theta0", "theta1"}  # X and Y are integer data
    (value,) = exe.forward(is_train=True)
    exe.backward()
    assert value == pytest.approx(227.58333333333334)
    assert exe.grad_dict["theta0"] == pytest.approx(-20.5)
    assert exe.grad_dict["theta1"] == pytest.approx(-81.66666666666666)


def test_one_step_of_gradient_descent():
    w = gc.var("w")
    exe = gc.sum(2 * w**2).bind({"w": np.array([10.0, 20.0])})
    exe.forward(is_train=True)
    exe.backward()
    np.testing.assert_allclose(exe.grad_dict["w"], [40.0, 80.0])
    exe.arg_dict["w"][...] -= 0.01 * exe.grad_dict["w"]
    np.testing.assert_allclose(exe.arg_dict["w"], [9.6, 19.2])


def test_500_steps_of_gradient_descent():
    w = gc.var("w")
    exe = (w**2 + 20).bind({"w": np.array(10.0)})
    for _ in range(500):
        exe.forward(is_train=True)
        exe.backward()
        exe.arg_dict["w"][...] -= 0.01 * exe.grad_dict["w"]
    assert float(exe.arg_dict["w"]) == pytest.approx(10 * 0.98**500, rel=1e-9)

    vg = gc.value_and_grad(lambda w: w**2 + 20)
    wv = np.array(10.0)
    for _ in range(500):
        _, g = vg(wv)
        wv = wv - 0.01 * g
    assert float(wv) == pytest.approx(10 * 0.98**500, rel=1e-9)


def test_mse_loss_gradients_match_the_hand_formula(rng):
    x, w, b, y = gc.var("x"), gc.var("w"), gc.var("b"), gc.var("y")
    loss = gc.mse_loss(gc.matmul(x, w) + b, y)
    xv, yv = np.ones((2, 5)), np.zeros((2, 3))
    wv, bv = rng.normal(size=(5, 3)), rng.normal(size=3)
    dz = 2 * (xv @ wv + bv - yv) / yv.size
    gw, gb = _run([x, w, b, y], gc.grad(loss, [w, b]), xv, wv, bv, yv)
    np.testing.assert_allclose(gw, xv.T @ dz)
    np.testing.assert_allclose(gb, dz.sum(axis=0))
    exe = loss.bind({"x": xv, "w": wv, "b": bv, "y": yv}, grad_req={"w": "write", "b": "write"})
    exe.forward(is_train=True)
    exe.backward()
    np.testing.assert_allclose(exe.grad_dict["w"], xv.T @ dz)
    np.testing.assert_allclose(exe.grad_dict["b"], dz.sum(axis=0))
    # Every row of w.grad is the same, as the seed prints: x is all ones.
    np.testing.assert_allclose(exe.grad_dict["w"], np.tile(exe.grad_dict["b"], (5, 1)))
