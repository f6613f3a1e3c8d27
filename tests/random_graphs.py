"""Random graphs for the property and differential tests: a hypothesis strategy drawing
expression trees over a few leaves (a matrix, a vector, a scalar, a weight matrix and integer
labels), the leaves' values, and `build`, which evaluates a tree with the `gc` functions (on
symbols, eager tensors or numpy arrays) or with another namespace of the same names (the
reference AD test's PyTorch adapter).

Leaves are domain-safe: ops defined only on part of the real line get a guard that maps any
real into their domain (log(1.5 + sin(e)), arcsin(0.8 tanh(e)), exp(sin(e)),
a / (1.5 + cos(e)), ...), so every composition is smooth almost everywhere and finite. Shapes
are tracked while drawing, so every tree is well formed with any declaration of the vars.

View ops (reversed slices, transposes, reshapes, broadcasts) are mixed in, since emitted code
reuses dead buffers in place and must never write into one that a live view shares.
"""

from __future__ import annotations

import operator

import numpy as np
from hypothesis import strategies as st

import graphc as gc
from graphc import testing

LEAVES = {"a": (2, 3), "b": (3,), "c": ()}
W_SHAPE = (3, 3)
LABELS_SHAPE = (2,)
ARG_NAMES = ("a", "b", "c", "w", "labels")

# Unary ops applied to any real, and guarded ones: the guard maps R into the op's domain.
UNARY = [
    "sin",
    "cos",
    "tanh",
    "arctan",
    "sigmoid",
    "negative",
    "square",
    "softplus",
    "relu",
    "abs",
]
GUARDS = {
    "exp": lambda ns, e: ns.sin(e),
    "expm1": lambda ns, e: ns.sin(e),
    "sinh": lambda ns, e: ns.sin(e),
    "cosh": lambda ns, e: ns.sin(e),
    "log": lambda ns, e: 1.5 + ns.sin(e),
    "sqrt": lambda ns, e: 1.5 + ns.sin(e),
    "log1p": lambda ns, e: 1.5 + ns.sin(e),
    "arcsin": lambda ns, e: 0.8 * ns.tanh(e),
    "arccos": lambda ns, e: 0.8 * ns.tanh(e),
    "tan": lambda ns, e: 0.8 * ns.tanh(e),
}
BINARY = ["add", "subtract", "multiply", "maximum", "minimum", "divide", "power"]
REDUCTIONS = ["sum", "mean", "max", "min", "logsumexp", "prod"]


# Ops that may return views of their input (which codegen must never overwrite in place),
# each keeping every shape broadcastable with every other one.
VIEWS = {
    "reverse_first": lambda ns, e, shape: _index(ns, e, np.s_[::-1]),
    "reverse_last": lambda ns, e, shape: _index(ns, e, np.s_[..., ::-1]),
    # not a view: a gather with repeated entries (integer-array indexing)
    "gather_first": lambda ns, e, shape: _index(ns, e, _repeats(shape[0])),
    "double_T": lambda ns, e, shape: _T(ns, _T(ns, e)),
    "reshape": lambda ns, e, shape: ns.reshape(e, shape),
    "expand": lambda ns, e, shape: ns.expand_dims(e, 0),
    "broadcast": lambda ns, e, shape: ns.broadcast_to(e, _broadcast(shape, (2, 3))),
}


def _repeats(n):
    """n indices into n entries, repeating some when n is even: [0, 2, 0, 2] for 4."""
    return np.array([2 * i % n for i in range(n)])


def _index(ns, e, index):
    """`e[index]`, through the namespace's own `getitem` when it has one."""
    return getattr(ns, "getitem", operator.getitem)(e, index)


def _T(ns, e):
    """`e.T`, through the namespace's own `T` when it has one."""
    return ns.T(e) if hasattr(ns, "T") else e.T


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
    kind = draw(
        st.sampled_from(
            [
                "unary",
                "guarded",
                "binary",
                "binary",
                "reduce",
                "softmax",
                "where",
                "matmul",
                "loss",
                "view",
            ]
        )
    )
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


def build(tree, env, ns=gc):
    """Evaluate `tree` on `env` with the functions of `ns`: `gc`'s (on symbols, eager tensors
    or numpy arrays) or another namespace with the same names and signatures."""
    kind = tree[0]
    if kind == "leaf":
        return env[tree[1]]
    if kind == "unary":
        return getattr(ns, tree[1])(build(tree[2], env, ns))
    if kind == "guarded":
        return getattr(ns, tree[1])(GUARDS[tree[1]](ns, build(tree[2], env, ns)))
    if kind == "binary":
        op, left, right = tree[1], build(tree[2], env, ns), build(tree[3], env, ns)
        if op == "divide":
            return left / (1.5 + ns.cos(right))
        if op == "power":
            return ns.power(1.5 + ns.sin(left), ns.sin(right))
        return getattr(ns, op)(left, right)
    if kind == "reduce":
        op, mode, shape = tree[1], tree[2], tree[3]
        return getattr(ns, op)(build(tree[4], env, ns), **_reduce_attrs(mode, shape))
    if kind == "axis_op":
        return getattr(ns, tree[1])(build(tree[2], env, ns))
    if kind == "where":
        left, right = build(tree[1], env, ns), build(tree[2], env, ns)
        return ns.where(left > right, left * right, ns.sin(right))
    if kind == "view":
        return VIEWS[tree[1]](ns, build(tree[3], env, ns), tree[2])
    if kind == "matmul":
        return ns.tanh(build(tree[1], env, ns) @ env["w"])
    if kind == "cross_entropy":
        return ns.cross_entropy(build(tree[1], env, ns), env["labels"])
    if kind == "mse_loss":
        return ns.mse_loss(build(tree[1], env, ns), build(tree[2], env, ns))
    raise AssertionError(f"unknown tree node {kind}")


def leaves(seed, edge=None):
    """The leaves' values: uniform in [-2, 2] (the weights in [-1, 1]), or with `edge` one of
    `testing.EDGE_KINDS` (zeros, ties, large magnitudes, a mix), labels in [0, 3) either way."""
    rng = np.random.default_rng(seed)
    if edge is None:
        values = {name: rng.uniform(-2.0, 2.0, size=shape) for name, shape in LEAVES.items()}
        values["w"] = rng.uniform(-1.0, 1.0, size=W_SHAPE)
    else:
        values = {
            name: testing.edge_sample(edge, shape, rng)
            for name, shape in {**LEAVES, "w": W_SHAPE}.items()
        }
    values["labels"] = rng.integers(0, 3, size=LABELS_SHAPE)
    return [values[n] for n in ARG_NAMES]


def function(tree, ns=gc):
    """`tree` as a function of the leaves, in `ARG_NAMES` order."""
    return lambda *args: build(tree, dict(zip(ARG_NAMES, args)), ns)
