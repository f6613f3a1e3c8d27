"""Golden tests of emitted code: the exact `f.source` for representative graphs.

These pin codegen and the passes before it (simplify, autodiff, buffer reuse, `del`, control
flow). A change here is a behaviour change: update the expected text only when the new code is
the point of the change, and say so in the commit message. Each case also runs the program and
compares it with the unsimplified graph."""

from __future__ import annotations

import numpy as np

import graphc as gc


def test_seed():
    """README's seed: 2*dot(x, x) and its gradient, checked at the call (dtype unknown)."""
    x = gc.var("x", shape=(3,))
    y = 2 * gc.dot(x, x)
    f = gc.compile([x], [y, gc.grad(y, x)])
    assert f.source == SOURCE_SEED
    _check_runs(f)


SOURCE_SEED = """\
import numpy as np
from graphc.runtime import _checked_grad

def fn(x):
    t1 = np.dot(x, x)
    t2 = 2 * t1
    del t1
    t3 = 4.0 * x
    t4 = _checked_grad(t3, x)
    return t2, t4
"""


def test_chain():
    """An elementwise chain, dtypes declared: dead buffers are reused (`out=`, `*=`)."""
    x, y = gc.var("x", shape=(4,), dtype=np.float64), gc.var("y", shape=(4,), dtype=np.float64)
    a = gc.exp(x) * y
    b = gc.sin(a) + x
    c = gc.tanh(b) * a - y
    f = gc.compile([x, y], gc.log(c * c + 1.0))
    assert f.source == SOURCE_CHAIN
    _check_runs(f)


SOURCE_CHAIN = """\
import numpy as np

def fn(x, y):
    t1 = np.exp(x)
    t1 *= y
    t2 = np.sin(t1)
    t2 += x
    np.tanh(t2, out=t2)
    t2 *= t1
    del t1
    t2 -= y
    t2 *= t2
    np.log1p(t2, out=t2)
    return t2
"""


def test_dels():
    """Temporaries are deleted after their last use; a reduction is read by two consumers."""
    x = gc.var("x", shape=(5,))
    a = gc.exp(x)
    b = gc.sum(a)
    c = gc.sin(x) * b
    d = gc.cos(c)
    f = gc.compile([x], [gc.sum(d), d * b])
    assert f.source == SOURCE_DELS
    _check_runs(f)


SOURCE_DELS = """\
import numpy as np

def fn(x):
    t1 = np.sin(x)
    t2 = np.exp(x)
    t3 = t2.sum()
    del t2
    t4 = t1 * t3
    del t1
    t5 = np.cos(t4)
    del t4
    t6 = t5 * t3
    del t3
    t7 = t5.sum()
    del t5
    return t7, t6
"""


def test_f32():
    """A float32 graph and its gradient: in-place updates keep the buffers float32."""
    x = gc.var("x", shape=(3,), dtype=np.float32)
    w = gc.var("w", shape=(3,), dtype=np.float32)
    y = gc.sum(gc.sigmoid(w * x) * x)
    f = gc.compile([x, w], [y, gc.grad(y, w)])
    assert f.source == SOURCE_F32
    _check_runs(f)


SOURCE_F32 = """\
import numpy as np

def fn(x, w):
    t1 = w * x
    t2 = np.exp(-np.logaddexp(0.0, -t1))
    t3 = np.dot(t2, x)
    np.subtract(1, t2, out=t1)
    t2 *= t1
    del t1
    t2 *= x
    t2 *= x
    return t3, t2
"""


def test_mlp():
    """An MLP layer's loss and gradients with declared shapes and dtypes."""
    X = gc.var("X", shape=(8, 4), dtype=np.float64)
    W = gc.var("W", shape=(4, 3), dtype=np.float64)
    b = gc.var("b", shape=(3,), dtype=np.float64)
    h = gc.tanh(gc.dot(X, W) + b)
    loss = gc.mean(h * h)
    gW, gb = gc.grad(loss, [W, b])
    f = gc.compile([X, W, b], [loss, gW, gb])
    assert f.source == SOURCE_MLP
    _check_runs(f)


SOURCE_MLP = """\
import numpy as np
# c0: a constant float64 array of shape ()

def fn(X, W, b):
    t1 = np.dot(X, W)
    t1 += b
    np.tanh(t1, out=t1)
    t2 = t1 * t1
    t1 *= c0
    t1 += t1
    t3 = t2.sum()
    np.subtract(1, t2, out=t2)
    t4 = t3 / 24
    del t3
    t1 *= t2
    del t2
    t5 = X.T @ t1
    t6 = t1.sum(axis=0)
    del t1
    return t4, t5, t6
"""


def test_fori():
    """A fori_loop emits a Python for loop over np.arange."""
    x = gc.var("x", shape=(3,))
    y = gc.fori_loop(0, 4, lambda i, s: s * x + i, x)
    f = gc.compile([x], y)
    assert f.source == SOURCE_FORI
    _check_runs(f)


SOURCE_FORI = """\
import numpy as np

def fn(x):
    s = x
    for i in np.arange(0, 4):
        t2 = s * x
        s = t2 + i
        del t2
    return s
"""


def test_while_grad():
    """A while_loop gradient: the forward loop records history, the reverse loop reads it."""
    a = gc.var("a", shape=())
    out = gc.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, gc.sin(c[1]) * a), (0, a))[1]
    f = gc.compile([a], [out, gc.grad(out, a)])
    assert f.source == SOURCE_WHILE_GRAD
    _check_runs(f)


