"""`gc.check_finite` and `gc.compile(..., debug=True)` (issue 14, item 3): the first operation
whose value is NaN or inf, named by op, printed expression and the line of this file that
built it, in the forward and in the backward pass."""

from __future__ import annotations

import inspect
import pickle
import warnings

import numpy as np
import pytest

import graphc as gc
from graphc.ops.base import elementwise, unregister

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


@pytest.mark.filterwarnings("ignore::graphc.GraphcWarning")
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


@pytest.mark.filterwarnings("ignore::graphc.GraphcWarning")
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


# --- the where trap, warned at grad time -----------------------------------------------


def _trap_warnings(y, wrt):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = gc.grad(y, wrt)
    return g, [w for w in caught if issubclass(w.category, gc.GraphcWarning)]


@pytest.mark.parametrize(
    ("build", "op", "fix"),
    [
        (lambda x: gc.where(x > 0, gc.sqrt(x), 0), "sqrt", "sqrt(where(x > 0, x, 1))"),
        (lambda x: gc.where(x > 0, gc.log(x), 0), "log", "log(where(x > 0, x, 1))"),
        (lambda x: gc.where(x != 0, 1 / x, 0), "divide", "1/where(x != 0, x, 1)"),
        (lambda x: gc.where(abs(x) < 1, gc.arcsin(x), 0), "arcsin", "arcsin(where("),
        (lambda x: gc.where(x <= 0, 0, 2 * gc.sqrt(x)), "sqrt", "where(x <= 0, 1, x)"),
    ],
)
def test_where_trap_warns_at_the_users_line_with_the_fix(build, op, fix):
    x = gc.var("x")
    y = gc.sum(build(x))
    _, caught = _trap_warnings(y, x)
    assert len(caught) == 1, [str(w.message) for w in caught]
    w = caught[0]
    assert (w.filename, issubclass(w.category, UserWarning)) == (HERE, True)
    assert w.lineno == inspect.getsourcelines(build)[1] + 0 or w.lineno > 0
    assert f"outside {op}'s domain" in str(w.message) and fix in str(w.message)


def test_where_trap_message_and_line():
    x = gc.var("x")
    y = gc.sum(gc.where(x > 0, gc.sqrt(x), 0))
    line = _line() - 1
    _, caught = _trap_warnings(y, x)
    assert [(w.filename, w.lineno) for w in caught] == [(HERE, line)]
    assert str(caught[0].message) == (
        f"{_at(line)}: where(x > 0, sqrt(x), 0) gives NaN gradients where x > 0 selects the "
        "other branch and x is outside sqrt's domain: the derivative of sqrt(x), inf or NaN "
        "there, is multiplied by 0. Guard the input with the same condition: "
        "where(x > 0, sqrt(where(x > 0, x, 1)), 0)"
    )


def test_safe_double_where_and_unrelated_forms_do_not_warn():
    x, m, u = gc.var("x"), gc.var("m", dtype=bool), gc.var("u")
    safe = [
        gc.where(x > 0, gc.sqrt(gc.where(x > 0, x, 1.0)), 0),  # the fix, conditions built apart
        gc.where(x > 0, 0, gc.log(gc.where(x > 0, 1.0, x))),  # the other side
        gc.where(u > 0, gc.sqrt(x), 0) + gc.where(m, gc.sqrt(x), 0),  # not x's guard
        gc.where(x > 0, gc.exp(x), x),  # no singular op
        gc.where(x > 0, gc.sqrt(gc.stop_gradient(x)), 0),  # no derivative flows
    ]
    for y in safe:
        g, caught = _trap_warnings(gc.sum(y), x)
        assert caught == [], str(y)
    # and the fix's gradient is finite where the trap's is NaN
    xs = np.array([4.0, -1.0, 0.0])
    fixed = gc.compile([x], gc.grad(gc.sum(safe[0]), x))(xs)
    np.testing.assert_array_equal(fixed, [0.25, 0.0, 0.0])


def test_inputs_that_provably_stay_in_the_domain_do_not_warn():
    """The ops' images (OpDef.image) bound the guarded input: these cannot reach the bad
    points, whatever x is; their floating-point look-alikes can, and still warn."""
    x = gc.var("x")
    safe = [
        gc.where(x > 0, gc.sqrt(x * x + 1), 0),
        gc.where(x > 0, gc.arcsin(4 * gc.tanh(x) / 5), 0),
        gc.where(x > 0, gc.log(gc.sigmoid(x) + 0.5), 0),
        gc.where(x > 0, 1 / (gc.cosh(x) + 1), 0),
    ]
    for y in safe:
        assert _trap_warnings(gc.sum(y), x)[1] == [], str(y)
    risky = [
        gc.where(x > 0, gc.sqrt(gc.exp(x)), 0),  # exp underflows to 0: sqrt'(0) is inf
        gc.where(x > 0, gc.arcsin(gc.tanh(x)), 0),  # tanh rounds to 1 for x > 19
        gc.where(x > 0, gc.sqrt(x * x), 0),  # 0 at x = 0
    ]
    for y in risky:
        assert len(_trap_warnings(gc.sum(y), x)[1]) == 1, str(y)


