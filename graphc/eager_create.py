"""Making eager tensors: `tensor`, `from_numpy`, `arange`, `zeros`, `ones`, `randn`.

Arguments are checked before any array is made: a call that does not fit raises
`ArgumentError`, a dimension that is not an int `ArgumentError`, a negative or too large one
`ShapeError`, and a dtype that is not a numeric numpy dtype `DTypeError`.
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np

from .dispatch import checks_call, plain_array
from .eager_tensor import Tensor, as_data, wrap
from .errors import ArgumentError, DTypeError, ShapeError
from .ops.base import check_size, numeric_dtype


@checks_call
def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """A new tensor holding a copy of `data` (numpy's dtype unless `dtype` is given).

    >>> tensor([1., 2.], requires_grad=True)
    tensor([1., 2.], requires_grad=True)
    """
    t = wrap(as_data(data, dtype))
    if requires_grad:
        t.requires_grad_(True)
    return t


@checks_call
def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with `array`."""
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biufc":
        raise DTypeError(
            f"from_numpy: expected a numeric numpy array, got "
            f"{getattr(array, 'dtype', type(array).__name__)}"
        )
    return wrap(plain_array(array))  # a view of an np.matrix shares its memory


@checks_call
def arange(start, stop=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """`np.arange` as a tensor: `arange(4.0)` is `tensor([0., 1., 2., 3.])`.

    >>> arange(1, 2, 0.25)
    tensor([1.  , 1.25, 1.5 , 1.75])
    """
    for what, value in (("start", start), ("stop", stop), ("step", step)):
        if (value is not None or what != "stop") and not _real(value):
            raise ArgumentError(f"arange: {what} must be a finite real number, got {value!r}")
    if stop is None:  # arange(stop) and arange(stop, step=...) count from 0
        start, stop = 0, start
    if step == 0:
        raise ArgumentError("arange: step must not be zero")
    check_size((max(0, math.ceil((stop - start) / step)),), "arange")
    dtype = None if dtype is None else _dtype_arg("arange", dtype)
    data = np.arange(start, stop, step, dtype=dtype)
    return tensor(data, requires_grad=requires_grad)


@checks_call
def zeros(*shape, size=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """Zeros of the given shape (`zeros(2, 3)` or `zeros((2, 3))`), float64 by default.

    >>> zeros(2, 3).shape, zeros((2,), dtype=np.int32).dtype
    ((2, 3), dtype('int32'))
    """
    shape = _shape_arg("zeros", shape, size)
    return tensor(np.zeros(shape, dtype=_dtype_arg("zeros", dtype)), requires_grad)


@checks_call
def ones(*shape, size=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """Ones of the given shape, float64 by default."""
    shape = _shape_arg("ones", shape, size)
    return tensor(np.ones(shape, dtype=_dtype_arg("ones", dtype)), requires_grad)


_rng = np.random.default_rng()


@checks_call
def manual_seed(seed: int) -> None:
    """Seed the generator behind `randn`.

    >>> manual_seed(0); a = randn(2); manual_seed(0); bool((randn(2) == a).all())
    True
    """
    global _rng
    try:
        _rng = np.random.default_rng(seed)
    except (TypeError, ValueError):
        raise ArgumentError(
            f"manual_seed: the seed must be a non-negative int, got {seed!r}"
        ) from None


@checks_call
def randn(*shape, size=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples of the given shape (`randn(2, 3)` or `randn(size=())`)."""
    shape = _shape_arg("randn", shape, size)
    dtype = _dtype_arg("randn", dtype)
    if dtype.kind not in "fc":
        raise DTypeError(f"randn: samples are floating point, not of dtype {dtype}")
    data = _rng.standard_normal(shape)
    return tensor(data.astype(dtype, copy=False), requires_grad)


def _shape_arg(where: str, dims: tuple, size) -> tuple:
    """The shape given as dims (`zeros(2, 3)`), as one tuple (`zeros((2, 3))`) or as
    `size=`, checked: ints (not bools), none negative, not too many elements."""
    if size is not None:
        if dims:
            raise ArgumentError(f"{where}: give the shape as arguments or as size=, not both")
        dims = (size,)
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    shape = tuple(_dim(where, d) for d in dims)
    check_size(shape, where)
    return shape


def _dim(where: str, d) -> int:
    try:
        if isinstance(d, bool):
            raise TypeError
        n = operator.index(d)
    except TypeError:
        raise ArgumentError(f"{where}: a dimension must be an int, got {d!r}") from None
    if n < 0:
        raise ShapeError(f"{where}: negative dimension {n}")
    return n


def _real(x) -> bool:
    return isinstance(x, numbers.Integral) or isinstance(x, numbers.Real) and math.isfinite(x)


def _dtype_arg(where: str, dtype) -> np.dtype:
    """`dtype` as a numeric numpy dtype; None means float64."""
    return np.dtype(np.float64) if dtype is None else numeric_dtype(dtype, where)
