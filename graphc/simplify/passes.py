"""Graph-level passes: constant folding with algebraic identities, common-subexpression
elimination and shape specialisation. Each is a pure function `outputs -> outputs` that
returns the same objects when nothing changed; dead code never survives a rebuild, since
only nodes reachable from the outputs are kept.
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..dispatch import const, is_weak, make_node
from ..ir import Symbol, origin_scope, rebuild, toposort
from ..ops.base import known

FOLD_LIMIT = 1 << 16  # constant results larger than this stay as computations


def _value(node: Symbol):
    return node.attrs["value"]


def _is_const(node: Symbol, value=None) -> bool:
    """A constant (optionally a uniform one equal to `value`)."""
    if node.op != "const":
        return False
    if value is None:
        return True
    v = _value(node)
    if is_weak(v):
        return v == value
    return v.size > 0 and bool(np.all(v == value))


def _neutral(node: Symbol, x: Symbol, c: Symbol, value) -> bool:
    """Is `node` (an op of x and constant c) just x when c == value?"""
    if not _is_const(c, value):
        return False
    if is_weak(_value(c)):
        return x.dtype is None or x.dtype.kind in "fc" or isinstance(_value(c), int)
    return node.shape == x.shape and node.dtype == x.dtype and None not in (x.shape or (None,))


def _fold_rule(node: Symbol, inputs: tuple):
    op = node.op
    if inputs and all(x.op == "const" for x in inputs) and node.opdef.foldable:
        values = [_value(x) for x in inputs]
        try:
            with np.errstate(all="ignore"):
                result = node.opdef.impl(*values, **node.attrs)
        except (ArithmeticError, ValueError, TypeError):
            return None  # not folded: the program raises it, with the user's line, if run
        if all(is_weak(v) for v in values) and np.ndim(result) == 0:
            result = np.asarray(result).item()
            return const(result) if is_weak(result) else None
        result = np.asarray(result)
        if result.size <= FOLD_LIMIT and result.dtype.kind in "biufc":
            if node.dtype is not None:
                result = result.astype(node.dtype)
            return const(result)
        return None
    if op in ("add", "subtract") and len(inputs) == 2:
        a, b = inputs
        if _neutral(node, a, b, 0):
            return a
        if op == "add" and _neutral(node, b, a, 0):
            return b
        if op == "subtract" and _neutral(node, b, a, 0) and b.op != "const":
            return ops.negative(b)
    if op == "multiply":
        a, b = inputs
        if _neutral(node, a, b, 1):
            return a
        if _neutral(node, b, a, 1):
            return b
    if op in ("divide", "power") and _neutral(node, inputs[0], inputs[1], 1):
        return inputs[0]
    if node.opdef.identity_when_same_shape:
        if op == "sum_to" and inputs[0].shape == ():
            return inputs[0]
        return node.opdef.resolve(*inputs)
    if node.opdef.elementwise:
        return _drop_implicit_broadcasts(node, inputs)
    if op == "negative" and inputs[0].op == "negative":
        return inputs[0].inputs[0]
    return None


def _drop_implicit_broadcasts(node: Symbol, inputs: tuple):
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
        folded = _fold_rule(inner, sources)
        inner = inner if folded is None else folded
    if inner.shape == node.shape:
        return inner
    return ops.broadcast_to(inner, node.shape) if known(inner.shape) else None


def _all_const(nodes) -> bool:
    return all(x.op == "const" for x in nodes)


def fold_constants(outputs):
    """Evaluate constant sub-expressions; drop x*1, x+0, x-0, x/1 and --x where that keeps
    x's shape and dtype. Preserves values."""
    return _rebuild_keeping_origin(outputs, _fold_rule)


def _rebuild_keeping_origin(outputs, rule):
    def wrapped(node, inputs):
        with origin_scope(node.origin):
            return rule(node, inputs)

    return rebuild(outputs, wrapped)


def _attr_key(value):
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return tuple(_attr_key(v) for v in value)
    if isinstance(value, float) and value != value:
        return ("nan",)
    if isinstance(value, dict):
        return tuple(sorted((k, _attr_key(v)) for k, v in value.items()))
    if hasattr(value, "__hash__") and value.__hash__ is not None:
        return (type(value).__name__, value)
    return ("id", id(value))


def _input_key(x: Symbol, inexact: bool):
    """A Python number by value (by float value where the result is inexact anyway: `x + 1`
    and `x + 1.0` are the same node for a float x); anything else by identity."""
    if x.op == "const" and is_weak(_value(x)):
        v = _value(x)
        if inexact and not isinstance(v, complex):
            return (1, repr(float(v)))
        return (1, f"{type(v).__name__}:{v!r}")
    return (0, id(x))


def _node_key(node: Symbol, inputs: tuple):
    inexact = node.dtype is not None and node.dtype.kind in "fc"
    keys = [_input_key(x, inexact) for x in inputs]
    if node.opdef.commutative:
        keys.sort()
    attrs = tuple(sorted((k, _attr_key(v)) for k, v in node.attrs.items()))
    return (node.op, tuple(keys), attrs, None if node.dtype is None else node.dtype.str)


def cse(outputs, known=None):
    """Merge nodes with the same op, inputs and attrs (vars by identity). Preserves values.
    Nodes in `known` (id -> node) are already merged: the walk does not enter them."""
    memo: dict[int, Symbol] = {}
    seen: dict = {}
    changed = False
    for node in toposort(outputs, stop=known.values() if known else ()):
        inputs = tuple(memo.get(id(x), x) for x in node.inputs)
        if node.op == "var":
            memo[id(node)] = node
            continue
        if node.op == "const" and is_weak(_value(node)):
            # Python numbers are emitted as literals: merging them saves nothing, and users
            # compare them by value below.
            memo[id(node)] = node
            continue
        key = _node_key(node, inputs)
        if node.op == "const":
            key += (type(_value(node)).__name__,)
        if known and id(node) in known:
            seen.setdefault(key, node)
            memo[id(node)] = node
            continue
        hit = seen.get(key)
        if hit is None:
            if all(a is b for a, b in zip(inputs, node.inputs)):
                hit = node
            else:
                with origin_scope(node.origin):
                    hit = make_node(node.opdef, inputs, node.attrs, name=node.name)
            seen[key] = hit
        changed |= hit is not node
        memo[id(node)] = hit
    return [memo[id(o)] for o in outputs] if changed else list(outputs)


def _specialize_rule(node: Symbol, inputs: tuple):
    if inputs and all(x.op == "const" and is_weak(_value(x)) for x in inputs):
        # Python numbers first (a gradient's head 1.0 times a constant): a broadcast resolved
        # below then sees a weak constant and gives it the dtype of the array it meets.
        return _fold_rule(node, inputs)
    resolved = node.opdef.resolve(*inputs, **node.attrs)
    return _merge_scalings(node, inputs) if resolved is None else resolved


def _weak_number(x: Symbol):
    return _value(x) if x.op == "const" and is_weak(_value(x)) else None


def _merge_scalings(node: Symbol, inputs: tuple):
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


def specialize(outputs):
    """Resolve shape-generic ops once shapes are known, through each op's `resolve` rule:
    `sum_to`, `broadcast_like` and `reshape_like` become static ops or disappear,
    `reduced_size` becomes a number, `product_vjp` the rank-specific product, and
    `stop_gradient` (already used by differentiation) the identity. Preserves values."""
    return _rebuild_keeping_origin(outputs, _specialize_rule)
