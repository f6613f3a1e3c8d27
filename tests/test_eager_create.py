"""Eager constructors and `eager.grad` refuse bad arguments with graphc errors (never a bare
TypeError or ValueError from numpy or Python), before any array is made."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc import eager


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: eager.zeros("a"), gc.ArgumentError, "zeros: a dimension must be an int, got 'a'"),
        (lambda: eager.ones(2, 2.5), gc.ArgumentError, "ones: a dimension must be an int"),
        (lambda: eager.randn(True), gc.ArgumentError, "randn: a dimension must be an int"),
        (lambda: eager.zeros((2, None)), gc.ArgumentError, "got None"),
        (lambda: eager.zeros(-1), gc.ShapeError, "zeros: negative dimension -1"),
        (lambda: eager.ones(10**6, 10**6), gc.ShapeError, "ones: shape .* elements"),
        (lambda: eager.zeros(2, size=3), gc.ArgumentError, "not both"),
        (lambda: eager.zeros(2, dtype=2.5), gc.DTypeError, "zeros: not a dtype: 2.5"),
        (lambda: eager.ones(2, dtype="nonsense"), gc.DTypeError, "ones: not a dtype"),
        (lambda: eager.zeros(2, dtype=object), gc.DTypeError, "zeros: unsupported dtype object"),
        (lambda: eager.randn(2, dtype=np.int32), gc.DTypeError, "randn: .*floating"),
        (lambda: eager.randn(2, dtype=[("a", float)]), gc.DTypeError, "randn: unsupported"),
        (lambda: eager.arange("a"), gc.ArgumentError, "arange: start must be a finite real"),
        (lambda: eager.arange(0, float("inf")), gc.ArgumentError, "arange: stop must be"),
        (lambda: eager.arange(0, 1, 0), gc.ArgumentError, "step must not be zero"),
        (lambda: eager.arange(1e12), gc.ShapeError, "arange: shape"),
        (lambda: eager.arange(3, dtype="nonsense"), gc.DTypeError, "arange: not a dtype"),
        (lambda: eager.manual_seed("a"), gc.ArgumentError, "manual_seed: the seed must be"),
        (lambda: eager.manual_seed(-1), gc.ArgumentError, "got -1"),
        (lambda: eager.tensor(), gc.ArgumentError, "tensor\\(\\): missing"),
        (lambda: eager.zeros(2, shape=3), gc.ArgumentError, "zeros\\(\\): got an unexpected"),
        (lambda: eager.from_numpy(), gc.ArgumentError, "from_numpy\\(\\)"),
        (lambda: eager.tensor([1.0], dtype=2.5), gc.DTypeError, "tensor: cannot make an array"),
    ],
)
def test_constructors_raise_graphc_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_constructor_arguments_that_fit_still_work():
    assert eager.zeros(2, 3).shape == (2, 3) and eager.zeros((2, 3)).dtype == np.float64
    assert eager.ones(size=(2,)).shape == (2,) and eager.randn(size=()).shape == ()
    assert eager.zeros(np.int64(2), dtype=np.int32).dtype == np.int32
    assert eager.arange(4).tolist() == [0, 1, 2, 3] and eager.arange(4).dtype == np.int64
    assert eager.arange(1.0, 2.0, 0.5).tolist() == [1.0, 1.5]
    assert eager.arange(5, step=2).tolist() == [0, 2, 4]  # step was ignored before
    eager.manual_seed(3)
    a = eager.randn(3, dtype=np.float32)
    eager.manual_seed(3)
    assert a.dtype == np.float32 and (eager.randn(3, dtype=np.float32) == a).all()


def test_eager_grad_arguments_raise_graphc_errors():
    x = eager.tensor([1.0, 2.0], requires_grad=True)
    y = gc.sum(x * x)
    with pytest.raises(gc.ArgumentError, match="grad: inputs must be an eager tensor"):
        eager.grad(y, 3.0)
    with pytest.raises(gc.ArgumentError, match="grad: outputs must be an eager tensor"):
        eager.grad(None, x)
    with pytest.raises(gc.ArgumentError, match="grad: grad_outputs must be"):
        eager.grad(y, x, 2.0)
    with pytest.raises(gc.ArgumentError, match="grad\\(\\): missing"):
        eager.grad(y)
    with pytest.raises(gc.GradError, match="expected 1 grad_outputs"):
        eager.grad(y, x, [None, None])
    with pytest.raises(gc.ShapeError, match="does not match"):
        eager.grad(x * 2, x, eager.tensor([1.0, 2.0, 3.0]))
    (g,) = eager.grad(y, [x])
    assert g.tolist() == [2.0, 4.0]
