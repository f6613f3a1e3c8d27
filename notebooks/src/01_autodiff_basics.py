"""Source of 01_autodiff_basics.ipynb (run notebooks/build.py to regenerate)."""
# ruff: noqa: E402  (a notebook imports where the story needs it)
# %% [markdown]
# # 1. Automatic differentiation, define-then-run
#
# The classic autograd tutorial (d2l's "automatic differentiation" chapter) runs PyTorch code
# and lets the library record what happened. graphc works the other way round, like MXNet's
# `sym` API: you **define** a graph over named placeholders, ask for its gradient **as
# another graph**, read and simplify that gradient, compile it to plain numpy, and only then
# **bind data**.
#
# For each tutorial example this notebook shows:
#
# 1. the graph and its derived gradient, printed and drawn;
# 2. the numpy program graphc emits;
# 3. the values, once data is bound;
# 4. the same computation in `graphc.eager`, a PyTorch-like tape mode, beside it.

# %%
import numpy as np
import matplotlib.pyplot as plt

import graphc as gc

plt.rcParams.update({"figure.figsize": (7, 2.8), "figure.dpi": 72})
np.set_printoptions(precision=4, suppress=True)

# %%
from graphc import eager

# %% [markdown]
# ## 1.1 A first gradient: $y = 2\,x^\top x$
#
# `gc.var("x")` is a placeholder: no shape, no data yet. Every operation on it builds a node.

# %%
x = gc.var("x")
y = 2 * gc.dot(x, x)
print(y)
print("arguments:", y.list_arguments())

# %% [markdown]
# `gc.grad` derives the gradient **symbolically**. The result is an ordinary graph: we can
# print it, draw it, compile it or differentiate it again. The tutorial expects $4x$.

# %%
dy = gc.grad(y, x)
print(dy)

# %% [markdown]
# In a notebook a symbol also renders as mathematics (`gc.latex` gives the LaTeX text):

# %%
dy

# %% [markdown]
# Drawn, the forward graph and its derived, simplified gradient look like this
# (`gc.draw` uses `gc.to_networkx` and matplotlib):

# %%
fig, axes = plt.subplots(1, 2)
gc.draw(y, ax=axes[0])
axes[0].set_title("y = 2 * dot(x, x)")
gc.draw(dy, ax=axes[1])
axes[1].set_title("dy/dx, simplified")
plt.show()

# %% [markdown]
# `gc.explain` walks the chain rule the way the reverse pass runs it: one row per step, with
# the line that built the node, its adjoint (the gradient of the output with respect to that
# node), the local derivative of the step, and the contribution it sends to each input.
# `dot(x, x)` uses `x` twice, so `x` receives two contributions, `2*x` each: their sum is
# the $4x$ of the tutorial. Below the walk: what the simplifier made of the gradient. (We
# declare the shape here: with it, the derivative of `dot` prints as plain algebra; without
# it, as the shape-generic `product_vjp` until data is bound.)

# %%
x3 = gc.var("x", shape=(3,))
y3 = 2 * gc.dot(x3, x3)
print(gc.explain(y3, x3))

# %% [markdown]
# With values (`at=`), every row also shows the numbers:

# %%
print(gc.explain(y3, x3, at={"x": np.array([1.0, 2.0, 3.0])}))

# %% [markdown]
# The same walk for a two-layer network: a `tanh` layer, a linear layer and the mean squared
# error. The local derivative of `tanh` is `1 - tanh(...)**2`; a matrix product sends
# `g -> g @ W2.T` to its left operand and `g -> h.T @ g` to its right one, the matrix
# calculus of backpropagation.

# %%
X, W1 = gc.var("X", shape=(8, 3)), gc.var("W1", shape=(3, 4))
W2, target = gc.var("W2", shape=(4, 1)), gc.var("target", shape=(8, 1))
hidden = gc.tanh(X @ W1)
loss = gc.mse_loss(hidden @ W2, target)
print(gc.explain(loss, [W1, W2]))

# %% [markdown]
# The same works for matrices. For the quadratic form $q = x^\top A x$ the Matrix Cookbook
# gives $\partial q/\partial x = (A + A^\top)\,x$, and for the least-squares loss
# $\lVert Xw - y\rVert^2$ it gives $2X^\top(Xw - y)$. graphc derives the same forms:

