"""Differential test: every op and random graphs, in three modes and four input regimes.

Modes: "compiled" (symbols, `gc.grad`, `gc.compile`), "eager" (`graphc.eager` tensors and
`backward`) and "numpy" (the same `gc` calls on numpy arrays: values only; its derivative is
the finite difference). Regimes: "shape" (vars declare their shapes), "none" (`gc.var(name)`:
no shape, no dtype), "float32" (float32 data: values and gradients float32, float32 tolerances)
and "edge" (zeros, ties, magnitudes 1e3 and a mix of them: `testing.edge_sample`).

Each case either gives, in every mode, the same values (NaN and inf in the same places) and,
in the two differentiating modes, the same gradients (same dtype as the input, same convention
at kinks, NaN and inf in the same places), equal to finite differences of the numpy mode
wherever the function is smooth at the point; or raises the same graphc error in every mode.
At edge points "smooth" means: every input lies in its op's `domain` (not where the op is
undefined or singular), and the one-sided differences agree, at two step sizes, along the
random direction and along every coordinate (so kinks, ties and jumps are told apart).

Cases are the op recipes (`op_recipes.PARAMS`, and `op_recipes.bad_shapes` for the errors)
and hypothesis-drawn random graphs (`random_graphs.trees`); for random graphs the compiled
mode's other entry points, `gc.value_and_grad` and `bind`/`backward`, must give
`gc.compile`'s results too. A case that finds a bug owned elsewhere is marked
`xfail(strict=True)` naming it (`KNOWN`), so the fix flips it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from op_recipes import BAD_SHAPE_NAMES, PARAMS, RECIPES, bad_shapes, call, make_args, make_vars
from random_graphs import function, leaves, trees

import graphc as gc
from graphc import eager, testing
from graphc.errors import GraphcError
from graphc.ops import OPS
from graphc.ops.base import POSITIVE, UNIT

REGIMES = ("shape", "none", "float32", "edge")

# Values: compiled code may reassociate (simplification); eager runs the ops' own impls.
VALUE_RTOL = {"float64": 1e-10, "float32": 2e-5}
GRAD_RTOL = {"float64": 1e-9, "float32": 2e-5}
# Gradients against finite differences (which are taken in float64 in every regime).
FD_RTOL = {"float64": 1e-5, "float32": 2e-3}


@dataclasses.dataclass
class Run:
    """One mode's results: values and gradients, or the graphc error type that stopped it."""

    values: list | None = None
    grads: list | None = None
    error: type | None = None  # raised while computing values
    grad_error: type | None = None  # raised while differentiating


def _outputs(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _attempt(run, field, thunk):
    """`thunk()`, or None with the graphc error's type recorded in `run.<field>`; any other
    exception propagates (every failure must be a graphc error)."""
    try:
        return thunk()
    except GraphcError as exc:
        setattr(run, field, type(exc))
        return None


def run_numpy(fn, arrays):
    run = Run()
    with np.errstate(all="ignore"):
        ys = _attempt(run, "error", lambda: _outputs(fn(*arrays)))
    if ys is not None:
        run.values = [np.asarray(y) for y in ys]
    return run


def run_compiled(fn, arrays, heads, declare, wrt_index):
    run = Run()
    xs = make_vars(arrays, declare, dtypes=declare != "none")
    ys = _attempt(run, "error", lambda: _outputs(fn(*xs)))
    if ys is None:
        return run
    grads = []
    if heads and wrt_index:
        total = sum(gc.sum(ys[k] * h) for k, h in heads.items())
        grads = _attempt(run, "grad_error", lambda: gc.grad(total, [xs[i] for i in wrt_index]))
        if grads is None:
            grads = []

    def run_all(outputs):
        return [np.asarray(o) for o in gc.compile(xs, outputs)(*arrays)]

    with np.errstate(all="ignore"):
        outs = _attempt(run, "error", lambda: run_all(ys + grads))
        if outs is None and grads:
            # Tell a failure of the values from one of the gradients.
            run.grad_error, run.error, grads = run.error, None, []
            outs = _attempt(run, "error", lambda: run_all(ys))
    if outs is not None:
        run.values = outs[: len(ys)]
        run.grads = outs[len(ys) :] if grads else None
    return run


def run_eager(fn, arrays, heads, wrt_index):
    run = Run()
    ts = [eager.tensor(a, requires_grad=i in wrt_index) for i, a in enumerate(arrays)]
    with np.errstate(all="ignore"):
        ys = _attempt(run, "error", lambda: _outputs(fn(*ts)))
        if ys is None:
            return run
        run.values = [np.asarray(getattr(y, "data", y)) for y in ys]
        if not (heads and wrt_index):
            return run

        def backward():
            live = [(ys[k], h) for k, h in heads.items() if getattr(ys[k], "requires_grad", False)]
            if live:
                sum(gc.sum(y * h) for y, h in live).backward()
            return [
                np.zeros_like(arrays[i]) if ts[i].grad is None else ts[i].grad.numpy()
                for i in wrt_index
            ]

        run.grads = _attempt(run, "grad_error", backward)
    return run


# --- checks -----------------------------------------------------------------------------


def _kind(arrays):
    return "float32" if any(a.dtype == np.float32 for a in arrays) else "float64"


def _assert_same(actual, expected, rtol, what):
    """Same dtype and shape; close, with NaN and inf in the same places."""
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if actual.dtype.kind not in "fc":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    finite = np.isfinite(expected)
    scale = float(np.max(np.abs(expected[finite]), initial=1.0))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=what)


