"""Source of 06_see_why.ipynb (run notebooks/build.py to regenerate)."""
# ruff: noqa: E402  (a notebook imports where the story needs it)
# %% [markdown]
# # 6. See why
#
# A gradient that comes out wrong, zero or NaN is where learning autodiff gets hard. graphc
# answers the questions people ask in other projects' issue trackers:
#
# * *which operation gives the NaN?* (`gc.check_finite`, `gc.compile(..., debug=True)`, and a
#   warning at `grad` time for the `where(c, sqrt(x), 0)` trap);
# * *what does the chain rule do here, step by step, and why is this gradient zero?*
#   (`gc.explain`);
# * *which operation's derivative is wrong?* (`gc.check_grad` names it);
# * *what does the gradient cost?* (`gc.cost`, before running anything);
# * *what is the gradient of the loss with respect to this hidden layer?*
#   (`bind(..., adjoints=...)`);
# * *what program runs?* (`f.export(path, readable=True)`: one commented line per operation).

# %%
import tempfile
import warnings
from pathlib import Path

import numpy as np

import graphc as gc

# %% [markdown]
# ## The NaN from a guarded square root
#
# `where(x > 0, sqrt(x), 0)` looks safe: the square root of a negative number is never
# selected. Its value is fine, but its gradient is NaN at every `x <= 0`: the derivative of
# `sqrt(x)` there, inf or NaN, is multiplied by the 0 that `where` sends to the unused
# branch, and `0 * inf` is NaN. `gc.grad` warns at the line that built the `where` and prints
# the fix.

# %%
x = gc.var("x", shape=(3,))
y = gc.sum(gc.where(x > 0, gc.sqrt(x), 0))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    dy = gc.grad(y, x)
for w in caught:
    print(w.message)

# %% [markdown]
# `gc.check_finite` runs the program operation by operation and names the first one whose
# value is not finite, in the forward pass and in the backward pass, with the line that
# built it:

# %%
f = gc.compile([x], [y, dy])
print(gc.check_finite(f, np.array([4.0, -1.0, 0.0])))

# %% [markdown]
# The fix guards the input with the same condition, so that the unused branch computes
# something finite:

# %%
safe = gc.sum(gc.where(x > 0, gc.sqrt(gc.where(x > 0, x, 1.0)), 0))
g = gc.compile([x], gc.grad(safe, x))
print(g(np.array([4.0, -1.0, 0.0])), gc.check_finite(g, np.array([4.0, -1.0, 0.0])))

# %% [markdown]
# In a training loop, `gc.compile(..., debug=True)` makes the program itself check every
# operation and raise `gc.NonFiniteError` at the first NaN or inf (the default program has
# no checks and costs nothing more):

# %%
debug = gc.compile([x], [y, dy], debug=True)
try:
    debug(np.array([4.0, -1.0, 0.0]))
except gc.NonFiniteError as exc:
    print(exc)

# %% [markdown]
# ## Why is this gradient zero?
#
# `gc.explain(y, wrt, at=...)` walks the chain rule step by step (notebook 1 shows the walk)
# and, for every input whose gradient is zero, says why: no path from it to the output, a
# `stop_gradient`/`detach` on every path, an integer cast or a comparison on every path, or
# a piecewise op on its flat side at these values. Each reason names the line.

# %%
a, b, c, z = (gc.var(n, shape=(3,)) for n in ("a", "b", "c", "z"))
out = gc.sum(gc.relu(a) + gc.stop_gradient(b) * 2 + gc.astype(c > 0, "float64"))
why = gc.explain(out, [a, b, c, z], at={n: np.array([-1.0, -2.0, -0.5]) for n in "abcz"})
for name, reason in why.zero_reasons.items():
    print(f"{name}: {reason['message']}")

# %% [markdown]
# ## What does a gradient cost?
#
# The *cheap gradient principle* says reverse mode costs a small multiple of the function
# itself. `gc.cost` counts flops and bytes moved, per operation and in total, for the
# program `gc.compile` would emit, from shapes alone and before running anything. Each op's
# formula is part of its entry in the op table (a matrix product is `2mnk` flops).

# %%
xs, V1, V2 = gc.var("x"), gc.var("W1"), gc.var("W2")
mlp = gc.sum(gc.tanh(xs @ V1) @ V2)
print(gc.cost(mlp, wrt=[V1, V2], shapes={"x": (64, 100), "W1": (100, 50), "W2": (50, 10)}))

# %% [markdown]
# ## Why did it compile again?
#
# A compiled function keeps one program per signature (argument shapes and dtypes).
# `f.cache_info()` counts hits and misses as `functools` does and says why each program was
# compiled; `f.report()` shows where the last compilation spent its time, pass by pass, and
# whether sympy's time budget ran out.

# %%
f_mlp = gc.compile([xs, V1, V2], [mlp])
rng2 = np.random.default_rng(1)
weights = [rng2.normal(size=(100, 50)), rng2.normal(size=(50, 10))]
for batch in (64, 64, 32):
    f_mlp(rng2.normal(size=(batch, 100)), *weights)
f_mlp(rng2.normal(size=(32, 100)).astype(np.float32), *(w.astype(np.float32) for w in weights))
print(f_mlp.cache_info())
print(f_mlp.report())

# %% [markdown]
# ## Adjoints of hidden values
#
# The gradient of the loss with respect to an intermediate value (a hidden layer, a
# residual) is what backpropagation passes along. Name the operation (`name=`, as in
# MXNet) and ask `bind` for its adjoint; after `backward()` it is in `exe.adjoint_dict`.

# %%
rng = np.random.default_rng(0)
X, W1, W2, t = (gc.var(n) for n in ("X", "W1", "W2", "t"))
h = gc.tanh(X @ W1, name="h")
loss = gc.mse_loss(h @ W2, t)
data = {
    "X": rng.normal(size=(8, 3)),
    "W1": rng.normal(size=(3, 4)),
    "W2": rng.normal(size=(4, 1)),
    "t": rng.normal(size=(8, 1)),
}
exe = loss.bind(data, adjoints=["h_output"])
exe.forward(is_train=True)
exe.backward()
print(exe.adjoint_dict["h_output"][:2])
hidden = np.tanh(data["X"] @ data["W1"])
by_hand = 2 * (hidden @ data["W2"] - data["t"]) / 8 @ data["W2"].T
print(np.allclose(exe.adjoint_dict["h_output"], by_hand))

# %% [markdown]
# ## Which derivative is wrong?
#
# `gc.check_grad` compares the derived gradient with finite differences. When they differ,
# its error says which of the compiled gradient, the eager tape and finite differences agree,
# and names the first operation, in the order they run, whose own derivative disagrees with
# finite differences of that operation alone (`error.first_wrong_vjp`). Here every rule is
# right:

# %%
print(gc.check_grad(loss, ["W1", "W2"], data))

# %% [markdown]
# ## The program that runs
#
# `f.export(path)` writes the fast program as a standalone module; `readable=True` writes
# one commented line per operation naming it and the line that built it, gradients named
# after what they are (`dL_dW1`), and no in-place buffer reuse. Both need only numpy.

# %%
sX, sW1, sW2, st = (gc.var(n, shape=data[n].shape) for n in ("X", "W1", "W2", "t"))
hidden = gc.tanh(sX @ sW1)
L = gc.mse_loss(hidden @ sW2, st)
train = gc.compile([sX, sW1, sW2, st], [L] + gc.grad(L, [sW1, sW2]))
path = Path(tempfile.mkdtemp()) / "two_layer.py"
train.export(path, readable=True)
text = path.read_text()
print(text[text.index("def fn") :])
