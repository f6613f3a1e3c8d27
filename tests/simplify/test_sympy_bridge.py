"""The sympy bridge: `to_sympy` follows the op table, `from_sympy` inverts it."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import graphc as gc
from graphc.ops import OPS
from graphc.simplify import from_sympy, to_sympy

X, W = sp.Symbol("x"), sp.Symbol("w")


def test_vars_become_plain_symbols():
    x = gc.var("x")
    assert to_sympy(x) == X
    assert gc.var("x").to_sympy() == X
    assert to_sympy(2 * x + 1) == 2 * X + 1


def test_elementwise_ops_map_through_their_sympy_field():
    x = gc.var("x")
    for name, op in OPS.items():
        if (
            not op.elementwise
            or op.sympy is None
            or op.nin != 1
            or name in ("relu", "sign", "abs")
        ):
            continue
        assert to_sympy(op(x)) == sp.sympify(op.sympy(X)), name


def test_floats_become_exact_readable_numbers():
    x = gc.var("x")
    assert str(to_sympy(x * 0.5)) == "x/2"
    assert str(to_sympy(x * 0.1)) == "x/10"
    assert str(to_sympy(x * (1 / 6))) == "x/6"
    assert str(to_sympy(x * 2.0)) == "2*x"


def test_other_ops_are_functions_with_numpy_names_and_attrs():
    x, w = gc.var("x"), gc.var("w")
    e = to_sympy(gc.dot(x, w))
    assert isinstance(e, sp.Function) and e.func.__name__ == "dot" and e.args == (X, W)
    s = to_sympy(gc.sum(x, axis=0))
    assert str(s) == "sum(x, axis=0)" and s.attrs == {"axis": 0, "keepdims": False}
    assert str(to_sympy(x[1:3])) == "x[1:3]"
    assert str(to_sympy(gc.transpose(x))) == "x.T"


def test_sigmoid_relu_softplus_are_differentiable_sympy_functions():
    x = gc.var("x")
    s = to_sympy(gc.sigmoid(x))
    assert str(s) == "sigmoid(x)"
    assert sp.simplify(sp.diff(s, X).rewrite(sp.exp) - sp.diff(1 / (1 + sp.exp(-X)), X)) == 0
    assert sp.diff(to_sympy(gc.softplus(x)), X) == to_sympy(gc.sigmoid(x))
    assert sp.diff(to_sympy(gc.relu(x)), X) == sp.Heaviside(X, 0)


@pytest.mark.parametrize(
    "expr, ops",
    [
        (sp.log(X + 1), {"log1p"}),
        (sp.exp(X) - 1, {"expm1"}),
        (sp.exp(X) - 1 + W, {"expm1", "add"}),
        (sp.sqrt(X), {"sqrt"}),
        (X**2, {"square"}),
        (1 / X, {"divide"}),
        (-X / 3, {"divide"}),
        (sp.Max(X, W, 0), {"maximum"}),
        (sp.log(X), {"log"}),
    ],
)
def test_from_sympy_inverts_the_table(expr, ops):
    x, w = gc.var("x"), gc.var("w")
    node = from_sympy(expr, {"x": x, "w": w})
    from graphc.ir import toposort

    assert {n.op for n in toposort([node]) if n.op not in ("var", "const")} == ops
    values = {"x": np.array([0.5, 2.0]), "w": np.array([1.5, -1.0])}
    got = gc.compile([x, w], node)(**values)
    want = sp.lambdify([X, W], expr, "numpy")(values["x"], values["w"])
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_round_trip_through_graph_functions():
    x, w = gc.var("x"), gc.var("w")
    y = gc.tanh(gc.sum(gc.dot(x, w) * 2, axis=0)) + x[0]
    back = from_sympy(to_sympy(y), {"x": x, "w": w})
    data = {"x": np.arange(6.0).reshape(2, 3) / 6, "w": np.ones((3, 3)) / 3}
    np.testing.assert_allclose(
        gc.compile([x, w], back)(**data), gc.compile([x, w], y)(**data), rtol=1e-14
    )


def test_from_sympy_names_what_it_cannot_convert():
    with pytest.raises(gc.GraphcError, match="no graphc symbol given for 'q'"):
        from_sympy(sp.Symbol("q") + 1, {})
    with pytest.raises(gc.GraphcError, match="no graphc operation"):
        from_sympy(sp.besselj(0, X), {"x": gc.var("x")})
