"""The printing contract (issue 13): every name in `str(sym)` is an operator, a public `gc`
function, a var or a keyword argument, and `graphc.parse.parse(str(sym))` computes the same
values. Checked for every op of the table (through its recipe, so ops added later are
covered) and for hypothesis-drawn random graphs, with vars declared with and without shapes,
before and after bind (the executor's specialised graphs), gradients included.
"""

from __future__ import annotations

import ast

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from op_recipes import EXEMPT, RECIPES, call, make_args, make_vars
from random_graphs import ARG_NAMES, function, leaves, trees

import graphc as gc
from graphc.executor import Plan
from graphc.function import optimize
from graphc.ops import OPS
from graphc.parse import keywords, parse

CONTROL = {"cond", "while_loop", "fori_loop", "scan"}  # bodies print as lambdas (below)
ATTRIBUTES = {"T", "at", "add"}  # x.T and zeros_like(x).at[i].add(g)
NUMBERS = {"inf", "nan"}


def check_names(text: str, var_names) -> None:
    """Every identifier of `text` is a public gc function, a var, a keyword, `.T`/`.at`, or a
    name the let-form defines."""
    tree = ast.parse(text)  # the let-form's `t1 = ...` lines, then the expression
    public = set(gc.__all__)
    lets = {t.id for stmt in tree.body if isinstance(stmt, ast.Assign) for t in stmt.targets}
    lets |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}  # lambda params
    lets |= {n.target.id for n in ast.walk(tree) if isinstance(n, ast.NamedExpr)}
    allowed = public | set(var_names) | NUMBERS | lets
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id in allowed, f"{node.id!r} in {text!r}"
        elif isinstance(node, ast.Attribute):
            assert node.attr in ATTRIBUTES, f".{node.attr} in {text!r}"
        elif isinstance(node, ast.keyword):
            assert node.arg in keywords(), f"keyword {node.arg!r} in {text!r}"


def check_round_trip(sym, values: dict, declared: bool) -> None:
    """`sym` prints with public names only, and its text parses into a graph giving the
    same values on `values` (by var name)."""
    text = str(sym)
    names = {n.name for n in gc.ir.toposort([sym]) if n.op == "var"}
    check_names(text, names)
    args = {k: np.asarray(v) for k, v in values.items() if k in names}
    shapes = {k: v.shape for k, v in args.items()} if declared else None
    dtypes = {k: v.dtype for k, v in args.items()} if declared else None
    back = parse(text, shapes=shapes, dtypes=dtypes)
    (want,) = sym.eval(**args)
    (got,) = back.expr.eval(**{k: v for k, v in args.items() if k in back.vars})
    assert np.shape(got) == np.shape(want), text
    assert np.allclose(
        np.asarray(got, dtype=float), np.asarray(want, dtype=float), equal_nan=True
    ), text


def _float_vars(vars_, arrays):
    return [v for v, a in zip(vars_, arrays) if a.dtype.kind == "f"]


def _gradients(y, wrt) -> list:
    if not wrt or (y.dtype is not None and y.dtype.kind != "f"):
        return []
    return [g for g in gc.grad(gc.sum(y), wrt) if g is not None]


def _specialised(y, names, arrays, wrt_names) -> list:
    """The executor's specialised outputs and gradients of `y` for these arrays."""
    plan = Plan(y, names, arrays)
    outs = list(plan.outputs)
    float_outs = [o for o in outs if o.dtype is None or o.dtype.kind == "f"]
    if not wrt_names or len(float_outs) != len(outs):
        return optimize(outs, True)
    real = y.eval(**dict(zip(names, arrays)))  # shapes a mask of data decides (x[x > 0])
    heads = [np.ones(np.shape(r), o.dtype) if o.shape else 1.0 for o, r in zip(outs, real)]
    grads, _ = plan._backprop(tuple(wrt_names), [gc.const(h) for h in heads])
    return optimize(outs + grads, True)


DEFAULT_CASES = 2  # recipe cases per op in the default loop (all of them under -m slow)

# A check prints as the value it checks: with undeclared shapes, a scalar checked against an
# array (never made by autodiff, whose gradients have the input's shape) prints as the scalar.
UNSHAPED_EXEMPT = {"checked_grad"}


def _recipe_params():
    out = []
    for name in sorted(OPS):
        if name in EXEMPT or name in CONTROL or name not in RECIPES:
            continue
        for i, case in enumerate(RECIPES[name].cases):
            for declare in ("shape", "none"):
                if declare == "none" and (
                    name in UNSHAPED_EXEMPT or RECIPES[name].unshaped is not None
                ):
                    continue  # (the recipe says why vars declaring nothing do not do)
                marks = [pytest.mark.slow] if i >= DEFAULT_CASES else []
                out.append(
                    pytest.param(name, case, declare, id=f"{name}-{i}-{declare}", marks=marks)
                )
    return out


def test_every_op_is_covered():
    """Every op of the table but the leaves and packaging is checked below (control flow by
    the cases of `test_control_flow_prints_and_parses_back`)."""
    missing = set(OPS) - set(EXEMPT) - CONTROL - set(RECIPES)
    assert not missing
    assert {case.__name__.split("_")[0] for case in CONTROL_CASES} == {
        name.split("_")[0] for name in CONTROL
    }


