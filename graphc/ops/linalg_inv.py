"""Determinants and inverses: det, slogdet, inv, solve, with the Matrix Cookbook's adjoints.

    d det(X)      = det(X) * inv(X).T        (for the cotangent 1)
    d log|det X|  = inv(X).T                 (slogdet's second result)
    d inv(X)      = -inv(X).T @ G @ inv(X).T
    d solve(A, b) : gb = solve(A.T, g), gA = -gb x.T   (one extra solve, no inverse)

All work on the last two axes and broadcast over leading ones, as numpy.linalg does. A
singular matrix has no inverse: `inv` and `solve` give NaN there (numpy raises
LinAlgError), in every mode; det is 0 and slogdet's log -inf, their gradients NaN.
"""

from __future__ import annotations

import numpy as np

from .. import runtime
from ..dispatch import Symbol
from ..errors import GradError, ShapeError
from . import costs
from .base import (
    REAL,
    OpDef,
    batch_rank,
    broadcast_shapes,
    float_dtype,
    fmt_shape,
    register,
    result_dtype,
)
from .batch_rules import batch_size, batched_all
from .linalg import matmul, outer
from .linalg_basic import _matrix, mT, rank, trace
from .shape import expand_dims, get, squeeze, sum_to


def _square(s, op: str):
    """Refuse a static shape that is not a stack of square matrices."""
    _matrix(s, op)
    if s is not None and None not in s[-2:] and s[-1] != s[-2]:
        raise ShapeError(f"{op}: needs square matrices (the last two axes), got {fmt_shape(s)}")


def _per_matrix(s, x):
    """A value per matrix of x (shape x.shape[:-2]) made to broadcast against x: as it is
    for a single matrix (a scalar), with two unit axes for a stack or an unknown rank."""
    return s if rank(x) == 2 else expand_dims(s, (-2, -1))


def _trace(m):
    """The trace of each matrix of m (over its last two axes)."""
    return trace(m) if rank(m) == 2 else trace(m, axis1=-2, axis2=-1)


class _Square(OpDef):
    """An op on a stack of square matrices with a floating result."""

    domain = "matrix"  # tests sample well-conditioned matrices

    def dtype(self, d):
        return float_dtype(d)


class Det(_Square):
    """`np.linalg.det(x)`: the determinant of each matrix (last two axes). Its gradient is
    `det(X)*inv(X).T` (Jacobi's formula); NaN at a singular matrix.

    >>> det(np.array([[2.0, 1.0], [1.0, 3.0]]))
    np.float64(5.000000000000001)
    """

    name, public = "det", True
    cost = costs.cubic(2 / 3)  # LU

    def shape(self, s):
        _square(s, self.name)
        return None if s is None else s[:-2]

    def impl(self, x):
        return np.linalg.det(x)

    def emit(self, x):
        return f"np.linalg.det({x})"

    def vjp(self, g, y, x):
        return (_per_matrix(g * y, x) * mT(inv(x)),)

    def jvp(self, ts, y, x):
        return y * _trace(solve(x, ts[0]))

    def batch(self, batched, y, x):
        return det(x)


class _MultiOutput(OpDef):
    """A tuple-valued op (numpy returns several arrays): calling it gives a tuple of
    symbols (`get` nodes), tensors or arrays. Rules receive `g` as a tuple (None: zero) and
    `y` as the node, or in eager mode as the tuple of results; `part(y, k)` reads either."""

    foldable, domain = False, "matrix"

    def __call__(self, *args, **kwargs):
        out = super().__call__(*args, **kwargs)
        if isinstance(out, Symbol):
            return tuple(get(out, index=k) for k in range(len(out.opdef.element_types(out))))
        return tuple(out)

    def node_type(self, inputs, attrs):
        self.types(*(x.shape for x in inputs), *(x.dtype for x in inputs), **attrs)
        return None, None

    def element_types(self, node) -> list:
        """(shape, dtype) of each result, for `get`."""
        x = node.inputs
        return self.types(*(v.shape for v in x), *(v.dtype for v in x), **node.attrs)


def part(y, k: int):
    """Result k of a tuple-valued node (or of the tuple of results in eager mode)."""
    return y[k] if isinstance(y, tuple) else get(y, index=k)


