"""Differentiation as graph walks: reverse mode (`grad`, VJPs with a head) and forward mode
(`jvp`); `jacobian` and `hessian` batch them (graphc.jacobians). No derivative rule lives here: every step calls the op
table's `vjp`/`jvp`, and `None` stands for a symbolic zero.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence

import numpy as np

from . import ops
from .dispatch import checks_call, const, numeric_array
from .errors import DTypeError, GradError, HeadShapeError
from .gc_pause import gc_paused
from .grad_lint import warn_where_traps
from .ir import Symbol, as_list, format_origin, merged_var, origin_scope, toposort, unify_vars
from .ops.base import fmt_shape
from .orders import sharing_orders
from .simplify import simplify as run_passes
from .simplify.rewrites import stabilize


def _describe(x: Symbol) -> str:
    return f"var {x.name!r}" if x.op == "var" else f"the {x.op} node"


def check_differentiable(x: Symbol) -> None:
    if x.dtype is not None and np.dtype(x.dtype).kind not in "fc":
        raise DTypeError(
            f"{format_origin(x.origin)}: cannot differentiate with respect to "
            f"{_describe(x)} of dtype {x.dtype}: only floating inputs have "
            "gradients; convert the data first, e.g. "
            f"{x.name if x.op == 'var' else 'x'}.astype(float)"
        )


def as_symbols(wrt, what="wrt", names: bool = False):
    kinds = (Symbol, str) if names else Symbol
    items = [wrt] if isinstance(wrt, kinds) else as_list(wrt, f"grad: {what}")
    for w in items:
        if not isinstance(w, kinds):
            raise GradError(
                f"grad: {what} must be graphc symbols{' or var names' * names}, "
                f"got {type(w).__name__}"
            )
    return items


def resolve(outputs: Sequence[Symbol], items: Sequence, what: str):
    """`outputs` with one node per var name (`ir.unify_vars`), and the node of that graph
    that each of `items` stands for: a var name or a var means the graph's argument of that
    name (a var the graph lacks stands for itself, and gets a zero derivative; a name it
    lacks is a GradError listing the arguments), another node is itself."""
    canon, outputs, memo = unify_vars(outputs)
    targets = []
    for w in items:
        if isinstance(w, str):
            if w not in canon:
                raise GradError(
                    f"{what}: the graph has no argument named {w!r}; its "
                    f"arguments are {list(canon)}"
                )
            targets.append(canon[w])
        elif w.op == "var" and w.name in canon:
            merged_var([canon[w.name], w])  # the same argument: declarations must agree
            targets.append(canon[w.name])
        else:
            targets.append(memo.get(id(w), w))
    return outputs, targets


def depends(nodes: list[Symbol], sources: Sequence[Symbol]) -> set[int]:
    """ids of the nodes through which a derivative can flow from `sources` (integer and
    boolean values carry none: a cast to int is piecewise constant)."""
    dep = {id(s) for s in sources}
    for node in nodes:
        if id(node) in dep or not node.opdef.differentiable or not _is_float(node):
            continue
        for i, x in enumerate(node.inputs):
            if id(x) in dep and i not in node.opdef.nondiff_inputs:
                dep.add(id(node))
                break
    return dep


def backprop(
    outputs: Sequence[Symbol], heads: Sequence, wrt: Sequence[Symbol], trace=None
) -> dict:
    """Cotangents (id -> symbol) of `sum_i <outputs[i], heads[i]>` for every node on a path
    from `wrt`; each shared node's contributions are summed once. `trace(node, g, targets,
    contribs)`, if given, sees each step as it runs (`gc.explain` shows them): the node, its
    adjoint, which inputs want a cotangent and what the op's VJP sent them (None: zero)."""
    nodes = toposort(outputs)
    dep = depends(nodes, wrt)
    cts: dict[int, Symbol] = {}
    for out, head in zip(outputs, heads):
        if id(out) in dep:
            cts[id(out)] = head if id(out) not in cts else ops.add(cts[id(out)], head)
    for node in reversed(nodes):
        g = cts.get(id(node))
        if g is None or not node.inputs or not node.opdef.differentiable:
            continue
        targets = [
            id(x) in dep and i not in node.opdef.nondiff_inputs and _is_float(x)
            for i, x in enumerate(node.inputs)
        ]
        if not any(targets):
            continue
        with origin_scope(node.origin):
            contribs = node.opdef.vjp_some(targets, g, node, *node.inputs, **node.attrs)
            if trace is not None:
                trace(node, g, targets, contribs)
            for x, wanted, ct in zip(node.inputs, targets, contribs):
                if wanted and ct is not None:
                    prev = cts.get(id(x))
                    cts[id(x)] = ct if prev is None else _add_cotangents(prev, ct)
    return cts


def _add_cotangents(a, b):
    """a + b; a tuple-valued node (a loop, a cond) has a tuple of cotangents, None = zero."""
    if isinstance(a, tuple):
        return tuple(q if p is None else p if q is None else ops.add(p, q) for p, q in zip(a, b))
    return ops.add(a, b)


def _is_float(x: Symbol) -> bool:
    return x.dtype is None or np.dtype(x.dtype).kind in "fc"


def head_for(y: Symbol, head):
    """The cotangent seeding `y`: 1 for a scalar, else the given head, checked.

    An output whose size is not known yet gets the head 1 (ones of its shape) and is
    checked once shapes are known (see `_typed_gradient`).
    """
    if head is None:
        if needs_head(y.shape):
            raise GradError(
                f"{format_origin(y.origin)}: grad of the {y.op} output of shape "
                f"{fmt_shape(y.shape)} needs head= (an array or symbol of that shape: the "
                "result is the gradient of sum(y * head), like PyTorch's "
                "backward(gradient=...))"
            )
        return 1.0 if not y.shape else ops.ones_like(y)
    head = _head_symbol(y, head)
    if _shapes_disagree(head.shape, y.shape):
        raise HeadShapeError(
            f"{format_origin(y.origin)}: grad: head of shape "
            f"{fmt_shape(head.shape)} does not match the shape "
            f"{fmt_shape(y.shape)} of the {y.op} output"
        )
    return head


def _head_symbol(y: Symbol, head) -> Symbol:
    """A head given as a symbol (floating), or as a value made a constant of y's dtype."""
    if isinstance(head, Symbol):
        if head.dtype is not None and head.dtype.kind not in "fc":
            raise DTypeError(
                f"{head.where()}: grad: head of dtype {head.dtype} for the {y.op} "
                f"output of dtype {y.dtype}: heads must be floating"
            )
        return head
    arr = numeric_array(head, "grad: head")
    if y.dtype is not None and arr.dtype != y.dtype:
        arr = arr.astype(y.dtype)
    return const(arr)


def needs_head(shape) -> bool:
    """Is an output of `shape` known to have more than one element (so that it cannot be
    seeded with 1, and a head must be given)?

    >>> needs_head((1, 1)), needs_head((None,)), needs_head((2,))
    (False, False, True)
    """
    return shape is not None and any(d is not None and d != 1 for d in shape)


def _shapes_disagree(head_shape, out_shape) -> bool:
    """Do a head's shape and its output's known shapes disagree (an unknown dim agrees with
    any)?"""
    if head_shape is None or out_shape is None:
        return False
    return len(head_shape) != len(out_shape) or any(
        a is not None and b is not None and a != b for a, b in zip(head_shape, out_shape)
    )


@checks_call
@gc_paused
@sharing_orders
def grad(y, wrt, head=None, simplify: bool = True):
    """Reverse-mode derivative of `y` with respect to `wrt`.

    Parameters
    ----------
    y : Symbol
        A scalar (size-1) output, or any output when `head` is given.
    wrt : Symbol, str, or list/tuple of them
        Floating vars (or intermediate nodes) to differentiate with respect to. Within a
        graph a var is its name: a var, or its name as a string, stands for every var of
        that name in `y`'s graph (their declarations must agree).
    head : Symbol or array, optional
        The output gradient, of `y`'s shape: the result is the gradient of
        ``sum(y * head)``, the vector-Jacobian product (PyTorch's ``backward(gradient=...)``).
    simplify : bool
        Run the simplification pipeline on the result, and derive it from the stable forms
        the simplifier computes values with: the gradient of ``log(sum(exp(x)))`` is that of
        ``logsumexp(x)``, a softmax, finite where ``exp(x)`` overflows. With
        ``simplify=False`` the literal formula is differentiated, as numpy would compute it
        (``exp(x)/sum(exp(x))``, NaN where that overflows).

    Returns
    -------
    Symbol or list of Symbol
        A symbol (`wrt` a symbol or name) or a list of symbols (`wrt` a list or tuple), each
        of its input's shape; an input `y` does not depend on gets ``zeros_like`` (a name
        that `y`'s graph does not contain is a `GradError` listing its arguments). The
        result is an ordinary symbol: print, compile, bind or differentiate it again.

    Raises
    ------
    GradError
        `y` is not scalar and no `head` is given (or is a Group); a head of the wrong shape
        is a `ShapeError` too.
    DTypeError
        An integer or boolean `wrt`, or `y`.

    Warns
    -----
    GraphcWarning
        The `where` trap: ``where(x > 0, sqrt(x), 0)`` has NaN gradients where ``x <= 0``
        (the unused branch's derivative, inf there, times 0); the warning, at the user's
        line, shows the guarded form ``where(x > 0, sqrt(where(x > 0, x, 1)), 0)``.

    Notes
    -----
    `stop_gradient`/`.detach()` block the flow; each node shared by several paths has its
    cotangent contributions summed once. An output whose shape is unknown is checked to
    have size 1 once its shape is known (a compiled call, `bind`, `simple_bind`,
    `infer_shape`), and a var whose dtype is unknown to be bound to floating data; the
    result has `wrt`'s shape and dtype.

    Examples
    --------
    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> print(gc.grad(2 * gc.dot(x, x), x))
    4*x
    """
    if not isinstance(y, Symbol):
        raise GradError(f"grad: y must be a graphc symbol, got {type(y).__name__}")
    if y.op == "group":
        raise GradError("grad: y is a Group; differentiate one output, or their sum")
    (y,), wrts = resolve([y], as_symbols(wrt, names=True), "grad")
    for w in wrts:
        check_differentiable(w)
    check_differentiable_output(y)
    nodes = toposort([y])
    if any(n.op == "where" for n in nodes):  # the where trap (graphc.grad_lint)
        warn_where_traps(nodes, depends(nodes, wrts))
    unsized = y if head is None and not _size_one(y.shape) else None
    given = y
    (y,) = stable([y], wrts, simplify)
    cts = backprop([y], [head_for(y, head)], wrts)
    results = []
    for w in wrts:
        g = cts.get(id(w))
        with origin_scope(w.origin):
            results.append(ops.zeros_like(w) if g is None else as_cotangent(g, w))
    if simplify:
        results = run_passes(results)
    results = [_typed_gradient(g, w, unsized) for g, w in zip(results, wrts)]
    for g, w in zip(results, wrts):
        _remember_gradient(g, given, w)
    return results[0] if isinstance(wrt, (Symbol, str)) else results


# id(gradient) -> (weakref to it, y, wrt) for the symbols `grad` returned: how a program
# that outputs them names them (graphc.readable: dL_dW). Keyed by id (a symbol's `==`
# builds a node); an entry goes with its symbol.
_GRADIENTS: dict[int, tuple] = {}


def _remember_gradient(g: Symbol, y: Symbol, w: Symbol) -> None:
    if g.op not in ("var", "const") and id(g) not in _GRADIENTS:
        _GRADIENTS[id(g)] = (weakref.ref(g), y, w)
        weakref.finalize(g, _GRADIENTS.pop, id(g), None)


def gradient_of(g: Symbol) -> tuple[Symbol, Symbol] | None:
    """`(y, wrt)` when `g` is a symbol that `grad(y, wrt)` returned, else None.

    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> y = gc.sin(x)
    >>> of, wrt = gradient_of(gc.grad(y, x))
    >>> of is y, wrt is x, gradient_of(y)
    (True, True, None)
    """
    entry = _GRADIENTS.get(id(g))
    if entry is None or entry[0]() is not g:
        return None
    return entry[1], entry[2]


def stable(outputs: list, keep: Sequence[Symbol], simplify: bool) -> list:
    """With simplification on, derivatives are derived from the stable forms that the
    simplifier computes values with (`simplify.rewrites.stabilize`: `log(sum(exp(x)))` is
    `logsumexp(x)`, whose gradient is finite where exp(x) overflows). `keep` stays as is."""
    if not simplify:
        return list(outputs)
    return stabilize(outputs, keep)


def _size_one(shape) -> bool:
    return shape is not None and all(d == 1 for d in shape)


def _typed_gradient(g: Symbol, w: Symbol, unsized: Symbol | None) -> Symbol:
    """`g` as the gradient with respect to `w`: of w's shape and dtype, and refused when `w`
    is bound to integers or the output `unsized` (differentiated without a head) turns out
    not to have size 1. The checks run as soon as those types are known (now, or when
    specialised: see `ops.checked_grad`); `g` itself when nothing is left to check."""
    node = ops.checked_grad(g, w) if unsized is None else ops.checked_grad(g, w, unsized)
    resolved = node.opdef.resolve(*node.inputs)
    return node if resolved is None else resolved


def check_differentiable_output(y: Symbol) -> None:
    if y.dtype is not None and np.dtype(y.dtype).kind not in "fc":
        raise DTypeError(
            f"{format_origin(y.origin)}: cannot differentiate {y.op} output of dtype {y.dtype}"
        )


def as_cotangent(g, like: Symbol) -> Symbol:
    """A cotangent as a node of `like`'s shape (Python-number heads become broadcasts)."""
    if isinstance(g, Symbol):
        return g
    return ops.broadcast_like(const(g), like) if like.shape != () else const(g)


@checks_call
def jvp(y, tangents: dict, simplify: bool = True):
    """Forward-mode derivative of `y` (a symbol, or a list of them) along `tangents`.

    `tangents` maps vars, var names (or nodes) to tangent symbols or arrays of their shapes
    (a var or a name stands for every var of that name in the graph); the result
    is the Jacobian-vector product ``J t``, of `y`'s shape (zeros where `y` does not depend
    on the tangents). The rules are the op table's `jvp` methods, walked inputs first.

    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> t = gc.jvp(gc.sin(x) * x, {x: 1.0})
    >>> print(t)
    x*cos(x) + sin(x)
    >>> float(gc.compile([x], t)(0.0))
    0.0
    """
    outputs = as_symbols(y, "y")
    if not isinstance(tangents, Mapping):
        raise GradError(
            f"jvp: tangents must be a dict var -> tangent, got {type(tangents).__name__}"
        )
    for x in tangents:
        if not isinstance(x, (Symbol, str)):
            raise GradError(
                f"jvp: tangents must be keyed by symbols or var names, got {type(x).__name__}"
            )
    outputs, keys = resolve(outputs, list(tangents), "jvp")
    seeds: dict[int, Symbol] = {}
    for x, t in zip(keys, tangents.values()):
        if id(x) in seeds:
            raise GradError(f"jvp: two tangents for {_describe(x)}")
        check_differentiable(x)
        t = (
            t
            if isinstance(t, Symbol)
            else const(np.asarray(t, dtype=x.dtype if x.dtype is not None else None))
        )
        if (
            t.shape is not None
            and x.shape is not None
            and (
                len(t.shape) != len(x.shape)
                or any(
                    a is not None and b is not None and a != b for a, b in zip(t.shape, x.shape)
                )
            )
        ):
            raise HeadShapeError(
                f"jvp: tangent of shape {fmt_shape(t.shape)} for "
                f"{_describe(x)} of shape {fmt_shape(x.shape)}"
            )
        seeds[id(x)] = t
    outputs = stable(outputs, keys, simplify)
    results = forward(outputs, seeds)
    if simplify:
        results = run_passes(results)
    return results[0] if isinstance(y, Symbol) else results


def forward(outputs: Sequence[Symbol], seeds: dict[int, Symbol]) -> list[Symbol]:
    """Tangents of `outputs` given tangents of some nodes (id -> symbol)."""
    tangents = dict(seeds)
    for node in toposort(outputs):
        if (
            id(node) in tangents
            or not node.inputs
            or not node.opdef.differentiable
            or not _is_float(node)
        ):
            continue
        ts = [
            None if i in node.opdef.nondiff_inputs else tangents.get(id(x))
            for i, x in enumerate(node.inputs)
        ]
        if all(t is None for t in ts):
            continue
        with origin_scope(node.origin):
            t = node.opdef.jvp(ts, node, *node.inputs, **node.attrs)
        if t is not None:
            tangents[id(node)] = t
    results = []
    for out in outputs:
        t = tangents.get(id(out))
        with origin_scope(out.origin):
            results.append(ops.zeros_like(out) if t is None else t)
    return results
