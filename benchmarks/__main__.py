"""Command line: ``python -m benchmarks [--json out.json] [--quick] [--only NAME]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, replace

from benchmarks import harness
from benchmarks.systems import CORE, SYSTEMS, select_systems
from benchmarks.workloads import all_workloads, select


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Check and time graphc against hand-written numpy and optional peers "
        "(torch, jax, pytensor, autograd; install them with the 'bench' extra).",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and few repeats (a smoke test, not a measurement)",
    )
    parser.add_argument(
        "--only",
        metavar="NAME",
        help="comma-separated workload names or groups "
        "(overhead, linreg_seed, mlp, mlp-f32, elementwise, ...)",
    )
    parser.add_argument(
        "--systems",
        metavar="NAMES",
        help="comma-separated systems to run (numpy is always included); "
        f"default all: {', '.join(s.name for s in SYSTEMS)}",
    )
    parser.add_argument(
        "--core", action="store_true", help=f"only the core systems ({', '.join(CORE)})"
    )
    parser.add_argument(
        "--budget",
        type=float,
        metavar="SECONDS",
        help="timing budget per workload (default 6, quick 0.1)",
    )
    parser.add_argument(
        "--no-skip",
        action="store_true",
        help="also run peers a workload skips as too slow to compile (jax, pytensor on "
        "recurrence T>=100: minutes)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="cap BLAS (threadpoolctl), torch and XLA threads at N; steadier on a busy machine",
    )
    parser.add_argument(
        "--progress",
        choices=("auto", "on", "off"),
        default="auto",
        help="a progress bar on stderr (tqdm, from the bench extra); auto: when stderr "
        "is a terminal",
    )
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="progress on stderr and tracebacks of failures",
    )
    return parser.parse_args(argv)


def progress(workloads: list, mode: str):
    """The workloads, wrapped in a tqdm progress bar on stderr when asked for (or, with
    "auto", when stderr is a terminal) and tqdm is installed."""
    if mode == "off" or (mode == "auto" and not sys.stderr.isatty()):
        return workloads
    try:
        from tqdm import tqdm
    except ImportError:
        if mode == "on":
            print("note: no progress bar: tqdm is not installed", file=sys.stderr)
        return workloads
    return tqdm(workloads, desc="workloads", unit="workload", file=sys.stderr, leave=False)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workloads = all_workloads(quick=args.quick)
    try:
        workloads = select(workloads, args.only)
        systems = select_systems(
            ",".join(CORE) if args.core and not args.systems else args.systems
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.list:
        for w in workloads:
            print(f"{w.name:<16} {w.formula}")
        return 0
    settings = harness.Settings.quick() if args.quick else harness.Settings()
    if args.budget is not None:
        settings = replace(settings, budget_s=args.budget)
    if args.no_skip:
        settings = replace(settings, no_skip=True)
    if args.threads:
        settings = replace(settings, threads=args.threads)
        if args.threads == 1 and "jax" not in sys.modules:  # read when jax starts
            flags = os.environ.get("XLA_FLAGS", "")
            os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()
        harness.limit_threads(args.threads)

    meta = harness.machine_info()
    meta.update(
        quick=args.quick,
        settings=asdict(settings),
        systems={s.name: s.description for s in systems},
    )
    print(
        f"graphc benchmarks, {meta['date']}, {meta.get('cpu') or meta['machine']}, "
        f"{meta['cpu_count']} cpus, load {meta['loadavg'] and meta['loadavg'][0]}, "
        f"python {meta['python']}, numpy {meta['numpy']}"
        + (" (quick: tiny sizes, not a measurement)" if args.quick else "")
    )
    for s in systems:
        if not s.available():
            print(
                f"note: {s.name} skipped: {s.requires} is not installed "
                "(pip install 'graphc[bench]')"
            )
    print(harness.HEADER)
    sys.stdout.flush()

    log = (
        (lambda msg: print(msg, file=sys.stderr, flush=True))
        if args.verbose
        else (lambda msg: None)
    )
    outcomes: list[harness.Outcome] = []
    baseline_failed = False
    for w in progress(workloads, args.progress):
        try:
            rows = harness.run_workload(w, systems, settings, log)
        except Exception as exc:  # the baseline itself is wrong: report and go on
            baseline_failed = True
            rows = [
                harness.Outcome(
                    w.name, w.group, "numpy", "FAILED", error=f"{type(exc).__name__}: {exc}"
                )
            ]
        outcomes.extend(rows)
        for o in rows:
            if o.status != "n/a" and not (o.status == "skipped" and "installed" in o.error):
                print(harness.format_row(o))
            if args.verbose and o.traceback:
                print(o.traceback, file=sys.stderr)
        sys.stdout.flush()
    meta["loadavg_end"] = harness.load_average()
    meta["blas"] = harness.machine_info().get("blas")  # as the run left them (--threads)
    print(harness.threads_line(meta) + f"; load at the end {meta['loadavg_end']}")
    for line in harness.summary_lines(outcomes):
        print(line)
    failed = [o for o in outcomes if o.status == "FAILED"]
    if failed:
        print(f"{len(failed)} FAILED: " + "; ".join(f"{o.workload}/{o.system}" for o in failed))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(harness.to_json(outcomes, meta), fh, indent=1, default=str)
        print(f"wrote {args.json}")
    return 1 if baseline_failed else 0


if __name__ == "__main__":
    sys.exit(main())
