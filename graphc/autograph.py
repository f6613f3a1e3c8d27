"""`@gc.function`: Python `if`/`while`/`for i in range(...)` on symbols, by an AST rewrite.

The decorated function's own source (`inspect.getsource`) is parsed and each `if`, `while`
and `for ... in range(...)` statement becomes a call of a runtime helper with the statement's
bodies as local functions: the variables a body assigns are its parameters and results (loop
carries are found this way). At run time the helper looks at the condition or bounds: Python
values run the statement as ordinary Python; symbols build `cond`, `while_loop` or
`fori_loop`. Nothing but the rewritten AST of the user's own function is compiled.

The rewrite (`autograph_rewrite`) turns a loop's `break`/`continue` into flag carries and
leaves statements a body cannot leave through a local function (`return`, `yield`, `del`,
...) as they are: a symbolic condition around one raises `GraphcError` naming the line
(Tangent's language fence). The helpers it calls are in `autograph_runtime`.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
import types
import warnings

import numpy as np

from .autograph_rewrite import RUNTIME, TYPE_PARAMS, assigned_names, rewrite
from .autograph_runtime import Runtime, Undefined
from .codegen import remember
from .dispatch import checks_call, plain_array, var
from .errors import GraphcError
from .function import Function
from .ir import Symbol
from .subgraph import flatten, unflatten


class _NoSource(GraphcError):
    """The function's source is not available (defined by `exec` or `python -c`)."""


def convert(fn):
    """The rewritten function (same globals, closure cells and defaults) and its source."""
    if not isinstance(fn, types.FunctionType):
        raise GraphcError(f"@gc.function: expected a Python function, got {type(fn).__name__}")
    try:
        lines, first = inspect.getsourcelines(fn)
        filename = inspect.getsourcefile(fn) or fn.__code__.co_filename
    except (OSError, TypeError) as exc:
        raise _NoSource(f"cannot read the source of {fn.__qualname__}: {exc}") from None
    tree = ast.parse(textwrap.dedent("".join(lines)))
    ast.increment_lineno(tree, first - 1)  # the file's own line numbers, for errors
    fdef = tree.body[0]
    if not isinstance(fdef, ast.FunctionDef):
        raise GraphcError(
            f"{filename}:{first}: @gc.function: expected a def statement "
            "(lambdas and async functions are not converted)"
        )
    fdef.decorator_list = []
    rewrite(fdef)
    freevars = list(fn.__code__.co_freevars)
    factory = ast.FunctionDef(
        name="_gc_factory",
        args=ast.arguments(
            posonlyargs=[],
            args=[ast.arg(arg=n) for n in freevars + [RUNTIME]],
            kwonlyargs=[],
            kw_defaults=[],
            defaults=[],
        ),
        body=[fdef, ast.Return(value=ast.Name(id=fdef.name, ctx=ast.Load()))],
        decorator_list=[],
        returns=None,
        **TYPE_PARAMS,
    )
    module = ast.Module(body=[factory], type_ignores=[])
    ast.copy_location(factory, fdef)
    ast.fix_missing_locations(module)
    code = compile(module, filename, "exec")  # the user's own function, rewritten
    factory_code = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    inner = next(
        c
        for c in factory_code.co_consts
        if isinstance(c, types.CodeType) and c.co_name == fdef.name
    )
    cells = dict(zip(freevars, fn.__closure__ or ()))
    cells[RUNTIME] = types.CellType(Runtime(filename))
    new = types.FunctionType(
        inner,
        fn.__globals__,
        fn.__name__,
        fn.__defaults__,
        tuple(cells[n] for n in inner.co_freevars),
    )
    new.__kwdefaults__ = fn.__kwdefaults__
    new.__qualname__ = fn.__qualname__
    return new, ast.unparse(fdef)


