"""Recipes of qr (graphc/ops/linalg_qr.py): matrices from the "matrix" domain (full rank,
well conditioned), tall, square and wide, batched."""

from __future__ import annotations

from op_recipes import Recipe

_DIMS = "its derivative needs the last two dims (tall and wide take different rules; GradError)"

LINALG_QR_RECIPES = {
    "qr": Recipe(
        [
            (((3, 3),), {}),
            (((4, 3),), {}),
            (((2, 4),), {}),
            (((2, 3, 3),), {}),
            (((2, 4, 2),), {}),
            (((2, 2, 3),), {}),
            (((2, 3),), {"mode": "complete"}),
            (((4, 2),), {"mode": "r"}),
        ],
        generic=_DIMS,
        unshaped=_DIMS,
    ),
}
