"""Readable text for graphs: infix `str`, LaTeX, and `explain`."""

from __future__ import annotations

import numpy as np

from .ir import Symbol, toposort


def _fmt_attr(value) -> str:
    return repr(value)


def to_str(sym: Symbol) -> str:
    """An infix expression, numpy's names for non-elementwise operations."""
    texts: dict[int, str] = {}
    for node in toposort([sym]):
        texts[id(node)] = _node_text(node, [texts[id(x)] for x in node.inputs])
    return texts[id(sym)]


def _node_text(node: Symbol, args: list[str]) -> str:
    op = node.opdef
    if node.op == "var":
        return node.name
    if node.op == "const":
        value = node.attrs["value"]
        if "name" in node.attrs:
            return node.attrs["name"]
        if isinstance(value, np.ndarray):
            return np.array2string(value, separator=", ") if value.size <= 6 else \
                f"const{value.shape}"
        return repr(value)
    if op.infix and len(args) == 2:
        return f"({args[0]} {op.infix} {args[1]})"
    if op.infix and len(args) == 1:
        return f"({op.infix}{args[0]})"
    attrs = [f"{k}={_fmt_attr(v)}" for k, v in node.attrs.items()
             if not (v is None or v is False)]
    return f"{node.op}({', '.join(args + attrs)})"
