"""The fused backend, ``"numexpr"``: each maximal cluster of elementwise operations of the
program (forward and backward alike) is one multi-threaded numexpr evaluation, with no
temporaries between its operations.

`Numexpr.lower`, the last pass before the program is written, finds the clusters from the
op table's facts (an op with a `numexpr` fact; float32, float64 and boolean values only) and
replaces each by one `fused` node (`graphc.ops.fused`), which is emitted as
``t3 = _ne("sin(x) * exp(-(x * x)) + log1p(x * x)", x=x)``. A value read by several
clusters, by an op numexpr lacks, or returned, is materialised once; a shared value whose
ops are cheap per entry (the `recompute` fact: arithmetic, `exp`, `sqrt`, comparisons) is
recomputed inside each cluster instead, which halves the peak memory of the elementwise
benchmark (0.25x hand numpy's, against 0.50x storing exp and sqrt) for some time (1.96x
against 1.29x under load; both measured in ``benchmarks/results/*-fused.txt``).
A full `sum` ending a float64 cluster is numexpr's `sum` too (``fuse_sum=True``, the
default): no array holds the summed values, whatever order the program runs in. numexpr sums
on one thread; measured in one run (load 5), the elementwise benchmark took 1.60x hand
numpy's time with it and 1.53x with numpy's sum, at 0.25x and 0.38x its peak memory. Clusters
of one op, or smaller than `min_size` entries, stay numpy statements (numexpr's call costs a
few microseconds).

numpy's semantics are kept: a cluster is fused only when numexpr, compiled for its argument
dtypes, gives the node's dtype; Python numbers become literals only where they are float64,
else 0-d arrays of the dtype numpy computes them in (numexpr would widen a float32 cluster).
The evaluation is `graphc.runtime._ne` (compiled once per expression and argument dtypes; an
exported module copies it and needs only numpy and numexpr). Threads: numexpr's pool
(``NUMEXPR_NUM_THREADS``, ``NUMEXPR_MAX_THREADS`` or `numexpr.set_num_threads`), or
``Numexpr(threads=n)``, which the program sets as it starts (`_ne_threads`).
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from .. import runtime
from ..dispatch import const
from ..ir import Symbol, rebuild, toposort, users
from ..ops.fused import fused, template
from .base import Backend

MIN_SIZE = 4096  # entries: below it a cluster stays numpy statements (measured crossover)


class Numexpr(Backend):
    """Elementwise clusters fused into numexpr evaluations (see the module docstring).

    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x", shape=(10000,), dtype=np.float64)
    >>> y = gc.sum(gc.sin(x) * gc.exp(-x * x))
    >>> f = gc.compile([x], [y, *gc.grad(y, [x])], backend="numexpr")
    >>> print(f.source)  # doctest: +NORMALIZE_WHITESPACE
    import numpy as np
    from graphc.runtime import _ne
    <BLANKLINE>
    def fn(x):
        t1 = np.sin(x)
        t2 = _ne("exp(-x * x)", x=x)
        t3 = np.dot(t1, t2)
        del t2
        t4 = _ne("(cos(x) - 2.0 * x * t1) * exp(-(x * x))", x=x, t1=t1)
        del t1
        return t3, t4
    """

    name = "numexpr"
    packages = ("numexpr",)
    extra = "numexpr"

    def __init__(self, threads: int | None = None, min_size: int = MIN_SIZE, fuse_sum=True):
        self.threads, self.min_size, self.fuse_sum = threads, min_size, fuse_sum

    def lower(self, outputs: list[Symbol]) -> list[Symbol]:
        return Clusters(outputs, self).fused()

    def prologue(self, params: list[str]) -> list[str]:
        return [] if self.threads is None else [f"_ne_threads({int(self.threads)})"]

    def header(self, helpers: set[str]) -> list[str]:
        return super().header(helpers if self.threads is None else helpers | {"_ne_threads"})

    def standalone(self, program=None) -> list[str]:
        lines = super().standalone(program)
        if self.threads is not None:  # the prologue's helper (the body's are copied anyway)
            lines += ["", inspect.getsource(runtime._ne_threads).rstrip()]
        return lines

    def __repr__(self):
        options = "" if self.threads is None else f" threads={self.threads}"
        return f"<graphc backend {self.name!r}{options}>"


def _kind_ok(dtype) -> bool:
    """A dtype numexpr computes as numpy does here: float32, float64, bool."""
    return dtype is not None and np.dtype(dtype).str[1:] in ("f4", "f8", "b1")


def _weak_number(x: Symbol) -> bool:
    return x.op == "const" and type(x.attrs["value"]) in (bool, int, float)


class Clusters:
    """The fusion of one program's graph: which nodes are fused, into which clusters."""

    def __init__(self, outputs: list[Symbol], backend: Numexpr):
        self.outputs, self.backend = outputs, backend
        self.order = toposort(outputs)
        self.readers = users(self.order)
        self.ok = {id(n): self._fusable(n) for n in self.order}
        returned = {id(o) for o in outputs}
        self.sums = {id(n): n for n in self.order if self._fused_sum(n, returned)}
        self.root: dict[int, bool] = {}
        cheap: dict[int, bool] = {}
        for n in self.order:
            if not self.ok[id(n)]:
                continue
            inlined = [x for x in n.inputs if self.ok.get(id(x)) and not self.root[id(x)]]
            cheap[id(n)] = n.opdef.recompute and all(cheap[id(x)] for x in inlined)
            readers = {id(r) for r in self.readers[id(n)]}
            outside = id(n) in returned or any(
                not self.ok[r] and r not in self.sums for r in readers
            )
            self.root[id(n)] = outside or (len(readers) > 1 and not cheap[id(n)])

    def _fusable(self, n: Symbol) -> bool:
        if not (n.opdef.elementwise and template(n.opdef) and _kind_ok(n.dtype)):
            return False
        if (
            n.shape is not None
            and None not in n.shape
            and math.prod(n.shape) < self.backend.min_size
        ):
            return False
        return all(_kind_ok(x.dtype) or _weak_number(x) for x in n.inputs)

    def _fused_sum(self, n: Symbol, returned) -> bool:
        """A full float64 `sum` of a fusable value nothing else reads (summed by numexpr)."""
        if not self.backend.fuse_sum or n.op != "sum" or n.attrs.get("axis") is not None:
            return False
        x = n.inputs[0]
        return (
            not n.attrs.get("keepdims")
            and self.ok.get(id(x), False)
            and self._summed(n, x, returned)
        )

    def _summed(self, n: Symbol, x: Symbol, returned) -> bool:
        """Is the sum `n` of fusable `x` computed in x's cluster (numexpr: float64, when
        nothing else reads x)?"""
        return (
            id(x) not in returned
            and len(self.readers[id(x)]) == 1
            and n.dtype == np.float64 == x.dtype
        )

    def fused(self) -> list[Symbol]:
        """The outputs with each cluster replaced by its `fused` node."""
        memo: dict[int, Symbol] = {}

        def rule(node, inputs):
            if id(node) in self.sums:
                return self._node(node, node.inputs[0], "sum", memo)
            if self.ok.get(id(node)) and self.root[id(node)]:
                return self._node(node, node, None, memo)
            return None

        return rebuild(self.outputs, rule, memo=memo, order=self.order)

    def _node(self, node: Symbol, top: Symbol, reduce, memo) -> Symbol | None:
        leaves: dict[int, Symbol] = {}
        count = [1 if reduce else 0]
        tree = self._tree(top, top, leaves, count, memo)
        if count[0] < 2:
            return None  # one op: its numpy statement is as good
        inputs = tuple(leaves.values())
        dtype = node.dtype
        attrs = fused.check_attrs({"tree": tree, "reduce": reduce, "dtype": dtype})
        if not _same_dtype(fused, inputs, attrs, dtype):
            return None
        return Symbol(fused, inputs, attrs, node.shape, dtype, origin=node.origin)

    def _tree(self, n: Symbol, top: Symbol, leaves: dict, count: list, memo):
        count[0] += 1
        children = []
        for i, x in enumerate(n.inputs):
            if self.ok.get(id(x)) and not self.root[id(x)]:
                children.append(self._tree(x, top, leaves, count, memo))
            elif _weak_number(x):
                children.append(_number(x, n, i, leaves))
            else:
                new = memo.get(id(x), x)
                children.append(
                    ("in", list(leaves).index(id(new)) if id(new) in leaves else _add(leaves, new))
                )
        return (n.op, *children)


