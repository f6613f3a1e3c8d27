"""Check, then time, every system on every workload.

Per workload: the numpy baseline is computed first; each system is prepared (its compile time
measured), checked against the baseline (value and gradients, shape, dtype, inputs left
unchanged) and, when it passes, measured: peak extra memory of one call with tracemalloc (for
numpy-based systems), then per-call time. Timing runs in this one process after a warm-up,
with the systems interleaved round-robin (the order rotating every round) and each sample
timing a loop long enough to swamp the clock; the median and the minimum of the per-call
samples are reported, with the ratio of medians to the numpy baseline. A system that fails is
reported as FAILED with its error and the run goes on.
"""

from __future__ import annotations

import itertools
import os
import platform
import statistics
import sys
import traceback
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from time import perf_counter
from typing import Any

import numpy as np

from benchmarks.systems import NotApplicable, Prepared, System
from benchmarks.workloads import Workload

# Tolerances against the baseline. float64: rtol 1e-6. float32: rtol 1e-4 -- float32 carries
# ~7 significant digits, and the 784-term matmul sums and softmax reductions are accumulated
# in different orders by OpenBLAS, XLA, torch and graphc, which costs two to three of them.
# In both cases the absolute tolerance is rtol times the largest magnitude of the reference
# array, so entries that are near zero by cancellation are judged on the array's scale.
RTOL = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 1e-4}


class CheckError(AssertionError):
    """A system's result differs from the numpy baseline."""


@dataclass(frozen=True)
class Settings:
    """Timing effort. ``quick`` is for tests and smoke runs (tiny sizes, few repeats)."""

    sample_s: float = 0.01  # length of one timed loop
    warmup_s: float = 0.1  # per system, before calibration
    min_rounds: int = 7
    max_rounds: int = 60
    budget_s: float = 6.0  # per workload, for the timed rounds
    no_skip: bool = False  # run systems a workload would skip as too slow to compile
    threads: int | None = None  # cap BLAS and torch threads (None: the libraries' defaults)

    @classmethod
    def quick(cls) -> Settings:
        return cls(sample_s=0.001, warmup_s=0.005, min_rounds=3, max_rounds=5, budget_s=0.1)


@dataclass
class Outcome:
    workload: str
    group: str
    system: str
    status: str  # "ok", "FAILED", "skipped" (with the reason) or "n/a" (nothing to run)
    error: str | None = None
    median_us: float | None = None
    min_us: float | None = None
    ratio: float | None = None
    extra_us: float | None = None  # median minus the numpy median
    peak_bytes: int | None = None
    compile_s: float | None = None
    phases: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    loops: int | None = None
    rounds: int | None = None
    traceback: str | None = None


# --------------------------------------------------------------------------------------------
# correctness


def compare(what: str, got: Any, want: np.ndarray, rtol: float) -> None:
    """Raise ``CheckError`` unless ``got`` matches ``want`` in shape, dtype and value."""
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        raise CheckError(f"{what}: shape {got.shape}, expected {want.shape}")
    if got.dtype != want.dtype:
        raise CheckError(f"{what}: dtype {got.dtype}, expected {want.dtype}")
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    if np.allclose(got, want, rtol=rtol, atol=rtol * scale):
        return
    excess = np.abs(got - want) - rtol * (np.abs(want) + scale)
    excess = np.where(np.isnan(excess), np.inf, excess)
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(excess)), want.shape))
    where = f" at index {worst}" if worst else ""
    raise CheckError(
        f"{what}: got {got[worst].item()!r}{where}, expected "
        f"{want[worst].item()!r} (rtol {rtol:g}, atol {rtol * scale:.3g})"
    )


def check_result(
    w: Workload,
    result: tuple[np.ndarray, list[np.ndarray]],
    reference: tuple[np.ndarray, list[np.ndarray]],
) -> None:
    """Compare a system's ``(value, [grads])`` with the baseline's."""
    rtol = RTOL[w.dtype]
    value, grads = result
    ref_value, ref_grads = reference
    if len(grads) != len(ref_grads):
        raise CheckError(
            f"{len(grads)} gradients, expected {len(ref_grads)} ({', '.join(w.params) or 'none'})"
        )
    compare("value", value, ref_value, rtol)
    for name, g, ref in zip(w.params, grads, ref_grads):
        compare(f"grad {name}", g, ref, rtol)


def baseline_reference(w: Workload) -> tuple[np.ndarray, list[np.ndarray]]:
    """The baseline's ``(value, [grads])``, checked against the workload's known values."""
    value, grads = w.baseline(w.inputs)(*w.arrays())
    ref = (np.asarray(value), [np.asarray(g) for g in grads])
    known = dict(zip(("value", *w.params), (ref[0], *ref[1])))
    for key, expected in w.expected.items():
        compare(f"baseline {key}", known[key], np.asarray(expected, dtype=w.dtype), 1e-12)
    return ref