@pytest.mark.parametrize("name,case,declare", _recipe_params())
def test_op_prints_and_parses_back(name, case, declare):
    rng = np.random.default_rng(0)
    arrays, attrs = make_args(name, case, rng)
    arrays = [np.asarray(a) for a in arrays]
    xs = make_vars(arrays, declare=declare, dtypes=declare == "shape")
    out = call(name, *xs, **attrs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    values = {v.name: a for v, a in zip(xs, arrays)}
    wrt = _float_vars(xs, arrays) if RECIPES[name].grads is None else []
    for y in outs:
        check_round_trip(y, values, declare == "shape")
        for g in _gradients(y, wrt):
            check_round_trip(g, values, declare == "shape")
    if len(outs) == 1:
        names = [v.name for v in xs]
        for s in _specialised(outs[0], names, arrays, [v.name for v in wrt]):
            check_round_trip(s, values, True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees().map(lambda t: t[0]), st.sampled_from(["shape", "none"]), st.integers(0, 2**16))
def test_random_graphs_print_and_parse_back(tree, declare, seed):
    _random_graph(tree, declare, seed)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees(depth=4).map(lambda t: t[0]), st.sampled_from(["shape", "none"]), st.integers())
def test_many_random_graphs_print_and_parse_back(tree, declare, seed):
    _random_graph(tree, declare, seed % 2**32)


def _random_graph(tree, declare, seed):
    arrays = [np.asarray(a) for a in leaves(seed)]
    values = dict(zip(ARG_NAMES, arrays))
    xs = [
        gc.var(n, shape=a.shape if declare == "shape" else None, dtype=a.dtype)
        for n, a in values.items()
    ]
    y = function(tree)(*xs)
    used = {n.name for n in gc.ir.toposort([y]) if n.op == "var"}
    wrt = [v for v in xs if v.name in used and v.name != "labels"]
    check_round_trip(y, values, declare == "shape")
    for g in _gradients(y, wrt):
        check_round_trip(g, values, declare == "shape")
    names = [n for n in ARG_NAMES if n in used]
    for s in _specialised(y, names, [values[n] for n in names], [v.name for v in wrt]):
        check_round_trip(s, values, True)


# --- control flow: bodies print as lambdas, parts they repeat as `(t1 := ...)` -------------


def cond_case(x, a, xs):
    return gc.cond(gc.sum(x) > 0, lambda v: v * a, lambda v: gc.tanh(v - a) * gc.tanh(v - a), x)


def while_case(x, a, xs):
    return gc.while_loop(lambda h: gc.sum(h * h) < 40.0, lambda h: h * (1.0 + a * a) + 1.0, x)


def fori_case(x, a, xs):
    return gc.fori_loop(0, 3, lambda i, h: gc.tanh(a * h + x), x)


def scan_case(x, a, xs):
    return gc.scan(lambda c, xt: (gc.sin(c * a + xt), c * xt), x, xs, reverse=True)[1]


def fori_nested_case(x, a, xs):
    """A loop in a loop, the inner body capturing the outer carry under the same name."""
    inner = lambda h: gc.fori_loop(0, 2, lambda j, g: gc.sin(g * h), h)  # noqa: E731
    return gc.fori_loop(0, 2, lambda i, h: inner(h) + a * h, x)


CONTROL_CASES = [cond_case, while_case, fori_case, scan_case, fori_nested_case]


@pytest.mark.parametrize("declare", ["shape", "none"])
@pytest.mark.parametrize("case", CONTROL_CASES, ids=lambda c: c.__name__)
def test_control_flow_prints_and_parses_back(case, declare):
    """Results, gradients (reverse loops over the histories) and the specialised graphs of
    each control-flow op print with public names and parse back to the same values."""
    values = {
        "x": np.array([0.3, -0.2, 0.5]),
        "a": np.float64(0.7),
        "xs": np.linspace(-1.0, 1.0, 12).reshape(4, 3),
    }
    shaped = declare == "shape"
    xs = [
        gc.var(n, shape=v.shape if shaped else None, dtype=v.dtype if shaped else None)
        for n, v in values.items()
    ]
    y = case(*xs)
    check_round_trip(y, values, declare == "shape")
    for g in _gradients(y, xs):
        check_round_trip(g, values, declare == "shape")
    used = [n for n in values if n in {v.name for v in gc.ir.toposort([y]) if v.op == "var"}]
    for s in _specialised(y, used, [values[n] for n in used], used):
        check_round_trip(s, values, True)


# --- array constants -------------------------------------------------------------------


def test_a_large_constant_prints_on_its_own_line_with_every_entry():
    """Up to 1000 entries (numpy's threshold) every entry prints, exactly (floats as Python
    prints them), on a line of its own so that the expression stays readable."""
    data = np.random.default_rng(1).normal(size=(10, 100))
    x = gc.var("x", shape=(10, 100))
    y = gc.sum(gc.sin(x * data), axis=1)
    text = str(gc.grad(gc.sum(y), x))
    first, last = text.splitlines()
    assert first.startswith("t1 = const([[") and last == "t1*cos(t1*x)"
    v = np.linspace(0.0, 1.0, 1000).reshape(10, 100)
    np.testing.assert_array_equal(parse(text).expr.eval(x=v)[0], data * np.cos(data * v))


def test_a_constant_beyond_the_threshold_prints_elided_and_refuses_to_parse():
    """Two such constants print differently (a digest of their bytes), never as one, and
    the parser says what is missing instead of computing something else."""
    x = gc.var("x", shape=(2000,))
    a, b = np.arange(2000.0), np.arange(2000.0)[::-1].copy()
    text = str(gc.sin(x * a) - gc.sin(x * b))
    digests = [line.split("digest=")[1] for line in text.splitlines()[:2]]
    assert text.startswith("t1 = const(shape=(2000,), dtype='float64', digest=")
    assert digests[0] != digests[1]
    with pytest.raises(gc.ParseError, match="elides this constant's entries"):
        parse(text)
