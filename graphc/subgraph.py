"""Sub-graphs of control-flow ops: tracing Python bodies, calling a sub-graph, running it on
numpy, re-typing it for new input shapes, deriving its VJP and JVP, and emitting it inline.

A sub-graph is an `ir.Graph` whose inputs are parameter vars and whose leaves are those
params and constants only: every outer symbol a body reads is turned into an extra parameter
(a *capture*) and passed to the control-flow node as an extra input. Nodes are matched
positionally: `graph.inputs[i]` is bound to the i-th value the op passes in.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from . import ops
from .autodiff import backprop, forward
from .codegen import GENERATED, IDENT, RESERVED
from .dispatch import const, is_weak, located, make_node
from .errors import DTypeError, GraphcError, ShapeError
from .ir import Graph, Symbol, origin_scope, rebuild, recording_creations, user_origin
from .ops.base import OPS, fmt_shape
from .simplify import cse, fold_constants, run, specialize

Type = tuple  # (shape, dtype): a value's static shape and dtype, None where unknown


# --- parameters and traced bodies ------------------------------------------------------


def make_param(name: str, shape, dtype, origin=None) -> Symbol:
    """A sub-graph parameter: a var that the control-flow op binds."""
    return Symbol(OPS["var"], (), {}, shape, dtype, name=name, origin=origin)


def param_names(fn: Callable, count: int, default: str) -> list[str]:
    """Readable names for a body's parameters, from `fn`'s own argument names when it has
    exactly `count` plain ones (`lambda i, val: ...`), else `default0, default1, ...`."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    if len(params) == count and all(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params
    ):
        return [p.name for p in params]
    return [default if count == 1 else f"{default}{k}" for k in range(count)]


class Traced:
    """A Python function run once on parameter vars: its raw results and the ids of the
    nodes it created (every other non-constant symbol it reads is a capture)."""

    def __init__(self, fn: Callable, args: Sequence, params: Sequence[Symbol]):
        with recording_creations() as log:
            self.result = fn(*args)
        self.created = {id(n) for n in log}
        self.params = list(params)
        self._log = log  # keeps the created nodes alive, so their ids stay unique


def captures(outputs: Sequence[Symbol], traced: Traced) -> list[Symbol]:
    """The outer symbols `outputs` read: reachable nodes the body did not create (and vars it
    made itself), in order of first appearance. Constants are copied, never captured."""
    param_ids = {id(p) for p in traced.params}
    found, seen = [], set()
    stack = list(reversed(outputs))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if id(node) in param_ids or node.op == "const":
            continue
        if id(node) not in traced.created or node.op == "var":
            found.append(node)
            continue
        stack.extend(reversed(node.inputs))
    return found


def union(groups: Sequence[Sequence[Symbol]]) -> list[Symbol]:
    """Symbols of all groups, each once (by identity), in order."""
    out, seen = [], set()
    for group in groups:
        for s in group:
            if id(s) not in seen:
                seen.add(id(s))
                out.append(s)
    return out


def capture_params(caps: Sequence[Symbol], origin) -> list[Symbol]:
    return [
        make_param(c.name if c.op == "var" else f"capture{k}", c.shape, c.dtype, origin)
        for k, c in enumerate(caps)
    ]


def substitute(
    outputs: Sequence[Symbol], mapping: dict[int, Symbol], stop: Sequence[Symbol] = ()
) -> list[Symbol]:
    """`outputs` rebuilt with the nodes in `mapping` (id -> symbol) replaced; nodes that
    depend on none of them are reused, rebuilt ones keep their origin."""
    return rebuild(outputs, memo=dict(mapping), stop=stop)


def inline(graph: Graph, args: Sequence) -> list[Symbol]:
    """Call a sub-graph symbolically: a fresh copy of its nodes on `args` (constants are
    shared), so a body traced around the call owns every node of the copy."""
    memo = {id(p): a for p, a in zip(graph.inputs, args)}  # None: a param the body ignores
    for node in graph.nodes:
        if id(node) in memo:
            continue
        if node.op == "const":
            memo[id(node)] = node
            continue
        if node.op == "var":
            raise GraphcError(
                f"{node.where()}: internal: var {node.name!r} is not a parameter of the sub-graph"
            )
        inputs = tuple(memo[id(x)] for x in node.inputs)
        with origin_scope(node.origin):
            memo[id(node)] = make_node(node.opdef, inputs, node.attrs, name=node.name)
    return [memo[id(o)] for o in graph.outputs]


