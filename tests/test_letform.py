"""The let-form: a printout names the parts an expression repeats (graphc.letform), names the
steps of a recurrence after their start var, stays shorter than the emitted program, and
parses back (graphc.parse) into a graph computing the same values."""

from __future__ import annotations

import re

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import graphc as gc
from graphc.letform import let_plan
from graphc.parse import parse

VALUES = {"a": 0.7, "h0": 0.3, "x0": 0.1, "x1": -0.2, "x2": 0.5}


def _recurrence(shape):
    a, h0, x0, x1, x2 = (gc.var(n, shape=shape) for n in VALUES)
    h = h0
    for x in (x0, x1, x2):
        h = gc.tanh(a * h + x)
    return h, a


def _body(source: str) -> str:
    """The emitted program without its imports and signature."""
    return source.split("):\n", 1)[1]


def test_recurrence_gradient_names_each_step_once():
    h, a = _recurrence(())
    g = gc.grad(h, a)
    text = str(g)
    assert text == (
        "h1 = tanh(a*h0 + x0)\n"
        "h2 = tanh(a*h1 + x1)\n"
        "h3 = tanh(a*h2 + x2)\n"
        "(1 - h3**2)*(a**2*h0*(1 - h1**2)*(1 - h2**2) + a*h1*(1 - h2**2) + h2)"
    )
    for t in (1, 2, 3):
        assert len(re.findall(rf"^h{t} = ", text, re.M)) == 1
        assert text.count("tanh(") == 3
    A, H, X0, X1, X2 = sp.symbols("a h0 x0 x1 x2")
    hs = H
    for x in (X0, X1, X2):
        hs = sp.tanh(A * hs + x)
    assert len(text) <= len(str(sp.diff(hs, A)))
    y, names = parse(text)
    assert list(names) == list(VALUES)
    np.testing.assert_allclose(y.eval(**VALUES)[0], g.eval(**VALUES)[0], rtol=1e-12)


def test_recurrence_gradient_without_shapes():
    h, a = _recurrence(None)
    text = str(gc.grad(h, a))
    assert text.splitlines()[:3] == [
        "h1 = tanh(a*h0 + x0)",
        "h2 = tanh(a*h1 + x1)",
        "h3 = tanh(a*h2 + x2)",
    ]
    assert text.splitlines()[3] == (
        "sum_to((1 - h3**2)*(a**2*h0*(1 - h1**2)*(1 - h2**2) + a*h1*(1 - h2**2) + h2), a)"
    )
    A, H, X0, X1, X2 = sp.symbols("a h0 x0 x1 x2")
    hs = H
    for x in (X0, X1, X2):
        hs = sp.tanh(A * hs + x)
    assert len(text) <= len(str(sp.diff(hs, A)))  # sympy's derivative, shapes aside


def test_printout_is_shorter_than_the_emitted_program():
    h, a = _recurrence(None)
    g = gc.grad(h, a)
    f = gc.compile([n for n in gc.ir.toposort([h]) if n.op == "var"], g)
    assert len(str(g)) < len(_body(f.source))


def test_shared_part_gets_a_name_small_ones_stay_inline():
    x, w, b = gc.var("x"), gc.var("w"), gc.var("b")
    s = gc.sigmoid(x * w + b)
    assert str(gc.exp(s) + gc.sin(s) * s) == "t1 = sigmoid(b + w*x)\nt1*sin(t1) + exp(t1)"
    assert str(s * (1 - s) * x) == "x*(1 - sigmoid(b + w*x))*sigmoid(b + w*x)"  # twice
    s = gc.sigmoid(x)
    assert str(s * gc.exp(s) + s) == "exp(sigmoid(x))*sigmoid(x) + sigmoid(x)"  # saves little
    r = x * w + b
    assert str(gc.mean(r) / gc.sum(r)) == "mean(b + w*x)/sum(b + w*x)"


def test_recurrence_names_follow_the_state_var_and_never_clash():
    h, c, w = gc.var("h"), gc.var("c"), gc.var("W")
    s = h
    for _ in range(3):
        s = gc.tanh(w * s + c)
    text = str(gc.grad(gc.sum(s), w))
    assert text.startswith("h1 = tanh(W*h + c)\nh2 = tanh(W*h1 + c)\nh3 = tanh(W*h2 + c)\n")
    # a var already named h2: the steps fall back to t1, t2, ...
    h2 = gc.var("h2")
    text = str(gc.grad(gc.sum(s * h2), w))
    assert not re.search(r"^h\d = ", text, re.M) and text.startswith("t1 = tanh(W*h + c)")


def test_repr_and_explain_show_a_let_form_on_one_line():
    x, y = gc.var("x"), gc.var("y")
    t = gc.sigmoid(x * y + 1)
    z = gc.exp(t) + gc.sin(t) * t
    assert repr(z) == "<Symbol t1 = sigmoid(x*y + 1); t1*sin(t1) + exp(t1) shape=? dtype=?>"
    e = gc.explain(gc.sum(gc.exp(t) * t), x)
    assert "\n" not in e._cells(None)[0][4]


