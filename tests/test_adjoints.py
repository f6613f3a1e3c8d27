"""The adjoint table after `Executor.backward()` (issue 14 item 5): `name=` on ops,
`get_internals()`, `bind(..., adjoints=[...])` and `exe.adjoint_dict`, checked against
adjoints computed by hand with numpy."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import graphc as gc

RNG = np.random.default_rng(1)
X, T = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 2))
W1, W2, B = RNG.normal(size=(3, 5)), RNG.normal(size=(5, 2)), RNG.normal(size=2)


def two_layer():
    x, t = gc.var("x"), gc.var("t")
    w1, w2, b = gc.var("W1"), gc.var("W2"), gc.var("b")
    z1 = gc.matmul(x, w1, name="z1")
    h = gc.tanh(z1, name="h")
    y = gc.add(h @ w2, b, name="y")
    return gc.mean((y - t) ** 2, name="L")


def by_hand():
    """The two-layer network's adjoints, written out with numpy."""
    h = np.tanh(X @ W1)
    y = h @ W2 + B
    d_y = 2 * (y - T) / y.size
    d_h = d_y @ W2.T
    d_z1 = d_h * (1 - h**2)
    return {"y_output": d_y, "h_output": d_h, "z1_output": d_z1, "L_output": 1.0}, {
        "W1": X.T @ d_z1,
        "W2": h.T @ d_y,
        "b": d_y.sum(axis=0),
    }


ARGS = {"x": X, "t": T, "W1": W1, "W2": W2, "b": B}


def test_named_intermediates_of_a_two_layer_network():
    L = two_layer()
    assert L.get_internals().list_outputs() == [
        "x",
        "W1",
        "z1_output",
        "h_output",
        "W2",
        "matmul1_output",  # k counts every matmul, named or not
        "b",
        "y_output",
        "t",
        "subtract0_output",
        "power0_output",
        "L_output",
    ]
    exe = L.bind(
        ARGS, grad_req={"x": "null", "t": "null", "W1": "write", "W2": "write", "b": "write"}
    )
    assert dict(exe.adjoint_dict) == {}  # nothing before backward
    exe.forward(is_train=True)
    exe.backward()
    adjoints, grads = by_hand()
    assert set(exe.adjoint_dict) == set(adjoints)  # every named op, by default
    for name, expected in adjoints.items():
        np.testing.assert_allclose(exe.adjoint_dict[name], expected, rtol=1e-12, atol=1e-14)
    for name, expected in grads.items():
        np.testing.assert_allclose(exe.grad_dict[name], expected, rtol=1e-12)


def test_adjoints_of_unnamed_values_by_internal_name():
    x = gc.var("x")
    y = gc.sum(gc.sin(x) * x)
    exe = y.bind({"x": X[0]}, adjoints=["sin0_output", "multiply0_output"])
    exe.backward()
    np.testing.assert_allclose(exe.adjoint_dict["sin0_output"], X[0])
    np.testing.assert_allclose(exe.adjoint_dict["multiply0_output"], np.ones(3))
    assert list(exe.adjoint_dict) == ["sin0_output", "multiply0_output"]


def test_adjoints_follow_the_head():
    """A scalar output's head scales the adjoints (fused program); a non-scalar output's
    out_grads seed them (split program)."""
    L = two_layer()
    exe = L.bind(ARGS)
    exe.forward(is_train=True)
    exe.backward(out_grads=np.array(3.0))
    adjoints, _ = by_hand()
    np.testing.assert_allclose(exe.adjoint_dict["h_output"], 3 * adjoints["h_output"])

    x = gc.var("x")
    h = gc.exp(x, name="h")
    exe = (h * x).bind({"x": X[0]})
    head = np.array([1.0, -2.0, 0.5])
    exe.forward(is_train=True)
    exe.backward(out_grads=head)
    np.testing.assert_allclose(exe.adjoint_dict["h_output"], head * X[0])
    np.testing.assert_allclose(exe.grad_dict["x"], head * (np.exp(X[0]) * X[0] + np.exp(X[0])))


def test_adjoints_without_argument_gradients_and_unreached_values():
    """grad_req="null" everywhere still computes the adjoints asked for; a value no output
    depends on through a gradient path gets zeros."""
    x = gc.var("x")
    h = gc.tanh(x, name="h")
    cut = gc.stop_gradient(gc.exp(x, name="e"))
    exe = gc.sum(h * cut).bind({"x": X[0]}, grad_req="null")
    exe.backward()
    np.testing.assert_allclose(exe.adjoint_dict["h_output"], np.exp(X[0]))
    np.testing.assert_allclose(exe.adjoint_dict["e_output"], np.zeros(3))
    assert dict(exe.grad_dict) == {}


def test_no_adjoints_cost_nothing():
    """Without adjoints the programs are exactly those of the graph without names."""
    x, w = gc.var("x"), gc.var("w")
    plain = gc.sum(gc.tanh(x @ w))
    named = gc.sum(gc.tanh(gc.matmul(x, w, name="z"), name="h"))
    args = {"x": X, "w": W1}
    assert named.bind(args, adjoints=[]).source() == plain.bind(args).source()
    assert named.bind(args).source() != plain.bind(args).source()


def test_adjoint_errors_name_what_is_wrong():
    x = gc.var("x")
    y = gc.sum(gc.tanh(x, name="h") > 0) + gc.sum(x)
    args = {"x": X[0]}
    with pytest.raises(gc.BindError, match=r"'nope' is not an internal output.*'h_output'"):
        y.bind(args, adjoints=["nope"])
    with pytest.raises(gc.BindError, match="'x' is an argument: its gradient is in grad_dict"):
        y.bind(args, adjoints=["x"])
    with pytest.raises(gc.BindError, match="greater0_output' has no adjoint array"):
        y.bind(args, adjoints=["greater0_output"])
    with pytest.raises(gc.BindError, match="adjoints must be a list"):
        y.bind(args, adjoints="h_output")
    twice = gc.tanh(x, name="h") + gc.exp(x, name="h")
    with pytest.raises(gc.BindError, match="2 internal values are named 'h_output'"):
        gc.sum(twice).bind(args, adjoints=["h_output"])


def test_named_ops_name_their_outputs_and_survive_pickling():
    x = gc.var("x")
    h = gc.tanh(x, name="h")
    assert h.list_outputs() == ["h_output"]
    exe = pickle.loads(pickle.dumps(gc.sum(h).bind({"x": X[0]}, adjoints=["h_output"])))
    exe.backward()
    np.testing.assert_allclose(exe.adjoint_dict["h_output"], np.ones(3))