def _in_domain(domain, a):
    """False where an op's `domain` (`graphc.ops.base`) says the op is undefined or singular
    (log, sqrt at 0; arcsin at 1). Ops whose domain is "nonzero" are kinked (abs, sign, norm),
    singular (divide) or smooth (prod) at 0, which finiteness and the one-sided differences
    tell apart."""
    if domain == POSITIVE:
        return np.all(a > 0)
    if domain == UNIT:
        return np.all(np.abs(a) < 1)
    if domain == "matrix" and a.ndim >= 2:
        k = min(a.shape[-2:])  # not singular (inverses, determinants), nor its leading square
        block = a[..., :k, :k]  # block (the qr of a wide matrix factors it)
        return bool(np.all(np.linalg.cond(a) < 1e6) and np.all(np.linalg.cond(block) < 1e6))
    return True


def _coordinates(dirs):
    """Each entry's own direction, scaled like `dirs`."""
    for i, d in dirs.items():
        for j in np.ndindex(d.shape):
            e = {k: np.zeros_like(v) for k, v in dirs.items()}
            e[i][j] = max(1.0, abs(d[j]))
            yield e


def _check_fd(fn, arrays, heads, wrt_index, grads, edge, domains, eps, rtol, what):
    """<grad, u> against the central difference of the numpy mode along u (in float64).

    At edge points only where the function is smooth: the inputs in their domains, and the
    forward and backward differences equal along u and along every coordinate (they differ
    at kinks: ties, relu at 0, clip with equal bounds, ...)."""
    if (
        edge
        and domains is not None
        and not all(_in_domain(d, arrays[i]) for i, d in zip(wrt_index, domains))
    ):
        return
    x64 = [a.astype(np.float64) if i in wrt_index else a for i, a in enumerate(arrays)]
    rng = np.random.default_rng(len(arrays))
    dirs = {
        i: rng.standard_normal(x64[i].shape) * (np.maximum(1.0, np.abs(x64[i])) if edge else 1.0)
        for i in wrt_index
    }
    h = testing.default_eps() if eps is None else eps

    def total(step, along):
        moved = [a + step * along[i] if i in along else a for i, a in enumerate(x64)]
        values = run_numpy(fn, moved).values
        terms = [values[k].astype(np.float64) * h_.astype(np.float64) for k, h_ in heads.items()]
        return sum(float(np.sum(t)) for t in terms), sum(float(np.sum(np.abs(t))) for t in terms)

    def kinked(along, tol):
        """One-sided differences that disagree (a kink), or that change with the step (a
        jump: sign at 0), or that are not finite."""
        f = [total(k * h, along)[0] for k in (-2, -1, 0, 1, 2)]
        fwd, bwd = (f[3] - f[2]) / h, (f[2] - f[1]) / h
        fwd2, bwd2 = (f[4] - f[2]) / (2 * h), (f[2] - f[0]) / (2 * h)
        return (
            not np.all(np.isfinite(f))
            or max(abs(fwd - bwd), abs(fwd - fwd2), abs(bwd - bwd2)) > tol
        )

    with np.errstate(all="ignore"):
        (plus, size), (minus, _) = total(h, dirs), total(-h, dirs)
        central = (plus - minus) / (2 * h)
        terms = [g.astype(np.float64) * dirs[i] for i, g in zip(wrt_index, grads)]
        gu = sum(float(np.sum(t)) for t in terms)
        scale = sum(float(np.sum(np.abs(t[np.isfinite(t)]))) for t in terms)
        tol = 1e-8 + rtol * scale + 8 * np.finfo(np.float64).eps * size / h
        if any(g.dtype == np.float32 for g in grads):
            # float32 rounding of terms that cancel: relative to the sizes of head and u.
            tol += (
                1e3
                * np.finfo(np.float32).eps
                * np.sqrt(
                    sum(float(np.sum(np.square(d))) for d in dirs.values())
                    * sum(float(np.sum(np.square(v.astype(np.float64)))) for v in heads.values())
                )
            )
        # A kink whose one-sided differences differ by less than `tol` moves the central
        # difference by less than tol / 2 from any convention between them.
        if edge and (
            not np.isfinite(size) or any(kinked(d, tol) for d in [dirs, *_coordinates(dirs)])
        ):
            return  # not smooth here: the modes' agreement is all that is checked
    assert abs(gu - central) <= tol, (
        f"{what}: <grad, u> = {gu!r}, finite difference {central!r} (|error| "
        f"{abs(gu - central):.3g} > {tol:.3g}: rtol {rtol:g} * {scale:.3g}, plus rounding)"
    )


