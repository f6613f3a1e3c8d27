"""The same Python function, written once with `gc` functions, runs symbolically (gc.var +
gc.grad + gc.compile, and gc.value_and_grad) and eagerly (graphc.eager tensors): values,
gradients and second derivatives (Hessian-vector products, eagerly through
`create_graph=True`) agree to 1e-12 relative.

The corpus: the seed tutorials' examples, an MLP step with cross_entropy, and random
compositions of domain-safe operations drawn from a seeded generator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import graphc as gc
from graphc import eager

RTOL = 1e-12


@dataclass
class Case:
    name: str
    fn: Callable
    args: dict  # name -> array, in the function's argument order
    wrt: tuple  # names of the differentiated arguments


def _rng(seed=0):
    return np.random.default_rng(seed)


def _seed_cases() -> list[Case]:
    r = _rng(1)
    x4 = np.arange(4.0)
    cases = [
        Case("seed_dot", lambda x: 2 * gc.dot(x, x), {"x": x4}, ("x",)),
        Case("seed_sum", lambda x: x.sum(), {"x": x4}, ("x",)),
        Case("seed_square_sum", lambda x: (x * x).sum(), {"x": x4}, ("x",)),
        Case("seed_detach", lambda x: (gc.stop_gradient(x * x) * x).sum(), {"x": x4}, ("x",)),
        Case(
            "seed_cubic_mean",
            lambda a: ((a + 3) * (a + 3) * 3).mean(),
            {"a": np.array([2.0, 3.0])},
            ("a",),
        ),
        Case(
            "seed_stack",
            lambda m: gc.sum(gc.stack([m[0] ** 2, m[1] ** 3])),
            {"m": np.array([2.0, 3.0])},
            ("m",),
        ),
        Case(
            "seed_linreg",
            lambda t0, t1, X, Y: gc.mean((t0 + t1 * X - Y) ** 2 / 2),
            {
                "t0": np.array(0.0),
                "t1": np.array(0.0),
                "X": np.arange(1, 7),
                "Y": np.array([13, 14, 20, 21, 25, 30]),
            },
            ("t0", "t1"),
        ),
        Case(
            "seed_linreg_mse",
            lambda t0, t1, X, Y: gc.mse_loss(t0 + t1 * X, Y) / 2,
            {
                "t0": np.array(0.3),
                "t1": np.array(1.7),
                "X": np.arange(1.0, 7.0),
                "Y": np.array([13.0, 14, 20, 21, 25, 30]),
            },
            ("t0", "t1"),
        ),
        Case("seed_descent", lambda w: (w**2 + 20).sum(), {"w": np.array(10.0)}, ("w",)),
        Case(
            "seed_mse_wb",
            lambda x, w, b, y: gc.mse_loss(x.matmul(w) + b, y),
            {
                "x": np.ones((2, 5)),
                "w": r.standard_normal((5, 3)),
                "b": r.standard_normal(3),
                "y": np.zeros((2, 3)),
            },
            ("w", "b"),
        ),
        Case(
            "seed_control_flow_path",
            lambda a: 100 * (a * 2 * 2**10),
            {"a": np.array(-0.4)},
            ("a",),
        ),
    ]
    n, d, h, k = 8, 5, 6, 3
    cases.append(
        Case(
            "mlp_step",
            lambda X, labels, W1, b1, W2, b2: gc.cross_entropy(
                gc.tanh(X @ W1 + b1) @ W2 + b2, labels
            ),
            {
                "X": r.standard_normal((n, d)),
                "labels": r.integers(0, k, n),
                "W1": r.standard_normal((d, h)) * 0.5,
                "b1": r.standard_normal(h) * 0.1,
                "W2": r.standard_normal((h, k)) * 0.5,
                "b2": r.standard_normal(k) * 0.1,
            },
            ("W1", "b1", "W2", "b2"),
        )
    )
    cases.append(
        Case(
            "deep_tanh",
            lambda x, *wb: gc.sum(_deep(x, wb) ** 2),
            {
                "x": r.standard_normal((4, 2)),
                **{
                    f"p{i}": (
                        r.standard_normal((4, 4)) * 0.5
                        if i % 2 == 0
                        else r.standard_normal((4, 1)) * 0.1
                    )
                    for i in range(10)
                },
            },
            tuple(f"p{i}" for i in range(10)),
        )
    )
    return cases


def _deep(h, wb):
    for i in range(0, len(wb), 2):
        h = gc.tanh(wb[i] @ h + wb[i + 1])
    return h


# --- random compositions ----------------------------------------------------------------
# Every step maps values of shape (3, 4) to (3, 4), on domains where the ops are smooth.

_UNARY = [
    gc.tanh,
    gc.sin,
    gc.cos,
    gc.sigmoid,
    gc.softplus,
    gc.arctan,
    gc.square,
    lambda a: gc.exp(gc.tanh(a)),
    lambda a: gc.log1p(a * a),
    lambda a: gc.sqrt(a * a + 1),
    lambda a: gc.log(1 + gc.exp(a)),
    lambda a: gc.softmax(a, axis=-1),
    lambda a: gc.log_softmax(a, axis=0),
    lambda a: a - gc.mean(a, axis=0, keepdims=True),
    lambda a: a * gc.sum(a, axis=1, keepdims=True),
    lambda a: gc.reshape(a.T, (3, 4)),
    lambda a: gc.concatenate([a[:, :2], 2 * a[:, 2:]], axis=1),
    lambda a: gc.stack([a[0], a[1] * a[2], -a[2]]),
    lambda a: gc.expand_dims(a, 0)[0],
    lambda a: gc.broadcast_to(gc.max(a, axis=0), (3, 4)) - a,
    lambda a: a**3 / 4,
]
_BINARY = [
    lambda a, b: a + b,
    lambda a, b: a - b,
    lambda a, b: a * b,
    lambda a, b: a / (1 + b * b),
    gc.maximum,
    gc.minimum,
    lambda a, b: gc.where(a > b, a, b),
    lambda a, b: a @ gc.transpose(b) @ a / 4,
]
_WITH_PARAMS = [
    lambda a, v, W: a * v + a @ W / 2,
    lambda a, v, W: (a + v) @ W,
    lambda a, v, W: gc.tanh(a @ W + v),
    lambda a, v, W: a @ (W * v),
]
_FINAL = [
    gc.sum,
    gc.mean,
    lambda a: gc.logsumexp(a),
    lambda a: gc.norm(a),
    lambda a: gc.sum(gc.max(a, axis=1)),
    lambda a: gc.prod(gc.sigmoid(a)),
]


def _random_program(seed: int) -> Callable:
    r = _rng(100 + seed)
    steps = []
    count = int(r.integers(5, 10))
    forced = int(r.integers(count))  # every program uses the parameters v and W once at least
    for k in range(count):
        kind = (
            "params" if k == forced else r.choice(["unary", "binary", "params"], p=[0.5, 0.3, 0.2])
        )
        table = {"unary": _UNARY, "binary": _BINARY, "params": _WITH_PARAMS}[kind]
        steps.append(
            (kind, int(r.integers(len(table))), int(r.integers(1 << 30)), int(r.integers(1 << 30)))
        )
    final = int(r.integers(len(_FINAL)))

    def fn(x, y, v, W):
        pool = [x, y]
        for kind, op, i, j in steps:
            # Mostly a chain (one of the last two values), mixed with any earlier value.
            a, b = pool[-1 - i % 2], pool[j % len(pool)]
            if kind == "unary":
                pool.append(_UNARY[op](a))
            elif kind == "binary":
                pool.append(_BINARY[op](a, b))
            else:
                pool.append(_WITH_PARAMS[op](a, v, W))
        return _FINAL[final](pool[-1] + 0.5 * pool[-2] + 0.25 * x * y)

    return fn


def _random_cases(count: int = 12) -> list[Case]:
    cases = []
    for seed in range(count):
        r = _rng(seed)
        args = {
            "x": r.uniform(-1, 1, (3, 4)),
            "y": r.uniform(-1, 1, (3, 4)),
            "v": r.uniform(-1, 1, 4),
            "W": r.uniform(-0.7, 0.7, (4, 4)),
        }
        cases.append(Case(f"random_{seed}", _random_program(seed), args, ("x", "y", "v", "W")))
    return cases


CASES = _seed_cases() + _random_cases()


# --- the engines ------------------------------------------------------------------------


def _symbolic(case: Case):
    syms = [gc.var(n, shape=a.shape, dtype=a.dtype) for n, a in case.args.items()]
    by_name = dict(zip(case.args, syms))
    y = case.fn(*syms)
    grads = gc.grad(y, [by_name[n] for n in case.wrt])
    out = gc.compile(syms, [y, *grads])(*case.args.values())
    return out[0], list(out[1:])


def _eager(case: Case, use_backward: bool):
    ts = {n: eager.tensor(a, requires_grad=n in case.wrt) for n, a in case.args.items()}
    y = case.fn(*ts.values())
    if use_backward:
        y.backward()
        # An input the output does not use keeps .grad None, as in PyTorch.
        return y.numpy(), [
            np.zeros_like(case.args[n]) if ts[n].grad is None else ts[n].grad.numpy()
            for n in case.wrt
        ]
    grads = eager.grad(y, [ts[n] for n in case.wrt])
    return y.numpy(), [g.numpy() for g in grads]


def _value_and_grad(case: Case):
    names = list(case.args)
    vg = gc.value_and_grad(case.fn, argnums=tuple(names.index(n) for n in case.wrt))
    value, grads = vg(*case.args.values())
    return value, list(grads)


def assert_close(actual, expected, what):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    err = float(np.max(np.abs(actual - expected), initial=0.0))
    assert err <= RTOL * scale, f"{what}: differs by {err:.3g} (scale {scale:.3g})"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_values_and_gradients_agree(case):
    value, grads = _symbolic(case)
    for engine, (v, gs) in {
        "eager.grad": _eager(case, False),
        "backward": _eager(case, True),
        "value_and_grad": _value_and_grad(case),
    }.items():
        assert_close(v, value, f"{case.name} value ({engine})")
        for n, g, ref in zip(case.wrt, gs, grads):
            assert_close(g, ref, f"{case.name} d/d{n} ({engine})")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_second_derivatives_agree(case):
    """Hessian-vector products: symbolic grad of <grad, u> against eager create_graph."""
    r = _rng(7)
    dirs = {n: r.standard_normal(case.args[n].shape) for n in case.wrt}

    syms = [gc.var(n, shape=a.shape, dtype=a.dtype) for n, a in case.args.items()]
    by_name = dict(zip(case.args, syms))
    wrt = [by_name[n] for n in case.wrt]
    grads = gc.grad(case.fn(*syms), wrt)
    inner = sum(gc.sum(g * dirs[n]) for n, g in zip(case.wrt, grads))
    hvp = gc.compile(syms, gc.grad(inner, wrt))(*case.args.values())

    ts = {n: eager.tensor(a, requires_grad=n in case.wrt) for n, a in case.args.items()}
    params = [ts[n] for n in case.wrt]
    egrads = eager.grad(case.fn(*ts.values()), params, create_graph=True)
    einner = sum(gc.sum(g * dirs[n]) for n, g in zip(case.wrt, egrads))
    if isinstance(einner, eager.Tensor) and einner.requires_grad:
        ehvp = [g.numpy() for g in eager.grad(einner, params)]
    else:  # the gradient does not depend on the inputs: the Hessian is zero
        ehvp = [np.zeros_like(case.args[n]) for n in case.wrt]
    for n, a, b in zip(case.wrt, ehvp, hvp):
        assert_close(a, b, f"{case.name} Hessian-vector product, block {n}")


def test_one_function_three_kinds_of_value():
    """A user function on numpy arrays, on symbols and on tensors gives the same number."""
    case = CASES[0]
    x = case.args["x"]
    plain = case.fn(x)
    assert isinstance(plain, (np.ndarray, np.generic, float))
    assert_close(case.fn(eager.tensor(x)).numpy(), plain, "eager")
    xv = gc.var("x")
    assert_close(gc.compile([xv], case.fn(xv))(x), plain, "compiled")
