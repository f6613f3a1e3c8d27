"""The reference text of the arithmetic, power, exponential and logarithm ops
(`ops.elementwise`, `ops.special`): one `document` call per op, its summary and an example
showing its derivative as graphc prints it and its value on numpy data (`ops.docs`)."""

from __future__ import annotations

from .docs import BINARY, document, ufunc

__test__: dict[str, str] = {}  # op name -> example: doctest runs them where they are written

# --- arithmetic ------------------------------------------------------------------------
document(
    __test__,
    "add",
    """
    >>> import graphc as gc, numpy as np
    >>> x, y = gc.var("x", shape=(3,)), gc.var("y", shape=(3,))
    >>> print(x + y)
    x + y
    >>> print(gc.grad(gc.sum(gc.add(x, y)), x))
    broadcast_to(1.0, shape=(3,))
    >>> gc.add(np.array([1.0, 2.0]), 10)
    array([11., 12.])
    """,
    ufunc("Sum of the operands, `x1 + x2` (numpy's `np.add`).", BINARY),
)
document(
    __test__,
    "subtract",
    """
    >>> import graphc as gc, numpy as np
    >>> x, y = gc.var("x", shape=(3,)), gc.var("y", shape=(3,))
    >>> print(gc.grad(gc.sum(x - y), y))
    broadcast_to(-1.0, shape=(3,))
    >>> gc.subtract(np.array([1.0, 2.0]), 10)
    array([-9., -8.])
    """,
    ufunc("Difference of the operands, `x1 - x2` (numpy's `np.subtract`).", BINARY),
)
document(
    __test__,
    "multiply",
    """
    >>> import graphc as gc, numpy as np
    >>> x, y = gc.var("x", shape=(3,)), gc.var("y", shape=(3,))
    >>> print(gc.grad(gc.sum(gc.multiply(x, y)), x))
    y
    >>> gc.multiply(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    array([3., 8.])
    """,
    ufunc("Product of the operands, `x1 * x2` (numpy's `np.multiply`).", BINARY),
)
document(
    __test__,
    "divide",
    """
    >>> import graphc as gc, numpy as np
    >>> x, y = gc.var("x", shape=(3,)), gc.var("y", shape=(3,))
    >>> print(gc.grad(gc.sum(x / y), y))
    -x/y**2
    >>> gc.divide(np.array([1.0, 3.0]), 2)
    array([0.5, 1.5])
    """,
    ufunc("True division, `x1 / x2` (numpy's `np.divide`).", BINARY),
)
document(
    __test__,
    "power",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(x**3), x))
    3*x**2
    >>> gc.power(np.array([2.0, 3.0]), 2)
    array([4., 9.])
    """,
    ufunc(
        "`x1` raised to the power `x2`, `x1 ** x2` (numpy's `np.power`).",
        BINARY,
        """The derivative in `x1` is `x2 * x1**(x2 - 1)`, taken as 0 where `x2` is 0 (so that
        `x**0` has derivative 0 at `x = 0`); in `x2` it is `x1**x2 * log(x1)`.""",
    ),
)
document(
    __test__,
    "mod",
    """
    >>> import graphc as gc, numpy as np
    >>> x, y = gc.var("x", shape=(3,)), gc.var("y", shape=(3,))
    >>> print(gc.grad(gc.sum(x % y), y))
    -floor(x/y)
    >>> gc.mod(np.array([7.0, -7.0]), 3)
    array([1., 2.])
    """,
    ufunc(
        "Remainder of the division, `x1 % x2`, with the sign of `x2` (numpy's `np.mod`).",
        BINARY,
    ),
)
document(
    __test__,
    "negative",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(-x)
    -x
    >>> gc.negative(np.array([1.0, -2.0]))
    array([-1.,  2.])
    """,
    ufunc("The operand with its sign flipped, `-x` (numpy's `np.negative`)."),
)

