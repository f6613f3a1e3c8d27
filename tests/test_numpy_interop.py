"""numpy's functions on graphc values (issue 15, item 5): `np.exp(x)`, `np.sum(x, axis=0)`,
`a @ x` build nodes on symbols and compute (and record) on eager tensors; what graphc lacks
raises an `UnsupportedError` naming it, why, and the nearest supported names."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
from op_recipes import RECIPES, find_node, make_args

import graphc as gc
from graphc import testing
from graphc.numpy_interop import numpy_table
from graphc.ops import OPS
from graphc.ops.base import elementwise, unregister
from graphc.parse import parse

eager = pytest.importorskip("graphc.eager")

A = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


def _run(inputs, output, *arrays):
    return gc.compile(list(inputs), [output])(*arrays)[0]


def test_the_issues_examples_build_nodes():
    x, y = gc.var("x", shape=(2, 3)), gc.var("y", shape=(2, 3))
    m = np.arange(6.0).reshape(3, 2)
    built = {
        "exp(x)": np.exp(x),
        "sum(x, axis=0)": np.sum(x, axis=0),
        "matmul(m, x)": np.matmul(m, x),
        "m @ x": m @ x,
        "concatenate([x, y])": np.concatenate([x, y]),
        "mean(x)": np.mean(x),
        "where(x > 0, x, 0)": np.where(x > 0, x, 0),
        "add(x, 1)": np.add(x, 1),
        "var(x, ddof=1)": np.var(x, ddof=1),
        "amax(x, axis=1)": np.amax(x, axis=1),
        "linalg.norm(x)": np.linalg.norm(x),
    }
    want = {
        "exp(x)": np.exp(A),
        "sum(x, axis=0)": A.sum(0),
        "matmul(m, x)": m @ A,
        "m @ x": m @ A,
        "concatenate([x, y])": np.concatenate([A, 2 * A]),
        "mean(x)": A.mean(),
        "where(x > 0, x, 0)": np.where(A > 0, A, 0),
        "add(x, 1)": A + 1,
        "var(x, ddof=1)": A.var(ddof=1),
        "amax(x, axis=1)": A.max(1),
        "linalg.norm(x)": np.linalg.norm(A),
    }
    for key, y_ in built.items():
        assert isinstance(y_, gc.Symbol), key
        np.testing.assert_allclose(_run([x, y], y_, A, 2 * A), want[key], err_msg=key)
    assert str(np.exp(x)) == "exp(x)" and str(np.sum(x, axis=0)) == "sum(x, axis=0)"
    assert str(np.var(x, ddof=1)) == "variance(x, ddof=1)"


def test_eager_tensors_compute_and_record():
    t = eager.tensor(A, requires_grad=True)
    y = np.sum(np.exp(t) * np.float64(2.0), axis=0)
    assert isinstance(y, eager.Tensor) and y.requires_grad
    np.testing.assert_allclose(np.asarray(y), (2 * np.exp(A)).sum(0))
    np.sum(y).backward()
    np.testing.assert_allclose(t.grad, 2 * np.exp(A))


def test_numpy_defaults_are_kept():
    """numpy's defaults, not the op's: a ufunc's reduce runs along axis 0 (sum's default is
    every axis); np.cumsum flattens."""
    x = gc.var("x", shape=(2, 3))
    np.testing.assert_allclose(_run([x], np.add.reduce(x), A), np.add.reduce(A))
    np.testing.assert_allclose(_run([x], np.add.accumulate(x), A), np.add.accumulate(A))
    np.testing.assert_allclose(_run([x], np.cumsum(x), A), np.cumsum(A))
    np.testing.assert_allclose(_run([x], np.sort(x), A), np.sort(A))


@pytest.mark.parametrize(
    "method, call",
    [
        ("add.reduce", lambda u, x: u.add.reduce(x, axis=1, keepdims=True)),
        ("multiply.reduce", lambda u, x: u.multiply.reduce(x, axis=None)),
        ("maximum.reduce", lambda u, x: u.maximum.reduce(x)),
        ("minimum.reduce", lambda u, x: u.minimum.reduce(x, axis=-1)),
        ("logaddexp.reduce", lambda u, x: u.logaddexp.reduce(x, axis=1)),
        ("add.accumulate", lambda u, x: u.add.accumulate(x, axis=1)),
        ("multiply.accumulate", lambda u, x: u.multiply.accumulate(x)),
        ("multiply.outer", lambda u, x: u.multiply.outer(x, np.array([1.0, -2.0]))),
        ("subtract.outer", lambda u, x: u.subtract.outer(np.array([1.0, -2.0]), x)),
        ("maximum.outer", lambda u, x: u.maximum.outer(x[0], x)),
    ],
)
def test_ufunc_methods_values_and_gradients(method, call):
    x = gc.var("x", shape=(2, 3))
    y = call(np, x)
    assert isinstance(y, gc.Symbol), method
    np.testing.assert_allclose(_run([x], y, A), call(np, A), err_msg=method)
    t = eager.tensor(A)
    np.testing.assert_allclose(np.asarray(call(np, t)), call(np, A), err_msg=method)
    testing.assert_grads(lambda v: call(np, v), [A], order=1)


def test_ufunc_outer_needs_ranks():
    x = gc.var("x")
    with pytest.raises(gc.ShapeError, match=r"numpy.multiply.outer: needs the rank"):
        np.multiply.outer(x, np.ones(2))


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda x: np.subtract.reduce(x), "numpy.subtract.reduce is not supported: gc.subtract"),
        (lambda x: np.add.at(x, [0], 1.0), "numpy.add.at is not supported"),
        (lambda x: np.add.reduceat(x, [0, 1]), "numpy.add.reduceat is not supported"),
        (lambda x: np.exp(x, out=np.ones((2, 3))), "numpy.exp: out= is not supported"),
        (lambda x: np.sum(x, out=np.ones(3)), "numpy.sum: out= is not supported"),
        (lambda x: np.exp(x, where=True), "numpy.exp: the argument where=True"),
        (
            lambda x: np.sum(x, dtype=np.float32),
            re.escape(
                "numpy.sum: the argument dtype=<class 'numpy.float32'> is not supported by "
                "gc.sum (its keywords: axis, keepdims)"
            ),
        ),
        (lambda x: np.add.reduce(x, initial=1.0), "numpy.add.reduce: the argument initial"),
        (lambda x: np.clip(x, min=0, max=1), "the argument min=0 is not supported by gc.clip"),
        (lambda x: np.sort(x, kind="stable"), "numpy.sort: the argument kind='stable'"),
        (
            lambda x: np.unique(x),
            "numpy.unique is not supported by graphc: the result's shape depends on the values",
        ),
        (lambda x: np.gcd(x, x), "numpy.gcd is not supported by graphc: integer and bit"),
        (lambda x: np.fft.fft(x), r"numpy.fft.fft is not supported by graphc \(no op in"),
        (
            lambda x: np.argmax(x),
            "numpy.argmax is not supported .* \\(did you mean amax, max\\?\\)",
        ),
        (lambda x: np.linalg.trace(x), "numpy.linalg.trace is not supported .* last two axes"),
    ],
)
def test_what_graphc_lacks_is_an_unsupported_error(call, words):
    x = gc.var("x", shape=(2, 3))
    with pytest.raises(gc.UnsupportedError, match=words):
        call(x)
    with pytest.raises(gc.UnsupportedError, match=words):
        call(eager.tensor(A, requires_grad=True))
    assert issubclass(gc.UnsupportedError, TypeError)


def test_in_place_operator_on_a_numpy_array_is_refused():
    a, x = np.zeros((2, 3)), gc.var("x", shape=(2, 3))
    with pytest.raises(gc.UnsupportedError, match=r"`a \+= x` with `a` a numpy array"):
        a += x
    assert not a.any()  # nothing written


def test_eager_tensors_without_gradient_fall_back_to_numpy():
    """What graphc lacks, numpy computes on the values of tensors that need no gradient (a
    plain array, as for PyTorch's tensors); with a gradient it is an error (above)."""
    t = eager.tensor(A)
    np.testing.assert_array_equal(np.unique(t), np.unique(A))
    np.testing.assert_array_equal(np.isnan(t), np.zeros((2, 3), bool))
    assert np.allclose(t, A)
    out = np.zeros((2, 3))
    np.exp(t, out=out)
    np.testing.assert_allclose(out, np.exp(A))
    with pytest.raises(gc.UnsupportedError, match="out="):
        np.exp(A, out=(t,))
    mixed = eager.tensor(A, requires_grad=True)
    with pytest.raises(gc.UnsupportedError, match="numpy.allclose"):
        np.allclose(mixed, t)


def test_an_op_with_a_numpy_name_is_reached_at_once():
    """The mapping is derived from the op table: a new op named as numpy names it is what
    numpy's function calls, and only while it is registered."""
    x = gc.var("x", shape=(3,))
    with pytest.raises(gc.UnsupportedError, match="numpy.hypot"):
        np.hypot(x, x)
    elementwise(
        "hypot",
        np.hypot,
        "np.hypot({0}, {1})",
        (lambda y, a, b: a / y, lambda y, a, b: b / y),
    )
    try:
        y = np.hypot(x, 2.0)
        assert find_node(y, "hypot") is y
        np.testing.assert_allclose(_run([x], y, np.ones(3)), np.hypot(1.0, 2.0) * np.ones(3))
    finally:
        unregister("hypot")
    with pytest.raises(gc.UnsupportedError, match="numpy.hypot"):
        np.hypot(x, x)


def test_gc_attribute_and_parser_suggest_names():
    with pytest.raises(AttributeError, match=r"gc.expp .*did you mean exp"):
        gc.expp  # noqa: B018
    with pytest.raises(gc.GraphcError, match=r"numpy.absolute is gc.abs"):
        gc.absolute  # noqa: B018
    with pytest.raises(AttributeError, match=r"gc.unique .*shape depends on the values"):
        gc.unique  # noqa: B018
    assert not hasattr(gc, "no_such_thing")
    with pytest.raises(gc.ParseError, match=r"'expp' is not a gc function .*did you mean exp"):
        parse("expp(x)")


# --- every ufunc the op table has --------------------------------------------------------


def _ufuncs():
    return sorted(
        {(name, op.name) for obj, (name, op) in numpy_table().items() if isinstance(obj, np.ufunc)}
    )


def _largest_case(op_name, rng):
    cases = RECIPES[op_name].cases
    case = max(
        cases, key=lambda c: sum(np.prod(s.shape if hasattr(s, "shape") else s) for s in c[0])
    )
    return make_args(op_name, case, rng)


@pytest.mark.parametrize("name, op_name", _ufuncs())
def test_every_ufunc_of_the_op_table(name, op_name, rng):
    """np.<ufunc>(x) builds the op's node and computes what gc.<op>(x) does, compiled and
    eager; its gradients (where it has any) flow and match finite differences."""
    ufunc, op = getattr(np, name), OPS[op_name]
    arrays, attrs = _largest_case(op_name, rng)
    assert not attrs
    xs = [gc.var(f"x{i}", shape=a.shape, dtype=a.dtype) for i, a in enumerate(arrays)]
    y = ufunc(*xs)
    assert isinstance(y, gc.Symbol) and find_node(y, op_name) is not None
    compiled = gc.compile(xs, [y, op(*xs)])(*arrays)
    np.testing.assert_allclose(compiled[0], compiled[1], rtol=1e-12)
    np.testing.assert_allclose(compiled[0], ufunc(*arrays), rtol=1e-12)
    tensors = [eager.tensor(a) for a in arrays]
    got = ufunc(*tensors)
    assert isinstance(got, eager.Tensor)
    np.testing.assert_allclose(np.asarray(got), compiled[0], rtol=1e-12)
    if op.differentiable and not op.comparison:
        testing.assert_grads(lambda *vs: ufunc(*vs), arrays, order=1)


# --- every numpy function the op table has -------------------------------------------------


def _array_functions():
    return sorted(
        name
        for obj, (name, op) in numpy_table().items()
        if not isinstance(obj, np.ufunc) and op.name in RECIPES and RECIPES[op.name].call is None
    )


@pytest.mark.parametrize("name", _array_functions())
def test_every_array_function_computes_what_numpy_does(name, rng):
    """np.<function>(symbols, **attrs) on each case of its op's recipe computes what numpy
    computes on the values: numpy's parameters and defaults reach the op as numpy means them
    (a function numpy does not dispatch, np.eye, needs no graphc operand)."""
    func = getattr(np.linalg, name[7:]) if name.startswith("linalg.") else getattr(np, name)
    if not hasattr(func, "_implementation"):
        pytest.skip(f"numpy.{name} does not dispatch on its arguments")
    op, checked = numpy_table()[func][1], 0
    params = inspect.signature(func).parameters.values()
    by_position = [p.name for p in params if p.kind is p.POSITIONAL_ONLY]
    for case in RECIPES[op.name].cases:
        arrays, attrs = make_args(op.name, case, rng)
        attrs = dict(attrs)  # the recipe's own dict: not to be changed
        arrays += [attrs.pop(n) for n in by_position if n in attrs]  # np.astype(x, dtype, /)
        try:  # a case numpy's variant refuses (np.linalg.outer of matrices)
            want = func(*arrays, **attrs)
        except (TypeError, ValueError):
            continue
        xs = [
            gc.var(f"x{i}", shape=a.shape, dtype=a.dtype)
            if isinstance(a, (np.ndarray, np.generic))
            else a
            for i, a in enumerate(arrays)
        ]
        y = func(*xs, **attrs)
        outs = list(y) if isinstance(y, (list, tuple)) else [y]
        wants = list(want) if isinstance(want, (list, tuple)) else [want]
        assert len(outs) == len(wants)
        inputs = [x for x in xs if isinstance(x, gc.Symbol)]
        values = [a for a in arrays if isinstance(a, (np.ndarray, np.generic))]
        for got, w in zip(gc.compile(inputs, outs)(*values), wants):
            np.testing.assert_allclose(got, w, rtol=1e-9, atol=1e-12, err_msg=f"{name} {case}")
        checked += 1
    assert checked, f"no case of {op.name}'s recipe is a numpy.{name} call"
