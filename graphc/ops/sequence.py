"""Ops along an axis: cumsum, cumprod, diff, sort (and its derivative's reordering
`sorted_like`), linspace and cross.

cumprod's derivatives are exact where entries are zero (the product of the other entries,
never a division by zero); sort's gradient follows the permutation that sorts (ties in
numpy's stable order).
"""

from __future__ import annotations

import numpy as np

from ..errors import ArgumentError, ShapeError
from . import array_api as forms
from . import costs
from .base import (
    OpDef,
    batch_rank,
    broadcast_shapes,
    fmt_shape,
    known,
    normalize_axis,
    register,
    result_dtype,
)
from .batch_rules import batch_axis, batch_size, batched_all
from .elementwise import equal, ones_like, where, zeros_like
from .rearrange import along, flip, full_cotangent, ravel
from .reduce import dtype_by_running
from .reduce import sum as reduce_sum
from .select import concatenate, getitem
from .shape import broadcast_like, expand_dims, reshape, reshape_like, sum_to


def _axis(value, op: str, allow_none: bool = True):
    if value is None and allow_none:
        return None
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise ArgumentError(f"{op}: axis must be an int, got {value!r}")
    return int(value)


def _flat(x, axis):
    """`x` and the axis a cumulative op works along (None: the flattened array, axis 0)."""
    return (ravel(x), 0) if axis is None else (x, axis)


def reverse_cumsum(g, axis: int):
    """The sums of `g` from each entry to the end along `axis` (the adjoint of cumsum)."""
    return flip(cumsum(flip(g, axis), axis), axis)


class _Cumulative(OpDef):
    """`np.<name>(x, axis)`: running totals along `axis` (the flattened array when None)."""

    attr_names, fresh = ("axis",), True

    def prepare(self, x, axis=None):
        return (x,), self.check_attrs({"axis": axis})

    def check_attrs(self, attrs):
        return {"axis": _axis(attrs.get("axis"), self.name)}

    def shape(self, s, *, axis):
        if axis is None:
            return (int(np.prod(s)),) if known(s) else (None,)
        if s is not None:
            normalize_axis(axis, len(s), self.name)
        return s

    def dtype(self, d, *, axis):
        return dtype_by_running(self, d, 1)

    def impl(self, x, *, axis):
        return getattr(np, self.name)(x, axis)

    def emit(self, x, *, axis):
        return f"np.{self.name}({x}, {axis!r})"

    def array_api(self, x, *, axis):
        if self.name == "cumprod":
            return f"_cumulative_prod({x}, {axis!r})"
        if axis is None:
            return f"xp.cumulative_sum({forms.flat(x)})"
        return f"xp.cumulative_sum({x}, axis={axis})"

    def batch(self, batched, y, x, *, axis):
        if axis is None:
            return self(reshape(x, (x.shape[0], -1)), 1)
        return self(x, batch_axis(axis, len(y.shape)))


class CumSum(_Cumulative):
    """Cumulative sums."""

    name, public, methods = "cumsum", True, ("cumsum",)

    def vjp(self, g, y, x, *, axis):
        return (reshape_like(reverse_cumsum(full_cotangent(g, y), axis or 0), x),)

    def jvp(self, ts, y, x, *, axis):
        return cumsum(ts[0], axis)


class _ZeroPlan:
    """Where the zeros of `x` are along `axis`, for cumprod's exact derivatives: `before`
    (no zero up to and including the entry), `first` and `second` (the first two zeros),
    `safe` (x before the first zero, else 1: a divisor), `others` (x with its zeros made 1),
    `x_first` (the first zero's value, 0, kept as a function of x), `y_skip` and
    `y_skip2` (the cumulative products with the first zero, or the first two, made 1)."""

    def __init__(self, x, axis):
        self.zero = equal(x, 0)
        seen = cumsum(self.zero, axis)
        self.before = equal(seen, 0)
        self.first = self.zero * equal(seen, 1)
        self.second = self.zero * equal(seen, 2)
        self.safe = where(self.before, x, 1)
        self.others = where(self.zero, 1, x)
        self.x_first = reduce_sum(where(self.first, x, 0), axis=axis, keepdims=True)
        self.y_skip = cumprod(where(self.first, 1, x), axis)
        self.y_skip2 = cumprod(where(self.first + self.second, 1, x), axis)


