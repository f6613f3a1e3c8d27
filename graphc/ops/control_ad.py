"""Derivatives of the control-flow ops, built from the same ops.

- cond: the VJP (JVP) is a cond whose branches are the branches' VJPs (JVPs).
- while_loop / fori_loop: the VJP is a reverse `scan` over the carry histories the forward
  loop saved (only those the derived body VJP reads by value), or a `fori_loop` of the trip
  count when it reads none; its carries are the carries' cotangents and the captures'
  accumulated cotangents. The JVP is the same loop over (carry, tangent) pairs.
- scan: the VJP is a scan in the other direction; the JVP a scan over (carry, tangent).

Each body derivative is derived once per sub-graph (`subgraph.vjp_graph`/`jvp_graph`,
cached and simplified) and copied into the new loop's body with `subgraph.inline`. Positions
in the loop nodes are read through their `Layout` (`control_layout`).
"""

from __future__ import annotations

from ..ir import Graph
from ..subgraph import (
    as_symbol,
    inline,
    is_float_type,
    jvp_graph,
    type_of,
    value_reads,
    vjp_graph,
)
from .control_build import build_fori, build_scan
from .control_layout import Layout
from .elementwise import zeros_like
from .shape import get


def is_float_value(x) -> bool:
    """Does `x` (a node or a loop value) carry a floating dtype, so derivatives flow?"""
    return is_float_type(type_of(x))


def history_type(t):
    """The (shape, dtype) of a stack of per-iteration values of type `t`."""
    shape, dtype = t
    return (None if shape is None else (None,) + shape, dtype)


def get_item(node, k: int):
    """Element `k` of a tuple-valued node (a loop's or a cond's results)."""
    return get(node, index=k)


def ct(g, like, t):
    """A cotangent or tangent as a symbol of type `t` (None: zeros like `like`)."""
    if g is None:
        return zeros_like(like)
    return as_symbol(g, "cotangent", dtype=t[1])


def spread(values, mask):
    """Values for the True positions of `mask`, None elsewhere."""
    it = iter(values)
    return [next(it) if m else None for m in mask]


def _names(prefix: str, params) -> list[str]:
    return [f"{prefix}{p.name}" for p in params]


def _picked(seq, mask) -> list:
    """The items of `seq` at the True positions of `mask`."""
    return [x for x, m in zip(seq, mask) if m]


def _take(seq: list, count: int) -> list:
    """The first `count` items of `seq`, removed from it."""
    head = seq[:count]
    del seq[:count]
    return head


