"""Source of 05_performance.ipynb (run notebooks/build.py to regenerate)."""
# ruff: noqa: E402  (a notebook imports where the story needs it)
# %% [markdown]
# # 5. Performance
#
# graphc's promise is that a compiled gradient costs what an expert's hand-written numpy
# costs, plus a signature lookup of about a microsecond per call; and that compiling stays
# cheap as graphs grow. This notebook looks at both:
#
# * the benchmark suite (`python -m benchmarks`) in its quick mode, as a table and a plot;
# * a small timing you can rerun here: a two-layer network's gradient, graphc against
#   hand-written numpy, eager mode and the peers when installed;
# * compile time against graph size.
#
# The numbers below come from a small shared machine and tiny sizes, so read the ratios,
# not the microseconds. For real measurements run `python -m benchmarks` (without `--quick`).

# %%
import json
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

import numpy as np
import matplotlib.pyplot as plt

import graphc as gc

plt.rcParams.update({"figure.figsize": (7, 2.8), "figure.dpi": 72})


def per_call_us(call, number=200, repeat=5):
    """Best time of one call in microseconds (the minimum is the least disturbed run)."""
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number * 1e6


# %%
from graphc import eager

# %% [markdown]
# ## 5.1 The benchmark suite, quick run
#
# The suite checks every system's results against a hand-written numpy baseline before it
# times anything, and reports the median time per call, the ratio to numpy, peak memory and
# compile time. The quick run uses tiny sizes and few repeats: a smoke test that takes a few
# seconds.

# %%
root = Path.cwd().parent  # the notebooks live in the repository's notebooks/ folder
with tempfile.TemporaryDirectory() as tmp:
    out = Path(tmp) / "bench.json"
    run = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)],
                         cwd=root, capture_output=True, text=True, timeout=300)
    print(run.stdout)
    report = json.loads(out.read_text())

# %%
rows = [r for r in report["results"] if r["status"] == "ok" and r["ratio"] is not None]
workloads = list(dict.fromkeys(r["workload"] for r in rows))
systems = [s for s in dict.fromkeys(r["system"] for r in rows) if s != "numpy"]
ratio = {(r["workload"], r["system"]): r["ratio"] for r in rows}

fig, ax = plt.subplots(figsize=(8, 3.2))
width = 0.8 / max(len(systems), 1)
for i, system in enumerate(systems):
    pos = [j + i * width for j, w in enumerate(workloads) if (w, system) in ratio]
    val = [ratio[w, system] for w in workloads if (w, system) in ratio]
    ax.bar(pos, val, width, label=system)
ax.axhline(1.0, color="k", linewidth=1, label="hand-written numpy")
ax.set_yscale("log")
ax.set_xticks([j + width * (len(systems) - 1) / 2 for j in range(len(workloads))])
ax.set_xticklabels(workloads, rotation=30, ha="right", fontsize=8)
ax.set(ylabel="time / numpy's time", title="benchmark suite (quick run): lower is better")
ax.legend(fontsize=7, ncol=2)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 5.2 A gradient timed here: a two-layer network
#
# The loss is the mean squared error of `tanh(X @ W1 + b1) @ W2 + b2` on 64 samples; we
# want its gradient with respect to all four parameters. First the version an expert writes
# by hand, with the backward pass derived on paper:

# %%
def numpy_value_and_grads(X, Y, W1, b1, W2, b2):
    h = np.tanh(X @ W1 + b1)
    r = h @ W2 + b2 - Y
    dout = 2 * r / r.size
    dz = (dout @ W2.T) * (1 - h * h)
    return np.mean(r * r), X.T @ dz, dz.sum(0), h.T @ dout, dout.sum(0)


rng = np.random.default_rng(0)
data = {"X": rng.standard_normal((64, 10)), "Y": rng.standard_normal((64, 1)),
        "W1": rng.standard_normal((10, 32)) * 0.3, "b1": np.zeros(32),
        "W2": rng.standard_normal((32, 1)) * 0.3, "b2": np.zeros(1)}

# %% [markdown]
# The graphc version is the forward pass only; `gc.grad` derives the rest, and `gc.compile`
# emits one numpy program for the value and the four gradients.

# %%
def mlp_loss(X, Y, W1, b1, W2, b2):
    return gc.mse_loss(gc.tanh(X @ W1 + b1) @ W2 + b2, Y)


shapes = {"X": (None, 10), "Y": (None, 1), "W1": (10, 32), "b1": (32,), "W2": (32, 1),
          "b2": (1,)}
v = {name: gc.var(name, shape=shape) for name, shape in shapes.items()}
loss = mlp_loss(**v)
params = [v["W1"], v["b1"], v["W2"], v["b2"]]
compiled = gc.compile(list(v.values()), [loss, *gc.grad(loss, params)])

args = list(data.values())
ours, theirs = compiled(*args), numpy_value_and_grads(*args)
print("graphc equals hand-written numpy:",
      all(np.allclose(a, b) for a, b in zip(ours, theirs)))
timings = {"hand-written numpy": per_call_us(lambda: numpy_value_and_grads(*args)),
           "graphc (compiled)": per_call_us(lambda: compiled(*args))}

# %%
def eager_value_and_grads(X, Y, W1, b1, W2, b2):
    ps = [eager.tensor(p, requires_grad=True) for p in (W1, b1, W2, b2)]
    value = mlp_loss(eager.tensor(X), eager.tensor(Y), *ps)
    value.backward()
    return (value.item(), *(p.grad.numpy() for p in ps))


