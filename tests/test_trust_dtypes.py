"""Trust in gradients' shapes and dtypes (issue 11, items 2-4): a gradient has its input's
shape and dtype in every mode, an output of unknown shape is checked for scalar-ness once
shapes are known, and integer data is never differentiated silently."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import graphc as gc
from graphc import eager
from graphc.ops import index_grad

# --- dtypes -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_index_gradient_keeps_the_input_dtype(dtype):
    # NumPy 2 promotes the head 1.0 with float16 to float16: the gradient lost precision.
    x = gc.var("x")
    data = np.array([1.0, 2.0, 3.0], dtype)
    g = gc.compile([x], gc.grad(gc.sin(x)[1], x))(data)
    assert g.dtype == dtype
    np.testing.assert_allclose(g, [0.0, np.cos(2.0), 0.0], rtol=1e-6)
    t = eager.tensor(data, requires_grad=True)
    eager.sin(t)[1].backward()
    assert t.grad.dtype == dtype
    np.testing.assert_allclose(t.grad.numpy(), g)


def test_index_grad_in_plain_numpy_takes_the_dtype_next_to_like():
    out = index_grad(1.0, np.zeros(3, np.float32), index=(1,))
    assert out.dtype == np.float32 and out.tolist() == [0.0, 1.0, 0.0]
    out = index_grad(np.float64(2.0), np.zeros(3, np.float32), index=(0,))
    assert out.dtype == np.float64
    x = gc.var("x", dtype=np.float32)
    assert index_grad(1.0, x, index=(1,)).dtype == np.float32


def test_one_hot_dtype_agrees_with_its_rule():
    from graphc.ops import one_hot

    like = np.zeros((2, 3), np.int8)  # NumPy 2: int8 with float16 is float16
    assert one_hot(np.array([0, 2]), like).dtype == np.float64
    sym = one_hot(gc.var("l", dtype=np.int64), gc.var("z", dtype=np.int8))
    assert sym.dtype == np.float64
    assert one_hot(np.array([1]), np.zeros((1, 2), np.float32)).dtype == np.float32


@pytest.mark.parametrize("declared", [None, np.float64])
def test_gradient_through_astype_has_the_input_dtype(declared):
    x = gc.var("x", dtype=declared)
    y = gc.sum(gc.sin(x.astype(np.float32)))
    data = np.array([1.0, 2.0, 3.0])
    g = gc.compile([x], gc.grad(y, x))(data)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, np.cos(data), rtol=1e-6)
    exe = y.bind({"x": data})
    exe.forward(is_train=True)
    exe.backward()
    assert exe.grad_dict["x"].dtype == np.float64
    t = eager.tensor(data, requires_grad=True)
    eager.sum(eager.sin(t.astype(np.float32))).backward()
    assert t.grad.dtype == np.float64
    _, gv = gc.value_and_grad(lambda a: gc.sum(gc.sin(a.astype(np.float32))))(data)
    assert gv.dtype == np.float64


def test_float32_input_gets_a_float32_gradient_next_to_float64_constants():
    x = gc.var("x")
    data = np.arange(3.0, dtype=np.float32)
    g = gc.compile([x], gc.grad(gc.sum(x * np.ones(3)), x))(data)  # y is float64
    assert g.dtype == np.float32 and g.tolist() == [1.0, 1.0, 1.0]
    exe = gc.grad(gc.sum(x * np.ones(3)), x).bind({"x": data})
    assert exe.forward()[0].dtype == np.float32


# --- outputs of unknown shape ---------------------------------------------------------------


def test_unknown_shape_output_is_checked_when_compiled():
    x = gc.var("x")
    y, line = 2 * x, sys._getframe().f_lineno  # the line that built the output
    g = gc.grad(y, x)
    assert str(g) == "2"
    f = gc.compile([x], g)
    with pytest.raises(
        gc.GradError,
        match=rf"scalar.*shape \(3,\); built at .*"
        rf"test_trust_dtypes.py:{line}",
    ):
        f(np.arange(3.0))
    assert f(1.5) == 2.0
    assert f(np.array([1.5])).tolist() == [2.0]  # size 1 is a scalar, as in PyTorch
    assert "_checked_grad" not in f.source  # the check costs nothing once specialised


def test_unknown_shape_output_is_checked_at_bind_simple_bind_and_infer_shape():
    v = gc.var("v")
    gs = gc.grad(gc.sin(v), v)
    assert str(gs) == "cos(v)" and gs.list_outputs() == ["cos0_output"]
    with pytest.raises(gc.GradError, match=r"shape \(3,\)"):
        gs.bind({"v": np.arange(3.0)})
    with pytest.raises(gc.GradError, match=r"shape \(3,\)"):
        gs.simple_bind(v=(3,))
    with pytest.raises(gc.GradError, match=r"shape \(2, 2\)"):
        gs.infer_shape(v=(2, 2))
    assert gs.infer_shape(v=())[1] == [()]
    assert gs.eval(v=np.float64(0.0))[0] == 1.0
    back = gc.load_json(gs.tojson())  # the check is part of the graph
    with pytest.raises(gc.GradError, match=r"shape \(3,\)"):
        gc.compile([v], back)(np.arange(3.0))
    with pytest.raises(gc.GradError, match=r"shape \(3,\)"):  # second order too
        gc.compile([v], gc.grad(gc.grad(gc.sum(gc.sin(v)), v), v))(np.arange(3.0))


def test_partly_known_output_shape():
    v = gc.var("v", shape=(None,))
    f = gc.compile([v], gc.grad(gc.sin(v), v))
    np.testing.assert_allclose(f(np.array([0.5])), np.cos([0.5]))
    with pytest.raises(gc.GradError, match=r"shape \(3,\)"):
        f(np.zeros(3))
    w = gc.var("w", shape=(None, 2))
    with pytest.raises(gc.GradError, match="head="):
        gc.grad(gc.sin(w), w)


def test_a_gradient_has_its_input_shape():
    x = gc.var("x")
    data = np.arange(3.0)
    assert gc.compile([x], gc.grad(2 * x, x, head=np.ones(3)))(data).tolist() == [2.0] * 3
    assert gc.compile([x], gc.grad(gc.sum(2 * x), x))(data).tolist() == [2.0] * 3
    z = gc.var("z")
    g = gc.compile([x, z], gc.grad(gc.sum(2 * x), z))(data, np.ones((2, 2)))
    assert g.shape == (2, 2) and not g.any()


def test_the_check_in_plain_numpy_and_eager_mode():
    from graphc.ops import checked_grad

    with pytest.raises(gc.GradError, match=r"shape \(3,\)"):
        checked_grad(np.ones(3), np.ones(3), np.ones(3))
    out = checked_grad(2.0, np.zeros(3, np.float32), np.ones(()))
    assert out.dtype == np.float32 and out.tolist() == [2.0] * 3
    with pytest.raises(gc.DTypeError, match="int64"):
        checked_grad(1.0, np.arange(3))
    t = eager.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(gc.GradError, match=r"shape \(3,\)"):
        checked_grad(t, t, t)
    s = checked_grad(t * 2, t)
    s.sum().backward()
    assert t.grad.tolist() == [2.0] * 3


def test_exported_generic_program_keeps_the_check(tmp_path):
    import importlib.util

    v = gc.var("v")
    f = gc.compile([v], gc.grad(gc.sin(v), v))
    path = tmp_path / "grad_module.py"
    f.export(path)  # before any call: the shape-generic program
    spec = importlib.util.spec_from_file_location("grad_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.fn(0.0) == 1.0
    with pytest.raises(ValueError, match=r"scalar.*\(3,\)"):
        module.fn(np.arange(3.0))


# --- integer data -------------------------------------------------------------------------


@pytest.mark.parametrize("data", [np.arange(3), np.array([True, False])])
def test_compiled_gradient_refuses_integer_data(data):
    v = gc.var("v")
    g = gc.grad(gc.sum(gc.sin(v)), v)
    pattern = rf"var 'v'.*{data.dtype}.*v\.astype\(float\)"
    with pytest.raises(gc.DTypeError, match=pattern):
        gc.compile([v], g)(data)
    with pytest.raises(gc.DTypeError, match=pattern):
        g.bind({"v": data})
    with pytest.raises(gc.DTypeError, match=pattern):
        g.infer_type(v=data.dtype)
    with pytest.raises(gc.DTypeError, match=pattern):
        g.eval(v=data)
    unreached = gc.grad(gc.sum(gc.sin(gc.var("w"))), v)  # zeros_like(v): refused too
    with pytest.raises(gc.DTypeError, match=pattern):
        gc.compile([gc.var("w"), v], unreached)(np.ones(2), data)


def test_every_entry_point_refuses_integer_data_alike():
    v = gc.var("v", dtype=np.int64)
    with pytest.raises(gc.DTypeError, match=r"v\.astype\(float\)"):
        gc.grad(gc.sum(gc.sin(v)), v)
    with pytest.raises(gc.DTypeError, match=r"a\.astype\(float\)"):
        gc.value_and_grad(lambda a: gc.sum(gc.sin(a)))(np.arange(3))
    x = gc.var("x")
    with pytest.raises(gc.DTypeError, match=r"x\.astype\(float\)"):
        gc.check_grad(gc.sum(gc.sin(x)), x, {"x": np.arange(3)})
    with pytest.raises(gc.DTypeError, match="'x'"):
        gc.sum(gc.sin(x)).bind({"x": np.arange(3)}, grad_req={"x": "write"})
    with pytest.raises(gc.DTypeError):
        eager.tensor(np.arange(3), requires_grad=True)
    # A string grad_req asks for the floating arguments' gradients: integer data (labels,
    # counts) simply gets none.
    n = gc.var("n")
    exe = gc.sum(x * n).bind({"x": np.ones(2), "n": np.array([1, 2])})
    assert set(exe.grad_dict) == {"x"}


def test_eager_create_graph_gradient_keeps_float32():
    data = np.arange(3.0, dtype=np.float32)
    t = eager.tensor(data, requires_grad=True)
    (dx,) = eager.grad(eager.sum(t * t * np.ones(3)), t, create_graph=True)
    assert dx.dtype == np.float32 and dx.numpy().tolist() == [0.0, 2.0, 4.0]
    (ddx,) = eager.grad(eager.sum(dx), t)
    assert ddx.dtype == np.float32 and ddx.numpy().tolist() == [2.0, 2.0, 2.0]
    t = eager.tensor(data, requires_grad=True)
    eager.sum(t * t * np.ones(3)).backward(create_graph=True)
    assert t.grad.dtype == np.float32


def test_real_input_of_a_complex_computation_gets_the_real_part(recwarn):
    x = gc.var("x")
    g = gc.compile([x], gc.grad(gc.sum(x * (2 + 1j)), x))(np.arange(3.0))
    assert g.dtype == np.float64 and g.tolist() == [2.0] * 3  # as JAX: the real part
    assert not [w for w in recwarn if "Complex" in str(w.category)]


def test_full_reduction_of_unknown_rank_is_a_scalar():
    x = gc.var("x")
    assert gc.sum(x).shape == () and gc.mean(x * x).shape == ()
    g = gc.grad(gc.sum(gc.sin(x) * gc.var("z")), x)
    assert "z" in g.list_arguments()  # (through the derivative, not a deferred check)
    assert g.op != "checked_grad" or len(g.inputs) == 2
