"""The API reference's generated pages: the operations, from the op table, and the backend
list, from the backend registry, written at build time.

Every public op (`graphc.ops.base.public_ops()`: the `gc` functions named after numpy's) is
listed under its family with ``autofunction``; an op is an `OpDef` instance, so its signature
is taken from the op's `prepare` (what a call accepts) and a docstring it lacks is replaced by
the facts the op table holds (numpy's name, methods, whether it is differentiable).
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np

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


BACKENDS_HEADER = """\
.. This file is written by docs/ops_page.py at every build: do not edit it.

The backends
------------

One entry per name of ``graphc.backends.BACKENDS`` (a backend whose package is not
installed is listed too: compiling for it raises ``gc.BackendError`` naming its extra).
"""


def backend_classes() -> dict[str, str]:
    """Backend name -> the qualified name of its class (``graphc.backends.dask.Dask``)."""
    from graphc.backends import BACKENDS

    return {name: f"{type(b).__module__}.{type(b).__qualname__}" for name, b in BACKENDS.items()}


def backends_text() -> str:
    parts = [BACKENDS_HEADER]
    for name, qualname in backend_classes().items():
        title = f'``"{name}"``'
        parts.append(f"\n{title}\n{'~' * len(title)}\n")
        if qualname == "graphc.backends.base.Backend":
            parts.append(
                "\nThe default: `Backend` itself (above), one numpy statement per operation.\n"
            )
            continue
        module = qualname.rsplit(".", 1)[0]
        parts.append(f"\n.. automodule:: {module}\n   :no-members:\n")
        parts.append(f"\n.. autoclass:: {qualname}\n   :members:\n")
    return "".join(parts)


def backends_table() -> str:
    """A Markdown table of the backends (the performance guide includes it): name, what the
    program is (the first line of its module's docstring), pip extra, class."""
    import importlib

    rows = ["| backend | the program | pip extra | class |", "| --- | --- | --- | --- |"]
    for name, qualname in backend_classes().items():
        module, cls = qualname.rsplit(".", 1)
        if cls == "Backend":
            what, extra = "one numpy statement per operation, buffers reused (the default)", ""
        else:
            what = (inspect.getdoc(importlib.import_module(module)) or "").split("\n\n")[0]
            what = " ".join(what.split())
            extra = f"`{_extra(name)}`" if _extra(name) else ""
        rows.append(f'| `"{name}"` | {what} | {extra} | `{module}.{cls}` |')
    return "\n".join(rows) + "\n"


def _extra(name: str) -> str | None:
    from graphc.backends import BACKENDS

    return BACKENDS[name].extra


def write_pages(api: Path) -> None:
    """Write the generated pages into `api` (docs/api), each only when its text changed."""
    pages = [
        ("operations.rst", text()),
        ("backend_list.rst", backends_text()),
        ("backend_table.md", backends_table()),
    ]
    for name, new in pages:
        path = api / name
        if not path.exists() or path.read_text() != new:  # unchanged: Sphinx need not reread it
            path.write_text(new)


def _is_op(obj) -> bool:
    return isinstance(obj, OpDef)


def signature(op: OpDef, method: bool = False) -> str:
    """What a call of `op` accepts: its `prepare`'s parameters (the generic one: the op's
    array inputs by count, then its attributes as keywords), and ``name=None``; as a method
    (``x.sum(axis=0)``), without the first parameter, which is the value itself."""
    P = inspect.Parameter
    if type(op).prepare is not OpDef.prepare:
        params = list(inspect.signature(op.prepare).parameters.values())
    elif op.nin is None:
        params = [P("xs", P.VAR_POSITIONAL)]
    else:
        names = ["x"] if op.nin == 1 else [f"x{i + 1}" for i in range(op.nin)]
        params = [P(n, P.POSITIONAL_ONLY) for n in names]
        params += [P(a, P.KEYWORD_ONLY) for a in op.attr_names]
    if method and params and params[0].kind != P.VAR_POSITIONAL:
        params = params[1:]
    if not any(p.name == "name" for p in params):
        params = [p for p in params if p.kind != P.VAR_KEYWORD]
        params.append(P("name", P.KEYWORD_ONLY, default=None))
    try:
        return str(inspect.Signature(params))
    except ValueError:  # an unusual parameter order: show it as prepare declares it
        return str(inspect.signature(op.prepare))


def _method_op(obj) -> OpDef | None:
    """The op a `Symbol`/`Tensor` method calls (`graphc.mixin`), or None."""
    op = getattr(obj, "op", None)
    return op if callable(obj) and isinstance(op, OpDef) else None


def op_signature(app, what, name, obj, options, sig, return_annotation):
    if _is_op(obj):
        return signature(obj), None
    if what == "method" and _method_op(obj) is not None:
        return signature(_method_op(obj), method=True), None
    return None


def op_docstring(app, what, name, obj, options, lines):
    """An op without a docstring of its own: its facts from the op table; a method that
    calls an op: a link to the op."""
    if what == "method" and _method_op(obj) is not None:
        op = _method_op(obj)
        lines[:] = [f"The operation :func:`graphc.{op.name}` on this value (its first argument)."]
    elif _is_op(obj) and not any(line.strip() for line in lines):
        lines[:] = facts(obj)


def facts(op: OpDef) -> list[str]:
    numpy = f", as ``numpy.{op.name}``" if hasattr(np, op.name) else ""
    kind = "Elementwise" if op.elementwise else "The operation"
    out = [
        f"{kind} ``{op.name}``{numpy}; "
        + ("differentiable." if op.differentiable else "not differentiable.")
    ]
    if op.methods:
        methods = ", ".join(f"``Symbol.{m}``" for m in op.methods)
        out += ["", f"Also a method: {methods} (and the same on eager tensors)."]
    if op.infix:
        out += ["", f"Also the operator ``{op.infix}``."]
    if op.numpy_names:
        names = ", ".join(f"``numpy.{n}``" for n in op.numpy_names)
        out += ["", f"numpy's {names} on graphc values call it."]
    return out
