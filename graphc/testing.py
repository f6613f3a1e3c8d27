"""Gradient testing: central finite differences and `assert_grads`, the one helper through
which every gradient test of graphc goes.

`assert_grads(fn, args)` differentiates `fn` (a Python function of `gc` operations) with each
engine and compares, in float64:

- reverse mode (`gc.grad`, with a random head for non-scalar outputs) against central
  differences along a random direction, and for small inputs entry by entry through the
  public `gc.check_grad` (compiled engines);
- forward mode (`gc.jvp`) along a random direction against central differences;
- the two modes against each other: ``<v, J u> == <J^T v, u>``;
- up to `order`: the derived functions ``(x, v) -> J(x)^T v`` and ``(x, u) -> J(x) u`` are
  checked again in both modes, so order 2 checks derivatives of derivatives.

Engines are pluggable (`register_engine`): "compiled" declares the vars' shapes and runs the
full simplification pipeline; "generic" declares only their ranks and "unshaped" nothing (so
the rules must work before shapes are known; both skip simplification, which keeps them fast
and tests the rules as written); "eager" (when `graphc.eager` exists) runs on the tape with
``create_graph=True``.

The directional finite-difference core (`default_eps`, `central_difference`, `compare`) is
public; per-entry differences are `gc.check_grad`'s job, so there is one loop of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

import graphc as gc

from .binding import is_float_dtype
from .errors import GradientCheckError, GraphcError
from .ir import free_vars
from .transforms import default_eps

# Up to this many differentiated entries the reverse mode is also checked entry by entry
# (`gc.check_grad`); above it only along random directions (autograd's and JAX's scheme).
FULL_CHECK_LIMIT = 48


def _perturbed(arrays, directions, step):
    return [a if d is None else a + step * d for a, d in zip(arrays, directions)]


def central_difference(
    fn: Callable,
    arrays: Sequence[np.ndarray],
    directions: Sequence[np.ndarray | None],
    eps: float | None = None,
):
    """``(fn(x + eps d) - fn(x - eps d)) / (2 eps)``: the directional derivative of `fn`.

    `fn` maps arrays to a list of arrays; `directions` has one entry per array (`None` keeps
    that array fixed). Returns a list, one derivative per output.
    """
    eps = default_eps() if eps is None else eps
    plus = fn(*_perturbed(arrays, directions, eps))
    minus = fn(*_perturbed(arrays, directions, -eps))
    return [
        (np.asarray(p, np.float64) - np.asarray(m, np.float64)) / (2 * eps)
        for p, m in zip(plus, minus)
    ]


def compare(actual, expected, rtol: float, atol: float, what: str) -> float:
    """Raise `GradientCheckError` naming the worst entry unless
    ``|actual - expected| <= atol + rtol * |expected|`` everywhere; return the largest
    absolute error."""
    a = np.asarray(actual)
    e = np.asarray(expected, np.float64)
    if a.shape != e.shape:
        raise GradientCheckError(f"{what}: got shape {a.shape}, expected {e.shape}")
    a = a.astype(np.float64)
    err = np.abs(a - e)
    excess = err - (atol + rtol * np.abs(e))
    bad = ~np.isfinite(a) | (excess > 0)
    if a.size and bad.any():
        excess = np.where(np.isfinite(excess), excess, np.inf)
        j = np.unravel_index(int(np.argmax(np.where(bad, excess, -np.inf))), a.shape)
        where = f" at entry {tuple(int(k) for k in j)}" if a.ndim else ""
        raise GradientCheckError(
            f"{what}: worst{where}: got {a[j]!r}, expected {e[j]!r} "
            f"(|error| {err[j]:.3g} > atol {atol:g} + rtol {rtol:g} * |expected|)"
        )
    return float(err.max()) if err.size else 0.0


# --- sampling from an op's domain -------------------------------------------------------


def is_interval(domain) -> bool:
    """A single domain: an interval ``(lo, hi)`` or a named one such as "nonzero"."""
    return isinstance(domain, str) or (
        isinstance(domain, tuple)
        and len(domain) == 2
        and all(isinstance(v, (int, float)) for v in domain)
    )


def input_domains(op, n: int) -> list:
    """The domain of each of `n` inputs of `op` (one shared domain or one per input)."""
    domain = op.domain
    if is_interval(domain):
        return [domain] * n
    domains = list(domain)
    return (domains + [domains[-1]] * n)[:n]


def sample(domain, shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """Random values of `shape` inside `domain`: ``(lo, hi)`` uniform, "nonzero"
    (magnitudes in [0.3, 2] of either sign), away from the points where ops are not smooth,
    or "matrix" (well-conditioned square matrices, for inverses and determinants).
    """
    if domain == "nonzero":
        mags = rng.uniform(0.3, 2.0, size=shape)
        out = np.where(rng.random(size=shape) < 0.5, -mags, mags)
    elif domain == "matrix":
        out = _well_conditioned(shape, rng)
    elif is_interval(domain):
        out = rng.uniform(domain[0], domain[1], size=shape)
    else:
        raise GraphcError(f"sample: unknown domain {domain!r}")
    return np.asarray(out, dtype=dtype)


def _well_conditioned(shape, rng: np.random.Generator) -> np.ndarray:
    """Entries in [-1, 1]; square matrices (last two axes) made diagonally dominant with the
    positive diagonal n+1, 2(n+1), ...: invertible, well conditioned, of positive
    determinant, and the symmetric matrix of the lower triangle is positive definite with
    well-separated eigenvalues (decompositions)."""
    out = rng.uniform(-1.0, 1.0, size=shape)
    if len(shape) >= 2:  # (a matrix that is not square: its leading square block)
        k = min(shape[-2:])
        step = max(shape[-2:]) + 1.0
        out[..., range(k), range(k)] += step * np.arange(1, k + 1)
    return out


# The points where ops are least forgiving, for differential tests (all modes must agree there,
# NaN and inf included; finite differences only where the function is smooth).
EDGE_KINDS = ("zeros", "ties", "large", "mixed")
_EDGE_MIX = (0.0, 1.0, -1.0, 1e3, -1e3)


def edge_sample(kind, shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """Values of `shape` at edge points: "zeros"; "ties" (every entry 1.0, so entries of the
    same or different arrays tie in max, min, maximum, clip, ...); "large" (magnitude 1e3,
    random signs: exp overflows, tanh saturates); "mixed" (entries drawn from 0, +-1, +-1e3).

    >>> import numpy as np
    >>> edge_sample("ties", (2,), np.random.default_rng(0))
    array([1., 1.])
    """
    if kind == "zeros":
        out = np.zeros(shape)
    elif kind == "ties":
        out = np.ones(shape)
    elif kind == "large":
        out = np.where(rng.random(size=shape) < 0.5, -1e3, 1e3)
    elif kind == "mixed":
        out = rng.choice(_EDGE_MIX, size=shape)
    else:
        raise GraphcError(f"edge_sample: unknown kind {kind!r}; known: {EDGE_KINDS}")
    return np.asarray(out, dtype=dtype)


# --- engines ---------------------------------------------------------------------------


def _as_list(values) -> list:
    return list(values) if isinstance(values, (list, tuple)) else [values]


class CompiledEngine:
    """Differentiate with `gc.grad`/`gc.jvp` on symbols and run through `gc.compile`.

    `declare` says what the vars know: "shape" (the full static shape), "rank" (only the
    number of dims, every dim unknown until data is bound) or "none" (nothing, like
    ``gc.var("x")``).
    """

    modes = ("rev", "fwd")

    def __init__(self, declare: str = "shape", simplify: bool = True):
        if declare not in ("shape", "rank", "none"):
            raise GraphcError(
                f"CompiledEngine: declare must be 'shape', 'rank' or 'none', got {declare!r}"
            )
        self.declare = declare
        self.simplify = simplify

    def _vars(self, arrays):
        shapes = {
            "shape": lambda a: a.shape,
            "rank": lambda a: (None,) * a.ndim,
            "none": lambda a: None,
        }[self.declare]
        return [gc.var(f"x{i}", shapes(a), a.dtype) for i, a in enumerate(arrays)]

    def compile(self, fn: Callable, arrays: Sequence[np.ndarray]) -> Callable:
        """`fn` traced on vars like `arrays`, compiled: arrays -> list of arrays."""
        xs = self._vars(arrays)
        outs = [o if isinstance(o, gc.Symbol) else gc.const(o) for o in _as_list(fn(*xs))]
        f = gc.compile(xs, outs, simplify=self.simplify)
        return lambda *arrs: [np.asarray(o) for o in f(*arrs)]

    def vjp_fn(
        self, fn: Callable, nargs: int, diff: Sequence[int], outs: Sequence[int]
    ) -> Callable:
        """``(*xs, *heads) -> [J^T head for x in xs[diff]]`` over the outputs `outs`."""

        def vjp(*values):
            xs, heads = values[:nargs], values[nargs:]
            ys = _as_list(fn(*xs))
            ys = [ys[k] for k in outs]
            wrt = [xs[i] for i in diff]
            if len(ys) == 1:
                return gc.grad(ys[0], wrt, head=heads[0], simplify=self.simplify)
            total = gc.sum(ys[0] * heads[0])
            for y, h in zip(ys[1:], heads[1:]):
                total = total + gc.sum(y * h)
            return gc.grad(total, wrt, simplify=self.simplify)

        return vjp

    def jvp_fn(
        self, fn: Callable, nargs: int, diff: Sequence[int], outs: Sequence[int]
    ) -> Callable:
        """``(*xs, *tangents) -> [J t for each output in outs]``."""

        def jvp(*values):
            xs, ts = values[:nargs], values[nargs:]
            ys = _as_list(fn(*xs))
            return gc.jvp(
                [ys[k] for k in outs], {xs[i]: t for i, t in zip(diff, ts)}, simplify=self.simplify
            )

        return jvp

    def check_entries(self, fn: Callable, arrays, diff, outs, heads, rtol, atol, eps):
        """`gc.check_grad` of ``sum_k <heads[k], outputs[k]>``: reverse mode against one
        central difference per entry."""
        xs = self._vars(arrays)
        ys = _as_list(fn(*xs))
        total = gc.sum(ys[outs[0]] * heads[0])
        for k, h in zip(outs[1:], heads[1:]):
            total = total + gc.sum(ys[k] * h)
        wrt = [xs[i] for i in diff]
        used = {v.name for v in free_vars([total])} | {w.name for w in wrt}
        gc.check_grad(
            total,
            wrt,
            {x.name: a for x, a in zip(xs, arrays) if x.name in used},
            eps=eps,
            rtol=rtol,
            atol=atol,
        )


class EagerEngine:
    """Differentiate on the eager tape (`eager.grad(..., create_graph=True)`); reverse mode
    only, since the tape records forward computations."""

    modes = ("rev",)

    def compile(self, fn: Callable, arrays: Sequence[np.ndarray]) -> Callable:
        from . import eager

        def run(*arrs):
            ts = [eager.tensor(a, requires_grad=is_float_dtype(np.asarray(a).dtype)) for a in arrs]
            return [np.asarray(getattr(o, "data", o)) for o in _as_list(fn(*ts))]

        return run

    def vjp_fn(self, fn, nargs, diff, outs):
        from . import eager

        def vjp(*values):
            xs, heads = values[:nargs], values[nargs:]
            ys = _as_list(fn(*xs))
            wrt = [xs[i] for i in diff]
            # As in PyTorch, an output with no history (zeros_like(x), sign(x)) cannot be
            # differentiated: it contributes zero.
            live = [
                (ys[k], h) for k, h in zip(outs, heads) if getattr(ys[k], "requires_grad", False)
            ]
            if not live:
                return [gc.zeros_like(x) for x in wrt]
            grads = eager.grad(
                [y for y, _ in live], wrt, grad_outputs=[h for _, h in live], create_graph=True
            )
            return [gc.zeros_like(x) if g is None else g for g, x in zip(grads, wrt)]

        return vjp


ENGINES: dict[str, object] = {
    "compiled": CompiledEngine("shape"),
    "generic": CompiledEngine("rank", simplify=False),
    "unshaped": CompiledEngine("none", simplify=False),
}


def register_engine(name: str, engine) -> None:
    """Make `engine` available to `assert_grads` (it needs `modes`, `compile`, `vjp_fn`
    and, for forward mode, `jvp_fn`, with the signatures of `CompiledEngine`)."""
    ENGINES[name] = engine


def eager_available() -> bool:
    """True when `graphc.eager` exists (then "eager" is one of the default engines)."""
    try:
        from . import eager  # noqa: F401
    except ImportError:
        return False
    return True


def default_engines() -> tuple[str, ...]:
    return ("compiled", "eager") if eager_available() else ("compiled",)


def _engine(name: str):
    if name == "eager" and name not in ENGINES and eager_available():
        ENGINES["eager"] = EagerEngine()
    try:
        return ENGINES[name]
    except KeyError:
        raise GraphcError(
            f"assert_grads: unknown engine {name!r}; known: {sorted(set(ENGINES) | {'eager'})}"
        ) from None


# --- the helper ------------------------------------------------------------------------


def assert_grads(
    fn: Callable,
    args: Sequence,
    order: int = 2,
    modes: Sequence[str] = ("rev", "fwd"),
    engines: Sequence[str] | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    eps: float | None = None,
    rng: np.random.Generator | None = None,
) -> None:
    """Check the derivatives of `fn` at `args` against central finite differences.

    Parameters
    ----------
    fn : callable
        A function of `gc` operations taking one value per entry of `args` and returning
        one value or a list/tuple of them (outputs that are not floating are ignored).
    args : sequence of array_like
        The point. Floating arguments are differentiated (in float64); integer and boolean
        ones (labels, conditions) are held fixed.
    order : int
        1 checks first derivatives; 2 also differentiates the derived functions
        ``(x, v) -> J^T v`` and ``(x, u) -> J u`` again, and so on.
    modes : sequence of "rev", "fwd"
        Reverse mode (`gc.grad` with random heads) and forward mode (`gc.jvp`); with both,
        ``<v, J u> == <J^T v, u>`` is checked too. An engine skips modes it lacks.
    engines : sequence of str, optional
        Names from `ENGINES`; default "compiled", plus "eager" when `graphc.eager` exists.
    rtol, atol : float
        Tolerances of ``|analytic - numeric| <= atol + rtol * |numeric|``.
    eps : float, optional
        The finite-difference step (default `default_eps()`).
    rng : numpy.random.Generator, optional
        Source of the random heads and directions (seeded by default).

    Raises
    ------
    GradientCheckError
        Naming the engine, the derivative (e.g. "rev of fwd"), the argument and the worst
        entry.

    Examples
    --------
    >>> import numpy as np, graphc as gc
    >>> assert_grads(lambda x, w: gc.tanh(x @ w), [np.ones((2, 3)), np.full((3,), 0.1)])
    """
    if order < 1:
        raise GraphcError(f"assert_grads: order must be at least 1, got {order}")
    unknown = set(modes) - {"rev", "fwd"}
    if unknown:
        raise GraphcError(f"assert_grads: unknown mode(s) {sorted(unknown)}")
    arrays = []
    for a in args:
        arr = np.asarray(a)
        arrays.append(arr.astype(np.float64) if arr.dtype.kind == "f" else arr)
    diff = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    if not diff:
        raise GraphcError("assert_grads: no floating argument to differentiate")
    rng = np.random.default_rng(0) if rng is None else rng
    tol = (rtol, atol, default_eps() if eps is None else eps)
    for name in default_engines() if engines is None else engines:
        engine = _engine(name)
        _check(engine, name, fn, arrays, diff, order, tuple(modes), tol, rng, "")


def _inner(pairs) -> tuple[float, float]:
    """``sum <a, b>`` over the pairs, and the sum of ``|a| |b|`` (its natural scale)."""
    total = scale = 0.0
    for a, b in pairs:
        prod = np.asarray(a, np.float64) * np.asarray(b, np.float64)
        total += float(np.sum(prod))
        scale += float(np.sum(np.abs(prod)))
    return total, scale


def _compare_inner(actual_pairs, expected_pairs, rtol, atol, what) -> None:
    """Compare two inner products. The tolerance is relative to the sum of the absolute
    terms, not to the (possibly cancelling) total: rounding and finite-difference errors
    grow with the terms, so a total near zero must not demand an absolute precision that
    no single term has."""
    actual, _ = _inner(actual_pairs)
    expected, scale = _inner(expected_pairs)
    if not abs(actual - expected) <= atol + rtol * scale:
        raise GradientCheckError(
            f"{what}: got {actual!r}, expected {expected!r} (|error| "
            f"{abs(actual - expected):.3g} > atol {atol:g} + rtol "
            f"{rtol:g} * {scale:.3g}, the sum of the terms' sizes)"
        )


def _check(engine, name, fn, arrays, diff, order, modes, tol, rng, path, primal=None):
    """One level of `assert_grads`, then the derived functions one order down."""
    rtol, atol, eps = tol
    f = primal if primal is not None else engine.compile(fn, arrays)
    ys = f(*arrays)
    outs = [k for k, y in enumerate(ys) if is_float_dtype(y.dtype)]
    if not outs:
        return
    level = _Level(engine, fn, arrays, diff, outs, tol, f"assert_grads[{name}] {path}")
    level.us = [rng.standard_normal(arrays[i].shape) for i in diff]
    level.vs = [rng.standard_normal(ys[k].shape) for k in outs]

    def f_outs(*arrs):
        values = f(*arrs)
        return [values[k] for k in outs]

    dirs = [None] * len(arrays)
    for i, u in zip(diff, level.us):
        dirs[i] = u
    level.ju_fd = central_difference(f_outs, arrays, dirs, eps)
    ju = cts = None
    derived = []
    if "fwd" in modes and "fwd" in engine.modes:
        ju, jvp_fn, jvp = _check_forward(level)
        derived.append(("fwd", jvp_fn, level.us, jvp))
    if "rev" in modes and "rev" in engine.modes:
        cts, vjp_fn, vjp = _check_reverse(level)
        derived.append(("rev", vjp_fn, level.vs, vjp))
    if ju is not None and cts is not None:
        _compare_inner(
            zip(cts, level.us),
            zip(level.vs, ju),
            rtol,
            atol,
            f"{level.label}<J^T v, u> against <v, J u>",
        )
    if order > 1:
        nargs = len(arrays)
        for mode, dfn, extra, compiled in derived:
            _check(
                engine,
                name,
                dfn,
                list(arrays) + extra,
                list(diff) + list(range(nargs, nargs + len(extra))),
                order - 1,
                modes,
                tol,
                rng,
                f"{mode} of {path}",
                primal=compiled,
            )


class _Level:
    """What one level of `assert_grads` checks: the function at `arrays`, its floating
    arguments `diff` and outputs `outs`, the random directions `us` (per argument) and `vs`
    (per output), and J u by finite differences (`ju_fd`)."""

    def __init__(self, engine, fn, arrays, diff, outs, tol, label):
        self.engine, self.fn, self.arrays, self.diff, self.outs = engine, fn, arrays, diff, outs
        self.rtol, self.atol, self.eps = tol
        self.label = label  # "assert_grads[engine] <path>"
        self.us = self.vs = self.ju_fd = None


def _check_forward(level: _Level):
    """Forward mode: J u against finite differences. Returns J u, the jvp function and its
    compiled form (differentiated again at the next order)."""
    engine, arrays = level.engine, level.arrays
    jvp_fn = engine.jvp_fn(level.fn, len(arrays), level.diff, level.outs)
    jvp = engine.compile(jvp_fn, list(arrays) + level.us)
    ju = jvp(*arrays, *level.us)
    for k, (a, e) in enumerate(zip(ju, level.ju_fd)):
        compare(a, e, level.rtol, level.atol, f"{level.label}fwd: J u for output {level.outs[k]}")
    return ju, jvp_fn, jvp


def _check_reverse(level: _Level):
    """Reverse mode: each gradient has its argument's shape and dtype, entry by entry for
    small arguments, and <J^T v, u> against finite differences. Returns J^T v, the vjp
    function and its compiled form."""
    engine, arrays, diff = level.engine, level.arrays, level.diff
    vjp_fn = engine.vjp_fn(level.fn, len(arrays), diff, level.outs)
    vjp = engine.compile(vjp_fn, list(arrays) + level.vs)
    cts = vjp(*arrays, *level.vs)
    for i, ct in zip(diff, cts):
        if ct.shape != arrays[i].shape or ct.dtype != arrays[i].dtype:
            raise GradientCheckError(
                f"{level.label}rev: the gradient of argument {i} is {ct.dtype} of shape "
                f"{ct.shape}, expected {arrays[i].dtype} of shape {arrays[i].shape}"
            )
    entries = getattr(engine, "check_entries", None)
    if entries is not None and sum(arrays[i].size for i in diff) <= FULL_CHECK_LIMIT:
        try:  # first, since it names the worst entry
            entries(
                level.fn, arrays, diff, level.outs, level.vs, level.rtol, level.atol, level.eps
            )
        except GradientCheckError as exc:
            raise GradientCheckError(f"{level.label}rev, entry by entry: {exc}") from None
    _compare_inner(
        zip(cts, level.us),
        zip(level.vs, level.ju_fd),
        level.rtol,
        level.atol,
        f"{level.label}rev: <J^T v, u> against finite differences",
    )
    return cts, vjp_fn, vjp
