"""Reductions: sum, mean, max, min, prod, logsumexp, and the helpers `size` and
`prod_others` (the derivative of prod).

Gradients put `g` back on the reduced axes (`expand_dims` where `keepdims` was False) and
broadcast it over the input; they need no static shapes.
"""

from __future__ import annotations

import numpy as np

from .. import runtime
from ..dispatch import const
from ..errors import ArgumentError, ShapeError
from . import costs
from .base import OpDef, check_axis_attr, float_dtype, fmt_shape, normalize_axis, register
from .batch_rules import batch_axis
from .elementwise import equal, exp, ones_like, where
from .linalg import dot
from .shape import broadcast_like, expand_dims


def dtype_by_running(op, d, n: int):
    """The dtype `op` computes from dtype `d` (None: unknown), found by running its `impl`
    on `n` ones (numpy's own promotion: cumsum of bool is int64)."""
    if d is None:
        return None
    key = d if isinstance(d, np.dtype) else np.asarray(d).dtype
    return op.impl(np.ones((n,), key), axis=None).dtype


class Reduction(OpDef):
    """`np.<name>(x, axis, keepdims)`."""

    attr_names = ("axis", "keepdims")
    cost = costs.per_input_entry(1)
    fresh = True

    def prepare(self, x, axis=None, keepdims=False):
        return (x,), self.check_attrs({"axis": axis, "keepdims": keepdims})

    def check_attrs(self, attrs):
        keepdims = attrs.get("keepdims", False)
        if not isinstance(keepdims, (bool, np.bool_)):
            raise ArgumentError(f"{self.name}: keepdims must be a bool, got {keepdims!r}")
        return {"axis": check_axis_attr(attrs.get("axis"), self.name), "keepdims": bool(keepdims)}

    def shape(self, s, *, axis, keepdims):
        if axis is None and not keepdims:
            return ()  # whatever the rank (a gradient's output is then known to be scalar)
        if s is None:
            return None
        axes = normalize_axis(axis, len(s), self.name)
        if axes is None:
            return (1,) * len(s) if keepdims else ()
        if keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(s))
        return tuple(d for i, d in enumerate(s) if i not in axes)

    def dtype(self, d, *, axis, keepdims):
        if d is None:
            return None
        key = d if isinstance(d, np.dtype) else np.asarray(d).dtype
        return np.asarray(self.impl(np.ones((), key), axis=None, keepdims=False)).dtype

    def impl(self, x, *, axis, keepdims):
        return getattr(np, self.name)(x, axis=axis, keepdims=keepdims)

    def batch(self, batched, y, x, *, axis, keepdims):
        return self(x, batch_axis(axis, len(y.inputs[0].shape)), keepdims)

    def emit(self, x, *, axis, keepdims):
        # The method form skips np.sum's Python wrapper: half the cost on small arrays.
        # (Every name in emitted code holds a numpy value; a literal number does not.)
        if x.isidentifier():
            return f"{x}.{self.name}({_axis_args(axis, keepdims)[2:]})"
        return f"np.{self.name}({x}{_axis_args(axis, keepdims)})"

    def array_api(self, x, *, axis, keepdims):
        return f"xp.{self.name}({x}{_axis_args(axis, keepdims)})"


def _axis_args(axis, keepdims):
    text = "" if axis is None else f", axis={axis!r}"
    return text + (", keepdims=True" if keepdims else "")


def _expand(g, axis, keepdims):
    """`g` with the reduced axes put back as size-1 dims."""
    return g if keepdims or axis is None else expand_dims(g, axis)


def count(x, axis):
    """How many entries a reduction over `axis` combines: an int when the shape is known."""
    shape = getattr(x, "shape", np.shape(x))
    if shape is not None and None not in shape:
        axes = normalize_axis(axis, len(shape), "mean")
        dims = shape if axes is None else [shape[a] for a in axes]
        return int(np.prod(dims, dtype=np.int64))
    return reduced_size(x, axis=axis)


