"""The rules for shape-generic steps (simplify/broadcast_rules.py) hold for every shape the
graph can be bound to: checked on broadcasting shapes against the unsimplified gradient."""

import numpy as np
import pytest

import graphc as gc

SHAPES = [  # a, h0, x0, x1, x2: every value broadcasts differently
    ((), (3,), (2, 3), (3,), (2, 1)),
    ((3,), (), (1, 3), (2, 1, 3), ()),
    ((2, 3), (3,), (), (1,), (2, 3)),
    ((1, 3), (2, 1), (3,), (2, 3), (1, 1, 3)),
]


def _recurrence():
    a, h = gc.var("a"), gc.var("h0")
    xs = [gc.var(f"x{t}") for t in range(3)]
    for x in xs:
        h = gc.tanh(a * h + x)
    w = gc.var("w")
    return gc.sum(h * w), [a, gc.var("h0"), *xs, w]


def test_factor_and_sum_rules_shorten_the_recurrence():
    y, _ = _recurrence()
    text = str(gc.grad(y, "a"))
    assert text.count("sum_to(") == 1  # one sum for the three steps, none nested
    a, t = gc.var("a"), gc.var("t")
    # sum_to(y*sum_to(g, r), x) -> sum_to(y*g, x): the inner sum is not needed
    assert str(gc.grad(gc.sum(gc.tanh(a * t)), a)) == "sum_to(t*(1 - tanh(a*t)**2), a)"
    # sum(y*sum_to(g, r)) -> sum(y*g): a total needs no partial sum first
    x, y = gc.var("X", shape=(None,)), gc.var("Y", shape=(None,))
    c, s = gc.var("c", shape=()), gc.var("s", shape=())
    loss = gc.mean((c + s * x - y) ** 2 / 2)
    assert str(gc.grad(loss, s)) == "mean(X*(X*s - Y + c))"


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("wrt", ["a", "h0", "x0", "x1"])
def test_rules_keep_values_on_broadcasting_shapes(shapes, wrt):
    y, args = _recurrence()
    rng = np.random.default_rng(0)
    values = [rng.normal(size=s) for s in shapes]
    values.append(rng.normal(size=np.broadcast_shapes(*shapes)))
    simplified = gc.compile(args, gc.grad(y, wrt))(*values)
    raw = gc.compile(args, gc.grad(y, wrt, simplify=False), simplify=False)(*values)
    assert np.shape(simplified) == np.shape(raw)
    np.testing.assert_allclose(simplified, raw, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shapes", SHAPES)
def test_total_rule_keeps_values_on_broadcasting_shapes(shapes):
    y, args = _recurrence()
    rng = np.random.default_rng(1)
    values = [rng.normal(size=s) for s in shapes]
    values.append(rng.normal(size=np.broadcast_shapes(*shapes)))
    h = [n for n in gc.ir.toposort([y]) if n.op == "tanh"][-1]
    loss = gc.sum(args[0] * gc.sum_to(h, args[2]))  # sum(a*sum_to(h3, x0))
    simplified = gc.compile(args, gc.grad(loss, "x1"))(*values)
    raw = gc.compile(args, gc.grad(loss, "x1", simplify=False), simplify=False)(*values)
    assert np.shape(simplified) == np.shape(raw)
    np.testing.assert_allclose(simplified, raw, rtol=1e-12, atol=1e-12)
