"""Rearranging entries: ravel, flip, swapaxes, moveaxis, roll, atleast_2d, repeat, tile, split,
vstack and hstack.

Each is linear, so its JVP is the op itself on the tangent, and its VJP the adjoint
rearrangement (flip, the inverse move or roll, sums of the repeated copies, zeros around a
piece). The rules index along an axis from the end when it was given negative, so they need
no ranks.
"""

from __future__ import annotations

import numpy as np

from ..errors import ArgumentError, ShapeError
from ..ir import as_list
from . import array_api as forms
from . import costs
from .base import OpDef, check_axis_attr, fmt_shape, known, normalize_axis, register
from .batch_rules import batch_axis, batch_size, batched_all
from .elementwise import add, zeros_like
from .reduce import sum as reduce_sum
from .select import concatenate, getitem, split_like
from .shape import broadcast_like, reshape, reshape_like, sum_to


def along(axis: int, item) -> tuple:
    """The index applying `item` (a slice or an int) along `axis` (negative: from the end),
    whatever the rank.

    >>> along(1, slice(2, None)), along(-1, 0)
    ((slice(None, None, None), slice(2, None, None)), (Ellipsis, 0))
    """
    if axis >= 0:
        return (slice(None),) * axis + (item,)
    return (Ellipsis, item) + (slice(None),) * (-axis - 1)


def full_cotangent(g, y):
    """The cotangent `g` of `y` at `y`'s shape: a scalar `g` (the implicit head 1.0 of an
    output whose shape is unknown) is broadcast, so that rules can slice it."""
    return broadcast_like(g, y) if getattr(g, "shape", ()) == () else g


