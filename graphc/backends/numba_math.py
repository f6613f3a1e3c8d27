"""graphc's own elementary functions for the ``"numba"`` backend's loops: sin, cos, exp, log,
log1p and tanh as float64 polynomials with branch-free range reduction, so that LLVM's loop
vectoriser turns a fused loop calling them into AVX2/AVX-512 code (numba's `math.sin` is a
scalar libm call, which no loop vectorises).

This module is plain Python and needs only numpy: the backend copies its source (from
`LIBRARY`'s marker on) into each generated kernel module, after numba intrinsics for the
bit casts `f2i` and `i2f` and before compiling each function with ``@njit``. Run as Python,
the functions compute the same values slowly (the tests check both):

>>> _sin(1.0) == math.sin(1.0), _exp(1.0) == math.exp(1.0), _log1p(0.0)
(True, True, 0.0)

Accuracy (float64; tests/test_numba_backend.py measures it against numpy on dense grids and
edge points): sin and cos at most 2 ulp for ``|x| <= SC_LIMIT`` (beyond it, and for nan and
inf, `_sc_bad` is true and the kernel runs the block again with libm: Cody-Waite reduction by
pi/2 in three parts is exact enough only there); exp, log and log1p at most 1 ulp over their
whole domain, with inf, nan, zeros, subnormal results and overflow selected branch-free;
tanh at most 3 ulp (from exp's polynomial: expm1(2|x|) / (expm1(2|x|) + 2)).

The coefficients are Chebyshev fits (mpmath ``chebyfit``, 50 digits, rounded to float64) of
(sin r - r)/r^3 and (cos r - 1 + r^2/2)/r^4 in t = r^2 on [0, (pi/4)^2], of
(exp r - 1 - r)/r^2 on [-ln2/2, ln2/2], and of (log((1+s)/(1-s)) - 2s)/s^3 in z = s^2 on
[0, ((sqrt2-1)/(sqrt2+1))^2]; `tests/test_numba_backend.py` fits them again.
"""

import math

import numpy as np


def f2i(x):
    """The bits of float64 `x` as an int64 (a numba intrinsic in generated modules)."""
    return int(np.float64(x).view(np.int64))


def i2f(bits):
    """The float64 whose bits are int64 `bits` (a numba intrinsic in generated modules)."""
    return float(np.int64(bits).view(np.float64))


# --- library: copied into generated modules from here on -------------------------------

MAGIC = 6755399441055744.0  # 1.5 * 2**52: x + MAGIC - MAGIC rounds x to an integer
TWO_OVER_PI = 0.6366197723675814
PIO2_1 = 1.5707963267341256  # pi/2 in three parts: 33 bits, 33 bits, the rest
PIO2_2 = 6.077100506303966e-11
PIO2_3 = 2.0222662487959506e-21
LN2_1 = 0.6931471803691238  # ln 2 in two parts: 32 bits, the rest
LN2_2 = 1.9082149292705877e-10
LOG2E = 1.4426950408889634
SQRT2 = 1.4142135623730951
SC_LIMIT = 1e5  # sin and cos: the reduction's range (beyond it: libm)
SIN = (
    -0.16666666666666666,
    0.008333333333333331,
    -0.00019841269841265065,
    2.7557319219339167e-06,
    -2.5052106232447578e-08,
    1.6058531618986147e-10,
    -7.586697117706918e-13,
)
COS = (
    0.041666666666666664,
    -0.0013888888888888887,
    2.4801587301584645e-05,
    -2.7557319221402824e-07,
    2.087675579108042e-09,
    -1.1470460887609959e-11,
    4.7458719020432915e-14,
)
EXP = (
    0.5,
    0.1666666666666667,
    0.04166666666666667,
    0.008333333333326141,
    0.0013888888888883752,
    0.00019841269874800493,
    2.4801587325533363e-05,
    2.7557255425746435e-06,
    2.7557273661348637e-07,
    2.510520637395701e-08,
    2.0914679376583935e-09,
)
LOG = (
    0.666666666666667,
    0.39999999999899505,
    0.28571428625975487,
    0.2222221113479508,
    0.18182889125261723,
    0.15331721600556042,
    0.14616449685043406,
)


def _poly_sin(t):
    return SIN[0] + t * (
        SIN[1] + t * (SIN[2] + t * (SIN[3] + t * (SIN[4] + t * (SIN[5] + t * SIN[6]))))
    )


def _poly_cos(t):
    return COS[0] + t * (
        COS[1] + t * (COS[2] + t * (COS[3] + t * (COS[4] + t * (COS[5] + t * COS[6]))))
    )


