"""The sympy pass: simplify maximal elementwise clusters, keep a result only if it is smaller.

A *cluster* is a set of elementwise operations (on floats) whose values are used only inside
the cluster, except its root; everything else it reads (vars, constants, reductions, shared
values) is a leaf. The partition is one linear walk from the outputs down, and a cluster
stops growing at `MAX_CLUSTER` operations, so a 1000-step recurrence becomes many small
clusters instead of one huge sympy expression.

Each cluster is written in sympy's *safe* form (see `sympy_bridge`), a few equivalent forms
are tried (sympy's own normal form, `expand`, `factor_terms`, `cse`; `cancel` for small
clusters with a quotient that shares a leaf with the rest, `trigsimp` for small clusters with
two trigonometric functions of the same argument: only where they can pay), each is converted
back, and the smallest one replaces the cluster only if it has strictly fewer operations.
Results are cached by the cluster's structure (operations, wiring, constants, leaf dtype
kinds; not shapes), so the repeated steps of an unrolled loop or the layers of a network cost
one sympy call in all, and so does a recompilation for new shapes.

Budget, in CPU time of this process (`time.process_time`: a machine busy with other work does
not change what is simplified): a cluster of n operations gets at most
`cluster_budget(n) = CLUSTER_BUDGET + CLUSTER_BUDGET_PER_OP * n` seconds, and one
simplification (`run`) at most `TIME_BUDGET` in all. In the main thread that is a hard deadline
(a timer signal stops the sympy call, see `deadline`); in every thread, `expand`, `cancel` and
`trigsimp` are not tried on a cluster whose expansion would have more than `sympy_plan.MAX_TERMS` terms
(a product of twenty sums has 2**20), the calls that take minutes. A cluster that runs out of
budget stays as it was (correct, not smaller), and `stats` counts it, as it counts the
clusters planned by sympy ("planned") and those found in the cache ("cached").

What sympy may cancel: `x - x` -> 0 and `x/x` -> 1 also where x is inf/nan or 0 (so a nan
from such an expression can become a number). A result that would drop a leaf and with it
change the shape or dtype is refused.
"""

from __future__ import annotations

import math
import time
from collections import Counter, OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from ..dispatch import const as make_const
from ..dispatch import is_weak, make_node
from ..errors import GraphcError
from ..ir import Symbol, rebuild, toposort
from .deadline import Timeout, hard_deadline
from .framework import context
from .rewrites import ShapeClasses

if TYPE_CHECKING:
    from .sympy_plan import Template

MAX_CLUSTER = 40  # operations per cluster handed to sympy
MAX_TREE = 400  # the cluster as a tree (shared parts repeated), bounding sympy's walks
TIME_BUDGET = 1.0  # CPU seconds of sympy per simplification (`run`) at most, in all
CLUSTER_BUDGET = 0.02  # CPU seconds of sympy per cluster: this much, plus
CLUSTER_BUDGET_PER_OP = 0.004  # this much per operation of the cluster (40 ops: 0.18 s)
CACHE_SIZE = 4096

_cache: OrderedDict = OrderedDict()
_deadline: ContextVar[float | None] = ContextVar("graphc_sympy_deadline", default=None)

# What the budget cost since import (clear() to reset): clusters whose sympy call the hard
# deadline stopped ("timed_out"), clusters not tried because the budget was spent
# ("skipped"), and clusters whose `expand` was not tried because it would have more than
# `MAX_TERMS` terms ("too_large"). Each such cluster is left as it was: correct, not smaller.
# And the clusters sympy planned ("planned") and those whose plan came from the cache
# ("cached").
stats: Counter = Counter(timed_out=0, skipped=0, too_large=0, planned=0, cached=0)


def cluster_budget(size: int) -> float:
    """The CPU seconds sympy may spend on a cluster of `size` operations (at most; what is
    left of the run's `TIME_BUDGET` if that is less).

    >>> cluster_budget(10) < cluster_budget(40)
    True
    """
    return CLUSTER_BUDGET + CLUSTER_BUDGET_PER_OP * size


def _eligible(node: Symbol) -> bool:
    op = node.opdef
    if not op.elementwise or not op.differentiable or op.comparison:
        return False
    return node.dtype is None or node.dtype.kind == "f"


def partition(nodes: list[Symbol], outputs) -> list[list[Symbol]]:
    """Clusters (each a list of nodes in topological order, root last) of `nodes`."""
    users: dict[int, list[int]] = {}
    for n in nodes:
        for x in n.inputs:
            users.setdefault(id(x), []).append(id(n))
    outs = {id(o) for o in outputs}
    cluster_of: dict[int, int] = {}
    members: dict[int, list[Symbol]] = {}
    for n in reversed(nodes):
        if not _eligible(n):
            continue
        home = None
        us = users.get(id(n))
        if us and id(n) not in outs:
            first = cluster_of.get(us[0])
            if (
                first is not None
                and all(cluster_of.get(u) == first for u in us)
                and len(members[first]) < MAX_CLUSTER
            ):
                home = first
        if home is None:
            home = id(n)
            members[home] = []
        cluster_of[id(n)] = home
        members[home].append(n)
    return [list(reversed(m)) for m in members.values()]