class Sum(Reduction):
    """Sum over axes."""

    name = "sum"
    public, methods = True, ("sum",)

    def vjp(self, g, y, x, *, axis, keepdims):
        return (broadcast_like(_expand(g, axis, keepdims), x),)

    def jvp(self, ts, y, x, *, axis, keepdims):
        return sum(ts[0], axis, keepdims)

    def scalar_emit(self, node):
        """Scalar code: the sum of a 0-d value is itself."""
        return "{0}" if node.inputs[0].shape == () else None

    def resolve(self, x, *, axis, keepdims):
        # sum(a * b) and sum(a**2) over vectors are dot products: one BLAS call, no temporary.
        if (
            axis not in (None, 0, -1, (0,), (-1,))
            or keepdims
            or x.shape is None
            or len(x.shape) != 1
            or x.dtype is None
            or x.dtype.kind != "f"
        ):
            return None
        if x.op == "square":
            a = b = x.inputs[0]
        elif x.op == "multiply":
            a, b = x.inputs
        else:
            return None
        if a.shape == b.shape == x.shape and a.dtype == b.dtype == x.dtype:
            return dot(a, b)
        return None


class Mean(Reduction):
    """Arithmetic mean over axes."""

    name = "mean"
    public, methods = True, ("mean",)

    def vjp(self, g, y, x, *, axis, keepdims):
        return (broadcast_like(_expand(g, axis, keepdims), x) / count(x, axis),)

    def jvp(self, ts, y, x, *, axis, keepdims):
        return mean(ts[0], axis, keepdims)

    def resolve(self, x, *, axis, keepdims):
        # sum / n with n a number: np.mean's Python wrapper costs more than the sum itself
        # on small arrays. Integer inputs keep np.mean (its float accumulation).
        n = count(x, axis)
        if not isinstance(n, int) or x.dtype is None or x.dtype.kind not in "fc":
            return None
        return sum(x, axis, keepdims) / n


class Extremum(Reduction):
    """max/min: the gradient is shared evenly between tied entries."""

    def shape(self, s, *, axis, keepdims):
        out = super().shape(s, axis=axis, keepdims=keepdims)
        if s is not None:
            axes = normalize_axis(axis, len(s), self.name)
            if any(s[a] == 0 for a in (range(len(s)) if axes is None else axes)):
                raise ShapeError(
                    f"{self.name}: the reduced axes of shape {fmt_shape(s)} are "
                    f"empty, and an empty {self.name} has no value (numpy "
                    "refuses it too)"
                )
        return out

    def _weights(self, y, x, axis, keepdims):
        hit = equal(x, broadcast_like(_expand(y, axis, keepdims), x)) * ones_like(x)
        return hit / sum(hit, axis, True)

    def vjp(self, g, y, x, *, axis, keepdims):
        return (
            broadcast_like(_expand(g, axis, keepdims), x) * self._weights(y, x, axis, keepdims),
        )

    def jvp(self, ts, y, x, *, axis, keepdims):
        return sum(ts[0] * self._weights(y, x, axis, keepdims), axis, keepdims)


class Max(Extremum):
    """Maximum over axes."""

    name = "max"
    public, methods, numpy_names = True, ("max",), ("amax",)


class Min(Extremum):
    """Minimum over axes."""

    name = "min"
    public, methods, numpy_names = True, ("min",), ("amin",)


class Prod(Reduction):
    """Product over axes. The derivative in each entry is the product of the other entries
    (`prod_others`), exact where entries are zero, as in autograd and JAX."""

    name = "prod"
    public, methods = True, ("prod",)

    def vjp(self, g, y, x, *, axis, keepdims):
        return (broadcast_like(_expand(g, axis, keepdims), x) * prod_others(x, axis=axis),)

    def jvp(self, ts, y, x, *, axis, keepdims):
        return sum(ts[0] * prod_others(x, axis=axis), axis, keepdims)


