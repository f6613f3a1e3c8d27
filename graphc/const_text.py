"""Array constants as printed text: small ones in full, large ones by a digest.

Kept apart from the sympy printer so that the parser and the let-form planner, which need
these facts, do not import sympy.
"""

from __future__ import annotations

import hashlib

import numpy as np

CONST_ELEMENTS = 100  # a larger array constant gets its own line in a printout (letform)
PRINTED_ELEMENTS = 1000  # numpy's threshold: a larger one prints elided, with a digest


def const_text(value) -> str:
    """An array constant as gc text: `broadcast_to(1.0, shape=(2, 3))` when its entries are
    equal, `const([[1.0, 2.0]])` up to PRINTED_ELEMENTS entries (both parse back; floats as
    Python prints them, which reads back exactly), else `const(shape=..., dtype=...,
    digest=...)`, which names the constant (the digest of its bytes) but elides its entries:
    the parser refuses it with an error saying so.

    >>> const_text(np.array([1.5, 2.0]))
    'const([1.5, 2.0])'
    >>> const_text(np.arange(2000.0))[:45]
    "const(shape=(2000,), dtype='float64', digest="
    """
    arr = np.asarray(value)
    if _uniform(arr):
        first = arr.flat[0].item()
        text = f"broadcast_to({first!r}, shape={arr.shape!r})"
        default = np.asarray(first).dtype
    elif arr.size <= PRINTED_ELEMENTS and arr.dtype.kind in "biuf":
        text, default = f"const({arr.tolist()!r})", np.asarray(arr.tolist()).dtype
    else:
        digest = hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()[:12]
        return f"const(shape={arr.shape!r}, dtype={arr.dtype.name!r}, digest={digest!r})"
    return text if arr.dtype == default else f"astype({text}, dtype={arr.dtype.name!r})"


def hoisted_const(node) -> bool:
    """Does a printout give the constant `node` a line of its own (an array of more than
    CONST_ELEMENTS entries, not all equal), so that the expression stays readable?"""
    if node.opdef.name != "const" or "name" in node.attrs:
        return False
    arr = np.asarray(node.attrs["value"])
    return arr.size > CONST_ELEMENTS and not _uniform(arr)


def _uniform(arr) -> bool:
    """Are the entries of the number array `arr` all equal (it prints as a broadcast)?"""
    return bool(arr.size) and arr.dtype.kind in "biuf" and bool((arr == arr.flat[0]).all())