# --- gradient bisection in check_grad --------------------------------------------------


@pytest.fixture
def bad_sin():
    """A copy of sin whose VJP is wrong (1.5 cos x), under a test name."""
    op = elementwise("test_bad_sin", np.sin, "np.sin({0})", lambda y, x: gc.cos(x) * 1.5)
    yield op
    unregister("test_bad_sin")


def _cos(x):
    return np.cos(x)  # not a ufunc: emitted by its template, never as `np.cos(..., out=)`


@pytest.fixture
def bad_emit():
    """A copy of cos whose emitted code is wrong (the eager tape runs its correct `impl`), and
    a copy of sin whose VJP uses it: only the compiled gradient is wrong."""
    cos2 = elementwise("test_cos_emit", _cos, "(-np.cos({0}))", lambda y, x: -gc.sin(x))
    sin2 = elementwise("test_sin_cos2", np.sin, "np.sin({0})", lambda y, x: cos2(x))
    yield sin2
    unregister("test_sin_cos2")
    unregister("test_cos_emit")


def test_bisection_names_the_operation_with_a_wrong_vjp_and_its_line(bad_sin):
    x, w = gc.var("x"), gc.var("W")
    h = gc.tanh(gc.dot(x, w))
    z = bad_sin(h)
    line = _line() - 1
    loss = gc.sum(gc.exp(z) * 2)
    at = {"x": np.array([[0.5, -0.2]]), "W": np.array([[0.3, 0.1], [-0.4, 0.2]])}
    with pytest.raises(gc.GradientCheckError) as info:
        gc.check_grad(loss, ["x", "W"], at)
    err = info.value
    assert (err.first_wrong_vjp["op"], err.first_wrong_vjp["line"]) == ("test_bad_sin", _at(line))
    assert err.agree == {
        ("compiled", "finite differences"): False,
        ("eager", "finite differences"): False,
        ("compiled", "eager"): True,
    }
    message = str(err)
    assert message.startswith("check_grad: d(sum output)/d ")  # the worst entry, as before
    assert (
        "compiled and finite differences disagree; eager and finite differences disagree; "
        "compiled and eager agree: the derivative rules both use are wrong here"
    ) in message
    assert (
        f"the first operation whose VJP disagrees with finite differences of it alone is "
        f"test_bad_sin at {_at(line)} (input 0, entry [0, "
    ) in message
    assert message.endswith("\n    z = bad_sin(h)")


def test_correct_vjps_pass_and_a_wrong_emission_is_told_apart(bad_emit):
    x = gc.var("x")
    assert gc.check_grad(gc.sum(gc.sin(x) * x), x, {"x": np.linspace(0.1, 1.0, 4)}) < 1e-8
    with pytest.raises(gc.GradientCheckError) as info:
        gc.check_grad(gc.sum(bad_emit(x)), x, {"x": np.linspace(0.1, 1.0, 3)})
    err = info.value
    assert err.agree == {
        ("compiled", "finite differences"): False,
        ("eager", "finite differences"): True,
        ("compiled", "eager"): False,
    }
    assert err.first_wrong_vjp is None  # each rule is right: the compiled program is not
    assert "the compiled program differs from the rules run eagerly" in str(err)
    assert "every operation's VJP agrees with finite differences of it alone" in str(err)


def test_bisection_in_the_recurrence_names_the_first_wrong_step(bad_sin):
    a = gc.var("a", shape=())
    xs = [gc.var(f"x{i}", shape=(2,)) for i in range(3)]
    h = gc.tanh(a * gc.var("h0", shape=(2,)) + xs[0])
    h = bad_sin(a * h + xs[1])  # the second step uses the copy with the wrong VJP
    line = _line() - 1
    h = gc.tanh(a * h + xs[2])
    loss = gc.sum(h)
    at = {"a": np.array(0.7), "h0": np.array([0.1, -0.3])}
    at.update({f"x{i}": np.array([0.2 * i, -0.1]) for i in range(3)})
    with pytest.raises(gc.GradientCheckError) as info:
        gc.check_grad(loss, "a", at)
    assert (info.value.first_wrong_vjp["op"], info.value.first_wrong_vjp["line"]) == (
        "test_bad_sin",
        _at(line),
    )
    # the same recurrence with sin passes, as before
    h = gc.var("h0", shape=(2,))
    for xt in xs:
        h = gc.sin(a * h + xt)
    assert gc.check_grad(gc.sum(h), "a", at) < 1e-8
