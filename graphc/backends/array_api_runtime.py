"""The helpers an `"array_api"` program calls: graphc.runtime's, written with functions of the
Python array API standard only (each finds its namespace from its arguments, so numpy,
array-api-strict, torch, CuPy and JAX arrays all run them). A helper of graphc.runtime with
no version here has no array-API form: the backend says so at compile time.

Each helper depends on array_api_compat only (`Function.export` copies their source).
"""

from __future__ import annotations

import math
import weakref

import array_api_compat

from ..runtime import _axes_of
from .array_api_erf import _erf  # noqa: F401 - programs import it from here
from .array_api_index import _getitem, _scatter_add, _sliced, _take, _written  # noqa: F401

HELPERS = (
    "_namespace",
    "_const",
    "_sum_to",
    "_product_vjp",
    "_matmul_vjp",
    "_dot",
    "_split_like",
    "_eye_like",
    "_inv",
    "_solve",
    "_cholesky",
    "_hermitian",
    "_nan_like",
    "_solve_rule",
    "_logsumexp",
    "_softmax",
    "_log_softmax",
    "_cross_entropy",
    "_one_hot",
    "_prod_others",
    "_checked_grad",
    "_size",
    "_cumulative_prod",
    "_index_grad",
    "_diag_embed",
    "_diag",
    "_sorted_like",
    "_einsum",
    "_inner",
    "_kron",
    "_erf",
    "_getitem",
    "_sliced",
    "_take",
    "_arange",
)


def _namespace(*arrays):
    """(namespace, device) of a program's arguments: numpy's when it has none."""
    if not arrays:
        import numpy

        arrays = (numpy.empty(0),)
    return array_api_compat.array_namespace(*arrays), array_api_compat.device(arrays[0])


_CONSTS: dict = {}


def _const(xp, dev, c):
    """Constant array `c` (numpy) in namespace `xp` on device `dev`, converted once per
    namespace and device (kept while `c` lives)."""
    key = id(c)
    entry = _CONSTS.get(key)
    if entry is None:
        entry = _CONSTS[key] = {}
        weakref.finalize(c, _CONSTS.pop, key, None)
    where = (xp.__name__, str(dev))
    value = entry.get(where)
    if value is None:
        # a private copy: graphc's constants are read-only, which torch warns about
        value = entry[where] = xp.asarray(c.copy(), device=dev)
    return value


def _sum_to(x, shape):
    """Sum x over the axes that broadcasting added or stretched, giving `shape`."""
    shape = tuple(shape)
    if tuple(x.shape) == shape:
        return x
    xp = array_api_compat.array_namespace(x)
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and x.shape[lead + i] != 1
    )
    return xp.reshape(xp.sum(x, axis=axes), shape)


def _dot(a, b):
    """np.dot(a, b): a product for a 0-d operand, else a's last axis against b's second to
    last (its only one for a vector)."""
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim <= 2:
        return a @ b
    xp = array_api_compat.array_namespace(a, b)
    return xp.tensordot(a, b, axes=((a.ndim - 1,), (b.ndim - 2,)))


def _product_vjp(g, a, b, side, dot=False):
    """Cotangent of operand `side` of `a @ b`, or of `np.dot(a, b)` with `dot`."""
    if dot and a.ndim >= 2 and b.ndim >= 3:
        xp = array_api_compat.array_namespace(g, a, b)
        na, nb = a.ndim, b.ndim
        if side == 0:
            b_axes = tuple(range(nb - 2)) + (nb - 1,)
            return xp.tensordot(g, b, axes=(tuple(range(na - 1, g.ndim)), b_axes))
        front = tuple(range(na - 1))
        return xp.moveaxis(xp.tensordot(a, g, axes=(front, front)), 0, nb - 2)
    return _matmul_vjp(g, a, b, side)


