"""The one place that decides what a `gc` function call means, and the leaf nodes.

Symbols among the inputs: build a graph node. Eager tensors: compute and record on the tape
(`graphc.eager` installs the handler). Otherwise: plain numpy, returning numpy values.
This module sits on the op table's core (`ops.base`) and installs `apply` there (an `OpDef`
call), and `make_node`/`dtype_key` into `ir` (rebuild, remake); it also builds the leaves
`var`, `const`, `Group`.
"""

from __future__ import annotations

import numpy as np

from . import ir
from .calls import checks_call  # noqa: F401
from .errors import ArgumentError, DTypeError, GraphcError, ShapeError
from .ir import Symbol, call_mismatch, located, user_origin  # noqa: F401
from .ops import base as ops_base
from .ops.base import OPS, check_size

_eager_handler = None


def set_eager_handler(handler) -> None:
    global _eager_handler
    _eager_handler = handler


class _KindCache(dict):
    """type -> its `_graphc_kind` (None for numpy and Python values): a dict hit is much
    cheaper than a failing `getattr` on `np.ndarray`, and this runs on every `gc` call."""

    def __missing__(self, cls):
        kind = getattr(cls, "_graphc_kind", None)
        if kind is None and issubclass(cls, np.ndarray) and cls is not np.ndarray:
            kind = "ndarray subclass"  # np.matrix, masked arrays: see `plain_array`
        self[cls] = kind
        return kind


_kinds = _KindCache()


def apply(op, inputs: tuple, attrs: dict):
    eager = False
    for x in inputs:
        kind = _kinds[type(x)]
        if kind is None:
            if type(x) in (list, tuple) and _holds_array_object(x):
                return apply(op, tuple(_stacked(x) for x in inputs), attrs)
            continue
        if kind == "symbol":
            return make_node(op, inputs, attrs)
        if kind == "eager":
            eager = True
        elif kind == "ndarray subclass":
            return apply(
                op,
                tuple(plain_array(x) if isinstance(x, np.ndarray) else x for x in inputs),
                attrs,
            )
    if eager:
        return _eager_handler(op, inputs, attrs)
    try:
        return op.impl(*inputs, **attrs)
    except IMPL_ERRORS as exc:
        raise impl_error(op, inputs, attrs, exc) from None


# What an op's numpy implementation raises for operands it cannot take.
IMPL_ERRORS = (GraphcError, ValueError, IndexError, TypeError, ArithmeticError)


def impl_error(op, args, attrs, exc: Exception) -> GraphcError:
    """numpy's complaint about `op` on `args` (eager or plain-numpy mode) as the graphc error
    that the same call on symbols raises: the op's own shape rule words it when it can, else
    numpy's message naming the op and the operands; with the user's line (error path only).
    """
    origin = user_origin()
    if isinstance(exc, GraphcError):
        return type(exc)(located(origin, str(exc)))
    try:
        op.shape(*(tuple(np.shape(a)) for a in args), **attrs)
    except (ShapeError, DTypeError) as rule_exc:
        return type(rule_exc)(located(origin, str(rule_exc)))
    except Exception:  # the rule cannot judge these operands: report numpy's message
        pass
    desc = ", ".join(map(_describe, args))
    cls = DTypeError if isinstance(exc, TypeError) else ShapeError
    return cls(located(origin, f"{op.name}: {exc} (operands: {desc})"))


