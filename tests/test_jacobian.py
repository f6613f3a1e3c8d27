"""`gc.jacobian` and `gc.hessian`: one batched VJP (or JVP) over an identity basis, with
shapes declared or known only once data is bound.

- textbook results as exact strings (issue 13's table rows for Jacobians and Hessians), with
  declared shapes and through bind with undeclared ones;
- the emitted program does not grow with the number of outputs;
- values against the unrolled definition (one `gc.grad` per row) for every op of the table
  (the recipes of tests/ops/op_recipes.py), both modes, shapes declared or not, and the
  Hessian against the rows of the gradient's gradient.
"""

from __future__ import annotations

import numpy as np
import pytest
from op_recipes import RECIPES, call, make_args, make_vars

import graphc as gc
from graphc.function import optimize, specialize_graph
from graphc.ops import OPS
from graphc.ops.base import OpDef, register, unregister


def _bound(inputs, output, *arrays):
    """`output` as specialised for these arrays and simplified, as compile and bind do."""
    new_vars, outs = specialize_graph(inputs, [output], list(arrays))
    return optimize(outs, True)[0]


# --- textbook forms -----------------------------------------------------------------------


def test_jacobian_of_a_matrix_product_is_the_matrix():
    A, x = gc.var("A", shape=(3, 3)), gc.var("x", shape=(3,))
    assert str(gc.jacobian(A @ x, x)) == "A"
    assert str(gc.jacobian(A @ x, x, mode="fwd")) == "A"
    A, x = gc.var("A"), gc.var("x")
    j = gc.jacobian(A @ x, x)
    assert str(_bound([A, x], j, np.ones((3, 3)), np.ones(3))) == "A"


def test_hessian_of_a_quadratic_form_is_a_plus_a_transposed():
    A, x = gc.var("A", shape=(3, 3)), gc.var("x", shape=(3,))
    assert str(gc.hessian(x @ (A @ x), x)) == "A + A.T"
    assert str(gc.hessian(gc.dot(x, A @ x), x)) == "A + A.T"
    A, x = gc.var("A"), gc.var("x")
    h = gc.hessian(x @ (A @ x), x)
    assert str(_bound([A, x], h, np.ones((3, 3)), np.ones(3))) == "A + A.T"


class _Diag(OpDef):
    """np.diag of a vector (a stand-in while the op table has no `diag`)."""

    name = "diag"

    def shape(self, s):
        return None if s is None else (s[0], s[0])

    def dtype(self, d):
        return d

    def impl(self, v):
        return np.diag(v)

    def emit(self, v):
        return f"np.diag({v})"


@pytest.fixture
def diag():
    if "diag" in OPS:
        yield OPS["diag"]
        return
    yield register(_Diag())
    unregister("diag")


def test_jacobian_of_softmax_is_diag_minus_outer(diag):
    x = gc.var("x", shape=(3,))
    # s, printed three times, is named (graphc.letform)
    s = "t1 = softmax(x, axis=-1)\ndiag(t1) - outer(t1, t1)"
    assert str(gc.jacobian(gc.softmax(x), x)) == s
    x = gc.var("x")
    bound = _bound([x], gc.jacobian(gc.softmax(x), x), np.zeros(3))
    assert str(bound) == s


# --- size of the program ------------------------------------------------------------------


@pytest.mark.parametrize("declared", [True, False])
def test_the_program_does_not_grow_with_the_outputs(declared):
    n = 200
    A = gc.var("A", shape=(n, n) if declared else None)
    x = gc.var("x", shape=(n,) if declared else None)
    a, xv = np.random.default_rng(0).normal(size=(n, n)), np.ones(n)
    for j in (gc.jacobian(gc.tanh(A @ x), x), gc.hessian(gc.sum(gc.tanh(A @ x)), x)):
        f = gc.compile([A, x], j)
        f(a, xv)
        assert len(f.source.splitlines()) < 25


def test_values_of_the_batched_jacobian_and_hessian():
    A, x = gc.var("A"), gc.var("x")
    a, xv = np.random.default_rng(1).normal(size=(4, 3)), np.array([0.1, -0.4, 0.7])
    t = np.tanh(a @ xv)
    expected = (1 - t**2)[:, None] * a
    for mode in (None, "rev", "fwd"):
        j = gc.compile([A, x], gc.jacobian(gc.tanh(A @ x), x, mode=mode))(a, xv)
        np.testing.assert_allclose(j, expected, atol=1e-12)
    h = gc.compile([A, x], gc.hessian(gc.sum(gc.tanh(A @ x)), x))(a, xv)
    np.testing.assert_allclose(h, a.T @ np.diag(-2 * t * (1 - t**2)) @ a, atol=1e-12)


