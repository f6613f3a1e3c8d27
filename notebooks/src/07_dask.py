"""Source of 07_dask.ipynb (run notebooks/build.py to regenerate)."""
# ruff: noqa: E402  (a notebook imports where the story needs it)
# %% [markdown]
# # 7. Data beyond memory: the dask backend
#
# A compiled graphc function is a numpy program. With `backend="dask"` the same program
# runs over [dask arrays](https://docs.dask.org/en/stable/array.html): each argument is cut
# into chunks, every statement builds a lazy dask array, and the last line computes all the
# outputs in **one** `dask.compute`, so work they share (here `X @ w - y`, read by the loss
# and by its gradient) runs once. Whatever scheduler is active runs it: dask's threads by
# default, or a `dask.distributed` cluster.
#
# The worked example: linear regression by gradient descent on a `.npy` file opened as a
# memmap, ten times larger than the chunk size, with memory profiles.

# %%
import os
import tempfile
import threading
import time
import tracemalloc

import matplotlib.pyplot as plt
import numpy as np

import graphc as gc

plt.rcParams.update({"figure.figsize": (7, 2.8), "figure.dpi": 72})
np.set_printoptions(precision=5, suppress=True)

# %% [markdown]
# ## 7.1 The data: a memmap of 64 MB
#
# One million rows of eight features and their targets, saved with `np.save` and opened
# with `mmap_mode="r"`: nothing is read yet.

# %%
n, d = 1_000_000, 8
folder = tempfile.mkdtemp()
rng = np.random.default_rng(0)
true_w = rng.standard_normal(d)
X_full = rng.standard_normal((n, d))
np.save(os.path.join(folder, "X.npy"), X_full)
np.save(os.path.join(folder, "y.npy"), X_full @ true_w + 0.1 * rng.standard_normal(n))
del X_full
X = np.load(os.path.join(folder, "X.npy"), mmap_mode="r")
y = np.load(os.path.join(folder, "y.npy"), mmap_mode="r")
chunk_rows = n // 10
chunk_mb = chunk_rows * d * 8 / 1e6
print(f"X: {type(X).__name__} {X.shape}, {X.nbytes / 1e6:.0f} MB; chunks of {chunk_mb:.1f} MB")

# %% [markdown]
# ## 7.2 The program
#
# The model is written once; `gc.backends.Dask(chunks={0: rows})` cuts every argument along its
# first axis (a dask array passed in keeps its own chunks). The source shows the cut in the
# first lines and the single `dask.compute` in the last.

# %%
Xs = gc.var("X", shape=(None, d))
ys = gc.var("y", shape=(None,))
w = gc.var("w", shape=(d,))
loss = gc.mean((Xs @ w - ys) ** 2)
step = gc.compile(
    [Xs, ys, w], [loss, gc.grad(loss, w)], backend=gc.backends.Dask(chunks={0: chunk_rows})
)
step_numpy = gc.compile([Xs, ys, w], [loss, gc.grad(loss, w)])
w0 = np.zeros(d)
step(X, y, w0)
print(step.source)

# %% [markdown]
# The gradient is numpy's (to rounding: the chunks are summed in another order):

# %%
value, grad = step(X, y, w0)
value_np, grad_np = step_numpy(np.asarray(X), np.asarray(y), w0)
print("dask :", value, grad)
print("numpy:", value_np, grad_np)
print("largest relative difference:", np.max(np.abs(grad - grad_np) / np.abs(grad_np)))

# %% [markdown]
# ## 7.3 Gradient descent, with a memory profile
#
# A thread samples the memory Python and numpy have allocated (`tracemalloc`) every few
# milliseconds while the descent runs.


# %%
def profile(fn, *args):
    """fn(*args), and the memory traced meanwhile: (seconds, MB above the start) samples."""
    samples, done = [], threading.Event()
    tracemalloc.start()
    start, base = time.perf_counter(), tracemalloc.get_traced_memory()[0]

    def sample():
        while not done.is_set():
            used = tracemalloc.get_traced_memory()[0] - base
            samples.append((time.perf_counter() - start, used / 1e6))
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = fn(*args)
    finally:
        done.set()
        sampler.join()
        peak = (tracemalloc.get_traced_memory()[1] - base) / 1e6
        tracemalloc.stop()
    return result, np.array(samples), peak


def descend(f, X, y, steps=5, rate=0.5):
    w = np.zeros(d)
    for _ in range(steps):
        value, g = f(X, y, w)
        w = w - rate * g
    return w, value


(w_dask, value), threads, peak_threads = profile(descend, step, X, y)
print(f"after 5 steps: loss {value:.4f}, w - true w = {w_dask - true_w}")
print(f"peak: {peak_threads:.1f} MB = {peak_threads / chunk_mb:.1f} chunks (threads)")

# %% [markdown]
# ## 7.4 On a cluster
#
# The same function on a `dask.distributed` cluster: a `LocalCluster` here (one worker of
# two threads, in this process so that `tracemalloc` sees its arrays). On a real cluster only
# the address changes, `Client("tcp://scheduler:8786")`; the workers need graphc installed and
# the memmap's file at the same path (graphc sends a memmap as its file name, not its bytes).
#
# A worker reads a chunk when a thread is free for it with `worker-saturation` 1.0; dask's
# default (1.1) lets it read one chunk ahead, which costs a chunk or two more memory.

