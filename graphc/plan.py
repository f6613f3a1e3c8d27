"""The plan of a bound symbol: its graph specialised to one signature (shapes and dtypes) and
the programs an `Executor` runs on it, built on first use and cached per symbol and signature
(see graphc.executor for the three kinds: forward, fused, split).

Besides the arguments' gradients, the training programs can return *adjoints*: the gradient
of the (head-weighted) outputs with respect to internal values the user asked for by name
(`Executor.adjoint_dict`); with none asked for, the programs are the same as without.
"""

from __future__ import annotations

import weakref

import numpy as np

from . import simplify as passes
from .autodiff import as_cotangent, backprop, depends
from .backends import BACKENDS, Backend
from .binding import argument_vars, internal_outputs, is_float_dtype, output_names
from .codegen import emit_program, remember
from .dispatch import const
from .errors import BindError
from .function import optimize, specialize_graph
from .ir import Symbol, flatten_outputs, remake, toposort
from .ops import OPS
from .simplify.rewrites import stabilize

# id(symbol) -> (weak reference to it, signature -> Plan), the entry dropped when the symbol
# dies (a plan never holds its symbol) and at most SIGNATURE_CACHE signatures per symbol.
# Keyed by identity: a symbol's `==` builds a node, so a WeakKeyDictionary cannot hold them.
_PLANS: dict[int, tuple] = {}
NUMPY = BACKENDS["numpy"]


# --- the plan: specialised graph and its programs ----------------------------------------


class Plan:
    """The graph specialised to one signature, and its programs (built on first use)."""

    def __init__(self, sym, names: list[str], arrays: list[np.ndarray], backend: Backend = NUMPY):
        vars_by_name = argument_vars(sym)
        reps = [vars_by_name[n][0] for n in names]
        # The plan is cached under `sym` until `sym` dies: it must not hold `sym` itself
        # (an output, or the var bound), only a stand-in copy with the same inputs.
        stand_in = remake(sym, sym.inputs)
        outputs = [stand_in if o is sym else o for o in flatten_outputs(sym)]
        reps = [stand_in if v is sym else v for v in reps]
        self.names = names
        self.vars, self.outputs = specialize_graph(reps, outputs, arrays)
        self.out_names = output_names(sym)
        self.backend = backend
        self._programs: dict = {}

    def _program(self, key, build):
        prog = self._programs.get(key)
        if prog is None:
            prog = self._programs[key] = build()
        return prog

    def forward(self):
        return self._program(
            "forward",
            lambda: emit_program(self.vars, optimize(self.outputs, True), emission=self.backend),
        )

    def _backprop(self, wrt: tuple[str, ...], heads, adj: tuple[str, ...] = ()):
        """(the gradients that reach `wrt` followed by the adjoints of the internal values
        named in `adj` (zeros where none reaches), the gradients' indices in `wrt`)."""
        targets = [self.vars[self.names.index(n)] for n in wrt]
        inner = [self.internals()[n][0] for n in adj]
        # Derived from the stable forms the programs compute values with, as `gc.grad` does
        # (`log(sum(exp(x)))` is `logsumexp(x)`: a finite softmax where exp(x) overflows).
        cts = backprop(stabilize(self.outputs, targets + inner), heads, targets + inner)
        grads = [None if cts.get(id(w)) is None else as_cotangent(cts[id(w)], w) for w in targets]
        reached = [i for i, g in enumerate(grads) if g is not None]
        adjoints = [
            OPS["zeros_like"](n) if cts.get(id(n)) is None else as_cotangent(cts[id(n)], n)
            for n in inner
        ]
        return [grads[i] for i in reached] + adjoints, reached

    def internals(self) -> dict[str, list[Symbol]]:
        """Internal output name (as `get_internals().list_outputs()` gives it) -> the
        specialised nodes of that name (one, unless two ops share a `name=`)."""

        def build():
            table: dict[str, list[Symbol]] = {}
            for name, node in internal_outputs(self.outputs):
                table.setdefault(name, []).append(node)
            return table

        return self._program("internals", build)

    def adjoint_names(self, adjoints) -> tuple[str, ...]:
        """The internal values whose adjoints the training programs return: the names given
        (checked), or with None every op the user named (`name=`) that has floating values."""
        table = self.internals()
        if adjoints is None:
            return tuple(
                k
                for k, nodes in table.items()
                if len(nodes) == 1
                and nodes[0].name
                and nodes[0].op != "var"
                and _has_adjoint(nodes[0])
            )
        if isinstance(adjoints, str) or not isinstance(adjoints, (list, tuple)):
            raise BindError(
                f"bind: adjoints must be a list of internal output names, got {adjoints!r}"
            )
        for name in adjoints:
            _check_adjoint(name, table)
        return tuple(dict.fromkeys(adjoints))

    def differentiable_outputs(self, wrt, adj=()) -> list[int]:
        """Indices of the floating outputs through which a gradient reaches `wrt` (or the
        internal values `adj`)."""

        def build():
            targets = [self.vars[self.names.index(n)] for n in wrt]
            targets += [self.internals()[n][0] for n in adj]
            dep = depends(toposort(self.outputs), targets)
            return [
                k
                for k, o in enumerate(self.outputs)
                if id(o) in dep and (o.dtype is None or is_float_dtype(o.dtype))
            ]

        return self._program(("diff", wrt, adj), build)

    def fused(self, wrt, adj=()):
        """(program returning outputs + reached gradients + adjoints of `adj`, reached
        indices into wrt)."""

        def build():
            heads, _ = self._heads(self.differentiable_outputs(wrt, adj), True)
            grads, reached = self._backprop(wrt, heads, adj)
            n = len(self.outputs)
            opt = optimize(self.outputs + grads, True)
            names = [None] * n + [f"grad_{wrt[i]}" for i in reached] + [None] * len(adj)
            return emit_program(self.vars, opt, output_names=names, emission=self.backend), reached

        return self._program(("fused", wrt, adj), build)

    def gradients(self, wrt, scalar: bool) -> dict:
        """{name: gradient symbol} for the arguments in `wrt` that a gradient reaches, on the
        specialised vars, each simplified on its own for reading: with unit heads when `scalar` (`fused`), else with
        the heads as vars `head{k}` (`split`)."""

        def build():
            diff = self.differentiable_outputs(wrt)
            heads, _ = self._heads(diff, scalar)
            grads, reached = self._backprop(wrt, heads)
            # Each on its own (as `gc.grad` gives it: a factor shared with another gradient
            # is pulled out), and `optimize` without its last step: the forms that read best
            # (`mean(x)`), not the ones numpy runs fastest (`x.sum() / 6`).
            grads = [passes.run(passes.run([g], passes.SPECIALIZE))[0] for g in grads]
            return dict(zip([wrt[i] for i in reached], grads))

        return self._program(("gradients", wrt, scalar), build)

    def _heads(self, diff, scalar: bool):
        """(one head per output, the head vars): for each output k in `diff`, 1 if `scalar`
        else a var `head{k}` of its type; None for the others."""
        heads: list = [None] * len(self.outputs)
        for k in diff:
            o = self.outputs[k]
            heads[k] = (
                _unit_head(o)
                if scalar
                else Symbol(OPS["var"], (), {}, o.shape, o.dtype, name=f"head{k}", origin=o.origin)
            )
        return heads, [] if scalar else [heads[k] for k in diff]

    def split(self, wrt, adj=()):
        """(forward program -> outputs + residuals, backward program (args, residuals,
        heads) -> reached gradients + adjoints of `adj`, reached indices, output indices
        that take a head)."""

        def build():
            diff = self.differentiable_outputs(wrt, adj)
            heads, head_vars = self._heads(diff, False)
            grads, reached = self._backprop(wrt, heads, adj)
            n = len(self.outputs)
            opt = optimize(self.outputs + grads, True)
            outs, grads = opt[:n], opt[n:]
            fwd_nodes = toposort(outs)
            fwd_ids = {id(x) for x in fwd_nodes}
            residuals = [
                x
                for x in toposort(grads, stop=fwd_nodes)
                if id(x) in fwd_ids and x.op not in ("var", "const")
            ]
            fwd = emit_program(
                self.vars, outs + residuals, fn_name="forward", emission=self.backend
            )
            params = list(self.vars) + residuals + head_vars
            labels = (
                self.names + [f"r{i}" for i in range(len(residuals))] + [f"head{k}" for k in diff]
            )
            bwd = emit_program(
                params,
                grads,
                fn_name="backward",
                param_names=labels,
                output_names=[f"grad_{wrt[i]}" for i in reached] + [None] * len(adj),
                emission=self.backend,
            )
            return fwd, bwd, reached, diff

        return self._program(("split", wrt, adj), build)


