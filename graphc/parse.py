"""A safe parser for expressions over vars and `gc` functions (the `grad` command's input).

The text is parsed with Python's `ast` and walked with a whitelist; it is never evaluated.
It accepts:

- numbers (``2``, ``0.5``, ``1e-3``) and ``True``/``False``;
- names, which become `gc.var`s (one var per distinct name, shapes optional), except
  ``inf`` and ``nan`` (the floats, as `str` prints them);
- ``+ - * / ** @``, unary ``-``/``+`` and single comparisons ``< <= > >= == !=``;
- array constants as printed, ``const([[1.0, 2.0]])``; several outputs as a tuple, ``(a, b)``;
- calls of the whitelisted `gc` functions (`functions()`), written ``exp(x)`` or ``gc.exp(x)``
  (``np.`` and ``numpy.`` are accepted as aliases), with positional arguments, lists or
  tuples of expressions (``stack([a, b])``) and simple keywords (`keywords()`: ``axis=0``,
  ``keepdims=True``, ``axes=(1, 0)``, ``shape=(2, 3)``, ``dtype="float32"``, ...);
- basic indexing: ``x[0]``, ``x[1:3]``, ``x[:, -1]``, ``x[None]``, ``x[..., 0]``, the
  transpose ``x.T`` and JAX's update ``zeros_like(x).at[1:3].add(g)`` (the gradient of
  indexing, as `str` prints it);
- control flow as `str` prints it, its bodies as lambdas (graphc.parse_scopes).

Everything else (other attribute access, other lambdas, comprehensions, strings outside
keywords, ``**`` with an exponent beyond `MAX_EXPONENT`, nesting deeper than `MAX_DEPTH`, ...) raises
`ParseError` naming the offending part and its column. Arithmetic on numbers alone is folded
here with checked Python arithmetic, so a huge constant is refused instead of computed.
"""

from __future__ import annotations

import ast
import inspect
import math
import operator
import warnings
from typing import Any

import numpy as np

from .const_text import PRINTED_ELEMENTS
from .dispatch import Group, const, var
from .errors import ParseError, did_you_mean
from .ir import Symbol, origin_scope
from .ops.base import OPS, public_ops
from .parse_index import IndexParser, is_at_update
from .parse_scopes import BODIES, KEYWORDS, ORIGIN, assignment, control_call, is_control, let_form

MAX_LENGTH = 100_000  # characters of input
MAX_NODES = 2_000  # syntax-tree nodes, the numbers of array constants not counted
MAX_DEPTH = 100  # nesting of the syntax tree
MAX_EXPONENT = 1_000  # |exponent| of a constant power
MAX_ELEMENTS = 10_000_000  # entries of a shape given to broadcast_to / reshape
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def functions() -> tuple[str, ...]:
    """The `gc` functions the parser accepts: the public ops of the table (`OpDef.public`).

    >>> "exp" in functions() and "less" not in functions()  # x < y is written as such
    True
    """
    return tuple(public_ops())


_NUMBER_NAMES = {"inf": math.inf, "nan": math.nan}  # as printed (numpy's np.inf, np.nan)
_MODULE_ALIASES = ("gc", "graphc", "np", "numpy")


def keywords() -> tuple[str, ...]:
    """The keywords the parser accepts: the attributes of the public ops and the optional
    parameters of their calls (`OpDef.attr_names`, `OpDef.prepare`).

    >>> "axis" in keywords() and "keepdims" in keywords()
    True
    """
    names: dict[str, None] = {}
    for op in public_ops().values():
        names.update(dict.fromkeys(op.attr_names))
        try:
            parameters = inspect.signature(op.prepare).parameters.values()
        except (TypeError, ValueError):
            continue
        names.update(dict.fromkeys(p.name for p in parameters if p.default is not p.empty))
    return tuple(names) + KEYWORDS


# Python's binary operators (the syntax), with their arithmetic on numbers alone; the op of
# the table with that `infix` builds the node (`_binary_op`).
_SYNTAX = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
    ast.Pow: ("**", None),
    ast.MatMult: ("@", None),
    ast.Mod: ("%", operator.mod),
    ast.FloorDiv: ("//", operator.floordiv),
}


