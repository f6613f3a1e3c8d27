"""Op facts live in the op table (`OpDef` fields), so an op defined in `graphc/ops/` alone is
complete: a one-line elementwise op registered here is a `gc` function in every mode, a method
if it declares one, parseable, printable and covered by the registry-driven op tests; and
every public op of the table is exported, parseable and printable.
"""

from __future__ import annotations

import numpy as np
import pytest
import test_registry as registry_tests  # its tests called by module: not collected twice
from op_recipes import RECIPES, _join, find_node, make_args

import graphc as gc
from graphc import eager
from graphc.ops import OPS
from graphc.ops.base import NONZERO, elementwise, register, unregister
from graphc.parse import functions, parse

NAME = "temporary_reciprocal"  # gc.reciprocal is numpy's, in the table


def _define(name=NAME, d=lambda y, x: -(y * y)):
    # One call, as an op of graphc/ops/elementwise.py is written.
    return elementwise(
        name,
        np.reciprocal,
        "np.reciprocal({0})",
        d,
        sympy=lambda x: 1 / x,
        domain=NONZERO,
        methods=(name,),
    )


def _assert_gone(name):
    assert name not in OPS
    assert not hasattr(gc, name) and name not in gc.__all__
    assert name not in functions()
    assert not hasattr(gc.Symbol, name) and not hasattr(eager.Tensor, name)
    with pytest.raises(gc.ParseError, match="not a gc function"):
        parse(f"{NAME}(x)")


@pytest.fixture
def op():
    """A temporary one-line elementwise op, removed from everywhere afterwards."""
    _assert_gone(NAME)
    defined = _define()
    yield defined
    unregister(NAME)
    _assert_gone(NAME)


def test_a_one_line_op_is_a_gc_function_in_every_mode(op, rng):
    assert getattr(gc, NAME) is op and NAME in gc.__all__
    a = rng.uniform(0.5, 2.0, 3)
    np.testing.assert_allclose(op(a), 1 / a)  # plain numpy
    x = gc.var("x", (3,))
    f = gc.compile([x], [op(x), gc.grad(gc.sum(op(x)), x)])
    y, g = f(a)
    np.testing.assert_allclose(y, 1 / a)
    np.testing.assert_allclose(g, -1 / a**2)
    t = eager.tensor(a, requires_grad=True)
    out = gc.sum(op(t))
    out.backward()
    np.testing.assert_allclose(t.grad.data, -1 / a**2)


def test_a_declared_method_calls_the_op(op, rng):
    x = gc.var("x")
    assert getattr(x, NAME)().op == NAME
    a = rng.uniform(0.5, 2.0, 3)
    np.testing.assert_allclose(getattr(eager.tensor(a), NAME)().data, 1 / a)


def test_a_one_line_op_parses_and_prints(op):
    y, xs = parse(f"{NAME}(x) + gc.{NAME}(2 * x)")
    assert {n.op for n in gc.ir.toposort([y])} >= {NAME}
    assert str(op(xs["x"])) == "1/x"
    assert gc.latex(op(xs["x"])) == r"\frac{1}{x}"


def test_a_one_line_op_is_covered_by_the_op_tests(op, rng, tmp_path):
    registry_tests.test_recipe(NAME)
    cases = RECIPES[NAME].cases
    assert cases
    for case in cases:
        for dtype in ("float64", "float32"):
            registry_tests.test_shape_dtype_rule(NAME, case, dtype, rng)
        registry_tests.test_forward(NAME, case, rng)
        registry_tests.test_json_round_trip(NAME, case, rng)
        registry_tests.test_grads(NAME, case, rng)
        registry_tests.test_float32_derivatives_stay_float32(NAME, case, rng)
    registry_tests.test_export_is_standalone(NAME, cases[0], rng, tmp_path)
    registry_tests.test_partials_match_sympy(NAME)
    registry_tests.test_dtype_promotion(NAME, rng)


def test_the_op_tests_catch_a_wrong_one_line_op(rng):
    """The coverage is real: a wrong partial (d/dx 1/x = +1/x**2) fails the op tests."""
    _define(d=lambda y, x: y * y)
    try:
        case = RECIPES[NAME].cases[2]
        with pytest.raises(AssertionError):
            registry_tests.test_grads(NAME, case, rng)
        with pytest.raises(AssertionError):
            registry_tests.test_partials_match_sympy(NAME)
    finally:
        unregister(NAME)
    _assert_gone(NAME)


def test_registering_a_name_the_gc_namespace_uses_changes_nothing():
    """A public op named like a non-op `gc` function is refused, and leaves no trace."""
    with pytest.raises(ValueError, match="gc.compile is already"):
        _define("compile")
    assert "compile" not in OPS and gc.compile is not None and callable(gc.compile)
    assert not hasattr(gc.Symbol, "compile")
    with pytest.raises(ValueError, match="registered twice"):
        register(OPS["exp"])


# --- every public op -----------------------------------------------------------------------


def _call_text(name, case):
    """The text of a call of op `name` on vars x0, x1, ... as its first recipe case makes."""
    specs, attrs = case
    args = [f"x{i}" for i in range(len(specs))]
    text = f"[{', '.join(args)}]" if RECIPES[name].call is _join else ", ".join(args)
    keywords = "".join(f", {k}={v!r}" for k, v in attrs.items())
    return f"{name}({text}{keywords})"


PUBLIC = [name for name, op in OPS.items() if op.public]


def test_public_ops_are_exactly_the_exported_and_parseable_ops():
    assert set(functions()) == set(PUBLIC)
    exported = {n for n in gc.__all__ if isinstance(getattr(gc, n), gc.ops.OpDef)}
    assert exported == set(PUBLIC)
    assert len(PUBLIC) > 50


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_op_is_exported_parseable_and_printable(name, rng):
    op = OPS[name]
    assert getattr(gc, name) is op and name in gc.__all__
    for method in op.methods:
        assert getattr(gc.Symbol, method).op is op
    case = RECIPES[name].cases[0]
    arrays, _ = make_args(name, case, rng)
    shapes = {f"x{i}": a.shape for i, a in enumerate(arrays)}
    dtypes = {f"x{i}": a.dtype for i, a in enumerate(arrays)}
    y, _ = parse(_call_text(name, case), shapes=shapes, dtypes=dtypes)
    node = find_node(y, name)
    assert str(node) and gc.latex(node)