class GraphFunction:
    """A function decorated with `@gc.function` (see `function`)."""

    def __init__(self, fn):
        functools.update_wrapper(self, fn)
        self.python_function = fn
        try:
            self.converted, self.converted_source = convert(fn)
        except _NoSource as exc:
            # Without source (python -c, exec) the function runs unconverted: Python control
            # flow on a symbol then raises the usual "no truth value" error.
            warnings.warn(
                f"@gc.function: {exc}; Python control flow on symbols will not be converted",
                stacklevel=3,
            )
            self.converted, self.converted_source = fn, None
        self._signature = inspect.signature(fn)
        self._cache: dict = {}
        self.last_compiled = None

    def __call__(self, *args, **kwargs):
        leaves = flatten((args, kwargs))[0]
        if any(isinstance(x, Symbol) for x in leaves):
            return _defined(self.converted(*args, **kwargs))
        if any(getattr(type(x), "_graphc_kind", None) == "eager" for x in leaves):
            return self.python_function(*args, **kwargs)
        return self._run(args, kwargs)

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def compiled(self, *args, **kwargs):
        """The `gc.Function` that runs for arguments like these (compiled on first use)."""
        return self._entry(args, kwargs)[0]

    def _entry(self, args, kwargs):
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        items = list(bound.arguments.items())
        flat, tree = flatten([v for _, v in items])
        arrays, key, plan = [], [tree], []
        for leaf in flat:
            if _is_array_like(leaf):
                arr = plain_array(leaf)
                arrays.append(arr)
                key.append((arr.shape, arr.dtype.str))
                plan.append(None)
            else:
                key.append(("static", _static_key(leaf)))
                plan.append(leaf)
        key = tuple(key)
        hit = self._cache.get(key)
        if hit is None:
            names = _leaf_names(items)
            syms, leaves = [], []
            for leaf, static, name in zip(flat, plan, names):
                if static is None and _is_array_like(leaf):
                    arr = np.asarray(leaf)
                    syms.append(var(name, shape=arr.shape, dtype=arr.dtype))
                    leaves.append(syms[-1])
                else:
                    leaves.append(static)
            call_args = unflatten(tree, leaves)
            bound_new = dict(zip([k for k, _ in items], call_args))
            result = _defined(self.converted(**_as_call(self._signature, bound_new)))
            out_leaves, out_tree = flatten(result)
            outs = [x for x in out_leaves if isinstance(x, Symbol)]
            fn = Function(syms, outs)
            hit = remember(self._cache, key, (fn, out_tree, out_leaves))
        self.last_compiled = hit[0]
        return hit[0], hit[1], hit[2], arrays

    def _run(self, args, kwargs):
        fn, out_tree, out_leaves, arrays = self._entry(args, kwargs)
        values = iter(fn(*arrays)) if fn.outputs else iter(())
        results = [next(values) if isinstance(x, Symbol) else x for x in out_leaves]
        return unflatten(out_tree, results)

    @property
    def source(self) -> str:
        """The emitted source of the most recently compiled signature."""
        if self.last_compiled is None:
            raise GraphcError(f"{self.__name__}: not compiled yet; call it with arrays first")
        return self.last_compiled.source


def _defined(result):
    """`result`, unless it holds a variable a converted statement left without a value."""
    for leaf in flatten(result)[0]:
        if isinstance(leaf, Undefined):
            leaf.fail()
    return result


def _is_array_like(x) -> bool:
    return (
        isinstance(x, (np.ndarray, np.generic, bool, int, float, complex))
        and np.asarray(x).dtype.kind in "biufc"
    )


def _static_key(x):
    try:
        hash(x)
        return (type(x).__name__, x)
    except TypeError:
        return ("id", id(x))


def _leaf_names(items) -> list[str]:
    names = []
    for name, value in items:
        count = len(flatten(value)[0])
        names.extend([name] if count == 1 else [f"{name}{k}" for k in range(count)])
    return names


def _as_call(signature, values: dict) -> dict:
    """Keyword arguments for a call, *args and **kwargs spread back out."""
    out = {}
    for name, param in signature.parameters.items():
        if name not in values:
            continue
        if param.kind == param.VAR_POSITIONAL:
            raise GraphcError(
                "@gc.function: functions with *args are not compiled; call them with symbols"
            )
        if param.kind == param.VAR_KEYWORD:
            out.update(values[name])
        else:
            out[name] = values[name]
    return out


@checks_call
def function(fn=None):
    """Decorator: run `fn` as a static graph, converting Python control flow on symbols.

    `if`/`elif`/`else`, `while` and `for i in range(...)` whose conditions or bounds are
    symbolic become `gc.cond`, `gc.while_loop` and `gc.fori_loop` (the variables a body
    assigns are its carries; `break`/`continue` become flags); Python-valued ones run as
    ordinary Python. A `return` inside a converted statement, among others, raises
    `GraphcError` naming the line when the condition is symbolic. Called with symbols
    the function returns symbols; called with numpy arrays it is compiled once per signature
    (shapes and dtypes) and run; called with eager tensors it runs the Python as is.

    >>> import graphc as gc, numpy as np
    >>> @gc.function
    ... def f(a):
    ...     b = a * 2
    ...     while b.norm() < 1000:
    ...         b = b * 2
    ...     return b
    >>> float(f(np.float64(3.0)))
    1536.0
    >>> "while" in f.source
    True
    """
    if fn is None:
        return function
    return GraphFunction(fn)


__all__ = ["function", "GraphFunction", "convert", "assigned_names"]
