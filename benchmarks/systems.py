"""The systems under comparison: each turns a workload's math into a callable.

``System.prepare(workload)`` returns a ``Prepared``: ``fn(*args)`` is the call that is timed,
``to_numpy`` turns its result into ``(value, [grads])`` for the correctness check, and
``compile_s`` is the time from building the graph to the end of the first call (``None`` for
systems that do not compile). Peers are imported inside their ``prepare`` only, so importing
this module never imports torch, jax, pytensor or autograd.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter
from types import SimpleNamespace
from typing import Any

import numpy as np

from benchmarks.workloads import Workload


class NotApplicable(Exception):
    """The system has nothing to run for this workload (status "n/a", left out of the table)."""


@dataclass
class Prepared:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    to_numpy: Callable[[Any], tuple[np.ndarray, list[np.ndarray]]]
    compile_s: float | None = None
    phases: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class System:
    name: str
    prepare: Callable[[Workload], Prepared]
    numpy_based: bool
    requires: str | None = None  # import name of an optional peer; None = always attempted
    description: str = ""

    def available(self) -> bool:
        """False when the optional peer this system needs is not installed (no import)."""
        return self.requires is None or importlib.util.find_spec(self.requires) is not None


# --------------------------------------------------------------------------------------------
# helpers


def _as_numpy(out: Any, has_grads: bool, convert: Callable[[Any], Any] = np.asarray):
    """(value, [grads]) as numpy arrays from a ``(value, grads)`` pair or a bare value."""
    if not has_grads:
        return np.asarray(convert(out)), []
    value, grads = out
    return np.asarray(convert(value)), [np.asarray(convert(g)) for g in grads]


def _flat_to_numpy(out: Any) -> tuple[np.ndarray, list[np.ndarray]]:
    """(value, [grads]) from a flat sequence ``[value, grad_0, ...]``."""
    if not isinstance(out, (tuple, list)):
        raise TypeError(f"expected a tuple (value, *grads), got {type(out).__name__}")
    return np.asarray(out[0]), [np.asarray(g) for g in out[1:]]


def _with_signature(fn: Callable[..., Any], names: tuple[str, ...]) -> Callable[..., Any]:
    """Give ``fn(*args)`` a signature naming its positional arguments (for tracers)."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    fn.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(n, kind) for n in names]
    )
    return fn


def _cross_entropy(xp: Any, logits: Any, labels: Any) -> Any:
    """Mean softmax cross-entropy over integer labels, with the usual max shift."""
    z = logits - xp.max(logits, axis=1, keepdims=True)
    lse = xp.log(xp.sum(xp.exp(z), axis=1))
    picked = z[xp.arange(labels.shape[0]), labels]
    return xp.mean(lse - picked)


def make_namespace(xp: Any, **overrides: Any) -> SimpleNamespace:
    """The workloads' vocabulary on an array module ``xp`` (jax.numpy, torch, ...)."""
    ns = SimpleNamespace(
        **{k: getattr(xp, k) for k in ("exp", "sin", "tanh", "log1p", "sqrt", "sum", "mean")}
    )
    ns.mse_loss = lambda pred, target: xp.mean((pred - target) ** 2)
    ns.cross_entropy = lambda logits, labels: _cross_entropy(xp, logits, labels)
    vars(ns).update(overrides)
    return ns


_WARMED: set[str] = set()


def warm_once(key: str, fn: Callable[[], Any]) -> None:
    """Run ``fn`` the first time ``key`` is seen in this process, ignoring its errors.

    Lazy imports and first-use set-up (sympy, XLA's client) are paid here, so that compile
    times measure the workload. Errors are left for the real preparation to report.
    """
    if key in _WARMED:
        return
    _WARMED.add(key)
    try:
        fn()
    except Exception:
        pass


def _warm_graphc(gc: Any) -> None:
    x = gc.var("x", shape=(3,), dtype=np.float64)
    y = gc.sum(gc.tanh(x) * gc.exp(-x) + gc.sqrt(x**2 + 1.0))
    gc.compile([x], [y, *gc.grad(y, [x])])(np.linspace(0.5, 1.5, 3))


def count_ops(outputs: list[Any]) -> int:
    """Distinct operation nodes (nodes with inputs) reachable from ``outputs`` via ``.inputs``."""
    seen: set[int] = set()
    stack = list(outputs)
    ops = 0
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        inputs = tuple(getattr(node, "inputs", None) or ())
        if inputs:
            ops += 1
        stack.extend(i for i in inputs if hasattr(i, "inputs"))
    return ops


# --------------------------------------------------------------------------------------------
# numpy and graphc


def prepare_numpy(w: Workload) -> Prepared:
    fn = w.baseline(w.inputs)
    return Prepared(fn=fn, args=tuple(w.arrays()), to_numpy=lambda out: _as_numpy(out, True))