class CumProd(_Cumulative):
    """Cumulative products, with derivatives exact where entries are zero: before the first
    zero along the axis they are the usual y/x forms; the others are products that skip the
    first zero (or the first two), times that zero's value kept as a function of x, so that
    second derivatives are exact at any zeros too."""

    name, public, methods = "cumprod", True, ("cumprod",)

    def vjp(self, g, y, x, *, axis):
        g = full_cotangent(g, y)
        x1, a = _flat(x, axis)
        p = _ZeroPlan(x1, a)
        skip = reverse_cumsum(g * p.y_skip, a)
        later = where(
            p.zero,
            p.x_first * reverse_cumsum(g * p.y_skip2, a),
            p.x_first * skip / p.others,
        )
        out = where(p.before, reverse_cumsum(g * y, a) / p.safe, where(p.first, skip, later))
        return (reshape_like(out, x),)

    def jvp(self, ts, y, x, *, axis):
        x1, a = _flat(x, axis)
        t, _ = _flat(ts[0], axis)
        p = _ZeroPlan(x1, a)
        t_first = reduce_sum(where(p.first, t, 0), axis=a, keepdims=True)
        t_second = cumsum(where(p.second, t, 0), a)
        rest = p.y_skip * cumsum(where(p.zero, 0, t) / p.others, a)
        later = t_first * p.y_skip + p.x_first * (t_second * p.y_skip2 + rest)
        return where(p.before, y * cumsum(t / p.safe, a), later)


class Diff(OpDef):
    """`np.diff(x, n, axis)`: the n-th differences along `axis`."""

    name, attr_names, public = "diff", ("n", "axis"), True  # not fresh: n=0 gives x itself

    def prepare(self, x, n=1, axis=-1):
        return (x,), self.check_attrs({"n": n, "axis": axis})

    def check_attrs(self, attrs):
        n = _axis(attrs.get("n", 1), "diff: n", allow_none=False)
        if n < 0:
            raise ShapeError(f"diff: order n must be non-negative, got {n}")
        return {"n": n, "axis": _axis(attrs.get("axis", -1), "diff", allow_none=False)}

    def shape(self, s, *, n, axis):
        if s is None:
            return None
        if not s:
            raise ShapeError("diff: needs at least one dimension")
        a = normalize_axis(axis, len(s), "diff")[0]
        return s[:a] + (None if s[a] is None else max(0, s[a] - n),) + s[a + 1 :]

    def dtype(self, d, *, n, axis):
        return d

    def impl(self, x, *, n, axis):
        return np.diff(x, n, axis)

    def emit(self, x, *, n, axis):
        return f"np.diff({x}, {n}, {axis})"

    def array_api(self, x, *, n, axis):
        for _ in range(n):
            x = f"({forms.along(x, axis, '1', '')} - {forms.along(x, axis, '', '-1')})"
        return x

    def vjp(self, g, y, x, *, n, axis):
        # y_i = x_(i+1) - x_i, so dL/dx_k = g_(k-1) - g_k: -diff of g padded with zeros.
        shape = getattr(x, "shape", None)
        if shape is not None and shape[axis] is not None and shape[axis] <= n:
            return (zeros_like(x),)  # an empty result
        g = full_cotangent(g, y)
        for _ in range(n):
            pad = zeros_like(getitem(g, along(axis, slice(0, 1))))
            g = -diff(concatenate([pad, g, pad], axis), 1, axis)
        return (g,)

    def jvp(self, ts, y, x, *, n, axis):
        return diff(ts[0], n, axis)

    def batch(self, batched, y, x, *, n, axis):
        return diff(x, n, batch_axis(axis, len(y.shape)))


