"""Source of 03_linear_regression.ipynb (run notebooks/build.py to regenerate)."""
# ruff: noqa: E402  (a notebook imports where the story needs it)
# %% [markdown]
# # 3. Gradient descent and linear regression
#
# The tutorials train tiny models with PyTorch: a weight pushed downhill by
# $w \leftarrow w - \eta\,\nabla L(w)$, and a straight line fitted to six points. Here the
# same models are trained with graphc in each of its styles:
#
# * **bind / backward**: MXNet-style executors over a graph defined once;
# * **`gc.value_and_grad`**: JAX-style, a Python function traced and compiled once;
# * **eager**: PyTorch-style, recorded on a tape at every step;
# * **`gc.compile`**: the plain compiled program, which all the others build on.
#
# They give the same numbers; we check them against the gradients derived by hand, and
# against PyTorch and JAX when those are installed.

# %%
import numpy as np
import matplotlib.pyplot as plt

import graphc as gc

plt.rcParams.update({"figure.figsize": (7, 2.8), "figure.dpi": 72})
np.set_printoptions(precision=4, suppress=True)

# %%
from graphc import eager

# %% [markdown]
# ## 3.1 One step downhill
#
# The tutorial's loss is $L(w) = \sum 2 w^2$ at $w = (10, 20)$ with learning rate 0.01: the
# gradient is $4w = (40, 80)$ and the next weight $(9.6, 19.2)$.

# %%
w = gc.var("w")
loss = gc.sum(2 * w ** 2)
dloss = gc.grad(loss, w)
print("dL/dw =", dloss)
step = gc.compile([w], dloss)
w0 = np.array([10.0, 20.0])
print("gradient:", step(w0), "  next weight:", w0 - 0.01 * step(w0))

# %% [markdown]
# With an executor the gradient lands in a buffer that we can update in place, as the
# tutorial updates `w.data`:

# %%
exe = loss.bind({"w": np.array([10.0, 20.0])})
exe.forward()
exe.backward()
print("grad_dict['w']:", exe.grad_dict["w"])
exe.arg_dict["w"][...] -= 0.01 * exe.grad_dict["w"]
print("arg_dict['w'] after the step:", exe.arg_dict["w"])

# %% [markdown]
# ## 3.2 Many steps
#
# The second tutorial runs 500 steps on $L(w) = w^2 + 20$ from $w = 10$ and ends near
# $w = 0.00041$. Each step multiplies $w$ by $1 - 2\eta = 0.98$, so $w_{500} = 10 \cdot
# 0.98^{500}$.

# %%
w1 = gc.var("w1", shape=())
loss1 = w1 ** 2 + 20
vg1 = gc.compile([w1], [loss1, gc.grad(loss1, w1)])
wv, path = np.float64(10.0), []
for epoch in range(500):
    value, g = vg1(wv)
    wv = wv - 0.01 * g
    path.append(float(wv))
print(f"after 500 steps: w = {path[-1]:.6f}   10 * 0.98**500 = {10 * 0.98 ** 500:.6f}")

# %%
exe1 = loss1.bind({"w1": np.array(10.0)})
for epoch in range(500):
    exe1.forward(is_train=True)
    exe1.backward()
    exe1.arg_dict["w1"][...] -= 0.01 * exe1.grad_dict["w1"]
print(f"executor, after 500 steps: w = {float(exe1.arg_dict['w1']):.6f}")

# %%
wt = eager.tensor(10.0, requires_grad=True)
for epoch in range(500):
    lt = wt ** 2 + 20
    if wt.grad is not None:
        wt.grad.zero_()  # eager gradients accumulate, as in PyTorch
    lt.backward()
    wt = eager.tensor(wt.data - 0.01 * wt.grad.data, requires_grad=True)
print(f"eager, after 500 steps: w = {wt.item():.6f}")

# %%
fig, ax = plt.subplots(figsize=(4.5, 2.8))
ax.semilogy(range(1, 501), path)
ax.set(xlabel="step", ylabel="w", title="w <- w - 0.01 * dL/dw,  L = w^2 + 20")
plt.show()

# %% [markdown]
# ## 3.3 Linear regression, and the gradient by hand
#
# Six points, a line $h(x) = \theta_0 + \theta_1 x$, and the loss
# $J = \frac{1}{2m}\sum_i (h(x_i) - y_i)^2$. By hand,
#
# $$\frac{\partial J}{\partial\theta_0} = \frac1m\sum_i (h(x_i) - y_i), \qquad
#   \frac{\partial J}{\partial\theta_1} = \frac1m\sum_i (h(x_i) - y_i)\,x_i .$$
#
# At $\theta = 0$ the tutorial finds $J = 227.583$ and gradients $(-20.5, -81.667)$.

