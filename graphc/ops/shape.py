"""Leaves, structure and shape ops: var, const, group, stop_gradient, astype, reshape,
transpose, broadcasting, expand_dims, squeeze, concatenate, stack, indexing.

`sum_to`, `broadcast_like` and `reshape_like` take a second input only for its shape: they let
derivatives be written before shapes are known, and specialisation turns them into static ops
or removes them.
"""

from __future__ import annotations

import numpy as np

from .. import runtime
from ..errors import DTypeError, GradError, ShapeError
from .base import (OpDef, broadcast_shapes, check_axis_attr, fmt_shape, known, normalize_axis,
                   register)


class Var(OpDef):
    """A placeholder bound to data later (MXNet's `sym.var`)."""

    name, nin = "var", 0
    differentiable = False


class Const(OpDef):
    """A constant: a Python number (weakly typed) or a read-only numpy array."""

    name, nin = "const", 0
    attr_names = ("value", "name")
    differentiable = False

    def impl(self, *, value, name=None):
        return value


class Group(OpDef):
    """Several outputs as one symbol (MXNet's `Group`); only valid as a graph output."""

    name, nin = "group", None
    differentiable = foldable = False

    def shape(self, *shapes):
        return None

    def dtype(self, *dtypes):
        return None


class StopGradient(OpDef):
    """Identity whose derivative is zero (`.detach()`)."""

    name = "stop_gradient"

    def shape(self, s):
        return s

    def dtype(self, d):
        return d

    def impl(self, x):
        return x

    def emit(self, x):
        return x

    def vjp(self, g, y, x):
        return (None,)

    def jvp(self, ts, y, x):
        return None

    def resolve(self, x):
        return x


class AsType(OpDef):
    """`x.astype(dtype)`; the gradient is cast back to the input's dtype."""

    name, attr_names = "astype", ("dtype",)

    def prepare(self, x, dtype):
        return (x,), self.check_attrs({"dtype": dtype})

    def check_attrs(self, attrs):
        try:
            dt = np.dtype(attrs["dtype"])
        except (TypeError, KeyError) as exc:
            raise DTypeError(f"astype: not a dtype: {attrs.get('dtype')!r}") from exc
        if dt.kind not in "biufc":
            raise DTypeError(f"astype: unsupported dtype {dt}")
        return {"dtype": dt.name}

    def shape(self, s, *, dtype):
        return s

    def dtype(self, d, *, dtype):
        return np.dtype(dtype)

    def impl(self, x, *, dtype):
        return np.asarray(x).astype(dtype)

    def emit(self, x, *, dtype):
        return f"{x}.astype(np.{dtype})"

    def vjp(self, g, y, x, *, dtype):
        xd = getattr(x, "dtype", None)
        if xd is None or np.dtype(xd).kind not in "fc":
            return (g,)
        return (astype(g, np.dtype(xd)),)

    def jvp(self, ts, y, x, *, dtype):
        return astype(ts[0], dtype)


def _check_shape_attr(shape, op):
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in shape):
        raise ShapeError(f"{op}: shape must be a tuple of ints, got {shape!r}")
    return tuple(int(d) for d in shape)


