"""Python protocols: copy, deepcopy and pickle of symbols, compiled functions and executors
(pickle goes through the validated JSON form)."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import graphc as gc
from graphc.ir import LoadedOrigin
from graphc.mixin import ArrayMixin


@pytest.fixture
def no_comparisons(monkeypatch):
    """Fail if anything compares symbols (that would build comparison nodes)."""

    def refuse(self, other):
        raise AssertionError("a symbol was compared")

    monkeypatch.setattr(ArrayMixin, "__eq__", refuse)
    monkeypatch.setattr(ArrayMixin, "__ne__", refuse)


def test_copy_and_deepcopy_of_a_symbol_are_the_symbol(no_comparisons):
    x = gc.var("x")
    y = gc.sin(x) * 2
    assert copy.copy(y) is y and copy.deepcopy(y) is y
    box = {"y": y, "pair": [y, x], "t": (x,)}
    dup = copy.deepcopy(box)
    assert dup is not box and dup["pair"] is not box["pair"]
    assert dup["y"] is y and dup["pair"][0] is y and dup["pair"][1] is x and dup["t"][0] is x


def test_pickle_of_a_symbol_goes_through_load_json():
    x = gc.var("x", shape=(3,))
    y = gc.sum(gc.sin(x) * 2)
    loader, args = y.__reduce__()
    assert loader is gc.load_json and args == (y.tojson(),)
    z = pickle.loads(pickle.dumps(y))
    assert str(z) == str(y) and z.list_arguments() == ["x"]
    assert isinstance(z.origin, LoadedOrigin) and z.where() == y.where()
    data = np.arange(3.0)
    np.testing.assert_allclose(z.eval(x=data)[0], y.eval(x=data)[0])


def test_pickle_of_a_group_and_of_control_flow():
    x = gc.var("x")
    g = gc.Group([gc.sin(x), gc.fori_loop(0, 3, lambda i, s: s * x, x)])
    h = pickle.loads(pickle.dumps(g))
    assert h.op == "group" and h.list_outputs() == g.list_outputs()
    for a, b in zip(h.eval(x=np.array(2.0)), g.eval(x=np.array(2.0))):
        np.testing.assert_allclose(a, b)


def test_a_tampered_pickle_is_refused_by_the_json_validation():
    x = gc.var("x")
    data = pickle.dumps(gc.sin(x)).replace(b'"sin"', b'"zzz"')  # same length
    with pytest.raises(gc.SerializationError, match="unknown operation"):
        pickle.loads(data)


def test_pickle_and_copy_of_a_function():
    x, w = gc.var("x"), gc.var("w")
    f = gc.compile([x, w], [gc.sin(x) * w, w], simplify=False)
    assert copy.copy(f) is f and copy.deepcopy(f) is f
    g = pickle.loads(pickle.dumps(f))
    assert g.simplify is False and [v.name for v in g.inputs] == ["x", "w"]
    args = (np.arange(3.0), np.array(2.0))
    for a, b in zip(g(*args), f(*args)):
        np.testing.assert_allclose(a, b)
    single = pickle.loads(pickle.dumps(gc.compile([x], gc.exp(x))))
    np.testing.assert_allclose(single(np.zeros(2)), [1.0, 1.0])  # one output, not a tuple


def test_pickle_of_a_gradient_function_keeps_its_output_names():
    x = gc.var("x")
    f = gc.Function([x], [gc.sum(x * x), 2 * x], output_names=["loss", "grad_x"])
    g = pickle.loads(pickle.dumps(f))
    assert g.output_names == ["loss", "grad_x"] and "grad_x" in g.source


def test_pickle_and_copy_of_an_executor():
    x, w = gc.var("x"), gc.var("w")
    exe = gc.sum(gc.sin(x) * w).bind({"x": np.ones(2), "w": np.arange(2.0)}, grad_req={"w": "add"})
    exe.forward(is_train=True)
    exe.backward()
    shallow = copy.copy(exe)
    assert shallow.arg_dict["x"] is exe.arg_dict["x"]
    assert shallow.grad_dict["w"] is exe.grad_dict["w"]
    for other in (copy.deepcopy(exe), pickle.loads(pickle.dumps(exe))):
        assert other.arg_dict["x"] is not exe.arg_dict["x"]
        assert dict(other.grad_req) == {"x": "null", "w": "add"}
        np.testing.assert_array_equal(other.grad_dict["w"], exe.grad_dict["w"])
        other.forward(is_train=True)
        other.backward()  # "add": accumulates onto the copied gradient
        np.testing.assert_allclose(other.grad_dict["w"], 2 * np.sin(np.ones(2)))
        np.testing.assert_allclose(exe.grad_dict["w"], np.sin(np.ones(2)))
