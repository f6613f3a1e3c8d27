"""Matrix structure: matrix_transpose, trace, diagonal, diag, diag_embed, eye, eye_like
(triu and tril: ops/linalg_triangle.py).

These are linear (or constant), so their derivative rules are the ops themselves or their
adjoints: the adjoint of `diagonal` is `diag_embed`, of `trace` an identity times the
cotangent. Matrix axes are numpy's: `trace` and `diagonal` take `axis1`/`axis2` (default the
first two), the others work on the last two axes and broadcast over leading ones.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .. import runtime
from ..dispatch import Symbol, make_node
from ..errors import ArgumentError, ShapeError
from . import array_api as forms
from . import costs
from .base import OpDef, float_dtype, fmt_shape, normalize_axis, numeric_dtype, register
from .batch_rules import batch_size, batched_all
from .select import getitem
from .shape import broadcast_like, broadcast_to, expand_dims, transpose


def rank(x):
    """The rank of `x` (a symbol, tensor or array), None while unknown."""
    shape = getattr(x, "shape", None) if isinstance(x, Symbol) else np.shape(x)
    return None if shape is None else len(shape)


def mT(x):
    """`x` with its last two axes swapped: `x.T` for a matrix (what a reader expects),
    `matrix_transpose(x)` for a stack or while the rank is unknown."""
    return transpose(x) if rank(x) == 2 else matrix_transpose(x)


def _check_int(value, what: str, op: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ArgumentError(f"{op}: {what} must be an int, got {value!r}")
    return int(value)


def _matrix(s, op: str, least: int = 2):
    """Refuse a static shape of rank below `least` (None passes: unknown)."""
    if s is not None and len(s) < least:
        raise ShapeError(f"{op}: needs an array of at least {least} dims, got {fmt_shape(s)}")


def diag_length(n, m, k: int):
    """Length of diagonal `k` of an n x m matrix (None if a needed dim is unknown)."""
    if k >= 0:
        return None if n is None or m is None else max(0, min(n, m - k))
    return None if n is None or m is None else max(0, min(n + k, m))


_FILLED = ("shape", "dtype", "impl", "emit", "vjp", "jvp", "batch", "resolve", "cost", "array_api")


def _filled(method):
    """`method` called with the attrs at their defaults where they are stored as None."""

    @functools.wraps(method)
    def wrapper(self, *args, **attrs):
        return method(
            self, *args, **{k: self.defaults[k] if v is None else v for k, v in attrs.items()}
        )

    return wrapper


class _Defaults(OpDef):
    """An op whose attrs equal to their defaults are stored as None, so that the printer
    leaves them out (`trace(X)`, `diag(v)`, `eye(3)`); its rules see the values."""

    defaults: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in _FILLED:
            if callable(cls.__dict__.get(name)):
                setattr(cls, name, _filled(cls.__dict__[name]))

    def check_attrs(self, attrs):
        out = {}
        for key, default in self.defaults.items():
            value = attrs.get(key)
            value = self.check_attr(key, default if value is None else value)
            out[key] = None if value == default else value
        return out

    def check_attr(self, key, value):
        return _check_int(value, key, self.name)


class MatrixTranspose(OpDef):
    """`x.mT`: the last two axes swapped (each matrix of a stack transposed).

    A matrix's is printed `x.T` once its rank is known (derivative rules use it for
    batched operands).

    >>> matrix_transpose(np.zeros((4, 2, 3))).shape
    (4, 3, 2)
    """

    name = "matrix_transpose"
    cost = costs.free  # a numpy view
    public = True

    def shape(self, s):
        _matrix(s, self.name)
        return None if s is None else s[:-2] + (s[-1], s[-2])

    def dtype(self, d):
        return d

    def impl(self, x):
        return np.swapaxes(x, -1, -2)

    def emit(self, x):
        return f"np.swapaxes({x}, -1, -2)"

    array_api = "xp.matrix_transpose({0})"

    def vjp(self, g, y, x):
        return (mT(g),)

    def jvp(self, ts, y, x):
        return mT(ts[0])

    def resolve(self, x):
        return transpose(x) if rank(x) == 2 else None

    def batch(self, batched, y, x):
        return matrix_transpose(x)


class _Diagonal(_Defaults):
    """Shared by trace, diagonal and diag_embed: an offset and two axes."""

    attr_names = ("offset", "axis1", "axis2")
    defaults = {"offset": 0, "axis1": 0, "axis2": 1}

    def prepare(self, x, offset=0, axis1=0, axis2=1):
        return (x,), self.check_attrs({"offset": offset, "axis1": axis1, "axis2": axis2})

    def check_attrs(self, attrs):
        out = super().check_attrs(attrs)
        if out["axis1"] is not None and out["axis1"] == out["axis2"]:
            raise ShapeError(f"{self.name}: axis1 and axis2 cannot be the same")
        return out

    def axes(self, s, axis1, axis2):
        """The two axes normalized for shape `s` (whose rank is at least 2)."""
        _matrix(s, self.name)
        a1, a2 = (normalize_axis(a, len(s), self.name)[0] for a in (axis1, axis2))
        if a1 == a2:
            raise ShapeError(f"{self.name}: axis1 and axis2 name the same axis of {fmt_shape(s)}")
        return a1, a2

    def reduced(self, s, offset, axis1, axis2):
        """The shape of `diagonal(x)` for x of static shape `s`."""
        if s is None:
            return None
        a1, a2 = self.axes(s, axis1, axis2)
        rest = tuple(d for i, d in enumerate(s) if i not in (a1, a2))
        return rest + (diag_length(s[a1], s[a2], offset),)

    def batch(self, batched, y, *xs, offset, axis1, axis2):
        """The axes shifted past the batch axis (diag_embed's inputs all batched)."""
        a1, a2 = self.axes(xs[-1].shape[1:] if batched[-1] else xs[-1].shape, axis1, axis2)
        xs = batched_all(xs, batched, batch_size(xs, batched))
        return self(*xs, offset=offset, axis1=a1 + 1, axis2=a2 + 1)

    @staticmethod
    def args(offset, axis1, axis2) -> str:
        """numpy's optional arguments, those that differ from the defaults."""
        if (axis1, axis2) != (0, 1):
            return f", {offset}, {axis1}, {axis2}"
        return f", {offset}" if offset else ""


class Trace(_Diagonal):
    """`np.trace(x, offset=0, axis1=0, axis2=1)`: the sum of a diagonal (over the first two
    axes by default, as numpy; `axis1=-2, axis2=-1` for a stack of matrices). Its gradient
    is the identity: `grad(trace(X), X)` is `eye(n)`.

    >>> trace(np.arange(9.0).reshape(3, 3))
    np.float64(12.0)
    """

    name = "trace"
    public, methods = True, ("trace",)

    def cost(self, y, x, *, offset, axis1, axis2):
        """One addition per diagonal entry (each read once)."""
        n = math.prod(self.reduced(x.shape, offset, axis1, axis2))
        return n, n * x.dtype.itemsize + costs.nbytes(y)

    def shape(self, s, *, offset, axis1, axis2):
        d = self.reduced(s, offset, axis1, axis2)
        return None if d is None else d[:-1]

    def dtype(self, d, *, offset, axis1, axis2):
        return None if d is None else _sum_dtype(np.dtype(d))

    def impl(self, x, *, offset, axis1, axis2):
        return np.trace(x, offset, axis1, axis2)

    def emit(self, x, *, offset, axis1, axis2):
        return f"np.trace({x}{self.args(offset, axis1, axis2)})"

    def array_api(self, x, *, offset, axis1, axis2):
        return f"xp.linalg.trace({forms.moved_last(x, axis1, axis2)}, offset={offset})"

    def vjp(self, g, y, x, *, offset, axis1, axis2):
        if rank(x) == 2:
            # The textbook form: d tr(X) = I (a transposed identity when the axes are).
            k = offset if axis1 % 2 < axis2 % 2 else -offset
            return (g * identity(x, k),)
        d = diagonal(x, offset, axis1, axis2)  # read for its shape only
        return (diag_embed(broadcast_like(expand_dims(g, -1), d), x, offset, axis1, axis2),)

    def jvp(self, ts, y, x, *, offset, axis1, axis2):
        return trace(ts[0], offset, axis1, axis2)


@functools.cache
def _sum_dtype(d: np.dtype) -> np.dtype:
    return np.trace(np.ones((1, 1), d)).dtype


class Diagonal(_Diagonal):
    """`np.diagonal(x, offset=0, axis1=0, axis2=1)`: a diagonal, as the last axis. Its
    gradient places the cotangent back on the diagonal (`diag(g)`, or `diag_embed`).

    >>> diagonal(np.arange(6.0).reshape(2, 3), 1)
    array([1., 5.])
    """

    name = "diagonal"
    cost = costs.free  # a numpy view
    public, methods = True, ("diagonal",)

    def shape(self, s, *, offset, axis1, axis2):
        return self.reduced(s, offset, axis1, axis2)

    def dtype(self, d, *, offset, axis1, axis2):
        return d

    def impl(self, x, *, offset, axis1, axis2):
        return np.diagonal(x, offset, axis1, axis2)

    def emit(self, x, *, offset, axis1, axis2):
        return f"np.diagonal({x}{self.args(offset, axis1, axis2)})"

    def array_api(self, x, *, offset, axis1, axis2):
        return f"xp.linalg.diagonal({forms.moved_last(x, axis1, axis2)}, offset={offset})"

    def vjp(self, g, y, x, *, offset, axis1, axis2):
        s = getattr(x, "shape", None)
        if s is not None and len(s) == 2 and s[0] == s[1] is not None and axis1 % 2 < axis2 % 2:
            return (diag(g, offset),)  # a square matrix: the textbook diag(g)
        return (diag_embed(g, x, offset, axis1, axis2),)

    def jvp(self, ts, y, x, *, offset, axis1, axis2):
        return diagonal(ts[0], offset, axis1, axis2)


class DiagEmbed(_Diagonal):
    """`diag_embed(v, like, offset=0, axis1=0, axis2=1)`: zeros shaped like `like` with `v`
    on the diagonal that `diagonal(like, offset, axis1, axis2)` reads (v's last axis runs
    along it). It is the adjoint of `diagonal`: the gradient of a diagonal taken from a
    matrix that is not square, or from a stack.

    >>> diag_embed(np.array([1.0, 2.0]), np.zeros((2, 3)), 1)
    array([[0., 1., 0.],
           [0., 0., 2.]])
    """

    name, nin = "diag_embed", 2
    cost = costs.copy
    public, fresh = True, True
    shape_only_inputs = (1,)

    def prepare(self, v, like, offset=0, axis1=0, axis2=1):
        return (v, like), self.check_attrs({"offset": offset, "axis1": axis1, "axis2": axis2})

    def shape(self, v, like, *, offset, axis1, axis2):
        d = self.reduced(like, offset, axis1, axis2)
        if d is not None and v is not None:
            ok = len(v) == len(d) and all(a is None or b is None or a == b for a, b in zip(v, d))
            if not ok:
                raise ShapeError(
                    f"diag_embed: a diagonal of shape {fmt_shape(v)} does not fit an array "
                    f"of shape {fmt_shape(like)} (its diagonal has shape {fmt_shape(d)})"
                )
        return like

    def dtype(self, v, like, *, offset, axis1, axis2):
        return v

    def impl(self, v, like, *, offset, axis1, axis2):
        return runtime._diag_embed(v, like, offset, axis1, axis2)

    def emit(self, v, like, *, offset, axis1, axis2):
        return f"_diag_embed({v}, {like}, {offset}, {axis1}, {axis2})"

    def vjp(self, g, y, v, like, *, offset, axis1, axis2):
        return diagonal(g, offset, axis1, axis2), None

    def jvp(self, ts, y, v, like, *, offset, axis1, axis2):
        return None if ts[0] is None else diag_embed(ts[0], like, offset, axis1, axis2)


class Diag(_Defaults):
    """`np.diag(v, k=0)`: the matrix with vector `v` on diagonal k, or a matrix's diagonal k.

    >>> diag(np.array([1.0, 2.0]))
    array([[1., 0.],
           [0., 2.]])
    """

    name, attr_names = "diag", ("k",)
    cost = costs.copy
    public, defaults = True, {"k": 0}

    def prepare(self, v, k=0):
        return (v,), self.check_attrs({"k": k})

    def shape(self, s, *, k):
        if s is None:
            return None
        if len(s) == 1:
            n = None if s[0] is None else s[0] + abs(k)
            return (n, n)
        if len(s) == 2:
            return (diag_length(s[0], s[1], k),)
        raise ShapeError(f"diag: input must be 1-d or 2-d, got shape {fmt_shape(s)}")

    def dtype(self, d, *, k):
        return d

    def impl(self, v, *, k):
        return np.diag(v, k)

    def emit(self, v, *, k):
        return f"np.diag({v}, {k})" if k else f"np.diag({v})"

    def array_api(self, v, *, k):
        return f"_diag({v}, {k})"

    def vjp(self, g, y, v, *, k):
        ct = _diag_adjoint(g, v, k)
        return (diag_grad(g, v, k=k) if ct is None else ct,)

    def jvp(self, ts, y, v, *, k):
        return diag(ts[0], k)

    def batch(self, batched, y, v, *, k):
        if len(v.shape) == 3:
            return diagonal(v, k, 1, 2)
        corner = getitem(v, (slice(None), slice(0, 1), None))  # any entry, for the shape
        return diag_embed(v, broadcast_to(corner, v.shape[:1] + y.shape), k, 1, 2)


def _diag_adjoint(g, v, k: int):
    """The cotangent of v in `diag(v, k)` once v's rank is known, else None."""
    n = rank(v)
    if n == 1:
        return diag(g, k)  # the diagonal of the square cotangent
    s = getattr(v, "shape", None) if isinstance(v, Symbol) else np.shape(v)
    if n == 2 and s[0] is not None and s[0] == s[1]:
        return diag(g, k)  # a square matrix: the matrix with g on the diagonal
    return None if n is None else diag_embed(g, v, k)


class DiagGrad(_Defaults):
    """`diag_grad(g, v, k=0)`: the gradient of `diag(v, k)` for the cotangent g when v's rank
    is not known yet: the diagonal of g for a vector v, g placed on the diagonal of an array
    shaped like v for a matrix (`diag_embed(g, v, k)`). Once the rank is known it is one of
    those.

    >>> diag_grad(np.ones((2, 2)), np.zeros(2))
    array([1., 1.])
    """

    name, nin, attr_names = "diag_grad", 2, ("k",)
    cost = costs.copy
    public = fresh = True
    shape_only_inputs, defaults = (1,), {"k": 0}

    def prepare(self, g, v, k=0):
        return (g, v), self.check_attrs({"k": k})

    def shape(self, g, v, *, k):
        return v

    def dtype(self, g, v, *, k):
        return g

    def impl(self, g, v, *, k):
        return np.diag(g, k) if np.ndim(v) == 1 else runtime._diag_embed(g, v, k, 0, 1)

    def emit(self, g, v, *, k):
        return f"(np.diag({g}, {k}) if np.ndim({v}) == 1 else _diag_embed({g}, {v}, {k}, 0, 1))"

    def array_api(self, g, v, *, k):
        return f"(_diag({g}, {k}) if {v}.ndim == 1 else _diag_embed({g}, {v}, {k}, 0, 1))"

    def vjp(self, gbar, y, g, v, *, k):
        return diag(gbar, k), None  # diag_grad is diag's adjoint, so its adjoint is diag

    def jvp(self, ts, y, g, v, *, k):
        return None if ts[0] is None else diag_grad(ts[0], v, k=k)

    def resolve(self, g, v, *, k):
        return _diag_adjoint(g, v, k)


class Eye(_Defaults):
    """`np.eye(N, M=None, k=0, dtype=float)`: ones on diagonal k. N and M may be sizes
    known only at run time (integer scalar symbols, e.g. `size(v)`): the identity
    basis of a vector whose length the data gives.

    >>> eye(2, 3, k=1)
    array([[0., 1., 0.],
           [0., 0., 1.]])
    """

    name, nin, attr_names = "eye", None, ("k", "dtype")
    cost = costs.copy
    defaults = {"k": 0, "dtype": "float64"}
    public = True
    differentiable = foldable = False
    fresh = records_on_tape = True

    def prepare(self, N, M=None, k=0, dtype=float):
        sizes = (N,) if M is None else (N, M)
        for n in sizes:
            if not _is_size(n):
                raise ArgumentError(f"eye: N and M must be ints or integer scalars, got {n!r}")
        return sizes, self.check_attrs({"k": k, "dtype": dtype})

    def check_attr(self, key, value):
        if key == "k":
            return _check_int(value, key, self.name)
        return numeric_dtype(value, "eye", ArgumentError).name

    def node_type(self, inputs, attrs):
        if not 1 <= len(inputs) <= 2:
            raise ShapeError(f"eye: takes N and optionally M, got {len(inputs)} inputs")
        for x in inputs:
            if x.shape not in (None, ()):
                raise ShapeError(f"eye: N and M must be scalars, got shape {fmt_shape(x.shape)}")
        dims = tuple(_static_int(x) for x in inputs)
        return (dims * 2)[:2], np.dtype(attrs["dtype"] or "float64")

    def impl(self, *sizes, k, dtype):
        return np.eye(*(int(n) for n in sizes), k=k, dtype=dtype)

    def emit(self, *sizes, k, dtype):
        args = ", ".join(sizes)
        return f"np.eye({args}{f', k={k}' if k else ''}, dtype=np.{dtype})"

    array_api_numbers = True  # the sizes

    def array_api(self, *sizes, k, dtype):
        return f"xp.eye({', '.join(sizes)}, k={k}, dtype=xp.{dtype}, device=dev)"

    def vjp(self, g, y, *sizes, k, dtype):
        return (None,) * len(sizes)

    def jvp(self, ts, y, *sizes, k, dtype):
        return None


def _is_size(n) -> bool:
    """An int, or an integer scalar (a symbol of unknown dtype too: its data comes later)."""
    if isinstance(n, (bool, np.bool_)):
        return False
    if isinstance(n, (int, np.integer)):
        return True
    dtype = getattr(n, "dtype", False)
    return (dtype is None and isinstance(n, Symbol)) or (
        dtype is not False and dtype is not None and np.dtype(dtype).kind in "iu"
    )


def _static_int(x):
    """The value of a scalar integer node when it is known before run time, else None."""
    if x.op == "const":
        return int(x.attrs["value"])
    if x.opdef.resolve is not OpDef.resolve:
        r = x.opdef.resolve(*x.inputs, **x.attrs)
        if r is not None and r.op == "const":
            return int(r.attrs["value"])
    return None


class EyeLike(_Defaults):
    """`eye_like(x, k=0)`: the identity matrix that fits x: n x n for a vector of length n,
    x's last two axes (n x m, ones on diagonal k) for a matrix or a stack of them; of x's
    dtype if floating, else float64. Once x's shape and dtype are known it is `eye(n)`.

    >>> eye_like(np.zeros(2, dtype=np.float32))
    array([[1., 0.],
           [0., 1.]], dtype=float32)
    """

    name, attr_names = "eye_like", ("k",)
    cost = costs.copy
    public, fresh, records_on_tape = True, True, False
    shape_only_inputs, defaults = (0,), {"k": 0}

    def prepare(self, x, k=0):
        return (x,), self.check_attrs({"k": k})

    def shape(self, s, *, k):
        _matrix(s, self.name, 1)
        if s is None:
            return (None, None)
        return (s[0], s[0]) if len(s) == 1 else s[-2:]

    def dtype(self, d, *, k):
        return float_dtype(d)

    def impl(self, x, *, k):
        return runtime._eye_like(x, k)

    def emit(self, x, *, k):
        return f"_eye_like({x}, {k})"

    def vjp(self, g, y, x, *, k):
        return (None,)

    def jvp(self, ts, y, x, *, k):
        return None

    def resolve(self, x, *, k):
        return _static_eye(x, k)

    def batch(self, batched, y, x, *, k):
        one = eye_like(getitem(x, 0), k)  # every entry has the same identity
        return broadcast_to(expand_dims(one, 0), x.shape[:1] + y.shape)


def _static_eye(x, k: int = 0):
    """`eye(n, m, k)` for `eye_like(x, k)` when x's shape and dtype are known, else None."""
    s = getattr(x, "shape", None)
    if s is None or None in s[-2:] or x.dtype is None or not s:
        return None
    n, m = s[-2:] if len(s) >= 2 else s * 2
    # A node even though its sizes are numbers (a call would compute the array): it prints as
    # `eye(n)` and is built when the program runs.
    sizes = (n,) if m == n else (n, m)
    return make_node(eye, sizes, eye.check_attrs({"k": k, "dtype": float_dtype(x.dtype)}))


def identity(x, k: int = 0):
    """The identity for matrix `x` (see `eye_like`): `eye(n)` once its size is known."""
    if isinstance(x, Symbol):
        static = _static_eye(x, k)
        return eye_like(x, k) if static is None else static
    return eye_like(x, k)


matrix_transpose = register(MatrixTranspose())
trace = register(Trace())
diagonal = register(Diagonal())
diag_embed = register(DiagEmbed())
diag = register(Diag())
diag_grad = register(DiagGrad())
eye = register(Eye())
eye_like = register(EyeLike())