def _leaf_key(x: Symbol):
    if x.op == "const" and is_weak(x.attrs["value"]):
        v = x.attrs["value"]
        return ("c", type(v).__name__, repr(v))
    return ("l", None if x.dtype is None else x.dtype.kind)


def signature(members: list[Symbol]):
    """(key, leaves): the cluster's structure, and its leaves in order of first use."""
    index = {id(m): k for k, m in enumerate(members)}
    leaves: list[Symbol] = []
    leaf_index: dict[int, int] = {}
    entries = []
    for m in members:
        refs = []
        for x in m.inputs:
            k = index.get(id(x))
            if k is None:
                k = leaf_index.get(id(x))
                if k is None:
                    k = leaf_index[id(x)] = len(leaves)
                    leaves.append(x)
                k = -1 - k
            refs.append(k)
        entries.append((m.op, tuple(refs)))
    return (tuple(entries), tuple(_leaf_key(x) for x in leaves)), leaves


def _tree_size(members: list[Symbol], limit: int) -> int:
    index = {id(m) for m in members}
    size: dict[int, int] = {}
    for m in members:
        size[id(m)] = min(
            limit + 1, 1 + sum(size[id(x)] if id(x) in index else 1 for x in m.inputs)
        )
    return size[id(members[-1])]


# --- graph side ------------------------------------------------------------------------


def _instantiate(template: Template, leaves: list[Symbol]) -> Symbol:
    values: dict[int, Symbol] = {}

    def resolve(ref):
        kind, v = ref
        if kind == "l":
            return leaves[v]
        if kind == "c":
            return make_const(v)
        return values[v]

    needed = _needed(template)
    for k, (opdef, refs, attrs) in enumerate(template.instrs):
        if k in needed:
            values[k] = make_node(opdef, tuple(resolve(r) for r in refs), attrs)
    return resolve(template.root)


def _needed(template: Template) -> set[int]:
    needed: set[int] = set()
    stack = [template.root]
    while stack:
        ref = stack.pop()
        if ref[0] == "i" and ref[1] not in needed:
            needed.add(ref[1])
            stack.extend(template.instrs[ref[1]][1])
    return needed


def _keeps_shape(template: Template, leaves: list[Symbol], classes: ShapeClasses) -> bool:
    """Does the form still broadcast to the cluster's shape? Every op in it is elementwise,
    so its shape is the broadcast of the leaves it uses: enough that dropped leaves (x - x)
    added nothing to the shape of the ones kept."""
    used = _used_leaves(template)
    if len(used) == len(leaves):
        return True
    kept = frozenset().union(*(classes.of(leaves[j]) for j in used))
    return kept == frozenset().union(*(classes.of(x) for x in leaves))


def _used_leaves(template: Template) -> set[int]:
    """The leaf slots the form reads (fewer than the cluster's when sympy cancelled one)."""
    used = {v for k in _needed(template) for kind, v in template.instrs[k][1] if kind == "l"}
    if template.root[0] == "l":
        used.add(template.root[1])
    return used


def clear_cache() -> None:
    """Forget every cluster's cached form (the next simplification asks sympy again)."""
    _cache.clear()


def _lookup(key):
    hit = _cache.get(key, _cache)
    if hit is not _cache:
        _cache.move_to_end(key)
    return hit


def _store(key, value) -> None:
    _cache[key] = value
    if len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)


@contextmanager
def shared_budget():
    """Within the block, all calls of `simplify_elementwise` without their own `budget`
    share one `TIME_BUDGET` (the outermost block's), instead of one each.

    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> with shared_budget():
    ...     print(simplify_elementwise([x * 3 - x])[0])
    2*x
    """
    token = _deadline.set(time.process_time() + TIME_BUDGET) if _deadline.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _deadline.reset(token)


