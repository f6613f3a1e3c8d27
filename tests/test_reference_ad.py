"""Differential test against a reference AD system: PyTorch (the optional `oracle` extra).

`TORCH` maps each graphc op to a PyTorch function with the same signature as the `gc`
function (the recipes' arguments and attrs), so the op recipes (`op_recipes.PARAMS`) and the
random graphs (`random_graphs.build`, with `TORCH` as its namespace) run unchanged on torch
tensors. Values and gradients (of ``sum(y * head)``) of graphc's compiled programs must equal
PyTorch's, in float64, at the recipes' points and at edge points (zeros, ties, magnitudes
1e3), where PyTorch's conventions at kinks are the ones graphc documents; `CONVENTIONS` lists
where the two differ on purpose.

Skipped when torch is not installed.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from op_recipes import (
    EXEMPT,
    PARAMS,
    RECIPES,
    call,
    cond_ref,
    fill,
    fori_ref,
    make_args,
    make_vars,
    scan_ref,
    while_ref,
)
from random_graphs import function, leaves, trees

import graphc as gc
from graphc import testing
from graphc.ops import OPS

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _dims(x, axis):
    if axis is None:
        return tuple(range(x.ndim))
    return tuple(a % max(x.ndim, 1) for a in ((axis,) if isinstance(axis, int) else axis))


def _reduction(fn):
    """A torch reduction over `dim` with numpy's `axis=None` (all axes) and `keepdims`."""

    def reduce(x, axis=None, keepdims=False):
        dims = _dims(x, axis)
        return fn(x, dims, keepdims) if dims else x

    return reduce


def _prod(x, dims, keepdims):
    for d in sorted(dims, reverse=True):
        x = torch.prod(x, dim=d, keepdim=keepdims)
    return x


def _np_dot(a, b):
    """`np.dot`: a product over the last axis of `a` and the second-to-last of `b`."""
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return torch.tensordot(a, b, dims=([a.ndim - 1], [max(b.ndim - 2, 0)]))


def _getitem(x, *arrays, index=None):
    """`x[index]` with numpy's semantics (negative steps, integer arrays and masks too),
    through `torch.take`; a recipe gives the index's arrays after `x` (`index_recipes.fill`),
    a random graph the index alone, `_getitem(x, index)`."""
    if index is None:
        *arrays, index = arrays
    index = fill(index, [a.numpy() for a in arrays])
    positions = np.asarray(np.arange(x.numel()).reshape(tuple(x.shape))[index])
    return torch.take(x, torch.as_tensor(positions.copy()))


def _take(x, *arrays, indices=None, axis=None):
    """`np.take` through `torch.take` of the positions numpy's take picks."""
    indices = arrays[0].numpy() if arrays else indices
    positions = np.take(np.arange(x.numel()).reshape(tuple(x.shape)), indices, axis=axis)
    return torch.take(x, torch.as_tensor(np.asarray(positions).copy()))


def _shape_of(fn, x, *args):
    return x.reshape(fn(np.empty(tuple(x.shape)), *args).shape)


def _clip(x, lo=None, hi=None, a_min=None, a_max=None):
    return torch.clamp(x, lo if lo is not None else a_min, hi if hi is not None else a_max)


def _cross_entropy(logits, labels):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


_DTYPES = {"float64": torch.float64, "float32": torch.float32, "int64": torch.int64}


def _nan_if_singular(fn, x):
    """graphc's convention: the inverse of a singular matrix is NaN (PyTorch raises)."""
    try:
        return fn(x)
    except RuntimeError:
        return torch.full_like(x, float("nan"))


# graphc op -> torch function with the `gc` function's signature.
def _reduction_ddof(fn):
    def run(x, axis=None, ddof=0, keepdims=False):
        dims = tuple(range(x.ndim)) if axis is None else axis
        return fn(x, dim=dims, correction=ddof, keepdim=keepdims)

    return run


