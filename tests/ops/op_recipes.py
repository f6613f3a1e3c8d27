"""The recipe table of the registry-driven op tests (`test_registry.py`): for every op of
`graphc.ops.OPS`, how to call it (argument shapes and domains, attrs, integer labels, boolean
conditions) and an independent numpy reference. An op registered without a recipe here (or an
exemption with a reason) fails `test_registry.py::test_recipe`, except a unary or binary
elementwise op, which gets a default recipe from its domain (see `_Recipes`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import graphc as gc
from graphc import testing
from graphc.ops import OPS
from graphc.ops.base import Elementwise

# Internal plumbing: not callable as array functions, or exercised by every graph anyway.
EXEMPT = {
    "var": "a leaf: every other test makes them",
    "const": "a leaf: every other test makes them",
    "group": "multi-output packaging, only valid as a graph output (test_executor, "
    "test_serialize; and test_json_round_trip here)",
    "get": "selects from tuple-valued nodes; covered by the control-flow recipes below",
    "jacobian_seed": "a placeholder direction inside gc.jacobian, never run "
    "(tests/test_jacobian.py)",
    "jacobian": "gc.jacobian's node while shapes are unknown, batched when data is bound "
    "(tests/test_jacobian.py)",
    "fused_loop": "the numba backend's cluster loop, made after differentiation when a program "
    "is written (tests/test_numba_backend.py runs every elementwise recipe through it)",
    "fused": "the numexpr backend's cluster node, made after differentiation when a program is "
    "written (tests/test_fused.py runs every elementwise recipe through it)",
}


# --- argument specs -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Arg:
    """One input: floats from a domain (the op's own by default), integer labels, booleans."""

    shape: tuple
    kind: str = "float"
    domain: Any = None
    high: int = 0

    def make(self, default_domain, rng):
        if self.kind == "int":
            return rng.integers(0, self.high, size=self.shape).astype(np.int64)
        if self.kind == "bool":
            return rng.random(self.shape) < 0.5
        return testing.sample(self.domain or default_domain, self.shape, rng)


def F(*shape, domain=None):
    return Arg(tuple(shape), domain=domain)


def Int(shape, high):
    return Arg(tuple(shape), "int", high=high)


def Bool(*shape):
    return Arg(tuple(shape), "bool")


@dataclasses.dataclass
class Recipe:
    """How to call an op and what of it to check.

    `cases` are (args, attrs) pairs; an arg is an `Arg` or a bare shape (floats from the
    op's domain). `call(op, *args, **attrs)` defaults to `op(*args, **attrs)`. `ref` is an
    independent numpy reference. `grads` / `generic` / `unshaped`: None to check (gradients;
    with vars declaring only ranks; with vars declaring nothing), else the reason not to.
    """

    cases: list
    call: Callable | None = None
    ref: Callable | None = None
    order: int = 2
    grads: str | None = None
    generic: str | None = None
    unshaped: str | None = None
    rtol: float = 1e-5
    eps: float | None = None
    # Why some output dims depend on the data (known at run time only), or None.
    data_shape: str | None = None


UNARY = [((),), ((1,),), ((3,),), ((2, 3),), ((1, 3, 1),)]
BINARY = [
    ((), ()),
    ((3,), ()),
    ((), (2, 3)),
    ((2, 3), (3,)),
    ((2, 1), (1, 3)),
    ((1,), (3,)),
    ((2, 3), (2, 3)),
]
REDUCE = [
    ((), {}),
    ((3,), {}),
    ((2, 3), {"axis": 0}),
    ((2, 3), {"axis": 1, "keepdims": True}),
    ((2, 3, 2), {"axis": (0, 2)}),
    ((2, 3), {"axis": -1}),
    ((2, 3), {"keepdims": True}),
    ((1, 3), {"axis": 0}),
]


def cases(shape_lists, attrs=None):
    return [(tuple(shapes), dict(attrs or {})) for shapes in shape_lists]


def reductions():
    return [((shape,), attrs) for shape, attrs in REDUCE]


def _np_ref(name):
    return getattr(np, name)


def _sigmoid_ref(x):
    return 1 / (1 + np.exp(-x))


def _softmax_ref(x, axis=-1):
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def _cross_entropy_ref(logits, labels):
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -np.mean(np.take_along_axis(logp, labels[..., None], -1))


def _prod_others_ref(x, axis=None):
    """Each entry's product of the other entries, by division (the samples have no zeros)."""
    return np.prod(x, axis=axis, keepdims=True) / x


def _join(op, *xs, **attrs):
    return op(list(xs), **attrs)


def _sum_to_ref(x, like):
    like = np.asarray(like)
    lead = x.ndim - like.ndim
    x = x.sum(axis=tuple(range(lead)))
    return x.sum(axis=tuple(i for i, d in enumerate(like.shape) if d == 1), keepdims=True).reshape(
        like.shape
    )


# Control flow goes through the public functions; the op nodes hold the traced sub-graphs.
# The references take the array module `xp` (numpy, or torch in test_reference_ad).
def _cond(op, p, x):
    return gc.cond(p > 0, lambda a, q: gc.sin(a) * q, lambda a, q: gc.exp(a) - q, x, p)


def cond_ref(p, x, xp=np):
    return xp.sin(x) * p if p > 0 else xp.exp(x) - p


def _while(op, x):
    return gc.while_loop(
        lambda c: c[1] < 3, lambda c: (c[0] * 0.5 + gc.sin(c[0]), c[1] + 1), (x, 0)
    )


def while_ref(x, xp=np):
    for _ in range(3):
        x = x * 0.5 + xp.sin(x)
    return x, 3


def _fori(op, x):
    return gc.fori_loop(0, 3, lambda i, c: c * gc.cos(c) + 0.5, x)


def fori_ref(x, xp=np):
    for _ in range(3):
        x = x * xp.cos(x) + 0.5
    return x


def _scan(op, init, xs):
    return gc.scan(lambda c, x: (c * gc.tanh(x) + gc.sin(x), c * x), init, xs)


def scan_ref(init, xs, xp=np):
    ys = []
    for x in xs:
        init, y = init * xp.tanh(x) + xp.sin(x), init * x
        ys.append(y)
    return init, xp.stack(ys)


def _product_vjp_ref(g, a, b, side, kind):
    """The cotangent of `a` (side 0) or `b` of `a @ b`, written out with einsum."""
    if a.ndim == 1 and b.ndim == 1:
        return g * (b, a)[side]
    if a.ndim == 1 and b.ndim >= 2:
        if side == 0:
            return np.einsum("...n,...kn->...k", g, b).reshape(-1, a.size).sum(0)
        return np.einsum("k,...n->...kn", a, g)
    if b.ndim == 1:
        if side == 0:
            return np.einsum("...m,k->...mk", g, b)
        return np.einsum("...m,...mk->...k", g, a).reshape(-1, b.size).sum(0)
    return g @ b.T if side == 0 else a.T @ g


class _Recipes(dict):
    """Recipes by op name. A unary or binary elementwise op with none (a new one-line op) gets
    a default: the broadcasting cases below on floats from the op's domain, no reference
    (its impl is still checked against the emitted code, eager mode and the plain call, its
    gradients against finite differences and its partials against sympy)."""

    def __missing__(self, name):
        op = OPS.get(name)
        if isinstance(op, Elementwise) and op.nin in (1, 2):
            return Recipe(cases(UNARY if op.nin == 1 else BINARY))
        raise KeyError(name)


RECIPES: dict[str, Recipe] = _Recipes()
for _name in [
    "negative",
    "exp",
    "log",
    "log1p",
    "expm1",
    "sqrt",
    "square",
    "sin",
    "cos",
    "tan",
    "arcsin",
    "arccos",
    "arctan",
    "sinh",
    "cosh",
    "tanh",
    "abs",
    "sign",
    "log2",
    "log10",
    "exp2",
    "arcsinh",
    "arccosh",
    "arctanh",
    "reciprocal",
    "floor",
    "ceil",
    "sinc",
]:
    RECIPES[_name] = Recipe(cases(UNARY), ref=_np_ref(_name))
for _name in ["add", "subtract", "multiply", "divide", "maximum", "minimum", "mod", "logaddexp"]:
    RECIPES[_name] = Recipe(cases(BINARY), ref=_np_ref(_name))
for _name in ["less", "less_equal", "greater", "greater_equal", "equal", "not_equal"]:
    RECIPES[_name] = Recipe(cases(BINARY), ref=_np_ref(_name))
RECIPES.update(
    {
        # Constant exponents too: x ** 3 on negative bases, where d/db (y log a) is undefined
        # but never needed.
        "power": Recipe(
            cases(BINARY)
            + [((F(3, domain=(-2.0, 2.0)),), {"exponent": 3}), ((F(2, 3),), {"exponent": 0.5})],
            call=lambda op, a, b=None, exponent=None: (
                op(a, b) if exponent is None else op(a, exponent)
            ),
            ref=lambda a, b=None, exponent=None: np.power(a, b if exponent is None else exponent),
        ),
        "sigmoid": Recipe(cases(UNARY), ref=_sigmoid_ref),
        "relu": Recipe(cases(UNARY), ref=lambda x: np.where(x > 0, x, 0.0)),
        "softplus": Recipe(cases(UNARY), ref=lambda x: np.log(1 + np.exp(x))),
        "erf": Recipe(cases(UNARY), ref=np.vectorize(math.erf, otypes=[float])),
        "round": Recipe(
            cases(UNARY) + [(((2, 3),), {"decimals": 1}), (((3,),), {"decimals": -1})],
            ref=lambda x, decimals=0: np.round(x, decimals),
        ),
        "nan_to_num": Recipe(
            cases(UNARY) + [(((2, 3),), {"nan": 1.0, "posinf": 2.0, "neginf": -2.0})],
            ref=lambda x, **attrs: np.nan_to_num(x, **attrs),
        ),
        "zeros_like": Recipe(cases(UNARY), ref=np.zeros_like),
        "ones_like": Recipe(cases(UNARY), ref=np.ones_like),
        "where": Recipe(
            [
                ((Bool(3), (3,), (3,)), {}),
                ((Bool(2, 3), (3,), ()), {}),
                ((Bool(), (2,), (2,)), {}),
                ((Bool(2, 1), (1, 3), (2, 3)), {}),
            ],
            ref=np.where,
        ),
        "clip": Recipe(
            [
                (((3,), F(domain=(-1.0, -0.5)), F(domain=(0.5, 1.0))), {}),
                (((2, 3), F(3, domain=(-1.0, -0.5)), F(domain=(0.5, 1.0))), {}),
                ((F(domain=(-1.0, 1.0)), F(domain=(-1.0, -0.5)), F(domain=(0.5, 1.0))), {}),
                (((2, 3),), {"a_max": 0.5}),
                (((4,),), {"a_min": -0.5}),
                # lo > hi: numpy gives hi everywhere
                (((3,), F(domain=(0.5, 1.0)), F(3, domain=(-1.0, -0.5))), {}),
            ],
            call=lambda op, x, lo=None, hi=None, a_min=None, a_max=None: (
                op(x, lo, hi) if lo is not None else op(x, a_min, a_max)
            ),
            ref=lambda x, lo=None, hi=None, a_min=None, a_max=None: (
                np.clip(x, lo, hi) if lo is not None else np.clip(x, a_min, a_max)
            ),
        ),
        "stop_gradient": Recipe(
            cases(UNARY),
            ref=lambda x: x,
            grads="its derivative is zero by definition, not the numeric "
            "one; see test_stop_gradient_blocks_derivatives",
        ),
        "astype": Recipe(
            [
                (((3,),), {"dtype": "float64"}),
                (((2, 3),), {"dtype": "float32"}),
                (((),), {"dtype": "int64"}),
            ],
            ref=lambda x, dtype: x.astype(dtype),
            # Outputs rounded to float32 (relative 6e-8) make a central difference
            # noisy by 6e-8 / eps; astype is linear, so a large step loses nothing.
            eps=1e-2,
            rtol=1e-4,
        ),
        "reshape": Recipe(
            [
                (((6,),), {"shape": (2, 3)}),
                (((2, 3),), {"shape": (-1,)}),
                (((),), {"shape": (1, 1)}),
                (((2, 3),), {"shape": (3, -1)}),
            ],
            ref=np.reshape,
        ),
        "transpose": Recipe(
            [(((2, 3),), {}), (((2, 3, 4),), {"axes": (1, 2, 0)}), (((3,),), {}), (((),), {})],
            ref=lambda x, axes=None: np.transpose(x, axes),
        ),
        "broadcast_to": Recipe(
            [
                (((3,),), {"shape": (2, 3)}),
                (((),), {"shape": (2,)}),
                (((2, 1),), {"shape": (2, 3)}),
                (((1,),), {"shape": (1,)}),
            ],
            ref=np.broadcast_to,
        ),
        "sum_to": Recipe(
            cases(
                [
                    ((2, 3), (3,)),
                    ((2, 3), (1, 3)),
                    ((2, 3), (2, 1)),
                    ((3,), ()),
                    ((2, 3), (2, 3)),
                    ((), ()),
                    ((2, 1, 3), (1, 3)),
                ]
            ),
            ref=_sum_to_ref,
        ),
        "broadcast_like": Recipe(
            cases([((3,), (2, 3)), ((), (2,)), ((2, 1), (2, 3)), ((), ())]),
            ref=lambda x, like: np.broadcast_to(x, np.shape(like)),
        ),
        "reshape_like": Recipe(
            cases([((6,), (2, 3)), ((2, 3), (3, 2)), ((1,), ())]),
            ref=lambda x, like: np.reshape(x, np.shape(like)),
        ),
        "expand_dims": Recipe(
            [
                (((3,),), {"axis": 0}),
                (((2, 3),), {"axis": -1}),
                (((),), {"axis": 0}),
                (((2, 3),), {"axis": (0, 2)}),
            ],
            ref=np.expand_dims,
        ),
        "squeeze": Recipe(
            [
                (((1, 3, 1),), {}),
                (((1, 3, 1),), {"axis": 0}),
                (((1,),), {}),
                (((2, 1),), {"axis": -1}),
            ],
            ref=lambda x, axis=None: np.squeeze(x, axis),
        ),
        "concatenate": Recipe(
            [
                (((2, 3), (1, 3)), {"axis": 0}),
                (((2, 3), (2, 2)), {"axis": -1}),
                (((3,), (2,), (1,)), {}),
            ],
            call=_join,
            ref=lambda *xs, axis=0: np.concatenate(xs, axis),
        ),
        "split_like": Recipe(
            [
                (((5, 3), (2, 3), (3, 3)), {"axis": 0, "index": 1}),
                (((2, 5), (2, 2), (2, 3)), {"axis": -1, "index": 0}),
                (((2, 6), (2, 1), (2, 2), (2, 3)), {"axis": 1, "index": 2}),
            ],
            ref=lambda g, *xs, axis, index: np.split(
                g, np.cumsum([x.shape[axis] for x in xs])[:-1], axis
            )[index],
        ),
        "stack": Recipe(
            [
                (((3,), (3,)), {}),
                (((2, 3), (2, 3), (2, 3)), {"axis": -1}),
                (((), ()), {}),
                (((2,), (2,)), {"axis": 1}),
            ],
            call=_join,
            ref=lambda *xs, axis=0: np.stack(xs, axis),
        ),
        "ravel": Recipe(cases(UNARY + [((2, 3, 2),)]), ref=np.ravel),
        "flip": Recipe(
            [(((2, 3),), {}), (((2, 3),), {"axis": 1}), (((2, 3, 2),), {"axis": (0, -1)})],
            ref=lambda x, axis=None: np.flip(x, axis),
        ),
        "swapaxes": Recipe(
            [(((2, 3),), {"axis1": 0, "axis2": 1}), (((2, 3, 4),), {"axis1": -1, "axis2": 0})],
            ref=np.swapaxes,
        ),
        "moveaxis": Recipe(
            [
                (((2, 3, 4),), {"source": 0, "destination": -1}),
                (((2, 3, 4),), {"source": (0, 1), "destination": (2, 0)}),
            ],
            ref=np.moveaxis,
        ),
        "roll": Recipe(
            [
                (((5,),), {"shift": 2}),
                (((2, 3),), {"shift": -1, "axis": 1}),
                (((2, 3),), {"shift": 4}),
                (((2, 3, 2),), {"shift": (1, 2), "axis": (0, 1)}),
            ],
            ref=lambda x, shift, axis=None: np.roll(x, shift, axis),
        ),
        "atleast_2d": Recipe(cases([((),), ((3,),), ((2, 3),), ((2, 1, 3),)]), ref=np.atleast_2d),
        "repeat": Recipe(
            [
                (((3,),), {"repeats": 2}),
                (((2, 3),), {"repeats": 3, "axis": 1}),
                (((2, 3),), {"repeats": 2, "axis": -2}),
                (((2, 3),), {"repeats": 2}),
                (((),), {"repeats": 3}),
            ],
            ref=lambda x, repeats, axis=None: np.repeat(x, repeats, axis),
        ),
        "tile": Recipe(
            [
                (((3,),), {"reps": 2}),
                (((2, 3),), {"reps": (2, 1)}),
                (((3,),), {"reps": (2, 2)}),
                (((2, 1, 3),), {"reps": (3, 2)}),
                (((),), {"reps": (2,)}),
            ],
            ref=np.tile,
        ),
        "split": Recipe(
            [
                (((6,),), {"indices_or_sections": 3}),
                (((2, 6),), {"indices_or_sections": (1, 4), "axis": 1}),
                (((4, 3),), {"indices_or_sections": 2, "axis": -2}),
                (((5, 2),), {"indices_or_sections": (2, 9)}),
            ],
            ref=lambda x, indices_or_sections, axis=0: np.split(x, indices_or_sections, axis),
        ),
        "vstack": Recipe(
            [(((2, 3), (1, 3)), {}), (((3,), (3,)), {}), (((3,), (2, 3)), {}), (((), ()), {})],
            call=_join,
            ref=lambda *xs: np.vstack(xs),
        ),
        "hstack": Recipe(
            [(((2, 3), (2, 1)), {}), (((3,), (2,)), {}), (((), (2,)), {}), (((2, 2, 1),), {})],
            call=_join,
            ref=lambda *xs: np.hstack(xs),
        ),
        "cumsum": Recipe(
            [
                (((4,),), {}),
                (((2, 3),), {"axis": 1}),
                (((2, 3),), {}),
                (((2, 3, 2),), {"axis": -3}),
            ],
            ref=lambda x, axis=None: np.cumsum(x, axis),
        ),
        "cumprod": Recipe(
            [
                (((4,),), {}),
                (((2, 3),), {"axis": 1}),
                (((2, 3),), {}),
                (((2, 3, 2),), {"axis": 0}),
            ],
            ref=lambda x, axis=None: np.cumprod(x, axis),
        ),
        "diff": Recipe(
            [
                (((4,),), {}),
                (((2, 4),), {"n": 2}),
                (((3, 2),), {"axis": 0}),
                (((2, 3, 2),), {"n": 2, "axis": 1}),
                (((2, 3),), {"n": 0}),
            ],
            ref=lambda x, n=1, axis=-1: np.diff(x, n, axis),
        ),
        "sort": Recipe(
            [
                (((5,),), {}),
                (((2, 3),), {"axis": 0}),
                (((2, 3),), {}),
                (((2, 3, 2),), {"axis": 1}),
            ],
            ref=lambda x, axis=-1: np.sort(x, axis),
        ),
        "sorted_like": Recipe(
            [
                (((4,), (4,)), {"axis": -1, "inverse": False}),
                (((2, 3), (2, 3)), {"axis": 0, "inverse": True}),
                (((2, 3), (2, 3)), {"axis": 1, "inverse": False}),
            ],
            ref=lambda g, x, axis, inverse: np.take_along_axis(
                g,
                np.argsort(np.argsort(x, axis), axis) if inverse else np.argsort(x, axis),
                axis,
            ),
        ),
        "linspace": Recipe(
            [
                (((), ()), {"num": 5}),
                (((), ()), {"num": 4, "endpoint": False}),
                (((), ()), {"num": 1}),
                (((), ()), {}),
            ],
            ref=lambda a, b, num=50, endpoint=True: np.linspace(a, b, num, endpoint),
        ),
        "cross": Recipe(cases([((3,), (3,)), ((2, 3), (3,)), ((2, 1, 3), (4, 3))]), ref=np.cross),
        "einsum": Recipe(
            [
                (((2, 3), (3, 4)), {"subscripts": "ij,jk->ik"}),
                (((3, 3),), {"subscripts": "ii->i"}),
                (((3, 3),), {"subscripts": "ii"}),
                (((2, 3),), {"subscripts": "ij->i"}),
                (((2, 3), (2, 3)), {"subscripts": "ij,ij->"}),
                (((2,), (3,)), {"subscripts": "i,j->ij"}),
                (((2, 3, 4), (3, 4)), {"subscripts": "ijk,jk->ki"}),
                (((2, 3), (3, 2), (2, 2)), {"subscripts": "ij,jk,kl"}),
                (((2, 2, 3),), {"subscripts": "iij->j"}),
                (((), (3,)), {"subscripts": ",i->i"}),
            ],
            call=lambda op, *xs, subscripts: op(subscripts, *xs),
            ref=lambda *xs, subscripts: np.einsum(subscripts, *xs),
        ),
        "tensordot": Recipe(
            [
                (((2, 3), (3, 4)), {"axes": 1}),
                (((2, 3, 4), (3, 4)), {}),
                (((2, 3, 4), (4, 3, 2)), {"axes": ((0, 1), (2, 1))}),
                (((2, 3), (4,)), {"axes": 0}),
            ],
            ref=lambda a, b, axes=2: np.tensordot(a, b, axes),
        ),
        "inner": Recipe(
            cases(
                [((3,), (3,)), ((2, 3), (3,)), ((2, 3), (4, 3)), ((), (2, 3)), ((2, 2, 3), (3,))]
            ),
            ref=np.inner,
        ),
        "kron": Recipe(
            cases(
                [((2,), (3,)), ((2, 2), (3, 2)), ((3,), (2, 2)), ((2, 1, 2), (2, 3)), ((), (2,))]
            ),
            ref=np.kron,
        ),
        "checked_grad": Recipe(
            cases([((3,), (3,)), ((), (2, 3)), ((2, 3), (2, 3), ()), ((1,), (2, 1), (1, 1))]),
            ref=lambda g, wrt, *output: np.broadcast_to(g, np.shape(wrt)),
        ),
        "matmul": Recipe(
            cases(
                [
                    ((2, 3), (3, 4)),
                    ((3,), (3, 2)),
                    ((2, 3), (3,)),
                    ((3,), (3,)),
                    ((2, 2, 3), (3, 2)),
                    ((2, 1, 2, 3), (3, 3, 2)),
                    ((3,), (2, 3, 4)),
                    ((2, 4, 3), (3,)),
                ]
            ),
            ref=np.matmul,
        ),
        "dot": Recipe(
            cases(
                [
                    ((2, 3), (3, 4)),
                    ((3,), (3,)),
                    ((3,), (3, 2)),
                    ((2, 3), (3,)),
                    ((), (3,)),
                    ((2, 3), ()),
                    ((2, 2, 3), (3,)),
                    ((3,), (2, 3, 4)),
                    ((2, 3), (2, 3, 4)),
                    ((2, 2, 3), (2, 3, 2)),
                    ((2, 2, 3), (3, 2)),
                ]
            ),
            ref=np.dot,
        ),
        "product_vjp": Recipe(
            [
                (((2, 4), (2, 3), (3, 4)), {"side": 0, "kind": "matmul"}),
                (((2, 4), (2, 3), (3, 4)), {"side": 1, "kind": "matmul"}),
                (((), (3,), (3,)), {"side": 1, "kind": "dot"}),
                (((2,), (2, 3), (3,)), {"side": 0, "kind": "dot"}),
                (((2, 4), (3,), (2, 3, 4)), {"side": 0, "kind": "matmul"}),
                (((2, 4), (3,), (2, 3, 4)), {"side": 1, "kind": "matmul"}),
                (((2, 4), (2, 4, 3), (3,)), {"side": 1, "kind": "dot"}),
            ],
            ref=_product_vjp_ref,
        ),
        "cond": Recipe(
            [((F(domain=(0.2, 2.0)), (3,)), {}), ((F(domain=(-2.0, -0.2)), (2, 3)), {})],
            call=_cond,
            ref=cond_ref,
        ),
        "while_loop": Recipe([(((3,),), {}), (((),), {})], call=_while, ref=while_ref),
        "fori_loop": Recipe([(((3,),), {}), (((2, 2),), {})], call=_fori, ref=fori_ref),
        "scan": Recipe([(((2,), (4, 2)), {}), (((), (3,)), {})], call=_scan, ref=scan_ref),
        "outer": Recipe(
            cases([((3,), (2,)), ((1,), (4,)), ((2, 2), (3,)), ((), (2,))]), ref=np.outer
        ),
        "softmax": Recipe(
            [(((3,),), {}), (((2, 3),), {"axis": 0}), (((2, 3),), {}), (((1,),), {})],
            ref=_softmax_ref,
        ),
        "log_softmax": Recipe(
            [(((3,),), {}), (((2, 3),), {"axis": 0}), (((2, 3),), {}), (((1,),), {})],
            ref=lambda x, axis=-1: np.log(_softmax_ref(x, axis)),
        ),
        "one_hot": Recipe(
            [((Int((3,), 4), (3, 4)), {}), ((Int((), 3), (3,)), {})],
            ref=lambda labels, like: np.eye(np.shape(like)[-1])[labels],
        ),
        "mse_loss": Recipe(
            cases([((3,), (3,)), ((2, 3), (3,)), ((), ()), ((2, 3), (2, 3))]),
            ref=lambda p, t: np.mean((p - t) ** 2),
        ),
        "cross_entropy": Recipe(
            [
                (((3, 4), Int((3,), 4)), {}),
                (((4,), Int((), 4)), {}),
                (((2, 2, 3), Int((2, 2), 3)), {}),
            ],
            ref=_cross_entropy_ref,
        ),
        "sum": Recipe(reductions(), ref=np.sum),
        "mean": Recipe(reductions(), ref=np.mean),
        "max": Recipe(reductions(), ref=np.max),
        "min": Recipe(reductions(), ref=np.min),
        "prod": Recipe(reductions(), ref=np.prod),
        "prod_others": Recipe(
            [((shape,), {"axis": attrs.get("axis")}) for shape, attrs in REDUCE],
            ref=_prod_others_ref,
        ),
        "variance": Recipe(
            reductions() + [(((2, 3),), {"axis": 1, "ddof": 1}), (((4,),), {"ddof": 2})],
            ref=np.var,
        ),
        # Not over single entries: std is 0 there, its derivative 0/0 (NaN, as in JAX).
        "std": Recipe(
            [case for case in reductions() if case[0] not in [((),), ((1, 3),)]]
            + [(((2, 3),), {"axis": 1, "ddof": 1}), (((4,),), {"ddof": 2})],
            ref=np.std,
        ),
        "logsumexp": Recipe(
            reductions(),
            ref=lambda x, axis=None, keepdims=False: np.log(
                np.sum(np.exp(x), axis=axis, keepdims=keepdims)
            ),
        ),
        "size": Recipe(
            [
                (((2, 3),), {}),
                (((2, 3),), {"axis": (1,)}),
                (((),), {}),
                (((2, 3, 4),), {"axis": (0, 2)}),
            ],
            ref=lambda x, axis=None: int(
                np.prod(np.shape(x) if axis is None else [np.shape(x)[a] for a in axis])
            ),
        ),
    }
)

# The linear-algebra ops' and indexing's recipes live in their own modules (this one is long
# enough).
from index_recipes import INDEX_RECIPES, fill  # noqa: E402, F401 (fill: for test_reference_ad)
from linalg_decomp_recipes import LINALG_DECOMP_RECIPES  # noqa: E402
from linalg_inv_recipes import LINALG_INV_RECIPES  # noqa: E402
from linalg_norm_recipes import LINALG_NORM_RECIPES  # noqa: E402
from linalg_qr_recipes import LINALG_QR_RECIPES  # noqa: E402
from linalg_recipes import EXEMPT as _LINALG_EXEMPT  # noqa: E402
from linalg_recipes import LINALG_RECIPES  # noqa: E402
from linalg_svd_recipes import LINALG_SVD_RECIPES  # noqa: E402

RECIPES.update(INDEX_RECIPES)
RECIPES.update(LINALG_RECIPES)
RECIPES.update(LINALG_INV_RECIPES)
RECIPES.update(LINALG_DECOMP_RECIPES)
RECIPES.update(LINALG_SVD_RECIPES)
RECIPES.update(LINALG_NORM_RECIPES)
RECIPES.update(LINALG_QR_RECIPES)
EXEMPT.update(_LINALG_EXEMPT)


# Calls whose shapes do not fit: every mode must raise ShapeError (test_registry names the
# op and line; test_differential checks all modes agree).
BINARY_ELEMENTWISE = [
    name for name, op in sorted(OPS.items()) if isinstance(op, Elementwise) and op.nin == 2
]
BAD_SHAPES = {
    "sum": (lambda x: gc.sum(x, axis=2), [(2, 3)]),
    "mean": (lambda x: gc.mean(x, axis=(0, 0)), [(2, 3)]),
    "matmul": (lambda a, b: a @ b, [(2, 3), (4, 2)]),
    "dot": (gc.dot, [(2, 3), (2,)]),
    "reshape": (lambda x: gc.reshape(x, (4, 2)), [(2, 3)]),
    "transpose": (lambda x: gc.transpose(x, (0, 2, 1)), [(2, 3)]),
    "broadcast_to": (lambda x: gc.broadcast_to(x, (2, 4)), [(3,)]),
    "squeeze": (lambda x: gc.squeeze(x, axis=0), [(2, 3)]),
    "concatenate": (lambda a, b: gc.concatenate([a, b], axis=0), [(2, 3), (2, 4)]),
    "stack": (lambda a, b: gc.stack([a, b]), [(2, 3), (3, 2)]),
    "getitem": (lambda x: x[0, 0, 0], [(2, 3)]),
    "softmax": (lambda x: gc.softmax(x, axis=2), [(2, 3)]),
    "cross_entropy": (lambda x, y: gc.cross_entropy(x, y), [(2, 3), (3,)]),
    "mse_loss": (gc.mse_loss, [(2, 3), (4,)]),
}
BAD_SHAPE_NAMES = BINARY_ELEMENTWISE + sorted(BAD_SHAPES)


def bad_shapes(name):
    """(function, input shapes) that do not fit op `name`."""
    return BAD_SHAPES.get(name, (OPS[name], [(2, 3), (4,)]))


# --- building a case ----------------------------------------------------------------------


def make_args(name, case, rng):
    op = OPS[name]
    specs, attrs = case
    specs = [s if isinstance(s, Arg) else F(*s) for s in specs]
    domains = testing.input_domains(op, len(specs))
    return [s.make(d, rng) for s, d in zip(specs, domains)], attrs


def call(name, *args, **attrs):
    recipe = RECIPES[name]
    op = OPS[name]
    if recipe.call is not None:
        return recipe.call(op, *args, **attrs)
    return op(*args, **attrs)


def params():
    out = []
    for name in sorted(OPS):
        if name in EXEMPT:
            continue
        try:
            recipe = RECIPES[name]
        except KeyError:
            out.append(pytest.param(name, None, id=f"{name}-no-recipe"))
            continue
        for i, case in enumerate(recipe.cases):
            out.append(pytest.param(name, case, id=f"{name}-{i}"))
    return out


PARAMS = params()


def make_vars(arrays, declare="shape", dtypes=True):
    out = []
    for i, a in enumerate(arrays):
        shape = {"shape": a.shape, "rank": (None,) * a.ndim, "none": None}[declare]
        out.append(gc.var(f"x{i}", shape=shape, dtype=a.dtype if dtypes else None))
    return out


def find_node(y, name):
    """The node of op `name` that a recipe's call made (the output itself, usually)."""
    for node in reversed(gc.ir.toposort([y])):
        if node.op == name:
            return node
    raise AssertionError(f"the recipe's call made no {name} node")


def _outputs(y):
    return list(y) if isinstance(y, (tuple, list)) else [y]


def backend_program(name, case, dtype):
    """(vars, outputs, numpy arrays) comparing a backend with numpy: the case's outputs and
    the gradient of a random weighted sum of its floating outputs with respect to its
    floating inputs, the floating arrays of `dtype`."""
    rng = np.random.default_rng(0)
    arrays, attrs = make_args(name, case, rng)
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
    xs = make_vars(arrays)
    ys = _outputs(call(name, *xs, **attrs))
    outs = list(ys)
    wrt = [x for x, a in zip(xs, arrays) if a.dtype.kind == "f"]
    floats = [y for y in ys if y.dtype is not None and y.dtype.kind == "f"]
    if wrt and floats and OPS[name].differentiable and RECIPES[name].grads is None:
        values = _outputs(call(name, *arrays, **attrs))
        total = sum(
            gc.sum(y * rng.standard_normal(np.shape(v)).astype(dtype))
            for y, v in zip(ys, values)
            if any(y is f for f in floats)
        )
        outs += gc.grad(total, wrt)
    return xs, outs, arrays
