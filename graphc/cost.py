"""`gc.cost`: the flops and bytes a compiled program and its gradient take, from shapes alone.

The program costed is the one `gc.compile` would emit for those shapes (specialised and
simplified); each operation's cost is its op's `cost` fact (`OpDef.cost`, formulas in
`graphc.ops.costs`). With `wrt`, the gradient program (the outputs and their gradients, as
`gc.compile(inputs, [y, *gc.grad(y, wrt)])` computes them) is costed too, split into the
forward part (what the outputs need) and the backward part (the rest), and compared with the
outputs alone: the "cheap gradient principle" says the ratio is a small constant (about 2-4
for a network of matrix products), whatever the number of inputs.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from .autodiff import grad
from .dispatch import checks_call
from .errors import ArgumentError
from .function import Function, optimize
from .ir import Symbol, as_list, flatten_outputs, free_vars, retype_vars, toposort
from .ops.costs import static
from .reports import ArgType, show_signature

_FREE_OPS = ("var", "const", "group")


class OpCost(NamedTuple):
    """One operation of a costed program: its phase ("forward" or "backward"), op, the
    user's line that built it, its shape, flops and bytes moved (None: not known)."""

    phase: str
    op: str
    where: str
    shape: tuple | None
    flops: int | None
    bytes: int | None


class Total(NamedTuple):
    """Flops and bytes moved by a program (None: some operation's cost is not known)."""

    flops: int | None
    bytes: int | None


def _total(rows) -> Total:
    flops = [r.flops for r in rows]
    nbytes_ = [r.bytes for r in rows]
    return Total(None if None in flops else sum(flops), None if None in nbytes_ else sum(nbytes_))


def _num(n) -> str:
    return "?" if n is None else f"{n:,}"


def _times(a, b) -> str:
    return "" if a is None or not b else f" ({a / b:.2f}x the forward)"


class CostReport:
    """What `gc.cost` found: `rows` (one `OpCost` per operation of the program costed: the
    gradient program with `wrt`, else the outputs' program), `forward` (the `Total` of the
    outputs alone), `gradient` (the `Total` of the outputs and their gradients, None without
    `wrt`), `ratio` (gradient flops over forward flops), `by_op()` (per phase and op:
    count, flops, bytes) and `unknown` (why a cost is not known, if it is not)."""

    def __init__(self, signature, rows, forward, gradient, unknown):
        self.signature = signature
        self.rows = rows
        self.forward = forward
        self.gradient = gradient
        self.unknown = unknown

    @property
    def ratio(self) -> float | None:
        """Gradient program flops / forward flops (None without `wrt` or when unknown)."""
        g, f = self.gradient, self.forward
        if g is None or g.flops is None or not f.flops:
            return None
        return g.flops / f.flops

    def by_op(self) -> dict:
        """(phase, op) -> (count, flops, bytes), in order of first appearance."""
        out: dict = {}
        for r in self.rows:
            count, flops, nb = out.get((r.phase, r.op), (0, 0, 0))
            flops = None if None in (flops, r.flops) else flops + r.flops
            nb = None if None in (nb, r.bytes) else nb + r.bytes
            out[(r.phase, r.op)] = (count + 1, flops, nb)
        return out

    def __str__(self):
        rows = [("phase", "op", "count", "flops", "bytes")]
        rows += [(p, op, str(c), _num(f), _num(b)) for (p, op), (c, f, b) in self.by_op().items()]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = [f"cost for {show_signature(self.signature)}"]
        lines += [
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))
            )
            for r in rows
        ]
        f, g = self.forward, self.gradient
        lines.append(f"forward (the outputs alone): {_num(f.flops)} flops, {_num(f.bytes)} bytes")
        if g is not None:
            lines.append(
                f"gradient (outputs and gradients): {_num(g.flops)} flops"
                f"{_times(g.flops, f.flops)}, {_num(g.bytes)} bytes{_times(g.bytes, f.bytes)}"
            )
        lines += [f"unknown: {u}" for u in self.unknown]
        return "\n".join(lines)

    __repr__ = __str__


def _given(shapes) -> dict:
    """`shapes` by var name, checked."""
    if shapes is None:
        return {}
    if not isinstance(shapes, Mapping):
        raise ArgumentError(f"cost: shapes must be a dict of var -> shape, got {shapes!r}")
    given = {}
    for key, value in shapes.items():
        name = key.name if isinstance(key, Symbol) and key.op == "var" else key
        if not isinstance(name, str):
            raise ArgumentError(f"cost: shapes keys must be vars or names, got {key!r}")
        given[name] = value
    return given


def _type(name: str, value, var_dtype, dtype):
    """(shape, dtype) from a shape or an array; None: the shape is not known."""
    shape = getattr(value, "shape", value)
    try:
        shape = None if shape is None else tuple(shape)
        if shape is None or None in shape:
            return None
        shape = tuple(operator.index(d) for d in shape)
        d = getattr(value, "dtype", None)
        if d is None:
            d = dtype if var_dtype is None else var_dtype
        d = np.dtype(d)
    except (TypeError, ValueError):
        raise ArgumentError(
            f"cost: the shape of {name!r} must be a tuple of ints (or an array) and the "
            f"dtype a numpy dtype, got {value!r} and dtype={dtype!r}"
        ) from None
    return shape, d


