"""Recipes of norm (graphc/ops/linalg_norm.py): vector norms on entries away from 0 (the
op's "nonzero" domain), matrix norms through the SVD on the "matrix" domain (distinct
singular values away from 0)."""

from __future__ import annotations

import numpy as np
from op_recipes import F, Recipe

INF = np.inf


def _singular_values(m):
    """Descending, from the eigenvalues of the Gram matrix (independent of numpy's SVD)."""
    mt = np.swapaxes(m, -1, -2)
    gram = mt @ m if m.shape[-2] >= m.shape[-1] else m @ mt
    return np.sqrt(np.abs(np.sort(np.linalg.eigvalsh(gram), axis=-1)[..., ::-1]))


def _vector(ax, ord, a):
    if ord in (None, 2):
        return np.sqrt(np.sum(ax * ax, axis=a, keepdims=True))
    if ord in (INF, -INF):
        return (np.max if ord > 0 else np.min)(ax, axis=a, keepdims=True)
    if ord == 0:
        return np.sum(ax != 0, axis=a, keepdims=True).astype(ax.dtype)
    return np.sum(ax**ord, axis=a, keepdims=True) ** (1.0 / ord)


def _matrix(x, ord, r, c):
    ax = np.abs(x)
    if ord in (None, "fro"):
        return np.sqrt(np.sum(ax * ax, axis=(r, c), keepdims=True))
    if ord in (1, -1, INF, -INF):
        inner, outer = (r, c) if ord in (1, -1) else (c, r)
        pick = np.max if ord > 0 else np.min
        return pick(np.sum(ax, axis=inner, keepdims=True), axis=outer, keepdims=True)
    s = _singular_values(np.moveaxis(x, (r, c), (-2, -1)))
    s = s.sum(-1) if ord == "nuc" else s[..., 0] if ord == 2 else s[..., -1]
    return np.expand_dims(s, (r, c))


def _norm_ref(x, ord=None, axis=None, keepdims=False):
    x = np.asarray(x, dtype=np.result_type(x, np.float32))
    if axis is None and ord is None:
        axes = tuple(range(x.ndim))
        out = np.sqrt(np.sum(x * x, keepdims=True))
    else:
        axes = tuple(range(x.ndim)) if axis is None else np.atleast_1d(axis).tolist()
        out = _vector(np.abs(x), ord, axes[0]) if len(axes) == 1 else _matrix(x, ord, *axes)
    return out if keepdims else np.squeeze(out, axis=tuple(axes))


def M(*shape):
    return F(*shape, domain="matrix")


LINALG_NORM_RECIPES = {
    "norm": Recipe(
        [
            (((3,),), {}),
            (((2, 3),), {}),
            (((),), {}),
            (((2, 3),), {"keepdims": True}),
            (((4,),), {"ord": 1}),
            (((4,),), {"ord": INF}),
            (((4,),), {"ord": -INF}),
            (((4,),), {"ord": 3}),
            (((4,),), {"ord": 0.5}),
            (((4,),), {"ord": -1}),
            (((4,),), {"ord": 0}),
            (((2, 3),), {"axis": 1}),
            (((2, 3),), {"ord": 1, "axis": 0, "keepdims": True}),
            (((2, 3, 2),), {"ord": INF, "axis": -2}),
            (((3, 3),), {"ord": "fro"}),
            (((3, 4),), {"ord": 1}),
            (((3, 4),), {"ord": -1}),
            (((4, 3),), {"ord": INF}),
            (((4, 3),), {"ord": -INF}),
            (((2, 3, 4),), {"ord": INF, "axis": (2, 1)}),
            (((2, 2, 3),), {"axis": (-2, -1), "keepdims": True}),
            ((M(2, 3),), {"ord": "nuc"}),
            ((M(3, 2),), {"ord": 2}),
            ((M(3, 3),), {"ord": -2}),
            ((M(2, 3, 3),), {"ord": "nuc", "axis": (1, 2)}),
            ((M(3, 2, 4),), {"ord": 2, "axis": (0, 2), "keepdims": True}),
        ],
        ref=_norm_ref,
        unshaped="ord without axis: the gradient needs x's rank (vector or matrix norm; "
        "GradError without it)",
    ),
}