class Reshape(OpDef):
    """`np.reshape(x, shape)`; one entry may be -1."""

    name, attr_names = "reshape", ("shape",)

    def prepare(self, x, shape):
        return (x,), self.check_attrs({"shape": shape})

    def check_attrs(self, attrs):
        shape = _check_shape_attr(attrs["shape"], "reshape")
        if sum(d == -1 for d in shape) > 1 or any(d < -1 for d in shape):
            raise ShapeError(f"reshape: bad target shape {shape}")
        return {"shape": shape}

    def shape(self, s, *, shape):
        if s is None or any(d is None for d in s):
            return tuple(None if d == -1 else d for d in shape)
        size = int(np.prod(s))
        known = int(np.prod([d for d in shape if d != -1]))
        if -1 in shape:
            if known == 0 or size % known:
                raise ShapeError(f"reshape: cannot reshape {fmt_shape(s)} into {shape}")
            return tuple(size // known if d == -1 else d for d in shape)
        if known != size:
            raise ShapeError(f"reshape: cannot reshape {fmt_shape(s)} into {shape}")
        return shape

    def dtype(self, d, *, shape):
        return d

    def impl(self, x, *, shape):
        return np.reshape(x, shape)

    def emit(self, x, *, shape):
        return f"np.reshape({x}, {shape!r})"

    def vjp(self, g, y, x, *, shape):
        return (reshape_like(g, x),)

    def jvp(self, ts, y, x, *, shape):
        return reshape(ts[0], shape)


class Transpose(OpDef):
    """`np.transpose(x, axes)`; axes None reverses the dims."""

    name, attr_names = "transpose", ("axes",)

    def prepare(self, x, axes=None):
        return (x,), self.check_attrs({"axes": axes})

    def check_attrs(self, attrs):
        axes = attrs.get("axes")
        if axes is None:
            return {"axes": None}
        axes = check_axis_attr(tuple(axes) if isinstance(axes, list) else axes, "transpose")
        axes = (axes,) if isinstance(axes, int) else axes
        if sorted(a % len(axes) if a < 0 else a for a in axes) != list(range(len(axes))):
            raise ShapeError(f"transpose: axes {axes} are not a permutation")
        return {"axes": tuple(a % len(axes) for a in axes)}

    def shape(self, s, *, axes):
        if s is None:
            return None if axes is None else (None,) * len(axes)
        if axes is None:
            return tuple(reversed(s))
        if len(axes) != len(s):
            raise ShapeError(f"transpose: axes {axes} do not match an array of shape "
                             f"{fmt_shape(s)}")
        return tuple(s[a] for a in axes)

    def dtype(self, d, *, axes):
        return d

    def impl(self, x, *, axes):
        return np.transpose(x, axes)

    def emit(self, x, *, axes):
        if axes is None or axes == tuple(range(len(axes)))[::-1]:
            return f"{x}.T"
        return f"np.transpose({x}, {axes!r})"

    def vjp(self, g, y, x, *, axes):
        return (transpose(g, None if axes is None else tuple(np.argsort(axes).tolist())),)

    def jvp(self, ts, y, x, *, axes):
        return transpose(ts[0], axes)


class BroadcastTo(OpDef):
    """`np.broadcast_to(x, shape)` (a read-only view; never folded into a big constant)."""

    foldable = False

    name, attr_names = "broadcast_to", ("shape",)

    def prepare(self, x, shape):
        return (x,), self.check_attrs({"shape": shape})

    def check_attrs(self, attrs):
        return {"shape": _check_shape_attr(attrs["shape"], "broadcast_to")}

    def shape(self, s, *, shape):
        out = broadcast_shapes(s, shape, op="broadcast_to")
        if out is not None and len(out) != len(shape):
            raise ShapeError(f"broadcast_to: cannot broadcast {fmt_shape(s)} to {shape}")
        return shape

    def dtype(self, d, *, shape):
        return d

    def impl(self, x, *, shape):
        return np.broadcast_to(x, shape)

    def emit(self, x, *, shape):
        return f"np.broadcast_to({x}, {shape!r})"

    def vjp(self, g, y, x, *, shape):
        return (sum_to(g, x),)

    def jvp(self, ts, y, x, *, shape):
        return broadcast_to(ts[0], shape)


class _LikeOp(OpDef):
    """Base of the shape-generic helpers `op(x, like)`: the result has `like`'s shape."""

    nin = 2
    nondiff_inputs = (1,)

    def shape(self, s, like):
        return like

    def dtype(self, d, like):
        # A weak Python number (e.g. the head 1.0 of a scalar output) takes the dtype numpy
        # gives it next to `like`, so a float32 graph keeps float32 gradients.
        if d is None or isinstance(d, np.dtype):
            return d
        return None if like is None else np.result_type(like, d)

    def jvp(self, ts, y, x, like):
        return None if ts[0] is None else type(self).__call__(self, ts[0], like)

    def resolve(self, x, like):
        if known(x.shape) and known(like.shape):
            if x.shape == like.shape:
                return x
            if x.op == "const" and like.dtype is not None and _is_weak(x.attrs["value"]):
                # The static op would type a weak number on its own (1.0 -> float64): give it
                # the dtype it has next to `like`, as `dtype` above does.
                from ..dispatch import const

                value = x.attrs["value"]
                x = const(np.asarray(value, dtype=np.result_type(like.dtype, value)))
            return self.static(x, like.shape)
        return None


class SumTo(_LikeOp):
    """Sum `x` down to the shape of `like` (undoes broadcasting in derivatives)."""

    name = "sum_to"

    def __call__(self, x, like):
        # Every elementwise VJP calls this, and on two arrays of one shape it is the identity:
        # skip the generic call path (eager backward passes spend their time in such calls).
        if type(x) is np.ndarray and type(like) is np.ndarray:
            return x if x.shape == like.shape else runtime._sum_to(x, like.shape)
        return OpDef.__call__(self, x, like)

    def shape(self, s, like):
        # Summing never grows an array: a scalar stays a scalar whatever `like` is.
        return () if s == () else like

    def impl(self, x, like):
        return runtime._sum_to(x, np.shape(like))

    def emit(self, x, like):
        return f"_sum_to({x}, np.shape({like}))"

    def vjp(self, g, y, x, like):
        return broadcast_like(g, x), None

    def static(self, x, shape):
        if shape == ():
            return reduce_sum(x)
        lead = len(x.shape) - len(shape)
        if lead:
            x = reduce_sum(x, axis=tuple(range(lead)))
        ones = tuple(i for i, d in enumerate(shape) if d == 1 and x.shape[i] != 1)
        return reduce_sum(x, axis=ones, keepdims=True) if ones else x


class BroadcastLike(_LikeOp):
    """Broadcast `x` to the shape of `like`."""

    name = "broadcast_like"
    foldable = False

    def impl(self, x, like):
        return np.broadcast_to(x, np.shape(like))

    def emit(self, x, like):
        return f"np.broadcast_to({x}, np.shape({like}))"

    def vjp(self, g, y, x, like):
        return sum_to(g, x), None

    def static(self, x, shape):
        return broadcast_to(x, shape)


class ReshapeLike(_LikeOp):
    """Reshape `x` to the shape of `like`."""

    name = "reshape_like"

    def impl(self, x, like):
        return np.reshape(x, np.shape(like))

    def emit(self, x, like):
        return f"np.reshape({x}, np.shape({like}))"

    def vjp(self, g, y, x, like):
        return reshape_like(g, x), None

    def static(self, x, shape):
        return reshape(x, shape)


class ExpandDims(OpDef):
    """`np.expand_dims(x, axis)`."""

    name, attr_names = "expand_dims", ("axis",)

    def prepare(self, x, axis):
        return (x,), self.check_attrs({"axis": axis})

    def check_attrs(self, attrs):
        axis = check_axis_attr(attrs["axis"], "expand_dims")
        if axis is None:
            raise ShapeError("expand_dims: axis is required")
        return {"axis": axis}

    def shape(self, s, *, axis):
        if s is None:
            return None
        axes = normalize_axis(axis, len(s) + (1 if isinstance(axis, int) else len(axis)),
                              "expand_dims")
        out, it = [], iter(s)
        for i in range(len(s) + len(axes)):
            out.append(1 if i in axes else next(it))
        return tuple(out)

    def dtype(self, d, *, axis):
        return d

    def impl(self, x, *, axis):
        return np.expand_dims(x, axis)

    def emit(self, x, *, axis):
        return f"np.expand_dims({x}, {axis!r})"

    def vjp(self, g, y, x, *, axis):
        return (reshape_like(g, x),)

    def jvp(self, ts, y, x, *, axis):
        return expand_dims(ts[0], axis)


class Squeeze(OpDef):
    """`np.squeeze(x, axis)`."""

    name, attr_names = "squeeze", ("axis",)

    def prepare(self, x, axis=None):
        return (x,), self.check_attrs({"axis": axis})

    def check_attrs(self, attrs):
        return {"axis": check_axis_attr(attrs.get("axis"), "squeeze")}

    def shape(self, s, *, axis):
        if s is None:
            return None
        if axis is None:
            if any(d is None for d in s):
                return None
            return tuple(d for d in s if d != 1)
        axes = normalize_axis(axis, len(s), "squeeze")
        for a in axes:
            if s[a] not in (1, None):
                raise ShapeError(f"squeeze: axis {a} of shape {fmt_shape(s)} is not 1")
        return tuple(d for i, d in enumerate(s) if i not in axes)

    def dtype(self, d, *, axis):
        return d

    def impl(self, x, *, axis):
        return np.squeeze(x, axis)

    def emit(self, x, *, axis):
        return f"np.squeeze({x})" if axis is None else f"np.squeeze({x}, {axis!r})"

    def vjp(self, g, y, x, *, axis):
        return (reshape_like(g, x),)

    def jvp(self, ts, y, x, *, axis):
        return squeeze(ts[0], axis)


class _Join(OpDef):
    """Shared by concatenate and stack: a list of arrays and an axis."""

    nin, attr_names = None, ("axis",)
    fresh = True

    def prepare(self, arrays, axis=0):
        arrays = tuple(arrays)
        if not arrays:
            raise ShapeError(f"{self.name}: needs at least one array")
        return arrays, self.check_attrs({"axis": axis})

    def check_attrs(self, attrs):
        axis = attrs.get("axis", 0)
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise ShapeError(f"{self.name}: axis must be an int, got {axis!r}")
        return {"axis": int(axis)}

    def dtype(self, *dtypes, axis):
        return None if any(d is None for d in dtypes) else np.result_type(*dtypes)

    def impl(self, *xs, axis):
        return getattr(np, self.name)(xs, axis=axis)

    def emit(self, *xs, axis):
        return f"np.{self.name}(({', '.join(xs)},), axis={axis})"


class Concatenate(_Join):
    """`np.concatenate(arrays, axis)`."""

    name = "concatenate"

    def shape(self, *shapes, axis):
        if any(s is None for s in shapes):
            return None
        ndim = len(shapes[0])
        if ndim == 0 or any(len(s) != ndim for s in shapes):
            raise ShapeError(f"concatenate: shapes {', '.join(map(fmt_shape, shapes))} "
                             "need the same non-zero rank")
        a = normalize_axis(axis, ndim, "concatenate")[0]
        out = []
        for i in range(ndim):
            dims = [s[i] for s in shapes]
            if i == a:
                out.append(None if None in dims else sum(dims))
            else:
                known = {d for d in dims if d is not None}
                if len(known) > 1:
                    raise ShapeError(f"concatenate: shapes {', '.join(map(fmt_shape, shapes))}"
                                     f" differ outside axis {axis}")
                out.append(known.pop() if known else None)
        return tuple(out)

    def vjp(self, g, y, *xs, axis):
        # Static slices when the sizes along the axis are known, else `split_like` finds
        # them when data is bound (and specialisation makes it a static slice).
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
    if any(s is None or s[axis] is None for s in shapes):
        return None
    cts, start = [], 0
    for shape in shapes:
        cut = slice(start, start + shape[axis])
        index = (slice(None),) * axis + (cut,) if axis >= 0 else \
            (Ellipsis, cut) + (slice(None),) * (-axis - 1)
        cts.append(getitem(g, index))
        start += shape[axis]
    return tuple(cts)


class SplitLike(OpDef):
    """The piece of `g` (a concatenation of arrays shaped like `xs` along `axis`) that comes
    from `xs[index]`: the VJP of concatenate before the sizes are known."""

    name, nin, attr_names = "split_like", None, ("axis", "index")
    nondiff_inputs = range(1, 1 << 62)  # the inputs after g give only their shapes

    def prepare(self, g, *xs, axis, index):
        return (g,) + xs, self.check_attrs({"axis": axis, "index": index})

    def check_attrs(self, attrs):
        axis, index = attrs.get("axis"), attrs.get("index")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (axis, index)) \
                or index < 0:
            raise ShapeError(f"split_like: axis and index must be ints (index >= 0), got "
                             f"axis={axis!r}, index={index!r}")
        return {"axis": axis, "index": index}

    def shape(self, g, *shapes, axis, index):
        if index >= len(shapes):
            raise ShapeError(f"split_like: index {index} out of range for {len(shapes)} "
                             "arrays")
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

    def shape(self, *shapes, axis):
        if any(s is None for s in shapes):
            return None
        base = broadcast_shapes(*shapes, op="stack")
        if any(len(s) != len(base) for s in shapes) or base != shapes[0] and any(
                d1 is not None and d2 is not None and d1 != d2
                for s in shapes for d1, d2 in zip(s, base)):
            raise ShapeError(f"stack: shapes {', '.join(map(fmt_shape, shapes))} differ")
        a = normalize_axis(axis, len(base) + 1, "stack")[0]
        return base[:a] + (len(shapes),) + base[a:]

    def vjp(self, g, y, *xs, axis):
        if axis >= 0:
            return tuple(getitem(g, (slice(None),) * axis + (i,)) for i in range(len(xs)))
        tail = (slice(None),) * (-axis - 1)
        return tuple(getitem(g, (Ellipsis, i) + tail) for i in range(len(xs)))

    def jvp(self, ts, y, *xs, axis):
        if all(t is None for t in ts):
            return None
        return stack([zeros_like(x) if t is None else t for t, x in zip(ts, xs)], axis)


