# ruff: noqa: E402  (graphc is imported after the repository root is put on sys.path)
"""Fused-backend candidates on the elementwise workload, one process, interleaved rounds.

sum(sin(x)*exp(-x**2) + log1p(x**2) + sqrt(x**2+1)), value and gradient of x, float64.
Systems: hand numpy (benchmarks.workloads baseline), graphc (numpy backend), graphc
backend="numexpr", a hand-written numba loop (what a numba backend would emit: one parallel
prange loop computing the value's sum and the gradient, sin/cos/exp/log1p/sqrt once each),
and jax.jit(value_and_grad). Ratios are of minima to hand numpy's, same run.
Usage, from the repository root: python benchmarks/results/2026-11-30-0715-fused-candidates.py
N ROUNDS [lean] (lean: without the design variants).
"""

import os
import statistics
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.getcwd())
import graphc as gc
from benchmarks.workloads import elementwise_baseline, elementwise_math

N = int(float(sys.argv[1]))
rounds = int(sys.argv[2])
lean = len(sys.argv) > 3  # lean: no design variants
x = np.random.default_rng(3).standard_normal(N)
xs = gc.var("x", shape=(N,), dtype=np.float64)
y = elementwise_math(gc, xs)
grads = gc.grad(y, [xs])
systems = {"numpy (hand)": elementwise_baseline({})}
compile_s = {}
t0 = time.perf_counter()
f = gc.compile([xs], [y, *grads])
f(x)
compile_s["graphc"] = time.perf_counter() - t0
systems["graphc"] = f
t0 = time.perf_counter()
f = gc.compile([xs], [y, *grads], backend="numexpr")
f(x)
compile_s["graphc-numexpr"] = time.perf_counter() - t0
systems["graphc-numexpr"] = f
# The design choices, measured: the final sum left to numpy; exp and sqrt stored once, not
# recomputed in each cluster (their `recompute` op fact off).
from graphc.backends import Numexpr
from graphc.ops import OPS

if not lean:
    systems["ne, numexpr sum"] = gc.compile([xs], [y, *grads], backend=Numexpr(fuse_sum=True))
    for name in ("exp", "sqrt"):
        type(OPS[name]).recompute = False
    systems["ne, exp+sqrt kept"] = gc.compile([xs], [y, *grads], backend=Numexpr())
    systems["ne, exp+sqrt kept"](x)
    for name in ("exp", "sqrt"):
        type(OPS[name]).recompute = True

import numba
from numba import njit, prange

t0 = time.perf_counter()


@njit(parallel=True)
def _loop(x, g):
    s = 0.0
    for i in prange(x.shape[0]):
        xi = x[i]
        x2 = xi * xi
        e = np.exp(-x2)
        si = np.sin(xi)
        q = x2 + 1.0
        r = np.sqrt(q)
        s += si * e + np.log1p(x2) + r
        g[i] = e * (np.cos(xi) - 2.0 * xi * si) + xi * (2.0 / q + 1.0 / r)
    return s


def numba_loop(x):
    g = np.empty_like(x)
    return _loop(x, g), (g,)


numba_loop(x)
compile_s["numba loop"] = time.perf_counter() - t0
systems["numba loop"] = numba_loop

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp

t0 = time.perf_counter()
jf = jax.jit(jax.value_and_grad(lambda v: elementwise_math(jnp, v)))
xj = jax.device_put(x)


def jax_run(_x):
    return jax.block_until_ready(jf(xj))


jax_run(x)
compile_s["jax"] = time.perf_counter() - t0
systems["jax"] = jax_run

ref_v, (ref_g,) = systems["numpy (hand)"](x)
for k, fn in systems.items():
    out = fn(x)
    v, g = (out[0], out[1][0]) if k in ("numpy (hand)", "numba loop") else (out[0], out[1])
    assert np.allclose(v, ref_v, rtol=1e-9) and np.allclose(np.asarray(g), ref_g, rtol=1e-9), k


def peak(fn):
    tracemalloc.start()
    try:
        fn(x)
        tracemalloc.reset_peak()
        s = tracemalloc.get_traced_memory()[0]
        out = fn(x)
        p = tracemalloc.get_traced_memory()[1]
        del out
    finally:
        tracemalloc.stop()
    return p - s


mem = {k: peak(fn) for k, fn in systems.items() if k != "jax"}
load0 = os.getloadavg()
samples = {k: [] for k in systems}
keys = list(systems)
for r in range(rounds):
    sh = r % len(keys)
    for k in keys[sh:] + keys[:sh]:
        t0 = time.perf_counter()
        out = systems[k](x)
        samples[k].append(time.perf_counter() - t0)
        del out
import numexpr

print(
    f"N={N:.0e} float64, {rounds} rounds, numexpr {numexpr.__version__} threads={numexpr.get_num_threads()}, "
    f"numba {numba.__version__} threads={numba.get_num_threads()}, jax {jax.__version__}, "
    f"load {load0[0]:.2f} -> {os.getloadavg()[0]:.2f}, {os.cpu_count()} cpus"
)
hm, jm = min(samples["numpy (hand)"]), min(samples["jax"])
hmem = mem["numpy (hand)"]
print(
    f"{'system':16s} {'min ms':>10s} {'median ms':>10s} {'vs hand':>8s} {'vs jax':>7s} {'peak MiB':>9s} {'vs hand':>8s} {'compile s':>9s}"
)
for k in keys:
    m = min(samples[k])
    pm = f"{mem[k] / 2**20:9.1f} {mem[k] / hmem:7.2f}x" if k in mem else f"{'-':>9s} {'-':>8s}"
    print(
        f"{k:16s} {m * 1e3:10.1f} {statistics.median(samples[k]) * 1e3:10.1f} {m / hm:7.2f}x {m / jm:6.2f}x {pm} {compile_s.get(k, float('nan')):9.3f}"
    )
