"""The Python array API standard's vocabulary (2023.12, https://data-apis.org/array-api/), and
each op's array-API form: the expression the `"array_api"` backend emits for it.

An op's form is derived from its numpy expression (`OpDef.emit`): every `np.<name>` becomes
`xp.<standard name>` (`np.arcsin` -> `xp.asin`, `np.power` -> `xp.pow`, `np.concatenate` ->
`xp.concat`, `np.float64` -> `xp.float64`), `np.shape(x)` becomes `x.shape`. Only numpy
functions whose positional signature the standard keeps are derived (`DERIVED`); an op
whose numpy expression uses anything else writes its own form as the OpDef field
`array_api`: a method `array_api(*names, **attrs)` like `emit` (text with `xp.` calls), a
template like `Elementwise.template` (`"xp.maximum({0}, xp.zeros_like({0}))"`), or
`none("why")` when it has none (`NoForm` is raised, naming why). In a form, `xp` is the
inputs' namespace (`array_api_compat.array_namespace`), `dev` their device, and the helpers of
`graphc.backends.array_api_runtime` may be called. An op whose Python-number inputs must
stay numbers (`eye`'s sizes) sets `array_api_numbers = True`; others are given arrays. Inputs
that are conditions (`where`'s) are listed in `array_api_conditions`: booleans are not cast
to numbers there (elsewhere they are, as numpy promotes them).
"""

from __future__ import annotations

import math
import re

# numpy's name -> the standard's, for the functions the standard renamed.
RENAMES = {
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "arcsinh": "asinh",
    "arccosh": "acosh",
    "arctanh": "atanh",
    "arctan2": "atan2",
    "power": "pow",
    "absolute": "abs",
    "concatenate": "concat",
    "transpose": "permute_dims",
    "outer": "linalg.outer",
    "cross": "linalg.cross",
    "bool_": "bool",
}

# Standard functions called as numpy calls them (positional arguments, the same keywords):
# what `derive` may write. Others (cumulative_sum, sort, flip, ...) take keyword-only
# arguments where numpy takes positional ones: their ops write their forms.
DERIVED = frozenset(
    """abs acos acosh asin asinh atan atan2 atanh ceil cos cosh exp expm1 floor log log1p
    log2 log10 logaddexp pow sign sin sinh sqrt square tan tanh maximum minimum where clip
    zeros_like ones_like broadcast_to reshape concat stack squeeze moveaxis permute_dims
    tile matmul isfinite isnan isinf trunc
    linalg.det linalg.slogdet linalg.eigh linalg.qr linalg.svd linalg.cholesky linalg.inv
    linalg.outer linalg.cross sum mean max min prod""".split()
)
DTYPES = frozenset(
    "bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float32 float64 complex64 "
    "complex128".split()
)
CONSTANTS = frozenset({"nan", "inf", "pi", "e", "newaxis"})

_NP = re.compile(r"\bnp\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)")
_SHAPE = re.compile(r"\bnp\.shape\(([A-Za-z_][A-Za-z0-9_]*)\)")


class NoForm(Exception):
    """An op (or a numpy call in its expression) with no array-API form; the message says
    why (the backend raises it as a `gc.BackendError` naming the op and the user's line)."""


def derive(text: str) -> str:
    """The array-API form of numpy expression `text`, or `NoForm` naming the numpy call the
    standard has no positional equivalent of.

    >>> derive("np.arcsin(x) + np.power(y, x)")
    'xp.asin(x) + xp.pow(y, x)'
    >>> derive("_sum_to(g, np.shape(x))")
    '_sum_to(g, x.shape)'
    >>> derive("np.sinc(x)")
    Traceback (most recent call last):
    ...
    graphc.ops.array_api.NoForm: numpy's np.sinc has no array-API equivalent
    """
    text = _SHAPE.sub(r"\1.shape", text)

    def name(match) -> str:
        numpy_name = match.group(1)
        std = RENAMES.get(numpy_name, numpy_name)
        if std in DERIVED or std in DTYPES or std in CONSTANTS:
            return "xp." + std
        raise NoForm(f"numpy's np.{numpy_name} has no array-API equivalent")

    return _NP.sub(name, text)


class none:  # noqa: N801 - read as a value: `array_api = none("why")`
    """An op's `array_api` field when it has no array-API form: why."""

    def __init__(self, why: str):
        self.why = why


def form(op, names, attrs) -> str:
    """The array-API expression computing `op` from its inputs' expressions `names`."""
    own = getattr(op, "array_api", None)
    if isinstance(own, none):
        raise NoForm(own.why)
    if isinstance(own, str):
        return own.format(*names)
    if own is not None:
        return own(*names, **attrs)
    return derive(op.emit(*names, **attrs))


def axis_kw(axis) -> str:
    """`, axis=...` for an axis attr, nothing for None."""
    return "" if axis is None else f", axis={axis_text(axis)}"


def flat(x: str) -> str:
    return f"xp.reshape({x}, (-1,))"


