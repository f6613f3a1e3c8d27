"""Leaves, structure and shape ops: var, const, group, get, stop_gradient, astype, reshape,
transpose, broadcasting, expand_dims, squeeze (joining and indexing are in `select.py`).

`sum_to`, `broadcast_like` and `reshape_like` take a second input only for its shape (derivatives
are written before shapes are known); specialisation makes them static ops or removes them.
"""

from __future__ import annotations

import numpy as np

from .. import runtime
from ..dispatch import const, is_weak
from ..errors import ArgumentError, DTypeError, ShapeError
from . import array_api as forms
from . import costs
from .base import (
    OPS,
    OpDef,
    batch_rank,
    broadcast_shapes,
    check_axis_attr,
    fmt_shape,
    known,
    normalize_axis,
    numeric_dtype,
    register,
)
from .batch_rules import batch_axis


class Var(OpDef):
    """A placeholder bound to data later (MXNet's `sym.var`)."""

    name, nin = "var", 0
    cost = costs.free  # nothing runs
    differentiable = False


class Const(OpDef):
    """A constant: a Python number (weakly typed) or a read-only numpy array."""

    name, nin = "const", 0
    cost = costs.free  # nothing runs
    attr_names = ("value", "name")
    differentiable = False

    def impl(self, *, value, name=None):
        return value


class Group(OpDef):
    """Several outputs as one symbol (MXNet's `Group`); only valid as a graph output."""

    name, nin = "group", None
    cost = costs.free  # nothing runs
    differentiable = foldable = False

    def shape(self, *shapes):
        return None

    def dtype(self, *dtypes):
        return None


class StopGradient(OpDef):
    """Identity whose derivative is zero (`.detach()`)."""

    name = "stop_gradient"
    cost = costs.free  # nothing runs
    public, methods, records_on_tape = True, ("detach",), False
    stops_gradient = True  # `gc.explain` names it when it blocks every path

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

    def batch(self, batched, y, x):
        return stop_gradient(x)

    def resolve(self, x):
        return x


class AsType(OpDef):
    """`x.astype(dtype)`; the gradient is cast back to the input's dtype."""

    name, attr_names = "astype", ("dtype",)
    cost = costs.copy
    public, methods = True, ("astype",)

    def prepare(self, x, dtype):
        return (x,), self.check_attrs({"dtype": dtype})

    def check_attrs(self, attrs):
        if "dtype" not in attrs:
            raise DTypeError("astype: no dtype given")
        return {"dtype": numeric_dtype(attrs["dtype"], "astype").name}

    def shape(self, s, *, dtype):
        return s

    def dtype(self, d, *, dtype):
        return np.dtype(dtype)

    def impl(self, x, *, dtype):
        return np.asarray(x).astype(dtype)

    def emit(self, x, *, dtype):
        return f"{x}.astype(np.{dtype})"

    array_api = staticmethod(forms.astype)

    def vjp(self, g, y, x, *, dtype):
        xd = getattr(x, "dtype", None)
        if xd is None or np.dtype(xd).kind not in "fc":
            return (g,)
        return (astype(g, np.dtype(xd)),)

    def jvp(self, ts, y, x, *, dtype):
        return astype(ts[0], dtype)

    def batch(self, batched, y, x, *, dtype):
        return astype(x, dtype)


def _check_shape_attr(shape, op):
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in shape
    ):
        raise ArgumentError(f"{op}: shape must be a tuple of ints, got {shape!r}")
    return tuple(int(d) for d in shape)


class Reshape(OpDef):
    """`np.reshape(x, shape)`; one entry may be -1."""

    name, attr_names = "reshape", ("shape",)
    cost = costs.free  # a numpy view
    public = True

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

    def batch(self, batched, y, x, *, shape):
        return reshape(x, (x.shape[0],) + y.shape)


class Transpose(OpDef):
    """`np.transpose(x, axes)`; axes None reverses the dims."""

    name, attr_names = "transpose", ("axes",)
    public, numpy_names = True, ("permute_dims",)
    cost = costs.free  # a numpy view

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
            raise ShapeError(
                f"transpose: axes {axes} do not match an array of shape {fmt_shape(s)}"
            )
        return tuple(s[a] for a in axes)

    def dtype(self, d, *, axes):
        return d

    def impl(self, x, *, axes):
        return np.transpose(x, axes)

    def emit(self, x, *, axes):
        if axes is None or axes == tuple(range(len(axes)))[::-1]:
            return f"{x}.T"
        return f"np.transpose({x}, {axes!r})"

    array_api = staticmethod(forms.transpose)

    def vjp(self, g, y, x, *, axes):
        return (transpose(g, None if axes is None else tuple(np.argsort(axes).tolist())),)

    def jvp(self, ts, y, x, *, axes):
        return transpose(ts[0], axes)

    def batch(self, batched, y, x, *, axes):
        axes = tuple(reversed(range(len(y.shape)))) if axes is None else axes
        return transpose(x, (0,) + tuple(a + 1 for a in axes))


class BroadcastTo(OpDef):
    """`np.broadcast_to(x, shape)` (a read-only view; never folded into a big constant)."""

    foldable = False

    name, attr_names = "broadcast_to", ("shape",)
    cost = costs.free  # a numpy view
    public = True

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

    def batch(self, batched, y, x, *, shape):
        return broadcast_to(batch_rank(x, True, len(shape)), (x.shape[0],) + tuple(shape))