def _types(vars_, shapes, dtype):
    """name -> (var, shape, dtype) for the vars whose shape is known; and the names without."""
    given = _given(shapes)
    names = {v.name for v in vars_}
    extra = sorted(set(given) - names)
    if extra:
        raise ArgumentError(f"cost: shapes names {extra}, not vars of the graph {sorted(names)}")
    types, missing = {}, []
    for v in vars_:
        known = _type(v.name, given.get(v.name, v.shape), v.dtype, dtype)
        if known is None:
            missing.append(v.name)
        else:
            types[v.name] = (v, *known)
    return types, missing


def _rows(outputs, n_values: int) -> tuple[list[OpCost], int]:
    """The cost of each operation `outputs` need (the first `n_values` are the forward's);
    and how many have an unknown cost."""
    forward = {id(n) for n in toposort(outputs[:n_values])}
    rows, unknown = [], 0
    for node in toposort(outputs):
        if node.op in _FREE_OPS:
            continue
        known = all(static(x) for x in (node, *node.inputs))
        cost = node.opdef.cost(node, *node.inputs, **node.attrs) if known else None
        if cost == (0, 0):
            continue  # a view, a check: nothing runs
        unknown += cost is None
        flops, nb = (None, None) if cost is None else cost
        phase = "forward" if id(node) in forward else "backward"
        rows.append(OpCost(phase, node.op, node.where(), node.shape, flops, nb))
    return rows, unknown


def _wrt_names(wrt) -> list[str]:
    if wrt is None:
        return []
    wrts = [wrt] if isinstance(wrt, (Symbol, str)) else as_list(wrt, "cost: wrt")
    for w in wrts:
        if not (isinstance(w, str) or isinstance(w, Symbol) and w.op == "var"):
            raise ArgumentError(f"cost: wrt must be vars or their names, got {w!r}")
    return [w if isinstance(w, str) else w.name for w in wrts]


@checks_call
def cost(outputs, wrt=None, shapes=None, dtype="float64", simplify: bool = True) -> CostReport:
    """The flops and bytes moved by the program computing `outputs`, and with `wrt` by the
    one computing them and their gradients, per operation and in total, from the shapes
    alone (nothing runs).

    Parameters
    ----------
    outputs : Symbol, list of symbols, or Function
        What to cost (a `Function`: its outputs and its `simplify` setting).
    wrt : var, name, or list of them, optional
        Cost the gradient of the (size-1) output with respect to these too.
    shapes : dict, optional
        Var (or name) -> shape, or an array (its shape and dtype), for vars declared
        without a static shape.
    dtype : dtype
        The dtype of vars declared without one.
    simplify : bool
        Cost the simplified program (as `gc.compile` emits it).

    Returns
    -------
    CostReport
        A var without a shape leaves the costs that depend on it unknown (None, printed "?")
        and `unknown` says which var: nothing is guessed.

    Examples
    --------
    >>> import graphc as gc
    >>> x, W = gc.var("x"), gc.var("W")
    >>> r = gc.cost(gc.sum(x @ W), wrt=W, shapes={"x": (8, 4), "W": (4, 3)})
    >>> r.forward
    Total(flops=216, bytes=744)
    >>> r.by_op()[("forward", "matmul")]
    (1, 192, 544)
    >>> print(gc.cost(gc.sum(x @ W), shapes={"x": (8, 4)}).unknown[0])
    var 'W' has no static shape (give shapes={'W': ...}); 2 operation(s) not costed
    """
    simplify_ = simplify
    if isinstance(outputs, Function):
        simplify_ = outputs.simplify and simplify
        outputs = outputs.outputs
    outputs = flatten_outputs(outputs, "cost: outputs")
    names = _wrt_names(wrt)
    if names and len(outputs) != 1:
        raise ArgumentError(f"cost: wrt needs one (size-1) output, got {len(outputs)} outputs")
    vars_ = list({v.name: v for v in free_vars(outputs)}.values())
    types, missing = _types(vars_, shapes, dtype)
    sig = tuple(ArgType(n, s, d) for n, (_, s, d) in types.items())

    def costed(outs, n_values):
        _, outs = retype_vars(outs, types)
        return _rows(optimize(outs, simplify_), n_values)

    fwd_rows, fwd_unknown = costed(outputs, len(outputs))
    rows, unknown = fwd_rows, fwd_unknown
    gradient = None
    if names:
        grads = grad(outputs[0], names, simplify=simplify_)
        rows, unknown = costed(outputs + grads, len(outputs))
        gradient = _total(rows)
    why = [
        f"var {n!r} has no static shape (give shapes={{{n!r}: ...}}); "
        f"{unknown} operation(s) not costed"
        for n in missing
    ]
    if unknown and not missing:
        ops = sorted({r.op for r in rows if r.flops is None})
        why.append(f"the cost of {', '.join(ops)} is not modelled ({unknown} operation(s))")
    return CostReport(sig, rows, _total(fwd_rows), gradient, why)
