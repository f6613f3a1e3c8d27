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
from . import numpy_interop as _numpy_interop  # numpy's functions on graphc values
from .autodiff import grad, jvp
from .jacobians import hessian, jacobian
from .control import cond, fori_loop, scan, while_loop
from .dispatch import Group, const, var
from .errors import (
    BackendError,
    ArgumentError,
    BindError,
    DTypeError,
    GradError,
    GradientCheckError,
    GraphcError,
    GraphcWarning,
    NonFiniteError,
    OutOfBoundsError,
    ParseError,
    SerializationError,
    ShapeError,
    UnsupportedError,
)
from .function import Function, compile
from .ir import Graph, Symbol
from . import simplify  # a callable module: gc.simplify(sym), gc.simplify.PIPELINE
from .cost import cost
from .explanation import explain
from .printing import latex
from .numpy_names import not_supported
from .viz import draw, to_dot, to_networkx
from .executor import Executor
from .transforms import check_grad, value_and_grad
from .diagnostics import check_finite
from .serialize import load, load_json
from . import symbol_methods  # noqa: F401  (installs str(sym), sym.bind, sym.tojson, ...)

__version__ = "0.1.0"


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
    "check_finite",
    "explain",
    "cost",
    "latex",
    "to_networkx",
    "to_dot",
    "draw",
    "not_supported",
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
    "OutOfBoundsError",
    "DTypeError",
    "BackendError",
    "BindError",
    "GradError",
    "GradientCheckError",
    "SerializationError",
    "ParseError",
    "NonFiniteError",
    "GraphcWarning",
    "UnsupportedError",
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


def __getattr__(name: str):
    """`gc.<name>` that does not exist: an `AttributeError` (a `GraphcError` too) saying
    which `gc` function numpy's `name` is, why graphc lacks it, or the nearest names."""
    if name.startswith("__"):
        raise AttributeError(f"module 'graphc' has no attribute {name!r}")
    raise _numpy_interop.missing_attribute(name, __all__)
