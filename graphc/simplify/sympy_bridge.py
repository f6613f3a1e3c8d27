"""The sympy bridge: graphc graphs to sympy expressions (`to_sympy`) and back (`from_sympy`).

Both directions are derived from the op table. An elementwise op maps through its `sympy=`
field; every other op (and an elementwise op without one) becomes a sympy function named with
numpy's name that remembers the op and its attrs, so `to_sympy` prints `dot(x, w)` and
`sum(x, axis=0)` and `from_sympy` can rebuild the node. The reverse table is computed from the
same `sympy=` fields: an op whose template is a plain function application (`exp`, `tanh`,
`Abs`, `sigmoid`) is recognised by its head, an op whose template is a composite (`log1p` is
`log(x + 1)`, `sqrt` is `x**(1/2)`) by matching the template, and sums, products and powers
are written with `add`/`subtract`/`multiply`/`divide`/`negative`/`power`.

Python floats become exact sympy numbers where that reads well (`0.5` becomes `1/2`, `2.0`
becomes `2`), so derivatives print in textbook form.

The simplifier uses a *safe* variant (`node_to_sympy(..., safe=True)`): operations that numpy
defines on part of the real line only (`log`, `sqrt`, `arcsin`, non-integer powers, ...)
become opaque functions, so sympy's complex-analysis identities such as `exp(log(x)) = x` or
`sqrt(x)**2 = x`, which would turn numpy's `nan` for negative `x` into a number, cannot fire.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from fractions import Fraction

import numpy as np
import sympy as sp

from ..const_text import const_text
from ..dispatch import const, make_node
from ..errors import GraphcError
from ..ir import Symbol, toposort
from ..ops.base import OPS, on_register
from ..runtime import format_index
from .passes import attr_key
from .sympy_print import (
    UNEVALUATED,
    call_precedence,
    call_text,
    float_with_exponent,
    kept,
)

_ARITH = ("add", "subtract", "multiply", "divide", "negative", "power")


# --- numbers ---------------------------------------------------------------------------


def float_to_sympy(value: float) -> sp.Expr:
    """An exact, readable sympy number for a float: integers as `Integer`, short decimals and
    the floats nearest to simple fractions as `Rational` (0.1 -> 1/10, 1/6. -> 1/6; converting
    back gives the same float), others as `Float`."""
    if math.isnan(value):
        return sp.nan
    if math.isinf(value):
        return sp.oo if value > 0 else -sp.oo
    if value.is_integer() and abs(value) < 2.0**63:
        return sp.Integer(int(value))
    text = repr(value)
    mantissa = text.lstrip("-").split("e")[0].replace(".", "").lstrip("0")
    if len(mantissa) <= 8:
        return sp.Rational(text)
    frac = Fraction(value).limit_denominator(10**6)
    if float(frac) == value:  # 1/6 computed in floats is still 1/6
        return sp.Rational(frac.numerator, frac.denominator)
    return sp.Float(value)


def number_to_sympy(value) -> sp.Expr | None:
    """A sympy number for a Python or numpy number (or a 0-d numeric array), else None."""
    if isinstance(value, np.ndarray):
        if value.ndim != 0 or value.dtype.kind not in "biuf":
            return None
        value = value.item()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return sp.Integer(int(value))
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, float):
        return float_to_sympy(value)
    if isinstance(value, complex):
        return float_to_sympy(value.real) + sp.I * float_to_sympy(value.imag)
    return None


# --- sympy functions standing for graph operations --------------------------------------


class GraphFunction(sp.Function):
    """A graph operation as a sympy function: `opdef` and `attrs` are class attributes, and it
    prints with numpy's name and its attrs (`sum(x, axis=0)`)."""

    opdef = None
    attrs: dict = {}
    order_name = ""  # op name and attrs: sympy orders `x[0:2] + x[2:4]` by it, not by hash

    def sort_key(self, order=None):
        """sympy's key, then the op's name and attrs to break its ties (an ordering by
        hashes, which change from run to run)."""
        return (*super().sort_key(order), self.order_name)

    def _sympystr(self, printer):
        return call_text(self, printer)

    def _latex(self, printer):
        return _format_call(self, printer._print, _latex_text, latex=True)


def _latex_text(text: str) -> str:
    return r"\mathrm{" + text.replace("_", r"\_") + "}"


_LATEX_COMPARISONS = {"<": "<", "<=": r"\leq", ">": ">", ">=": r"\geq", "==": "=", "!=": r"\neq"}


