"""The `"array_api"` backend: a program calling only functions of the Python array API
standard (2023.12) through its inputs' namespace, so that numpy, CuPy, torch, JAX and
array-api-strict arrays run the same program (`array_api_compat.array_namespace`), on
their device. `"cupy"` (`graphc.backends.cupy`) is the same program, requiring CuPy.

Each op's expression is its array-API form (`graphc.ops.array_api`); an op with none
raises `gc.BackendError` when the program is written, naming it and the user's line. What
the standard lacks is written with its functions: erf (`graphc.backends.array_api_erf`),
indexing by integer arrays and masks and its scatter-add gradient
(`graphc.backends.array_api_index`: `take`, and sorting the indices). cond and the loops
(while_loop, fori_loop, scan) are Python blocks over the namespace's arrays: a condition is
read with `bool(array)`, which the standard allows (an eager library computes it there; a
lazy one cannot run them). Python numbers given to a function (the standard takes arrays
there) become arrays of the value's dtype on the arguments' device; constant arrays are
converted once per namespace and device (`_const`). Arguments are kept as the arrays they
are (a torch tensor stays a torch tensor); anything else (numbers, lists) becomes a numpy
array.
"""

from __future__ import annotations

import importlib
import inspect
import re

import numpy as np

from .. import runtime
from ..binding import check_array, check_declared
from ..errors import BackendError, DTypeError
from ..ir import Graph, Symbol, format_origin, rebuild
from ..ops import OPS
from ..ops import array_api as forms
from .base import Backend

# The loops' blocks in the namespace: arrays have no len (their rows are read with `...`:
# the standard indexes all axes), a fori_loop's index is a 0-d array.
CONTROL_TEXTS = {
    "stack": "xp.stack({rows})",
    "stack_or_empty": "xp.stack({rows}) if {name} else "
    "xp.zeros((0, *{carry}.shape), dtype={carry}.dtype, device=dev)",
    "range": "_arange(xp, dev, {lower}, {upper})",
    "length": "{seq}.shape[0]",
    "row": "{seq}[{k}, ...]",
}
# numpy's arithmetic on booleans, which the standard leaves out: the logical functions.
LOGICAL = {
    "multiply": "logical_and",
    "add": "logical_or",
    "maximum": "logical_or",
    "minimum": "logical_and",
}
_IDENT_START = tuple("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")


