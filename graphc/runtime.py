"""Small numpy helpers that emitted code calls (`_sum_to`, `_index_grad`, ...).

Each `_helper` needs numpy only (`_ne`, `_ne_threads`: numexpr too, imported when called);
`Function.export` copies the ones a program uses into its module. The index helpers
validate and print basic indices.
"""

from __future__ import annotations

import numpy as np

from .errors import ShapeError

HELPERS = (
    "_array",
    "_numpy",
    "_sum_to",
    "_split_like",
    "_index_grad",
    "_product_vjp",
    "_bilinear_vjp",
    "_dot_stack_vjp",
    "_matmul_vjp",
    "_diag_embed",
    "_eye_like",
    "_solve_rule",
    "_inv",
    "_solve",
    "_cholesky",
    "_logsumexp",
    "_softmax",
    "_log_softmax",
    "_cross_entropy",
    "_one_hot",
    "_erf",
    "_prod_others",
    "_axes_of",
    "_checked_grad",
    "_check_grad_output",
    "_check_grad_input",
    "_ne",
    "_ne_threads",
    "_underflow_ignored",
)


def _array(x):
    """`x` as an array: an array as it is (numpy's, or dask's, which stays lazy)."""
    return x if hasattr(x, "__array_function__") else np.asarray(x)


def _numpy(x) -> bool:
    """Is `x` numpy's (an array or a number), not a duck array?"""
    return isinstance(x, np.ndarray) or not hasattr(x, "__array_function__")


def _sum_to(x, shape):
    """Sum x over the axes that broadcasting added or stretched, giving `shape`."""
    x = _array(x)
    if x.shape == tuple(shape):
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and x.shape[lead + i] != 1
    )
    if not _numpy(x):  # a duck array: its own sum
        return x.sum(axis=axes).reshape(shape)
    return np.add.reduce(x, axis=axes).reshape(shape)  # np.sum's result, without its wrappers


def _product_vjp(g, a, b, side, dot=False):
    """Cotangent of operand `side` of `a @ b`, or of `np.dot(a, b)` with `dot` (unlike `@`
    for a of rank >= 2 and b of rank >= 3)."""
    a, b, g = _array(a), _array(b), _array(g)
    if dot and a.ndim >= 2 and b.ndim >= 3:
        return _dot_stack_vjp(g, a, b, side)
    return _matmul_vjp(g, a, b, side)


def _matmul_vjp(g, a, b, side):
    """Cotangent of operand `side` of `a @ b` (arrays)."""
    if a.ndim == 0 or b.ndim == 0 or (a.ndim == 1 and b.ndim == 1):
        ct = g * (b if side == 0 else a)
    elif a.ndim == 1 and b.ndim == 2:
        ct = b @ g if side == 0 else np.outer(a, g)
    elif a.ndim == 2 and b.ndim == 1:
        ct = np.outer(g, b) if side == 0 else g @ a
    else:  # stacks of matrices; a vector operand becomes a matrix, as numpy does
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g[..., None, :] if a.ndim == 1 else g[..., None] if b.ndim == 1 else g
        ct = g2 @ np.swapaxes(b2, -1, -2) if side == 0 else np.swapaxes(a2, -1, -2) @ g2
        return _sum_to(ct, (a2 if side == 0 else b2).shape).reshape((a, b)[side].shape)
    return _sum_to(ct, (a if side == 0 else b).shape)


def _dot_stack_vjp(g, a, b, side):
    """Cotangent of operand `side` of `np.dot(a, b)` for a of rank >= 2 and b of rank >= 3:
    y[A, B, k] is the sum over m of a[A, m] b[B, m, k]."""
    na, nb = a.ndim, b.ndim
    if side == 0:
        b_axes = list(range(nb - 2)) + [nb - 1]
        return np.tensordot(g, b, (list(range(na - 1, g.ndim)), b_axes))
    return np.moveaxis(np.tensordot(a, g, (list(range(na - 1)),) * 2), 0, nb - 2)


