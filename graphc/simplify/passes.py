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
        with np.errstate(all="ignore"):
            result = node.opdef.impl(*values, **node.attrs)
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
    if op == "divide" and _neutral(node, inputs[0], inputs[1], 1):
        return inputs[0]
    if op in ("sum_to", "broadcast_like", "reshape_like"):
        x, like = inputs
        if x.shape == like.shape and _known(x.shape) or (op == "sum_to" and x.shape == ()):
            return x
    if op == "negative" and inputs[0].op == "negative":
        return inputs[0].inputs[0]
    return None


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


def cse(outputs):
    """Merge nodes with the same op, inputs and attrs (vars by identity). Preserves values."""
    memo: dict[int, Symbol] = {}
    seen: dict = {}
    changed = False
    for node in toposort(outputs):
        inputs = tuple(memo.get(id(x), x) for x in node.inputs)
        if node.op == "var":
            memo[id(node)] = node
            continue
        key = (node.op, tuple(id(x) for x in inputs),
               tuple(sorted((k, _attr_key(v)) for k, v in node.attrs.items())))
        if node.op == "const":
            key += (type(_value(node)).__name__,)
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


def _known(shape) -> bool:
    return shape is not None and None not in shape


def _specialize_rule(node: Symbol, inputs: tuple):
    op = node.op
    if op in ("sum_to", "broadcast_like", "reshape_like"):
        x, like = inputs
        if not (_known(x.shape) and _known(like.shape)):
            return None
        if x.shape == like.shape:
            return x
        if op == "reshape_like":
            return ops.reshape(x, like.shape)
        if op == "broadcast_like":
            return ops.broadcast_to(x, like.shape)
        lead = len(x.shape) - len(like.shape)
        out = x
        if lead:
            out = ops.sum(out, axis=tuple(range(lead)))
        ones = tuple(i for i, d in enumerate(like.shape) if d == 1 and out.shape[i] != 1)
        if ones:
            out = ops.sum(out, axis=ones, keepdims=True)
        return out
    if op == "reduced_size" and _known(inputs[0].shape):
        return const(ops.reduce.count(inputs[0], node.attrs["axis"]))
    if op == "stop_gradient":
        return inputs[0]
    return None


def specialize(outputs):
    """Resolve shape-generic helpers once shapes are known: `sum_to`, `broadcast_like` and
    `reshape_like` become static ops or disappear, `reduced_size` becomes a number, and
    `stop_gradient` (already used by differentiation) becomes the identity."""
    return _rebuild_keeping_origin(outputs, _specialize_rule)
