"""Source of 04_symbolic_numeric_automatic.ipynb (run notebooks/build.py to regenerate)."""
# ruff: noqa: E402  (a notebook imports where the story needs it)
# %% [markdown]
# # 4. Symbolic, numeric, automatic
#
# The tutorials name three ways for a computer to differentiate:
#
# * **symbolic**: rewrite a formula into its derivative's formula (sympy's `diff`);
# * **numeric**: evaluate the function at nearby points (finite differences);
# * **automatic**: apply the chain rule to the operations of a program.
#
# graphc sits between the first and the last: it applies the chain rule to a *graph*, so
# shared subexpressions stay shared, then simplifies the result symbolically. This notebook
# measures what each approach costs and how accurate it is.

# %%
import numpy as np
import matplotlib.pyplot as plt
import sympy as sp

import graphc as gc

plt.rcParams.update({"figure.figsize": (7, 2.8), "figure.dpi": 72})


def n_ops(fn):
    """Operations in a compiled program: its statements, not counting del and return."""
    body = [line.strip() for line in fn.source.splitlines() if line.startswith("    ")]
    return sum(1 for line in body if not line.startswith(("del ", "return")))


# %% [markdown]
# ## 4.1 Symbolic differentiation and expression swell
#
# Take the logistic map, a deep composition of a tiny formula:
# $l_1 = x$, $l_{k+1} = 4\,l_k(1 - l_k)$. Each step uses $l_k$ twice. As a formula
# (a tree) its size doubles with every step, and the derivative's formula, written out by
# the product rule, grows faster still. As a graph, $l_k$ is one node used twice, and its
# derivative graph grows by a constant amount per step.

# %%
x_sp = sp.Symbol("x")
x = gc.var("x", shape=())  # a scalar: the emitted program needs no broadcasting

depths = list(range(2, 11))
sympy_ops, sympy_diff_ops, graphc_ops = [], [], []
for n in depths:
    l_sp, l_gc = x_sp, x
    for _ in range(n - 1):
        l_sp = 4 * l_sp * (1 - l_sp)
        l_gc = 4 * l_gc * (1 - l_gc)
    sympy_ops.append(sp.count_ops(l_sp))
    sympy_diff_ops.append(sp.count_ops(sp.diff(l_sp, x_sp)))
    program = gc.compile([x], [l_gc, gc.grad(l_gc, x)])  # value and derivative together
    graphc_ops.append(n_ops(program))

print(" n  sympy l_n  sympy dl_n/dx  graphc l_n and dl_n/dx")
for row in zip(depths, sympy_ops, sympy_diff_ops, graphc_ops):
    print("{:2d} {:10d} {:14d} {:23d}".format(*row))

# %%
fig, ax = plt.subplots(figsize=(5, 3))
ax.semilogy(depths, sympy_ops, "o-", label="sympy: the formula l_n")
ax.semilogy(depths, sympy_diff_ops, "s-", label="sympy: diff(l_n, x)")
ax.semilogy(depths, graphc_ops, "^-", label="graphc: program for l_n and its derivative")
ax.set(xlabel="depth n", ylabel="operations", title="expression swell")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The sympy curves are straight lines on a log scale: exponential growth. graphc's program
# grows linearly. (sympy can recover sharing afterwards with `sp.cse`, but only after
# building the exponential tree; graphc never builds it.) Here is graphc's program at
# depth 4, value and derivative interleaved like the chain rule's bookkeeping:

# %%
l4 = x
for _ in range(3):
    l4 = 4 * l4 * (1 - l4)
print(gc.compile([x], [l4, gc.grad(l4, x)]).source)

# %% [markdown]
# Drawn as graphs, $l_3$ and its derivative: every intermediate value is one node, however
# many times it is used.

# %%
l3 = 4 * x * (1 - x)
l3 = 4 * l3 * (1 - l3)
fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
gc.draw(l3, ax=axes[0])
axes[0].set_title("l_3")
gc.draw(gc.grad(l3, x), ax=axes[1])
axes[1].set_title("d l_3 / dx")
plt.show()

