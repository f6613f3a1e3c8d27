"""`gc.check_finite`: run a computation operation by operation and name the first one, in
the forward and in the backward pass, whose value has a NaN or an infinity.

The program is the one `gc.compile` emits (same passes, same order), with a check after
each statement (graphc.finite); the user's `Function` keeps its own program.
"""

from __future__ import annotations

import numpy as np

from .autodiff import grad
from .binding import argument_vars, check_args
from .codegen import emit_program
from .dispatch import checks_call
from .errors import BindError, GraphcError
from .finite import NonFinite, describe, expression, nonfinite
from .function import Function, optimize, specialize_graph
from .ir import Graph, Symbol, format_origin, toposort

PHASES = ("forward", "backward")


class Finding:
    """The first operation of one pass whose value is not finite: `phase` ("forward" or
    "backward"), `op`, `origin` (the user's file and line), `expression` (printed),
    `found` (a `graphc.finite.NonFinite`: kind, count, first index) and the `node`."""

    __slots__ = ("phase", "node", "found")

    def __init__(self, phase: str, node: Symbol, found: NonFinite):
        self.phase, self.node, self.found = phase, node, found

    @property
    def op(self) -> str:
        return self.node.op

    @property
    def origin(self):
        return self.node.origin

    @property
    def line(self) -> str:
        """The user's "file:line" that built the operation."""
        return format_origin(self.node.origin)

    @property
    def expression(self) -> str:
        return expression(self.node)

    def record(self) -> dict:
        return {
            "phase": self.phase,
            "op": self.op,
            "line": self.line,
            "expression": self.expression,
            "kind": self.found.kind,
            "count": self.found.count,
            "size": self.found.size,
            "index": self.found.index,
        }

    def __str__(self):
        return describe(self.node, self.found, self.phase)

    def __repr__(self):
        return f"<Finding {self.phase} {self.op} at {self.line}: {self.found.entries()}>"


class FiniteReport:
    """What `gc.check_finite` found: `findings` (the first non-finite operation of each pass,
    in the order they ran), `forward` and `backward` (that pass's `Finding` or None),
    `count` (operations whose value is not finite, per pass) and `outputs` (the results that
    are not finite: (label, `NonFinite`)). `str()` is a readable text, `records()` a list of
    dicts."""

    def __init__(self, findings, count, outputs, inputs):
        self.findings = findings
        self.count = count
        self.outputs = outputs
        self.inputs = inputs

    def _phase(self, phase):
        return next((f for f in self.findings if f.phase == phase), None)

    @property
    def forward(self) -> Finding | None:
        return self._phase("forward")

    @property
    def backward(self) -> Finding | None:
        return self._phase("backward")

    def records(self) -> list[dict]:
        return [f.record() for f in self.findings]

    def __str__(self):
        lines = [f"argument {name!r} has {found.entries()}" for name, found in self.inputs]
        for f in self.findings:
            n = self.count[f.phase]
            more = f" ({n - 1} later operation{'s' * (n > 2)} too)" if n > 1 else ""
            lines.append(f"{f.phase} pass: first non-finite value{more}:")
            lines.append("  " + str(f).replace("\n", "\n  "))
        if self.outputs:
            lines.append(
                "results not finite: "
                + "; ".join(f"{label} has {found.entries()}" for label, found in self.outputs)
            )
        else:
            lines.append("every result is finite")
        return "\n".join(lines)

    def __repr__(self):
        return f"<FiniteReport {'; '.join(repr(f) for f in self.findings)}>"


