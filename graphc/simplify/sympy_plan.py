"""The sympy side of the sympy pass (`simplify.elementwise`): a cluster as a sympy
expression, the equivalent forms worth trying within its budget, and the smallest one as a
`Template` of graph instructions. Imported with the first cluster to plan, so that graphs
compiled without simplification never import sympy.
"""

from __future__ import annotations

import time

import sympy as sp

from ..dispatch import is_weak
from ..errors import GraphcError
from ..ir import Symbol
from .sympy_bridge import Converter, node_to_sympy, number_to_sympy

SIMPLIFY_CLUSTER = 8  # clusters up to this size also try sympy's cancel and trigsimp
MAX_TERMS = 64  # `expand` is tried only when no (sub)expression would have more terms


class Template:
    """A cluster's replacement: instructions over leaf slots, kept if strictly smaller."""

    __slots__ = ("instrs", "root", "count")

    def __init__(self, instrs: list, root: tuple, count: int):
        self.instrs = instrs  # [(opdef, refs, attrs)], refs ("l", j) / ("c", v) / ("i", k)
        self.root = root
        self.count = count


_parameters = sp.core.parameters.global_parameters
_AT_REST = (_parameters.evaluate, _parameters.distribute, _parameters.exp_is_pow)


def at_rest() -> bool:
    """Are sympy's global switches at their defaults? (Not inside `with evaluate(False)`:
    stopping there could skip the block's restore and leave sympy switched.)"""
    p = _parameters
    return (p.evaluate, p.distribute, p.exp_is_pow) == _AT_REST


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


def expansion_size(e, limit: int = MAX_TERMS) -> int:
    """An upper bound (capped at `limit + 1`) on the number of terms that `sympy.expand`
    writes for `e` or for any of its subexpressions: a sum adds its terms' counts, a product
    multiplies them, `s**n` raises to `|n|`. A product of twenty two-term sums counts 2**20,
    which `expand` would spend minutes on.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> expansion_size((x + 1) * (y + 1))
    4
    """
    terms: dict = {}
    worst = 1
    stack = [e]
    while stack:
        s = stack[-1]
        if s in terms:
            stack.pop()
            continue
        pending = [a for a in s.args if a not in terms]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        if s.is_Add:
            n = sum(terms[a] for a in s.args)
        elif s.is_Mul:
            n = 1
            for a in s.args:
                n = min(limit + 1, n * terms[a])
        elif s.is_Pow and s.exp.is_Integer:
            n = min(limit + 1, terms[s.base] ** min(abs(int(s.exp)), 64))
            if s.exp < 0:  # expanded in the denominator: one term outside
                worst = max(worst, n)
                n = 1
        else:
            n = 1
        n = min(limit + 1, n)
        terms[s] = n
        worst = max(worst, n)
        if worst > limit:
            break
    return min(worst, limit + 1)


def _candidates(e0, size: int, deadline: float, stats):
    yield e0, ()
    if size == 1:
        # One operation can only get smaller by vanishing (x - x, x/x), which sympy's
        # automatic evaluation (e0) already does: no other form can pay.
        return
    yield sp.factor_terms(e0), ()
    if expansion_size(e0) > MAX_TERMS:  # expand, cancel and trigsimp would multiply it out
        stats["too_large"] += 1
        return
    expanded = sp.expand(e0)
    yield expanded, ()
    yield sp.factor_terms(expanded), ()
    if size <= SIMPLIFY_CLUSTER and time.process_time() < deadline:
        # The parts of sympy.simplify that pay here, where they can (sympy.simplify itself
        # would also import sympy.physics, most of a second, on first use).
        if _shared_quotient(e0):
            yield sp.cancel(e0), ()
        if _trig_pairs(e0):
            yield sp.trigsimp(e0), ()


_TRIG = (sp.sin, sp.cos, sp.tan, sp.sinh, sp.cosh, sp.tanh)


def _trig_pairs(e) -> bool:
    """Does `e` hold two different trigonometric or hyperbolic functions of the same
    argument (sin(x) and cos(x), tanh(x) and cosh(x), ...)? Only then can trigsimp's
    identities shorten it; it is the costliest candidate (most of a cold compile of a deep
    tanh network), so skip it otherwise."""
    heads: dict = {}
    for f in e.atoms(*_TRIG):
        heads.setdefault(f.args[0], set()).add(type(f))
    return any(len(h) > 1 for h in heads.values())


def _shared_quotient(e) -> bool:
    """Does `e` divide by something (a negative power) whose symbols also occur outside the
    divisor? Only then can `cancel` take a common factor out of numerator and denominator
    (x*y/x, (x**2 - 1)/(x + 1)); otherwise it only rewrites to a common denominator, which
    is never smaller."""
    for p in e.atoms(sp.Pow):
        if p.exp.is_negative and p.base.free_symbols:
            rest = e.xreplace({p: sp.Integer(1)})
            if p.base.free_symbols & rest.free_symbols:
                return True
    return False


def plan_cluster(members: list[Symbol], leaves: list[Symbol], deadline: float, stats):
    """The smallest equivalent form of the cluster, or None if none is smaller; the costly
    forms are tried while `time.process_time()` is before `deadline`, and a form too large
    to expand counts in `stats["too_large"]`."""
    e0, symbols = _build(members, leaves)
    float_numbers = any(
        (x.op == "const" and isinstance(x.attrs["value"], float))
        or (x.dtype is not None and x.dtype.kind == "f")
        for x in leaves + members
    )
    best = None
    forms = []
    for expr, reps in _candidates(e0, len(members), deadline, stats):
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
    for expr in (
        forms[:1] + [f for f in forms[1:] if f != forms[0]][:2] if len(members) > 1 else ()
    ):
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
