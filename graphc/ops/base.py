"""`OpDef`, the registry `OPS`, and the family helper `elementwise`.

An `OpDef` holds everything about one operation: how a call's arguments become inputs and
attrs (`prepare`), the attribute schema, the shape and dtype rules, the numpy implementation
(`impl`, used by plain-numpy calls, eager mode and constant folding), the numpy expression it
emits (`emit`), its derivative rules (`vjp`, `jvp`) written with `gc` functions so that one rule
serves graphs, eager tensors and arrays, its sympy mapping if elementwise, and its `domain`.
Calling an `OpDef` is calling the public `gc` function.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ArgumentError, DTypeError, GraphcError, ShapeError
from ..ir import Symbol, call_mismatch, format_origin, located, user_origin
from ..mixin import add_op_methods, remove_op_methods
from . import costs

OPS: dict[str, OpDef] = {}

# Sampling domains for tests, documenting where an op is smooth.
REAL = (-2.0, 2.0)
POSITIVE = (0.2, 3.0)
UNIT = (-0.9, 0.9)  # open interval (-1, 1)
NONZERO = "nonzero"  # |x| in [0.3, 2], either sign

# Binding strength of infix binary ops, as in Python (higher binds tighter): `precedence`.
PREC_POW, PREC_MUL, PREC_ADD = 60, 40, 30


class OpDef:
    """One operation of the op table (subclass per op, or build with a family helper)."""

    name: str = ""
    nin: int | None = 1  # None: variadic
    attr_names: tuple[str, ...] = ()
    differentiable = True
    elementwise = False
    domain: Any = REAL
    infix: str | None = None  # e.g. "+", for printing and emission
    sympy: Any = None  # elementwise ops: callable(*sympy_args) -> sympy expr (see _sympy_call)
    # Argument positions whose values never get a cotangent (indices, conditions).
    nondiff_inputs: tuple[int, ...] = ()
    weak = False  # a result that promotes like a Python number (counts)
    foldable = True  # constant folding may evaluate it when all inputs are constants
    fresh = False  # its result is a new array it owns (not a view): codegen may reuse it
    transparent = False  # printed as its first input (a check that does not change values)
    # Facts that passes, front ends and the public API read (no name tables outside ops/):
    public = False  # a `gc` function (exported, parseable) that is this OpDef itself
    methods: tuple[str, ...] = ()  # `Symbol`/`Tensor` methods calling it on `self`
    # numpy's names for it besides its name and methods (`np.amax` for max): numpy calls on
    # graphc values reach it (graphc.numpy_interop); a binary op's fold along axes and its
    # running fold (numpy's `ufunc.reduce`, `ufunc.accumulate`: add -> "sum", "cumsum").
    numpy_names: tuple[str, ...] = ()
    reduction: str | None = None
    accumulation: str | None = None
    commutative = False  # op(a, b) == op(b, a): CSE merges both orders
    augmented: str | None = None  # its in-place statement, e.g. "+=" (emitted code)
    precedence: int | None = None  # an infix binary op's binding (PREC_*; printing)
    comparison = False  # an elementwise comparison: booleans, printed as a relation
    sequence_input = False  # its arrays are given as one list: `stack([x, y], axis=0)`
    printed_inputs: int | None = None  # str() shows the first n inputs (the rest derive)
    shape_only_inputs: tuple[int, ...] = ()  # inputs read only for their shape and dtype
    # sum_to, broadcast_like, reshape_like: input 1's shape; input 0 when it already has it
    identity_when_same_shape = False
    records_on_tape = True  # False: a fresh value with no path back (as in PyTorch)
    stops_gradient = False  # an identity whose derivative is declared zero (stop_gradient)
    tape_name: str | None = None  # eager tape node "<tape_name>Backward" (default CamelCase)
    # (input, safe value, open intervals where op and derivative are finite): grad_lint
    singular_inputs: tuple[tuple[int, Any, tuple], ...] = ()
    image: Any = None  # (*input bounds) -> bounds of the value, or None (ops.ranges)
    numexpr: Any = None  # fused backend (ops.fused): "sin({0})"; True: numpy ufunc's name
    recompute = False  # fused: recomputing it per use beats storing it (cheap per entry)

    def __init__(self, **fields):
        for key, value in fields.items():
            setattr(self, key, value)

    def __repr__(self):
        return f"<op {self.name}>"

    def __call__(self, *args, name: str | None = None, **kwargs):
        try:
            inputs, attrs = self.prepare(*args, **kwargs)
        except ArgumentError as exc:
            raise ArgumentError(_located(str(exc))) from None
        except TypeError as exc:  # Python refusing the call itself (count, keyword names)
            raise self.call_error(exc, args, kwargs) from None
        return named(_apply(self, inputs, attrs), name)

    def call_error(self, exc: TypeError, args: tuple, kwargs: dict) -> Exception:
        """A `TypeError` from `prepare` as an `ArgumentError` naming this function, what was
        wrong and its signature, when the call does not fit `prepare`'s parameters; any other
        `TypeError` is returned unchanged (a bug, not the caller's)."""
        return call_mismatch(self.name, self.prepare, args, kwargs) or exc

    # --- what a call means -------------------------------------------------------------
    def prepare(self, *args, **kwargs) -> tuple[tuple, dict]:
        """Split a call's arguments into (inputs, attrs); attrs are validated here."""
        if self.nin is not None and len(args) != self.nin:
            raise ArgumentError(
                f"{self.name}() takes {self.nin} array argument"
                f"{'s' if self.nin != 1 else ''}, got {len(args)}"
            )
        if kwargs:
            unknown = set(kwargs) - set(self.attr_names)
            if unknown:
                expected = (
                    f"its keywords are {', '.join(self.attr_names)}"
                    if self.attr_names
                    else "it takes no keywords"
                )
                raise ArgumentError(
                    f"{self.name}() got unexpected keyword(s) "
                    f"{', '.join(sorted(unknown))}; {expected}"
                )
        return args, self.check_attrs(kwargs)

    def check_attrs(self, attrs: dict) -> dict:
        """Validate and normalise attrs (also used when loading JSON). Returns a new dict."""
        return dict(attrs)

    # --- static rules --------------------------------------------------------------------
    def shape(self, *shapes, **attrs):
        return broadcast_shapes(*shapes, op=self.name)

    def dtype(self, *dtypes, **attrs):
        return result_dtype(*dtypes)

    # --- runtime -------------------------------------------------------------------------
    def impl(self, *xs, **attrs):
        raise NotImplementedError(self.name)

    def emit(self, *names: str, **attrs) -> str:
        raise NotImplementedError(self.name)

    # --- derivatives (rules in gc functions) ----------------------------------------------
    def vjp(self, g, y, *xs, **attrs):
        raise NotImplementedError(f"{self.name} has no VJP rule")

    def jvp(self, ts, y, *xs, **attrs):
        raise NotImplementedError(f"{self.name} has no JVP rule")

    def vjp_some(self, wanted, g, y, *xs, **attrs):
        """`vjp` for a caller that needs only the inputs flagged in `wanted` (the eager tape):
        the others may come back as None. By default every cotangent is computed."""
        return self.vjp(g, y, *xs, **attrs)

    def run_error(self, exc: Exception) -> Exception | None:
        """The graphc error to raise for `exc`, raised by this op's emitted code at run
        time (bad data, e.g. an index out of bounds), or None to raise `exc` itself."""
        return None

    def resolve(self, *xs, **attrs):
        """Once shapes are static: a simpler equivalent of this op on `xs`, or None."""
        return None

    def shows_attr(self, key: str, value) -> bool:
        """Whether a printed call shows attr `key`: not a name, None, or a False that the
        call's parameter defaults to (`keepdims=False`); a False against a True default
        (`endpoint=False`) is shown."""
        if key == "name" or value is None:
            return False
        if value is not False:
            return True
        try:
            param = inspect.signature(self.prepare).parameters.get(key)
        except (TypeError, ValueError):
            return False
        return param is not None and param.default not in (False, inspect.Parameter.empty)

    def cost(self, y, *xs, **attrs) -> tuple[int, int] | None:
        """(flops, bytes moved) of one call, from the static shapes and dtypes of the node
        `y` and its inputs (all known when `gc.cost` calls it); None: not modelled. The
        default is an elementwise op's: one flop per result entry, each input read and the
        result written once. Families override it with the helpers of `ops.costs`."""
        return costs.entrywise(self, y, *xs, **attrs)

    def batch(self, batched, y, *xs, **attrs):
        """This op on a batch of values: each input flagged in `batched` has an extra leading
        axis, and the result is the batch of `y`'s values, of shape ``(B,) + y.shape`` (`y`
        is the unbatched node; its shapes are known). None: no vectorised rule, and the
        batching transform (`graphc.batching`) applies the op once per batch entry. The
        families define theirs: elementwise ops broadcast, ops with an axis shift it, shape
        ops prepend the batch dim."""
        return None


def known(shape) -> bool:
    """A static shape with every dim known."""
    return shape is not None and None not in shape


def named(result, name: str | None):
    """`result` with the user's `name=` (MXNet's): a symbol that an op built is copied with
    that name (how `Executor.adjoint_dict` and a teaching export call it); a var or constant
    that the op gave back unchanged, an eager tensor or an array is returned as it is.

    >>> import graphc as gc
    >>> gc.tanh(gc.var("x"), name="h").name
    'h'
    """
    if name is None:
        return result
    if not isinstance(name, str) or not name:
        raise ArgumentError(_located(f"name= must be a non-empty string, got {name!r}"))
    if isinstance(result, Symbol) and result.op not in ("var", "const"):
        return Symbol(
            result.opdef,
            result.inputs,
            result.attrs,
            result.shape,
            result.dtype,
            name=name,
            origin=result.origin,
            weak=result.weak,
        )
    return result


def _unset_apply(op, inputs, attrs):
    raise GraphcError(f"{op.name}: graphc.dispatch is not imported (import graphc)")


# What calling an op means (graphc.dispatch.apply, a layer above: it installs itself).
_apply = _unset_apply


def install_apply(apply: Callable) -> None:
    """Make `apply(op, inputs, attrs)` what calling an `OpDef` does (graphc.dispatch calls
    this when it is imported; the op table never imports the dispatcher)."""
    global _apply
    _apply = apply


def _located(message: str) -> str:
    """`message` prefixed with the user's file:line (unless it already is)."""
    origin = user_origin()
    if origin is None or message.startswith(format_origin(origin) + ":"):
        return message
    return located(origin, message)


# Higher layers keep their op tables (the `gc` namespace) by subscribing: `on_register`.
_listeners: list[Callable[[OpDef, bool], None]] = []


def register(op: OpDef) -> OpDef:
    """Add `op` to the table: its declared methods are attached to `Symbol` and `Tensor`, and
    the subscribers (`on_register`) are told, so that a public op becomes a `gc` function."""
    if op.name in OPS:
        raise ValueError(f"op {op.name!r} registered twice")
    add_op_methods(op)
    OPS[op.name] = op
    told = []
    try:
        for listener in _listeners:
            listener(op, True)
            told.append(listener)
    except Exception:  # e.g. a public op whose name the `gc` namespace already uses
        for listener in told:
            listener(op, False)
        del OPS[op.name]
        remove_op_methods(op)
        raise
    return op


def unregister(name: str) -> OpDef:
    """Remove op `name` from the table, its methods and the subscribers' tables: the inverse
    of `register` (for a temporary op, e.g. in a test)."""
    op = OPS.pop(name)
    remove_op_methods(op)
    for listener in _listeners:
        listener(op, False)
    for key in [k for k in _probe_cache if k[0] == name]:
        del _probe_cache[key]
    return op


def on_register(listener: Callable[[OpDef, bool], None]) -> None:
    """Call `listener(op, True)` for every op registered, now and later, and
    `listener(op, False)` for every op unregistered."""
    _listeners.append(listener)
    for op in list(OPS.values()):
        listener(op, True)


def public_ops() -> dict[str, OpDef]:
    """The ops that are `gc` functions (`public`), by name, in registration order."""
    return {name: op for name, op in OPS.items() if op.public}


# --- shapes and dtypes -----------------------------------------------------------------


def broadcast_shapes(*shapes, op: str = "broadcast"):
    """numpy broadcasting over static shapes whose dims (or ranks) may be unknown (None)."""
    if len(shapes) == 2:  # the common cases, fast
        a, b = shapes
        if a == b or b == ():
            return a
        if a == ():
            return b
    if any(s is None for s in shapes):
        return None
    ndim = max((len(s) for s in shapes), default=0)
    result = []
    for i in range(-ndim, 0):
        dims = [s[i] for s in shapes if len(s) >= -i]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ShapeError(
                f"{op}: shapes {' and '.join(map(fmt_shape, shapes))} do not broadcast"
            )
        if known:
            result.append(known.pop())
        elif any(d is None for d in dims):
            result.append(None)
        else:
            result.append(1)
    return tuple(result)


# The largest static shape a node may have, in elements (known dims multiplied): 2**31 is
# 16 GiB of float64. Larger shapes are refused when the graph is built, loaded or specialised
# (a ShapeError naming the op and the user's line), not found out by a run that takes
# minutes; raise it (`graphc.ops.base.MAX_ELEMENTS = 2**36`) to build larger arrays.
MAX_ELEMENTS = 2**31


def numeric_dtype(value, where: str, error: type = None) -> np.dtype:
    """`value` as a numpy dtype of numbers or booleans, else `error` (a `DTypeError` unless
    given) naming `where` and the value."""
    error = error or DTypeError
    try:
        dt = np.dtype(value)
    except (TypeError, ValueError):
        raise error(f"{where}: not a dtype: {value!r}") from None
    if dt.kind not in "biufc":
        raise error(f"{where}: unsupported dtype {dt} (numbers and booleans only)")
    return dt


def check_size(shape, what: str) -> None:
    """Raise a ShapeError if the known dims of `shape` multiply to more than `MAX_ELEMENTS`.

    >>> check_size((1000, 1000), "ones")
    >>> check_size((10**6, 10**6), "ones")
    Traceback (most recent call last):
    ...
    graphc.errors.ShapeError: ones: shape (1000000, 1000000) has 1000000000000 elements, \
more than graphc.ops.base.MAX_ELEMENTS = 2147483648 (raise it to build larger arrays)
    """
    if shape:
        n = 1
        for d in shape:
            if d is not None:
                n *= d
        if n > MAX_ELEMENTS:
            raise ShapeError(
                f"{what}: shape {fmt_shape(shape)} has {n} elements, more than "
                f"graphc.ops.base.MAX_ELEMENTS = {MAX_ELEMENTS} (raise it to "
                "build larger arrays)"
            )


def fmt_shape(shape) -> str:
    if shape is None:
        return "(?)"
    inner = ", ".join("?" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def result_dtype(*dtypes):
    """numpy promotion; Python scalars (weak) are given as example values, e.g. 0.0."""
    if any(d is None for d in dtypes):
        return None
    return np.result_type(*dtypes)


def float_dtype(dtype):
    """The floating dtype an op like exp gives for `dtype` (ints become float64)."""
    if dtype is None:
        return None
    if isinstance(dtype, (bool, int, float)):
        return np.result_type(np.float64, dtype) if not isinstance(dtype, float) else dtype
    dtype = np.dtype(dtype)
    if dtype.kind in "fc":
        return dtype
    return np.dtype(np.float64)


def normalize_axis(axis, ndim: int | None, op: str):
    """`axis` (None, int or tuple) as a sorted tuple of non-negative ints, or None for all."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if ndim is None:
        return tuple(int(a) for a in axes)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ShapeError(f"{op}: axis {a} is out of bounds for an array of rank {ndim}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


def batch_rank(x, batched: bool, rank: int):
    """A batched `x` (batch axis first) with size-1 dims inserted after the batch axis up to
    `rank` dims besides it, so that it broadcasts against unbatched operands of rank `rank`;
    an unbatched `x` as it is."""
    missing = rank - (len(x.shape) - 1)
    if not batched or missing <= 0:
        return x
    return OPS["expand_dims"](x, tuple(range(1, 1 + missing)))


def check_axis_attr(axis, op: str):
    """Validate an axis attr: None, an int or a tuple of ints."""
    if axis is None:
        return None
    if isinstance(axis, (bool, np.bool_)):
        raise ArgumentError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
    if isinstance(axis, (int, np.integer)):
        return int(axis)
    if isinstance(axis, (tuple, list)) and all(
        isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis
    ):
        return tuple(int(a) for a in axis)
    raise ArgumentError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")


# --- the elementwise family ------------------------------------------------------------


class Elementwise(OpDef):
    """An op applied entry by entry with numpy broadcasting.

    `d` gives each input's partial derivative `d(y, *xs)` (None: not differentiable in that
    input; the number 1 or -1 is used as is). The VJP `sum_to(g * d_i, x_i)` and the JVP
    `sum_i t_i * d_i` are derived here once, so broadcasting is handled in one place.
    """

    elementwise = fresh = True
    fn: Callable = None  # the numpy callable
    template: str = ""  # emitted expression, e.g. "np.exp({0})"
    d: Sequence[Callable | None] = ()

    def impl(self, *xs, **attrs):
        return self.fn(*xs)

    def emit(self, *names, **attrs):
        return self.template.format(*names)

    def dtype(self, *dtypes, **attrs):
        # Not `None in dtypes`: np.dtype("float64") == None is True (dtype(None) is float64).
        if any(d is None for d in dtypes):
            return None
        return _probe_dtype(self, dtypes)

    def vjp(self, g, y, *xs, **attrs):
        return self.vjp_some(None, g, y, *xs, **attrs)

    def batch(self, batched, y, *xs, **attrs):
        """Broadcasting does it: batched inputs get size-1 dims after the batch axis."""
        rank = len(y.shape)
        return self(*(batch_rank(x, b, rank) for x, b in zip(xs, batched)), **attrs)

    def vjp_some(self, wanted, g, y, *xs, **attrs):
        if "vjp" in self.__dict__:  # an op-specific rule replaces the family's (maximum, where)
            return self.vjp(g, y, *xs, **attrs)
        # The family's rules call ops of other modules through the table (no import cycle).
        multiply, negative, sum_to = OPS["multiply"], OPS["negative"], OPS["sum_to"]
        cts = []
        for i, (x, d) in enumerate(zip(xs, self.d)):
            # Skipping unwanted inputs also avoids e.g. log(x) for the exponent of x ** 2.
            if d is None or (wanted is not None and not wanted[i]):
                cts.append(None)
                continue
            factor = d(y, *xs)
            if isinstance(factor, (int, float)) and factor == 1:
                ct = g
            elif isinstance(factor, (int, float)) and factor == -1:
                ct = negative(g)
            else:
                ct = multiply(g, factor)
            cts.append(sum_to(ct, x))
        return tuple(cts)

    def jvp(self, ts, y, *xs, **attrs):
        add, broadcast_like, multiply, negative = (
            OPS["add"],
            OPS["broadcast_like"],
            OPS["multiply"],
            OPS["negative"],
        )
        total = None
        for t, _x, d in zip(ts, xs, self.d):
            if t is None or d is None:
                continue
            factor = d(y, *xs)
            if isinstance(factor, (int, float)) and factor == 1:
                term = t
            elif isinstance(factor, (int, float)) and factor == -1:
                term = negative(t)
            else:
                term = multiply(t, factor)
            total = term if total is None else add(total, term)
        return None if total is None else broadcast_like(total, y)


_probe_cache: dict = {}


def _probe_dtype(op: OpDef, dtypes):
    """Ask numpy itself for an elementwise op's result dtype (exact promotion rules)."""
    key = (op.name, dtypes, tuple(map(type, dtypes)))  # types: 0 == 0.0 == False as keys
    hit = _probe_cache.get(key)
    if hit is None:
        args = [d if not isinstance(d, np.dtype) else np.ones((), d) for d in dtypes]
        with np.errstate(all="ignore"):
            hit = np.asarray(op.impl(*args)).dtype
        _probe_cache[key] = hit
    return hit


def _sympy_call(name: str, *args):
    """`sympy="sin"`: the sympy function of that name in ops.sympy_forms or sympy, imported
    on the first call so that importing the op table does not import sympy (0.2 s)."""
    from .sympy_forms import form

    return form(name)(*args)


def elementwise(
    name: str,
    fn: Callable,
    template: str,
    d=(),
    *,
    sympy=None,
    infix=None,
    domain=REAL,
    differentiable=True,
    nin=None,
    vjp=None,
    jvp=None,
    cls=Elementwise,
    public=True,
    **facts,
) -> OpDef:
    """Define and register an elementwise op; `d` may be one callable or one per input.
    `facts` are further `OpDef` fields (`methods=("exp",)`, `commutative=True`, ...); an
    elementwise op is `public` (a `gc` function, parseable) unless `public=False`."""
    if callable(d):
        d = (d,)
    nin = nin if nin is not None else max(len(d), 1)
    fields = dict(
        name=name,
        fn=staticmethod(fn),
        template=template,
        d=tuple(d),
        infix=infix,
        domain=domain,
        differentiable=differentiable,
        nin=nin,
        public=public,
        **facts,
    )
    op = type(f"Op_{name}", (cls,), fields)()
    op.sympy = functools.partial(_sympy_call, sympy) if isinstance(sympy, str) else sympy
    if vjp is not None:
        op.vjp = vjp
    if jvp is not None:
        op.jvp = jvp
    return register(op)