class SlogDet(_MultiOutput):
    """`np.linalg.slogdet(x)`: (sign, log|det|) of each matrix, without the overflow of
    det. The gradient of log|det X| is `inv(X).T`; the sign's is zero.

    >>> sign, logabsdet = slogdet(np.array([[0.0, 2.0], [3.0, 0.0]]))
    >>> float(sign), round(float(logabsdet), 6)
    (-1.0, 1.791759)
    """

    name, public = "slogdet", True
    cost = costs.cubic(2 / 3)  # LU

    def types(self, s, d):
        _square(s, self.name)
        t = (None if s is None else s[:-2], float_dtype(d))
        return [t, t]

    def impl(self, x):
        return tuple(np.linalg.slogdet(x))

    def emit(self, x):
        return f"np.linalg.slogdet({x})"

    def vjp(self, g, y, x):
        if g[1] is None:
            return (None,)
        return (_per_matrix(g[1], x) * mT(inv(x)),)

    def jvp(self, ts, y, x):
        return (None, _trace(solve(x, ts[0])))


class Inv(_Square):
    """`np.linalg.inv(x)`: the inverse of each matrix (NaN for a singular one, where numpy
    raises). Its gradient for the cotangent G is `-inv(X).T @ G @ inv(X).T`.

    >>> inv(np.array([[2.0, 0.0], [0.0, 4.0]]))
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    """

    name, public, fresh = "inv", True, True
    cost = costs.cubic(2)  # LU, then n solves

    def shape(self, s):
        _square(s, self.name)
        return s

    def impl(self, x):
        return runtime._inv(x)

    def emit(self, x):
        return f"_inv({x})"

    def vjp(self, g, y, x):
        yt = mT(y)
        return (-(yt @ g @ yt),)

    def jvp(self, ts, y, x):
        return -(y @ ts[0] @ y)

    def batch(self, batched, y, x):
        return inv(x)


def _vector_b(na, nb) -> bool | None:
    """Whether solve's b is a vector (numpy 2: exactly when it is 1-D); None if unknown."""
    return None if nb is None else nb == 1


def _solve_rule(side: int, g, a, b, x):
    """With ranks known: side 0 / 1, the cotangent of a / b for solve's cotangent g; side 2,
    the tangent of x = solve(a, b) that a's tangent g gives. One extra solve, no inverse."""
    na = rank(a)
    if rank(b) == 1:
        if na == 2:  # the textbook case, A x = b
            if side == 2:
                return -solve(a, g @ x)
            gb = solve(mT(a), g)
            return -outer(gb, x) if side == 0 else gb
        # A stack of matrices and one vector: each x is a column.
        col = lambda v: expand_dims(v, -1)  # noqa: E731
        if side == 2:
            return -squeeze(solve(a, matmul(g, col(x))), -1)
        gb = squeeze(solve(mT(a), col(g)), -1)
        return sum_to(-(col(gb) * expand_dims(x, -2)), a) if side == 0 else sum_to(gb, b)
    if side == 2:
        return -solve(a, g @ x)
    gb = solve(mT(a), g)
    return sum_to(-(gb @ mT(x)), a) if side == 0 else sum_to(gb, b)


