"""The order a program computes its nodes in: a topological order that frees buffers early.

`ir.toposort` lists nodes depth first from the outputs, so a value read by two outputs waits
for the later one: in a deep network's gradient, every layer's cotangent `g` stays alive
until the end, where the bias gradients `sum(g, axis=1)` are computed. `memory_order` keeps
that order, except that when every reader of a temporary can run, and running them now
allocates no more than the temporary's buffer (results count nothing: they are kept to the
end anyway), they run now and the temporary dies: the bias gradient is computed where `g`
dies, as one would write it by hand.

Views (nodes that are not `fresh`, reading at most one computed value: `x.T`, a reshape)
cost no buffer: they are computed just before the first node that reads them, and a value
read through a view is read by the view's readers. The order is found in time linear in the
size of the graph (and a sort of each released temporary's readers).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

from .ir import Symbol

__all__ = ["dead_after", "inline_views", "last_uses", "memory_order", "overwrites_a_read"]


def _bytes(node: Symbol) -> int | None:
    shape, dtype = node.shape, node.dtype
    if shape is None or None in shape or dtype is None:
        return None
    return math.prod(shape) * dtype.itemsize


class _Order:
    """The state of one ordering (see `memory_order`); nodes are named by their index in the
    given order."""

    def __init__(self, nodes: Sequence[Symbol], outputs: Sequence[Symbol]):
        self.nodes = nodes
        index = {id(n): i for i, n in enumerate(nodes)}
        self.index = index
        size = len(nodes)
        self.owner = [-1] * size  # the node whose buffer a node's value lives in (-1: none)
        self.readers: list[list[int]] = [[] for _ in range(size)]
        self.owners_read: list[tuple[int, ...]] = [()] * size
        self.missing = [0] * size  # owners read that are not computed yet
        self.kept = [False] * size  # an output lives in it: never freed
        for i, node in enumerate(nodes):
            inputs = {index[id(x)] for x in node.inputs if id(x) in index}
            if _is_view(node, inputs):
                self.owner[i] = self.owner[next(iter(inputs))] if inputs else -1
                continue
            self.owner[i] = i
            read = tuple({self.owner[j] for j in inputs} - {-1})
            self.owners_read[i] = read
            self.missing[i] = len(read)
            for o in read:
                self.readers[o].append(i)
        for out in outputs:
            i = index.get(id(out))
            if i is not None and self.owner[i] >= 0:
                self.kept[self.owner[i]] = True
        self.bytes = [_bytes(n) for n in nodes]
        self.blocked = [len(r) for r in self.readers]  # readers that cannot run yet
        self.pending = [len(r) for r in self.readers]  # readers not computed yet
        self.cost = [0] * size  # buffers the pending readers would allocate (known sizes)
        self.unknown = [0] * size  # pending readers that allocate a buffer of unknown size
        self.allocating = [0] * size  # pending readers that allocate a buffer
        for o, readers in enumerate(self.readers):
            for r in readers:
                self._count(o, r, 1)
        self.done = [False] * size
        self.order: list[Symbol] = []
        self.queue: deque[int] = deque()

    def _count(self, o: int, r: int, sign: int) -> None:
        """Add (or remove) reader r's allocation to what releasing o would cost."""
        if self.kept[r]:
            return  # a result is allocated for good: computing it earlier costs nothing
        self.allocating[o] += sign
        if self.bytes[r] is None:
            self.unknown[o] += sign
        else:
            self.cost[o] += sign * self.bytes[r]

    def releasable(self, o: int) -> bool:
        """Can every reader of o run now, freeing o's buffer for no larger allocation?"""
        if self.blocked[o] or not self.pending[o] or self.kept[o]:
            return False
        if not self.nodes[o].opdef.fresh:
            return False  # it may not own a buffer
        size = self.bytes[o]
        if size is None or self.unknown[o]:
            return self.allocating[o] <= 1
        return self.cost[o] <= size

    def place(self, i: int) -> None:
        """Compute node i (and the views it reads that are not computed yet)."""
        done, index, nodes = self.done, self.index, self.nodes
        stack = [i]
        while stack:
            j = stack[-1]
            if done[j]:
                stack.pop()
                continue
            waiting = False
            for x in nodes[j].inputs:
                k = index.get(id(x))
                if k is not None and not done[k]:
                    stack.append(k)
                    waiting = True
            if waiting:
                continue
            stack.pop()
            done[j] = True
            self.order.append(nodes[j])
            if self.owner[j] == j:
                self._computed(j)

    def _computed(self, i: int) -> None:
        for o in self.owners_read[i]:  # first the values i may have been the last to read
            self.pending[o] -= 1
            self._count(o, i, -1)
            if not self.blocked[o]:
                self.queue.append(o)
        for r in self.readers[i]:
            self.missing[r] -= 1
            if not self.missing[r]:  # r can run: its owners have one blocked reader less
                for o in self.owners_read[r]:
                    self.blocked[o] -= 1
                    if not self.blocked[o]:
                        self.queue.append(o)

    def drain(self) -> None:
        """Release the temporaries whose readers can all run now (see `releasable`)."""
        while self.queue:
            o = self.queue.popleft()
            if self.releasable(o):
                for r in self.readers[o]:  # (in the given order)
                    if not self.done[r]:
                        self.place(r)

    def run(self) -> list[Symbol]:
        for i in range(len(self.nodes)):
            if not self.done[i]:  # (a view not read yet is computed here)
                self.place(i)
                self.drain()
        return self.order