def test_an_unresolved_jacobian_is_not_run():
    x = gc.var("x")
    j = gc.jacobian(gc.sin(x), x)
    assert j.op == "jacobian" and j.shape is None
    assert str(j) == "jacobian(sin(x), x, mode='rev')"
    tangent = gc.jvp(j, {x: gc.var("t")})  # d/dx of y's tangent
    assert str(tangent) == "jacobian(broadcast_like(t*cos(x), x), x, mode='rev')"
    with pytest.raises(gc.GradError, match="reverse mode through a Jacobian"):
        gc.grad(gc.sum(j), x)
    np.testing.assert_allclose(
        gc.compile([x], gc.jvp(j, {x: np.ones(2)}))(np.zeros(2)), np.zeros((2, 2))
    )


def test_a_group_is_refused():
    x = gc.var("x", shape=(2,))
    with pytest.raises(gc.GradError, match="Group"):
        gc.jacobian(gc.Group([x * 2, x * 3]), x)


def test_integer_data_is_refused_at_bind():
    x = gc.var("x")
    f = gc.compile([x], gc.jacobian(x * 2.0, x))
    with pytest.raises(gc.DTypeError):
        f(np.arange(3))
    f = gc.compile([x], gc.jacobian(x * 2.0, x, mode="fwd"))
    with pytest.raises(gc.DTypeError):
        f(np.arange(3))


# --- every op: against the unrolled definition --------------------------------------------


def _first_float(arrays):
    return next((i for i, a in enumerate(arrays) if a.dtype.kind == "f"), None)


def _cases():
    out = []
    for name in sorted(RECIPES):
        recipe = RECIPES[name]
        if recipe.grads is None and OPS[name].differentiable:
            out.append(pytest.param(name, recipe.cases[-1], id=name))
    return out


def _unrolled(y, x, shape_y, shape_x):
    """The Jacobian as one `gc.grad` per entry of y (the definition)."""
    m = int(np.prod(shape_y))
    rows = []
    for i in range(m):
        head = np.zeros(m)
        head[i] = 1
        rows.append(gc.grad(y, x, head=head.reshape(shape_y), simplify=False))
    return gc.reshape(gc.stack(rows), shape_y + shape_x)


@pytest.mark.parametrize("name, case", _cases())
def test_jacobian_and_hessian_of_every_op(name, case, rng):
    arrays, attrs = make_args(name, case, rng)
    k = _first_float(arrays)
    if k is None:
        pytest.skip("no floating input")
    xs = make_vars(arrays)
    outs = call(name, *xs, **attrs)
    y = outs[0] if isinstance(outs, (tuple, list)) else outs
    if y.dtype.kind != "f" or y.shape is None:
        pytest.skip("no floating output")
    ref = gc.compile(xs, _unrolled(y, xs[k], y.shape, arrays[k].shape))(*arrays)
    weights = rng.normal(size=y.shape)
    scalar = gc.sum(y * weights)
    g = gc.grad(scalar, xs[k], simplify=False)
    hess = gc.compile(xs, _unrolled(g, xs[k], arrays[k].shape, arrays[k].shape))(*arrays)
    # Vars declaring nothing, unless the recipe says why the op's gradient needs shapes.
    for declare in ("shape", "none") if RECIPES[name].unshaped is None else ("shape",):
        vs = make_vars(arrays, declare=declare, dtypes=declare == "shape")
        outs = call(name, *vs, **attrs)
        y = outs[0] if isinstance(outs, (tuple, list)) else outs
        for mode in ("rev", "fwd"):
            got = gc.compile(vs, gc.jacobian(y, vs[k], mode=mode))(*arrays)
            np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)
        if RECIPES[name].order >= 2:
            h = gc.compile(vs, gc.hessian(gc.sum(y * weights), vs[k]))(*arrays)
            np.testing.assert_allclose(h, hess, rtol=1e-9, atol=1e-12)


def test_with_respect_to_an_intermediate_node_and_through_stop_gradient():
    x = gc.var("x")
    h = gc.tanh(x)
    y = gc.stop_gradient(h) * h  # derived when jacobian is called: the stop holds
    outs = [gc.jacobian(y, h), gc.jacobian(y, h, mode="fwd"), gc.jacobian(gc.sin(y), x)]
    assert all(j.op == "jacobian" for j in outs)  # shapes unknown: batched when bound
    xv = np.array([0.3, -0.5])
    t = np.tanh(xv)
    got = gc.compile([x], outs)(xv)
    np.testing.assert_allclose(got[0], np.diag(t))
    np.testing.assert_allclose(got[1], np.diag(t))
    np.testing.assert_allclose(got[2], np.diag(np.cos(t * t) * t * (1 - t * t)))