# %%
X_data = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
Y_data = np.array([13.0, 14.0, 20.0, 21.0, 25.0, 30.0])

theta0 = gc.var("theta0", shape=())
theta1 = gc.var("theta1", shape=())
X = gc.var("X", shape=(None,))
Y = gc.var("Y", shape=(None,))
J = gc.mean((theta0 + theta1 * X - Y) ** 2 / 2)
dJ = gc.grad(J, [theta0, theta1])
print("dJ/dtheta0 =", gc.grad(J, theta0))
print("dJ/dtheta1 =", gc.grad(J, theta1))

# %% [markdown]
# These are the hand formulas above: $\frac1m\sum_i r_i$ and $\frac1m\sum_i r_i x_i$ with
# $r = \theta_0 + \theta_1 X - Y$. (`gc.grad(J, [theta0, theta1])` derives both at once and
# shares their common parts; printed one at a time each reads on its own.) An executor bound
# to data prints the gradients it computes, specialised to the data's shapes
# (`exe.grad_exprs()`):

# %%
exe = J.bind({"theta0": np.array(0.0), "theta1": np.array(0.0), "X": X_data, "Y": Y_data})
for name, expr in exe.grad_exprs().items():
    if name.startswith("theta"):
        print(f"dJ/d{name} =", expr)

linreg = gc.compile([theta0, theta1, X, Y], [J, *dJ])
print("at theta = 0:", linreg(np.float64(0.0), np.float64(0.0), X_data, Y_data))

# %% [markdown]
# The derived gradient against the hand-derived formula, at random points:

# %%
def hand_gradient(t0, t1, xv, yv):
    r = t0 + t1 * xv - yv
    return np.mean(r), np.mean(r * xv)


rng = np.random.default_rng(0)
worst = 0.0
for _ in range(100):
    t0v, t1v = rng.normal(scale=10, size=2)
    _, g0, g1 = linreg(t0v, t1v, X_data, Y_data)
    worst = max(worst, np.max(np.abs(np.array([g0, g1]) - hand_gradient(t0v, t1v, X_data,
                                                                         Y_data))))
print("largest difference over 100 points:", worst)

# %% [markdown]
# ## 3.4 Training it, four ways
#
# Gradient descent with $\eta = 0.1$ for 700 steps, from $\theta = 0$.

# %%
LR, STEPS = 0.1, 700
curves = {}

theta = np.zeros(2)
losses = []
for _ in range(STEPS):
    value, g0, g1 = linreg(theta[0], theta[1], X_data, Y_data)
    theta -= LR * np.array([g0, g1])
    losses.append(float(value))
curves["gc.compile"] = losses
print("gc.compile:", theta)

# %%
exe = J.bind({"theta0": np.array(0.0), "theta1": np.array(0.0), "X": X_data, "Y": Y_data},
             grad_req={"theta0": "write", "theta1": "write", "X": "null", "Y": "null"})
losses = []
for _ in range(STEPS):
    losses.append(float(exe.forward(is_train=True)[0]))
    exe.backward()
    for name in ("theta0", "theta1"):
        exe.arg_dict[name][...] -= LR * exe.grad_dict[name]
curves["bind/backward"] = losses
print("bind/backward:", np.array([exe.arg_dict["theta0"], exe.arg_dict["theta1"]]))

# %% [markdown]
# `gc.value_and_grad` takes an ordinary Python function written with `gc` operations; it is
# traced once per input signature, and every later call runs the cached program.

# %%
def cost(theta, xv, yv):
    return gc.mean((theta[0] + theta[1] * xv - yv) ** 2 / 2)


cost_and_grad = gc.value_and_grad(cost)
theta = np.zeros(2)
losses = []
for _ in range(STEPS):
    value, g = cost_and_grad(theta, X_data, Y_data)
    theta = theta - LR * g
    losses.append(float(value))
curves["value_and_grad"] = losses
print("value_and_grad:", theta)

# %%
theta_t = eager.tensor([0.0, 0.0], requires_grad=True)
X_t, Y_t = eager.tensor(X_data), eager.tensor(Y_data)
losses = []
for _ in range(STEPS):
    lt = gc.mean((theta_t[0] + theta_t[1] * X_t - Y_t) ** 2 / 2)
    lt.backward()
    losses.append(lt.item())
    theta_t = eager.tensor(theta_t.data - LR * theta_t.grad.data, requires_grad=True)
