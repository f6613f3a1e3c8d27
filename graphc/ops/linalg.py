"""Products: matmul (`@`), dot and outer.

Reverse-mode rules need the operands' ranks (or a scalar cotangent, which implies vectors);
forward-mode rules are rank-generic because the products are bilinear.
"""

from __future__ import annotations

import numpy as np

from .. import runtime
from ..errors import ShapeError
from ..ir import Symbol
from . import array_api as forms
from . import costs
from .base import (
    OPS,
    PREC_MUL,
    OpDef,
    batch_rank,
    broadcast_shapes,
    fmt_shape,
    register,
    result_dtype,
)
from .batch_rules import batch_size
from .shape import expand_dims, reshape, reshape_like, squeeze, sum_to, transpose


def _check_inner(a, b, ka, kb, op):
    if ka is not None and kb is not None and ka != kb:
        raise ShapeError(
            f"{op}: shapes {fmt_shape(a)} and {fmt_shape(b)} are not aligned ({ka} != {kb})"
        )


def _swap(x, ndim):
    """x with its last two axes swapped (`x.T` for a matrix: cheaper to call and to read);
    the input of a transpose that the swap undoes (the cotangent of `g @ W.T` is `g @ W`)."""
    axes = tuple(range(ndim - 2)) + (ndim - 1, ndim - 2)
    if isinstance(x, Symbol) and x.op == "transpose":
        if x.attrs["axes"] == axes or (x.attrs["axes"] is None and ndim == 2):
            return x.inputs[0]
    if ndim == 2:
        return x.T
    return transpose(x, axes)


def _product_vjp(op, g, a, b):
    """Cotangents of a @ b (and of dot for ranks up to 2, or with a vector operand)."""
    na, nb = _ranks(g, a, b)
    if na is None:
        # Ranks unknown until data is bound: a rank-generic node, made static by `resolve`.
        return deferred_vjp(op, g, a, b)
    if na == 0 or nb == 0 or (na == 1 and nb == 1):
        return sum_to(g * b, a), sum_to(g * a, b)
    if na == 1 and nb == 2:
        return matmul(b, g), outer(a, g)
    if na == 2 and nb == 1:
        return outer(g, b), matmul(g, a)
    if na >= 2 and nb >= 2 and (op == "matmul" or (na == 2 and nb == 2)):
        # Infix `@` is `matmul` on symbols and tensors, and costs no dispatch on arrays.
        return sum_to(g @ _swap(b, nb), a), sum_to(_swap(a, na) @ g, b)
    if na == 1 or nb == 1:
        return _vector_stack_vjp(g, a, b, na, nb)
    # dot of stacks of matrices (not matmul's broadcasting): its einsum's rule.
    einsum = OPS["einsum"]
    return einsum.vjp(g, None, a, b, subscripts=einsum.dot_subscripts(na, nb))


def _vector_stack_vjp(g, a, b, na: int, nb: int):
    """A vector against a stack of matrices (dot agrees with matmul here): make the vector
    a matrix as numpy does, use the batched rule, and drop the added axis again."""
    a2 = expand_dims(a, 0) if na == 1 else a
    b2 = expand_dims(b, -1) if nb == 1 else b
    g2 = expand_dims(g, -2 if na == 1 else -1)
    ga = sum_to(g2 @ _swap(b2, max(nb, 2)), a2)
    gb = sum_to(_swap(a2, max(na, 2)) @ g2, b2)
    return reshape_like(ga, a), reshape_like(gb, b)


def _ranks(g, a, b):
    """The ranks of a and b for their product's rule, (None, None) while unknown."""
    na, nb = _rank(a), _rank(b)
    if na is not None and nb is not None:
        return na, nb
    # A Python-number cotangent (the implicit head 1.0 of a scalar output) is a scalar too.
    if getattr(g, "shape", ()) == ():
        return 1, 1  # a scalar result: two vectors (or two scalars: the same rule)
    return None, None


