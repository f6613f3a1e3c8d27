"""The batching transform: a graph as a function of a batch of values of some of its nodes.

`batch(outputs, {node: batched}, size)` rebuilds `outputs` with each given node replaced by
`batched`, the same node with an extra leading axis of `size` entries: every node that depends
on them gets that axis too, through its op's `batch` rule (`OpDef.batch`: elementwise ops
broadcast, ops with an axis shift it, shape ops prepend the batch dim, products have their
own), and the rest of the graph is kept as it is. `gc.jacobian` and `gc.hessian` push a
basis of one-hot vectors through one vector-Jacobian (or Jacobian-vector) product this way:
the emitted program is as long as one product, not one product per row.

An op without a vectorised rule (a shape-generic op: `sum_to`, `product_vjp`, ...) is
replaced by its static form (`OpDef.resolve`), which is batched; failing that, or when the
node's shapes are not known (the rules read them), it is applied once per batch entry and
the results are stacked: correct, but as long as the batch (tests/test_batching.py names the
ops that do this).
"""

from __future__ import annotations

from collections.abc import Sequence

from . import ops
from .errors import GraphcError
from .ir import Graph, Symbol, origin_scope, remake, toposort
from .ops.base import fmt_shape, known
from .subgraph import make_param


def batch(outputs: Sequence[Symbol], seeds: dict, size: int) -> list[Symbol]:
    """`outputs` rebuilt on batches of the nodes in `seeds`.

    Parameters
    ----------
    outputs : list of Symbol
        Nodes of known shapes wherever they depend on the seeds (others are looped over).
    seeds : dict
        Maps a node of `outputs`' graph to its batch: a symbol of shape
        ``(size,) + node.shape``.
    size : int
        The number of entries of the batch.

    Returns
    -------
    list of Symbol
        Each output's batch, of shape ``(size,) + output.shape`` (an output that does not
        depend on the seeds is broadcast).

    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x", shape=(3,))
    >>> xs = gc.var("xs", shape=(2, 3))
    >>> (y,) = batch([gc.sum(gc.sin(x) * 2.0)], {x: xs}, 2)
    >>> print(y)
    sum(2*sin(xs), axis=1)
    """
    memo: dict[int, tuple] = {}
    for node, value in seeds.items():
        if not _fits(value.shape, (size,) + node.shape if node.shape is not None else None):
            raise GraphcError(
                f"batch: the batch of a node of shape {fmt_shape(node.shape)} has shape "
                f"{fmt_shape(value.shape)}, expected {size} entries of the node's shape"
            )
        memo[id(node)] = (value, True, node)
    results = []
    for out in outputs:
        value, batched, _ = _walk(out, memo, size)
        if not batched:
            with origin_scope(out.origin):
                value = ops.broadcast_to(ops.expand_dims(value, 0), (size,) + out.shape)
        results.append(value)
    return results


def batched_graph(graph: Graph, flags: Sequence[bool], size: int) -> Graph | None:
    """A sub-graph (a control-flow body) taking a batch for each param flagged in `flags`;
    every output is a batch. None if such a param's shape is not known."""
    params = list(graph.inputs)
    for k, (p, flag) in enumerate(zip(graph.inputs, flags)):
        if flag:
            if p.shape is None:
                return None
            params[k] = make_param(p.name, (size,) + p.shape, p.dtype, p.origin)
    seeds = {p: q for p, q, flag in zip(graph.inputs, params, flags) if flag}
    return Graph(params, batch(list(graph.outputs), seeds, size))


def _fits(shape, expected) -> bool:
    """Do two shapes agree where both are known?"""
    if shape is None or expected is None:
        return True
    return len(shape) == len(expected) and all(
        a is None or b is None or a == b for a, b in zip(shape, expected)
    )


def _walk(root: Symbol, memo: dict, size: int) -> tuple:
    """`memo[id(root)]` after filling it: id(node) -> (value, batched, node), the node kept
    alive (a replacement made by `resolve` is otherwise dropped, and its id reused)."""
    for node in toposort([root], stop_ids=memo):
        if id(node) not in memo:
            memo[id(node)] = _batch_node(node, memo, size) + (node,)
    return memo[id(root)]


def _batch_node(node: Symbol, memo: dict, size: int) -> tuple:
    """(the node's batch, True), or (node, False) when it does not depend on the seeds."""
    entries = [memo[id(x)] for x in node.inputs]
    flags = tuple(e[1] for e in entries)
    inputs = tuple(e[0] for e in entries)
    if not any(flags):  # (rebuilt if an input was replaced by its static form)
        same = all(v is x for v, x in zip(inputs, node.inputs))
        return (node if same else remake(node, inputs)), False
    with origin_scope(node.origin):
        if node.op == "get" and isinstance(inputs[0], tuple):  # an element of a loop's batch
            return inputs[0][node.attrs["index"]], True
        out = node.opdef.batch(flags, node, *inputs, **node.attrs) if _known(node) else None
        if out is None:
            resolved = node.opdef.resolve(*node.inputs, **node.attrs)
            if resolved is not None and resolved is not node:  # its static form, batched
                return _walk(resolved, memo, size)[:2]
            return _one_by_one(node, inputs, flags, size), True
    if isinstance(out, tuple):  # a tuple-valued node's results (their `get`s), batched
        return out, True
    if not _fits(out.shape, None if node.shape is None else (size,) + node.shape):
        raise GraphcError(
            f"the batch rule of {node.op} gave shape {fmt_shape(out.shape)} for "
            f"{size} entries of shape {fmt_shape(node.shape)} (a bug in that rule)"
        )
    return out, True


def _known(node: Symbol) -> bool:
    """Are the shapes a batch rule reads known (else the op is applied entry by entry)?"""
    shapes = [x.shape for x in node.inputs]
    if getattr(node.opdef, "element_types", None) is None:  # not a tuple-valued node
        shapes.append(node.shape)
    return all(known(s) for s in shapes)


def _one_by_one(node: Symbol, inputs: tuple, flags: tuple, size: int):
    """The op applied to each entry of the batch, the results stacked (the fallback for an
    op without a vectorised rule); a tuple-valued node (a loop) gives a tuple of batches."""
    copies = [
        remake(node, tuple(ops.getitem(x, i) if b else x for x, b in zip(inputs, flags)))
        for i in range(size)
    ]
    if node.shape is not None:
        return ops.stack(copies)
    count = len(node.opdef.element_types(node))
    return tuple(ops.stack([ops.get(c, index=k) for c in copies]) for k in range(count))
