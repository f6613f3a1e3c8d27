"""Operations that do nothing are not emitted, with `simplify=False` too (`simplify.noops`,
run by `SPECIALIZE`): transposes of transposes, reshapes and broadcasts to the shape a value
has, casts to its dtype, products by ones. The programs compute the same bits."""

from __future__ import annotations

import re

import numpy as np
import pytest

import graphc as gc
from benchmarks.workloads import deep_small_math
from graphc.simplify import noops

X = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
X[0, 0] = -0.0


def _body(f) -> list[str]:
    return [
        line.strip()
        for line in f.source.splitlines()
        if line.startswith("    ") and not line.strip().startswith(("del ", "return "))
    ]


CASES = {
    "transpose of transpose": (lambda x: x.T.T * 2, lambda a: a * 2),
    "transpose with its own axes": (lambda x: gc.transpose(x, (0, 1)) * 2, lambda a: a * 2),
    "reshape to its shape": (lambda x: gc.reshape(x, (3, 4)) * 2, lambda a: a * 2),
    "reshape of reshape": (
        lambda x: gc.reshape(gc.reshape(x, (12,)), (4, 3)) * 2,
        lambda a: a.reshape(4, 3) * 2,
    ),
    "squeeze of expand_dims": (
        lambda x: gc.squeeze(gc.expand_dims(x, 0), 0) * 2,
        lambda a: a * 2,
    ),
    "astype to its dtype": (lambda x: x.astype("float64") * 2, lambda a: a * 2),
    "broadcast to its shape": (lambda x: gc.broadcast_to(x, (3, 4)) * 2, lambda a: a * 2),
    "broadcast of broadcast": (
        lambda x: gc.broadcast_to(gc.broadcast_to(gc.sum(x, axis=0), (3, 4)), (2, 3, 4)) * 2,
        lambda a: np.broadcast_to(a.sum(axis=0), (2, 3, 4)) * 2,
    ),
    "times one": (lambda x: x * 1 * 2, lambda a: a * 2),
    "divided by one, to the power one": (lambda x: (x / 1) ** 1 * 2, lambda a: a * 2),
    "minus zero": (lambda x: (x - 0) * 2, lambda a: a * 2),
}


@pytest.mark.parametrize("simplify", [False, True])
@pytest.mark.parametrize("name", list(CASES))
def test_a_noop_is_not_emitted(name, simplify):
    build, expected = CASES[name]
    x = gc.var("x", shape=(3, 4), dtype="float64")
    f = gc.compile([x], build(x), simplify=simplify)
    out = f(X)
    np.testing.assert_array_equal(out, expected(X))
    assert np.array_equal(np.signbit(out), np.signbit(expected(X)))  # -0.0 stays -0.0
    ops = " ".join(_body(f))
    assert not re.search(r"\.T\b|transpose|astype|squeeze|expand_dims", ops), ops
    views = ops.count("reshape") + ops.count("broadcast_to")
    assert views <= 1, ops
    assert len(_body(f)) == 1 + views + ("sum" in ops), f.source


def test_plus_zero_is_not_a_noop_without_simplify():
    """`-0.0 + 0` is `0.0`: `x + 0` goes only where values may round (`simplify=True`)."""
    x = gc.var("x", shape=(3, 4), dtype="float64")
    f = gc.compile([x], x + 0, simplify=False)
    assert "+ 0" in f.source
    assert not np.signbit(f(X)[0, 0])
    g = gc.compile([x], x + 0)
    assert g(X) is X  # simplified away: the input itself


def test_a_cast_to_another_dtype_and_a_real_transpose_stay():
    x = gc.var("x", shape=(3, 4), dtype="float64")
    f = gc.compile([x], [x.astype("float32"), x.T * 2, gc.reshape(x, (4, 3))], simplify=False)
    assert "astype(np.float32)" in f.source and "x.T" in f.source and "reshape" in f.source


@pytest.mark.parametrize("simplify", [False, True])
def test_gradient_seed_of_ones_is_not_multiplied(simplify):
    """The seed of `grad(sum(f(x)))` is `broadcast_to(1.0, shape)`: a product by it is not
    emitted, nor `x ** 1` from the derivative of `x ** 2`."""
    x = gc.var("x", shape=(3, 4), dtype="float64")
    f = gc.compile([x], gc.grad(gc.sum(gc.tanh(x) ** 2), x), simplify=simplify)
    assert "broadcast_to" not in f.source and "** 1" not in f.source, f.source
    t = np.tanh(X)
    np.testing.assert_allclose(f(X), 2 * t * (1 - t * t), rtol=1e-15)


def test_gradient_of_a_product_by_a_transpose_reads_the_matrix():
    """The cotangent of `x @ W.T` is `g @ W`, not `g @ (W.T).T`, where the rule builds it."""
    x, w = gc.var("x", shape=(3, 4)), gc.var("W", shape=(5, 4))
    gx = gc.grad(gc.sum((x @ w.T) ** 2), x, simplify=False)
    assert ".T.T" not in str(gx) and "@ W" in str(gx), str(gx)
    a = gc.var("A", shape=(2, 3, 4))
    ga = gc.grad(gc.sum(a @ gc.transpose(a, (0, 2, 1))), a, simplify=False)
    assert "@ A" in str(ga), str(ga)
    f = gc.compile([a], ga, simplify=False)
    arr = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_allclose(f(arr), 2 * np.ones((2, 3, 3)) @ arr)


def test_deep_net_gradient_program_has_no_double_transpose():
    """Golden facts of a deep net's gradient program (the `deep_small` benchmark's math):
    no `(W.T).T`, one transpose per matrix product that needs one."""
    layers = 6
    x = gc.var("x", shape=(8, 4))
    params = [gc.var(f"p{i}", shape=(8, 8) if i % 2 == 0 else (8, 1)) for i in range(2 * layers)]
    y = deep_small_math(gc, x, *params)
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(p.shape) for p in [x, *params]]
    for simplify in (False, True):
        f = gc.compile([x, *params], [y, *gc.grad(y, params)], simplify=simplify)
        f(*args)
        src = f.source
        assert not re.search(r"\.T\)?\.T\b", src), src
        temps = dict(re.findall(r"(t\d+) = (\w+)\.T$", src, re.M))
        assert not any(source in temps for source in temps.values()), src
        assert src.count(".T") == 2 * layers - 1, src  # W_i.T (i > 0) and h_i.T
        assert "** 1" not in src and "broadcast_to" not in src


def test_noop_rules_are_named_and_documented():
    for op, rules in noops.NOOP_RULES.items():
        for rule in rules:
            assert rule.__doc__, (op, rule.__name__)
    assert noops.specialize.__name__ == "specialize"
