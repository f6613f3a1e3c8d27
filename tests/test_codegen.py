"""graphc.codegen: emitted programs reuse dead temporaries' buffers (`out=`, `+=`) and `del`
them; reuse must never hand one buffer to two values that are live at once."""

from __future__ import annotations

import numpy as np

import graphc as gc
from graphc.codegen import _plan_free_buffers


def test_a_value_read_twice_frees_its_buffer_once():
    # stack([a, a]) is a's last use: a's buffer was freed twice, so exp(x) and sin(y) both
    # took it, and exp(x) + sin(y) read a deleted name.
    x, y = gc.var("x", shape=(3,)), gc.var("y", shape=(3,))
    a = x * y
    f = gc.compile([x, y], [gc.stack([a, a]), gc.exp(x) + gc.sin(y)], simplify=False)
    xv, yv = np.arange(3.0), np.full(3, 0.5)
    s, t = f(xv, yv)
    np.testing.assert_array_equal(s, np.stack([xv * yv, xv * yv]))
    np.testing.assert_allclose(t, np.exp(xv) + np.sin(yv), rtol=1e-15)


def test_no_buffer_is_given_to_two_live_values():
    x, y = gc.var("x", shape=(3,), dtype=np.float64), gc.var("y", shape=(3,), dtype=np.float64)
    a = x * y
    s = gc.stack([a, a])
    c, d = gc.exp(x), gc.sin(y)
    e = c + d
    nodes = [a, s, c, d, e]
    last_use = {id(a): 1, id(c): 4, id(d): 4, id(s): 5, id(e): 5}
    taken, _ = _plan_free_buffers(nodes, {}, last_use, {id(s), id(e)})
    donors = [id(b) for b in taken.values()]
    assert donors == [id(a)]  # exp(x) takes a's buffer; sin(y) must allocate


def test_jvp_of_jvp_through_fori_loop_with_an_invariant_carry():
    z = gc.var("z", shape=(None,))
    o = gc.fori_loop(0, 2, lambda i, s: (s[0], s[0] * s[0]), (z, 0 * z))[1]
    t, u = gc.var("t", shape=(None,)), gc.var("u", shape=(None,))
    second = gc.jvp(gc.jvp(o, {z: t}), {z: u})
    f = gc.compile([z, t, u], second)
    zv, tv, uv = np.arange(3.0), np.array([1.0, 2.0, 3.0]), np.array([0.5, 1.0, -1.0])
    np.testing.assert_allclose(f(zv, tv, uv), 2 * tv * uv, rtol=1e-15)  # d2(z^2) = 2 t u


def test_jvp_of_jvp_through_while_loop_with_an_invariant_carry():
    z = gc.var("z", shape=(None,))
    o = gc.while_loop(lambda c: c[0] < 2, lambda c: (c[0] + 1, c[1], c[1] * c[1]), (0, z, 0 * z))[
        2
    ]
    t, u = gc.var("t", shape=(None,)), gc.var("u", shape=(None,))
    second = gc.jvp(gc.jvp(o, {z: t}), {z: u})
    f = gc.compile([z, t, u], second)
    zv, tv, uv = np.arange(3.0), np.array([1.0, 2.0, 3.0]), np.array([0.5, 1.0, -1.0])
    np.testing.assert_allclose(f(zv, tv, uv), 2 * tv * uv, rtol=1e-15)


def test_every_runtime_helper_is_named_with_an_underscore():
    """codegen looks for helper calls only in statements with an underscore."""
    from graphc import runtime

    assert runtime.HELPERS and all("_" in h for h in runtime.HELPERS)