class Sort(OpDef):
    """`np.sort(x, axis)` (the flattened array when `axis` is None). The gradient goes back
    through the sorting permutation; tied entries are ordered as numpy's stable sort orders
    them (each gets the cotangent of its place)."""

    name, attr_names, public, fresh = "sort", ("axis",), True, True

    def cost(self, y, x, *, axis):
        """`n log2 n` comparisons along the sorted axis (of length n)."""
        n = costs.size(x) if axis is None else x.shape[axis]
        return round(costs.size(x) * float(np.log2(max(n, 2)))), costs.moved(y, (x,))

    def prepare(self, x, axis=-1):
        if axis is None:
            return (ravel(x),), {"axis": -1}
        return (x,), self.check_attrs({"axis": axis})

    def check_attrs(self, attrs):
        return {"axis": _axis(attrs.get("axis", -1), "sort", allow_none=False)}

    def shape(self, s, *, axis):
        if s is not None:
            if not s:
                raise ShapeError("sort: needs at least one dimension (axis=None flattens)")
            normalize_axis(axis, len(s), "sort")
        return s

    def dtype(self, d, *, axis):
        return d

    def impl(self, x, *, axis):
        return np.sort(x, axis)

    def emit(self, x, *, axis):
        return f"np.sort({x}, {axis})"

    def array_api(self, x, *, axis):
        return f"xp.sort({x}, axis={axis})"

    def vjp(self, g, y, x, *, axis):
        return (sorted_like(full_cotangent(g, y), x, axis=axis, inverse=True),)

    def jvp(self, ts, y, x, *, axis):
        return sorted_like(ts[0], x, axis=axis, inverse=False)

    def batch(self, batched, y, x, *, axis):
        return sort(x, batch_axis(axis, len(y.shape)))


_STABLE = "kind='stable'"


class SortedLike(OpDef):
    """`g` reordered along `axis` as sorting `x` reorders it (numpy's stable order), or with
    `inverse`, put back from that order: the derivatives of sort (each the other's adjoint).

    >>> import graphc as gc, numpy as np
    >>> x = np.array([3.0, 1.0, 2.0])
    >>> gc.sorted_like(np.array([10.0, 20.0, 30.0]), x)
    array([20., 30., 10.])
    >>> gc.sorted_like(np.array([20.0, 30.0, 10.0]), x, inverse=True)
    array([10., 20., 30.])
    """

    name, nin, attr_names = "sorted_like", 2, ("axis", "inverse")

    def array_api(self, g, x, *, axis, inverse):
        return f"_sorted_like({g}, {x}, {axis}, {inverse})"

    cost = costs.copy
    nondiff_inputs, fresh, public = (1,), True, True

    def prepare(self, g, x, axis=-1, inverse=False):
        return (g, x), self.check_attrs({"axis": axis, "inverse": inverse})

    def check_attrs(self, attrs):
        inverse = attrs.get("inverse")
        if not isinstance(inverse, (bool, np.bool_)):
            raise ArgumentError(f"sorted_like: inverse must be a bool, got {inverse!r}")
        return {"axis": _axis(attrs.get("axis"), "sorted_like", False), "inverse": bool(inverse)}

    def shape(self, g, x, *, axis, inverse):
        return broadcast_shapes(g, x, op="sorted_like")

    def dtype(self, g, x, *, axis, inverse):
        # A weak Python number (the head 1.0) takes the dtype numpy gives it next to x.
        if g is None or isinstance(g, np.dtype):
            return g
        return None if x is None else result_dtype(x, g)

    def impl(self, g, x, *, axis, inverse):
        order = np.argsort(x, axis=axis, kind="stable")
        if inverse:
            order = np.argsort(order, axis=axis, kind="stable")
        return np.take_along_axis(np.asarray(g), order, axis=axis)

    def emit(self, g, x, *, axis, inverse):
        order = f"np.argsort({x}, axis={axis}, {_STABLE})"
        if inverse:
            order = f"np.argsort({order}, axis={axis}, {_STABLE})"
        return f"np.take_along_axis({g}, {order}, axis={axis})"

    def vjp(self, gbar, y, g, x, *, axis, inverse):
        return sorted_like(gbar, x, axis=axis, inverse=not inverse), None

    def jvp(self, ts, y, g, x, *, axis, inverse):
        return None if ts[0] is None else sorted_like(ts[0], x, axis=axis, inverse=inverse)

    def batch(self, batched, y, g, x, *, axis, inverse):
        g, x = batched_all((g, x), batched, batch_size((g, x), batched))
        return sorted_like(g, x, axis=batch_axis(axis, len(y.shape)), inverse=inverse)


