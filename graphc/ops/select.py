"""Joining, splitting and indexing: concatenate, stack, split_like, basic indexing and its
VJP `index_grad`."""

from __future__ import annotations

import numpy as np

from .. import runtime
from ..errors import ArgumentError, ShapeError
from ..ir import as_list
from .base import (
    OpDef,
    batch_axis,
    batch_size,
    batched_all,
    broadcast_shapes,
    fmt_shape,
    normalize_axis,
    register,
)
from .elementwise import zeros_like
from .shape import broadcast_like


class _Join(OpDef):
    """Shared by concatenate and stack: a list of arrays and an axis."""

    nin, attr_names = None, ("axis",)
    fresh = True
    sequence_input = True

    def prepare(self, arrays, axis=0):
        arrays = tuple(as_list(arrays, f"{self.name}: arrays", "a list of arrays"))
        if not arrays:
            raise ShapeError(f"{self.name}: needs at least one array")
        return arrays, self.check_attrs({"axis": axis})

    def check_attrs(self, attrs):
        axis = attrs.get("axis", 0)
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise ArgumentError(f"{self.name}: axis must be an int, got {axis!r}")
        return {"axis": int(axis)}

    def dtype(self, *dtypes, axis):
        return None if any(d is None for d in dtypes) else np.result_type(*dtypes)

    def impl(self, *xs, axis):
        return getattr(np, self.name)(xs, axis=axis)

    def emit(self, *xs, axis):
        return f"np.{self.name}(({', '.join(xs)},), axis={axis})"

    def batch(self, batched, y, *xs, axis):
        xs = batched_all(xs, batched, batch_size(xs, batched))
        return self(xs, axis=batch_axis(axis, len(y.shape)))


class Concatenate(_Join):
    """`np.concatenate(arrays, axis)`."""

    name = "concatenate"
    public = True

    def shape(self, *shapes, axis):
        ranks = {len(s) for s in shapes if s is not None}
        if 0 in ranks or len(ranks) > 1:  # known even while another rank is not
            raise ShapeError(
                f"concatenate: shapes {', '.join(map(fmt_shape, shapes))} "
                "need the same non-zero rank"
            )
        if any(s is None for s in shapes):
            return None
        ndim = len(shapes[0])
        a = normalize_axis(axis, ndim, "concatenate")[0]
        out = []
        for i in range(ndim):
            dims = [s[i] for s in shapes]
            if i == a:
                out.append(None if None in dims else sum(dims))
            else:
                known = {d for d in dims if d is not None}
                if len(known) > 1:
                    raise ShapeError(
                        f"concatenate: shapes {', '.join(map(fmt_shape, shapes))}"
                        f" differ outside axis {axis}"
                    )
                out.append(known.pop() if known else None)
        return tuple(out)

    def vjp(self, g, y, *xs, axis):
        # Static slices when the sizes along the axis are known, else `split_like` finds
        # them when data is bound (and specialisation makes it a static slice).
        g = _like_output(g, y)
        pieces = _pieces(g, xs, axis)
        if pieces is not None:
            return pieces
        return tuple(split_like(g, *xs, axis=axis, index=i) for i in range(len(xs)))

    def jvp(self, ts, y, *xs, axis):
        if all(t is None for t in ts):
            return None
        return concatenate([zeros_like(x) if t is None else t for t, x in zip(ts, xs)], axis)


def _pieces(g, xs, axis):
    """`g` cut along `axis` into pieces the sizes of `xs` (static slices), or None when a
    size is unknown."""
    shapes = [_static(x).shape for x in xs]
    if any(s is None or not -len(s) <= axis < len(s) or s[axis] is None for s in shapes):
        return None
    cts, start = [], 0
    for shape in shapes:
        cut = slice(start, start + shape[axis])
        index = (
            (slice(None),) * axis + (cut,)
            if axis >= 0
            else (Ellipsis, cut) + (slice(None),) * (-axis - 1)
        )
        cts.append(getitem(g, index))
        start += shape[axis]
    return tuple(cts)


class SplitLike(OpDef):
    """`split_like(g, *xs, axis, index)`: the piece of `g`, a concatenation along `axis` of
    arrays shaped like `xs`, that comes from `xs[index]`.

    The gradient of `concatenate([x, y])` with respect to `y` is `split_like(g, x, y,
    axis=0, index=1)` while the sizes are unknown; once known it becomes a slice of `g`.

    Examples
    --------
    >>> import graphc as gc, numpy as np
    >>> gc.split_like(np.arange(5.0), np.zeros(2), np.zeros(3), axis=0, index=1)
    array([2., 3., 4.])
    """

    name, nin, attr_names = "split_like", None, ("axis", "index")
    public = True
    nondiff_inputs = range(1, 1 << 62)  # the inputs after g give only their shapes

    def prepare(self, g, *xs, axis, index):
        return (g,) + xs, self.check_attrs({"axis": axis, "index": index})

    def check_attrs(self, attrs):
        axis, index = attrs.get("axis"), attrs.get("index")
        if (
            not all(isinstance(v, int) and not isinstance(v, bool) for v in (axis, index))
            or index < 0
        ):
            raise ArgumentError(
                f"split_like: axis and index must be ints (index >= 0), got "
                f"axis={axis!r}, index={index!r}"
            )
        return {"axis": int(axis), "index": int(index)}  # exact ints: they are emitted

    def shape(self, g, *shapes, axis, index):
        if index >= len(shapes):
            raise ShapeError(f"split_like: index {index} out of range for {len(shapes)} arrays")
        return shapes[index]

    def dtype(self, g, *dtypes, axis, index):
        return g

    def impl(self, g, *xs, axis, index):
        return runtime._split_like(g, xs, axis, index)

    def emit(self, g, *xs, axis, index):
        return f"_split_like({g}, ({', '.join(xs)},), {axis}, {index})"

    def vjp(self, gbar, y, g, *xs, axis, index):
        parts = [gbar if i == index else zeros_like(x) for i, x in enumerate(xs)]
        return (concatenate(parts, axis),) + (None,) * len(xs)

    def jvp(self, ts, y, g, *xs, axis, index):
        return None if ts[0] is None else split_like(ts[0], *xs, axis=axis, index=index)

    def resolve(self, g, *xs, axis, index):
        pieces = _pieces(g, xs, axis)
        return None if pieces is None else pieces[index]


