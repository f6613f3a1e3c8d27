"""Wrong argument counts, keyword names and attr types are graphc errors (issue 11, item 7):
an `ArgumentError` (both a `GraphcError` and a `TypeError`) naming the function and what was
expected, for every `gc` function and every op of the table, on symbols, eager tensors and
numpy arrays; numpy's own complaints in plain-numpy mode are the errors symbolic mode raises."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.eager import tensor

pytestmark = pytest.mark.filterwarnings("ignore")

OPS = sorted(name for name in gc.__all__ if isinstance(getattr(gc, name), gc.ops.OpDef))
JUNK = ["a", 2.5, {"k": 1}, (0, "b"), None, object(), -7, True]


def _operands():
    return [
        gc.var("x", shape=(3,)),
        tensor([1.0, 2.0, 3.0], requires_grad=True),
        np.array([1.0, 2.0, 3.0]),
    ]


def _only_graphc_errors(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except gc.GraphcError:
        pass


@pytest.mark.parametrize("name", OPS)
def test_every_op_refuses_bad_calls_with_graphc_errors(name):
    fn, op = getattr(gc, name), gc.ops.OPS[name]
    for a in _operands():
        _only_graphc_errors(fn, a, a, a, a, a, a)
        _only_graphc_errors(fn, a, bogus=1)
        _only_graphc_errors(fn)
        for junk in JUNK:
            _only_graphc_errors(fn, a, junk)
            _only_graphc_errors(fn, junk)
            _only_graphc_errors(fn, [a, a], junk)
            for attr in op.attr_names:
                _only_graphc_errors(fn, a, **{attr: junk})
                _only_graphc_errors(fn, [a, a], **{attr: junk})


@pytest.mark.parametrize("name", sorted(set(gc.__all__) - set(OPS) - {"Symbol", "Graph"}))
def test_every_api_function_refuses_bad_calls_with_graphc_errors(name):
    fn = getattr(gc, name)
    if isinstance(fn, type) and issubclass(fn, BaseException):
        return
    x = gc.var("x", shape=(3,))
    _only_graphc_errors(fn, x, x, x, x, x, x, x)
    _only_graphc_errors(fn, x, bogus=1)
    for junk in JUNK:
        _only_graphc_errors(fn, junk)
        _only_graphc_errors(fn, x, junk)
        _only_graphc_errors(fn, x, x, junk)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda x: gc.sum(x, axis=2.0), "sum: axis must be an int or a tuple of ints, got 2.0"),
        (lambda x: gc.exp(x, x), "exp() takes 1 array argument, got 2"),
        (
            lambda x: gc.sum(x, axes=0),
            (
                "sum(): got an unexpected keyword argument 'axes'; "
                "expected sum(x, axis=None, keepdims=False)"
            ),
        ),
        (lambda x: gc.reshape(x, "a"), "reshape: shape must be a tuple of ints, got 'a'"),
        (lambda x: gc.transpose(x, axes=(0, "b")), "transpose: axis must be an int"),
        (lambda x: gc.clip(x, lo="a"), "clip(): got an unexpected keyword argument 'lo'"),
        (
            lambda x: gc.compile([], 3.0),
            ("compile: outputs must be a symbol or a list of symbols, got float"),
        ),
        (
            lambda x: gc.grad(x),
            (
                "grad(): missing a required argument: 'wrt'; expected "
                "grad(y, wrt, head=None, simplify=True)"
            ),
        ),
        (lambda x: gc.var("v", bogus=1), "var(): got an unexpected keyword argument 'bogus'"),
        (lambda x: gc.const(1.0, name=2), "const: name must be a string, got int"),
        (lambda x: gc.value_and_grad(), "value_and_grad(): missing a required argument: 'fn'"),
        (lambda x: gc.while_loop(x, x, x), "while_loop: cond_fun must be a function, got "),
    ],
)
@pytest.mark.parametrize("kind", ["symbol", "eager", "numpy"])
def test_argument_errors_name_the_function_and_what_was_expected(call, words, kind):
    x = dict(zip(["symbol", "eager", "numpy"], _operands()))[kind]
    with pytest.raises(gc.ArgumentError) as info:
        call(x)
    assert isinstance(info.value, TypeError)  # `except TypeError` code keeps working
    assert words in str(info.value)


def test_op_argument_errors_give_the_users_line():
    with pytest.raises(gc.ArgumentError, match=r"test_argument_errors\.py:\d+: sum\(\): got"):
        gc.sum(gc.var("x"), axes=0)


@pytest.mark.parametrize("name", ["max", "min"])
def test_numpy_mode_raises_the_error_symbolic_mode_raises(name):
    fn, empty = getattr(gc, name), np.zeros((0,))
    with pytest.raises(gc.ShapeError) as symbolic:
        fn(gc.var("e", shape=(0,)))
    with pytest.raises(gc.ShapeError) as numpy_mode:
        fn(empty)
    with pytest.raises(gc.ShapeError) as eager:
        fn(tensor(empty))
    message = str(symbolic.value).split(": ", 1)[1].splitlines()[0]
    assert message in str(numpy_mode.value) and message in str(eager.value)


def test_numpy_mode_names_the_op_for_operands_it_cannot_take():
    with pytest.raises(gc.DTypeError, match="sin: .*operands: NoneType"):
        gc.sin(None)
    with pytest.raises(gc.ShapeError, match="sum: axis -7 is out of bounds"):
        gc.sum(np.ones(3), -7)