class Linspace(OpDef):
    """`np.linspace(start, stop, num, endpoint)` for scalar `start` and `stop`: a constant
    when they are numbers, linear in them otherwise."""

    name, nin, attr_names = "linspace", 2, ("num", "endpoint")
    public, fresh = True, True

    def prepare(self, start, stop, num=50, endpoint=True):
        return (start, stop), self.check_attrs({"num": num, "endpoint": endpoint})

    def check_attrs(self, attrs):
        num = _axis(attrs.get("num", 50), "linspace: num", allow_none=False)
        endpoint = attrs.get("endpoint", True)
        if num < 0 or not isinstance(endpoint, (bool, np.bool_)):
            raise ArgumentError(
                f"linspace: num must be a non-negative int and endpoint a bool, got "
                f"{num!r} and {endpoint!r}"
            )
        return {"num": num, "endpoint": bool(endpoint)}

    def shape(self, a, b, *, num, endpoint):
        for s in (a, b):
            if s is not None and s != ():
                raise ShapeError(f"linspace: start and stop must be scalars, got {fmt_shape(s)}")
        return (num,)

    def dtype(self, a, b, *, num, endpoint):
        if a is None or b is None:
            return None
        keys = [np.ones((), d) if isinstance(d, np.dtype) else d for d in (a, b)]
        return self.impl(*keys, num=2, endpoint=endpoint).dtype

    def impl(self, a, b, *, num, endpoint):
        return np.linspace(a, b, num, endpoint)

    def emit(self, a, b, *, num, endpoint):
        return f"np.linspace({a}, {b}, {num}, {endpoint})"

    def array_api(self, a, b, *, num, endpoint):
        steps = max(1, num - 1) if endpoint else max(1, num)
        ramp = f"xp.arange({num}, dtype=xp.result_type({a}, {b}), device=dev)"
        return f"{a} + {ramp} * (({b} - {a}) / {steps})"

    def fractions(self, y, num, endpoint):
        """k / (num - 1) (or k / num without the endpoint), in y's dtype."""
        steps = max(1, num - 1) if endpoint else max(1, num)
        return (cumsum(ones_like(y), 0) - 1) / steps

    def vjp(self, g, y, a, b, *, num, endpoint):
        t = self.fractions(y, num, endpoint)
        g = full_cotangent(g, y)
        return reduce_sum(g * (1 - t)), reduce_sum(g * t)

    def jvp(self, ts, y, a, b, *, num, endpoint):
        t = self.fractions(y, num, endpoint)
        ta, tb = ts
        terms = [(1 - t) * ta if ta is not None else None, t * tb if tb is not None else None]
        return _total(terms, y)

    def batch(self, batched, y, a, b, *, num, endpoint):
        steps = max(1, num - 1) if endpoint else max(1, num)
        t = (np.arange(num) / steps).astype(y.dtype)
        a, b = (expand_dims(v, -1) if k else v for v, k in zip((a, b), batched))
        return (1 - t) * a + t * b


def _total(terms, y):
    """The sum of the tangent terms that are not None, at y's shape (None if none is)."""
    terms = [t for t in terms if t is not None]
    return None if not terms else broadcast_like(sum(terms[1:], terms[0]), y)


class Cross(OpDef):
    """`np.cross(a, b)` of 3-vectors along the last axis (broadcast over the others)."""

    name, nin, public, fresh = "cross", 2, True, True

    def shape(self, a, b):
        for s in (a, b):
            if s is not None and (not s or s[-1] not in (3, None)):
                raise ShapeError(
                    f"cross: vectors of 3 along the last axis only, got {fmt_shape(s)}"
                )
        if a is None or b is None:
            return None
        return broadcast_shapes(a, b, op="cross")

    def dtype(self, a, b):
        return result_dtype(a, b)

    def impl(self, a, b):
        return np.cross(a, b)

    def emit(self, a, b):
        return f"np.cross({a}, {b})"

    # g . (a x b) = a . (b x g) = b . (g x a)
    def vjp(self, g, y, a, b):
        g = full_cotangent(g, y)
        return sum_to(cross(b, g), a), sum_to(cross(g, a), b)

    def jvp(self, ts, y, a, b):
        ta, tb = ts
        return _total(
            [None if ta is None else cross(ta, b), None if tb is None else cross(a, tb)], y
        )

    def batch(self, batched, y, a, b):
        rank = len(y.shape)
        return cross(*(batch_rank(x, k, rank) for x, k in zip((a, b), batched)))


cumsum = register(CumSum())
cumprod = register(CumProd())
diff = register(Diff())
sort = register(Sort())
sorted_like = register(SortedLike())
linspace = register(Linspace())
cross = register(Cross())
