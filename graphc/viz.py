"""Pictures of graphs: `to_networkx`, `to_dot` (Graphviz text) and `draw` (matplotlib).

Nodes are numbered in topological order (inputs first). Every walk is iterative, so graphs of
any depth work; user strings (var names, constants) only ever appear as escaped labels.
"""

from __future__ import annotations

import numpy as np

from .dispatch import checks_call
from .errors import ArgumentError, GraphcError
from .ir import Symbol, flatten_outputs, toposort

LABEL_LIMIT = 40  # characters of a constant's label


def _outputs(sym) -> list[Symbol]:
    if isinstance(sym, Symbol):
        return [sym] if sym.op != "group" else list(sym.inputs)
    if isinstance(sym, (list, tuple)):
        return flatten_outputs(list(sym))
    raise GraphcError(f"expected a graphc symbol or a list of them, got {type(sym).__name__}")


def _shape_text(shape) -> str:
    if shape is None:
        return "?"
    return (
        "("
        + ", ".join("?" if d is None else str(d) for d in shape)
        + ("," if len(shape) == 1 else "")
        + ")"
    )


def node_label(node: Symbol) -> str:
    """A short label: the var's name, the constant's value, or the op's name and attrs."""
    if node.op == "var":
        return node.name
    if node.op == "const":
        if "name" in node.attrs:
            return node.attrs["name"]
        value = node.attrs["value"]
        if isinstance(value, np.ndarray) and value.size > 6:
            return f"const{_shape_text(value.shape)}"
        text = (
            np.array2string(np.asarray(value), separator=", ")
            if isinstance(value, np.ndarray)
            else repr(value)
        )
        return text if len(text) <= LABEL_LIMIT else text[: LABEL_LIMIT - 1] + "…"
    op = node.opdef
    if op.infix and len(node.inputs) in (1, 2):
        return op.infix
    attrs = [
        f"{k}={v!r}"
        for k, v in node.attrs.items()
        if v is not None and v is not False and not hasattr(v, "outputs")
    ]
    return node.op + (f" {', '.join(attrs)}" if attrs else "")


@checks_call
def to_networkx(sym):
    """The graph as a `networkx.DiGraph`: nodes 0, 1, ... in topological order with the
    attributes `op`, `shape`, `dtype` (numpy's name or None), `label` (and `name` for vars);
    an edge runs from each input to its user, with `index` (the first argument position) and
    `positions` (all of them, for `x * x`).

    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> g = gc.to_networkx(gc.exp(x) + x)
    >>> sorted(d["op"] for _, d in g.nodes(data=True))
    ['add', 'exp', 'var']
    """
    import networkx as nx

    nodes = toposort(_outputs(sym))
    number = {id(n): k for k, n in enumerate(nodes)}
    g = nx.DiGraph()
    for k, n in enumerate(nodes):
        attrs = dict(
            op=n.op,
            shape=n.shape,
            dtype=None if n.dtype is None else np.dtype(n.dtype).name,
            label=node_label(n),
        )
        if n.op == "var":
            attrs["name"] = n.name
        g.add_node(k, **attrs)
    for n in nodes:
        for i, x in enumerate(n.inputs):
            u, v = number[id(x)], number[id(n)]
            if g.has_edge(u, v):
                g.edges[u, v]["positions"] += (i,)
            else:
                g.add_edge(u, v, index=i, positions=(i,))
    return g


