"""graphc's text for sympy expressions: Python/numpy syntax that `graphc.parse` reads back.

`GcPrinter` is sympy's `StrPrinter` with gc's vocabulary: `abs`, `maximum`, `minimum`,
`arcsin`, `where`, `inf`, `nan` instead of sympy's `Abs`, `Max`, `Min`, `asin`, `Piecewise`,
`oo`, `zoo`; floats as Python prints them (`1e+308`, `0.1`); graph operations as numpy writes
them (`a @ b`, `x.T`, `x[1:3]`, `stack([x, y], axis=0)`, comparisons as relations); and in a
sum a leading negative term after the positive ones (`X @ w - y`, not `-y + X @ w`).
"""

from __future__ import annotations

import math
import re

import numpy as np
import sympy as sp
from sympy import Mul
from sympy.core.mul import _keep_coeff
from sympy.printing.precedence import PRECEDENCE, precedence
from sympy.printing.str import StrPrinter

from ..const_text import CONST_ELEMENTS
from ..ops.base import PREC_ADD, PREC_MUL, PREC_POW
from ..runtime import format_index

_FUNCTION_NAMES = {  # sympy's function name -> gc's
    "Abs": "abs",
    "asin": "arcsin",
    "acos": "arccos",
    "atan": "arctan",
    "asinh": "arcsinh",
    "acosh": "arccosh",
    "atanh": "arctanh",
}
_CHAINS = {"Max": "maximum", "Min": "minimum"}  # n-ary in sympy, binary in gc


def short_decimal(value: float) -> bool:
    """Does Python print `value` as a short decimal (`0.1`, `2.5`; not `1e-300`,
    `0.3333333333333333`)?"""
    text = repr(float(value))
    return "e" not in text and len(text.lstrip("-").replace(".", "").strip("0")) <= 8


class GcPrinter(StrPrinter):
    """sympy's string printer speaking gc (see the module docstring)."""

    # --- numbers -------------------------------------------------------------------------
    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Rational(self, expr):
        if expr.q != 1 and short_decimal(float(expr)):
            return repr(float(expr))
        return super()._print_Rational(expr)

    def _print_Infinity(self, expr):
        return "inf"

    def _print_NegativeInfinity(self, expr):
        return "-inf"

    def _print_ComplexInfinity(self, expr):  # sympy's 1/0; numpy's is inf
        return "inf"

    def _print_NaN(self, expr):
        return "nan"

    def _print_Exp1(self, expr):
        return "exp(1)"

    def _print_Pi(self, expr):
        return repr(float(expr))

    def _print_Pow(self, expr, rational=False):
        e = expr.exp
        if e.is_Rational and e.q != 1 and e > 0 and e != sp.S.Half and short_decimal(float(e)):
            base = self.parenthesize(expr.base, precedence(expr), strict=False)
            return f"{base}**{float(e)!r}"  # x**1.5, not x**(3/2)
        return super()._print_Pow(expr, rational=rational)

    # --- functions -----------------------------------------------------------------------
    def _print_Function(self, expr):
        name = type(expr).__name__
        if name in _CHAINS:
            args = [self._print(a) for a in expr.args]
            text = args[0]
            for a in args[1:]:
                text = f"{_CHAINS[name]}({text}, {a})"
            return text
        if name in _FUNCTION_NAMES:
            return f"{_FUNCTION_NAMES[name]}({self.stringify(expr.args, ', ')})"
        return super()._print_Function(expr)

    _print_Abs = _print_Max = _print_Min = _print_Function

    def _print_Heaviside(self, expr):
        return f"where({self._print(expr.args[0])} > 0, 1, 0)"

    def _print_Piecewise(self, expr):
        *pieces, (last, cond) = expr.args
        text = self._print(last)
        if cond is not True and str(cond) != "True":
            text = f"where({self._print(cond)}, {text}, nan)"
        for value, c in reversed(pieces):
            text = f"where({self._print(c)}, {self._print(value)}, {text})"
        return text

    # --- sums and products -----------------------------------------------------------------
    def _print_Add(self, expr, order=None):
        parts = []  # (negative, text without its sign)
        for term in self._as_ordered_terms(expr, order=order):
            c, rest = term.as_coeff_Mul()
            if c == -1 and _is_call(rest):
                negative, text = True, self._print(rest)
            else:
                text = self._print(term)
                negative = text.startswith("-") and not term.is_Add
                text = text[1:] if negative else text
            if term.is_Add or precedence(term) < PRECEDENCE["Add"]:
                text = f"({text})"
            parts.append((negative, text))
        if parts[0][0] and not all(negative for negative, _ in parts):
            parts.sort(key=lambda part: part[0])  # a leading negative term goes last
        out = ("-" if parts[0][0] else "") + parts[0][1]
        for negative, text in parts[1:]:
            out += f" {'-' if negative else '+'} {text}"
        return out

    def _print_Mul(self, expr):
        c, rest = expr.as_coeff_Mul()
        if c == -1 and _is_call(rest) and precedence(rest) < PRECEDENCE["Func"]:
            return f"-({self._print(rest)})"  # -(a @ b), not (-a) @ b
        factors = Mul.make_args(rest)
        if c < 0 and any(_is_call(f) and precedence(f) <= PRECEDENCE["Mul"] for f in factors):
            # sympy would print the factors at a negative product's precedence (a sum's),
            # leaving `a @ b` bare: -4*(a @ b)/5, not -4*a @ b/5
            text = "-" + self._print(_keep_coeff(-c, rest))
        else:
            text = super()._print_Mul(expr)
        if text.startswith("-(") and any(_is_comparison(f) for f in factors):
            return "-1*" + text[1:]  # numpy refuses -(x > 0)
        return text


