"""Compile time against graph size: ``python -m benchmarks.compile_scaling [--json PATH]``.

What is timed, per graph: building it, ``gc.grad`` of a scalar loss with respect to every
parameter, ``gc.compile`` of value and gradients, the first call (which specialises the
program to the arguments' shapes), and a full garbage collection right after (graphc
defers the collector's walks of the graph past its calls: the total counts them). graphc's caches are cleared before each graph (the sympy
cluster cache included), so every time is a cold compile of a fresh graph, except for what a
graph repeats within itself.

Graphs:

- ``model-100``: a small model of about 100 nodes, a chain of mixed elementwise layers
  (``sin(h)*exp(-h*h)``, ``log1p(h*h) + sqrt(h*h + 1)``, ``h*c - h/(1 + h*h)``) with a
  ``tanh(h @ W + b)`` layer every few steps, 8x16 float64; gradients of x, every W and b.
- ``chain-N``: the same chain grown to N nodes (N = 1e3, 1e4, 1e5 by default).
- ``recurrence-T1000``: ``h = tanh(a*h + x_t)`` unrolled 1000 times (``benchmarks.workloads``).

The growth exponent is the least-squares slope of log(seconds) against log(nodes) over the
chains. Nodes are counted in the forward graph (vars and constants included).
"""

from __future__ import annotations

import argparse
import gc as garbage
import json
import math
import os
import platform
import sys
from time import perf_counter, process_time

import numpy as np

SIZES = (1_000, 10_000, 100_000)
WIDTH, BATCH = 16, 8


def _layer(gc, h, step: int, params: list, rng):
    """One step of the mixed chain: an elementwise layer, a matmul layer every fourth step."""
    kind = step % 4
    if kind == 0:
        return gc.sin(h) * gc.exp(-h * h)
    if kind == 1:
        return gc.log1p(h * h) + gc.sqrt(h * h + 1.0)
    if kind == 2:
        c = float(np.round(rng.uniform(0.5, 1.5), 3))
        return h * c - h / (1.0 + h * h)
    k = len(params) // 2
    W = gc.var(f"W{k}", shape=(WIDTH, WIDTH), dtype=np.float64)
    b = gc.var(f"b{k}", shape=(WIDTH,), dtype=np.float64)
    params += [W, b]
    return gc.tanh(h @ W + b)


def count_nodes(gc, outputs) -> int:
    from graphc.ir import toposort

    return len(toposort(outputs))


def chain(gc, nodes: int, seed: int = 0):
    """(inputs, loss, params, args): the mixed chain grown to at least `nodes` nodes."""
    rng = np.random.default_rng(seed)
    x = gc.var("x", shape=(BATCH, WIDTH), dtype=np.float64)
    params: list = []
    h = x
    size, counted_at, step = 1, 0, 0
    while size < nodes:
        h = _layer(gc, h, step, params, rng)
        step += 1
        # A step adds at most 8 nodes: count (a graph walk) only when that bound says the
        # chain may be long enough.
        if size + 8 * (step - counted_at) >= nodes:
            size, counted_at = count_nodes(gc, [gc.sum(h * h)]), step
    loss = gc.sum(h * h)
    inputs = [x, *params]
    args = [0.5 * rng.standard_normal((BATCH, WIDTH))]
    for p in params:
        scale = 1.0 / np.sqrt(WIDTH) if len(p.shape) == 2 else 0.1
        args.append(scale * rng.standard_normal(p.shape))
    return inputs, loss, inputs, args


def recurrence(gc, steps: int = 1000):
    from benchmarks.workloads import recurrence_math

    rng = np.random.default_rng(5)
    a = gc.var("a", shape=(), dtype=np.float64)
    xs = gc.var("xs", shape=(steps, 16), dtype=np.float64)
    loss = recurrence_math(gc, a, xs, steps=steps)
    return [a, xs], loss, [a], [np.array(0.9), 0.5 * rng.standard_normal((steps, 16))]


def clear_caches() -> None:
    """Forget what earlier compilations left behind (sympy's cluster cache included)."""
    from graphc.simplify import elementwise

    elementwise.clear_cache()
    garbage.collect()