class _Backward:
    """The reverse loop of a loop node `y` (`loop_vjp`, `scan_vjp`): what has a cotangent,
    what the body's VJP `back` reads, and the reverse loop's carries and scanned inputs.

    Its carries are the cotangents of the floating carries (`floats`) and the accumulated
    cotangents of the floating captures; it scans, in this order, the histories of the
    carries `back` reads by value (`saved`), the xs it reads (`xs_read`), the cotangents of
    the ys (`ys_ct`) and of the histories (`hists_ct`)."""

    def __init__(self, y, inputs, g):
        self.y, self.layout = y, Layout.of(y)
        self.body: Graph = y.attrs["body"]
        self.ins = self.layout.inputs(inputs)
        self.types = self.layout.results(y.opdef.element_types(y))
        self.g = self.layout.results(g)
        self.float_carry = [is_float_type(t) for t in self.types.finals]
        self.float_xs = [is_float_value(x) for x in self.ins.xs]
        self.float_caps = [is_float_value(c) for c in self.ins.caps]
        self.ys_mask = [
            gy is not None and is_float_type(t) for gy, t in zip(self.g.ys, self.types.ys)
        ]
        self.ys_ct = [j for j, m in enumerate(self.ys_mask) if m]
        self.floats = [k for k, f in enumerate(self.float_carry) if f]
        self.hists_ct = [k for k in self.floats if self.g.hists[k] is not None]
        self.needed = bool(self.ys_ct) or any(
            self.g.finals[k] is not None or self.g.hists[k] is not None for k in self.floats
        )
        if self.needed:
            self._derive()

    def _derive(self) -> None:
        """The body's VJP `back`, and which of its params it reads (by value, or at all)."""
        lay = self.layout
        in_mask = [False] * lay.n_index + self.float_carry + self.float_xs + self.float_caps
        self.back = vjp_graph(self.body, in_mask, self.float_carry + self.ys_mask)
        values, used = value_reads(self.back)
        p = lay.params(self.back.inputs)
        self.uses_index = any(id(i) in used for i in p.index)
        self.saved = [k for k, c in enumerate(p.carries) if id(c) in values]
        # A carry read only for its shape is bound to the initial value (same type).
        self.shape_only = [
            k for k, c in enumerate(p.carries) if id(c) in used and k not in self.saved
        ]
        # A reverse scan needs one sequence to know its length.
        self.xs_read = [j for j, x in enumerate(p.xs) if id(x) in used] or [0][: lay.n_xs]

    def init(self) -> list:
        """The reverse loop's initial carries: the final carries' cotangents, zeros for the
        captures' sums."""
        init = [
            ct(self.g.finals[k], get_item(self.y, k), self.types.finals[k]) for k in self.floats
        ]
        return init + [zeros_like(c) for c in _picked(self.ins.caps, self.float_caps)]

    def seqs(self) -> list:
        """The reverse loop's scanned inputs."""
        at = self.layout.positions()
        return (
            [get_item(self.y, at.hists[k]) for k in self.saved]
            + [self.ins.xs[j] for j in self.xs_read]
            + [ct(self.g.ys[j], None, self.types.ys[j]) for j in self.ys_ct]
            + [ct(self.g.hists[k], None, self.types.hists[k]) for k in self.hists_ct]
        )

    def names(self) -> tuple[list, list]:
        """Names of the reverse loop's carries and of its scanned inputs' slices."""
        p = self.layout.params(self.body.inputs)
        carries = _names("g_", [p.carries[k] for k in self.floats]) + _names(
            "g_", _picked(p.caps, self.float_caps)
        )
        seqs = (
            [p.carries[k].name for k in self.saved]
            + [p.xs[j].name for j in self.xs_read]
            + [f"gy{j}" for j in self.ys_ct]
            + _names("gh_", [p.carries[k] for k in self.hists_ct])
        )
        return carries, seqs

    def step(self, index, gs, slices) -> tuple[list, list]:
        """One reverse step: the new carries (cotangents) from the carries `gs` and the
        scanned `slices`, and the xs' cotangents for this step."""
        lay, slices = self.layout, list(slices)
        c_args: list = [None] * lay.n_carry
        for k in self.shape_only:
            c_args[k] = self.ins.carries[k]
        for k, h in zip(self.saved, _take(slices, len(self.saved))):
            c_args[k] = h
        x_args: list = [None] * lay.n_xs
        for j, x in zip(self.xs_read, _take(slices, len(self.xs_read))):
            x_args[j] = x
        gys = _take(slices, len(self.ys_ct))
        n_f, n_fx = len(self.floats), sum(self.float_xs)
        args = [index] * lay.n_index + c_args + x_args + list(self.ins.caps)
        outs = inline(self.back, args + list(gs[:n_f]) + gys)
        extra = dict(zip(self.hists_ct, slices))
        new = [o + extra[k] if k in extra else o for o, k in zip(outs[:n_f], self.floats)]
        acc = [a + d for a, d in zip(gs[n_f:], outs[n_f + n_fx :])]
        return new + acc, outs[n_f : n_f + n_fx]

    def cotangents(self, node) -> tuple:
        """The cotangents of the loop node's inputs, read from the reverse loop `node`."""
        m, n_f = len(self.floats) + sum(self.float_caps), len(self.floats)
        cts = [get_item(node, k) for k in range(m + sum(self.float_xs))]
        return (
            (None,) * self.layout.n_bounds
            + tuple(spread(cts[:n_f], self.float_carry))
            + tuple(spread(cts[m:], self.float_xs))
            + tuple(spread(cts[n_f:m], self.float_caps))
        )


def loop_vjp(y, inputs, g, trip, upper=None) -> tuple:
    """Cotangents of the inputs of a while_loop or fori_loop node `y`: a reverse scan over
    the saved histories that the body's VJP reads, or a fori_loop of `trip` steps when it
    reads none (a linear body needs no history)."""
    bw = _Backward(y, inputs, g)
    if not bw.needed:
        return (None,) * len(inputs)
    init, seqs = bw.init(), bw.seqs()
    carry_names, seq_names = bw.names()
    if not seqs:

        def count_body(j, *gs):
            return bw.step(upper - 1 - j if bw.uses_index else None, gs, [])[0]

        node = build_fori(0, trip, count_body, init, names=["j"] + carry_names)
        return bw.cotangents(node)
    counter = [upper - 1] if bw.uses_index else []
    m = len(init)

    def scan_body(*flat):
        index = flat[m] if counter else None
        new, _ = bw.step(index, flat[:m], flat[m + len(counter) :])
        return new + ([index - 1] if counter else []), []

    names = carry_names + ["i"] * len(counter) + seq_names
    node = build_scan(scan_body, init + counter, seqs, reverse=True, names=names)
    return bw.cotangents(node)


def scan_vjp(y, inputs, g) -> tuple:
    """Cotangents of (init..., xs..., caps...) of a scan node `y`: a scan in the other
    direction over the saved carry histories (those the body's VJP reads), the xs, and the
    cotangents of the ys and histories."""
    bw = _Backward(y, inputs, g)
    if not bw.needed:
        return (None,) * len(inputs)
    init, seqs = bw.init(), bw.seqs()
    carry_names, seq_names = bw.names()
    m = len(init)

    def body_fn(*flat):
        return bw.step(None, flat[:m], flat[m:])

    reverse = not y.attrs["reverse"]
    node = build_scan(body_fn, init, seqs, reverse=reverse, names=carry_names + seq_names)
    return bw.cotangents(node)


