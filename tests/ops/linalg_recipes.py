"""Recipes for the linear-algebra ops (`graphc/ops/linalg_*.py`), merged into
`op_recipes.RECIPES`: argument cases (batched too) and independent numpy references."""

from __future__ import annotations

import numpy as np
from op_recipes import Int, Recipe

# Exempt from the registry's generated tests; its recipe serves the printing and parsing ones.
EXEMPT = {
    "eye": "a creation function of integer sizes (no float input, no gradient), whose static "
    "shape needs the sizes' values: tests/ops/test_linalg_basic.py",
}


def _diag_embed_ref(v, like, offset=0, axis1=0, axis2=1):
    """Loops over the diagonal, independent of the runtime helper's fancy indexing."""
    out = np.zeros(np.shape(like), v.dtype)
    moved = np.moveaxis(out, (axis1, axis2), (-2, -1))
    for p in range(v.shape[-1]):
        i, j = (p, p + offset) if offset >= 0 else (p - offset, p)
        moved[..., i, j] = v[..., p]
    return out


def _eye_like_ref(x, k=0):
    n, m = x.shape[-2:] if x.ndim >= 2 else (x.shape[0], x.shape[0])
    return np.array([[1.0 if j - i == k else 0.0 for j in range(m)] for i in range(n)], x.dtype)


_TRACE = [
    (((3, 3),), {}),
    (((2, 3),), {"offset": 1}),
    (((2, 3, 4),), {"axis1": 1, "axis2": 2}),
    (((3, 4, 2),), {"offset": -1}),
    (((2, 2),), {"axis1": 1, "axis2": 0, "offset": 1}),
    (((2, 3, 3),), {"axis1": -1, "axis2": -2}),
]

LINALG_RECIPES = {
    "eye": Recipe([((Int((), 4),), {}), ((Int((), 3), Int((), 3)), {"k": 1})], ref=np.eye),
    "matrix_transpose": Recipe(
        [(((2, 3),), {}), (((2, 3, 4),), {}), (((1, 2, 2),), {})],
        ref=lambda x: np.swapaxes(x, -1, -2),
    ),
    "trace": Recipe(_TRACE, ref=np.trace),
    "diagonal": Recipe(_TRACE + [(((3, 2),), {"offset": -1})], ref=np.diagonal),
    "diag_embed": Recipe(
        [
            (((3,), (3, 3)), {}),
            (((2,), (2, 3)), {"offset": 1}),
            (((2, 2), (2, 3, 2)), {}),
            (((4, 3), (3, 4, 5)), {"axis1": -1, "axis2": 0}),
            (((2,), (3, 2)), {"offset": -1}),
        ],
        ref=_diag_embed_ref,
    ),
    "diag": Recipe(
        [
            (((3,),), {}),
            (((2,),), {"k": 1}),
            (((3, 3),), {}),
            (((2, 4),), {"k": -1}),
            (((3, 2),), {"k": 1}),
        ],
        ref=lambda v, k=0: np.diag(v, k),
    ),
    "diag_grad": Recipe(
        [
            (((3, 3), (3,)), {}),
            (((3, 3), (2,)), {"k": -1}),
            (((3,), (3, 3)), {}),
            (((2,), (2, 4)), {"k": 1}),
        ],
        ref=lambda g, v, k=0: np.diag(g, k) if v.ndim == 1 else _diag_embed_ref(g, v, k),
    ),
    "eye_like": Recipe(
        [(((3,),), {}), (((2, 3),), {}), (((2, 3, 3),), {"k": 1}), (((2, 4),), {"k": -1})],
        ref=_eye_like_ref,
    ),
    "triu": Recipe(
        [(((3, 3),), {}), (((2, 3, 4),), {"k": 1}), (((4, 2),), {"k": -1})], ref=np.triu
    ),
    "tril": Recipe(
        [(((3, 3),), {}), (((2, 3, 4),), {"k": 1}), (((4, 2),), {"k": -1})], ref=np.tril
    ),
}