# --- powers, exponentials and logarithms -------------------------------------------------
document(
    __test__,
    "exp",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.exp(x)), x))
    exp(x)
    >>> print(x.exp())
    exp(x)
    >>> gc.exp(np.array([0.0, 1.0]))
    array([1.        , 2.71828183])
    """,
    ufunc("The exponential, `e**x` (numpy's `np.exp`)."),
)
document(
    __test__,
    "exp2",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.exp2(x)), x))
    0.6931471805599453*exp2(x)
    >>> gc.exp2(np.array([3.0, -1.0]))
    array([8. , 0.5])
    """,
    ufunc("Two to the power `x`, `2**x` (numpy's `np.exp2`); its derivative is `log(2) * 2**x`."),
)
document(
    __test__,
    "expm1",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.expm1(x)), x))
    exp(x)
    >>> gc.expm1(np.array([1e-10]))  # exp(x) - 1 would lose most digits
    array([1.e-10])
    """,
    ufunc("`exp(x) - 1`, accurate for small `x` (numpy's `np.expm1`)."),
)
document(
    __test__,
    "log",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.log(x)), x))
    1/x
    >>> print(x.log())
    log(x)
    >>> gc.log(np.array([1.0, np.e]))
    array([0., 1.])
    """,
    ufunc("The natural logarithm (numpy's `np.log`); its derivative `1/x` is infinite at 0."),
)
document(
    __test__,
    "log1p",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.log1p(x)), x))
    1/(x + 1)
    >>> gc.log1p(np.array([1e-10]))  # log(1 + x) would lose most digits
    array([1.e-10])
    """,
    ufunc("`log(1 + x)`, accurate for small `x` (numpy's `np.log1p`)."),
)
document(
    __test__,
    "log2",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.log2(x)), x))
    1.4426950408889634/x
    >>> gc.log2(np.array([8.0, 0.5]))
    array([ 3., -1.])
    """,
    ufunc("The base-2 logarithm (numpy's `np.log2`); its derivative is `1 / (x log(2))`."),
)
document(
    __test__,
    "log10",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.log10(x)), x))
    0.43429448190325176/x
    >>> gc.log10(np.array([1000.0, 0.01]))
    array([ 3., -2.])
    """,
    ufunc("The base-10 logarithm (numpy's `np.log10`); its derivative is `1 / (x log(10))`."),
)
document(
    __test__,
    "logaddexp",
    """
    >>> import graphc as gc, numpy as np
    >>> x, y = gc.var("x", shape=(3,)), gc.var("y", shape=(3,))
    >>> print(gc.grad(gc.sum(gc.logaddexp(x, y)), x))
    exp(x - logaddexp(x, y))
    >>> gc.logaddexp(np.array([1000.0]), np.array([1000.0]))  # no overflow
    array([1000.69314718])
    """,
    ufunc(
        "`log(exp(x1) + exp(x2))` without overflow (numpy's `np.logaddexp`); its derivative "
        "in `x1` is the softmax weight `exp(x1 - logaddexp(x1, x2))`.",
        BINARY,
    ),
)
document(
    __test__,
    "sqrt",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.sqrt(x)), x))
    1/(2*sqrt(x))
    >>> print(x.sqrt())
    sqrt(x)
    >>> gc.sqrt(np.array([4.0, 9.0]))
    array([2., 3.])
    """,
    ufunc("The non-negative square root (numpy's `np.sqrt`); its derivative is infinite at 0."),
)
document(
    __test__,
    "square",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.square(x)), x))
    2*x
    >>> print(x.square())
    x**2
    >>> gc.square(np.array([-3.0, 0.5]))
    array([9.  , 0.25])
    """,
    ufunc("`x * x` (numpy's `np.square`), printed `x**2`."),
)
document(
    __test__,
    "reciprocal",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> print(gc.grad(gc.sum(gc.reciprocal(x)), x))
    -reciprocal(x)**2
    >>> gc.reciprocal(np.array([4.0, -0.5]))
    array([ 0.25, -2.  ])
    """,
    ufunc("`1 / x` (numpy's `np.reciprocal`); its derivative is `-1 / x**2`."),
)