def measure(gc, build, simplify: bool = True) -> dict:
    """Time one fresh graph: build, grad, compile, first call; and its size."""
    clear_caches()
    t0 = perf_counter()
    inputs, loss, params, args = build()
    from graphc.simplify import elementwise

    before = dict(elementwise.stats)
    t1, c1 = perf_counter(), process_time()
    grads = gc.grad(loss, params, simplify=simplify)
    t2 = perf_counter()
    fn = gc.compile(inputs, [loss, *grads], simplify=simplify)
    t3 = perf_counter()
    fn(*args)
    t4 = perf_counter()
    # The full collection of what they left, which graphc defers past its calls (see
    # graphc.gc_pause): counted in the total, as the collector would run it soon after.
    garbage.collect()
    t5, c5 = perf_counter(), process_time()
    report = fn.report()
    return {
        "nodes": count_nodes(gc, [loss]),
        "build_s": t1 - t0,
        "grad_s": t2 - t1,
        "compile_s": t3 - t2,
        "first_call_s": t4 - t3,
        "gc_s": t5 - t4,
        "seconds": t5 - t1,  # grad + compile + first call + the collection: the target
        "cpu_s": c5 - c1,  # the same in CPU time of this process (less sensitive to load)
        "budget": dict(report.budget) if report is not None else {},  # compile's only
        # sympy in grad and compile: clusters planned, from the cache, skipped, timed out
        "sympy": {k: v - before.get(k, 0) for k, v in elementwise.stats.items()},
    }


def fit_exponent(rows: list[dict], key: str = "seconds") -> float | None:
    """Least-squares slope of log(r[key]) on log(nodes)."""
    pts = [(math.log(r["nodes"]), math.log(r[key])) for r in rows if r[key] > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx


def run(sizes=SIZES, repeats: int = 1, simplify: bool = True, steps: int = 1000) -> dict:
    """Measure every graph (`model-100`, `recurrence-T{steps}`, `chain-N` for N in `sizes`)
    and fit the growth exponent over the chains."""
    import graphc as gc

    # Warm up once (imports, sympy's first use) so that no row pays for them.
    measure(gc, lambda: chain(gc, 60), simplify)

    def best(build):
        runs = [measure(gc, build, simplify) for _ in range(repeats)]
        return min(runs, key=lambda r: r["seconds"])

    rows = {"model-100": best(lambda: chain(gc, 100))}
    rows[f"recurrence-T{steps}"] = best(lambda: recurrence(gc, steps))
    chains = []
    for n in sizes:
        r = best(lambda n=n: chain(gc, n))
        rows[f"chain-{n}"] = r
        chains.append(r)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "rows": rows,
        "exponent": fit_exponent(chains),
        "exponent_cpu": fit_exponent(chains, "cpu_s"),
        "simplify": simplify,
        "repeats": repeats,
        "load_average": load,  # (1, 5, 15 minutes) when the run ended
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compile_scaling",
        description="grad + compile + first call time of fresh graphs against their size",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, SIZES)),
        help="comma-separated chain sizes in nodes (default %(default)s)",
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs per graph; the fastest counts"
    )
    parser.add_argument(
        "--steps", type=int, default=1000, help="steps T of the recurrence (default %(default)s)"
    )
    parser.add_argument(
        "--no-simplify", action="store_true", help="grad and compile with simplify=False"
    )
    args = parser.parse_args(argv)
    sizes = tuple(int(float(s)) for s in args.sizes.split(",") if s.strip())
    result = run(sizes, args.repeats, not args.no_simplify, args.steps)
    print(
        f"{'graph':<18} {'nodes':>7} {'grad s':>7} {'compile s':>9} {'call s':>7} "
        f"{'gc s':>6} {'total s':>8} {'cpu s':>7}  sympy clusters planned/cached/skipped"
    )
    for name, r in result["rows"].items():
        b = r["sympy"]
        print(
            f"{name:<18} {r['nodes']:>7} {r['grad_s']:>7.3f} {r['compile_s']:>9.3f} "
            f"{r['first_call_s']:>7.3f} {r['gc_s']:>6.3f} {r['seconds']:>8.3f} {r['cpu_s']:>7.3f}  "
            f"{b.get('planned', 0)}/{b.get('cached', 0)}/{b.get('skipped', 0)}"
        )
    for key, what in (("exponent", "seconds"), ("exponent_cpu", "cpu seconds")):
        e = result[key]
        print(f"fitted exponent (chains, {what} ~ nodes^e): {'n/a' if e is None else f'{e:.3f}'}")
    if result["load_average"]:
        print("load average: " + ", ".join(f"{v:.2f}" for v in result["load_average"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
