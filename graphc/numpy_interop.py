"""numpy's functions on graphc values: `np.exp(x)`, `np.sum(x, axis=0)`, `a @ x`, ...

`Symbol` and the eager `Tensor` take part in numpy's protocols (`__array_ufunc__`,
`__array_function__`, graphc.mixin); this module answers them with the `gc` function numpy's
name stands for, so that a numpy call on a symbol builds a node and on an eager tensor
computes and records. Which numpy callable is which op is derived from the op table, never
listed here: an op's name (the public ops and the comparisons), its `methods` and its
`numpy_names`, looked up in `numpy` and `numpy.linalg`; an op added with a numpy name is
reachable from numpy at once. numpy's arguments are matched to the op's by name, numpy's
defaults kept (`np.add.reduce` sums along axis 0).

Ufunc methods: `reduce` and `accumulate` are the op's `reduction` and `accumulation`
(`np.add.reduce` is `sum`, `np.multiply.accumulate` is `cumprod`), `outer` broadcasts the
operands against each other. What graphc does not have raises an `UnsupportedError` naming it,
why (`graphc.numpy_names`) and the nearest supported names: a numpy function without an op,
`ufunc.at` and `reduceat`, an `out=` argument (graphc values are never written in place) and a
keyword the op lacks. Eager tensors that need no gradient (no `requires_grad`, no history) get
numpy's own result on their values instead, a plain array, as PyTorch's tensors do: there is
no derivative to lose.
"""

from __future__ import annotations

import inspect
import math
import sys
import warnings

import numpy as np

from . import mixin
from .errors import ArgumentError, ShapeError, UnknownNameError, UnsupportedError, did_you_mean
from .ir import Symbol
from .numpy_names import ATTRIBUTE_QUERIES, DIFFERENT_MEANING, reason
from .ops.base import OPS, OpDef, on_register

# Where numpy's names are looked up, with the prefix of their qualified names.
NAMESPACES = (("", np), ("linalg.", np.linalg))

_NO_VALUE = getattr(np, "_NoValue", object())  # numpy's "argument not given" default
_table: dict | None = None  # numpy callable -> (qualified name, op); None: to derive again


def _forget(op: OpDef, added: bool) -> None:
    global _table
    _table = None


on_register(_forget)  # an op added or removed changes what numpy's names reach


def op_by_numpy_name() -> dict[str, OpDef]:
    """The op each name stands for, by the op table's facts: the names of the public ops and
    of the comparisons, then the ops' `methods` and `numpy_names` (`var` is `variance`).

    >>> op_by_numpy_name()["amax"]
    <op max>
    """
    names = {op.name: op for op in OPS.values() if op.public or op.comparison}
    for op in OPS.values():
        for name in op.methods + op.numpy_names:
            names.setdefault(name, op)
    return names


def numpy_table() -> dict:
    """Every numpy callable graphc implements: callable -> (its name, qualified within numpy
    as in `graphc.numpy_names`, e.g. "linalg.det"; the op). The names of
    `numpy_names.DIFFERENT_MEANING` are left out (numpy.linalg.trace is not gc.trace).

    >>> import numpy as np
    >>> numpy_table()[np.linalg.det]
    ('linalg.det', <op det>)
    """
    global _table
    if _table is None:
        ops, table = op_by_numpy_name(), {}
        for prefix, module in NAMESPACES:
            for name in dir(module):
                with warnings.catch_warnings():  # a deprecated numpy name warns when read
                    warnings.simplefilter("ignore")
                    obj = getattr(module, name, None)
                op = ops.get(name)
                if op is None or inspect.isclass(obj) or not callable(obj):
                    continue
                if prefix + name not in DIFFERENT_MEANING:
                    table.setdefault(obj, (prefix + name, op))
        _table = table
    return _table


def supported_names() -> list[str]:
    """The qualified numpy names graphc implements, sorted (aliases too: abs and absolute).

    >>> "linalg.det" in supported_names() and "unique" not in supported_names()
    True
    """
    table = numpy_table()
    return sorted(
        prefix + name
        for prefix, module in NAMESPACES
        for name in dir(module)
        if not name.startswith("_") and _lookup(table, getattr(module, name, None))
    )


def _lookup(table: dict, obj):
    try:
        return table.get(obj)
    except TypeError:  # an unhashable attribute
        return None


def unsupported(qualname: str) -> UnsupportedError:
    """The error for numpy function `qualname` ("unique", "fft.fft"): why graphc lacks it,
    where `graphc.numpy_names` says, and the nearest names graphc has."""
    bare = qualname.rsplit(".", 1)[-1]
    why = reason(qualname)
    near = did_you_mean(bare, [n.rsplit(".", 1)[-1] for n in supported_names()])
    because = f": {why}" if why else " (no op in graphc's table has this name)"
    return UnsupportedError(f"numpy.{qualname} is not supported by graphc{because}{near}")


