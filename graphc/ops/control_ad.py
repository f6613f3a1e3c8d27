"""Derivatives of the control-flow ops, built from the same ops.

- cond: the VJP (JVP) is a cond whose branches are the branches' VJPs (JVPs).
- while_loop / fori_loop: the VJP is a reverse `scan` over the carry histories the forward
  loop saved (only those the derived body VJP reads by value), or a `fori_loop` of the trip
  count when it reads none; its carries are the carries' cotangents and the captures'
  accumulated cotangents. The JVP is the same loop over (carry, tangent) pairs.
- scan: the VJP is a scan in the other direction; the JVP a scan over (carry, tangent).

Each body derivative is derived once per sub-graph (`subgraph.vjp_graph`/`jvp_graph`,
cached and simplified) and copied into the new loop's body with `subgraph.inline`.
"""

from __future__ import annotations

from ..ir import Graph
from ..subgraph import inline, is_float_type, jvp_graph, type_of, value_reads, vjp_graph


def _is_float(x) -> bool:
    return is_float_type(type_of(x))


def _history(t):
    shape, dtype = t
    return (None if shape is None else (None,) + shape, dtype)


def _get(node, k: int):
    from . import get

    return get(node, index=k)


def ct(g, like, t):
    """A cotangent or tangent as a symbol of type `t` (None: zeros like `like`)."""
    from . import zeros_like
    from ..subgraph import as_symbol

    if g is None:
        return zeros_like(like)
    return as_symbol(g, "cotangent", dtype=t[1])


def spread(values, mask):
    """Values for the True positions of `mask`, None elsewhere."""
    it = iter(values)
    return [next(it) if m else None for m in mask]


def _names(prefix: str, params) -> list[str]:
    return [f"{prefix}{p.name}" for p in params]


def loop_vjp(y, body: Graph, n_index: int, carries, caps, g, trip, upper=None) -> tuple:
    """Cotangents of (carries..., caps...) of a while_loop (n_index 0) or fori_loop (1)
    node `y`: a reverse scan over the saved histories that the body's VJP reads, or a
    fori_loop of `trip` steps when it reads none (a linear body needs no history)."""
    from ..control import build_fori, build_scan
    from . import zeros_like

    n = len(carries)
    types = y.opdef.element_types(y)[:n]
    fc = [is_float_type(t) for t in types]
    fk = [_is_float(c) for c in caps]
    g_fin, g_hist = g[:n], g[n : 2 * n]
    if not any(fc[k] and (g_fin[k] is not None or g_hist[k] is not None) for k in range(n)):
        return (None,) * (n + len(caps))
    back = vjp_graph(body, [False] * n_index + fc + fk, fc)
    values, used = value_reads(back)
    need_index = n_index == 1 and id(back.inputs[0]) in used
    hist_k = [k for k in range(n) if id(back.inputs[n_index + k]) in values]
    # A carry read only for its shape is bound to the initial value (same type).
    shape_k = [k for k in range(n) if id(back.inputs[n_index + k]) in used and k not in hist_k]
    gh_k = [k for k in range(n) if fc[k] and g_hist[k] is not None]
    floats = [k for k in range(n) if fc[k]]
    n_f = len(floats)
    params = body.inputs[n_index:]
    init = [ct(g_fin[k], _get(y, k), types[k]) for k in floats]
    init += [zeros_like(c) for c, m in zip(caps, fk) if m]
    xs = [_get(y, n + k) for k in hist_k] + [ct(g_hist[k], None, _history(types[k])) for k in gh_k]
    names = _names("g_", [params[k] for k in floats]) + _names(
        "g_", [p for p, m in zip(params[n:], fk) if m]
    )

    def step(index, gs, hs, ghs):
        c_args: list = [None] * n
        for k in shape_k:
            c_args[k] = carries[k]
        for k, h in zip(hist_k, hs):
            c_args[k] = h
        outs = inline(back, [index] * n_index + c_args + list(caps) + list(gs[:n_f]))
        extra = dict(zip(gh_k, ghs))
        new = [o + extra[k] if k in extra else o for o, k in zip(outs[:n_f], floats)]
        return new + [a + d for a, d in zip(gs[n_f:], outs[n_f:])]

    if xs:
        counter = [upper - 1] if need_index else []
        m = len(init)

        def body_fn(*flat):
            index = flat[m] if need_index else None
            sl = flat[m + len(counter) :]
            out = step(index, flat[:m], sl[: len(hist_k)], sl[len(hist_k) :])
            return out + ([index - 1] if need_index else []), []

        names += (
            ["i"] * len(counter)
            + [params[k].name for k in hist_k]
            + _names("gh_", [params[k] for k in gh_k])
        )
        node = build_scan(body_fn, init + counter, xs, reverse=True, names=names)
    else:

        def body_fn(j, *flat):
            return step(upper - 1 - j if need_index else None, flat, [], [])

        node = build_fori(0, trip, body_fn, init, names=["j"] + names)
    cts = [_get(node, k) for k in range(len(init))]
    return tuple(spread(cts[:n_f], fc) + spread(cts[n_f:], fk))