# %%
A = gc.var("A", shape=(3, 3))
v = gc.var("v", shape=(3,))
print("d(v.T A v)/dv =", gc.grad(gc.dot(v, A @ v), v))
Xm = gc.var("X", shape=(5, 3))
w = gc.var("w", shape=(3,))
t = gc.var("y", shape=(5,))
print("d||Xw - y||^2/dw =", gc.grad(gc.sum((Xm @ w - t) ** 2), w))
print("Hessian of v.T A v =", gc.hessian(gc.dot(v, A @ v), v))

# %% [markdown]
# ## 1.2 Compile, then run
#
# `gc.compile` turns graphs into a Python function over numpy arrays. `f.source` is exactly
# the program that runs: one line per operation, names taken from your vars.

# %%
f = gc.compile([x], [y, dy])
print(f.source)

# %%
value, grad = f(np.arange(4.0))
print("y =", value, "  dy/dx =", grad, "  equals 4x:", np.allclose(grad, 4 * np.arange(4.0)))

# %% [markdown]
# ## 1.3 Bind data later (MXNet style)
#
# `bind` attaches arrays to a defined graph and gives an executor with `forward` and
# `backward`; the gradient buffers live in `exe.grad_dict`.

# %%
exe = y.bind({"x": np.arange(4.0)})
print("forward:", exe.forward())
exe.backward()
print("grad_dict['x']:", exe.grad_dict["x"])

# %% [markdown]
# ## 1.4 The same in eager mode
#
# `graphc.eager` records operations on a tape while they run, as PyTorch does. The **same**
# `gc.dot` works on eager tensors, and the derivative rules are the ones the compiler used.

# %%
xt = eager.arange(4.0)
xt.requires_grad_(True)
print("grad before backward:", xt.grad)
yt = 2 * gc.dot(xt, xt)
yt.backward()
print("y =", yt.item(), "  x.grad =", xt.grad.numpy())

# %% [markdown]
# ## 1.5 Another function of x: `sum`
#
# The gradient of $\sum_i x_i$ is a vector of ones, whatever $x$ is.

# %%
s = x.sum()
ds = gc.grad(s, x)
print(ds)
print(gc.compile([x], ds)(np.arange(4.0)))

# %% [markdown]
# In eager mode gradients **accumulate** into `.grad`, so the tutorial clears them with
# `zero_()` first. A symbolic gradient has no such state: each graph stands on its own.

# %%
xt.grad.zero_()
xt.sum().backward()
print("after zero_():", xt.grad.numpy())
xt.sum().backward()
print("a second backward adds up:", xt.grad.numpy())

# %% [markdown]
# ## 1.6 Non-scalar outputs and head gradients
#
# The gradient of a vector output $y$ needs a *head* $v$ of $y$'s shape: graphc then
# differentiates $\sum_i y_i v_i$ (a vector-Jacobian product), like PyTorch's
# `backward(gradient=v)`. With $y = x \odot x$ and $v = 1$ we get $2x$.

# %%
y2 = x * x
dy2 = gc.grad(y2, x, head=gc.ones_like(y2))
print(dy2)
print(gc.compile([x], dy2)(np.arange(4.0)))

# %% [markdown]
# The second tutorial builds $n = (m_0^2,\ m_1^3)$ and calls `n.backward(gradient=[1, 1])`
# at $m = (2, 3)$, expecting $(4, 27)$. Here the head is a symbol too, so one compiled
# program serves any head.

# %%
m = gc.var("m", shape=(2,))
n = gc.stack([m[0] ** 2, m[1] ** 3])
v = gc.var("v", shape=(2,))
dn = gc.grad(n, m, head=v)
vjp = gc.compile([m, v], dn)
print("head (1, 1):", vjp(np.array([2.0, 3.0]), np.ones(2)))
print("head (1, 0):", vjp(np.array([2.0, 3.0]), np.array([1.0, 0.0])))

# %%
exe = n.bind({"m": np.array([2.0, 3.0])})
exe.forward()
exe.backward(out_grads=np.ones(2))
print("executor, out_grads=(1, 1):", exe.grad_dict["m"])

# %%
mt = eager.tensor([2.0, 3.0], requires_grad=True)
nt = gc.stack([mt[0] ** 2, mt[1] ** 3])
nt.backward(gradient=eager.tensor([1.0, 1.0]))
print("eager:", mt.grad.numpy())

# %% [markdown]
# ## 1.7 Detaching a computation
#
# With $u = \mathrm{detach}(x \odot x)$ and $z = u \odot x$, the gradient of $\sum z$ treats
# $u$ as a constant: it is $u$, not $3x^2$. `detach()` (or `gc.stop_gradient`) is part of
# the graph, so the printed gradient shows exactly where the flow stops.