def loop_jvp(y, inputs, ts, make) -> tuple | None:
    """Tangents of the results of a while_loop/fori_loop node: the same loop over
    (carries, tangents of the floating carries), the body's JVP derived once; `make(body,
    init, names)` builds the loop."""
    lay = Layout.of(y)
    body, ins, t_in = y.attrs["body"], lay.inputs(inputs), lay.inputs(ts)
    types = lay.results(y.opdef.element_types(y))
    float_carry = [is_float_type(t) for t in types.finals]
    caps_tangent = [t is not None for t in t_in.caps]
    if not any(float_carry) or (all(t is None for t in t_in.carries) and not any(caps_tangent)):
        return None
    fwd = jvp_graph(body, [False] * lay.n_index + float_carry + caps_tangent, float_carry)
    init = _tangent_init(ins, t_in, types, float_carry)
    n, t_caps = lay.n_carry, _picked(t_in.caps, caps_tangent)

    def flat_body(*a):
        index, rest = list(a[: lay.n_index]), a[lay.n_index :]
        return inline(fwd, index + list(rest[:n]) + list(ins.caps) + list(rest[n:]) + t_caps)

    params = lay.params(body.inputs).carries
    node = make(
        flat_body, init, [p.name for p in params] + _names("t_", _picked(params, float_carry))
    )
    pairs = Layout(lay.n_bounds, lay.n_index, len(init), 0, 0, lay.n_trips)
    return tuple(_tangent_results(node, lay, pairs, float_carry, []) + [None] * lay.n_trips)


def scan_jvp(y, inputs, ts) -> tuple | None:
    """Tangents of a scan node's results: a scan over (carries, their tangents) and
    (xs, their tangents), the body's JVP derived once."""
    lay = Layout.of(y)
    body, ins, t_in = y.attrs["body"], lay.inputs(inputs), lay.inputs(ts)
    types = lay.results(y.opdef.element_types(y))
    float_carry = [is_float_type(t) for t in types.finals]
    float_ys = [is_float_type(t) for t in types.ys]
    xs_tangent = [t is not None for t in t_in.xs]
    caps_tangent = [t is not None for t in t_in.caps]
    if all(t is None for t in ts) or not (any(float_carry) or any(float_ys)):
        return None
    fwd = jvp_graph(body, float_carry + xs_tangent + caps_tangent, float_carry + float_ys)
    init = _tangent_init(ins, t_in, types, float_carry)
    # The forward scan's layout: carries then their tangents, xs then theirs, ys then theirs.
    pairs = Layout(0, 0, len(init), lay.n_xs + sum(xs_tangent), lay.n_ys + sum(float_ys), 0)
    t_caps = _picked(t_in.caps, caps_tangent)

    def body_fn(*flat):
        p = pairs.params(flat)
        c, tc = _split(p.carries, lay.n_carry)
        x, txs = _split(p.xs, lay.n_xs)
        outs = inline(fwd, c + x + list(ins.caps) + tc + txs + t_caps)
        new_c, rest = _split(outs, lay.n_carry)
        ys, rest = _split(rest, lay.n_ys)
        new_t, t_ys = _split(rest, sum(float_carry))
        return new_c + new_t, ys + t_ys

    p = lay.params(body.inputs)
    names = (
        [c.name for c in p.carries]
        + _names("t_", _picked(p.carries, float_carry))
        + [x.name for x in p.xs]
        + _names("t_", _picked(p.xs, xs_tangent))
    )
    seqs = list(ins.xs) + _picked(t_in.xs, xs_tangent)
    node = build_scan(body_fn, init, seqs, reverse=y.attrs["reverse"], names=names)
    return tuple(_tangent_results(node, lay, pairs, float_carry, float_ys))


def _tangent_init(ins, t_in, types, float_carry) -> list:
    """A JVP loop's initial carries: the loop's, then the tangents of the floating ones
    (zeros where a tangent is None)."""
    tangents = [
        ct(t, x, tp)
        for x, t, tp, f in zip(ins.carries, t_in.carries, types.finals, float_carry)
        if f
    ]
    return list(ins.carries) + tangents


def _tangent_results(node, lay: Layout, pairs: Layout, float_carry, float_ys) -> list:
    """The tangents of a loop's results (laid out as `lay`), read from the JVP loop `node`
    over (value, tangent) pairs (laid out as `pairs`); None where a result is not floating."""
    at = pairs.positions()
    n_f = sum(float_carry)
    finals = [get_item(node, at.finals[lay.n_carry + i]) for i in range(n_f)]
    t_ys = [get_item(node, at.ys[lay.n_ys + i]) for i in range(sum(float_ys))]
    hists = [get_item(node, at.hists[lay.n_carry + i]) for i in range(n_f)]
    return spread(finals, float_carry) + spread(t_ys, float_ys) + spread(hists, float_carry)


def _split(seq, count: int) -> tuple[list, list]:
    """The first `count` items of `seq` and the rest, as lists."""
    return list(seq[:count]), list(seq[count:])
