"""@gc.function: the AST rewrite of Python if/while/for into graph control flow."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import graphc as gc
from graphc import eager

SCALE = 3.0  # a global the decorated functions read


@gc.function
def seed(a):
    b = a * 2
    while b.norm() < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c


def _seed_reference(a):
    b = a * 2
    while np.linalg.norm(b) < 1000:
        b = b * 2
    return b if np.sum(b) > 0 else 100 * b


def _line_of(text: str) -> str:
    """`test_autograph.py:N` of the first line of this file containing `text`."""
    lines = inspect.getsource(inspect.getmodule(_line_of)).splitlines()
    return f"test_autograph.py:{next(i for i, t in enumerate(lines, 1) if text in t)}"


@pytest.mark.parametrize("shape", [(), (3,)])
def test_seed_gradient_is_d_over_a(shape):
    a = gc.var("a", shape=shape)
    d = seed(a)
    grad = gc.grad(d, a, head=gc.ones_like(d))
    f = gc.compile([a], [d, grad])
    assert "while " in f.source
    rng = np.random.default_rng(11)
    for scale in (1e-6, 1e-2, 1.0, 30.0, 900.0, 1e5):
        for _ in range(4):
            value = rng.normal(size=shape) * scale
            d_value, g_value = f(value)
            np.testing.assert_allclose(d_value, _seed_reference(value), rtol=1e-12)
            np.testing.assert_allclose(g_value, d_value / value, rtol=1e-12)


def test_seed_on_arrays_compiles_once_per_signature_and_shows_its_loop():
    np.testing.assert_allclose(seed(np.float64(0.3)), _seed_reference(0.3))
    np.testing.assert_allclose(seed(np.array([1.0, -2.0])), _seed_reference(np.array([1.0, -2.0])))
    np.testing.assert_allclose(seed(np.array([-5.0, 4.0])), _seed_reference(np.array([-5.0, 4.0])))
    assert len(seed._cache) == 2
    assert "while " in seed.source and "if " in seed.source
    assert "_gc_rt.while_stmt" in seed.converted_source


def test_seed_on_eager_tensors_runs_the_python():
    t = eager.tensor(np.array([0.5, -0.25]), requires_grad=True)
    d = seed(t)
    d.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), (d.numpy() / t.numpy()))


def test_python_valued_conditions_stay_python():
    @gc.function
    def f(x, n, flag=True):
        for i in range(n):  # noqa: B007 (a Python int: unrolled)
            x = x * SCALE
        if flag:
            x = x + 1
        return x

    x = gc.var("x")
    y = f(x, 3)
    assert y.op == "add" and "for " not in gc.compile([x], y).source
    assert gc.compile([x], y)(np.float64(1.0)) == 28.0


def test_if_elif_else_chain_with_gradients():
    @gc.function
    def f(x):
        s = x.sum()
        if s > 1:
            y = x * x
        elif s > -1:
            y = gc.sin(x)
        else:
            y = -x * 3
        return y.sum()

    x = gc.var("x")
    for value in (np.array([1.0, 0.8]), np.array([0.2, -0.1]), np.array([-2.0, 0.3])):
        gc.check_grad(f(x), x, {"x": value})
    assert f(np.array([0.2, -0.1])) == pytest.approx(np.sin(0.2) + np.sin(-0.1))


def test_for_range_with_symbolic_bound_becomes_fori_loop():
    @gc.function
    def power_sum(x, n):
        total = 0.0
        term = x
        for i in range(1, n):
            total = total + term / i
            term = term * x
        return total

    x, n = gc.var("x"), gc.var("n", dtype=np.int64)
    y = power_sum(x, n)
    f = gc.compile([x, n], [y, gc.grad(y, x)])
    assert "for i in np.arange(1, n):" in f.source
    value, grad = f(np.float64(0.5), np.int64(5))
    assert value == pytest.approx(sum(0.5**k / k for k in range(1, 5)))
    assert grad == pytest.approx(sum(0.5 ** (k - 1) for k in range(1, 5)))


def test_loop_variables_found_automatically_with_temporaries_and_int_promotion():
    @gc.function
    def f(x):
        acc = 0  # a Python int that the loop makes a float
        steps = 0
        while acc < 10:
            step = x * (steps + 1)  # loop-local temporary
            acc = acc + step
            steps = steps + 1
        return acc, steps

    x = gc.var("x", shape=())
    acc, steps = f(x)
    assert steps.dtype == np.int64
    f_c = gc.compile([x], [acc, steps, gc.grad(acc, x)])
    value, count, grad = f_c(np.float64(1.5))
    assert (value, count) == (15.0, 4) and grad == 10.0


def test_and_or_not_and_conditional_expressions_on_symbols():
    @gc.function
    def f(x):
        y = x if x > 0 else -x
        if x > -5 and not x > 5:
            y = y * 2
        if x < -1 or x > 1:
            y = y + 100
        return y

    x = gc.var("x")
    compiled = gc.compile([x], f(x))
    for v, want in ((0.5, 1.0), (-3.0, 106.0), (7.0, 107.0)):
        assert compiled(np.float64(v)) == want


def test_closures_and_nested_loops():
    offset = gc.const(1.0)

    @gc.function
    def f(x):
        total = x * 0
        i = 0
        while i < 3:
            j = 0
            while j < i + 1:
                total = total + x * SCALE + offset
                j = j + 1
            i = i + 1
        return total

    x = gc.var("x", shape=())
    y = f(x)
    assert gc.compile([x], y)(np.float64(2.0)) == 6 * (2.0 * SCALE + 1.0)
    gc.check_grad(y, x, {"x": np.float64(2.0)})


def test_break_and_continue_in_symbolic_loops():
    @gc.function
    def doubling(x):
        while True:
            x = x * 2
            if x > 50:
                break
        return x

    @gc.function
    def partial_sum(x, n):
        total = x * 0
        for i in range(n):
            if i == 3:
                continue
            total = total + x * i
            if total > 100:
                break
        else:
            total = total - 1
        return total

    def partial_sum_reference(x, n):
        total = x * 0
        for i in range(n):
            if i == 3:
                continue
            total = total + x * i
            if total > 100:
                break
        else:
            total = total - 1
        return total

    x, n = gc.var("x"), gc.var("n", dtype=np.int64)
    y = doubling(x)
    f = gc.compile([x], [y, gc.grad(y, x)])
    assert [float(v) for v in f(np.float64(3.0))] == [96.0, 32.0]
    assert "while " in f.source
    y = partial_sum(x, n)
    f = gc.compile([x, n], [y, gc.grad(y, x)])
    assert "for i in np.arange(0, n):" in f.source
    for xv, nv in ((2.0, 10), (1.0, 6), (20.0, 10), (1.0, 2)):
        value, grad = f(np.float64(xv), np.int64(nv))
        slope = (partial_sum_reference(xv + 1e-3, nv) - partial_sum_reference(xv, nv)) / 1e-3
        assert value == partial_sum_reference(xv, nv)
        assert grad == pytest.approx(slope, rel=1e-6)
    # Python-valued: the loop stops at the break, the loop variable keeps its value.
    assert partial_sum(np.float64(20.0), 10) == partial_sum_reference(20.0, 10)


def test_return_in_a_symbolic_loop_names_the_line():
    @gc.function
    def f(x):
        while x < 100:
            x = x * 2
            if x > 50:
                return x
        return x

    line = _line_of("while x < 100:")
    with pytest.raises(gc.GraphcError, match=line) as err:
        f(gc.var("x"))
    assert "return" in str(err.value)


def test_python_valued_loop_with_break_runs_as_python():
    @gc.function
    def f(x, n):
        for i in range(n):
            if i == 2:
                break
            x = x + 1
        return x

    x = gc.var("x")
    assert gc.compile([x], f(x, 10))(np.float64(0.0)) == 2.0


def test_return_inside_a_symbolic_if_names_the_line():
    @gc.function
    def f(x):
        if x.sum() > 0:
            return x
        return -x

    with pytest.raises(gc.GraphcError, match=_line_of("if x.sum() > 0:")) as err:
        f(gc.var("x"))
    assert "return" in str(err.value)


def test_variable_defined_in_one_branch_only_is_an_error_when_used():
    @gc.function
    def f(x):
        if x > 0:
            y = x * 2
        return y

    with pytest.raises(gc.GraphcError, match="'y'") as err:
        f(gc.var("x"))
    assert _line_of("if x > 0:") in str(err.value) and "only one branch" in str(err.value)


def test_non_numeric_value_through_a_symbolic_if_names_the_line():
    @gc.function
    def f(x):
        name = "a"
        if x > 0:
            name = "b"  # noqa: F841 (the user's dead store under test)
        return x

    with pytest.raises(gc.GraphcError, match="'name'"):
        f(gc.var("x"))


def test_converted_source_is_readable_python():
    text = seed.converted_source
    assert text.startswith("def seed(a):")
    assert "def _gc_while_body_" in text and "b = b * 2" in text
