"""Source of 02_graphs_and_modes.ipynb (run notebooks/build.py to regenerate)."""
# ruff: noqa: E402  (a notebook imports where the story needs it)
# %% [markdown]
# # 2. Building graphs, and the two modes of differentiation
#
# Two questions every autodiff system answers, and this notebook shows graphc's answers:
#
# * **When is the graph built?** Explicitly, before any data exists (TensorFlow 1, Theano,
#   MXNet's `sym`: *define-then-run*), or implicitly, by recording operations while they
#   run (PyTorch, MXNet's `autograd.record`: *define-by-run*). graphc does the first, and its
#   `eager` mode the second, with the same functions and derivative rules.
# * **Which way does the chain rule run?** Forward mode pushes tangents from inputs to
#   outputs, reverse mode pulls cotangents from outputs back to inputs. We count the
#   operations, time them, and measure memory, for a function with many inputs and one
#   output and for one with one input and many outputs.

# %%
import time
import tracemalloc

import numpy as np
import matplotlib.pyplot as plt

import graphc as gc

plt.rcParams.update({"figure.figsize": (7, 2.8), "figure.dpi": 72})
np.set_printoptions(precision=4, suppress=True)

# %%
from graphc import eager

# %% [markdown]
# ## 2.1 Explicit construction: define now, bind data later
#
# This is the MXNet example from the tutorial, which there stops at the comment
# "bind data into a and b later". In graphc the graph is a value you can inspect first:

# %%
a = gc.var("a")
b = gc.var("b")
c = 2 * a + b
print("c =", c)
print("arguments:", c.list_arguments())

# %% [markdown]
# Shapes can be inferred before any data exists, and data is bound when we have it:

# %%
arg_shapes, out_shapes = c.infer_shape(a=(2, 1), b=(2, 1))
print("argument shapes:", arg_shapes, "  output shapes:", out_shapes)
print(c.eval(a=np.ones((2, 1)), b=np.ones((2, 1)))[0])

# %% [markdown]
# Or compile it once and call it on many inputs:

# %%
f = gc.compile([a, b], c)
print(f(np.ones((2, 1)), np.ones((2, 1))))
print(f(a=np.arange(3.0), b=10.0))

# %% [markdown]
# The graph, as `gc.draw` shows it:

# %%
fig, ax = plt.subplots(figsize=(3.5, 2.5))
gc.draw(c, ax=ax)
plt.show()

# %% [markdown]
# ## 2.2 Implicit construction: record while running
#
# The tutorial's second snippet is MXNet's `autograd.record()`: values are computed at once
# and the operations are recorded on the side. `graphc.eager` behaves so (like PyTorch):

# %%
a_t = eager.ones((2, 1)).requires_grad_(True)
b_t = eager.ones((2, 1)).requires_grad_(True)
c_t = 2 * a_t + b_t
print(c_t.numpy().ravel(), "  grad_fn:", c_t.grad_fn)
c_t.sum().backward()
print("a.grad:", a_t.grad.numpy().ravel(), "  b.grad:", b_t.grad.numpy().ravel())

# %% [markdown]
# **One namespace for every mode.** The same Python function builds a graph from symbols,
# computes and records on eager tensors, and computes directly on numpy arrays.

# %%
def model(a, b):
    return gc.tanh(2 * a + b)


print("symbols:", model(a, b))
print("numpy:  ", model(np.ones(2), np.zeros(2)))

# %%
print("eager:  ", model(eager.ones(2), eager.zeros(2)))

# %% [markdown]
# ## 2.3 Forward mode and reverse mode
#
# For $y = f_3(f_2(f_1(x)))$ the chain rule gives a product of Jacobians
# $J = J_3 J_2 J_1$. **Reverse mode** (`gc.grad`) multiplies from the left: a row vector
# (the head) times $J_3$, then $J_2$, then $J_1$, giving one *row* of $J$ per sweep.
# **Forward mode** (`gc.jvp`) multiplies from the right: $J_1$ times a tangent vector, then
# $J_2$, then $J_3$, giving one *column* per sweep. So the full Jacobian of
# $f:\mathbb{R}^n\to\mathbb{R}^m$ costs $m$ reverse sweeps or $n$ forward sweeps.
#
# We measure both on
#
# * **many inputs, one output**: $y = \sum_i \tanh(x_i)^2 + x_i \sin x_i$ for $x\in\mathbb{R}^n$;
# * **one input, many outputs**: $y_j = \sin(k_j x) / k_j$ for a scalar $x$, $j = 1..m$.
#
# To count operations we count the statements of the emitted numpy program.

# %%
def n_ops(fn):
    """Operations in a compiled program: its statements, not counting del and return."""
    body = [line.strip() for line in fn.source.splitlines() if line.startswith("    ")]
    return sum(1 for line in body if not line.startswith(("del ", "return")))


