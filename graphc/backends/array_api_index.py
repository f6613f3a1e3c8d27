"""Indexing by arrays for the `"array_api"` backend, with functions of the Python array API
standard only (2023.12 indexes by ints, slices, None, ... and one boolean mask; it has
`take`, but neither integer-array indexing nor a scatter-add such as numpy's `np.add.at`).

An index `x[...]` as numpy reads it (ints, slices, None, ..., integer arrays, boolean masks)
is planned once per call (`_plan`): the slices are taken first (`x[basic]`, a view), a mask
becomes the integer arrays of its True positions (`nonzero`), and the advanced items (the
arrays and the ints next to them) index the axes they stand on together: those axes are
moved first and flattened into one, and their broadcast indices into one linear index
into it. Then:

- `_getitem` gathers with `take` along that axis, and puts the advanced result axes where
  numpy does (in place when the advanced items are adjacent in the index, else first);
- `_scatter_add` (the gradient: the values of a gather added back, an entry indexed twice
  getting both) sorts the linear indices (stable `argsort`), sums each run of equal indices
  by a segmented inclusive scan in log2(longest run) doubling steps (each step adds the
  value `2**k` places back when it is in the same run), reads each run's total at its last
  place, and finds the runs with `searchsorted`. This costs O(M log M) for M indices and
  adds only values of the same entry: no cancellation between entries, unlike a difference
  of cumulative sums, and no (entries x indices) one-hot matrix.

Indices out of bounds raise IndexError as numpy does (each array is compared to its axis's
size: one read of an array-API value, a device sync on a GPU).

Slices with a negative step are the standard's, but torch has no negative strides: on a
torch tensor `_sliced` (reading) and `_written` (writing) take such a slice forward (the
same entries from the last one taken, a positive step) and flip its axis; other arrays are
indexed as they are.
"""

from __future__ import annotations

import math

import array_api_compat


def _plan(xp, shape, index):
    """(basic, axes, arrays, items, first): `basic` the key of slices taking the slices of
    `index` (a full slice on each advanced axis); `axes` the advanced axes of x[basic] and
    `arrays` their integer index arrays (ints as 0-d arrays), normalized to non-negative
    int64 and checked against the axes' sizes; `items` the result's other axes in order
    (its size for a slice's, None for a new axis); `first` how many of them come before
    the advanced result axes (0 when numpy puts those first)."""
    dev = array_api_compat.device(next(i for i in index if _is_array(i)))
    items, in_place = _items(xp, index, len(shape))
    basic, axes, arrays, rest, first = [], [], [], [], 0
    for kind, value in items:
        if kind == "new":
            rest.append(None)
            continue
        axis, n = len(basic), shape[len(basic)]
        if kind == "slice":
            basic.append(value)
            rest.append(len(range(*value.indices(n))))
            continue
        if not axes and in_place:
            first = len(rest)
        basic.append(slice(None))
        axes.append(axis)
        arrays.append(_checked(xp, dev, value, axis, n))
    return tuple(basic), axes, xp.broadcast_arrays(*arrays), rest, first


def _items(xp, index, rank):
    """([(kind, value)], in_place): the index's items, kind "adv" (an int or an integer
    array: a mask becomes the arrays of its True positions), "slice" or "new" (None), with
    `...` replaced by the full slices it stands for; and whether the advanced items are
    adjacent (numpy then puts their result axes in their place; a `...` between them,
    even standing for no axes, makes them not)."""
    items = []
    for item in index:
        if _is_array(item) and item.dtype == xp.bool:
            items += [("adv", a) for a in xp.nonzero(item)]
        elif _is_array(item) or isinstance(item, int):
            items.append(("adv", item))
        else:
            kind = "new" if item is None else "..." if item is Ellipsis else "slice"
            items.append((kind, item))
    adv = [k for k, (kind, _) in enumerate(items) if kind == "adv"]
    in_place = all(kind == "adv" for kind, _ in items[adv[0] : adv[-1] + 1])
    used = sum(1 for kind, _ in items if kind in ("adv", "slice"))
    if used > rank:
        raise IndexError(f"too many indices for array: array is {rank}-dimensional")
    dots = next((k for k, (kind, _) in enumerate(items) if kind == "..."), len(items))
    full = [("slice", slice(None))] * (rank - used)
    return items[:dots] + full + [i for i in items[dots:] if i[0] != "..."], in_place