def simplify_elementwise(outputs, ctx=None, budget: float | None = None):
    """Replace each elementwise cluster by the smallest equivalent form sympy finds, when it
    has strictly fewer operations. Preserves values (up to rounding and the cancellations
    documented in this module); returns the same list when nothing changed. Nodes in
    `ctx.known` are in normal form already: they are leaves here.

    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> print(simplify_elementwise([2 * x + 2 * x])[0])
    4*x
    """
    outputs = list(outputs)
    ctx = context(ctx)
    known = ctx.known
    walk = nodes = toposort(outputs, stop=known.values())
    if known:
        nodes = [n for n in nodes if id(n) not in known]
    _load_planner(nodes)
    shared = _deadline.get()
    if budget is not None or shared is None:
        deadline = time.process_time() + (TIME_BUDGET if budget is None else budget)
    else:
        deadline = shared
    plans: dict[int, tuple] = {}
    for members in partition(nodes, outputs):
        if not _cache and deadline <= time.process_time():
            # Nothing cached, no budget left: the cluster is left as it is (as `_plan`
            # would leave it; its signature is for the cache, which has no answer)
            if _tree_size(members, MAX_TREE) <= MAX_TREE:
                _count(ctx, "skipped")
            continue
        key, leaves = signature(members)
        template = _lookup(key)
        if template is _cache:
            template = _plan(members, leaves, key, deadline, ctx)
            if template is _SPENT:  # the run's budget: no more sympy in this run
                deadline = -math.inf
                if shared is not None:
                    _deadline.set(deadline)
                template = None
        else:
            _count(ctx, "cached")
        if template is not None:
            plans[id(members[-1])] = (template, leaves, members)
    if not plans:
        return outputs
    result = _apply(outputs, walk, plans)
    if result is not outputs and any(
        len(_used_leaves(t)) < len(leaves) for t, leaves, _ in plans.values()
    ):
        # A cancellation (x - x) dropped a read of a leaf: a value shared before may now be
        # read by one cluster only, and join it. Again, so that a second run finds nothing.
        return simplify_elementwise(result, ctx, budget)
    return result


_SPENT = object()  # `_plan`'s answer when the run's budget ran out
_PLANNER: list = []  # graphc.simplify.sympy_plan, once imported


def _load_planner(nodes) -> None:
    """Import `sympy_plan` if a cluster among `nodes` may need it and it is not imported yet:
    it imports sympy, a fifth of a second of CPU once per process, which is charged to no
    budget (the run's deadline moves by it; the clusters' budgets start after it)."""
    if _PLANNER or not any(_eligible(n) for n in nodes):
        return
    start = time.process_time()
    from . import sympy_plan

    _PLANNER.append(sympy_plan)
    shared = _deadline.get()
    if shared is not None:
        _deadline.set(shared + time.process_time() - start)


def _plan(members, leaves, key, deadline: float, ctx):
    """Ask sympy for the cluster's smallest form within its budget (`cluster_budget`, or
    what is left of the run's), and cache the answer; None when nothing smaller is found
    or the budget ran out."""
    if _tree_size(members, MAX_TREE) > MAX_TREE:
        return None
    start = time.process_time()
    until = min(deadline, start + cluster_budget(len(members)))
    if until <= start:
        _count(ctx, "skipped")
        return None
    sympy_plan = _PLANNER[0]
    large = stats["too_large"]
    _count(ctx, "planned")
    try:
        with hard_deadline(until - start, can_stop=sympy_plan.at_rest):
            template = sympy_plan.plan_cluster(members, leaves, until, stats)
    except (GraphcError, TypeError, ValueError, RecursionError):
        template = None
    except Timeout:
        _count(ctx, "timed_out")
        # Not cached: a later call with budget left may finish it. (The CPU timer samples
        # at the clock's tick: the run's budget is spent, however little it says is left.)
        return _SPENT if until == deadline else None
    finally:
        ctx.budget["too_large"] += stats["too_large"] - large
        ctx.budget["sympy_seconds"] += time.process_time() - start
    _store(key, template)
    return template


def _count(ctx, event: str) -> None:
    """A cluster planned, found in the cache, or left as it was for lack of budget: in
    `stats` and in the run's record."""
    stats[event] += 1
    ctx.budget[event] += 1


def _apply(outputs, walk, plans):
    """`outputs` with each planned cluster root replaced by its simplified form, unless that
    would change its shape or dtype (the cluster then stays as it was). Only the nodes still
    needed are walked: a planned root needs its cluster's leaves, not its members."""
    needed: set[int] = set()
    stack = list(outputs)
    while stack:
        n = stack.pop()
        if id(n) in needed:
            continue
        needed.add(id(n))
        plan = plans.get(id(n))
        stack.extend(plan[1] if plan is not None else n.inputs)
    classes = ShapeClasses()
    memo: dict[int, Symbol] = {}

    def instantiate(node, inputs):
        plan = plans.get(id(node))
        if plan is None:
            return None
        template, leaves, _members = plan
        if _keeps_shape(template, leaves, classes):
            new = _instantiate(template, [memo.get(id(x), x) for x in leaves])
            if node.dtype is None or new.dtype == node.dtype:
                return new
        return rebuild([node], memo=memo)[0]  # refused: the cluster stays as it was

    order = [n for n in walk if id(n) in needed]
    result = rebuild(outputs, instantiate, memo, order=order)
    return outputs if all(a is b for a, b in zip(result, outputs)) else result