def loop_jvp(y, body: Graph, n_index: int, carries, caps, ts, make, extra: int):
    """Tangents of the results of a while_loop/fori_loop node: the same loop over
    (carries, tangents of the floating carries), the body's JVP derived once."""
    n = len(carries)
    types = y.opdef.element_types(y)[:n]
    fc = [is_float_type(t) for t in types]
    tk = [t is not None for t in ts[n:]]
    if not any(fc) or (all(t is None for t in ts[:n]) and not any(tk)):
        return None
    fwd = jvp_graph(body, [False] * n_index + fc + tk, fc)
    floats = [k for k in range(n) if fc[k]]
    t_caps = [t for t in ts[n:] if t is not None]
    init = list(carries) + [ct(ts[k], carries[k], types[k]) for k in floats]

    def flat_body(*a):
        index, rest = list(a[:n_index]), a[n_index:]
        return inline(fwd, index + list(rest[:n]) + list(caps) + list(rest[n:]) + t_caps)

    params = body.inputs[n_index : n_index + n]
    node = make(
        flat_body, init, [p.name for p in params] + _names("t_", [params[k] for k in floats])
    )
    total = n + len(floats)
    finals = [_get(node, n + i) for i in range(len(floats))]
    hists = [_get(node, total + n + i) for i in range(len(floats))]
    return tuple(spread(finals, fc) + spread(hists, fc) + [None] * extra)


def scan_vjp(y, body: Graph, n_c: int, n_x: int, reverse: bool, inputs, g) -> tuple:
    """Cotangents of (init..., xs..., caps...) of a scan node `y`: a scan in the other
    direction over the saved carry histories (those the body's VJP reads), the xs, and the
    cotangents of the ys and histories."""
    from ..control import build_scan
    from . import zeros_like

    n_y = len(body.outputs) - n_c
    init_in, xs, caps = inputs[:n_c], inputs[n_c : n_c + n_x], inputs[n_c + n_x :]
    types = y.opdef.element_types(y)
    fc = [is_float_type(t) for t in types[:n_c]]
    fx = [_is_float(x) for x in xs]
    fk = [_is_float(c) for c in caps]
    g_fin, g_ys, g_hist = g[:n_c], g[n_c : n_c + n_y], g[n_c + n_y :]
    gy = [g_ys[j] is not None and is_float_type(types[n_c + j]) for j in range(n_y)]
    gh_k = [k for k in range(n_c) if fc[k] and g_hist[k] is not None]
    if not any(gy) and not any(
        fc[k] and (g_fin[k] is not None or g_hist[k] is not None) for k in range(n_c)
    ):
        return (None,) * len(inputs)
    back = vjp_graph(body, fc + fx + fk, fc + gy)
    values, used = value_reads(back)
    hist_k = [k for k in range(n_c) if id(back.inputs[k]) in values]
    shape_k = [k for k in range(n_c) if id(back.inputs[k]) in used and k not in hist_k]
    x_j = [j for j in range(n_x) if id(back.inputs[n_c + j]) in used] or [0]
    y_j = [j for j in range(n_y) if gy[j]]
    floats = [k for k in range(n_c) if fc[k]]
    n_f, n_fx = len(floats), sum(fx)
    init = [ct(g_fin[k], _get(y, k), types[k]) for k in floats]
    init += [zeros_like(c) for c, m in zip(caps, fk) if m]
    seqs = (
        [_get(y, n_c + n_y + k) for k in hist_k]
        + [xs[j] for j in x_j]
        + [ct(g_ys[j], None, types[n_c + j]) for j in y_j]
        + [ct(g_hist[k], None, types[n_c + n_y + k]) for k in gh_k]
    )
    m = len(init)
    params = body.inputs

    def body_fn(*flat):
        sl = list(flat[m:])
        c_args: list = [None] * n_c
        for k in shape_k:
            c_args[k] = init_in[k]
        for k in hist_k:
            c_args[k] = sl.pop(0)
        x_args: list = [None] * n_x
        for j in x_j:
            x_args[j] = sl.pop(0)
        gys, ghs = sl[: len(y_j)], sl[len(y_j) :]
        outs = inline(back, c_args + x_args + list(caps) + list(flat[:n_f]) + gys)
        extra = dict(zip(gh_k, ghs))
        new = [o + extra[k] if k in extra else o for o, k in zip(outs[:n_f], floats)]
        acc = [a + d for a, d in zip(flat[n_f:m], outs[n_f + n_fx :])]
        return new + acc, outs[n_f : n_f + n_fx]

    names = (
        _names("g_", [params[k] for k in floats])
        + _names("g_", [p for p, f in zip(params[n_c + n_x :], fk) if f])
        + [params[k].name for k in hist_k]
        + [params[n_c + j].name for j in x_j]
        + [f"gy{j}" for j in y_j]
        + _names("gh_", [params[k] for k in gh_k])
    )
    node = build_scan(body_fn, init, seqs, reverse=not reverse, names=names)
    cts = [_get(node, k) for k in range(m + n_fx)]
    return tuple(spread(cts[:n_f], fc) + spread(cts[m:], fx) + spread(cts[n_f:m], fk))