SOURCE_WHILE_GRAD = """\
import numpy as np
from graphc.runtime import _checked_grad

def fn(a):
    c_0 = np.int64(0)
    c_1 = a
    c_1_hist = []
    while c_0 < 3:
        c_1_hist.append(c_1)
        c_0 = c_0 + 1
        t2 = np.sin(c_1)
        c_1 = t2 * a
        del t2
    c_1_hist = np.stack(c_1_hist) if c_1_hist else np.zeros((0,) + np.shape(c_1), np.result_type(c_1))
    t3 = np.zeros_like(a)
    g_c_1 = np.float64(1.0)
    g_a = t3
    for k in range(len(c_1_hist) - 1, -1, -1):
        c_1_2 = c_1_hist[k]
        t5 = g_c_1 * a
        t6 = np.cos(c_1_2)
        t7 = t5 * t6
        del t5, t6
        t8 = np.sin(c_1_2)
        t9 = g_c_1 * t8
        del t8
        g_a = g_a + t9
        del t9
        g_c_1 = t7
    t10 = g_c_1 + g_a
    del g_c_1, g_a
    t11 = _checked_grad(t10, a)
    return c_1, t11
"""


def test_cond():
    """A cond emits an if/else with each branch's temporaries inside it."""
    x = gc.var("x", shape=(3,))
    y = gc.cond(gc.sum(x) > 0, lambda v: gc.exp(v) * 2.0, lambda v: v * v, x)
    f = gc.compile([x], y)
    assert f.source == SOURCE_COND
    _check_runs(f)


SOURCE_COND = """\
import numpy as np

def fn(x):
    t1 = x.sum()
    t2 = t1 > 0
    del t1
    if t2:
        t5 = np.exp(x)
        t4 = t5 * 2.0
        del t5
    else:
        t4 = x * x
    return t4
"""


def test_scan():
    """A scan stacks its per-step outputs."""
    x = gc.var("x", shape=(4, 2))
    c0 = gc.var("c0", shape=(2,))
    final, ys = gc.scan(lambda c, xt: (c + xt, c * xt), c0, x)
    f = gc.compile([c0, x], [final, ys])
    assert f.source == SOURCE_SCAN
    _check_runs(f)


SOURCE_SCAN = """\
import numpy as np

def fn(v0_c0, x):
    c = v0_c0
    ys = []
    for k in range(4):
        xt = x[k]
        t2 = c + xt
        t3 = c * xt
        ys.append(t3)
        c = t2
    ys = np.stack(ys)
    return c, ys
"""


def test_jvp():
    """Forward mode: the tangent of sin(x)*exp(x)."""
    x, t = gc.var("x", shape=(3,)), gc.var("t", shape=(3,))
    y = gc.sin(x) * gc.exp(x)
    f = gc.compile([x, t], gc.jvp(y, {x: t}))
    assert f.source == SOURCE_JVP
    _check_runs(f)


SOURCE_JVP = """\
import numpy as np

def fn(x, t):
    t1 = np.cos(x)
    t2 = np.sin(x)
    t3 = t1 + t2
    del t1, t2
    t4 = t * t3
    del t3
    t5 = np.exp(x)
    t6 = t4 * t5
    del t4, t5
    return t6
"""


def test_recurrence():
    """The recurrence h = tanh(a*h + x_t) unrolled 3 steps, value and gradient w.r.t. a."""
    a = gc.var("a", shape=())
    xs = [gc.var(f"x{i}", shape=(2,)) for i in range(3)]
    h0 = h = gc.var("h0", shape=(2,))
    for xt in xs:
        h = gc.tanh(a * h + xt)
    loss = gc.sum(h)
    f = gc.compile([a, h0, *xs], [loss, gc.grad(loss, a)])
    assert f.source == SOURCE_RECURRENCE
    _check_runs(f)


SOURCE_RECURRENCE = """\
import numpy as np
from graphc.runtime import _checked_grad

def fn(a, h0, x0, x1, x2):
    t1 = a * h0
    t2 = t1 + x0
    del t1
    t3 = np.tanh(t2)
    del t2
    t4 = a * t3
    t5 = t4 + x1
    del t4
    t6 = np.tanh(t5)
    del t5
    t7 = a * t6
    t8 = t7 + x2
    del t7
    t9 = np.tanh(t8)
    del t8
    t10 = t9.sum()
    t11 = t9 * t9
    del t9
    t12 = 1 - t11
    del t11
    t13 = t12 * t6
    t14 = t12 * a
    del t12
    t15 = t6 * t6
    del t6
    t16 = t13.sum()
    del t13
    t17 = 1 - t15
    del t15
    t18 = t14 * t17
    del t14, t17
    t19 = t18 * t3
    t20 = t18 * a
    del t18
    t21 = t3 * t3
    del t3
    t22 = t19.sum()
    del t19
    t23 = 1 - t21
    del t21
    t24 = t16 + t22
    del t16, t22
    t25 = t20 * t23
    del t20, t23
    t26 = t25 * h0
    del t25
    t27 = t26.sum()
    del t26
    t28 = t24 + t27
    del t24, t27
    t29 = _checked_grad(t28, a)
    return t10, t29
"""


def _check_runs(f):
    """The program computes what the unsimplified graph computes, at random inputs."""
    rng = np.random.default_rng(0)
    args = [rng.uniform(-1.0, 1.0, size=v.shape).astype(v.dtype or np.float64) for v in f.inputs]
    reference = gc.compile(f.inputs, f.outputs, simplify=False)
    for got, want in zip(_as_list(f(*args)), _as_list(reference(*args))):
        np.testing.assert_allclose(got, want, rtol=1e-5 if got.dtype == np.float32 else 1e-9)


def _as_list(result):
    return list(result) if isinstance(result, (list, tuple)) else [result]
