"""Rules for identity matrices and transposes (`identity` pass, in `PIPELINE`).

A Jacobian is a derivative pushed through a basis of one-hot vectors, the identity matrix
(`gc.jacobian`), so its graph holds products with the identity that a reader would not
write: `I @ A` is `A`, `I * s` (a vector along the rows) is `diag(s)`, a row sum of `diag(s)`
is `s` as a column, `s * (I - Q)` is `diag(s) - s * Q`, a column `u` times a row `v` is
`outer(u, v)`. Forward mode transposes its result: `x.T.T` is `x`, and a symmetric sum
`(P + P.T).T` is itself. Each rule is exact (no rounding changes).
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..ir import Symbol
from ..ops.base import OPS
from .framework import RuleSet, rule_pass
from .noops import transpose_of_transpose
from .passes import const_value


def is_identity(x: Symbol) -> bool:
    """A constant identity matrix, `eye(n)` or a square `eye_like(x)`.

    >>> import graphc as gc, numpy as np
    >>> is_identity(gc.const(np.eye(3))), is_identity(gc.const(np.ones((3, 3))))
    (True, False)
    >>> is_identity(gc.eye_like(gc.var("X", shape=(3, 3))))
    True
    """
    if x.op in ("eye", "eye_like"):
        # Square (both dims known and equal) with ones on the main diagonal (k = 0 or None).
        return (
            not x.attrs.get("k") and x.shape is not None and x.shape[0] == x.shape[1] is not None
        )
    if x.op != "const":
        return False
    value = const_value(x)
    if not isinstance(value, np.ndarray) or value.ndim != 2 or value.shape[0] != value.shape[1]:
        return False
    # Ones on the diagonal and nothing else (no n x n identity is built to compare with).
    return bool(np.all(np.diagonal(value) == 1) and np.count_nonzero(value) == len(value))


def identity_product(node: Symbol, inputs: tuple):
    """`I @ A` -> A and `A @ I` -> A (the product's shape is A's)."""
    a, b = inputs
    for eye, other in ((a, b), (b, a)):
        if is_identity(eye) and other.shape == node.shape:
            return other
    return None


def diag_of_identity(node: Symbol, inputs: tuple):
    """`I * s` -> diag(s), for a vector s along the identity's rows (when `gc.diag` exists)."""
    diag = OPS.get("diag")
    a, b = inputs
    for eye, s in ((a, b), (b, a)):
        if diag is not None and is_identity(eye) and s.shape is not None and len(s.shape) == 1:
            if s.shape[0] == eye.shape[0]:
                return diag(s)
    return None


def column_of_diag(node: Symbol, inputs: tuple):
    """`sum(diag(s), axis=1, keepdims=True)` -> s as a column (axis 0: as a row); without
    keepdims, s."""
    (d,) = inputs
    axis = node.attrs["axis"]
    if d.op != "diag" or d.attrs.get("k") or axis not in (0, 1, -1, -2):
        return None
    (s,) = d.inputs
    if s.shape is None or len(s.shape) != 1:
        return None
    if not node.attrs["keepdims"]:
        return s
    return ops.expand_dims(s, 1 if axis in (1, -1) else 0)


def distribute_over_identity(node: Symbol, inputs: tuple):
    """`s * (I - Q)` -> `s*I - s*Q` (and `I + Q`, either order): `s*I` becomes `diag(s)`."""
    if "diag" not in OPS:
        return None
    for s, diff in (inputs, inputs[::-1]):
        if diff.op in ("add", "subtract") and is_identity(diff.inputs[0]):
            size = diff.inputs[0].shape[0]
            if s.shape != (size,) or diff.shape != node.shape:
                return None
            scaled = ops.multiply(s, diff.inputs[1])
            outer = outer_of_column_and_row(scaled, scaled.inputs)
            return diff.opdef(OPS["diag"](s), scaled if outer is None else outer)
    return None


def outer_of_column_and_row(node: Symbol, inputs: tuple):
    """`expand_dims(u, 1) * v` -> outer(u, v), for vectors u and v."""
    for col, row in (inputs, inputs[::-1]):
        if (
            col.op == "expand_dims"
            and col.attrs["axis"] in (1, -1)
            and col.inputs[0].shape is not None
            and len(col.inputs[0].shape) == 1
            and row.shape is not None
            and len(row.shape) == 1
        ):
            return ops.outer(col.inputs[0], row)
    return None


def symmetric_sum(node: Symbol, inputs: tuple):
    """`(P + P.T).T` -> `P + P.T` (a matrix plus its transpose is symmetric)."""
    (s,) = inputs
    total = s
    while total.opdef.transparent:  # (a check, `checked_grad`, printed as its value)
        total = total.inputs[0]
    if total.op != "add" or node.attrs["axes"] is not None or s.shape != node.shape:
        return None
    a, b = total.inputs
    for p, t in ((a, b), (b, a)):
        if t.op == "transpose" and t.attrs["axes"] is None and t.inputs[0] is p:
            return s
    return None


IDENTITY_RULES = RuleSet(
    by_op={
        "matmul": (identity_product,),
        "multiply": (diag_of_identity, distribute_over_identity, outer_of_column_and_row),
        "sum": (column_of_diag,),
        "transpose": (transpose_of_transpose, symmetric_sum),
    }
)


def may_apply(node: Symbol, inputs: tuple) -> bool:
    """Can an `IDENTITY_RULES` rule apply to `node` on `inputs`: a product with an identity
    matrix (or with `I - Q`), a column `expand_dims` times a row, a sum of a `diag`, a
    transpose of a transpose or of a sum (maybe checked)?"""
    op = node.op
    if op == "transpose":
        inner = inputs[0]
        return inner.op in ("transpose", "add") or inner.opdef.transparent
    if op == "sum":
        return inputs[0].op == "diag"
    if op == "matmul":
        return any(map(is_identity, inputs))
    return op == "multiply" and any(
        x.op == "expand_dims"
        or is_identity(x)
        or (x.op in ("add", "subtract") and is_identity(x.inputs[0]))
        for x in inputs
    )


identity = rule_pass(
    "identity",
    IDENTITY_RULES,
    """Products with identity matrices and transposes in a reader's form: `I @ A` -> `A`,
    `I * s` -> `diag(s)`, `s * (I - Q)` -> `diag(s) - s*Q`, a column times a row -> `outer`,
    `x.T.T` -> `x`, `(P + P.T).T` -> `P + P.T` (`IDENTITY_RULES`). Preserves values.""",
    trigger=may_apply,
)
