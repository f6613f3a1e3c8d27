"""The reverse pass as `gc.explain` shows it: one `Step` per node, in the order it runs.

The walk is `autodiff.backprop` itself, watched through its `trace` hook: each step holds
the node, its adjoint (the gradient of the output with respect to it) and, for every input
that wants a cotangent, what the op table's VJP rule sent it. A step's local derivative is
derived from the same rule, never from a second table: for an elementwise op, or a node with
one value, it is the VJP of a unit adjoint (before the sum down to a broadcast input's
shape), e.g. `1 - tanh(u)**2` for `tanh(u)`; for any other op it is the VJP as a map of a
symbolic adjoint `g`, e.g. `g -> W.T @ g` for `W @ x`. Expressions print with the readable
printer, simplified; with values (`at`), every adjoint and contribution is computed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from .autodiff import as_cotangent, backprop
from .binding import argument_vars
from .dispatch import Group, const, var
from .executor import eval_symbol
from .ir import Symbol, format_origin, origin_scope, toposort
from .printing import one_line, to_str
from .simplify import run

SMALL = 6  # arrays of at most this many entries are shown in full


class Contribution:
    """What one step sends to one of its inputs.

    `input` is the input node and `position` its place among the op's inputs; `local` the
    local derivative (a symbol; None for a tuple-valued node) and `local_text` its printout;
    `is_map` tells that it is the VJP as a map of a symbolic adjoint (`g -> W.T @ g`), not
    a factor; `symbol` the contribution, simplified (None: the rule sends zero, as for
    `floor`); `value` its value with `at`.
    """

    __slots__ = ("input", "position", "local", "local_text", "is_map", "symbol", "value")

    def __init__(self, input, position, local, local_text, is_map, symbol):
        self.input = input
        self.position = position
        self.local = local
        self.local_text = local_text
        self.is_map = is_map
        self.symbol = symbol
        self.value = None

    @property
    def text(self) -> str:
        return "0" if self.symbol is None else _text(self.symbol)

    def __repr__(self):
        return f"<Contribution to {flat(to_str(self.input))}: {self.text}>"


class Step:
    """One node of the reverse pass: `node`, its `adjoint` (simplified; `adjoint_value` with
    `at`) and one `Contribution` per input that receives a cotangent."""

    __slots__ = ("index", "node", "adjoint", "adjoint_value", "contributions")

    def __init__(self, index, node, adjoint, contributions):
        self.index = index
        self.node = node
        self.adjoint = adjoint
        self.adjoint_value = None
        self.contributions = contributions

    @property
    def line(self) -> str:
        """The user's `file:line` that built the node."""
        return format_origin(self.node.origin)

    @property
    def expression(self) -> str:
        return flat(to_str(self.node))

    @property
    def adjoint_text(self) -> str:
        return _text(self.adjoint)

    def __repr__(self):
        return f"<Step {self.index} {self.node.op} at {self.line}: adjoint {self.adjoint_text}>"


def flat(text: str) -> str:
    """A printout on one line, with single spaces."""
    return " ".join(one_line(text).split())


def _text(sym) -> str:
    if isinstance(sym, tuple):
        return "(" + ", ".join("0" if s is None else _text(s) for s in sym) + ")"
    return flat(to_str(sym))


class _Recorder:
    """Collects the steps `backprop` runs, with the raw symbols each shows."""

    def __init__(self):
        self.raw: list[tuple[Symbol, object, list]] = []

    def __call__(self, node, g, targets, contribs):
        parts = []
        for i, (x, wanted, ct) in enumerate(zip(node.inputs, targets, contribs)):
            if wanted:
                with origin_scope(node.origin):
                    local = _local(node, i, targets, g)
                if ct is not None and not isinstance(ct, tuple):  # (a tuple-valued input's
                    ct = as_cotangent(ct, x)  # cotangent is a tuple)
                parts.append((i, x, local, ct))
        self.raw.append((node, g, parts))


def _adjoint_name(node: Symbol) -> str:
    taken = set(argument_vars(node))
    name = "g"
    while name in taken:
        name += "_"
    return name


def _local(node: Symbol, i: int, targets, g):
    """(symbol, is_map) for the local derivative of `node` in input `i`, from its VJP: of a
    unit adjoint for an elementwise op or a node with one value (a factor), else of a
    symbolic adjoint var (a map)."""
    if isinstance(g, tuple):
        return None, False
    opdef = node.opdef
    factor = opdef.elementwise or node.shape == ()
    adjoint = 1.0 if factor else var(_adjoint_name(node), shape=node.shape, dtype=node.dtype)
    only = [j == i for j in range(len(targets))]
    d = opdef.vjp_some(only, adjoint, node, *node.inputs, **node.attrs)[i]
    if factor and d is not None:
        if isinstance(d, Symbol) and d.op == "sum_to":  # the factor, before the sum to a
            d = d.inputs[0]  # broadcast input's shape
        d = as_cotangent(d, node.inputs[i])
    return d, not factor


