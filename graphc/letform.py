"""Which parts of an expression a printout names: the plan behind the let-form.

A graph shares what a tree repeats: the 3-step recurrence `h = tanh(a*h + x)` computes
`tanh(a*h0 + x0)` once, but its gradient as a tree repeats it many times. `str` and `latex`
print such an expression in let-form: one line per named part, then the expression,

    h1 = tanh(a*h0 + x0)
    h2 = tanh(a*h1 + x1)
    h3 = tanh(a*h2 + x2)
    (1 - h3**2)*(a**2*h0*(1 - h1**2)*(1 - h2**2) + a*h1*(1 - h2**2) + h2)

which is Python (and `graphc.parse.parse` reads it back). A part is named when

- the printout would show it k > 1 times and naming it saves `SAVE` characters or more: a
  part L characters long, named with N characters, is named when
  (k - 1)*L - (k + 1)*N - 4 >= SAVE (so `sigmoid(x)` or `X*w - y` stays inline);
- it is a step of a recurrence of `CHAIN` steps or more: a step computes from a shared
  node (or from a step) what that node computed from its own predecessor, in the same place
  (`tanh(a*h1 + x1)` from `h1 = tanh(a*h0 + x0)`, as `h1` from `h0`);
- it is an array constant of more than `CONST_ELEMENTS` entries, not all equal (its entries
  print on a line of their own, `t1 = const([...])`, and the expression stays readable);
- the expression is too large or deep for one piece (beyond `TREE_LIMIT` tree nodes or
  `DEPTH_LIMIT` levels, the inputs of a part that grows past `PIECE` nodes or `PIECE_DEPTH`
  levels are named), so that no printer recurses deeply and no text grows exponentially.

Names: the steps of a recurrence that starts from a var are named after it, numbered on from
the var's own number (`h0` -> `h1, h2, h3`; `s` -> `s1, s2`); every other part is `t1, t2, ...`
in the order it is computed (`tmp1, ...` when a var is already named like `t1`). A name never
repeats the name of a var or of another part. Every walk here is iterative and linear in the
graph's size.
"""

from __future__ import annotations

import keyword
import re

from .const_text import hoisted_const
from .errors import GraphcError
from .ir import Symbol, toposort
from .ops.base import PREC_ADD

TREE_LIMIT = 2000  # an expression printed in one piece, counted as a tree
DEPTH_LIMIT = 60  # and its depth (sympy's printers recurse about 5 frames per level)
PIECE = 40  # beyond those, a part bigger than this (as a tree) gets its inputs named
PIECE_DEPTH = 20  # ... or deeper than this
SAVE = 12  # a shared part is named when that saves this many characters
CHAIN = 3  # a recurrence of this many steps or more is named step by step
STEP = 24  # a recurrence step is compared over at most this many nodes
_STEM = re.compile(r"([A-Za-z_][A-Za-z_0-9]*?)([0-9]*)")


class LetPlan:
    """The nodes under `root` (inputs first) and the names of the parts to name, in order."""

    __slots__ = ("root", "nodes", "names", "big")

    def __init__(self, root: Symbol, nodes: list[Symbol], names: dict[int, str], big: bool):
        self.root = root
        self.nodes = nodes
        self.names = names  # id(node) -> name, in the order the nodes are computed
        self.big = big  # too large or deep for one piece: parts were cut to PIECE size


def shown_inputs(node: Symbol) -> tuple:
    """The inputs a printout shows: a transparent op prints as its first input, an op with
    `printed_inputs` shows that many (`jacobian(y, x, mode=...)`)."""
    if node.opdef.transparent:
        return node.inputs[:1]
    count = node.opdef.printed_inputs
    return node.inputs if count is None else node.inputs[:count]


def printed_root(root: Symbol) -> Symbol:
    """The node whose text is `root`'s (through transparent ops)."""
    while root.opdef.transparent:
        root = root.inputs[0]
    return root


def let_plan(root: Symbol) -> LetPlan:
    """What the printout of `root` names.

    >>> import graphc as gc
    >>> x, y = gc.var("x"), gc.var("y")
    >>> s = gc.sigmoid(x * y + 1)
    >>> plan = let_plan(gc.exp(s) + gc.sin(s) * s)
    >>> list(plan.names.values())
    ['t1']
    """
    nodes = toposort([root])
    top = printed_root(root)
    split = _too_big(nodes, root)
    parents = _shown_parents(nodes, root, split)
    taken = {n.name for n in nodes if n.opdef.name == "var"}
    taken |= {n.attrs["name"] for n in nodes if n.opdef.name == "const" and "name" in n.attrs}
    walk = _Walk(parents, split, len(_temp_prefix(taken)) + 1)
    shown = [n for n in nodes if id(n) in parents or n is top]
    for n in shown:  # first the recurrences, whose steps are named whatever their length
        if shown_inputs(n) and n is not top:
            walk.link(n)
    names = _chain_names(shown, walk, taken)
    for n in shown:
        walk.visit(n, n is top)
    return LetPlan(root, nodes, _names(nodes, walk, names, taken), split)