def _has_adjoint(node: Symbol) -> bool:
    """Does `node` have an adjoint array (one floating array value, of known type)?"""
    return node.shape is not None and node.dtype is not None and is_float_dtype(node.dtype)


def _check_adjoint(name, table: dict) -> None:
    nodes = table.get(name) if isinstance(name, str) else None
    if not nodes:
        known = [k for k, v in table.items() if v[0].op != "var"]
        raise BindError(
            f"bind: adjoints: {name!r} is not an internal output of the graph; its internal "
            f"outputs are {known} (see get_internals().list_outputs())"
        )
    node = nodes[0]
    if node.op == "var":
        raise BindError(f"bind: adjoints: {name!r} is an argument: its gradient is in grad_dict")
    if len(nodes) > 1:
        raise BindError(f"bind: adjoints: {len(nodes)} internal values are named {name!r}")
    if not _has_adjoint(node):
        raise BindError(
            f"{node.where()}: bind: adjoints: the {node.op} value {name!r} has no adjoint "
            f"array (dtype {node.dtype}): only floating array values have one"
        )


def _unit_head(out: Symbol):
    """The head 1 for a size-1 output: a weak 1.0 for shape (), else ones of its shape."""
    if out.shape == ():
        return 1.0
    return const(np.ones(out.shape, out.dtype))


def plan_for(sym, names: list[str], arrays: list[np.ndarray], backend: Backend = NUMPY) -> Plan:
    """The cached plan of `sym` for arrays of these shapes and dtypes, on `backend`."""
    key = (backend, *((a.shape, a.dtype.str) for a in arrays))
    entry = _PLANS.get(id(sym))
    if entry is None or entry[0]() is not sym:
        entry = _PLANS[id(sym)] = (weakref.ref(sym), {})
        weakref.finalize(sym, _PLANS.pop, id(sym), None)
    per_sym = entry[1]
    plan = per_sym.get(key)
    if plan is None:
        plan = remember(per_sym, key, Plan(sym, names, arrays, backend))
    return plan
