"""The reference text of the ops that move, copy, join, split, sort or cast entries
(`ops.shape`, `ops.rearrange`, `ops.select`, `ops.take`, `ops.sequence`,
`ops.linalg_basic`, `ops.linalg_norm`): one `document` call per op, with an example of its
value on numpy data and, where it says something, its derivative (`ops.docs`)."""

from __future__ import annotations

from .docs import ARRAY, document, numpydoc

__test__: dict[str, str] = {}  # op name -> example: doctest runs them where they are written

_AXIS = (("axis : int", "The axis (negative counts from the end)."),)
_ARRAYS = (("arrays : sequence of Symbol, Tensor or array_like", ""),)
_OPTAXIS = (("axis : int or None", "None: over the flattened array."),)

# --- shapes ------------------------------------------------------------------------------
document(
    __test__,
    "reshape",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x", shape=(2, 3))
    >>> print(gc.reshape(x, (3, -1)), x.reshape(3, 2).shape)
    reshape(x, shape=(3, -1)) (3, 2)
    >>> gc.reshape(np.arange(4.0), (2, 2))
    array([[0., 1.],
           [2., 3.]])
    """,
    numpydoc(
        "`x`'s entries in a new shape, in C order (numpy's `np.reshape`; `x.reshape`).",
        ARRAY + (("shape : tuple of ints", "One entry may be -1 (inferred)."),),
        "Of shape `shape`; the gradient is reshaped back.",
    ),
)
document(
    __test__,
    "transpose",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x", shape=(2, 3))
    >>> print(gc.transpose(x), x.T.shape)
    x.T (3, 2)
    >>> gc.transpose(np.ones((2, 3, 4)), (1, 0, 2)).shape
    (3, 2, 4)
    """,
    numpydoc(
        "`x` with its axes permuted (numpy's `np.transpose`; `x.T`, `x.transpose()`).",
        ARRAY + (("axes : tuple of ints or None", "The new order; None reverses the axes."),),
        "A permuted view; the gradient is permuted back.",
    ),
)
document(
    __test__,
    "expand_dims",
    """
    >>> import graphc as gc, numpy as np
    >>> print(gc.expand_dims(gc.var("v", shape=(3,)), 0))
    expand_dims(v, axis=0)
    >>> gc.expand_dims(np.ones((2, 3)), (0, -1)).shape
    (1, 2, 3, 1)
    """,
    numpydoc(
        "`x` with size-1 axes inserted at `axis` (numpy's `np.expand_dims`).",
        ARRAY + (("axis : int or tuple of ints", "Positions in the result."),),
        "Of rank `x.ndim` plus the axes inserted.",
    ),
)
document(
    __test__,
    "squeeze",
    """
    >>> import graphc as gc, numpy as np
    >>> print(gc.var("y", shape=(1, 3)).squeeze(0))
    squeeze(y, axis=0)
    >>> gc.squeeze(np.ones((1, 3, 1))).shape
    (3,)
    """,
    numpydoc(
        "`x` without size-1 axes (numpy's `np.squeeze`).",
        ARRAY + (("axis : int, tuple of ints or None", "None: every size-1 axis."),),
        "Of rank `x.ndim` minus the axes removed.",
    ),
)
document(
    __test__,
    "ravel",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x", shape=(2, 3))
    >>> print(x.ravel(), x.flatten().shape)
    ravel(x) (6,)
    >>> gc.ravel(np.arange(4.0).reshape(2, 2))
    array([0., 1., 2., 3.])
    """,
    numpydoc(
        "The entries of `x` as a vector, in C order (numpy's `np.ravel`; `x.ravel()`, "
        "`x.flatten()`).",
        ARRAY,
        "Of shape `(x.size,)`.",
    ),
)
document(
    __test__,
    "broadcast_to",
    """
    >>> import graphc as gc, numpy as np
    >>> v = gc.var("v", shape=(3,))
    >>> print(gc.grad(gc.sum(gc.broadcast_to(v, (4, 3))), v))
    sum(broadcast_to(1.0, shape=(4, 3)), axis=0)
    >>> gc.broadcast_to(np.array([1.0, 2.0]), (2, 2))
    array([[1., 2.],
           [1., 2.]])
    """,
    numpydoc(
        "`x` repeated along new or size-1 axes to `shape` (numpy's `np.broadcast_to`).",
        ARRAY + (("shape : tuple of ints", "A shape `x` broadcasts to."),),
        "A read-only view of shape `shape`; its gradient sums over the repeated axes.",
    ),
)
document(
    __test__,
    "atleast_2d",
    """
    >>> import graphc as gc, numpy as np
    >>> gc.atleast_2d(np.array([1.0, 2.0]))
    array([[1., 2.]])
    >>> gc.atleast_2d(gc.var("s", shape=())).shape
    (1, 1)
    """,
    numpydoc(
        "`x` as at least a matrix (numpy's `np.atleast_2d`): a scalar as (1, 1), a vector "
        "of n as (1, n).",
        ARRAY,
        "Of rank at least 2.",
    ),
)
document(
    __test__,
    "moveaxis",
    """
    >>> import graphc as gc, numpy as np
    >>> gc.moveaxis(np.ones((2, 3, 4)), 0, -1).shape
    (3, 4, 2)
    """,
    numpydoc(
        "`x` with axis `source` moved to position `destination` (numpy's `np.moveaxis`).",
        ARRAY + (("source, destination : int or sequence of ints", ""),),
        "A permuted view.",
    ),
)
document(
    __test__,
    "swapaxes",
    """
    >>> import graphc as gc, numpy as np
    >>> print(gc.var("x", shape=(2, 3)).swapaxes(0, 1))
    swapaxes(x, axis1=0, axis2=1)
    >>> gc.swapaxes(np.ones((2, 3, 4)), 0, 2).shape
    (4, 3, 2)
    """,
    numpydoc(
        "`x` with two axes exchanged (numpy's `np.swapaxes`; `x.swapaxes`).",
        ARRAY + (("axis1, axis2 : int", ""),),
        "A permuted view.",
    ),
)

# --- rearranging and copying entries -----------------------------------------------------
document(
    __test__,
    "flip",
    """
    >>> import graphc as gc, numpy as np
    >>> gc.flip(np.array([1.0, 2.0, 3.0]))
    array([3., 2., 1.])
    >>> gc.flip(np.arange(4.0).reshape(2, 2), axis=1)
    array([[1., 0.],
           [3., 2.]])
    """,
    numpydoc(
        "`x` with the order of its entries reversed along `axis` (numpy's `np.flip`).",
        ARRAY + (("axis : int, tuple of ints or None", "None: along every axis."),),
        "Of the shape of `x`.",
    ),
)
document(
    __test__,
    "roll",
    """
    >>> import graphc as gc, numpy as np
    >>> gc.roll(np.array([1.0, 2.0, 3.0]), 1)
    array([3., 1., 2.])
    >>> v = gc.var("v", shape=(3,))
    >>> gc.grad(gc.sum(gc.roll(v, 1) * np.array([1.0, 0.0, 0.0])), v).eval(v=np.zeros(3))
    [array([0., 0., 1.])]
    """,
    numpydoc(
        "`x` with its entries shifted cyclically by `shift` (numpy's `np.roll`).",
        ARRAY + (("shift : int or tuple of ints", ""),) + _OPTAXIS,
        "Of the shape of `x`; the gradient is rolled back.",
    ),
)
document(
    __test__,
    "tile",
    """
    >>> import graphc as gc, numpy as np
    >>> gc.tile(np.array([1.0, 2.0]), 2)
    array([1., 2., 1., 2.])
    >>> gc.tile(np.array([1.0, 2.0]), (2, 1))
    array([[1., 2.],
           [1., 2.]])
    """,
    numpydoc(
        "`x` repeated as blocks (numpy's `np.tile`).",
        ARRAY + (("reps : int or tuple of ints", "The repetitions along each axis."),),
        "Each dim of `x` (padded with leading 1s) times its `reps`.",
    ),
)
document(
    __test__,
    "repeat",
    """
    >>> import graphc as gc, numpy as np
    >>> v = gc.var("v", shape=(3,))
    >>> print(v.repeat(2))
    repeat(v, repeats=2)
    >>> gc.grad(gc.sum(gc.repeat(v, 2)), v).eval(v=np.zeros(3))
    [array([2., 2., 2.])]
    >>> gc.repeat(np.array([1.0, 2.0]), 2)
    array([1., 1., 2., 2.])
    """,
    numpydoc(
        "Each entry of `x` `repeats` times in a row (numpy's `np.repeat`; `x.repeat`).",
        ARRAY + (("repeats : int", ""),) + _OPTAXIS,
        "Longer along `axis` by a factor `repeats`.",
    ),
)
document(
    __test__,
    "take",
    """
    >>> import graphc as gc, numpy as np
    >>> print(gc.var("x", shape=(2, 3)).take([0, 2], axis=1))
    take(x, const([0, 2]), axis=1)
    >>> gc.take(np.array([5.0, 6.0, 7.0]), [2, 0])
    array([7., 5.])
    >>> gc.take(np.arange(6.0).reshape(2, 3), [2, 0, 2], axis=1)
    array([[2., 0., 2.],
           [5., 3., 5.]])
    >>> x = gc.var("x", shape=(3, 4))
    >>> print(gc.grad(gc.sum(gc.take(x, [2, 0], axis=1)), x))
    zeros_like(x).at[:, [2, 0]].add(broadcast_to(1.0, shape=(3, 2)))
    """,
)

# --- joining and splitting ---------------------------------------------------------------
document(
    __test__,
    "concatenate",
    """
    >>> import graphc as gc, numpy as np
    >>> gc.concatenate([np.zeros(2), np.ones(1)])
    array([0., 0., 1.])
    >>> v = gc.var("v", shape=(2,))
    >>> gc.grad(gc.sum(gc.concatenate([v, v]) ** 2), v).eval(v=np.array([1.0, 2.0]))
    [array([4., 8.])]
    """,
    numpydoc(
        "The arrays joined along an existing axis (numpy's `np.concatenate`).",
        _ARRAYS + (("axis : int, default 0", ""),),
        "Each piece's gradient is its slice of the cotangent.",
    ),
)
document(
    __test__,
    "stack",
    """
    >>> import graphc as gc, numpy as np
    >>> print(gc.stack([gc.var("v", shape=(2,)), gc.var("w", shape=(2,))]))
    stack([v, w], axis=0)
    >>> gc.stack([np.zeros(2), np.ones(2)], axis=1)
    array([[0., 1.],
           [0., 1.]])
    """,
    numpydoc(
        "The arrays (of one shape) joined along a new axis (numpy's `np.stack`).",
        _ARRAYS + (("axis : int, default 0", "The new axis's position."),),
        "Of rank one more than the arrays'.",
    ),
)
document(
    __test__,
    "hstack",
    """
    >>> import graphc as gc, numpy as np
    >>> gc.hstack([np.zeros(2), np.ones(1)])
    array([0., 0., 1.])
    """,
    numpydoc(
        "The arrays joined column-wise (numpy's `np.hstack`): along axis 1, or 0 for vectors.",
        _ARRAYS,
        "The joined array.",
    ),
)
document(
    __test__,
    "vstack",
    """
    >>> import graphc as gc, numpy as np
    >>> gc.vstack([np.zeros(2), np.ones(2)])
    array([[0., 0.],
           [1., 1.]])
    """,
    numpydoc(
        "The arrays joined row-wise (numpy's `np.vstack`): vectors become rows.",
        _ARRAYS,
        "The joined array, at least 2-D.",
    ),
)
document(
    __test__,
    "split",
    """
    >>> import graphc as gc, numpy as np
    >>> gc.split(np.arange(4.0), 2)
    [array([0., 1.]), array([2., 3.])]
    >>> [p.shape for p in gc.split(gc.var("x", shape=(2, 3)), [1], axis=1)]
    [(2, 1), (2, 2)]
    """,
    numpydoc(
        "`x` cut into pieces along `axis` (numpy's `np.split`).",
        ARRAY
        + (
            ("indices_or_sections : int or sequence of ints", "n equal pieces, or the cuts."),
            ("axis : int, default 0", ""),
        ),
        "A list of the pieces.",
    ),
)

# --- order, ranges, differences ----------------------------------------------------------
document(
    __test__,
    "sort",
    """
    >>> import graphc as gc, numpy as np
    >>> gc.sort(np.array([3.0, 1.0, 2.0]))
    array([1., 2., 3.])
    >>> v = gc.var("v", shape=(3,))
    >>> smallest = gc.sum(gc.sort(v) * np.array([1.0, 0.0, 0.0]))
    >>> gc.grad(smallest, v).eval(v=np.array([3.0, 1.0, 2.0]))  # the smallest entry's
    [array([0., 1., 0.])]
    """,
    numpydoc(
        "The entries of `x` in increasing order along `axis` (numpy's `np.sort`).",
        ARRAY + (("axis : int or None, default -1", "None: the flattened array."),),
        "Sorted; the gradient goes back through the sorting permutation.",
    ),
)
document(
    __test__,
    "cumsum",
    """
    >>> import graphc as gc, numpy as np
    >>> v = gc.var("v", shape=(3,))
    >>> print(v.cumsum())
    cumsum(v)
    >>> gc.grad(gc.sum(gc.cumsum(v)), v).eval(v=np.zeros(3))  # entry i is in 3 - i partial sums
    [array([3., 2., 1.])]
    >>> gc.cumsum(np.array([1.0, 2.0, 3.0]))
    array([1., 3., 6.])
    """,
    numpydoc(
        "Running sums along `axis` (numpy's `np.cumsum`).",
        ARRAY + _OPTAXIS,
        "Of the shape of `x` (flattened when `axis` is None).",
    ),
)
document(
    __test__,
    "cumprod",
    """
    >>> import graphc as gc, numpy as np
    >>> v = gc.var("v", shape=(3,))
    >>> print(v.cumprod())
    cumprod(v)
    >>> gc.grad(gc.sum(gc.cumprod(v)), v).eval(v=np.array([2.0, 0.0, 3.0]))  # exact at 0
    [array([1., 8., 0.])]
    >>> gc.cumprod(np.array([1.0, 2.0, 3.0]))
    array([1., 2., 6.])
    """,
    numpydoc(
        "Running products along `axis` (numpy's `np.cumprod`).",
        ARRAY + _OPTAXIS,
        "Of the shape of `x`; derivatives exact where entries are zero (no division).",
    ),
)
document(
    __test__,
    "diff",
    """
    >>> import graphc as gc, numpy as np
    >>> gc.diff(np.array([1.0, 4.0, 9.0]))
    array([3., 5.])
    >>> v = gc.var("v", shape=(3,))
    >>> gc.grad(gc.sum(gc.diff(v)), v).eval(v=np.zeros(3))  # the sum telescopes to v[2] - v[0]
    [array([-1., -0.,  1.])]
    """,
    numpydoc(
        "The `n`-th differences along `axis` (numpy's `np.diff`).",
        ARRAY + (("n : int, default 1", ""), ("axis : int, default -1", "")),
        "Shorter by `n` along `axis`.",
    ),
)
document(
    __test__,
    "linspace",
    """
    >>> import graphc as gc, numpy as np
    >>> gc.linspace(0.0, 1.0, 5)
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    >>> a = gc.var("a")
    >>> gc.grad(gc.sum(gc.linspace(a, 1.0, 3)), a).eval(a=0.0)  # weights 1, 1/2, 0
    [array(1.5)]
    """,
    numpydoc(
        "`num` evenly spaced numbers from `start` to `stop` (numpy's `np.linspace`).",
        (
            ("start, stop : number, 0-d Symbol or Tensor", "Differentiable when symbolic."),
            ("num : int, default 50", ""),
            ("endpoint : bool, default True", "Whether `stop` is the last number."),
        ),
        "Of shape `(num,)`: a constant when `start` and `stop` are numbers.",
    ),
)

# --- dtypes and gradients ----------------------------------------------------------------
document(
    __test__,
    "astype",
    """
    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x", shape=(2,), dtype="float64")
    >>> x.astype("float32").dtype
    dtype('float32')
    >>> gc.grad(gc.sum(gc.astype(x, "float32")), x).dtype  # cast back to x's dtype
    dtype('float64')
    >>> gc.astype(np.array([1.7, -2.2]), "int64")
    array([ 1, -2])
    """,
    numpydoc(
        "`x` cast to `dtype` (numpy's `ndarray.astype`; `x.astype`).",
        ARRAY + (("dtype : str or numpy dtype", "A dtype of numbers or booleans."),),
        "Of `dtype`; the gradient is cast back to the input's dtype.",
    ),
)
document(
    __test__,
    "stop_gradient",
    """
    >>> import graphc as gc, numpy as np
    >>> v = gc.var("v", shape=(3,))
    >>> print(gc.grad(gc.sum(gc.stop_gradient(v) * v), v))
    stop_gradient(v)
    >>> print(v.detach())
    stop_gradient(v)
    """,
    numpydoc(
        "`x` itself, with a derivative declared zero (JAX's `stop_gradient`, PyTorch's "
        "`detach()`; `x.detach()`).",
        ARRAY,
        "The values of `x`; no gradient flows back through it.",
    ),
)

# --- matrices ----------------------------------------------------------------------------
document(
    __test__,
    "diagonal",
    """
    >>> import graphc as gc, numpy as np
    >>> print(gc.var("x", shape=(2, 3)).diagonal())
    diagonal(x)
    >>> gc.diagonal(np.arange(6.0).reshape(2, 3), 1)
    array([1., 5.])
    """,
    numpydoc(
        "A diagonal of `x`, as its last axis (numpy's `np.diagonal`; `x.diagonal()`).",
        ARRAY
        + (
            ("offset : int, default 0", "Above the main diagonal if positive, below if not."),
            ("axis1, axis2 : int, default 0, 1", "The axes of the matrices."),
        ),
        "The diagonal; its gradient places the cotangent back on the diagonal.",
    ),
)
document(
    __test__,
    "trace",
    """
    >>> import graphc as gc, numpy as np
    >>> m = gc.var("m", shape=(2, 2))
    >>> print(gc.grad(gc.trace(m), m), m.trace())
    eye_like(m) trace(m)
    >>> gc.trace(np.arange(9.0).reshape(3, 3))
    np.float64(12.0)
    """,
    numpydoc(
        "The sum of a diagonal (numpy's `np.trace`; `x.trace()`): over the first two axes "
        "by default, `axis1=-2, axis2=-1` for a stack of matrices.",
        ARRAY
        + (
            ("offset : int, default 0", "The diagonal, as in `diagonal`."),
            ("axis1, axis2 : int, default 0, 1", "The axes of the matrices."),
        ),
        "The sums; the gradient of `trace(X)` is the identity.",
    ),
)
document(
    __test__,
    "norm",
    """
    >>> import graphc as gc, numpy as np
    >>> v = gc.var("v", shape=(3,))
    >>> print(gc.grad(gc.norm(v), v), v.norm())
    v/norm(v) norm(v)
    >>> gc.norm(np.array([3.0, 4.0]))
    np.float64(5.0)
    >>> gc.norm(np.array([[3.0, 0.0], [0.0, -4.0]]), ord="nuc")  # the sum of singular values
    np.float64(7.0)
    """,
    numpydoc(
        "A vector or matrix norm (numpy's `np.linalg.norm`; `x.norm()`).",
        ARRAY
        + (
            (
                "ord : {None, int, inf, -inf, 'fro', 'nuc'}, optional",
                "Vectors: `sum(abs(x)**ord)**(1/ord)` (None: 2; inf, -inf: the largest, "
                "smallest absolute entry; 0: the count of nonzero entries). Matrices: 'fro' "
                "(None), 'nuc', 2, -2, 1, -1, inf, -inf as numpy.",
            ),
            (
                "axis : int, pair of ints or None",
                "An int: vector norms along it; a pair: matrix norms; None: the 2-norm of "
                "all entries (or the matrix norm `ord` of a matrix).",
            ),
            ("keepdims : bool, default False", ""),
        ),
        "The norms. Gradients: `x / norm` for 2 and 'fro' (NaN at 0, as JAX), `U @ Vh` for 'nuc'.",
    ),
)
