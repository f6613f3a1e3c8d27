"""Joining, splitting and indexing: concatenate, stack, split_like, basic indexing and its
VJP `index_grad`."""

from __future__ import annotations

import numpy as np

from .. import runtime
from ..dispatch import dtype_key
from ..errors import ArgumentError, DTypeError, OutOfBoundsError, ShapeError
from ..ir import as_list
from . import costs
from .base import OpDef, broadcast_shapes, fmt_shape, normalize_axis, register
from .batch_rules import batch_axis, batch_size, batched_all
from .elementwise import zeros_like
from .shape import broadcast_like, transpose


class _Join(OpDef):
    """Shared by concatenate and stack: a list of arrays and an axis."""

    nin, attr_names = None, ("axis",)
    cost = costs.copy
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
    public, numpy_names = True, ("concat",)

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
    cost = costs.free  # a numpy view
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
    """Indexing `x[index]`, as numpy: ints, slices, None (newaxis), Ellipsis, integer arrays
    (`x[[0, 2]]`, `x[idx]` with `idx` a symbol of integers) and boolean masks (`x[x > 0]`).

    The index arrays are inputs after `x` (a list or numpy array becomes a constant; a
    constant mask becomes its True positions when the graph is built); the attr `index`
    holds the rest, with a slot `("array",)` per array. The gradient adds the cotangent back
    at the indexed positions (`index_grad`), so an entry indexed twice gets both."""

    name, nin, attr_names = "getitem", None, ("index",)
    cost = costs.copy  # a basic slice is a view: an upper bound
    tape_name = "Index"
    nondiff_inputs = range(1, 1 << 62)  # the index arrays: integers, no gradient

    def prepare(self, x, index):
        arrays, index = split_key(index)
        return (x,) + arrays, {"index": index}

    def check_attrs(self, attrs):
        return {"index": runtime.check_index(attrs["index"])}

    def node_type(self, inputs, attrs):
        x, *arrays = inputs
        descs = _array_descs(self.name, attrs["index"], arrays)
        if x.shape is None or descs is None:
            return None, x.dtype
        return _indexed_shape(self.name, x.shape, attrs["index"], descs), x.dtype

    def shape(self, s, *arrays, index):  # without dtypes: the arrays taken as integers
        if s is None or any(a is None for a in arrays):
            return None
        return _indexed_shape(self.name, s, index, [(a, "i", None) for a in arrays])

    def dtype(self, d, *arrays, index):
        return d

    def impl(self, x, *arrays, index):
        key = runtime.to_numpy_index(index, _data_arrays(self.name, arrays))
        try:
            return np.asarray(x)[key]
        except IndexError as exc:
            raise _index_error(self.name, exc) from None

    def emit(self, x, *arrays, index):
        return f"{x}[{runtime.format_index(index, arrays=arrays)}]"

    def array_api(self, x, *arrays, index):
        if arrays:  # the standard indexes by one mask at most: a helper (take, nonzero)
            return f"_getitem({x}, {runtime.format_index(index, True, arrays)})"
        index = index if "..." in index else (*index, "...")
        if any(isinstance(i, tuple) and i[3] is not None and i[3] < 0 for i in index):
            return f"_sliced({x}, {runtime.format_index(index, True)})"  # torch: no such views
        return self.emit(x, index=index)

    def run_error(self, exc):
        return _index_error(self.name, exc) if isinstance(exc, IndexError) else None

    def scalar_emit(self, node):
        """Scalar code for one int index of a rank-1 array (given as a list there)."""
        (x, *arrays), index = node.inputs, node.attrs["index"]
        k = _entry(index, arrays, x)
        return None if k is None else f"{{0}}[{k}]"

    def vjp(self, g, y, x, *arrays, index):
        return (index_grad(g, x, index=_key(index, arrays)),) + (None,) * len(arrays)

    def jvp(self, ts, y, x, *arrays, index):
        return None if ts[0] is None else getitem(ts[0], _key(index, arrays))

    def batch(self, batched, y, x, *arrays, index):
        first = _advanced_first(index, arrays)
        if any(batched[1:]) or first is None:
            return None  # entry by entry: index arrays of a batch (integer data)
        out = getitem(x, _key((_ALL,) + index, arrays))
        if not first:
            return out
        # numpy put the arrays' axes first, before the batch axis: move it to the front
        k = len(y.shape) - _basic_axes(index, arrays, len(x.shape) - 1)
        return transpose(out, (k,) + tuple(i for i in range(len(y.shape) + 1) if i != k))


