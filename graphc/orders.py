"""Topological orders (`toposort`), and one order shared by the passes of a compilation.

Graphs are immutable, so the order of the nodes reachable from the same output objects
(stopping at the same nodes) never changes. Passes that leave a graph as it was, and the
checks around them, used to walk it again each (`gc.grad` then `gc.compile` of a 1e5-node
graph took 33 walks, a quarter of their time). Inside `shared_orders()` (which `gc.grad`,
`gc.compile`, a compiled function's first call and `gc.simplify` open), `toposort`
remembers its last few answers, keyed by the outputs' and stop nodes' identities, and holds
those nodes so that the identities stay valid; the memory goes when the outermost block
ends.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Iterable
from contextlib import contextmanager

MAX_ORDERS = 4  # orders kept in a block: the graph a pass returned and a few before it

_active: list[OrderedDict] = []  # the outermost block's orders, while one is open
stats = {"walks": 0, "shared": 0}  # toposorts inside blocks: walked, and answered again


def toposort(outputs: Iterable, stop: Iterable = (), stop_ids=None, marked: int = 0) -> list:
    """Nodes reachable from `outputs`, inputs before users, in depth-first left-to-right order.

    Iterative, so graphs of any depth work. Nodes in `stop` (or whose ids are in `stop_ids`,
    any container of ids: it is read, not copied; or with a bit of `marked` set in their
    `_fixed` marks, see `graphc.simplify.framework.rule_pass`) are listed but not entered.
    Inside `shared_orders()` a repeated question (no `stop_ids`, no `marked`) is answered
    from memory.

    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> [n.op for n in toposort([gc.sin(x) * x])]
    ['var', 'sin', 'multiply']
    """
    stop = tuple(stop)
    if not marked and (stop_ids is None or _among(stop_ids, stop)):
        return remembered(tuple(outputs), stop, _walk)
    return _walk(outputs, stop, stop_ids, marked)


def _among(ids, stop: tuple) -> bool:
    """Are `ids` (a set) all ids of `stop` nodes (so that they stop nothing more)?"""
    return (
        isinstance(ids, (set, frozenset)) and len(ids) <= len(stop) and ids <= set(map(id, stop))
    )


def frontier_order(outputs, token) -> list:
    """`toposort(outputs, stop)` where `stop` are the nodes whose `_normal` is `token` (the
    simplifier's normal forms, see `graphc.simplify.run`): found on the way, in one walk.
    Inside `shared_orders()` the order is remembered as the answer for those stop nodes."""
    order = _walk(outputs, (), None, 0, token)
    if _active:
        stop = tuple(n for n in order if n._normal is token)
        _store(tuple(outputs), stop, order)
        order = list(order)
    return order


def _walk(outputs, stop=(), stop_ids=None, marked: int = 0, normal=None) -> list:
    # Depth first with an iterator per open node: each edge is looked at once.
    order: list = []
    leaves = {id(s) for s in stop}
    skip = stop_ids if stop_ids else leaves
    normal_stops = normal is not None
    seen: set[int] = set()
    for root in outputs:
        key = id(root)
        if key in seen:
            continue
        seen.add(key)
        stops = (marked and root._fixed & marked) or (normal_stops and root._normal is normal)
        if key in leaves or key in skip or stops:
            order.append(root)
            continue
        stack = [(root, iter(root.inputs))]
        while stack:
            node, inputs = stack[-1]
            for x in inputs:
                key = id(x)
                if key not in seen:
                    seen.add(key)
                    if (
                        key in leaves
                        or key in skip
                        or (marked and x._fixed & marked)
                        or (normal_stops and x._normal is normal)
                    ):
                        order.append(x)  # listed, not entered
                    else:
                        stack.append((x, iter(x.inputs)))
                        break
            else:  # all inputs are listed: the node follows them
                stack.pop()
                order.append(node)
    return order


@contextmanager
def shared_orders():
    """Within the block, `toposort` answers a repeated question (the same output objects,
    the same stop nodes) from memory. A nested block shares the outer one's orders.

    >>> import graphc as gc
    >>> y = gc.sin(gc.var("x"))
    >>> with shared_orders():
    ...     first, again = toposort([y]), toposort([y])
    >>> [a is b for a, b in zip(first, again)], first is again
    ([True, True], False)
    """
    if _active:
        yield
        return
    _active.append(OrderedDict())
    try:
        yield
    finally:
        _active.pop()


def sharing_orders(fn: Callable) -> Callable:
    """Decorate `fn`: it runs inside `shared_orders()`."""

    @functools.wraps(fn)
    def sharing(*args, **kwargs):
        with shared_orders():
            return fn(*args, **kwargs)

    return sharing


def _key(outputs, stop) -> tuple:
    # (a leaf stops nothing: the walk is the same with it or without it)
    return tuple(map(id, outputs)), frozenset(id(s) for s in stop if s.inputs)


def known_order(outputs, stop=()) -> list | None:
    """A copy of the order the open block remembers for `outputs` and `stop` (nodes), or
    None: never a walk."""
    if not _active:
        return None
    orders, key = _active[0], _key(outputs, stop)
    hit = orders.get(key)
    if hit is None:
        return None
    orders.move_to_end(key)
    stats["shared"] += 1
    return list(hit[2])


def remembered(outputs: tuple, stop: tuple, walk: Callable) -> list:
    """`walk(outputs, stop)` (a new list), or a copy of the answer remembered in the open
    block for the same outputs and stop nodes; `walk` itself outside any block."""
    if not _active:
        return walk(outputs, stop)
    hit = known_order(outputs, stop)
    if hit is not None:
        return hit
    order = walk(outputs, stop)
    stats["walks"] += 1
    _store(outputs, stop, order)
    return list(order)


def _store(outputs: tuple, stop: tuple, order: list) -> None:
    orders = _active[0]
    orders[_key(outputs, stop)] = (outputs, stop, order)  # (holding the nodes: ids stay valid)
    if len(orders) > MAX_ORDERS:
        orders.popitem(last=False)
