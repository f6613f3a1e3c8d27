"""The API reference's operations page, written from the op table at build time.

Every public op (`graphc.ops.base.public_ops()`: the `gc` functions named after numpy's) is
listed under its family with ``autofunction``; an op is an `OpDef` instance, so its signature
is taken from the op's `prepare` (what a call accepts) and a docstring it lacks is replaced by
the facts the op table holds (numpy's name, methods, whether it is differentiable).
"""

from __future__ import annotations

import inspect
from pathlib import Path

from graphc.ops.base import OpDef, public_ops

# Op-table module (graphc.ops.<module>) -> section of the page; elementwise ops go first.
FAMILIES = [
    ("Elementwise functions", None),
    ("Reductions", ("reduce",)),
    ("Shapes and broadcasting", ("shape",)),
    ("Rearranging, joining and selecting", ("rearrange", "select", "take")),
    ("Sequences and sorting", ("sequence",)),
    ("Products and einsum", ("linalg", "einsum")),
    (
        "Linear algebra",
        (
            "linalg_basic",
            "linalg_inv",
            "linalg_decomp",
            "linalg_norm",
            "linalg_qr",
            "linalg_svd",
            "linalg_triangle",
        ),
    ),
    ("Neural networks and losses", ("nn",)),
]
OTHER = "Other operations"

HEADER = """\
.. This file is written by docs/ops_page.py at every build: do not edit it.

Operations
==========

.. currentmodule:: graphc

Every operation is a ``gc`` function with numpy's name, broadcasting and type promotion. It
accepts symbols (it builds a graph node), eager tensors (it computes and records on the
tape) and numpy arrays or numbers (it computes and returns numpy). Each takes an optional
``name=`` that names the node (MXNet's ``name``; its output is ``NAME_output``).
Derivative rules are written once per operation, in the op table (``graphc/ops/``), and
serve reverse mode, forward mode, higher orders, eager mode and batched Jacobians.
"""


def family(op: OpDef) -> str:
    if op.elementwise:
        return FAMILIES[0][0]
    module = type(op).__module__.rsplit(".", 1)[-1]
    for title, modules in FAMILIES[1:]:
        if module in modules:
            return title
    return OTHER


def sections() -> dict[str, list[str]]:
    """Family title -> the names of its public ops, in page order."""
    found: dict[str, list[str]] = {title: [] for title, _ in FAMILIES}
    found[OTHER] = []
    for name, op in sorted(public_ops().items()):
        found[family(op)].append(name)
    return {title: names for title, names in found.items() if names}


def text() -> str:
    parts = [HEADER]
    for title, names in sections().items():
        parts.append(f"\n{title}\n{'-' * len(title)}\n")
        parts.extend(f"\n.. autofunction:: {name}\n" for name in names)
    return "".join(parts)


def write(path: Path) -> None:
    new = text()
    if not path.exists() or path.read_text() != new:  # unchanged: Sphinx need not reread it
        path.write_text(new)


def _is_op(obj) -> bool:
    return isinstance(obj, OpDef)


def signature(op: OpDef) -> str:
    """What a call of `op` accepts: its `prepare`'s parameters (the generic one: the op's
    array inputs by count, then its attributes as keywords), and ``name=None``."""
    prepare = type(op).prepare
    if prepare is not OpDef.prepare:
        params = list(inspect.signature(op.prepare).parameters.values())
    else:
        P = inspect.Parameter
        if op.nin is None:
            params = [P("xs", P.VAR_POSITIONAL)]
        else:
            names = ["x"] if op.nin == 1 else [f"x{i + 1}" for i in range(op.nin)]
            params = [P(n, P.POSITIONAL_ONLY) for n in names]
        params += [P(a, P.KEYWORD_ONLY) for a in op.attr_names]
    P = inspect.Parameter
    if not any(p.name == "name" for p in params):
        kind = P.KEYWORD_ONLY
        if any(p.kind == P.VAR_KEYWORD for p in params):
            params = [p for p in params if p.kind != P.VAR_KEYWORD]
        params.append(P("name", kind, default=None))
    try:
        return str(inspect.Signature(params))
    except ValueError:  # an unusual parameter order: show it as prepare declares it
        return str(inspect.signature(op.prepare))


def op_signature(app, what, name, obj, options, sig, return_annotation):
    if _is_op(obj):
        return signature(obj), None
    return None


def op_docstring(app, what, name, obj, options, lines):
    """An op without a docstring of its own: its facts from the op table."""
    if not _is_op(obj) or any(line.strip() for line in lines):
        return
    lines[:] = facts(obj)


def facts(op: OpDef) -> list[str]:
    kind = "Elementwise ``numpy.{0}``" if op.elementwise else "``numpy.{0}``"
    out = [kind.format(op.name) + (" (differentiable)." if op.differentiable else ".")]
    if op.methods:
        methods = ", ".join(f"``Symbol.{m}``" for m in op.methods)
        out += ["", f"Also a method: {methods} (and the same on eager tensors)."]
    if op.infix:
        out += ["", f"Also the operator ``{op.infix}``."]
    if op.numpy_names:
        names = ", ".join(f"``numpy.{n}``" for n in op.numpy_names)
        out += ["", f"numpy's {names} on graphc values call it."]
    return out
