"""Graph-level passes: constant folding with algebraic identities, common-subexpression
elimination, and the rules of shape specialisation (the `specialize` pass, in `noops`). Each is a pass `(outputs, ctx) -> outputs` (see
`framework`) that returns the same objects when nothing changed; dead code never survives a
rebuild, since only nodes reachable from the outputs are kept.
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..dispatch import const, is_weak, make_node
from ..ir import Symbol, identical, rebuild, remake
from ..ops.base import OpDef, known
from .framework import RuleSet, applies_to, context, rule_pass

FOLD_LIMIT = 1 << 16  # constant results larger than this stay as computations


def const_value(node: Symbol):
    return node.attrs["value"]


def is_const(node: Symbol, value=None) -> bool:
    """A constant (optionally a uniform one equal to `value`)."""
    if node.op != "const":
        return False
    if value is None:
        return True
    v = const_value(node)
    if is_weak(v):
        return v == value
    return v.size > 0 and bool(np.all(v == value))


def _neutral(node: Symbol, x: Symbol, c: Symbol, value) -> bool:
    """Is `node` (an op of x and constant c) just x when c == value?"""
    if not is_const(c, value):
        return False
    if is_weak(const_value(c)):
        return x.dtype is None or x.dtype.kind in "fc" or isinstance(const_value(c), int)
    return node.shape == x.shape and node.dtype == x.dtype and None not in (x.shape or (None,))


# --- constant folding and identities: one rule per identity ---------------------------
# Each: rule(node, inputs) -> Symbol | None (see `framework`).


@applies_to(lambda op: op.foldable)
def evaluate_constants(node: Symbol, inputs: tuple):
    """An op of constants -> its value, computed now (small numeric results only; an op
    that raises is left for the program to raise, with the user's line)."""
    if not inputs or not _all_const(inputs):
        return None
    values = [const_value(x) for x in inputs]
    try:
        with np.errstate(all="ignore"):
            result = node.opdef.impl(*values, **node.attrs)
    except (ArithmeticError, ValueError, TypeError):
        return None
    if all(is_weak(v) for v in values) and np.ndim(result) == 0:
        result = np.asarray(result).item()
        return const(result) if is_weak(result) else None
    result = np.asarray(result)
    if result.size <= FOLD_LIMIT and result.dtype.kind in "biufc":
        if node.dtype is not None:
            result = result.astype(node.dtype)
        return const(result)
    return None


def _either_neutral(node: Symbol, inputs: tuple, value):
    a, b = inputs
    if _neutral(node, a, b, value):
        return a
    return b if _neutral(node, b, a, value) else None


def _right_neutral(node: Symbol, inputs: tuple, value):
    return inputs[0] if _neutral(node, inputs[0], inputs[1], value) else None


def add_zero(node: Symbol, inputs: tuple):
    """`x + 0` -> x and `0 + x` -> x (where that keeps x's shape and dtype)."""
    return _either_neutral(node, inputs, 0)


def subtract_zero(node: Symbol, inputs: tuple):
    """`x - 0` -> x."""
    return _right_neutral(node, inputs, 0)


def zero_minus(node: Symbol, inputs: tuple):
    """`0 - x` -> `-x` (x not a constant)."""
    a, b = inputs
    return ops.negative(b) if _neutral(node, b, a, 0) and b.op != "const" else None


def multiply_one(node: Symbol, inputs: tuple):
    """`x * 1` -> x and `1 * x` -> x."""
    return _either_neutral(node, inputs, 1)


def divide_one(node: Symbol, inputs: tuple):
    """`x / 1` -> x."""
    return _right_neutral(node, inputs, 1)


def power_one(node: Symbol, inputs: tuple):
    """`x ** 1` -> x."""
    return _right_neutral(node, inputs, 1)


@applies_to(lambda op: op.identity_when_same_shape)
def resolve_like(node: Symbol, inputs: tuple):
    """`sum_to(x, like)` -> x for a scalar x; a shape adapter (`sum_to`, `broadcast_like`,
    `reshape_like`) -> its static form or x, once both shapes are known."""
    if node.op == "sum_to" and inputs[0].shape == ():
        return inputs[0]
    return node.opdef.resolve(*inputs)


def drop_implicit_broadcasts(node: Symbol, inputs: tuple):
    """Elementwise ops broadcast by themselves: compute on the broadcasts' sources and
    broadcast the (smaller) result only if the shape still needs it, so `broadcast_to(1, s)
    / 12 * x` becomes `0.0833 * x`."""
    if not known(node.shape) or not any(
        x.op in ("broadcast_to", "broadcast_like") for x in inputs
    ):
        return None
    sources = tuple(
        x.inputs[0] if x.op in ("broadcast_to", "broadcast_like") else x for x in inputs
    )
    inner = make_node(node.opdef, sources, node.attrs)
    if _all_const(sources):
        folded = FOLD_RULES.apply(inner, sources)
        inner = inner if folded is None else folded
    if inner.shape == node.shape:
        return inner
    return ops.broadcast_to(inner, node.shape) if known(inner.shape) else None


def expand_broadcast(node: Symbol, inputs: tuple):
    """`expand_dims(broadcast_to(c, s), axis)` -> `broadcast_to(c, s')` for a scalar c (the
    head of a gradient through a rule that expands it, as svd's `u * expand_dims(gs, -2)`, or
    the gradient of `sum(f(x), axis=1)`), and likewise through squeeze, reshape and
    transpose, so that elementwise users drop it: `broadcast_to(1, (1, 3)) * u` is `u`."""
    (b,) = inputs
    if b.op != "broadcast_to" or b.inputs[0].shape != () or not known(node.shape):
        return None
    return ops.broadcast_to(b.inputs[0], node.shape)


def _all_const(nodes) -> bool:
    for x in nodes:
        if x.op != "const":
            return False
    return True


FOLD_RULES = RuleSet(
    always=(evaluate_constants, resolve_like),
    by_op={
        "add": (add_zero,),
        "subtract": (subtract_zero, zero_minus),
        "multiply": (multiply_one,),
        "divide": (divide_one,),
        "power": (power_one,),
        "expand_dims": (expand_broadcast,),
        "squeeze": (expand_broadcast,),
        "reshape": (expand_broadcast,),
        "transpose": (expand_broadcast,),
    },
    elementwise=(drop_implicit_broadcasts,),
)
fold_constants = rule_pass(
    "fold_constants",
    FOLD_RULES,
    """Evaluate constant sub-expressions; drop x*1, x+0, x-0, x/1 and x**1 where that keeps
    x's shape and dtype, and resolve shape adapters whose shapes are known (`FOLD_RULES`).
    Preserves values.""",
)


def attr_key(value):
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return tuple(attr_key(v) for v in value)
    if isinstance(value, float) and value != value:
        return ("nan",)
    if isinstance(value, dict):
        return tuple(sorted((k, attr_key(v)) for k, v in value.items()))
    if hasattr(value, "__hash__") and value.__hash__ is not None:
        return (type(value).__name__, value)
    return ("id", id(value))


def _input_key(x: Symbol, inexact: bool):
    """A Python number by value (by float value where the result is inexact anyway: `x + 1`
    and `x + 1.0` are the same node for a float x); anything else by identity."""
    if x.op == "const" and is_weak(const_value(x)):
        v = const_value(x)
        if inexact and not isinstance(v, complex):
            return (1, repr(float(v)))
        return (1, f"{type(v).__name__}:{v!r}")
    return (0, id(x))


def _node_key(node: Symbol, inputs: tuple):
    inexact = node.dtype is not None and node.dtype.kind in "fc"
    keys = [(0, id(x)) if x.op != "const" else _input_key(x, inexact) for x in inputs]
    if node.opdef.commutative:
        keys.sort()
    attrs = tuple(sorted((k, attr_key(v)) for k, v in node.attrs.items())) if node.attrs else ()
    return (node.op, tuple(keys), attrs, None if node.dtype is None else node.dtype.str)


def cse(outputs, ctx=None):
    """Merge nodes with the same op, inputs and attrs (vars by identity). Preserves values.
    Nodes in `ctx.known` are already merged: the walk does not enter them."""
    known = context(ctx).known
    seen: dict = {}

    def merge(node, inputs):
        if node.op == "var" or (node.op == "const" and is_weak(const_value(node))):
            # Python numbers are emitted as literals: merging them saves nothing, and users
            # compare them by value below.
            return None
        key = _node_key(node, inputs)
        if node.op == "const":
            key += (type(const_value(node)).__name__,)
        if id(node) in known:
            seen.setdefault(key, node)
            return None
        hit = seen.get(key)
        if hit is None:
            same = identical(inputs, node.inputs)
            hit = seen[key] = node if same else remake(node, inputs)
        return hit

    new = rebuild(outputs, merge, stop=known.values())
    return list(outputs) if all(a is b for a, b in zip(new, outputs)) else new


def resolve_weak_constants(node: Symbol, inputs: tuple):
    """An op of Python numbers -> its value, first (a gradient's head 1.0 times a constant):
    a broadcast resolved next then sees a weak constant and gives it the dtype of the array
    it meets."""
    if inputs and all(x.op == "const" and is_weak(const_value(x)) for x in inputs):
        return FOLD_RULES.apply(node, inputs)
    return None


def resolves(op) -> bool:
    """Does `op` have a `resolve` rule of its own (the default one resolves nothing)?"""
    return getattr(op.resolve, "__func__", None) is not OpDef.resolve


def resolve_static(node: Symbol, inputs: tuple):
    """A shape-generic op -> its static form, once shapes are known (the op's `resolve`)."""
    if inputs and all(x.op == "const" and is_weak(const_value(x)) for x in inputs):
        return None  # (left as `resolve_weak_constants` left it)
    return node.opdef.resolve(*inputs, **node.attrs)


def _weak_number(x: Symbol):
    return const_value(x) if x.op == "const" and is_weak(const_value(x)) else None


@applies_to(lambda op: op.name in ("divide", "multiply"))
def merge_scalings(node: Symbol, inputs: tuple):
    """(x / a) / b -> x / (a*b) and (x * a) * b -> x * (a*b) for Python numbers a, b: one
    pass over the array instead of two (what `sum(x)/n` then `/2` needs)."""
    if node.op not in ("divide", "multiply") or len(inputs) != 2:
        return None
    inner, b = inputs
    nb = _weak_number(b)
    if nb is None or inner.op != node.op or _weak_number(inner.inputs[1]) is None:
        return None
    if isinstance(nb, bool) or isinstance(_weak_number(inner.inputs[1]), bool):
        return None
    return node.opdef(inner.inputs[0], _weak_number(inner.inputs[1]) * nb)