def _is_call(expr) -> bool:
    return getattr(expr, "opdef", None) is not None


def _is_comparison(expr) -> bool:
    """A boolean factor: numpy refuses to negate it."""
    return _is_call(expr) and expr.opdef.comparison


_PRINTER = GcPrinter()


def gc_str(expr) -> str:
    """The text of a sympy expression in gc's syntax.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> gc_str(sp.Abs(x) + sp.Max(x, y) - sp.oo + sp.Float(1e308) * y)
    '1e+308*y + abs(x) + maximum(x, y) - inf'
    """
    return _PRINTER.doprint(expr)


# --- graph operations (GraphFunction's `_sympystr`) ----------------------------------------


def call_text(fn, printer) -> str:
    """The text of a graph operation standing in a sympy expression (`fn.opdef`,
    `fn.attrs`): numpy's syntax and names."""
    op = fn.opdef
    args = fn.args
    show = printer._print
    if op.comparison:
        return f"{show(args[0])} {op.infix} {show(args[1])}"
    if op.precedence is not None:  # `a @ b` (arithmetic ops print through sympy's forms)
        prec = call_precedence(op)
        left = printer.parenthesize(args[0], prec, strict=True)
        return f"{left} {op.infix} {printer.parenthesize(args[1], prec, strict=False)}"
    postfix = postfix_text(op, fn.attrs, [show(a) for a in args[1:]])
    if postfix is not None:
        return _postfix(args[0], printer) + postfix
    if op.name == "index_grad":  # JAX's functional update
        index = index_text(fn.attrs["index"], [show(a) for a in args[2:]])
        return f"zeros_like({show(args[1])}).at[{index}].add({show(args[0])})"
    shown = [show(a) for a in args[: op.printed_inputs]]
    if op.name == "group":  # several outputs: a tuple, as a Python function returns them
        return f"({', '.join(shown)}{',' if len(shown) == 1 else ''})"
    if op.sequence_input:
        shown = [f"[{', '.join(shown)}]"]
    for key, value in fn.attrs.items():
        if not op.shows_attr(key, value):
            continue
        shown.append(f"{key}={_attr_text(value)}")
    return f"{op.name}({', '.join(shown)})"


_SYMPY_PRECEDENCE = {
    PREC_ADD: PRECEDENCE["Add"],
    PREC_MUL: PRECEDENCE["Mul"],
    PREC_POW: PRECEDENCE["Pow"],
}


