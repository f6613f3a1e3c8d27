"""Emitting the control-flow ops as Python blocks (their `emit_block`s), and the helpers they
share: naming a tuple node's results, loop headers, carry updates, stacking the histories.

A loop is emitted as plain Python around the body's statements, the carries kept in named
variables (`b = b * 2` when the body's result may overwrite its carry in place, else a
parallel assignment at the end of the body).
"""

from __future__ import annotations

from ..dispatch import is_weak
from ..ir import Graph, toposort
from ..subgraph import emit_graph, fresh_name
from .control_layout import Layout


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


# The numpy calls of the loops' blocks, as templates; a backend may write its own
# (`Backend.control_texts`: the array API's namespace calls).
TEXTS = {
    "stack": "np.stack({rows})",
    "stack_or_empty": "np.stack({rows}) if {name} else "
    "np.zeros((0,) + np.shape({carry}), np.result_type({carry}))",
    "range": "np.arange({lower}, {upper})",
    "length": "len({seq})",
    "row": "{seq}[{k}]",
    "decide": "",  # a statement before a cond's `if` (none: its predicate is read there)
    "enter": "",  # a statement before a while_loop's first test of its condition
    "carries": "",  # a statement before each later test
}


def text(em, what: str, **parts) -> str:
    """The block text `what` of the emission being written, its fields filled."""
    own = getattr(em.emission, "control_texts", {})
    return own.get(what, TEXTS[what]).format(**parts)


def statement(em, what: str, indent: str, node, **parts) -> None:
    """The block statement `what` (`TEXTS`) for `node`, if the emission being written has
    one (a backend's may depend on the node and on what is emitted so far: a function of
    the `Emitter` and the node giving the template)."""
    template = getattr(em.emission, "control_texts", {}).get(what, TEXTS[what])
    line = (template(em, node) if callable(template) else template).format(**parts)
    if line:
        em.statement(indent, line, node)


def dtype_text(dtype) -> str:
    return f"np.{dtype.name}"


def known(t) -> bool:
    shape, dtype = t
    return shape is not None and None not in shape and dtype is not None


def stack_history(em, name: str, carry: str, t, reverse: bool = False) -> str:
    """The expression stacking a history list `name` of the carry `carry` (of static type
    `t`); also right when the loop ran zero times."""
    rows = f"{name}[::-1]" if reverse else name
    if known(t):
        shape, dtype = t
        array = f"np.array({rows}, {dtype_text(dtype)})"
        return array if not shape else f"{array}.reshape({(-1,) + tuple(shape)!r})"
    return text(em, "stack_or_empty", rows=rows, name=name, carry=carry)


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
    if node.inputs[0].op != "const" and args[0].isidentifier():
        statement(em, "decide", indent, node, pred=args[0])
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


class _Loop:
    """A loop node being emitted: the names of its carries and of the results the block
    reads, by `Layout` group. The constructor names them and assigns the initial carries;
    `open_stacks`, `save_histories` and `finish` write the stacked results (ys and
    histories) before, inside and after the loop."""

    def __init__(self, em, node, args, indent: str):
        self.em, self.node, self.layout = em, node, Layout.of(node)
        lay, body = self.layout, node.attrs["body"]
        params = lay.params(body.inputs).carries
        carry_names = [p.name for p in params]
        prefer = (
            carry_names
            + ["ys"] * lay.n_ys
            + [f"{c}_hist" for c in carry_names]
            + ["trips"] * lay.n_trips
        )
        names, self.aliases = result_names(em, node, lay.n_results, prefer)
        self.names = lay.results(names)
        self.types = lay.results(node.opdef.element_types(node))
        self.carry = [n or fresh_name(em, p.name) for n, p in zip(self.names.finals, params)]
        self.preallocated: set = set()
        for c, a, x in zip(self.carry, lay.inputs(args).carries, lay.inputs(node.inputs).carries):
            em.statement(indent, f"{c} = {typed(a, x)}", node)

    def open_stacks(self, indent: str, length: str | None = None) -> None:
        """Start the read ys and histories: arrays of `length` rows when their types are
        known and `length` is given, else lists."""
        names = self.names.ys + self.names.hists
        for name, t in zip(names, self.types.ys + self.types.hists):
            if name:
                # A backend without in-place writes (dask) appends to lists.
                empty = preallocate(length, t) if length and self.em.emission.in_place else None
                if empty is not None:
                    self.preallocated.add(name)
                self.em.statement(indent, f"{name} = {empty or '[]'}", self.node)

    def save_histories(self, indent: str, step: str | None = None) -> None:
        """Inside the loop: record each read history's carry (row `step` of a
        preallocated one)."""
        for h, c in zip(self.names.hists, self.carry):
            if h:
                self.em.statement(indent, self._row(h, step, c))

    def write_ys(self, indent: str, step: str, exprs) -> None:
        """Inside the loop: record this step's read ys."""
        for name, e in zip([n for n in self.names.ys if n], exprs):
            self.em.statement(indent, self._row(name, step, e), self.node)

    def _row(self, name: str, step: str | None, value: str) -> str:
        if name in self.preallocated:
            return f"{name}[{step}] = {value}"
        return f"{name}.append({value})"

    def finish(self, indent: str, reverse: bool = False) -> None:
        """After the loop: stack the lists of read ys and histories (in step order), and
        write the aliases of results read twice."""
        em, node = self.em, self.node
        for name in self.names.ys:
            if name and name not in self.preallocated:
                rows = f"{name}[::-1]" if reverse else name
                em.statement(indent, f"{name} = {text(em, 'stack', rows=rows)}", node)
        for h, c, t in zip(self.names.hists, self.carry, self.types.finals):
            if h and h not in self.preallocated:
                t = t if em.emission.in_place else (None, None)  # np.stack, not np.array
                em.statement(indent, f"{h} = {stack_history(em, h, c, t, reverse)}", node)
        write_aliases(em, self.aliases, indent)

    def update(self, body: Graph, args, indent: str, extra=None):
        """Emit the body and the carry updates (`emit_update`)."""
        n_index = self.layout.n_index
        return emit_update(
            self.em,
            self.node,
            body,
            args,
            indent,
            {k: (n_index + k, c) for k, c in enumerate(self.carry)},
            extra=extra,
        )


