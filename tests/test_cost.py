"""`gc.cost` and the op table's `cost` facts (issue 14 item 7): flops and bytes of the forward
and of the gradient, from shapes alone, on known graphs (the seed's `2 * dot(x, x)`, a
two-layer network, the recurrence)."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.ops import costs

B, D, H, C = 32, 10, 20, 3  # batch, inputs, hidden units, outputs


def _mlp():
    x, w1, w2 = gc.var("x"), gc.var("W1"), gc.var("W2")
    loss = gc.sum(gc.tanh(x @ w1) @ w2)
    return loss, {"x": (B, D), "W1": (D, H), "W2": (H, C)}


def test_two_layer_forward_flops_are_exact():
    loss, shapes = _mlp()
    r = gc.cost(loss, shapes=shapes)
    ops = r.by_op()
    assert ops[("forward", "matmul")] == (
        2,
        2 * B * D * H + 2 * B * H * C,
        8 * (B * D + D * H + B * H) + 8 * (B * H + H * C + B * C),
    )
    assert ops[("forward", "tanh")] == (1, B * H, 8 * 2 * B * H)
    assert ops[("forward", "sum")] == (1, B * C, 8 * (B * C + 1))
    assert r.forward.flops == 2 * B * D * H + 2 * B * H * C + B * H + B * C
    assert r.gradient is None and r.ratio is None and r.unknown == []


def test_two_layer_gradient_obeys_the_cheap_gradient_principle():
    loss, shapes = _mlp()
    r = gc.cost(loss, wrt=["W1", "W2"], shapes=shapes)
    assert r.forward.flops == 2 * B * D * H + 2 * B * H * C + B * H + B * C
    phases = {row.phase for row in r.rows}
    assert phases == {"forward", "backward"}
    backward_matmul_flops = sum(
        row.flops for row in r.rows if row.phase == "backward" and row.op == "matmul"
    )
    assert backward_matmul_flops >= 2 * B * D * H  # dW1 = x.T @ dz at least
    assert 1.5 < r.ratio < 5  # the gradient costs a small multiple of the forward
    text = str(r)
    assert text.startswith("cost for x: float64[32, 10], W1: float64[10, 20], W2: float64[20, 3]")
    assert "x the forward)" in text and "backward  matmul" in text


def test_seed_dot_and_its_gradient():
    x = gc.var("x")
    y = 2 * gc.dot(x, x)
    r = gc.cost(y, wrt=x, shapes={"x": (4,)})
    assert r.by_op()[("forward", "dot")][:2] == (1, 8)  # 4 multiply-adds
    # The gradient 4*x is one multiply over 4 entries (the simplifier's form).
    assert r.gradient.flops - r.forward.flops == 4


def test_recurrence_costs_each_step():
    a = gc.var("a", shape=())
    xs = [gc.var(f"x{i}", shape=(2,)) for i in range(3)]
    h = gc.var("h0", shape=(2,))
    for xt in xs:
        h = gc.tanh(a * h + xt)
    r = gc.cost(gc.sum(h), wrt=a)
    assert r.by_op()[("forward", "tanh")] == (3, 6, 3 * 2 * 16)
    assert r.signature[0] == ("a", (), np.dtype("float64"))
    assert r.ratio > 1


def test_unknown_shapes_are_named_not_guessed():
    x, w = gc.var("x"), gc.var("W")
    r = gc.cost(gc.sum(x @ w), shapes={"x": (8, 4)})
    assert r.forward == (None, None)
    assert r.unknown == [
        "var 'W' has no static shape (give shapes={'W': ...}); 2 operation(s) not costed"
    ]
    assert "?" in str(r)


def test_arrays_give_shapes_and_dtypes_and_functions_are_costed():
    x = gc.var("x")
    f = gc.compile([x], gc.exp(x) * 2)
    r = gc.cost(f, shapes={x: np.ones((3, 5), np.float32)})
    # exp and multiply each read and write 15 float32 entries; the multiply reads the 2 too
    assert r.forward == (30, 4 * 15 * 4 + 8)
    assert str(r.signature[0]) == "x: float32[3, 5]"


def test_bad_arguments_are_graphc_errors():
    x = gc.var("x")
    with pytest.raises(gc.GraphcError, match="not vars of the graph"):
        gc.cost(gc.exp(x), shapes={"y": (2,)})
    with pytest.raises(gc.GraphcError, match="tuple of ints"):
        gc.cost(gc.exp(x), shapes={"x": ("a",)})
    with pytest.raises(gc.GraphcError, match="one"):
        gc.cost([gc.exp(x), x], wrt=x, shapes={"x": (2,)})


def test_einsum_and_linalg_formulas():
    a, b = gc.var("a", shape=(3, 4)), gc.var("b", shape=(4, 5))
    r = gc.cost(gc.einsum("ij,jk->ik", a, b), simplify=False)
    assert r.forward.flops == 2 * 3 * 4 * 5
    m = gc.var("m", shape=(2, 6, 6))
    assert gc.cost(gc.inv(m)).forward.flops == 2 * 2 * 216  # LU and n solves: 2 n^3 each
    assert costs.contraction("ii->", [gc.var("s", shape=(5, 5))]) == 5
    assert costs.contraction("i,j->ij", [gc.var("u", shape=(2,)), gc.var("v", shape=(3,))]) == 6