print("eager equals hand-written numpy:",
      all(np.allclose(a, b) for a, b in zip(eager_value_and_grads(*args), theirs)))
timings["graphc eager"] = per_call_us(lambda: eager_value_and_grads(*args), number=50)

# %%
try:
    import torch
except ImportError:
    print("torch is not installed: its bar is left out (pip install torch)")
else:
    torch.set_num_threads(1)

    def torch_value_and_grads(X, Y, W1, b1, W2, b2):
        ps = [torch.tensor(p, requires_grad=True) for p in (W1, b1, W2, b2)]
        w1, c1, w2, c2 = ps
        h = torch.tanh(torch.from_numpy(X) @ w1 + c1)
        value = torch.mean((h @ w2 + c2 - torch.from_numpy(Y)) ** 2)
        value.backward()
        return (value.item(), *(p.grad.numpy() for p in ps))

    timings["torch (eager)"] = per_call_us(lambda: torch_value_and_grads(*args), number=50)

try:
    import jax
    import jax.numpy as jnp
except ImportError:
    print("jax is not installed: its bar is left out (pip install jax)")
else:
    jax.config.update("jax_enable_x64", True)

    def jax_loss(W1, b1, W2, b2, X, Y):
        return jnp.mean((jnp.tanh(X @ W1 + b1) @ W2 + b2 - Y) ** 2)

    jax_vg = jax.jit(jax.value_and_grad(jax_loss, argnums=(0, 1, 2, 3)))
    jargs = [data[k] for k in ("W1", "b1", "W2", "b2", "X", "Y")]
    jax.block_until_ready(jax_vg(*jargs))  # compile outside the timing
    timings["jax (jit)"] = per_call_us(lambda: jax.block_until_ready(jax_vg(*jargs)))

# %%
names = list(timings)
fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(names)))
ax.barh(names, [timings[n] for n in names], color=[f"C{i}" for i in range(len(names))])
for i, n in enumerate(names):
    ax.text(timings[n], i, f" {timings[n]:.0f} us", va="center", fontsize=8)
ax.invert_yaxis()
ax.set(xlabel="microseconds per value-and-gradient call",
       title="two-layer network, 64 samples")
ax.set_xlim(0, max(timings.values()) * 1.25)
plt.tight_layout()
plt.show()
print(f"graphc / numpy: {timings['graphc (compiled)'] / timings['hand-written numpy']:.2f}x")

# %% [markdown]
# The compiled gradient runs at about the speed of the hand-written one: it *is* a
# hand-written-style numpy program, which you can read:

# %%
print(compiled.source)

# %% [markdown]
# ## 5.3 Compile time against graph size
#
# Compiling means deriving the gradient graph, simplifying it (sympy on the elementwise
# parts, within a time budget), and emitting the program. We grow a recurrent chain
# $h_{t+1} = \tanh(a\,h_t + x_t)$ over $T$ steps and time everything from `gc.grad` to the
# first call's result, against the number of operations in the emitted program.

# %%
a_var, x_var = gc.var("a", shape=()), gc.var("xs", shape=(None, 8))
xs_data = np.random.default_rng(1).standard_normal((640, 8)) * 0.5


def compile_recurrence(T):
    """Seconds from building the graph to the first result, and the program's size."""
    start = time.perf_counter()
    h = gc.zeros_like(x_var[0])
    for step in range(T):
        h = gc.tanh(a_var * h + x_var[step])
    total = gc.sum(h)
    program = gc.compile([a_var, x_var], [total, gc.grad(total, a_var)])
    program(np.float64(0.9), xs_data[:T])
    seconds = time.perf_counter() - start
    body = [ln.strip() for ln in program.source.splitlines() if ln.startswith("    ")]
    return seconds, sum(1 for ln in body if not ln.startswith(("del ", "return")))


compile_recurrence(5)  # warm up: first-use imports and sympy's caches are not the graph's cost
lengths = [10, 40, 160, 640]
compile_s, program_ops = zip(*(compile_recurrence(T) for T in lengths))

for T, n, s in zip(lengths, program_ops, compile_s):
    print(f"T = {T:3d}: {n:5d} operations, compiled in {s * 1e3:7.1f} ms")

# The growth, fitted rather than eyeballed: the least-squares slope of log(seconds) against
# log(operations). 1 is linear growth; 2 would be quadratic.
slope, intercept = np.polyfit(np.log(program_ops), np.log(compile_s), 1)
print(f"compile time grows as (operations) ** {slope:.2f}")

# %%
fig, ax = plt.subplots(figsize=(5, 3.2), dpi=110)
ops_axis = np.array(program_ops, dtype=float)
ax.loglog(ops_axis, compile_s, "o", label="graphc, measured")
ax.loglog(ops_axis, np.exp(intercept) * ops_axis**slope, "-", label=f"fit: ops ** {slope:.2f}")
ax.loglog(ops_axis, compile_s[0] * ops_axis / ops_axis[0], "k:", label="linear growth")
ax.set_xticks(ops_axis, [f"{int(n)}" for n in ops_axis])
ax.minorticks_off()
ax.set(xlabel="operations in the program", ylabel="seconds to compile", title="compile time")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The fitted exponent above is how compile time grows with the size of the program on the
# machine that ran this notebook (the recurrence repeats one step, so sympy's cluster cache
# simplifies a step once); `python -m benchmarks.compile_scaling` measures fresh graphs of
# up to 1e5 nodes. Compiling once and
# calling many times pays off quickly: each call then costs only the emitted statements.
