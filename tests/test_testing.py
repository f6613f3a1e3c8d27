"""The gradient-test helper must catch wrong rules: a checker that never fails proves nothing.

The faulty ops here are built like real ones but never registered, so the op table stays
clean.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc import testing
from graphc.errors import GradientCheckError, GraphcError
from graphc.ops.base import Elementwise


def _op(name, d, vjp=None, jvp=None):
    """An unregistered elementwise op computing sin, with the given rules."""
    fields = dict(name=name, fn=staticmethod(np.sin), template="np.sin({0})", d=(d,), nin=1)
    op = type(f"Faulty_{name}", (Elementwise,), fields)()
    if vjp is not None:
        op.vjp = vjp
    if jvp is not None:
        op.jvp = jvp
    return op


def test_correct_rules_pass(rng):
    testing.assert_grads(
        lambda x, w: gc.sum(gc.tanh(x @ w) ** 2),
        [rng.standard_normal((2, 3)), rng.standard_normal((3, 2))],
        engines=("compiled", "generic"),
    )


def test_wrong_partial_fails_both_modes(rng):
    wrong = _op("wrong_partial", lambda y, x: gc.cos(x) * 1.01)
    for mode in ("rev", "fwd"):
        with pytest.raises(GradientCheckError, match=mode):
            testing.assert_grads(wrong, [rng.standard_normal(3)], order=1, modes=(mode,))


def test_wrong_second_derivative_fails_only_at_order_two(rng):
    # cos(x) behind stop_gradient: right first derivative, zero second derivative.
    flat = _op("flat_partial", lambda y, x: gc.stop_gradient(gc.cos(x)))
    x = [rng.standard_normal(4)]
    testing.assert_grads(flat, x, order=1)
    with pytest.raises(GradientCheckError, match="of "):
        testing.assert_grads(flat, x, order=2)


def test_modes_are_checked_against_each_other(rng):
    # A JVP that disagrees with the (correct) VJP is caught even in forward mode alone.
    bad_jvp = _op("bad_jvp", lambda y, x: gc.cos(x), jvp=lambda ts, y, x: ts[0] * 2)
    with pytest.raises(GradientCheckError, match="fwd"):
        testing.assert_grads(bad_jvp, [rng.standard_normal(3)], order=1)


def test_failure_names_the_worst_entry(rng):
    def vjp(g, y, x):
        return (g * gc.cos(x) + np.array([0.0, 0.5, 0.0]),)  # wrong at entry 1 only

    bad = _op("bad_entry", lambda y, x: gc.cos(x), vjp=vjp)
    with pytest.raises(GradientCheckError, match=r"x0\[1\]"):
        testing.assert_grads(bad, [rng.standard_normal(3)], order=1, modes=("rev",))


def test_large_inputs_use_random_directions(rng):
    big = rng.standard_normal((20, 30))
    assert big.size > testing.FULL_CHECK_LIMIT
    testing.assert_grads(lambda x: gc.sum(gc.sin(x) * x), [big], order=1)
    wrong = _op("wrong_big", lambda y, x: gc.cos(x) + 1e-3)
    with pytest.raises(GradientCheckError, match="finite differences"):
        testing.assert_grads(wrong, [big], order=1, modes=("rev",))


def test_integer_arguments_are_held_fixed(rng):
    logits, labels = rng.standard_normal((4, 3)), rng.integers(0, 3, size=4)
    testing.assert_grads(gc.cross_entropy, [logits, labels])
    with pytest.raises(GraphcError, match="no floating argument"):
        testing.assert_grads(gc.sign, [labels])


def test_float32_arguments_are_checked_in_float64(rng):
    testing.assert_grads(gc.tanh, [rng.standard_normal(3).astype(np.float32)])


def test_engines_are_pluggable():
    assert "compiled" in testing.default_engines()
    assert ("eager" in testing.default_engines()) == testing.eager_available()
    with pytest.raises(GraphcError, match="unknown engine"):
        testing.assert_grads(gc.sin, [np.ones(2)], engines=("nonesuch",))
    testing.register_engine("raw", testing.CompiledEngine("shape", simplify=False))
    try:
        testing.assert_grads(gc.sin, [np.ones(2)], engines=("raw",))
    finally:
        del testing.ENGINES["raw"]


@pytest.mark.parametrize("domain", [(-2.0, 2.0), (0.2, 3.0), "nonzero"])
def test_sample_stays_in_domain(domain, rng):
    values = testing.sample(domain, (1000,), rng)
    if domain == "nonzero":
        assert np.all(np.abs(values) >= 0.3) and np.all(np.abs(values) <= 2.0)
        assert (values < 0).any() and (values > 0).any()
    else:
        assert np.all(values >= domain[0]) and np.all(values <= domain[1])
