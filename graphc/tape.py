"""The eager mode's tape: `Node` (a tensor's `grad_fn`) and the reverse pass over it.

A node records one operation applied to tensors that require grad: the op, its inputs, their
values, the attrs and which inputs required grad. `backprop` orders the nodes that lead to
the outputs by creation (a topological order, found without recursion), and calls each op's
`vjp_some` rule from the op table: the same rules the compiler uses, on numpy values, or on
tensors when the backward pass itself is to be recorded (`create_graph=True`).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence

import numpy as np

from .errors import GradError
from .ops import checked_grad

_counter = itertools.count()


class Node:
    """A tape entry, shown as a tensor's `grad_fn`: the op, its inputs (tensors and
    constants), their values `args`, the attrs, and `mask`: which inputs required grad.

    `inputs` and `args` become None when a backward pass without `retain_graph=True` frees
    them.
    """

    __slots__ = ("op", "inputs", "args", "attrs", "mask", "seq")

    def __init__(self, op, inputs: tuple, args: list, attrs: dict, mask: list):
        self.op, self.inputs, self.args, self.attrs, self.mask = op, inputs, args, attrs, mask
        # Creation order: a node is always made after its inputs' nodes, so sorting by it
        # is a topological order.
        self.seq = next(_counter)

    def name(self) -> str:
        """PyTorch-style name, e.g. `MulBackward`."""
        return backward_name(self.op)

    @property
    def next_functions(self) -> tuple:
        """(grad_fn of each input or None, 0), as in PyTorch (leaves give None)."""
        if self.inputs is None:
            return ()
        return tuple((x._node if m else None, 0) for x, m in zip(self.inputs, self.mask))

    def __repr__(self) -> str:
        return f"<{backward_name(self.op)}>"


@functools.cache
def backward_name(op) -> str:
    short = op.tape_name or "".join(p.capitalize() for p in op.name.split("_"))
    return short + "Backward"


def freed_error(node: Node) -> GradError:
    return GradError(
        f"{node!r}: trying to backward through the graph a second time: its saved "
        "values were freed by an earlier backward pass; specify "
        "retain_graph=True on the first backward() or eager.grad() call if you "
        "need to go through the graph again"
    )


def walk(roots: Sequence) -> tuple[list, list]:
    """The recorded tensors that lead to `roots`, users before inputs (by creation order,
    which is topological), and the leaves that require grad among their inputs."""
    seen: dict[int, tuple] = {}
    leaves: dict[int, object] = {}
    stack = []
    for r in roots:
        if r._node is not None:
            stack.append(r)
        elif r._rg:
            leaves[id(r)] = r
    while stack:  # iterative: graphs of any depth
        t = stack.pop()
        if id(t) in seen:
            continue
        node = t._node
        seen[id(t)] = (node.seq, t)
        inputs = node.inputs
        if inputs is None:
            raise freed_error(node)
        for x, m in zip(inputs, node.mask):
            if m:
                if x._node is None:
                    leaves[id(x)] = x
                elif id(x) not in seen:
                    stack.append(x)
    order = [t for _, t in sorted(seen.values(), key=_first, reverse=True)]
    return order, list(leaves.values())


def _first(pair):
    return pair[0]


def relevant(order: list, targets: Sequence) -> set[int]:
    """ids of the tensors through which a derivative reaches one of `targets`."""
    rel = {id(t) for t in targets}
    for t in reversed(order):  # inputs before users
        node = t._node
        if id(t) not in rel:
            for x, m in zip(node.inputs, node.mask):
                if m and id(x) in rel:
                    rel.add(id(t))
                    break
    return rel


def backprop(roots, heads, targets, retain: bool, create: bool, wrap) -> dict:
    """The reverse pass from `roots` (tensors) seeded with `heads` (their cotangents).

    `targets` None: accumulate into `.grad` of the leaves (and of tensors marked
    `retain_grad`). Otherwise: return {id(target): cotangent} and leave `.grad` alone.
    `create`: run the rules on tensors, so that they record (the caller turns grad mode on);
    else on their numpy values. `wrap(array)` makes a tensor. Nodes are freed unless `retain`.
    """
    order, leaves = walk(roots)
    target_ids = () if targets is None else {id(x) for x in targets}
    rel = _pruning(order, leaves, targets, target_ids)
    cts: dict[int, object] = {}
    for r, h in zip(roots, heads):
        if r._rg:
            _add_cotangent(cts, r, h)
    found: dict[int, object] = {}
    for t in order:
        g = cts.pop(id(t), None)
        if g is None:
            continue
        _deliver(t, g, targets, target_ids, found, create, wrap)
        _through_node(t, g, rel, create, cts)
        if not retain:
            t._node.inputs = t._node.args = None
    for t in leaves:
        g = cts.get(id(t))
        if g is not None:
            _deliver(t, g, targets, target_ids, found, create, wrap)
    return found


def _pruning(order: list, leaves: list, targets, target_ids) -> set[int] | None:
    """None when every path counts; else the ids through which a derivative reaches a
    target (some leaves or intermediate results are not wanted: what leads only there is
    pruned)."""
    if targets is None:
        return None
    if any(x._node is not None for x in targets) or not all(id(t) in target_ids for t in leaves):
        return relevant(order, targets)
    return None


def _deliver(t, g, targets, target_ids, found: dict, create: bool, wrap) -> None:
    """A finished cotangent `g` of `t`: without targets, into `.grad` of a leaf or a
    `retain_grad` tensor; with targets, into `found` for a target."""
    if targets is None:
        if t._node is None or t._retain:
            accumulate(t, g, create, wrap)
    elif id(t) in target_ids:
        found[id(t)] = g


def _through_node(t, g, rel, create: bool, cts: dict) -> None:
    """Add the cotangents of the inputs of `t`'s node (those a derivative is wanted for:
    recording ones, within `rel` when pruning) given `g`, the cotangent of `t`."""
    node = t._node
    inputs = node.inputs
    wanted = node.mask if rel is None else [m and id(x) in rel for x, m in zip(inputs, node.mask)]
    if True not in wanted:
        return
    if create:
        contribs = node.op.vjp_some(wanted, g, t, *inputs, **node.attrs)
    else:
        contribs = node.op.vjp_some(wanted, g, t._data, *node.args, **node.attrs)
    for x, w, ct in zip(inputs, wanted, contribs):
        if w and ct is not None:
            _add_cotangent(cts, x, ct)


def _add_cotangent(cts: dict, x, ct) -> None:
    prev = cts.get(id(x))
    cts[id(x)] = ct if prev is None else prev + ct


def accumulate(t, g, create: bool, wrap) -> None:
    """`t.grad += g`, in place when it is safe (PyTorch accumulates across backward calls)."""
    if create:
        if getattr(type(g), "_graphc_kind", None) != "eager":
            g = wrap(fit(np.asarray(g), t))
        elif g._data.shape != t._data.shape or g._data.dtype != t._data.dtype:
            g = checked_grad(g, t)  # t's shape and dtype, recorded (differentiable)
        t._grad = g if t._grad is None else t._grad + g
        return
    g = fit(np.asarray(g), t)
    old = t._grad
    if old is None:
        t._grad = wrap(np.array(g, dtype=t._data.dtype))
    elif (
        old._node is None
        and not old._rg
        and old._data.flags.writeable
        and old._data.shape == g.shape
    ):
        np.add(old._data, g, out=old._data, casting="unsafe")
    else:
        t._grad = wrap((old._data + g).astype(t._data.dtype, copy=False))


def fit(g: np.ndarray, t) -> np.ndarray:
    """`g` with `t`'s shape (a scalar head broadcasts); GradError if it cannot be."""
    if g.shape != t._data.shape:
        try:
            g = np.broadcast_to(g, t._data.shape)
        except ValueError:
            raise GradError(
                f"backward: a gradient of shape {g.shape} reached a tensor of "
                f"shape {t._data.shape}"
            ) from None
    return g
