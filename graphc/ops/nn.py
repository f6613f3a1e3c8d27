"""Neural-network ops: softmax, log_softmax, one_hot and the losses mse_loss, cross_entropy.

All are computed with the maximum shifted out, so logits of magnitude 1000 give finite
values and gradients.
"""

from __future__ import annotations

import numpy as np

from .. import runtime
from ..errors import ArgumentError, DTypeError, ShapeError
from . import costs
from .base import OpDef, broadcast_shapes, float_dtype, register, result_dtype
from .batch_rules import batch_axis, batch_size, batched_all
from .elementwise import exp, square
from .reduce import count, mean, sum
from .shape import sum_to


class _AxisOp(OpDef):
    attr_names = ("axis",)
    cost = costs.per_input_entry(5)  # max, subtract, exp, sum, divide or log
    fresh = True

    def prepare(self, x, axis=-1):
        return (x,), self.check_attrs({"axis": axis})

    def check_attrs(self, attrs):
        axis = attrs.get("axis", -1)
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise ArgumentError(f"{self.name}: axis must be an int, got {axis!r}")
        return {"axis": int(axis)}

    def shape(self, s, *, axis):
        if s is not None and not -len(s) <= axis < len(s):
            raise ShapeError(f"{self.name}: axis {axis} is out of bounds for rank {len(s)}")
        return s

    def dtype(self, d, *, axis):
        return float_dtype(d)

    def impl(self, x, *, axis):
        return getattr(runtime, "_" + self.name)(np.asarray(x), axis)

    def emit(self, x, *, axis):
        return f"_{self.name}({x}, {axis})"

    def batch(self, batched, y, x, *, axis):
        return self(x, batch_axis(axis, len(y.shape)))


class Softmax(_AxisOp):
    """exp(x) / sum(exp(x)) along `axis`."""

    name = "softmax"
    public = True

    def vjp(self, g, y, x, *, axis):
        return (y * (g - sum(g * y, axis, True)),)

    def jvp(self, ts, y, x, *, axis):
        return y * (ts[0] - sum(ts[0] * y, axis, True))


class LogSoftmax(_AxisOp):
    """x - logsumexp(x) along `axis`."""

    name = "log_softmax"
    public = True

    def vjp(self, g, y, x, *, axis):
        return (g - exp(y) * sum(g, axis, True),)

    def jvp(self, ts, y, x, *, axis):
        return ts[0] - sum(exp(y) * ts[0], axis, True)


class OneHot(OpDef):
    """`one_hot(labels, like)`: for integer `labels`, rows of zeros with a one at each label,
    shaped (and float-typed) like `like` (the gradient of `cross_entropy` with integer
    labels uses it; it has no gradient itself).

    Examples
    --------
    >>> import graphc as gc, numpy as np
    >>> gc.one_hot(np.array([2, 0]), np.zeros((2, 3)))
    array([[0., 0., 1.],
           [1., 0., 0.]])
    """

    name, nin = "one_hot", 2
    cost = costs.copy
    public = True
    shape_only_inputs = (1,)
    fresh = True
    differentiable = False

    def shape(self, s, like):
        return like

    def dtype(self, d, like):
        return float_dtype(like)

    def impl(self, labels, like):
        return runtime._one_hot(labels, like)

    def emit(self, labels, like):
        return f"_one_hot({labels}, {like})"

    def batch(self, batched, y, labels, like):
        return self(*batched_all((labels, like), batched, batch_size((labels, like), batched)))


class MSELoss(OpDef):
    """mean((pred - target)**2), like `torch.nn.MSELoss()`."""

    name, nin = "mse_loss", 2
    cost = costs.per_input_entry(3)  # subtract, square, mean
    public = True

    def shape(self, a, b):
        broadcast_shapes(a, b, op="mse_loss")
        return ()

    def dtype(self, a, b):
        return float_dtype(result_dtype(a, b))

    def impl(self, pred, target):
        return np.mean(np.square(np.subtract(pred, target)))

    def emit(self, pred, target):
        return f"np.mean(np.square({pred} - {target}))"

    def vjp(self, g, y, pred, target):
        diff = pred - target
        scaled = diff * (2 * g / count(diff, None))
        return sum_to(scaled, pred), sum_to(-scaled, target)

    def jvp(self, ts, y, pred, target):
        tp, tt = ts
        t = tp if tt is None else (-tt if tp is None else tp - tt)
        return 2 * mean((pred - target) * t)

    def resolve(self, pred, target):
        diff = pred - target
        n = count(diff, None)
        if not isinstance(n, int) or diff.dtype is None or diff.dtype.kind not in "fc":
            return None
        return sum(square(diff)) / n


class CrossEntropy(OpDef):
    """Mean softmax cross-entropy of `logits` (..., C) against integer `labels` (...)."""

    name, nin = "cross_entropy", 2
    cost = costs.per_input_entry(6)  # log_softmax, pick
    public = True
    nondiff_inputs = (1,)

    def shape(self, logits, labels):
        if logits is not None and labels is not None:
            if len(logits) != len(labels) + 1 or any(
                a is not None and b is not None and a != b for a, b in zip(logits[:-1], labels)
            ):
                raise ShapeError(
                    f"cross_entropy: logits {logits} need labels of shape "
                    f"{logits[:-1]}, got {labels}"
                )
        return ()

    def dtype(self, logits, labels):
        if labels is not None and np.dtype(labels).kind not in "iu":
            raise DTypeError(f"cross_entropy: labels must be integers, got {labels}")
        return float_dtype(logits)

    def impl(self, logits, labels):
        return runtime._cross_entropy(np.asarray(logits), np.asarray(labels))

    def emit(self, logits, labels):
        return f"_cross_entropy({logits}, {labels})"

    def _dlogits(self, logits, labels):
        return (softmax(logits, -1) - one_hot(labels, logits)) / count(labels, None)

    def vjp(self, g, y, logits, labels):
        return g * self._dlogits(logits, labels), None

    def jvp(self, ts, y, logits, labels):
        return None if ts[0] is None else sum(ts[0] * self._dlogits(logits, labels))


softmax = register(Softmax())
log_softmax = register(LogSoftmax())
one_hot = register(OneHot())
mse_loss = register(MSELoss())
cross_entropy = register(CrossEntropy())
