"""Hypothesis property tests on random compositions of ops.

Hypothesis draws an expression tree over a few leaves (a matrix, a vector, a scalar, a weight
matrix and integer labels) and a seed for the leaves' values. Leaves are domain-safe: ops
defined only on part of the real line get a guard that maps any real into their domain
(log(1.5 + sin(e)), arcsin(0.8 tanh(e)), exp(sin(e)), a / (1.5 + cos(e)), ...), so every
composition is smooth almost everywhere and finite. Shapes are tracked while drawing, so
every tree is well formed with any declaration of the vars.

View ops (reversed slices, transposes, reshapes, broadcasts) are mixed in, since emitted code
reuses dead buffers in place and must never write into one that a live view shares.

Properties: the compiled program equals the plain numpy evaluation of the same `gc` calls
(with and without simplification, shapes declared or not), and gradients of all orders up to
two match finite differences through `graphc.testing.assert_grads`.
"""

from __future__ import annotations

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

import graphc as gc
from graphc import testing

LEAVES = {"a": (2, 3), "b": (3,), "c": ()}
W_SHAPE = (3, 3)
LABELS_SHAPE = (2,)
ARG_NAMES = ("a", "b", "c", "w", "labels")

# Unary ops applied to any real, and guarded ones: the guard maps R into the op's domain.
UNARY = ["sin", "cos", "tanh", "arctan", "sigmoid", "negative", "square", "softplus", "relu",
         "abs"]
GUARDS = {
    "exp": lambda e: gc.sin(e),
    "expm1": lambda e: gc.sin(e),
    "sinh": lambda e: gc.sin(e),
    "cosh": lambda e: gc.sin(e),
    "log": lambda e: 1.5 + gc.sin(e),
    "sqrt": lambda e: 1.5 + gc.sin(e),
    "log1p": lambda e: 1.5 + gc.sin(e),
    "arcsin": lambda e: 0.8 * gc.tanh(e),
    "arccos": lambda e: 0.8 * gc.tanh(e),
    "tan": lambda e: 0.8 * gc.tanh(e),
}
BINARY = ["add", "subtract", "multiply", "maximum", "minimum", "divide", "power"]
REDUCTIONS = ["sum", "mean", "max", "min", "logsumexp", "prod"]


# Ops that may return views of their input (which codegen must never overwrite in place),
# each keeping every shape broadcastable with every other one.
VIEWS = {
    "reverse_first": lambda e, shape: e[::-1],
    "reverse_last": lambda e, shape: e[..., ::-1],
    "double_T": lambda e, shape: e.T.T,
    "reshape": lambda e, shape: gc.reshape(e, shape),
    "expand": lambda e, shape: gc.expand_dims(e, 0),
    "broadcast": lambda e, shape: gc.broadcast_to(e, _broadcast(shape, (2, 3))),
}


def _viewed(how, shape):
    if how == "expand":
        return (1,) + shape
    if how == "broadcast":
        return _broadcast(shape, (2, 3))
    return shape


def _broadcast(*shapes):
    return tuple(np.broadcast_shapes(*shapes))


def _reduced(shape, mode):
    """Reductions that keep every shape broadcastable with every other one."""
    if mode == "all" or not shape:
        return ()
    if mode == "first":
        return shape[1:]
    return shape[:-1] + (1,)  # "last", keepdims


def _reduce_attrs(mode, shape):
    if mode == "all" or not shape:
        return {}
    return {"axis": 0} if mode == "first" else {"axis": -1, "keepdims": True}