class _LikeOp(OpDef):
    """Base of the shape-generic helpers `op(x, like)`: the result has `like`'s shape."""

    nin = 2
    nondiff_inputs = shape_only_inputs = (1,)
    identity_when_same_shape = True

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
            if x.op == "const" and like.dtype is not None and is_weak(x.attrs["value"]):
                # A weak number's dtype next to `like`, as in `dtype` (alone 1.0 is float64).
                value = x.attrs["value"]
                x = const(np.asarray(value, dtype=np.result_type(like.dtype, value)))
            return self.static(x, like.shape)
        return None


class SumTo(_LikeOp):
    """`sum_to(g, x)`: `g` summed down to the shape of `x`, undoing a broadcast.

    The axes that broadcasting added or stretched are summed: the gradient of `x + y` with
    respect to a smaller `x` is `sum_to(g, x)`. Derivatives print it while shapes are
    unknown; once they are known it becomes `sum(...)` over those axes, or `g` itself.

    Examples
    --------
    >>> import graphc as gc, numpy as np
    >>> gc.sum_to(np.ones((2, 3)), np.zeros((1, 3)))
    array([[2., 2., 2.]])
    """

    name = "sum_to"
    cost = costs.per_input_entry(1)
    public = True

    def __call__(self, *args, **kwargs):
        # Every elementwise VJP calls this, and on two arrays of one shape it is the identity:
        # skip the generic call path (eager backward passes spend their time in such calls).
        if len(args) == 2 and not kwargs:
            x, like = args
            if type(x) is np.ndarray and type(like) is np.ndarray:
                return x if x.shape == like.shape else runtime._sum_to(x, like.shape)
        return OpDef.__call__(self, *args, **kwargs)

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
        reduce_sum = OPS["sum"]  # ops.reduce imports this module: reach it through the table
        if shape == ():
            return reduce_sum(x)
        lead = len(x.shape) - len(shape)
        if lead:
            x = reduce_sum(x, axis=tuple(range(lead)))
        ones = tuple(i for i, d in enumerate(shape) if d == 1 and x.shape[i] != 1)
        return reduce_sum(x, axis=ones, keepdims=True) if ones else x


class BroadcastLike(_LikeOp):
    """`broadcast_like(x, like)`: `x` broadcast to the shape of `like` (numpy's rules).

    The gradient of `sum(x)` is `broadcast_like(1, x)` before the shape of `x` is known:
    ones of its shape. The inverse of `sum_to`.

    Examples
    --------
    >>> import graphc as gc, numpy as np
    >>> gc.broadcast_like(np.array([1.0, 2.0]), np.zeros((2, 2)))
    array([[1., 2.],
           [1., 2.]])
    """

    name = "broadcast_like"
    cost = costs.free  # a numpy view
    public = True
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
    """`reshape_like(x, like)`: `x` reshaped to the shape of `like` (same size).

    The gradient of `reshape(x, shape)` is `reshape_like(g, x)`: g in the shape of x.

    Examples
    --------
    >>> import graphc as gc, numpy as np
    >>> gc.reshape_like(np.arange(4.0), np.zeros((2, 2)))
    array([[0., 1.],
           [2., 3.]])
    """

    name = "reshape_like"
    cost = costs.free  # a numpy view
    public = True

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
    cost = costs.free  # a numpy view
    public = True

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
        axes = normalize_axis(
            axis, len(s) + (1 if isinstance(axis, int) else len(axis)), "expand_dims"
        )
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

    array_api = staticmethod(forms.expand_dims)

    def vjp(self, g, y, x, *, axis):
        return (reshape_like(g, x),)

    def jvp(self, ts, y, x, *, axis):
        return expand_dims(ts[0], axis)

    def batch(self, batched, y, x, *, axis):
        return expand_dims(x, batch_axis(axis, len(y.shape)))


class Squeeze(OpDef):
    """`np.squeeze(x, axis)`."""

    name, attr_names = "squeeze", ("axis",)
    cost = costs.free  # a numpy view
    public, methods = True, ("squeeze",)

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

    array_api = staticmethod(forms.squeeze)

    def vjp(self, g, y, x, *, axis):
        return (reshape_like(g, x),)

    def jvp(self, ts, y, x, *, axis):
        return squeeze(ts[0], axis)

    def batch(self, batched, y, x, *, axis):
        shape = y.inputs[0].shape
        if axis is None:
            axis = tuple(i for i, d in enumerate(shape) if d == 1)
        return squeeze(x, batch_axis(axis, len(shape)))


class Get(OpDef):
    """Element `index` of a tuple-valued node (loops and other multi-output ops)."""

    name, attr_names = "get", ("index",)
    cost = costs.free  # the tuple's producer pays
    foldable = False

    def check_attrs(self, attrs):
        index = attrs["index"]
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ShapeError(f"get: index must be a non-negative int, got {index!r}")
        return {"index": int(index)}  # an exact int: it is emitted

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
            raise ShapeError(
                f"get: index {index} out of range for the {len(types)} results of {x.op}"
            )
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
get = register(Get())
