"""Value ranges, an op-table fact: `OpDef.image(*bounds)` gives an interval (lo, hi) holding
every value the op computes when each input lies in its interval (None: unknown; images
are staticmethods, as OpDef fields that are functions), and each
of `OpDef.singular_inputs` names the open intervals where the op and its derivative are
finite. `grad`'s lint (graphc.grad_lint) proves with them that a guarded input cannot leave
its op's domain: `where(c, arcsin(4*tanh(x)/5), 0)` is safe, `where(c, sqrt(x), 0)` is not.

Bounds are of floating-point values: `tanh` reaches +-1 and `exp` reaches 0 (they round or
underflow there), so their images are closed.

>>> add_image((0.0, 1.0), (-2.0, 3.0)), multiply_image((-1.0, 2.0), (3.0, 4.0))
((-2.0, 4.0), (-4.0, 8.0))
>>> within((-0.8, 0.8), OPEN_UNIT), within((0.0, 5.0), POSITIVE_REALS)
(True, False)
"""

from __future__ import annotations

import math

INF = math.inf
POSITIVE_REALS = ((0.0, INF),)  # sqrt, log: x > 0
NONZERO_REALS = ((-INF, 0.0), (0.0, INF))  # a divisor
OPEN_UNIT = ((-1.0, 1.0),)  # arcsin, arccos, arctanh
ABOVE_ONE = ((1.0, INF),)  # arccosh
ABOVE_MINUS_ONE = ((-1.0, INF),)  # log1p


def fixed(lo: float, hi: float):
    """The image of an op whose values lie in [lo, hi] whatever its inputs (tanh: -1, 1)."""
    return staticmethod(lambda *bounds: (lo, hi))


def _interval(lo, hi):
    return None if math.isnan(lo) or math.isnan(hi) else (lo, hi)


@staticmethod  # an OpDef field, not a method (callable as a function too)
def add_image(a, b):
    return None if a is None or b is None else _interval(a[0] + b[0], a[1] + b[1])


@staticmethod  # an OpDef field, not a method (callable as a function too)
def subtract_image(a, b):
    return None if a is None or b is None else _interval(a[0] - b[1], a[1] - b[0])


@staticmethod  # an OpDef field, not a method (callable as a function too)
def negative_image(a):
    return None if a is None else (-a[1], -a[0])


@staticmethod  # an OpDef field, not a method (callable as a function too)
def multiply_image(a, b):
    if a is None or b is None:
        return None
    ends = [p * q for p in a for q in b]
    return None if any(math.isnan(e) for e in ends) else (min(ends), max(ends))


@staticmethod  # an OpDef field, not a method (callable as a function too)
def divide_image(a, b):
    if b is None or b[0] <= 0.0 <= b[1]:
        return None
    return multiply_image(a, (1.0 / b[1], 1.0 / b[0]))


def within(bounds, regular) -> bool:
    """Do the closed `bounds` lie inside one of the open intervals `regular` (an infinite
    end is not a point where an op is singular: it may be reached)?"""
    return bounds is not None and any(
        (lo < bounds[0] or lo == bounds[0] == -INF) and (bounds[1] < hi or bounds[1] == hi == INF)
        for lo, hi in regular
    )
