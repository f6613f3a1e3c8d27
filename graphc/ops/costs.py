"""Cost formulas of the op table: the flops and bytes one call of an op takes, from shapes.

Every `OpDef` has `cost(y, *xs, **attrs) -> (flops, bytes)`, called (by `gc.cost`) only
once every shape and dtype is static; None means the op's cost is not modelled. The default
is an elementwise op's (`entrywise`); families override it with the helpers here, so an op's
cost is written where the op is. Conventions: a multiply-add is two flops (`(m, k) @ (k, n)`
is `2*m*n*k`), an elementwise function (`exp`, `tanh`, ...) one flop per entry; the bytes are
those read and written, each input and the result once; a numpy view (a transpose, a
reshape, a broadcast) is free; a decomposition costs its textbook count (Golub & Van Loan).
"""

from __future__ import annotations

import math


def static(x) -> bool:
    """Are the node's shape and dtype static (each result's, for a tuple-valued node)? Only
    then may its op's `cost` be asked."""
    if x.shape is None:
        types = getattr(x.opdef, "element_types", None)
        return types is not None and all(
            s is not None and None not in s and d is not None for s, d in types(x)
        )
    return None not in x.shape and x.dtype is not None


def size(sym) -> int:
    """The number of entries of a node with a static shape."""
    return math.prod(sym.shape)


def nbytes(sym) -> int:
    """The bytes of a node's value (of all its results, for a tuple-valued node)."""
    if sym.shape is None:
        types = getattr(sym.opdef, "element_types", None)
        if types is None:
            raise ValueError(f"{sym.op}: no static shape")
        return sum(math.prod(s) * d.itemsize for s, d in types(sym))
    return size(sym) * sym.dtype.itemsize


def moved(y, xs, skip=()) -> int:
    """The bytes read (inputs, except positions in `skip`) and written (the result)."""
    return nbytes(y) + sum(nbytes(x) for i, x in enumerate(xs) if i not in skip)


def entrywise(op, y, *xs, **attrs) -> tuple[int, int]:
    """One flop per result entry; the inputs read (not those read for their shape only,
    `shape_only_inputs`) and the result written once: the `OpDef` default."""
    return size(y), moved(y, xs, op.shape_only_inputs)


def free(op, y, *xs, **attrs) -> tuple[int, int]:
    """Nothing computed or copied: a var, a constant, a numpy view."""
    return 0, 0


def copy(op, y, *xs, **attrs) -> tuple[int, int]:
    """No arithmetic; the result's entries read and written once (a gather, a join)."""
    return 0, 2 * nbytes(y)


def per_input_entry(flops: int):
    """A cost method of `flops` per entry of the first input (reductions, softmax)."""

    def cost(op, y, *xs, **attrs) -> tuple[int, int]:
        return flops * size(xs[0]), moved(y, xs, op.shape_only_inputs)

    cost.__doc__ = f"{flops} flop(s) per entry of the first input; inputs and result once."
    return cost


def not_modelled(op, y, *xs, **attrs) -> None:
    """The cost is not modelled (control flow: it depends on the trip count)."""
    return None


def matrices(x) -> tuple[int, int, int]:
    """(batch, rows, columns) of a stack of matrices."""
    *batch, m, n = x.shape
    return math.prod(batch), m, n


def cubic(coefficient: float):
    """A cost method for an op on a stack of square `n x n` matrices of
    `coefficient * n**3` flops per matrix (rounded)."""

    def cost(op, y, *xs, **attrs) -> tuple[int, int]:
        b, n, _ = matrices(xs[0])
        return round(b * coefficient * n**3), moved(y, xs)

    cost.__doc__ = f"{coefficient:g} n^3 flops per n x n matrix; inputs and results once."
    return cost


def contraction(subscripts: str, xs) -> int:
    """The flops of `np.einsum(subscripts, *xs)` computed directly: the product of every
    index's size, times one flop per operand beyond the first and one more for the sums
    (`ij,jk->ik` is `2*i*j*k`, `ij,ij->` is `2*i*j`, `i,j->ij` is `i*j`, `ii->` is `i`)."""
    inputs, output = subscripts.split("->")
    terms = inputs.split(",")
    dims = {c: d for term, x in zip(terms, xs) for c, d in zip(term, x.shape)}
    sums = len(terms) > 1 and any(c not in output for c in dims)
    return math.prod(dims.values()) * (max(1, len(terms) - 1) + sums)


def solve_flops(a, b) -> int:
    """LU of each `n x n` matrix of `a` (2/3 n^3) and the two triangular solves for each
    right-hand side column of `b` (2 n^2 per column)."""
    batch, n, _ = matrices(a)
    return round(batch * 2 * n**3 / 3) + 2 * n * size(b)


def svd_flops(batch: int, m: int, n: int, vectors: bool) -> int:
    """Golub-Reinsch SVD of `batch` matrices `m x n` (p = min, q = max of m and n): the
    singular values alone `4 q p^2 - 4/3 p^3`, with the reduced factors `14 q p^2 + 8 p^3`
    (Golub & Van Loan, table 8.6.1)."""
    p, q = min(m, n), max(m, n)
    each = 14 * q * p**2 + 8 * p**3 if vectors else 4 * q * p**2 - 4 * p**3 / 3
    return round(batch * each)
