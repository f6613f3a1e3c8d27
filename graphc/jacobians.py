"""`jacobian` and `hessian`: one batched vector-Jacobian (or Jacobian-vector) product.

`jacobian(y, x)` differentiates once, along a symbolic direction `jacobian_seed(y)` (reverse
mode: the VJP with that head) or `jacobian_seed(x)` (forward mode: the JVP along it), and
gives the node `jacobian(y, x, d, seed)`. Once shapes are known (now, or when data is bound: the
node's `resolve`, run by specialisation) the batching transform (`graphc.batching`) pushes
the one-hot basis, `eye(size)` as a batch of seeds, through `d` at once: the Jacobian's
graph is as large as one product, not one product per row. Until then the node prints as
`jacobian(y, x)` and cannot be run.
"""

from __future__ import annotations

import numpy as np

from . import ops
from .autodiff import (
    as_cotangent,
    as_symbols,
    backprop,
    check_differentiable,
    check_differentiable_output,
    forward,
    grad,
    resolve,
    stable,
)
from .batching import batch
from .dispatch import checks_call, const
from .errors import DTypeError, GradError, GraphcError
from .ir import Symbol, origin_scope
from .ops.base import OpDef, float_dtype, known, register
from .simplify import simplify as run_passes

_NOT_SHAPED = (
    "jacobian: the Jacobian is computed once the shapes of y and x are known (compile or "
    "bind the graph with data); here they are not. An output whose length depends on the "
    "data (x[x > 0]) has a known Jacobian in forward mode only (mode='fwd')"
)


class JacobianSeed(OpDef):
    """The direction a Jacobian is derived along, shaped and typed like its input: a
    placeholder that the batching transform replaces by the basis (never run)."""

    name = "jacobian_seed"
    shape_only_inputs = (0,)
    differentiable = foldable = False

    def shape(self, s):
        return s

    def dtype(self, d):
        if d is not None and np.dtype(d).kind not in "fc":
            raise DTypeError(f"jacobian: cannot differentiate values of dtype {d}")
        return float_dtype(d)

    def impl(self, like):
        raise GraphcError(_NOT_SHAPED)

    emit = impl


class Jacobian(OpDef):
    """`jacobian(y, x, d, seed)`: dy/dx, computed as `d`'s values for every one-hot `seed`
    once shapes are known. Reverse mode (`d` the VJP of y with head `seed`) gives rows,
    shaped ``seed.shape + d.shape``; forward mode (`d` the JVP along `seed`) columns, shaped
    ``d.shape + seed.shape``. It prints as `jacobian(y, x, mode=...)` (`printed_inputs`)."""

    name, nin, attr_names = "jacobian", 4, ("mode",)
    nondiff_inputs = (1, 3)
    printed_inputs = 2
    foldable = False

    def check_attrs(self, attrs):
        if attrs.get("mode") not in ("rev", "fwd"):
            raise GradError(f"jacobian: mode must be 'rev' or 'fwd', got {attrs.get('mode')!r}")
        return {"mode": attrs["mode"]}

    def shape(self, y, x, d, seed, *, mode):
        if d is None or seed is None:
            return None
        return seed + d if mode == "rev" else d + seed

    def dtype(self, y, x, d, seed, *, mode):
        return d

    def impl(self, y, x, d, seed, *, mode):
        raise GraphcError(_NOT_SHAPED)

    emit = impl

    def vjp(self, g, j, y, x, d, seed, *, mode):
        raise GradError(
            "jacobian: reverse mode through a Jacobian needs static shapes; declare them "
            "with gc.var(name, shape=...), or use gc.jvp / mode='fwd'"
        )

    def jvp(self, ts, j, y, x, d, seed, *, mode):
        # Linear in d along a fixed basis: the tangent is the Jacobian of d's tangent, which
        # is d/dx of y's tangent (mixed partials commute).
        ty, td = ts[0], ts[2]
        if td is None:
            return None
        return self(ops.zeros_like(y) if ty is None else ty, x, td, seed, mode=mode)

    def resolve(self, y, x, d, seed, *, mode):
        if not known(seed.shape) or not _rows_known(d.shape, mode):
            return None
        size = int(np.prod(seed.shape))
        shape = seed.shape + d.shape if mode == "rev" else d.shape + seed.shape
        if size == 0 or 0 in d.shape:
            return const(np.zeros(shape, d.dtype or np.float64))
        dtype = seed.dtype if seed.dtype is not None else np.dtype(np.float64)
        basis = np.eye(size, dtype=dtype).reshape((size,) + seed.shape)
        (j,) = batch([d], {seed: const(basis)}, size)
        if mode == "fwd" and d.shape:  # the batch (x's entries) last
            axes = tuple(range(1, len(d.shape) + 1)) + (0,)
            j = ops.transpose(j, None if len(axes) == 2 else axes)
        return j if j.shape == shape else ops.reshape(j, shape)


