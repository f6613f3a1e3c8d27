"""More elementwise math: base-2 and base-10 logarithms and powers, inverse hyperbolic
functions, reciprocal, `mod` (`%`), logaddexp, rounding, erf, sinc and nan_to_num.

Rounding (`floor`, `ceil`, `round`) is piecewise constant: its gradient is zero wherever it
exists, and graphc gives zero at the jumps too (as PyTorch and JAX do), like `sign`.
"""

from __future__ import annotations

import math

import numpy as np

from .. import runtime
from ..errors import ArgumentError
from .base import NONZERO, POSITIVE, PREC_MUL, REAL, UNIT, Elementwise, elementwise
from .elementwise import abs, cos, equal, exp, less, sqrt, where
from .ranges import ABOVE_ONE, NONZERO_REALS, OPEN_UNIT, POSITIVE_REALS, fixed

_LN2, _LN10 = math.log(2.0), math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

# Logarithms and powers in other bases.
_LOG_TRAP = {"domain": POSITIVE, "singular_inputs": ((0, 1, POSITIVE_REALS),)}
log2 = elementwise(
    "log2", np.log2, "np.log2({0})", lambda y, x: 1 / (x * _LN2), **_LOG_TRAP, numexpr=True
)
log10 = elementwise(
    "log10", np.log10, "np.log10({0})", lambda y, x: 1 / (x * _LN10), **_LOG_TRAP, numexpr=True
)
exp2 = elementwise("exp2", np.exp2, "np.exp2({0})", lambda y, x: y * _LN2, array_api="2.0 ** {0}")

# Inverse hyperbolic functions.
arcsinh = elementwise(
    "arcsinh",
    np.arcsinh,
    "np.arcsinh({0})",
    lambda y, x: 1 / sqrt(x * x + 1),
    sympy="asinh",
    numexpr=True,
)
arccosh = elementwise(
    "arccosh",
    np.arccosh,
    "np.arccosh({0})",
    lambda y, x: 1 / sqrt(x * x - 1),
    sympy="acosh",
    domain=(1.2, 3.0),
    singular_inputs=((0, 2, ABOVE_ONE),),
    numexpr=True,
)
arctanh = elementwise(
    "arctanh",
    np.arctanh,
    "np.arctanh({0})",
    lambda y, x: 1 / (1 - x * x),
    sympy="atanh",
    domain=UNIT,
    singular_inputs=((0, 0, OPEN_UNIT),),
    numexpr=True,
)

# 1/x as numpy computes it: integers stay integers (np.reciprocal(2) is 0).
reciprocal = elementwise(
    "reciprocal",
    np.reciprocal,
    "np.reciprocal({0})",
    lambda y, x: -(y * y),
    array_api="1.0 / {0}",
    domain=NONZERO,
    singular_inputs=((0, 1, NONZERO_REALS),),
    numexpr="(1 / {0})",
    recompute=True,
)


def _gradient_free(name, fn, **facts):
    """A piecewise-constant op: differentiable, with a zero derivative (no cotangent)."""
    return elementwise(name, fn, f"np.{name}({{0}})", (None,), **facts)


floor = _gradient_free("floor", np.floor, numexpr=True, recompute=True)
ceil = _gradient_free("ceil", np.ceil, numexpr=True, recompute=True)

# a % b == a - floor(a / b) * b (numpy's and Python's: the sign of b), so d/db = -floor(a/b).
mod = elementwise(
    "mod",
    np.mod,
    "{0} % {1}",
    (lambda y, a, b: 1, lambda y, a, b: -floor(a / b)),
    infix="%",
    precedence=PREC_MUL,
    augmented="%=",
    domain=(REAL, POSITIVE),
    tape_name="Mod",
)

# log(exp(a) + exp(b)) without overflow; its partials are softmax weights.
logaddexp = elementwise(
    "logaddexp",
    np.logaddexp,
    "np.logaddexp({0}, {1})",
    (lambda y, a, b: exp(a - y), lambda y, a, b: exp(b - y)),
    commutative=True,
    reduction="logsumexp",
)


