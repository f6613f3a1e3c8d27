"""The QR decomposition, with the standard adjoint (Walter & Lehmann 2018; Seeger et al.
2017, "Auto-differentiating linear algebra").

`qr(x)` gives (q, r) with x = q @ r, q's columns orthonormal and r upper triangular, as
numpy.linalg.qr (`mode='reduced'` by default, 'complete', or 'r' for r alone). For x of m >= n
(reduced: q is m x n, r is n x n), with sym(M) = triu(M) + triu(M, 1).T (M's upper triangle
mirrored):

    gx = (gq + q sym(M)) r^-T,  M = gr r.T - q.T gq

and, with B = dx r^-1, X = q.T B and W = triu(X) + tril(X, -1).T,

    dr = W r,  dq = B - q W.

A wide x = [x1 | x2] (m < n) is the square x1 = q r1 and r2 = q.T x2 (as PyTorch does it):
gx1 is the rule above with gq + x2 gr2.T, gx2 = q gr2. Both need x's last two dims known
when the derivative is built (GradError otherwise). The products with r^-1 are solves, never
an inverse. Where x (or a wide x's leading square block) has not full rank the derivative does
not exist: r is singular and the derivatives are NaN (solve's convention; very large where
rounding leaves r nearly singular). With mode='complete' and m > n the extra columns of q are
not unique: no derivative (a GradError; the reduced factors have one).
"""

from __future__ import annotations

import numpy as np

from ..errors import ArgumentError, GradError
from . import costs
from .base import float_dtype, register
from .elementwise import zeros_like
from .linalg_basic import _matrix, mT
from .linalg_inv import _MultiOutput, part, solve
from .linalg_triangle import tril, triu
from .select import concatenate

_MODES = ("reduced", "complete", "r")


class QR(_MultiOutput):
    """`np.linalg.qr(x, mode='reduced')`: (q, r) of each matrix, x = q @ r; `mode='complete'`
    gives a square q, `mode='r'` r alone (it is `qr(x)[1]`). Gradient: Walter & Lehmann's
    rule (module notes), for shapes known when it is built.

    >>> q, r = qr(np.array([[3.0, 1.0], [4.0, 2.0]]))
    >>> np.allclose(q @ r, [[3.0, 1.0], [4.0, 2.0]]), abs(r[0, 0])
    (True, np.float64(5.0))
    """

    name, public, attr_names = "qr", True, ("mode",)

    def cost(self, y, x, *, mode):
        """Householder QR of each `m x n` matrix (p = min, q = max): `2 p^2 (q - p/3)` for r,
        as much again to form q."""
        batch, m, n = costs.matrices(x)
        p, q = min(m, n), max(m, n)
        each = 2 * p**2 * (q - p / 3) * (1 if mode == "r" else 2)
        return round(batch * each), costs.moved(y, (x,))

    def __call__(self, *args, **kwargs):
        out = super().__call__(*args, **kwargs)  # prepare checks the mode
        mode = args[1] if len(args) > 1 else kwargs.get("mode", "reduced")
        return out[1] if mode == "r" else out

    def prepare(self, x, mode="reduced"):
        return (x,), self.check_attrs({"mode": mode})  # 'r': the reduced r (__call__)

    def check_attrs(self, attrs):
        mode = attrs.get("mode")
        if mode is None or (isinstance(mode, str) and mode in ("reduced", "r")):
            return {"mode": None}  # stored None: the default, 'reduced'
        if isinstance(mode, str) and mode == "complete":
            return {"mode": mode}
        raise ArgumentError(
            f"qr: mode must be one of {', '.join(map(repr, _MODES))}, got {mode!r}"
        )

    def types(self, s, d, *, mode=None):
        _matrix(s, self.name)
        d = float_dtype(d)
        if s is None:
            return [(None, d)] * 2
        m, n = s[-2:]
        k = m if mode == "complete" else None if m is None or n is None else min(m, n)
        return [(s[:-2] + (m, k), d), (s[:-2] + (k, n), d)]

    def impl(self, x, *, mode):
        return tuple(np.linalg.qr(x, mode=mode or "reduced"))

    def emit(self, x, *, mode):
        return f"np.linalg.qr({x}, mode={mode or 'reduced'!r})"

    def vjp(self, g, y, x, *, mode):
        gq, gr = g
        if gq is None and gr is None:
            return (None,)
        m, n = _dims(x, mode)
        q, r = part(y, 0), part(y, 1)
        if m >= n:
            return (_tall_vjp(q, r, gq, gr),)
        x2 = x[..., :, m:]
        gr1, gr2 = (None, None) if gr is None else (gr[..., :, :m], gr[..., :, m:])
        if gr2 is not None:
            shifted = x2 @ mT(gr2)
            gq = shifted if gq is None else gq + shifted
        g1 = _tall_vjp(q, r[..., :, :m], gq, gr1)
        g2 = zeros_like(x2) if gr2 is None else q @ gr2
        return (concatenate([g1, g2], axis=-1),)

    def jvp(self, ts, y, x, *, mode):
        m, n = _dims(x, mode)
        q, r, t = part(y, 0), part(y, 1), ts[0]
        if m >= n:
            return _tall_jvp(q, r, t)
        dq, dr1 = _tall_jvp(q, r[..., :, :m], t[..., :, :m])
        dr2 = mT(dq) @ x[..., :, m:] + mT(q) @ t[..., :, m:]
        return dq, concatenate([dr1, dr2], axis=-1)


def _dims(x, mode):
    """x's last two dims, known (or a GradError), and q unique (not complete for m > n)."""
    s = getattr(x, "shape", None)
    if s is None or len(s) < 2 or None in s[-2:]:
        raise GradError(
            "qr: the derivative needs the last two dims of x known when it is built "
            "(a tall or a wide matrix take different rules): declare x's shape"
        )
    m, n = s[-2:]
    if mode == "complete" and m > n:
        raise GradError(
            f"qr: the derivative of mode='complete' of a {m} x {n} matrix does not exist (the "
            "extra columns of q are not unique); use mode='reduced'"
        )
    return m, n


def _tall_vjp(q, r, gq, gr):
    """(gq + q copyltu(M)) r^-T with M = gr r.T - q.T gq, for m >= n."""
    m = None if gr is None else gr @ mT(r)
    if gq is not None:
        m = -(mT(q) @ gq) if m is None else m - mT(q) @ gq
    b = q @ (triu(m) + mT(triu(m, 1)))
    b = b if gq is None else gq + b
    return mT(solve(r, mT(b)))


def _tall_jvp(q, r, t):
    """dq = B - q W, dr = W r with B = t r^-1, X = q.T B, W = triu(X) + tril(X, -1).T."""
    b = mT(solve(mT(r), mT(t)))
    xx = mT(q) @ b
    w = triu(xx) + mT(tril(xx, -1))
    return b - q @ w, w @ r


qr = register(QR())
