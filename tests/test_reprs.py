"""What a user sees of functions and executors: reprs with types, grad_req and backend, the
emitted source in Jupyter, and `Executor.zero_grad`."""

import numpy as np
import pytest

import graphc as gc


def test_function_repr_counts_programs_and_shows_types():
    x = gc.var("x", dtype="float32")
    f = gc.compile([x], gc.exp(x))
    assert repr(f) == "<graphc.Function (x: float32[...]) -> float32[...], numpy, 0 programs>"
    f(np.ones(2, np.float32)), f(np.ones(3, np.float32))
    assert repr(f).endswith("numpy, 2 programs>")


def test_executor_repr_shows_each_grad_req():
    x, w = gc.var("x"), gc.var("w")
    exe = gc.sum(x @ w).bind(
        {"x": np.ones((2, 3)), "w": np.ones(3, np.float32)}, grad_req={"x": "null", "w": "add"}
    )
    assert repr(exe) == (
        "<graphc.Executor (x: float64[2, 3] null, w: float32[3] add) -> "
        "(sum0_output: float64[]), numpy>"
    )


def test_jupyter_shows_the_source_highlighted():
    pytest.importorskip("pygments")
    x = gc.var("x")
    f = gc.compile([x], gc.sin(x) * 2)
    f(np.ones(2))
    page = f._repr_html_()
    assert page.startswith("<p><code>&lt;graphc.Function (x: ?[...])")
    assert "<span" in page and "sin" in page  # pygments' spans
    exe = gc.sum(gc.sin(x)).bind({"x": np.ones(2)})
    assert "grad_x" in exe._repr_html_()


def test_zero_grad_zeroes_in_place():
    x = gc.var("x")
    grad = np.zeros(2)
    exe = gc.sum(x * x).bind({"x": np.array([1.0, 2.0])}, {"x": grad}, grad_req="add")
    exe.forward(is_train=True)
    exe.backward()
    exe.backward()
    np.testing.assert_array_equal(grad, [4.0, 8.0])
    exe.zero_grad()
    assert exe.grad_dict["x"] is grad and not grad.any()
    exe.backward()
    np.testing.assert_array_equal(grad, [2.0, 4.0])
