"""Decompositions of symmetric matrices: cholesky and eigh, with their standard adjoints
(Giles 2008; Murray 2016 for the Cholesky factor).

Both read the lower triangle of their input, as numpy does (the matrix they decompose is
`lower(x) = tril(x) + tril(x, -1).T`), and their derivatives are exactly those of that
function: a gradient lives on the lower triangle (the entries read), a tangent's upper
triangle is ignored. For a symmetric x, the symmetrised gradient of JAX and PyTorch is
`(g + g.T)/2` of this one's lower and upper halves. Where eigenvalues repeat, the eigenvectors are not unique
and their derivative does not exist: the gradient through `eigh`'s eigenvectors is then
not finite (inf or NaN, as in JAX and PyTorch), while a loss of the eigenvalues alone
keeps a finite gradient.
"""

from __future__ import annotations

import numpy as np

from .. import runtime
from . import costs
from .base import float_dtype, register
from .linalg_basic import diag_embed, diagonal, eye_like, mT
from .linalg_inv import _MultiOutput, _Square, _square, part, solve
from .linalg_triangle import tril
from .shape import expand_dims


def _lower(t):
    """The symmetric matrix a tangent of the input means (its lower triangle mirrored)."""
    return tril(t) + mT(tril(t, -1))


def _diagonal_part(m):
    """Each matrix's diagonal, zeros elsewhere (a product with an identity would do, but
    the printer parenthesises `eye(n)*(a @ b)` wrongly: issue-13 report)."""
    return diag_embed(diagonal(m, 0, -2, -1), m, 0, -2, -1)


def _lower_adjoint(g):
    """The adjoint of `_lower`: a cotangent G of the symmetric matrix, on the lower triangle
    (off the diagonal an entry is read twice)."""
    return tril(g + mT(g)) - _diagonal_part(g)


def _phi(m):
    """The lower triangle with the diagonal halved (Murray's Phi)."""
    return tril(m) - 0.5 * _diagonal_part(m)


class Cholesky(_Square):
    """`np.linalg.cholesky(x)`: the lower-triangular L with x = L @ L.T, for symmetric
    positive definite x (its lower triangle, as numpy; NaN where that is not positive
    definite, where numpy raises). Gradient: Murray's rule
    `S = inv(L).T @ Phi(L.T @ G) @ inv(L)` (computed with solves), on the lower triangle.

    >>> cholesky(np.array([[4.0, 2.0], [2.0, 5.0]]))
    array([[2., 0.],
           [1., 2.]])
    """

    name, public, fresh = "cholesky", True, True
    cost = costs.cubic(1 / 3)

    def shape(self, s):
        _square(s, self.name)
        return s

    def impl(self, x):
        return runtime._cholesky(x)

    def emit(self, x):
        return f"_cholesky({x})"

    def vjp(self, g, y, x):
        inner = _phi(mT(y) @ g)
        left = solve(mT(y), inner)  # inv(L).T @ Phi
        s = mT(solve(mT(y), mT(left)))  # ... @ inv(L)
        return (_lower_adjoint(s),)

    def jvp(self, ts, y, x):
        t = _lower(ts[0])
        inner = solve(y, mT(solve(y, mT(t))))  # inv(L) @ T @ inv(L).T
        return y @ _phi(inner)

    def batch(self, batched, y, x):
        return cholesky(x)


class Eigh(_MultiOutput):
    """`np.linalg.eigh(x)`: eigenvalues (ascending) and eigenvectors (columns) of symmetric
    x (its lower triangle). Gradient: `V @ (diag(gw) + F * (V.T @ gV)) @ V.T` with
    F_ij = 1/(w_j - w_i) off the diagonal (Giles 2008), on the lower triangle; not finite
    through the eigenvectors where eigenvalues repeat.

    >>> w, v = eigh(np.array([[2.0, 0.0], [0.0, 1.0]]))
    >>> w
    array([1., 2.])
    """

    name, public = "eigh", True
    cost = costs.cubic(9)  # symmetric QR with vectors

    def types(self, s, d):
        _square(s, self.name)
        d = float_dtype(d)
        return [(None if s is None else s[:-1], d), (s, d)]

    def impl(self, x):
        return tuple(np.linalg.eigh(x))

    def emit(self, x):
        return f"np.linalg.eigh({x})"

    array_api = "xp.linalg.eigh(_hermitian({0}))"  # its lower triangle, in any namespace

    def vjp(self, g, y, x):
        gw, gv = g
        w, v = part(y, 0), part(y, 1)
        inner = None
        if gw is not None:
            inner = expand_dims(gw, -1) * eye_like(v)
        if gv is not None:
            term = _gaps(w, v) * (mT(v) @ gv)
            inner = term if inner is None else inner + term
        if inner is None:
            return (None,)
        return (_lower_adjoint(v @ inner @ mT(v)),)

    def jvp(self, ts, y, x):
        w, v = part(y, 0), part(y, 1)
        rotated = mT(v) @ _lower(ts[0]) @ v
        return diagonal(rotated, axis1=-2, axis2=-1), v @ (_gaps(w, v) * rotated)


def _gaps(w, v):
    """F_ij = 1/(w_j - w_i) off the diagonal, 0 on it (inf where eigenvalues repeat)."""
    i = eye_like(v)
    return (1 - i) / (expand_dims(w, -2) - expand_dims(w, -1) + i)


cholesky = register(Cholesky())
eigh = register(Eigh())
