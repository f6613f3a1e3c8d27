"""Hypothesis property tests on random compositions of ops.

Hypothesis draws an expression tree over a few leaves and a seed for the leaves' values
(`random_graphs`: domain-safe compositions with view ops mixed in).

Properties: the compiled program equals the plain numpy evaluation of the same `gc` calls
(with and without simplification, shapes declared or not), and gradients of all orders up to
two match finite differences through `graphc.testing.assert_grads`.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from random_graphs import ARG_NAMES, function, leaves, trees

import graphc as gc
from graphc import testing


@given(drawn=trees(), seed=st.integers(0, 2**16))
def test_compiled_equals_numpy(drawn, seed):
    tree, shape = drawn
    args = leaves(seed)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # guards keep it finite
        expected = np.asarray(function(tree)(*args))
    assert expected.shape == shape
    for declare in ("shape", "none"):
        xs = [
            gc.var(n, a.shape if declare == "shape" else None, a.dtype)
            for n, a in zip(ARG_NAMES, args)
        ]
        y = function(tree)(*xs)
        if declare == "shape":
            assert y.shape == shape and y.dtype == expected.dtype
        for simplify in (True, False):
            out = np.asarray(gc.compile(xs, y, simplify=simplify)(*args))
            assert out.shape == expected.shape and out.dtype == expected.dtype
            # Simplification may reassociate floating-point operations.
            np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


# Found by this test: an output that is a view (broadcast_to) of a buffer that codegen then
# overwrote in place.
VIEW_OF_REUSED_BUFFER = (
    (
        "where",
        ("leaf", "a"),
        (
            "mse_loss",
            ("reduce", "sum", "last", (3,), ("leaf", "b")),
            ("unary", "tanh", ("leaf", "c")),
        ),
    ),
    (2, 3),
)


@pytest.mark.slow  # about 20 s; its regression example also runs in the default loop, below
@given(drawn=trees(), seed=st.integers(0, 2**16))
@example(drawn=VIEW_OF_REUSED_BUFFER, seed=174)
def test_gradients_match_finite_differences(drawn, seed):
    _check_gradients(drawn, seed)


def test_gradients_of_a_view_of_a_reused_buffer():
    _check_gradients(VIEW_OF_REUSED_BUFFER, 174)


def _check_gradients(drawn, seed):
    tree, _ = drawn
    fn, args, rng = function(tree), leaves(seed), np.random.default_rng(seed)
    # Second order on the rules as written ("generic": no simplification, shapes unknown
    # until bound) and on the tape; first order through the full simplification pipeline,
    # whose sympy pass is too slow to run on every second-order graph within the budget.
    engines = tuple(e for e in testing.default_engines() if e != "compiled") + ("generic",)
    testing.assert_grads(fn, args, order=2, engines=engines, rng=rng)
    testing.assert_grads(fn, args, order=1, engines=("compiled",), rng=rng)


def test_outputs_that_view_a_buffer_keep_it():
    """A view returned as an output (broadcast_to of a temporary) keeps its buffer from
    being reused in place by a later operation."""
    x = gc.var("x", (None,))
    t = x * 2.0
    f = gc.compile([x], [gc.broadcast_to(t, (3,)), gc.sum(-t)], simplify=False)
    view, total = f(np.ones(1))
    np.testing.assert_array_equal(view, [2.0, 2.0, 2.0])
    assert total == -2.0


@given(
    drawn=trees(),
    seed=st.integers(0, 2**16),
    edge=st.sampled_from((None, *testing.EDGE_KINDS)),
    dtype=st.sampled_from((np.float64, np.float32)),
)
def test_a_loss_compiled_with_its_gradients_equals_the_rules_as_written(drawn, seed, edge, dtype):
    """`gc.compile([loss, *grads])`, where the loss's graph merges into the simplified copy
    `gc.grad` made of it (`simplify.merge_into_normal`) and the rule passes ask their rules
    only where their triggers hold: the same values as the unsimplified program and as
    eager mode's tape, shapes declared or not, float64 and float32, at edge points too."""
    from graphc import eager

    tree, _ = drawn
    args = [a.astype(dtype) if a.dtype.kind == "f" else a for a in leaves(seed, edge)]
    diff = [i for i, a in enumerate(args) if a.dtype.kind == "f"]
    rtol, atol = (1e-9, 1e-9) if dtype == np.float64 else (2e-3, 2e-3)
    tensors = [eager.tensor(a, requires_grad=i in diff) for i, a in enumerate(args)]
    y = function(tree)(*tensors)
    loss = eager.sum(y * y)
    want = [loss.numpy(), *(g.numpy() for g in eager.grad(loss, [tensors[i] for i in diff]))]
    if not all(np.all(np.isfinite(w)) for w in want):
        return  # (an edge point outside a function's domain: numpy's inf/nan, not compared)
    for declare in ("shape", "none"):
        xs = [
            gc.var(n, a.shape if declare == "shape" else None, a.dtype)
            for n, a in zip(ARG_NAMES, args)
        ]
        loss_sym = gc.sum(function(tree)(*xs) ** 2)
        for simplify in (True, False):
            grads = gc.grad(loss_sym, [xs[i] for i in diff], simplify=simplify)
            got = gc.compile(xs, [loss_sym, *grads], simplify=simplify)(*args)
            for g, w in zip(got, want):
                assert np.asarray(g).dtype == w.dtype
                scale = max(1.0, float(np.max(np.abs(w), initial=0.0)))
                np.testing.assert_allclose(g, w, rtol=rtol, atol=atol * scale)