def _symbols(s) -> list[Symbol]:
    """The symbols in `s`: a symbol, a tuple of them (None: zero), a number or None."""
    if isinstance(s, tuple):
        return [t for t in s if isinstance(t, Symbol)]
    return [s] if isinstance(s, Symbol) else []


def walk(y: Symbol, head, wrts: Sequence[Symbol]) -> tuple[list[Step], dict]:
    """The steps of the reverse pass of `y` (seeded with `head`) towards `wrts`, simplified
    for printing, and the raw cotangents (id -> symbol) it computed."""
    rec = _Recorder()
    cts = backprop([y], [head], wrts, trace=rec)
    symbols = []
    for _node, g, parts in rec.raw:
        symbols += _symbols(g)
        for _, _, (local, _), ct in parts:
            symbols += _symbols(local) + _symbols(ct)
    simple = dict(zip(map(id, symbols), run(symbols))) if symbols else {}

    def get(s):
        if isinstance(s, tuple):
            return tuple(None if t is None else get(t) for t in s)
        return simple.get(id(s), s) if isinstance(s, Symbol) else const(s)

    steps = []
    for k, (node, g, parts) in enumerate(rec.raw, 1):
        contributions = []
        for i, x, (local, is_map), ct in parts:
            local_s = None if local is None else get(local)
            if local_s is None:
                local_text = "0" if local is None and not isinstance(g, tuple) else ""
            else:
                local_text = _text(local_s)
                if is_map:
                    local_text = f"{_adjoint_name(node)} -> {local_text}"
            contributions.append(
                Contribution(x, i, local_s, local_text, is_map, None if ct is None else get(ct))
            )
        steps.append(Step(k, node, get(g), contributions))
    return steps, cts


def evaluate(symbols: Sequence[Symbol], at: Mapping) -> list[np.ndarray]:
    """The values of `symbols` for the arrays `at` (by var name; names the symbols do not use
    are ignored)."""
    group = Group(list(symbols))
    names = set(argument_vars(group))
    return eval_symbol(group, {k: v for k, v in at.items() if k in names})


def place(origin) -> str:
    """`file:line` with the file's base name (records keep the full path).

    >>> place(("/home/me/train.py", 12))
    'train.py:12'
    """
    return "<unknown>" if origin is None else f"{os.path.basename(str(origin[0]))}:{origin[1]}"


def fill_values(steps: list[Step], at: Mapping) -> None:
    """Set every step's `adjoint_value` and contribution `value` for the arrays `at`."""
    slots, symbols = [], []
    for step in steps:
        if isinstance(step.adjoint, Symbol):
            slots.append((step, None))
            symbols.append(step.adjoint)
        for c in step.contributions:
            if c.symbol is None:  # the rule sent nothing: zero
                c.value = np.zeros(())
            elif isinstance(c.symbol, Symbol):  # (no values for a tuple-valued input)
                slots.append((step, c))
                symbols.append(c.symbol)
    if not symbols:
        return
    for (step, c), value in zip(slots, evaluate(symbols, at)):
        if c is None:
            step.adjoint_value = value
        else:
            c.value = value


def show_value(value) -> str:
    """An array in full when it is small, else its shape, min, max and norm.

    >>> show_value(np.array([1.0, 2.5]))
    '[1, 2.5]'
    >>> show_value(np.arange(12.0).reshape(3, 4))
    'shape (3, 4), min 0, max 11, norm 22.49'
    """
    if value is None:
        return ""
    arr = np.asarray(value)
    if arr.size <= SMALL:
        if arr.ndim == 0:
            return f"{arr.item():.4g}"
        return np.array2string(
            arr, precision=4, separator=", ", formatter={"float_kind": "{:.4g}".format}
        ).replace("\n", "")
    finite = arr[np.isfinite(arr)] if arr.dtype.kind in "fc" else arr
    lo, hi = (finite.min(), finite.max()) if finite.size else (np.nan, np.nan)
    return (
        f"shape {tuple(arr.shape)}, min {lo:.4g}, max {hi:.4g}, "
        f"norm {float(np.linalg.norm(arr.ravel())):.4g}"
    )


def reached(y: Symbol, source: Symbol) -> set[int]:
    """ids of the nodes of `y`'s graph that depend on `source` in any way (derivatives or
    not)."""
    out = {id(source)}
    for node in toposort([y]):
        if any(id(x) in out for x in node.inputs):
            out.add(id(node))
    return out