def best_time(call, repeat=5):
    """Best wall time of `call()` over a few repeats, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


# Many inputs, one output.
x = gc.var("x")
t = gc.var("t")  # a tangent for x
y = gc.sum(gc.tanh(x) ** 2 + x * gc.sin(x))
rev = gc.compile([x], gc.grad(y, x))  # the whole gradient in one sweep
fwd = gc.compile([x, t], gc.jvp(y, {x: t}))  # one directional derivative per sweep


def grad_forward(x0):
    eye = np.eye(x0.size)
    return np.array([fwd(x0, eye[i]) for i in range(x0.size)])


x0 = np.random.default_rng(0).standard_normal(50)
print("forward and reverse agree:", np.allclose(grad_forward(x0), rev(x0)))

# %%
sizes = [10, 30, 100, 300]
t_rev, t_fwd = [], []
for size in sizes:
    xv = np.random.default_rng(1).standard_normal(size)
    t_rev.append(best_time(lambda: rev(xv)))
    t_fwd.append(best_time(lambda: grad_forward(xv), repeat=3))
ops_rev, ops_fwd = n_ops(rev), n_ops(fwd)
print(f"operations for the whole gradient: reverse {ops_rev}, forward {ops_fwd} x n")

# %% [markdown]
# Now the opposite shape: one scalar input $x$, and $m$ outputs. Reverse mode needs one
# sweep per output (a head $e_j$ picks output $j$); forward mode gets every output's
# derivative from one sweep with tangent 1.

# %%
k = gc.var("k")  # the frequencies, one per output
xs = gc.var("xs", shape=())
h = gc.var("h")  # a head for y2
y2 = gc.sin(k * xs) / k
rev2 = gc.compile([xs, k, h], gc.grad(y2, xs, head=h))  # one output's derivative per sweep
fwd2 = gc.compile([xs, k], gc.jvp(y2, {xs: 1.0}))  # every output's derivative at once


def deriv_reverse(x0, kv):
    eye = np.eye(kv.size)
    return np.array([rev2(x0, kv, eye[j]) for j in range(kv.size)])


kv = np.arange(1.0, 51.0)
print("forward and reverse agree:",
      np.allclose(deriv_reverse(np.float64(0.3), kv), fwd2(np.float64(0.3), kv)))

t_rev2, t_fwd2 = [], []
for size in sizes:
    kv = np.arange(1.0, size + 1.0)
    t_rev2.append(best_time(lambda: deriv_reverse(np.float64(0.3), kv), repeat=3))
    t_fwd2.append(best_time(lambda: fwd2(np.float64(0.3), kv)))
print(f"operations for all derivatives: reverse {n_ops(rev2)} x m, forward {n_ops(fwd2)}")

# %%
fig, axes = plt.subplots(1, 2, sharey=True)
for ax, (tr, tf), title, n_name in zip(
        axes, [(t_rev, t_fwd), (t_rev2, t_fwd2)],
        ["many inputs -> one output", "one input -> many outputs"], ["n inputs", "m outputs"]):
    ax.loglog(sizes, np.array(tr) * 1e6, "o-", label="reverse (gc.grad)")
    ax.loglog(sizes, np.array(tf) * 1e6, "s-", label="forward (gc.jvp)")
    ax.set(title=title, xlabel=n_name)
axes[0].set_ylabel("time for all derivatives (us)")
axes[0].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# Each mode wins by a factor that grows with $n$ (or $m$): the winner needs one sweep, the
# loser one sweep per input (or output). Training a model is the left case (millions of
# parameters, one loss), which is why deep learning runs in reverse mode.
#
# ## 2.4 The price of reverse mode: memory
#
# A reverse sweep needs the forward pass's intermediate values, so it keeps them alive until
# the backward pass has used them; a forward sweep carries the tangent along and can drop
# each value at once. graphc's emitted code frees every temporary (`del`) after its last use
# and reuses buffers, so the difference shows directly. Take a deep chain of layers
# $h_{i+1} = \tanh(W h_i)$ on a $64 \times 2000$ matrix (1 MiB of numbers) and measure the
# peak memory of one sweep with `tracemalloc`. (With an *elementwise* chain there would be
# nothing to see: the derivative is then a product of scalars, and graphc's simplifier
# reorders it into a single forward pass. Matrix products do not commute, so here it cannot.)

# %%
W = gc.var("W", shape=(64, 64))
xm = gc.var("xm", shape=(64, None))
tm = gc.var("tm", shape=(64, None))  # a tangent for xm


def layers(v, depth):
    hv = v
    for _ in range(depth):
        hv = gc.tanh(W @ hv)
    return gc.sum(hv)


def peak_mib(fn, *args):
    tracemalloc.start()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


rng = np.random.default_rng(2)
W0 = rng.standard_normal((64, 64)) / 8
x0 = rng.standard_normal((64, 2000))
t0 = np.ones_like(x0)
depths = [1, 2, 4, 8, 16]
mem_rev, mem_fwd = [], []
for depth in depths:
    yd = layers(xm, depth)
    r = gc.compile([W, xm], gc.grad(yd, xm))
    f_ = gc.compile([W, xm, tm], gc.jvp(yd, {xm: tm}))
    assert np.isclose(np.sum(r(W0, x0) * t0), f_(W0, x0, t0))  # the same derivative
    mem_rev.append(peak_mib(r, W0, x0))
    mem_fwd.append(peak_mib(f_, W0, x0, t0))
print("one array:", round(x0.nbytes / 2**20, 2), "MiB")
print("reverse:", np.round(mem_rev, 1))
print("forward:", np.round(mem_fwd, 1))

# %%
fig, ax = plt.subplots(figsize=(4.5, 2.8))
ax.plot(depths, mem_rev, "o-", label="reverse (gc.grad)")
ax.plot(depths, mem_fwd, "s-", label="forward (gc.jvp)")
ax.set(xlabel="number of layers", ylabel="peak memory (MiB)", title="memory of one sweep")
ax.legend()
plt.show()

# %% [markdown]
# Reverse mode's memory grows with depth: one saved array per layer. Forward mode stays
# flat. This is the trade-off the tutorial's "complexity" slide describes: reverse mode is
# cheap in time for one output but stores the forward pass; forward mode stores nothing but
# needs a sweep per input.
#
# Next: [03_linear_regression](03_linear_regression.ipynb) trains a model in each of
# graphc's styles.
