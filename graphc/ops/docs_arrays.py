"""The reference text of the reductions, the neural-network losses and activations over an
axis, and the products (`ops.reduce`, `ops.nn`, `ops.linalg*`, `ops.einsum`,
`ops.sequence`): one `document` call per op, with an example showing its derivative as
graphc prints it and its value on numpy data (`ops.docs`)."""

from __future__ import annotations

from .docs import ARRAY, document, numpydoc, reduction

__test__: dict[str, str] = {}  # op name -> example: doctest runs them where they are written

_DDOF = (("ddof : int, default 0", "Subtracted from the count of entries in the divisor."),)
_PAIR = (("a, b : Symbol, Tensor or array_like", "The operands."),)
_SOFTAXIS = (("axis : int, default -1", "The axis the distribution runs along."),)

# --- reductions --------------------------------------------------------------------------
document(
    __test__,
    "sum",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x", shape=(2, 3))
    >>> print(gc.grad(gc.sum(x), x))
    ones_like(x)
    >>> print(x.sum(axis=1, keepdims=True))
    sum(x, axis=1, keepdims=True)
    >>> gc.sum(np.arange(6.0).reshape(2, 3), axis=0)
    array([3., 5., 7.])
    """,
    reduction("The sum of the entries over `axis` (numpy's `np.sum`); its gradient is ones."),
)
document(
    __test__,
    "mean",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x", shape=(2, 3))
    >>> print(gc.grad(gc.mean(x), x))
    broadcast_to(1/6, shape=(2, 3))
    >>> print(x.mean())
    mean(x)
    >>> gc.mean(np.arange(6.0).reshape(2, 3), axis=1)
    array([1., 4.])
    """,
    reduction("The arithmetic mean over `axis` (numpy's `np.mean`)."),
)
document(
    __test__,
    "max",
    """
    >>> import graphc as gc, numpy as np
    >>> v = gc.var("v", shape=(3,))
    >>> print(gc.grad(gc.max(v), v))
    t1 = (v == max(v))*ones_like(v)
    t1/sum(t1, keepdims=True)
    >>> print(v.max(axis=0))
    max(v, axis=0)
    >>> gc.max(np.arange(6.0).reshape(2, 3), axis=0)
    array([3., 4., 5.])
    """,
    reduction(
        "The largest entry over `axis` (numpy's `np.max`, `np.amax`).",
        notes="The gradient is shared evenly between tied largest entries.",
    ),
)
document(
    __test__,
    "min",
    """
    >>> import graphc as gc, numpy as np
    >>> v = gc.var("v", shape=(3,))
    >>> print(gc.grad(gc.min(v), v))
    t1 = (v == min(v))*ones_like(v)
    t1/sum(t1, keepdims=True)
    >>> print(v.min())
    min(v)
    >>> gc.min(np.arange(6.0).reshape(2, 3), axis=1)
    array([0., 3.])
    """,
    reduction(
        "The smallest entry over `axis` (numpy's `np.min`, `np.amin`).",
        notes="The gradient is shared evenly between tied smallest entries.",
    ),
)
document(
    __test__,
    "prod",
    """
    >>> import graphc as gc, numpy as np
    >>> v = gc.var("v", shape=(3,))
    >>> print(gc.grad(gc.prod(v), v))
    prod_others(v)
    >>> print(v.prod(axis=0))
    prod(v, axis=0)
    >>> gc.prod(np.array([2.0, 3.0, 4.0]))
    np.float64(24.0)
    >>> gc.grad(gc.prod(v), v).eval(v=np.array([2.0, 0.0, 4.0]))  # exact at a zero
    [array([0., 8., 0.])]
    """,
    reduction(
        "The product of the entries over `axis` (numpy's `np.prod`).",
        notes="""The derivative in each entry is the product of the other entries
        (`prod_others`), exact where entries are zero (no division), as in autograd and JAX.""",
    ),
)
document(
    __test__,
    "variance",
    """
    >>> import graphc as gc, numpy as np
    >>> v = gc.var("v", shape=(3,))
    >>> print(gc.grad(gc.variance(v), v))
    2*(v - mean(v, keepdims=True))/3
    >>> print(v.var(axis=0))
    variance(v, axis=0, ddof=0)
    >>> gc.variance(np.array([1.0, 3.0]), ddof=1)
    np.float64(2.0)
    """,
    reduction(
        "The variance over `axis` (numpy's `np.var`; `x.var()`): named `variance`, as "
        "`gc.var` makes a variable.",
        _DDOF,
    ),
)
document(
    __test__,
    "std",
    """
    >>> import graphc as gc, numpy as np
    >>> v = gc.var("v", shape=(3,))
    >>> print(gc.grad(gc.std(v), v))
    (v - mean(v, keepdims=True))/(3*std(v, ddof=0))
    >>> print(v.std(ddof=1))
    std(v, ddof=1)
    >>> gc.std(np.array([1.0, 3.0]))
    np.float64(1.0)
    """,
    reduction(
        "The standard deviation over `axis` (numpy's `np.std`).",
        _DDOF,
        "Its derivative is undefined (NaN) where all entries are equal (std 0).",
    ),
)
document(
    __test__,
    "logsumexp",
    """
    >>> import graphc as gc, numpy as np
    >>> v = gc.var("v", shape=(3,))
    >>> print(gc.grad(gc.logsumexp(v), v))
    softmax(v, axis=-1)
    >>> gc.logsumexp(np.array([1000.0, 1000.0]))  # no overflow
    array(1000.69314718)
    """,
    reduction(
        "`log(sum(exp(x)))` over `axis`, computed with the maximum shifted out "
        "(scipy's `logsumexp`); its gradient is the softmax."
    ),
)