def check_case(fn, arrays, regime, *, grads=True, domains=None, eps=None, fd_rtol=None):
    """Run `fn` at `arrays` in the three modes and check that they agree (module docstring).

    `arrays` are already in the regime's dtype and values; `regime` picks how the compiled
    mode declares its vars. `grads=False` checks values only; `domains` (one per input) are
    the ops' smooth domains, for finite differences at edge points."""
    declare = "none" if regime == "none" else "shape"
    kind = _kind(arrays)
    ref = run_numpy(fn, arrays)
    wrt_index = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"] if grads else []
    heads = {}
    if ref.values is not None:
        rng = np.random.default_rng(7)
        heads = {
            k: rng.standard_normal(v.shape).astype(v.dtype)
            for k, v in enumerate(ref.values)
            if v.dtype.kind == "f"
        }
    runs = {
        "compiled": run_compiled(fn, arrays, heads, declare, wrt_index),
        "eager": run_eager(fn, arrays, heads, wrt_index),
    }
    errors = {"numpy": ref.error, **{m: r.error for m, r in runs.items()}}
    assert len(set(errors.values())) == 1, f"the modes disagree on raising: {errors}"
    if ref.error is not None:
        return None, heads
    for mode, run in runs.items():
        assert len(run.values) == len(ref.values), f"{mode}: number of outputs"
        for k, (a, e) in enumerate(zip(run.values, ref.values)):
            _assert_same(a, e, VALUE_RTOL[kind], f"{mode} output {k} against numpy")
    grad_errors = {m: r.grad_error for m, r in runs.items()}
    assert len(set(grad_errors.values())) == 1, (
        f"the modes disagree on raising while differentiating: {grad_errors}"
    )
    compiled, eager_run = runs["compiled"].grads, runs["eager"].grads
    if compiled is None:
        return runs["compiled"], heads
    for i, c, e in zip(wrt_index, compiled, eager_run, strict=True):
        assert c.dtype == arrays[i].dtype, f"compiled gradient {i}: dtype {c.dtype}"
        _assert_same(e, c, GRAD_RTOL[kind], f"eager gradient {i} against compiled")
    _check_fd(
        fn,
        arrays,
        heads,
        wrt_index,
        compiled,
        regime == "edge",
        domains,
        eps,
        fd_rtol or FD_RTOL[kind],
        "compiled gradient against finite differences",
    )
    return runs["compiled"], heads


def check_entry_points(fn, arrays, regime, compiled, heads):
    """The compiled mode's other entry points, `gc.value_and_grad` and `bind`/`backward`,
    give `gc.compile`'s values and gradients (same dtypes) for a function of one float output.
    """
    kind = _kind(arrays)
    wrt_index = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    ((k, head),) = heads.items()
    with np.errstate(all="ignore"):
        vg = gc.value_and_grad(
            lambda *a: gc.sum(_outputs(fn(*a))[k] * head), argnums=tuple(wrt_index)
        )
        value, grads = vg(*arrays)
        total = np.asarray(np.sum(compiled.values[k] * head))
    _assert_same(np.asarray(value), total, VALUE_RTOL[kind], "value_and_grad: value")
    for i, g, c in zip(wrt_index, grads, compiled.grads, strict=True):
        _assert_same(np.asarray(g), c, GRAD_RTOL[kind], f"value_and_grad: gradient {i}")

    xs = make_vars(arrays, "none" if regime == "none" else "shape", dtypes=regime != "none")
    y = _outputs(fn(*xs))[k]
    names = set(y.list_arguments())
    data = {x.name: a for x, a in zip(xs, arrays) if x.name in names}
    exe = y.bind(
        data, grad_req={n: "write" if a.dtype.kind == "f" else "null" for n, a in data.items()}
    )
    with np.errstate(all="ignore"):
        (out,) = exe.forward(is_train=True)
        exe.backward(out_grads=head)
    _assert_same(np.asarray(out), compiled.values[k], VALUE_RTOL[kind], "bind: value")
    for i, c in zip(wrt_index, compiled.grads):
        if xs[i].name in names:
            _assert_same(
                np.asarray(exe.grad_dict[xs[i].name]), c, GRAD_RTOL[kind], f"bind: gradient {i}"
            )


