"""Binding checks for the MXNet-style surface: argument names, `list_outputs` names,
`infer_shape`/`infer_type`, and the validation of bound arrays, `grad_req` and `args_grad`.

Every check runs before anything is bound or changed, and each error names the argument and
what was expected.
"""

from __future__ import annotations

import difflib

import numpy as np

from .dispatch import numeric_array
from .errors import BindError, DTypeError, ShapeError
from .ir import Symbol, flatten_outputs, merged_var, retype_vars, toposort, var_groups
from .ops.base import fmt_shape

GRAD_REQS = ("write", "add", "null")


# --- names, shapes and types -----------------------------------------------------------


def argument_vars(sym) -> dict[str, list[Symbol]]:
    """name -> the var nodes of that name, in `list_arguments()` order (vars that share a
    name are one argument)."""
    return var_groups(flatten_outputs(sym))


def output_names(sym) -> list[str]:
    """MXNet-style output names: a var's own name, else `<op><k>_output`, k counting the
    nodes of that op in the graph (a named constant or op uses its name: `h_output`)."""
    outputs = flatten_outputs(sym)
    counts: dict[str, int] = {}
    index: dict[int, str] = {}
    outputs = [_shown(o) for o in outputs]
    for node in toposort(outputs):
        if node.op == "var":
            continue
        k = counts.get(node.op, 0)
        counts[node.op] = k + 1
        index[id(node)] = f"{node.op}{k}"
    names = []
    for out in outputs:
        if out.op == "var":
            names.append(out.name)
        elif out.op == "const" and out.attrs.get("name"):
            names.append(f"{out.attrs['name']}_output")
        elif out.name:
            names.append(f"{out.name}_output")
        else:
            names.append(f"{index[id(out)]}_output")
    return names


def internal_outputs(sym) -> list[tuple[str, Symbol]]:
    """(name, node) for every value the graph computes or takes, in the order they are
    computed: the vars, and the ops as `output_names` names them (`tanh0_output`, or
    `h_output` for an op made with `name="h"`). Constants and checks are left out."""
    nodes = [
        n for n in toposort(flatten_outputs(sym)) if n.op != "const" and not n.opdef.transparent
    ]
    return list(zip(output_names(nodes), nodes)) if nodes else []


def _shown(node: Symbol) -> Symbol:
    """The node an output is named after: a check (`checked_grad`) is named for its value."""
    while node.opdef.transparent:
        node = node.inputs[0]
    return node


def _suggest(name: str, names) -> str:
    close = difflib.get_close_matches(name, list(names), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_names(what: str, given, names: list[str]) -> None:
    for name in given:
        if name not in names:
            raise BindError(
                f"{what}: unknown argument {name!r}{_suggest(name, names)}; the "
                f"arguments are {names}"
            )


def declared_type(vars_: list[Symbol]):
    """The merged declared shape and dtype of vars sharing a name."""
    v = merged_var(vars_)
    return v.shape, v.dtype


def shape_tuple(what: str, name: str, value) -> tuple:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in value
    ):
        raise ShapeError(
            f"{what}: the shape of {name!r} must be a tuple of non-negative ints, got {value!r}"
        )
    return tuple(int(d) for d in value)


def _fits(shape, declared) -> bool:
    return declared is None or (
        len(shape) == len(declared) and all(d is None or d == n for d, n in zip(declared, shape))
    )


def _respecialize(sym, shapes: dict, dtypes: dict) -> tuple[dict, list[Symbol]]:
    """Rebuild the graph with vars given (possibly partial) shapes and dtypes; shape and
    dtype errors name the operation and the user's line (raised by `make_node`)."""
    types = {}
    for name, vars_ in argument_vars(sym).items():
        shape, dtype = declared_type(vars_)
        types[name] = (vars_[0], shapes.get(name, shape), dtypes.get(name, dtype))
    return retype_vars(flatten_outputs(sym), types)