def _describe(value) -> str:
    """An operand's shape and dtype, or its type when it is no array."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):  # e.g. a ragged list
        return type(value).__name__
    if arr.dtype.kind not in "biufc":
        return type(value).__name__
    return f"{arr.shape} {arr.dtype}"


def _holds_array_object(items) -> bool:
    """A (nested) list or tuple that holds a symbol or an eager tensor."""
    return any(
        _holds_array_object(v) if type(v) in (list, tuple) else _kinds[type(v)] is not None
        for v in items
    )


def _stacked(x):
    """A list or tuple holding symbols or tensors as one array (numpy's reading of a nested
    list as an array argument): `gc.mean([a, b])` is `gc.mean(gc.stack([a, b]))`."""
    if type(x) not in (list, tuple) or not _holds_array_object(x):
        return x
    if not x:
        return x
    return OPS["stack"]([_stacked(v) for v in x])


def plain_array(value) -> np.ndarray:
    """`value` as a plain `np.ndarray`, the only array type graphc computes with.

    An ndarray subclass becomes a plain view of its data (`np.matrix` would make `*` the
    matrix product; in graphc it is elementwise, as for every array); a masked array is
    refused, since dropping its mask would silently change the result.

    >>> import numpy as np
    >>> class Tagged(np.ndarray):
    ...     pass
    >>> a = plain_array(np.arange(2.0).view(Tagged))
    >>> type(a).__name__, a
    ('ndarray', array([0., 1.]))
    """
    if type(value) is np.ndarray:
        return value
    if isinstance(value, np.ma.MaskedArray):
        raise DTypeError(
            "masked arrays are not supported: pass arr.filled(value) or the "
            "unmasked entries instead"
        )
    return np.asarray(value)


def numeric_array(value, what: str) -> np.ndarray:
    """A value given where an array is expected (an array, a number, a list, an eager
    tensor) as a plain numeric `np.ndarray`; `what` names it in the `DTypeError` otherwise.

    >>> numeric_array([1, 2], "head")
    array([1, 2])
    >>> numeric_array("ab", "head")
    Traceback (most recent call last):
    ...
    graphc.errors.DTypeError: head: unsupported dtype <U2
    """
    try:
        arr = plain_array(value)
    except DTypeError:
        raise
    except Exception as exc:
        raise DTypeError(f"{what}: cannot make an array: {exc}") from None
    if arr.dtype.kind not in "biufc":
        raise DTypeError(f"{what}: unsupported dtype {arr.dtype}")
    return arr


def is_weak(value) -> bool:
    """Python numbers are weakly typed, as in numpy: they take the other operand's dtype."""
    return isinstance(value, (bool, int, float, complex)) and not isinstance(value, np.generic)


def exact_number(value):
    """A Python number as the builtin `bool`/`int`/`float`/`complex` holding its value.

    A subclass (an `IntEnum` member, a float with its own `__repr__`) becomes the builtin
    value through the builtin type's own slots, so nothing it overrides is called: the graph
    and the code emitted from it only ever hold exact builtin numbers.

    >>> import enum
    >>> class Two(enum.IntEnum):
    ...     TWO = 2
    >>> v = exact_number(Two.TWO)
    >>> v, type(v)
    (2, <class 'int'>)
    """
    kind = type(value)
    if kind in (bool, int, float, complex):
        return value
    if isinstance(value, int):  # bool cannot be subclassed
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, complex):
        return complex(complex.real.__get__(value), complex.imag.__get__(value))
    raise TypeError(f"exact_number: not a Python number: {kind.__name__}")


@checks_call
def const(value, name: str | None = None) -> Symbol:
    """A constant node; Python numbers stay weakly typed, arrays are copied read-only.

    Operations on symbols make constants of their other operands themselves (`x * 2`);
    `const` is for naming one, or for a graph that is only a constant.

    >>> import graphc as gc, numpy as np
    >>> c = gc.const(np.array([1.0, 2.0]))
    >>> c, c.op
    (<Symbol const([1.0, 2.0]) shape=(2,) dtype=float64>, 'const')
    >>> x = gc.var("x", dtype="float32")
    >>> (x * gc.const(2.0)).dtype, (x * gc.const(np.float64(2.0))).dtype  # weak, strong
    (dtype('float32'), dtype('float64'))
    """
    if isinstance(value, Symbol):
        return value
    if getattr(type(value), "_graphc_kind", None) == "eager":
        raise GraphcError(
            "an eager tensor cannot be used in a symbolic graph; "
            "pass tensor.numpy() to use its value as a constant"
        )
    if is_weak(value):
        stored = exact_number(value)
        arr = np.asarray(stored)
    else:
        if isinstance(value, np.ndarray):
            value = plain_array(value)  # a masked array is refused
        try:
            arr = np.array(value)
        except Exception as exc:  # ragged lists and the like
            raise DTypeError(
                f"const: cannot make an array of {type(value).__name__}: {exc}"
            ) from exc
        if arr.dtype.kind not in "biufc":
            raise DTypeError(f"const: unsupported dtype {arr.dtype} (numbers and booleans only)")
        arr.setflags(write=False)
        stored = arr
    attrs = {"value": stored}
    if name is not None:
        if not isinstance(name, str):
            raise ArgumentError(f"const: name must be a string, got {type(name).__name__}")
        attrs["name"] = name
    return Symbol(OPS["const"], (), attrs, tuple(arr.shape), arr.dtype, origin=user_origin())