def _matmul_vjp(g, a, b, side):
    """Cotangent of operand `side` of `a @ b`."""
    xp = array_api_compat.array_namespace(g, a, b)
    if a.ndim == 0 or b.ndim == 0 or (a.ndim == 1 and b.ndim == 1):
        ct = g * (b if side == 0 else a)
    elif a.ndim == 1 and b.ndim == 2:
        ct = b @ g if side == 0 else xp.linalg.outer(a, g)
    elif a.ndim == 2 and b.ndim == 1:
        ct = xp.linalg.outer(g, b) if side == 0 else g @ a
    else:  # stacks of matrices; a vector operand becomes a matrix, as numpy does
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g[..., None, :] if a.ndim == 1 else g[..., None] if b.ndim == 1 else g
        ct = g2 @ xp.matrix_transpose(b2) if side == 0 else xp.matrix_transpose(a2) @ g2
        return xp.reshape(_sum_to(ct, (a2 if side == 0 else b2).shape), (a, b)[side].shape)
    return _sum_to(ct, (a if side == 0 else b).shape)


def _split_like(g, xs, axis, index):
    """The piece of `g` along `axis` that the concatenation of `xs` took from xs[index]."""
    start = sum(x.shape[axis] for x in xs[:index])
    cut = [slice(None)] * g.ndim
    cut[axis % g.ndim] = slice(start, start + xs[index].shape[axis])
    return g[tuple(cut)]


def _eye_like(x, k):
    """The identity of x's last two axes (n x n for a vector), x's dtype if floating."""
    xp = array_api_compat.array_namespace(x)
    n, m = tuple(x.shape[-2:]) if x.ndim >= 2 else tuple(x.shape) * 2
    floating = xp.isdtype(x.dtype, "real floating") or xp.isdtype(x.dtype, "complex floating")
    dtype = x.dtype if floating else xp.float64
    return xp.eye(n, m, k=k, dtype=dtype, device=array_api_compat.device(x))


def _nan_like(x):
    """NaNs of x's shape, in x's floating dtype: what a failed factorisation gives."""
    xp = array_api_compat.array_namespace(x)
    dtype = x.dtype if xp.isdtype(x.dtype, ("real floating", "complex floating")) else xp.float64
    return xp.full(x.shape, math.nan, dtype=dtype, device=array_api_compat.device(x))


# numpy raises a LinAlgError (a ValueError), torch a RuntimeError, for a singular matrix.
_SINGULAR = (ValueError, RuntimeError)


def _inv(x):
    """linalg.inv, NaN for a singular matrix, as every mode computes it."""
    xp = array_api_compat.array_namespace(x)
    try:
        return xp.linalg.inv(x)
    except _SINGULAR:
        return _nan_like(x)


def _solve(a, b):
    """linalg.solve (a 1-D b is a vector), NaN where a matrix is singular."""
    xp = array_api_compat.array_namespace(a, b)
    col = b.ndim == 1
    try:
        out = xp.linalg.solve(a, b[:, None] if col else b)
    except _SINGULAR:
        out = _inv(a) @ (b[:, None] if col else b)
    return out[..., 0] if col else out


def _hermitian(x):
    """The matrix numpy's eigh and cholesky decompose: x's lower triangle, mirrored (its
    conjugate above the diagonal). The standard leaves what a library reads of a matrix that
    is not symmetric to it (JAX averages x with its transpose); numpy's, array-api-strict's
    and torch's arrays are given as they are: those read the lower triangle themselves."""
    xp = array_api_compat.array_namespace(x)
    if array_api_compat.is_numpy_array(x) or array_api_compat.is_torch_array(x):
        return x
    if array_api_compat.is_array_api_strict_namespace(xp):
        return x
    upper = xp.matrix_transpose(xp.tril(x, k=-1))
    if xp.isdtype(x.dtype, "complex floating"):
        upper = xp.conj(upper)
    return xp.tril(x) + upper


