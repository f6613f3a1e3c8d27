"""Control flow in the static graph: `cond`, `while_loop`, `fori_loop` and `scan`.

Each function accepts symbols (it traces the Python bodies once into sub-graphs and builds one
tuple-valued node; its results are `get` nodes), eager tensors or numpy values (it runs the
Python as is). A body may read outer symbols: they become explicit extra inputs of the node
(captures). Branch outputs and loop carries must keep their structure, shapes and dtypes;
errors name the line that called the control-flow function.

The nodes are built by the flat interface of `ops.control_build` (bodies take and return flat
lists of symbols), which the derivative rules of the control-flow ops use as well.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

import numpy as np

from . import ops
from .dispatch import checks_call, located
from .errors import ArgumentError, DTypeError, GraphcError, ShapeError
from .ir import Symbol, origin_scope, user_origin
from .ops import control as _control_ops  # noqa: F401  (registers cond, while_loop, ...)
from .ops.base import OPS, fmt_shape
from .ops.control_build import build_cond, build_fori, build_scan, build_while, describe
from .subgraph import (
    as_symbol,
    flatten,
    param_names,
    same_structure,
    unflatten,
)


def _is_symbol(x) -> bool:
    return isinstance(x, Symbol)


def _any_symbol(leaves) -> bool:
    return any(isinstance(x, Symbol) for x in leaves)


def results(node: Symbol, start: int, count: int) -> list[Symbol]:
    """`get` nodes for results start .. start+count-1 of a tuple-valued node."""
    with origin_scope(node.origin):
        return [ops.get(node, index=k) for k in range(start, start + count)]


# --- the public functions --------------------------------------------------------------


@checks_call
def cond(pred, true_fn: Callable, false_fn: Callable, *operands):
    """`true_fn(*operands)` if `pred` else `false_fn(*operands)`, inside the graph.

    `pred` is a scalar boolean. With a symbolic `pred` both branches are traced once; they
    must return the same structure (a value or nested tuples/lists), shapes and dtypes.
    Branches may read outer symbols. Differentiable with respect to operands and captures.

    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> y = gc.cond(x > 0, lambda v: v * 2, lambda v: -v, x)
    >>> [float(v) for v in gc.compile([x], [y, gc.grad(y, x)])(np.float64(-3.0))]
    [3.0, -1.0]
    """
    _check_callables("cond", true_fn=true_fn, false_fn=false_fn)
    if not _is_symbol(pred):
        if np.ndim(pred) != 0:
            raise ShapeError(f"cond: pred must be a scalar, got shape {np.shape(pred)}")
        out = true_fn(*operands) if pred else false_fn(*operands)
        return _eager_results(out, [pred, *operands]) if _any_eager([pred, *operands]) else out
    origin = user_origin()
    if pred.shape is not None and pred.shape != ():
        raise ShapeError(
            located(
                origin, f"cond: pred must be a scalar boolean, got shape {fmt_shape(pred.shape)}"
            )
        )
    if pred.dtype is not None and pred.dtype != np.bool_:
        raise DTypeError(
            located(
                origin,
                f"cond: pred must be boolean, got dtype {pred.dtype}"
                "; compare it (x > 0) or cast it",
            )
        )
    names = [n for n in param_names(true_fn, len(operands), "operand")]

    def flat(fn):
        def call(*args):
            return flatten(fn(*args))

        return call

    node, tree = build_cond(pred, flat(true_fn), flat(false_fn), operands, names, origin)
    count = len(node.attrs["true_fn"].outputs)
    return unflatten(tree, results(node, 0, count))


@checks_call
def while_loop(cond_fun: Callable, body_fun: Callable, init_val):
    """Repeat `val = body_fun(val)` while `cond_fun(val)`; returns the final `val`.

    `init_val` is a value or nested tuples/lists of them; `body_fun` must keep its structure,
    shapes and dtypes. Differentiable in forward and reverse mode: the reverse pass saves
    the carry at each iteration during the forward loop (only those the derivative reads)
    and runs the derived body VJP in a reversed loop.

    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> y = gc.while_loop(lambda v: v < 100, lambda v: v * 3, x)
    >>> [float(v) for v in gc.compile([x], [y, gc.grad(y, x)])(np.float64(2.0))]
    [162.0, 81.0]
    """
    _check_callables("while_loop", cond_fun=cond_fun, body_fun=body_fun)
    leaves, tree = flatten(init_val)
    if not _any_symbol(leaves):
        val = init_val
        while True:
            c = cond_fun(val)
            if _is_symbol(c):  # the condition reads an outer symbol: the rest is a graph
                if not leaves:
                    raise GraphcError(
                        located(user_origin(), "while_loop: a symbolic condition needs a carry")
                    )
                return while_loop(cond_fun, body_fun, _as_consts(val))
            if not c:
                return val
            val = body_fun(val)
            if _any_symbol(flatten(val)[0]):
                return while_loop(cond_fun, body_fun, val)
    origin = user_origin()

    def body(*flat):
        out_leaves, out_tree = flatten(body_fun(unflatten(tree, flat)))
        if not same_structure(out_tree, tree):
            raise GraphcError(
                located(
                    origin,
                    "while_loop: body_fun returned "
                    f"{describe(out_tree)}, but the carry is "
                    f"{describe(tree)}",
                )
            )
        return out_leaves

    names = _carry_names(body_fun, tree, len(leaves))
    node = build_while(lambda *flat: cond_fun(unflatten(tree, flat)), body, leaves, names, origin)
    return unflatten(tree, results(node, 0, len(leaves)))


@checks_call
def fori_loop(lower, upper, body_fun: Callable, init_val):
    """`for i in range(lower, upper): val = body_fun(i, val)`; returns the final `val`.

    Bounds are integers (symbols or numbers); differentiable with respect to `init_val` and
    the symbols the body reads.

    >>> import graphc as gc, numpy as np
    >>> x, n = gc.var("x"), gc.var("n", dtype=np.int64)
    >>> y = gc.fori_loop(0, n, lambda i, v: v * x, 1.0)
    >>> [float(v) for v in gc.compile([x, n], [y, gc.grad(y, x)])(np.float64(2.0), 3)]
    [8.0, 12.0]
    """
    _check_callables("fori_loop", body_fun=body_fun)
    leaves, tree = flatten(init_val)
    if not _any_symbol(leaves + [lower, upper]):
        val, upper = init_val, as_int(upper)
        for i in range(as_int(lower), upper):
            val = body_fun(i, val)
            if _any_symbol(flatten(val)[0]):  # the body reads outer symbols: one graph loop
                return fori_loop(i + 1, upper, body_fun, val) if i + 1 < upper else val
        return val
    origin = user_origin()

    def body(i, *flat):
        out_leaves, out_tree = flatten(body_fun(i, unflatten(tree, flat)))
        if not same_structure(out_tree, tree):
            raise GraphcError(
                located(
                    origin,
                    "fori_loop: body_fun returned "
                    f"{describe(out_tree)}, but the carry is "
                    f"{describe(tree)}",
                )
            )
        return out_leaves

    names = param_names(body_fun, 2, "val")
    names = [names[0]] + _carry_names(body_fun, tree, len(leaves), position=1)
    node = build_fori(lower, upper, body, leaves, names, origin)
    return unflatten(tree, results(node, 0, len(leaves)))


@checks_call
def scan(f: Callable, init, xs, reverse: bool = False):
    """Scan `f(carry, x) -> (carry, y)` over the leading axis of `xs`; returns
    `(carry, ys)` with the `y`s stacked along a new leading axis (JAX's `lax.scan`).

    `init` and `xs` are values or nested tuples/lists; `reverse=True` runs from the last
    element to the first (the `ys` stay aligned with `xs`). Differentiable.

    >>> import graphc as gc, numpy as np
    >>> xs = gc.var("xs")
    >>> total, partial = gc.scan(lambda c, x: (c + x, c + x), 0.0, xs)
    >>> total_value, partial_sums = gc.compile([xs], [total, partial])(np.arange(4.0))
    >>> float(total_value), partial_sums
    (6.0, array([0., 1., 3., 6.]))
    """
    _check_callables("scan", f=f)
    c_leaves, c_tree = flatten(init)
    x_leaves, x_tree = flatten(xs)
    if not _any_symbol(c_leaves + x_leaves):
        return _python_scan(f, init, x_leaves, x_tree, reverse)
    origin = user_origin()
    box = {}

    def body(*flat):
        carry = unflatten(c_tree, flat[: len(c_leaves)])
        x = unflatten(x_tree, flat[len(c_leaves) :])
        out = f(carry, x)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise GraphcError(located(origin, "scan: f must return a pair (carry, y)"))
        new_leaves, new_tree = flatten(out[0])
        if not same_structure(new_tree, c_tree):
            raise GraphcError(
                located(
                    origin,
                    f"scan: f returned a carry that is "
                    f"{describe(new_tree)}, but the carry is "
                    f"{describe(c_tree)}",
                )
            )
        y_leaves, box["y_tree"] = flatten(out[1])
        return new_leaves, y_leaves

    fn_names = param_names(f, 2, "carry")
    names = _tree_names(fn_names[0], len(c_leaves)) + _tree_names(
        fn_names[1] if fn_names[1] != "carry1" else "x", len(x_leaves)
    )
    node = build_scan(body, c_leaves, x_leaves, reverse, names, origin)
    n_c = len(c_leaves)
    n_y = len(node.attrs["body"].outputs) - n_c
    carry = unflatten(c_tree, results(node, 0, n_c))
    return carry, unflatten(box["y_tree"], results(node, n_c, n_y))


def _check_callables(op: str, **fns) -> None:
    for name, fn in fns.items():
        if not callable(fn):
            raise ArgumentError(f"{op}: {name} must be a function, got {type(fn).__name__}")


def _python_scan(f, init, x_leaves, x_tree, reverse):
    """scan on numpy values or eager tensors: a Python loop, ys stacked with gc.stack."""
    if not x_leaves:
        raise GraphcError("scan: needs at least one array to scan over")
    for k, x in enumerate(x_leaves):
        if not np.shape(x):
            raise ShapeError(f"scan: xs {k} is a scalar; xs need a leading axis")
    length = len(x_leaves[0])
    if any(len(x) != length for x in x_leaves):
        raise ShapeError(f"scan: xs have different leading lengths {[len(x) for x in x_leaves]}")
    carry, ys = init, []
    steps = range(length - 1, -1, -1) if reverse else range(length)
    for k in steps:
        carry, y = f(carry, unflatten(x_tree, [x[k] for x in x_leaves]))
        ys.append(y)
    if reverse:
        ys.reverse()
    if not ys:
        raise ShapeError(
            "scan: cannot stack the ys of zero steps without running f; "
            "give xs at least one element"
        )
    y_leaves = [flatten(y)[0] for y in ys]
    tree = flatten(ys[0])[1]
    stacked = [ops.stack([row[j] for row in y_leaves]) for j in range(len(y_leaves[0]))]
    return carry, unflatten(tree, stacked)


def _any_eager(values) -> bool:
    return any(getattr(type(x), "_graphc_kind", None) == "eager" for x in values)


def _eager_results(out, inputs):
    """A cond branch's results in eager mode as tensors, as symbolic mode makes them symbols:
    a branch may return a number or an array (a constant) where the other returns a tensor."""
    from . import eager

    leaves, tree = flatten(out)
    converted = []
    for k, v in enumerate(leaves):
        if not _any_eager([v]):
            try:
                v = eager.tensor(v)
            except GraphcError as exc:
                raise GraphcError(
                    located(user_origin(), f"cond: branch result {k} is not an array: {exc}")
                ) from None
        converted.append(v)
    return unflatten(tree, converted)


def _tree_names(base: str, count: int) -> list[str]:
    return [base] if count == 1 else [f"{base}_{k}" for k in range(count)]


def _carry_names(fn: Callable, tree, count: int, position: int = 0) -> list[str]:
    names = param_names(fn, position + 1, "val")
    return _tree_names(names[position], count)


def _as_consts(val):
    leaves, tree = flatten(val)
    return unflatten(tree, [as_symbol(x, "while_loop carry") for x in leaves])


def as_int(x) -> int:
    if getattr(type(x), "_graphc_kind", None) == "eager":
        x = x.numpy()
    try:
        return operator.index(x)
    except TypeError:
        arr = np.asarray(x)
        if arr.ndim == 0 and arr.dtype.kind in "iu":
            return int(arr)
        raise DTypeError(f"fori_loop: bounds must be integers, got {x!r}") from None


# Calling a control-flow op of the table (`OPS["cond"](...)`) is calling its public function.
for _fn in (cond, while_loop, fori_loop, scan):
    OPS[_fn.__name__].front = _fn

__all__ = ["cond", "fori_loop", "scan", "while_loop"]