def astype(x: str, *, dtype) -> str:
    return f"xp.astype({x}, xp.{dtype})"


def transpose(x: str, *, axes) -> str:
    return f"xp.permute_dims({x}, {axes or f'tuple(range({x}.ndim - 1, -1, -1))'})"


def squeeze(x: str, *, axis) -> str:
    if axis is not None:
        return f"xp.squeeze({x}, {axis!r})"
    return f"xp.reshape({x}, tuple(d for d in {x}.shape if d != 1))"


def expand_dims(x: str, *, axis) -> str:
    """One `xp.expand_dims` per new axis (the standard's takes one): the negative ones
    from the end first, then the others from the front."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    order = sorted((a for a in axes if a < 0), reverse=True) + sorted(a for a in axes if a >= 0)
    for a in order:
        x = f"xp.expand_dims({x}, axis={a})"
    return x


def along(x: str, axis: int, start: str, stop: str) -> str:
    """`x[..., start:stop, ...]`: a slice along `axis`."""
    cut = f"{start}:{stop}"
    if axis >= 0:
        return f"{x}[{':, ' * axis}{cut}, ...]"
    return f"{x}[..., {cut}{', :' * (-axis - 1)}]"


def moved_last(x: str, axis1: int, axis2: int) -> str:
    """`x` with axes (axis1, axis2) moved last (where the standard's linalg reads them)."""
    if (axis1, axis2) in ((-2, -1),):
        return x
    return f"xp.moveaxis({x}, ({axis1}, {axis2}), (-2, -1))"


def dtype_text(dtype) -> str:
    """`xp.<name>` of a numpy dtype (the standard's dtype names are numpy's)."""
    return f"xp.{dtype.name}"


def axis_text(axis) -> str:
    """An axis attr (None, an int or a tuple) as source text."""
    return repr(tuple(axis) if isinstance(axis, list) else axis)


def flip(x: str, *, axis) -> str:
    return f"xp.flip({x}{axis_kw(axis)})"


def swapaxes(x: str, *, axis1, axis2) -> str:
    return f"xp.moveaxis({x}, ({axis1}, {axis2}), ({axis2}, {axis1}))"


def roll(x: str, *, shift, axis) -> str:
    return f"xp.roll({x}, {shift!r}{axis_kw(axis)})"


def atleast_2d(x: str) -> str:
    return f"xp.reshape({x}, (1,) * (2 - {x}.ndim) + tuple({x}.shape))"


def repeat(x: str, *, repeats, axis) -> str:
    if axis is None:
        return f"xp.repeat({flat(x)}, {repeats})"
    return f"xp.repeat({x}, {repeats}, axis={axis})"


def split(x: str, *, indices_or_sections, axis, index) -> str:
    """Piece `index` of `np.split(x, indices_or_sections, axis)`: a slice."""
    if isinstance(indices_or_sections, int):
        size = f"{x}.shape[{axis}] // {indices_or_sections}"
        return along(x, axis, f"{index} * ({size})", f"{index + 1} * ({size})")
    bounds = (0, *indices_or_sections, None)
    # numpy's bounds past the end are the end (the standard leaves them unspecified)
    start, stop = (
        b if b in (0, None) else f"min({b}, {x}.shape[{axis}])" for b in bounds[index : index + 2]
    )
    return along(x, axis, str(start), "" if stop is None else stop)


def joined(name: str, xs) -> str:
    """vstack (arrays made 2-D, along axis 0) or hstack (made 1-D, along axis 0 for vectors,
    else 1) of the arrays `xs`."""
    group = f"({', '.join(xs)},)"
    if name == "vstack":
        return f"xp.concat(tuple({atleast_2d('v')} for v in {group}), axis=0)"
    made = "xp.reshape(v, (1,)) if v.ndim == 0 else v"
    return f"xp.concat(tuple({made} for v in {group}), axis=0 if {xs[0]}.ndim <= 1 else 1)"


def norm(x: str, *, ord, axis, keepdims) -> str:
    """np.linalg.norm as the standard's vector_norm or matrix_norm."""
    if isinstance(ord, float) and math.isinf(ord):
        ord_text = "xp.inf" if ord > 0 else "-xp.inf"
    else:
        ord_text = repr(ord)
    rest = ("" if ord is None else f", ord={ord_text}") + (", keepdims=True" if keepdims else "")
    if axis is None and ord is None:
        return f"xp.linalg.vector_norm({x}{rest})"
    if isinstance(axis, int) or (isinstance(axis, tuple) and len(axis) == 1):
        return f"xp.linalg.vector_norm({x}, axis={axis!r}{rest})"
    if axis is None:
        vector, matrix = f"xp.linalg.vector_norm({x}{rest})", f"xp.linalg.matrix_norm({x}{rest})"
        return f"({vector} if {x}.ndim == 1 else {matrix})"
    out = f"xp.linalg.matrix_norm({moved_last(x, *axis)}{rest})"
    return f"xp.moveaxis({out}, (-2, -1), {tuple(axis)!r})" if keepdims else out