def _rank(x):
    shape = getattr(x, "shape", None)
    return None if shape is None else len(shape)


class MatMul(OpDef):
    """`a @ b` with numpy's rules for 1-D operands and broadcast batch dims."""

    fresh = True

    name, nin, infix, precedence = "matmul", 2, "@", PREC_MUL  # printed `a @ b`
    public, methods, tape_name = True, ("matmul",), "MatMul"

    def cost(self, y, a, b):
        """Two flops per multiply-add: `2*m*n*k` for `(m, k) @ (k, n)`."""
        return 2 * costs.size(y) * a.shape[-1], costs.moved(y, (a, b))

    def shape(self, a, b):
        if a is None or b is None:
            return None
        if len(a) == 0 or len(b) == 0:
            raise ShapeError("matmul: operands must not be scalars (use multiply)")
        a2 = (1,) + a if len(a) == 1 else a
        b2 = b + (1,) if len(b) == 1 else b
        _check_inner(a, b, a2[-1], b2[-2], "matmul")
        batch = broadcast_shapes(a2[:-2], b2[:-2], op="matmul")
        out = batch + (a2[-2], b2[-1])
        if len(a) == 1:
            out = out[:-2] + out[-1:]
        if len(b) == 1:
            out = out[:-1]
        return out

    def impl(self, a, b):
        return np.matmul(a, b)

    def emit(self, a, b):
        return f"{a} @ {b}"

    def vjp(self, g, y, a, b):
        return _product_vjp("matmul", g, a, b)

    def jvp(self, ts, y, a, b):
        return _bilinear_jvp(matmul, ts, a, b)

    def batch(self, batched, y, a, b):
        return _batched_matmul(batched, a, b, *(len(x.shape) for x in y.inputs))


def _batched_matmul(batched, a, b, na: int, nb: int):
    """`a @ b` for a batch of `a`s or `b`s (or both; batch axis first), operands of ranks
    `na`, `nb` unbatched: the batch becomes a leading batch dim of the product."""
    ba, bb = batched
    if not bb and nb <= 2:  # (B, ..., n) @ (n, k) or (n,): the batch rides along
        return matmul(a, b)
    if not ba and nb == 1 and na <= 2:  # a @ b_i for each i: the rows of b_batch @ a.T
        return matmul(b, _swap(a, 2) if na == 2 else a)
    if not ba and na <= 2:  # (m, n) or (n,) @ (B, ..., n, k)
        return matmul(a, b)
    # Vectors as matrices, the batched operand's batch dims padded: a stack of matrices.
    dropped = ()
    if na == 1:
        a, na, dropped = expand_dims(a, -2), 2, (-2,)
    if nb == 1:
        b, nb, dropped = expand_dims(b, -1), 2, dropped + (-1,)
    rank = max(na, nb)
    product = matmul(batch_rank(a, ba, rank), batch_rank(b, bb, rank))
    return squeeze(product, dropped) if dropped else product


def _bilinear_jvp(fn, ts, a, b):
    ta, tb = ts
    terms = [fn(ta, b) if ta is not None else None, fn(a, tb) if tb is not None else None]
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else terms[0] + terms[1]


