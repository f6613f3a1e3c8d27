"""Hypothesis property tests on random programs with control flow.

Hypothesis draws a small program: straight-line statements over a pool of values of shape
(3,) (elementwise ops, reversed and sliced views, reductions) and `fori_loop`,
`while_loop`, `scan` and `cond` statements whose bodies are programs of the same kind, nested
up to two deep. Each carry of a loop is updated to a value drawn from the body's pool, so
carries come out loop-invariant (the carry itself), swapped or duplicated (another carry), a
captured outer value, or computed; a carry may also start as the same value as another.

The same program runs in every mode: compiled (shapes declared, only ranks declared and
unsimplified, nothing declared), eager tensors and plain numpy. Values agree across modes,
and derivatives up to order two (grad, jvp, jvp of jvp, grad of jvp, ...) agree with finite
differences through `graphc.testing.assert_grads`. Emitted loop bodies reuse dead temporaries'
buffers and `del` them, so these compare the liveness of every block against the eager result.

Every op is bounded by the magnitude of its operands (products go through tanh, sums are
halved), so values stay finite however often a loop repeats them.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import graphc as gc
from graphc import eager, testing

UNARY = {
    "sin": gc.sin,
    "cos": gc.cos,
    "tanh": gc.tanh,
    "sigmoid": gc.sigmoid,
    "neg": lambda v: -v,
    "square": lambda v: v * gc.tanh(v),
}
BINARY = {
    "add": lambda a, b: (a + b) * 0.5,
    "sub": lambda a, b: (a - b) * 0.5,
    "mul": lambda a, b: a * gc.tanh(b),
    "mul_self": lambda a, b: a * a * 0.5,
}
VIEWS = {
    "reverse": lambda v: v[::-1],
    "roll": lambda v: gc.concatenate([v[1:], v[:1]]),
    "first": lambda v: v[0] * 0.3 + v * 0.5,  # a scalar read through indexing
}


# --- drawing programs ------------------------------------------------------------------


@st.composite
def block(draw, size: int, depth: int, length: int = 3) -> list:
    """Statements over a pool of `size` values; each appends one or more values."""
    stmts = []
    for _ in range(draw(st.integers(1, length))):
        ref = st.integers(0, size - 1)
        kinds = ["unary", "binary", "scale", "view", "reduce"]
        if depth > 0:
            kinds += ["fori", "while", "scan", "cond"] * 2
        kind = draw(st.sampled_from(kinds))
        if kind == "unary":
            stmts.append(("unary", draw(st.sampled_from(sorted(UNARY))), draw(ref)))
        elif kind == "binary":
            stmts.append(("binary", draw(st.sampled_from(sorted(BINARY))), draw(ref), draw(ref)))
        elif kind == "scale":
            stmts.append(("scale", draw(ref), draw(st.sampled_from([0.0, 0.5, -0.7, 1.0]))))
        elif kind == "view":
            stmts.append(("view", draw(st.sampled_from(sorted(VIEWS))), draw(ref)))
        elif kind == "reduce":
            stmts.append(("reduce", draw(ref), draw(ref)))
        else:
            n_carry = draw(st.integers(1, 3))
            inits = [draw(ref) for _ in range(n_carry)]
            inner = size + n_carry + (1 if kind == "scan" else 0)
            body = draw(block(inner, depth - 1, 2))
            out_ref = st.integers(0, inner + _count(body) - 1)
            outs = [draw(out_ref) for _ in range(n_carry)]
            if kind == "cond":
                other = draw(block(inner, depth - 1, 2))
                other_outs = [
                    draw(st.integers(0, inner + _count(other) - 1)) for _ in range(n_carry)
                ]
                stmts.append(("cond", draw(ref), inits, body, outs, other, other_outs))
            elif kind == "scan":
                xs = [draw(ref) for _ in range(3)]
                stmts.append(("scan", inits, body, outs, xs, draw(out_ref), draw(st.booleans())))
            else:
                stmts.append((kind, draw(st.integers(0, 3)), inits, body, outs))
        size += _count(stmts[-1:])
    return stmts


def _count(stmts) -> int:
    """How many values `stmts` append to the pool."""
    total = 0
    for s in stmts:
        total += (
            len(s[1]) + 1
            if s[0] == "scan"
            else len(s[2])
            if s[0] in ("fori", "while", "cond")
            else 1
        )
    return total


# --- running them ----------------------------------------------------------------------


def run(stmts, pool: list) -> list:
    """Execute `stmts` on `pool` (symbols, eager tensors or numpy arrays alike) with gc
    functions; returns the grown pool."""
    pool = list(pool)
    for s in stmts:
        kind = s[0]
        if kind == "unary":
            pool.append(UNARY[s[1]](pool[s[2]]))
        elif kind == "binary":
            pool.append(BINARY[s[1]](pool[s[2]], pool[s[3]]))
        elif kind == "scale":
            pool.append(pool[s[1]] * s[2])
        elif kind == "view":
            pool.append(VIEWS[s[1]](pool[s[2]]))
        elif kind == "reduce":
            pool.append(gc.sum(pool[s[1]]) * 0.2 + pool[s[2]] * 0.5)
        elif kind == "fori":
            _, n, inits, body, outs = s
            # The bodies close over this iteration's names: they are traced right here.
            pool.extend(
                gc.fori_loop(
                    0,
                    n,
                    lambda i, c: _step(body, outs, pool, c),  # noqa: B023
                    tuple(pool[k] for k in inits),
                )
            )
        elif kind == "while":
            _, n, inits, body, outs = s
            _, final = gc.while_loop(
                lambda c: c[0] < n,  # noqa: B023
                lambda c: (c[0] + 1, _step(body, outs, pool, c[1])),  # noqa: B023
                (0, tuple(pool[k] for k in inits)),
            )
            pool.extend(final)
        elif kind == "scan":
            _, inits, body, outs, xs, y_ref, reverse = s

            def f(c, x, body=body, outs=outs, y_ref=y_ref):
                inner = run(body, pool + list(c) + [x])
                return tuple(inner[k] for k in outs), inner[y_ref]

            final, ys = gc.scan(
                f, tuple(pool[k] for k in inits), gc.stack([pool[k] for k in xs]), reverse=reverse
            )
            pool.extend(final)
            pool.append(gc.sum(ys, axis=0) * 0.25)
        else:
            _, p, inits, body, outs, other, other_outs = s
            pool.extend(
                gc.cond(
                    gc.sum(pool[p]) > 0,
                    lambda *c: _step(body, outs, pool, c),  # noqa: B023
                    lambda *c: _step(other, other_outs, pool, c),  # noqa: B023
                    *[pool[k] for k in inits],
                )
            )
    return pool


def _step(body, outs, pool, carries) -> tuple:
    inner = run(body, pool + list(carries))
    return tuple(inner[k] for k in outs)


def program(stmts, result: int):
    """The program as a function of the two inputs: [the last value, the `result`-th]."""

    def fn(x, y):
        pool = run(stmts, [x, y])
        return [pool[-1], pool[result % len(pool)]]

    return fn


@st.composite
def programs(draw):
    stmts = draw(block(2, 2, 4))
    return stmts, draw(st.integers(0, 50))


def _inputs(seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.5, 1.5, 3), rng.uniform(-1.5, 1.5, 3)]


def _compiled(fn, args, declare: str, simplify: bool) -> list:
    shapes = {"shape": (3,), "rank": (None,), "none": None}[declare]
    xs = [gc.var(name, shapes) for name in ("x", "y")]
    return [np.asarray(v) for v in gc.compile(xs, fn(*xs), simplify=simplify)(*args)]


@settings(max_examples=settings.default.max_examples // 2)  # the profile's, scaled
@given(drawn=programs(), seed=st.integers(0, 2**16))
def test_compiled_eager_and_numpy_agree(drawn, seed):
    fn = program(*drawn)
    args = _inputs(seed)
    expected = [np.asarray(v) for v in fn(*args)]
    got = {
        "eager": [t.numpy() for t in fn(*(eager.tensor(a, requires_grad=True) for a in args))],
        "compiled": _compiled(fn, args, "shape", True),
        "generic": _compiled(fn, args, "rank", False),
        "unshaped": _compiled(fn, args, "none", False),
    }
    for mode, values in got.items():
        for k, (v, e) in enumerate(zip(values, expected)):
            np.testing.assert_allclose(v, e, rtol=1e-10, atol=1e-12, err_msg=f"{mode}, output {k}")


# Found by this test: the reverse pass's forward scan had an empty body.
EMPTY_FORWARD_SCAN = (
    [
        ("fori", 0, [0, 0, 0], [("unary", "cos", 0)], [0, 0, 0]),
        ("scan", [0], [("unary", "cos", 0)], [5], [0, 0, 0], 0, False),
    ],
    0,
)


@pytest.mark.slow  # about 8 s; its regression example also runs in the default loop, below
@settings(max_examples=settings.default.max_examples // 3)
@given(drawn=programs(), seed=st.integers(0, 2**16))
@example(drawn=EMPTY_FORWARD_SCAN, seed=0)
def test_derivatives_of_all_orders_match_finite_differences(drawn, seed):
    _check_derivatives(drawn, seed)


def test_derivatives_through_an_empty_forward_scan():
    _check_derivatives(EMPTY_FORWARD_SCAN, 0)


def _check_derivatives(drawn, seed):
    testing.assert_grads(
        program(*drawn),
        _inputs(seed),
        order=2,
        engines=("compiled", "generic", "eager"),
        rtol=1e-5,
        atol=1e-7,
    )
