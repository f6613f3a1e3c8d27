"""The fused backend's op: one node computing a whole cluster of elementwise ops in one
pass (`gc.compile(..., backend="numexpr")`, see `graphc.backends.numexpr`).

A `fused` node is made by the backend's lowering, after differentiation and simplification,
right before the program is written: it has no derivative rules (a `GradError` says so). Its
attrs hold the cluster as a tree, never as text:

- ``("in", k)``: input `k` of the node;
- ``("lit", number)``: a finite Python int or float (written as a literal);
- ``(op_name, *children)``: an elementwise op of the table with a `numexpr` fact;

and `reduce` (``"sum"``: the cluster's values summed, a 0-d result). The expression text is
written from the ops' `numexpr` facts and the program's internal names only (`text`), so
nothing a user wrote reaches numexpr's parser; `impl` evaluates the tree with numpy.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..errors import ArgumentError, GradError
from .base import OPS, OpDef, broadcast_shapes, numeric_dtype, register

# Binding strengths in numexpr's (Python's) grammar, for the fewest parentheses that keep
# numpy's evaluation order: an atom (name, number, call) binds tightest.
ATOM, UNARY, COMPARE = 100, 50, 20
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
CALL = re.compile(r"[a-z0-9_]+\(")
# Names numexpr reads as its own (functions, constants): a leaf with one of them is renamed.
NUMEXPR_WORDS = frozenset(
    "abs arccos arccosh arcsin arcsinh arctan arctan2 arctanh ceil complex conj contains "
    "copy copysign cos cosh exp expm1 floor fmod hypot imag isfinite isinf isnan log log10 "
    "log1p log2 max maximum min minimum nextafter ones_like prod real round sign signbit sin "
    "sinh sqrt sum tan tanh trunc where True False None and or not in is".split()
)


def template(op: OpDef) -> str | None:
    """numexpr's spelling of elementwise op `op` (its `numexpr` fact): the fact itself when it
    is a template, else derived from the op's operator or its numpy ufunc's name; None when
    numexpr has no such function (the op stays a numpy statement).

    >>> template(OPS["sin"]), template(OPS["add"]), template(OPS["square"])
    ('sin({0})', '{0} + {1}', '({0} * {0})')
    """
    fact = op.numexpr
    if fact is None or fact is False:
        return None
    if fact is not True:
        return fact
    if op.infix is not None:
        return op.infix + "{0}" if op.nin == 1 else "{0} " + op.infix + " {1}"
    return f"{op.fn.__name__}({', '.join(f'{{{i}}}' for i in range(op.nin))})"


def _strength(op: OpDef) -> int:
    """How tightly `op`'s spelling binds (ATOM for a call or a parenthesised template)."""
    if op.numexpr is True and op.infix is not None:
        if op.nin == 1:
            return UNARY
        return COMPARE if op.comparison else op.precedence
    return ATOM


def number_text(value) -> str:
    """A finite builtin int or float as numexpr source (negative ones parenthesised)."""
    text = (int.__repr__ if type(value) is int else float.__repr__)(value)
    return f"({text})" if text.startswith("-") else text


def text(tree, names) -> str:
    """The numexpr expression of `tree`, input `k` written as `names[k]`.

    >>> text(("add", ("sin", ("in", 0)), ("multiply", ("lit", 2.0), ("in", 1))), ["x", "t1"])
    'sin(x) + 2.0 * t1'
    """
    return _text(tree, names)[0]


def _text(tree, names) -> tuple[str, int]:
    kind = tree[0]
    if kind == "in":
        return names[tree[1]], ATOM
    if kind == "lit":
        return number_text(tree[1]), ATOM
    op = OPS[kind]
    args = [_text(child, names) for child in tree[1:]]
    strength = _strength(op)
    if strength == ATOM:  # a call (its arguments as they are), or a bracketed template
        need = 0 if CALL.match(template(op)) else ATOM
        return template(op).format(*(_bracket(a, need) for a in args)), ATOM
    if op.nin == 1:
        return template(op).format(_bracket(args[0], UNARY)), UNARY
    # Binary operators keep numpy's order exactly: the left operand is bracketed when it
    # binds less tightly, the right one when it binds less or equally ((a - b) - c but
    # a - (b - c)); ** is right-associative, the other way round.
    left, right = (strength + 1, strength) if op.infix == "**" else (strength, strength + 1)
    return template(op).format(_bracket(args[0], left), _bracket(args[1], right)), strength


def _bracket(arg: tuple[str, int], need: int) -> str:
    body, strength = arg
    return body if strength >= need else f"({body})"


