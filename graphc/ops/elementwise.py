"""Elementwise ops: one line each, with the partial derivatives `d` (see `Elementwise`).

Partials reuse the output `y` where the math allows (exp, tanh, sigmoid, sqrt).
"""

from __future__ import annotations

import math
import operator

import numpy as np

from ..dispatch import dtype_key
from ..errors import DTypeError
from .base import (
    NONZERO,
    POSITIVE,
    PREC_ADD,
    PREC_MUL,
    PREC_POW,
    REAL,
    UNIT,
    Elementwise,
    broadcast_shapes,
    elementwise,
)
from .ranges import (
    ABOVE_MINUS_ONE,
    INF,
    NONZERO_REALS,
    OPEN_UNIT,
    POSITIVE_REALS,
    add_image,
    divide_image,
    fixed,
    multiply_image,
    negative_image,
    subtract_image,
)
from .shape import broadcast_like, sum_to


def _sigmoid(x):
    # exp(-log(1 + exp(-x))): no overflow for large |x|, full relative precision for x << 0.
    return np.exp(-np.logaddexp(0.0, -x))


def _relu(x):
    return np.maximum(x, 0)


def _softplus(x):
    return np.logaddexp(0.0, x)


# numpy's maximum on floats: the first input where it is greater or NaN, else the second
# (maximum(0.0, -0.0) is -0.0); minimum with "<".
_MAXIMUM = "({0} if {0} > {1} or {0} != {0} else {1})"


def _where_vjp(g, y, c, a, b):
    return None, sum_to(where(c, g, 0), a), sum_to(where(c, 0, g), b)


def _where_jvp(ts, y, c, a, b):
    _, ta, tb = ts
    if ta is None and tb is None:
        return None
    out = where(c, 0 if ta is None else ta, 0 if tb is None else tb)
    return broadcast_like(out, y)


def _extremum_rules(first_wins):
    """VJP and JVP of maximum/minimum; ties split the gradient evenly (as PyTorch does)."""

    def vjp(g, y, a, b):
        half = 0.5 * g
        ga = where(first_wins(a, b), g, where(equal(a, b), half, 0))
        gb = where(first_wins(b, a), g, where(equal(a, b), half, 0))
        return sum_to(ga, a), sum_to(gb, b)

    def jvp(ts, y, a, b):
        ta, tb = (0 if t is None else t for t in ts)
        if ts[0] is None and ts[1] is None:
            return None
        tie = 0.5 * (ta + tb)
        return broadcast_like(where(first_wins(a, b), ta, where(equal(a, b), tie, tb)), y)

    return vjp, jvp


class _Comparison(Elementwise):
    differentiable, comparison = False, True

    def dtype(self, *dtypes, **attrs):
        # Boolean whatever the inputs: known before data is bound (x * (x > 0) is not 1.0*x).
        return np.dtype(bool)


def _comparison(name, fn, infix, **facts):
    return elementwise(
        name,
        fn,
        "{0} " + infix + " {1}",
        (None, None),
        infix=infix,
        differentiable=False,
        cls=_Comparison,
        public=False,  # written as operators (x < y), not gc functions
        numexpr=True,
        recompute=True,
        sympy={"<": "Lt", "<=": "Le", ">": "Gt", ">=": "Ge", "==": "Eq", "!=": "Ne"}[infix],
        **facts,
    )


# Arithmetic.
add = elementwise(
    "add",
    np.add,
    "{0} + {1}",
    (lambda y, a, b: 1, lambda y, a, b: 1),
    infix="+",
    sympy=operator.add,
    commutative=True,
    augmented="+=",
    precedence=PREC_ADD,
    tape_name="Add",
    image=add_image,
    reduction="sum",
    accumulation="cumsum",
    numexpr=True,
    recompute=True,
)
subtract = elementwise(
    "subtract",
    np.subtract,
    "{0} - {1}",
    (lambda y, a, b: 1, lambda y, a, b: -1),
    infix="-",
    sympy=operator.sub,
    augmented="-=",
    precedence=PREC_ADD,
    tape_name="Sub",
    image=subtract_image,
    numexpr=True,
    recompute=True,
)
multiply = elementwise(
    "multiply",
    np.multiply,
    "{0} * {1}",
    (lambda y, a, b: b, lambda y, a, b: a),
    infix="*",
    sympy=operator.mul,
    commutative=True,
    augmented="*=",
    precedence=PREC_MUL,
    tape_name="Mul",
    image=multiply_image,
    reduction="prod",
    accumulation="cumprod",
    numexpr=True,
    recompute=True,
)
divide = elementwise(
    "divide",
    np.divide,
    "{0} / {1}",
    (lambda y, a, b: 1 / b, lambda y, a, b: negative(y) / b),
    infix="/",
    sympy=operator.truediv,
    domain=(REAL, NONZERO),
    augmented="/=",
    precedence=PREC_MUL,
    tape_name="Div",
    singular_inputs=((1, 1, NONZERO_REALS),),
    image=divide_image,
    numexpr=True,
    recompute=True,
)