@checks_call
def var(name: str, shape=None, dtype=None) -> Symbol:
    """A placeholder bound to data later (MXNet's `sym.var`).

    `shape` is a tuple of ints or None (unknown dims), `dtype` a numpy dtype or None.

    >>> x = var("x", (2, None), "float32")
    >>> x.shape, x.dtype
    ((2, None), dtype('float32'))
    """
    if not isinstance(name, str) or not name:
        raise GraphcError(f"var: name must be a non-empty string, got {name!r}")
    if shape is not None:
        if isinstance(shape, int):
            shape = (shape,)
        if not isinstance(shape, (tuple, list)) or not all(
            d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0)
            for d in shape
        ):
            raise ShapeError(f"var {name!r}: shape must be a tuple of ints or None, got {shape!r}")
        shape = tuple(None if d is None else int(d) for d in shape)
        try:
            check_size(shape, f"var {name!r}")
        except ShapeError as exc:
            raise ShapeError(located(user_origin(), str(exc))) from None
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError as exc:
            raise DTypeError(f"var {name!r}: not a dtype: {dtype!r}") from exc
        if dtype.kind not in "biufc":
            raise DTypeError(f"var {name!r}: unsupported dtype {dtype}")
    return Symbol(OPS["var"], (), {}, shape, dtype, name=name, origin=user_origin())


@checks_call
def Group(symbols) -> Symbol:
    """One symbol with several outputs (MXNet's `Group`).

    >>> x = var("x")
    >>> [s.op for s in Group([x, 2 * x]).inputs]
    ['var', 'multiply']
    """
    return make_node(OPS["group"], tuple(ir.flatten_outputs(ir.as_list(symbols, "Group"))), {})


def dtype_key(sym: Symbol):
    """The dtype as numpy's promotion sees it: weak constants as an example Python value."""
    if sym.op == "const":
        v = sym.attrs["value"]
        if is_weak(v):
            return type(v)(0)
    elif sym.opdef.weak:
        return 0
    elif sym.weak:
        return _WEAK_EXAMPLE.get(sym.dtype.kind, sym.dtype)
    return sym.dtype


_WEAK_EXAMPLE = {"b": False, "i": 0, "u": 0, "f": 0.0, "c": 0j}


def make_node(op, inputs, attrs: dict, name: str | None = None) -> Symbol:
    """Build a node: wrap constants, infer shape and dtype, and record the user's line."""
    syms = tuple(x if isinstance(x, Symbol) else const(x) for x in inputs)
    origin = user_origin()
    try:
        node_type = getattr(op, "node_type", None)
        if node_type is not None:  # a rule that needs the input nodes, not just their types
            shape, dtype = node_type(syms, attrs)
        else:
            shape = op.shape(*(s.shape for s in syms), **attrs)
            dtype = op.dtype(*(dtype_key(s) for s in syms), **attrs)
        check_size(shape, op.name)
    except (ShapeError, DTypeError) as exc:
        raise type(exc)(located(origin, str(exc))) from None
    except TypeError as exc:  # numpy refusing a dtype combination
        raise DTypeError(located(origin, f"{op.name}: {exc}")) from None
    if dtype is not None and not isinstance(dtype, np.dtype):
        # A rule that passed a weak Python number's example value through: a node's dtype
        # is always a numpy dtype (or None).
        dtype = np.result_type(dtype)
    # Python numbers combined by an infix operator stay Python numbers (the emitted code uses
    # Python's operators on them), so the result is weak too: a gradient's implicit head 1.0
    # times a constant does not make a float32 graph float64.
    weak = (
        op.infix is not None
        and dtype is not None
        and bool(syms)
        and all(isinstance(dtype_key(x), (bool, int, float, complex)) for x in syms)
    )
    return Symbol(op, syms, attrs, shape, dtype, name=name, origin=origin, weak=weak)


# The layers below call up through these hooks, installed here (neither imports this module).
ops_base.install_apply(apply)
ir._make_node, ir._dtype_key = make_node, dtype_key
