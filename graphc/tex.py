"""LaTeX for graphs (`gc.latex`, and `Symbol._repr_latex_` for Jupyter): textbook notation.

- Names as sympy writes symbols: a var's name as written, a trailing number or `_suffix` as a
  subscript (`h0` is $h_{0}$, `W_in` is $W_{in}$), Greek letter names as letters; no bold (a
  var's rank is often unknown until bind).
- `A @ x` is juxtaposition $A x$; `dot(x, w)` is $x \\cdot w$; `x.T` is $x^{\top}$; an
  elementwise product of two operands whose shapes are known and not scalar is $x \\odot y$
  (other products are juxtaposition, as sympy prints them: $2 x$); a comparison used as a
  number is an Iverson bracket $\\left[x > 0\right]$.
- Functions: $\\sigma(x)$ for sigmoid, $\tanh$, $\\log$, $e^{x}$, $\\max$, $|x|$ as sympy prints
  them; other operations with their names upright, `\\operatorname{softmax}\\left(z\right)`,
  their attrs after the arguments.
- Shape-generic steps: a mean's divisor `size(x)` is $n_{x}$ (the number of entries
  averaged); `sum_to(g, x)` (g summed down to x's shape) is
  $\\operatorname{unbroadcast}_{x}\\left(g\right)$.
- An expression `str` prints in let-form (graphc.letform) is an `aligned` block: one row
  `name &= ...` per named part, then the expression.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np
import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE, precedence

from .ir import Symbol
from .letform import let_plan
from .runtime import format_index
from .simplify.sympy_bridge import GraphFunction, node_to_sympy, number_to_sympy
from .sympy_text import let_parts

_MUL, _POW = PRECEDENCE["Mul"], PRECEDENCE["Pow"]


class _Form(sp.Function):
    """A notation of this module: `tex` formats the printed arguments (`{0}`, `{1}`)."""

    tex = ""
    precedence = PRECEDENCE["Atom"]
    operand = PRECEDENCE["Atom"]  # an argument binding looser than this gets parentheses

    @classmethod
    def eval(cls, *args):
        return None  # never evaluates


def _form(name: str, tex: str, precedence: int, operand: int) -> type:
    return type(name, (_Form,), {"tex": tex, "precedence": precedence, "operand": operand})


_Juxtapose = _form("Juxtapose", "{0} {1}", _MUL, _MUL)
# products other than juxtaposition bind a little looser and take a product in parentheses:
# X^T (s \odot t), (A x) \odot y
_Dot = _form("Dot", r"{0} \cdot {1}", _MUL - 1, _MUL + 1)
_Hadamard = _form("Hadamard", r"{0} \odot {1}", _MUL - 1, _MUL + 1)
_Transposed = _form("Transposed", r"{0}^{{\top}}", _POW, _POW + 1)
_IVERSON = {
    infix: _form(f"Iverson{i}", rf"\left[{{0}} {tex} {{1}}\right]", PRECEDENCE["Atom"], 0)
    for i, (infix, tex) in enumerate(
        {"<": "<", "<=": r"\leq", ">": ">", ">=": r"\geq", "==": "=", "!=": r"\neq"}.items()
    )
}
_Size = _form("Size", r"n_{{{0}}}", PRECEDENCE["Atom"], 0)
_Unbroadcast = _form(
    "Unbroadcast", r"\operatorname{{unbroadcast}}_{{{1}}}\left({0}\right)", 1000, 0
)
_Index = _form("Index", r"{0}_{{[{key}]}}", _POW, _POW + 1)
_Size = _form("Size", r"n_{{{0}{key}}}", PRECEDENCE["Atom"], 0)
_Unbroadcast = _form(
    "Unbroadcast", r"\operatorname{{unbroadcast}}_{{{1}}}\left({0}\right)", 1000, 0
)
_Broadcast = _form("Broadcast", r"\operatorname{{broadcast}}_{{{1}}}\left({0}\right)", 1000, 0)
_SHAPE_FORMS = {
    "reduced_size": _Size,  # a mean's divisor, under either name
    "size": _Size,
    "sum_to": _Unbroadcast,
    "broadcast_like": _Broadcast,
}
_KEYED: dict[tuple[type, str], type] = {}


def _keyed(base: type, key: str) -> type:
    """`base` with the text `key` filled in (`x_{[1:3]}`, `n_{x, 0}`): one class per text."""
    cls = _KEYED.get((base, key))
    if cls is None:
        cls = _KEYED[base, key] = type(base.__name__, (base,), {"key": key})
    return cls


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


def _escape(text: str) -> str:
    """`text` for LaTeX's text mode."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in text)


@functools.cache
def _defaults(opdef) -> dict:
    """The attrs an op's front takes by default (`axis=-1` of softmax): not printed."""
    try:
        params = inspect.signature(opdef.prepare).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def _attr_text(value, key: str = "", arrays=()) -> str:
    """An attr's value: numbers and tuples of numbers as math, a canonical index (the attr
    `index` of getitem's gradient, its array slots written as `arrays`) as `[1:3]`,
    anything else as text."""
    if key == "index" and isinstance(value, tuple):
        try:
            return f"[{format_index(value, arrays=arrays)}]"
        except (TypeError, ValueError, StopIteration):  # not an index of getitem's form
            pass
    if isinstance(value, (bool, int, float)) or (
        isinstance(value, tuple) and all(isinstance(v, (bool, int, float)) for v in value)
    ):
        return str(value)
    return rf"\text{{{_escape(str(getattr(value, 'name', value)))}}}"