def _known_value(v):
    """The value of a number, an array or a constant node; None for anything computed."""
    if isinstance(v, (bool, int, float, np.ndarray, np.generic)):
        return np.asarray(v)
    if getattr(v, "op", None) == "const":
        return np.asarray(v.attrs["value"])
    return None


def _power_d_base(y, a, b):
    """b * a**(b - 1), and 0 where b == 0 (a**0 is the constant 1, also at a = 0, where the
    formula gives 0 * inf). A zero exponent is replaced by 1 inside the formula, so that its
    derivatives are finite too (JAX's rule)."""
    known = _known_value(b)
    if known is not None and known.size and np.all(known != 0):
        return b * a ** (b - 1)
    if known is not None and known.size and np.all(known == 0):
        return 0
    nonzero = not_equal(b, 0)
    safe = where(nonzero, b, 1)
    return where(nonzero, safe * a ** (safe - 1), 0)


def _power_d_exponent(y, a, b):
    """a**b * log(a), with log(1) = 0 in place of log(0) at a = 0: d(0**b)/db is 0 where
    0**b is finite (b >= 0), not 0 * -inf (JAX's rule)."""
    known = _known_value(a)
    if known is not None and known.size and np.all(known != 0):
        return y * log(a)
    return y * log(where(equal(a, 0), 1, a))


_NEGATIVE_INTEGER_POWER = (
    "power: integers to negative integer powers are not allowed (numpy "
    "refuses them); make one operand a float, e.g. x ** -2.0"
)


def _power(a, b):
    """`a ** b` as the emitted code computes it: Python's `**` on two Python ints (2 ** -1 is
    0.5), numpy's power otherwise, whose refusal of integers to negative integer powers is a
    DTypeError, as when the graph is built."""
    if type(a) in (int, bool) and type(b) in (int, bool):
        return a**b
    try:
        return np.power(a, b)
    except ValueError:
        if np.result_type(a, b).kind in "biu":
            raise DTypeError(_NEGATIVE_INTEGER_POWER) from None
        raise


power = elementwise(
    "power",
    _power,
    "{0} ** {1}",
    (_power_d_base, _power_d_exponent),
    infix="**",
    sympy=operator.pow,
    domain=(POSITIVE, REAL),
    augmented="**=",
    precedence=PREC_POW,
    tape_name="Pow",
    numexpr=True,
    scalar_emit="math.pow({0}, {1})",  # raises where Python's ** gives a complex number
)


def _power_node_type(inputs, attrs):
    """The usual shape and dtype, refusing an integer array to a negative constant integer
    power as numpy does at run time, but with the user's line. Python ints on both sides keep
    Python's `**`, as the emitted code computes them: a float where the exponent is negative
    (2 ** -1 is 0.5), so float64 then, and an unknown dtype while the sign is unknown."""
    base, exponent = inputs
    keys = [dtype_key(x) for x in inputs]
    dtype = power.dtype(*keys)
    known = _known_value(exponent)
    python_numbers = all(isinstance(k, (bool, int, float, complex)) for k in keys)
    negative = known is not None and known.dtype.kind in "iu" and bool(np.any(known < 0))
    if dtype is not None and np.dtype(dtype).kind in "iu":
        if python_numbers:  # Python's int ** int: a float for a negative exponent
            dtype = np.dtype(np.float64) if negative else None if known is None else dtype
        elif negative:
            raise DTypeError(_NEGATIVE_INTEGER_POWER)
    return broadcast_shapes(base.shape, exponent.shape, op="power"), dtype


power.node_type = _power_node_type
negative = elementwise(
    "negative",
    np.negative,
    "-{0}",
    lambda y, x: -1,
    infix="-",
    sympy=operator.neg,
    tape_name="Neg",
    image=negative_image,
    numexpr=True,
    recompute=True,
)

