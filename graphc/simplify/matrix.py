"""Textbook matrix forms: rules for linear-algebra clusters, applied by `matrix_forms`.

Sums and products of `@`, `.T`, scalars and the softmax family are written as the Matrix
Cookbook writes them. Each rule is named for the identity it applies, holds for every real
input (it may round differently, as any reassociation does) and keeps the node's shape and
dtype. No rule adds an operation (`count_ops`; a transpose is a view and costs nothing): a
rule that would have to copy a node other users read declines. Rules about vectors and
matrices fire only where the ranks are known (declared shapes, or after specialisation at
`bind`); with unknown ranks a product's gradient is a rank-generic node they do not enter.

- `vector_on_right`: `v @ M` -> `M.T @ v` for a vector v and a matrix M (one canonical form:
  a vector is the right operand, so `x @ A` and `A.T @ x` are one node);
- `scalar_out_of_product`: `(s*a) @ b` -> `s*(a @ b)` for a scalar s (also `a/s` and `-a`, on
  either side);
- `collect_product`: `A @ v + B @ v` -> `(A + B) @ v` and `A @ u - A @ v` -> `A @ (u - v)`;
- `transpose_of_transpose`: `x.T.T` -> `x` (permutations compose);
- `transpose_of_product`: `(A.T @ B).T` -> `B.T @ A`, only where it leaves fewer transposes;
- `softmax_from_exp`: `exp(log_softmax(z))` and `exp(z - logsumexp(z, axis, keepdims=True))`
  -> `softmax(z)`;
- `absorb_negation`: a sign met under a sum, mean or product moves out to the nearest `+`/`-`:
  `a - sum(-t)*s` -> `a + sum(t)*s`, `a + (-u)` -> `a - u` (exact: rounding is symmetric).
"""

from __future__ import annotations

from .. import ops
from ..dispatch import const, is_weak
from ..ir import Symbol, toposort
from .identity import transpose_of_transpose as cancel_transposes
from .rewrites import rewrite

__all__ = ["RULES", "matrix_forms"]

# Linear in their first input (or both, for the products): a sign passes through them.
_LINEAR_FIRST = ("sum", "mean", "sum_to", "transpose")
_BILINEAR = ("matmul", "dot", "outer", "multiply")
# Ops whose presence makes the pass worth a walk (see `matrix_forms`).
TRIGGERS = frozenset(_LINEAR_FIRST + ("matmul", "dot", "outer", "log_softmax", "logsumexp"))


def _rank(x: Symbol):
    return None if x.shape is None else len(x.shape)


def _is_scalar(x: Symbol) -> bool:
    return x.shape == ()


def _same_float(*nodes: Symbol) -> bool:
    """All of one floating dtype, or all of a dtype known only at bind time (no promotion
    happens between them that the static types could see)."""
    d = nodes[0].dtype
    return (d is None or d.kind in "fc") and all(n.dtype == d for n in nodes)


def _scaled(x: Symbol):
    """(scalar, operand, op) when x is `s*a`, `a*s`, `a/s` or `-a` with a scalar s and
    an operand a of x's dtype, else None."""
    if x.op == "negative":
        return None, x.inputs[0], "negative"
    if x.op not in ("multiply", "divide") or not _same_float(x):
        return None
    a, s = x.inputs
    if x.op == "multiply" and _is_scalar(a) and not _is_scalar(s):
        a, s = s, a
    if _is_scalar(s) and not _is_scalar(a) and a.dtype == x.dtype:
        return s, a, x.op
    return None


# --- rules: rule(ctx, node, inputs) -> Symbol | None (see `rewrites.rewrite`) -------------


def vector_on_right(ctx, node, inputs):
    """`v @ M` -> `M.T @ v` for a vector v and a matrix M (`v @ A.T` -> `A @ v`)."""
    v, m = inputs
    if _rank(v) != 1 or _rank(m) != 2:
        return None
    return ops.matmul(_transposed(m), v)


