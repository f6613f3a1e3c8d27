"""Why a gradient is zero (`gc.explain(...).zero_reasons`): graph facts, then values.

Structurally (no values needed) a gradient is zero when there is no path from the input to
the output, or every path is blocked: by a `stop_gradient`/`.detach()` (or another op with
no derivative), by an integer cast or a comparison (integer and boolean values carry none),
or by a piecewise-constant op whose rule sends nothing (`floor`, `sign`, ...). With values
(`at`), a gradient that is zero there is traced to the steps of the reverse pass that get a
nonzero adjoint and send a zero contribution towards the input: piecewise ops on their
flat side (relu at negative inputs, clip outside its range, a maximum not selected); when no
step does, the contributions cancel. Each reason is a record (a dict): its `kind`, a
`message` and the `blockers`, each naming its op, expression and the user's file:line.
"""

from __future__ import annotations

import numpy as np

from .chainrule import Contribution, Step, evaluate, flat, place, reached, show_value
from .ir import Symbol, format_origin
from .printing import to_str

# What each kind of blocker is called in a message.
_LABELS = {
    "stop_gradient": "a stop_gradient/detach",
    "non_differentiable": "an op with no derivative",
    "non_differentiable_input": "an argument that carries no derivative",
    "integer": "an integer cast",
    "comparison": "a comparison",
    "flat": "a piecewise-constant op",
}
_KINDS = {"comparison": "integer", "non_differentiable_input": "non_differentiable"}


def _blocker(node: Symbol, kind: str, detail: str = "") -> dict:
    return {
        "kind": kind,
        "op": node.op,
        "expression": flat(to_str(node)),
        "line": format_origin(node.origin),
        "origin": node.origin,
        "detail": detail,
    }


def _describe(b: dict) -> str:
    extra = f" ({b['detail']})" if b["detail"] else ""
    return f"{b['expression']} at {place(b['origin'])}{extra}"


def _is_float(x: Symbol) -> bool:
    return x.dtype is None or np.dtype(x.dtype).kind in "fc"


def _edge_blocker(node: Symbol, i: int, x: Symbol, zero_edges: set) -> dict | None:
    """Why no derivative flows from `node` to its input `i` (`x`), or None if one does."""
    if node.opdef.stops_gradient:
        return _blocker(node, "stop_gradient")
    if i in node.opdef.nondiff_inputs:
        return _blocker(node, "non_differentiable_input", f"argument {i} of {node.op}")
    if not _is_float(x):
        return _blocker(x, "comparison" if x.opdef.comparison else "integer")
    if (id(node), i) in zero_edges:
        return _blocker(node, "flat", "its derivative is zero everywhere")
    return None


def structural(y: Symbol, w: Symbol, name: str, zero_edges: set) -> dict:
    """The reason `w` gets no cotangent from `y`: no path, or what blocks every path.
    `zero_edges` holds the (node id, input position) pairs whose VJP sent nothing."""
    reach = reached(y, w)
    if id(y) not in reach:
        return _reason(
            "no_path",
            f"no path from {name} to the output: {flat(to_str(y))} does not depend on it",
            [],
        )
    blockers, seen, stack = {}, {id(y)}, [y]
    while stack:
        node = stack.pop()
        if not node.opdef.differentiable:
            blockers.setdefault(id(node), _blocker(node, "non_differentiable"))
            continue
        for i, x in enumerate(node.inputs):
            if id(x) not in reach or id(x) in seen:
                continue
            b = _edge_blocker(node, i, x, zero_edges)
            if b is not None:
                blockers.setdefault((id(node), i), b)
            else:
                seen.add(id(x))
                stack.append(x)
    found = sorted(blockers.values(), key=lambda b: (str(b["line"]), b["expression"]))
    kinds = {_KINDS.get(b["kind"], b["kind"]) for b in found}
    kind = kinds.pop() if len(kinds) == 1 else "blocked"
    what = " or ".join(sorted({_LABELS[b["kind"]] for b in found}))
    return _reason(
        kind,
        f"every path from {name} to the output passes {what}: "
        + "; ".join(_describe(b) for b in found),
        found,
    )


def _reason(kind: str, message: str, blockers: list) -> dict:
    return {"kind": kind, "message": message, "blockers": blockers}


def numeric(steps: list[Step], y: Symbol, w: Symbol, name: str, at) -> dict:
    """The reason the gradient of `y` with respect to `w` is zero at the values `at` (the
    steps hold their values): the steps on a path from `w` that turn a nonzero adjoint into
    a zero contribution, or cancelling contributions when there are none. A step whose rule
    only moves entries (indexing, stacking: a map of the adjoint) passes the blame to the
    steps that sent it the zero entries (a `max` not selecting that entry)."""
    reach = reached(y, w)
    frontier: dict[tuple, tuple[Step, Contribution]] = {}
    for step in steps:
        adj = step.adjoint_value
        if adj is None or not np.any(np.asarray(adj) != 0):
            continue
        for c in step.contributions:
            zero = c.symbol is None or (c.value is not None and not np.any(c.value != 0))
            if zero and id(c.input) in reach:
                for s, sent in _blame(steps, step, c):
                    frontier.setdefault((s.index, sent.position), (s, sent))
    if not frontier:
        return _reason(
            "cancel",
            f"at these values the contributions reaching {name} add up to zero (they cancel)",
            [],
        )
    pairs = list(frontier.values())
    inputs = evaluate([c.input for _, c in pairs], at)
    found = [
        _blocker(
            step.node,
            "flat",
            f"its local derivative is zero where its input {flat(to_str(c.input))} = "
            f"{show_value(v)}",
        )
        for (step, c), v in zip(pairs, inputs)
    ]
    return _reason(
        "flat",
        f"at these values every path from {name} to the output meets an op on its flat side "
        "(a nonzero adjoint in, a zero contribution out): "
        + "; ".join(_describe(b) for b in found),
        found,
    )


def _blame(steps: list[Step], step: Step, c: Contribution) -> list[tuple[Step, Contribution]]:
    """The steps a zero contribution `c` of `step` comes from: `step` itself, unless its rule
    is a map of the adjoint (it moves entries), whose zero entries then come from the steps
    that sent `step.node` zeros."""
    if c.symbol is None or not c.is_map:
        return [(step, c)]
    senders = [
        (s, sent)
        for s in steps
        if s.index < step.index
        for sent in s.contributions
        if sent.input is step.node
        and (sent.symbol is None or (sent.value is not None and np.any(sent.value == 0)))
    ]
    out = [pair for s, sent in senders for pair in _blame(steps, s, sent)]
    return out or [(step, c)]
