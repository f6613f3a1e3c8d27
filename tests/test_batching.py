"""The batching transform (`graphc.batching.batch`) against a stack of unbatched results, for
every op of the table (the recipes of tests/ops/op_recipes.py, so an op added later is
covered): each input batched alone, and all inputs batched together.

An op without a vectorised rule (`OpDef.batch` returning None) is applied once per batch
entry; `LOOPED` lists those ops, so that a new op falling back to the loop is noticed.
"""

from __future__ import annotations

import numpy as np
import pytest
from op_recipes import EXEMPT, PARAMS, RECIPES, call, make_args, make_vars

import graphc as gc
from graphc import batching
from graphc.errors import GraphcError
from graphc.ops import OPS

SIZE = 3

# Ops applied once per entry (no vectorised rule), with the reason.
LOOPED = {
    "cond": "only a batched predicate: the branch taken may differ per entry",
    "while_loop": "control flow: the trip count may differ per entry",
    "fori_loop": "control flow (sub-graph bodies)",
    "scan": "control flow (sub-graph bodies)",
    "cross_entropy": "integer labels index the logits; never on a derivative's path",
    "mse_loss": "only for integer data (floating mse_loss resolves to sum/size)",
    "slogdet": "tuple-valued (the batching transform loops over those)",
    "eigh": "tuple-valued (the batching transform loops over those)",
    "svd": "tuple-valued (the batching transform loops over those)",
    "qr": "tuple-valued (the batching transform loops over those)",
    "dot": "only both operands batched, the second of rank 3 or more (np.dot is no matmul)",
    "getitem": "only batched index arrays (integer data, never on a derivative's path)",
    "take": "only batched indices (integer data, never on a derivative's path)",
    "index_grad": "batched index arrays, or advanced indices that a slice separates (numpy "
    "puts their axes first, and the cotangent may be smaller than them)",
}


def _outputs(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


def _choices(arrays, recipe):
    """Which inputs to batch: each alone, and all of them (not a mask whose True count
    shapes the result: `Recipe.data_shape`, a batch of those is ragged)."""
    fixed = {i for i, a in enumerate(arrays) if recipe.data_shape and a.dtype == bool}
    out = [(i,) for i in range(len(arrays)) if i not in fixed]
    every = tuple(i for i in range(len(arrays)) if i not in fixed)
    return out + [every] if len(every) > 1 else out


@pytest.fixture
def looped(monkeypatch):
    """The ops the transform applied once per entry during the test."""
    seen = set()
    inner = batching._one_by_one

    def spy(node, *args):
        seen.add(node.op)
        return inner(node, *args)

    monkeypatch.setattr(batching, "_one_by_one", spy)
    return seen


@pytest.mark.parametrize("name, case", PARAMS)
def test_batch_rule_matches_a_stack_of_results(name, case, rng, looped):
    if case is None:
        pytest.skip("no recipe (test_registry fails it)")
    arrays, attrs = make_args(name, case, rng)
    xs = make_vars(arrays)
    outs = _outputs(call(name, *xs, **attrs))
    single = gc.compile(xs, outs, simplify=False)
    for chosen in _choices(arrays, RECIPES[name]):
        stacks = [
            np.stack([make_args(name, case, rng)[0][i] for _ in range(SIZE)]) if i in chosen else a
            for i, a in enumerate(arrays)
        ]
        batched = [
            gc.var(f"b{i}", shape=s.shape, dtype=s.dtype) if i in chosen else x
            for i, (x, s) in enumerate(zip(xs, stacks))
        ]
        seeds = {xs[i]: batched[i] for i in chosen}
        results = batching.batch(outs, seeds, SIZE)
        got = gc.compile(batched, results, simplify=False)(*stacks)
        rows = [
            single(*(s[k] if i in chosen else s for i, s in enumerate(stacks)))
            for k in range(SIZE)
        ]
        for j, value in enumerate(got):
            expected = np.stack([np.asarray(row[j]) for row in rows])
            np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12)
    assert looped <= set(LOOPED), f"ops looped over the batch: {looped - set(LOOPED)}"


def test_every_looped_op_is_an_op():
    assert set(LOOPED) <= set(OPS) and not set(LOOPED) & set(EXEMPT)
    assert set(LOOPED) <= set(RECIPES)


def test_unknown_shapes_are_looped_over(looped):
    x, xs = gc.var("x", shape=(None, 3)), gc.var("xs", shape=(2, 4, 3))
    (y,) = batching.batch([gc.sum(x, axis=0)], {x: xs}, 2)
    data = np.arange(24.0).reshape(2, 4, 3)
    np.testing.assert_allclose(gc.compile([xs], y)(data), data.sum(axis=1))
    assert looped == {"sum"}


def test_a_batch_of_the_wrong_shape_is_refused():
    x = gc.var("x", shape=(3,))
    with pytest.raises(GraphcError, match="expected 2 entries"):
        batching.batch([gc.sin(x)], {x: gc.var("xs", shape=(2, 4))}, 2)


def test_an_output_independent_of_the_batch_is_broadcast():
    x, u = gc.var("x", shape=(3,)), gc.var("u", shape=(2,))
    (y,) = batching.batch([gc.sin(u)], {x: gc.var("xs", shape=(4, 3))}, 4)
    assert y.shape == (4, 2)


def test_a_rule_giving_the_wrong_shape_is_an_error(monkeypatch):
    x = gc.var("x", shape=(3,))
    monkeypatch.setattr(type(OPS["sin"]), "batch", lambda self, b, y, x: gc.sum(x), raising=False)
    with pytest.raises(GraphcError, match="a bug in that rule"):
        batching.batch([gc.sin(x)], {x: gc.var("xs", shape=(2, 3))}, 2)


def test_a_batch_keeps_stop_gradient():
    """A batched graph may be differentiated again: the stop must hold in it."""
    x, xs = gc.var("x", shape=(3,)), gc.var("xs", shape=(2, 3))
    (y,) = batching.batch([gc.stop_gradient(x) * x], {x: xs}, 2)
    data = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(gc.compile([xs], gc.grad(gc.sum(y), xs))(data), data)


def test_cond_with_a_shared_predicate_batches_its_branches(looped):
    p, x = gc.var("p", shape=()), gc.var("x", shape=(3,))
    y = gc.cond(p > 0, lambda a, q: gc.sin(a) * q, lambda a, q: gc.exp(a) - q, x, p)
    xs = gc.var("xs", shape=(4, 3))
    (b,) = batching.batch([y], {x: xs}, 4)
    data = np.linspace(-1, 1, 12).reshape(4, 3)
    f = gc.compile([p, xs], b)
    np.testing.assert_allclose(f(2.0, data), np.sin(data) * 2.0)
    np.testing.assert_allclose(f(-2.0, data), np.exp(data) + 2.0)
    assert looped == set()
    j = gc.compile([p, x], gc.jacobian(y, x))
    np.testing.assert_allclose(j(2.0, data[0]), np.diag(2.0 * np.cos(data[0])))
    assert looped == set()