def _add(leaves: dict, x: Symbol) -> int:
    leaves[id(x)] = x
    return len(leaves) - 1


def _number(c: Symbol, user: Symbol, i: int, leaves: dict):
    """A Python number read by `user` (as its input `i`): a literal where numpy computes it
    in float64, else a 0-d array of the dtype numpy gives it (NEP 50: the other operands')."""
    value = c.attrs["value"]
    others = [x.dtype for k, x in enumerate(user.inputs) if k != i and not _weak_number(x)]
    dtype = np.result_type(*others, value) if others else user.dtype
    if dtype == np.float64 and type(value) in (int, float) and math.isfinite(value):
        if type(value) is float or abs(value) < 2**31:
            return ("lit", value)
    arr = const(np.asarray(value, dtype=dtype))
    return ("in", _add(leaves, arr))


def _same_dtype(op, inputs, attrs, dtype) -> bool:
    """Does numexpr, compiled for these inputs' dtypes, give `dtype`? (It widens some mixes
    numpy does not.) Also False when numexpr refuses the expression."""
    import numexpr

    names = [f"a_{k}" for k in range(len(inputs))]
    body, _ = op.expression(names, attrs["tree"], attrs["reduce"])
    try:
        ex = numexpr.NumExpr(
            body,
            [(n, numexpr.necompiler.getType(np.zeros(1, x.dtype))) for n, x in zip(names, inputs)],
        )
        out = ex(
            *(np.zeros(1, x.dtype) for x in inputs), order="K", casting="safe", ex_uses_vml=False
        )
    except Exception:  # numexpr refuses it: the ops stay numpy statements
        return False
    return np.asarray(out).dtype == dtype
