"""The passes on deep graphs: walks are iterative, sympy only sees bounded clusters, and the
work per node does not grow with depth (no timing asserts: counts and limits only)."""

from __future__ import annotations

import sys

import numpy as np

import graphc as gc
import graphc.simplify as S
from graphc.ir import toposort
from graphc.simplify.elementwise import MAX_CLUSTER, partition


def _recurrence(steps: int):
    a = gc.var("a", shape=(), dtype=np.float64)
    xs = gc.var("xs", shape=(steps, 4), dtype=np.float64)
    h = gc.tanh(xs[0])
    for t in range(1, steps):
        h = gc.tanh(a * h + xs[t])
    return a, xs, gc.sum(h)


def test_clusters_are_bounded():
    a, xs, y = _recurrence(300)
    g = gc.grad(y, a, simplify=False)
    nodes = toposort([g])
    clusters = partition(nodes, [g])
    assert clusters and max(len(c) for c in clusters) <= MAX_CLUSTER
    members = [id(n) for c in clusters for n in c]
    assert len(members) == len(set(members))  # a partition: each node in one cluster


def test_deep_recurrence_simplifies_without_recursion():
    steps = 800
    a, xs, y = _recurrence(steps)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(700)  # far below the graph's depth (~4000 nodes)
    try:
        raw = gc.grad(y, a, simplify=False)
        g = gc.simplify(raw)
        text = str(g)
    finally:
        sys.setrecursionlimit(old)
    assert S.count_ops(g) < S.count_ops(raw)
    assert text.startswith("t1 = ")  # a let-form: one line per named part
    data = (np.array(0.9), 0.5 * np.random.default_rng(0).standard_normal((steps, 4)))
    got = gc.compile([a, xs], g)(*data)
    want = gc.compile([a, xs], raw, simplify=False)(*data)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_simplified_graphs_are_not_walked_again():
    """gc.compile of an already simplified gradient does not redo the work: the pipeline
    returns the very same nodes."""
    a, xs, y = _recurrence(50)
    g = gc.grad(y, a)
    assert S.run([g])[0] is g
    assert S.run([y, g])[1] is g


def test_op_counts_grow_linearly():
    counts = []
    for steps in (25, 50, 100):
        a, _, y = _recurrence(steps)
        counts.append(S.count_ops(gc.grad(y, a)))
    assert counts[2] - counts[1] == 2 * (counts[1] - counts[0])


def test_pipeline_is_an_editable_list():
    """Switching passes off (an edited PIPELINE) gives unsimplified results, and does not make
    the default pipeline skip those nodes later."""
    x = gc.var("x")
    saved = list(S.PIPELINE)
    S.PIPELINE[:] = []
    try:
        raw = gc.grad(2 * gc.dot(x, x), x)
    finally:
        S.PIPELINE[:] = saved
    assert str(raw) != "4*x"
    assert str(gc.simplify(raw)) == "4*x"


def _chain(layers: int):
    """The compile-scaling benchmark's mixed elementwise chain, a tanh layer every fourth."""
    x = gc.var("x", shape=(4, 3), dtype=np.float64)
    W = gc.var("W", shape=(3, 3), dtype=np.float64)
    h = x
    for i in range(layers):
        kind = i % 4
        if kind == 0:
            h = gc.sin(h) * gc.exp(-h * h)
        elif kind == 1:
            h = gc.log1p(h * h) + gc.sqrt(h * h + 1.0)
        elif kind == 2:
            h = h * 0.7 - h / (1.0 + h * h)
        else:
            h = gc.tanh(h @ W + 0.1)
    return [x, W], gc.sum(h * h)


def test_rewrite_walks_again_only_where_a_declined_node_lost_its_users(monkeypatch):
    """A walk of `rewrite` that declined a rule for a shared node is followed by another only
    when that node has fewer than two users in the rewritten graph (or a node's rewrites hit
    MAX_STEPS): gc.grad of the benchmark's chain walks once per rewrite pass of PIPELINE."""
    from graphc.simplify import rewrites

    walks: list = []
    run = rewrites._Rewriter.run

    def counted(self, given, known=None):
        walks.append(self)
        return run(self, given, known)

    monkeypatch.setattr(rewrites._Rewriter, "run", counted)
    inputs, y = _chain(24)
    gc.grad(y, inputs)
    passes = sum(p in (S.rewrite, S.matrix_forms) for p in S.PIPELINE)
    assert any(w.declined for w in walks)  # rules declined, and the walk was not repeated
    assert len(walks) == passes, len(walks)

    x = gc.var("x", shape=(3,))
    n = -x
    engine = rewrites._Rewriter(rewrites.RULES, rewrites.ELEMENTWISE_RULES)
    engine.declined = [n]
    assert engine.walk_again([gc.sum(n)])  # n lost a user: walk again
    assert not engine.walk_again([gc.sum(n), gc.max(n)])  # still shared
    engine.truncated = True
    assert engine.walk_again([gc.sum(n), gc.max(n)])


def test_normal_forms_are_marked_on_the_nodes(monkeypatch):
    """The pipeline's fixed points carry its token (no table of one weak reference per
    node, which the garbage collector walked); an edited PIPELINE has another token, so
    nothing counts as normal for it."""
    a, xs, y = _recurrence(20)
    g = gc.grad(y, a)
    token = S._token()
    marked = [n for n in toposort([g]) if getattr(n, "_normal", None) is token]
    assert any(n is g for n in marked) and len(marked) > 20
    assert list(S._frontier([g])) == [id(g)]
    monkeypatch.setattr(S, "PIPELINE", list(S.PIPELINE[:-1]))
    assert S._token() is not token and not S._frontier([g])


def test_the_loss_compiled_with_its_gradients_merges_into_their_simplified_graph(monkeypatch):
    """gc.compile([loss, *grads]): gc.grad simplified a copy of the loss's graph (its `h*h`
    written twice became one node); the loss's own graph merges into that copy before the
    pipeline, so the pipeline walks no more than the loss node itself, and the program
    still computes the loss and gradients of the graph as written."""
    from graphc.simplify import rewrites

    inputs, y = _chain(12)
    grads = gc.grad(y, inputs)
    walked: list = []
    run = rewrites._Rewriter.run

    def counted(self, given, known=None):
        result = run(self, given, known)
        walked.append(len(self.keep))  # the nodes the walk visited
        return result

    monkeypatch.setattr(rewrites._Rewriter, "run", counted)
    f = gc.compile(inputs, [y, *grads])
    rng = np.random.default_rng(1)
    data = [0.5 * rng.standard_normal((4, 3)), 0.5 * rng.standard_normal((3, 3))]
    got = f(*data)
    assert max(walked) <= 2, walked
    stages = [s.name for s in f.report().stages]
    assert stages.index("merge into gradients") < stages.index("rewrite")
    assert "cse (whole program)" not in stages  # the pipeline changed nothing after it
    want = gc.compile(inputs, [y, *gc.grad(y, inputs, simplify=False)], simplify=False)
    for a, b in zip(got, want(*data)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