def _entry(index, arrays, vector) -> int | None:
    """k for an index `(k,)` of one int into a rank-1 `vector` of known length (no index
    arrays), counted from the start: scalar code reads and builds such vectors as Python
    lists (graphc.scalar_code). None for any other index."""
    shape = vector.shape
    if arrays or len(index) != 1 or type(index[0]) is not int or shape is None:
        return None
    return index[0] % shape[0] if len(shape) == 1 and shape[0] is not None else None


class IndexGrad(OpDef):
    """Zeros of `like`'s shape with `x` added at `index` (the VJP of indexing: an entry an
    integer array repeats gets each of its values); printed JAX-style,
    `zeros_like(like).at[index].add(x)`, which `graphc.parse` reads. Its index arrays are
    inputs after `like`, as for `getitem`."""

    name, nin, attr_names = "index_grad", None, ("index",)
    shape_only_inputs = (1,)
    fresh = True
    nondiff_inputs = range(1, 1 << 62)

    def prepare(self, x, like, *, index):
        arrays, index = split_key(index)
        return (x, like) + arrays, {"index": index}

    def check_attrs(self, attrs):
        return {"index": runtime.check_index(attrs["index"])}

    def node_type(self, inputs, attrs):
        x, like, *arrays = inputs
        descs = _array_descs(self.name, attrs["index"], arrays)
        if like.shape is not None and descs is not None:
            _indexed_shape(self.name, like.shape, attrs["index"], descs)  # checks it fits
        return like.shape, self.dtype(dtype_key(x), like.dtype, index=attrs["index"])

    def shape(self, s, like, *arrays, index):
        return like

    def dtype(self, d, like, *arrays, index):
        # A weak Python number (the head 1.0 of a scalar output) takes the dtype numpy gives
        # it next to `like`, as `runtime._index_grad` does.
        if d is None or isinstance(d, np.dtype):
            return d
        return None if like is None else np.result_type(like, d)

    def impl(self, x, like, *arrays, index):
        key = runtime.to_numpy_index(index, _data_arrays(self.name, arrays))
        try:
            return runtime._index_grad(x, like, key)
        except IndexError as exc:
            raise _index_error(self.name, exc) from None

    def emit(self, x, like, *arrays, index):
        return f"_index_grad({x}, {like}, {runtime.format_index(index, True, arrays)})"

    def array_api(self, x, like, *arrays, index):
        if arrays:  # a scatter-add by sorting (graphc.backends.array_api_index)
            return self.emit(x, like, *arrays, index=index)
        return self.emit(x, like, index=index if "..." in index else (*index, "..."))

    run_error = GetItem.run_error

    def scalar_one_hot(self, node):
        """(k, n): this vector is n zeros but the 0-d `x` at entry k (one int index of a
        rank-1 `like`), which scalar code builds as a Python list; else None."""
        (_, like, *arrays), index = node.inputs, node.attrs["index"]
        k = _entry(index, arrays, like)
        return None if k is None else (k, like.shape[0])

    def vjp(self, g, y, x, like, *arrays, index):
        return (getitem(g, _key(index, arrays)), None) + (None,) * len(arrays)

    def jvp(self, ts, y, x, like, *arrays, index):
        return None if ts[0] is None else index_grad(ts[0], like, index=_key(index, arrays))

    def batch(self, batched, y, x, like, *arrays, index):
        if any(batched[2:]) or _advanced_first(index, arrays) is not False:
            return None  # entry by entry: batched index arrays, or their axes put first
        x, like = batched_all((x, like), batched[:2], batch_size((x, like), batched[:2]))
        return index_grad(x, like, index=_key((_ALL,) + index, arrays))


# --- index keys with arrays ---------------------------------------------------------------


def split_key(key):
    """A user's key as (its index arrays, the canonical index with a slot per array).

    Lists and numpy arrays are index arrays, as in numpy (constants: a boolean one is a
    mask whose True count is known now); symbols and eager tensors are kept as given (a
    boolean one is a mask whose True count is known at run time only)."""
    items = key if isinstance(key, tuple) else (key,)
    arrays, out = [], []
    for item in items:
        if getattr(type(item), "_graphc_kind", None) is not None:  # a symbol or a tensor
            out.append(runtime.ARRAY)
            arrays.append(item)
        elif isinstance(item, (list, np.ndarray)):
            arr = _constant_index(item)
            if arr.ndim == 0:  # numpy reads a 0-d integer array as the int
                out.append(int(arr))
            else:
                out.append(runtime.ARRAY)
                arrays.append(arr)
        else:
            out.append(item)
    return tuple(arrays), runtime.check_index(tuple(out))


