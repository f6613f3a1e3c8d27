"""Why a function compiled and what compiling cost: `Function.cache_info()` and `f.report()`.

`CacheInfo` is what `functools.lru_cache`'s `cache_info()` gives (hits, misses, maxsize,
currsize) and more: the signatures (argument shapes and dtypes) compiled, in order, and for
each compilation after the first why it happened (which argument changed shape or dtype,
from what to what, or that the signature had been dropped from a full cache).

`CompileReport` is one compilation: the time and the operation count (`simplify.count_ops`)
after each pass of the pipeline, whether sympy's time budget ran out (the clusters it left as
they were: correct, not smaller), the time of code generation and the emitted program's size.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .simplify import PassContext, count_ops
from .simplify import elementwise as el


class ArgType(NamedTuple):
    """One argument of a signature: its var name, shape and dtype."""

    name: str
    shape: tuple
    dtype: np.dtype

    def __str__(self):
        return f"{self.name}: {type_text(self.shape, self.dtype)}"


def type_text(shape, dtype) -> str:
    """`float64[3, 4]` for a shape and dtype; `?` for what is not known (`?[?, 4]`, `?[...]`
    for an unknown rank).

    >>> type_text((3, None), None), type_text(None, np.dtype("float32")), type_text((), "int64")
    ('?[3, ?]', 'float32[...]', 'int64[]')
    """
    dims = "..." if shape is None else ", ".join("?" if d is None else str(d) for d in shape)
    return f"{'?' if dtype is None else np.dtype(dtype).name}[{dims}]"


def source_html(source: str) -> str:
    """HTML showing emitted source, highlighted by pygments when it is installed (Jupyter
    brings it), else as escaped preformatted text."""
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        import html

        return f"<pre>{html.escape(source)}</pre>"
    return highlight(source, PythonLexer(), HtmlFormatter(noclasses=True, nobackground=True))


def signature_of(names, arrays) -> tuple[ArgType, ...]:
    """The signature of a call: one `ArgType` per argument."""
    return tuple(ArgType(n, tuple(a.shape), a.dtype) for n, a in zip(names, arrays))


def key_signature(names, key) -> tuple[ArgType, ...]:
    """The signature of a cache key (type, shape, dtype for each argument)."""
    return tuple(ArgType(n, key[3 * i + 1], key[3 * i + 2]) for i, n in enumerate(names))


def show_signature(sig) -> str:
    return "(shape-generic)" if sig is None else ", ".join(map(str, sig)) or "()"


class Change(NamedTuple):
    """What changed in one argument between two signatures: `what` is "shape" or "dtype"."""

    argument: str
    what: str
    before: object
    after: object

    def __str__(self):
        return f"{self.argument} changed {self.what} {self.before} -> {self.after}"


class Compilation(NamedTuple):
    """One compilation: the signature, why it compiled (`reason`), and `changes` against the
    signature compiled just before it (empty for the first call)."""

    signature: tuple
    reason: str
    changes: tuple

    def __str__(self):
        return f"{show_signature(self.signature)}: {self.reason}"


def compilation(sig, history: list) -> Compilation:
    """Why `sig` compiles, given the signatures compiled before it (oldest first)."""
    if not history:
        return Compilation(sig, "first call", ())
    before = history[-1].signature
    changes = tuple(
        Change(a.name, what, getattr(a, what), getattr(b, what))
        for a, b in zip(before, sig)
        for what in ("shape", "dtype")
        if getattr(a, what) != getattr(b, what)
    )
    if any(c.signature == sig for c in history):
        reason = "compiled before, then dropped from the full cache (codegen.SIGNATURE_CACHE)"
    else:
        reason = "; ".join(map(str, changes)) or "new signature"
    return Compilation(sig, reason, changes)


class CacheInfo(NamedTuple):
    """A function's cache: `hits` (calls that found their program), `misses` (calls that
    compiled), `maxsize` (`codegen.SIGNATURE_CACHE`), `currsize` (programs kept), the
    `signatures` kept, and `compilations` (every compilation, oldest first, with its reason).

    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> f = gc.compile([x], gc.sum(x * x))
    >>> _ = f(np.ones(3)); _ = f(np.ones(3)); _ = f(np.ones(4, dtype=np.float32))
    >>> info = f.cache_info()
    >>> info.hits, info.misses
    (1, 2)
    >>> print(info)
    CacheInfo(hits=1, misses=2, maxsize=64, currsize=2)
    compilations:
      1. x: float64[3]: first call
      2. x: float32[4]: x changed shape (3,) -> (4,); x changed dtype float64 -> float32
    """

    hits: int
    misses: int
    maxsize: int
    currsize: int
    signatures: tuple
    compilations: tuple

    def __str__(self):
        lines = [
            f"CacheInfo(hits={self.hits}, misses={self.misses}, maxsize={self.maxsize}, "
            f"currsize={self.currsize})"
        ]
        if self.compilations:
            lines.append("compilations:")
            lines += [f"  {i}. {c}" for i, c in enumerate(self.compilations, 1)]
        return "\n".join(lines)

    __repr__ = __str__


class Stage(NamedTuple):
    """One step of a compilation: its name, the pipeline round (0 first; None outside a
    pipeline), seconds spent, whether it ran (False: skipped, nothing had changed since it
    last ran) and the operation count after it (None for code generation, or not counted)."""

    name: str
    round: int | None
    seconds: float
    ran: bool
    ops: int | None

    @property
    def label(self) -> str:
        rnd = f" (round {self.round + 1})" if self.round else ""
        return self.name + rnd


_BUDGET_WORDS = {
    "timed_out": "stopped by the deadline",
    "skipped": "not tried (budget spent)",
}


@dataclass
class CompileReport:
    """One compilation of a `Function`: its `signature`, `stages` (one `Stage` per pass of the
    pipeline and per step around it, in order), `budget` (sympy clusters left as they were:
    "timed_out", "skipped", "too_large"; and the clusters sympy "planned", with its CPU time
    "sympy_seconds", and those "cached": found in the cache of earlier plans), the emitted program's `lines` and `chars`, and the
    total `seconds`.

    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> f = gc.compile([x], gc.sum(x * 1 + x))
    >>> _ = f(np.ones(3))
    >>> r = f.report()
    >>> [s.label for s in r.stages][:3], r.stages[0].ops, r.budget_ran_out
    (['graph', 'specialize', 'rewrite'], 3, False)
    """

    signature: tuple | None
    stages: list = field(default_factory=list)
    budget: Counter = field(default_factory=Counter)
    lines: int = 0
    chars: int = 0
    seconds: float = 0.0

    @property
    def budget_ran_out(self) -> bool:
        """Did sympy's time budget stop or skip a cluster (`simplify.elementwise.TIME_BUDGET`)?"""
        return bool(self.budget["timed_out"] or self.budget["skipped"])

    def _budget_text(self) -> str:
        parts = [f"{self.budget[k]} {w}" for k, w in _BUDGET_WORDS.items() if self.budget[k]]
        if parts:
            text = (
                f"sympy budget ran out: clusters {', '.join(parts)}, left as they were "
                "(correct, not smaller; raise graphc.simplify.elementwise.TIME_BUDGET or "
                "CLUSTER_BUDGET)"
            )
        else:
            text = "sympy budget: not exceeded"
        if self.budget["too_large"]:
            text += f"; {self.budget['too_large']} cluster(s) too large to expand"
        return text + "\n" + self._sympy_text()

    def _sympy_text(self) -> str:
        """The clusters sympy planned (and its CPU time), those found in the cache, and the
        budget a cluster had."""
        return (
            f"sympy: {self.budget['planned']} cluster(s) planned in "
            f"{self.budget['sympy_seconds'] * 1e3:.1f} ms CPU, {self.budget['cached']} from "
            f"the cache; budget {el.CLUSTER_BUDGET * 1e3:g} ms + "
            f"{el.CLUSTER_BUDGET_PER_OP * 1e3:g} ms per operation of a cluster, "
            f"{el.TIME_BUDGET * 1e3:g} ms per pipeline run"
        )

    def __str__(self):
        rows = [("stage", "ms", "ops")]
        for s in self.stages:
            ms = f"{s.seconds * 1e3:.1f}" if s.ran else "skipped"
            rows.append((s.label, ms, "-" if s.ops is None else str(s.ops)))
        w = [max(len(r[i]) for r in rows) for i in range(3)]
        table = [f"  {a.ljust(w[0])}  {b.rjust(w[1])}  {c.rjust(w[2])}" for a, b, c in rows]
        return "\n".join(
            [f"compiled {show_signature(self.signature)} in {self.seconds * 1e3:.1f} ms"]
            + table
            + [self._budget_text(), f"program: {self.lines} lines, {self.chars} characters"]
        )

    __repr__ = __str__