def _is_view(node: Symbol, inputs: set) -> bool:
    opdef = node.opdef
    return not opdef.fresh and len(inputs) <= 1 and getattr(opdef, "emit_block", None) is None


def memory_order(nodes: Sequence[Symbol], outputs: Sequence[Symbol] = ()) -> list[Symbol]:
    """`nodes` (a topological order: inputs first; values outside it are given) reordered so
    that a temporary dies as soon as its readers can run, when running them then allocates
    no more than it frees (see the module docstring). `outputs` are kept to the end.

    >>> import graphc as gc
    >>> x = gc.var("x", shape=(100,))
    >>> t = gc.exp(x)
    >>> u = t * 2
    >>> v, total = gc.sin(u), gc.sum(t)
    >>> [n.op for n in memory_order([t, u, v, total], [v, total])]
    ['exp', 'multiply', 'sum', 'sin']
    """
    if len(nodes) < 3:
        return list(nodes)
    return _Order(nodes, outputs).run()


def overwrites_a_read(nodes: Sequence[Symbol], out_names: dict, names: dict) -> bool:
    """Is an output of a block named after a value the block reads (`names`: id -> name; a
    loop carry updated in place)? Then the block keeps the depth-first order that the caller
    chose the names for (`control_emit._direct`), not `memory_order`."""
    wanted = set(out_names.values())
    return bool(wanted) and any(names.get(id(x)) in wanted for node in nodes for x in node.inputs)


def dead_after(
    node: Symbol, i: int, last_use: dict, local: set, keep: set, reuse, inline=()
) -> list:
    """The values that node `i` of a block reads for the last time (`last_use`: id -> index
    of the last reader; `local`: ids computed in the block; `keep`: ids never freed; `reuse`:
    the input whose buffer node `i` writes), and those that lived on only in a view of them
    read for the last time (`x` after the last read of `t = x.T`, or of `x.T` written into
    node `i`: `inline`, see `inline_views`)."""
    dead: dict[int, Symbol] = {}
    todo = list(node.inputs)
    while todo:
        x = todo.pop(0)
        key = id(x)
        if key in inline:
            todo.extend(x.inputs)
            continue
        if key in dead or x is reuse or key not in local or key in keep:
            continue
        if last_use.get(key) == i:
            dead[key] = x
            if not x.opdef.fresh:
                # (not into a control-flow block: it names its results itself)
                todo.extend(y for y in x.inputs if getattr(y.opdef, "emit_block", None) is None)
    return list(dead.values())


def inline_views(nodes: Sequence[Symbol], outputs: Sequence[Symbol], out_names: dict) -> dict:
    """The transposes of `nodes` that the program writes into their one reader (`a @ x.T`,
    as one writes it by hand, not `t = x.T` then `a @ t`): id -> node. Not an output, not
    read by a control-flow block, not of a constant (a literal has no `.T`)."""
    readers: dict[int, list[Symbol]] = {}
    for node in nodes:
        for x in node.inputs:
            readers.setdefault(id(x), []).append(node)
    kept = {id(o) for o in outputs} | set(out_names)
    inline = {}
    for node in nodes:
        if node.op != "transpose" or id(node) in kept or node.inputs[0].op == "const":
            continue
        read = readers.get(id(node), ())
        if len(read) == 1 and getattr(read[0].opdef, "emit_block", None) is None:
            inline[id(node)] = node
    return inline


def last_uses(nodes: Sequence[Symbol], outputs: Sequence[Symbol], inline=()) -> dict:
    """id -> the index of the last node of `nodes` (in program order) that reads it; outputs
    are read after the last (`len(nodes)`). A node reads what it reads through a transpose
    of `inline`, and a result that may be a view (x.T, reshape, indexing) keeps its inputs'
    buffers alive as long as itself: they must not be overwritten in place before."""
    last_use: dict[int, int] = {}
    for i, node in enumerate(nodes):
        for x in node.inputs:
            last_use[id(x)] = i
            while id(x) in inline:
                x = x.inputs[0]
                last_use[id(x)] = i
    for o in outputs:
        last_use[id(o)] = len(nodes)
    for i in range(len(nodes) - 1, -1, -1):
        node = nodes[i]
        if not node.opdef.fresh and id(node) in last_use:
            for x in node.inputs:
                last_use[id(x)] = max(last_use.get(id(x), i), last_use[id(node)])
    return last_use
