"""Recipes of the determinant and inverse ops (graphc/ops/linalg_inv.py): square matrices
from the "matrix" domain (diagonally dominant: well conditioned, positive determinant)."""

from __future__ import annotations

import numpy as np
from op_recipes import F, Recipe

REAL = (-2.0, 2.0)


def _solve_rule_ref(g, a, b, x, side):
    """solve's derivative rules written out (b a vector: each x is a column)."""
    vec = b.ndim == 1
    col = (lambda v: v[..., None]) if vec else (lambda v: v)
    uncol = (lambda v: v[..., 0]) if vec else (lambda v: v)
    if side == 2:
        return -uncol(np.linalg.inv(a) @ (g @ col(x)))
    gb = np.swapaxes(np.linalg.inv(a), -1, -2) @ col(g)
    if side == 1:
        out = uncol(gb)
        return out.reshape(-1, *b.shape).sum(0) if out.shape != b.shape else out
    ga = -(gb @ np.swapaxes(col(x), -1, -2))
    return ga.reshape(-1, *a.shape).sum(0) if ga.shape != a.shape else ga


def _det_ref(x):
    """The product of the eigenvalues (independent of numpy's LU-based det)."""
    return np.prod(np.linalg.eigvals(x), axis=-1).real


def _slogdet_ref(x):
    ev = np.linalg.eigvals(x)
    return np.sign(np.prod(ev, axis=-1).real), np.sum(np.log(np.abs(ev)), axis=-1)


SQUARE = [(((3, 3),), {}), (((1, 1),), {}), (((2, 3, 3),), {}), (((2, 1, 2, 2),), {})]

LINALG_INV_RECIPES = {
    "det": Recipe(SQUARE, ref=_det_ref),
    "slogdet": Recipe(SQUARE, ref=_slogdet_ref),
    "inv": Recipe(
        SQUARE, ref=lambda x: np.linalg.solve(x, np.broadcast_to(np.eye(x.shape[-1]), x.shape))
    ),
    "solve": Recipe(
        [
            (((3, 3), F(3, domain=REAL)), {}),
            (((3, 3), F(3, 2, domain=REAL)), {}),
            (((2, 3, 3), F(3, domain=REAL)), {}),
            (((2, 3, 3), F(2, 3, 2, domain=REAL)), {}),
            (((3, 3), F(2, 3, 1, domain=REAL)), {}),
        ],
        ref=lambda a, b: np.linalg.inv(a) @ b,
        # Second order with shapes undeclared reaches solve_rule, which needs the ranks (a
        # GradError); with ranks declared: test_linalg_inv.test_solve_second_order.
        order=1,
    ),
    "solve_rule": Recipe(
        [
            ((F(3, domain=REAL), (3, 3), F(3, domain=REAL), F(3, domain=REAL)), {"side": 0}),
            ((F(3, domain=REAL), (3, 3), F(3, domain=REAL), F(3, domain=REAL)), {"side": 1}),
            ((F(3, 3, domain=REAL), (3, 3), F(3, domain=REAL), F(3, domain=REAL)), {"side": 2}),
            (
                (F(2, 3, domain=REAL), (2, 3, 3), F(3, domain=REAL), F(2, 3, domain=REAL)),
                {"side": 0},
            ),
            (
                (F(2, 3, domain=REAL), (2, 3, 3), F(3, domain=REAL), F(2, 3, domain=REAL)),
                {"side": 1},
            ),
            (
                (F(3, 2, domain=REAL), (3, 3), F(3, 2, domain=REAL), F(3, 2, domain=REAL)),
                {"side": 0},
            ),
            (
                (F(3, 2, domain=REAL), (3, 3), F(3, 2, domain=REAL), F(3, 2, domain=REAL)),
                {"side": 1},
            ),
        ],
        ref=_solve_rule_ref,
        grads="solve's derivative while ranks are unknown: its own rules raise GradError by "
        "design (ranks needed); the first-order checks of solve with undeclared shapes cover it",
    ),
}