# %% [markdown]
# ## 4.2 Numeric differentiation: how small a step?
#
# A finite difference replaces the limit by a small step $h$:
# forward $\frac{f(x+h) - f(x)}{h}$ with error $O(h)$, central $\frac{f(x+h) - f(x-h)}{2h}$
# with error $O(h^2)$. But a smaller $h$ divides rounding errors ($\approx 10^{-16}$) by $h$.
# The total error is a V: the best forward step is near $\sqrt{\varepsilon} \approx 10^{-8}$,
# the best central one near $\varepsilon^{1/3} \approx 10^{-5}$, and neither gets below
# about $10^{-11}$. Take $f(x) = e^{\sin x}$ at $x = 1$, whose derivative
# $\cos x\, e^{\sin x}$ we know exactly.

# %%
fx = gc.exp(gc.sin(x))
dfx = gc.grad(fx, x)
f_and_df = gc.compile([x], [fx, dfx])


def f(v):
    return f_and_df(np.float64(v))[0]


x0 = 1.0
exact = np.cos(x0) * np.exp(np.sin(x0))
steps = np.logspace(-15, -1, 57)
forward_err = [abs((f(x0 + h) - f(x0)) / h - exact) for h in steps]
central_err = [abs((f(x0 + h) - f(x0 - h)) / (2 * h) - exact) for h in steps]
graphc_err = abs(f_and_df(np.float64(x0))[1] - exact)
print("graphc's gradient:", f_and_df(np.float64(x0))[1], "  exact:", exact,
      "  error:", graphc_err)

# %%
floor = np.finfo(float).eps * abs(exact)
fig, ax = plt.subplots(figsize=(5.5, 3.2))
ax.loglog(steps, np.maximum(forward_err, floor / 10), ".-", label="forward difference")
ax.loglog(steps, np.maximum(central_err, floor / 10), ".-", label="central difference")
ax.axhline(max(graphc_err, floor / 10), color="k", linestyle="--",
           label="graphc (exact to rounding)")
ax.set(xlabel="step h", ylabel="absolute error", title="error of d/dx exp(sin x) at x = 1")
ax.legend(fontsize=8, loc="upper center")
plt.show()

# %% [markdown]
# Finite differences are still the best *test* of a gradient: `gc.check_grad` compares
# graphc's gradient with central differences and raises `gc.GradientCheckError` (naming the
# worst entry) when they disagree.

# %%
v = gc.var("v")
energy = gc.sum(gc.exp(gc.sin(v)) * v ** 2)
print("largest difference:",
      gc.check_grad(energy, v, {"v": np.random.default_rng(0).standard_normal(5)}))

# %% [markdown]
# ## 4.3 Automatic: exact, and readable
#
# graphc's derivative is the chain rule applied to the graph, so it is exact up to
# floating-point rounding, like symbolic differentiation; and it can be printed like a
# formula. Compare sympy's derivative of the same function:

# %%
print("graphc:", dfx)
print("sympy: ", sp.diff(sp.exp(sp.sin(x_sp)), x_sp))

# %% [markdown]
# Both print the same formula, and graphc's expression converts to sympy with `to_sympy()`,
# so we can let sympy confirm that they agree:

# %%
print(sp.simplify(dfx.to_sympy() - sp.diff(sp.exp(sp.sin(x_sp)), x_sp)) == 0)

# %% [markdown]
# `gc.explain` shows the simplifier's work on a gradient: the chain rule's first draft and
# the simplified result, with operation counts.

# %%
print(gc.explain(fx * gc.cos(x) ** 2, x))

# %% [markdown]
# | | symbolic (sympy) | numeric (finite differences) | automatic (graphc) |
# | --- | --- | --- | --- |
# | needs | a formula | only evaluations | a program (a graph) |
# | cost | can swell exponentially | 1-2 evaluations per input | a few times one evaluation |
# | accuracy | exact | $10^{-5}$ to $10^{-11}$, depends on $h$ | exact to rounding |
# | result | a formula | a number | a graph: printable, compilable |
#
# Next: [05_performance](05_performance.ipynb) times the compiled programs.