def _constant_index(item) -> np.ndarray:
    try:
        arr = np.asarray(item)
    except ValueError as exc:  # a ragged list
        raise ShapeError(f"getitem: cannot make an index array of {item!r}: {exc}") from None
    if arr.size == 0 and arr.dtype.kind == "f":  # `x[[]]`: no integers, as numpy reads it
        return arr.astype(np.intp)
    if arr.dtype.kind not in "biu":
        raise DTypeError(f"getitem: index arrays must be integers or booleans, got {arr.dtype}")
    if arr.dtype == bool and arr.ndim == 0:
        raise ShapeError("getitem: a boolean scalar index (x[True]) is not supported")
    return arr


def _key(index, arrays):
    """The key of a canonical index with its slots filled by `arrays` (for `split_key`)."""
    arrays = iter(arrays)
    return tuple(next(arrays) if i == runtime.ARRAY else i for i in index)


def _array_descs(op, index, arrays):
    """(shape, kind, constant value or None) of each index array, kind "b" for booleans,
    "i" for integers, None while the dtype is unknown; checks the count and the dtypes."""
    if sum(1 for i in index if i == runtime.ARRAY) != len(arrays):
        raise ShapeError(f"{op}: the index has a different number of array slots than arrays")
    descs = []
    for a in arrays:
        kind = None if a.dtype is None else "b" if a.dtype == bool else a.dtype.kind
        if kind not in (None, "b", "i", "u"):
            raise DTypeError(f"{op}: index arrays must be integers or booleans, got {a.dtype}")
        if kind == "b" and a.shape == ():
            raise ShapeError(f"{op}: a boolean scalar index (x[True]) is not supported")
        value = a.attrs["value"] if a.op == "const" else None
        descs.append((a.shape, None if kind is None else "b" if kind == "b" else "i", value))
    return descs


def _indexed_shape(op, shape, index, descs):
    try:
        return runtime.index_shape(shape, index, descs)
    except IndexError as exc:
        raise _index_error(op, exc) from None


def _data_arrays(op, arrays):
    out = [np.asarray(a) for a in arrays]
    for a in out:
        if a.dtype.kind not in "biu":
            raise DTypeError(f"{op}: index arrays must be integers or booleans, got {a.dtype}")
    return out


def _index_error(op, exc: IndexError) -> ShapeError:
    """numpy's (or the shape rule's) complaint about an index as a graphc error: an entry
    outside its axis is an `OutOfBoundsError` (also an `IndexError`)."""
    cls = OutOfBoundsError if "out of bounds" in str(exc) else ShapeError
    return cls(f"{op}: {exc}")


def _axes_taken(item, array) -> int:
    """How many axes of the indexed array an index item takes."""
    if item is None or item == "...":
        return 0
    return len(array.shape) if item == runtime.ARRAY and array.dtype == bool else 1


def _expanded(index, arrays, rank):
    """[(item, array or None)] with `...` replaced by the slices it stands for."""
    arrays = iter(arrays)
    items = [(i, next(arrays) if i == runtime.ARRAY else None) for i in index]
    rest = rank - sum(_axes_taken(i, a) for i, a in items)
    full = [(_ALL, None)] * rest
    at = [k for k, (i, _) in enumerate(items) if i == "..."]
    return items[: at[0]] + full + items[at[0] + 1 :] if at else items + full


def _advanced_first(index, arrays):
    """Whether numpy puts the result axes of an index's arrays first, before the axes of its
    slices and Nones (`runtime.advanced_in_place`); None when the arrays' ranks or dtypes
    are unknown. False without arrays."""
    if not arrays:
        return False
    if any(a.shape is None or a.dtype is None for a in arrays):
        return None
    return not runtime.advanced_in_place(index)


def _basic_axes(index, arrays, rank) -> int:
    """How many result axes an index's slices and Nones make (the rest are its arrays')."""
    return sum(
        1
        for i, _ in _expanded(index, arrays, rank)
        if i is None or (isinstance(i, tuple) and i != runtime.ARRAY)
    )


_ALL = ("slice", None, None, None)  # `:` in an index attr (runtime.check_index's form)


concatenate = register(Concatenate())
split_like = register(SplitLike())
stack = register(Stack())
getitem = register(GetItem())
index_grad = register(IndexGrad())