def _first_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."


# --------------------------------------------------------------------------------------------
# measuring


def limit_threads(n: int) -> None:
    """Cap the threads of every loaded BLAS/OpenMP pool (threadpoolctl) and of torch.

    On a shared 2-core machine, multi-threaded matrix products wait for each other whenever
    another process holds a core; one thread per library makes medians far steadier.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print(
            "warning: --threads cannot cap BLAS without threadpoolctl (pip install "
            "'graphc[bench]'); set OPENBLAS_NUM_THREADS before the run instead",
            file=sys.stderr,
        )
    else:
        threadpool_limits(limits=n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


def peak_memory(fn: Callable[..., Any], args: tuple[Any, ...]) -> int:
    """Peak bytes allocated above the starting point during one call (tracemalloc)."""
    tracemalloc.start()
    try:
        fn(*args)  # let caches and pools settle before the measured call
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        out = fn(*args)
        peak = tracemalloc.get_traced_memory()[1]
        del out
    finally:
        tracemalloc.stop()
    return max(0, peak - start)


def _timed_loop(fn: Callable[..., Any], args: tuple[Any, ...], loops: int) -> float:
    it = itertools.repeat(None, loops)
    t0 = perf_counter()
    for _ in it:
        fn(*args)
    return perf_counter() - t0


def time_round_robin(
    entries: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]], settings: Settings
) -> dict[str, tuple[list[float], int]]:
    """Per-call samples (seconds) and loop count for each entry, interleaved round-robin."""
    loops: dict[str, int] = {}
    for key, (fn, args) in entries.items():
        best = float("inf")
        t_end = perf_counter() + settings.warmup_s
        calls = 0
        while calls < 2 or perf_counter() < t_end:
            best = min(best, _timed_loop(fn, args, 1))
            calls += 1
        loops[key] = max(1, int(settings.sample_s / max(best, 1e-9)))
    samples: dict[str, list[float]] = {key: [] for key in entries}
    keys = list(entries)
    start = perf_counter()
    for rnd in range(settings.max_rounds):
        if rnd >= settings.min_rounds and perf_counter() - start > settings.budget_s:
            break
        shift = rnd % len(keys)
        for key in keys[shift:] + keys[:shift]:
            fn, args = entries[key]
            samples[key].append(_timed_loop(fn, args, loops[key]) / loops[key])
    return {key: (samples[key], loops[key]) for key in keys}


# --------------------------------------------------------------------------------------------
# one workload


def check_system(
    system: System, w: Workload, reference: tuple[np.ndarray, list[np.ndarray]]
) -> Prepared:
    """Prepare ``system`` for ``w`` and check one steady-state call against the reference."""
    arrays = w.arrays()
    before = [a.copy() for a in arrays]
    try:
        prepared = system.prepare(w)
        result = prepared.to_numpy(prepared.fn(*prepared.args))
        check_result(w, result, reference)
        changed = [n for n, a, b in zip(w.names, arrays, before) if not np.array_equal(a, b)]
        if changed:
            raise CheckError(f"modified its input(s) {', '.join(changed)} in place")
    finally:
        for a, b in zip(arrays, before):
            a[...] = b  # a system that wrote into an input must not affect the next one
    return prepared


def run_workload(
    w: Workload,
    systems: list[System],
    settings: Settings,
    log: Callable[[str], None] = lambda s: None,
) -> list[Outcome]:
    """Check and time every system on ``w``; ratios are to the ``numpy`` system, if present."""
    reference = baseline_reference(w)
    outcomes: list[Outcome] = []
    ready: dict[str, Prepared] = {}
    for system in systems:
        out = Outcome(w.name, w.group, system.name, "ok")
        outcomes.append(out)
        if system.name in w.skip and not settings.no_skip:
            out.status, out.error = "skipped", w.skip[system.name]
            continue
        if not system.available():
            out.status, out.error = "skipped", f"{system.requires} is not installed"
            continue
        log(f"  {w.name}: preparing {system.name}")
        try:
            prepared = check_system(system, w, reference)
        except NotApplicable as exc:
            out.status, out.error = "n/a", str(exc)
            continue
        except Exception as exc:  # report and go on: one broken system must not stop the run
            out.status, out.error = "FAILED", _first_line(exc)
            out.traceback = traceback.format_exc()
            continue
        out.compile_s, out.phases, out.info = (prepared.compile_s, prepared.phases, prepared.info)
        if system.numpy_based:
            try:
                out.peak_bytes = peak_memory(prepared.fn, prepared.args)
            except Exception as exc:
                out.info["memory_error"] = _first_line(exc)
        ready[system.name] = prepared
    if not ready:
        return outcomes
    if settings.threads:
        limit_threads(settings.threads)  # again: preparing may have loaded another BLAS
    log(f"  {w.name}: timing {', '.join(ready)}")
    timed = time_round_robin({k: (p.fn, p.args) for k, p in ready.items()}, settings)
    base = statistics.median(timed["numpy"][0]) if "numpy" in timed else None
    for out in outcomes:
        if out.system not in timed:
            continue
        samples, loops = timed[out.system]
        med = statistics.median(samples)
        out.median_us, out.min_us = med * 1e6, min(samples) * 1e6
        out.loops, out.rounds = loops, len(samples)
        if base:
            out.ratio = med / base
            out.extra_us = (med - base) * 1e6
    return outcomes


# --------------------------------------------------------------------------------------------
# reporting


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages: other work on a shared machine skews timings."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine_info() -> dict[str, Any]:
    """Date, machine and library versions for the report."""
    info: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "loadavg": load_average(),
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: p.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for p in threadpool_info()
        ]
    except Exception:  # threadpoolctl is optional
        pass
    return info


def _fmt_us(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.1f}" if x < 1e4 else f"{x:,.0f}"


def _fmt_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


HEADER = (
    f"{'workload':<16} {'system':<16} {'median us':>12} {'min us':>12} {'ratio':>7} "
    f"{'peak mem':>10} {'compile s':>10}  note"
)


def format_row(o: Outcome) -> str:
    ratio = f"{o.ratio:.2f}x" if o.ratio is not None else "-"
    comp = f"{o.compile_s:.3f}" if o.compile_s is not None else "-"
    note = ""
    if o.status != "ok":
        note = f"{o.status}: {o.error}"
    elif "ops_before" in o.info:
        note = (
            f"ops {o.info['ops_before']} -> {o.info['ops_after']}, "
            f"{o.info.get('source_lines', 'n/a')} source lines"
        )
    return (
        f"{o.workload:<16} {o.system:<16} {_fmt_us(o.median_us):>12} "
        f"{_fmt_us(o.min_us):>12} {ratio:>7} {_fmt_bytes(o.peak_bytes):>10} "
        f"{comp:>10}  {note}"
    ).rstrip()


def ratio_table(outcomes: list[Outcome]) -> list[str]:
    """Workloads down, systems (backends and peers) across: each system's minimum time over
    the numpy baseline's minimum, measured in the same run ("-" where it did not run)."""
    base = {o.workload: o.min_us for o in outcomes if o.system == "numpy" and o.min_us}
    systems = list(dict.fromkeys(o.system for o in outcomes if o.min_us and o.system != "numpy"))
    if not base or not systems:
        return []
    cell = {
        (o.workload, o.system): o.min_us / base[o.workload]
        for o in outcomes
        if o.min_us and o.workload in base
    }
    width = max(9, *(len(s) for s in systems))
    lines = [
        "ratio of minima to hand-written numpy (same run; lower is better):",
        f"{'workload':<22}" + "".join(f"{s:>{width + 1}}" for s in systems),
    ]
    for w in base:
        row = [cell.get((w, s)) for s in systems]
        lines.append(
            f"{w:<22}" + "".join(f"{f'{r:.2f}x' if r else '-':>{width + 1}}" for r in row)
        )
    return lines


