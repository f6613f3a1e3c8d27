"""Recipes of svd (graphc/ops/linalg_svd.py): matrices from the "matrix" domain (distinct
singular values, well away from 0)."""

from __future__ import annotations

from op_recipes import Recipe

LINALG_SVD_RECIPES = {
    "svd": Recipe(
        [
            # Reduced factors: with full_matrices=True (numpy's default) the gradient needs a
            # square shape known when it is derived (test_linalg_svd covers that).
            (((3, 3),), {"full_matrices": False}),
            (((4, 3),), {"full_matrices": False}),
            (((2, 3),), {"full_matrices": False}),
            (((2, 3, 3),), {"full_matrices": False}),
            (((2, 4, 2),), {"full_matrices": False}),
        ]
    ),
}
