"""Emitting the control-flow ops as Python blocks (their `emit_block`s), and the helpers they
share: naming a tuple node's results, loop headers, carry updates, stacking the histories.

A loop is emitted as plain Python around the body's statements, the carries kept in named
variables (`b = b * 2` when the body's result may overwrite its carry in place, else a
parallel assignment at the end of the body).
"""

from __future__ import annotations

from ..ir import Graph, toposort
from ..subgraph import emit_graph, fresh_name


def result_names(em, node, count: int, prefer=()) -> tuple[list, list]:
    """Names for the results of tuple node `node` that the block being emitted reads (None
    for unread ones); the `get` nodes reading them are bound to those names (the caller's
    output name, else `prefer[k]` made unique, else a temporary). A second `get` of the same
    result becomes an alias, returned as (alias, name) pairs."""
    names: list = [None] * count
    aliases = []
    for reader in em.readers(node):
        k = reader.attrs["index"]
        if names[k] is None:
            base = prefer[k] if k < len(prefer) else None
            names[k] = em.block_out_names.get(id(reader)) or (
                fresh_name(em, base) if base else em.namer.temp()
            )
            em.names[id(reader)] = names[k]
        else:
            alias = em.result_name(reader)
            em.names[id(reader)] = alias
            aliases.append((alias, names[k]))
    return names, aliases


def typed(expr: str, node) -> str:
    """`expr` for a value that emitted code keeps in a variable: a Python number (a weak
    constant's literal) becomes a numpy scalar of the node's dtype, so that array methods
    (`x.sum()`) work on it whichever branch or iteration produced it."""
    from ..dispatch import is_weak

    if node.op == "const" and is_weak(node.attrs["value"]) and node.dtype is not None:
        return f"{dtype_text(node.dtype)}({expr})"
    return expr


def close_block(em, start: int, indent: str) -> None:
    """End a block opened before line `start` (a loop or a branch): `pass` when its
    statements turned out to be none (a body that leaves its carries unchanged)."""
    if len(em.lines) == start:
        em.statement(indent, "pass")


def write_aliases(em, aliases, indent: str) -> None:
    for alias, name in aliases:
        em.statement(indent, f"{alias} = {name}")


def loop_test(em, node, graph: Graph, args, indent: str) -> None:
    """A `while` header for the condition sub-graph: `while <expr>:` when the condition is
    a single operation of the carries, else `while True:` with the condition's statements
    and `if not (...): break` at the top of the body."""
    out = graph.outputs[0]
    inner = indent + "    "
    start = len(em.lines)
    single = (
        out.op not in ("var", "const", "get") and getattr(out.opdef, "emit_block", None) is None
    )
    if single:
        exprs = emit_graph(em, Graph(graph.inputs, out.inputs), args, inner)
        test = out.opdef.emit(*exprs, **out.attrs)
    else:
        test = emit_graph(em, graph, args, inner)[0]
    if len(em.lines) == start:
        em.statement(indent, f"while {test}:", node)
        return
    em.lines.insert(start, (f"{indent}while True:", node))
    em.statement(inner, f"if not ({test}):", node)
    em.statement(inner + "    ", "break")


def emit_update(
    em, node, graph: Graph, args, indent: str, carries: dict, extra: list | None = None
):
    """Emit the body `graph` at `indent` and update the carries: `carries` maps an output
    position to (the param it replaces, the carry's name). `extra` lists further output
    positions (a scan's ys) whose expressions are returned, valid before the carries are
    reassigned; the caller writes them out and then calls the returned `finish()`."""
    extra = list(extra or [])
    positions = sorted(carries) + extra
    direct = _direct(graph, positions, carries)
    exprs = emit_graph(em, graph, args, indent, outputs=positions, out_names=direct)
    by_pos = dict(zip(positions, exprs))
    pending = [
        (name, typed(by_pos[k], graph.outputs[k]))
        for k, (_, name) in sorted(carries.items())
        if by_pos[k] != name
    ]

    def finish():
        if pending:
            em.statement(
                indent,
                f"{', '.join(n for n, _ in pending)} = {', '.join(e for _, e in pending)}",
                node,
            )

    return [by_pos[k] for k in extra], finish


def _direct(graph: Graph, positions: list, carries: dict) -> dict:
    """Carries that the body may assign in place: the output is a single-statement op that
    comes after every read of the carry's old value (and the old value is not itself a
    result)."""
    outs = [graph.outputs[k] for k in positions]
    order = toposort(outs, stop=graph.inputs)
    where = {id(n): i for i, n in enumerate(order)}
    param = {id(p): j for j, p in enumerate(graph.inputs)}
    last_read: dict[int, float] = {}
    for i, n in enumerate(order):
        for x in n.inputs:
            if id(x) in param:
                last_read[param[id(x)]] = i
    uses: dict[int, int] = {}
    for o in outs:
        uses[id(o)] = uses.get(id(o), 0) + 1
        if id(o) in param:
            last_read[param[id(o)]] = float("inf")
    direct = {}
    for k, (j, name) in carries.items():
        o = graph.outputs[k]
        if (
            o.op in ("var", "const", "get")
            or getattr(o.opdef, "emit_block", None)
            or uses[id(o)] > 1
        ):
            continue
        if where[id(o)] >= last_read.get(j, -1):
            direct[k] = name
    return direct


