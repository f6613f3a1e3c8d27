"""Helpers of the ops' `batch` rules (vmap): batch axes first, unbatched inputs broadcast."""

from __future__ import annotations

import numpy as np

from .base import OPS, normalize_axis


def batch_axis(axis, ndim: int):
    """An `axis` attr of an op on values of rank `ndim`, for the batched values (batch axis
    first): shifted by one; None (all axes) becomes every axis but the batch's."""
    if axis is None:
        return 1 if ndim == 1 else tuple(range(1, ndim + 1))
    axes = tuple(a + 1 for a in normalize_axis(axis, ndim, "batch"))
    return axes[0] if isinstance(axis, (int, np.integer)) else axes


def batched_all(xs, batched, size: int) -> list:
    """Every input batched: the unbatched ones broadcast along a new leading axis."""
    expand, broadcast = OPS["expand_dims"], OPS["broadcast_to"]
    return [
        x if b else broadcast(expand(x, 0), (size,) + tuple(x.shape)) for x, b in zip(xs, batched)
    ]


def batch_size(xs, batched) -> int:
    """The number of entries of a batch: the leading dim of a batched input."""
    return next(x.shape[0] for x, b in zip(xs, batched) if b)
