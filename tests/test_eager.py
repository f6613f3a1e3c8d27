"""graphc.eager: the PyTorch snippets of the seed tutorials, run with only the import and the
constructor names changed (torch.X -> eager.X or gc.X), give the numbers the tutorials print;
plus PyTorch's semantics around them (accumulation, freed graphs, no_grad, leaves, dtypes).
"""

from __future__ import annotations

import copy
import pickle
import sys

import numpy as np
import pytest

import graphc as gc
from graphc import eager

# --- seed 000/001: "a simple example", non-scalar outputs, detach, control flow ---------


def test_seed_dot_sum_square_detach():
    x = eager.arange(4.0)
    assert repr(x) == "tensor([0., 1., 2., 3.])"
    x.requires_grad_(True)  # same as eager.arange(4.0, requires_grad=True)
    assert x.grad is None
    y = 2 * gc.dot(x, x)
    assert repr(y) == "tensor(28., grad_fn=<MulBackward>)"
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 4.0, 8.0, 12.0])
    assert repr(x.grad == 4 * x) == "tensor([ True,  True,  True,  True])"

    # PyTorch accumulates gradients: clear them before another function.
    x.grad.zero_()
    y = x.sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 1.0, 1.0])

    x.grad.zero_()
    y = x * x
    y.sum().backward()  # same as y.backward(eager.ones(len(x)))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 2.0, 4.0, 6.0])

    x.grad.zero_()
    y = x * x
    u = y.detach()
    z = u * x
    z.sum().backward()
    assert bool(gc.min(x.grad == u))
    x.grad.zero_()
    y.sum().backward()
    assert bool(gc.min(x.grad == 2 * x))


def test_seed_nonscalar_backward_with_ones_head_equals_sum():
    x = eager.arange(4.0, requires_grad=True)
    y = x * x
    y.backward(eager.ones(len(x)))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 2.0, 4.0, 6.0])


def f_control(a):
    b = a * 2
    while b.norm() < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c


@pytest.mark.parametrize("seed", range(6))
def test_seed_python_control_flow(seed):
    eager.manual_seed(seed)
    a = eager.randn(size=(), requires_grad=True)
    d = f_control(a)
    d.backward()
    # f is piecewise linear: f(a) = k * a, so the gradient is d / a.
    np.testing.assert_allclose(a.grad.item(), (d / a).item(), rtol=1e-15)
    assert a.grad.shape == ()


def test_control_flow_both_branches():
    for value, k in ((0.5, 2048.0), (-0.5, 204800.0)):
        a = eager.tensor(value, requires_grad=True)
        f_control(a).backward()
        assert a.grad.item() == k


# --- seed 002: tensors, propagation of requires_grad, backward(gradient=...) ------------


def test_seed_requires_grad_propagation_and_leaves():
    x = eager.randn(2, 2)
    y = eager.randn(2, 2)
    z = eager.randn(2, 2, requires_grad=True)
    a = x + y
    b = a + z
    assert (x.requires_grad, y.requires_grad, z.requires_grad) == (False, False, True)
    assert (a.requires_grad, b.requires_grad) == (False, True)
    assert x.is_leaf and z.is_leaf and a.is_leaf and not b.is_leaf
    assert a.grad_fn is None and repr(b.grad_fn) == "<AddBackward>"
    assert b.grad_fn.name() == "AddBackward"
    b.sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), np.ones((2, 2)))
    assert x.grad is None and b.grad is None  # only leaves that require grad get .grad


def test_seed_ways_to_make_a_tensor_that_requires_grad():
    x = eager.randn(2, 2, requires_grad=True)
    assert x.requires_grad
    x = eager.tensor([2, 3], requires_grad=True, dtype=np.float64)
    assert x.dtype == np.float64
    x = eager.from_numpy(np.array([1, 2, 3], dtype=np.float64))
    x.requires_grad = True
    assert x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad


def test_gradients_of_integer_tensors_are_dtype_errors():
    x = eager.tensor([1, 2])
    with pytest.raises(gc.DTypeError, match="int64"):
        eager.grad(gc.sum(eager.tensor([1.0, 2.0], requires_grad=True) * x), x)
    with pytest.raises(gc.DTypeError, match="int64"):
        (x * 2).sum().backward()


