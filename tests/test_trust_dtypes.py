"""Trust in gradients' shapes and dtypes (issue 11, items 2-4): a gradient has its input's
shape and dtype in every mode, an output of unknown shape is checked for scalar-ness once
shapes are known, and integer data is never differentiated silently."""

from __future__ import annotations

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
