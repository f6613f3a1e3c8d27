"""The pass framework: one walker (`ir.rebuild`), rules `(node, inputs) -> Symbol | None`,
one pass signature `(outputs, ctx)`, and `PIPELINE` an editable list of such passes."""

from __future__ import annotations

import pytest

import graphc as gc
import graphc.ir as ir
from graphc import simplify as S
from graphc.errors import GraphcError
from graphc.ir import rebuild, toposort
from graphc.simplify import PassContext, RuleSet, rule_pass


def _to_float32(node, inputs):
    """A wrong rule: replaces `exp(x)` by a float32 computation."""
    return gc.exp(inputs[0].astype("float32")) if node.op == "exp" else None


def test_a_user_pass_in_pipeline_runs_like_the_others():
    seen = []

    def count_exps(outputs, ctx):
        assert isinstance(ctx, PassContext)
        seen.append(sum(n.op == "exp" for n in toposort(outputs)))
        return outputs

    x = gc.var("x")
    saved = list(S.PIPELINE)
    S.PIPELINE.append(count_exps)
    try:
        out = gc.simplify(gc.exp(x) * 1 + 0)
    finally:
        S.PIPELINE[:] = saved
    assert seen == [1]
    assert str(out) == "exp(x)"


def test_a_rule_pass_replaces_and_keeps_the_origin():
    x = gc.var("x")
    y = gc.sin(x) + 1  # the line the rewritten node must keep
    cos_for_sin = rule_pass("cos_for_sin", RuleSet(by_op={"sin": (lambda n, i: gc.cos(i[0]),)}))
    (z,) = S.run([y], [cos_for_sin])
    assert str(z) == "cos(x) + 1"
    assert z.inputs[0].origin == y.inputs[0].origin
    assert cos_for_sin([x]) == [x]  # nothing to do: the same objects


def test_walker_refuses_a_rule_that_changes_the_dtype(monkeypatch):
    x = gc.var("x", shape=(3,), dtype="float64")
    y = gc.exp(x) + 1
    monkeypatch.setattr(ir, "STRICT_RULES", False)
    (same,) = rebuild([y], _to_float32)
    assert same is y  # refused: the node is kept
    assert RuleSet(always=(_to_float32,)).apply(y.inputs[0], (x,)) is None
    monkeypatch.setattr(ir, "STRICT_RULES", True)
    with pytest.raises(GraphcError, match="_to_float32 replaced exp"):
        rebuild([y], _to_float32)


def test_walker_refuses_a_rule_that_changes_the_shape(monkeypatch):
    x = gc.var("x", shape=(3,))
    monkeypatch.setattr(ir, "STRICT_RULES", False)
    (out,) = rebuild([gc.sum(x)], lambda n, i: x if n.op == "sum" else None)
    assert out.op == "sum"


def test_walker_is_iterative_on_deep_graphs():
    x, y = gc.var("x"), gc.var("y")
    h = x
    for _ in range(5000):  # far past the recursion limit
        h = gc.sin(h)
    (out,) = rebuild([h], lambda n, _: y if n is x else None)
    assert out is not h and out.op == "sin"
    assert toposort([out])[0] is y


def test_a_rule_pass_does_not_walk_into_its_fixed_points_again():
    seen = []

    def note(node, inputs):
        seen.append(node.op)
        return None

    rules = RuleSet(always=(note,))
    p = rule_pass("note", rules)
    x = gc.var("x")
    y = gc.exp(gc.sin(x) * 2) + 1
    assert p([y])[0] is y and len(seen) == 7  # x, sin, 2, multiply, exp, 1, add
    seen.clear()
    z = gc.log(y)
    assert p([z])[0] is z and seen == ["add", "log"]  # y's graph is fixed: only its root
    rules.by_op["log"] = (note,)  # other rules: walk everything again
    seen.clear()
    p([z])
    assert seen.count("sin") == 1


def test_a_rule_pass_whose_trigger_finds_nothing_does_not_rebuild():
    seen = []

    def note(node, inputs):
        seen.append(node.op)
        return gc.cos(inputs[0]) if node.op == "sin" else None

    rules = RuleSet(always=(note,))
    p = rule_pass("note", rules, trigger=lambda n, inputs: n.op == "sin")
    x = gc.var("x")
    y = gc.exp(x) * 2
    assert p([y])[0] is y and seen == []  # no sin: no rule called, fixed points marked
    z = gc.sin(y) + 1
    assert str(p([z])[0]) == "cos(2*exp(x)) + 1"
    assert seen == ["sin"]  # asked only where the trigger holds; y's graph not walked
    rules.by_op["exp"] = (note,)  # other rules: the trigger no longer speaks for them
    seen.clear()
    p([z])
    assert "exp" in seen and "add" in seen


def test_the_identity_pass_trigger_holds_wherever_its_rules_apply():
    """`identity.may_apply` holds wherever `IDENTITY_RULES` rewrite: on graphs where each
    rule applies (Jacobians of products and softmax, forward mode's transposes)."""
    import importlib

    import numpy as np

    ident = importlib.import_module("graphc.simplify.identity")
    A = gc.var("A", shape=(3, 3), dtype=np.float64)
    u, v = gc.var("u", shape=(3,), dtype=np.float64), gc.var("v", shape=(4,), dtype=np.float64)
    P = gc.var("P", shape=(3, 3), dtype=np.float64)
    graphs = [
        gc.jacobian(A @ u, u),
        gc.jacobian(gc.softmax(u), u),
        gc.jacobian(u * gc.sum(u), u),
        (A.T).T,
        (P + P.T).T,
        gc.expand_dims(u, 1) * v,
        gc.const(np.eye(3)) @ A,
    ]
    assert _fired_where_triggered(ident.IDENTITY_RULES, ident.may_apply, graphs) >= 4


def test_the_specialize_trigger_holds_wherever_its_rules_apply():
    """`noops.may_change` holds wherever `SPECIALIZE_RULES` rewrite: shape-generic ops of
    gradients (sum_to, broadcast_like, reshape_like), views and reshapes that do nothing,
    casts to the same dtype, products with ones, scalings by Python numbers."""
    import importlib

    import numpy as np

    noops = importlib.import_module("graphc.simplify.noops")
    x = gc.var("x", shape=(2, 3), dtype=np.float64)
    b = gc.var("b", shape=(3,), dtype=np.float64)
    y = gc.sum(gc.tanh(x + b) * gc.expand_dims(b, 0))
    raw = gc.grad(y, [x, b], simplify=False)
    graphs = [
        *raw,
        (x.T).T,
        gc.reshape(gc.reshape(x, (3, 2)), (2, 3)),
        gc.broadcast_to(x, (2, 3)),
        x.astype("float64"),
        x * 1.0,
        x / 1.0,
        x**1,
        x - 0.0,
        (x * 2.0) * 3.0,
        gc.const(2.0) * gc.const(3.0) + x,
    ]
    assert _fired_where_triggered(noops.SPECIALIZE_RULES, noops.may_change, graphs) >= len(graphs)


def _fired_where_triggered(rules, trigger, graphs) -> int:
    """How many nodes of `graphs` a rule of `rules` rewrites, checking `trigger` holds at each."""
    fired = 0
    for g in graphs:
        for n in toposort([g]):
            if rules.apply(n, n.inputs) is not None:
                fired += 1
                assert trigger(n, n.inputs), str(n)
    return fired