def _cholesky(x):
    """linalg.cholesky (of x's lower triangle), NaN for a matrix that is not positive
    definite."""
    xp = array_api_compat.array_namespace(x)
    try:
        out = xp.linalg.cholesky(_hermitian(x))
    except _SINGULAR:
        return _nan_like(x)
    return out if bool(xp.all(xp.isfinite(out))) else _nan_like(x)


def _solve_rule(g, a, b, x, side):
    """solve's derivative rules (see graphc.runtime._solve_rule)."""
    xp = array_api_compat.array_namespace(g, a, b, x)
    col = (lambda v: v[..., None]) if b.ndim == 1 else (lambda v: v)
    uncol = (lambda v: v[..., 0]) if b.ndim == 1 else (lambda v: v)
    if side == 2:
        return -uncol(_solve(a, g @ col(x)))
    gb = _solve(xp.matrix_transpose(a), col(g))
    if side == 1:
        return _sum_to(uncol(gb), b.shape)
    return _sum_to(-(gb @ xp.matrix_transpose(col(x))), a.shape)


def _logsumexp(x, axis, keepdims):
    """log(sum(exp(x))) with the maximum shifted out; -inf for an empty sum."""
    xp = array_api_compat.array_namespace(x)
    if math.prod(x.shape) == 0:
        return xp.log(xp.sum(xp.exp(x), axis=axis, keepdims=keepdims))
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
    out = xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True)) + m
    if keepdims:
        return out
    return xp.squeeze(out, axis=axis) if axis is not None else xp.reshape(out, ())


def _softmax(x, axis):
    """exp(x) / sum(exp(x)) along `axis`, with the maximum shifted out."""
    xp = array_api_compat.array_namespace(x)
    if math.prod(x.shape) == 0:
        return xp.exp(x)
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis):
    """x - logsumexp(x) along `axis`."""
    xp = array_api_compat.array_namespace(x)
    if math.prod(x.shape) == 0:
        return xp.exp(x)
    s = x - xp.max(x, axis=axis, keepdims=True)
    return s - xp.log(xp.sum(xp.exp(s), axis=axis, keepdims=True))


def _cross_entropy(logits, labels):
    """Mean over rows of -log_softmax(logits)[row, label]."""
    xp = array_api_compat.array_namespace(logits, labels)
    s = logits - xp.max(logits, axis=-1, keepdims=True)
    lse = xp.log(xp.sum(xp.exp(s), axis=-1))
    picked = xp.sum(xp.where(_hot(xp, labels, s.shape[-1]), s, xp.zeros_like(s)), axis=-1)
    return xp.mean(lse - picked)


def _hot(xp, labels, n):
    """Booleans: labels[..., None] == arange(n)."""
    classes = xp.arange(n, dtype=labels.dtype, device=array_api_compat.device(labels))
    return labels[..., None] == classes


def _one_hot(labels, like):
    """One-hot rows of `like`'s shape (and floating dtype) for integer labels."""
    xp = array_api_compat.array_namespace(labels, like)
    dtype = like.dtype if xp.isdtype(like.dtype, "real floating") else xp.float64
    hot = xp.astype(_hot(xp, labels, like.shape[-1]), dtype)
    return xp.broadcast_to(hot, like.shape)


def _prod_others(x, axis):
    """For each entry of x, the product of the other entries along `axis` (None: all),
    from running products on either side (exact where entries are zero)."""
    xp = array_api_compat.array_namespace(x)
    nd = x.ndim
    axes = _axes_of(axis, nd)
    last = tuple(range(nd - len(axes), nd))
    moved = xp.moveaxis(x, axes, last)
    n = math.prod(x.shape[a] for a in axes)
    rows = xp.reshape(moved, tuple(moved.shape[: nd - len(axes)]) + (n,))
    if n == 0:
        return xp.ones_like(x)
    ones = xp.ones_like(rows[..., :1])
    left = _cumprod(xp, xp.concat((ones, rows[..., :-1]), axis=-1))
    right = xp.flip(
        _cumprod(xp, xp.concat((ones, xp.flip(rows[..., 1:], axis=-1)), axis=-1)), axis=-1
    )
    return xp.moveaxis(xp.reshape(left * right, moved.shape), last, axes)