def _is_weak(value) -> bool:
    from ..dispatch import is_weak

    return is_weak(value)


def _static(x):
    """Something with `.shape` (symbols, tensors and arrays all have it)."""
    return x if hasattr(x, "shape") else np.asarray(x)


class GetItem(OpDef):
    """Basic indexing `x[index]`: ints, slices, None (newaxis) and Ellipsis."""

    name, attr_names = "getitem", ("index",)

    def prepare(self, x, index):
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


class IndexGrad(OpDef):
    """Zeros of `like`'s shape with `x` written at `index` (the VJP of basic indexing)."""

    name, nin, attr_names = "index_grad", 2, ("index",)
    fresh = True
    nondiff_inputs = (1,)

    def check_attrs(self, attrs):
        return {"index": runtime.check_index(attrs["index"])}

    def shape(self, s, like, *, index):
        return like

    def dtype(self, d, like, *, index):
        return d

    def impl(self, x, like, *, index):
        return runtime._index_grad(x, like, runtime.to_numpy_index(index))

    def emit(self, x, like, *, index):
        return f"_index_grad({x}, {like}, {runtime.format_index(index, as_tuple=True)})"

    def vjp(self, g, y, x, like, *, index):
        return getitem(g, index), None

    def jvp(self, ts, y, x, like, *, index):
        return None if ts[0] is None else index_grad(ts[0], like, index=index)


