"""The MXNet-style surface of SPEC section 4: names, inference, eval, bind, simple_bind and
the Executor's forward/backward with grad_req "write", "add" and "null"."""

from __future__ import annotations

import os

import numpy as np
import pytest

import graphc as gc

HERE = os.path.basename(__file__)


def _regression():
    x, w, b = gc.var("x"), gc.var("w"), gc.var("b")
    return gc.mse_loss(gc.matmul(x, w) + b, gc.var("y")), (x, w, b)


# --- names -------------------------------------------------------------------------------


def test_list_arguments_is_depth_first_left_to_right():
    a, b, c = gc.var("a"), gc.var("b"), gc.var("c")
    y = (c * a) + gc.exp(b) * c
    assert y.list_arguments() == ["c", "a", "b"]
    assert gc.Group([b * 2, a + c]).list_arguments() == ["b", "a", "c"]


def test_vars_sharing_a_name_are_one_argument():
    y = gc.var("x") * gc.var("x")
    assert y.list_arguments() == ["x"]
    exe = y.bind({"x": np.array([3.0])})
    exe.forward(is_train=True)
    exe.backward()
    np.testing.assert_allclose(exe.grad_dict["x"], [6.0])


def test_list_outputs_names():
    x = gc.var("x")
    assert x.list_outputs() == ["x"]
    assert (2 * gc.dot(x, x)).list_outputs() == ["multiply0_output"]
    g = gc.Group([gc.exp(x) * 2, gc.sum(x), x * 3])
    assert g.list_outputs() == ["multiply0_output", "sum0_output", "multiply1_output"]
    exe = g.bind({"x": np.ones(2)})
    exe.forward()
    assert list(exe.output_dict) == g.list_outputs()


# --- inference -----------------------------------------------------------------------------


def test_infer_shape_in_argument_order():
    loss, _ = _regression()
    args, outs = loss.infer_shape(x=(4, 3), w=(3, 2), b=(2,), y=(4, 2))
    assert loss.list_arguments() == ["x", "w", "b", "y"]
    assert args == [(4, 3), (3, 2), (2,), (4, 2)]
    assert outs == [()]


def test_infer_shape_partial_and_declared():
    x = gc.var("x", shape=(None, 3))
    w = gc.var("w")
    y = gc.matmul(x, w)
    args, outs = y.infer_shape(w=(3, 5))
    assert args == [(None, 3), (3, 5)]
    assert outs == [(None, 5)]


def test_infer_shape_inconsistent_names_op_shapes_and_line():
    a, b = gc.var("a"), gc.var("b")
    y = a + b  # the line the error must name
    line = _line_of("y = a + b  # the line")
    with pytest.raises(gc.ShapeError) as info:
        y.infer_shape(a=(2, 3), b=(4,))
    text = str(info.value)
    assert "add" in text and "(2, 3)" in text and "(4,)" in text
    assert f"{HERE}:{line}" in text


def test_infer_shape_bad_requests():
    x = gc.var("x", shape=(3,))
    y = x * 2
    with pytest.raises(gc.BindError, match="'z'"):
        y.infer_shape(z=(3,))
    with pytest.raises(gc.ShapeError, match="'x'"):
        y.infer_shape(x=(4,))
    with pytest.raises(gc.ShapeError):
        y.infer_shape(x="3")


def test_infer_type():
    x, n = gc.var("x"), gc.var("n", dtype=np.int32)
    y = x * n
    args, outs = y.infer_type(x=np.float32)
    assert args == [np.float32, np.int32]
    assert outs == [np.float64]  # numpy: float32 * int32 -> float64
    args, outs = (x * 2.0).infer_type(x=np.float32)
    assert outs == [np.float32]
    with pytest.raises(gc.DTypeError, match="'n'"):
        y.infer_type(n=np.float64)
    with pytest.raises(gc.BindError):
        y.infer_type(m=np.float64)


# --- eval ------------------------------------------------------------------------------------


def test_eval_returns_a_list():
    x, y = gc.var("x"), gc.var("y")
    out = gc.Group([x + y, x * y]).eval(x=np.array([1.0, 2.0]), y=np.array([3.0, 4.0]))
    assert isinstance(out, list) and len(out) == 2
    np.testing.assert_array_equal(out[0], [4.0, 6.0])
    np.testing.assert_array_equal(out[1], [3.0, 8.0])
    with pytest.raises(gc.BindError, match="missing"):
        (x + y).eval(x=np.ones(2))
    with pytest.raises(gc.BindError, match="did you mean 'y'"):
        (x + y).eval(x=np.ones(2), yy=np.ones(2))


