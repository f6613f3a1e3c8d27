"""The reference text of the other elementwise ops (`ops.elementwise`, `ops.special`):
trigonometric and hyperbolic functions, activations, sign and rounding, choosing entries. One
`document` call per op, its summary and an example showing its derivative as graphc prints it
and its value on numpy data (`ops.docs`)."""

from __future__ import annotations

from .docs import ARRAY, BINARY, document, ufunc

__test__: dict[str, str] = {}  # op name -> example: doctest runs them where they are written

# --- trigonometric and hyperbolic functions ----------------------------------------------
document(
    __test__,
    "sin",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.sin(x)), x))
    cos(x)
    >>> gc.sin(np.array([0.0, np.pi / 2]))
    array([0., 1.])
    """,
    ufunc("The sine of `x` in radians (numpy's `np.sin`)."),
)
document(
    __test__,
    "cos",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.cos(x)), x))
    -sin(x)
    >>> gc.cos(np.array([0.0, np.pi]))
    array([ 1., -1.])
    """,
    ufunc("The cosine of `x` in radians (numpy's `np.cos`)."),
)
document(
    __test__,
    "tan",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.tan(x)), x))
    tan(x)**2 + 1
    >>> gc.tan(np.array([0.0, np.pi / 4]))
    array([0., 1.])
    """,
    ufunc("The tangent of `x` in radians (numpy's `np.tan`)."),
)
document(
    __test__,
    "arcsin",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.arcsin(x)), x))
    1/sqrt(1 - x**2)
    >>> gc.arcsin(np.array([0.0, 1.0]))
    array([0.        , 1.57079633])
    """,
    ufunc("The inverse sine, in [-pi/2, pi/2] (numpy's `np.arcsin`); defined on [-1, 1]."),
)
document(
    __test__,
    "arccos",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.arccos(x)), x))
    -1/sqrt(1 - x**2)
    >>> gc.arccos(np.array([1.0, -1.0]))
    array([0.        , 3.14159265])
    """,
    ufunc("The inverse cosine, in [0, pi] (numpy's `np.arccos`); defined on [-1, 1]."),
)
document(
    __test__,
    "arctan",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.arctan(x)), x))
    1/(x**2 + 1)
    >>> gc.arctan(np.array([0.0, 1.0]))
    array([0.        , 0.78539816])
    """,
    ufunc("The inverse tangent, in (-pi/2, pi/2) (numpy's `np.arctan`)."),
)
document(
    __test__,
    "sinh",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.sinh(x)), x))
    cosh(x)
    >>> gc.sinh(np.array([0.0, 1.0]))
    array([0.        , 1.17520119])
    """,
    ufunc("The hyperbolic sine (numpy's `np.sinh`)."),
)
document(
    __test__,
    "cosh",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.cosh(x)), x))
    sinh(x)
    >>> gc.cosh(np.array([0.0, 1.0]))
    array([1.        , 1.54308063])
    """,
    ufunc("The hyperbolic cosine (numpy's `np.cosh`)."),
)
document(
    __test__,
    "tanh",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.tanh(x)), x))
    1 - tanh(x)**2
    >>> print(x.tanh())
    tanh(x)
    >>> gc.tanh(np.array([0.0, 20.0]))
    array([0., 1.])
    """,
    ufunc("The hyperbolic tangent, in (-1, 1) (numpy's `np.tanh`)."),
)
document(
    __test__,
    "arcsinh",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.arcsinh(x)), x))
    1/sqrt(x**2 + 1)
    >>> gc.arcsinh(np.array([0.0, 1.0]))
    array([0.        , 0.88137359])
    """,
    ufunc("The inverse hyperbolic sine (numpy's `np.arcsinh`)."),
)
document(
    __test__,
    "arccosh",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.arccosh(x)), x))
    1/sqrt(x**2 - 1)
    >>> gc.arccosh(np.array([1.0, 2.0]))
    array([0.       , 1.3169579])
    """,
    ufunc("The inverse hyperbolic cosine, for `x >= 1` (numpy's `np.arccosh`)."),
)
document(
    __test__,
    "arctanh",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.arctanh(x)), x))
    1/(1 - x**2)
    >>> gc.arctanh(np.array([0.0, 0.5]))
    array([0.        , 0.54930614])
    """,
    ufunc("The inverse hyperbolic tangent, for `-1 < x < 1` (numpy's `np.arctanh`)."),
)