def prepare_numpy_variant(key: str) -> Callable[[Workload], Prepared]:
    def prepare(w: Workload) -> Prepared:
        if key not in w.variants:
            raise NotApplicable(f"no numpy-{key} variant for this workload")
        fn = w.variants[key](w.inputs)
        return Prepared(fn=fn, args=tuple(w.arrays()), to_numpy=lambda out: _as_numpy(out, True))

    return prepare


def _graphc_op_counts(gc: Any, y: Any, wrt: list[Any], grads: list[Any], fn: Any) -> dict:
    """Op counts of value+gradient graphs before/after simplification; "n/a" if unsupported."""
    info: dict[str, Any] = {}
    try:
        raw = gc.grad(y, wrt, simplify=False)
        info["ops_before"] = count_ops([y, *raw])
        info["ops_after"] = count_ops([y, *grads])
    except Exception as exc:  # the API may not be there yet: report, don't fail the run
        info["ops_before"] = info["ops_after"] = "n/a"
        info["ops_error"] = f"{type(exc).__name__}: {exc}"
    try:
        info["source_lines"] = sum(1 for line in fn.source.splitlines() if line.strip())
    except Exception as exc:
        info["source_lines"] = "n/a"
        info["source_error"] = f"{type(exc).__name__}: {exc}"
    return info


def prepare_graphc(w: Workload, backend: str = "numpy") -> Prepared:
    import graphc as gc

    warm_once("graphc", lambda: _warm_graphc(gc))
    arrays = w.arrays()
    t0 = perf_counter()
    syms = [gc.var(n, shape=a.shape, dtype=a.dtype) for n, a in zip(w.names, arrays)]
    y = w.math(gc, *syms)
    t1 = perf_counter()
    wrt = [syms[i] for i in w.param_indices()]
    grads = list(gc.grad(y, wrt)) if wrt else []
    t2 = perf_counter()
    fn = gc.compile(syms, [y, *grads], backend=backend)
    t3 = perf_counter()
    args = tuple(arrays)
    fn(*args)
    t4 = perf_counter()
    phases = {"build": t1 - t0, "grad": t2 - t1, "compile": t3 - t2, "first_call": t4 - t3}
    info = _graphc_op_counts(gc, y, wrt, grads, fn) if w.count_ops else {}
    return Prepared(
        fn=fn, args=args, to_numpy=_flat_to_numpy, compile_s=t4 - t0, phases=phases, info=info
    )


def prepare_graphc_numexpr(w: Workload) -> Prepared:
    return prepare_graphc(w, backend="numexpr")


def prepare_graphc_vag(w: Workload) -> Prepared:
    if not w.params:
        raise NotApplicable("value_and_grad needs a differentiated input")
    import graphc as gc

    warm_once("graphc", lambda: _warm_graphc(gc))
    math = w.math
    t0 = perf_counter()
    fn = gc.value_and_grad(
        _with_signature(lambda *a: math(gc, *a), w.names), argnums=w.param_indices()
    )
    args = tuple(w.arrays())
    fn(*args)
    return Prepared(
        fn=fn, args=args, to_numpy=lambda out: _as_numpy(out, True), compile_s=perf_counter() - t0
    )


def prepare_graphc_eager(w: Workload) -> Prepared:
    import graphc as gc
    from graphc import eager

    idx = w.param_indices()
    leaves = [
        eager.tensor(a, requires_grad=i in idx, dtype=a.dtype) for i, a in enumerate(w.arrays())
    ]
    params = [leaves[i] for i in idx]
    math, grad = w.math, eager.grad

    def run():
        y = math(gc, *leaves)
        return (y, grad(y, params)) if params else y

    run()
    return Prepared(
        fn=run, args=(), to_numpy=lambda out: _as_numpy(out, bool(params), lambda t: t.numpy())
    )


# --------------------------------------------------------------------------------------------
# optional peers, imported lazily


def prepare_torch(w: Workload) -> Prepared:
    import torch
    import torch.nn.functional as F

    ns = make_namespace(torch, cross_entropy=F.cross_entropy, mse_loss=F.mse_loss)
    idx = w.param_indices()
    leaves = [torch.from_numpy(a) for a in w.arrays()]
    params = [leaves[i].requires_grad_(True) for i in idx]
    math, grad = w.math, torch.autograd.grad

    def run():
        y = math(ns, *leaves)
        return (y, grad(y, params)) if params else y

    run()
    return Prepared(
        fn=run,
        args=(),
        to_numpy=lambda out: _as_numpy(out, bool(params), lambda t: t.detach().numpy()),
    )