TORCH = {
    "negative": torch.neg,
    "exp": torch.exp,
    "log": torch.log,
    "log1p": torch.log1p,
    "expm1": torch.expm1,
    "sqrt": torch.sqrt,
    "square": torch.square,
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "arcsin": torch.asin,
    "arccos": torch.acos,
    "arctan": torch.atan,
    "sinh": torch.sinh,
    "cosh": torch.cosh,
    "tanh": torch.tanh,
    "abs": torch.abs,
    "sign": torch.sign,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "softplus": lambda x: torch.logaddexp(torch.zeros_like(x), x),
    "add": torch.add,
    "subtract": torch.sub,
    "multiply": torch.mul,
    "divide": torch.div,
    "maximum": torch.maximum,
    "minimum": torch.minimum,
    "power": lambda a, b=None, exponent=None: torch.pow(a, b if exponent is None else exponent),
    "less": torch.lt,
    "less_equal": torch.le,
    "greater": torch.gt,
    "greater_equal": torch.ge,
    "equal": torch.eq,
    "not_equal": torch.ne,
    "where": torch.where,
    "clip": _clip,
    "log2": torch.log2,
    "log10": torch.log10,
    "exp2": torch.exp2,
    "arcsinh": torch.asinh,
    "arccosh": torch.acosh,
    "arctanh": torch.atanh,
    "reciprocal": torch.reciprocal,
    "floor": torch.floor,
    "ceil": torch.ceil,
    "round": lambda x, decimals=0: torch.round(x, decimals=decimals),
    "mod": torch.remainder,
    "logaddexp": torch.logaddexp,
    "erf": torch.erf,
    "sinc": torch.sinc,
    "nan_to_num": torch.nan_to_num,
    "ravel": torch.ravel,
    "flip": lambda x, axis=None: torch.flip(
        x, tuple(range(x.ndim)) if axis is None else np.atleast_1d(axis).tolist()
    ),
    "swapaxes": lambda x, axis1, axis2: torch.swapaxes(x, axis1, axis2),
    "moveaxis": torch.movedim,
    "roll": lambda x, shift, axis=None: torch.roll(x, shift, axis),
    "atleast_2d": torch.atleast_2d,
    "repeat": lambda x, repeats, axis=None: torch.repeat_interleave(x, repeats, axis),
    "tile": lambda x, reps: torch.tile(x, reps if isinstance(reps, tuple) else (reps,)),
    "split": lambda x, indices_or_sections, axis=0: torch.tensor_split(
        x, indices_or_sections, axis
    ),
    "vstack": lambda *xs: torch.vstack(xs),
    "hstack": lambda *xs: torch.hstack(xs),
    "cumsum": lambda x, axis=None: torch.cumsum(x.reshape(-1) if axis is None else x, axis or 0),
    "cumprod": lambda x, axis=None: torch.cumprod(x.reshape(-1) if axis is None else x, axis or 0),
    "diff": lambda x, n=1, axis=-1: torch.diff(x, n, axis) if n else x,
    "sort": lambda x, axis=-1: torch.sort(x, dim=axis, stable=True)[0],
    "linspace": lambda a, b, num=50, endpoint=True: (
        a + (b - a) * torch.arange(num, dtype=a.dtype) / (max(1, num - 1) if endpoint else num)
    ),
    "cross": lambda a, b: torch.linalg.cross(*torch.broadcast_tensors(a, b)),
    "variance": _reduction_ddof(torch.var),
    "std": _reduction_ddof(torch.std),
    "einsum": lambda *xs, subscripts: torch.einsum(subscripts, *xs),
    "tensordot": lambda a, b, axes=2: torch.tensordot(a, b, axes),
    "inner": torch.inner,
    "kron": torch.kron,
    "zeros_like": torch.zeros_like,
    "ones_like": torch.ones_like,
    "stop_gradient": torch.Tensor.detach,
    "astype": lambda x, dtype: x.to(_DTYPES[dtype]),
    "reshape": torch.reshape,
    "transpose": lambda x, axes=None: x.permute(
        tuple(reversed(range(x.ndim))) if axes is None else axes
    ),
    "broadcast_to": lambda x, shape: torch.broadcast_to(x, shape),
    "expand_dims": lambda x, axis: _shape_of(np.expand_dims, x, axis),
    "squeeze": lambda x, axis=None: _shape_of(np.squeeze, x, axis),
    "concatenate": lambda *xs, axis=0: torch.cat(xs, dim=axis),
    "stack": lambda *xs, axis=0: torch.stack(xs, dim=axis),
    "getitem": _getitem,
    "take": _take,
    "sum": _reduction(lambda x, d, k: torch.sum(x, dim=d, keepdim=k)),
    "mean": _reduction(lambda x, d, k: torch.mean(x, dim=d, keepdim=k)),
    "max": _reduction(lambda x, d, k: torch.amax(x, dim=d, keepdim=k)),
    "min": _reduction(lambda x, d, k: torch.amin(x, dim=d, keepdim=k)),
    "logsumexp": _reduction(lambda x, d, k: torch.logsumexp(x, dim=d, keepdim=k)),
    "prod": _reduction(_prod),
    "norm": lambda x, ord=None, axis=None, keepdims=False: torch.linalg.norm(
        x, ord=ord, dim=axis, keepdim=keepdims
    ),
    "matmul": torch.matmul,
    "dot": _np_dot,
    "outer": lambda a, b: torch.outer(a.reshape(-1), b.reshape(-1)),
    "softmax": lambda x, axis=-1: torch.softmax(x, dim=axis),
    "log_softmax": lambda x, axis=-1: torch.log_softmax(x, dim=axis),
    "one_hot": lambda labels, like: F.one_hot(labels, like.shape[-1]).to(like.dtype),
    "mse_loss": lambda p, t: torch.mean((p - t) ** 2),
    "cross_entropy": _cross_entropy,
    "cond": lambda p, x: cond_ref(p, x, torch),
    "while_loop": lambda x: while_ref(x, torch),
    "fori_loop": lambda x: fori_ref(x, torch),
    "scan": lambda init, xs: scan_ref(init, xs, torch),
    "matrix_transpose": lambda x: x.mT,
    "trace": lambda x, offset=0, axis1=0, axis2=1: torch.diagonal(x, offset, axis1, axis2).sum(-1),
    "diagonal": lambda x, offset=0, axis1=0, axis2=1: torch.diagonal(x, offset, axis1, axis2),
    "diag": lambda v, k=0: torch.diag(v, k),
    "eye_like": lambda x, k=0: (
        torch.ones(x.shape[-2:] if x.ndim > 1 else x.shape * 2).to(x.dtype).triu(k).tril(k)
    ),
    "det": torch.linalg.det,
    "qr": lambda x, mode="reduced": (
        torch.linalg.qr(x, mode=mode) if mode != "r" else torch.linalg.qr(x)[1]
    ),
    "cholesky": lambda x: _nan_if_singular(
        torch.linalg.cholesky, torch.tril(x) + torch.tril(x, -1).mT
    ),
    "slogdet": lambda x: tuple(torch.linalg.slogdet(x)),
    "inv": lambda x: _nan_if_singular(torch.linalg.inv, x),
    "solve": lambda a, b: _nan_if_singular(torch.linalg.inv, a) @ b,
    "triu": lambda x, k=0: torch.triu(x, k),
    "tril": lambda x, k=0: torch.tril(x, k),
}
# Ops with no PyTorch counterpart: graphc's own adapters that derivative rules insert.
NOT_MAPPED = {
    "sorted_like": "sort's derivative rule",
    "sum_to": "derivative-rule adapter",
    "broadcast_like": "derivative-rule adapter",
    "reshape_like": "derivative-rule adapter",
    "split_like": "derivative-rule adapter",
    "index_grad": "derivative-rule adapter",
    "product_vjp": "derivative-rule adapter",
    "prod_others": "prod's derivative rule",
    "checked_grad": "gc.grad's deferred checks (identity, cast to the input's dtype)",
    "size": "derivative-rule adapter (an integer)",
    "diag_embed": "diagonal's adjoint (PyTorch's diag_embed makes square matrices only)",
    "svd": "singular vector signs are the LAPACK driver's choice (tests/ops/test_linalg_svd)",
    "eigh": "eigenvector signs are the LAPACK driver's choice (tests/ops/test_linalg_decomp)",
    "solve_rule": "solve's derivative while ranks are unknown (derivative-rule adapter)",
    "diag_grad": "diag's adjoint while the rank is unknown (derivative-rule adapter)",
}