def _check_tree(tree, n_inputs: int | None):
    """`tree` as nested tuples, validated: every op has a `numexpr` fact and its arity, every
    input index is an int, every literal a finite builtin number."""
    if not isinstance(tree, (tuple, list)) or not tree or not isinstance(tree[0], str):
        raise ArgumentError(f"fused: not an expression tree: {tree!r}")
    kind, rest = tree[0], tuple(tree[1:])
    if kind == "in":
        ok = len(rest) == 1 and type(rest[0]) is int and rest[0] >= 0
        if not ok or (n_inputs is not None and rest[0] >= n_inputs):
            raise ArgumentError(f"fused: bad input reference {tree!r}")
        return ("in", rest[0])
    if kind == "lit":
        value = rest[0] if len(rest) == 1 else None
        if type(value) not in (int, float) or not math.isfinite(value):
            raise ArgumentError(f"fused: a literal must be a finite int or float, got {tree!r}")
        return ("lit", value)
    op = OPS.get(kind)
    if op is None or template(op) is None or len(rest) != op.nin:
        raise ArgumentError(f"fused: {kind!r} is not an op numexpr computes (in {tree!r})")
    return (kind, *(_check_tree(child, n_inputs) for child in rest))


class Fused(OpDef):
    """A cluster of elementwise ops (and a final full `sum`) evaluated by numexpr in one pass."""

    name = "fused"
    nin = None
    attr_names = ("tree", "reduce", "dtype")
    fresh = True
    foldable = False
    records_on_tape = False

    def check_attrs(self, attrs):
        unknown = set(attrs) - set(self.attr_names)
        if unknown or "tree" not in attrs or "dtype" not in attrs:
            raise ArgumentError(f"fused: attrs are tree, reduce and dtype, got {sorted(attrs)}")
        reduce = attrs.get("reduce")
        if reduce not in (None, "sum"):
            raise ArgumentError(f"fused: reduce is None or 'sum', got {reduce!r}")
        dtype = numeric_dtype(attrs["dtype"], "fused", ArgumentError)
        return {"tree": _check_tree(attrs["tree"], None), "reduce": reduce, "dtype": dtype.str}

    def shape(self, *shapes, tree, reduce=None, dtype=None):
        return () if reduce else broadcast_shapes(*shapes, op="fused")

    def dtype(self, *dtypes, tree, reduce=None, dtype=None):
        return np.dtype(dtype)

    def impl(self, *xs, tree, reduce=None, dtype=None):
        with np.errstate(all="ignore"):
            value = _evaluate(tree, xs)
            value = np.asarray(value, dtype=dtype) if not reduce else np.sum(value, dtype=dtype)
        return value

    def emit(self, *names, tree, reduce=None, dtype=None):
        """``_ne("<expression>", a=a, ...)``: the cluster's numexpr call (`_ne` compiles once
        per expression and argument dtypes: `graphc.runtime._ne`); a sum's 0-d
        result is taken out as a numpy scalar, as numpy's sum gives."""
        body, local = self.expression(names, tree, reduce)
        kwargs = ", ".join(f"{a}={n}" for a, n in zip(local, names))
        return f'_ne("{body}", {kwargs})' + ("[()]" if reduce else "")

    def expression(self, names, tree, reduce=None) -> tuple[str, list[str]]:
        """(numexpr's expression text, the names it gives the inputs): `names` themselves
        where numexpr reads them as plain names, else ``a_<k>``."""
        local = [
            n if NAME.match(n) and n not in NUMEXPR_WORDS and not n.startswith("a_") else f"a_{k}"
            for k, n in enumerate(names)
        ]
        body = text(tree, local)
        return (f"{reduce}({body})" if reduce else body), local

    def vjp(self, g, y, *xs, **attrs):
        raise _no_derivative(self.name, "numexpr")

    jvp = vjp


def _no_derivative(op: str, backend: str) -> GradError:
    return GradError(
        f"a {op} node has no derivative: the {backend} backend makes it after "
        "differentiation, when the program is written; differentiate the graph before "
        "compiling it"
    )


def _evaluate(tree, xs):
    kind = tree[0]
    if kind == "in":
        return xs[tree[1]]
    if kind == "lit":
        return tree[1]
    return OPS[kind].impl(*(_evaluate(child, xs) for child in tree[1:]))


fused = register(Fused())


# --- one loop, several results: the "numba" backend's cluster node ------------------------

# How a loop reads each input: one of the loop's shape, a single entry, one to broadcast
# (copied to the loop's shape); with the loop cut at axis `split` into rows and columns, one
# the same in every row (shape[split:]) or one entry per row (shape[:split]), read as it is.
KINDS = ("a", "s", "b", "r", "c")