def test_long_recurrence_prints_in_pieces():
    x = gc.var("x")
    h = x
    for _ in range(3000):
        h = gc.tanh(h * x + 1)
    plan = let_plan(h + h)
    assert plan.big and len(plan.names) <= 3000
    text = str(h + h)
    assert text.count("tanh(") == 3000


_UNARY = [gc.exp, gc.tanh, gc.sin, gc.negative]
_BINARY = [gc.add, gc.subtract, gc.multiply]


@st.composite
def _shared_graph(draw):
    """A random graph that reuses its nodes (so its tree repeats them)."""
    pool = [gc.var("x"), gc.var("y")]
    for _ in range(draw(st.integers(3, 14))):
        if draw(st.booleans()):
            op = draw(st.sampled_from(_UNARY))
            pool.append(op(draw(st.sampled_from(pool))))
        else:
            op = draw(st.sampled_from(_BINARY))
            pool.append(op(draw(st.sampled_from(pool)), draw(st.sampled_from(pool))))
    return pool[-1] * 0.5 + pool[-2], pool[:2]


@settings(max_examples=25, deadline=None)
@given(_shared_graph())
def test_let_form_parses_back_and_is_never_longer_than_the_program(case):
    g, inputs = case
    text = str(g)
    y, names = parse(text)
    values = {"x": 0.3, "y": -0.7}
    np.testing.assert_allclose(
        y.eval(**{k: values[k] for k in names})[0] if names else y.eval()[0],
        g.eval(**{n.name: values[n.name] for n in gc.ir.toposort([g]) if n.op == "var"})[0],
        rtol=1e-9,
        atol=1e-12,
    )
    program = _body(gc.compile(inputs, g, simplify=False).source)
    assert len(text) <= len(program)


def test_inputs_a_printout_hides_are_never_named():
    x = gc.var("x")
    t = gc.tanh(x)
    j = gc.jacobian(t * t + gc.sum(t), x)  # deferred: its direction and seed inputs derive
    assert str(j) == "jacobian(sum(tanh(x)) + tanh(x)**2, x, mode='rev')"


def test_a_traced_body_reads_as_one_python_lambda():
    """A lambda holds one expression: a repeated part is named where Python evaluates it
    first, and the text runs as Python on numpy (gc functions by their numpy names)."""
    x = gc.var("x")
    s = gc.sigmoid(2 * x + 1)
    body = gc.Graph([x], [gc.exp(s) + gc.sin(s) * s])
    assert repr(body) == "lambda x: (t1 := sigmoid(2*x + 1))*sin(t1) + exp(t1)"
    fn = eval(
        repr(body), {"sigmoid": lambda v: 1 / (1 + np.exp(-v)), "sin": np.sin, "exp": np.exp}
    )
    t = 1 / (1 + np.exp(-(2 * 0.3 + 1)))
    assert fn(0.3) == pytest.approx(t * np.sin(t) + np.exp(t))


def test_a_body_names_a_repeated_part_at_its_first_use_not_inside_a_nested_body():
    """The outer body's `t1` is defined at its first use outside the inner lambda, whose own
    `t1` (a different part) is local to it."""
    x, a = gc.var("x", shape=(3,)), gc.var("a", shape=())
    inner = lambda h: gc.fori_loop(0, 2, lambda j, g: gc.sin(g * h), h)  # noqa: E731
    y = gc.fori_loop(0, 2, lambda i, h: inner(h) + a * h, x)
    text = str(gc.grad(gc.sum(y), a))
    assert re.search(r"\(t1 := scan\(.*\)\)\[[01]\] \+ t1\[[01]\]", text), text
    back = parse(text)
    v = {"x": np.array([0.3, -0.2, 0.5]), "a": np.float64(0.7)}
    np.testing.assert_allclose(back.expr.eval(**v)[0], gc.grad(gc.sum(y), a).eval(**v)[0])


def test_cli_prints_the_let_lines_before_the_gradient(capsys):
    from graphc.__main__ import main

    at = ["--at", "a=0.7", "--at", "h0=0.3", "--at", "x0=0.1", "--at", "x1=-0.2", "--at", "x2=0.5"]
    assert main(["grad", "tanh(a*tanh(a*tanh(a*h0 + x0) + x1) + x2)", "--wrt", "a", *at]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:5] == [
        "h1 = tanh(a*h0 + x0)",
        "h2 = tanh(a*h1 + x1)",
        "h3 = tanh(a*h2 + x2)",
        "df/da = (1 - h3**2)*(a**2*h0*(1 - h1**2)*(1 - h2**2) + a*h1*(1 - h2**2) + h2)",
    ]