def _bilinear_vjp(g, a, b, side, kind, axes=None):
    """Cotangent of operand `side` of `np.tensordot(a, b, axes)`, `np.inner(a, b)` or
    `np.kron(a, b)` (arrays of any ranks): the product's einsum, read backwards."""
    a, b, g = _array(a), _array(b), _array(g)
    na, nb = a.ndim, b.ndim
    if kind == "kron":  # a's axes at the even places of 2n, b's at the odd
        n = max(na, nb)
        a = a.reshape((1,) * (n - na) + a.shape)
        b = b.reshape((1,) * (n - nb) + b.shape)
        pairs = [d for p, q in zip(a.shape, b.shape) for d in (p, q)]
        blocks = np.broadcast_to(g, np.kron(a, b).shape).reshape(pairs)
        if side == 0:
            out = np.einsum(
                blocks, list(range(2 * n)), b, list(range(1, 2 * n, 2)), range(0, 2 * n, 2)
            )
        else:
            out = np.einsum(
                blocks, list(range(2 * n)), a, list(range(0, 2 * n, 2)), range(1, 2 * n, 2)
            )
        return out.reshape((a, b)[side].shape[n - (na, nb)[side] :])
    if kind == "inner":
        axes = 0 if na == 0 or nb == 0 else ((na - 1,), (nb - 1,))
    if isinstance(axes, int):
        axes = (tuple(range(na - axes, na)), tuple(range(axes)))
    ia, ib = ([i % na for i in axes[0]], [i % nb for i in axes[1]])
    sa, sb = list(range(na)), list(range(na, na + nb))
    for i, j in zip(ia, ib):
        sb[j] = sa[i]  # a contracted pair shares its index
    out = [sa[i] for i in range(na) if i not in ia] + [sb[j] for j in range(nb) if j not in ib]
    g = np.broadcast_to(g, np.einsum(a, sa, b, sb, out).shape)
    if side == 0:
        return np.einsum(g, out, b, sb, sa)
    return np.einsum(a, sa, g, out, sb)


def _diag_embed(v, like, offset, axis1, axis2):
    """Zeros shaped like `like` with `v` on diagonal `offset` of axes (axis1, axis2), the
    diagonal being v's last axis (the adjoint of np.diagonal)."""
    v = np.asarray(v)
    out = np.zeros(np.shape(like), dtype=v.dtype)
    moved = np.moveaxis(out, (axis1, axis2), (-2, -1))  # a view: writes reach `out`
    n = v.shape[-1] if v.ndim else 0
    rows = np.arange(n) + max(-offset, 0)
    moved[..., rows, rows + offset] = v
    return out


def _inv(x):
    """np.linalg.inv, NaN for a singular matrix (numpy raises), as every mode computes it."""
    try:
        return np.linalg.inv(x)
    except np.linalg.LinAlgError:
        return _nan_like(x)


def _nan_like(x):
    """NaNs of x's shape, in x's floating dtype: what a failed factorisation gives."""
    return np.full(np.shape(x), np.nan, np.result_type(np.asarray(x).dtype, np.float32))


def _solve(a, b):
    """np.linalg.solve, NaN where a matrix is singular (numpy raises)."""
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return _inv(a) @ np.asarray(b)


def _cholesky(x):
    """np.linalg.cholesky, NaN for a matrix that is not positive definite (numpy raises)."""
    try:
        return np.linalg.cholesky(x)
    except np.linalg.LinAlgError:
        return _nan_like(x)


def _solve_rule(g, a, b, x, side):
    """solve's derivative rules on arrays, b's rank read at run time (a 1-D b is a vector,
    numpy 2): the cotangent of a (side 0) or b (side 1) for the cotangent g of
    x = solve(a, b), or the tangent of x that a's tangent g gives (side 2)."""
    a, b, g, x = (np.asarray(v) for v in (a, b, g, x))
    col = (lambda v: v[..., None]) if b.ndim == 1 else (lambda v: v)
    uncol = (lambda v: v[..., 0]) if b.ndim == 1 else (lambda v: v)
    if side == 2:
        return -uncol(_solve(a, g @ col(x)))
    gb = _solve(np.swapaxes(a, -1, -2), col(g))
    if side == 1:
        return _sum_to(uncol(gb), b.shape)
    return _sum_to(-(gb @ np.swapaxes(col(x), -1, -2)), a.shape)