# Exponentials and logarithms.
exp = elementwise(
    "exp",
    np.exp,
    "np.exp({0})",
    lambda y, x: y,
    sympy="exp",
    methods=("exp",),
    image=fixed(0, INF),
    numexpr=True,
    recompute=True,
)
log = elementwise(
    "log",
    np.log,
    "np.log({0})",
    lambda y, x: 1 / x,
    sympy="log",
    domain=POSITIVE,
    methods=("log",),
    singular_inputs=((0, 1, POSITIVE_REALS),),
    numexpr=True,
)
log1p = elementwise(
    "log1p",
    np.log1p,
    "np.log1p({0})",
    lambda y, x: 1 / (1 + x),
    sympy="log1p",
    domain=POSITIVE,
    singular_inputs=((0, 0, ABOVE_MINUS_ONE),),
    numexpr=True,
)
expm1 = elementwise(
    "expm1",
    np.expm1,
    "np.expm1({0})",
    lambda y, x: y + 1,
    sympy="expm1",
    numexpr=True,
)
sqrt = elementwise(
    "sqrt",
    np.sqrt,
    "np.sqrt({0})",
    lambda y, x: 0.5 / y,
    sympy="sqrt",
    domain=POSITIVE,
    methods=("sqrt",),
    singular_inputs=((0, 1, POSITIVE_REALS),),
    image=fixed(0, INF),
    numexpr=True,
    recompute=True,
)
square = elementwise(
    "square",
    np.square,
    "np.square({0})",
    lambda y, x: 2 * x,
    sympy=lambda x: x**2,
    methods=("square",),
    scalar_emit="{0} * {0}",
    image=fixed(0, INF),
    numexpr="({0} * {0})",
    recompute=True,
)

# Trigonometric and hyperbolic.
sin = elementwise(
    "sin",
    np.sin,
    "np.sin({0})",
    lambda y, x: cos(x),
    sympy="sin",
    image=fixed(-1, 1),
    numexpr=True,
)
cos = elementwise(
    "cos",
    np.cos,
    "np.cos({0})",
    lambda y, x: negative(sin(x)),
    sympy="cos",
    image=fixed(-1, 1),
    numexpr=True,
)
tan = elementwise(
    "tan", np.tan, "np.tan({0})", lambda y, x: 1 + y * y, sympy="tan", domain=UNIT, numexpr=True
)
arcsin = elementwise(
    "arcsin",
    np.arcsin,
    "np.arcsin({0})",
    lambda y, x: 1 / sqrt(1 - x * x),
    sympy="asin",
    domain=UNIT,
    singular_inputs=((0, 0, OPEN_UNIT),),
    numexpr=True,
)
arccos = elementwise(
    "arccos",
    np.arccos,
    "np.arccos({0})",
    lambda y, x: -1 / sqrt(1 - x * x),
    sympy="acos",
    domain=UNIT,
    singular_inputs=((0, 0, OPEN_UNIT),),
    numexpr=True,
)
arctan = elementwise(
    "arctan",
    np.arctan,
    "np.arctan({0})",
    lambda y, x: 1 / (1 + x * x),
    sympy="atan",
    image=fixed(-math.pi / 2, math.pi / 2),
    numexpr=True,
)
sinh = elementwise(
    "sinh", np.sinh, "np.sinh({0})", lambda y, x: cosh(x), sympy="sinh", numexpr=True
)
cosh = elementwise(
    "cosh",
    np.cosh,
    "np.cosh({0})",
    lambda y, x: sinh(x),
    sympy="cosh",
    image=fixed(1, INF),
    numexpr=True,
)
tanh = elementwise(
    "tanh",
    np.tanh,
    "np.tanh({0})",
    lambda y, x: 1 - y * y,
    sympy="tanh",
    methods=("tanh",),
    image=fixed(-1, 1),
    numexpr=True,
)

