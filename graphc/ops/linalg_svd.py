"""The singular value decomposition, with Townsend's (2016) adjoint.

`svd(x)` gives (u, s, vh) with x = u @ (s[..., None] * vh), s descending, as
numpy.linalg.svd (`full_matrices=True` by default; `compute_uv=False` gives s alone). For x =
U S V.T with k = min(m, n) singular values, F_ij = 1/(s_j^2 - s_i^2) off the diagonal:

    gx = U [(F * (U.T gU - gU.T U)) S + diag(gs) + S (F * (V.T gV - gV.T V))] V.T
         + (I - U U.T) gU S^-1 V.T + U S^-1 gV.T (I - V V.T)

(the last two terms vanish where U or V is square, and are left out where the shape says so),
and the tangents dP = U.T dX V, dS = diag(dP),

    dU = U (F * (dP S + S dP.T)) + (I - U U.T) dX V S^-1
    dV = V (F * (S dP + dP.T S)) + (I - V V.T) dX.T U S^-1.

They need the reduced factors: a matrix that is not square has, with full_matrices=True,
columns of U or V that are not unique, and no derivative through them (a GradError naming
full_matrices=False; through s alone there is one). Where singular values repeat, or one is 0
in a matrix that is not square (or in U S^-1 terms), the singular vectors are not unique: the
gradient through u and vh is then not finite (inf or NaN, no guard, as in JAX and PyTorch),
while a loss of s alone keeps the finite gradient U diag(gs) V.T.
"""

from __future__ import annotations

import numpy as np

from ..errors import ArgumentError, GradError
from . import costs
from .base import float_dtype, register
from .linalg_basic import _matrix, diagonal, eye_like, mT
from .linalg_inv import _MultiOutput, part
from .shape import expand_dims


def _gaps(s):
    """F_ij = 1/(s_j**2 - s_i**2) off the diagonal, 0 on it (inf where values repeat)."""
    sq = s * s
    diff = expand_dims(sq, -2) - expand_dims(sq, -1)
    i = eye_like(diff)
    return (1 - i) / (diff + i)


def _flag(value, what: str):
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    raise ArgumentError(f"svd: {what} must be True or False, got {value!r}")