def test_eval_of_a_var_does_not_alias_the_input():
    x = gc.var("x")
    data = np.ones(3)
    out = x.eval(x=data)[0]
    out[0] = 5.0
    assert data[0] == 1.0


# --- bind ------------------------------------------------------------------------------------


def test_bind_by_reference():
    x = gc.var("x")
    y = gc.sum(x * x)
    data = np.array([1.0, 2.0])
    exe = y.bind({"x": data})
    assert exe.arg_dict["x"] is data and exe.arg_arrays[0] is data
    assert exe.forward()[0] == 5.0
    exe.arg_dict["x"][...] = [3.0, 4.0]
    assert exe.forward()[0] == 25.0
    data[0] = 0.0
    assert exe.forward()[0] == 16.0
    with pytest.raises(TypeError):
        exe.arg_dict["x"] = np.zeros(2)  # rebinding goes through forward(x=...)


def test_bind_with_a_list_in_argument_order():
    loss, _ = _regression()
    rng = np.random.default_rng(0)
    arrays = [
        rng.normal(size=(4, 3)),
        rng.normal(size=(3, 2)),
        rng.normal(size=2),
        rng.normal(size=(4, 2)),
    ]
    exe = loss.bind(arrays)
    assert [exe.arg_dict[n] is a for n, a in zip(loss.list_arguments(), arrays)] == [True] * 4
    with pytest.raises(gc.BindError, match="expected 4"):
        loss.bind(arrays[:3])


def test_args_grad_written_in_place():
    x, w = gc.var("x"), gc.var("w")
    y = gc.sum(gc.tanh(x * w))
    xv, wv = np.array([0.5, -1.0]), np.array([2.0, 0.3])
    gx, gw = np.full(2, 7.0), np.full(2, 7.0)
    exe = y.bind({"x": xv, "w": wv}, args_grad={"x": gx, "w": gw})
    exe.forward(is_train=True)
    exe.backward()
    d = 1 - np.tanh(xv * wv) ** 2
    assert exe.grad_dict["x"] is gx and exe.grad_dict["w"] is gw
    np.testing.assert_allclose(gx, d * wv)
    np.testing.assert_allclose(gw, d * xv)
    assert exe.grad_arrays[0] is gx


def test_args_grad_none_allocates_for_every_floating_argument():
    x, n = gc.var("x"), gc.var("n")
    exe = gc.sum(x * n).bind({"x": np.ones(3), "n": np.arange(3)})
    assert set(exe.grad_dict) == {"x"}
    assert exe.grad_arrays[1] is None
    exe.forward(is_train=True)
    exe.backward()
    np.testing.assert_array_equal(exe.grad_dict["x"], [0.0, 1.0, 2.0])


def test_grad_req_write_add_null():
    x, w = gc.var("x"), gc.var("w")
    y = gc.sum(x * w)
    xv, wv = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    gx, gw = np.full(2, 100.0), np.full(2, 100.0)
    exe = y.bind(
        {"x": xv, "w": wv}, args_grad={"x": gx, "w": gw}, grad_req={"x": "add", "w": "null"}
    )
    exe.forward(is_train=True)
    exe.backward()
    exe.backward()  # "add" accumulates across backward calls, like PyTorch
    np.testing.assert_array_equal(gx, 100.0 + 2 * wv)
    np.testing.assert_array_equal(gw, [100.0, 100.0])  # "null": untouched
    exe.forward(is_train=True)
    exe.backward()
    np.testing.assert_array_equal(gx, 100.0 + 3 * wv)

    gx[...] = 100.0
    exe = y.bind({"x": xv, "w": wv}, args_grad={"x": gx}, grad_req="write")
    exe.forward(is_train=True)
    exe.backward()
    exe.backward()  # "write" overwrites
    np.testing.assert_array_equal(gx, wv)
    assert "w" not in exe.grad_dict


def test_grad_req_dict_defaults_to_null_and_allocates_what_it_names():
    x, w = gc.var("x"), gc.var("w")
    exe = gc.sum(x * w).bind({"x": np.ones(2), "w": np.ones(2)}, grad_req={"w": "write"})
    assert set(exe.grad_dict) == {"w"}
    assert exe.grad_req["x"] == "null"


