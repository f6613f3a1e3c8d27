"""The textbook table (issue 13): derived gradients print as the Matrix Cookbook writes them.

Each row is checked twice with the same exact string: `gc.grad` with every var's shape
declared, and the executor's specialised gradient (`Executor.grad_exprs`) of the same loss
built from vars declared WITHOUT shapes and bound to data. Both gradients are also compared
by value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

import graphc as gc

SHAPES = {
    "A": (3, 3),
    "B": (3, 3),
    "X": (5, 3),
    "W": (3, 2),
    "x": (3,),
    "a": (3,),
    "b": (3,),
    "w": (3,),
    "y": (5,),
    "c": (),
    "lam": (),
    "z": (4, 6),
    "t": (4, 6),
    "labels": (4,),
    "h": (4, 3),
    "u": (2,),
}
INTEGER = {"labels"}


@dataclass
class Row:
    name: str
    loss: object  # V -> the loss, V(name) making a var
    wrt: str
    want: str
    shapes: dict = field(default_factory=dict)  # overrides of SHAPES for this row
    xfail: str = ""


def _tanh_layer(V):
    return gc.sum(gc.tanh(V("h") @ V("W") + V("u")))


def _mse(V):
    return gc.mean((V("X") @ V("w") + V("c") - V("y")) ** 2)


ROWS = [
    Row("x.T A x", lambda V: V("x") @ V("A") @ V("x"), "x", "(A + A.T) @ x"),
    Row("x.T x", lambda V: V("x") @ V("x"), "x", "2*x"),
    Row("a.T x", lambda V: V("a") @ V("x"), "x", "a"),
    Row(
        "||Xw - y||^2",
        lambda V: gc.sum((V("X") @ V("w") - V("y")) ** 2),
        "w",
        "2*(X.T @ (X @ w - y))",
    ),
    Row(
        "ridge",
        lambda V: gc.sum((V("X") @ V("w") - V("y")) ** 2) + V("lam") * (V("w") @ V("w")),
        "w",
        "2*(lam*w + X.T @ (X @ w - y))",
    ),
    Row("||Ax||^2", lambda V: gc.sum((V("A") @ V("x")) ** 2), "x", "2*(A.T @ (A @ x))"),
    Row("mean((Xw + c - y)^2) w.r.t. w", _mse, "w", "2*(X.T @ (c - y + X @ w))/5"),
    Row("mean((Xw + c - y)^2) w.r.t. c", _mse, "c", "2*mean(c - y + X @ w)"),
    Row(
        "a.T X b w.r.t. X",
        lambda V: V("a") @ V("X") @ V("b"),
        "X",
        "outer(a, b)",
        shapes={"a": (5,)},
    ),
    Row("x.T A x w.r.t. A", lambda V: V("x") @ V("A") @ V("x"), "A", "outer(x, x)"),
    Row(
        "trace(A X B) w.r.t. X",
        lambda V: gc.trace(V("A") @ V("X") @ V("B")),
        "X",
        "A.T @ B.T",
        shapes={"X": (3, 3)},
    ),
    Row(
        "log det X",
        lambda V: gc.log(gc.det(V("X"))),
        "X",
        "inv(X).T",
        shapes={"X": (3, 3)},
    ),
    Row(
        "softmax cross-entropy, by hand",
        lambda V: -gc.sum(V("t") * gc.log_softmax(V("z"), axis=-1)),
        "z",
        "softmax(z, axis=-1)*sum(t, axis=-1, keepdims=True) - t",
    ),
    Row(
        "softmax cross-entropy, log of softmax",
        lambda V: -gc.sum(V("t") * gc.log(gc.softmax(V("z"), axis=-1))),
        "z",
        "softmax(z, axis=-1)*sum(t, axis=-1, keepdims=True) - t",
    ),
    Row(
        "gc.cross_entropy",
        lambda V: gc.cross_entropy(V("z"), V("labels")),
        "z",
        "(softmax(z, axis=-1) - one_hot(labels, z))/4",
    ),
    Row("logsumexp", lambda V: gc.logsumexp(V("x")), "x", "softmax(x, axis=-1)"),
    Row(
        "log(sum(exp(x))), by hand",
        lambda V: gc.log(gc.sum(gc.exp(V("x")))),
        "x",
        "softmax(x, axis=-1)",
    ),
    Row("sigmoid", lambda V: gc.sum(gc.sigmoid(V("x"))), "x", "(1 - sigmoid(x))*sigmoid(x)"),
    Row("softplus", lambda V: gc.sum(gc.softplus(V("x"))), "x", "sigmoid(x)"),
    Row(
        "logistic regression",
        lambda V: gc.sum(gc.softplus(V("X") @ V("w")) - V("y") * (V("X") @ V("w"))),
        "w",
        "X.T @ (sigmoid(X @ w) - y)",
    ),
    Row("tanh layer w.r.t. W", _tanh_layer, "W", "h.T @ (1 - tanh(u + h @ W)**2)"),
    Row("tanh layer w.r.t. b", _tanh_layer, "u", "sum(1 - tanh(u + h @ W)**2, axis=0)"),
]


def _marks(row):
    return [pytest.mark.xfail(strict=True, reason=row.xfail)] if row.xfail else []


PARAMS = [pytest.param(row, id=row.name, marks=_marks(row)) for row in ROWS]


def _shape(row, name):
    return row.shapes.get(name, SHAPES[name])


def _var(row, declared):
    def V(name):
        dtype = np.int64 if name in INTEGER else None
        return gc.var(name, shape=_shape(row, name) if declared else None, dtype=dtype)

    return V


def _data(row, names):
    rng = np.random.default_rng(7)
    return {
        n: rng.integers(0, 6, _shape(row, n)) if n in INTEGER else rng.normal(size=_shape(row, n))
        for n in names
    }


def test_the_table_has_at_least_15_rows_that_run():
    assert len([r for r in ROWS if not r.xfail]) >= 15


@pytest.mark.parametrize("row", PARAMS)
def test_declared_shapes(row):
    loss = row.loss(_var(row, declared=True))
    assert str(gc.grad(loss, row.wrt)) == row.want


@pytest.mark.parametrize("row", PARAMS)
def test_bound_without_shapes(row):
    loss = row.loss(_var(row, declared=False))
    names = loss.list_arguments()
    args = _data(row, names)
    exe = loss.bind(args, grad_req={n: "write" if n == row.wrt else "null" for n in names})
    g = exe.grad_exprs()[row.wrt]
    assert str(g) == row.want
    # the same values as the declared-shape gradient, and as what backward writes
    exe.forward(is_train=True)
    exe.backward()
    declared = row.loss(_var(row, declared=True))
    want = gc.grad(declared, row.wrt).eval(**args)[0]
    np.testing.assert_allclose(exe.grad_dict[row.wrt], want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        g.eval(**{n: args[n] for n in g.list_arguments()})[0], want, rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("row", PARAMS)
def test_simple_bind_without_shapes(row):
    """`simple_bind` (zero arrays of given shapes, every floating argument differentiated)
    prints the same forms."""
    loss = row.loss(_var(row, declared=False))
    shapes = {n: _shape(row, n) for n in loss.list_arguments()}
    assert str(loss.simple_bind(**shapes).grad_exprs()[row.wrt]) == row.want
