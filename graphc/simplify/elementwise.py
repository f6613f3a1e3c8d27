"""The sympy pass: simplify maximal elementwise clusters, keep a result only if it is smaller.

A *cluster* is a set of elementwise operations (on floats) whose values are used only inside
the cluster, except its root; everything else it reads (vars, constants, reductions, shared
values) is a leaf. The partition is one linear walk from the outputs down, and a cluster
stops growing at `MAX_CLUSTER` operations, so a 1000-step recurrence becomes many small
clusters instead of one huge sympy expression.

Each cluster is written in sympy's *safe* form (see `sympy_bridge`), a few equivalent forms
are tried (sympy's own normal form, `expand`, `factor_terms`, `cse`, and `cancel` and
`trigsimp` for small clusters while the time budget lasts), each is converted back, and the
smallest one replaces the cluster only if it has strictly fewer operations. Results are cached
by the cluster's structure (operations, wiring, constants, leaf dtypes), so the repeated steps
of an unrolled loop cost one sympy call in all.

What sympy may cancel: `x - x` -> 0 and `x/x` -> 1 also where x is inf/nan or 0 (so a nan
from such an expression can become a number). A result that would drop a leaf and with it
change the shape or dtype is refused.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import sympy as sp

from ..dispatch import const as make_const
from ..dispatch import is_weak, make_node
from ..errors import GraphcError
from ..ir import Symbol, origin_scope, toposort
from .rewrites import ShapeClasses, remake
from .sympy_bridge import Converter, node_to_sympy, number_to_sympy

MAX_CLUSTER = 40  # operations per cluster handed to sympy
MAX_TREE = 400  # the cluster as a tree (shared parts repeated), bounding sympy's walks
SIMPLIFY_CLUSTER = 8  # clusters up to this size also try sympy's cancel and trigsimp
TIME_BUDGET = 1.0  # seconds of sympy per call of the pass; later clusters wait for a cache hit
CACHE_SIZE = 4096

_cache: OrderedDict = OrderedDict()
_COMPARISONS = ("less", "less_equal", "greater", "greater_equal", "equal", "not_equal")


class Template:
    """A cluster's replacement: instructions over leaf slots, kept if strictly smaller."""

    __slots__ = ("instrs", "root", "count")

    def __init__(self, instrs: list, root: tuple, count: int):
        self.instrs = instrs  # [(opdef, refs, attrs)], refs ("l", j) / ("c", v) / ("i", k)
        self.root = root
        self.count = count


def _eligible(node: Symbol) -> bool:
    op = node.opdef
    if not op.elementwise or not op.differentiable or op.name in _COMPARISONS:
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
            if first is not None and all(cluster_of.get(u) == first for u in us) \
                    and len(members[first]) < MAX_CLUSTER:
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
        size[id(m)] = min(limit + 1, 1 + sum(size[id(x)] if id(x) in index else 1
                                             for x in m.inputs))
    return size[id(members[-1])]


# --- sympy side ------------------------------------------------------------------------


def _build(members: list[Symbol], leaves: list[Symbol]):
    """The cluster as a safe-mode sympy expression over leaf symbols `_0, _1, ...`."""
    exprs: dict[int, sp.Expr] = {}
    symbols: dict[sp.Symbol, int] = {}
    for j, x in enumerate(leaves):
        number = None
        if x.op == "const" and is_weak(x.attrs["value"]):
            number = number_to_sympy(x.attrs["value"])
            if number is not None and not number.is_finite:
                number = None
        if number is None:
            s = sp.Symbol(f"_{j}")
            symbols[s] = j
            exprs[id(x)] = s
        else:
            exprs[id(x)] = number
    for m in members:
        exprs[id(m)] = node_to_sympy(m, [exprs[id(x)] for x in m.inputs], safe=True)
    return exprs[id(members[-1])], symbols


def _record(expr, symbols: dict, float_numbers: bool, replacements=()) -> Template:
    instrs: list = []

    def leaf(s):
        if s in symbols:
            return ("l", symbols[s])
        raise GraphcError(f"unknown symbol {s}")

    def make(opdef, inputs, attrs):
        instrs.append((opdef, tuple(inputs), attrs))
        return ("i", len(instrs) - 1)

    def const(value):
        return ("c", value)

    conv = Converter(leaf, make, const, float_numbers=float_numbers)
    for s, e in replacements:
        conv.memo[s] = conv(e)
    root = conv(expr)
    # Count (and keep) only the instructions the root needs.
    needed: set[int] = set()
    stack = [root]
    while stack:
        ref = stack.pop()
        if ref[0] == "i" and ref[1] not in needed:
            needed.add(ref[1])
            stack.extend(instrs[ref[1]][1])
    return Template(instrs, root, len(needed))


def _bad(expr, original) -> bool:
    for atom in (sp.I, sp.zoo, sp.nan, sp.oo):
        if expr.has(atom) and not original.has(atom):
            return True
    return False


def _expandable(e) -> bool:
    """No power of a sum above the cube: `expand` stays small."""
    return not any(p.is_Pow and p.base.is_Add and p.exp.is_Integer and abs(p.exp) > 3
                   for p in sp.preorder_traversal(e))


