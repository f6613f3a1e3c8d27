"""Recipes of the decompositions (graphc/ops/linalg_decomp.py): matrices from the "matrix"
domain, whose lower triangles are symmetric positive definite with distinct eigenvalues."""

from __future__ import annotations

import numpy as np
from op_recipes import Recipe


def _cholesky_ref(x):
    """Cholesky-Banachiewicz on the lower triangle, entry by entry."""
    x = np.asarray(x)
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape[:-2]):
        a, lo = x[idx], out[idx]
        for i in range(a.shape[0]):
            for j in range(i + 1):
                s = a[i, j] - lo[i, :j] @ lo[j, :j]
                lo[i, j] = np.sqrt(s) if i == j else s / lo[j, j]
    return out


SQUARE = [(((3, 3),), {}), (((1, 1),), {}), (((2, 3, 3),), {})]

LINALG_DECOMP_RECIPES = {
    "cholesky": Recipe(SQUARE, ref=_cholesky_ref),
    "eigh": Recipe(SQUARE),
}
