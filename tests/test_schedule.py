"""The emitted order frees buffers early (`graphc.schedule.memory_order`): a deep network's
bias gradient `sum(g, axis=1)` is computed where `g` dies, not at the end, and a value read
through a view (`h.T`) is deleted with the view."""

from __future__ import annotations

import re

import numpy as np
import pytest

import graphc as gc
from benchmarks.workloads import deep_small_math
from graphc.ir import toposort
from graphc.schedule import memory_order

LAYERS = 6


def _deep_net(simplify=True):
    """The `deep_small` benchmark's math, 6 layers of 8 units."""
    x = gc.var("x", shape=(8, 4))
    params = [
        gc.var(f"{kind}{i}", shape=(8, 8) if kind == "W" else (8, 1))
        for i in range(LAYERS)
        for kind in "Wb"
    ]
    y = deep_small_math(gc, x, *params)
    grads = gc.grad(y, params, simplify=simplify)
    f = gc.compile([x, *params], [y, *grads], simplify=simplify)
    rng = np.random.default_rng(1)
    args = [rng.standard_normal(p.shape) * 0.5 for p in [x, *params]]
    return f, args


def _reference(args):
    x, wb = args[0], args[1:]
    hs = [x]
    for i in range(0, len(wb), 2):
        hs.append(np.tanh(wb[i] @ hs[-1] + wb[i + 1]))
    grads, g = [], 2 * hs[-1]
    for k in range(LAYERS, 0, -1):
        g = g * (1 - hs[k] ** 2)
        grads[:0] = [g @ hs[k - 1].T, g.sum(axis=1, keepdims=True)]
        g = wb[2 * k - 2].T @ g
    return np.sum(hs[-1] ** 2), grads


@pytest.mark.parametrize("simplify", [True, False])
def test_bias_gradient_is_summed_where_its_input_dies(simplify):
    f, args = _deep_net(simplify)
    out = f(*args)
    value, grads = _reference(args)
    np.testing.assert_allclose(out[0], value, rtol=1e-12)
    for got, want in zip(out[1:], grads):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    lines = [line.strip() for line in f.source.splitlines()]
    names = lines[-1].removeprefix("return ").split(", ")
    line_of = {}
    for k, line in enumerate(lines):
        m = re.match(r"(\w+) = ", line)
        if m and m.group(1) in names:
            line_of.setdefault(m.group(1), k)
    dw = [line_of[n] for n in names[1::2]]
    db = [line_of[n] for n in names[2::2]]
    for k in range(1, LAYERS):
        # layer k's bias gradient comes before anything of layer k-1's weight gradient
        assert db[k] < dw[k - 1], f.source
        summed = re.match(r"\w+ = (\w+)\.sum\(axis=\(?1,?\)?, keepdims=True\)", lines[db[k]])
        assert summed, lines[db[k]]
        # ... right where its input dies
        assert re.match(rf"del (\w+, )*{summed.group(1)}\b", lines[db[k] + 1]), f.source


def test_every_temporary_is_deleted_or_returned():
    """`h` read only through `h.T` is deleted with the view (it used to live to the end)."""
    f, args = _deep_net()
    f(*args)
    src = f.source
    assigned = set(re.findall(r"^\s+(t\d+) = ", src, re.M))
    deleted = {n for line in re.findall(r"^\s+del (.*)$", src, re.M) for n in line.split(", ")}
    returned = set(src.splitlines()[-1].strip().removeprefix("return ").split(", "))
    assert assigned - deleted - returned == set(), src
    assert not re.search(r"^\s+t\d+ = \w+\.T$", src, re.M), src  # no statement of its own:
    # h.T is written into its one reader, and h is deleted right after it
    assert re.search(r"= \w+ @ (t\d+)\.T\n\s+del (\w+, )*\1\n", src), src


def test_a_view_read_twice_is_a_statement_deleted_with_what_it_shows():
    x = gc.var("x", shape=(3, 4), dtype="float64")
    t = gc.exp(x)
    v = t.T
    f = gc.compile([x], [gc.sum(v @ x), gc.sum(gc.sin(v))])
    src = f.source
    assert re.search(r"(t\d+) = (t\d+)\.T\n", src), src
    view, base = re.search(r"(t\d+) = (t\d+)\.T\n", src).groups()
    assert f"del {view}, {base}\n" in src, src
    a = np.arange(12.0).reshape(3, 4) / 10
    got = f(a)
    np.testing.assert_allclose(got[0], np.sum(np.exp(a).T @ a), rtol=1e-14)
    np.testing.assert_allclose(got[1], np.sum(np.sin(np.exp(a).T)), rtol=1e-14)


def test_no_hoisting_that_allocates_more_than_it_frees():
    """`t`'s readers (a large outer product, a sum) could run right after it, but the outer
    product would hold 100 entries to free 10: it stays where the given order has it."""
    x = gc.var("x", shape=(10,), dtype="float64")
    t = gc.exp(x)
    other = gc.sum(gc.sin(x))
    big = gc.outer(t, t)
    total = gc.sum(t)
    y = other + gc.sum(big)
    given = [t, other.inputs[0], other, big, y.inputs[1], y, total]
    order = memory_order(given, [y, total])
    # t dies when the outer product has read it: its sum comes right there
    expected = [t, other.inputs[0], other, big, total, y.inputs[1], y]
    assert [id(n) for n in order] == [id(n) for n in expected]


def test_order_is_a_permutation_and_topological():
    f, args = _deep_net()
    f(*args)
    outs = f._last_graph[1]
    base = [n for n in toposort(outs) if n.op not in ("var", "const")]
    order = memory_order(base, outs)
    assert sorted(map(id, order)) == sorted(map(id, base))
    seen = set()
    for n in order:
        assert all(id(x) in seen for x in n.inputs if x.op not in ("var", "const")), n.op
        seen.add(id(n))
    assert [n.op for n in order] != [n.op for n in base]  # it did reorder


def test_a_loop_body_updating_its_carries_in_place_keeps_its_order():
    """A loop body assigns a carry's new value to the carry's own name when every read of
    the old value comes before (`control_emit._direct`, on the depth-first order): hoisting
    that assignment would make later reads see the new value (a wrong gradient of the
    forward-mode derivative of a while loop, found by the op-table checks)."""
    x, u, v = (gc.var(n, shape=(3,)) for n in ("x", "u", "v"))

    def body(c):
        return c[0] * 0.5 + gc.sin(c[0]), c[1] + 1

    y = gc.while_loop(lambda c: c[1] < 3, body, (x, 0))[0]
    (ju,) = gc.jvp([y], {x: u})
    f = gc.compile([x, u, v], gc.grad(gc.sum(ju * v), [x, u]))
    rng = np.random.default_rng(0)
    a, du, dv = (rng.standard_normal(3) for _ in range(3))
    # the same by hand: J u = prod_k (0.5 + cos(x_k)) u, and its gradient
    xs = [a]
    for _ in range(3):
        xs.append(xs[-1] * 0.5 + np.sin(xs[-1]))
    factors = [0.5 + np.cos(xk) for xk in xs[:3]]
    prod = np.prod(factors, axis=0)
    gx = sum(  # d/dx of sum(v * u * prod_k f_k(x_k(x)))
        dv * du * prod / factors[k] * -np.sin(xs[k]) * np.prod(factors[:k], axis=0)
        for k in range(3)
    )
    gx_got, gu_got = f(a, du, dv)
    np.testing.assert_allclose(gu_got, dv * prod, rtol=1e-12)
    np.testing.assert_allclose(gx_got, gx, rtol=1e-10)
