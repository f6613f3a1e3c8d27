"""`checked_grad(g, wrt[, y])`: a gradient, typed as its input and checked once types are known.

`gc.grad` cannot always tell, when it builds a gradient, whether the derivative it was asked
for exists: an output of unknown shape may turn out not to be a scalar, a var of unknown
dtype may be bound to integers. Each gradient it returns is therefore `checked_grad(g, wrt)`
(`checked_grad(g, wrt, y)` when `y` was given no head): the value `g` with `wrt`'s shape and
dtype, whose type rule raises `GradError` (`y` not of size 1) or `DTypeError` (`wrt` not
floating) as soon as those types are known: when a compiled function is called, at `bind`,
`simple_bind`, `infer_shape`, or when the op runs on arrays or eager tensors. Once every type is
known and the checks passed, specialisation resolves the node to `g` itself (cast or
broadcast if needed), so the emitted program pays nothing. It prints as `g`.
"""

from __future__ import annotations

import numpy as np

from .. import runtime
from ..dispatch import const, is_weak
from ..errors import DTypeError, GradError, ShapeError
from ..ir import format_origin, origin_code
from . import costs
from .base import OpDef, batch_rank, known, register
from .batch_rules import batch_size, batched_all
from .shape import astype, broadcast_to, sum_to


def _describe(x) -> str:
    if getattr(x, "op", None) == "var":
        return f"var {x.name!r} (declared at {format_origin(x.origin)})"
    return f"the {x.op} node" if hasattr(x, "op") else "an input"


def _origin_text(y) -> str:
    origin = getattr(y, "origin", None)
    if origin is None:
        return ""
    code = origin_code(origin)
    return f"; built at {format_origin(origin)}" + (f"\n    {code}" if code else "")


class CheckedGrad(OpDef):
    """`g` as the gradient with respect to `wrt`: of wrt's shape and dtype; with `y`, the
    output differentiated without a head, which must have size 1."""

    name, nin = "checked_grad", None
    cost = costs.free  # a check: prints and runs as g
    nondiff_inputs = (1, 2)  # wrt and y give only their types
    foldable = False
    transparent = True  # prints as `g`
    tape_name = "BroadcastLike"  # the eager tape shows what it does to g: broadcast_like(g, wrt)

    def prepare(self, g, wrt, *output):
        if len(output) > 1:
            raise TypeError(f"checked_grad() takes 2 or 3 array arguments, got {2 + len(output)}")
        return (g, wrt) + output, {}

    def node_type(self, inputs, attrs):
        if len(inputs) not in (2, 3):
            raise ShapeError(f"checked_grad: takes 2 or 3 inputs, got {len(inputs)}")
        _, wrt, *output = inputs
        if output:
            runtime._check_grad_output(output[0].shape, GradError, _origin_text(output[0]))
        runtime._check_grad_input(
            wrt.dtype, DTypeError, _describe(wrt), wrt.name if wrt.op == "var" else "x"
        )
        return wrt.shape, wrt.dtype

    def impl(self, g, wrt, *output):
        return runtime._checked_grad(g, wrt, *output, errors=(GradError, DTypeError))

    def emit(self, g, wrt, *output):
        return f"_checked_grad({g}, {', '.join((wrt,) + output)})"

    def vjp(self, gbar, y, g, wrt, *output):
        return (sum_to(gbar, g), None) + (None,) * len(output)

    def jvp(self, ts, y, g, wrt, *output):
        return None if ts[0] is None else self(ts[0], wrt, *output)

    def batch(self, batched, y, g, wrt, *output):
        if any(batched[2:]):
            return None  # (an output checked for size 1 is never batched by gc.jacobian)
        g, wrt = batched_all((g, wrt), batched[:2], batch_size((g, wrt), batched))
        return self(batch_rank(g, True, len(y.shape)), wrt, *output)  # g broadcasts to wrt

    def resolve(self, g, wrt, *output):
        """`g` once the checks are decided (they ran when this node was built)."""
        if not known(wrt.shape) or wrt.dtype is None or not all(known(o.shape) for o in output):
            return None
        if g.dtype is not None and g.dtype.kind == "c" and wrt.dtype.kind != "c":
            return None  # the real part: `_checked_grad` takes it (astype would warn)
        if g.op == "const" and is_weak(g.attrs["value"]):
            g = const(np.asarray(g.attrs["value"], dtype=wrt.dtype))
        if g.dtype is None or g.dtype != wrt.dtype:
            g = astype(g, wrt.dtype)
        if g.shape != wrt.shape:
            g = broadcast_to(g, wrt.shape)
        return g


checked_grad = register(CheckedGrad())