def _eye_like(x, k):
    """The identity of x's last two axes (n x n for a vector), x's dtype if floating."""
    x = np.asarray(x)
    n, m = x.shape[-2:] if x.ndim >= 2 else x.shape * 2
    dtype = x.dtype if x.dtype.kind in "fc" else np.float64
    return np.eye(n, m, k, dtype=dtype)


def _split_like(g, xs, axis, index):
    """The piece of `g` along `axis` that the concatenation of `xs` took from xs[index]."""
    start = sum(np.shape(x)[axis] for x in xs[:index])
    cut = [slice(None)] * np.ndim(g)
    cut[axis] = slice(start, start + np.shape(xs[index])[axis])
    return _array(g)[tuple(cut)]


def _index_grad(x, like, index):
    """Zeros shaped like `like` with x added at `index`, of x's dtype (a Python number, such
    as a gradient's head 1.0, takes the dtype it has next to `like`). An index with arrays
    may repeat an entry: its values accumulate (`np.add.at`), as the gradient of a gather."""
    dtype = (
        x.dtype
        if isinstance(x, (np.ndarray, np.generic))
        else np.result_type(x, np.asarray(like).dtype)
    )
    out = np.zeros(np.shape(like), dtype=dtype)
    if any(isinstance(i, np.ndarray) for i in index):
        np.add.at(out, index, x)
    else:
        out[index] = x
    return out


def _underflow_ignored(_seen=[(None, True)]):  # noqa: B006 - the cache of the last answer
    """Whether numpy ignores floating-point underflow now, as it does by default (see
    `np.seterr`): scalar code (Python floats and `math`), which cannot see an underflow, runs
    only then. Asks `np.geterr` once per change of numpy's error state."""
    try:
        state = np._core._ufunc_config._extobj_contextvar.get()
    except AttributeError:  # a numpy keeping its state elsewhere: ask each time
        return np.geterr()["under"] == "ignore"
    seen = _seen[0]
    if seen[0] is not state:
        seen = _seen[0] = (state, np.geterr()["under"] == "ignore")
    return seen[1]


def _prod_others(x, axis):
    """For each entry of x, the product of the other entries along `axis` (None: all), from
    running products on either side: exact where entries are zero (no division)."""
    x = _array(x)
    nd = x.ndim
    axes = _axes_of(axis, nd)
    last = tuple(range(nd - len(axes), nd))
    moved = np.moveaxis(x, axes, last)
    n = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    rows = moved.reshape(moved.shape[: nd - len(axes)] + (n,))
    ones = np.ones(rows.shape[:-1] + (1,), rows.dtype)
    if n == 0:
        return np.ones(x.shape, np.prod(ones).dtype)
    left = np.cumprod(np.concatenate((ones, rows[..., :-1]), axis=-1), axis=-1)
    right = np.cumprod(np.concatenate((ones, rows[..., :0:-1]), axis=-1), axis=-1)[..., ::-1]
    return np.moveaxis((left * right).reshape(moved.shape), last, axes)


def _axes_of(axis, nd):
    """An axis argument (None: all, an int, a tuple) as a tuple of axes of rank `nd`."""
    if axis is None:
        return tuple(range(nd))
    return tuple(a % nd for a in ((axis,) if isinstance(axis, int) else axis))


def _check_grad_output(shape, error=ValueError, where=""):
    """Refuse an output differentiated without a head unless it has size 1 (as PyTorch);
    dims still unknown (None) are not judged."""
    if shape is not None and any(d is not None and d != 1 for d in shape):
        dims = ", ".join("?" if d is None else str(d) for d in shape)
        raise error(
            f"grad: the output must be a scalar (size 1) to be differentiated "
            f"without head=, got shape ({dims}{',' if len(shape) == 1 else ''})"
            f"{where}\n  pass head= (an array of the output's shape: the result is "
            "the gradient of sum(y * head)) or reduce the output first, e.g. sum(y)"
        )


