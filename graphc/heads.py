"""The head gradients `Executor.backward(out_grads)` is given, checked: one per output, an
array of the output's shape (None: 1 for a scalar output)."""

from __future__ import annotations

import math

import numpy as np

from .binding import is_float_dtype
from .dispatch import numeric_array
from .errors import GradError, HeadShapeError
from .ir import Symbol
from .ops.base import fmt_shape


def size_of(out: Symbol):
    """The number of entries of `out` when its shape is known, else None."""
    return None if out.shape is None or None in out.shape else math.prod(out.shape)


def check_head(h, out: Symbol, name: str, differentiated: bool):
    """The head for output `name` as an array of its shape and (floating) dtype; None (a
    scalar output, seeded with 1) stays None."""
    if h is None:
        if differentiated and size_of(out) != 1:
            raise GradError(
                f"backward: the output {name!r} has shape "
                f"{fmt_shape(out.shape)}, so out_grads must give its "
                "head gradient (an array of that shape): the result is "
                "the gradient of sum(output * out_grads)"
            )
        return None
    arr = numeric_array(h, f"backward: out_grads for {name!r}")
    if arr.shape != out.shape and not (arr.size == 1 and size_of(out) == 1):
        raise HeadShapeError(
            f"backward: out_grads for {name!r} must have the "
            f"output's shape {fmt_shape(out.shape)}, got {arr.shape}"
        )
    if out.dtype is not None and is_float_dtype(out.dtype):
        arr = arr.astype(out.dtype, copy=False).reshape(out.shape)
    return arr


def is_entry_list(out_grads, out: Symbol) -> bool:
    """For a single output, is `out_grads` a list holding its one head (rather than the
    head itself written as a list of numbers)?"""
    first = out_grads[0]
    return (
        first is None
        or np.ndim(first) == len(out.shape or ())
        or (size_of(out) == 1 and np.size(first) == 1)
    )


def describe_heads(out_grads) -> str:
    """What `out_grads` is, for an error message: "a list of 3", "ndarray"."""
    if isinstance(out_grads, (list, tuple)):
        return f"a {type(out_grads).__name__} of {len(out_grads)}"
    return type(out_grads).__name__