def _format_call(
    fn: GraphFunction, show: Callable, name_text: Callable, latex: bool = False
) -> str:
    op = fn.opdef.name
    args = [show(a) for a in fn.args]
    attrs = fn.attrs
    if fn.opdef.comparison:
        infix = fn.opdef.infix
        return f"({args[0]} {_LATEX_COMPARISONS[infix] if latex else infix} {args[1]})"
    if op == "getitem":
        index = format_index(attrs["index"], arrays=args[1:])
        if latex:
            return rf"{{{args[0]}}}_{{[{index}]}}"
        return f"{_wrap(fn.args[0], args[0])}[{index}]"
    if op == "transpose" and attrs.get("axes") is None:
        return f"{{{args[0]}}}^{{T}}" if latex else f"{_wrap(fn.args[0], args[0])}.T"
    shown = []
    for key, value in attrs.items():
        if not fn.opdef.shows_attr(key, value):
            continue
        if isinstance(value, np.dtype):
            value = value.name
        text = f"{key}={value!r}" if not isinstance(value, str) else f"{key}={value}"
        shown.append(_latex_text(text) if latex else text)
    inner = ", ".join(args + shown)
    if latex:
        name = op.replace("_", r"\_")
        return rf"\operatorname{{{name}}}\left({inner}\right)"
    return f"{name_text(op)}({inner})"


def _wrap(arg, text: str) -> str:
    """Parenthesise a compound operand of a postfix form (`(x + y).T`)."""
    return text if arg.is_Atom or isinstance(arg, sp.Function) else f"({text})"


_FUNCTIONS: dict = {}


def attrs_key(attrs: dict):
    return tuple(sorted((k, attr_key(v)) for k, v in attrs.items()))


def graph_function(opdef, attrs: dict) -> type:
    """The sympy function class standing for `opdef` with these attrs (cached)."""
    key = (opdef.name, attrs_key(attrs))
    cls = _FUNCTIONS.get(key)
    if cls is None:
        fields = {
            "opdef": opdef,
            "attrs": dict(attrs),
            "precedence": call_precedence(opdef),
            "order_name": f"{opdef.name}{key[1]!r}",
        }
        cls = type(opdef.name, (GraphFunction,), fields)
        _FUNCTIONS[key] = cls
    return cls


def opaque_function(name: str) -> type:
    """The undefined sympy function `name` (how the safe mode hides an op from sympy)."""
    return sp.Function(name)


# --- graph -> sympy ---------------------------------------------------------------------

_guarded_cache: dict[str, bool] = {}


def _guarded(op) -> bool:
    """Is `op` defined by numpy on only part of the real line (sympy would extend it)?"""
    hit = _guarded_cache.get(op.name)
    if hit is None:
        args = [sp.Dummy(real=True) for _ in range(op.nin or 1)]
        template = op.sympy(*args)
        hit = template.func is not sp.Mul and template.is_extended_real is not True
        _guarded_cache[op.name] = hit
    return hit


def _int_exponent(node: Symbol) -> int | None:
    """The exponent of `power(x, n)` when n is an integral number constant."""
    e = node.inputs[1]
    if e.op != "const":
        return None
    v = e.attrs["value"]
    if isinstance(v, np.ndarray):
        if v.ndim != 0:
            return None
        v = v.item()
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return int(v) if float(v).is_integer() and abs(v) < 2**31 else None


def node_to_sympy(node: Symbol, args: list, safe: bool = False) -> sp.Expr:
    """The sympy form of one node given its inputs' sympy forms."""
    op = node.opdef
    name = op.name
    if name == "var":
        return sp.Symbol(node.name)
    if name == "const":
        if "name" in node.attrs:
            return sp.Symbol(node.attrs["name"])
        value = node.attrs["value"]
        if not safe and float_with_exponent(value):  # printed as Python does: 1e+308
            return sp.Float(float(value))
        number = number_to_sympy(value)
        return number if number is not None else sp.Symbol(const_text(node.attrs["value"]))
    if op.elementwise and op.sympy is not None and not op.comparison:
        return _elementwise_to_sympy(node, args, safe)
    return graph_function(op, node.attrs)(*args)


