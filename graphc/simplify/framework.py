"""The pass framework: one signature for every pass, named rules applied by one walker.

A pass is `pass_(outputs, ctx) -> outputs`: it takes a list of output symbols and a
`PassContext`, and returns the list (the same objects when nothing changed). `run` calls
every entry of a pipeline that way, so a pass a user appends to `PIPELINE` is called as the
built-in ones are. A rule is `rule(node, inputs) -> Symbol | None`: `node` with its inputs
already rewritten to `inputs`, and a replacement or None. Rules are small functions named for
the identity they apply, collected in a `RuleSet`; `ir.rebuild` is the one walker that
applies them bottom-up, keeps origins and refuses a replacement of another dtype or shape.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ..ir import Symbol, fits, rebuild, refuse, toposort
from ..orders import known_order

__all__ = ["PassContext", "RuleSet", "applies_to", "rule_pass"]


@dataclass
class PassContext:
    """What a pass may know besides the graph: `known` (id -> node) are nodes already in the
    pipeline's normal form, which a pass need not enter (their inputs are not rewritten).

    What a run records for a report (`gc.compile`'s `Function.report()`): `budget` counts the
    sympy clusters left as they were because the time budget ran out ("timed_out": the hard
    deadline stopped the call, "skipped": not tried, the budget was spent; "too_large": only
    the cheap forms were tried). `on_pass`, if set, is called after each pipeline entry as
    `on_pass(name, round, seconds, ran, outputs)` (`ran` False: skipped, the graph had not
    changed since it last ran).
    """

    known: dict = field(default_factory=dict)
    budget: Counter = field(default_factory=Counter)
    on_pass: Callable | None = None

    @property
    def stop(self):
        return self.known.values()


def context(ctx: PassContext | None) -> PassContext:
    return PassContext() if ctx is None else ctx


class RuleSet:
    """Named rules: `always` see every node, `by_op[name]` the nodes of op `name`,
    `elementwise` those of elementwise ops, tried in that order (a rule with an `applies_to`
    predicate on the op, see `applies_to`, only where it holds). The first replacement that
    fits (`ir.fits`: the node's dtype and shape where known) wins; one that does not is
    refused and the next rule is tried.

    >>> import graphc as gc
    >>> from graphc.simplify.passes import FOLD_RULES
    >>> x = gc.var("x")
    >>> y = x * 1
    >>> print(FOLD_RULES.apply(y, y.inputs))
    x
    """

    def __init__(self, always=(), by_op=None, elementwise=()):
        self.always = tuple(always)
        self.by_op = dict(by_op or {})
        self.elementwise = tuple(elementwise)
        self._for: dict = {}

    def rules_for(self, opdef) -> tuple:
        hit = self._for.get(opdef)
        if hit is None:
            hit = self.always + self.by_op.get(opdef.name, ())
            if opdef.elementwise:
                hit += self.elementwise
            hit = tuple(
                r
                for r in hit
                if getattr(r, "applies_to", None) in (None, True) or r.applies_to(opdef)
            )
            self._for[opdef] = hit
        return hit

    def apply(self, node: Symbol, inputs: tuple):
        """The first fitting replacement of `node` (rebuilt on `inputs`), or None."""
        for rule in self.rules_for(node.opdef):
            new = rule(node, inputs)
            if new is not None:
                if new is node or fits(node, new):
                    return new
                refuse(rule, node, new)
        return None


def applies_to(predicate: Callable) -> Callable:
    """Decorate a rule that applies only to ops where `predicate(opdef)` holds (read from the
    op table: `op.foldable`, ...); a `RuleSet` then never calls it for other ops."""

    def mark(rule):
        rule.applies_to = predicate
        return rule

    return mark


_bits = itertools.count()  # a bit of the `_fixed` marks per rule pass (and its rules' version)


def rule_pass(name: str, rules: RuleSet, doc: str = "", trigger: Callable | None = None):
    """A pass that applies `rules` bottom-up once (see `RuleSet`). `trigger(node, inputs)`,
    if given, holds wherever a rule may apply (a superset, and cheaper than asking them): the
    rules are asked only there, and a graph where it holds nowhere is not rebuilt.

    It marks its fixed points: a node that no rule changed, nor any node below it, is one
    (rules see only a node and its inputs), and a later run does not walk into it again
    (`gc.compile`'s second `specialize` walks only what the pipeline built). The mark is a
    bit of the node's `_fixed` int, one bit per pass: not a table of weak references, which
    held one more object per node for the cyclic garbage collector to walk. Changing
    `rules` takes a new bit (forgetting the old marks), and the trigger off (it was written
    for the rules as they were)."""

    def version():
        return (rules.always, tuple(rules.by_op.items()), rules.elementwise)

    state: list = [None, 0]  # the rules' version, and the bit that marks their fixed points
    written = version()

    def pass_(outputs, ctx=None):
        known = context(ctx).known
        now = version()
        if state[0] != now:
            state[:] = now, 1 << next(_bits)
        bit = state[1]
        may = trigger if now == written else None

        def rule(node, inputs):
            if id(node) in known or (may is not None and not may(node, inputs)):
                return None
            return rules.apply(node, inputs)

        if all(o._fixed & bit for o in outputs):
            return list(outputs)  # fixed points, with all below them
        # The walk stops at fixed points; with none among the outputs' inputs, the graph's
        # order may be known already (shared within a compilation: no walk).
        order = known_order(outputs, known.values())
        if order is None or any(n._fixed & bit for n in order):
            order = toposort(outputs, stop=known.values(), stop_ids=known or None, marked=bit)
        memo: dict = {}
        if may is not None and not any(may(n, n.inputs) for n in order if id(n) not in known):
            memo = {id(n): n for n in order}  # (no rule applies: every node a fixed point)
            new = outputs
        else:
            new = rebuild(outputs, rule, memo, order=order)
        for node in order:
            if memo.get(id(node)) is node and id(node) not in known:
                object.__setattr__(node, "_fixed", node._fixed | bit)
        return list(outputs) if all(a is b for a, b in zip(new, outputs)) else new

    pass_.__name__ = pass_.__qualname__ = name
    pass_.__doc__ = doc
    return pass_