# --- structures (a value, or nested tuples/lists of values) ----------------------------


def flatten(tree) -> tuple[list, object]:
    """Leaves and a description of the nesting of tuples and lists (None is no leaf)."""
    if tree is None:
        return [], None
    if isinstance(tree, (tuple, list)):
        leaves, defs = [], []
        for item in tree:
            sub, d = flatten(item)
            leaves.extend(sub)
            defs.append((len(sub), d))
        return leaves, (type(tree), tuple(defs))
    return [tree], "leaf"


def unflatten(treedef, leaves: Sequence):
    if treedef is None:
        return None
    if treedef == "leaf":
        return leaves[0]
    kind, defs = treedef
    out, start = [], 0
    for count, d in defs:
        out.append(unflatten(d, leaves[start : start + count]))
        start += count
    return kind(out)


def same_structure(a, b) -> bool:
    """Equal nesting, tuples and lists alike."""
    if a is None or a == "leaf" or b is None or b == "leaf":
        return a == b
    return len(a[1]) == len(b[1]) and all(
        ca == cb and same_structure(da, db) for (ca, da), (cb, db) in zip(a[1], b[1])
    )


def as_symbol(value, what: str, origin=None, dtype=None, like=None) -> Symbol:
    """A leaf as a symbol: numbers and arrays become constants (of `dtype` when given, so a
    branch returning 0 fits a float carry; broadcast to the static shape of `like`, a symbol
    of the other branch, when that is known); anything else is an error naming `what`."""
    if isinstance(value, Symbol):
        return value
    if getattr(type(value), "_graphc_kind", None) == "eager":
        value = value.numpy()
    if isinstance(value, (bool, int, float, complex, np.generic, np.ndarray)):
        if like is not None and dtype is None:
            dtype = like.dtype
        if (
            dtype is not None
            and not isinstance(value, (np.ndarray, np.generic))
            and np.asarray(value).dtype != dtype
            and np.result_type(dtype, value) == dtype
        ):
            value = np.asarray(value, dtype=dtype)  # a Python number stays one when it fits
        shape = getattr(like, "shape", None)
        if np.ndim(value) == 0 and shape and None not in shape:
            return ops.broadcast_to(const(value), shape)
        return const(value)
    raise GraphcError(
        located(origin, f"{what} must be a graphc symbol or a number, got {type(value).__name__}")
    )


# --- types -----------------------------------------------------------------------------


def type_of(x: Symbol) -> Type:
    return (x.shape, x.dtype)


def merge_shapes(a, b):
    """The more specific of two compatible static shapes, or raise ValueError."""
    if a is None:
        return b
    if b is None:
        return a
    if len(a) != len(b) or any(x is not None and y is not None and x != y for x, y in zip(a, b)):
        raise ValueError
    return tuple(x if x is not None else y for x, y in zip(a, b))


def merge_types(a: Type, b: Type, what: str, first: str, second: str) -> Type:
    """Two static types that must agree (dims or dtypes unknown on one side are taken from
    the other); ShapeError/DTypeError naming both sides otherwise."""
    try:
        shape = merge_shapes(a[0], b[0])
    except ValueError:
        raise ShapeError(
            f"{what}: {first} has shape {fmt_shape(a[0])} but {second} has shape {fmt_shape(b[0])}"
        ) from None
    if a[1] is not None and b[1] is not None and np.dtype(a[1]) != np.dtype(b[1]):
        raise DTypeError(f"{what}: {first} has dtype {a[1]} but {second} has dtype {b[1]}")
    return shape, a[1] if a[1] is not None else b[1]


def _types_key(types: Sequence[Type]) -> tuple:
    return tuple((s, None if d is None else np.dtype(d).str) for s, d in types)


class _Cache:
    """A small LRU map keyed by (id(graph), ...); entries keep their graph alive so an id is
    never reused while its entry exists."""

    def __init__(self, size: int = 512):
        self.size = size
        self.data: OrderedDict = OrderedDict()

    def get(self, graph: Graph, key, make):
        full = (id(graph),) + key
        hit = self.data.get(full)
        if hit is not None and hit[0] is graph:
            self.data.move_to_end(full)
            return hit[1]
        value = make()
        self.data[full] = (graph, value)
        if len(self.data) > self.size:
            self.data.popitem(last=False)
        return value