def _elementwise_to_sympy(node: Symbol, args: list, safe: bool) -> sp.Expr:
    """An elementwise op through its sympy form. `safe` (for rewriting): only the forms
    exact for every input (an integer power, no guarded op); else (for printing) what the
    graph computes, unevaluated, so that `exp(log(x))` stays."""
    op = node.opdef
    name = op.name
    if safe and name == "power":
        n = _int_exponent(node)
        return args[0] ** n if n is not None else opaque_function(name)(*args)
    if safe and _guarded(op):
        return opaque_function(name)(*args)
    if not safe and name in ("multiply", "divide"):
        return kept(name, args, _keep_factor(name, *args))
    if not safe:
        # Printing shows what the graph computes: exp(log(x)) stays (sympy would print x).
        func = _get_table().funcs.get(name)
        if func is not None:
            return func(*args, evaluate=False)
        if name in ("power", "square", "sqrt") and args[0].is_Pow and not args[0].exp.is_Integer:
            exponent = {"square": 2, "sqrt": sp.Rational(1, 2)}.get(name)
            return sp.Pow(args[0], args[1] if exponent is None else exponent, evaluate=False)
        if name in UNEVALUATED:
            return kept(name, args, op.sympy(*args))
    return op.sympy(*args)


def _keep_factor(name: str, a, b):
    """`a*b` or `a/b`, but a number times a sum stays factored (sympy would distribute:
    `(x - y)/100` prints as such, not as `x/100 - y/100`)."""
    if name == "divide":
        if b == 0:  # sympy's 1/0 is complex infinity; keep what numpy computes
            return sp.Mul(a, sp.Pow(b, -1, evaluate=False), evaluate=False)
        if b.is_Number and b != 0 and isinstance(a, sp.Add):
            return sp.Mul(1 / b, a, evaluate=False)
        return a / b
    if a.is_Number and isinstance(b, sp.Add) and a not in (0, 1, -1):
        return sp.Mul(a, b, evaluate=False)
    if b.is_Number and isinstance(a, sp.Add) and b not in (0, 1, -1):
        return sp.Mul(b, a, evaluate=False)
    return a * b


def to_sympy(sym: Symbol, leaves: Mapping[Symbol, sp.Expr] | None = None) -> sp.Expr:
    """The sympy expression of `sym` (vars become `sympy.Symbol`s of the same name).

    Elementwise operations map through their sympy forms; the others become sympy functions
    named with numpy's names. `leaves` (node -> expression) stands in for sub-graphs.

    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> from graphc.simplify import to_sympy
    >>> to_sympy(gc.tanh(x) * 2)
    2*tanh(x)
    """
    if not isinstance(sym, Symbol):
        raise GraphcError(f"to_sympy: expected a graphc symbol, got {type(sym).__name__}")
    leaves = leaves or {}
    exprs: dict[int, sp.Expr] = {id(k): v for k, v in leaves.items()}
    for node in toposort([sym], stop=list(leaves)):
        if id(node) not in exprs:
            exprs[id(node)] = node_to_sympy(node, [exprs[id(x)] for x in node.inputs])
    return exprs[id(sym)]


# --- sympy -> graph ---------------------------------------------------------------------


class _Table:
    """The reverse of the `sympy=` fields: heads, composite templates, arithmetic ops."""

    def __init__(self):
        self.ops = OPS
        self.heads: dict = {}
        self.funcs: dict = {}  # op name -> its sympy function, for direct mappings
        self.composites: dict = {}
        for op in OPS.values():
            if not op.elementwise or op.sympy is None or op.name in _ARITH or op.comparison:
                continue
            dummies = [sp.Dummy(f"a{i}") for i in range(op.nin or 1)]
            template = op.sympy(*dummies)
            if (
                set(template.args) == set(dummies)
                and len(template.args) == len(dummies)
                and template.func not in (sp.Add, sp.Mul, sp.Pow)
            ):
                self.heads.setdefault(template.func, op)
                self.funcs[op.name] = template.func
                continue
            wilds = [sp.Wild(f"w{i}") for i in range(len(dummies))]
            pattern = template.xreplace(dict(zip(dummies, wilds)))
            self.composites.setdefault(pattern.func, []).append((pattern, wilds, op))


_table: _Table | None = None


def _get_table() -> _Table:
    global _table
    if _table is None:
        _table = _Table()
    return _table


def _forget(op, added: bool) -> None:
    """An op registered or removed: rebuild the reverse table, drop what is cached for it."""
    global _table
    _table = None
    _guarded_cache.pop(op.name, None)
    for key in [k for k in _FUNCTIONS if k[0] == op.name]:
        del _FUNCTIONS[key]


on_register(_forget)