def _binary_op(infix: str) -> str | None:
    """The name of the binary op written `infix` (`OpDef.infix`), or None."""
    for name, op in OPS.items():
        if op.infix == infix and op.nin == 2 and not op.comparison:
            return name
    return None


_COMPARE = {
    ast.Lt: "less",
    ast.LtE: "less_equal",
    ast.Gt: "greater",
    ast.GtE: "greater_equal",
    ast.Eq: "equal",
    ast.NotEq: "not_equal",
}
_DESCRIBE = {
    ast.Attribute: "attribute access",
    ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator expression",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.IfExp: "a conditional expression",
    ast.BoolOp: "and/or",
    ast.NamedExpr: "an assignment expression",
    ast.Starred: "a starred argument",
    ast.JoinedStr: "an f-string",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}


class Parsed:
    """The result of `parse`: the expression and its vars by name (first appearance first)."""

    __slots__ = ("expr", "vars")

    def __init__(self, expr, vars: dict[str, Symbol]):
        self.expr = expr
        self.vars = vars

    def __iter__(self):
        return iter((self.expr, self.vars))

    def __repr__(self):
        return f"Parsed({self.expr!r}, vars={list(self.vars)})"


def parse(text: str, shapes: dict | None = None, dtypes: dict | None = None) -> Parsed:
    """Parse `text` into a graph; names become vars (`shapes`/`dtypes` by name, optional).

    Returns a `Parsed` (unpacks as ``expr, vars``).

    >>> from graphc.parse import parse
    >>> y, xs = parse("2*dot(x, x)", shapes={"x": (4,)})
    >>> y.op, list(xs), xs["x"].shape
    ('multiply', ['x'], (4,))
    >>> parse("x.__class__")
    Traceback (most recent call last):
    ...
    graphc.errors.ParseError: attribute access is not allowed (column 1: 'x.__class__')
    """
    if not isinstance(text, str):
        raise ParseError(f"expected an expression string, got {type(text).__name__}")
    if not text.strip():
        raise ParseError("empty expression")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression too long ({len(text)} characters, limit {MAX_LENGTH})")
    try:
        with warnings.catch_warnings():  # e.g. "invalid decimal literal": the error says it
            warnings.simplefilter("ignore")
            tree = ast.parse(text.strip(), mode="exec")
    except SyntaxError as exc:
        raise _syntax_error(text.strip(), exc) from None
    except (RecursionError, MemoryError):
        raise ParseError(f"expression nested too deeply (limit {MAX_DEPTH})") from None
    except ValueError as exc:  # e.g. null bytes
        raise ParseError(f"invalid expression: {exc}") from None
    _check_size(tree)
    builder = _Builder(text.strip(), shapes or {}, dtypes or {})
    # Nodes remember the expression, not the caller's line, as where they were made.
    with origin_scope(ORIGIN):
        last = let_form(builder, tree)
        items = last.elts if isinstance(last, ast.Tuple) else None  # a group: (a, b)
        expr = builder.expr(last, 0) if items is None else [builder.array(e, 1) for e in items]
        if isinstance(expr, (list, tuple)):  # several results (split, slogdet): one symbol
            expr = Group(expr)
        elif not isinstance(expr, Symbol):
            expr = const(expr)
    return Parsed(expr, builder.vars)


def _syntax_error(text: str, exc: SyntaxError) -> ParseError:
    """Python's syntax error as a `ParseError` with its line and column (1-based)."""
    lines = text.splitlines() or [""]
    line = min(max(exc.lineno or 1, 1), len(lines))
    raw = lines[line - 1]
    col = min(max(exc.offset or 1, 1), len(raw) + 1)
    if col > len(raw) and line == len(lines):
        what = "the expression ends too early"
    else:
        what = "invalid syntax" + (f": {exc.msg}" if exc.msg != "invalid syntax" else "")
    place = f"column {col}" if line == 1 else f"line {line}, column {col}"
    return ParseError(f"{what} (at {place})", raw, col)