def postfix_text(opdef, attrs: dict, arrays=()) -> str | None:
    """`.T` or `[index]` when the operation prints after its operand, else None; `arrays`
    are the texts of the other inputs (an index's arrays)."""
    if opdef.name == "getitem":
        return f"[{index_text(attrs['index'], arrays)}]"
    if opdef.name == "transpose" and attrs.get("axes") is None:
        return ".T"
    if opdef.name == "get":  # one result of a multi-output call
        return f"[{attrs['index']}]"
    return None


def index_text(index, arrays) -> str:
    """The text of a canonical index whose array slots print as the texts `arrays`; a
    constant array as the list it is (`x[[0, 2]]` and `x[[1, 1]]`, not `x[const([0, 2])]`
    and `x[broadcast_to(1, shape=(2,))]`).

    >>> index_text(("...", ("array",), ("array",)), ["const([0, 2])", "broadcast_to(1, shape=(2,))"])
    '..., [0, 2], [1, 1]'
    """
    return format_index(index, arrays=[_index_list(a) for a in arrays])


_REPEATED_INT = re.compile(r"broadcast_to\((-?\d+), shape=\(([\d, ]*)\)\)")


def _index_list(text: str) -> str:
    if text.startswith("const([") and text.endswith("])"):
        return text[len("const(") : -1]
    repeated = _REPEATED_INT.fullmatch(text)
    if repeated is not None:
        shape = tuple(int(d) for d in repeated[2].replace(" ", "").split(",") if d)
        if shape and math.prod(shape) <= CONST_ELEMENTS:
            return repr(np.full(shape, int(repeated[1])).tolist())
    return text


def call_precedence(opdef) -> int:
    """How tightly the printed form of a graph operation binds (sympy's scale)."""
    if opdef.comparison:
        return PRECEDENCE["Relational"]
    if opdef.precedence is not None:  # Python's: @ binds like *
        return _SYMPY_PRECEDENCE[opdef.precedence]
    return PRECEDENCE["Func"]


def _postfix(arg, printer) -> str:
    """The operand of `.T` or `[...]`, parenthesised unless it is a name or a call."""
    text = printer._print(arg)
    if arg.is_Atom and not arg.is_Number:
        return text
    return text if precedence(arg) >= PRECEDENCE["Func"] else f"({text})"


def _attr_text(value) -> str:
    name = getattr(value, "name", None)
    if name is not None and type(value).__module__.startswith("numpy"):  # a dtype
        return repr(name)
    return repr(value)


# --- what printing keeps that sympy would change ---------------------------------------


def float_with_exponent(value) -> bool:
    """A float (Python, numpy, or 0-d) that Python prints with an exponent (`1e-300`)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    return isinstance(value, (float, np.floating)) and "e" in repr(float(value))


def kept(name: str, args: list, expr):
    """`expr`, unless sympy cancelled an operand (x - x -> 0): then what the graph computes,
    unevaluated, which keeps the operand's shape."""
    if name in ("add", "subtract"):
        kept = _cores(expr)
        if all(core in kept for a in args for core in _cores(a)):
            return expr
    elif expr.free_symbols == set().union(*(a.free_symbols for a in args)) and not (
        expr.is_Number and not all(a.is_Number for a in args)
    ):
        return expr
    return UNEVALUATED[name](*args)


def _cores(expr) -> set:
    """The terms of a sum without their numeric coefficients (numbers left out)."""
    return {t.as_coeff_Mul()[1] for t in sp.Add.make_args(expr) if not t.is_Number}


UNEVALUATED = {
    "add": lambda a, b: sp.Add(a, b, evaluate=False),
    "subtract": lambda a, b: sp.Add(a, sp.Mul(-1, b, evaluate=False), evaluate=False),
    "multiply": lambda a, b: sp.Mul(a, b, evaluate=False),
    "divide": lambda a, b: sp.Mul(a, sp.Pow(b, -1, evaluate=False), evaluate=False),
    "power": lambda a, b: sp.Pow(a, b, evaluate=False),
    "negative": lambda a: sp.Mul(-1, a, evaluate=False),
}