curves["eager"] = losses
print("eager:", theta_t.numpy())

# %%
exact = np.polyfit(X_data, Y_data, 1)[::-1]  # least squares: (intercept, slope)
print("least squares:", exact)

best = np.mean((exact[0] + exact[1] * X_data - Y_data) ** 2 / 2)  # the smallest J
fig, axes = plt.subplots(1, 2)
for (name, losses), style in zip(curves.items(), ["-", "--", ":", "-."]):
    axes[0].semilogy(np.array(losses) - best, style, label=name, linewidth=2)
axes[0].set(xlabel="step", ylabel="J - min J", title="loss curves (they coincide)")
axes[0].legend(fontsize=8)
grid = np.linspace(0, 7, 2)
axes[1].plot(X_data, Y_data, "o", label="data")
axes[1].plot(grid, theta[0] + theta[1] * grid, label="fitted by gradient descent")
axes[1].set(xlabel="x", ylabel="y", title="the fitted line")
axes[1].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3.5 A layer with a matrix: `x @ w + b` and `mse_loss`
#
# The third tutorial fits `z = x @ w + b` with `torch.nn.MSELoss` and prints `w.grad` and
# `b.grad`. By hand, with $N$ the number of entries of $z$:
# $\partial L/\partial z = 2(z - y)/N$, $\partial L/\partial w = x^\top\,\partial L/\partial z$
# and $\partial L/\partial b = \sum_{\text{rows}} \partial L/\partial z$.

# %%
x = gc.var("x", shape=(None, 5))
y = gc.var("y", shape=(None, 3))
W = gc.var("W", shape=(5, 3))
b = gc.var("b", shape=(3,))
L = gc.mse_loss(x @ W + b, y)
layer = gc.compile([x, y, W, b], [L, *gc.grad(L, [W, b])])

rng = np.random.default_rng(1)
x_data, y_data = np.ones((2, 5)), np.zeros((2, 3))
W_data, b_data = rng.standard_normal((5, 3)), rng.standard_normal(3)
L_val, gW, gb = layer(x_data, y_data, W_data, b_data)

dz = 2 * (x_data @ W_data + b_data - y_data) / y_data.size
print("W.grad:\n", gW)
print("b.grad:", gb)
print("equal to the hand formulas:", np.allclose(gW, x_data.T @ dz), np.allclose(gb, dz.sum(0)))

# %% [markdown]
# The derived gradients, printed: the same formulas, with $r = xW + b - y$. With the batch
# size unknown, `size(r)` is the number of entries of `r` (the mean's divisor) and
# `sum_to(g, like)` sums `g` down to the shape of `like` (undoing a broadcast); bound to the
# data, both become numbers and plain sums:

# %%
for name in ["W", "b"]:
    print(f"dL/d{name} =", gc.grad(L, {"W": W, "b": b}[name]))
bound = L.bind({"x": x_data, "y": y_data, "W": W_data, "b": b_data}).grad_exprs()
for name in ["W", "b"]:
    print(f"bound: dL/d{name} =", bound[name])

# %% [markdown]
# ## 3.6 PyTorch and JAX side by side
#
# The same regression gradient at $\theta = 0$ from the peers, when they are installed
# (`pip install torch jax`); otherwise a note says so.

# %%
_, g0, g1 = linreg(np.float64(0.0), np.float64(0.0), X_data, Y_data)
print(f"graphc: {g0:.6f}, {g1:.6f}")
try:
    import torch
except ImportError:
    print("torch is not installed: skipped (pip install torch)")
else:
    t0_t = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    t1_t = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    loss_t = torch.mean((t0_t + t1_t * torch.tensor(X_data) - torch.tensor(Y_data)) ** 2 / 2)
    loss_t.backward()
    print(f"torch:  {t0_t.grad.item():.6f}, {t1_t.grad.item():.6f}")

# %%
try:
    import jax
    import jax.numpy as jnp
except ImportError:
    print("jax is not installed: skipped (pip install jax)")
else:
    jax.config.update("jax_enable_x64", True)

    def jax_cost(t0, t1):
        return jnp.mean((t0 + t1 * jnp.asarray(X_data) - jnp.asarray(Y_data)) ** 2 / 2)

    jg0, jg1 = jax.grad(jax_cost, argnums=(0, 1))(0.0, 0.0)
    print(f"jax:    {float(jg0):.6f}, {float(jg1):.6f}")

# %% [markdown]
# Next: [04_symbolic_numeric_automatic](04_symbolic_numeric_automatic.ipynb) compares
# graphc with symbolic and numeric differentiation.