def infer_shape(sym, shapes: dict):
    """`(arg_shapes, out_shapes)` in argument/output order (None where unknown)."""
    vars_by_name = argument_vars(sym)
    names = list(vars_by_name)
    check_names("infer_shape", shapes, names)
    given = {}
    for name, value in shapes.items():
        shape = shape_tuple("infer_shape", name, value)
        for v in vars_by_name[name]:
            if not _fits(shape, v.shape):
                raise ShapeError(
                    f"infer_shape: argument {name!r} was declared with shape "
                    f"{fmt_shape(v.shape)} at {v.where()}, got {shape}"
                )
        given[name] = shape
    new_vars, outs = _respecialize(sym, given, {})
    return [new_vars[n].shape for n in names], [o.shape for o in outs]


def _dtype(what: str, name: str, value) -> np.dtype:
    try:
        dt = np.dtype(value)
    except TypeError:
        raise DTypeError(f"{what}: not a dtype for {name!r}: {value!r}") from None
    if dt.kind not in "biufc":
        raise DTypeError(f"{what}: unsupported dtype {dt} for {name!r}")
    return dt


def infer_type(sym, dtypes: dict):
    """`(arg_types, out_types)` in argument/output order (None where unknown)."""
    vars_by_name = argument_vars(sym)
    names = list(vars_by_name)
    check_names("infer_type", dtypes, names)
    given = {}
    for name, value in dtypes.items():
        dt = _dtype("infer_type", name, value)
        for v in vars_by_name[name]:
            if v.dtype is not None and v.dtype != dt:
                raise DTypeError(
                    f"infer_type: argument {name!r} was declared with dtype "
                    f"{v.dtype} at {v.where()}, got {dt}"
                )
        given[name] = dt
    new_vars, outs = _respecialize(sym, {}, given)
    return [new_vars[n].dtype for n in names], [o.dtype for o in outs]


# --- checking arrays --------------------------------------------------------------------


def check_array(what: str, name: str, value, vars_: list[Symbol]) -> np.ndarray:
    """`value` as the array for argument `name`, checked against its declarations `vars_`
    (a name may be declared by several vars), for `bind`, an executor update and a compiled
    function's call alike. An ndarray is kept as is (bound by reference, so its dtype must
    be the declared one); other values (numbers, lists, eager tensors) are converted, to the
    declared dtype if numpy's same-kind casting allows. `what` names the caller in messages.

    >>> import graphc as gc
    >>> check_array("bind", "x", [1, 2], [gc.var("x", dtype="float32")]).dtype
    dtype('float32')
    >>> check_array("bind", "x", np.ones(2), [gc.var("x", shape=(3,))])
    Traceback (most recent call last):
    ...
    graphc.errors.ShapeError: bind: argument 'x': expected shape (3,), got (2,) (declared at ...)
    """
    where = f"{what}: argument {name!r}" if what else f"argument {name!r}"
    arr = _numeric_array(where, value, declared_type(vars_)[1])
    check_declared(where, arr.shape, arr.dtype, vars_)
    return arr


def check_declared(where: str, shape: tuple, dtype: np.dtype, vars_: list[Symbol]) -> None:
    """Raise if an array of `shape` and `dtype` does not fit the declarations `vars_` (the
    errors start with `where` and name the declaring line)."""
    for v in vars_:
        if v.dtype is not None and dtype != v.dtype:
            raise DTypeError(
                f"{where}: expected dtype {v.dtype}, got {dtype} (declared at {v.where()})"
            )
        if not _fits(shape, v.shape):
            raise ShapeError(
                f"{where}: expected shape {fmt_shape(v.shape)}, got {shape} "
                f"(declared at {v.where()})"
            )


def _numeric_array(where: str, value, dtype) -> np.ndarray:
    """`value` as a numeric ndarray: an ndarray as is, anything else converted (to `dtype`
    when that is a same-kind cast)."""
    if isinstance(value, Symbol):
        raise BindError(f"{where} must be an array, got a symbol")
    arr = numeric_array(value, where)  # an np.matrix: a view, still bound by reference
    if (
        not isinstance(value, np.ndarray)
        and dtype is not None
        and arr.dtype != dtype
        and np.can_cast(arr.dtype, dtype, "same_kind")
    ):
        arr = arr.astype(dtype)
    return arr


