"""`norm`: numpy.linalg.norm's vector and matrix norms, with derivatives.

A vector norm reduces one axis (or, with `ord` and `axis` None, all entries: the 2-norm of
the flattened array); a matrix norm reduces two. Every norm but the count `ord=0` has the
derivative sum(D * t) over the reduced axes for a direction D shaped like x, so one D gives
the VJP `g * D` and the JVP. Where a norm has no derivative, the subgradient is JAX's:

- 2-norm, 'fro' and p-norms at x = 0: NaN (x/0), as JAX (PyTorch gives 0);
- 1-norm: sign(x), 0 at a zero entry (JAX and PyTorch);
- inf, -inf and the matrix norms 1, -1, inf, -inf (largest or smallest absolute entry, column
  or row sum): tied entries share the gradient evenly, as `max` and `min` do (JAX, PyTorch);
- matrix 2 and -2: u v.T of the largest (smallest) singular value, tied values sharing
  evenly (U diag(w) V.T); 'nuc': U V.T (also where a singular value is 0).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ArgumentError, GradError, ShapeError
from . import array_api as forms
from . import costs
from .base import OpDef, check_axis_attr, float_dtype, normalize_axis, register
from .batch_rules import batch_axis
from .elementwise import abs, sign, sqrt, square, zeros_like
from .linalg_svd import svd
from .rearrange import moveaxis
from .reduce import max as reduce_max
from .reduce import min as reduce_min
from .reduce import sum as reduce_sum
from .shape import expand_dims

_INF = math.inf
_MATRIX_ORDS = (None, "fro", "nuc", 2, -2, 1, -1, _INF, -_INF)
_AMBIGUOUS = "a vector or a matrix norm"  # ord without axis, rank unknown


def _check_ord(ord):
    if ord is None:
        return None
    if isinstance(ord, str) and ord in ("fro", "f", "nuc"):
        return "fro" if ord == "f" else ord
    number = (int, float, np.integer, np.floating)
    if isinstance(ord, number) and not isinstance(ord, (bool, np.bool_)) and ord == ord:
        value = float(ord)
        return int(value) if value.is_integer() else value
    raise ArgumentError(f"norm: ord must be None, a number, 'fro' or 'nuc', got {ord!r}")


def _check_kind(ord, count):
    """An ord that fits a vector norm (one axis) or a matrix norm (two)."""
    if count == 1 and isinstance(ord, str):
        raise ArgumentError(f"norm: ord={ord!r} is a matrix norm; one axis takes a number")
    if count == 2 and ord not in _MATRIX_ORDS:
        raise ArgumentError(
            f"norm: ord={ord!r} is no matrix norm (None, 'fro', 'nuc', 2, -2, 1, -1, inf, -inf)"
        )


def _axes(ord, axis, ndim):
    """The reduced axes: (a,) for a vector norm, (r, c) for a matrix norm, None for all
    entries (ord None); `_AMBIGUOUS` for ord without axis and an unknown rank."""
    if axis is not None:
        return (axis,) if isinstance(axis, int) else axis
    if ord is None:
        return None
    ranks = (2,) if isinstance(ord, str) else (1, 2) if ord in _MATRIX_ORDS else (1,)
    if ndim is None:
        return tuple(range(ranks[0])) if len(ranks) == 1 else _AMBIGUOUS
    if ndim not in ranks:
        raise ShapeError(
            f"norm: ord={ord!r} without axis takes a {' or '.join(map(str, ranks))}-d array, "
            f"got rank {ndim} (pass axis)"
        )
    return tuple(range(ndim))


def _rank(x):
    s = getattr(x, "shape", None)
    return None if s is None else len(s)


class Norm(OpDef):
    """`np.linalg.norm(x, ord=None, axis=None, keepdims=False)`: with `axis` an int (or `x`
    a vector) a vector norm, `sum(abs(x)**ord)**(1/ord)` (None: 2; inf, -inf: the largest,
    smallest absolute entry; 0: the count of nonzero entries); with `axis` a pair (or `x` a
    matrix and `ord` given) a matrix norm: 'fro' (None), 'nuc' (sum of singular values), 2
    and -2 (largest, smallest), 1 and -1 (largest, smallest column sum of absolute values),
    inf and -inf (row sums). Without `ord` and `axis`, the 2-norm of all entries. Gradients:
    `x/norm` for 2 and 'fro' (NaN at 0, as JAX), `U @ Vh` for 'nuc'; see the module notes.

    >>> x = np.array([[3.0, 0.0], [0.0, -4.0]])
    >>> float(norm(x)), float(norm(x, ord="nuc")), float(norm(x, ord=1))
    (5.0, 7.0, 4.0)
    >>> norm(x, ord=np.inf, axis=1)
    array([3., 4.])
    """

    name, attr_names = "norm", ("ord", "axis", "keepdims")
    public, methods = True, ("norm",)
    domain = "nonzero"

    def cost(self, y, x, *, ord, axis, keepdims):
        """Two flops per entry (a vector, Frobenius or entry-sum norm); the singular values
        (`costs.svd_flops`) for a matrix 2-norm or nuclear norm."""
        axes = _axes(ord, axis, len(x.shape))
        if ord in (2, -2, "nuc") and axes is not None and len(axes) == 2:
            m, n = x.shape[axes[0]], x.shape[axes[1]]
            flops = costs.svd_flops(costs.size(x) // max(m * n, 1), m, n, vectors=False)
            return flops, costs.moved(y, (x,))
        return 2 * costs.size(x), costs.moved(y, (x,))

    def prepare(self, x, ord=None, axis=None, keepdims=False):
        return (x,), self.check_attrs({"ord": ord, "axis": axis, "keepdims": keepdims})

    def check_attrs(self, attrs):
        ord = _check_ord(attrs.get("ord"))
        axis = check_axis_attr(attrs.get("axis"), self.name)
        keepdims = attrs.get("keepdims", False)
        if not isinstance(keepdims, (bool, np.bool_)):
            raise ArgumentError(f"norm: keepdims must be a bool, got {keepdims!r}")
        count = None if axis is None else 1 if isinstance(axis, int) else len(axis)
        if count not in (None, 1, 2):
            raise ArgumentError(f"norm: axis must be an int or a pair of ints, got {axis!r}")
        _check_kind(ord, count)
        return {"ord": ord, "axis": axis, "keepdims": bool(keepdims)}

    def shape(self, s, *, ord, axis, keepdims):
        axes = _axes(ord, axis, None if s is None else len(s))
        if not keepdims and axis is None:
            return ()
        if s is None:
            return None
        if axes is None:
            return (1,) * len(s)
        found = normalize_axis(axes, len(s), self.name)
        if len(set(found)) != len(axes):
            raise ShapeError(f"norm: repeated axis in {axis!r}")
        if keepdims:
            return tuple(1 if i in found else d for i, d in enumerate(s))
        return tuple(d for i, d in enumerate(s) if i not in found)

    def dtype(self, d, *, ord, axis, keepdims):
        return float_dtype(d)

    def impl(self, x, *, ord, axis, keepdims):
        return np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)

    array_api = staticmethod(forms.norm)

    def emit(self, x, *, ord, axis, keepdims):
        text = "" if ord is None else f", ord={_ord_text(ord)}"
        text += "" if axis is None else f", axis={axis!r}"
        return f"np.linalg.norm({x}{text}{', keepdims=True' if keepdims else ''})"

    def _reduced(self, x, ord, axis):
        axes = _axes(ord, axis, _rank(x))
        if axes is _AMBIGUOUS:
            raise GradError(
                f"norm: the derivative of norm(x, ord={_ord_text(ord)}) without axis needs x's "
                "rank (1: a vector norm, 2: a matrix norm): declare x's shape or pass axis"
            )
        return axes

    def vjp(self, g, y, x, *, ord, axis, keepdims):
        axes = self._reduced(x, ord, axis)
        if ord == 0:  # a count
            return (zeros_like(x),)
        return (_back(g, x, axes, keepdims) * _direction(x, y, ord, axes, keepdims),)

    def jvp(self, ts, y, x, *, ord, axis, keepdims):
        axes = self._reduced(x, ord, axis)
        if ord == 0:
            return zeros_like(y)
        return reduce_sum(_direction(x, y, ord, axes, keepdims) * ts[0], axes, keepdims)

    def batch(self, batched, y, x, *, ord, axis, keepdims):
        ndim = len(y.inputs[0].shape)
        axes = _axes(ord, axis, ndim)
        if axes is not None:
            shifted = tuple(batch_axis(a, ndim) for a in axes)  # in order: (rows, columns)
            return norm(x, ord=ord, axis=shifted, keepdims=keepdims)
        if x.dtype.kind == "c":
            return None
        return sqrt(reduce_sum(square(x), tuple(range(1, ndim + 1)), keepdims))


def _ord_text(ord) -> str:
    """ord as numpy code reads it (np.inf for inf)."""
    if isinstance(ord, float) and math.isinf(ord):
        return "np.inf" if ord > 0 else "-np.inf"
    return repr(ord)


def _back(v, x, axes, keepdims):
    """`v`, shaped like the norm, with the reduced axes back as size-1 dims where x's other
    axes need them for broadcasting."""
    if keepdims or axes is None or len(axes) == _rank(x):
        return v
    return expand_dims(v, axes)


def _direction(x, y, ord, axes, keepdims):
    """D with d norm = sum(D * dx) over `axes`."""
    big = _back(y, x, axes, keepdims)
    if axes is not None and len(axes) == 2:
        return _matrix_direction(x, big, ord, axes)
    if ord in (None, 2):
        return x / big
    if ord == 1:
        return sign(x)
    if ord in (_INF, -_INF):  # the extreme absolute entries, ties sharing
        return sign(x) * reduce_max._weights(big, abs(x), axes, True)
    return sign(x) * (abs(x) / big) ** (ord - 1)


def _matrix_direction(x, big, ord, axes):
    r, c = axes
    if ord in (None, "fro"):
        return x / big
    if ord in (1, -1):  # an extreme column sum: the sum over rows r, the extreme over c
        return sign(x) * reduce_max._weights(big, reduce_sum(abs(x), r, True), c, True)
    if ord in (_INF, -_INF):  # an extreme row sum
        return sign(x) * reduce_max._weights(big, reduce_sum(abs(x), c, True), r, True)
    return _spectral(x, ord, r, c)


def _spectral(x, ord, r, c):
    """The direction of 'nuc' (U @ Vh), 2 and -2 (u v.T of the extreme singular value)."""
    ndim = _rank(x)
    last = (r, c) == (-2, -1) or (
        ndim is not None and (r % ndim, c % ndim) == (ndim - 2, ndim - 1)
    )
    u, s, vh = svd(x if last else moveaxis(x, (r, c), (-2, -1)), full_matrices=False)
    if ord == "nuc":
        d = u @ vh
    else:
        pick = reduce_max if ord == 2 else reduce_min
        w = pick._weights(pick(s, axis=-1, keepdims=True), s, -1, True)
        d = (u * expand_dims(w, -2)) @ vh
    return d if last else moveaxis(d, (-2, -1), (r, c))


norm = register(Norm())
