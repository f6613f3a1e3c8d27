"""Every op of the table states its cost (`OpDef.cost`, used by `gc.cost`) once shapes are
known: flops and bytes moved, never negative; only control flow says it is not modelled."""

from __future__ import annotations

import pytest
from op_recipes import PARAMS, call, find_node, make_args, make_vars

from graphc.ops.costs import static

CONTROL = ("cond", "while_loop", "fori_loop", "scan")


@pytest.mark.parametrize("name,case", PARAMS)
def test_every_op_has_a_cost(name, case, rng):
    arrays, attrs = make_args(name, case, rng)
    ys = call(name, *make_vars(arrays, "shape"), **attrs)
    node = find_node(ys[0] if isinstance(ys, (tuple, list)) else ys, name)
    if not all(static(x) for x in (node, *node.inputs)):
        pytest.skip("a data-dependent shape (a boolean mask): gc.cost says unknown")
    got = node.opdef.cost(node, *node.inputs, **node.attrs)
    if name in CONTROL:
        assert got is None
        return
    flops, nbytes = got
    assert type(flops) is int and type(nbytes) is int and flops >= 0 and nbytes >= 0