def dtype_text(dtype) -> str:
    return f"np.{dtype.name}"


def known(t) -> bool:
    shape, dtype = t
    return shape is not None and None not in shape and dtype is not None


def stack_history(name: str, carry: str, t, reverse: bool = False) -> str:
    """The expression stacking a history list `name` of the carry `carry` (of static type
    `t`); also right when the loop ran zero times."""
    rows = f"{name}[::-1]" if reverse else name
    if known(t):
        shape, dtype = t
        text = f"np.array({rows}, {dtype_text(dtype)})"
        return text if not shape else f"{text}.reshape({(-1,) + tuple(shape)!r})"
    return (
        f"np.stack({rows}) if {name} else "
        f"np.zeros((0,) + np.shape({carry}), np.result_type({carry}))"
    )


def preallocate(length: str, t) -> str | None:
    """`np.empty((length, ...), dtype)` for a stacked result of static type `t` (the
    leading dim may be unknown: `length` is its expression)."""
    shape, dtype = t
    if shape is None or dtype is None or None in shape[1:]:
        return None
    dims = ", ".join([length] + [str(d) for d in shape[1:]])
    return (
        f"np.empty(({dims},), {dtype_text(dtype)})"
        if len(shape) == 1
        else f"np.empty(({dims}), {dtype_text(dtype)})"
    )


def emit_cond(em, node, args, indent: str) -> None:
    """`if pred:` / `else:` with each branch's statements assigning the read results."""
    t, f = node.attrs["true_fn"], node.attrs["false_fn"]
    names, aliases = result_names(em, node, len(t.outputs))
    read = [k for k, n in enumerate(names) if n is not None]
    em.statement(indent, f"if {args[0]}:", node)
    for g, header in ((t, None), (f, "else:")):
        if header:
            em.statement(indent, header, node)
        inner = indent + "    "
        start = len(em.lines)
        outs = [g.outputs[k] for k in read]
        ids = [id(o) for o in outs]
        direct = {
            k: names[k]
            for k in read
            if ids.count(id(g.outputs[k])) == 1 and g.outputs[k].op not in ("var", "const")
        }
        exprs = emit_graph(em, g, args[1:], inner, outputs=read, out_names=direct)
        pending = [
            (names[k], typed(e, g.outputs[k])) for k, e in zip(read, exprs) if e != names[k]
        ]
        if pending:
            em.statement(
                inner,
                f"{', '.join(n for n, _ in pending)} = {', '.join(e for _, e in pending)}",
                node,
            )
        close_block(em, start, inner)
    write_aliases(em, aliases, indent)


def emit_while(em, node, args, indent: str) -> None:
    """A while_loop node as a `while` loop over named carries, appending the read histories."""
    cond, body = node.attrs["cond"], node.attrs["body"]
    n = len(body.outputs)
    carry_names = [p.name for p in body.inputs[:n]]
    names, aliases = result_names(
        em, node, 2 * n + 1, carry_names + [f"{c}_hist" for c in carry_names] + ["trips"]
    )
    carry = [names[k] or fresh_name(em, body.inputs[k].name) for k in range(n)]
    hist, count = names[n : 2 * n], names[2 * n]
    types = node.opdef.element_types(node)[:n]
    caps = list(args[n:])
    for c, a, x in zip(carry, args[:n], node.inputs):
        em.statement(indent, f"{c} = {typed(a, x)}", node)
    for h in hist:
        if h:
            em.statement(indent, f"{h} = []", node)
    if count:
        em.statement(indent, f"{count} = 0", node)
    inner = indent + "    "
    loop_test(em, node, cond, carry + caps, indent)
    start = len(em.lines)
    for h, c in zip(hist, carry):
        if h:
            em.statement(inner, f"{h}.append({c})")
    if count:
        em.statement(inner, f"{count} += 1")
    _, finish = emit_update(
        em, node, body, carry + caps, inner, {k: (k, carry[k]) for k in range(n)}
    )
    finish()
    if len(em.lines) == start and not em.lines[start - 1][0].strip() == "break":
        em.statement(inner, "pass")
    for h, c, t in zip(hist, carry, types):
        if h:
            em.statement(indent, f"{h} = {stack_history(h, c, t)}", node)
    write_aliases(em, aliases, indent)


