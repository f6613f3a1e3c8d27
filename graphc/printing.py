"""Readable text for graphs: infix `str` and LaTeX (`explain`'s table: graphc.explanation).

`str(sym)` is sympy's printing of `sym.to_sympy()`: elementwise operations print as sympy
prints them (`4*x`, `1 - tanh(x)**2`), other operations with numpy's names (`dot(x, w)`,
`sum(x, axis=0)`). A few graphc helpers print under their own names: `ones_like(x)` (the
gradient of `sum(x)`: ones of x's shape and dtype), `sum_to(g, x)` (g summed down to x's
shape, when shapes are unknown), `reduced_size(x)` (how many entries a reduction combines),
`stop_gradient(x)` (a detached value).

Large or deep graphs would make sympy's recursive printers overflow the stack and a tree
print exponentially long, so beyond `TREE_LIMIT` tree nodes or `DEPTH_LIMIT` levels the
text names sub-expressions and reads `let t1 = ...; t2 = ... in <expression>`. Every walk
here is iterative and linear in the graph's size.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sympy as sp
from sympy.printing.precedence import PRECEDENCE, precedence

from .dispatch import checks_call
from .errors import GraphcError
from .ir import Symbol, toposort
from .ops.base import PREC_ADD, PREC_MUL, PREC_POW, on_register
from .simplify.sympy_bridge import attrs_key, graph_function, node_to_sympy
from .simplify.sympy_print import gc_str, postfix_text

TREE_LIMIT = 2000  # an expression printed in one piece, counted as a tree
DEPTH_LIMIT = 60  # and its depth (sympy's printers recurse about 5 frames per level)
PIECE = 40  # in the let-form, a part bigger than this (as a tree) gets a name
PIECE_DEPTH = 20  # ... or deeper than this
SHARED = 8  # ... and a part used twice that is bigger than this


def check_symbol(sym) -> Symbol:
    if not isinstance(sym, Symbol):
        raise GraphcError(f"expected a graphc symbol, got {type(sym).__name__}")
    return sym


def _plan(root: Symbol) -> tuple[list[Symbol], set[int]]:
    """The nodes under `root` and the ids of those the text should name."""
    nodes = toposort([root])
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    for n in nodes:
        size[id(n)] = min(TREE_LIMIT + 1, 1 + sum(size[id(x)] for x in n.inputs))
        depth[id(n)] = 1 + max((depth[id(x)] for x in n.inputs), default=0)
    if size[id(root)] <= TREE_LIMIT and depth[id(root)] <= DEPTH_LIMIT:
        return nodes, set()
    return nodes, _parts_to_name(root, nodes)


def _parts_to_name(root: Symbol, nodes: list[Symbol]) -> set[int]:
    """For the let-form: name the inputs of a part that grows past PIECE (as a tree, not
    counting what is named already) or PIECE_DEPTH, and a part used twice bigger than
    SHARED."""
    uses: dict[int, int] = {}
    for n in nodes:
        for x in n.inputs:
            uses[id(x)] = uses.get(id(x), 0) + 1
    named: set[int] = set()
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    for n in nodes:
        inner = [x for x in n.inputs if id(x) not in named]
        s = 1 + sum(size[id(x)] for x in inner)
        d = 1 + max((depth[id(x)] for x in inner), default=0)
        if s > PIECE or d > PIECE_DEPTH:
            named.update(id(x) for x in inner if x.inputs)
            s, d = 1 + len(n.inputs), 2
        size[id(n)], depth[id(n)] = s, d
        if uses.get(id(n), 0) > 1 and s > SHARED and n is not root:
            named.add(id(n))
    return named


def _temp_prefix(nodes: Sequence[Symbol]) -> str:
    """`t`, unless a var is named like t1: then `tmp`, `_t`, ..."""
    names = {n.name for n in nodes if n.op == "var"}
    names |= {n.attrs["name"] for n in nodes if n.op == "const" and "name" in n.attrs}
    for prefix in ("t", "tmp", "_t", "__t"):
        if not any(re.fullmatch(re.escape(prefix) + r"\d+", name) for name in names):
            return prefix
    return "_" * (1 + max(len(name) for name in names)) + "t"


def _let_form(root: Symbol, nodes: list[Symbol], named: set[int]):
    """[(name, text)] for the named parts, in order, and the text of `root`: a plain infix
    printer (sympy's printers are far too slow for graphs of this size)."""
    prefix = _temp_prefix(nodes)
    texts: dict[int, tuple[str, int]] = {}
    lets: list[tuple[str, str]] = []
    for n in nodes:
        text, prec = _plain(n, [texts[id(x)] for x in n.inputs])
        if id(n) in named:
            name = f"{prefix}{len(lets) + 1}"
            lets.append((name, text))
            text, prec = name, _ATOM
        texts[id(n)] = (text, prec)
    return lets, texts[id(root)][0]


_ATOM, _UNARY, _RELATION = (
    100,
    50,
    20,
)  # infix binary ops have their `OpDef.precedence` (PREC_*) between
_TEMPLATES: dict = {}  # (op, number of inputs, attrs) -> text with placeholders


def _forget_templates(op, added: bool) -> None:
    for key in [k for k in _TEMPLATES if k[0] == op.name]:
        del _TEMPLATES[key]


on_register(_forget_templates)


def _plain(node: Symbol, args: list[tuple[str, int]]) -> tuple[str, int]:
    """Text and precedence of one node, given its inputs' (text, precedence)."""
    op = node.op
    if node.opdef.transparent:
        return args[0]
    if not node.inputs:
        expr = node_to_sympy(node, [])
        text = gc_str(expr)
        return text, _ATOM if expr.is_Atom and not text.startswith("-") else _UNARY
    prec = _RELATION if node.opdef.comparison else node.opdef.precedence
    if prec is not None:
        return _infix(node.opdef.infix, prec, args)
    if op == "negative":
        a, pa = args[0]
        return (f"-{a}" if pa > _UNARY else f"-({a})"), _UNARY
    postfix = postfix_text(node.opdef, node.attrs)
    if postfix is not None:
        a, pa = args[0]
        return (a if pa == _ATOM and not a[0].isdigit() else f"({a})") + postfix, _ATOM
    return _template(node, args)


def _infix(infix: str, prec: int, args: list[tuple[str, int]]) -> tuple[str, int]:
    """sympy's spacing: x + y, x*y, x**y, a @ b; ** groups to the right."""
    infix = infix if prec > PREC_ADD and infix != "@" else f" {infix} "
    (a, pa), (b, pb) = args
    left = a if pa > prec or (pa == prec and prec not in (PREC_POW, _RELATION)) else f"({a})"
    right = b if pb > prec else f"({b})"
    return f"{left}{infix}{right}", prec


def _template(node: Symbol, args: list[tuple[str, int]]) -> tuple[str, int]:
    """The op as the sympy printer prints it on placeholder arguments (`exp(#0) - 1`); an
    argument that binds less tightly than a name is parenthesised unless it stands alone as
    a call's argument."""
    key = (node.op, len(args), attrs_key(node.attrs))
    hit = _TEMPLATES.get(key)
    if hit is None:
        holders = [sp.Symbol(f"\x00{i}\x00") for i in range(len(args))]
        expr = (
            node_to_sympy(node, holders)
            if node.opdef.elementwise
            else graph_function(node.opdef, node.attrs)(*holders)
        )
        hit = _TEMPLATES[key] = (gc_str(expr), _PRECEDENCE.get(precedence(expr), _ATOM))
    text, prec = hit
    for i, (a, pa) in enumerate(args):
        holder = f"\x00{i}\x00"
        if pa < _ATOM:
            bare = re.search(rf"[(\[,] ?{holder}[,)\]]", text) is not None
            a = a if bare and text.count(holder) == 1 else f"({a})"
        text = text.replace(holder, a)
    return text, prec


# sympy's precedence of a template -> this printer's
_PRECEDENCE = {
    PRECEDENCE["Relational"]: _RELATION,
    PRECEDENCE["Add"]: PREC_ADD,
    PRECEDENCE["Mul"]: PREC_MUL,
    PRECEDENCE["Pow"]: PREC_POW,
}


def to_str(sym: Symbol) -> str:
    """The expression as text: `str(sym.to_sympy())`, in let-form for very large graphs.

    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> to_str(gc.grad(2 * gc.dot(x, x), x))
    '4*x'
    """
    root = check_symbol(sym)
    nodes, named = _plan(root)
    if not named:
        return gc_str(_sympy_of(root, nodes))
    lets, text = _let_form(root, nodes, named)
    width = len(lets[-1][0])
    lines = [
        f"{'let' if i == 0 else '   '} {name.ljust(width)} = {e}"
        for i, (name, e) in enumerate(lets)
    ]
    return "\n".join(lines + [f"in {text}"])


def _sympy_of(root: Symbol, nodes: list[Symbol]):
    exprs: dict[int, sp.Expr] = {}
    for n in nodes:
        args = [exprs[id(x)] for x in n.inputs]
        exprs[id(n)] = args[0] if n.opdef.transparent else node_to_sympy(n, args)
    return exprs[id(root)]


@checks_call
def latex(sym: Symbol) -> str:
    """The expression as LaTeX (without `$`); large graphs as an `aligned` block of text.

    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> latex(gc.exp(x) / 2)
    '\\\\frac{e^{x}}{2}'
    """
    root = check_symbol(sym)
    nodes, named = _plan(root)
    if not named:
        return sp.latex(_sympy_of(root, nodes))
    lets, text = _let_form(root, nodes, named)
    rows = [rf"\mathtt{{{_tex_escape(name)}}} &= \mathtt{{{_tex_escape(e)}}}" for name, e in lets]
    rows.append(rf"&\phantom{{=}}\;\mathtt{{{_tex_escape(text)}}}")
    return r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"


_TEX_SPECIAL = {
    "\\": r"\backslash{}",
    "{": r"\{",
    "}": r"\}",
    "_": r"\_",
    "^": r"\^{}",
    "#": r"\#",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "~": r"\~{}",
}


def _tex_escape(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in text)