class Dot(OpDef):
    """`np.dot(a, b)`."""

    fresh = True

    name, nin = "dot", 2
    public, methods = True, ("dot",)

    def cost(self, y, a, b):
        """As matmul's (`2*m*n*k`); a scalar operand: one flop per entry."""
        k = a.shape[-1] if a.shape and b.shape else 1
        return (2 if k > 1 else 1) * costs.size(y) * k, costs.moved(y, (a, b))

    def shape(self, a, b):
        if a is None or b is None:
            return None
        if len(a) == 0 or len(b) == 0:
            return broadcast_shapes(a, b, op="dot")
        kb = b[0] if len(b) == 1 else b[-2]
        _check_inner(a, b, a[-1], kb, "dot")
        return a[:-1] + (b[:-2] + b[-1:] if len(b) >= 2 else ())

    def impl(self, a, b):
        return np.dot(a, b)

    def emit(self, a, b):
        return f"np.dot({a}, {b})"

    array_api = "_dot({0}, {1})"

    def vjp(self, g, y, a, b):
        return _product_vjp("dot", g, a, b)

    def jvp(self, ts, y, a, b):
        return _bilinear_jvp(dot, ts, a, b)

    def batch(self, batched, y, a, b):
        na, nb = (len(x.shape) for x in y.inputs)
        if na == 0 or nb == 0:  # dot with a scalar multiplies
            return OPS["multiply"].batch(batched, y, a, b)
        if nb <= 2:  # np.dot is matmul here
            return _batched_matmul(batched, a, b, na, nb)
        if not batched[1]:  # dot contracts a's last axis: a's batch rides along
            return dot(a, b)
        if not batched[0]:  # the batch comes out after a's other axes: move it first
            order = (na - 1,) + tuple(i for i in range(na + nb - 1) if i != na - 1)
            return transpose(dot(a, b), order)
        return None


class Outer(OpDef):
    """`np.outer(a, b)` of two vectors."""

    fresh = True

    name, nin = "outer", 2
    public = True

    def shape(self, a, b):
        if a is None or b is None:
            return (None, None)
        size = [None if None in s else int(np.prod(s)) for s in (a, b)]
        return tuple(size)

    def impl(self, a, b):
        return np.outer(a, b)

    def emit(self, a, b):
        return f"np.outer({a}, {b})"

    def array_api(self, a, b):
        return f"xp.linalg.outer({forms.flat(a)}, {forms.flat(b)})"

    def vjp(self, g, y, a, b):
        if _rank(a) == 1 and _rank(b) == 1:
            return matmul(g, b), matmul(a, g)
        # np.outer flattens its operands, so the rule does too: then it needs no ranks.
        return (
            reshape_like(matmul(g, reshape(b, (-1,))), a),
            reshape_like(matmul(reshape(a, (-1,)), g), b),
        )

    def jvp(self, ts, y, a, b):
        return _bilinear_jvp(outer, ts, a, b)

    def batch(self, batched, y, a, b):
        size = batch_size((a, b), batched)
        a, b = (
            x if len(v.shape) == 1 else reshape(x, (size, -1) if flag else (-1,))
            for x, v, flag in zip((a, b), y.inputs, batched)
        )
        return expand_dims(a, -1) * (expand_dims(b, 1) if batched[1] else b)


# The bilinear products whose cotangents product_vjp defers: their table entries give the
# rule once the ranks are known (matmul and dot: `_product_vjp`; the others: their `vjp`).
BILINEAR = ("matmul", "dot", "tensordot", "inner", "kron")