def _no_count(outputs) -> None:
    return None


class Recorder:
    """Collects a `CompileReport` while a function compiles: hand `context()` to each
    `simplify.run`, wrap the other steps in `step`. With `count=False` the operation counts
    (a walk of the graph after each pass) are not taken: for a compilation nobody reports."""

    def __init__(self, signature=None, count: bool = True):
        self.report = CompileReport(signature)
        self._start = time.perf_counter()
        self._counter = count_ops if count else _no_count
        self._counted: tuple = ((), None)  # the outputs counted last, and their count

    def _count(self, outputs):
        """`count_ops(outputs)`; a walk of the graph only when it is not the one counted
        last (a pass that changed nothing, or was skipped, leaves the count as it was)."""
        last, ops = self._counted
        if len(last) != len(outputs) or any(a is not b for a, b in zip(last, outputs)):
            ops = self._counter(outputs)
            self._counted = (tuple(outputs), ops)
        return ops

    def graph(self, outputs) -> None:
        """The graph as given, before any pass."""
        self.report.stages.append(Stage("graph", None, 0.0, True, self._count(outputs)))

    def context(self, suffix: str = "") -> PassContext:
        def on_pass(name, round_, seconds, ran, outputs):
            stage = Stage(name + suffix, round_, seconds, ran, self._count(outputs))
            self.report.stages.append(stage)

        return PassContext(budget=self.report.budget, on_pass=on_pass)

    def step(self, name: str, fn, *args, **kwargs):
        """`fn(*args, **kwargs)`, timed as the stage `name`."""
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        seconds = time.perf_counter() - start
        ops = self._count(result) if isinstance(result, list) else None
        self.report.stages.append(Stage(name, None, seconds, True, ops))
        return result

    def done(self, source: str) -> CompileReport:
        self.report.lines = len(source.splitlines())
        self.report.chars = len(source)
        self.report.seconds = time.perf_counter() - self._start
        return self.report