class Converter:
    """Writes a sympy expression as graph operations through `make(opdef, inputs, attrs)`,
    `const(value)` and `leaf(symbol)`; equal subexpressions are converted once.

    `float_numbers` writes integers as floats (2 -> 2.0), so an expression over integer
    inputs that used float constants keeps promoting to float.
    """

    def __init__(
        self, leaf: Callable, make: Callable, const: Callable, float_numbers: bool = False
    ):
        self.leaf = leaf
        self.make = make
        self.const = const
        self.float_numbers = float_numbers
        self.table = _get_table()
        self.memo: dict = {}

    def op(self, name: str, *args):
        return self.make(self.table.ops[name], tuple(args), {})

    def __call__(self, expr):
        # Iterative over sub-expressions (children first), so deep expressions convert
        # without deep recursion; the arithmetic helpers below only look one level down.
        stack = [expr]
        while stack:
            e = stack[-1]
            if e in self.memo:
                stack.pop()
                continue
            pending = [a for a in e.args if a not in self.memo] if not e.is_Atom else []
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            self.memo[e] = self._convert(e)
        return self.memo[expr]

    def sub(self, e):
        hit = self.memo.get(e)
        return hit if hit is not None else self(e)

    def number(self, value):
        if isinstance(value, (int, float, complex)):
            value = sp.sympify(value)
        if value.is_Integer and not self.float_numbers and abs(value) < 2**62:
            return self.const(int(value))
        if value.is_extended_real:
            return self.const(float(value))
        if value is sp.nan:
            return self.const(math.nan)
        return self.const(complex(value))

    def _convert(self, e):
        if e.is_Symbol:
            return self.leaf(e)
        if e.is_Number or e.is_NumberSymbol or e in (sp.zoo, sp.nan):
            return self.number(e)
        if isinstance(e, GraphFunction):
            return self.make(e.opdef, tuple(self.sub(a) for a in e.args), dict(e.attrs))
        composite = self._composite(e)
        if composite is not None:
            return composite
        op = self.table.heads.get(e.func)
        if op is not None:
            args = [self.sub(a) for a in e.args]
            out = self.make(op, tuple(args[: op.nin or len(args)]), {})
            for a in args[op.nin or len(args) :]:  # n-ary Max/Min as a chain
                out = self.make(op, (out, a), {})
            return out
        if isinstance(e, sp.Add):
            return self._add(list(e.args))
        if isinstance(e, (sp.Mul, sp.Pow)):
            return self._mul(e)
        if isinstance(e, sp.core.function.AppliedUndef) and e.func.__name__ in self.table.ops:
            return self.make(
                self.table.ops[e.func.__name__], tuple(self.sub(a) for a in e.args), {}
            )
        raise GraphcError(f"from_sympy: no graphc operation for {type(e).__name__} in {e}")

    def _composite(self, e):
        for pattern, wilds, op in self.table.composites.get(e.func, ()):
            if isinstance(e, sp.Add) and len(e.args) > len(pattern.args):
                hit = self._composite_in_sum(e, pattern, wilds, op)
            else:
                binding: dict = {}
                hit = None
                if _match(e, pattern, binding) and all(w in binding for w in wilds):
                    hit = self.make(op, tuple(self.sub(binding[w]) for w in wilds), {})
            if hit is not None:
                return hit
        return None

    def _composite_in_sum(self, e, pattern, wilds, op):
        """`exp(x) - 1 + y` holds expm1's template `exp(w) - 1` among its terms."""
        numbers = [a for a in pattern.args if a.is_Number]
        others = [a for a in pattern.args if not a.is_Number]
        if len(others) != 1 or numbers != [a for a in e.args if a.is_Number]:
            return None
        for term in e.args:
            binding: dict = {}
            if (
                term.is_Number
                or not _match(term, others[0], binding)
                or not all(w in binding for w in wilds)
            ):
                continue
            hit = self.make(op, tuple(self.sub(binding[w]) for w in wilds), {})
            rest = [a for a in e.args if a is not term and not a.is_Number]
            return self._add(rest, start=hit)
        return None

    def _add(self, terms: list, start=None):
        pos, neg = [], []
        for t in terms:
            coeff, _ = t.as_coeff_Mul()
            if coeff.is_Number and coeff.is_extended_negative:
                neg.append(-t)
            else:
                pos.append(t)
        out = start
        for t in pos:
            node = self.sub(t)
            out = node if out is None else self.op("add", out, node)
        for t in neg:
            node = self.sub(t)
            out = self.op("negative", node) if out is None else self.op("subtract", out, node)
        return out

    def _mul(self, e):
        coeff, factors = e.as_coeff_mul()
        num, den = [], []
        for f in factors:
            if f.is_Pow and f.exp.is_Number and f.exp.is_extended_negative:
                den.append(f.base ** (-f.exp))
            else:
                num.append(f)
        negative = bool(coeff.is_extended_negative)
        coeff = -coeff if negative else coeff
        lead_num = lead_den = None
        if coeff.is_Rational and coeff != 1:
            p, q = int(coeff.p), int(coeff.q)
            if q == 1:
                lead_num = p
            elif p == 1:
                lead_den = q
            else:
                lead_num = float(coeff)
        elif not coeff.is_Rational:
            lead_num = float(coeff)
        negate = False
        if negative:  # fold the sign into a number where there is one
            if lead_num is not None:
                lead_num = -lead_num
            elif lead_den is not None:
                lead_den = -lead_den
            elif den and not num:
                lead_num = -1
            else:
                negate = True
        top = self._product(num, lead_num)
        bottom = self._product(den, lead_den)
        if top is None:
            top = self.number(1)
        if negate:
            top = self.op("negative", top)
        return top if bottom is None else self.op("divide", top, bottom)

    def _product(self, factors: list, lead):
        out = None if lead is None else self.number(lead)
        for f in factors:
            node = self._power(f) if f.is_Pow else self.sub(f)
            out = node if out is None else self.op("multiply", out, node)
        return out

    def _power(self, f):
        composite = self._composite(f)
        if composite is not None:
            return composite
        base, exponent = f.args
        if exponent.is_Integer:
            return self.op("power", self.sub(base), self.const(int(exponent)))
        if exponent.is_Number:
            return self.op("power", self.sub(base), self.const(float(exponent)))
        return self.op("power", self.sub(base), self.sub(exponent))


