"""Local graph rewrites, applied bottom-up in one walk (`rewrite`).

Each rule is a small function named for the identity it applies; it receives the original
node and its already-rewritten inputs and returns a replacement or None. A replacement is
itself rewritten until no rule applies, so rules may build nodes with `gc` functions.

Shapes are often unknown when gradients are derived, so `sum_to(g, x)` cannot be resolved
from static shapes. `ShapeClasses` proves shape equalities anyway: an elementwise result has
the broadcast shape of its operands, `sum_to(g, x)`/`broadcast_like(g, x)` have `x`'s shape,
and so on. A node's class is the set of "atoms" (a known shape, or a node of unknown shape)
whose broadcast gives its shape; two nodes with equal classes have equal shapes.

No rule changes a value on real inputs, except where floating-point rounding differs (moving
a scalar factor out of a sum) and the documented cancellations of the sympy pass.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain

import numpy as np

from .. import ops
from ..dispatch import is_weak, make_node
from ..ir import Symbol, fits, identical, origin_scope, rebuild, refuse, remake, toposort
from .broadcast_rules import (
    add_sum_tos,
    merge_sum_to,
    remove_noop_like,
    sum_to_scalar,
    sum_to_through_factor,
    total_of_sum_to,
    total_through_factor,
)
from .framework import context
from .passes import FOLD_RULES, const_value, is_const

EMPTY: frozenset = frozenset()
_SAME_SHAPE = ("stop_gradient", "astype")


class ShapeClasses:
    """Shape classes of nodes (see the module docstring), computed on demand."""

    def __init__(self):
        self._classes: dict[int, frozenset] = {}
        self._nodes: dict[int, Symbol] = {}  # keeps every classified node (and its id) alive
        self._first: dict[frozenset, Symbol] = {}  # the first node seen of each class

    def of(self, node: Symbol) -> frozenset:
        hit = self._classes.get(id(node))
        if hit is not None:
            return hit
        for n in walk_new(node, self._classes):
            self.set(n, self.compute(n, n.inputs))
        return self._classes[id(node)]

    def set(self, node: Symbol, cls: frozenset) -> None:
        self._classes[id(node)] = cls
        self._nodes[id(node)] = node
        if cls and cls not in self._first:
            self._first[cls] = node

    def compute(self, node: Symbol, inputs: tuple) -> frozenset:
        """The class of `node` rebuilt on `inputs` (whose classes are known)."""
        shape = node.shape
        if shape is not None and None not in shape:
            return EMPTY if shape == () else frozenset([("shape", shape)])
        op = node.op
        if node.opdef.elementwise:
            return frozenset().union(*(self.of(x) for x in inputs))
        if node.opdef.identity_when_same_shape:
            if op == "sum_to" and inputs[0].shape == ():
                return EMPTY
            return self.of(inputs[1])
        if op in ("index_grad", "checked_grad"):
            return self.of(inputs[1])
        if op in _SAME_SHAPE:
            return self.of(inputs[0])
        self._nodes[id(node)] = node
        return frozenset([id(node)])

    def representative(self, node: Symbol) -> Symbol:
        """A node with the same shape as `node` that is as close to the graph's leaves as the
        classes know: a var rather than an expression of it, else the first node seen (in
        the walk's bottom-up order) with that shape."""
        cls = self.of(node)
        if len(cls) == 1:
            (atom,) = cls
            if isinstance(atom, int):
                return self._nodes[atom]
        return self._first.get(cls, node)

    def same(self, a: Symbol, b: Symbol) -> bool:
        return self.of(a) == self.of(b)

    def within(self, a: Symbol, b: Symbol) -> bool:
        """Does `a` broadcast to `b`'s shape (its class is part of b's)?"""
        return self.of(a) <= self.of(b)


def walk_new(root: Symbol, known) -> list[Symbol]:
    """The nodes under `root` (inputs first) that are not keys of `known` (by id); known
    nodes are not entered, so the cost is the number of new nodes."""
    if id(root) in known:
        return []
    return [n for n in toposort([root], stop_ids=known) if id(n) not in known]


def _scalar(x: Symbol) -> bool:
    return x.shape == ()


def _float_or_unknown(x: Symbol) -> bool:
    return x.dtype is None or x.dtype.kind == "f"


def _weak_number(x: Symbol, value=None) -> bool:
    if x.op != "const" or not is_weak(const_value(x)):
        return False
    return value is None or const_value(x) == value


# --- rules -----------------------------------------------------------------------------
# Each: rule(ctx, node, inputs) -> Symbol | None


def canonical_like(ctx, node, inputs):
    """A shape-only input (`like` of sum_to etc., the input of `size`) is replaced by
    its class representative, so the expression it named need not be computed."""
    i = 0 if node.op == "size" else 1
    rep = ctx.classes.representative(inputs[i])
    if rep is inputs[i]:
        return None
    new = list(inputs)
    new[i] = rep
    return ctx.remake(node, new)


def ones_from_broadcast(ctx, node, inputs):
    """`broadcast_like(1.0, x)` -> `ones_like(x)` (and 0.0 -> `zeros_like`) for float x: the
    gradient of `sum(x)` reads as ones of x's shape, with x's dtype."""
    c, like = inputs
    if not (
        _weak_number(c) and isinstance(const_value(c), float) and const_value(c) in (0.0, 1.0)
    ):
        return None
    rep = ctx.classes.representative(like)
    if not _float_or_unknown(rep):
        rep = like
    if not _float_or_unknown(rep):
        return None
    return ops.ones_like(rep) if const_value(c) == 1.0 else ops.zeros_like(rep)


def drop_broadcast_operand(ctx, node, inputs):
    """`op(broadcast_like(a, like), b)` -> `op(a, b)` when b alone already gives the result
    its shape, else -> `broadcast_like(op(a, b), like)` when b fits in like's shape (the
    broadcast moves towards a user that makes it a no-op); `ones_like(z) * b` -> b when the
    shapes and dtypes agree."""
    cls = ctx.classes.compute(node, inputs)
    for i, b in enumerate(inputs):
        if b.op == "broadcast_like":
            a, like = b.inputs
            others = [x for j, x in enumerate(inputs) if j != i]
            new = list(inputs)
            new[i] = a
            if frozenset().union(ctx.classes.of(a), *(ctx.classes.of(x) for x in others)) == cls:
                return ctx.remake(node, new)
            if all(ctx.classes.within(x, like) for x in others) and not ctx.shared(b):
                return ops.broadcast_like(ctx.remake(node, new), like)
    if node.op == "multiply":
        for i in (0, 1):
            ones, other = inputs[i], inputs[1 - i]
            if (
                ones.op == "ones_like"
                and ctx.classes.of(other) == cls
                and node.dtype is not None  # (a numpy dtype compares equal to None)
                and node.dtype == other.dtype
            ):
                return other
    return None


def hoist_scalar_from_sum(ctx, node, inputs):
    """`sum(a * s)` -> `sum(a) * s` and `sum(a / s)` -> `sum(a) / s` for a scalar s (also
    `sum_to`, `mean`, and `sum(-a)` -> `-sum(a)`): one multiplication instead of many."""
    x = inputs[0]
    if x.op == "negative":
        return None if ctx.shared(x) else _negated(node, inputs, x.inputs[0])
    if x.op not in ("multiply", "divide"):
        return None
    a, s = x.inputs
    if x.op == "multiply" and _scalar(a) and not _scalar(s):
        a, s = s, a
    if not _scalar(s) or _scalar(a) or not ctx.classes.same(a, x) or ctx.shared(x):
        return None
    new_inner = list(inputs)
    new_inner[0] = a
    reduced = ctx.remake(node, new_inner)
    out = ops.multiply(reduced, s) if x.op == "multiply" else ops.divide(reduced, s)
    return out if out.dtype == node.dtype else None


def _negated(node, inputs, a):
    reduced = make_node(node.opdef, (a,) + tuple(inputs[1:]), node.attrs)
    out = ops.negative(reduced)
    return out if out.dtype == node.dtype else None


def whole_axis(ctx, node, inputs):
    """A reduction over every axis names no axis: `sum(x, axis=(0,))` -> `sum(x)` for a
    vector (the same op, printed as numpy users write it)."""
    axis, x = node.attrs.get("axis"), inputs[0]
    if axis is None or x.shape is None or node.attrs.get("keepdims"):
        return None
    axes = (axis,) if isinstance(axis, int) else axis
    if sorted(a % len(x.shape) if len(x.shape) else a for a in axes) != list(range(len(x.shape))):
        return None
    return make_node(node.opdef, inputs, {**node.attrs, "axis": None}, name=node.name)


def one_axis(ctx, node, inputs):
    """`sum(x, axis=(0,))` -> `sum(x, axis=0)`: one axis written as numpy users write it
    (the same op; and `sum(x, axis=0)` written either way is one node for CSE)."""
    axis = node.attrs.get("axis")
    if not (isinstance(axis, tuple) and len(axis) == 1):
        return None
    return make_node(node.opdef, inputs, {**node.attrs, "axis": axis[0]}, name=node.name)


def recognise_mean(ctx, node, inputs):
    """`sum(x, axis) / n` -> `mean(x, axis)` when n is the number of entries summed, and
    `(c*sum(x)) / n` -> `c*mean(x)`."""
    total, n = inputs
    c = None
    if total.op == "multiply" and not ctx.shared(total):
        c, total = _scalar_and_other(total)
    out = _mean_of(ctx, total, n)
    if out is None or c is None:
        return out
    out = ops.multiply(c, out)
    return out if out.dtype == node.dtype else None


def _scalar_and_other(x: Symbol):
    """(s, other) for `s*other` or `other*s` with a Python number s, else (None, x)."""
    for s, other in (x.inputs, x.inputs[::-1]):
        if _weak_number(s):
            return s, other
    return None, x


def _mean_of(ctx, total, n):
    """`mean(x, axis)` when `total` is `sum(x, axis)` and n the number of entries summed."""
    if total.op != "sum":
        return None
    x = total.inputs[0]
    axis, keepdims = total.attrs["axis"], total.attrs["keepdims"]
    if n.op == "size":
        if n.attrs["axis"] != axis or not ctx.classes.same(n.inputs[0], x):
            return None
    elif _weak_number(n) or (n.op == "const" and is_const(n) and n.shape == ()):
        if x.shape is None or None in x.shape:
            return None
        count = ops.reduce.count(x, axis)
        value = const_value(n)
        if not isinstance(count, int) or float(np.asarray(value)) != count:
            return None
    else:
        return None
    out = ops.mean(x, axis=axis, keepdims=keepdims)
    return out if out.dtype == total.dtype else None


def _scalar_const(x: Symbol):
    """The value of a scalar constant (a Python number, or a 0-d float array), else None."""
    if x.op != "const" or x.shape != ():
        return None
    v = const_value(x)
    if _weak_number(x):
        return None if isinstance(v, (bool, complex)) else v
    return float(v) if v.dtype.kind == "f" else None


def _eps(*consts: Symbol) -> float:
    """The relative precision of the least precise of these constants (float64's for Python
    numbers): a float32 0.4 is 2/5 to that precision."""
    dtypes = [const_value(c).dtype for c in consts if not _weak_number(c)]
    return max([np.finfo(np.float64).eps] + [np.finfo(d).eps for d in dtypes])


def whole_multiple_of_mean(ctx, node, inputs):
    """`c*sum(x)` (or `(a*sum(x))*b`, c = a*b) -> `k*mean(x)` when the constant c is k/n for
    a whole k but is not whole itself (n the number of entries summed, known): `0.4*sum(r)`
    over 5 entries reads `2*mean(r)`."""
    for c, total in (inputs, inputs[::-1]):
        value, consts = _scalar_const(c), [c]
        if value is None or ctx.shared(total):
            continue
        if total.op == "multiply":
            for a, inner in (total.inputs, total.inputs[::-1]):
                if _scalar_const(a) is not None and inner.op == "sum":
                    value, total = value * _scalar_const(a), inner
                    consts.append(a)
        if total.op != "sum" or ctx.shared(total) or value == round(value):
            continue
        x = total.inputs[0]
        if x.shape is None or None in x.shape:
            return None
        k = value * ops.reduce.count(x, total.attrs["axis"])
        whole = round(k)
        if not 1 <= abs(whole) <= 1000 or abs(k - whole) > 4 * _eps(*consts) * abs(k):
            return None
        out = ops.mean(x, axis=total.attrs["axis"], keepdims=total.attrs["keepdims"])
        out = out if whole == 1 else ops.multiply(whole, out)
        return out if out.dtype == node.dtype else None
    return None


def use_log1p(ctx, node, inputs):
    """`log(1 + x)` -> `log1p(x)`: accurate for small x."""
    s = inputs[0]
    if s.op != "add":
        return None
    a, b = s.inputs
    for one, x in ((a, b), (b, a)):
        if _weak_number(one, 1) and ctx.classes.same(x, s):
            out = ops.log1p(x)
            return out if out.dtype == node.dtype else None
    return None


def use_expm1(ctx, node, inputs):
    """`exp(x) - 1` (or `exp(x) + -1`) -> `expm1(x)`: accurate for small x."""
    a, b = inputs
    if node.op == "add" and a.op != "exp":
        a, b = b, a
    if a.op != "exp" or not ctx.classes.same(a, node):
        return None
    if not _weak_number(b, 1 if node.op == "subtract" else -1):
        return None
    out = ops.expm1(a.inputs[0])
    return out if out.dtype == node.dtype else None


def use_logsumexp(ctx, node, inputs):
    """`log(sum(exp(x), axis))` -> `logsumexp(x, axis)`: no overflow for large x; and
    `log(softmax(z))` -> `log_softmax(z)`: finite where softmax(z) underflows to 0."""
    out = _stable_log(inputs[0])
    return out if out is not None and out.dtype == node.dtype else None


def _stable_log(s: Symbol, kept=()):
    """The stable form of `log(s)` (`logsumexp`, `log_softmax`), or None; `kept` nodes (by
    id) are never looked through."""
    if s.op == "softmax" and id(s) not in kept:
        return ops.log_softmax(s.inputs[0], axis=s.attrs["axis"])
    if s.op != "sum" or s.inputs[0].op != "exp" or id(s) in kept or id(s.inputs[0]) in kept:
        return None
    return ops.logsumexp(s.inputs[0].inputs[0], axis=s.attrs["axis"], keepdims=s.attrs["keepdims"])


def stabilize(outputs, keep=()) -> list:
    """`outputs` with `log(sum(exp(x)))` written as `logsumexp(x)` and `log(softmax(z))` as
    `log_softmax(z)` (as `use_logsumexp` does for values), for deriving gradients from: the
    literal form's gradient `exp(x)/sum(exp(x))` is inf/inf = NaN where exp(x) overflows,
    the gradient of `logsumexp` (a softmax) is finite. The nodes in `keep` (those
    differentiated with respect to) are kept as they are, and never replaced.

    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> print(stabilize([gc.log(gc.sum(gc.exp(x))) * 2])[0])
    2*logsumexp(x)
    """
    kept = {id(k): k for k in keep}

    def rule(node, inputs):
        return _stable_log(inputs[0], kept) if node.op == "log" else None

    outputs = list(outputs)
    if not any(n.op == "log" for n in toposort(outputs)):
        return outputs
    return rebuild(outputs, rule, dict(kept))


def square_of_power(ctx, node, inputs):
    """`x**2` -> `square(x)`: one canonical form (sympy's output uses it), so CSE meets the
    user's `x**2` and the gradient's `x**2` as one node; numpy's square is also faster."""
    x, p = inputs
    if not _weak_number(p, 2) or isinstance(p.attrs["value"], bool):
        return None
    out = ops.square(x)
    return out if out.dtype == node.dtype else None


RULES: dict[str, tuple[Callable, ...]] = {
    "sum_to": (
        remove_noop_like,
        sum_to_scalar,
        merge_sum_to,
        sum_to_through_factor,
        canonical_like,
        hoist_scalar_from_sum,
    ),
    "broadcast_like": (remove_noop_like, canonical_like),
    "reshape_like": (remove_noop_like, canonical_like),
    "index_grad": (canonical_like,),
    "size": (canonical_like,),
    "sum": (whole_axis, one_axis, total_of_sum_to, total_through_factor, hoist_scalar_from_sum),
    "mean": (whole_axis, one_axis, hoist_scalar_from_sum),
    "max": (whole_axis, one_axis),
    "min": (whole_axis, one_axis),
    "prod": (whole_axis, one_axis),
    "logsumexp": (whole_axis, one_axis),
    "divide": (recognise_mean,),
    "multiply": (whole_multiple_of_mean,),
    "log": (use_log1p, use_logsumexp),
    "subtract": (use_expm1,),
    "add": (use_expm1, add_sum_tos),
    "power": (square_of_power,),
}
ELEMENTWISE_RULES: tuple[Callable, ...] = (drop_broadcast_operand,)
MAX_STEPS = 16  # rewrites of one node before the walk moves on (a guard against cycles)
MAX_WALKS = 4  # walks over the graph in one call of `rewrite`


class _Rewriter:
    def __init__(self, rules, elementwise_rules):
        self.rules = rules
        self.elementwise_rules = elementwise_rules
        self.classes = ShapeClasses()
        self.done: dict[int, Symbol] = {}  # id(node) -> its rewritten form
        self.keep: list[Symbol] = []  # pins the ids of nodes seen
        self.uses: dict[int, int] = {}  # id(node) -> number of uses in the input graph
        self.output_ids: set[int] = set()
        self.known: dict = {}  # the normal-form nodes the walk does not enter
        self.declined: list[Symbol] = []  # nodes a rule declined for: they had other users
        self.truncated = False  # did a node reach MAX_STEPS rewrites (and the walk move on)?

    def shared(self, node: Symbol) -> bool:
        """Does `node` (or the node it was rewritten from) have other users?"""
        if self.uses.get(id(node), 1) > 1:
            self.declined.append(node)  # a rewrite may make it unshared (`rewrite`)
            return True
        return False

    def remake(self, node: Symbol, inputs) -> Symbol:
        return remake(node, tuple(inputs))

    def walk_again(self, result: list) -> bool:
        """Can another walk over `result` (this walk's changed graph) change it? Only where a
        rule declined for a node with several users that `result` no longer shares (uses can
        drop: `x + x` -> `2 * x`), or where a node's rewrites stopped at `MAX_STEPS`: every
        other node was left where no rule applies, and a rule declines for a shared node only
        (`shared`), so the walk would give each node back."""
        if self.truncated:
            return True
        if not self.declined:
            return False
        uses: dict[int, int] = {}
        for x in chain(result, *(n.inputs for n in toposort(result, stop=self.known.values()))):
            uses[id(x)] = uses.get(id(x), 0) + 1
        return any(uses.get(id(n), 0) < 2 for n in self.declined)

    def step(self, node: Symbol, inputs: tuple):
        """One rule application (the first that fires and fits: `ir.fits`), or None."""
        opdef = node.opdef
        if not inputs:
            return None
        if opdef.name == "broadcast_like" and id(node) in self.output_ids:
            # A broadcast that is itself a result serves no user: say what it is.
            hit = ones_from_broadcast(self, node, inputs)
            if hit is not None:
                return hit
        hit = FOLD_RULES.apply(node, inputs)
        if hit is not None:
            return hit
        rules = self.rules.get(opdef.name, ())
        if opdef.elementwise:
            rules += self.elementwise_rules
        for rule in rules:
            hit = rule(self, node, inputs)
            if hit is not None:
                if fits(node, hit):
                    return hit
                refuse(rule, node, hit)
        return None

    def visit(self, node: Symbol, inputs: tuple, steps: int = 0) -> Symbol:
        """`node` rewritten (its inputs already are: `inputs`) until no rule applies."""
        if id(node) in self.known:
            return node
        self.keep.append(node)
        hit = self.step(node, inputs)
        if hit is None:
            return node if identical(inputs, node.inputs) else remake(node, inputs)
        if steps < MAX_STEPS:
            done = self.done.get(id(hit))
            if done is not None:  # an existing node, already rewritten
                return done

            # Rewrite the nodes the rule just built (those the walk has not seen).
            def settle(n, i):
                out = self.visit(n, i, steps + 1)
                self.done.setdefault(id(out), out)
                return out

            hit = rebuild([hit], settle, self.done)[0]
        else:
            self.truncated = True
        return hit

    def visited(self, node: Symbol, inputs: tuple) -> Symbol:
        out = self.visit(node, inputs)
        if out is not node:
            # out now serves node's users (a lower bound when several nodes meet in one)
            self.uses[id(out)] = max(self.uses.get(id(out), 0), self.uses.get(id(node), 0))
            self.done.setdefault(id(out), out)
        return out

    def run(self, given, known=None):
        outputs = list(given)
        self.known = known or {}
        stop = self.known.values()
        uses = self.uses
        order = toposort(outputs, stop=stop)
        for node in order:
            for x in node.inputs:
                uses[id(x)] = uses.get(id(x), 0) + 1
        for o in outputs:
            uses[id(o)] = uses.get(id(o), 0) + 1
        self.output_ids = {id(o) for o in outputs}
        result = rebuild(outputs, self.visited, self.done, order=order)
        for i, out in enumerate(result):
            # A broadcast that reached an output made no user a no-op: say what it is.
            if out.op == "broadcast_like":
                with origin_scope(out.origin):
                    ones = ones_from_broadcast(self, out, out.inputs)
                if ones is not None:
                    result[i] = ones
        return given if all(a is b for a, b in zip(result, outputs)) else result


def rewrite(outputs, ctx=None, rules=None, elementwise_rules=None):
    """Apply the local rewrite rules (`RULES`, `ELEMENTWISE_RULES`, and `passes.FOLD_RULES`)
    bottom-up until none applies. Preserves values (up to rounding); returns the same list
    when nothing changed. Nodes in `ctx.known` are already in normal form: the walk does not
    enter them.

    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> print(rewrite([gc.log(1 + x)])[0])
    log(x + 1)
    """
    known = context(ctx).known
    outputs = list(outputs)
    for _ in range(MAX_WALKS):
        engine = _Rewriter(
            RULES if rules is None else rules,
            ELEMENTWISE_RULES if elementwise_rules is None else elementwise_rules,
        )
        result = engine.run(outputs, known)
        if result is outputs or not engine.walk_again(result):
            return result
        outputs = result
    return result