def _transposed(m: Symbol) -> Symbol:
    if m.op == "transpose" and m.attrs["axes"] is None:
        return m.inputs[0]
    return ops.transpose(m)


def scalar_out_of_product(ctx, node, inputs):
    """`(s*a) @ b` -> `s*(a @ b)`, `(a/s) @ b` -> `(a @ b)/s`, `(-a) @ b` -> `-(a @ b)` for a
    scalar s (either operand): the product is the textbook's, the scalar a coefficient."""
    for i in (0, 1):
        hit = _scaled(inputs[i])
        if hit is None or ctx.shared(inputs[i]):
            continue
        s, a, op = hit
        new = list(inputs)
        new[i] = a
        product = ctx.remake(node, new)
        if op == "negative":
            return ops.negative(product)
        if op == "divide":
            return ops.divide(product, s)
        x = inputs[i]
        return ops.multiply(s, product) if x.inputs[0] is s else ops.multiply(product, s)
    return None


def collect_product(ctx, node, inputs):
    """`A @ v + B @ v` -> `(A + B) @ v` and `A @ u + A @ v` -> `A @ (u + v)` (also `-`), for
    operands of one rank (at most 2) and one dtype, where at most one product has other users
    (so the count of operations does not grow)."""
    p, q = inputs
    if p.op != "matmul" or q.op != "matmul" or (ctx.shared(p) and ctx.shared(q)):
        return None
    combine = ops.add if node.op == "add" else ops.subtract
    for k in (1, 0):  # the common operand: right (a vector, usually), then left
        common, a, b = p.inputs[k], p.inputs[1 - k], q.inputs[1 - k]
        if q.inputs[k] is not common or not _same_float(a, b, common):
            continue
        if _rank(a) is None or _rank(a) != _rank(b) or _rank(a) > 2:
            continue
        summed = combine(a, b)
        return ops.matmul(summed, common) if k == 1 else ops.matmul(common, summed)
    return None


def transpose_of_transpose(ctx, node, inputs):
    """`x.T.T` -> `x` (`identity.transpose_of_transpose`; here too, so products see it)."""
    return cancel_transposes(node, inputs)


def transpose_of_product(ctx, node, inputs):
    """`(a @ b).T` -> `b.T @ a.T` for matrices a, b, where that leaves fewer transposes
    (`(A.T @ B).T` -> `B.T @ A`, `(A.T @ B.T).T` -> `B @ A`)."""
    p = inputs[0]
    if p.op != "matmul" or node.attrs["axes"] is not None or ctx.shared(p):
        return None
    a, b = p.inputs
    if _rank(a) != 2 or _rank(b) != 2:
        return None
    flips = sum(x.op == "transpose" and x.attrs["axes"] is None for x in (a, b))
    if flips == 0:
        return None
    return ops.matmul(_transposed(b), _transposed(a))


def softmax_from_exp(ctx, node, inputs):
    """`exp(log_softmax(z, axis))` -> `softmax(z, axis)`; `exp(z - logsumexp(z, axis,
    keepdims=True))` -> `softmax(z, axis)` when one axis is reduced (or z is a vector)."""
    x = inputs[0]
    if x.op == "log_softmax":
        return ops.softmax(x.inputs[0], axis=x.attrs["axis"])
    if x.op != "subtract" or x.inputs[1].op != "logsumexp":
        return None
    z, lse = x.inputs[0], x.inputs[1]
    axis = _single_axis(lse, z)
    if lse.inputs[0] is not z or axis is None:
        return None
    return ops.softmax(z, axis=axis)


def _single_axis(lse: Symbol, z: Symbol):
    """The one axis `lse` reduces while keeping z's layout (keepdims, or z a vector), else
    None."""
    n, axis = _rank(z), lse.attrs["axis"]
    if not n:  # unknown rank, or a scalar (no axis to take a softmax along)
        return None
    if axis is None:
        return -1 if n == 1 else None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if len(axes) != 1 or not (lse.attrs["keepdims"] or n == 1):
        return None
    return -1 if axes[0] % n == n - 1 else axes[0]