def _int_attr(value, what: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise ArgumentError(f"{what} must be an int, got {value!r}")
    return int(value)


def _ints(value, what: str) -> tuple[int, ...]:
    """An int or a sequence of ints, as a tuple."""
    if isinstance(value, (tuple, list)):
        return tuple(_int_attr(v, what) for v in value)
    return (_int_attr(value, what),)


class _Linear(OpDef):
    """A rearrangement of one input: same dtype; the JVP applies the op to the tangent.
    Its result may be a view of the input (not `fresh`) unless the op says otherwise."""

    def dtype(self, d, **attrs):
        return d

    def jvp(self, ts, y, x, **attrs):
        return type(self).__call__(self, ts[0], **attrs)


class Ravel(_Linear):
    """`np.ravel(x)` (`x.ravel()`, `x.flatten()`): the entries as a vector."""

    name, public, methods = "ravel", True, ("ravel", "flatten")
    cost = costs.free  # a numpy view

    def shape(self, s):
        return (int(np.prod(s)),) if known(s) else (None,)

    def impl(self, x):
        return np.ravel(x)

    def emit(self, x):
        return f"np.ravel({x})"

    array_api = staticmethod(forms.flat)

    def vjp(self, g, y, x):
        return (reshape_like(g, x),)

    def batch(self, batched, y, x):
        return reshape(x, (x.shape[0], -1))


class Flip(_Linear):
    """`np.flip(x, axis)`: the order of entries reversed along `axis` (all axes: None)."""

    name, attr_names, public = "flip", ("axis",), True
    cost = costs.free  # a numpy view

    def prepare(self, x, axis=None):
        return (x,), self.check_attrs({"axis": axis})

    def check_attrs(self, attrs):
        return {"axis": check_axis_attr(attrs.get("axis"), "flip")}

    def shape(self, s, *, axis):
        if s is not None:
            normalize_axis(axis, len(s), "flip")
        return s

    def impl(self, x, *, axis):
        return np.flip(x, axis)

    def emit(self, x, *, axis):
        return f"np.flip({x})" if axis is None else f"np.flip({x}, {axis!r})"

    array_api = staticmethod(forms.flip)

    def vjp(self, g, y, x, *, axis):
        return (flip(g, axis),)

    def batch(self, batched, y, x, *, axis):
        return flip(x, batch_axis(axis, len(y.shape)))


class SwapAxes(_Linear):
    """`np.swapaxes(x, axis1, axis2)` (`x.swapaxes(axis1, axis2)`)."""

    name, attr_names = "swapaxes", ("axis1", "axis2")
    cost = costs.free  # a numpy view
    public, methods = True, ("swapaxes",)

    def prepare(self, x, axis1, axis2):
        return (x,), self.check_attrs({"axis1": axis1, "axis2": axis2})

    def check_attrs(self, attrs):
        return {k: _int_attr(attrs[k], f"swapaxes: {k}") for k in ("axis1", "axis2")}

    def shape(self, s, *, axis1, axis2):
        if s is None:
            return None
        a, b = (normalize_axis(v, len(s), "swapaxes")[0] for v in (axis1, axis2))
        out = list(s)
        out[a], out[b] = s[b], s[a]
        return tuple(out)

    def impl(self, x, *, axis1, axis2):
        return np.swapaxes(x, axis1, axis2)

    def emit(self, x, *, axis1, axis2):
        return f"np.swapaxes({x}, {axis1}, {axis2})"

    array_api = staticmethod(forms.swapaxes)

    def vjp(self, g, y, x, *, axis1, axis2):
        return (swapaxes(g, axis1, axis2),)

    def batch(self, batched, y, x, *, axis1, axis2):
        return swapaxes(x, *(batch_axis(a, len(y.shape)) for a in (axis1, axis2)))


class MoveAxis(_Linear):
    """`np.moveaxis(x, source, destination)`."""

    name, attr_names, public = "moveaxis", ("source", "destination"), True
    cost = costs.free  # a numpy view

    def prepare(self, x, source, destination):
        return (x,), self.check_attrs({"source": source, "destination": destination})

    def check_attrs(self, attrs):
        source, destination = (_ints(attrs[k], f"moveaxis: {k}") for k in attrs)
        if len(source) != len(destination):
            raise ShapeError(
                "moveaxis: source and destination must have the same number of axes, got "
                f"{attrs['source']!r} and {attrs['destination']!r}"
            )
        return {"source": source, "destination": destination}

    def shape(self, s, *, source, destination):
        if s is None:
            return None
        src = [normalize_axis(a, len(s), "moveaxis")[0] for a in source]
        dst = [normalize_axis(a, len(s), "moveaxis")[0] for a in destination]
        if len(set(src)) != len(src) or len(set(dst)) != len(dst):
            raise ShapeError(f"moveaxis: repeated axis in {source} or {destination}")
        order = [i for i in range(len(s)) if i not in src]
        for d, a in sorted(zip(dst, src)):
            order.insert(d, a)
        return tuple(s[i] for i in order)

    def impl(self, x, *, source, destination):
        return np.moveaxis(x, source, destination)

    def emit(self, x, *, source, destination):
        return f"np.moveaxis({x}, {source!r}, {destination!r})"

    def vjp(self, g, y, x, *, source, destination):
        return (moveaxis(g, destination, source),)

    def batch(self, batched, y, x, *, source, destination):
        # Pairwise (batch_axis would sort a tuple of axes).
        shift = [tuple(batch_axis(a, len(y.shape)) for a in v) for v in (source, destination)]
        return moveaxis(x, *shift)


class Roll(_Linear):
    """`np.roll(x, shift, axis)`: entries shifted cyclically (over the flattened array when
    `axis` is None)."""

    fresh = True
    name, attr_names, public = "roll", ("shift", "axis"), True
    cost = costs.copy

    def prepare(self, x, shift, axis=None):
        return (x,), self.check_attrs({"shift": shift, "axis": axis})

    def check_attrs(self, attrs):
        shift, axis = attrs["shift"], check_axis_attr(attrs.get("axis"), "roll")
        shifts = _ints(shift, "roll: shift")
        if isinstance(shift, (tuple, list)) and (
            axis is None or len(shifts) != len(axis if isinstance(axis, tuple) else (axis,))
        ):
            raise ShapeError(f"roll: shift {shift!r} and axis {axis!r} do not match")
        return {"shift": shifts if isinstance(shift, (tuple, list)) else shifts[0], "axis": axis}

    def shape(self, s, *, shift, axis):
        if s is not None and axis is not None:
            axes = axis if isinstance(axis, tuple) else (axis,)
            [normalize_axis(a, len(s), "roll") for a in axes]
        return s

    def impl(self, x, *, shift, axis):
        return np.roll(x, shift, axis)

    def emit(self, x, *, shift, axis):
        return f"np.roll({x}, {shift!r}, {axis!r})"

    array_api = staticmethod(forms.roll)

    def vjp(self, g, y, x, *, shift, axis):
        back = tuple(-s for s in shift) if isinstance(shift, tuple) else -shift
        return (roll(g, back, axis),)

    def batch(self, batched, y, x, *, shift, axis):
        if axis is None:  # each entry rolled as a vector
            flat = roll(reshape(x, (x.shape[0], -1)), shift, 1)
            return reshape(flat, x.shape)
        return roll(x, shift, batch_axis(axis, len(y.shape)))


class AtLeast2D(_Linear):
    """`np.atleast_2d(x)`: a scalar as (1, 1), a vector of n as (1, n), others unchanged."""

    name, public = "atleast_2d", True
    cost = costs.free  # a numpy view

    def shape(self, s):
        if s is None:
            return None
        return ((1,) * (2 - len(s)) + s) if len(s) < 2 else s

    def impl(self, x):
        return np.atleast_2d(x)

    def emit(self, x):
        return f"np.atleast_2d({x})"

    array_api = staticmethod(forms.atleast_2d)

    def vjp(self, g, y, x):
        return (reshape_like(g, x),)

    def batch(self, batched, y, x):
        return reshape(x, x.shape[:1] + y.shape)


class Repeat(_Linear):
    """`np.repeat(x, repeats, axis)` with an int `repeats` (each entry `repeats` times in a
    row; over the flattened array when `axis` is None)."""

    fresh = True
    name, attr_names = "repeat", ("repeats", "axis")
    cost = costs.copy
    public, methods = True, ("repeat",)

    def prepare(self, x, repeats, axis=None):
        return (x,), self.check_attrs({"repeats": repeats, "axis": axis})

    def check_attrs(self, attrs):
        repeats = _int_attr(attrs["repeats"], "repeat: repeats")
        axis = attrs.get("axis")
        if repeats < 0:
            raise ShapeError(f"repeat: repeats must not be negative, got {repeats}")
        return {
            "repeats": repeats,
            "axis": None if axis is None else _int_attr(axis, "repeat: axis"),
        }

    def shape(self, s, *, repeats, axis):
        if axis is None:
            return (int(np.prod(s)) * repeats,) if known(s) else (None,)
        if s is None:
            return None
        a = normalize_axis(axis, len(s), "repeat")[0]
        return s[:a] + (None if s[a] is None else s[a] * repeats,) + s[a + 1 :]

    def impl(self, x, *, repeats, axis):
        return np.repeat(x, repeats, axis)

    def emit(self, x, *, repeats, axis):
        return f"np.repeat({x}, {repeats}, {axis!r})"

    array_api = staticmethod(forms.repeat)

    def vjp(self, g, y, x, *, repeats, axis):
        if repeats == 0:
            return (zeros_like(x),)
        g = full_cotangent(g, y)
        shape = getattr(x, "shape", None)
        if axis is None:
            return (reshape_like(_sum_copies(g, repeats, -1), x),)
        if known(shape):  # one reshape and one sum
            a = normalize_axis(axis, len(shape), "repeat")[0]
            split = reshape(g, shape[:a] + (shape[a], repeats) + shape[a + 1 :])
            return (reduce_sum(split, axis=a + 1),)
        return (_sum_copies(g, repeats, axis),)

    def batch(self, batched, y, x, *, repeats, axis):
        if axis is None:
            return repeat(reshape(x, (x.shape[0], -1)), repeats, 1)
        return repeat(x, repeats, batch_axis(axis, len(y.inputs[0].shape)))


def _sum_copies(g, repeats, axis):
    """The sum over k < repeats of g[k::repeats] along `axis` (the VJP of repeating each
    entry, with no sizes needed)."""
    if repeats == 0:
        return None
    total = None
    for k in range(repeats):
        piece = getitem(g, along(axis, slice(k, None, repeats)))
        total = piece if total is None else add(total, piece)
    return total


class Tile(_Linear):
    """`np.tile(x, reps)`: `x` repeated as blocks (reps padded with 1s in front to x's rank,
    or x's shape with 1s to len(reps))."""

    fresh = True
    name, attr_names, public = "tile", ("reps",), True
    cost = costs.copy

    def prepare(self, x, reps):
        return (x,), self.check_attrs({"reps": reps})

    def check_attrs(self, attrs):
        reps = _ints(attrs["reps"], "tile: reps")
        if any(r < 0 for r in reps):
            raise ShapeError(f"tile: reps must not be negative, got {attrs['reps']!r}")
        return {"reps": reps}

    def shape(self, s, *, reps):
        if s is None:
            return None
        n = max(len(s), len(reps))
        s = (1,) * (n - len(s)) + s
        reps = (1,) * (n - len(reps)) + reps
        return tuple(None if d is None else d * r for d, r in zip(s, reps))

    def impl(self, x, *, reps):
        return np.tile(x, reps)

    def emit(self, x, *, reps):
        return f"np.tile({x}, {reps!r})"

    def vjp(self, g, y, x, *, reps):
        g = full_cotangent(g, y)
        shape = getattr(x, "shape", None)
        if 0 in reps:
            return (zeros_like(x),)
        if known(shape):  # one reshape to (r0, d0, r1, d1, ...) and one sum
            n = max(len(shape), len(reps))
            dims = (1,) * (n - len(shape)) + shape
            reps = (1,) * (n - len(reps)) + reps
            blocks = reshape(g, tuple(v for pair in zip(reps, dims) for v in pair))
            return (reshape_like(reduce_sum(blocks, axis=tuple(range(0, 2 * n, 2))), x),)
        for k, r in enumerate(reversed(reps)):  # from the last axis: no rank needed
            if r > 1:
                pieces = split(g, r, axis=-1 - k)
                total = pieces[0]
                for piece in pieces[1:]:
                    total = add(total, piece)
                g = total
        return (sum_to(g, x),)

    def batch(self, batched, y, x, *, reps):
        n = len(y.shape)  # x with 1s in front to that rank, then tiled but for the batch axis
        x = reshape(x, x.shape[:1] + (1,) * (n + 1 - len(x.shape)) + x.shape[1:])
        return tile(x, (1,) + (1,) * (n - len(reps)) + reps)


class Split(OpDef):
    """`np.split(x, indices_or_sections, axis)`: a list of pieces (equal sections, or cut at
    the indices). Each piece is one node of this op, its `index` an attr: `split(x, 2,
    index=1)` is the second piece alone."""

    name, attr_names, public = "split", ("indices_or_sections", "axis", "index"), True
    cost = costs.free  # a numpy view
    fresh = False  # a view

    def __call__(self, *args, **kwargs):
        try:
            x, cuts, axis, index = _split_arguments(*args, **kwargs)
        except TypeError as exc:
            raise self.call_error(exc, args, kwargs) from None
        if index is not None:
            return OpDef.__call__(self, x, cuts, axis, index)
        n = len(cuts) + 1 if isinstance(cuts, (tuple, list)) else cuts
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ArgumentError(f"split: sections must be a positive int, got {cuts!r}")
        return [OpDef.__call__(self, x, cuts, axis, i) for i in range(int(n))]

    def prepare(self, x, indices_or_sections, axis=0, index=0):
        attrs = {"indices_or_sections": indices_or_sections, "axis": axis, "index": index}
        return (x,), self.check_attrs(attrs)

    def check_attrs(self, attrs):
        cuts = attrs["indices_or_sections"]
        if isinstance(cuts, (tuple, list)):
            cuts, n = _ints(cuts, "split: indices"), len(cuts) + 1
        else:
            cuts = n = _int_attr(cuts, "split: sections")
            if n < 1:
                raise ShapeError(f"split: sections must be positive, got {n}")
        index = _int_attr(attrs.get("index", 0), "split: index")
        if not 0 <= index < n:
            raise ShapeError(f"split: index {index} out of range for {n} pieces")
        axis = _int_attr(attrs.get("axis", 0), "split: axis")
        return {"indices_or_sections": cuts, "axis": axis, "index": index}

    def shape(self, s, *, indices_or_sections, axis, index):
        if s is None:
            return None
        a = normalize_axis(axis, len(s), "split")[0]
        size = s[a]
        if isinstance(indices_or_sections, int):
            if size is not None and size % indices_or_sections:
                raise ShapeError(
                    f"split: {indices_or_sections} equal sections of axis {axis} of shape "
                    f"{fmt_shape(s)} do not exist (np.array_split is not np.split)"
                )
            piece = None if size is None else size // indices_or_sections
        elif size is None:
            piece = None
        else:
            bounds = (0,) + indices_or_sections + (size,)
            start, stop, _ = slice(bounds[index], bounds[index + 1]).indices(size)
            piece = max(0, stop - start)
        return s[:a] + (piece,) + s[a + 1 :]

    def dtype(self, d, **attrs):
        return d

    def impl(self, x, *, indices_or_sections, axis, index):
        return np.split(x, indices_or_sections, axis)[index]

    def emit(self, x, *, indices_or_sections, axis, index):
        return f"np.split({x}, {indices_or_sections!r}, {axis})[{index}]"

    array_api = staticmethod(forms.split)

    def vjp(self, g, y, x, *, indices_or_sections, axis, index):
        g = full_cotangent(g, y)
        n = (
            indices_or_sections
            if isinstance(indices_or_sections, int)
            else len(indices_or_sections) + 1
        )
        pieces = [
            g if i == index else zeros_like(split(x, indices_or_sections, axis, index=i))
            for i in range(n)
        ]
        return (concatenate(pieces, axis),)

    def jvp(self, ts, y, x, *, indices_or_sections, axis, index):
        return split(ts[0], indices_or_sections, axis, index=index)

    def batch(self, batched, y, x, *, indices_or_sections, axis, index):
        axis = batch_axis(axis, len(y.shape))
        return split(x, indices_or_sections, axis, index=index)


def _split_arguments(x, indices_or_sections, axis=0, index=None):
    return x, indices_or_sections, axis, index


class _Stack(OpDef):
    """vstack and hstack: numpy's concatenation of arrays made 2-D (vstack, along axis 0) or
    1-D (hstack: along axis 0 for vectors, else 1)."""

    nin, public, fresh, sequence_input = None, True, True, True
    cost = costs.copy

    def prepare(self, arrays):
        arrays = tuple(as_list(arrays, f"{self.name}: arrays", "a list of arrays"))
        if not arrays:
            raise ShapeError(f"{self.name}: needs at least one array")
        return arrays, {}

    def dtype(self, *dtypes):
        return None if any(d is None for d in dtypes) else np.result_type(*dtypes)

    def shape(self, *shapes):
        if shapes[0] is None:
            return None
        axis = self.axis(len(shapes[0]))
        promoted = [None if s is None else self.promote(s) for s in shapes]
        return concatenate.shape(*promoted, axis=axis)

    def impl(self, *xs):
        return getattr(np, self.name)(xs)

    def emit(self, *xs):
        return f"np.{self.name}(({', '.join(xs)},))"

    def array_api(self, *xs):
        return forms.joined(self.name, xs)

    def vjp(self, g, y, *xs):
        # Made 2-D, every input is joined along axis 0 (vstack) or 1 (hstack: vectors and
        # scalars are rows then), whatever the ranks.
        g = atleast_2d(full_cotangent(g, y))
        promoted = [atleast_2d(x) for x in xs]
        axis = 0 if self.name == "vstack" else 1
        return tuple(
            reshape_like(split_like(g, *promoted, axis=axis, index=i), x) for i, x in enumerate(xs)
        )

    def jvp(self, ts, y, *xs):
        if all(t is None for t in ts):
            return None
        return type(self).__call__(
            self, [zeros_like(x) if t is None else t for t, x in zip(ts, xs)]
        )

    def batch(self, batched, y, *xs):
        size = batch_size(xs, batched)
        xs = batched_all(xs, batched, size)
        parts = [reshape(x, (size,) + self.promote(x.shape[1:])) for x in xs]
        rank = len(xs[0].shape) - 1
        return concatenate(parts, 1 + self.axis(rank))


class VStack(_Stack):
    """`np.vstack(arrays)`."""

    name = "vstack"

    def axis(self, rank):
        return 0

    def promote(self, s):
        return (1,) * (2 - len(s)) + s if len(s) < 2 else s


class HStack(_Stack):
    """`np.hstack(arrays)`."""

    name = "hstack"

    def axis(self, rank):
        return 0 if rank <= 1 else 1

    def promote(self, s):
        return s or (1,)


ravel = register(Ravel())
flip = register(Flip())
swapaxes = register(SwapAxes())
moveaxis = register(MoveAxis())
roll = register(Roll())
atleast_2d = register(AtLeast2D())
repeat = register(Repeat())
tile = register(Tile())
split = register(Split())
vstack = register(VStack())
hstack = register(HStack())