def _match(e, pattern, binding: dict) -> bool:
    """Structural match of an op template (Wilds stand for operands): unlike sympy's `match`,
    `log(x)` does not match `log(w + 1)` with w = x - 1."""
    if isinstance(pattern, sp.Wild):
        if pattern in binding:
            return binding[pattern] == e
        binding[pattern] = e
        return True
    if pattern.is_Atom:
        return e == pattern
    if e.func != pattern.func:
        return False
    if pattern.func in (sp.Add, sp.Mul):
        return _match_terms(e, pattern, binding)
    if len(e.args) != len(pattern.args):
        return False
    return all(_match(a, b, binding) for a, b in zip(e.args, pattern.args))


def _match_terms(e, pattern, binding: dict) -> bool:
    """`_match` for a sum or a product: the same numbers, then the other terms in order; a
    single Wild among them takes all the other terms of `e`."""
    p_numbers = [a for a in pattern.args if a.is_Number]
    e_numbers = [a for a in e.args if a.is_Number]
    if p_numbers != e_numbers:
        return False
    p_rest = [a for a in pattern.args if not a.is_Number]
    e_rest = [a for a in e.args if not a.is_Number]
    if len(p_rest) == 1 and isinstance(p_rest[0], sp.Wild) and e_rest:
        return _match(pattern.func(*e_rest), p_rest[0], binding)
    if len(p_rest) != len(e_rest):
        return False
    return all(_match(a, b, binding) for a, b in zip(e_rest, p_rest))


def from_sympy(expr, leaves) -> Symbol:
    """Build the graph of a sympy expression; `leaves` maps sympy symbols (or their names)
    to graphc symbols.

    >>> import graphc as gc
    >>> import sympy as sp
    >>> x = gc.var("x")
    >>> from graphc.simplify import from_sympy
    >>> print(from_sympy(sp.log(sp.Symbol("x") + 1), {"x": x}))
    log(x + 1)
    """
    if isinstance(expr, (int, float, complex)) and not isinstance(expr, bool):
        expr = sp.sympify(expr)
    if not isinstance(expr, sp.Basic):  # never parse a string: that would evaluate it
        raise GraphcError(f"from_sympy: expected a sympy expression, got {type(expr).__name__}")
    by_name = {}
    for key, value in dict(leaves).items():
        by_name[key if isinstance(key, str) else str(key)] = value

    def leaf(e):
        name = str(e)
        if name not in by_name:
            raise GraphcError(f"from_sympy: no graphc symbol given for {name!r}")
        value = by_name[name]
        return value if isinstance(value, Symbol) else const(value)

    def make(opdef, inputs, attrs):
        return make_node(opdef, tuple(inputs), opdef.check_attrs(dict(attrs)))

    return Converter(leaf, make, const)(expr)