def prepare_jax(w: Workload) -> Prepared:
    import jax

    jax.config.update("jax_enable_x64", True)  # float64 workloads stay float64
    import jax.numpy as jnp

    def cross_entropy(logits, labels):
        logp = jax.nn.log_softmax(logits, axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))

    ns = make_namespace(jnp, cross_entropy=cross_entropy)

    def warm():
        tiny = jax.jit(jax.value_and_grad(lambda x: jnp.sum(jnp.tanh(x))))
        jax.block_until_ready(tiny(jnp.ones(3)))

    warm_once("jax", warm)
    math, idx = w.math, w.param_indices()
    t0 = perf_counter()

    def f(*a):
        return math(ns, *a)

    jf = jax.jit(jax.value_and_grad(f, argnums=idx) if idx else f)
    block = jax.block_until_ready

    def run(*a):
        return block(jf(*a))

    args = tuple(jax.device_put(a) for a in w.arrays())
    run(*args)
    return Prepared(
        fn=run,
        args=args,
        to_numpy=lambda out: _as_numpy(out, bool(idx)),
        compile_s=perf_counter() - t0,
    )


def prepare_pytensor(w: Workload) -> Prepared:
    import pytensor
    import pytensor.tensor as pt

    arrays = w.arrays()
    t0 = perf_counter()
    syms = [pt.tensor(name=n, dtype=str(a.dtype), shape=a.shape) for n, a in zip(w.names, arrays)]
    y = w.math(make_namespace(pt), *syms)
    grads = pytensor.grad(y, [syms[i] for i in w.param_indices()]) if w.params else []
    fn = pytensor.function(syms, [y, *grads], on_unused_input="ignore")
    args = tuple(arrays)
    fn(*args)
    return Prepared(fn=fn, args=args, to_numpy=_flat_to_numpy, compile_s=perf_counter() - t0)


def prepare_autograd(w: Workload) -> Prepared:
    import autograd
    import autograd.numpy as anp

    ns = make_namespace(anp)
    math, idx = w.math, w.param_indices()

    def f(*a):
        return math(ns, *a)

    fn = autograd.value_and_grad(f, argnum=idx) if idx else f
    args = tuple(w.arrays())
    fn(*args)
    return Prepared(fn=fn, args=args, to_numpy=lambda out: _as_numpy(out, bool(idx)))


SYSTEMS: tuple[System, ...] = (
    System("numpy", prepare_numpy, True, description="hand-written forward+backward"),
    System(
        "numpy-inplace",
        prepare_numpy_variant("inplace"),
        True,
        description="hand-written with in-place ufuncs (where a workload has one)",
    ),
    System(
        "graphc",
        prepare_graphc,
        True,
        description="gc.var + gc.grad + gc.compile; one Function for value and grads",
    ),
    System(
        "graphc-numexpr",
        prepare_graphc_numexpr,
        True,
        "numexpr",
        "graphc, backend='numexpr': elementwise clusters fused (numexpr's default threads)",
    ),
    System(
        "graphc-numba",
        functools.partial(prepare_graphc, backend="numba"),
        True,
        "numba",
        "graphc, backend='numba': each elementwise cluster one numba loop (one thread)",
    ),
    System("graphc-vag", prepare_graphc_vag, True, description="gc.value_and_grad(fn)"),
    System(
        "graphc-dask",
        functools.partial(prepare_graphc, backend="dask"),
        True,
        "dask",
        "gc.compile(..., backend='dask'): dask's auto chunks and threads, one compute per call",
    ),
    System(
        "graphc-array_api",
        functools.partial(prepare_graphc, backend="array_api"),
        True,
        "array_api_compat",
        "gc.compile(..., backend='array_api') on numpy arrays (array-api-compat's namespace)",
    ),
    System("graphc-eager", prepare_graphc_eager, True, description="graphc.eager + eager.grad"),
    System("torch", prepare_torch, False, "torch", "torch eager + torch.autograd.grad"),
    System("jax", prepare_jax, False, "jax", "jax.jit(jax.value_and_grad(f)), x64 enabled"),
    System("pytensor", prepare_pytensor, True, "pytensor", "pytensor.function, default backend"),
    System("autograd", prepare_autograd, True, "autograd", "HIPS autograd value_and_grad"),
)
CORE = ("numpy", "numpy-inplace", "graphc", "graphc-vag", "graphc-eager")


def select_systems(names: str | None) -> list[System]:
    """Systems named in the comma-separated ``names`` (all when empty); numpy always first."""
    if not names:
        return list(SYSTEMS)
    wanted = {n.strip() for n in names.split(",") if n.strip()} | {"numpy"}
    unknown = sorted(wanted - {s.name for s in SYSTEMS})
    if unknown:
        raise ValueError(
            f"unknown system(s) {', '.join(unknown)}; "
            f"choose from {', '.join(s.name for s in SYSTEMS)}"
        )
    return [s for s in SYSTEMS if s.name in wanted]