def _cumprod(xp, x):
    """The running product along the last axis (the standard's cumulative_prod is 2024.12)."""
    if x.shape[-1] == 0:
        return x
    cols = [x[..., :1]]
    for k in range(1, x.shape[-1]):
        cols.append(cols[-1] * x[..., k : k + 1])
    return xp.concat(cols, axis=-1)


def _cumulative_prod(x, axis):
    """np.cumprod(x, axis): along the flattened array when axis is None."""
    xp = array_api_compat.array_namespace(x)
    if axis is None:
        return _cumprod(xp, xp.reshape(x, (-1,)))
    return xp.moveaxis(_cumprod(xp, xp.moveaxis(x, axis, -1)), -1, axis)


def _size(x):
    """The number of entries of x."""
    return math.prod(x.shape)


def _index_grad(x, like, index):
    """Zeros shaped like `like` with x written at basic `index` (ints, slices, None, ...),
    of x's dtype; added (entries repeated accumulating) at an index with arrays."""
    if any(array_api_compat.is_array_api_obj(i) for i in index):
        return _scatter_add(x, like, index)
    xp = array_api_compat.array_namespace(x, like)
    out = xp.zeros(like.shape, dtype=x.dtype, device=array_api_compat.device(like))
    return _written(out, tuple(i for i in index if i is not None), x)  # x has the new axes


def _diag_embed(v, like, offset, axis1, axis2):
    """Zeros shaped like `like` with `v` on diagonal `offset` of axes (axis1, axis2), the
    diagonal being v's last axis (the adjoint of diagonal), built without writing."""
    xp = array_api_compat.array_namespace(v, like)
    dev = array_api_compat.device(like)
    shape = tuple(like.shape)
    rank = len(shape)
    a1, a2 = axis1 % rank, axis2 % rank
    n, m = shape[a1], shape[a2]
    before = max(-offset, 0)  # the diagonal's first row
    length = v.shape[-1] if v.ndim else 0
    pad = [
        xp.zeros(v.shape[:-1] + (k,), dtype=v.dtype, device=dev)
        for k in (before, n - before - length)
    ]
    rows = xp.concat((pad[0], v, pad[1]), axis=-1)[..., :, None]
    on = xp.eye(n, m, k=offset, dtype=xp.bool, device=dev)
    out = xp.where(on, rows, xp.zeros_like(rows))
    return xp.moveaxis(out, (-2, -1), (a1, a2))


def _diag(v, k):
    """np.diag: the matrix with vector v on diagonal k, or a matrix's diagonal k."""
    xp = array_api_compat.array_namespace(v)
    if v.ndim == 2:
        return xp.linalg.diagonal(v, offset=k)
    n = v.shape[0] + abs(k)
    like = xp.empty((n, n), dtype=v.dtype, device=array_api_compat.device(v))
    return _diag_embed(v, like, k, 0, 1)


def _checked_grad(g, wrt, *output, errors=(ValueError, TypeError)):
    """`g` as the gradient with respect to `wrt` (its shape and dtype), after the checks of
    graphc.runtime._checked_grad."""
    xp = array_api_compat.array_namespace(g, wrt)
    if output:
        shape = tuple(output[0].shape)
        if any(d != 1 for d in shape):
            raise errors[0](
                f"grad: the output must be a scalar (size 1) to be differentiated without "
                f"head=, got shape {shape}"
            )
    if not xp.isdtype(wrt.dtype, ("real floating", "complex floating")):
        raise errors[1](
            f"grad: cannot differentiate with respect to data of dtype {wrt.dtype}: only "
            "floating inputs have gradients"
        )
    if xp.isdtype(g.dtype, "complex floating") and not xp.isdtype(wrt.dtype, "complex floating"):
        g = xp.real(g)
    g = xp.astype(g, wrt.dtype)
    return g if g.shape == wrt.shape else xp.broadcast_to(g, wrt.shape) + xp.zeros_like(wrt)


