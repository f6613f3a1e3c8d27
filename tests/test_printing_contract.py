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

# Control flow prints its bodies as lambdas, which the parser does not read yet.
NOT_PARSED = {"cond", "while_loop", "fori_loop", "scan"}
ATTRIBUTES = {"T", "at", "add"}  # x.T and zeros_like(x).at[i].add(g)
NUMBERS = {"inf", "nan"}


def check_names(text: str, var_names) -> None:
    """Every identifier of `text` is a public gc function, a var, a keyword, `.T`/`.at`, or a
    name the let-form defines."""
    tree = ast.parse(text)  # the let-form's `t1 = ...` lines, then the expression
    public = set(gc.__all__)
    lets = {t.id for stmt in tree.body if isinstance(stmt, ast.Assign) for t in stmt.targets}
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
    heads = [np.ones(o.shape, o.dtype) if o.shape else 1.0 for o in outs]
    grads, _ = plan._backprop(tuple(wrt_names), [gc.const(h) for h in heads])
    return optimize(outs + grads, True)


DEFAULT_CASES = 2  # recipe cases per op in the default loop (all of them under -m slow)

# A check prints as the value it checks: with undeclared shapes, a scalar checked against an
# array (never made by autodiff, whose gradients have the input's shape) prints as the scalar.
UNSHAPED_EXEMPT = {"checked_grad"}


def _recipe_params():
    out = []
    for name in sorted(OPS):
        if name in EXEMPT or name in NOT_PARSED or name not in RECIPES:
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
    """Every op of the table but the leaves and packaging is checked below (the control-flow
    ops once the parser reads their lambda bodies)."""
    missing = set(OPS) - set(EXEMPT) - NOT_PARSED - set(RECIPES)
    assert not missing


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
