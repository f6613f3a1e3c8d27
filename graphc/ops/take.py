"""`take(x, indices, axis)`, numpy's gather along one axis (the flattened array when `axis`
is None), on top of integer-array indexing (`select.getitem`): its gradient adds the
cotangent back at the indices (`index_grad`, repeated indices accumulating)."""

from __future__ import annotations

import numpy as np

from ..errors import DTypeError, ShapeError
from . import costs
from .base import OpDef, check_axis_attr, normalize_axis, register
from .rearrange import along, ravel
from .select import GetItem, _index_error, index_grad
from .shape import reshape, reshape_like


class Take(OpDef):
    """`np.take(x, indices, axis=None)` (`x.take(indices, axis)`): the entries of `x` at the
    integer `indices` along `axis`, or of the flattened `x` when `axis` is None. The result
    has `x`'s axes with `axis` replaced by the axes of `indices` (examples: ops.docs_shapes).
    """

    name, nin, attr_names = "take", 2, ("axis",)
    cost = costs.copy
    public, methods = True, ("take",)
    nondiff_inputs = (1,)

    def prepare(self, x, indices, axis=None):
        if getattr(type(indices), "_graphc_kind", None) is None:  # not a symbol or a tensor
            indices = _constant_indices(indices)
        return (x, indices), self.check_attrs({"axis": axis})

    def check_attrs(self, attrs):
        axis = check_axis_attr(attrs.get("axis"), self.name)
        if isinstance(axis, tuple):
            raise ShapeError(f"take: axis must be an int or None, got {axis!r}")
        return {"axis": axis}

    def node_type(self, inputs, attrs):
        x, idx = inputs
        if idx.dtype is not None and idx.dtype.kind not in "iu":
            raise DTypeError(f"take: indices must be integers, got {idx.dtype}")
        return self.shape(x.shape, idx.shape, **attrs), x.dtype

    def shape(self, s, i, *, axis):
        if s is None or i is None:
            return None
        if axis is None:
            return i
        a = normalize_axis(axis, len(s), self.name)[0]
        return s[:a] + i + s[a + 1 :]

    def dtype(self, d, i, *, axis):
        return d

    def impl(self, x, indices, *, axis):
        indices = np.asarray(indices)
        if indices.dtype.kind not in "iu":
            raise DTypeError(f"take: indices must be integers, got {indices.dtype}")
        try:
            return np.take(x, indices, axis=axis)
        except IndexError as exc:
            raise _index_error(self.name, exc) from None

    def emit(self, x, indices, *, axis):
        return f"np.take({x}, {indices}, axis={axis})"

    def array_api(self, x, indices, *, axis):
        return f"_take({x}, {indices}, {axis})"

    run_error = GetItem.run_error  # an index out of bounds: OutOfBoundsError

    def vjp(self, g, y, x, indices, *, axis):
        if axis is None:
            return reshape_like(index_grad(g, ravel(x), index=indices), x), None
        return index_grad(g, x, index=along(axis, indices)), None

    def jvp(self, ts, y, x, indices, *, axis):
        return None if ts[0] is None else take(ts[0], indices, axis=axis)

    def batch(self, batched, y, x, indices, *, axis):
        if batched[1]:
            return None  # entry by entry: batched indices (integer data)
        if axis is None:  # each entry flattened
            return take(reshape(x, (x.shape[0], -1)), indices, axis=1)
        return take(x, indices, axis=axis + 1 if axis >= 0 else axis)


def _constant_indices(indices) -> np.ndarray:
    try:
        arr = np.asarray(indices)
    except ValueError as exc:  # a ragged list
        raise ShapeError(f"take: cannot make an index array of {indices!r}: {exc}") from None
    if arr.size == 0 and arr.dtype.kind == "f":  # `take(x, [])`
        return arr.astype(np.intp)
    if arr.dtype.kind not in "iu":
        raise DTypeError(f"take: indices must be integers, got {arr.dtype}")
    return arr


take = register(Take())
