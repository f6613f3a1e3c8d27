"""triu and tril: a triangle of each matrix of a stack (the last two axes), the rest zero.
Linear: their derivative rules are themselves."""

from __future__ import annotations

import numpy as np

from . import costs
from .base import register
from .linalg_basic import _Defaults, _matrix


class _Triangle(_Defaults):
    """triu and tril: a triangle of each matrix of a stack, the rest zero."""

    attr_names = ("k",)
    public, defaults = True, {"k": 0}
    cost = costs.copy
    fn = None

    def prepare(self, x, k=0):
        return (x,), self.check_attrs({"k": k})

    def shape(self, s, *, k):
        _matrix(s, self.name)
        return s

    def dtype(self, d, *, k):
        return d

    def impl(self, x, *, k):
        return type(self).fn(x, k)

    def emit(self, x, *, k):
        return f"np.{self.name}({x}, {k})" if k else f"np.{self.name}({x})"

    def array_api(self, x, *, k):
        return f"xp.{self.name}({x}, k={k})"

    def vjp(self, g, y, x, *, k):
        return (self(g, k),)

    def jvp(self, ts, y, x, *, k):
        return self(ts[0], k)

    def batch(self, batched, y, x, *, k):
        return self(x, k)


class Triu(_Triangle):
    """`np.triu(x, k=0)`: the entries on and above diagonal k of each matrix (last two axes).

    >>> triu(np.ones((2, 2)))
    array([[1., 1.],
           [0., 1.]])
    """

    name, fn = "triu", np.triu


class Tril(_Triangle):
    """`np.tril(x, k=0)`: the entries on and below diagonal k of each matrix (last two axes).

    >>> tril(np.ones((2, 2)))
    array([[1., 0.],
           [1., 1.]])
    """

    name, fn = "tril", np.tril


triu = register(Triu())
tril = register(Tril())
