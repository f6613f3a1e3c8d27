"""The reference text of an op: `document(name, example, doc=None)` gives the op its
docstring (what `help(gc.exp)` shows and the API reference reads) from two facts, `doc`
(numpy-style: summary, Parameters, Returns; by default the op class's docstring) and
`example` (doctest lines, run by the test suite), and gives the methods the op declares
(`x.exp()`) a docstring pointing at it with the same example.

The doc tables (`ops.docs_elementwise`, `ops.docs_arrays`, ...) call it once per op, with
their module-level `__test__`: `doctest` runs every example in the module it is written in.
"""

from __future__ import annotations

import inspect

from ..mixin import add_op_methods, remove_op_methods
from .base import OPS

_NAME = """name : str, optional
    The node's name (`Executor.adjoint_dict` and `get_internals()` use it)."""


def document(table: dict, name: str, example: str, doc: str | None = None) -> None:
    """Give op `name` its docstring: `doc` (or its class's docstring) with an Examples
    section holding `example`; its methods get a docstring naming it, with the same example.
    `table[name] = example`: the doc table's `__test__`, which `doctest` runs."""
    op = OPS[name]
    table[name] = example
    text = inspect.cleandoc(doc if doc is not None else type(op).__doc__ or "")
    op.doc, op.example = text, inspect.cleandoc(example)
    op.__doc__ = f"{text}\n\nExamples\n--------\n{op.example}\n"
    remove_op_methods(op)  # attached again, with the docstring made from these facts
    add_op_methods(op)


ARRAY = (("x : Symbol, Tensor or array_like", ""),)
BINARY = (("x1, x2 : Symbol, Tensor or array_like", "The operands (broadcast together)."),)
AXIS = (
    (
        "axis : int, tuple of ints or None, default None",
        "The axes to reduce (negative counts from the end); None: all of them.",
    ),
    ("keepdims : bool, default False", "Keep the reduced axes as size-1 dims."),
)
_KINDS = "Symbol, Tensor or ndarray"


def numpydoc(summary: str, params=ARRAY, returns: str = "", notes: str = "", more="") -> str:
    """A numpy-style docstring: `summary` (and a paragraph `more`), Parameters from
    (name and type, description) pairs, and `name=`, Returns (`returns` describes the value:
    a Symbol for symbols, a Tensor for eager tensors, an array for arrays), Notes."""
    lines = [head + (f"\n    {text}" if text else "") for head, text in params]
    more = f"\n\n{inspect.cleandoc(more)}" if more else ""
    notes = f"\n\nNotes\n-----\n{inspect.cleandoc(notes)}" if notes else ""
    return f"""{summary}{more}

Parameters
----------
{chr(10).join(lines)}
{_NAME}

Returns
-------
{_KINDS}
    {returns}{notes}"""


def ufunc(summary: str, params=ARRAY, notes: str = "") -> str:
    """The docstring of an elementwise op: `summary`, then what a call computes and gives
    back; `params` documents its arguments, `notes` e.g. its derivative."""
    more = """Computed entry by entry, with numpy broadcasting: given arrays it returns numpy's
    value, given symbols it builds a graph node, given eager tensors it computes and records."""
    returns = "The same kind of value as the inputs, of their broadcast shape."
    return numpydoc(summary, params, returns, notes, more)


def reduction(summary: str, params=(), notes: str = "") -> str:
    """The docstring of a reduction over axes: `summary`, its parameters (`x`, `axis`,
    `keepdims`, then `params`), what it returns and `notes` (its derivative)."""
    returns = "`x` with the axes reduced (0-d when all are)."
    return numpydoc(summary, ARRAY + AXIS + tuple(params), returns, notes)