class _Builder(IndexParser):
    def __init__(self, text: str, shapes: dict, dtypes: dict):
        self.text = text
        self.shapes = shapes
        self.dtypes = dtypes
        self.vars: dict[str, Symbol] = {}
        self.lets: dict[str, Any] = {}  # the names a let-form defines (see _let_form)
        self.in_lambda = False  # in a control-flow body (graphc.parse_scopes)

    # --- errors ------------------------------------------------------------------------
    def fail(self, node: ast.AST, what: str):
        raw, col = self._place(node)
        raise ParseError(f"{what} ({self.where(node)})", raw, col)

    def _place(self, node: ast.AST) -> tuple[str, int]:
        """(the node's line of the expression, its 1-based column in characters)."""
        line = getattr(node, "lineno", 1)
        raw = self.text.splitlines()[line - 1] if self.text.splitlines() else ""
        # col_offset counts UTF-8 bytes; report characters, 1-based.
        col = (
            len(raw.encode("utf-8")[: getattr(node, "col_offset", 0)].decode("utf-8", "replace"))
            + 1
        )
        return raw, col

    def where(self, node: ast.AST) -> str:
        segment = ast.get_source_segment(self.text, node) or ""
        if len(segment) > 40:
            segment = segment[:37] + "..."
        line = getattr(node, "lineno", 1)
        col = self._place(node)[1]
        place = f"column {col}" if line == 1 else f"line {line}, column {col}"
        return f"{place}: {segment!r}"

    def depth_check(self, node, depth: int):
        if depth > MAX_DEPTH:
            self.fail(node, f"expression nested too deeply (limit {MAX_DEPTH})")

    # --- expressions ---------------------------------------------------------------------
    def expr(self, node: ast.AST, depth: int):
        """A symbol or a Python number."""
        self.depth_check(node, depth)
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            return self.var(node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node, depth)
        if isinstance(node, ast.BinOp):
            return self.binop(node, depth)
        if isinstance(node, ast.Compare):
            return self.compare(node, depth)
        if isinstance(node, ast.Call) and is_at_update(node):
            return self.at_update(node, depth)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        if isinstance(node, ast.Subscript):
            return self.subscript(node, depth)
        if isinstance(node, ast.Attribute) and node.attr == "T":  # x.T, the transpose
            return self.apply(node, "transpose", (self.array(node.value, depth + 1),))
        if isinstance(node, ast.NamedExpr) and self.in_lambda:  # (t1 := ...) in a body
            return assignment(self, node, depth)
        if isinstance(node, (ast.List, ast.Tuple)):
            self.fail(node, "a list or tuple is only allowed as a function argument")
        self.fail(node, f"{_DESCRIBE.get(type(node), type(node).__name__)} is not allowed")

    def number(self, node: ast.Constant):
        value = node.value
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            if not _INT_MIN <= value <= _INT_MAX:
                self.fail(node, "integer constant does not fit 64 bits")
            return value
        if isinstance(value, float):
            return value
        if isinstance(value, complex):
            self.fail(node, "complex numbers are not supported")
        if value is None:
            self.fail(node, "None is only allowed in indices and keyword arguments")
        if value is Ellipsis:
            self.fail(node, "... (Ellipsis) is only allowed in indices")
        self.fail(node, f"a {type(value).__name__} constant is not allowed here")

    def var(self, node: ast.Name) -> Symbol | float:
        name = node.id
        if name in self.lets:
            return self.lets[name]
        if name in _NUMBER_NAMES:
            return _NUMBER_NAMES[name]
        v = self.vars.get(name)
        if v is None:
            try:
                v = var(name, shape=self.shapes.get(name), dtype=self.dtypes.get(name))
            except Exception as exc:
                self.fail(node, f"var {name!r}: {exc}")
            self.vars[name] = v
        return v

    def unary(self, node: ast.UnaryOp, depth: int):
        x = self.expr(node.operand, depth + 1)
        if isinstance(node.op, ast.UAdd):
            return x
        if not isinstance(node.op, ast.USub):
            self.fail(node, f"the operator {type(node.op).__name__} is not allowed")
        if isinstance(x, Symbol):
            return self.apply(node, "negative", (x,))
        return self.fold(node, operator.neg, x)

    def binop(self, node: ast.BinOp, depth: int):
        infix, fn = _SYNTAX.get(type(node.op), (None, None))
        name = None if infix is None else _binary_op(infix)
        if name is None:
            self.fail(node, f"the operator {type(node.op).__name__} is not allowed")
        left = self.expr(node.left, depth + 1)
        right = self.expr(node.right, depth + 1)
        if name == "power" and not isinstance(right, Symbol):
            if not isinstance(right, bool) and not abs(right) <= MAX_EXPONENT:
                self.fail(node, f"exponent {right!r} is too large (limit {MAX_EXPONENT})")
            if not isinstance(left, Symbol):
                return self.fold(node, _checked_pow, left, right)
        if isinstance(left, Symbol) or isinstance(right, Symbol):
            return self.apply(node, name, (left, right))
        if fn is None:
            self.fail(node, "@ needs array operands")
        return self.fold(node, fn, left, right)

    def fold(self, node, fn, *args):
        """Arithmetic on numbers alone, checked, in Python (weak types are kept)."""
        try:
            value = fn(*args)
        except ZeroDivisionError:
            self.fail(node, "division by zero in a constant")
        except (ArithmeticError, ValueError, TypeError) as exc:
            self.fail(node, f"constant arithmetic failed: {exc}")
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and not _INT_MIN <= value <= _INT_MAX
        ):
            self.fail(node, "integer constant does not fit 64 bits")
        if isinstance(value, complex):
            self.fail(node, "the constant is complex")
        return value

    def compare(self, node: ast.Compare, depth: int):
        if len(node.ops) != 1:
            self.fail(node, "chained comparisons are not allowed")
        name = _COMPARE.get(type(node.ops[0]))
        if name is None:
            self.fail(node, f"the comparison {type(node.ops[0]).__name__} is not allowed")
        left = self.expr(node.left, depth + 1)
        right = self.expr(node.comparators[0], depth + 1)
        if not isinstance(left, Symbol) and not isinstance(right, Symbol):
            left = const(left)
        return self.apply(node, name, (left, right))

    def apply(self, node, name: str, args: tuple, kwargs: dict | None = None):
        """Call the gc function `name`; any failure becomes a ParseError at `node`."""
        fn = OPS[name]
        try:
            return fn(*args, **(kwargs or {}))
        except RecursionError:
            self.fail(node, "expression nested too deeply")
        except Exception as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            prefix = f"{ORIGIN[0]}:{ORIGIN[1]}: "
            message = message[len(prefix) :] if message.startswith(prefix) else message
            if not message.startswith(f"{name}:") and not message.startswith(f"{name}()"):
                message = f"{name}: {message}"
            self.fail(node, message)

    # --- calls ---------------------------------------------------------------------------
    def function_name(self, func: ast.AST) -> str:
        if isinstance(func, ast.Name):
            name = func.id
        elif (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in _MODULE_ALIASES
        ):
            name = func.attr
        elif isinstance(func, ast.Attribute):
            self.fail(
                func,
                "attribute access is not allowed (call gc functions by name, "
                "e.g. sum(x) rather than x.sum())",
            )
        else:
            self.fail(func, "only gc functions can be called")
        accepted = functions()
        if name not in accepted and name != "const" and name not in BODIES:
            self.fail(
                func,
                f"{name!r} is not a gc function this parser accepts"
                f"{did_you_mean(name, accepted)} (accepted: {', '.join(accepted)})",
            )
        return name

    def call(self, node: ast.Call, depth: int):
        name = self.function_name(node.func)
        if name == "const":
            return self.array_constant(node, depth)
        if is_control(node):
            return control_call(self, node, name, depth)
        args = self.positional(node, depth)
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                self.fail(kw.value, "**keyword arguments are not allowed")
            accepted = keywords()
            if kw.arg not in accepted:
                self.fail(
                    kw.value,
                    f"keyword {kw.arg!r} is not allowed (accepted: {', '.join(accepted)})",
                )
            kwargs[kw.arg] = self.keyword_value(kw.value, depth + 1)
        if name in ("broadcast_to", "reshape"):
            shape = kwargs.get("shape", args[1] if len(args) > 1 else None)
            self.check_size(node, shape)
        if not any(_has_symbol(a) for a in args) and args:
            # Numbers alone would be computed right away (to a numpy value, not a graph);
            # a constant among them, even inside a list, makes the call build a node.
            args[0] = _first_leafconst(args[0])
        return self.apply(node, name, tuple(args), kwargs)

    def positional(self, node: ast.Call, depth: int) -> list:
        """A call's positional arguments (`argument`s)."""
        args = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.fail(arg, "a starred argument is not allowed")
            args.append(self.argument(arg, depth + 1))
        return args

    def array_constant(self, node: ast.Call, depth: int) -> Symbol:
        """`const([[1.0, 2.0], [3.0, 4.0]])`: an array of numbers, as `str` prints one."""
        if "digest" in {kw.arg for kw in node.keywords}:
            self.fail(
                node,
                f"the printout elides this constant's entries (it shows up to "
                f"{PRINTED_ELEMENTS}); save the graph as JSON (gc.save) to keep them",
            )
        if len(node.args) != 1 or node.keywords:
            self.fail(node, "const takes one list of numbers")
        value = self.argument(node.args[0], depth + 1)
        if _has_symbol(value):
            self.fail(node, "const takes numbers only")
        try:
            return const(np.array(value))
        except (ValueError, TypeError) as exc:
            self.fail(node, f"const: {exc}")

    def check_size(self, node, shape):
        dims = shape if isinstance(shape, tuple) else (shape,)
        if (
            all(isinstance(d, int) for d in dims)
            and math.prod(abs(d) for d in dims) > MAX_ELEMENTS
        ):
            self.fail(node, f"shape {shape} has more than {MAX_ELEMENTS} entries")

    def argument(self, node: ast.AST, depth: int):
        """An expression, or a list/tuple of expressions (kept as a tuple)."""
        self.depth_check(node, depth)
        if isinstance(node, (ast.List, ast.Tuple)):
            return tuple(self.argument(e, depth + 1) for e in node.elts)
        return self.expr(node, depth)

    def keyword_value(self, node: ast.AST, depth: int) -> Any:
        """A literal: int, bool, None, a string (dtype names), or a tuple of ints."""
        self.depth_check(node, depth)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if len(node.value) > 32:
                self.fail(node, "string too long")
            return node.value
        if isinstance(node, ast.Constant) and node.value is None:
            return None
        if isinstance(node, (ast.Tuple, ast.List)):  # ints, or tuples of them (tensordot axes)
            nested = (ast.Tuple, ast.List)
            return tuple(
                self.keyword_value(e, depth + 1) if isinstance(e, nested) else self.int_literal(e)
                for e in node.elts
            )
        return self.int_or_number(node)

    def int_or_number(self, node: ast.AST):
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub)
            and isinstance(node.operand, (ast.Constant, ast.Name))
        ):
            return self.fold(node, operator.neg, self.int_or_number(node.operand))
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name) and node.id in _NUMBER_NAMES:  # inf (norm's ord=inf)
            return _NUMBER_NAMES[node.id]
        self.fail(
            node, "keyword values must be numbers, True/False, None, strings or tuples of ints"
        )

    def int_literal(self, node: ast.AST) -> int:
        value = self.int_or_number(node)
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(node, "expected an int")
        return value

    # --- indexing ------------------------------------------------------------------------
    def array(self, node: ast.AST, depth: int) -> Symbol:
        """An expression as a symbol (a number becomes a constant)."""
        value = self.expr(node, depth)
        return value if isinstance(value, Symbol) else const(value)


def _check_size(tree: ast.AST) -> None:
    """At most MAX_NODES syntax nodes, not counting the entries of `const([...])`."""
    count, stack = 0, [tree]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ParseError(f"expression too large (more than {MAX_NODES} syntax nodes)")
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "const"):
            stack.extend(ast.iter_child_nodes(node))


def _has_symbol(value) -> bool:
    if isinstance(value, (tuple, list)):
        return any(_has_symbol(v) for v in value)
    return isinstance(value, Symbol)


def _first_leafconst(value):
    """`value` (a number or nested tuple of numbers) with its first number a constant."""
    if not isinstance(value, tuple):
        return const(value)
    if not value:
        return value
    return (_first_leafconst(value[0]),) + value[1:]


def _checked_pow(base, exponent):
    """`base ** exponent` for numbers, refusing results too large to hold."""
    if isinstance(base, int) and isinstance(exponent, int) and exponent >= 0:
        if abs(base) > 1 and exponent * math.log2(abs(base)) > 64:
            raise OverflowError("integer power too large")
        return base**exponent
    result = float(base) ** exponent if isinstance(exponent, (int, float)) else None
    if isinstance(result, complex):
        raise ValueError("negative number to a fractional power")
    return result
