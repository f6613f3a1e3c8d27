"""graphc: a symbolic-graph compiler for automatic differentiation.

Declare placeholders, build a static graph, ask for gradients, read the derived expressions
and the emitted numpy code, bind data later.

>>> import graphc as gc
>>> x = gc.var("x")
>>> print(gc.grad(2 * gc.dot(x, x), x))
4*x
"""

from __future__ import annotations

from . import ops as _ops
from .autodiff import grad, hessian, jacobian, jvp
from .control import cond, fori_loop, scan, while_loop
from .dispatch import checks_call, const
from .errors import (
    ArgumentError,
    BindError,
    DTypeError,
    GradError,
    GradientCheckError,
    GraphcError,
    ParseError,
    SerializationError,
    ShapeError,
)
from .function import Function, compile
from .ir import Graph, Symbol
from . import simplify  # a callable module: gc.simplify(sym), gc.simplify.PIPELINE
from .printing import explain, latex
from .viz import draw, to_dot, to_networkx
from .executor import Executor
from .transforms import check_grad, value_and_grad
from .serialize import load, load_json

__version__ = "0.1.0"


@checks_call
def var(name: str, shape=None, dtype=None) -> Symbol:
    """A placeholder bound to data later (MXNet's `sym.var`).

    `shape` is a tuple of ints or None (unknown dims), `dtype` a numpy dtype or None.
    """
    from .dispatch import located
    from .ir import user_origin
    import numpy as np

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
            _ops.base.check_size(shape, f"var {name!r}")
        except ShapeError as exc:
            raise ShapeError(located(user_origin(), str(exc))) from None
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError as exc:
            raise DTypeError(f"var {name!r}: not a dtype: {dtype!r}") from exc
        if dtype.kind not in "biufc":
            raise DTypeError(f"var {name!r}: unsupported dtype {dtype}")
    return Symbol(_ops.OPS["var"], (), {}, shape, dtype, name=name, origin=user_origin())


@checks_call
def Group(symbols) -> Symbol:
    """One symbol with several outputs (MXNet's `Group`)."""
    from .dispatch import make_node
    from .ir import as_list, flatten_outputs

    return make_node(_ops.OPS["group"], tuple(flatten_outputs(as_list(symbols, "Group"))), {})


# Last: `gc.function` is the decorator, not the submodule graphc.function (importing a
# submodule binds its name on the package, so this must follow every such import).
from .autograph import function  # noqa: E402

__all__ = [
    # define
    "var",
    "const",
    "Group",
    "Symbol",
    "Graph",
    # differentiate
    "grad",
    "jvp",
    "jacobian",
    "hessian",
    "simplify",
    "value_and_grad",
    "check_grad",
    # inspect
    "explain",
    "latex",
    "to_networkx",
    "to_dot",
    "draw",
    # compile and run
    "compile",
    "Function",
    "Executor",
    # control flow
    "cond",
    "while_loop",
    "fori_loop",
    "scan",
    "function",
    # save and load
    "load",
    "load_json",
    # errors
    "GraphcError",
    "ArgumentError",
    "ShapeError",
    "DTypeError",
    "BindError",
    "GradError",
    "GradientCheckError",
    "SerializationError",
    "ParseError",
]

# The operations (numpy's names): every public op of the table (`OpDef.public`) is a `gc`
# function, the OpDef itself, listed in `__all__` in alphabetical order after the API above.
# An op registered later (a plugin, a test's temporary op) is added too, and removed with it.
globals().update(_ops.base.public_ops())
__all__.extend(sorted(_ops.base.public_ops()))


def _export(op, added: bool) -> None:
    if not op.public:
        return
    bound = globals().get(op.name)
    if added:
        if bound is not None and bound is not op:
            raise ValueError(f"op {op.name!r}: gc.{op.name} is already {bound!r}")
        globals()[op.name] = op
        if op.name not in __all__:
            __all__.append(op.name)
    elif bound is op:
        del globals()[op.name]
        __all__.remove(op.name)


_ops.base.on_register(_export)