# Where graphc's documented convention differs from PyTorch's on purpose: op -> the edge
# kinds whose gradients are not compared, and why.
_SINGULAR = (testing.EDGE_KINDS, "graphc: NaN gradients at a singular matrix; PyTorch: finite")
CONVENTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "det": _SINGULAR,
    "slogdet": _SINGULAR,
    "inv": _SINGULAR,
    "solve": _SINGULAR,
    "cholesky": _SINGULAR,
    "norm": (("zeros", "mixed"), "graphc: undefined (NaN) at x = 0, as JAX; PyTorch: 0"),
    "std": (testing.EDGE_KINDS, "graphc: undefined (NaN) where std is 0, as JAX; PyTorch: 0"),
    "clip": (
        ("large", "mixed"),
        ("x < lo == hi: graphc gives the gradient to lo; PyTorch's clamp to no input"),
    ),
}
# Tolerances wider than RTOL, and why.
WIDER = {
    "astype": (
        1e-6,
        (
            "PyTorch rounds the cotangent of a float32 value to float32; "
            "graphc keeps the head's float64"
        ),
    )
}
RTOL = 1e-10

# The random graphs' namespace: the table, plus `.T` of any rank.
NAMESPACE = types.SimpleNamespace(**TORCH, T=TORCH["transpose"])


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_is_mapped(name):
    """A new op gets a PyTorch counterpart here, or a reason it has none."""
    assert name in TORCH or name in NOT_MAPPED or name in EXEMPT, (
        f"op {name!r}: add it to TORCH (or NOT_MAPPED with a reason)"
    )


def _tensor(a, grad):
    return torch.tensor(a, requires_grad=grad) if a.dtype.kind == "f" else torch.tensor(a)