def _is_array(item) -> bool:
    return not isinstance(item, (int, slice, type(None), type(Ellipsis)))


def _checked(xp, dev, index, axis, n):
    """`index` (an int or an integer array) as an int64 array in [0, n), or IndexError."""
    index = xp.astype(xp.asarray(index, device=dev), xp.int64)
    if index.ndim and math.prod(index.shape) == 0:
        return index
    outside = (index < -n) | (index >= n)
    if bool(xp.any(outside)):  # one read of a value: the bad index is found only then
        low, high = int(xp.min(index)), int(xp.max(index))
        bad = low if low < -n else high
        raise IndexError(f"index {bad} is out of bounds for axis {axis} with size {n}")
    return xp.where(index < 0, index + n, index)


def _flat_index(arrays, sizes):
    """The row-major linear index of the broadcast `arrays` into axes of `sizes`."""
    out = arrays[0]
    for a, n in zip(arrays[1:], sizes[1:]):
        out = out * n + a
    return out


def _getitem(x, index):
    """numpy's x[index] for an index with arrays (see the module docstring)."""
    xp = array_api_compat.array_namespace(x)
    basic, axes, arrays, rest, first = _plan(xp, tuple(x.shape), index)
    x = _sliced(x, basic)
    others = [a for a in range(x.ndim) if a not in axes]
    sizes = [x.shape[a] for a in axes]
    rows = xp.reshape(
        xp.permute_dims(x, tuple(axes + others)),
        (math.prod(sizes),) + tuple(x.shape[a] for a in others),
    )
    lead = tuple(arrays[0].shape)
    flat = xp.reshape(_flat_index(arrays, sizes), (-1,))
    out = xp.take(rows, flat, axis=0)
    out = xp.reshape(out, lead + tuple(1 if r is None else r for r in rest))
    return xp.permute_dims(out, _placed(len(lead), len(rest), first))


def _take(x, indices, axis):
    """np.take(x, indices, axis) (axis None: of the flattened x), negative indices counted
    from the end, out-of-bounds ones refused."""
    xp = array_api_compat.array_namespace(x, indices)
    if axis is None:
        x, axis = xp.reshape(x, (-1,)), 0
    if indices.ndim != 1:
        return _getitem(x, (slice(None),) * (axis % x.ndim) + (indices, Ellipsis))
    n = x.shape[axis]
    return xp.take(
        x, _checked(xp, array_api_compat.device(x), indices, axis % x.ndim, n), axis=axis
    )


def _placed(n_lead: int, n_rest: int, first: int) -> tuple:
    """The axes order putting `n_lead` leading axes after the first `first` of the next
    `n_rest`."""
    rest = [n_lead + i for i in range(n_rest)]
    return tuple(rest[:first] + list(range(n_lead)) + rest[first:])


def _scatter_add(x, like, index):
    """Zeros shaped like `like` with `x` added at `index` (an index with arrays; entries it
    repeats accumulate), of x's dtype: the gradient of `_getitem`."""
    xp = array_api_compat.array_namespace(x, like)
    dev = array_api_compat.device(like)
    basic, axes, arrays, rest, first = _plan(xp, tuple(like.shape), index)
    inner = tuple(len(range(*s.indices(n))) for s, n in zip(basic, like.shape))
    others = [a for a in range(len(inner)) if a not in axes]
    sizes = [inner[a] for a in axes]
    lead = tuple(arrays[0].shape)
    placed = _placed(len(lead), len(rest), first)
    shape = tuple(1 if r is None else r for r in rest)
    full = tuple((lead + shape)[i] for i in placed)  # the shape of like[index]
    back = tuple(sorted(range(len(placed)), key=placed.__getitem__))
    v = xp.permute_dims(xp.broadcast_to(x, full), back)
    v = xp.reshape(v, (-1,) + tuple(inner[a] for a in others))
    flat = xp.reshape(_flat_index(arrays, sizes), (-1,))
    sums = _segment_sums(xp, dev, flat, v, math.prod(sizes))
    grad = xp.reshape(sums, tuple(sizes) + tuple(inner[a] for a in others))
    order = axes + others
    grad = xp.permute_dims(grad, tuple(order.index(a) for a in range(len(inner))))
    if all(s == slice(None) for s in basic):
        return grad
    return _written(xp.zeros(tuple(like.shape), dtype=grad.dtype, device=dev), basic, grad)


