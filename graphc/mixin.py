"""Operators and array methods shared by `Symbol` and the eager `Tensor`.

Every method calls the public `gc` function of the same name, so both kinds of value have one
surface and the dispatcher decides whether to build a node or compute and record.
"""

from __future__ import annotations

_ops = None


def _F():
    global _ops
    if _ops is None:
        from . import ops

        _ops = ops
    return _ops


class ArrayMixin:
    __slots__ = ()
    # numpy defers to our reflected operators (ndarray + Symbol -> Symbol.__radd__).
    __array_ufunc__ = None
    __array_priority__ = 1000

    def __add__(self, other):
        return _F().add(self, other)

    def __radd__(self, other):
        return _F().add(other, self)

    def __sub__(self, other):
        return _F().subtract(self, other)

    def __rsub__(self, other):
        return _F().subtract(other, self)

    def __mul__(self, other):
        return _F().multiply(self, other)

    def __rmul__(self, other):
        return _F().multiply(other, self)

    def __truediv__(self, other):
        return _F().divide(self, other)

    def __rtruediv__(self, other):
        return _F().divide(other, self)

    def __pow__(self, other):
        return _F().power(self, other)

    def __rpow__(self, other):
        return _F().power(other, self)

    def __matmul__(self, other):
        return _F().matmul(self, other)

    def __rmatmul__(self, other):
        return _F().matmul(other, self)

    def __neg__(self):
        return _F().negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _F().abs(self)

    def __lt__(self, other):
        return _F().less(self, other)

    def __le__(self, other):
        return _F().less_equal(self, other)

    def __gt__(self, other):
        return _F().greater(self, other)

    def __ge__(self, other):
        return _F().greater_equal(self, other)

    def __eq__(self, other):  # type: ignore[override]
        return _F().equal(self, other)

    def __ne__(self, other):  # type: ignore[override]
        return _F().not_equal(self, other)

    def __getitem__(self, index):
        return _F().getitem(self, index)

    @property
    def T(self):
        return _F().transpose(self)

    def sum(self, axis=None, keepdims=False):
        return _F().sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _F().mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _F().max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _F().min(self, axis=axis, keepdims=keepdims)

    def prod(self, axis=None, keepdims=False):
        return _F().prod(self, axis=axis, keepdims=keepdims)

    def norm(self):
        return _F().norm(self)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        return _F().reshape(self, tuple(shape))

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = axes[0]
        return _F().transpose(self, tuple(axes) if axes else None)

    def dot(self, other):
        return _F().dot(self, other)

    def matmul(self, other):
        return _F().matmul(self, other)

    def astype(self, dtype):
        return _F().astype(self, dtype)

    def detach(self):
        return _F().stop_gradient(self)

    def exp(self):
        return _F().exp(self)

    def log(self):
        return _F().log(self)

    def tanh(self):
        return _F().tanh(self)

    def sigmoid(self):
        return _F().sigmoid(self)

    def relu(self):
        return _F().relu(self)

    def sqrt(self):
        return _F().sqrt(self)

    def square(self):
        return _F().square(self)

    def abs(self):
        return _F().abs(self)

    def clip(self, a_min=None, a_max=None):
        return _F().clip(self, a_min, a_max)

    def squeeze(self, axis=None):
        return _F().squeeze(self, axis)