def _candidates(e0, size: int, deadline: float):
    yield e0, ()
    yield sp.factor_terms(e0), ()
    if _expandable(e0):
        expanded = sp.expand(e0)
        yield expanded, ()
        yield sp.factor_terms(expanded), ()
    if size <= SIMPLIFY_CLUSTER and time.perf_counter() < deadline:
        # The parts of sympy.simplify that pay here (sympy.simplify itself would also import
        # sympy.physics, most of a second, on first use).
        yield sp.cancel(e0), ()
        if _trig_pairs(e0):
            yield sp.trigsimp(e0), ()


_TRIG = (sp.sin, sp.cos, sp.tan, sp.sinh, sp.cosh, sp.tanh)


def _trig_pairs(e) -> bool:
    """Does `e` hold two different trigonometric or hyperbolic functions (sin and cos,
    tanh and cosh, ...)? Only then can trigsimp's identities shorten it; it is the costliest
    candidate (most of a cold compile of a deep tanh network), so skip it otherwise."""
    heads = {type(f) for f in e.atoms(*_TRIG)}
    return len(heads) > 1


def plan_cluster(members: list[Symbol], leaves: list[Symbol], deadline: float):
    """The smallest equivalent form of the cluster, or None if none is smaller."""
    e0, symbols = _build(members, leaves)
    float_numbers = any(
        (x.op == "const" and isinstance(x.attrs["value"], float))
        or (x.dtype is not None and x.dtype.kind == "f") for x in leaves + members)
    best = None
    forms = []
    for expr, reps in _candidates(e0, len(members), deadline):
        if _bad(expr, e0):
            continue
        forms.append(expr)
        try:
            t = _record(expr, symbols, float_numbers, reps)
        except (GraphcError, TypeError, ValueError):
            continue
        if best is None or t.count < best.count:
            best = t
    # Common subexpressions across the smallest form (x*y in x*y*z and x*y*w).
    for expr in forms[:1] + [f for f in forms[1:] if f != forms[0]][:2]:
        reps, reduced = sp.cse(expr, optimizations=None)
        if not reps:
            continue
        try:
            t = _record(reduced[0], symbols, float_numbers, reps)
        except (GraphcError, TypeError, ValueError):
            continue
        if best is None or t.count < best.count:
            best = t
    if best is None or best.count >= len(members):
        return None
    return best


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
    used: set[int] = set()
    for k in _needed(template):
        used.update(v for kind, v in template.instrs[k][1] if kind == "l")
    if template.root[0] == "l":
        used.add(template.root[1])
    if len(used) == len(leaves):
        return True
    kept = frozenset().union(*(classes.of(leaves[j]) for j in used))
    return kept == frozenset().union(*(classes.of(x) for x in leaves))


def _lookup(key):
    hit = _cache.get(key, _cache)
    if hit is not _cache:
        _cache.move_to_end(key)
    return hit


def _store(key, value) -> None:
    _cache[key] = value
    if len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)


def simplify_elementwise(outputs, budget: float | None = None, known=None):
    """Replace each elementwise cluster by the smallest equivalent form sympy finds, when it
    has strictly fewer operations. Preserves values (up to rounding and the cancellations
    documented in this module); returns the same list when nothing changed. Nodes in `known`
    (id -> node) are in normal form already: they are leaves here.

    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> print(simplify_elementwise([2 * x + 2 * x])[0])
    4*x
    """
    outputs = list(outputs)
    nodes = toposort(outputs, stop=known.values() if known else ())
    if known:
        nodes = [n for n in nodes if id(n) not in known]
    deadline = time.perf_counter() + (TIME_BUDGET if budget is None else budget)
    plans: dict[int, tuple] = {}
    for members in partition(nodes, outputs):
        key, leaves = signature(members)
        template = _lookup(key)
        if template is _cache:
            if time.perf_counter() > deadline or _tree_size(members, MAX_TREE) > MAX_TREE:
                continue
            try:
                template = plan_cluster(members, leaves, deadline)
            except (GraphcError, TypeError, ValueError, RecursionError):
                template = None
            _store(key, template)
        if template is not None:
            plans[id(members[-1])] = (template, leaves, members)
    if not plans:
        return outputs
    return _apply(outputs, nodes, plans)


def _apply(outputs, nodes, plans):
    # The nodes still needed: a planned root needs its cluster's leaves, not its members.
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

    def rebuilt(node):
        inputs = tuple(memo.get(id(x), x) for x in node.inputs)
        if all(a is b for a, b in zip(inputs, node.inputs)):
            return node
        with origin_scope(node.origin):
            return remake(node, inputs)

    for node in nodes:
        if id(node) not in needed:
            continue
        plan = plans.get(id(node))
        if plan is not None:
            template, leaves, members = plan
            if _keeps_shape(template, leaves, classes):
                with origin_scope(node.origin):
                    new = _instantiate(template, [memo.get(id(x), x) for x in leaves])
                if node.dtype is None or new.dtype == node.dtype:
                    memo[id(node)] = new
                    continue
            for m in members:  # refused: the cluster stays as it was
                memo[id(m)] = rebuilt(m)
            continue
        memo[id(node)] = rebuilt(node)
    result = [memo.get(id(o), o) for o in outputs]
    return outputs if all(a is b for a, b in zip(result, outputs)) else result