def _sign_of(x: Symbol):
    """u when x is `-u` (or `-1*u`), else None."""
    return x.inputs[0] if x.op == "negative" else _minus_one_times(x)


def _minus_one_times(x: Symbol):
    """u when x is `-1*u` or `u*-1` (a Python -1, or a 0-d -1 that does not change u's
    dtype), else None."""
    if x.op != "multiply" or not (x.dtype is None or all(u.dtype == x.dtype for u in x.inputs)):
        return None
    for c, u in (x.inputs, x.inputs[::-1]):
        if c.op == "const" and c.shape == ():
            v = c.attrs["value"]
            if not isinstance(v, bool) and v == -1:
                return u
    return None


MAX_DEPTH = 6  # nodes `negated` looks through on its way down to a sign


def negated(ctx, x: Symbol, through: bool = False, depth: int = 0):
    """A node equal to `-x` built without a new operation (replacing unshared nodes on the
    way down to a sign, at most `MAX_DEPTH` deep), or None. Only a sign met through a
    reduction or a product counts (`through`): signs among elementwise operations are the
    sympy pass's business."""
    sign = _sign_of(x)
    if sign is not None:
        return sign if through else None
    if x.op == "const" and through and is_weak(x.attrs["value"]):
        v = x.attrs["value"]
        return None if isinstance(v, bool) else const(-v)
    if depth == MAX_DEPTH or ctx.shared(x):
        return None
    if x.op in _LINEAR_FIRST or x.op in _BILINEAR or x.op == "divide":
        deeper = through or not x.opdef.elementwise
        sides = (0, 1) if x.op in _BILINEAR else (0,)
        for i in sides:
            inner = negated(ctx, x.inputs[i], deeper, depth + 1)
            if inner is not None:
                new = list(x.inputs)
                new[i] = inner
                return ctx.remake(x, new)
    return None


def _sign_or_negated(ctx, x: Symbol):
    sign = _sign_of(x)
    return negated(ctx, x) if sign is None else sign


def absorb_negation(ctx, node, inputs):
    """`a - (-u)` -> `a + u`, `a + (-u)` -> `a - u`, `(-u) + a` -> `a - u` and `-(-u)` -> `u`,
    where `-u` is a sign under a reduction or product (`negated`) or a plain negation."""
    if node.op == "negative":
        return negated(ctx, inputs[0])
    a, b = inputs
    nb = _sign_or_negated(ctx, b)
    if nb is not None:
        return ops.add(a, nb) if node.op == "subtract" else ops.subtract(a, nb)
    if node.op == "add":
        na = _sign_or_negated(ctx, a)
        if na is not None:
            return ops.subtract(b, na)
    return None


RULES = {
    "matmul": (scalar_out_of_product, vector_on_right),
    "add": (collect_product, absorb_negation),
    "subtract": (collect_product, absorb_negation),
    "negative": (absorb_negation,),
    "transpose": (transpose_of_transpose, transpose_of_product),
    "exp": (softmax_from_exp,),
}


def matrix_forms(outputs, ctx=None):
    """Write linear-algebra clusters in textbook form (`RULES`, see the module docstring).
    Preserves values (up to rounding) and never adds an operation; returns the same list when
    nothing changed. A graph without products, transposes, signs or the softmax family is
    returned after one walk.

    >>> import graphc as gc
    >>> A, x = gc.var("A", shape=(3, 3)), gc.var("x", shape=(3,))
    >>> print(matrix_forms([A @ x + x @ A])[0])
    (A + A.T) @ x
    """
    outputs = list(outputs)
    if not any(n.op in TRIGGERS for n in toposort(outputs, stop=_known(ctx))):
        return outputs
    return rewrite(outputs, ctx, rules=RULES, elementwise_rules=())


def _known(ctx):
    return () if ctx is None else ctx.stop