# --- distributions and losses ------------------------------------------------------------
document(
    __test__,
    "softmax",
    """
    >>> import graphc as gc, numpy as np
    >>> v = gc.var("v", shape=(3,))
    >>> y = gc.sum(gc.softmax(v) * np.array([1.0, 0.0, 0.0]))
    >>> print(gc.grad(y, v))
    (const([1.0, 0.0, 0.0]) - sum(const([1.0, 0.0, 0.0])*softmax(v, axis=-1), axis=-1, \
keepdims=True))*softmax(v, axis=-1)
    >>> gc.softmax(np.array([0.0, np.log(3.0)]))
    array([0.25, 0.75])
    """,
    numpydoc(
        "`exp(x) / sum(exp(x))` along `axis`: positive entries summing to 1.",
        ARRAY + _SOFTAXIS,
        "Of the shape of `x`.",
    ),
)
document(
    __test__,
    "log_softmax",
    """
    >>> import graphc as gc, numpy as np
    >>> print(gc.log_softmax(gc.var("v", shape=(3,))))
    log_softmax(v, axis=-1)
    >>> gc.log_softmax(np.array([0.0, 0.0]))
    array([-0.69314718, -0.69314718])
    """,
    numpydoc(
        "`x - logsumexp(x)` along `axis`: the log of the softmax, without its underflow.",
        ARRAY + _SOFTAXIS,
        "Of the shape of `x`.",
    ),
)
document(
    __test__,
    "cross_entropy",
    """
    >>> import graphc as gc, numpy as np
    >>> gc.cross_entropy(np.array([[0.0, 0.0], [0.0, 10.0]]), np.array([1, 1]))
    np.float64(0.346596...)
    >>> logits = gc.var("logits", shape=(4, 3))
    >>> gc.grad(gc.cross_entropy(logits, np.array([0, 1, 2, 0])), logits).shape
    (4, 3)
    """,
    numpydoc(
        "The mean softmax cross-entropy of `logits` against integer class `labels` "
        "(PyTorch's `cross_entropy`).",
        (
            ("logits : Symbol, Tensor or array_like, shape (..., C)", "Unnormalised scores."),
            ("labels : Symbol, Tensor or array_like of ints, shape (...)", "In [0, C)."),
        ),
        "0-d: the mean over the entries of `labels` of `-log_softmax(logits)[label]`.",
        "Its gradient in `logits` is `(softmax(logits) - one_hot(labels)) / n`.",
    ),
)
document(
    __test__,
    "mse_loss",
    """
    >>> import graphc as gc, numpy as np
    >>> p, t = gc.var("p", shape=(3,)), gc.var("t", shape=(3,))
    >>> print(gc.grad(gc.mse_loss(p, t), p))
    2*(p - t)/3
    >>> gc.mse_loss(np.array([1.0, 3.0]), np.array([1.0, 1.0]))
    np.float64(2.0)
    """,
    numpydoc(
        "The mean squared error, `mean((pred - target)**2)` (PyTorch's `MSELoss()`).",
        (("pred, target : Symbol, Tensor or array_like", "Broadcast together."),),
        "0-d.",
    ),
)

