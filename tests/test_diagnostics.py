"""`gc.check_finite` and `gc.compile(..., debug=True)` (issue 14, item 3): the first operation
whose value is NaN or inf, named by op, printed expression and the line of this file that
built it, in the forward and in the backward pass."""

from __future__ import annotations

import inspect
import pickle

import numpy as np
import pytest

import graphc as gc

HERE = __file__


def _line() -> int:
    """The line of this file that called `_line()`."""
    return inspect.currentframe().f_back.f_lineno


def _at(line: int) -> str:
    return f"{HERE}:{line}"


def test_seed_is_finite_and_an_infinite_argument_is_named():
    x = gc.var("x")
    y = 2 * gc.dot(x, x)
    line = _line() - 1
    f = gc.compile([x], [y, gc.grad(y, x)])
    assert gc.check_finite(f, np.arange(4.0)) is None
    report = gc.check_finite(f, np.array([1.0, np.inf]))
    assert report.inputs[0][0] == "x"
    assert (report.forward.op, report.forward.line) == ("dot", _at(line))
    assert report.forward.expression == "dot(x, x)"
    assert str(report).startswith("argument 'x' has inf at 1 of 2 entries (first [1])\n")


def test_where_sqrt_trap_forward_and_backward():
    x = gc.var("x")
    y = gc.sum(gc.where(x > 0, gc.sqrt(x), 0))
    line = _line() - 1
    f = gc.compile([x], y)
    report = gc.check_finite(f, np.array([1.0, -1.0, 4.0]))
    assert [(r["phase"], r["op"], r["line"]) for r in report.records()] == [
        ("forward", "sqrt", _at(line)),
        ("backward", "divide", _at(line)),
    ]
    assert report.forward.expression == "sqrt(x)"
    assert report.backward.found.entries() == "nan at 1 of 3 entries (first [1])"
    assert str(report) == (
        "forward pass: first non-finite value:\n"
        f"  {_at(line)}: the sqrt operation of the forward pass gives nan at 1 of 3 entries "
        "(first [1]): sqrt(x)\n"
        "      y = gc.sum(gc.where(x > 0, gc.sqrt(x), 0))\n"
        "backward pass: first non-finite value (1 later operation too):\n"
        f"  {_at(line)}: the divide operation of the backward pass gives nan at 1 of 3 entries "
        "(first [1]): 1/(2*sqrt(x))\n"
        "      y = gc.sum(gc.where(x > 0, gc.sqrt(x), 0))\n"
        "results not finite: the gradient with respect to x has nan at 1 of 3 entries "
        "(first [1])"
    )
    # the double-where form is finite everywhere
    safe = gc.sum(gc.where(x > 0, gc.sqrt(gc.where(x > 0, x, 1.0)), 0))
    assert gc.check_finite(gc.compile([x], safe), np.array([1.0, -1.0, 4.0])) is None


def test_gradients_the_function_computes_are_the_backward_pass():
    x = gc.var("x")
    y = gc.sum(gc.log(x))
    line = _line() - 1
    f = gc.compile([x], [y, gc.grad(y, x)])
    report = gc.check_finite(f, np.array([1.0, 0.0]))
    assert (report.forward.op, report.forward.line, report.forward.found.kind) == (
        "log",
        _at(line),
        "inf",
    )
    assert (report.backward.op, report.backward.line) == ("divide", _at(line))
    assert [label for label, _ in report.outputs] == ["output 0", "output 1"]


def test_two_layer_network_names_the_log_of_the_loss():
    x, w1, w2 = gc.var("x"), gc.var("W1"), gc.var("W2")
    h = gc.relu(gc.dot(x, w1))
    out = gc.dot(h, w2)
    loss = gc.sum(gc.log(out))
    line = _line() - 1
    f = gc.compile([x, w1, w2], loss)
    rng = np.random.default_rng(0)
    xs, a, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), np.abs(rng.normal(size=(5, 2)))
    assert gc.check_finite(f, np.abs(xs), np.abs(a), b) is None
    report = gc.check_finite(f, x=xs, W1=a, W2=-b)  # keywords by var name
    assert (report.forward.op, report.forward.line) == ("log", _at(line))
    assert report.backward is None  # d log(u) = 1/u is finite where u < 0
    assert [label for label, _ in report.outputs] == ["output 0"]