class ProdOthers(OpDef):
    """`prod_others(x, axis=None)`: for each entry of `x`, the product of the other entries
    along `axis` (of all entries when None).

    It is the derivative of `prod`: d prod(x) / d x_i = prod_others(x)_i, computed without
    division, so it is exact where entries are zero.

    Examples
    --------
    >>> import graphc as gc, numpy as np
    >>> gc.prod_others(np.array([2.0, 3.0, 0.0]))
    array([0., 0., 6.])
    """

    name, attr_names = "prod_others", ("axis",)
    public = True
    fresh = True

    def prepare(self, x, axis=None):
        return (x,), self.check_attrs({"axis": axis})

    def check_attrs(self, attrs):
        return {"axis": check_axis_attr(attrs.get("axis"), self.name)}

    def shape(self, s, *, axis):
        if s is not None:
            normalize_axis(axis, len(s), self.name)
        return s

    def dtype(self, d, *, axis):
        return dtype_by_running(self, d, 2)

    def impl(self, x, *, axis):
        return runtime._prod_others(x, axis)

    def emit(self, x, *, axis):
        return f"_prod_others({x}, {axis!r})"

    # Its Jacobian is symmetric (d/dx_j of the product without x_i is the product without
    # x_i and x_j), so the VJP and the JVP are one rule.
    def vjp(self, g, y, x, *, axis):
        return (_pair_products(g, x, axis),)

    def jvp(self, ts, y, x, *, axis):
        return _pair_products(ts[0], x, axis)

    def batch(self, batched, y, x, *, axis):
        return self(x, batch_axis(axis, len(y.inputs[0].shape)))


def _pair_products(t, x, axis):
    """For each entry j: the sum over i != j of t_i times the product of the entries other
    than i and j (along `axis`). Exact at zeros: the nonzero entries' product `p` is taken
    once, and the count of zeros selects the formula (none: p/x_j * (S - t_j/x_j); one, at
    m: p*(S - t_m) at m, p*t_m/x_j elsewhere; two, at m and k: p*t_k at m, 0 elsewhere;
    more: 0), where S is the sum of t_i/x_i over the nonzero entries, plus t_m."""
    zero = equal(x, 0)
    count_zeros = sum(zero, axis, True)
    safe = where(zero, 1, x)  # x with its zeros replaced by 1
    p = prod(safe, axis, True)
    t_safe = t / safe
    s = sum(t_safe, axis, True)
    t_zero = sum(where(zero, t, 0), axis, True)  # t at the zeros
    none_or_at_zero = (p / safe) * (s - t_safe)
    one_elsewhere = p * t_zero / safe
    two_at_zero = p * (t_zero - t)
    return where(
        equal(count_zeros, 0),
        none_or_at_zero,
        where(
            equal(count_zeros, 1),
            where(zero, none_or_at_zero, one_elsewhere),
            where(equal(count_zeros, 2), where(zero, two_at_zero, 0), 0),
        ),
    )


class _Spread(Reduction):
    """var and std: `ddof` is subtracted from the count of entries in the divisor."""

    attr_names = ("axis", "ddof", "keepdims")
    cost = costs.per_input_entry(4)  # mean, subtract, square, sum
    public = True

    def prepare(self, x, axis=None, *, ddof=0, keepdims=False):
        return (x,), self.check_attrs({"axis": axis, "ddof": ddof, "keepdims": keepdims})

    def check_attrs(self, attrs):
        out = super().check_attrs(attrs)
        ddof = attrs.get("ddof", 0)
        if not isinstance(ddof, (int, np.integer)) or isinstance(ddof, bool):
            raise ArgumentError(f"{self.name}: ddof must be an int, got {ddof!r}")
        return {"axis": out["axis"], "ddof": int(ddof), "keepdims": out["keepdims"]}

    def shape(self, s, *, axis, ddof, keepdims):
        return super().shape(s, axis=axis, keepdims=keepdims)

    def dtype(self, d, *, axis, ddof, keepdims):
        if d is None:
            return None
        key = d if isinstance(d, np.dtype) else np.asarray(d).dtype
        return np.asarray(self.impl(np.ones((2,), key), axis=None, ddof=0, keepdims=False)).dtype

    def impl(self, x, *, axis, ddof, keepdims):
        return getattr(np, self.numpy)(x, axis=axis, ddof=ddof, keepdims=keepdims)

    def emit(self, x, *, axis, ddof, keepdims):
        ddof_text = f", ddof={ddof}" if ddof else ""
        return f"np.{self.numpy}({x}{_axis_args(axis, keepdims)}{ddof_text})"

    def array_api(self, x, *, axis, ddof, keepdims):
        correction = f", correction={ddof}" if ddof else ""
        return f"xp.{self.numpy}({x}{_axis_args(axis, keepdims)}{correction})"

    def batch(self, batched, y, x, *, axis, ddof, keepdims):
        axis = batch_axis(axis, len(y.inputs[0].shape))
        return self(x, axis, ddof=ddof, keepdims=keepdims)

    def centred(self, x, axis, ddof):
        """(x - mean) / (n - ddof): half the derivative of the variance."""
        return (x - mean(x, axis, True)) / (count(x, axis) - ddof)