# Neural-network nonlinearities. relu'(0) = 0; abs'(0) = sign(0) = 0.
sigmoid = elementwise(
    "sigmoid",
    _sigmoid,
    "np.exp(-np.logaddexp(0.0, -{0}))",
    lambda y, x: y * (1 - y),
    array_api="xp.exp(-xp.logaddexp(xp.zeros_like({0}), -{0}))",
    sympy="sigmoid",
    methods=("sigmoid",),
    image=fixed(0, 1),
)
relu = elementwise(
    "relu",
    _relu,
    "np.maximum({0}, 0)",
    lambda y, x: x > 0,
    array_api="xp.maximum({0}, xp.zeros_like({0}))",
    sympy="relu",
    methods=("relu",),
    scalar_emit=_MAXIMUM.format("{0}", "0.0"),
    image=fixed(0, INF),
    numexpr="maximum({0}, 0)",
    recompute=True,
)
softplus = elementwise(
    "softplus",
    _softplus,
    "np.logaddexp(0.0, {0})",
    lambda y, x: sigmoid(x),
    array_api="xp.logaddexp(xp.zeros_like({0}), {0})",
    sympy="softplus",
    image=fixed(0, INF),
)
abs = elementwise(
    "abs",
    np.abs,
    "np.abs({0})",
    lambda y, x: sign(x),
    sympy="Abs",
    domain=NONZERO,
    methods=("abs",),
    scalar_emit="abs({0})",
    image=fixed(0, INF),
    numexpr="abs({0})",
    recompute=True,
)
sign = elementwise(
    "sign",
    np.sign,
    "np.sign({0})",
    (None,),
    sympy="sign",
    domain=NONZERO,
    numexpr=True,
    recompute=True,
    scalar_emit="(1.0 if {0} > 0.0 else -1.0 if {0} < 0.0 else 0.0 if {0} == 0.0 else {0})",
)

# Selection.
_max_vjp, _max_jvp = _extremum_rules(lambda a, b: greater(a, b))
_min_vjp, _min_jvp = _extremum_rules(lambda a, b: less(a, b))
maximum = elementwise(
    "maximum",
    np.maximum,
    "np.maximum({0}, {1})",
    (None, None),
    sympy="Max",
    vjp=_max_vjp,
    jvp=_max_jvp,
    nin=2,
    commutative=True,
    reduction="max",
    numexpr=True,
    recompute=True,
    scalar_emit=_MAXIMUM,
)
minimum = elementwise(
    "minimum",
    np.minimum,
    "np.minimum({0}, {1})",
    (None, None),
    sympy="Min",
    vjp=_min_vjp,
    jvp=_min_jvp,
    nin=2,
    commutative=True,
    reduction="min",
    numexpr=True,
    recompute=True,
    scalar_emit=_MAXIMUM.replace(">", "<"),
)
where = elementwise(
    "where",
    np.where,
    "np.where({0}, {1}, {2})",
    (None, None, None),
    vjp=_where_vjp,
    jvp=_where_jvp,
    nin=3,
    numexpr=True,
    recompute=True,
    array_api_conditions=(0,),  # booleans kept (numpy does not promote them)
)
# clip is minimum(maximum(x, lo), hi), as in numpy: hi wins where lo > hi. The gradient
# passes to exactly one input: x where lo <= x <= hi (bounds included, as in PyTorch's clamp),
# lo where x < lo <= hi, hi where maximum(x, lo) > hi (above hi, or lo > hi).
clip = elementwise(
    "clip",
    np.clip,
    "np.clip({0}, {1}, {2})",
    (
        lambda y, x, lo, hi: (x >= lo) * (x <= hi),
        lambda y, x, lo, hi: (x < lo) * (lo <= hi),
        lambda y, x, lo, hi: maximum(x, lo) > hi,
    ),
    nin=3,
    methods=("clip",),
    array_api="xp.minimum(xp.maximum({0}, {1}), {2})",  # hi wins where lo > hi, as in numpy
)


def _clip_prepare(x, a_min=None, a_max=None):
    return (x, -np.inf if a_min is None else a_min, np.inf if a_max is None else a_max), {}


clip.prepare = _clip_prepare

# Fresh values with no path back to their input (not recorded on the eager tape).
_fresh = {"records_on_tape": False, "shape_only_inputs": (0,)}
zeros_like = elementwise("zeros_like", np.zeros_like, "np.zeros_like({0})", (None,), **_fresh)
ones_like = elementwise("ones_like", np.ones_like, "np.ones_like({0})", (None,), **_fresh)

# Comparisons give booleans and carry no gradient.
less = _comparison("less", np.less, "<")
less_equal = _comparison("less_equal", np.less_equal, "<=")
greater = _comparison("greater", np.greater, ">")
greater_equal = _comparison("greater_equal", np.greater_equal, ">=")
equal = _comparison("equal", np.equal, "==", commutative=True)
not_equal = _comparison("not_equal", np.not_equal, "!=", commutative=True)
