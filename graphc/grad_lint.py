"""The `where` trap, found when `gc.grad` is asked: `where(x > 0, sqrt(x), 0)` has a finite
value, but its gradient is NaN where `x <= 0`, because the derivative of the unused branch,
inf or NaN there, is multiplied by the zero cotangent `where` gives it (0 * inf is NaN).

The ops with this trap say so in the op table: `OpDef.singular_inputs` lists (input, a
value where the op and its derivative are finite), e.g. sqrt's input 0 with 1, a divisor with
1, arcsin's input with 0. A `where` whose condition reads a var that such an input depends on
gets a `GraphcWarning` at the user's line with the fix: guard the input with the same
condition, `where(c, sqrt(where(c, x, 1)), 0)`, which the lint accepts.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from . import ops
from .errors import GraphcWarning
from .ir import LoadedOrigin, Symbol, format_origin, rebuild, toposort

_SAME_LIMIT = 64  # nodes compared before two conditions count as different


def where_traps(nodes: Sequence[Symbol], dep: set[int]) -> list[tuple[Symbol, Symbol, int]]:
    """(where node, trap node, trap input) for each op with a singular input on a
    differentiated path inside a branch of a `where` (`nodes` in topological order, `dep` the
    ids through which the derivative flows) that is not guarded by the same condition."""
    found, seen = [], set()
    dep = _flowing(nodes, dep)
    for node in nodes:
        if node.op != "where" or id(node) not in dep:
            continue
        cond = node.inputs[0]
        for side in (1, 2):
            for trap, i in _traps_under(node.inputs[side], dep):
                x = trap.inputs[i]
                if (id(trap), i) in seen or _guarded(x, cond, side) or not _shares_var(x, cond):
                    continue
                seen.add((id(trap), i))
                found.append((node, trap, i))
    return found


def _flowing(nodes: Sequence[Symbol], dep: set[int]) -> set[int]:
    """The ids of `dep` that a derivative reaches: not past a `stop_gradient` or another op
    whose value has no path back (`OpDef.records_on_tape`)."""
    flows: set[int] = set()
    for node in nodes:
        if id(node) in dep and (
            all(id(x) not in dep for x in node.inputs)  # a wrt
            or node.opdef.records_on_tape
            and any(id(x) in flows for x in node.inputs)
        ):
            flows.add(id(node))
    return flows


def _traps_under(branch: Symbol, dep: set[int]):
    """(node, input) for the singular inputs reached from `branch` through elementwise ops
    on the differentiated path."""
    seen: set[int] = set()
    todo = [branch]
    while todo:
        node = todo.pop()
        if id(node) in seen or id(node) not in dep or not node.opdef.elementwise:
            continue
        seen.add(id(node))
        for i, _ in node.opdef.singular_inputs:
            if i < len(node.inputs) and id(node.inputs[i]) in dep:
                yield node, i
        todo.extend(node.inputs)


def _guarded(x: Symbol, cond: Symbol, side: int) -> bool:
    """Is `x` `where(cond, x', safe)` with x' on the same side as the branch it is in?"""
    return x.op == "where" and _same(x.inputs[0], cond) and x.inputs[3 - side].op == "const"


def _same(a: Symbol, b: Symbol) -> bool:
    """Are `a` and `b` the same expression (same ops, attributes, vars by name, constants by
    value)? Two `x > 0` built apart are."""
    todo, count = [(a, b)], 0
    while todo:
        a, b = todo.pop()
        count += 1
        if a is b:
            continue
        if count > _SAME_LIMIT or a.op != b.op or len(a.inputs) != len(b.inputs):
            return False
        if a.op == "var" and a.name != b.name:
            return False
        if a.op == "const":
            va, vb = a.attrs["value"], b.attrs["value"]
            if np.shape(va) != np.shape(vb) or not np.array_equal(va, vb):
                return False
        elif dict(a.attrs) != dict(b.attrs):
            return False
        todo.extend(zip(a.inputs, b.inputs))
    return True


def _shares_var(x: Symbol, cond: Symbol) -> bool:
    """Does the condition read a var that `x` depends on (a guard of x's domain)?"""
    names = {n.name for n in toposort([cond]) if n.op == "var"}
    return bool(names) and any(n.op == "var" and n.name in names for n in toposort([x]))


def guarded_form(where: Symbol, trap: Symbol, i: int) -> Symbol:
    """`where` with the trap's input `x` replaced by `where(c, x, safe)` (the fix)."""
    cond, x = where.inputs[0], trap.inputs[i]
    safe = dict(trap.opdef.singular_inputs)[i]
    side = 1 if _in_branch(where.inputs[1], x) else 2
    guard = ops.where(cond, x, safe) if side == 1 else ops.where(cond, safe, x)
    fixed = rebuild([trap], memo={id(x): guard}, order=[trap])[0]
    return rebuild([where], memo={id(trap): fixed})[0]


def _in_branch(branch: Symbol, x: Symbol) -> bool:
    return any(n is x for n in toposort([branch]))


def warn_where_traps(nodes: Sequence[Symbol], dep: set[int]) -> None:
    """Warn (`GraphcWarning`, at the user's line of the `where`) for each trap found."""
    for where, trap, i in where_traps(nodes, dep):
        x = trap.inputs[i]
        message = (
            f"{format_origin(where.origin)}: {where} gives NaN gradients where {where.inputs[0]} "
            f"selects the other branch and {x} is outside {trap.op}'s domain: the derivative "
            f"of {trap}, inf or NaN there, is multiplied by 0. Guard the input with the same "
            f"condition: {guarded_form(where, trap, i)}"
        )
        origin = where.origin
        if origin is None or isinstance(origin, LoadedOrigin):
            warnings.warn(message, GraphcWarning, stacklevel=3)
        else:
            warnings.warn_explicit(message, GraphcWarning, origin[0], origin[1])