def emit_while(em, node, args, indent: str) -> None:
    """A while_loop node as a `while` loop over named carries, appending the read
    histories."""
    cond, body = node.attrs["cond"], node.attrs["body"]
    loop = _Loop(em, node, args, indent)
    caps = loop.layout.inputs(args).caps
    count = loop.names.trips[0]
    loop.open_stacks(indent)
    if count:
        em.statement(indent, f"{count} = 0", node)
    inner = indent + "    "
    carries = ", ".join(loop.carry)
    statement(em, "enter", indent, node, names=carries)
    loop_test(em, node, cond, loop.carry + caps, indent)
    start = len(em.lines)
    loop.save_histories(inner)
    if count:
        em.statement(inner, f"{count} += 1")
    _, finish = loop.update(body, loop.carry + caps, inner)
    finish()
    statement(em, "carries", inner, node, names=carries)
    if len(em.lines) == start and em.lines[start - 1][0].strip() != "break":
        em.statement(inner, "pass")
    loop.finish(indent)


def emit_fori(em, node, args, indent: str) -> None:
    """A fori_loop node as `for i in np.arange(lower, upper):` over named carries."""
    body = node.attrs["body"]
    loop = _Loop(em, node, args, indent)
    index = fresh_name(em, body.inputs[0].name)
    ins = loop.layout.inputs(args)
    loop.open_stacks(indent)
    # np.arange: the index is a numpy integer, like every other value in emitted code.
    steps = text(em, "range", lower=ins.bounds[0], upper=ins.bounds[1])
    em.statement(indent, f"for {index} in {steps}:", node)
    inner = indent + "    "
    start = len(em.lines)
    loop.save_histories(inner)
    _, finish = loop.update(body, [index] + loop.carry + ins.caps, inner)
    finish()
    close_block(em, start, inner)
    loop.finish(indent)


def emit_scan(em, node, args, indent: str) -> None:
    """A scan node as `for k in range(length)` (reversed for `reverse`), the ys and
    histories written into preallocated arrays when their types are known, else appended
    and stacked."""
    body, reverse = node.attrs["body"], node.attrs["reverse"]
    loop = _Loop(em, node, args, indent)
    ins = loop.layout.inputs(args)
    length = _scan_length(em, loop.layout.inputs(node.inputs).xs, ins.xs)
    loop.open_stacks(indent, length)
    k = fresh_name(em, "k")
    steps = f"range({length} - 1, -1, -1)" if reverse else f"range({length})"
    em.statement(indent, f"for {k} in {steps}:", node)
    inner = indent + "    "
    start = len(em.lines)
    slices = _slices(em, node, loop.layout.params(body.inputs).xs, ins.xs, k, inner)
    loop.save_histories(inner, k)
    n_c = loop.layout.n_carry
    read_ys = [n_c + j for j, name in enumerate(loop.names.ys) if name]
    exprs, finish = loop.update(body, loop.carry + slices + ins.caps, inner, extra=read_ys)
    loop.write_ys(inner, k, exprs)
    finish()
    close_block(em, start, inner)
    loop.finish(indent, reverse)


def _scan_length(em, xs, seqs) -> str:
    """The number of steps of a scan: a static length, else the length of the first xs."""
    known_lengths = [x.shape[0] for x in xs if x.shape is not None and x.shape[0] is not None]
    return str(known_lengths[0]) if known_lengths else text(em, "length", seq=seqs[0])


def _slices(em, node, params, seqs, k: str, indent: str) -> list[str]:
    """Names of this step's slices of the xs (`x = xs[k]`; "None" for one the body does not
    read)."""
    used = {id(x) for x in node.attrs["body"].nodes}
    slices = []
    for param, seq in zip(params, seqs):
        if id(param) in used:
            slices.append(fresh_name(em, param.name))
            em.statement(indent, f"{slices[-1]} = {text(em, 'row', seq=seq, k=k)}", node)
        else:
            slices.append("None")
    return slices