class Solve(OpDef):
    """`np.linalg.solve(a, b)`: x with a @ x = b, for each matrix of a stack; b is a vector
    exactly when it is 1-D (numpy 2). The gradient takes one more solve, with a.T:
    `gb = solve(a.T, g)`, `ga = -outer(gb, x)` (never an explicit inverse).

    >>> solve(np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([1.0, 1.0]))
    array([0.5 , 0.25])
    """

    name, nin, public, fresh = "solve", 2, True, True
    domain = ("matrix", REAL)

    def cost(self, y, a, b):
        """LU (2/3 n^3 per matrix) and two triangular solves per right-hand side."""
        return costs.solve_flops(a, b), costs.moved(y, (a, b))

    def shape(self, a, b):
        _square(a, self.name)
        if b is not None and len(b) == 0:
            raise ShapeError("solve: b must not be a scalar")
        if a is None or b is None:
            return None
        if len(b) == 1:
            _aligned(a, b, b[0])
            return a[:-2] + (a[-1] if a[-1] is not None else b[0],)
        _aligned(a, b, b[-2])
        batch = broadcast_shapes(a[:-2], b[:-2], op=self.name)
        return batch + (a[-1] if a[-1] is not None else b[-2], b[-1])

    def dtype(self, a, b):
        return float_dtype(result_dtype(a, b))

    def impl(self, a, b):
        return runtime._solve(a, b)

    def emit(self, a, b):
        return f"_solve({a}, {b})"

    def vjp(self, g, y, a, b):
        if rank(a) is None or rank(b) is None:
            return tuple(solve_rule(g, a, b, y, side=k) for k in (0, 1))
        return _solve_rule(0, g, a, b, y), _solve_rule(1, g, a, b, y)

    def jvp(self, ts, y, a, b):
        ta, tb = ts
        terms = [] if tb is None else [solve(a, tb)]
        if ta is not None:
            known = rank(a) is not None and rank(b) is not None
            terms.append(_solve_rule(2, ta, a, b, y) if known else solve_rule(ta, a, b, y, side=2))
        return None if not terms else terms[0] if len(terms) == 1 else terms[0] + terms[1]

    def batch(self, batched, y, a, b):
        a, b = batched_all((a, b), batched, batch_size((a, b), batched))
        if len(b.shape) == 2:  # b was one vector: each entry's is a column
            col = batch_rank(expand_dims(b, -1), True, len(a.shape) - 1)
            return squeeze(solve(a, col), -1)
        r = len(y.shape)
        return solve(batch_rank(a, True, r), batch_rank(b, True, r))


def _aligned(a, b, k):
    if a[-1] is not None and k is not None and a[-1] != k:
        raise ShapeError(
            f"solve: shapes {fmt_shape(a)} and {fmt_shape(b)} are not aligned ({a[-1]} != {k})"
        )


_HIGHER_ORDER = (
    "solve: higher-order derivatives need the ranks of both operands; declare the vars' "
    "shapes (dims may be None)"
)


class SolveRule(OpDef):
    """`solve_rule(g, a, b, x, side)`: the derivative of x = solve(a, b) while the ranks
    are unknown (whether b is a vector decides the rule): the cotangent of a (side 0) or of
    b (side 1) for x's cotangent g, or the tangent of x that a's tangent g gives (side 2).
    Derivatives print it while the ranks are unknown; once they are known it becomes the
    textbook form (`solve(a.T, g)`, `-outer(solve(a.T, g), x)`).

    >>> a, b = np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([1.0, 1.0])
    >>> solve_rule(np.ones(2), a, b, solve(a, b), side=1)
    array([0.5 , 0.25])
    """

    name, nin, attr_names = "solve_rule", 4, ("side",)
    public = True
    fresh, domain = True, (REAL, "matrix", REAL, REAL)

    def cost(self, y, g, a, b, x, *, side):
        """A solve with `g` as the right-hand side (and an outer product for side 0)."""
        extra = costs.size(y) if side == 0 else 0
        return costs.solve_flops(a, g) + extra, costs.moved(y, (g, a, x))

    def check_attrs(self, attrs):
        side = attrs.get("side")
        if side not in (0, 1, 2) or isinstance(side, bool):
            raise ShapeError(f"solve_rule: bad side {side!r}")
        return {"side": int(side)}

    def shape(self, g, a, b, x, *, side):
        return (a, b, x)[side]

    def dtype(self, g, a, b, x, *, side):
        return result_dtype(g, x)

    def impl(self, g, a, b, x, *, side):
        return runtime._solve_rule(g, a, b, x, side)

    def emit(self, g, a, b, x, *, side):
        return f"_solve_rule({g}, {a}, {b}, {x}, {side})"

    def vjp(self, h, y, *xs, side):
        raise GradError(_HIGHER_ORDER)

    def jvp(self, ts, y, *xs, side):
        raise GradError(_HIGHER_ORDER)

    def resolve(self, g, a, b, x, *, side):
        if rank(a) is None or rank(b) is None:
            return None
        return _solve_rule(side, g, a, b, x)


det = register(Det())
slogdet = register(SlogDet())
inv = register(Inv())
solve = register(Solve())
solve_rule = register(SolveRule())