def scan_jvp(y, body: Graph, n_c: int, n_x: int, reverse: bool, inputs, ts):
    """Tangents of a scan node's results: a scan over (carries, their tangents) and
    (xs, their tangents), the body's JVP derived once."""
    from ..control import build_scan

    n_y = len(body.outputs) - n_c
    init_in, xs, caps = inputs[:n_c], inputs[n_c : n_c + n_x], inputs[n_c + n_x :]
    types = y.opdef.element_types(y)
    fc = [is_float_type(t) for t in types[:n_c]]
    fy = [is_float_type(t) for t in types[n_c : n_c + n_y]]
    tx = [t is not None for t in ts[n_c : n_c + n_x]]
    tk = [t is not None for t in ts[n_c + n_x :]]
    if all(t is None for t in ts) or not (any(fc) or any(fy)):
        return None
    fwd = jvp_graph(body, fc + tx + tk, fc + fy)
    floats = [k for k in range(n_c) if fc[k]]
    n_f = len(floats)
    init = list(init_in) + [ct(ts[k], init_in[k], types[k]) for k in floats]
    seqs = list(xs) + [t for t in ts[n_c : n_c + n_x] if t is not None]
    t_caps = [t for t in ts[n_c + n_x :] if t is not None]

    def body_fn(*flat):
        c, tc = list(flat[:n_c]), list(flat[n_c : n_c + n_f])
        x, txs = list(flat[n_c + n_f : n_c + n_f + n_x]), list(flat[n_c + n_f + n_x :])
        outs = inline(fwd, c + x + list(caps) + tc + txs + t_caps)
        new_c, ys = outs[:n_c], outs[n_c : n_c + n_y]
        new_t, t_ys = outs[n_c + n_y : n_c + n_y + n_f], outs[n_c + n_y + n_f :]
        return new_c + new_t, ys + t_ys

    params = body.inputs
    names = (
        [p.name for p in params[:n_c]]
        + _names("t_", [params[k] for k in floats])
        + [p.name for p in params[n_c : n_c + n_x]]
        + _names("t_", [p for p, m in zip(params[n_c : n_c + n_x], tx) if m])
    )
    node = build_scan(body_fn, init, seqs, reverse=reverse, names=names)
    c_total, y_total = n_c + n_f, n_y + sum(fy)
    finals = [_get(node, n_c + i) for i in range(n_f)]
    t_ys = [_get(node, c_total + n_y + i) for i in range(sum(fy))]
    hists = [_get(node, c_total + y_total + n_c + i) for i in range(n_f)]
    return tuple(spread(finals, fc) + spread(t_ys, fy) + spread(hists, fc))