def threads_line(meta: dict[str, Any]) -> str:
    """The thread pools the run used: BLAS (threadpoolctl) and numexpr when loaded."""
    parts = [f"{p.get('internal_api')} {p.get('num_threads')}" for p in meta.get("blas") or []]
    numexpr = sys.modules.get("numexpr")
    if numexpr is not None:
        parts.append(f"numexpr {numexpr.get_num_threads()}")
    return "threads: " + (", ".join(parts) or "unknown (threadpoolctl not installed)")


def summary_lines(outcomes: list[Outcome]) -> list[str]:
    """The per-call overhead and recurrence compile-time scaling, in words, then the ratio
    table."""
    lines = []
    over = [
        o
        for o in outcomes
        if o.workload == "overhead" and o.extra_us is not None and o.system != "numpy"
    ]
    if over:
        lines.append(
            "per-call overhead over np.exp (median us): "
            + ", ".join(f"{o.system} {o.extra_us:+.1f}" for o in over)
        )
    by_system: dict[str, list[Outcome]] = {}
    for o in outcomes:
        if o.group == "recurrence" and o.compile_s is not None:
            by_system.setdefault(o.system, []).append(o)
    for system, rows in by_system.items():
        parts = [f"{o.workload.split('-')[-1]} {o.compile_s:.3f} s" for o in rows]
        if len(rows) >= 2 and rows[-2].compile_s:
            parts.append(f"last/previous {rows[-1].compile_s / rows[-2].compile_s:.1f}x")
        lines.append(f"recurrence compile time, {system}: " + ", ".join(parts))
    return lines + ratio_table(outcomes)


def to_json(outcomes: list[Outcome], meta: dict[str, Any]) -> dict[str, Any]:
    return {"meta": meta, "results": [asdict(o) for o in outcomes]}