def test_recurrence_overflow_names_exp_and_the_loop_line():
    a = gc.var("a", shape=())
    xs = [gc.var(f"x{i}", shape=(2,)) for i in range(3)]
    h0 = h = gc.var("h0", shape=(2,))
    for xt in xs:
        h = gc.exp(a * h + xt)
    line = _line() - 1
    f = gc.compile([a, h0, *xs], gc.sum(h))
    ones = np.ones(2)
    assert gc.check_finite(f, 0.1, ones, ones, ones, ones) is None
    report = gc.check_finite(f, 30.0, ones, ones, ones, ones)
    assert (report.forward.op, report.forward.line, report.forward.found.kind) == (
        "exp",
        _at(line),
        "inf",
    )


def test_symbol_with_values_by_name():
    x = gc.var("x")
    y = gc.log(x) * 2
    line = _line() - 1
    report = gc.check_finite(y, {"x": np.array([1.0, -1.0])})
    assert (report.forward.op, report.forward.line) == ("log", _at(line))
    assert report.backward is None  # not a scalar: no gradient
    assert gc.check_finite(y, x=np.array([1.0, 2.0])) is None
    with pytest.raises(gc.BindError):
        gc.check_finite(y, {"y": np.ones(2)})
    with pytest.raises(gc.GraphcError):
        gc.check_finite(lambda v: v, np.ones(2))


def test_debug_mode_raises_at_the_first_non_finite_operation():
    x = gc.var("x")
    y = gc.sum(gc.where(x > 0, gc.sqrt(x), 0))
    line = _line() - 1
    g = gc.grad(y, x)
    f = gc.compile([x], [y, g], debug=True)
    np.testing.assert_allclose(f(np.array([1.0, 4.0]))[1], [0.5, 0.25])
    with np.errstate(invalid="ignore"), pytest.raises(gc.NonFiniteError) as info:
        f(np.array([1.0, -1.0]))
    assert str(info.value).startswith(
        f"{_at(line)}: the sqrt operation gives nan at 1 of 2 entries (first [1]): sqrt(x)\n"
        "    y = gc.sum(gc.where(x > 0, gc.sqrt(x), 0))\n"
    )
    assert isinstance(info.value, FloatingPointError)
    # backward: 1/x at 0 is inf, its gradient -1/x**2 too; the forward one is named first
    z = gc.sum(1.0 / x)
    line = _line() - 1
    with np.errstate(divide="ignore"), pytest.raises(gc.NonFiniteError, match="divide"):
        gc.compile([x], z, debug=True)(np.array([0.0]))
    assert f"{_at(line)}:" in str(gc.check_finite(gc.compile([x], z), np.zeros(1)).backward)


def test_debug_mode_costs_nothing_when_off_and_survives_pickle_and_export(tmp_path):
    x = gc.var("x")
    y = gc.exp(x) * 2
    plain, debug = gc.compile([x], y), gc.compile([x], y, debug=True)
    assert "_graphc_check" not in plain.source
    assert debug.source.count("_graphc_check(") == 2  # one per operation
    again = pickle.loads(pickle.dumps(debug))
    assert again.debug and not pickle.loads(pickle.dumps(plain)).debug
    with np.errstate(over="ignore"), pytest.raises(gc.NonFiniteError, match="exp"):
        again(np.array([1e4]))
    path = tmp_path / "m.py"
    debug.export(path)
    assert "_graphc_check" not in path.read_text()


def test_scan_body_operations_keep_their_pass():
    x, a = gc.var("x"), gc.var("a")

    def body(c, xt):
        h = gc.exp(a * c + xt)
        return h, h

    line = _line() - 3
    _, hs = gc.scan(body, gc.zeros_like(x[0]), x)
    report = gc.check_finite(gc.compile([a, x], gc.sum(hs)), 30.0, np.ones((3, 2)))
    assert [(r["phase"], r["op"], r["line"]) for r in report.records()] == [
        ("forward", "exp", _at(line)),
        ("backward", "exp", _at(line)),
    ]