class FusedLoop(OpDef):
    """A cluster of elementwise ops computed in one loop over its entries, with several
    results: the values read outside the cluster and full sums (`graphc.backends.numba`).

    Its attrs hold the cluster as numbered steps, never as text: ``(op_name, dtype, *args)``
    with each argument ``("in", k)`` (input `k`), ``("lit", number)`` or ``("v", j)`` (step
    `j`'s value); `outs` lists ``(j, reduce)`` (reduce None or ``"sum"``); `shape` is the
    loop's shape, `split` the axis where the loop is cut into rows and columns (0: one flat
    loop; the default) and `kinds` says how each input is read (`KINDS`). With one result the
    node is that value, else a tuple (read by `get` nodes).

    >>> loop = OPS["fused_loop"]
    >>> attrs = loop.check_attrs({"steps": (("sin", "float64", ("in", 0)),
    ...     ("multiply", "float64", ("v", 0), ("lit", 2.0))), "outs": ((1, None), (1, "sum")),
    ...     "shape": (3,), "kinds": ("a",)})
    >>> [a.tolist() for a in loop.impl(np.zeros(3), **attrs)]
    [[0.0, 0.0, 0.0], 0.0]
    """

    name = "fused_loop"
    nin = None
    attr_names = ("steps", "outs", "shape", "kinds", "split")
    foldable = False
    records_on_tape = False

    def check_attrs(self, attrs):
        attrs = {"split": 0, **attrs}
        if set(attrs) != set(self.attr_names):
            raise ArgumentError(f"fused_loop: attrs are {self.attr_names}, got {sorted(attrs)}")
        kinds = tuple(attrs["kinds"])
        steps = tuple(_check_step(s, j, len(kinds)) for j, s in enumerate(attrs["steps"]))
        outs = tuple((_index(j, len(steps)), r) for j, r in attrs["outs"])
        if not outs or any(r not in (None, "sum") for _, r in outs):
            raise ArgumentError(f"fused_loop: bad outs {attrs['outs']!r}")
        shape = tuple(attrs["shape"])
        if any(type(d) is not int or d < 0 for d in shape) or any(k not in KINDS for k in kinds):
            raise ArgumentError(f"fused_loop: bad shape or kinds {shape!r}, {kinds!r}")
        split = attrs["split"]
        rowwise = type(split) is int and 0 < split < len(shape)
        if not (rowwise or split == 0) or (not rowwise and ({"r", "c"} & set(kinds))):
            raise ArgumentError(f"fused_loop: bad split {split!r} of {shape!r} for {kinds!r}")
        return {"steps": steps, "outs": outs, "shape": shape, "kinds": kinds, "split": split}

    def element_types(self, node) -> list:
        """(shape, dtype) of each result."""
        return _types(**node.attrs)

    def node_type(self, inputs, attrs):
        types = _types(**attrs)
        return types[0] if len(types) == 1 else (None, None)

    def impl(self, *xs, steps, outs, shape, kinds, split=0):
        values: list = []
        with np.errstate(all="ignore"):
            for op, dtype, *args in steps:
                ins = [
                    xs[a[1]] if a[0] == "in" else a[1] if a[0] == "lit" else values[a[1]]
                    for a in args
                ]
                values.append(np.asarray(OPS[op].impl(*ins)).astype(dtype, copy=False))
            results = [
                np.broadcast_to(values[j], shape).copy() if r is None else values[j].sum()
                for j, r in outs
            ]
        return results[0] if len(results) == 1 else tuple(results)

    def emit(self, *names, steps, outs, shape, kinds, split=0):
        """The loop as numpy statements in one expression (the numba backend writes a call
        of its kernel instead): each step's value named ``_f<j>`` in turn, then the results.

        >>> OPS["fused_loop"].emit("x", steps=(("sin", "float64", ("in", 0)),
        ...     ("multiply", "float64", ("v", 0), ("lit", 2.0))), outs=((1, "sum"),),
        ...     shape=(3,), kinds=("a",))
        '(_f0 := np.sin(x), _f1 := _f0 * 2.0, np.sum(_f1))[-1]'
        """
        texts = []
        for j, (op, _, *args) in enumerate(steps):
            spelled = [
                names[a[1]]
                if a[0] == "in"
                else number_text(a[1])
                if a[0] == "lit"
                else f"_f{a[1]}"
                for a in args
            ]
            texts.append(f"_f{j} := {OPS[op].emit(*spelled)}")  # (atoms: no brackets)
        results = [f"_f{j}" if r is None else f"np.sum(_f{j})" for j, r in outs]
        value = results[0] if len(results) == 1 else f"({', '.join(results)})"
        return f"({', '.join(texts)}, {value})[-1]"

    def vjp(self, g, y, *xs, **attrs):
        raise _no_derivative(self.name, "numba")

    jvp = vjp


def _types(steps, outs, shape, kinds, split=0) -> list:
    return [((shape if r is None else ()), np.dtype(steps[j][1])) for j, r in outs]


def _index(j, n: int) -> int:
    if type(j) is not int or not 0 <= j < n:
        raise ArgumentError(f"fused_loop: bad step reference {j!r}")
    return j


def _check_step(step, j: int, n_inputs: int):
    if not isinstance(step, (tuple, list)) or len(step) < 2:
        raise ArgumentError(f"fused_loop: not a step: {step!r}")
    kind, dtype, *args = step
    op = OPS.get(kind) if isinstance(kind, str) else None
    if op is None or template(op) is None or len(args) != op.nin:
        raise ArgumentError(f"fused_loop: {kind!r} is not an op a loop computes (in {step!r})")
    if not isinstance(dtype, str) or dtype not in ("float32", "float64", "bool"):
        raise ArgumentError(f"fused_loop: a step's dtype is float32, float64 or bool: {step!r}")
    checked = []
    for a in args:
        if isinstance(a, (tuple, list)) and len(a) == 2 and a[0] == "v":
            checked.append(("v", _index(a[1], j)))
        else:
            checked.append(_check_tree(a, n_inputs))
    return (kind, dtype, *checked)


fused_loop = register(FusedLoop())
