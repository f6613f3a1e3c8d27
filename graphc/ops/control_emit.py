"""Emission helpers for the control-flow ops' `emit_block`s: naming a tuple node's results,
loop headers, carry updates, and stacking the saved histories.

A loop is emitted as plain Python around the body's statements, the carries kept in named
variables (`b = b * 2` when the body's result may overwrite its carry in place, else a
parallel assignment at the end of the body).
"""

from __future__ import annotations

from ..ir import Graph, toposort
from ..subgraph import emit_graph


def result_names(em, node, count: int, prefer=()) -> tuple[list, list]:
    """Names for the results of tuple node `node` that the block being emitted reads (None
    for unread ones); the `get` nodes reading them are bound to those names (the caller's
    output name, else `prefer[k]` made unique, else a temporary). A second `get` of the same
    result becomes an alias, returned as (alias, name) pairs."""
    from ..subgraph import fresh_name

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