class Variance(_Spread):
    """`np.var(x, axis, ddof=0)` (`x.var()`); named `variance`, as `gc.var` makes a
    variable."""

    name, methods, numpy = "variance", ("var",), "var"

    def vjp(self, g, y, x, *, axis, ddof, keepdims):
        spread = self.centred(x, axis, ddof)
        return (broadcast_like(_expand(g, axis, keepdims), x) * (2 * spread),)

    def jvp(self, ts, y, x, *, axis, ddof, keepdims):
        return sum(2 * self.centred(x, axis, ddof) * ts[0], axis, keepdims)


class Std(_Spread):
    """`np.std(x, axis, ddof=0)` (`x.std()`): its derivative is undefined where all entries
    are equal (std 0)."""

    name, methods, numpy = "std", ("std",), "std"

    def vjp(self, g, y, x, *, axis, ddof, keepdims):
        spread = self.centred(x, axis, ddof) / _expand(y, axis, keepdims)
        return (broadcast_like(_expand(g, axis, keepdims), x) * spread,)

    def jvp(self, ts, y, x, *, axis, ddof, keepdims):
        return sum(self.centred(x, axis, ddof) * ts[0], axis, keepdims) / y


class LogSumExp(Reduction):
    """log(sum(exp(x))), computed with the maximum shifted out."""

    name = "logsumexp"
    cost = costs.per_input_entry(4)  # max, subtract, exp, sum
    public = True

    def dtype(self, d, *, axis, keepdims):
        return float_dtype(d)

    def impl(self, x, *, axis, keepdims):
        return runtime._logsumexp(x, axis, keepdims)

    def emit(self, x, *, axis, keepdims):
        return f"_logsumexp({x}, {axis!r}, {keepdims!r})"

    array_api = None  # derived from emit (Reduction's is xp.<name>)

    def vjp(self, g, y, x, *, axis, keepdims):
        return (_expand(g, axis, keepdims) * exp(x - _expand(y, axis, keepdims)),)

    def jvp(self, ts, y, x, *, axis, keepdims):
        return sum(ts[0] * exp(x - _expand(y, axis, keepdims)), axis, keepdims)


class Size(OpDef):
    """`size(x, axis=None)`: the number of entries of `x` (along `axis`: an int or a tuple
    of ints), like `np.size`; an int that promotes like a Python number.

    It is the divisor of a mean: `mean(x)` is `sum(x)/size(x)`, and the gradient of a mean
    prints it while shapes are unknown; once they are known it becomes the number.

    Examples
    --------
    >>> import graphc as gc, numpy as np
    >>> gc.size(np.zeros((2, 3))), gc.size(np.zeros((2, 3)), axis=1)
    (6, 3)
    """

    name, attr_names = "size", ("axis",)
    cost = costs.free  # nothing runs
    public = True
    shape_only_inputs = (0,)
    differentiable = False
    weak = True

    def prepare(self, x, axis=None):
        return (x,), self.check_attrs({"axis": axis})

    def check_attrs(self, attrs):
        return {"axis": check_axis_attr(attrs.get("axis"), "size")}

    def shape(self, s, *, axis):
        return ()

    def dtype(self, d, *, axis):
        return np.dtype(np.int64)

    def impl(self, x, *, axis):
        shape = np.shape(x)
        axes = normalize_axis(axis, len(shape), "size")
        return int(np.prod(shape if axes is None else [shape[a] for a in axes]))

    def resolve(self, x, *, axis):
        n = count(x, axis)
        return const(n) if isinstance(n, int) else None

    def emit(self, x, *, axis):
        if axis is None:
            return f"np.size({x})"
        return f"int(np.prod([np.shape({x})[a] for a in {axis!r}]))"

    def array_api(self, x, *, axis):
        if axis is None:
            return f"_size({x})"
        return " * ".join(f"{x}.shape[{a}]" for a in axis) or "1"


sum = register(Sum())
mean = register(Mean())
max = register(Max())
min = register(Min())
prod = register(Prod())
prod_others = register(ProdOthers())
variance = register(Variance())
std = register(Std())
logsumexp = register(LogSumExp())
size = reduced_size = register(Size())