def _check_grad_input(dtype, error=TypeError, what="an input", name="x"):
    """Refuse a gradient with respect to integer or boolean data (None: not known yet)."""
    if dtype is not None and np.dtype(dtype).kind not in "fc":
        raise error(
            f"grad: cannot differentiate with respect to {what} bound to "
            f"{np.dtype(dtype)} data: only floating inputs have gradients; convert "
            f"the data first, e.g. {name}.astype(float)"
        )


def _checked_grad(g, wrt, *output, errors=(ValueError, TypeError)):
    """`g` as the gradient with respect to `wrt` (its shape and dtype), after the checks of
    `_check_grad_output` (for `output`, if given) and `_check_grad_input`."""
    if output:
        _check_grad_output(np.shape(output[0]), errors[0])
    dtype = np.result_type(_array(wrt).dtype)
    _check_grad_input(dtype, errors[1])
    if np.iscomplexobj(g) and dtype.kind != "c":
        g = np.real(g)  # a real input's gradient is the real part, as in JAX
    g = np.asarray(g, dtype=dtype) if _numpy(g) else g.astype(dtype)
    return g if g.shape == np.shape(wrt) else np.broadcast_to(g, np.shape(wrt)).copy()


def _logsumexp(x, axis, keepdims):
    """log(sum(exp(x))) with the maximum shifted out (finite for large |x|); -inf for an
    empty sum, as scipy.special.logsumexp gives."""
    x = _array(x)
    if x.size == 0:  # no maximum to shift out
        with np.errstate(divide="ignore"):
            return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _softmax(x, axis):
    """exp(x) / sum(exp(x)) along `axis`, with the maximum shifted out; empty in, empty out
    (as scipy.special.softmax)."""
    if _array(x).size == 0:
        return np.exp(x)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis):
    """x - logsumexp(x) along `axis`; empty in, empty out."""
    if _array(x).size == 0:
        return np.exp(x)
    s = x - np.max(x, axis=axis, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def _cross_entropy(logits, labels):
    """Mean over rows of -log_softmax(logits)[row, label]."""
    s = logits - np.max(logits, axis=-1, keepdims=True)
    lse = np.log(np.sum(np.exp(s), axis=-1))
    picked = np.take_along_axis(s, labels[..., None], axis=-1)[..., 0]
    return np.mean(lse - picked)


def _one_hot(labels, like):
    """One-hot rows of `like`'s shape (and dtype) for integer labels along the last axis."""
    dtype = np.asarray(like).dtype
    out = np.zeros(np.shape(like), dtype=dtype if dtype.kind in "fc" else np.float64)
    np.put_along_axis(out, np.asarray(labels)[..., None], 1, axis=-1)
    return out


def _erf(x):
    """The error function, entry by entry (numpy has none): Python's math.erf, in the
    input's floating dtype (float64 for integers)."""
    import math

    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    out = np.frompyfunc(math.erf, 1, 1)(x)
    return np.asarray(out, dtype=dtype) if x.ndim else dtype.type(out)


# --- indices: canonical form, shapes and printing ----------------------------------------
# Canonical items: an int, None (newaxis), "..." (Ellipsis), ("slice", start, stop, step) and
# ("array",), a slot for the next index array (an integer array or a boolean mask), which the
# op takes as an input rather than an attr.
ARRAY = ("array",)


def check_index(index):
    """A user's basic index in canonical, hashable, JSON-friendly form."""
    items = index if isinstance(index, (tuple, list)) and not _is_slice_tuple(index) else (index,)
    out = [_index_item(item) for item in items]
    if sum(1 for i in out if i == "...") > 1:
        raise ShapeError("getitem: an index can only have one ellipsis")
    for item in out:
        if isinstance(item, tuple) and item != ARRAY and item[3] == 0:
            raise ShapeError("getitem: slice step cannot be zero")
    return tuple(out)


def _index_item(item):
    """One item of an index in canonical form."""
    if item is None or (isinstance(item, str) and item == "..."):
        return item
    if item is Ellipsis:
        return "..."
    if isinstance(item, slice):
        return ("slice",) + tuple(_index_int(v) for v in (item.start, item.stop, item.step))
    if _is_slice_tuple(item):
        return ("slice",) + tuple(_index_int(v) for v in item[1:])
    if isinstance(item, (tuple, list)) and tuple(item) == ARRAY:
        return ARRAY
    if isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_)):
        return int(item)
    raise ShapeError(
        f"getitem: an index holds ints, slices, None, ..., integer arrays and boolean masks, "
        f"got {type(item).__name__}"
    )


