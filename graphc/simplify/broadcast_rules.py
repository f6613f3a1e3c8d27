"""Rules for the shape-generic steps of derivatives (`sum_to`, `broadcast_like`, ...) when
shapes are unknown: each proves what it needs from shape classes (`rewrites.ShapeClasses`,
reached as `ctx.classes`: "a broadcasts to b's shape" is `within(a, b)`), so it holds for
every shape the graph can be bound to. Each: rule(ctx, node, inputs) -> Symbol | None.
"""

from __future__ import annotations

import functools

from .. import ops
from ..ir import Symbol


def remove_noop_like(ctx, node, inputs):
    """`sum_to(x, like)`, `broadcast_like(x, like)`, `reshape_like(x, like)` -> x when x
    already has like's shape."""
    x, like = inputs
    if ctx.classes.same(x, like) or (node.op == "sum_to" and x.shape == ()):
        return x
    return None


def sum_to_scalar(ctx, node, inputs):
    """`sum_to(x, s)` -> `sum(x)` when s is a scalar: everything is summed."""
    x, like = inputs
    # (x of unknown rank may be a Python number at run time, e.g. a loop's carry)
    if like.shape != () or x.shape is None or x.shape == ():
        return None
    out = ops.sum(x)
    return out if out.dtype == node.dtype else None


def total_of_sum_to(ctx, node, inputs):
    """`sum(sum_to(x, a))` -> `sum(x)`: a total does not depend on partial sums first."""
    inner = inputs[0]
    if (
        inner.op != "sum_to"
        or node.attrs["axis"] is not None
        or node.attrs["keepdims"]
        or ctx.shared(inner)
    ):
        return None
    out = ops.sum(inner.inputs[0])
    return out if out.dtype == node.dtype else None


def merge_sum_to(ctx, node, inputs):
    """`sum_to(sum_to(x, a), b)` -> `sum_to(x, b)` when b broadcasts to a's shape."""
    inner, like = inputs
    if inner.op != "sum_to" or not ctx.classes.within(like, inner.inputs[1]):
        return None
    return ops.sum_to(inner.inputs[0], like)


def _without_inner_sum(ctx, prod: Symbol, like: Symbol | None) -> Symbol | None:
    """`y*g` for a product `y*sum_to(g, r)` (y a product of factors) whose factors, and `like`
    unless None, broadcast to r's shape: summed over r's broadcast axes, or more, the two are
    equal, since y is constant along the axes the inner sum adds up."""
    factors, stack = [], [prod]
    while stack:  # the factors of an unshared product
        f = stack.pop()
        is_product = f.op == "multiply" and (f is prod or not ctx.shared(f))
        stack.extend(f.inputs) if is_product else factors.append(f)
    for i, s in enumerate(factors):
        r = s.inputs[1] if s.op == "sum_to" and len(factors) > 1 else None
        others = factors[:i] + factors[i + 1 :]
        if like is not None:
            others.append(like)
        if r is not None and all(ctx.classes.within(y, r) for y in others):
            kept = factors[:i] + factors[i + 1 :] + [s.inputs[0]]
            return functools.reduce(ops.multiply, kept)
    return None


def sum_to_through_factor(ctx, node, inputs):
    """`sum_to(y*sum_to(g, r), x)` -> `sum_to(y*g, x)` when y and x broadcast to r's shape."""
    prod = _without_inner_sum(ctx, inputs[0], inputs[1])
    out = None if prod is None else ops.sum_to(prod, inputs[1])
    return out if out is not None and out.dtype == node.dtype else None


def total_through_factor(ctx, node, inputs):
    """`sum(y*sum_to(g, r))` -> `sum(y*g)` when y broadcasts to r's shape (a total)."""
    if node.attrs["axis"] is not None or node.attrs["keepdims"]:
        return None
    prod = _without_inner_sum(ctx, inputs[0], None)
    out = None if prod is None else ops.sum(prod)
    return out if out is not None and out.dtype == node.dtype else None


def add_sum_tos(ctx, node, inputs):
    """`sum_to(a, x) + sum_to(b, x)` -> `sum_to(a + b, x)` when a and b have one shape."""
    s, u = inputs
    if s.op != u.op or s.op != "sum_to" or ctx.shared(s) or ctx.shared(u):
        return None
    (a, x), (b, x2) = s.inputs, u.inputs
    if x is not x2 or not ctx.classes.same(a, b):
        return None
    out = ops.sum_to(ops.add(a, b), x)
    return out if out.dtype == node.dtype else None