def test_write_gives_zeros_for_an_unreached_argument():
    x, z = gc.var("x"), gc.var("z")
    y = gc.sum(x * 2) + gc.sum(gc.stop_gradient(z))
    gz = np.full(2, 9.0)
    exe = y.bind(
        {"x": np.ones(2), "z": np.ones(2)},
        args_grad={"z": gz},
        grad_req={"x": "write", "z": "write"},
    )
    exe.forward(is_train=True)
    exe.backward()
    np.testing.assert_array_equal(gz, [0.0, 0.0])
    np.testing.assert_array_equal(exe.grad_dict["x"], [2.0, 2.0])


def test_simple_bind():
    x = gc.var("x")
    h = gc.var("h", shape=(2,), dtype=np.float32)
    y = gc.sum(x * 2) + gc.sum(h)
    exe = y.simple_bind(x=(3,))
    assert exe.arg_dict["x"].dtype == np.float64 and exe.arg_dict["x"].shape == (3,)
    assert exe.arg_dict["h"].dtype == np.float32 and exe.arg_dict["h"].shape == (2,)
    assert not exe.arg_dict["x"].any()
    exe.arg_dict["x"][...] = 1.0
    assert exe.forward(is_train=True)[0] == 6.0
    exe.backward()
    np.testing.assert_array_equal(exe.grad_dict["x"], [2.0] * 3)
    assert exe.grad_dict["h"].dtype == np.float32
    with pytest.raises(gc.BindError, match="'x'"):
        y.simple_bind()
    with pytest.raises(gc.ShapeError, match="'h'"):
        y.simple_bind(x=(3,), h=(3,))
    exe = y.simple_bind(grad_req="null", x=(1,))
    assert exe.grad_dict == {}


def test_forward_keyword_arrays_are_copied_into_the_bound_arrays():
    x = gc.var("x")
    data = np.zeros(2)
    exe = gc.sum(x * x).bind({"x": data})
    out = exe.forward(x=np.array([1.0, 2.0]))
    assert out[0] == 5.0 and exe.outputs[0] == 5.0
    np.testing.assert_array_equal(data, [1.0, 2.0])
    exe.forward(x=[3, 4])  # ints are copied into the float array
    np.testing.assert_array_equal(data, [3.0, 4.0])


def test_forward_then_backward_does_the_forward_work_once():
    # Scalar output: forward(is_train=True) computed the gradients already, so changing the
    # bound array before backward() does not change them (a second forward would).
    x = gc.var("x")
    data = np.array([1.0, 2.0])
    exe = gc.sum(x**3).bind({"x": data})
    exe.forward(is_train=True)
    data[...] = [5.0, 5.0]
    exe.backward()
    np.testing.assert_allclose(exe.grad_dict["x"], [3.0, 12.0])
    # Non-scalar output: the backward program reads exp(x) from the forward program (a
    # residual) instead of computing it again.
    exe = gc.exp(x).bind({"x": np.array([0.0, 1.0])})
    src = exe.source()
    forward, backward = src.split("def backward")
    assert "np.exp" in forward and "np.exp" not in backward
    exe.forward(is_train=True)
    exe.backward(np.array([1.0, 2.0]))
    np.testing.assert_allclose(exe.grad_dict["x"], [1.0, 2 * np.e])


def test_scalar_training_program_is_fused():
    x = gc.var("x")
    exe = gc.sum(gc.exp(x)).bind({"x": np.ones(2)})
    src = exe.source()
    assert src.count("def ") == 1 and "grad_x" in src and src.count("np.exp") == 1
    exe2 = (gc.exp(x)).bind({"x": np.ones(2)})
    src = exe2.source()
    assert "def forward" in src and "def backward" in src


def test_backward_without_forward_runs_it():
    x = gc.var("x")
    exe = gc.sum(x * x).bind({"x": np.array([1.0, 3.0])})
    exe.backward()
    np.testing.assert_array_equal(exe.grad_dict["x"], [2.0, 6.0])
    assert exe.outputs[0] == 10.0


# --- heads -----------------------------------------------------------------------------------