def emit_fori(em, node, args, indent: str) -> None:
    """A fori_loop node as `for i in np.arange(lower, upper):` over named carries."""
    body = node.attrs["body"]
    n = len(body.outputs)
    carry_names = [p.name for p in body.inputs[1 : 1 + n]]
    names, aliases = result_names(
        em, node, 2 * n, carry_names + [f"{c}_hist" for c in carry_names]
    )
    carry = [names[k] or fresh_name(em, body.inputs[1 + k].name) for k in range(n)]
    hist = names[n:]
    types = node.opdef.element_types(node)[:n]
    index = fresh_name(em, body.inputs[0].name)
    for c, a, x in zip(carry, args[2 : 2 + n], node.inputs[2:]):
        em.statement(indent, f"{c} = {typed(a, x)}", node)
    for h in hist:
        if h:
            em.statement(indent, f"{h} = []", node)
    # np.arange: the index is a numpy integer, like every other value in emitted code.
    em.statement(indent, f"for {index} in np.arange({args[0]}, {args[1]}):", node)
    inner = indent + "    "
    start = len(em.lines)
    for h, c in zip(hist, carry):
        if h:
            em.statement(inner, f"{h}.append({c})")
    _, finish = emit_update(
        em,
        node,
        body,
        [index] + carry + list(args[2 + n :]),
        inner,
        {k: (1 + k, carry[k]) for k in range(n)},
    )
    finish()
    close_block(em, start, inner)
    for h, c, t in zip(hist, carry, types):
        if h:
            em.statement(indent, f"{h} = {stack_history(h, c, t)}", node)
    write_aliases(em, aliases, indent)


def emit_scan(em, node, args, indent: str) -> None:
    """A scan node as `for k in range(length)` (reversed for `reverse`), the ys and histories
    written into preallocated arrays when their types are known, else appended and stacked."""
    body, n_c, n_x = node.attrs["body"], node.attrs["n_carry"], node.attrs["n_xs"]
    reverse = node.attrs["reverse"]
    n_y = len(body.outputs) - n_c
    types = node.opdef.element_types(node)
    carry_names = [p.name for p in body.inputs[:n_c]]
    names, aliases = result_names(
        em, node, len(types), carry_names + ["ys"] * n_y + [f"{c}_hist" for c in carry_names]
    )
    carry = [names[k] or fresh_name(em, body.inputs[k].name) for k in range(n_c)]
    ys, hist = names[n_c : n_c + n_y], names[n_c + n_y :]
    seqs, caps = list(args[n_c : n_c + n_x]), list(args[n_c + n_x :])
    known = [
        x.shape[0]
        for x in node.inputs[n_c : n_c + n_x]
        if x.shape is not None and x.shape[0] is not None
    ]
    length = str(known[0]) if known else f"len({seqs[0]})"
    for c, a, x in zip(carry, args[:n_c], node.inputs):
        em.statement(indent, f"{c} = {typed(a, x)}", node)
    stacked = {}  # name -> preallocated?
    for name, t in zip(ys + hist, types[n_c:]):
        if name:
            empty = preallocate(length, t)
            stacked[name] = empty is not None
            em.statement(indent, f"{name} = {empty or '[]'}", node)
    k = fresh_name(em, "k")
    steps = f"range({length} - 1, -1, -1)" if reverse else f"range({length})"
    em.statement(indent, f"for {k} in {steps}:", node)
    inner = indent + "    "
    start = len(em.lines)
    graph = body
    used = {id(x) for x in graph.nodes}
    slices = []
    for j in range(n_x):
        param = graph.inputs[n_c + j]
        slices.append(fresh_name(em, param.name) if id(param) in used else "None")
        if id(param) in used:
            em.statement(inner, f"{slices[-1]} = {seqs[j]}[{k}]", node)
    for h, c in zip(hist, carry):
        if h:
            em.statement(inner, f"{h}[{k}] = {c}" if stacked[h] else f"{h}.append({c})")
    read_ys = [n_c + j for j in range(n_y) if ys[j]]
    exprs, finish = emit_update(
        em,
        node,
        graph,
        carry + slices + caps,
        inner,
        {j: (j, carry[j]) for j in range(n_c)},
        extra=read_ys,
    )
    for pos, e in zip(read_ys, exprs):
        name = ys[pos - n_c]
        em.statement(inner, f"{name}[{k}] = {e}" if stacked[name] else f"{name}.append({e})", node)
    finish()
    close_block(em, start, inner)
    for name in ys:
        if name and not stacked[name]:
            em.statement(indent, f"{name} = np.stack({name}{'[::-1]' if reverse else ''})", node)
    for name, c, t in zip(hist, carry, types[n_c + n_y :]):
        if name and not stacked[name]:
            em.statement(indent, f"{name} = {stack_history(name, c, t, reverse)}", node)
    write_aliases(em, aliases, indent)