def missing_attribute(name: str, names) -> UnknownNameError:
    """The error for `gc.<name>` that does not exist (`names`: what `gc` has): the `gc`
    function numpy's function of that name is, why graphc lacks it, or the nearest names."""
    hit = _lookup(numpy_table(), getattr(np, name, None))
    if hit is not None and hit[1].public:
        why = f": numpy.{name} is gc.{hit[1].name}"
    elif hit is not None:
        why = f": numpy.{name} is written x {hit[1].infix} y"
    elif reason(name):
        why = f": numpy.{name} is not supported: {reason(name)}"
    else:
        why = did_you_mean(name, names)
    return UnknownNameError(f"gc.{name} does not exist{why}")


# --- numpy's calls as calls of ops -----------------------------------------------------------


def _is_default(value, default) -> bool:
    if value is default:
        return True
    try:
        same = type(value) is type(default) and value == default
    except Exception:  # an array or an odd type: not numpy's default
        return False
    return same is True


def _room(params, op: OpDef, numpys: set) -> float:
    """How many of numpy's arguments the op takes by position: its required parameters
    numpy has no name for (`numpys`: numpy's names), or up to `op.nin` arrays for a
    `*args`."""
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = sum(
        1
        for n, p in params.items()
        if p.kind in positional and p.default is p.empty and n not in numpys
    )
    if any(p.kind is p.VAR_POSITIONAL for p in params.values()):
        return math.inf if op.nin is None else max(op.nin, required)
    return required


def _bound(where: str, signature: inspect.Signature, args, kwargs) -> list:
    """numpy's arguments as (name, value, given, numpy's default, positional) in its
    parameters' order: numpy's defaults filled in, a `*args` spread out, a `**kwargs` as
    keyword arguments."""
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise ArgumentError(f"{where}: {exc}") from None
    given = set(bound.arguments)
    bound.apply_defaults()
    out = []
    for name, value in bound.arguments.items():
        p = signature.parameters[name]
        if p.kind is p.VAR_POSITIONAL:
            out.extend((name, v, True, p.empty, True) for v in value)
        elif p.kind is p.VAR_KEYWORD:
            out.extend((k, v, True, p.empty, False) for k, v in value.items())
        else:
            out.append((name, value, name in given, p.default, p.kind is not p.KEYWORD_ONLY))
    return out


def arguments(where: str, op: OpDef, signature: inspect.Signature, args, kwargs):
    """numpy's call `args, kwargs` of a function with `signature` as op `op`'s call
    `(positional, keywords)`: arguments the op has a parameter of that name for are passed by
    name (with numpy's default when not given), the others fill the op's unnamed positional
    parameters in order; any other argument given must be numpy's default (`order="C"`), else
    an `UnsupportedError` names it. An `out=` is refused: graphc never writes in place.

    >>> import inspect, numpy as np
    >>> arguments("numpy.sum", OPS["sum"], inspect.signature(np.sum), ("x", 0), {})
    (['x'], {'axis': 0})
    """
    params = inspect.signature(op.prepare).parameters
    named = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    bound = _bound(where, signature, args, kwargs)
    room = _room(params, op, {b[0] for b in bound})
    positional, keywords = [], {}
    for name, value, given, default, by_position in bound:
        if value is _NO_VALUE or (name == "out" and value is None):
            continue
        if name == "out":
            raise _out_error(where)
        if name in named:
            keywords[name] = value
        elif given and by_position and len(positional) < room:
            positional.append(value)
        elif given and not _is_default(value, default):
            raise _keyword_error(where, op, name, value)
    return positional, keywords


def _keyword_error(where: str, op: OpDef, name: str, value) -> UnsupportedError:
    params = inspect.signature(op.prepare).parameters.values()
    has = ", ".join(p.name for p in params if p.default is not p.empty) or "none"
    return UnsupportedError(
        f"{where}: the argument {name}={value!r} is not supported by gc.{op.name} "
        f"(its keywords: {has})"
    )


def _out_error(where: str) -> UnsupportedError:
    return UnsupportedError(
        f"{where}: out= is not supported: graphc values are never written in place; assign "
        "the result instead (`a += x` with `a` a numpy array is `a = a + x`)"
    )


def _signature(func) -> inspect.Signature | None:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def _call(where: str, op: OpDef, signature, args, kwargs):
    if signature is None:  # numpy gives none: the arguments as they are
        return op(*args, **kwargs)
    positional, keywords = arguments(where, op, signature, args, kwargs)
    return op(*positional, **keywords)


# numpy's ufunc methods' parameters (numpy passes all but the operands by name).
def _reduce(array, axis=0, dtype=None, out=None, keepdims=False, initial=_NO_VALUE, where=True):
    """`ufunc.reduce`'s parameters."""