def test_backward_needs_out_grads_for_non_scalar_outputs():
    x = gc.var("x")
    exe = (x * x).bind({"x": np.array([1.0, 2.0])})
    exe.forward(is_train=True)
    with pytest.raises(gc.GradError, match="out_grads"):
        exe.backward()
    exe.backward(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(exe.grad_dict["x"], [2.0, 4.0])
    exe.backward([np.array([0.5, 2.0])])
    np.testing.assert_array_equal(exe.grad_dict["x"], [1.0, 8.0])


def test_bad_out_grads_change_nothing():
    x = gc.var("x")
    gx = np.full(2, 3.0)
    exe = (x * x).bind({"x": np.array([1.0, 2.0])}, args_grad={"x": gx})
    exe.forward(is_train=True)
    with pytest.raises(gc.ShapeError, match=r"\(2,\)"):
        exe.backward(np.ones(3))
    with pytest.raises(gc.GradError):
        exe.backward(np.ones((2, 1)))
    with pytest.raises(gc.DTypeError):
        exe.backward(np.array(["a", "b"]))
    with pytest.raises(gc.ShapeError):  # read as one head of shape (3, 2)
        exe.backward([np.ones(2), np.ones(2), np.ones(2)])
    with pytest.raises(gc.BindError, match="one entry per output"):
        gc.Group([x, x]).bind({"x": np.ones(2)}).backward([np.ones(2)] * 3)
    np.testing.assert_array_equal(gx, [3.0, 3.0])


def test_scalar_output_with_a_head_is_scaled():
    x = gc.var("x")
    exe = gc.sum(x * x).bind({"x": np.array([1.0, 2.0])})
    exe.forward(is_train=True)
    exe.backward(np.array(3.0))
    np.testing.assert_array_equal(exe.grad_dict["x"], [6.0, 12.0])
    exe.backward([2.0])
    np.testing.assert_array_equal(exe.grad_dict["x"], [4.0, 8.0])


def test_several_outputs_with_shared_subgraph():
    x = gc.var("x")
    s = gc.sin(x)
    g = gc.Group([gc.sum(s * s), s * 3.0])
    xv = np.array([0.3, 1.1])
    exe = g.bind({"x": xv})
    exe.forward(is_train=True)
    exe.backward([None, np.array([1.0, -2.0])])  # None: 1 for the scalar output
    expected = 2 * np.sin(xv) * np.cos(xv) + 3.0 * np.array([1.0, -2.0]) * np.cos(xv)
    np.testing.assert_allclose(exe.grad_dict["x"], expected)
    # Two scalar outputs with their own heads.
    g2 = gc.Group([gc.sum(s), gc.sum(s * s)])
    exe = g2.bind({"x": xv})
    exe.forward(is_train=True)
    exe.backward()
    np.testing.assert_allclose(exe.grad_dict["x"], np.cos(xv) + np.sin(2 * xv))
    exe.backward([2.0, 0.5])
    np.testing.assert_allclose(exe.grad_dict["x"], 2 * np.cos(xv) + 0.5 * np.sin(2 * xv))


# --- bad input: SPEC section 4 ---------------------------------------------------------------


def _bound():
    x, w = gc.var("x", shape=(None, 3)), gc.var("w", dtype=np.float64)
    y = gc.sum(gc.matmul(x, w))
    xv, wv = np.ones((2, 3)), np.ones((3, 2))
    return y, xv, wv


@pytest.mark.parametrize(
    "args, error, words",
    [
        ({"x": np.ones((2, 3))}, gc.BindError, ["missing", "'w'"]),
        ({"x": np.ones((2, 3)), "w": np.ones((3, 2)), "v": np.ones(2)}, gc.BindError, ["'v'"]),
        (
            {"xx": np.ones((2, 3)), "w": np.ones((3, 2))},
            gc.BindError,
            ["'xx'", "did you mean 'x'"],
        ),
        ({"x": np.ones((2, 4)), "w": np.ones((3, 2))}, gc.ShapeError, ["'x'", "(?, 3)", "(2, 4)"]),
        (
            {"x": np.ones((2, 3)), "w": np.ones((3, 2), np.float32)},
            gc.DTypeError,
            ["'w'", "float64", "float32"],
        ),
        ({"x": np.ones((2, 3)), "w": np.ones((4, 2))}, gc.ShapeError, ["matmul", HERE]),
        ({"x": np.array([["a", "b", "c"]]), "w": np.ones((3, 2))}, gc.DTypeError, ["'x'"]),
    ],
)
def test_bind_rejects_bad_arguments(args, error, words):
    y, _, _ = _bound()
    with pytest.raises(error) as info:
        y.bind(args)
    for word in words:
        assert word in str(info.value)


def test_bind_rejects_bad_grad_requests():
    y, xv, wv = _bound()
    args = {"x": xv, "w": wv}
    with pytest.raises(gc.BindError, match="grad_req"):
        y.bind(args, grad_req="sometimes")
    with pytest.raises(gc.BindError, match="'q'"):
        y.bind(args, grad_req={"q": "write"})
    with pytest.raises(gc.BindError, match="'q'"):
        y.bind(args, args_grad={"q": np.zeros(2)})
    with pytest.raises(gc.ShapeError, match="'w'"):
        y.bind(args, args_grad={"w": np.zeros(3)})
    with pytest.raises(gc.DTypeError, match="'w'"):
        y.bind(args, args_grad={"w": np.zeros((3, 2), np.float32)})
    with pytest.raises(gc.BindError, match="'w'"):
        y.bind(args, args_grad={"w": [[0.0] * 2] * 3})
    np.testing.assert_array_equal(xv, np.ones((2, 3)))


def test_integer_arguments_get_no_gradient():
    x, n = gc.var("x"), gc.var("n")
    y = gc.sum(x * n)
    args = {"x": np.ones(2), "n": np.array([1, 2])}
    exe = y.bind(args, grad_req="write")
    assert "n" not in exe.grad_dict
    with pytest.raises(gc.DTypeError, match="'n'"):
        y.bind(args, grad_req={"x": "write", "n": "add"})
    with pytest.raises(gc.DTypeError, match="'n'"):
        y.bind(args, args_grad={"n": np.zeros(2)})


def test_failed_forward_changes_nothing():
    y, xv, wv = _bound()
    exe = y.bind({"x": xv, "w": wv})
    before = exe.forward()[0]
    for bad, error in [
        (dict(x=np.zeros((2, 3)), w=np.zeros((3, 3))), gc.ShapeError),
        (dict(x=np.zeros((2, 3)), w=np.zeros((3, 2), complex)), gc.DTypeError),
        (dict(x=np.zeros((2, 3)), ww=np.zeros((3, 2))), gc.BindError),
        (dict(x=np.zeros((5, 3))), gc.ShapeError),
    ]:
        with pytest.raises(error):
            exe.forward(**bad)
        np.testing.assert_array_equal(exe.arg_dict["x"], np.ones((2, 3)))
        np.testing.assert_array_equal(exe.arg_dict["w"], np.ones((3, 2)))
    assert exe.forward()[0] == before


def test_dtype_errors_of_the_graph_surface_at_bind():
    logits, labels = gc.var("logits"), gc.var("labels")
    loss = gc.cross_entropy(logits, labels)
    with pytest.raises(gc.DTypeError, match="labels"):
        loss.bind({"logits": np.zeros((2, 3)), "labels": np.zeros(2)})
    exe = loss.bind({"logits": np.zeros((2, 3)), "labels": np.array([0, 2])})
    assert set(exe.grad_dict) == {"logits"}
    exe.forward(is_train=True)
    exe.backward()
    expected = (np.full((2, 3), 1 / 3) - np.eye(3)[[0, 2]]) / 2
    np.testing.assert_allclose(exe.grad_dict["logits"], expected)


def test_float32_arguments_keep_float32_gradients():
    x = gc.var("x")
    xv = np.array([1.0, 2.0], np.float32)
    exe = gc.sum(x * x * 0.5).bind({"x": xv})
    assert exe.forward(is_train=True)[0].dtype == np.float32
    exe.backward()
    assert exe.grad_dict["x"].dtype == np.float32
    np.testing.assert_array_equal(exe.grad_dict["x"], xv)


def test_copy_params_from():
    x = gc.var("x")
    exe = gc.sum(x).bind({"x": np.zeros(2)})
    exe.copy_params_from({"x": np.ones(2)})
    assert exe.forward()[0] == 2.0
    with pytest.raises(gc.BindError):
        exe.copy_params_from({"z": np.ones(2)})
    exe.copy_params_from({"z": np.ones(2)}, allow_extra_params=True)
    with pytest.raises(gc.ShapeError):
        exe.copy_params_from({"x": np.zeros(3)})
    np.testing.assert_array_equal(exe.arg_dict["x"], [1.0, 1.0])


def test_eval_checks_declared_shapes_and_dtypes():
    x = gc.var("x", shape=(2,), dtype=np.float32)
    y = x * 2
    with pytest.raises(gc.ShapeError, match="'x'"):
        y.eval(x=np.ones(3, np.float32))
    with pytest.raises(gc.DTypeError, match="float32"):
        y.eval(x=np.ones(2, np.float64))
    # Numbers and lists are converted to the declared dtype.
    assert y.eval(x=[1.0, 2.0])[0].dtype == np.float32


def _line_of(text: str) -> int:
    with open(__file__, encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if text in line and "_line_of" not in line:
                return i
    raise AssertionError(text)


def test_vars_declared_with_a_shape_but_no_dtype_are_specialised():
    # The bound data fixes the dtype: bool-valued steps (max's tie mask) must not be
    # mistaken for float buffers.
    a = gc.var("a", shape=(3, 4))
    y = gc.sum(gc.max(a, axis=1) ** 2)
    av = np.arange(12.0).reshape(3, 4)
    exe = y.bind({"a": av})
    exe.forward(is_train=True)
    exe.backward()
    expected = np.zeros((3, 4))
    expected[:, 3] = 2 * av[:, 3]
    np.testing.assert_array_equal(exe.grad_dict["a"], expected)
    np.testing.assert_array_equal(gc.compile([a], gc.grad(y, a))(av), expected)


def test_bind_and_compiled_calls_check_arguments_alike():
    # One check (binding.check_array) for both: a list is cast to the declared dtype when
    # same-kind, a wrong shape or dtype names the declaration, a symbol is refused.
    x = gc.var("x", shape=(2,), dtype="float32")
    fn, y = gc.compile([x], x * 2), x * 2
    assert fn([1.0, 2.0]).dtype == np.float32
    assert y.bind({"x": [1.0, 2.0]}).forward()[0].dtype == np.float32
    for call in (lambda v: fn(v), lambda v: y.bind({"x": v})):
        with pytest.raises(gc.ShapeError, match=r"argument 'x': expected shape \(2,\), got"):
            call(np.ones(3, np.float32))
        with pytest.raises(gc.DTypeError, match="argument 'x': expected dtype float32, got"):
            call(np.ones(2))
        with pytest.raises(gc.BindError, match="argument 'x' must be an array, got a symbol"):
            call(x)


def test_grad_heads_and_backward_out_grads_are_converted_alike():
    # One conversion (autodiff.head_array) for gc.grad's head= and backward's out_grads.
    from graphc import eager

    x = gc.var("x", shape=(2,))
    y = x * 3
    exe = y.bind({"x": np.ones(2)}, args_grad={"x": np.zeros(2)})
    for bad, error in (([[1.0], [1.0, 2.0]], "cannot make an array"), ("ab", "unsupported dtype")):
        with pytest.raises(gc.DTypeError, match=f"grad: head: {error}"):
            gc.grad(y, x, head=bad)
        with pytest.raises(gc.DTypeError, match=f"out_grads for '.*': {error}"):
            exe.backward(bad)
    head = eager.tensor([1.0, 2.0])
    np.testing.assert_array_equal(gc.grad(y, x, head=head).eval(x=np.ones(2))[0], [3.0, 6.0])
    exe.forward(is_train=True)
    exe.backward(head)
    np.testing.assert_array_equal(exe.grad_dict["x"], [3.0, 6.0])


def test_grad_exprs_are_the_gradients_backward_writes():
    x, W = gc.var("x"), gc.var("W")
    loss = gc.sum(gc.tanh(x @ W))
    args = {"x": np.arange(6.0).reshape(2, 3) / 10, "W": np.ones((3, 2)) / 3}
    exe = loss.bind(args, grad_req={"x": "null", "W": "write"})
    exprs = exe.grad_exprs()
    assert list(exprs) == ["W"]
    g = exprs["W"]
    assert g.shape == (3, 2) and g.dtype == np.float64
    exe.forward(is_train=True)
    exe.backward()
    np.testing.assert_allclose(g.eval(**args)[0], exe.grad_dict["W"])
    assert loss.bind(args, grad_req="null").grad_exprs() == {}


def test_grad_exprs_of_a_non_scalar_output_take_named_heads():
    x = gc.var("x")
    exe = (2 * x).bind({"x": np.ones(3)})
    assert str(exe.grad_exprs()["x"]) == "2*head0"


def test_executor_gradient_of_log_sum_exp_is_finite_where_exp_overflows():
    # Regression: the executor differentiated the literal formula (exp(x)/sum(exp(x)) is
    # inf/inf = nan at x = 1000), where gc.grad derives from the stable logsumexp.
    x = gc.var("x")
    exe = gc.log(gc.sum(gc.exp(x))).bind({"x": np.array([1000.0, 0.0])})
    exe.forward(is_train=True)
    exe.backward()
    np.testing.assert_allclose(exe.grad_dict["x"], [1.0, 0.0])
    assert exe.grad_exprs()["x"].op == "softmax"
