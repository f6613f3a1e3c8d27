"""Rules that drop operations that do nothing: a view or cast that gives its input back, two
transposes or reshapes where one does, a product by ones. Each replacement computes the same
bits as the node it replaces (no rounding, no sign of zero changes: `x + 0` turns `-0.0`
into `0.0`, so it is not here but in `rewrite`), so these rules run in `SPECIALIZE`, which
every compilation runs, `simplify=False` included (`SPECIALIZE_RULES`, below).

Derivative rules produce such chains: the gradient of `x @ W.T` reads `(W.T).T`, a seed is
`broadcast_to(1.0, shape) * g`, and the gradient of `expand_dims` is a reshape of a reshape.
"""

from __future__ import annotations

from .. import ops
from ..ir import Symbol, fits
from ..ops.base import known
from .framework import RuleSet, applies_to, rule_pass
from .passes import (
    _neutral,
    is_const,
    merge_scalings,
    resolve_static,
    resolve_weak_constants,
    resolves,
)

# Ops whose result is their input's entries in C order under another shape (a reshape).
RESHAPES = ("reshape", "squeeze", "expand_dims", "ravel")


def transpose_of_transpose(node: Symbol, inputs: tuple):
    """`x.T.T` -> x (any two transposes: one, or none when they cancel)."""
    (inner,) = inputs
    if inner.op != "transpose" or node.shape is None:
        return None
    rank = len(node.shape)
    first = inner.attrs["axes"] or tuple(reversed(range(rank)))
    second = node.attrs["axes"] or tuple(reversed(range(rank)))
    axes = tuple(first[i] for i in second)
    (x,) = inner.inputs
    if axes == tuple(range(rank)):
        return x
    return ops.transpose(x, None if axes == tuple(reversed(range(rank))) else axes)


def identity_transpose(node: Symbol, inputs: tuple):
    """`transpose(x, (0, 1, ...))` -> x, and `v.T` -> v for a vector or a scalar."""
    (x,) = inputs
    axes = node.attrs["axes"]
    if x.shape is not None and len(x.shape) <= 1:
        return x
    return x if axes is not None and axes == tuple(range(len(axes))) else None


def same_shape(node: Symbol, inputs: tuple):
    """A reshape, squeeze or broadcast to the shape its input already has -> the input."""
    x = inputs[0]
    return x if known(node.shape) and x.shape == node.shape else None


def reshape_of_reshape(node: Symbol, inputs: tuple):
    """`reshape(reshape(x, s1), s2)` -> `reshape(x, s2)`, or x when s2 is x's shape; likewise
    through `squeeze`, `expand_dims` and `ravel` (each a reshape in C order)."""
    (inner,) = inputs
    if inner.op not in RESHAPES or not known(node.shape):
        return None
    x = inner.inputs[0]
    return x if x.shape == node.shape else ops.reshape(x, node.shape)


def broadcast_of_broadcast(node: Symbol, inputs: tuple):
    """`broadcast_to(broadcast_to(x, s1), s2)` -> `broadcast_to(x, s2)`."""
    (inner,) = inputs
    if inner.op != "broadcast_to":
        return None
    return ops.broadcast_to(inner.inputs[0], node.attrs["shape"])


def astype_same_dtype(node: Symbol, inputs: tuple):
    """`x.astype(d)` -> x when x already has dtype d."""
    (x,) = inputs
    return x if x.dtype is not None and x.dtype == node.dtype else None


def _uniform(x: Symbol) -> Symbol:
    """x, or the constant a `broadcast_to(c, shape)` spreads (a seed of ones)."""
    return x.inputs[0] if x.op == "broadcast_to" and is_const(x.inputs[0]) else x


def multiply_by_ones(node: Symbol, inputs: tuple):
    """`x * 1` -> x, also where the 1 is broadcast (`broadcast_to(1.0, s) * g` -> g), when
    the product has x's shape and dtype."""
    a, b = inputs
    if _neutral(node, a, _uniform(b), 1):
        return a
    return b if _neutral(node, b, _uniform(a), 1) else None


def divide_by_one(node: Symbol, inputs: tuple):
    """`x / 1` -> x."""
    return inputs[0] if _neutral(node, inputs[0], _uniform(inputs[1]), 1) else None


def power_one(node: Symbol, inputs: tuple):
    """`x ** 1` -> x."""
    return inputs[0] if _neutral(node, inputs[0], inputs[1], 1) else None


def subtract_zero(node: Symbol, inputs: tuple):
    """`x - 0` -> x (`-0.0 - 0` is `-0.0`: exact)."""
    return inputs[0] if _neutral(node, inputs[0], _uniform(inputs[1]), 0) else None


NOOP_RULES = {
    "transpose": (transpose_of_transpose, identity_transpose),
    "reshape": (same_shape, reshape_of_reshape),
    "squeeze": (same_shape, reshape_of_reshape),
    "expand_dims": (reshape_of_reshape,),
    "ravel": (same_shape, reshape_of_reshape),
    "broadcast_to": (same_shape, broadcast_of_broadcast),
    "astype": (astype_same_dtype,),
    "multiply": (multiply_by_ones,),
    "divide": (divide_by_one,),
    "power": (power_one,),
    "subtract": (subtract_zero,),
}


@applies_to(resolves)
def resolve_tidy(node: Symbol, inputs: tuple):
    """A shape-generic op -> its static form (`passes.resolve_static`), itself without a no-op
    (the gradient of `expand_dims`, `reshape_like(g, x)`, reshapes a reshape)."""
    new = resolve_static(node, inputs)
    for rule in () if new is None else NOOP_RULES.get(new.op, ()):
        tidy = rule(new, new.inputs)
        if tidy is not None and fits(new, tidy):
            return tidy
    return new


_STRUCTURAL = frozenset(NOOP_RULES) - {"multiply", "divide", "power", "subtract"}


def may_change(node: Symbol, inputs: tuple) -> bool:
    """Can a `SPECIALIZE_RULES` rule apply to `node` on `inputs`: a shape-generic op, a view,
    reshape, broadcast or cast, or an op of a constant (or of a broadcast one)? Every other
    rule reads a constant input."""
    return (
        node.op in _STRUCTURAL
        or resolves(node.opdef)
        or any(x.op == "const" or x.op == "broadcast_to" for x in inputs)
    )


SPECIALIZE_RULES = RuleSet(
    always=(resolve_weak_constants, resolve_tidy, merge_scalings), by_op=NOOP_RULES
)
specialize = rule_pass(
    "specialize",
    SPECIALIZE_RULES,
    """Resolve shape-generic ops once shapes are known, through each op's `resolve` rule:
    `sum_to`, `broadcast_like` and `reshape_like` become static ops or disappear,
    `size` becomes a number, `product_vjp` the rank-specific product, and
    `stop_gradient` (already used by differentiation) the identity; merge scalings by
    Python numbers; drop operations that do nothing (`NOOP_RULES`: `x.T.T`, a reshape to
    the same shape, `x.astype` of x's dtype, `x * 1`, ...). Preserves values exactly.""",
    trigger=may_change,
)