def _accumulate(array, axis=0, dtype=None, out=None):
    """`ufunc.accumulate`'s parameters."""


_FOLDS = {
    "reduce": ("reduction", inspect.signature(_reduce)),
    "accumulate": ("accumulation", inspect.signature(_accumulate)),
}


def _fold_names(fact: str, method: str) -> str:
    have = sorted(
        f"numpy.{name}.{method} ({getattr(op, fact)})"
        for obj, (name, op) in numpy_table().items()
        if isinstance(obj, np.ufunc) and getattr(op, fact)
    )
    return ", ".join(have)


def _ufunc(where: str, ufunc: np.ufunc, method: str, inputs, kwargs):
    out = kwargs.get("out")
    if out is not None and any(o is not None for o in (out if isinstance(out, tuple) else [out])):
        raise _out_error(where)
    kwargs = {k: v for k, v in kwargs.items() if k != "out"}
    name, op = numpy_table().get(ufunc, (ufunc.__name__, None))
    if op is None:
        raise unsupported(name)
    if method == "__call__":
        if kwargs:
            raise _keyword_error(where, op, *next(iter(kwargs.items())))
        return op(*inputs)
    if method in _FOLDS:
        fact, signature = _FOLDS[method]
        target = getattr(op, fact)
        if target is None:
            raise UnsupportedError(
                f"{where} is not supported: gc.{op.name} has no {fact} in graphc's op table "
                f"(supported: {_fold_names(fact, method)})"
            )
        return _call(where, OPS[target], signature, inputs, kwargs)
    if method == "outer":
        return _outer(where, op, inputs, kwargs)
    raise UnsupportedError(
        f"{where} is not supported: graphc has ufunc.__call__, reduce, accumulate and outer "
        "(at and reduceat write or gather in place)"
    )


def _rank(x, where: str) -> int:
    shape = x.shape if isinstance(x, mixin.ArrayMixin) else np.shape(x)
    if shape is None:
        raise ShapeError(f"{where}: needs the rank of every operand; declare the var's shape")
    return len(shape)


def _outer(where: str, op: OpDef, inputs, kwargs):
    """`ufunc.outer(a, b)`: `op(a[..., None, ...], b)`, a's axes first, then b's."""
    if kwargs:
        raise _keyword_error(where, op, *next(iter(kwargs.items())))
    a, b = inputs
    ra, rb = _rank(a, where), _rank(b, where)
    if rb:
        a = OPS["expand_dims"](a, tuple(range(ra, ra + rb)))
    return op(a, b)


# --- the protocols -----------------------------------------------------------------------


def _graphc_values(obj):
    """The graphc values in a call's arguments (in lists, tuples and dicts too)."""
    if isinstance(obj, mixin.ArrayMixin):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _graphc_values(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _graphc_values(item)


def _numpy_may_compute(args, kwargs) -> bool:
    """Every graphc value an eager tensor needing no gradient, and none to write to."""
    return not any(
        isinstance(v, Symbol) or v.requires_grad or v.grad_fn is not None
        for v in _graphc_values((args, kwargs))
    ) and not any(True for _ in _graphc_values(kwargs.get("out")))


def _plain(obj):
    """`obj` with eager tensors as numpy arrays (their values)."""
    if isinstance(obj, mixin.ArrayMixin):
        return np.asarray(obj)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(item) for item in obj)
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict):
    """numpy's `__array_ufunc__` for graphc values: the op, or numpy's own result for eager
    tensors that need no gradient when graphc lacks what was asked."""
    where = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    try:
        return _ufunc(where, ufunc, method, inputs, kwargs)
    except UnsupportedError:
        if not _numpy_may_compute(inputs, kwargs):
            raise
    return getattr(ufunc, method)(*_plain(inputs), **_plain(kwargs))


def array_function(func, types, args: tuple, kwargs: dict):
    """numpy's `__array_function__` for graphc values: the op `func` stands for, called with
    numpy's arguments matched to the op's; what graphc lacks raises an `UnsupportedError`,
    except for eager tensors that need no gradient (numpy computes it)."""
    if not all(issubclass(t, (mixin.ArrayMixin, np.ndarray)) for t in types):
        return NotImplemented  # another array library's values: let it answer
    module = getattr(func, "__module__", None) or "numpy"
    qualname = f"{module.removeprefix('numpy').lstrip('.')}.{func.__name__}".lstrip(".")
    where = f"numpy.{qualname}"
    if qualname in ATTRIBUTE_QUERIES:
        return func._implementation(*args, **kwargs)
    try:
        entry = numpy_table().get(func)
        if entry is None:
            raise unsupported(qualname)
        return _call(where, entry[1], _signature(func), args, kwargs)
    except UnsupportedError:
        if not _numpy_may_compute(args, kwargs):
            raise
    return func(*_plain(args), **_plain(kwargs))


mixin.install_numpy(sys.modules[__name__])