def _outputs(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _torch_run(fn, arrays, heads, wrt_index):
    ts = [_tensor(a, i in wrt_index) for i, a in enumerate(arrays)]
    ys = _outputs(fn(*ts))
    values = [np.asarray(y.detach().numpy() if isinstance(y, torch.Tensor) else y) for y in ys]
    live = [
        (ys[k], torch.as_tensor(h))
        for k, h in heads.items()
        if isinstance(ys[k], torch.Tensor) and ys[k].requires_grad
    ]
    grads = [np.zeros_like(arrays[i]) for i in wrt_index]
    if live and wrt_index:
        total = sum(torch.sum(y * h) for y, h in live)
        found = torch.autograd.grad(total, [ts[i] for i in wrt_index], allow_unused=True)
        grads = [g0 if g is None else g.numpy() for g, g0 in zip(found, grads)]
    return values, grads


def _graphc_run(fn, arrays, heads, wrt_index, simplify):
    xs = make_vars(arrays)
    ys = _outputs(fn(*xs))
    grads = []
    if heads and wrt_index:
        grads = gc.grad(
            sum(gc.sum(ys[k] * h) for k, h in heads.items()),
            [xs[i] for i in wrt_index],
            simplify=simplify,
        )
    outs = [np.asarray(o) for o in gc.compile(xs, ys + grads, simplify=simplify)(*arrays)]
    return outs[: len(ys)], outs[len(ys) :]


def _close(actual, expected, rtol, what, any_nonfinite=False):
    """Close where finite; NaN and inf in the same places (with `any_nonfinite`, non-finite
    in the same places: how inf * 0 or inf - inf come out differs between systems)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if actual.dtype.kind not in "fc":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    expected = expected.astype(actual.dtype)
    finite = np.isfinite(expected)
    scale = float(np.max(np.abs(expected[finite]), initial=1.0))
    if any_nonfinite:
        np.testing.assert_array_equal(np.isfinite(actual), finite, err_msg=f"{what}: finite")
        actual, expected = actual[finite], expected[finite]
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=what)


def compare(fn_graphc, fn_torch, arrays, grads=True, rtol=RTOL, simplify=False):
    """graphc's compiled values and gradients against PyTorch's at `arrays`: the rules as
    written (fast), or through the simplification pipeline."""
    with np.errstate(all="ignore"):
        ref = [np.asarray(v) for v in _outputs(fn_graphc(*arrays))]
    rng = np.random.default_rng(3)
    heads = {k: rng.standard_normal(v.shape) for k, v in enumerate(ref) if v.dtype.kind == "f"}
    wrt_index = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"] if grads else []
    with np.errstate(all="ignore"):
        values, grads_g = _graphc_run(fn_graphc, arrays, heads, wrt_index, simplify)
    values_t, grads_t = _torch_run(fn_torch, arrays, heads, wrt_index)
    assert len(values) == len(values_t)
    for k, (a, e) in enumerate(zip(values, values_t)):
        _close(a, e, rtol, f"output {k}: graphc against torch")
    for i, a, e in zip(wrt_index, grads_g, grads_t):
        _close(a, e, rtol, f"gradient of argument {i}: graphc against torch", True)


OPS_PARAMS = [p for p in PARAMS if p.values[1] is not None and p.values[0] in TORCH]
EDGE_CASES = 2  # edge points for each op's first cases only, to keep the test short


@pytest.mark.parametrize("name,case", OPS_PARAMS)
def test_op(name, case, rng):
    recipe = RECIPES[name]
    arrays, attrs = make_args(name, case, rng)
    grads = OPS[name].differentiable and recipe.grads is None
    fn = lambda *xs: call(name, *xs, **attrs)  # noqa: E731
    fn_torch = lambda *ts: TORCH[name](*ts, **attrs)  # noqa: E731
    rtol = WIDER.get(name, (RTOL,))[0]
    compare(fn, fn_torch, arrays, grads, rtol)
    if [k for k, c in enumerate(recipe.cases) if c is case][0] >= EDGE_CASES:  # not ==: arrays
        return
    for kind in testing.EDGE_KINDS:
        edge = [
            testing.edge_sample(kind, a.shape, rng) if a.dtype.kind == "f" else a for a in arrays
        ]
        compare(fn, fn_torch, edge, grads and kind not in CONVENTIONS.get(name, ((),))[0], rtol)


@given(
    drawn=trees(), seed=st.integers(0, 2**16), edge=st.sampled_from((None,) + testing.EDGE_KINDS)
)
def test_random_graph(drawn, seed, edge):
    tree, _ = drawn
    compare(function(tree), function(tree, NAMESPACE), leaves(seed, edge))
