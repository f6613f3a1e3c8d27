"""The `where` trap, found when `gc.grad` is asked: `where(x > 0, sqrt(x), 0)` has a finite
value, but its gradient is NaN where `x <= 0`, because the derivative of the unused branch,
inf or NaN there, is multiplied by the zero cotangent `where` gives it (0 * inf is NaN).

The ops with this trap say so in the op table: `OpDef.singular_inputs` lists (input, a
value where the op and its derivative are finite, the open intervals where they are), e.g.
sqrt's input 0 with 1 and x > 0, a divisor with 1 and x != 0, arcsin's input with 0 and
-1 < x < 1. An input whose values provably stay inside (`bounds`: from constants and the
ops' images, `OpDef.image`) is safe: `sqrt(x*x + 1)`, `arcsin(4*tanh(x)/5)`. A `where` whose condition reads a var that such an input depends on
gets a `GraphcWarning` at the user's line with the fix: guard the input with the same
condition, `where(c, sqrt(where(c, x, 1)), 0)`. An input that is already a `where` with a
constant on one side counts as guarded (the derivative rules guard theirs so), and so does
every input whose `where` condition reads none of its vars (a mask given as data).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from . import ops
from .errors import GraphcWarning
from .ir import LoadedOrigin, Symbol, format_origin, rebuild, toposort
from .ops.ranges import within


def where_traps(nodes: Sequence[Symbol], dep: set[int]) -> list[tuple[Symbol, Symbol, int]]:
    """(where node, trap node, trap input) for each op with a singular input on a
    differentiated path inside a branch of a `where` (`nodes` in topological order, `dep` the
    ids through which the derivative flows) that is not guarded (see the module)."""
    found, seen, memo = [], set(), {}
    dep = _flowing(nodes, dep)
    for node in nodes:
        if node.op != "where" or id(node) not in dep:
            continue
        cond = node.inputs[0]
        for branch in node.inputs[1:]:
            for trap, i, regular in _traps_under(branch, dep):
                x = trap.inputs[i]
                if (id(trap), i) in seen or _guarded(x) or not _shares_var(x, cond):
                    continue
                if within(bounds(x, memo), regular):  # x cannot reach the singular points
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
    """(node, input, where the input is regular) for the singular inputs reached from
    `branch` through elementwise ops on the differentiated path."""
    seen: set[int] = set()
    todo = [branch]
    while todo:
        node = todo.pop()
        if id(node) in seen or id(node) not in dep or not node.opdef.elementwise:
            continue
        seen.add(id(node))
        for i, _, regular in node.opdef.singular_inputs:
            if i < len(node.inputs) and id(node.inputs[i]) in dep:
                yield node, i, regular
        todo.extend(node.inputs)


def _guarded(x: Symbol) -> bool:
    """Is `x` already guarded: `where(c, x', safe)` or `where(c, safe, x')`, a constant on
    one side (the author chose its domain, as derivative rules do: `x1 / where(x == 0, 1, x)`)?
    """
    return x.op == "where" and any(b.op == "const" for b in x.inputs[1:])


def _shares_var(x: Symbol, cond: Symbol) -> bool:
    """Does the condition read a var that `x` depends on (a guard of x's domain)?"""
    names = {n.name for n in toposort([cond]) if n.op == "var"}
    return bool(names) and any(n.op == "var" and n.name in names for n in toposort([x]))


def guarded_form(where: Symbol, trap: Symbol, i: int) -> Symbol:
    """`where` with the trap's input `x` replaced by `where(c, x, safe)` (the fix)."""
    cond, x = where.inputs[0], trap.inputs[i]
    safe = next(v for k, v, _ in trap.opdef.singular_inputs if k == i)
    side = 1 if _in_branch(where.inputs[1], x) else 2
    guard = ops.where(cond, x, safe) if side == 1 else ops.where(cond, safe, x)
    fixed = rebuild([trap], memo={id(x): guard}, order=[trap])[0]
    return rebuild([where], memo={id(trap): fixed})[0]


def bounds(x: Symbol, memo: dict | None = None):
    """An interval (lo, hi) holding every value of `x`, from constants and the ops' images
    (`OpDef.image`, graphc.ops.ranges), or None when the table cannot bound it."""
    memo = {} if memo is None else memo
    for node in toposort([x]):
        if id(node) in memo:
            continue
        if node.op == "const":
            v = np.asarray(node.attrs["value"])
            fine = v.size and v.dtype.kind in "biuf" and np.isfinite(v).all()
            memo[id(node)] = (float(v.min()), float(v.max())) if fine else None
        elif node.opdef.image is not None and node.opdef.elementwise:
            op = node.opdef
            if op.name == "multiply" and node.inputs[0] is node.inputs[1]:
                op = ops.square  # x*x: a square, never negative
            memo[id(node)] = op.image(*(memo.get(id(a)) for a in node.inputs))
        else:  # any real (or unknown: a var, an op the table does not bound)
            memo[id(node)] = (-math.inf, math.inf) if node.op == "var" else None
    return memo[id(x)]


def _in_branch(branch: Symbol, x: Symbol) -> bool:
    return any(n is x for n in toposort([branch]))


def _text(node: Symbol, width: int = 120) -> str:
    """`node` printed on one line (a let-form's lines joined by "; "), cut at `width`."""
    text = "; ".join(str(node).splitlines())
    return text if len(text) <= width else text[: width - 1] + "…"


def warn_where_traps(nodes: Sequence[Symbol], dep: set[int]) -> None:
    """Warn (`GraphcWarning`, at the user's line of the `where`) for each trap found."""
    for where, trap, i in where_traps(nodes, dep):
        x = trap.inputs[i]
        message = (
            f"{format_origin(where.origin)}: {_text(where)} gives NaN gradients where "
            f"{_text(where.inputs[0])} selects the other branch and {_text(x)} is outside "
            f"{trap.op}'s domain: the derivative of {_text(trap)}, inf or NaN there, is "
            f"multiplied by 0. Guard the input with the same condition: "
            f"{_text(guarded_form(where, trap, i))}"
        )
        origin = where.origin
        if origin is None or isinstance(origin, LoadedOrigin):
            warnings.warn(message, GraphcWarning, stacklevel=3)
        else:
            warnings.warn_explicit(message, GraphcWarning, origin[0], origin[1])