def _is_slice_tuple(item):
    return isinstance(item, (tuple, list)) and len(item) == 4 and item[0] == "slice"


def _index_int(v):
    if v is None:
        return None
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        return int(v)
    raise ShapeError(f"getitem: slice bounds must be ints or None, got {v!r}")


def to_numpy_index(index, arrays=()):
    """The numpy key of a canonical index, its array slots filled from `arrays`."""
    arrays = iter(arrays)
    return tuple(
        Ellipsis
        if i == "..."
        else next(arrays)
        if i == ARRAY
        else slice(*i[1:])
        if isinstance(i, tuple)
        else i
        for i in index
    )


def format_index(index, as_tuple=False, arrays=()):
    """Source text of a canonical index: `0, 1:3, None` (or a tuple expression), its array
    slots written as the texts `arrays`."""
    arrays = iter(arrays)
    parts = []
    for i in index:
        if i == "...":
            parts.append("...")
        elif i is None:
            parts.append("None")
        elif i == ARRAY:
            parts.append(next(arrays))
        elif isinstance(i, tuple):
            start, stop, step = (repr(v) for v in i[1:])
            if as_tuple:
                parts.append(f"slice({start}, {stop}, {step})")
            else:
                s = ("" if i[1] is None else start) + ":" + ("" if i[2] is None else stop)
                parts.append(s + ("" if i[3] is None else ":" + step))
        else:
            parts.append(repr(i))
    if as_tuple:
        return "(" + "".join(p + ", " for p in parts) + ")"
    return ", ".join(parts) if parts else "()"


def index_shape(shape, index, arrays=()):
    """The static shape of `x[index]` for a shape whose dims may be None, or None when it
    cannot be known. `arrays` describes the array slots in order: (shape, kind, values),
    kind "b" for a boolean mask, "i" for integers, None when not known yet, and the values
    of a constant (integers are checked against the axis) or None. As numpy: a mask of rank
    k indexes k axes with its True positions (how many is known at run time only); the
    advanced indices (arrays, and ints next to them) broadcast together, and their result
    axes stand in their place when they are adjacent in the index, else first."""
    arrays = list(arrays)
    if any(s is None or k is None for s, k, _ in arrays):
        return None  # a rank, or whether an array is a mask, is not known
    masks = iter(arrays)
    items = [(i, next(masks)) if i == ARRAY else (i, None) for i in index]
    used = sum(_axes_taken(i, a) for i, a in items)
    if used > len(shape):
        raise IndexError(f"too many indices ({used}) for an array of rank {len(shape)}")
    rest = [(("slice", None, None, None), None)] * (len(shape) - used)
    at = [k for k, (i, _) in enumerate(items) if i == "..."]
    items = items[: at[0]] + rest + items[at[0] + 1 :] if at else items + rest
    if arrays:
        return _advanced_shape(shape, items, advanced_in_place(index))
    return _basic_shape(shape, items)


def advanced_in_place(index) -> bool:
    """Whether the result axes of an index's advanced items (arrays, and ints next to them)
    stand in their place: no slice, None or ... between them (a ... even when it stands for
    no axes, as numpy reads it). Otherwise numpy puts them first."""
    adv = [k for k, i in enumerate(index) if i == ARRAY or isinstance(i, int)]
    return all(i == ARRAY or isinstance(i, int) for i in index[adv[0] : adv[-1] + 1])