def _poly_exp(r):
    hi = EXP[6] + r * (EXP[7] + r * (EXP[8] + r * (EXP[9] + r * EXP[10])))
    return EXP[0] + r * (
        EXP[1] + r * (EXP[2] + r * (EXP[3] + r * (EXP[4] + r * (EXP[5] + r * hi))))
    )


def _poly_log(z):
    return LOG[0] + z * (
        LOG[1] + z * (LOG[2] + z * (LOG[3] + z * (LOG[4] + z * (LOG[5] + z * LOG[6]))))
    )


def _sincos(x):
    """(sin r, cos r, quadrant) for x = r + quadrant * pi/2, |r| <= pi/4."""
    kf = (x * TWO_OVER_PI + MAGIC) - MAGIC
    r = ((x - kf * PIO2_1) - kf * PIO2_2) - kf * PIO2_3
    t = r * r
    s = r + r * t * _poly_sin(t)
    c = 1.0 - 0.5 * t + t * t * _poly_cos(t)
    return s, c, f2i(kf + MAGIC) & 3


def _sin(x):
    s, c, q = _sincos(x)
    v = c if q & 1 else s
    return -v if q & 2 else v


def _cos(x):
    s, c, q = _sincos(x)
    v = s if q & 1 else c
    return -v if (q + 1) & 2 else v


def _sc_bad(x):
    """Is x beyond the range `_sin` and `_cos` reduce exactly enough (or nan, inf)?"""
    return not abs(x) <= SC_LIMIT


def _exp(x):
    xc = min(max(x, -746.0), 710.0)
    kf = (xc * LOG2E + MAGIC) - MAGIC
    r = (xc - kf * LN2_1) - kf * LN2_2
    p = 1.0 + r + r * r * _poly_exp(r)
    k = f2i(kf + MAGIC) - f2i(MAGIC)
    half = k >> 1  # 2**k in two factors: subnormal results and overflow come out right
    v = p * i2f((half + 1023) << 52) * i2f((k - half + 1023) << 52)
    return v if x == x else x


def _expm1_core(y):
    """expm1(y) for 0 <= y <= 40: 2**k expm1(r) + (2**k - 1), both terms exact but the sum."""
    kf = (y * LOG2E + MAGIC) - MAGIC
    r = (y - kf * LN2_1) - kf * LN2_2
    scale = i2f((f2i(kf + MAGIC) - f2i(MAGIC) + 1023) << 52)
    return scale * (r + r * r * _poly_exp(r)) + (scale - 1.0)


def _tanh(x):
    """tanh |x| = expm1(2|x|) / (expm1(2|x|) + 2), its sign x's (1 from |x| = 20 on)."""
    u = _expm1_core(2.0 * min(abs(x), 20.0))
    t = u / (u + 2.0)
    return math.copysign(t, x) if x == x else x


def _log_core(u, c):
    """log(u) + c for a positive normal u and a small correction c (fdlibm's scheme:
    u = 2**e (1 + f), log(1 + f) = 2 atanh(s) with s = f / (2 + f))."""
    bits = f2i(u)
    e = (bits >> 52) - 1023
    m = i2f((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
    big = m > SQRT2
    m = 0.5 * m if big else m
    ef = float(e + 1 if big else e)
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    hf = 0.5 * f * f
    return ef * LN2_1 - ((hf - (s * (hf + z * _poly_log(z)) + (ef * LN2_2 + c))) - f)


def _log(x):
    tiny = x < 2.2250738585072014e-308  # subnormal (or 0, or negative): scaled by 2**54
    v = _log_core(x * 1.8014398509481984e16 if tiny else x, 0.0)
    v = v - 37.42994775023705 if tiny else v  # 54 ln 2
    v = v if x < math.inf else x
    v = v if x >= 0.0 else math.nan
    return -math.inf if x == 0.0 else (v if x == x else x)


def _log1p(x):
    u = 1.0 + x
    v = _log_core(u, (x - (u - 1.0)) / u)  # the correction: the rounding of 1 + x
    v = v if x < math.inf else x
    v = v if x >= -1.0 else math.nan
    return -math.inf if x == -1.0 else (v if x == x else x)


def _bsum(values, m):
    """The sum of values[:m] (compiled with reassociation: vectorised)."""
    total = 0.0
    for i in range(m):
        total += values[i]
    return total


def _maximum(a, b):
    return a if (a > b or a != a) else b


def _minimum(a, b):
    return a if (a < b or a != a) else b


def _sign(x):
    return 1.0 if x > 0 else (-1.0 if x < 0 else (0.0 if x == 0 else x))


FUNCTIONS = "_poly_sin _poly_cos _poly_exp _poly_log _sincos _sin _cos _sc_bad _exp _expm1_core _tanh _log_core _log _log1p _maximum _minimum _sign"