def test_grad_errors_are_runtime_errors_as_in_pytorch():
    y = (eager.tensor([1.0, 2.0], requires_grad=True) * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_integer_tensors_cannot_require_grad():
    # Only floating-point tensors have gradients (the tutorial's note 1).
    assert eager.tensor([2, 3]).dtype == np.int64
    with pytest.raises(gc.DTypeError, match="floating"):
        eager.tensor([2, 3], requires_grad=True)
    x = eager.from_numpy(np.array([1, 2, 3]))
    with pytest.raises(gc.DTypeError, match="int64"):
        x.requires_grad = True
    with pytest.raises(gc.DTypeError):
        eager.arange(4).requires_grad_()


def test_seed_mean_of_cubic_with_retain_graph():
    a = eager.tensor([2.0, 3.0], requires_grad=True)
    b = a + 3
    c = b * b * 3
    out = c.mean()
    out.backward(retain_graph=True)
    np.testing.assert_array_equal(a.grad.numpy(), [15.0, 18.0])
    out.backward()  # the graph was retained; gradients accumulate
    np.testing.assert_array_equal(a.grad.numpy(), [30.0, 36.0])


def test_seed_vector_output_with_gradient_argument():
    m = eager.tensor([2.0, 3.0], requires_grad=True)
    # n[0] = m[0] ** 2; n[1] = m[1] ** 3, built without in-place assignment
    n = gc.stack([m[0] ** 2, m[1] ** 3])
    with pytest.raises(gc.GradError, match="implicitly created only for scalar outputs"):
        n.backward()
    n.backward(gradient=eager.tensor([1.0, 1.0]), retain_graph=True)
    np.testing.assert_array_equal(m.grad.numpy(), [4.0, 27.0])
    with pytest.raises(gc.ShapeError, match="shape"):
        n.backward(gradient=eager.tensor([1.0, 1.0, 1.0]))


def test_second_backward_through_freed_graph_suggests_retain_graph():
    x = eager.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(gc.GradError, match=r"retain_graph=True"):
        y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])  # the failed call added nothing
    loss = gc.tanh(x).sum()
    eager.grad(loss, x)  # eager.grad frees the graph too
    with pytest.raises(gc.GradError, match=r"retain_graph=True"):
        loss.backward()


# --- seed 003: gradient descent by hand through .data -----------------------------------


def test_seed_single_update():
    w = eager.tensor([10, 20], requires_grad=True, dtype=np.float64)
    loss = 2 * w**2
    loss.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [40.0, 80.0])
    np.testing.assert_allclose(w.data - 0.01 * w.grad, [9.6, 19.2], rtol=1e-15)
    w.data = w.data - 0.01 * w.grad
    np.testing.assert_allclose(w.data, [9.6, 19.2], rtol=1e-15)
    assert w.is_leaf and w.requires_grad


def test_seed_gradient_descent_500_epochs():
    w = eager.tensor(10, requires_grad=True, dtype=np.float64)
    assert w.grad is None
    for epoch in range(500):
        loss = w**2 + 20
        if w.grad is not None:
            w.grad.zero_()
        loss.sum().backward()
        if epoch == 0:
            assert (w.item(), w.grad.item()) == (10.0, 20.0)
            assert (w.data - 0.01 * w.grad).item() == pytest.approx(9.8, rel=1e-15)
        w.data = w.data - 0.01 * w.grad
    # Each step multiplies w by 0.98; the tutorial prints 0.00041023982339538634 (float32).
    np.testing.assert_allclose(w.item(), 10 * 0.98**500, rtol=1e-12)
    np.testing.assert_allclose(w.grad.item(), 2 * 10 * 0.98**499, rtol=1e-12)


def test_seed_mse_loss_w_b():
    x = eager.ones(2, 5)
    y = eager.zeros(2, 3)
    # The tutorial's printed random draws, so its printed gradients can be compared.
    w = eager.tensor(
        [
            [0.5068, 0.7041, -0.3873],
            [0.2316, -0.6001, -2.0265],
            [0.7206, -0.3271, -1.6952],
            [0.0378, 0.3277, -0.1473],
            [-0.9443, -0.8589, 0.6169],
        ],
        requires_grad=True,
    )
    b = eager.tensor([-0.0277, 0.5842, -0.5767], requires_grad=True)
    z = x.matmul(w) + b
    loss = gc.mse_loss(z, y)  # torch.nn.MSELoss()
    loss.sum().backward()
    expected = [0.3498, -0.1134, -2.8108]
    np.testing.assert_allclose(b.grad.numpy(), expected, atol=1e-4)
    np.testing.assert_allclose(w.grad.numpy(), np.tile(expected, (5, 1)), atol=1e-4)