class ArrayAPI(Backend):
    """Programs over any array-API namespace (see the module docstring).

    >>> import graphc as gc
    >>> x = gc.var("x", shape=(3,))
    >>> f = gc.compile([x], gc.sum(gc.arcsin(x) * 2.0), backend="array_api")
    >>> print(f.source.strip())  # doctest: +NORMALIZE_WHITESPACE
    import array_api_compat
    from graphc.backends.array_api_runtime import ...
    <BLANKLINE>
    def fn(x):
        xp, dev = _namespace(x)
        t1 = xp.asin(x)
        t2 = xp.sum(t1)
        del t1
        t3 = t2 * 2.0
        del t2
        return t3
    """

    name = "array_api"
    scalar_code = False  # its arrays are not numpy's
    packages = ("array_api_compat",)
    extra = "array-api"
    in_place = False

    control_texts = CONTROL_TEXTS

    def lower(self, outputs):
        """A block (cond, a loop, and the blocks in their sub-graphs) reads its constant
        inputs, and its sub-graphs give their constant results, through an identity:
        emitted as their conversion to the namespace (a block reads names, and a loop's
        carries are arrays of the namespace)."""
        return rebuild(outputs, self._lowered)

    def _lowered(self, node, inputs):
        graphs = [k for k, v in node.attrs.items() if isinstance(v, Graph)]
        if not graphs:
            return None
        branches = {k: self._branch(node.attrs[k]) for k in graphs}
        inputs = [_identity(x) if _constant(x) else x for x in inputs]
        if all(branches[k] is node.attrs[k] for k in branches) and all(
            a is b for a, b in zip(inputs, node.inputs)
        ):
            return None
        attrs = {**node.attrs, **branches}
        return Symbol(node.opdef, tuple(inputs), attrs, node.shape, node.dtype, origin=node.origin)

    def _branch(self, graph):
        outputs = [_identity(o) if _constant(o) else o for o in self.lower(list(graph.outputs))]
        if all(a is b for a, b in zip(outputs, graph.outputs)):
            return graph
        return Graph(graph.inputs, outputs)

    def expr(self, node, args):
        if node.op == "const":
            return args[0]
        args = [self._arg(node, i, x, a, args) for i, (x, a) in enumerate(zip(node.inputs, args))]
        if node.dtype is not None and node.dtype.kind == "b" and node.op in LOGICAL:
            return f"xp.{LOGICAL[node.op]}({', '.join(args)})"
        try:
            text = forms.form(node.opdef, args, node.attrs)
        except forms.NoForm as exc:
            raise BackendError(
                f"{format_origin(node.origin)}: {node.op} has no array-API form ({exc}); "
                f"compute it with the numpy backend, or write it with other graphc functions"
            ) from None
        for helper in runtime.HELPERS:
            if helper + "(" in text and helper not in _runtime().HELPERS:
                raise BackendError(
                    f"{format_origin(node.origin)}: {node.op} has no array-API form (its "
                    f"helper {helper} has none); compute it with the numpy backend"
                )
        return text

    def _arg(self, node, i, x, text, args):
        """An input's text: a constant array converted to the arguments' namespace, a Python
        number given to a function (not an operator) as an array, booleans (and integers
        of an elementwise op) cast to the numbers they stand for (numpy promotes them)."""
        if x.op != "const":
            return _promoted(node, i, x, text)
        text = forms.derive(text)  # np.inf, np.nan
        if isinstance(x.attrs["value"], np.ndarray):
            return f"_const(xp, dev, {text})"
        if node.opdef.infix is not None or getattr(node.opdef, "array_api_numbers", False):
            return text
        if node.dtype is not None and node.dtype.kind != "b":
            dtype = forms.dtype_text(node.dtype)
        else:
            other = next((a for a in args if a.startswith(_IDENT_START)), None)
            dtype = f"{other}.dtype" if other else "None"
        return f"xp.asarray({text}, dtype={dtype}, device=dev)"

    def header(self, helpers):
        names = ", ".join(_runtime().HELPERS)
        return [
            "import array_api_compat",
            f"from graphc.backends.array_api_runtime import {names}",
        ]

    def returns(self, results, single):
        """Constant outputs as arrays of the namespace, too."""
        return super().returns([_as_array(r) for r in results], single)

    def standalone(self, program=None):
        """numpy (for the constants), array_api_compat, and the helpers' module itself (with
        the one graphc.runtime function it reads, and the bodies of the sibling modules it
        imports from)."""
        source = _body(_runtime())
        axes_of = inspect.getsource(runtime._axes_of)
        source = source.replace("from ..runtime import _axes_of\n", axes_of)
        lines = source.splitlines(keepends=True)
        for k, line in enumerate(lines):
            sibling = re.match(r"from \.(\w+) import ", line)
            if sibling:
                lines[k] = _body(importlib.import_module(f"{__package__}.{sibling[1]}"))
        source = "".join(lines)
        return ["import numpy as np", source.strip()]

    def helper_sources(self, helpers):
        return []  # all of them are in `standalone`

    def prologue(self, params):
        return [f"xp, dev = _namespace({', '.join(params)})"]

    def check(self, what, name, value, vars_):
        import array_api_compat

        if isinstance(value, np.ndarray) or not array_api_compat.is_array_api_obj(value):
            return check_array(what, name, value, vars_)
        where = f"{what}: argument {name!r}" if what else f"argument {name!r}"
        check_declared(where, tuple(value.shape), numpy_dtype(value.dtype, where), vars_)
        return value

    def bindable(self, what, args):
        """numpy arrays only: an `Executor` holds numpy arrays and writes gradients into
        them; other namespaces' arrays go to `gc.compile`."""
        import array_api_compat

        items = args.items() if isinstance(args, dict) else enumerate(args or ())
        for key, value in items:
            if not isinstance(value, np.ndarray) and array_api_compat.is_array_api_obj(value):
                raise BackendError(
                    f"{what}: argument {key!r} is a {type(value).__module__}."
                    f"{type(value).__name__}: an Executor holds numpy arrays and writes "
                    f"gradients into them in place, so bind(..., backend={self.name!r}) runs "
                    "on numpy arrays only; for other arrays compile the outputs and their "
                    f"gradients: gc.compile(inputs, [y, *gc.grad(y, inputs)], "
                    f"backend={self.name!r})"
                )

    def signature(self, array):
        return type(array), tuple(array.shape), numpy_dtype(array.dtype, "argument")


def _identity(x):
    """`x` read through an identity op (stop_gradient: differentiation is over by now)."""
    return Symbol(OPS["stop_gradient"], (x,), {}, x.shape, x.dtype, origin=x.origin)


def _constant(x, kind=object) -> bool:
    return x.op == "const" and isinstance(x.attrs["value"], kind)


def _as_array(text: str) -> str:
    """An output's text: a constant array or a number as an array of the namespace (a
    constant's own copy: the converted constant is kept for the next calls, and a caller
    may write into what it is given)."""
    if re.fullmatch(r"c\d+", text):
        return f"xp.asarray(_const(xp, dev, {text}), copy=True)"
    if not text.startswith(_IDENT_START):
        return f"xp.asarray({forms.derive(text)}, device=dev)"
    return text


def _promoted(node, i, x, text) -> str:
    """`text` cast to `node`'s dtype when numpy would promote input `i` (booleans to
    numbers, integers to floats in an elementwise op), which the standard does not do."""
    into, have = node.dtype, x.dtype
    if into is None or have is None or into == have or i in node.opdef.nondiff_inputs:
        return text
    if i in getattr(node.opdef, "array_api_conditions", ()):
        return text
    if (have.kind == "b" and into.kind in "iufc") or (
        node.opdef.elementwise and have.kind in "iu" and into.kind in "fc"
    ):
        return f"xp.astype({text}, {forms.dtype_text(into)})"
    return text


def numpy_dtype(dtype, where: str) -> np.dtype:
    """The numpy dtype of an array-API dtype (the standard's names are numpy's).

    >>> numpy_dtype(np.dtype("float32"), "x")
    dtype('float32')
    """
    if isinstance(dtype, np.dtype):
        return dtype
    try:
        return np.dtype(str(dtype).rsplit(".", 1)[-1])
    except TypeError:
        raise DTypeError(f"{where}: unsupported dtype {dtype}") from None


def _body(module) -> str:
    """A module's source without its docstring and `from __future__` line."""
    source = inspect.getsource(module).split('"""', 2)[2]
    return source.replace("from __future__ import annotations\n", "")


def _runtime():
    from . import array_api_runtime

    return array_api_runtime