# %%
import dask
from dask.distributed import Client, LocalCluster

with (
    dask.config.set({"distributed.scheduler.worker-saturation": 1.0}),
    LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster,
    Client(cluster) as client,
):
    step(X, y, w0)  # the cluster warmed up
    (w_cluster, _), cluster_samples, peak_cluster = profile(descend, step, X, y)
print("same weights as with threads:", np.allclose(w_cluster, w_dask, rtol=1e-12))
print(f"peak: {peak_cluster:.1f} MB = {peak_cluster / chunk_mb:.1f} chunks (cluster)")

# %% [markdown]
# For comparison, numpy on the whole arrays: reading them alone takes 72 MB.

# %%
(w_np, _), numpy_samples, peak_numpy = profile(
    lambda: descend(step_numpy, np.array(X), np.array(y))
)
print(f"peak: {peak_numpy:.1f} MB = {peak_numpy / chunk_mb:.1f} chunks (numpy, in memory)")

# %%
fig, ax = plt.subplots()
for samples, label in (
    (numpy_samples, "numpy, arrays in memory"),
    (threads, "dask, threads"),
    (cluster_samples, "dask, LocalCluster"),
):
    ax.plot(samples[:, 0], samples[:, 1], label=label)
for k in (1, 4):
    ax.axhline(k * chunk_mb, color="grey", linestyle=":", linewidth=1)
    label = f"{k} chunk{'s' if k > 1 else ''} "
    ax.text(
        1,
        k * chunk_mb,
        label,
        va="bottom",
        ha="right",
        color="grey",
        transform=ax.get_yaxis_transform(),
    )
ax.set_xlabel("seconds (5 gradient steps)")
ax.set_ylabel("MB allocated")
ax.set_title("Memory during gradient descent on a 72 MB memmap")
ax.legend(loc="upper right")
plt.show()

# %% [markdown]
# The chunked runs stay within a few chunks of memory whatever the size of the file; numpy
# holds the whole arrays.
#
# ## 7.5 What runs how
#
# * Elementwise operations, reductions, `@`, `einsum`, indexing by slices and by one 1-d
#   integer array, reshapes whose chunks fit, concatenation, cumulative sums, loops
#   (`fori_loop`, `scan`): **chunked**.
# * Operations that dask has no chunked form of run on their operands **whole**, still lazily
#   and inside the one compute: the factorisations (`inv`, `solve`, `det`, `cholesky`,
#   `svd`, `qr`, `eigh`, matrix norms), `sort`, indexing by arrays of other kinds,
#   the scatter-add of a gather's gradient, diagonals, `cross`, `kron`, `split`,
#   `cross_entropy`, `one_hot`, `repeat`.
# * `cond` and `while_loop` on the data decide on an array value: it is computed where the
#   program reaches it (7.6).
#
# `gc.backends.Dask(lazy=True)` returns the outputs as dask arrays, not computed, to combine
# them with other dask work.
#
# ## 7.6 Deciding on the data: `cond` and `while_loop`
#
# A dask graph has no branches, so a decision on an array value cannot wait for the final
# compute. `cond` computes its predicate where the program reaches it, and persists
# (`dask.persist`) in the same computation the values of its block that share work with the
# predicate, so that this work runs once. A `while_loop` whose condition reads the data
# computes the condition before each iteration, its carries persisted first; a `while_loop`
# on a counter, `fori_loop` and `scan` stay lazy.
#
# Here the gradient is clipped to norm 1. The predicate reads the gradient, which shares
# `X @ w - y` with the loss: the line `_decided(...)` computes the predicate and keeps the
# gradient and the loss (persisted, in their chunks), then an ordinary `if` picks the
# branch, and the final compute reads the persisted values instead of the memmap again.
#
# Two limits: the persisted values stay in memory (the workers', on a cluster) until the
# function returns; and a `cond` or `while_loop` inside a loop body or a branch only
# considers the values of its own block, so work it shares with values outside runs again.

# %%
g = gc.grad(loss, w)
g_norm = gc.sqrt(gc.sum(g * g))
clipped = gc.cond(g_norm > 1.0, lambda g, s: g / s, lambda g, s: g, g, g_norm)
clip_step = gc.compile(
    [Xs, ys, w], [loss, clipped], backend=gc.backends.Dask(chunks={0: chunk_rows})
)
clip_numpy = gc.compile([Xs, ys, w], [loss, clipped])
clip_value, clip_grad = clip_step(X, y, w0)
print(clip_step.source)

# %% [markdown]
# The branch taken and the values are numpy's:

# %%
clip_value_np, clip_grad_np = clip_numpy(np.asarray(X), np.asarray(y), w0)
print("dask :", clip_value, clip_grad)
print("numpy:", clip_value_np, clip_grad_np)
print("norm of the clipped gradient:", np.linalg.norm(clip_grad))
print(
    "largest relative difference:", np.max(np.abs(clip_grad - clip_grad_np) / np.abs(clip_grad_np))
)

# %%
import shutil

shutil.rmtree(folder)
