"""Recipes of indexing (graphc/ops/select.py: getitem and its gradient index_grad): basic
indices, constant integer arrays (repeated and negative entries), constant masks, and index
arrays that are inputs of the graph (integer data bound later, boolean masks). In an index
below, the string "i" stands for the next array argument after `x` (an `Int` or `Bool`)."""

from __future__ import annotations

import numpy as np
from op_recipes import Bool, F, Int, Recipe

ARG = "i"


def fill(index, arrays):
    """`index` with each "i" replaced by the next of `arrays`."""
    items = index if isinstance(index, tuple) else (index,)
    arrays = iter(arrays)
    out = tuple(next(arrays) if isinstance(i, str) and i == ARG else i for i in items)
    return out if isinstance(index, tuple) else out[0]


def _getitem(op, x, *arrays, index):
    return op(x, fill(index, arrays))


def _index_grad(op, g, like, *arrays, index):
    return op(g, like, index=fill(index, arrays))


def _index_grad_ref(g, like, *arrays, index):
    out = np.zeros(np.shape(like))
    np.add.at(out, fill(index, arrays), g)
    return out


MASK = np.array([True, False, True])

INDEX_RECIPES = {
    "getitem": Recipe(
        [
            (((4,),), {"index": 1}),
            (((3, 4),), {"index": (slice(1, 3), 0)}),
            (((3, 4),), {"index": (Ellipsis, None, slice(None, None, 2))}),
            (((2, 3),), {"index": -1}),
            (((3,),), {"index": slice(None, None, -1)}),
            # constant integer arrays: repeated and negative entries, pairs broadcasting,
            # ints next to arrays, advanced axes in place or first
            (((4,),), {"index": [0, 2, 0, -1]}),
            (((3, 4),), {"index": (slice(None), [3, -1, 3])}),
            (((3, 4),), {"index": ([[0], [2]], [1, 3, 1])}),
            (((2, 3, 4),), {"index": ([1, 0], slice(None), [2, 2])}),
            (((2, 3, 4),), {"index": (None, 1, [0, 2, 2])}),
            # constant masks become their True positions
            (((3, 4),), {"index": MASK}),
            (((2, 3),), {"index": (Ellipsis, MASK)}),
            # index arrays bound with the data
            ((F(4), Int((5,), 4)), {"index": ARG}),
            ((F(3, 4), Int((2, 3), 4)), {"index": (slice(1, None), ARG)}),
            ((F(3, 4), Int((3,), 3), Int((3,), 4)), {"index": (ARG, ARG)}),
            ((F(3, 4), Bool(3, 4)), {"index": ARG}),
            ((F(3, 4), Bool(3)), {"index": (ARG, slice(None, 2))}),
            ((F(2, 3, 4), Int((3,), 2), Int((3,), 4)), {"index": (ARG, slice(None), ARG)}),
        ],
        call=_getitem,
        ref=lambda x, *arrays, index: x[fill(index, arrays)],
        data_shape="an index by a mask of data has as many entries as the mask is True",
    ),
    "index_grad": Recipe(
        [
            (((), (4,)), {"index": (1,)}),
            (((2,), (3, 4)), {"index": (slice(1, 3), 0)}),
            (((2, 3), (2, 3)), {"index": ()}),
            (((5,), (4,)), {"index": [0, 2, 0, -1, 0]}),
            (((3, 2), (3, 4)), {"index": (slice(None), [1, 1])}),
            (((2, 4), (3, 4)), {"index": MASK}),
            ((F(2, 3), F(3, 4), Int((3,), 4)), {"index": (slice(1, 3), ARG)}),
            ((F(), F(4), Int((), 4)), {"index": ARG}),
        ],
        call=_index_grad,
        ref=_index_grad_ref,
    ),
    "take": Recipe(
        [
            ((F(3, 4), Int((2,), 4)), {"axis": 1}),  # first: test_op_facts parses it
            (((5,),), {"indices": [0, 3, 3, -1]}),
            (((2, 3),), {"indices": [[0, 5], [5, 5]]}),
            (((3, 4),), {"indices": [3, 0, 3], "axis": 1}),
            (((3, 4),), {"indices": [1, -3], "axis": -2}),
            (((3, 4),), {"indices": 2, "axis": 0}),
            ((F(2, 3, 2), Int((2, 2), 3)), {"axis": 1}),
        ],
        call=lambda op, x, *arrays, indices=None, axis=None: op(
            x, arrays[0] if arrays else indices, axis=axis
        ),
        ref=lambda x, *arrays, indices=None, axis=None: np.take(
            x, arrays[0] if arrays else indices, axis=axis
        ),
    ),
}
