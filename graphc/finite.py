"""Which values are not finite, said in the user's terms: the checks behind
`gc.compile(..., debug=True)` and `gc.check_finite` (graphc.diagnostics).

A program emitted with a check (`codegen.emit_program(..., check=...)`) calls it after each
operation's statement with the value and the node; `raise_nonfinite` is the debug mode's
check, `NonFinite` the summary both report.
"""

from __future__ import annotations

import numpy as np

from .errors import NonFiniteError
from .ir import Symbol, format_origin, origin_code
from .printing import one_line, to_str

EXPRESSION_WIDTH = 100  # a longer printed expression is cut, ending in "…"


class NonFinite:
    """The non-finite entries of one operation's value: `kind` ("nan", "inf", or
    "nan and inf"), `count` of `size` entries, the first one's `index`."""

    __slots__ = ("kind", "count", "size", "index")

    def __init__(self, kind: str, count: int, size: int, index: tuple):
        self.kind, self.count, self.size, self.index = kind, count, size, index

    def entries(self) -> str:
        """ "nan at 2 of 4 entries (first [0])", or "nan" for a scalar."""
        if not self.index and self.size == 1:
            return self.kind
        where = f"[{', '.join(map(str, self.index))}]"
        return f"{self.kind} at {self.count} of {self.size} entries (first {where})"


def nonfinite(value) -> NonFinite | None:
    """What is not finite in `value` (a floating or complex array or number), or None when
    every entry is finite or the value is not floating (integers, booleans, tuples).

    >>> nonfinite(np.array([1.0, np.nan, np.inf])).entries()
    'nan and inf at 2 of 3 entries (first [1])'
    >>> nonfinite(np.arange(3)) is None
    True
    """
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        if not isinstance(value, (float, complex)):
            return None
        value, dtype = np.asarray(value), np.asarray(value).dtype
    if dtype.kind not in "fc":
        return None
    finite = np.isfinite(value)
    if finite.all():
        return None
    bad = ~np.asarray(finite)
    nan = bool(np.isnan(value).any())
    inf = bool(np.isinf(value).any())
    kind = "nan and inf" if nan and inf else "nan" if nan else "inf"
    first = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
    return NonFinite(kind, int(bad.sum()), int(bad.size), first)


def expression(node: Symbol, width: int = EXPRESSION_WIDTH) -> str:
    """`node` printed on one line by the readable printer, cut at `width` characters."""
    text = " ".join(one_line(to_str(node)).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def describe(node: Symbol, found: NonFinite, phase: str | None = None) -> str:
    """ "file:line: the sqrt operation gives nan at 2 of 4 entries (first [0]): sqrt(x)",
    then the user's source line."""
    what = f"the {node.op} operation" + (f" of the {phase} pass" if phase else "")
    text = f"{format_origin(node.origin)}: {what} gives {found.entries()}: {expression(node)}"
    code = origin_code(node.origin)
    return f"{text}\n    {code}" if code else text


def raise_nonfinite(value, node: Symbol) -> None:
    """The check of `gc.compile(..., debug=True)`: a `NonFiniteError` naming `node` (its op,
    expression and user line) when `value` has a NaN or an infinity."""
    found = nonfinite(value)
    if found is not None:
        raise NonFiniteError(
            f"{describe(node, found)}\n(the first operation of the program whose value is "
            "not finite: gc.compile(..., debug=True) checks each one)"
        )