# --- activations and special functions ---------------------------------------------------
document(
    __test__,
    "sigmoid",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.sigmoid(x)), x))
    (1 - sigmoid(x))*sigmoid(x)
    >>> print(x.sigmoid())
    sigmoid(x)
    >>> gc.sigmoid(np.array([0.0, -800.0]))  # no overflow for large |x|
    array([0.5, 0. ])
    """,
    ufunc("The logistic function `1 / (1 + exp(-x))`, in (0, 1)."),
)
document(
    __test__,
    "relu",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.relu(x)), x))
    x > 0
    >>> print(x.relu())
    relu(x)
    >>> gc.relu(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 2.])
    """,
    ufunc(
        "The rectified linear unit, `maximum(x, 0)`.",
        notes="Its derivative is `x > 0` (a boolean mask): 0 at `x = 0`, as in PyTorch and JAX.",
    ),
)
document(
    __test__,
    "softplus",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.softplus(x)), x))
    sigmoid(x)
    >>> gc.softplus(np.array([-1000.0, 1000.0]))  # no overflow
    array([   0., 1000.])
    """,
    ufunc("`log(1 + exp(x))`, a smooth relu, computed as `logaddexp(0, x)`."),
)
document(
    __test__,
    "erf",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.erf(x)), x))
    1.1283791670955126*exp(-x**2)
    >>> gc.erf(np.array([0.0, 1.0]))
    array([0.        , 0.84270079])
    """,
    ufunc("The error function; its derivative is `2/sqrt(pi) * exp(-x**2)`."),
)
document(
    __test__,
    "sinc",
    """
    >>> import graphc as gc, numpy as np
    >>> gc.sinc(np.array([0.0, 0.5, 1.0]))
    array([1.00000000e+00, 6.36619772e-01, 3.89817183e-17])
    >>> x = gc.var("x")
    >>> gc.grad(gc.sum(gc.sinc(x)), x).eval(x=np.array([0.0, 1.0]))  # a series near 0, no 0/0
    [array([-0., -1.])]
    """,
    ufunc(
        "The normalized sinc function, `sin(pi x) / (pi x)`, 1 at 0 (numpy's `np.sinc`).",
        notes="Its derivative is `(cos(pi x) - sinc(x)) / x`, from a Taylor series near 0.",
    ),
)

# --- sign, magnitude, rounding -----------------------------------------------------------
document(
    __test__,
    "abs",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.abs(x)), x))
    sign(x)
    >>> print(x.abs(), abs(x))
    abs(x) abs(x)
    >>> gc.abs(np.array([-2.0, 3.0]))
    array([2., 3.])
    """,
    ufunc(
        "The absolute value, `abs(x)` (numpy's `np.abs`).",
        notes="Its derivative is `sign(x)`: 0 at `x = 0`.",
    ),
)
document(
    __test__,
    "sign",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.sign(x) * x), x))
    sign(x)
    >>> gc.sign(np.array([-2.0, 0.0, 3.0]))
    array([-1.,  0.,  1.])
    """,
    ufunc("-1, 0 or 1 by the sign of `x` (numpy's `np.sign`); its derivative is 0."),
)
document(
    __test__,
    "floor",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.floor(x)), x))
    zeros_like(x)
    >>> gc.floor(np.array([-1.5, 1.5]))
    array([-2.,  1.])
    """,
    ufunc("The largest integer not above `x` (numpy's `np.floor`); its derivative is 0."),
)
document(
    __test__,
    "ceil",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.ceil(x)), x))
    zeros_like(x)
    >>> gc.ceil(np.array([-1.5, 1.5]))
    array([-1.,  2.])
    """,
    ufunc("The smallest integer not below `x` (numpy's `np.ceil`); its derivative is 0."),
)
document(
    __test__,
    "round",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.round(x, decimals=2))
    round(x, decimals=2)
    >>> print(x.round())
    round(x, decimals=0)
    >>> gc.round(np.array([0.5, 1.5, 2.675]), decimals=0)  # halves to even, as numpy
    array([0., 2., 3.])
    """,
    ufunc(
        "`x` rounded to `decimals` decimals, halves to even (numpy's `np.round`).",
        ARRAY + (("decimals : int, default 0", "Negative: round to tens, hundreds, ..."),),
        "Piecewise constant: its derivative is 0.",
    ),
)
document(
    __test__,
    "nan_to_num",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.nan_to_num(x)), x))
    x == nan_to_num(x, nan=0.0)
    >>> gc.nan_to_num(np.array([np.nan, np.inf, 1.0]), posinf=9.0)
    array([0., 9., 1.])
    """,
    ufunc(
        "`x` with NaN and infinities replaced by finite numbers (numpy's `np.nan_to_num`).",
        ARRAY
        + (
            ("nan : float, default 0.0", "The value for NaN."),
            (
                "posinf, neginf : float, optional",
                "The values for +inf and -inf (default: "
                "the dtype's largest and smallest finite numbers).",
            ),
        ),
        "Its derivative is 1 where the entry is kept, 0 where it is replaced.",
    ),
)

