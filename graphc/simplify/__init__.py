"""Simplification: pure passes over graphs, run as an explicit pipeline.

`PIPELINE` is the default list, in order; `SPECIALIZE` runs before it once shapes are known
(inside `gc.compile`). Print, reorder or replace them; `simplify=False` switches them off.
"""

from __future__ import annotations

from ..ir import Symbol
from .passes import cse, fold_constants, specialize

PIPELINE = [fold_constants, cse]
SPECIALIZE = [specialize]


def run(outputs, passes=None):
    """Apply `passes` (default `PIPELINE`) in order to a list of output symbols."""
    outputs = list(outputs)
    for p in PIPELINE if passes is None else passes:
        outputs = p(outputs)
    return outputs


def simplify(sym):
    """Simplify a symbol (or a list of symbols); the result computes the same values."""
    if isinstance(sym, Symbol):
        return run([sym])[0]
    return run(sym)
