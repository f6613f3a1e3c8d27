"""Derivative conventions at the points where ops are not differentiable (documented on the
ops): the values every mode must agree on, where finite differences cannot decide."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc import testing


def _grads(fn, args):
    """Reverse-mode gradients of sum(fn(*args)) for every argument: compiled, and eager when
    it exists (both must give the same convention)."""
    xs = [gc.var(f"x{i}", np.shape(a)) for i, a in enumerate(args)]
    results = [gc.compile(xs, gc.grad(gc.sum(fn(*xs)), xs))(*args)]
    if testing.eager_available():
        from graphc import eager

        ts = [eager.tensor(a, requires_grad=True) for a in args]
        results.append([g.data for g in eager.grad(gc.sum(fn(*ts)), ts)])
    return [[np.asarray(g) for g in r] for r in results]


def _jvp(fn, args, tangents):
    xs = [gc.var(f"x{i}", np.shape(a)) for i, a in enumerate(args)]
    return np.asarray(gc.compile(xs, gc.jvp(fn(*xs), dict(zip(xs, tangents))))(*args))


@pytest.mark.parametrize("fn,args,expected", [
    # Ties split the gradient evenly, as PyTorch does.
    (gc.maximum, [np.array([1.0, 2.0]), np.array([1.0, 0.0])], [[0.5, 1.0], [0.5, 0.0]]),
    (gc.minimum, [np.array([1.0, 2.0]), np.array([1.0, 0.0])], [[0.5, 0.0], [0.5, 1.0]]),
    (gc.max, [np.array([3.0, 1.0, 3.0])], [[0.5, 0.0, 0.5]]),
    (lambda x: gc.min(x, axis=1), [np.array([[1.0, 1.0, 1.0], [0.0, 2.0, 0.0]])],
     [[[1 / 3, 1 / 3, 1 / 3], [0.5, 0.0, 0.5]]]),
    # relu'(0) = 0 and abs'(0) = sign(0) = 0.
    (gc.relu, [np.array([-1.0, 0.0, 2.0])], [[0.0, 0.0, 1.0]]),
    (gc.abs, [np.array([-1.0, 0.0, 2.0])], [[-1.0, 0.0, 1.0]]),
    (gc.sign, [np.array([-1.0, 0.0, 2.0])], [[0.0, 0.0, 0.0]]),
    # clip passes the gradient to x on the closed interval, to the active bound elsewhere.
    (gc.clip, [np.array([-2.0, -1.0, 0.0, 1.0, 2.0]), np.array(-1.0), np.array(1.0)],
     [[0.0, 1.0, 1.0, 1.0, 0.0], 1.0, 1.0]),
    (lambda x: gc.where(x > 0, x * x, -x), [np.array([-1.0, 0.0, 3.0])], [[-1.0, -1.0, 6.0]]),
])
def test_reverse_mode_conventions(fn, args, expected):
    for grads in _grads(fn, args):
        for g, e in zip(grads, expected, strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-12)


def test_forward_mode_agrees_at_ties():
    a, b = np.array([1.0, 2.0]), np.array([1.0, 0.0])
    t = _jvp(gc.maximum, [a, b], [np.array([1.0, 1.0]), np.array([3.0, 5.0])])
    np.testing.assert_allclose(t, [2.0, 1.0])
    t = _jvp(gc.max, [np.array([3.0, 1.0, 3.0])], [np.array([1.0, 10.0, 3.0])])
    np.testing.assert_allclose(t, 2.0)
