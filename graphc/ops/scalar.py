"""How an op is written on Python floats: the op-table fact `scalar_emit`, given or derived.

Scalar code (graphc.scalar_code) runs the 0-d float64 parts of a program as Python floats and
`math` functions. An op may say how it is written there, its attribute `scalar_emit` (an
optional `OpDef` field, read like `emit_block`): a template over
its inputs' names (``"math.pow({0}, {1})"``) or a callable ``(node) -> template | None`` (an op
that only some nodes can be written for, such as ``x[k]``). Where an op sets none, an
elementwise op's is derived here:

- Python's arithmetic operators and comparisons (``infix`` ``+ - * /``, a ``comparison``)
  are written as numpy's template itself: ``{0} * {1}`` means the same on floats;
- a one-input numpy ufunc whose `math` twin (same name, ``arc`` written ``a``: arcsin is
  ``math.asin``) returns a float is ``math.<twin>({0})`` (floor and ceil return ints in
  `math`, so they are not derived).

A template must give numpy's value on 0-d float64 inputs to 1 ulp wherever both are finite,
and raise ArithmeticError or ValueError where numpy would give an infinity or a NaN from
finite inputs (`math` does: ``math.log(0.0)``, ``math.exp(1000.0)``); Python's arithmetic
operators, which overflow to infinity silently, are checked by the scalar code itself.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .base import OpDef

_PYTHON_OPERATORS = ("+", "-", "*", "/")


def scalar_template(op: OpDef, node) -> str | None:
    """`op`'s scalar code template for `node` (an application of `op`), or None.

    >>> from graphc.ops import OPS
    >>> scalar_template(OPS["arcsin"], None), scalar_template(OPS["multiply"], None)
    ('math.asin({0})', '{0} * {1}')
    """
    given = getattr(op, "scalar_emit", None)
    if given is not None:
        return given(node) if callable(given) else given
    return _derived(op)


@functools.cache
def _derived(op: OpDef) -> str | None:
    template = getattr(op, "template", None)
    if not template:  # not of the elementwise family
        return None
    if op.infix in _PYTHON_OPERATORS or op.comparison:
        return template
    fn = getattr(op, "fn", None)
    if isinstance(fn, np.ufunc) and fn.nin == 1 and fn.nout == 1:
        name = fn.__name__
        twin = getattr(math, "a" + name[3:] if name.startswith("arc") else name, None)
        if twin is not None and _returns_float(twin):
            return f"math.{twin.__name__}({{0}})"
    return None


def _returns_float(fn) -> bool:
    for x in (0.5, 1.5):  # a point of its domain (acosh's starts at 1)
        try:
            return type(fn(x)) is float
        except (ValueError, OverflowError):
            pass
    return False
