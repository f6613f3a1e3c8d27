"""Control-flow nodes from Python bodies: the flat interface under `gc.cond`,
`gc.while_loop`, `gc.fori_loop` and `gc.scan` (`graphc.control`), the derivative rules of the
control-flow ops and `@gc.function`'s runtime.

Each `build_*` traces its bodies once on parameter vars (`subgraph.Traced`), closes the
sub-graphs over the outer symbols they read (captures become extra inputs) and makes the one
tuple-valued node. Bodies take and return flat lists of symbols.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..dispatch import located, make_node
from ..errors import DTypeError, GraphcError, ShapeError
from ..ir import Graph, Symbol, origin_scope, user_origin
from ..subgraph import (
    Traced,
    as_symbol,
    capture_params,
    captures,
    make_param,
    param_names,
    same_structure,
    substitute,
    union,
)
from .base import OPS, fmt_shape


def params_like(leaves: Sequence[Symbol], names: Sequence[str], origin) -> list[Symbol]:
    """Sub-graph params named `names`, of the shapes and dtypes of `leaves`."""
    return [make_param(n, x.shape, x.dtype, origin) for x, n in zip(leaves, names)]


def body_results(traced: Traced, count: int | None, what: str, origin, dtypes=None) -> list:
    """A traced body's flat results as symbols (numbers become constants of the expected
    dtype when one is given)."""
    leaves = traced.result
    if count is not None and len(leaves) != count:
        raise GraphcError(
            located(origin, f"{what} returned {len(leaves)} values, expected {count}")
        )
    dtypes = dtypes or [None] * len(leaves)
    return [
        as_symbol(v, f"{what} result {k}", origin, d)
        for k, (v, d) in enumerate(zip(leaves, dtypes))
    ]


def close_bodies(traced: Sequence[Traced], results: Sequence[list], params: list[Symbol], origin):
    """Sub-graphs of the traced bodies, closed over their captures (one shared list of
    capture params appended to `params`), and the captured outer symbols."""
    caps = union([captures(res, tr) for tr, res in zip(traced, results)])
    cparams = capture_params(caps, origin)
    mapping = {id(c): p for c, p in zip(caps, cparams)}
    graphs = [Graph(params + cparams, substitute(res, mapping, stop=caps)) for res in results]
    return graphs, caps


def control_node(name: str, inputs: Sequence, attrs: dict, origin) -> Symbol:
    """The node of control-flow op `name`, its origin the user's line `origin`."""
    with origin_scope(origin):
        return make_node(OPS[name], tuple(inputs), attrs)


def build_cond(
    pred: Symbol,
    true_fn: Callable,
    false_fn: Callable,
    operands: Sequence,
    names: Sequence[str] | None = None,
    origin=None,
) -> tuple[Symbol, object]:
    """The cond node for flat branches `fn(*operands) -> (leaves, treedef)`; returns the
    node and the branches' common output structure."""
    origin = origin or user_origin()
    operands = [as_symbol(x, "cond operand", origin) for x in operands]
    names = names or [
        f"operand{k}" if len(operands) > 1 else "operand" for k in range(len(operands))
    ]
    params = params_like(operands, names, origin)
    traced, trees = [], []
    for fn in (true_fn, false_fn):
        tr = Traced(fn, params, params)
        tr.result, tree = tr.result
        traced.append(tr)
        trees.append(tree)
    if not same_structure(trees[0], trees[1]):
        raise GraphcError(
            located(
                origin,
                "cond: the branches return different structures "
                f"({describe(trees[0])} and {describe(trees[1])})",
            )
        )
    if not traced[0].result:
        raise GraphcError(located(origin, "cond: the branches return no values"))
    results = _branch_results(traced, origin)
    graphs, caps = close_bodies(traced, results, params, origin)
    node = control_node(
        "cond", [pred] + operands + caps, {"true_fn": graphs[0], "false_fn": graphs[1]}, origin
    )
    return node, trees[0]


def _branch_results(traced: Sequence[Traced], origin) -> list[list[Symbol]]:
    """Both branches' results as symbols; a number in one branch takes the dtype of the
    other branch's symbol, as a Python number would."""
    a, b = traced[0].result, traced[1].result
    return [
        [
            as_symbol(
                v,
                f"cond branch result {k}",
                origin,
                like=other if isinstance(other, Symbol) else None,
            )
            for k, (v, other) in enumerate(zip(mine, theirs))
        ]
        for mine, theirs in ((a, b), (b, a))
    ]


def describe(tree) -> str:
    if tree is None:
        return "None"
    if tree == "leaf":
        return "a value"
    kind, defs = tree
    return f"a {kind.__name__} of {len(defs)}"