def _too_big(nodes: list[Symbol], root: Symbol) -> bool:
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    for n in nodes:
        size[id(n)] = min(TREE_LIMIT + 1, 1 + sum(size[id(x)] for x in n.inputs))
        depth[id(n)] = 1 + max((depth[id(x)] for x in n.inputs), default=0)
    return size[id(root)] > TREE_LIMIT or depth[id(root)] > DEPTH_LIMIT


def _shown_parents(nodes: list[Symbol], root: Symbol, plain: bool) -> dict[int, int]:
    """id -> how many times shown nodes show it (a node the printout shows is in it). An
    elementwise op that sympy prints shows an input once however often it takes it (`x*x`
    prints `x**2`), unless the text is `plain` (no sympy)."""
    shown = {id(root)}
    parents: dict[int, int] = {}
    for n in reversed(nodes):  # users before their inputs
        if id(n) not in shown:
            continue
        keys = [id(x) for x in shown_inputs(n)]
        if not plain and n.opdef.elementwise and n.opdef.sympy is not None:
            keys = set(keys)
        for key in keys:
            shown.add(key)
            parents[key] = parents.get(key, 0) + 1
    return parents


class _Walk:
    """One pass over the nodes, inputs first, deciding the named parts as it goes."""

    def __init__(self, parents: dict[int, int], split: bool, name_length: int):
        self.parents = parents
        self.split = split
        self.name_length = name_length
        self.named: dict[int, Symbol] = {}
        self.length: dict[int, int] = {}  # estimated text length, named inputs as names
        self.size: dict[int, int] = {}  # tree size and depth of the unnamed part
        self.depth: dict[int, int] = {}
        self.step_ops: set = set()  # the op keys of nodes a recurrence may step from
        self.steps: dict[int, tuple[str, list[Symbol]]] = {}  # id -> _step(node), cached
        self.chain: dict[int, tuple[int, int, int]] = {}  # id -> (start id, step, slot)

    def visit(self, n: Symbol, top: bool) -> None:
        key = id(n)
        inputs = shown_inputs(n)
        if not inputs:
            self.length[key] = _leaf_length(n)
            self.size[key], self.depth[key] = 1, 1
            if hoisted_const(n) and not top:
                self.named[key] = n
            return
        if self.split:
            self._split(n, inputs)
        self._measure(n, inputs)
        if top:
            return
        uses = self.parents.get(key, 0)
        length = self.length[key]
        if uses > 1 and (uses - 1) * length - (uses + 1) * self.name_length - 4 >= SAVE:
            self.named[key] = n

    def link(self, n: Symbol) -> None:
        """Record whether `n` steps a recurrence on (see _continue_chain)."""
        key = id(n)
        if _op_key(n) in self.step_ops:
            self._continue_chain(n)
        if self.parents.get(key, 0) > 1 or key in self.chain:
            self.step_ops.add(_op_key(n))

    def _split(self, n: Symbol, inputs) -> None:
        inner = [x for x in inputs if id(x) not in self.named]
        s = 1 + sum(self.size[id(x)] for x in inner)
        d = 1 + max((self.depth[id(x)] for x in inner), default=0)
        if s > PIECE or d > PIECE_DEPTH:
            self.named.update((id(x), x) for x in inner if shown_inputs(x))

    def _measure(self, n: Symbol, inputs) -> None:
        key = id(n)
        inner = [x for x in inputs if id(x) not in self.named]
        self.size[key] = 1 + sum(self.size[id(x)] for x in inner)
        self.depth[key] = 1 + max((self.depth[id(x)] for x in inner), default=0)
        lengths = [self.name_length if id(x) in self.named else self.length[id(x)] for x in inputs]
        infix = n.opdef.infix if n.opdef.precedence is not None else None
        if infix:
            extra = len(infix) + 2 * (n.opdef.precedence <= PREC_ADD)
        else:
            extra = len(n.opdef.name) + 2 * len(inputs) + 8 * bool(n.attrs)
        self.length[key] = sum(lengths) + extra

    def _step(self, n: Symbol) -> tuple[str, list[Symbol]]:
        """The operations of `n` down to the nearest nodes of its own op (or leaves, or STEP
        nodes), each written `_`, and those nodes, left to right."""
        hit = self.steps.get(id(n))
        if hit is None:
            hit = self.steps[id(n)] = _step(n)
        return hit

    def _continue_chain(self, n: Symbol) -> None:
        """Link `n` to a recurrence: it computes from a shared node `m` (or a step of one)
        what `m` computed from its own predecessor, at the same place."""
        key = id(n)
        shape, leaves = self._step(n)
        for slot, m in enumerate(leaves):
            mk = id(m)
            if not (mk in self.chain or self.parents.get(mk, 0) > 1):
                continue
            if self._step(m)[0] != shape:
                continue
            start, step, at = self.chain.get(mk, (mk, 0, slot))
            if at != slot:
                continue
            self.chain[mk] = (start, step, at)
            self.chain[key] = (start, step + 1, slot)
            return