class SVD(_MultiOutput):
    """`np.linalg.svd(x, full_matrices=True, compute_uv=True)`: (u, s, vh) of each matrix,
    s descending; with `compute_uv=False`, s alone (it is `svd(x, full_matrices=False)[1]`).
    Gradient (Townsend 2016): `U @ diag(gs) @ Vh` through s; through u and vh the rule of the
    module's notes, which needs the reduced factors (`full_matrices=False`) for a matrix that
    is not square and is not finite where singular values repeat.

    >>> u, s, vh = svd(np.array([[3.0, 0.0], [0.0, -2.0]]))
    >>> s
    array([3., 2.])
    >>> svd(np.array([[0.0, 2.0], [1.0, 0.0], [0.0, 0.0]]), compute_uv=False)
    array([2., 1.])
    """

    name, public, attr_names = "svd", True, ("full_matrices",)

    def cost(self, y, x, *, full_matrices):
        """Golub-Reinsch with the reduced factors (`costs.svd_flops`)."""
        return costs.svd_flops(*costs.matrices(x), vectors=True), costs.moved(y, (x,))

    def __call__(self, *args, **kwargs):
        out = super().__call__(*args, **kwargs)  # prepare checks compute_uv
        uv = args[2] if len(args) > 2 else kwargs.get("compute_uv", True)
        return out if uv else out[1]

    def prepare(self, x, full_matrices=True, compute_uv=True):
        full = _flag(full_matrices, "full_matrices")
        if not _flag(compute_uv, "compute_uv"):
            full = False  # s alone: the reduced factors give it a gradient
        return (x,), self.check_attrs({"full_matrices": full})

    def check_attrs(self, attrs):
        full = attrs.get("full_matrices")
        # Stored None (the default, True) or False (which a printout shows).
        return {"full_matrices": None if full is None or _flag(full, "full_matrices") else False}

    def types(self, s, d, *, full_matrices=None):
        _matrix(s, self.name)
        d = float_dtype(d)
        if s is None:
            return [(None, d)] * 3
        m, n = s[-2:]
        k = None if m is None or n is None else min(m, n)
        full = full_matrices is None
        u = s[:-2] + ((m, m) if full else (m, k))
        vh = s[:-2] + ((n, n) if full else (k, n))
        return [(u, d), (s[:-2] + (k,), d), (vh, d)]

    def impl(self, x, *, full_matrices):
        return tuple(np.linalg.svd(x, full_matrices=full_matrices is None))

    def emit(self, x, *, full_matrices):
        return f"np.linalg.svd({x}, full_matrices={full_matrices is None})"

    def vjp(self, g, y, x, *, full_matrices):
        gu, gs, gvh = g
        if gu is None and gvh is None:  # the singular values alone: U diag(gs) V.T
            if gs is None:
                return (None,)
            if full_matrices is None and not _square(x):
                u, _, vh = svd(x, full_matrices=False)  # the k columns that s belongs to
            else:
                u, vh = part(y, 0), part(y, 2)
            return ((u * expand_dims(gs, -2)) @ vh,)
        _need_reduced(x, full_matrices)
        u, s, vh = (part(y, k) for k in range(3))
        f = _gaps(s)
        inner = 0.0 if gs is None else expand_dims(gs, -1) * eye_like(f)
        extra = None
        if gu is not None:
            j = mT(u) @ gu
            inner = inner + (f * (j - mT(j))) * expand_dims(s, -2)
            if _may_exceed(x, -2):  # (I - U U.T) gU S^-1 V.T
                extra = ((gu - u @ j) / expand_dims(s, -2)) @ vh
        if gvh is not None:
            gv = mT(gvh)
            k = vh @ gv
            inner = inner + expand_dims(s, -1) * (f * (k - mT(k)))
            if _may_exceed(x, -1):  # U S^-1 gV.T (I - V V.T)
                term = u @ (mT(gv - mT(vh) @ k) / expand_dims(s, -1))
                extra = term if extra is None else extra + term
        out = u @ inner @ vh
        return (out if extra is None else out + extra,)

    def jvp(self, ts, y, x, *, full_matrices):
        _need_reduced(x, full_matrices)
        u, s, vh = (part(y, k) for k in range(3))
        t, v = ts[0], mT(vh)
        dp = mT(u) @ t @ v
        f = _gaps(s)
        row, col = expand_dims(s, -2), expand_dims(s, -1)
        dps, sdp = dp * row, col * dp
        du = u @ (f * (dps + mT(dps)))
        if _may_exceed(x, -2):
            du = du + (t @ v - u @ dp) / row
        dv = v @ (f * (sdp + mT(sdp)))
        if _may_exceed(x, -1):
            dv = dv + (mT(t) @ u - v @ mT(dp)) / row
        return du, diagonal(dp, axis1=-2, axis2=-1), mT(dv)


def _square(x) -> bool:
    s = getattr(x, "shape", None)
    return s is not None and len(s) >= 2 and s[-1] is not None and s[-1] == s[-2]


def _may_exceed(x, axis: int) -> bool:
    """Whether x may have more rows (axis -2) or columns (axis -1) than the other: then U
    (or V) is not square and I - U U.T is not 0. False only where x's shape says so."""
    s = getattr(x, "shape", None)
    if s is None or len(s) < 2 or None in s[-2:]:
        return True
    m, n = s[-2:]
    return m > n if axis == -2 else n > m


def _need_reduced(x, full_matrices):
    if full_matrices is None and not _square(x):
        raise GradError(
            "svd: the derivative of u and vh of a matrix that is not square (or whose shape "
            "is not known) needs full_matrices=False: the extra columns are not unique"
        )


svd = register(SVD())