# --- seed 004: linear regression with autograd.grad and with backward -------------------


def h_x(theta0, theta1, x):
    return theta0 + theta1 * x


def _linreg():
    X = eager.tensor([1, 2, 3, 4, 5, 6])
    Y = eager.tensor([13, 14, 20, 21, 25, 30])
    theta0 = eager.tensor(0.0, requires_grad=True)
    theta1 = eager.tensor(0.0, requires_grad=True)
    y_pre = h_x(theta0, theta1, X)
    loss = gc.mean((y_pre - Y) ** 2 / 2)
    return theta0, theta1, loss


def test_seed_linear_regression_with_grad():
    theta0, theta1, loss = _linreg()
    assert f"loss : {loss}" == "loss : 227.58333333333334"
    theta0_grad, theta1_grad = eager.grad(loss, [theta0, theta1])
    assert theta0_grad.item() == pytest.approx(-20.5, rel=1e-14)
    assert theta1_grad.item() == pytest.approx(-81.66666666666666, rel=1e-14)
    assert theta0.grad is None and theta1.grad is None  # grad() leaves .grad alone


def test_seed_linear_regression_with_backward():
    theta0, theta1, loss = _linreg()
    loss.backward()
    assert theta0.grad.item() == pytest.approx(-20.5, rel=1e-14)
    assert theta1.grad.item() == pytest.approx(-81.66666666666666, rel=1e-14)


# --- the rest of the surface ------------------------------------------------------------


def test_repr_and_conversions():
    x = eager.tensor([0.0, 4.0], requires_grad=True)
    assert repr(x) == "tensor([0., 4.], requires_grad=True)"
    assert str(x) == repr(x)
    assert repr(eager.tensor([1, 2], dtype=np.float32)) == "tensor([1., 2.], dtype=float32)"
    assert repr(gc.dot(x, x).grad_fn) == "<DotBackward>"
    s = eager.tensor(2.5)
    assert (s.item(), float(s), f"{s:.2f}") == (2.5, 2.5, "2.50")
    assert isinstance(x.numpy(), np.ndarray) and x.shape == (2,) and x.dtype == np.float64
    assert x.ndim == 1 and len(x) == 2 and x.numel() == 2
    np.testing.assert_array_equal(np.asarray(x), [0.0, 4.0])
    assert [t.item() for t in x] == [0.0, 4.0]
    with pytest.raises(gc.ShapeError):
        x.item()
    with pytest.raises(gc.GraphcError, match="ambiguous"):
        bool(x > 1)
    assert bool(eager.tensor([3.0]) > 1)
    assert bool((x == x).all()) and not bool((x > 1).all()) and bool((x > 1).any())
    assert x.float().dtype == np.float32 and x.float().double().dtype == np.float64
    with pytest.raises(gc.GraphcError, match="item assignment"):
        x[0] = 1.0


def test_grad_fn_names():
    x = eager.tensor([1.0, 2.0], requires_grad=True)
    names = {
        "MulBackward": x * 2,
        "AddBackward": x + 1,
        "SubBackward": 1 - x,
        "DivBackward": x / 3,
        "PowBackward": x**2,
        "NegBackward": -x,
        "SumBackward": x.sum(),
        "MeanBackward": x.mean(),
        "TanhBackward": gc.tanh(x),
        "ExpBackward": gc.exp(x),
        "IndexBackward": x[0],
        "ReshapeBackward": x.reshape(2, 1),
        "MseLossBackward": gc.mse_loss(x, np.zeros(2)),
        "NormBackward": x.norm(),
    }
    for name, t in names.items():
        assert t.grad_fn.name() == name and repr(t.grad_fn) == f"<{name}>"
        assert t.requires_grad and not t.is_leaf
    assert (x > 1).grad_fn is None and not (x > 1).requires_grad


def test_constants_of_every_kind():
    x = eager.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = gc.sum(x * np.array([1, 2, 3]) + 2 * x + True + gc.where(x > 0, x, 0))
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 4.0, 6.0])


def test_no_grad_and_enable_grad():
    x = eager.tensor([1.0, 2.0], requires_grad=True)
    with eager.no_grad():
        y = x * 2
        assert not eager.is_grad_enabled()
        with eager.enable_grad():
            z = x * 2
    assert eager.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert z.requires_grad

    @eager.no_grad()
    def update(w):
        return w - 0.1 * w

    assert not update(x).requires_grad