class ProductVJP(OpDef):
    """`product_vjp(g, a, b, side, kind)`: the vector-Jacobian product of the product
    `a @ b` (kind='matmul'), `dot(a, b)`, `tensordot(a, b, axes)`, `inner(a, b)` or
    `kron(a, b)` with respect to operand `side` (0: `a`, 1: `b`) for the output cotangent `g`.

    Derivatives print it while the ranks of `a` and `b` are unknown; once they are known it
    becomes the textbook form (for matrices `g @ b.T` and `a.T @ g`).

    Examples
    --------
    >>> import graphc as gc, numpy as np
    >>> a, b = np.eye(2), np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> gc.product_vjp(np.ones((2, 2)), a, b, side=0, kind="matmul")
    array([[3., 7.],
           [3., 7.]])
    >>> gc.product_vjp(np.ones(()), np.ones(3), np.arange(3.0), side=0, kind="inner")
    array([0., 1., 2.])

    It is bilinear in `g` and the other operand, so its own derivatives need no ranks
    either.
    """

    name, nin, attr_names = "product_vjp", 3, ("side", "kind", "axes")
    public = True
    fresh = True

    def cost(self, y, g, a, b, *, side, kind, axes=None):
        """A bilinear product's VJP costs what the product does (`g` has its result's shape)."""
        flops, _ = OPS[kind].cost(g, a, b, **({} if axes is None else {"axes": axes}))
        return flops, costs.moved(y, (g, b if side == 0 else a))

    def check_attrs(self, attrs):
        side, kind = attrs.get("side"), attrs.get("kind")
        if side not in (0, 1) or isinstance(side, bool) or kind not in BILINEAR:
            raise ShapeError(f"product_vjp: bad attrs side={side!r}, kind={kind!r}")
        # Exact builtins (side is emitted); axes for tensordot only.
        out = {"side": int(side), "kind": BILINEAR[BILINEAR.index(kind)]}
        if kind == "tensordot":
            out["axes"] = OPS["tensordot"].check_attrs({"axes": attrs.get("axes", 2)})["axes"]
        elif attrs.get("axes") is not None:
            raise ShapeError(f"product_vjp: axes are for kind='tensordot', not {kind!r}")
        return out

    def shape(self, g, a, b, *, side, kind, axes=None):
        return (a, b)[side]

    def dtype(self, g, a, b, *, side, kind, axes=None):
        return result_dtype(g, (b, a)[side])

    def impl(self, g, a, b, *, side, kind, axes=None):
        if kind in ("matmul", "dot"):
            return runtime._product_vjp(g, a, b, side, kind == "dot")
        return runtime._bilinear_vjp(g, a, b, side, kind, axes)

    def emit(self, g, a, b, *, side, kind, axes=None):
        if kind in ("matmul", "dot"):
            dot = ", True" if kind == "dot" else ""
            return f"_product_vjp({g}, {a}, {b}, {side}{dot})"
        return f"_bilinear_vjp({g}, {a}, {b}, {side}, {kind!r}, {axes!r})"

    # The cotangent is bilinear in g and the other operand, and reads its own operand's
    # shape only: ct_a(g, b) pairs with h as g pairs with product(h, b) (for side 0).
    def vjp(self, h, y, g, a, b, *, side, kind, axes=None):
        product = _product(kind, axes)
        more = {} if axes is None else {"axes": axes}
        if side == 0:
            return sum_to(product(h, b), g), None, product_vjp(g, h, b, side=1, kind=kind, **more)
        return sum_to(product(a, h), g), product_vjp(g, a, h, side=0, kind=kind, **more), None

    def jvp(self, ts, y, g, a, b, *, side, kind, axes=None):
        more = {} if axes is None else {"axes": axes}
        if side == 0:
            pair = lambda u, v: product_vjp(u, a, v, side=0, kind=kind, **more)  # noqa: E731
            return _bilinear_jvp(pair, (ts[0], ts[2]), g, b)
        pair = lambda u, v: product_vjp(u, v, b, side=1, kind=kind, **more)  # noqa: E731
        return _bilinear_jvp(pair, (ts[0], ts[1]), g, a)

    def resolve(self, g, a, b, *, side, kind, axes=None):
        if _rank(a) is None or _rank(b) is None:
            return None
        if kind in ("matmul", "dot"):
            return _product_vjp(kind, g, a, b)[side]
        y = _product(kind, axes)(a, b)  # (its shape only: the rules read g at y's shape)
        return OPS[kind].vjp(g, y, a, b, **({} if axes is None else {"axes": axes}))[side]


def _product(kind: str, axes):
    """The product `kind` as a function of its two operands."""
    op = OPS[kind]
    return op if axes is None else (lambda a, b: op(a, b, axes=axes))


def deferred_vjp(kind: str, g, a, b, **attrs):
    """The cotangents of the product `kind` while the ranks of a or b are unknown:
    `product_vjp` nodes, made static by `resolve` when data is bound."""
    return tuple(product_vjp(g, a, b, side=k, kind=kind, **attrs) for k in (0, 1))


matmul = register(MatMul())
dot = register(Dot())
outer = register(Outer())
product_vjp = register(ProductVJP())