_retyped = _Cache()
_specialized = _Cache()
_vjps = _Cache()
_jvps = _Cache()


def _same_dtype(a, b) -> bool:
    # Not `a == b`: numpy compares np.dtype("float64") == None as True.
    if a is None or b is None:
        return a is None and b is None
    return np.dtype(a) == np.dtype(b)


def retype(graph: Graph, types: Sequence[Type]) -> Graph:
    """`graph` with parameters of the given static types (the same graph when they already
    have them); shape errors inside the body name the body's line."""
    if all(p.shape == s and _same_dtype(p.dtype, d) for p, (s, d) in zip(graph.inputs, types)):
        return graph

    def make():
        params = [make_param(p.name, s, d, p.origin) for p, (s, d) in zip(graph.inputs, types)]
        outs = substitute(
            graph.outputs, {id(p): q for p, q in zip(graph.inputs, params)}, stop=graph.inputs
        )
        return Graph(params, outs)

    return _retyped.get(graph, _types_key(types), make)


def output_types(graph: Graph, types: Sequence[Type]) -> list[Type]:
    return [type_of(o) for o in retype(graph, types).outputs]


def specialized(graph: Graph, types: Sequence[Type], values: Sequence = ()) -> Graph:
    """`graph` re-typed for the actual inputs, with the specialisation pass, constant
    folding and CSE applied (the compiler's passes do not enter sub-graphs; the control
    ops' `resolve` calls this once shapes are known). `values` may give, per param, a
    constant node it is always bound to (a loop-invariant number): it is folded in. The
    same graph comes back when nothing changes."""
    fixed = {
        k: v
        for k, v in enumerate(values)
        if v is not None and v.op == "const" and is_weak(v.attrs["value"])
    }

    def make():
        g = retype(graph, types)
        outs = list(g.outputs)
        if fixed:
            outs = substitute(outs, {id(g.inputs[k]): v for k, v in fixed.items()}, stop=g.inputs)
        for apply in (specialize, fold_constants, cse):
            outs = apply(outs)
        if g is graph and all(a is b for a, b in zip(outs, graph.outputs)):
            return graph
        return Graph(g.inputs, outs)

    key = _types_key(types) + tuple(
        (k, type(v.attrs["value"]).__name__, v.attrs["value"]) for k, v in sorted(fixed.items())
    )
    return _specialized.get(graph, key, make)


def value_reads(graph: Graph) -> tuple[set, set]:
    """(ids of the nodes whose values `graph` reads, ids of all nodes it reaches). Inputs an
    op reads only for their shape and dtype (`OpDef.shape_only_inputs`, e.g. `like` of
    `sum_to(x, like)`) are not value reads: a loop's VJP needs no saved history of them."""
    values = {id(o) for o in graph.outputs}
    for node in graph.nodes:
        skip = node.opdef.shape_only_inputs
        for i, x in enumerate(node.inputs):
            if i not in skip:
                values.add(id(x))
    return values, {id(n) for n in graph.nodes}


# --- evaluation on numpy ---------------------------------------------------------------


def run_graph(graph: Graph, args: Sequence) -> list:
    """Evaluate a sub-graph on numpy values with each op's `impl` (a reference interpreter;
    nested control flow recurses through the ops' own `impl`)."""
    env = {id(p): a for p, a in zip(graph.inputs, args)}
    for node in graph.nodes:
        if id(node) in env:
            continue
        if node.op == "const":
            env[id(node)] = node.attrs["value"]
            continue
        if node.op == "var":
            raise GraphcError(f"{node.where()}: var {node.name!r} is not bound")
        values = [env[id(x)] for x in node.inputs]
        with np.errstate(all="ignore"):
            env[id(node)] = node.opdef.impl(*values, **node.attrs)
    return [env[id(o)] for o in graph.outputs]


# --- derivatives of sub-graphs ---------------------------------------------------------


def is_float_type(t: Type) -> bool:
    return t[1] is None or np.dtype(t[1]).kind in "fc"


