"""The indexing part of the safe parser (`graphc.parse`): `x[...]` and JAX's update
`zeros_like(x).at[...].add(g)`, as `str` prints the gradient of indexing.

An index holds ints, slices of ints, None, ``...``, lists of ints or booleans (an index
array, as in numpy: ``x[[0, 2]]``) and expressions whose value is an integer array or a
boolean mask (``x[idx]``, ``x[x > 0]``).
"""

from __future__ import annotations

import ast

import numpy as np

from .dispatch import const
from .errors import ParseError
from .ir import Symbol


class IndexParser:
    """Methods of the parser's builder (`graphc.parse._Builder`) that read indices."""

    def subscript(self, node: ast.Subscript, depth: int):
        value = self.expr(node.value, depth + 1)
        sl = node.slice
        if isinstance(value, (list, tuple)):  # the results of a multi-output function
            k = self.index_int(sl)
            if not -len(value) <= k < len(value):
                self.fail(sl, f"index {k} out of range for {len(value)} results")
            return value[k]
        target = value if isinstance(value, Symbol) else const(value)
        return self.apply(node, "getitem", (target, self.index(sl, depth + 1)))

    def at_update(self, node: ast.Call, depth: int):
        """`zeros_like(x).at[index].add(g)` (JAX's functional update, as `str` prints the
        gradient of indexing): g added into zeros shaped like x at `index`."""
        sub = node.func.value
        base = self.array(sub.value.value, depth + 3)
        if len(node.args) != 1 or node.keywords:
            self.fail(node, ".at[...].add takes one argument")
        g = self.array(node.args[0], depth + 1)
        index = self.index(sub.slice, depth + 3)
        if base.op == "zeros_like":
            return self.apply(node, "index_grad", (g, base.inputs[0]), {"index": index})
        update = self.apply(node, "index_grad", (g, base), {"index": index})
        return self.apply(node, "add", (base, update))

    def index(self, sl: ast.AST, depth: int):
        items = sl.elts if isinstance(sl, ast.Tuple) else [sl]
        index = tuple(self.index_item(item, depth + 1) for item in items)
        return index if isinstance(sl, ast.Tuple) else index[0]

    def index_item(self, node: ast.AST, depth: int):
        if isinstance(node, ast.Slice):
            parts = [
                None if p is None else self.index_int(p)
                for p in (node.lower, node.upper, node.step)
            ]
            return slice(*parts)
        if isinstance(node, ast.Constant) and node.value is None:
            return None
        if isinstance(node, ast.Constant) and node.value is Ellipsis:
            return Ellipsis
        if isinstance(node, ast.List):
            return self.index_list(node, depth)
        value = self.expr(node, depth)
        if isinstance(value, Symbol) or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        self.fail(node, _INDEX_ITEMS)

    def index_list(self, node: ast.List, depth: int) -> np.ndarray:
        """`[0, 2]` in an index: an integer array or a boolean mask, as numpy reads it."""
        value = self.argument(node, depth)
        try:
            arr = np.array(value)
        except ValueError:  # ragged
            arr = None
        if arr is None or not (arr.dtype.kind in "biu" or arr.size == 0):
            self.fail(node, "an index list holds ints or booleans only")
        return arr if arr.size else arr.astype(np.intp)

    def index_int(self, node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and node.value is None:
            return None
        try:
            return self.int_literal(node)
        except ParseError:
            self.fail(node, "slice bounds and result numbers must be ints or None")


_INDEX_ITEMS = (
    "indices must be ints, slices of ints, None, ..., lists of ints or booleans, or "
    "integer or boolean arrays"
)


def is_at_update(node: ast.Call) -> bool:
    """Is `node` written `<array>.at[<index>].add(<value>)`?"""
    func = node.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "add"
        and isinstance(func.value, ast.Subscript)
        and isinstance(func.value.value, ast.Attribute)
        and func.value.value.attr == "at"
    )
