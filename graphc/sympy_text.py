"""The text of an expression: sympy's printing of its nodes, in let-form where it repeats a
part or is large (`graphc.letform` plans which parts get names).

Imported with the first printout (`graphc.printing.to_str`), not with graphc: sympy costs a
fifth of a second to import. Every walk here is iterative and linear in the graph's size.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.printing.precedence import PRECEDENCE, precedence

from .ir import Symbol
from .letform import LetPlan, let_plan, shown_inputs
from .ops.base import OPS, PREC_ADD, PREC_MUL, PREC_POW, on_register
from .simplify.sympy_bridge import attrs_key, graph_function, node_to_sympy
from .simplify.sympy_print import gc_str, postfix_text


def text(root: Symbol) -> str:
    """`printing.to_str` of a checked symbol."""
    plan = let_plan(root)
    if plan.big and plan.names:
        lets, last = _let_form(plan)
    else:
        parts, expr = let_parts(plan)
        lets, last = [(name, gc_str(e)) for name, e in parts], gc_str(expr)
    return "\n".join([f"{name} = {e}" for name, e in lets] + [last])


def _let_form(plan: LetPlan) -> tuple[list[tuple[str, str]], str]:
    """[(name, text)] for the named parts, in order, and the text of the root: a plain infix
    printer (sympy's printers are far too slow for graphs of this size)."""
    texts: dict[int, tuple[str, int]] = {}
    lets: list[tuple[str, str]] = []
    for n in plan.nodes:
        text, prec = _plain(n, [texts[id(x)] for x in shown_inputs(n)])
        name = plan.names.get(id(n))
        if name is not None:
            lets.append((name, text))
            text, prec = name, _ATOM
        texts[id(n)] = (text, prec)
    return lets, texts[id(plan.root)][0]


def sympy_node(node: Symbol, args: list) -> sp.Expr:
    """The sympy form `str` prints for one node, given its inputs' forms."""
    if not (node.opdef.elementwise or node.opdef.transparent):  # a float stays one when
        # it is a function's argument (broadcast_to(1.0, ...)); alone it prints as sympy does
        args = [
            sp.Float(float(a)) if _float_integer(x, a) else a for x, a in zip(node.inputs, args)
        ]
    return _transparent(node, args) if node.opdef.transparent else node_to_sympy(node, args)


def _float_integer(x: Symbol, form) -> bool:
    """Is `x` a float constant that sympy holds as an integer (`1` for 1.0)?"""
    return x.op == "const" and x.dtype is not None and x.dtype.kind == "f" and form.is_Integer


def _widened(node: Symbol):
    """A check (`OpDef.transparent`) prints as its first input, unless that is known to be
    smaller than the result (a scalar checked against an array): then the shape."""
    inner = node.inputs[0].shape
    if inner is None or node.shape is None or inner == node.shape or None in node.shape:
        return None
    return node.shape


def _transparent(node: Symbol, args: list):
    shape = _widened(node)
    if shape is None:
        return args[0]
    return graph_function(OPS["broadcast_to"], {"shape": shape})(args[0])


def let_parts(plan: LetPlan, convert=sympy_node) -> tuple[list[tuple[str, sp.Expr]], sp.Expr]:
    """The sympy forms (`convert(node, input forms)`) of the named parts, in order, each over
    the names of those before it, and of the root; a part no later form mentions (sympy
    cancelled it) is left out."""
    exprs: dict[int, sp.Expr] = {}
    parts: list[tuple[str, sp.Expr]] = []
    for n in plan.nodes:
        exprs[id(n)] = convert(n, [exprs[id(x)] for x in shown_inputs(n)])
        name = plan.names.get(id(n))
        if name is not None:
            parts.append((name, exprs[id(n)]))
            exprs[id(n)] = sp.Symbol(name)
    root = exprs[id(plan.root)]
    used = set(root.free_symbols)
    kept = []
    for name, expr in reversed(parts):
        if sp.Symbol(name) in used:
            kept.append((name, expr))
            used |= expr.free_symbols
    return kept[::-1], root


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
        shape = _widened(node)
        return args[0] if shape is None else (f"broadcast_to({args[0][0]}, shape={shape})", _ATOM)
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
    postfix = postfix_text(node.opdef, node.attrs, [a for a, _ in args[1:]])
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