jacobian_seed = register(JacobianSeed())
jacobian_of = register(Jacobian())


@checks_call
def jacobian(y: Symbol, x: Symbol, mode: str | None = None, simplify: bool = True) -> Symbol:
    """dy/dx as a symbol of shape ``y.shape + x.shape``.

    One derivative is taken along a symbolic direction and evaluated for every one-hot
    direction at once (a batch): reverse mode (one vector-Jacobian product with a batch of
    heads, giving the rows) when `y` has at most as many entries as `x`, forward mode (one
    Jacobian-vector product with a batch of tangents, giving the columns) otherwise;
    `mode="rev"` or `"fwd"` forces one. When shapes are not declared the Jacobian is
    computed when data is bound (compile, `bind`, `simple_bind`), reverse mode unless
    `mode="fwd"`.

    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x", shape=(2,))
    >>> j = gc.jacobian(x * x, x)
    >>> j.shape
    (2, 2)
    >>> gc.compile([x], j)(np.array([1.0, 3.0]))
    array([[2., 0.],
           [0., 6.]])
    >>> u = gc.var("u")  # no shape: derived now, batched once data arrives
    >>> gc.compile([u], gc.jacobian(gc.sin(u), u))(np.zeros(2))
    array([[1., 0.],
           [0., 1.]])
    """
    if mode not in (None, "rev", "fwd"):
        raise GradError(f"jacobian: mode must be 'rev', 'fwd' or None, got {mode!r}")
    if not isinstance(y, Symbol):
        raise GradError(f"jacobian: y must be a graphc symbol, got {type(y).__name__}")
    if y.op == "group":
        raise GradError("jacobian: y is a Group; take the Jacobian of each output")
    (y,), (x,) = resolve([y], as_symbols(x, "x", names=True), "jacobian")
    check_differentiable(x)
    check_differentiable_output(y)
    (y,) = stable([y], [x], simplify)
    m, n = _size(y.shape), _size(x.shape)
    if mode is None and m is None and n is not None and y.shape is not None:
        mode = "fwd"  # y's length may depend on the data (x[x > 0]): x's entries are known
    mode = mode or ("rev" if m is None or n is None or m <= n else "fwd")
    with origin_scope(y.origin):
        if mode == "rev":
            seed = jacobian_seed(y)
            g = backprop([y], [seed], [x]).get(id(x))
            d = ops.checked_grad(ops.zeros_like(x) if g is None else as_cotangent(g, x), x)
        else:
            seed = jacobian_seed(x)
            (d,) = forward([y], {id(x): seed})
        j = jacobian_of(y, x, d, seed, mode=mode)
        if simplify:  # (d and seed together: the seed's input y may be rewritten)
            (j,) = run_passes([j])
        resolved = jacobian_of.resolve(*j.inputs, **j.attrs)
    if resolved is None:
        return j
    return run_passes([resolved])[0] if simplify else resolved


def _rows_known(shape, mode) -> bool:
    """Whether a Jacobian's `d` is shaped well enough to batch: known in reverse mode (its
    entries are the seeds); forward mode needs its rank only (an output whose length
    depends on the data, `x[x > 0]`, has a column per entry of x all the same)."""
    return known(shape) if mode == "rev" else shape is not None


def _size(shape):
    return int(np.prod(shape)) if known(shape) else None


@checks_call
def hessian(y: Symbol, x: Symbol, simplify: bool = True) -> Symbol:
    """d2y/dx2 of a scalar `y`, of shape ``x.shape + x.shape``.

    Forward-over-reverse: the gradient graph, then one batched Jacobian-vector product of
    it (`jacobian(grad(y, x), x, mode="fwd")`). A JVP follows the gradient graph's own order
    and size; reverse-over-reverse would transpose the gradient graph again. With shapes
    not declared it is computed when data is bound.

    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x", shape=(2,))
    >>> gc.compile([x], gc.hessian(gc.sum(x ** 3), x))(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    if not isinstance(y, Symbol):
        raise GradError(f"hessian: y must be a graphc symbol, got {type(y).__name__}")
    (y,), (x,) = resolve([y], as_symbols(x, "x", names=True), "hessian")
    (y,) = stable([y], [x], simplify)
    return jacobian(grad(y, x, simplify=False), x, mode="fwd", simplify=simplify)
