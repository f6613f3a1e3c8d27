"""Simplification: pure passes over graphs, run as an explicit pipeline.

`PIPELINE` is the default list, in order; `SPECIALIZE` runs before it once shapes are known
(inside `gc.compile`), and after it. Print, reorder or replace them; `simplify=False` switches
`PIPELINE` off, while `SPECIALIZE` still resolves shape-generic ops and drops operations that
do nothing (`x.T.T`, a reshape to the same shape, `x * 1`: exact, see `noops.py`).
Every entry is a pass `pass_(outputs, ctx) -> outputs` (`framework.PassContext`), a pass
one adds included; passes are built from rules named for their identity (`framework`).

- `rewrite`: local rules (constant folding, `x*1`, `x+0`, `--x`, no-op `sum_to`/broadcasts
  proved by shape classes, `log(1+x)` -> `log1p(x)`, `exp(x)-1` -> `expm1(x)`,
  `log(sum(exp(x)))` -> `logsumexp(x)`, `sum(x)/n` -> `mean(x)`, `0.4*sum(r)` over 5 entries
  -> `2*mean(r)`), see `rewrites.py`;
- `cse` (the sympy pass then sees one node per value, so clusters follow the real sharing);
- `matrix_forms`: textbook forms of linear-algebra clusters (`x @ A` -> `A.T @ x`,
  `A @ x + A.T @ x` -> `(A + A.T) @ x`, scalars and signs out of products and sums,
  `exp(log_softmax(z))` -> `softmax(z)`), see `matrix.py`;
- `simplify_elementwise`: sympy on bounded elementwise clusters, kept only when smaller;
- `rewrite` again (sympy's output can enable local rules), then `cse`;
- `identity`: products with identity matrices and transposes in a reader's form (`I @ A`
  -> `A`, `I * s` -> `diag(s)`, `x.T.T` -> `x`), see `identity.py`.

`count_ops(outputs)` counts the operations a program would emit (the measure the passes
promise never to increase); a transpose is a numpy view and counts nothing.

Calling the module, `gc.simplify(sym)` (a symbol or a list of them), runs `PIPELINE` on the
graph as it is (no shapes assumed) and returns the simplified symbol(s):

>>> import graphc as gc
>>> x = gc.var("x")
>>> print(gc.simplify(x * 1 + 0))
x
>>> print(gc.simplify(gc.log(gc.sum(gc.exp(x)))))
logsumexp(x)
"""

from __future__ import annotations

import sys
import time
import types

from ..dispatch import checks_call, is_weak
from ..errors import ArgumentError
from ..gc_pause import gc_paused
from ..ir import Symbol, as_list, rebuild, toposort
from ..orders import frontier_order, sharing_orders
from .elementwise import shared_budget, simplify_elementwise
from .framework import PassContext, RuleSet, rule_pass
from .identity import identity
from .matrix import matrix_forms
from .noops import specialize
from .passes import _node_key, const_value, cse, fold_constants
from .rewrites import rewrite

PIPELINE = [rewrite, cse, matrix_forms, simplify_elementwise, rewrite, cse, identity]
SPECIALIZE = [specialize]

__all__ = [
    "PIPELINE",
    "SPECIALIZE",
    "PassContext",
    "RuleSet",
    "count_ops",
    "cse",
    "fold_constants",
    "identity",
    "from_sympy",
    "matrix_forms",
    "rewrite",
    "rule_pass",
    "run",
    "simplify",
    "simplify_elementwise",
    "specialize",
    "to_sympy",
]

_SYMPY_BRIDGE = ("from_sympy", "to_sympy")


