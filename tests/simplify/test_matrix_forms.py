"""The matrix-forms pass (`graphc.simplify.matrix`): each rule fires where it should, keeps
values, shape and dtype, never adds an operation, and leaves rank-unknown products alone.

Structure is checked with `_tree` (op names and var names only), independent of how `str()`
prints; the textbook table (tests/test_textbook.py) checks the printed forms.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphc as gc
from graphc.simplify import count_ops, matrix_forms, rewrite
from graphc.simplify.matrix import RULES


def _tree(s) -> str:
    if s.op == "var":
        return s.name
    if s.op == "const":
        return repr(
            s.attrs["value"].item() if hasattr(s.attrs["value"], "item") else s.attrs["value"]
        )
    attrs = "".join(
        f", {k}={v!r}" for k, v in sorted(s.attrs.items()) if v is not None and v is not False
    )
    return f"{s.op}({', '.join(_tree(x) for x in s.inputs)}{attrs})"


def V(name, shape, dtype=None):
    return gc.var(name, shape=shape, dtype=dtype)


A, B = V("A", (3, 3)), V("B", (3, 3))
M = V("M", (3, 4))
x, u, v = V("x", (3,)), V("u", (3,)), V("v", (3,))
r = V("r", (3,))
z, t = V("z", (2, 3)), V("t", (2, 3))
T3 = V("T", (2, 3, 4))

CASES = {
    # rule: [(expression, expected tree after the pass)]
    "vector_on_right": [
        (x @ M, "matmul(transpose(M), x)"),
        (x @ A.T, "matmul(A, x)"),
    ],
    "scalar_out_of_product": [
        ((2 * r) @ M, "multiply(2, matmul(transpose(M), r))"),
        ((r / 3) @ M, "divide(matmul(transpose(M), r), 3)"),
        (A @ (-x), "negative(matmul(A, x))"),
        (A @ (x * 0.5), "multiply(matmul(A, x), 0.5)"),
        ((2 * A) @ (2 * x), "multiply(2, multiply(2, matmul(A, x)))"),
    ],
    "collect_product": [
        (A @ x + B @ x, "matmul(add(A, B), x)"),
        (A @ u - A @ v, "matmul(A, subtract(u, v))"),
        (A @ x + x @ A, "matmul(add(A, transpose(A)), x)"),
    ],
    "transpose_of_transpose": [
        (A.T.T, "A"),
        (gc.transpose(gc.transpose(T3, (1, 0, 2)), (1, 0, 2)), "T"),
        (gc.transpose(gc.transpose(T3, (1, 2, 0)), (1, 2, 0)), "transpose(T, axes=(2, 0, 1))"),
    ],
    "transpose_of_product": [
        ((A.T @ B).T, "matmul(transpose(B), A)"),
        ((A.T @ B.T).T, "matmul(B, A)"),
    ],
    "softmax_from_exp": [
        (gc.exp(gc.log_softmax(z, axis=0)), "softmax(z, axis=0)"),
        (gc.exp(z - gc.logsumexp(z, axis=1, keepdims=True)), "softmax(z, axis=-1)"),
        (gc.exp(x - gc.logsumexp(x)), "softmax(x, axis=-1)"),
    ],
    "absorb_negation": [
        (
            z - gc.sum(-t, axis=1, keepdims=True) * t,
            "add(z, multiply(sum(t, axis=1, keepdims=True), t))",
        ),
        (A @ x + -u, "subtract(matmul(A, x), u)"),
        (-u + A @ x, "subtract(matmul(A, x), u)"),
        (-gc.sum(-x), "sum(x)"),
        (x - gc.sum(A @ (-u)), "add(x, sum(matmul(A, u)))"),
    ],
}
UNCHANGED = [
    (A @ B).T,  # one transpose either way: kept
    gc.exp(A - gc.logsumexp(A, axis=1)),  # no keepdims: not a softmax over rows
    x + -u,  # signs among elementwise operations are the sympy pass's
]


def _values(inputs, sym, rng):
    args = [rng.normal(size=w.shape).astype(w.dtype or np.float64) for w in inputs]
    return gc.compile(inputs, [sym], simplify=False)(*args)[0]


def _vars(sym):
    from graphc.ir import toposort

    return sorted(
        {n.name: n for n in toposort([sym]) if n.op == "var"}.values(), key=lambda n: n.name
    )


@pytest.mark.parametrize(
    "rule, expr, want", [(rule, e, w) for rule, rows in CASES.items() for e, w in rows]
)
def test_rule_fires_keeps_values_and_does_not_grow(rule, expr, want, rng):
    assert any(rule in (f.__name__ for f in fs) for fs in RULES.values())
    (new,) = matrix_forms([expr])
    assert _tree(new) == want
    assert new.shape == expr.shape and new.dtype == expr.dtype
    assert count_ops(new) <= count_ops(expr)
    assert matrix_forms([new])[0] is new  # a fixed point
    inputs = _vars(expr)
    np.testing.assert_allclose(
        _values(inputs, new, np.random.default_rng(1)),
        _values(inputs, expr, np.random.default_rng(1)),
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.parametrize("expr", UNCHANGED, ids=range(len(UNCHANGED)))
def test_rules_decline(expr):
    assert matrix_forms([expr])[0] is expr


def test_scaled_product_in_float32_stays_float32(rng):
    X32, r32 = V("X", (3, 4), np.float32), V("r", (3,), np.float32)
    (new,) = matrix_forms([(2 * r32) @ X32])
    assert _tree(new) == "multiply(2, matmul(transpose(X), r))"
    assert new.dtype == np.float32


def test_unknown_ranks_leave_products_alone():
    a, b, m = gc.var("a"), gc.var("b"), gc.var("m")
    expr = a @ m + b @ m
    assert matrix_forms([expr])[0] is expr


def test_shared_products_are_not_copied():
    """Collecting two products that other outputs also read would add an operation."""
    p, q = A @ x, B @ x
    outs = [p + q, p, q]
    assert matrix_forms(outs) == outs
    assert count_ops(matrix_forms([p + q, p])) <= count_ops([p + q, p])


def test_graph_without_products_is_returned_as_is():
    w = gc.var("w")
    outs = [gc.sin(w) * w + 1]
    assert matrix_forms(outs) is not None and matrix_forms(outs)[0] is outs[0]


def test_transpose_costs_nothing():
    assert count_ops(M.T @ x) == count_ops(x @ M) == 1


# --- local rewrites the textbook table needs (simplify/rewrites.py) ----------------------
r5 = V("r", (5,))
REWRITES = [
    (gc.sum(z, axis=(0,)), "sum(z, axis=0)"),
    (gc.max(z, axis=(1,), keepdims=True), "max(z, axis=1, keepdims=True)"),
    (2 * gc.sum(r5) / 5, "multiply(2, mean(r))"),
    ((gc.sum(r5) * 2) * gc.const(np.array(0.2)), "multiply(2, mean(r))"),
    (gc.sum(r5) * 0.2, "mean(r)"),
    (0.2 * (gc.sum(r5) * 3), "multiply(3, mean(r))"),
    # a float32 0.4 is 2/5 to float32's precision
    (
        gc.sum(V("r", (5,), np.float32)) * gc.const(np.array(0.4, np.float32)),
        "multiply(2, mean(r))",
    ),
    (gc.log(gc.softmax(z, axis=0)), "log_softmax(z, axis=0)"),
]
REWRITES_DECLINE = [
    gc.sum(r5) * 2,  # a whole factor: a sum is what it says
    gc.sum(r5) * 0.3,  # 1.5 entries' worth: not a whole multiple of the mean
    gc.sum(V("s", (None,))) * 0.2,  # the count is not known
]


@pytest.mark.parametrize("expr, want", REWRITES, ids=[w for _, w in REWRITES])
def test_rewrite_rules_for_the_table(expr, want):
    (new,) = rewrite([expr])
    assert _tree(new) == want
    assert new.shape == expr.shape and new.dtype == expr.dtype
    assert count_ops(new) <= count_ops(expr)
    inputs = _vars(expr)
    np.testing.assert_allclose(
        _values(inputs, new, np.random.default_rng(2)),
        _values(inputs, expr, np.random.default_rng(2)),
        rtol=1e-6 if new.dtype == np.float32 else 1e-12,
    )


@pytest.mark.parametrize("expr", REWRITES_DECLINE, ids=range(len(REWRITES_DECLINE)))
def test_rewrite_rules_decline(expr):
    assert "mean" not in _tree(rewrite([expr])[0])


# --- random linear-algebra clusters -------------------------------------------------------

PA, PB = V("A", (3, 3)), V("B", (3, 3))
PU, PV, PS = V("u", (3,)), V("v", (3,)), V("s", ())
P_INPUTS = [PA, PB, PS, PU, PV]


@st.composite
def _linear(draw, kind, depth=0):
    """A random expression of `kind` ("m": 3x3 matrix, "v": vector of 3) over A, B, u, v, s:
    products, sums, differences, signs, scalings and transposes."""
    leaves = {"m": [PA, PB], "v": [PU, PV]}[kind]
    if depth >= 3 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(leaves))
    sub = lambda k: draw(_linear(k, depth + 1))  # noqa: E731
    choice = draw(st.integers(0, 6))
    if choice == 0:
        return sub("m") @ sub(kind)  # M @ M, M @ v
    if choice == 1:
        return sub(kind) @ sub("m") if kind == "v" else sub("m").T
    if choice in (2, 3):
        a, b = sub(kind), sub(kind)
        return a + b if choice == 2 else a - b
    if choice == 4:
        return -sub(kind)
    if choice == 5:
        return PS * sub(kind)
    return sub(kind) / 2


@given(expr=_linear("v"), data=st.integers(0, 2**16))
def test_random_clusters_keep_values_and_size(expr, data):
    loss = gc.sum(expr * PU)
    grads = gc.grad(loss, P_INPUTS, simplify=False)
    raw = [expr, *grads]
    for outs in (matrix_forms(raw), gc.simplify.run(raw)):
        assert count_ops(outs) <= count_ops(raw)
        rng = np.random.default_rng(data)
        args = [rng.normal(size=p.shape) for p in P_INPUTS]
        want = gc.compile(P_INPUTS, raw, simplify=False)(*args)
        got = gc.compile(P_INPUTS, outs, simplify=False)(*args)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-9)
    once = matrix_forms(raw)
    assert matrix_forms(once) == once


def test_cross_entropy_through_log_of_softmax_is_finite_at_extreme_logits():
    """-sum(t*log(softmax(z))) is derived (and computed) as log_softmax: finite where
    softmax(z) underflows to 0 (the literal formula gives 0*log(0) = nan)."""
    zz, tt = gc.var("z"), gc.var("t")
    loss = -gc.sum(tt * gc.log(gc.softmax(zz, axis=-1)))
    args = {"z": np.array([[1000.0, 0.0, -1000.0]]), "t": np.array([[0.0, 0.0, 1.0]])}
    np.testing.assert_allclose(loss.eval(**args)[0], 2000.0)
    np.testing.assert_allclose(gc.grad(loss, zz).eval(**args)[0], [[1.0, 0.0, -1.0]])