# --- choosing entries --------------------------------------------------------------------
document(
    __test__,
    "maximum",
    """
    >>> import graphc as gc, numpy as np
    >>> x, y = gc.var("x", shape=(3,)), gc.var("y", shape=(3,))
    >>> print(gc.grad(gc.sum(gc.maximum(x, y)), x))
    where(x > y, 1, where(x == y, 0.5, 0))
    >>> gc.maximum(np.array([1.0, 5.0]), 3.0)
    array([3., 5.])
    """,
    ufunc(
        "The larger of the operands, entry by entry (numpy's `np.maximum`; NaN wins).",
        BINARY,
        "Ties share the gradient evenly (0.5 each), as in PyTorch.",
    ),
)
document(
    __test__,
    "minimum",
    """
    >>> import graphc as gc, numpy as np
    >>> x, y = gc.var("x", shape=(3,)), gc.var("y", shape=(3,))
    >>> print(gc.grad(gc.sum(gc.minimum(x, y)), x))
    where(x < y, 1, where(x == y, 0.5, 0))
    >>> gc.minimum(np.array([1.0, 5.0]), 3.0)
    array([1., 3.])
    """,
    ufunc(
        "The smaller of the operands, entry by entry (numpy's `np.minimum`; NaN wins).",
        BINARY,
        "Ties share the gradient evenly (0.5 each), as in PyTorch.",
    ),
)
document(
    __test__,
    "clip",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.clip(x, 0, 1)), x))
    (x >= 0)*(x <= 1)
    >>> print(x.clip(0, 1))
    clip(x, 0, 1)
    >>> gc.clip(np.array([-1.0, 0.5, 2.0]), 0.0, 1.0)
    array([0. , 0.5, 1. ])
    """,
    ufunc(
        "`x` limited to the interval [`a_min`, `a_max`] (numpy's `np.clip`).",
        ARRAY
        + (
            (
                "a_min, a_max : Symbol, Tensor, array_like or None",
                "The bounds (None: no bound on that side); differentiable too.",
            ),
        ),
        "The derivative in `x` is 1 inside the interval, its ends included, and 0 outside.",
    ),
)
document(
    __test__,
    "where",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.where(x > 0, x, 0)), x))
    where(x > 0, 1, 0)
    >>> gc.where(np.array([True, False]), np.array([1.0, 2.0]), -1.0)
    array([ 1., -1.])
    """,
    ufunc(
        "`x1` where `condition` holds, else `x2` (numpy's `np.where` with three arguments).",
        (
            ("condition : Symbol, Tensor or array_like of bool", "Not differentiated."),
            ("x1, x2 : Symbol, Tensor or array_like", "The values to choose from."),
        ),
        "The gradient goes to the operand chosen; `where(x > 0, sqrt(x), 0)` still "
        "evaluates `sqrt(x)` everywhere (guard its input, as in JAX).",
    ),
)
document(
    __test__,
    "zeros_like",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x", shape=(2,))
    >>> gc.zeros_like(x).shape
    (2,)
    >>> gc.zeros_like(np.array([[1, 2]]))
    array([[0, 0]])
    """,
    ufunc("Zeros of the shape and dtype of `x` (numpy's `np.zeros_like`); not differentiated."),
)
document(
    __test__,
    "ones_like",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x", shape=(2,), dtype="float32")
    >>> gc.ones_like(x).dtype
    dtype('float32')
    >>> gc.ones_like(np.array([1.5, 2.5]))
    array([1., 1.])
    """,
    ufunc("Ones of the shape and dtype of `x` (numpy's `np.ones_like`); not differentiated."),
)