def _axes_taken(item, array):
    if item is None or item == "...":
        return 0
    if item == ARRAY and array[1] == "b":
        return len(array[0])
    return 1


def _basic_shape(shape, items):
    out, dim = [], 0
    for i, _ in items:
        if i is None:
            out.append(1)
            continue
        n = shape[dim]
        dim += 1
        if isinstance(i, tuple):
            out.append(None if n is None else len(range(*slice(*i[1:]).indices(n))))
        else:
            _check_bound(i, n, dim - 1)
    return tuple(out)


def _check_bound(i, n, axis):
    if n is not None and not -n <= i < n:
        raise IndexError(f"index {i} is out of bounds for axis {axis} with size {n}")


def _advanced_shape(shape, items, in_place):
    """`_basic_shape` with arrays: [(item, (array shape, kind) or None)], ellipsis expanded."""
    before, after, adv, positions, dim = [], [], [], [], 0
    for k, (i, array) in enumerate(items):
        if i is None:
            (after if positions else before).append(1)
            continue
        if isinstance(i, tuple) and i != ARRAY:
            n = shape[dim]
            dims = after if positions else before
            dims.append(None if n is None else len(range(*slice(*i[1:]).indices(n))))
            dim += 1
            continue
        positions.append(k)
        if i != ARRAY:  # an int next to arrays is a 0-d advanced index
            _check_bound(i, shape[dim], dim)
            adv.append(())
            dim += 1
        elif array[1] == "b":
            _check_mask(array[0], shape[dim : dim + len(array[0])], dim)
            # as many as the mask has True entries: known for a constant
            adv.append((None if array[2] is None else int(np.count_nonzero(array[2])),))
            dim += len(array[0])
        else:
            if array[2] is not None and array[2].size:
                _check_bound(int(array[2].min()), shape[dim], dim)
                _check_bound(int(array[2].max()), shape[dim], dim)
            adv.append(tuple(array[0]))
            dim += 1
    broadcast = _broadcast_index_shapes(adv)
    if in_place:
        return tuple(before) + broadcast + tuple(after)
    return broadcast + tuple(before) + tuple(after)


def _check_mask(mask_shape, dims, first):
    for k, (m, n) in enumerate(zip(mask_shape, dims)):
        if m is not None and n is not None and m != n:
            raise IndexError(
                f"boolean index did not match indexed array along axis {first + k}; size "
                f"of axis is {n} but size of corresponding boolean axis is {m}"
            )


def _broadcast_index_shapes(shapes):
    """numpy's broadcasting of the advanced indices' shapes (dims may be None)."""
    ndim = max(len(s) for s in shapes)
    out = []
    for k in range(-ndim, 0):
        dims = [s[k] for s in shapes if len(s) >= -k]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            text = " ".join(
                "(" + ",".join("?" if d is None else str(d) for d in s) + ")" for s in shapes
            )
            raise IndexError(
                f"shape mismatch: indexing arrays could not be broadcast together with "
                f"shapes {text}"
            )
        out.append(known.pop() if known else None if None in dims else 1)
    return tuple(out)


def _ne(text, **arrays):
    """numexpr expression `text` (the fused backend's cluster) evaluated on `arrays` by
    name, on numexpr's threads; compiled once per text and argument dtypes."""
    import numexpr

    compiled = _ne.__dict__.setdefault("compiled", {})
    values = list(arrays.values())
    key = (text, *(np.asarray(a).dtype for a in values))
    ex = compiled.get(key)
    if ex is None:
        kinds = [(k, numexpr.necompiler.getType(np.asarray(a))) for k, a in arrays.items()]
        if len(compiled) > 4096:
            compiled.clear()
        ex = compiled[key] = numexpr.NumExpr(text, kinds)
    return ex(*values, order="K", casting="safe", ex_uses_vml=False)


def _ne_threads(n):
    """Run numexpr on `n` threads (the fused backend's `threads=` option)."""
    import numexpr

    if numexpr.get_num_threads() != n:
        numexpr.set_num_threads(n)
