"""Shared topological orders: a repeated toposort inside a compilation is not a walk, the
memory goes with the block, and grad + compile + first call walk a graph a bounded number
of times (a structural count, no timing)."""

from __future__ import annotations

import gc as garbage
import weakref

import numpy as np
import pytest

import graphc as gc
from graphc import orders
from graphc.orders import shared_orders, toposort


def _walks(monkeypatch) -> list:
    """The sizes of the walks `toposort` makes from now on."""
    sizes: list = []
    walk = orders._walk

    def counted(*args):
        order = walk(*args)
        sizes.append(len(order))
        return order

    monkeypatch.setattr(orders, "_walk", counted)
    return sizes


def test_a_repeated_question_is_answered_without_a_walk(monkeypatch):
    x = gc.var("x")
    y = gc.sin(x) * x
    walks = _walks(monkeypatch)
    with shared_orders():
        first = toposort([y])
        with shared_orders():  # a nested block shares the outer one's orders
            again = toposort([y])
        first.append("changed by a caller")  # a copy each time: callers may edit theirs
        third = toposort([y])
        at_leaf = toposort([y], stop=[x])  # a leaf stops nothing: the same walk
        stopped = toposort([y], stop=[y.inputs[0]])
        named = toposort([y], [x], {id(x)})  # stop_ids among the stop nodes: the same
    assert len(walks) == 2  # [y] once, [y] stopping at sin(x) once
    assert [n.op for n in again] == [n.op for n in third] == ["var", "sin", "multiply"]
    assert [n.op for n in at_leaf] == [n.op for n in named] == ["var", "sin", "multiply"]
    assert [n.op for n in stopped] == ["sin", "var", "multiply"]
    toposort([y])  # outside any block: a walk
    assert len(walks) == 3


def test_walks_with_stop_ids_are_not_remembered(monkeypatch):
    x = gc.var("x")
    y = gc.exp(x)
    walks = _walks(monkeypatch)
    with shared_orders():
        assert [n.op for n in toposort([y], stop_ids={id(x)})] == ["var", "exp"]
        assert [n.op for n in toposort([y], stop_ids={id(y)})] == ["exp"]
    assert len(walks) == 2


def test_the_block_lets_go_of_its_graphs():
    with shared_orders():
        y = gc.sin(gc.var("x"))
        toposort([y])
        alive = weakref.ref(y)
        del y
        garbage.collect()
        assert alive() is not None  # held while the block is open
    garbage.collect()
    assert alive() is None
    assert not orders._active


def _chain(layers: int):
    x = gc.var("x", shape=(4, 3), dtype=np.float64)
    W = gc.var("W", shape=(3, 3), dtype=np.float64)
    h = x
    for i in range(layers):
        h = gc.tanh(h @ W) if i % 3 == 2 else gc.sin(h) * gc.exp(-h * h) + 0.5 * h
    return [x, W], gc.sum(h * h)


@pytest.mark.parametrize("layers", [30, 60])
def test_grad_and_compile_walk_the_graph_a_bounded_number_of_times(monkeypatch, layers):
    """gc.grad, gc.compile and the first call walk the whole graph (toposort, at least half
    of its nodes) at most 13 times, whatever its size (the benchmark's chains took 33 walks
    before orders were shared)."""
    inputs, loss = _chain(layers)
    size = len(toposort([loss]))
    walks = _walks(monkeypatch)
    grads = gc.grad(loss, inputs)
    f = gc.compile(inputs, [loss, *grads])
    rng = np.random.default_rng(0)
    f(rng.standard_normal((4, 3)), 0.3 * rng.standard_normal((3, 3)))
    big = [n for n in walks if n >= size // 2]
    assert 0 < len(big) <= 13, big


class _Node:
    __slots__ = ("inputs", "label")

    def __init__(self, inputs, label):
        self.inputs, self.label = tuple(inputs), label


def _reference(outputs, stop=(), stop_ids=None) -> list:
    """Depth-first post-order, recursively, left to right: what toposort promises."""
    order, seen = [], set()
    halt = {id(s) for s in stop} | set(stop_ids or ())

    def visit(node):
        if id(node) in seen:
            return
        seen.add(id(node))
        if id(node) not in halt:
            for x in node.inputs:
                visit(x)
        order.append(node)

    for o in outputs:
        visit(o)
    return order


def test_the_walk_is_depth_first_left_to_right_on_random_graphs():
    rng = np.random.default_rng(3)
    for _ in range(300):
        nodes: list = []
        for i in range(int(rng.integers(1, 25))):
            k = int(rng.integers(0, min(3, len(nodes)) + 1))
            nodes.append(_Node([nodes[int(j)] for j in rng.integers(0, len(nodes), k)], i))

        outs, stop, named = (
            [nodes[int(j)] for j in rng.integers(0, len(nodes), int(rng.integers(lo, 4)))]
            for lo in (1, 0, 0)
        )
        ids = {id(x) for x in named}
        for args in ((outs,), (outs, stop), (outs, (), ids), (outs, stop, ids)):
            got = [n.label for n in orders._walk(*args)]
            assert got == [n.label for n in _reference(*args)], args


def test_the_normal_form_frontier_walk_is_the_first_pass_order(monkeypatch):
    """`simplify.run` finds the normal-form nodes where its passes stop in one walk, whose
    order the first pass's `toposort(outputs, stop=frontier)` then gets without walking."""
    import graphc.simplify as S

    x = gc.var("x")
    g = gc.grad(gc.sum(gc.sin(x) * x), x)  # simplified: normal-form nodes
    y = gc.exp(g) + gc.cos(x)
    walks = _walks(monkeypatch)
    with shared_orders():
        known = S._frontier([y])
        assert len(walks) == 1  # the frontier is found by a walk in topological order
        order = toposort([y], stop=list(known.values()))
    assert len(walks) == 1  # which the pass gets without walking again
    ids = {id(n) for n in order}
    assert known and set(known) <= ids
    below = [i for n in known.values() for i in n.inputs if id(i) not in known]
    assert below and not any(id(i) in ids for i in below)  # listed, not entered