@checks_call
def check_finite(f, *args, **kwargs) -> FiniteReport | None:
    """Run `f` operation by operation and name the first operation, in the forward and in
    the backward pass, whose value has a NaN or an infinity.

    `f` is a compiled `gc.Function`, called with `args` as it would be (arrays by position
    or by var name), or a symbol with a dict var name -> array (or keywords). The backward
    pass is the gradients `f` computes (its outputs made by `gc.grad`); when it computes
    none and its first output is a floating scalar, check_finite differentiates that output
    with respect to every floating argument. Returns None when every value is finite, else
    a `FiniteReport` (printable): each pass's first operation that is not finite (op,
    printed expression, the user's file:line), and the results that are not.

    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> f = gc.compile([x], gc.sum(gc.sqrt(x)))
    >>> gc.check_finite(f, np.array([1.0, 4.0])) is None
    True
    >>> report = gc.check_finite(f, np.array([1.0, 0.0]))
    >>> print(report)
    backward pass: first non-finite value:
      <doctest ...>:1: the divide operation of the backward pass gives inf at 1 of 2
      entries (first [1]): 1/(2*sqrt(x))
    results not finite: the gradient with respect to x has inf at 1 of 2 entries (first [1])
    >>> report.backward.op, report.forward
    ('divide', None)
    """
    inputs, outputs, arrays, simplify, labels = _computation(f, args, kwargs)
    bad_inputs = [(v.name, nonfinite(a)) for v, a in zip(inputs, arrays)]
    params, outs = specialize_graph(inputs, outputs, arrays)
    values = [i for i, o in enumerate(outs) if o.op != "checked_grad"]
    if len(values) == len(outs) and _is_scalar_float(outs[0]):
        wrt = [p for p, a in zip(params, arrays) if a.dtype.kind in "fc"]
        outs = outs + grad(outs[0], wrt, simplify=simplify)
        labels = labels + [f"the gradient with respect to {w.name}" for w in wrt]
    outs = optimize(outs, simplify)
    forward = _node_ids([outs[i] for i in values])
    findings: list[Finding] = []
    count = dict.fromkeys(PHASES, 0)

    def check(value, node):
        found = nonfinite(value)
        if found is not None:
            phase = PHASES[id(node) not in forward]
            if not count[phase]:
                findings.append(Finding(phase, node, found))
            count[phase] += 1

    program = emit_program(params, outs, check=check)
    with np.errstate(all="ignore"):  # the report says what numpy would warn about
        results = program.fn(*arrays)
    bad_outputs = [(label, nonfinite(r)) for label, r in zip(labels, results)]
    report = FiniteReport(
        findings,
        count,
        [(label, found) for label, found in bad_outputs if found is not None],
        [(name, found) for name, found in bad_inputs if found is not None],
    )
    return report if findings or report.outputs or report.inputs else None


def _node_ids(outputs) -> set[int]:
    """ids of the nodes computing `outputs`, with those of the control-flow bodies they run."""
    ids: set[int] = set()
    pending = list(outputs)
    while pending:
        nodes, pending = toposort(pending, stop_ids=ids), []
        for node in nodes:
            ids.add(id(node))
            pending += [o for v in node.attrs.values() if isinstance(v, Graph) for o in v.outputs]
    return ids


def _is_scalar_float(y: Symbol) -> bool:
    return (
        y.shape is not None
        and int(np.prod(y.shape)) == 1
        and y.dtype is not None
        and y.dtype.kind in "fc"
    )


def _computation(f, args, kwargs):
    """(vars, outputs, arrays, simplify, output labels) of what `check_finite` runs."""
    if isinstance(f, Function):
        if kwargs or len(args) != len(f.inputs):
            args = f._bind_args(args, kwargs)
        arrays, _ = f._convert(args)
        names = f.output_names or [None] * len(f.outputs)
        labels = [n or f"output {k}" for k, n in enumerate(names)]
        return f.inputs, f.outputs, list(arrays), f.simplify, labels
    if isinstance(f, Symbol):
        if args and (len(args) > 1 or kwargs or not isinstance(args[0], dict)):
            raise BindError(
                "check_finite: give a symbol's values as one dict var name -> array, or "
                "as keywords"
            )
        values = args[0] if args else kwargs
        function = Function([group[0] for group in argument_vars(f).values()], f, simplify=True)
        arrays = check_args("check_finite", values, argument_vars(f))
        return function.inputs, function.outputs, arrays, True, ["the output"]
    raise GraphcError(
        f"check_finite: f must be a gc.compile Function or a symbol, got {type(f).__name__}"
    )