def _sorted_like(g, x, axis, inverse):
    """g reordered along `axis` as sorting x reorders it (stable), or put back from that
    order with `inverse`: numpy's take_along_axis by argsort (2024.12 in the standard), as
    a `take` from the flattened g at each row's offset plus its order."""
    xp = array_api_compat.array_namespace(g, x)
    order = xp.argsort(x, axis=axis, stable=True)
    if inverse:
        order = xp.argsort(order, axis=axis, stable=True)
    g, order = xp.moveaxis(g, axis, -1), xp.moveaxis(order, axis, -1)
    lead, n = tuple(order.shape[:-1]), order.shape[-1]
    starts = xp.arange(math.prod(lead), dtype=order.dtype, device=array_api_compat.device(g))
    flat = xp.reshape(order + xp.reshape(starts * n, lead + (1,)), (-1,))
    out = xp.reshape(xp.take(xp.reshape(g, (-1,)), flat), order.shape)
    return xp.moveaxis(out, -1, axis)


def _einsum(subscripts, *operands):
    """np.einsum for explicit subscripts with named axes (no `...`): each operand's repeated
    letters read on their diagonal, the operands broadcast over all the letters and
    multiplied, then summed over the letters not in the output (memory: the full product)."""
    xp = array_api_compat.array_namespace(*operands)
    ins, out = subscripts.replace(" ", "").split("->")
    order = list(out) + sorted(set(ins.replace(",", "")) - set(out))
    product = None
    for spec, x in zip(ins.split(","), operands):
        spec = list(spec)
        for c in [c for c in dict.fromkeys(spec) if spec.count(c) > 1]:
            while spec.count(c) > 1:  # the diagonal of two axes c: one axis c, last
                i = spec.index(c)
                j = spec.index(c, i + 1)
                x = xp.linalg.diagonal(xp.moveaxis(x, (i, j), (-2, -1)))
                spec = [s for k, s in enumerate(spec) if k not in (i, j)] + [c]
        x = xp.permute_dims(x, tuple(sorted(range(len(spec)), key=lambda k: order.index(spec[k]))))
        sizes = iter(x.shape)
        x = xp.reshape(x, tuple(next(sizes) if c in spec else 1 for c in order))
        product = x if product is None else product * x
    summed = tuple(range(len(out), len(order)))
    return xp.sum(product, axis=summed) if summed else product


def _inner(a, b):
    """np.inner: a product for a 0-d operand, else a sum over both last axes."""
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    xp = array_api_compat.array_namespace(a, b)
    return xp.tensordot(a, b, axes=((a.ndim - 1,), (b.ndim - 1,)))


def _kron(a, b):
    """np.kron: the block product (the operand of lower rank gets leading 1s)."""
    xp = array_api_compat.array_namespace(a, b)
    n = max(a.ndim, b.ndim)
    a = xp.reshape(a, (1,) * (n - a.ndim) + tuple(a.shape))
    b = xp.reshape(b, (1,) * (n - b.ndim) + tuple(b.shape))
    spread_a = xp.reshape(a, tuple(d for s in a.shape for d in (s, 1)))
    spread_b = xp.reshape(b, tuple(d for s in b.shape for d in (1, s)))
    return xp.reshape(spread_a * spread_b, tuple(p * q for p, q in zip(a.shape, b.shape)))


def _arange(xp, dev, lower, upper):
    """A fori_loop's indices lower, ..., upper - 1, as 0-d integer arrays of the bounds'
    dtype (the standard's arrays cannot be iterated over)."""
    arrays = [b for b in (lower, upper) if not isinstance(b, int)]
    dtype = xp.result_type(*arrays) if arrays else xp.int64
    for k in range(int(lower), int(upper)):
        yield xp.asarray(k, dtype=dtype, device=dev)