def _segment_sums(xp, dev, index, values, n):
    """Rows k < n: the sum of the rows of `values` whose `index` is k (see the module
    docstring)."""
    tail = tuple(values.shape[1:])
    m = index.shape[0]
    if m == 0:
        return xp.zeros((n,) + tail, dtype=values.dtype, device=dev)
    order = xp.argsort(index, stable=True)
    index = xp.take(index, order)
    values = xp.take(values, order, axis=0)
    entries = xp.arange(n, dtype=index.dtype, device=dev)
    lo = xp.searchsorted(index, entries, side="left")
    hi = xp.searchsorted(index, entries, side="right")
    longest = int(xp.max(hi - lo)) if n else 0
    ones = (1,) * len(tail)
    step = 1
    while step < longest:
        same = xp.reshape(index[step:] == index[:-step], (m - step,) + ones)
        back = values[:-step, ...]
        added = xp.where(same, back, xp.zeros_like(back))
        values = values + xp.concat(
            (xp.zeros((step,) + tail, dtype=values.dtype, device=dev), added), axis=0
        )
        step *= 2
    last = xp.take(values, xp.clip(hi - 1, min=0, max=m - 1), axis=0)
    found = xp.reshape(hi > lo, (n,) + ones)
    return xp.where(found, last, xp.zeros_like(last))


def _sliced(x, index):
    """x[index] for a basic index (ints, slices, None, ...), also on torch (see the module
    docstring)."""
    if not array_api_compat.is_torch_array(x):
        return x[index]
    key, flips = _forward(index, tuple(x.shape))
    out = x[key]
    return array_api_compat.array_namespace(x).flip(out, axis=flips) if flips else out


def _written(out, index, value):
    """`out` with `value` (reshaped to out[index]'s shape) written at basic `index` (ints,
    slices, ...; no None): in place, or JAX's functional update (its arrays are
    immutable), or on torch the slices taken forward with `value` flipped to match."""
    xp = array_api_compat.array_namespace(out, value)
    flips = ()
    if array_api_compat.is_torch_array(out):
        index, flips = _forward(index, tuple(out.shape))
    shape = tuple(out[index].shape)
    if tuple(value.shape) != shape:
        value = xp.reshape(value, shape)
    if flips:
        value = xp.flip(value, axis=flips)
    if array_api_compat.is_jax_array(out):
        return out.at[index].set(value)
    out[index] = value
    return out


def _forward(index, shape):
    """(key, flips): `index` (basic) with each slice of negative step replaced by the slice
    taking the same entries forward, and the axes of x[key] to flip to get x[index].

    >>> _forward((slice(None, None, -1), 0, None, slice(5, 1, -2)), (3, 2, 7))
    ((slice(0, 3, 1), 0, None, slice(3, 6, 2)), (0, 2))
    """
    rank = len(shape)
    used = sum(1 for i in index if i is not None and i is not Ellipsis)
    key, flips, axis, out = [], [], 0, 0
    for item in index:
        if item is Ellipsis:
            key.append(Ellipsis)
            axis += rank - used
            out += rank - used
            continue
        if isinstance(item, slice) and item.step is not None and item.step < 0:
            taken = range(*item.indices(shape[axis]))
            item = slice(taken[-1], taken[0] + 1, -taken.step) if taken else slice(0, 0)
            if len(taken) > 1:
                flips.append(out)
        key.append(item)
        axis += item is not None
        out += not isinstance(item, int)
    return tuple(key), tuple(flips)