# %%
y3 = x * x
u = y3.detach()
z = u * x
dz = gc.grad(z.sum(), x)
dy3 = gc.grad(y3.sum(), x)
print("d sum(z)/dx  =", dz)
print("d sum(y)/dx  =", dy3)
xs = np.arange(4.0)
gz, gy = gc.compile([x], [dz, dy3])(xs)
print("equals u:", np.allclose(gz, xs * xs), "  equals 2x:", np.allclose(gy, 2 * xs))

# %%
xt = eager.arange(4.0).requires_grad_(True)
yt = xt * xt
ut = yt.detach()
(ut * xt).sum().backward()
print("eager x.grad == u:", np.allclose(xt.grad.numpy(), ut.numpy()))

# %% [markdown]
# ## 1.8 Python control flow: `while` and `if` that depend on the data
#
# The tutorial's last function doubles $b$ until its norm reaches 1000, then picks a branch
# by the sign of its sum: how often the loop runs depends on the input. Eager mode runs it as
# plain Python, recording whatever operations happen to run:

# %%
def f(a):
    b = a * 2
    while b.norm() < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c


a0 = float(np.random.default_rng(0).standard_normal())

# %%
at = eager.tensor(a0, requires_grad=True)
dt = f(at)
dt.backward()
print(f"eager: a = {a0:.4f}   f(a) = {dt.item():.1f}   df/da = {at.grad.item():.1f}   "
      f"f(a)/a = {dt.item() / a0:.1f}")

# %% [markdown]
# A graph is built *before* the data exists, so Python cannot decide `b.norm() < 1000` on
# a symbol: graphc says so, and points to the way out.

# %%
try:
    f(gc.var("a", shape=()))
except gc.GraphcError as err:
    print(type(err).__name__, ":", err)

# %% [markdown]
# The loop and the branch become graph nodes themselves: `gc.while_loop(cond, body, init)`
# and `gc.cond(pred, true_fn, false_fn, *operands)`. Both are differentiable; the emitted
# program keeps the loop count that the backward pass needs and replays it.

# %%
def f_static(a):
    b = gc.while_loop(lambda b: b.norm() < 1000, lambda b: b * 2, a * 2)
    return gc.cond(b.sum() > 0, lambda b: b, lambda b: 100 * b, b)


a = gc.var("a", shape=())
d = f_static(a)
fd = gc.compile([a], [d, gc.grad(d, a)])
print(fd.source)

# %% [markdown]
# $f$ is piecewise linear, $f(a) = k\,a$ with $k$ set by the loop count and the branch, so
# the gradient must equal $f(a)/a$. The graph was built and compiled once; it runs for each
# value:

# %%
grid = np.linspace(-2.0, 2.0, 401)
grid = grid[grid != 0]
vals, grads = zip(*(fd(np.float64(t)) for t in grid))
vals, grads = np.array(vals, dtype=float), np.array(grads, dtype=float)
print("df/da == f(a)/a everywhere:", np.allclose(grads, vals / grid))
fig, axes = plt.subplots(1, 2)
axes[0].plot(grid, vals, ".", markersize=2)
axes[0].set_yscale("symlog")
axes[0].set(title="f(a): 100 times larger for a < 0", xlabel="a")
axes[1].semilogy(grid, np.abs(grads), ".", markersize=2)
axes[1].set(title="|df/da|: one slope per loop count", xlabel="a")
plt.tight_layout()
plt.show()

# %% [markdown]
# Writing loops as `while_loop` calls is what JAX asks of its users. `gc.function` (usually
# written as the decorator `@gc.function`) does it for you: it rewrites the Python `while`
# and `if` of the **unchanged** tutorial function into the same nodes whenever their
# conditions are symbolic.

# %%
f_graph = gc.function(f)
d2 = f_graph(a)
fd2 = gc.compile([a], [d2, gc.grad(d2, a)])
value, slope = fd2(np.float64(a0))
print(f"gc.function: f(a) = {float(value):.1f}   df/da = {float(slope):.1f}")
print("same as the explicit graph on the whole grid:",
      np.allclose([fd2(np.float64(t))[1] for t in grid], grads))

# %% [markdown]
# ## Summary
#
# * A graphc gradient is a graph: you can print it, draw it, simplify it and compile it.
# * Compiling gives a plain numpy program whose source you can read; binding data comes last.
# * Eager mode computes the same numbers from the same derivative rules, recording as it runs.
#
# Next: [02_graphs_and_modes](02_graphs_and_modes.ipynb) compares explicit and implicit graph
# construction, and forward with reverse mode.