class Stack(_Join):
    """`np.stack(arrays, axis)`."""

    name = "stack"
    public = True

    def shape(self, *shapes, axis):
        if any(s is None for s in shapes):
            return None
        base = broadcast_shapes(*shapes, op="stack")
        if (
            any(len(s) != len(base) for s in shapes)
            or base != shapes[0]
            and any(
                d1 is not None and d2 is not None and d1 != d2
                for s in shapes
                for d1, d2 in zip(s, base)
            )
        ):
            raise ShapeError(f"stack: shapes {', '.join(map(fmt_shape, shapes))} differ")
        a = normalize_axis(axis, len(base) + 1, "stack")[0]
        return base[:a] + (len(shapes),) + base[a:]

    def vjp(self, g, y, *xs, axis):
        g = _like_output(g, y)
        if axis >= 0:
            return tuple(getitem(g, (slice(None),) * axis + (i,)) for i in range(len(xs)))
        tail = (slice(None),) * (-axis - 1)
        return tuple(getitem(g, (Ellipsis, i) + tail) for i in range(len(xs)))

    def jvp(self, ts, y, *xs, axis):
        if all(t is None for t in ts):
            return None
        return stack([zeros_like(x) if t is None else t for t, x in zip(ts, xs)], axis)


def _like_output(g, y):
    """The cotangent `g` of a join's output `y`, broadcast to `y`'s shape when it came as a
    scalar: an output of unknown shape is seeded with 1 (see `autodiff`), and the rules
    above cut `g` along an axis."""
    shape = getattr(g, "shape", ())
    return broadcast_like(g, y) if shape == () else g


def _static(x):
    """Something with `.shape` (symbols, tensors and arrays all have it)."""
    return x if hasattr(x, "shape") else np.asarray(x)


class GetItem(OpDef):
    """Basic indexing `x[index]`: ints, slices, None (newaxis) and Ellipsis."""

    name, attr_names = "getitem", ("index",)
    tape_name = "Index"

    def prepare(self, x, index):
        items = index if isinstance(index, tuple) else (index,)
        if any(
            isinstance(i, (list, np.ndarray)) or getattr(i, "_graphc_kind", None) for i in items
        ):
            raise ShapeError(
                "getitem: integer-array and boolean-mask indexing (x[[2, 0]], "
                "x[idx], x[mask]) are not supported; only basic indexing "
                "(ints, slices, None, ...) is"
            )
        return (x,), self.check_attrs({"index": index})

    def check_attrs(self, attrs):
        return {"index": runtime.check_index(attrs["index"])}

    def shape(self, s, *, index):
        if s is None:
            return None
        try:
            return runtime.index_shape(s, index)
        except IndexError as exc:
            raise ShapeError(f"getitem: {exc}") from None

    def dtype(self, d, *, index):
        return d

    def impl(self, x, *, index):
        return np.asarray(x)[runtime.to_numpy_index(index)]

    def emit(self, x, *, index):
        return f"{x}[{runtime.format_index(index)}]"

    def vjp(self, g, y, x, *, index):
        return (index_grad(g, x, index=index),)

    def jvp(self, ts, y, x, *, index):
        return getitem(ts[0], index)

    def batch(self, batched, y, x, *, index):
        return getitem(x, (_ALL,) + index)


class IndexGrad(OpDef):
    """Zeros of `like`'s shape with `x` written at `index` (the VJP of basic indexing);
    printed JAX-style, `zeros_like(like).at[index].add(x)`, which `graphc.parse` reads."""

    name, nin, attr_names = "index_grad", 2, ("index",)
    shape_only_inputs = (1,)
    fresh = True
    nondiff_inputs = (1,)

    def check_attrs(self, attrs):
        return {"index": runtime.check_index(attrs["index"])}

    def shape(self, s, like, *, index):
        return like

    def dtype(self, d, like, *, index):
        # A weak Python number (the head 1.0 of a scalar output) takes the dtype numpy gives
        # it next to `like`, as `runtime._index_grad` does.
        if d is None or isinstance(d, np.dtype):
            return d
        return None if like is None else np.result_type(like, d)

    def impl(self, x, like, *, index):
        return runtime._index_grad(x, like, runtime.to_numpy_index(index))

    def emit(self, x, like, *, index):
        return f"_index_grad({x}, {like}, {runtime.format_index(index, as_tuple=True)})"

    def vjp(self, g, y, x, like, *, index):
        return getitem(g, index), None

    def jvp(self, ts, y, x, like, *, index):
        return None if ts[0] is None else index_grad(ts[0], like, index=index)

    def batch(self, batched, y, x, like, *, index):
        x, like = batched_all((x, like), batched, batch_size((x, like), batched))
        return index_grad(x, like, index=(_ALL,) + index)


_ALL = ("slice", None, None, None)  # `:` in an index attr (runtime.check_index's form)


concatenate = register(Concatenate())
split_like = register(SplitLike())
stack = register(Stack())
getitem = register(GetItem())
index_grad = register(IndexGrad())