class Get(OpDef):
    """Element `index` of a tuple-valued node (loops and other multi-output ops)."""

    name, attr_names = "get", ("index",)
    foldable = False

    def check_attrs(self, attrs):
        index = attrs["index"]
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ShapeError(f"get: index must be a non-negative int, got {index!r}")
        return {"index": index}

    def shape(self, s, *, index):
        return None

    def dtype(self, d, *, index):
        return None

    def node_type(self, inputs, attrs):
        """The element's static shape and dtype, when the producer (an op with an
        `element_types(node)` method: loops, cond) knows them."""
        (x,) = inputs
        types = getattr(x.opdef, "element_types", None)
        if types is None:
            return None, None
        types = types(x)
        index = attrs["index"]
        if index >= len(types):
            raise ShapeError(f"get: index {index} out of range for the {len(types)} results "
                             f"of {x.op}")
        return types[index]

    def impl(self, x, *, index):
        return x[index]

    def emit(self, x, *, index):
        return f"{x}[{index}]"

    def vjp(self, g, y, x, *, index):
        # The cotangent of a tuple-valued node is a tuple, None standing for zero.
        n = len(x.opdef.element_types(x))
        return (tuple(g if i == index else None for i in range(n)),)

    def jvp(self, ts, y, x, *, index):
        return None if ts[0] is None else ts[0][index]


var_op = register(Var())
const_op = register(Const())
group_op = register(Group())
stop_gradient = register(StopGradient())
astype = register(AsType())
reshape = register(Reshape())
transpose = register(Transpose())
broadcast_to = register(BroadcastTo())
sum_to = register(SumTo())
broadcast_like = register(BroadcastLike())
reshape_like = register(ReshapeLike())
expand_dims = register(ExpandDims())
squeeze = register(Squeeze())
concatenate = register(Concatenate())
split_like = register(SplitLike())
stack = register(Stack())
getitem = register(GetItem())
index_grad = register(IndexGrad())
get = register(Get())

from .elementwise import zeros_like  # noqa: E402
from .reduce import sum as reduce_sum  # noqa: E402