def _leaf_length(n: Symbol) -> int:
    if n.opdef.name == "var":
        return len(str(n.name))
    value = n.attrs.get("value")
    if isinstance(value, (bool, int, float)):
        return len(str(int(value) if float(value).is_integer() else value))
    return 3


def _op_key(n: Symbol) -> str:
    return f"{n.opdef.name}{sorted(n.attrs.items())}" if n.attrs else n.opdef.name


def _step(n: Symbol) -> tuple[str, list[Symbol]]:
    own = _op_key(n)
    tokens: list[str] = []
    leaves: list[Symbol] = []
    stack: list = [n]
    count = 0
    while stack:
        x = stack.pop()
        if isinstance(x, str):
            tokens.append(x)
            continue
        inputs = shown_inputs(x)
        count += 1
        if x is not n and (not inputs or _op_key(x) == own or count > STEP):
            tokens.append("_")
            leaves.append(x)
            continue
        tokens.append(f"{_op_key(x)}(")
        stack.append(")")
        stack.extend(reversed(inputs))
    return "".join(tokens), leaves


def _chain_names(shown: list[Symbol], walk: _Walk, taken: set[str]) -> dict[int, str]:
    """Name the steps of each recurrence of CHAIN steps or more (marking them named): after
    the var its first step takes (`h0` -> `h1, h2, ...`), else None (t1, t2, ... later)."""
    chains: dict[int, list[int]] = {}
    for n in shown:
        link = walk.chain.get(id(n))
        if link is not None:
            chains.setdefault(link[0], []).append(id(n))
    names: dict[int, str] = {}
    for start, members in chains.items():
        if len(members) < CHAIN:
            continue
        walk.named.update((key, None) for key in members)
        stem = _stem_names(walk, start, len(members), taken)
        if stem:
            names.update(zip(members, stem))
            taken.update(stem)
    return names


def _stem_names(walk: _Walk, start: int, count: int, taken: set[str]) -> list[str] | None:
    """`h1, h2, ...` for a recurrence whose first step takes the var `h0` (or `h`)."""
    slot = walk.chain[start][2]
    leaf = walk.steps[start][1][slot]
    if leaf.opdef.name != "var" or not isinstance(leaf.name, str):
        return None
    match = _STEM.fullmatch(leaf.name)
    if not match or keyword.iskeyword(match[1]):
        return None
    first = int(match[2]) if match[2] else 0
    names = [f"{match[1]}{first + k}" for k in range(1, count + 1)]
    return None if taken.intersection(names) else names


def _names(
    nodes: list[Symbol], walk: _Walk, names: dict[int, str], taken: set[str]
) -> dict[int, str]:
    """Every named part's name, in the order the parts are computed: the recurrences' names,
    and t1, t2, ... for the others."""
    prefix = _temp_prefix(taken)
    count = 0
    ordered: dict[int, str] = {}
    for n in nodes:
        key = id(n)
        if key in walk.named:
            if key not in names:
                count += 1
                names[key] = f"{prefix}{count}"
            ordered[key] = names[key]
    return ordered


def _temp_prefix(taken: set[str]) -> str:
    """`t`, unless a name like t1 is taken: then `tmp`, `_t`, ..."""
    for prefix in ("t", "tmp", "_t", "__t"):
        if not any(re.fullmatch(re.escape(prefix) + r"\d+", name) for name in taken):
            return prefix
    return "_" * (1 + max(len(name) for name in taken)) + "t"


def check_symbol(sym) -> Symbol:
    if not isinstance(sym, Symbol):
        raise GraphcError(f"expected a graphc symbol, got {type(sym).__name__}")
    return sym