def _dot_escape(text: str) -> str:
    """A safe DOT double-quoted string body: backslashes, quotes and line breaks escaped,
    other control characters dropped."""
    out = []
    for ch in str(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r" or ord(ch) < 32 or ord(ch) == 127:
            continue
        else:
            out.append(ch)
    return "".join(out)


@checks_call
def to_dot(sym, name: str = "graphc") -> str:
    """The graph as Graphviz DOT text (inputs at the top; vars as ellipses, constants as
    plain text, operations as boxes labelled with op, shape and dtype).

    >>> import graphc as gc
    >>> print(gc.to_dot(gc.var("x") * 2).splitlines()[0])
    digraph "graphc" {
    """
    nodes = toposort(_outputs(sym))
    number = {id(n): k for k, n in enumerate(nodes)}
    lines = [
        f'digraph "{_dot_escape(name)}" {{',
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=10];',
    ]
    for k, n in enumerate(nodes):
        if n.op == "var":
            shape, label = "ellipse", node_label(n)
        elif n.op == "const":
            shape, label = "plaintext", node_label(n)
        else:
            shape = "box"
            dtype = "?" if n.dtype is None else np.dtype(n.dtype).name
            label = f"{node_label(n)}\n{_shape_text(n.shape)} {dtype}"
        lines.append(f'  n{k} [label="{_dot_escape(label)}", shape={shape}];')
    for n in nodes:
        for i, x in enumerate(n.inputs):
            extra = f' [label="{i}"]' if len(n.inputs) > 1 and not n.opdef.elementwise else ""
            lines.append(f"  n{number[id(x)]} -> n{number[id(n)]}{extra};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# How `draw` tells the kinds of node apart: a shape and a color each (never the label alone:
# a multiply node and a var named x would both read "x").
_STYLES = {
    "var": dict(boxstyle="ellipse,pad=0.3", fc="#cfe8ff", ec="#1f5fa8"),
    "const": dict(boxstyle="square,pad=0.35", fc="#f2f2f2", ec="#888888", ls="--"),
    "op": dict(boxstyle="round,pad=0.35,rounding_size=0.2", fc="#ffe9c7", ec="#b36b00"),
}
FONT_SIZE = 11


def _draw_label(g, k) -> str:
    """`draw`'s label: the var's name, the constant's value, or the op's name (an op is
    named in words, `multiply`, not by its symbol)."""
    d = g.nodes[k]
    return d["label"] if d["op"] in ("var", "const") else d["op"]


@checks_call
def draw(sym, ax=None, dpi: int = 120):
    """Draw the graph with matplotlib (layered: inputs at the top); returns the axes.

    Vars are blue ellipses, constants grey dashed squares, operations orange boxes
    named by their op; arrows point from inputs to the ops that read them. A new figure
    (when `ax` is None) is sized to the graph at `dpi` dots per inch, legible at a
    notebook's width. Needs matplotlib (`pip install "graphc[notebooks]"`); raises
    `GraphcError` without it.

    >>> import graphc as gc, matplotlib, os
    >>> matplotlib.use("Agg")  # no window: e.g. to save the figure
    >>> x = gc.var("x")
    >>> ax = gc.draw(gc.sum(gc.sin(x) * 2))
    >>> sorted(t.get_text() for t in ax.texts)
    ['2', 'multiply', 'sin', 'sum', 'x']
    >>> ax.figure.savefig(os.devnull, format="png")
    >>> matplotlib.pyplot.close(ax.figure)
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # an optional dependency
        raise GraphcError(
            'gc.draw needs matplotlib: pip install "graphc[notebooks]" (or matplotlib)'
        ) from exc
    import networkx as nx

    if ax is not None and not hasattr(ax, "scatter"):
        raise ArgumentError(f"draw: ax must be matplotlib axes, got {type(ax).__name__}")
    g = to_networkx(sym)
    depth: dict[int, int] = {}
    for k in sorted(g.nodes):  # numbered in topological order
        depth[k] = 1 + max((depth[p] for p in g.predecessors(k)), default=-1)
    for k, d in depth.items():
        g.nodes[k]["layer"] = d
    pos = nx.multipartite_layout(g, subset_key="layer", align="horizontal")
    pos = {k: (x, -y) for k, (x, y) in pos.items()}  # layer 0 (the inputs) on top
    if ax is None:
        widest = max(list(depth.values()).count(d) for d in set(depth.values()))
        _, ax = plt.subplots(
            figsize=(
                min(12, max(4, 1.6 * widest)),
                min(14, max(2.5, 1.0 * len(set(depth.values())))),
            ),
            dpi=dpi,
        )
    nx.draw_networkx_edges(
        g, pos, ax=ax, arrows=True, arrowsize=12, node_size=1000, edge_color="#555555"
    )
    for kind, style in _STYLES.items():
        nodes = [
            k for k, d in g.nodes(data=True) if (d["op"] if d["op"] in _STYLES else "op") == kind
        ]
        nx.draw_networkx_labels(
            g,
            pos,
            labels={k: _draw_label(g, k) for k in nodes},
            ax=ax,
            font_size=FONT_SIZE,
            bbox=style,
        )
    ax.set_axis_off()
    ax.margins(0.08)
    return ax