def test_detach_shares_values_and_blocks_gradient():
    x = eager.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 3).detach()
    assert not d.requires_grad and d.is_leaf
    s = gc.stop_gradient(x * 3)
    assert not s.requires_grad
    (x * d).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 6.0])


def test_grad_accumulates_and_can_be_reset():
    x = eager.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(3):
        (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 12.0])
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_retain_grad_on_a_non_leaf():
    x = eager.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad.numpy(), [6.0, 12.0])
    np.testing.assert_array_equal(x.grad.numpy(), [18.0, 36.0])


def test_grad_api_details():
    x = eager.tensor([1.0, 2.0], requires_grad=True)
    unused = eager.tensor(5.0, requires_grad=True)
    h = gc.tanh(x)
    y = (h * h).sum()
    gx, gu, gh = eager.grad(y, [x, unused, h], retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), 2 * np.tanh([1, 2]) / np.cosh([1, 2]) ** 2)
    assert gu.item() == 0.0  # not used: zeros, like gc.grad
    np.testing.assert_allclose(gh.numpy(), 2 * np.tanh([1, 2]))
    (g2,) = eager.grad(x * x, x, grad_outputs=eager.tensor([1.0, 10.0]))
    np.testing.assert_array_equal(g2.numpy(), [2.0, 40.0])
    with pytest.raises(gc.GradError, match="does not require grad"):
        eager.grad(y, eager.tensor(1.0))
    with pytest.raises(gc.GradError, match="scalar outputs"):
        eager.grad(x * x, x)
    with pytest.raises(gc.GradError, match="does not require grad"):
        eager.tensor(1.0).backward()


def test_higher_order_with_create_graph():
    x = eager.tensor(3.0, requires_grad=True)
    (dx,) = eager.grad(x**3, x, create_graph=True)
    assert dx.item() == 27.0 and dx.requires_grad
    (ddx,) = eager.grad(dx, x, create_graph=True)
    assert ddx.item() == 18.0
    (dddx,) = eager.grad(ddx, x)
    assert dddx.item() == 6.0
    # backward(create_graph=True) fills .grad with a differentiable tensor
    w = eager.tensor([1.0, 2.0], requires_grad=True)
    gc.sum(gc.exp(w) * w).backward(create_graph=True)
    assert w.grad.requires_grad
    (hess_diag,) = eager.grad(w.grad.sum(), w)
    np.testing.assert_allclose(
        hess_diag.numpy(), np.exp([1.0, 2.0]) * (np.array([1.0, 2.0]) + 2.0)
    )


def test_forward_errors_name_the_op_and_the_user_line():
    a = eager.ones(2, 3, requires_grad=True)
    with pytest.raises(gc.ShapeError, match=r"test_eager\.py:\d+: matmul: .*\(2, 3\)"):
        a @ eager.ones(2, 3)


def test_deep_chain_has_no_recursion_limit():
    x = eager.tensor(0.5, requires_grad=True)
    h = x
    for _ in range(3 * sys.getrecursionlimit()):
        h = h * 1.0
    h.backward()
    assert x.grad.item() == 1.0


def test_eager_namespace_reaches_gc_functions():
    assert eager.dot is gc.dot and eager.tanh is gc.tanh
    with pytest.raises(AttributeError):
        eager.no_such_function  # noqa: B018


def test_pickle_and_deepcopy_of_leaves():
    x = eager.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    for y in (pickle.loads(pickle.dumps(x)), copy.deepcopy(x)):
        assert y.requires_grad and y.is_leaf and y is not x
        np.testing.assert_array_equal(y.numpy(), [1.0, 2.0])
        np.testing.assert_array_equal(y.grad.numpy(), [2.0, 4.0])
    with pytest.raises(gc.GradError, match="leaf"):
        pickle.dumps(x * 2)
    detached = pickle.loads(pickle.dumps((x * 2).detach()))
    np.testing.assert_array_equal(detached.numpy(), [2.0, 4.0])


def test_creators():
    assert eager.zeros(2, 3).shape == (2, 3) and eager.ones((4,)).dtype == np.float64
    assert eager.randn(3, requires_grad=True).requires_grad
    eager.manual_seed(1)
    a = eager.randn(size=(2,)).numpy()
    eager.manual_seed(1)
    np.testing.assert_array_equal(eager.randn(2).numpy(), a)
    t = eager.tensor(eager.arange(3.0))
    assert t.dtype == np.float64 and not t.requires_grad
    with pytest.raises(gc.DTypeError):
        eager.tensor(["a"])