def _erf_d(y, x):
    return _TWO_OVER_SQRT_PI * exp(-(x * x))


erf = elementwise(
    "erf",
    runtime._erf,
    "_erf({0})",
    _erf_d,
    image=fixed(-1, 1),
)

# sinc(x) = sin(pi x) / (pi x), 1 at 0. Its derivative (cos(pi x) - sinc(x)) / x is 0/0 at 0:
# near 0 the Taylor polynomial in u = pi x is used instead, so that derivatives of every order
# are right there too (sinc''(0) = -pi**2/3).
_SINC_TAYLOR = 0.1 / math.pi  # |x| below this: the polynomial (its error is below 1e-17)


def _sinc_d(y, x):
    small = less(abs(x), _SINC_TAYLOR)
    safe = where(small, 1.0, x)
    exact = (cos(math.pi * safe) - sinc(safe)) / safe
    u = math.pi * x
    u2 = u * u
    poly = (math.pi * u) * (
        -1 / 3 + u2 * (1 / 30 + u2 * (-1 / 840 + u2 * (1 / 45360 - u2 / 3991680)))
    )
    return where(small, poly, exact)


sinc = elementwise(
    "sinc",
    np.sinc,
    "np.sinc({0})",
    _sinc_d,
    array_api="xp.where({0} == 0, xp.ones_like({0}), xp.sin({0} * xp.pi) / ({0} * xp.pi))",
)


class _WithAttrs(Elementwise):
    """An elementwise op with keyword attributes (numbers), emitted as keywords."""

    defaults: dict = {}

    def check_attrs(self, attrs):
        out = dict(self.defaults)
        for key, value in attrs.items():
            if value is not None and (
                isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float))
            ):
                raise ArgumentError(f"{self.name}: {key} must be a number, got {value!r}")
            out[key] = value
        return out

    def impl(self, *xs, **attrs):
        return self.fn(*xs, **{**self.defaults, **attrs})

    def emit(self, *names, **attrs):
        keywords = "".join(f", {k}={v!r}" for k, v in {**self.defaults, **attrs}.items())
        return f"{self.template.format(*names)[:-1]}{keywords})"


class _Round(_WithAttrs):
    defaults = {"decimals": 0}

    def array_api(self, x, *, decimals=0):
        if decimals == 0:
            return f"xp.round({x})"
        scale = float(10.0 ** abs(decimals))
        op, back = ("*", "/") if decimals > 0 else ("/", "*")
        return f"xp.round({x} {op} {scale!r}) {back} {scale!r}"

    def prepare(self, x, decimals=0):
        if not isinstance(decimals, (int, np.integer)) or isinstance(decimals, bool):
            raise ArgumentError(f"round: decimals must be an int, got {decimals!r}")
        return (x,), {"decimals": int(decimals)}


round = _gradient_free(
    "round",
    np.round,
    cls=_Round,
    attr_names=("decimals",),
    methods=("round",),
    numpy_names=("around",),
)


class _NanToNum(_WithAttrs):
    defaults = {"nan": 0.0, "posinf": None, "neginf": None}

    def array_api(self, x, *, nan=0.0, posinf=None, neginf=None):
        big = f"xp.finfo({x}.dtype).max"
        pos = big if posinf is None else repr(float(posinf))
        neg = f"-{big}" if neginf is None else repr(float(neginf))
        out = x
        for test, value in ((f"{x} == -xp.inf", neg), (f"{x} == xp.inf", pos)):
            out = f"xp.where({test}, xp.full_like({x}, {value}), {out})"
        return f"xp.where(xp.isnan({x}), xp.full_like({x}, {float(nan)!r}), {out})"

    def prepare(self, x, nan=0.0, posinf=None, neginf=None):
        return (x,), self.check_attrs({"nan": nan, "posinf": posinf, "neginf": neginf})


# The derivative is 1 where x is finite (y == x there) and 0 where it was replaced.
nan_to_num = elementwise(
    "nan_to_num",
    np.nan_to_num,
    "np.nan_to_num({0})",
    lambda y, x: equal(x, y),
    cls=_NanToNum,
    attr_names=("nan", "posinf", "neginf"),
)