# --- the op recipes -----------------------------------------------------------------------


def regime_arrays(arrays, regime, rng, edge_kind=None):
    """The recipe's arrays for `regime`: float32 copies, or edge points of the same shapes
    (integer labels and boolean conditions kept)."""
    if regime == "float32":
        return [a.astype(np.float32) if a.dtype.kind == "f" else a for a in arrays]
    if regime == "edge":
        return [
            testing.edge_sample(edge_kind, a.shape, rng) if a.dtype.kind == "f" else a
            for a in arrays
        ]
    return arrays


# Bugs the test found in areas other helpers own; strict, so their fix flips the mark.
KNOWN: dict[tuple[str, str], str] = {}
# The same bugs, reached by random graphs, as (op, regime): such graphs are not drawn in that
# regime until the strict marks above flip (then remove both).
KNOWN_IN_GRAPHS: dict[tuple[str, str], str] = {}


def _params():
    out = []
    for p in PARAMS:
        name, case = p.values
        if case is None:
            continue
        for regime in REGIMES:
            reason = KNOWN.get((p.id, regime))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            out.append(pytest.param(name, case, regime, id=f"{p.id}-{regime}", marks=marks))
    return out


@pytest.mark.parametrize("name,case,regime", _params())
def test_op(name, case, regime, rng):
    recipe = RECIPES[name]
    op = OPS[name]
    arrays, attrs = make_args(name, case, rng)
    fn = lambda *xs: call(name, *xs, **attrs)  # noqa: E731
    grads = op.differentiable and recipe.grads is None
    if regime == "none" and recipe.unshaped is not None:
        grads = False  # the recipe says why vars declaring nothing give no gradient
    domains = testing.input_domains(op, len(arrays))
    kinds = testing.EDGE_KINDS if regime == "edge" else (None,)
    for edge_kind in kinds:
        data = regime_arrays(arrays, regime, rng, edge_kind)
        check_case(
            fn,
            data,
            regime,
            grads=grads,
            domains=domains,
            eps=recipe.eps,
            fd_rtol=None if regime == "float32" else recipe.rtol,
        )


# `a @ b` and `x[i]` on numpy arrays are numpy's own operators, not graphc calls.
NUMPY_OPERATORS = {"matmul", "getitem"}


@pytest.mark.parametrize("regime", ["shape", "none"])
@pytest.mark.parametrize("name", [n for n in BAD_SHAPE_NAMES if n not in NUMPY_OPERATORS])
def test_op_errors(name, regime, rng):
    """Shapes that do not fit: the same graphc error in every mode (with declared shapes when
    the node is built, with unknown shapes when the compiled program is called)."""
    fn, shapes = bad_shapes(name)
    arrays = [rng.standard_normal(s) for s in shapes]
    assert run_numpy(fn, arrays).error is not None
    check_case(fn, arrays, regime)


# --- random graphs ------------------------------------------------------------------------


@pytest.mark.parametrize("regime", REGIMES)
@given(drawn=trees(), seed=st.integers(0, 2**16), edge_kind=st.sampled_from(testing.EDGE_KINDS))
def test_random_graph(regime, drawn, seed, edge_kind):
    tree, _ = drawn
    assume(not any(op in repr(tree) for op, r in KNOWN_IN_GRAPHS if r == regime))
    arrays = leaves(seed, edge_kind if regime == "edge" else None)
    if regime == "float32":
        arrays = regime_arrays(arrays, regime, None)
    compiled, heads = check_case(function(tree), arrays, regime)
    if compiled is not None and compiled.grads is not None:
        check_entry_points(function(tree), arrays, regime, compiled, heads)