@st.composite
def trees(draw, depth=3):
    """(tree, shape): a nested-tuple expression and its static shape."""
    if depth == 0 or draw(st.integers(0, 4)) == 0:
        name = draw(st.sampled_from(sorted(LEAVES)))
        return ("leaf", name), LEAVES[name]
    kind = draw(st.sampled_from(["unary", "guarded", "binary", "binary", "reduce", "softmax",
                                 "where", "matmul", "loss", "view"]))
    child, shape = draw(trees(depth=depth - 1))
    if kind == "unary":
        return ("unary", draw(st.sampled_from(UNARY)), child), shape
    if kind == "guarded":
        return ("guarded", draw(st.sampled_from(sorted(GUARDS))), child), shape
    if kind == "binary":
        other, oshape = draw(trees(depth=depth - 1))
        return ("binary", draw(st.sampled_from(BINARY)), child, other), _broadcast(shape, oshape)
    if kind == "reduce":
        mode = draw(st.sampled_from(["all", "first", "last"]))
        op = draw(st.sampled_from(REDUCTIONS))
        return ("reduce", op, mode, shape, child), _reduced(shape, mode)
    if kind == "softmax" and shape:
        return ("axis_op", draw(st.sampled_from(["softmax", "log_softmax"])), child), shape
    if kind == "where":
        other, oshape = draw(trees(depth=depth - 1))
        return ("where", child, other), _broadcast(shape, oshape)
    if kind == "view":
        how = draw(st.sampled_from(sorted(VIEWS) if shape else ["reshape", "broadcast"]))
        if how == "expand" and len(shape) > 2:
            how = "reshape"
        return ("view", how, shape, child), _viewed(how, shape)
    if kind == "matmul" and shape[-1:] == (3,):
        return ("matmul", child), shape
    if kind == "loss":
        if shape == (2, 3) and draw(st.booleans()):
            return ("cross_entropy", child), ()
        other, oshape = draw(trees(depth=depth - 1))
        _broadcast(shape, oshape)
        return ("mse_loss", child, other), ()
    return ("unary", "tanh", child), shape


def build(tree, env):
    """Evaluate `tree` with `gc` functions on `env` (symbols, or numpy arrays)."""
    kind = tree[0]
    if kind == "leaf":
        return env[tree[1]]
    if kind == "unary":
        return getattr(gc, tree[1])(build(tree[2], env))
    if kind == "guarded":
        return getattr(gc, tree[1])(GUARDS[tree[1]](build(tree[2], env)))
    if kind == "binary":
        op, left, right = tree[1], build(tree[2], env), build(tree[3], env)
        if op == "divide":
            return left / (1.5 + gc.cos(right))
        if op == "power":
            return gc.power(1.5 + gc.sin(left), gc.sin(right))
        return getattr(gc, op)(left, right)
    if kind == "reduce":
        op, mode, shape = tree[1], tree[2], tree[3]
        return getattr(gc, op)(build(tree[4], env), **_reduce_attrs(mode, shape))
    if kind == "axis_op":
        return getattr(gc, tree[1])(build(tree[2], env))
    if kind == "where":
        left, right = build(tree[1], env), build(tree[2], env)
        return gc.where(left > right, left * right, gc.sin(right))
    if kind == "view":
        return VIEWS[tree[1]](build(tree[3], env), tree[2])
    if kind == "matmul":
        return gc.tanh(build(tree[1], env) @ env["w"])
    if kind == "cross_entropy":
        return gc.cross_entropy(build(tree[1], env), env["labels"])
    if kind == "mse_loss":
        return gc.mse_loss(build(tree[1], env), build(tree[2], env))
    raise AssertionError(f"unknown tree node {kind}")


def leaves(seed):
    rng = np.random.default_rng(seed)
    values = {name: rng.uniform(-2.0, 2.0, size=shape) for name, shape in LEAVES.items()}
    values["w"] = rng.uniform(-1.0, 1.0, size=W_SHAPE)
    values["labels"] = rng.integers(0, 3, size=LABELS_SHAPE)
    return [values[n] for n in ARG_NAMES]


def function(tree):
    return lambda *args: build(tree, dict(zip(ARG_NAMES, args)))


@given(drawn=trees(), seed=st.integers(0, 2 ** 16))
def test_compiled_equals_numpy(drawn, seed):
    tree, shape = drawn
    args = leaves(seed)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # guards keep it finite
        expected = np.asarray(function(tree)(*args))
    assert expected.shape == shape
    for declare in ("shape", "none"):
        xs = [gc.var(n, a.shape if declare == "shape" else None, a.dtype)
              for n, a in zip(ARG_NAMES, args)]
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
VIEW_OF_REUSED_BUFFER = (("where", ("leaf", "a"),
                          ("mse_loss", ("reduce", "sum", "last", (3,), ("leaf", "b")),
                           ("unary", "tanh", ("leaf", "c")))), (2, 3))


@given(drawn=trees(), seed=st.integers(0, 2 ** 16))
@example(drawn=VIEW_OF_REUSED_BUFFER, seed=174)
def test_gradients_match_finite_differences(drawn, seed):
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