def _known_array(x: Symbol) -> bool:
    return x.shape is not None and len(x.shape) > 0


_Array = _form("Array", "{key}", PRECEDENCE["Atom"], 0)
_Tuple = _form("Tuple", r"\left({all}\right)", PRECEDENCE["Atom"], 0)  # a Group


def _const_form(value) -> sp.Expr:
    """A number as sympy writes it; an array of one repeated number as that number (as a
    broadcast constant reads); a small array as a bracketed matrix."""
    number = number_to_sympy(value)
    if number is not None:
        return number
    arr = np.asarray(value)
    if arr.size and arr.dtype.kind in "biuf":
        if (arr == arr.flat[0]).all():
            return number_to_sympy(arr.flat[0])
        if arr.ndim <= 2 and arr.size <= 12:
            rows = np.atleast_2d(arr).tolist()
            body = r" \\ ".join(
                " & ".join(sp.latex(number_to_sympy(v)) for v in row) for row in rows
            )
            return _keyed(_Array, rf"\begin{{bmatrix}}{body}\end{{bmatrix}}")()
    return _keyed(_Array, rf"\text{{{_escape(f'array of shape {arr.shape}')}}}")()


def tex_node(node: Symbol, args: list) -> sp.Expr:
    """The sympy form `latex` prints for one node, given its inputs' forms."""
    op = node.opdef
    if op.transparent:
        return args[0]
    if op.name == "const" and "name" not in node.attrs:
        return _const_form(node.attrs["value"])
    if op.name == "group":
        return _Tuple(*args)
    if op.name == "matmul":
        return _Juxtapose(*args)
    if op.name == "dot":
        return _Dot(*args)
    if op.name == "multiply" and all(_known_array(x) for x in node.inputs):
        return _Hadamard(*args)
    if op.name == "transpose" and node.attrs.get("axes") is None:
        return _Transposed(*args)
    if op.name == "getitem":
        arrays = [f"{{{k}}}" for k in range(1, len(args))]  # filled in by `_form`
        return _keyed(_Index, format_index(node.attrs["index"], arrays=arrays))(*args)
    if op.comparison:
        return _IVERSON[op.infix](*args)
    form = _SHAPE_FORMS.get(op.name)
    if form is _Size:
        axis = node.attrs.get("axis")
        return _keyed(_Size, "" if axis is None else f", {_attr_text(axis)}")(*args)
    if form is not None:
        return form(*args)
    return node_to_sympy(node, args)


class _Printer(LatexPrinter):
    def _print(self, expr, **kwargs):
        """graphc's forms and operations here (not with their own `_latex`), others as sympy."""
        if isinstance(expr, _Form):
            text = self._form(expr)
        elif isinstance(expr, GraphFunction):
            text = self._call(expr)
        else:
            return super()._print(expr, **kwargs)
        exp = kwargs.get("exp")  # a power of this form (sympy passes it to functions)
        if exp is None:
            return text
        if precedence(expr) <= _POW:
            text = self._add_parens(text)
        return f"{text}^{{{exp}}}"

    def _form(self, expr: _Form) -> str:
        args = [self.parenthesize(a, expr.operand, strict=True) for a in expr.args]
        key = getattr(expr, "key", "")
        if isinstance(expr, _Index):  # an index's arrays: `x_{[{1}]}`
            key = key.format(*args)
        return expr.tex.format(*args, key=key, all=", ".join(args))

    def _call(self, expr: GraphFunction) -> str:
        """Any other operation: its name upright, its arguments, its attrs (`axis=0`)."""
        name = expr.opdef.name.replace("_", r"\_")
        parts = [self._print(a) for a in expr.args]
        arrays = ()
        if expr.opdef.name == "index_grad":  # its index's arrays print in the index only
            parts, arrays = parts[:2], parts[2:]
        defaults = _defaults(expr.opdef)
        for key, value in expr.attrs.items():
            default = defaults.get(key, inspect.Parameter.empty)
            if value is None or value is False or key == "name":
                continue
            if type(default) is type(value) and default == value:
                continue
            parts.append(rf"\text{{{_escape(key)}}}={_attr_text(value, key, arrays)}")
        return rf"\operatorname{{{name}}}\left({', '.join(parts)}\right)"

    def _print_sigmoid(self, expr, exp=None):
        power = f"^{{{exp}}}" if exp is not None else ""
        return rf"\sigma{power}\left({self._print(expr.args[0])}\right)"


def tex(root: Symbol) -> str:
    """`printing.latex` of a checked symbol."""
    plan = let_plan(root)
    printer = _Printer({"order": "none"} if plan.big else None)  # sorting sums is slow
    parts, root = let_parts(plan, tex_node)
    if not parts:
        return printer.doprint(root)
    rows = [f"{printer.doprint(sp.Symbol(name))} &= {printer.doprint(e)}" for name, e in parts]
    rows.append(rf"&\phantom{{=}}\; {printer.doprint(root)}")
    return r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"