def vjp_graph(graph: Graph, in_mask: Sequence[bool], out_mask: Sequence[bool]) -> Graph:
    """The VJP of a sub-graph, derived once (cached) and simplified: a Graph of
    (params..., one cotangent per output in `out_mask`) -> the cotangents of the params in
    `in_mask` (zeros where an output does not depend on the param)."""

    def make():
        outs = [o for o, m in zip(graph.outputs, out_mask) if m]
        heads = [make_param(f"g{k}", o.shape, o.dtype, o.origin) for k, o in enumerate(outs)]
        wrt = [p for p, m in zip(graph.inputs, in_mask) if m]
        cts = backprop(outs, heads, wrt)
        results = []
        for p in wrt:
            ct = cts.get(id(p))
            with origin_scope(p.origin):
                results.append(ops.zeros_like(p) if ct is None else ct)
        return Graph(list(graph.inputs) + heads, run(results))

    return _vjps.get(graph, (tuple(in_mask), tuple(out_mask)), make)


def jvp_graph(graph: Graph, in_mask: Sequence[bool], out_mask: Sequence[bool]) -> Graph:
    """The JVP of a sub-graph, derived once (cached) and simplified: a Graph of
    (params..., one tangent per param in `in_mask`) -> (outputs..., the tangents of the
    outputs in `out_mask`)."""

    def make():
        tangents = [
            make_param(f"t_{p.name}", p.shape, p.dtype, p.origin)
            for p, m in zip(graph.inputs, in_mask)
            if m
        ]
        seeds = {
            id(p): t for p, t in zip([p for p, m in zip(graph.inputs, in_mask) if m], tangents)
        }
        outs = [o for o, m in zip(graph.outputs, out_mask) if m]
        results = forward(outs, seeds)
        return Graph(list(graph.inputs) + tangents, run(list(graph.outputs) + results))

    return _jvps.get(graph, (tuple(in_mask), tuple(out_mask)), make)


# --- emission --------------------------------------------------------------------------


def emit_graph(
    em,
    graph: Graph,
    args: Sequence[str],
    indent: str,
    outputs: Sequence[int] | None = None,
    out_names: dict[int, str] | None = None,
) -> list[str]:
    """Write `graph`'s statements inline at `indent`, its params bound to the expressions
    `args`; return the expressions of the outputs at positions `outputs` (default all).
    `out_names` (position -> name) asks for outputs computed by an op of the body to be
    assigned to that name directly. The body's names are forgotten afterwards, so the same
    sub-graph can be emitted again elsewhere."""
    positions = list(range(len(graph.outputs))) if outputs is None else list(outputs)
    outs = [graph.outputs[k] for k in positions]
    before = set(em.names)
    saved = {id(p): em.names.get(id(p)) for p in graph.inputs}
    for p, a in zip(graph.inputs, args):
        em.names[id(p)] = a
    wanted = {}
    for k, name in (out_names or {}).items():
        wanted[id(graph.outputs[k])] = name
    try:
        exprs = em.emit_body(outs, indent, stop=graph.inputs, out_names=wanted)
    finally:
        for key in set(em.names) - before:
            if em.names[key] not in em.consts:  # constants stay bound: they are globals
                del em.names[key]
        for key, value in saved.items():
            if value is None:
                em.names.pop(key, None)
            else:
                em.names[key] = value
    return exprs


def fresh_name(em, base: str) -> str:
    """A new identifier for a loop variable or carry: `base`, `base2`, ... when `base` is a
    plain name (else the namer's mangled form of it)."""
    base = base.lstrip("_")
    base = base[3:] if base.startswith("gc_") else base  # autograph's flags: _gc_break_1
    if IDENT.match(base) and not GENERATED.match(base) and base not in RESERVED:
        for k in range(1, 1000):
            candidate = base if k == 1 else f"{base}_{k}" if base[-1].isdigit() else f"{base}{k}"
            if candidate not in em.namer.used and not GENERATED.match(candidate):
                return em.namer.claim(candidate)
    return em.namer.user(base)


def locate(origin, exc: Exception) -> Exception:
    """`exc` re-raised as the same graphc error type with the user's line in front."""
    return type(exc)(located(origin, str(exc)))


__all__ = [
    "Traced",
    "captures",
    "union",
    "capture_params",
    "substitute",
    "inline",
    "flatten",
    "unflatten",
    "same_structure",
    "as_symbol",
    "type_of",
    "merge_types",
    "retype",
    "output_types",
    "specialized",
    "run_graph",
    "vjp_graph",
    "jvp_graph",
    "emit_graph",
    "make_param",
    "param_names",
    "user_origin",
    "locate",
]