# --- products ----------------------------------------------------------------------------
document(
    __test__,
    "dot",
    """
    >>> import graphc as gc, numpy as np
    >>> v, w = gc.var("v", shape=(3,)), gc.var("w", shape=(3,))
    >>> print(gc.grad(gc.dot(v, w), v))
    w
    >>> print(v.dot(w))
    dot(v, w)
    >>> gc.dot(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    np.float64(11.0)
    """,
    numpydoc(
        "The dot product (numpy's `np.dot`): of vectors a number, of matrices their product; "
        "over the last axis of `a` and the second-to-last of `b`.",
        _PAIR,
        "The product, of numpy's `np.dot` shape.",
    ),
)
document(
    __test__,
    "matmul",
    """
    >>> import graphc as gc, numpy as np
    >>> x, v = gc.var("x", shape=(2, 3)), gc.var("v", shape=(3,))
    >>> print(x @ v, x.matmul(v))
    x @ v x @ v
    >>> print(gc.grad(gc.sum(gc.matmul(x, v)), v))
    x.T @ broadcast_to(1.0, shape=(2,))
    >>> gc.matmul(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([1.0, 2.0]))
    array([2., 1.])
    """,
    numpydoc(
        "The matrix product `a @ b` (numpy's `np.matmul`): a 1-D operand is a vector, "
        "leading axes are stacks of matrices and broadcast.",
        _PAIR,
        "The product, of numpy's `np.matmul` shape.",
    ),
)
document(
    __test__,
    "outer",
    """
    >>> import graphc as gc, numpy as np
    >>> v, w = gc.var("v", shape=(3,)), gc.var("w", shape=(3,))
    >>> print(gc.grad(gc.sum(gc.outer(v, w)), v))
    broadcast_to(1.0, shape=(3, 3)) @ w
    >>> gc.outer(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    array([[3., 4.],
           [6., 8.]])
    """,
    numpydoc("The outer product of two vectors (numpy's `np.outer`).", _PAIR, "Of shape (m, n)."),
)
document(
    __test__,
    "inner",
    """
    >>> import graphc as gc, numpy as np
    >>> gc.inner(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    np.float64(11.0)
    >>> gc.inner(np.eye(2), np.array([3.0, 4.0]))
    array([3., 4.])
    """,
    numpydoc(
        "The sum over the last axes of `a` and `b` (numpy's `np.inner`).",
        _PAIR,
        "Of shape `a.shape[:-1] + b.shape[:-1]`.",
    ),
)
document(
    __test__,
    "kron",
    """
    >>> import graphc as gc, numpy as np
    >>> gc.kron(np.eye(2), np.array([1.0, 2.0]))
    array([[1., 2., 0., 0.],
           [0., 0., 1., 2.]])
    """,
    numpydoc(
        "The Kronecker (block) product (numpy's `np.kron`): the operand of lower rank gets "
        "leading 1s.",
        _PAIR,
        "Each dim the product of the operands' dims.",
    ),
)
document(
    __test__,
    "tensordot",
    """
    >>> import graphc as gc, numpy as np
    >>> gc.tensordot(np.ones((2, 3)), np.ones((3, 4)), axes=1)
    array([[3., 3., 3., 3.],
           [3., 3., 3., 3.]])
    >>> a, b = gc.var("a", shape=(2, 3)), gc.var("b", shape=(2, 3))
    >>> gc.tensordot(a, b, axes=([0, 1], [0, 1])).shape
    ()
    """,
    numpydoc(
        "The sum of products over the given axes (numpy's `np.tensordot`).",
        _PAIR
        + (
            (
                "axes : int or (sequence, sequence), default 2",
                "n: the last n axes of `a` with the first n of `b`; or the axes of each.",
            ),
        ),
        "The free axes of `a`, then those of `b`.",
    ),
)
document(
    __test__,
    "einsum",
    """
    >>> import graphc as gc, numpy as np
    >>> x, v = gc.var("x", shape=(2, 3)), gc.var("v", shape=(3,))
    >>> print(gc.einsum("ij,j->i", x, v))
    einsum(x, v, subscripts='ij,j->i')
    >>> print(gc.grad(gc.sum(gc.einsum("ij,j->i", x, v)), v).shape)
    (3,)
    >>> gc.einsum("ij,j->i", np.arange(6.0).reshape(2, 3), np.ones(3))
    array([ 3., 12.])
    """,
    numpydoc(
        "Sums of products of the operands' entries named by `subscripts` (numpy's "
        "`np.einsum`; named axes only, no `...`).",
        (
            ("subscripts : str", "e.g. 'ij,jk->ik'."),
            ("*operands : Symbol, Tensor or array_like", "One per comma-separated term."),
        ),
        "Of the axes after `->`.",
    ),
)
document(
    __test__,
    "cross",
    """
    >>> import graphc as gc, numpy as np
    >>> gc.cross(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    array([0., 0., 1.])
    """,
    numpydoc(
        "The cross product of 3-vectors along the last axis (numpy's `np.cross`), broadcast "
        "over the other axes.",
        _PAIR,
        "Of the broadcast shape.",
    ),
)