def build_while(
    cond_fn: Callable,
    body_fn: Callable,
    init: Sequence,
    names: Sequence[str] | None = None,
    origin=None,
) -> Symbol:
    """The while_loop node for flat bodies: `cond_fn(*carry) -> bool symbol`,
    `body_fn(*carry) -> list of carries`."""
    origin = origin or user_origin()
    init = [as_symbol(x, "while_loop carry", origin) for x in init]
    names = names or param_names(body_fn, len(init), "val")
    params = params_like(init, names, origin)
    tc = Traced(lambda *a: [cond_fn(*a)], params, params)
    tc.result = body_results(tc, 1, "while_loop cond_fun", origin)
    tb = Traced(lambda *a: list(body_fn(*a)), params, params)
    tb.result = body_results(tb, len(init), "while_loop body_fun", origin, [x.dtype for x in init])
    graphs, caps = close_bodies([tc, tb], [tc.result, tb.result], params, origin)
    return control_node("while_loop", init + caps, {"cond": graphs[0], "body": graphs[1]}, origin)


def build_fori(
    lower,
    upper,
    body_fn: Callable,
    init: Sequence,
    names: Sequence[str] | None = None,
    origin=None,
) -> Symbol:
    """The fori_loop node for a flat body `body_fn(i, *carry) -> list of carries`."""
    origin = origin or user_origin()
    lower = as_symbol(lower, "fori_loop lower", origin)
    upper = as_symbol(upper, "fori_loop upper", origin)
    for b, what in ((lower, "lower"), (upper, "upper")):
        if b.dtype is not None and b.dtype.kind not in "iu":
            raise DTypeError(
                located(origin, f"fori_loop: {what} bound must be an integer, got dtype {b.dtype}")
            )
        if b.shape is not None and b.shape != ():
            raise ShapeError(
                located(
                    origin,
                    f"fori_loop: {what} bound must be a scalar, got shape {fmt_shape(b.shape)}",
                )
            )
    init = [as_symbol(x, "fori_loop carry", origin) for x in init]
    names = names or param_names(body_fn, 1 + len(init), "val")
    idtype = (
        None
        if lower.dtype is None or upper.dtype is None
        else np.result_type(lower.dtype, upper.dtype)
    )
    params = [make_param(names[0], (), idtype, origin)] + params_like(init, names[1:], origin)
    tb = Traced(lambda *a: list(body_fn(*a)), params, params)
    tb.result = body_results(tb, len(init), "fori_loop body_fun", origin, [x.dtype for x in init])
    graphs, caps = close_bodies([tb], [tb.result], params, origin)
    return control_node("fori_loop", [lower, upper] + init + caps, {"body": graphs[0]}, origin)


def build_scan(
    fn: Callable,
    init: Sequence,
    xs: Sequence,
    reverse: bool = False,
    names: Sequence[str] | None = None,
    origin=None,
) -> Symbol:
    """The scan node for a flat body `fn(*carry, *x) -> (list of carries, list of ys)`."""
    origin = origin or user_origin()
    init = [as_symbol(x, "scan carry", origin) for x in init]
    xs = [as_symbol(x, "scan xs", origin) for x in xs]
    if not xs:
        raise GraphcError(located(origin, "scan: needs at least one array to scan over"))
    for x in xs:
        if x.shape is not None and len(x.shape) == 0:
            raise ShapeError(
                located(
                    origin,
                    "scan: xs must have a leading axis to scan "
                    f"over, got a scalar of dtype {x.dtype}",
                )
            )
    names = names or ([f"carry{k}" for k in range(len(init))] + [f"x{k}" for k in range(len(xs))])
    slices = [
        make_param(n, None if x.shape is None else x.shape[1:], x.dtype, origin)
        for x, n in zip(xs, names[len(init) :])
    ]
    params = params_like(init, names, origin) + slices
    n = len(init)

    def body(*a):
        carry, ys = fn(*a)
        return list(carry) + list(ys), len(list(ys))

    tb = Traced(body, params, params)
    tb.result, n_ys = tb.result
    tb.result = body_results(tb, None, "scan f", origin, [x.dtype for x in init] + [None] * n_ys)
    graphs, caps = close_bodies([tb], [tb.result], params, origin)
    return control_node(
        "scan",
        init + xs + caps,
        {"body": graphs[0], "n_carry": n, "n_xs": len(xs), "reverse": bool(reverse)},
        origin,
    )


__all__ = [
    "body_results",
    "build_cond",
    "build_fori",
    "build_scan",
    "build_while",
    "close_bodies",
    "control_node",
    "describe",
    "params_like",
]