def __getattr__(name: str):
    """`to_sympy` and `from_sympy`, imported on first use: `import graphc` does not import
    sympy (a fifth of a second), only simplification and printing do."""
    if name in _SYMPY_BRIDGE:
        from . import sympy_bridge

        return getattr(sympy_bridge, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_NOT_OPS = ("var", "const", "group")
_VIEWS = ("transpose",)  # numpy returns a view: nothing is computed
_FREE = frozenset(_NOT_OPS + _VIEWS)


def count_ops(outputs) -> int:
    """The number of distinct operations (nodes other than vars, constants and groups) that
    `outputs` (a symbol or a list of symbols) need. A transpose is a view and costs nothing
    (so `X.T @ r` costs what `r @ X` does).

    >>> import graphc as gc
    >>> from graphc.simplify import count_ops
    >>> x = gc.var("x")
    >>> count_ops(gc.exp(x) * x + 1)
    3
    """
    if isinstance(outputs, Symbol):
        outputs = [outputs]
    # A check (`checked_grad`) costs nothing once specialised, nor do the nodes only it reads:
    # users before inputs (the graph's order, which a compilation's next pass shares), each
    # node counted when an output or a counted node needs it.
    order = toposort(outputs)
    if not any(node.opdef.transparent for node in order):  # (no check: every node counts)
        return sum(node.op not in _FREE for node in order)
    needed, count = {id(o) for o in outputs}, 0
    for node in reversed(order):
        if id(node) in needed:
            transparent = node.opdef.transparent
            count += node.op not in _NOT_OPS and node.op not in _VIEWS and not transparent
            needed.update(map(id, node.inputs[:1] if transparent else node.inputs))
    return count


# Nodes that the default pipeline has produced carry its token (in their `_normal` slot): a
# fixed point of it, so a later run (gc.compile of an already simplified gradient) does not
# walk into them again. One token per pipeline (it is a list one may edit). A mark on the
# node, not a table of weak references: a table held one weak reference per node, half the
# objects the cyclic garbage collector walked after a large `gc.grad`.
_NORMAL: dict[tuple, object] = {}


def _token() -> object:
    return _NORMAL.setdefault(tuple(PIPELINE), object())


# A second run on an unchanged graph changes nothing. (simplify_elementwise too: each
# cluster of the graph it left was either planned, its plan then applied or none found, or
# left as it was for lack of budget, which a second run within the same budget lacks too.)
_IDEMPOTENT = (rewrite, cse, matrix_forms, simplify_elementwise, identity)


def _frontier(outputs) -> dict:
    """The normal-form nodes where a walk from `outputs` can stop (id -> node); the walk's
    order is remembered for the passes (`orders.frontier_order`)."""
    token = _token()
    return {id(n): n for n in frontier_order(outputs, token) if n._normal is token}


def _is_normal(node) -> bool:
    return getattr(node, "_normal", None) is _token()


def mixed_normal_forms(outputs) -> bool:
    """Are some of `outputs` in the default pipeline's normal form (`gc.grad`'s simplified
    gradients) and others not (the loss they are gradients of)?"""
    normal = [_is_normal(o) for o in outputs]
    return any(normal) and not all(normal)


def merge_into_normal(outputs, ctx=None) -> list:
    """`outputs` with each node that is not in normal form but computes what a normal-form
    node does (the same op, attrs and inputs, as `cse` compares them) replaced by that node:
    the loss's graph merges into the simplified copy of it that its gradients read, which
    the pipeline does not walk. Other nodes are left to the pipeline (its `cse` among them).
    Only the normal nodes that read an input of a node are compared with it."""
    token = _token()
    readers: dict[int, list] = {}  # id(node) -> the normal-form nodes that read it
    for n in toposort(outputs):
        if getattr(n, "_normal", None) is token:
            for x in n.inputs:
                readers.setdefault(id(x), []).append(n)

    def merge(node, inputs):
        if not inputs or getattr(node, "_normal", None) is token:
            return None
        # A normal node computing the same reads every input but the Python numbers (each
        # node has its own constant node for those, compared by value): one of them, say.
        some = next((x for x in inputs if not (x.op == "const" and is_weak(const_value(x)))), None)
        key = None
        for m in readers.get(id(some), ()):
            key = _node_key(node, inputs) if key is None else key
            if _node_key(m, m.inputs) == key:
                return m
        return None

    new = rebuild(outputs, merge)
    return new if any(a is not b for a, b in zip(new, outputs)) else list(outputs)


MAX_ROUNDS = 3


@gc_paused
@sharing_orders
def run(outputs, passes=None, trace=None, ctx=None):
    """Apply `passes` (default `PIPELINE`) in order to a list of output symbols, again while a
    round changes the graph after its first pass (cse can merge what the sympy pass wrote,
    which can open more simplification), at most `MAX_ROUNDS` times. Each pass is called as
    `p(outputs, ctx)` with one `PassContext`. `trace(name, outputs)`, if given, sees the
    outputs after each pass that ran. The rounds share one sympy time budget
    (`elementwise.TIME_BUDGET`). `ctx`, a `PassContext` of one's own, collects what the run
    records (its `budget`, its `on_pass` hook); its `known` is filled here.

    >>> import graphc as gc
    >>> seen = []
    >>> def note(outputs, ctx):
    ...     seen.append(len(outputs))
    ...     return outputs
    >>> x = gc.var("x")
    >>> print(run([x * 1], [fold_constants, note])[0], seen)
    x [1]
    """
    outputs = list(outputs)
    default = passes is None
    passes = PIPELINE if default else list(passes)
    known = _frontier(outputs) if default else {}
    ctx = PassContext() if ctx is None else ctx
    ctx.known = known
    with shared_budget():  # one sympy time budget for the whole run
        outputs = _rounds(outputs, passes, ctx, trace)
    if default:
        token = _token()
        for n in toposort(outputs, stop=list(known.values())):
            object.__setattr__(n, "_normal", token)
    return outputs


def _ignore(*args) -> None:
    pass


def _rounds(outputs, passes, ctx, trace):
    version = 0  # bumped whenever a pass changes the graph
    ran_at: dict = {}  # idempotent pass -> the version it last ran on
    note = ctx.on_pass or _ignore
    for round_ in range(MAX_ROUNDS):
        again = False
        for i, p in enumerate(passes):
            name = getattr(p, "__name__", repr(p))
            if p in _IDEMPOTENT and ran_at.get(p) == version:
                note(name, round_, 0.0, False, outputs)
                continue  # it would return the graph unchanged
            start = time.perf_counter()
            new = p(outputs, ctx)
            note(name, round_, time.perf_counter() - start, True, new)
            changed = any(a is not b for a, b in zip(new, outputs))
            version += changed
            ran_at[p] = version
            again |= changed and i > 0
            outputs = new
            if trace is not None:
                trace(name, outputs)
        if not again:
            break
    return outputs


def simplify(sym):
    """Simplify a symbol (or a list of symbols); the result computes the same values.

    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> print(gc.simplify(x * 2 + x * 2))
    4*x
    """
    if isinstance(sym, Symbol):
        return run([sym])[0]
    items = as_list(sym, "simplify: sym")
    for item in items:
        if not isinstance(item, Symbol):
            raise ArgumentError(
                f"simplify: sym must be a symbol or a list of symbols, got {type(sym).__name__}"
            )
    return run(items)


class _CallableModule(types.ModuleType):
    """`gc.simplify` is this module, and calling it is calling `simplify`: so both
    `gc.simplify(sym)` (SPEC) and `gc.simplify.PIPELINE`, `gc.simplify.count_ops` work."""

    @checks_call(name="simplify", skip_self=True)
    def __call__(self, sym):
        return simplify(sym)


sys.modules[__name__].__class__ = _CallableModule