def check_args(what: str, args, vars_by_name: dict) -> list[np.ndarray]:
    names = list(vars_by_name)
    if isinstance(args, dict):
        check_names(what, args, names)
        missing = [n for n in names if n not in args]
        if missing:
            raise BindError(f"{what}: missing argument(s) {missing}; the arguments are {names}")
        values = [args[n] for n in names]
    elif isinstance(args, (list, tuple)):
        if len(args) != len(names):
            raise BindError(
                f"{what}: got {len(args)} arrays, expected {len(names)}, one per "
                f"argument in list_arguments() order: {names}"
            )
        values = list(args)
    else:
        raise BindError(
            f"{what}: args must be a dict name -> array or a list in "
            f"list_arguments() order, got {type(args).__name__}"
        )
    return [check_array(what, n, val, vars_by_name[n]) for n, val in zip(names, values)]


def is_float_dtype(dtype) -> bool:
    return np.dtype(dtype).kind in "fc"


def check_reqs(what: str, grad_req, names: list[str], arrays: list[np.ndarray]) -> dict:
    """name -> "write"/"add"/"null". A string applies to every floating argument (integer
    ones get "null"); a dict names arguments (the others are "null"), and asking for the
    gradient of an integer argument there is a DTypeError."""
    reqs = {}
    if isinstance(grad_req, str):
        if grad_req not in GRAD_REQS:
            raise BindError(f"{what}: grad_req must be one of {GRAD_REQS}, got {grad_req!r}")
        for n, a in zip(names, arrays):
            reqs[n] = grad_req if is_float_dtype(a.dtype) else "null"
        return reqs
    if not isinstance(grad_req, dict):
        raise BindError(
            f"{what}: grad_req must be a string or a dict name -> string, got "
            f"{type(grad_req).__name__}"
        )
    check_names(what + " grad_req", grad_req, names)
    for n, a in zip(names, arrays):
        req = grad_req.get(n, "null")
        if req not in GRAD_REQS:
            raise BindError(f"{what}: grad_req for {n!r} must be one of {GRAD_REQS}, got {req!r}")
        if req != "null" and not is_float_dtype(a.dtype):
            raise DTypeError(
                f"{what}: argument {n!r} has dtype {a.dtype}; only floating "
                f"arguments have gradients (grad_req {req!r})"
            )
        reqs[n] = req
    return reqs


def check_grads(what: str, args_grad, names, arrays, reqs, explicit: bool) -> dict:
    """name -> gradient array (preallocated by the user, or zeros). With a dict `args_grad`,
    the arguments it leaves out have none, unless a per-name `grad_req` (`explicit`) asks
    for one: then it is allocated."""
    if args_grad is None:
        return {n: np.zeros(a.shape, a.dtype) for n, a in zip(names, arrays) if reqs[n] != "null"}
    if isinstance(args_grad, (list, tuple)):
        if len(args_grad) != len(names):
            raise BindError(
                f"{what}: args_grad has {len(args_grad)} entries, expected "
                f"{len(names)} (one per argument, None for none): {names}"
            )
        args_grad = {n: g for n, g in zip(names, args_grad) if g is not None}
    if not isinstance(args_grad, dict):
        raise BindError(
            f"{what}: args_grad must be a dict name -> array or None, got "
            f"{type(args_grad).__name__}"
        )
    check_names(what + " args_grad", args_grad, names)
    result = {}
    for n, a in zip(names, arrays):
        g = args_grad.get(n)
        if g is None:
            continue
        if not isinstance(g, np.ndarray):
            raise BindError(
                f"{what}: args_grad[{n!r}] must be a numpy array (it is written "
                f"in place), got {type(g).__name__}"
            )
        if not is_float_dtype(a.dtype):
            raise DTypeError(
                f"{what}: argument {n!r} has dtype {a.dtype}; only floating "
                "arguments have gradients"
            )
        if g.shape != a.shape:
            raise ShapeError(
                f"{what}: args_grad[{n!r}] must have the argument's shape {a.shape}, got {g.shape}"
            )
        if g.dtype != a.dtype:
            raise DTypeError(
                f"{what}: args_grad[{n!r}] must have the argument's dtype {a.dtype}, got {g.dtype}"
            )
        if not g.flags.writeable:
            raise BindError(f"{what}: args_grad[{n!r}] is read-only")
        result[n] = g
    if explicit:
        for n, a in zip(names, arrays):
            if n not in result and reqs[n] != "null":
                result[n] = np.zeros(a.shape, a.dtype)
    return result
