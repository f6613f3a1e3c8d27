"""MXNet-style binding: `list_outputs`, `infer_shape`/`infer_type`, `eval`, `bind`,
`simple_bind` and the `Executor`.

A bound executor holds the user's arrays by reference and one `Plan`: the graph specialised to
the bound shapes and dtypes (which is where shape errors surface, before anything runs), and
its emitted programs, compiled lazily and cached per symbol and signature:

- ``forward``: the outputs only (``forward(is_train=False)``, ``sym.eval``);
- ``fused``: outputs and gradients in one program, the heads being the constant 1. Used by
  ``forward(is_train=True)`` when every differentiable output is a scalar (size 1), so that
  ``backward()`` only writes or adds the gradients already computed;
- ``split``: a forward program returning the outputs and the *residuals* (the forward values
  the backward part reads), and a backward program taking the residuals and the heads. Used
  for non-scalar outputs, whose heads `backward(out_grads)` supplies later.

Either way ``forward(is_train=True)`` then ``backward()`` does the forward work once. The
plans and their cache live in graphc.plan.
"""

from __future__ import annotations

import html
import types

import numpy as np

from . import backends
from .binding import (
    argument_vars,
    check_args,
    check_array,
    check_grads,
    check_names,
    check_reqs,
    declared_type,
    infer_shape,
    infer_type,
    output_names,
    shape_tuple,
)
from .dispatch import checks_call
from .errors import BindError, DTypeError, GraphcError, ShapeError
from .heads import check_head, describe_heads, is_entry_list, size_of
from .ir import Symbol
from .ops.base import fmt_shape
from .plan import _PLANS, Plan, plan_for
from .reports import source_html, type_text

__all__ = [
    "Executor",
    "Plan",
    "_PLANS",
    "eval_symbol",
    "infer_shape",
    "infer_type",
    "output_names",
    "simple_bind",
]


def _run(program, args):
    try:
        return program.fn(*args)
    except Exception as exc:
        raise program.annotated(exc) from None


def eval_symbol(sym, args: dict) -> list[np.ndarray]:
    """`sym.eval(**args)`: the outputs as a list of arrays."""
    vars_by_name = argument_vars(sym)
    arrays = check_args("eval", dict(args), vars_by_name)
    plan = plan_for(sym, list(vars_by_name), arrays)
    return _as_outputs(_run(plan.forward(), arrays), arrays)


def _as_outputs(values, arrays) -> list[np.ndarray]:
    """Output arrays; an output that is a bound argument itself is copied, so that changing
    one never changes the other."""
    bound = {id(a) for a in arrays}
    return [np.array(v) if id(v) in bound else np.asarray(v) for v in values]


def simple_bind(sym, grad_req="write", shapes: dict | None = None, backend="numpy") -> Executor:
    """Bind zero arrays of the given shapes (float64 unless a var declares a dtype)."""
    shapes = shapes or {}
    vars_by_name = argument_vars(sym)
    names = list(vars_by_name)
    check_names("simple_bind", shapes, names)
    args = {}
    for name in names:
        declared, dtype = declared_type(vars_by_name[name])
        if name in shapes:
            shape = shape_tuple("simple_bind", name, shapes[name])
        elif declared is not None and None not in declared:
            shape = declared
        else:
            raise BindError(
                f"simple_bind: the shape of argument {name!r} is not known "
                f"(declared {fmt_shape(declared)}); pass {name}=(...)"
            )
        args[name] = np.zeros(shape, dtype if dtype is not None else np.float64)
    return Executor(sym, args, None, grad_req, backend=backend)


class Executor:
    """A graph bound to arrays (MXNet's `Executor`); made by `sym.bind` or `sym.simple_bind`.

    Arrays are held by reference: changing `exe.arg_dict[name][...]` in place changes the
    next `forward`, and gradients are written (or added) in place into `exe.grad_dict`.

    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> exe = (2 * gc.dot(x, x)).bind({"x": np.arange(4.0)})
    >>> exe.forward(is_train=True)[0]
    array(28.)
    >>> exe.backward()
    >>> exe.grad_dict["x"]
    array([ 0.,  4.,  8., 12.])

    An executor pickles as its symbol (JSON, see `Symbol.__reduce__`), its bound and gradient
    arrays and its `grad_req`; unpickling binds again (the last forward's outputs are not
    kept). `copy.copy` binds the same symbol to the same arrays, `copy.deepcopy` to copies.
    """

    @checks_call(name="Executor", skip_self=True)
    def __init__(
        self, sym, args, args_grad=None, grad_req="write", adjoints=None, backend="numpy"
    ):
        if not isinstance(sym, Symbol):
            raise BindError(f"bind: expected a graphc symbol, got {type(sym).__name__}")
        backend = backends.backend(backend)
        backend.bindable("bind", args)
        vars_by_name = argument_vars(sym)
        names = list(vars_by_name)
        arrays = check_args("bind", args, vars_by_name)
        reqs = check_reqs("bind", grad_req, names, arrays)
        grads = check_grads(
            "bind", args_grad, names, arrays, reqs, explicit=isinstance(grad_req, dict)
        )
        # shape and dtype errors of the graph surface here
        plan = plan_for(sym, names, arrays, backend)
        adj = plan.adjoint_names(adjoints)
        # Everything is validated: from here on nothing can fail.
        self._symbol = sym
        self._vars = vars_by_name
        self._names = names
        self._arrays = arrays
        self._arg_dict = dict(zip(names, arrays))
        self._grads = grads
        self._reqs = {n: (r if n in grads else "null") for n, r in reqs.items()}
        self._wrt = tuple(n for n in names if self._reqs[n] != "null")
        self._adj = adj  # internal values whose adjoints backward() keeps
        self._adjoints: dict = {}
        self._plan = plan
        self._outputs = [
            np.zeros(o.shape, o.dtype)
            if o.shape is not None and None not in o.shape and o.dtype is not None
            else None
            for o in plan.outputs
        ]
        self._state = None  # what the last forward(is_train=True) left for backward
        self._fused = None  # see _scalar_heads
        self._diff: list[int] = []

    def __reduce__(self):
        return _load_executor, (
            self._symbol,
            dict(self._arg_dict),
            dict(self._grads),
            dict(self._reqs),
            list(self._adj),
            backends.pickled(self._plan.backend),
        )

    # --- MXNet's attributes ------------------------------------------------------------
    @property
    def arg_dict(self):
        """name -> bound array (a read-only mapping; change the arrays in place: the next
        `forward` reads them).

        >>> import graphc as gc, numpy as np
        >>> args = {"x": np.array([1.0, 2.0]), "w": np.array([3.0, 4.0])}
        >>> exe = gc.sum(gc.var("x") * gc.var("w")).bind(args, {"x": np.zeros(2)})
        >>> exe.arg_dict["w"][:] = [5.0, 6.0]
        >>> exe.forward()
        [array(17.)]
        """
        return types.MappingProxyType(self._arg_dict)

    @property
    def grad_dict(self):
        """name -> gradient array, for the arguments that have one (`args_grad`, or
        `simple_bind`'s zeros); `backward` writes or adds into these arrays.

        >>> import graphc as gc, numpy as np
        >>> args = {"x": np.array([1.0, 2.0]), "w": np.array([3.0, 4.0])}
        >>> exe = gc.sum(gc.var("x") * gc.var("w")).bind(args, {"x": np.zeros(2)})
        >>> exe.backward()
        >>> dict(exe.grad_dict)
        {'x': array([3., 4.])}
        """
        return types.MappingProxyType(self._grads)

    @property
    def adjoint_dict(self):
        """internal output name -> the adjoint of that value after `backward()`: the
        gradient of the (head-weighted) outputs with respect to it, for the values named by
        `bind(..., adjoints=[...])` (by default every op made with `name=`).

        >>> import graphc as gc, numpy as np
        >>> x = gc.var("x")
        >>> h = gc.tanh(x, name="h")
        >>> exe = gc.sum(h * h).bind({"x": np.zeros(2)})
        >>> exe.backward()
        >>> exe.adjoint_dict["h_output"]
        array([0., 0.])
        """
        return types.MappingProxyType(self._adjoints)

    @property
    def arg_arrays(self) -> list[np.ndarray]:
        """The bound arrays, in `list_arguments()` order (the arrays themselves).

        >>> import graphc as gc, numpy as np
        >>> args = {"x": np.array([1.0, 2.0]), "w": np.array([3.0, 4.0])}
        >>> exe = gc.sum(gc.var("x") * gc.var("w")).bind(args, {"x": np.zeros(2)})
        >>> exe.arg_arrays
        [array([1., 2.]), array([3., 4.])]
        """
        return list(self._arrays)

    @property
    def grad_arrays(self) -> list:
        """The gradient arrays, in `list_arguments()` order; None for an argument without.

        >>> import graphc as gc, numpy as np
        >>> args = {"x": np.array([1.0, 2.0]), "w": np.array([3.0, 4.0])}
        >>> exe = gc.sum(gc.var("x") * gc.var("w")).bind(args, {"x": np.zeros(2)})
        >>> exe.grad_arrays
        [array([0., 0.]), None]
        """
        return [self._grads.get(n) for n in self._names]

    @property
    def grad_req(self):
        """name -> how `backward` treats the argument's gradient: "write" (overwrite),
        "add" (accumulate: see `zero_grad`) or "null" (none computed).

        >>> import graphc as gc, numpy as np
        >>> args = {"x": np.array([1.0, 2.0]), "w": np.array([3.0, 4.0])}
        >>> exe = gc.sum(gc.var("x") * gc.var("w")).bind(args, {"x": np.zeros(2)})
        >>> dict(exe.grad_req)
        {'x': 'write', 'w': 'null'}
        """
        return types.MappingProxyType(self._reqs)

    @property
    def outputs(self) -> list:
        """The outputs of the last `forward`, as a list of arrays (zeros before any).

        >>> import graphc as gc, numpy as np
        >>> args = {"x": np.array([1.0, 2.0]), "w": np.array([3.0, 4.0])}
        >>> exe = gc.sum(gc.var("x") * gc.var("w")).bind(args, {"x": np.zeros(2)})
        >>> _ = exe.forward()
        >>> exe.outputs
        [array(11.)]
        """
        return list(self._outputs)

    @property
    def output_dict(self):
        """output name (`list_outputs()`) -> the output of the last `forward`.

        >>> import graphc as gc, numpy as np
        >>> args = {"x": np.array([1.0, 2.0]), "w": np.array([3.0, 4.0])}
        >>> exe = gc.sum(gc.var("x") * gc.var("w")).bind(args, {"x": np.zeros(2)})
        >>> _ = exe.forward()
        >>> exe.output_dict
        {'sum0_output': array(11.)}
        """
        return dict(zip(self._plan.out_names, self._outputs))

    def list_arguments(self) -> list[str]:
        """The argument names, in the symbol's order (`Symbol.list_arguments()`).

        >>> import graphc as gc, numpy as np
        >>> args = {"x": np.array([1.0, 2.0]), "w": np.array([3.0, 4.0])}
        >>> exe = gc.sum(gc.var("x") * gc.var("w")).bind(args, {"x": np.zeros(2)})
        >>> exe.list_arguments()
        ['x', 'w']
        """
        return list(self._names)

    def list_outputs(self) -> list[str]:
        """The output names: a var's own name, else `<op><k>_output` (MXNet's).

        >>> import graphc as gc, numpy as np
        >>> args = {"x": np.array([1.0, 2.0]), "w": np.array([3.0, 4.0])}
        >>> exe = gc.sum(gc.var("x") * gc.var("w")).bind(args, {"x": np.zeros(2)})
        >>> exe.list_outputs()
        ['sum0_output']
        """
        return list(self._plan.out_names)

    def __repr__(self):
        """The bound arguments (type, grad_req), the outputs and the backend.

        >>> import graphc as gc, numpy as np
        >>> x, u = gc.var("x"), gc.var("u")
        >>> gc.sum(x * u).bind({"x": np.ones(3), "u": np.array(2.0)}, grad_req="add")
        <graphc.Executor (x: float64[3] add, u: float64[] add) -> (sum0_output: float64[]), numpy>
        """
        args = ", ".join(
            f"{n}: {type_text(a.shape, a.dtype)} {self._reqs[n]}"
            for n, a in zip(self._names, self._arrays)
        )
        outs = ", ".join(
            f"{name}: {type_text(o.shape, o.dtype)}"
            for name, o in zip(self._plan.out_names, self._plan.outputs)
        )
        return f"<graphc.Executor ({args}) -> ({outs}), {self._plan.backend.name}>"

    def _repr_html_(self):
        """Jupyter shows the repr and the emitted source of the training programs."""
        return f"<p><code>{html.escape(repr(self))}</code></p>{source_html(self.source())}"

    def zero_grad(self) -> None:
        """Set every gradient array to zero, in place (for `grad_req="add"`, which adds each
        `backward` into them).

        >>> import graphc as gc, numpy as np
        >>> exe = gc.sum(gc.var("x") ** 2).bind({"x": np.ones(2)}, grad_req="add")
        >>> _ = exe.forward(is_train=True); exe.backward(); exe.backward()
        >>> exe.grad_dict["x"]
        array([4., 4.])
        >>> exe.zero_grad()
        >>> exe.grad_dict["x"]
        array([0., 0.])
        """
        for g in self._grads.values():
            g[...] = 0

    # --- running -------------------------------------------------------------------------
    def _check_updates(self, what: str, updates: dict) -> list:
        """Validate new values for bound arguments (all of them before any is copied)."""
        check_names(what, updates, self._names)
        checked = []
        for name, value in updates.items():
            dst = self._arg_dict[name]
            src = check_array(what, name, value, self._vars[name])
            if src.shape != dst.shape:
                raise ShapeError(
                    f"{what}: argument {name!r} is bound with shape {dst.shape}, got {src.shape}"
                )
            if src.dtype != dst.dtype and not np.can_cast(src.dtype, dst.dtype, "same_kind"):
                raise DTypeError(
                    f"{what}: argument {name!r} is bound with dtype {dst.dtype};"
                    f" cannot copy {src.dtype} into it"
                )
            if not dst.flags.writeable:
                raise BindError(f"{what}: the array bound to {name!r} is read-only")
            checked.append((dst, src))
        return checked

    def copy_params_from(self, arg_params: dict, allow_extra_params: bool = False) -> None:
        """Copy values into the bound arrays, in place (MXNet's `copy_params_from`).

        `arg_params` maps argument names to arrays of the bound shapes (dtypes cast with
        "same_kind"); a name that is not an argument is an error unless
        `allow_extra_params`. Everything is checked before anything is copied.

        >>> import graphc as gc, numpy as np
        >>> args = {"x": np.array([1.0, 2.0]), "w": np.array([3.0, 4.0])}
        >>> exe = gc.sum(gc.var("x") * gc.var("w")).bind(args, {"x": np.zeros(2)})
        >>> exe.copy_params_from({"w": np.array([5.0, 6.0]), "b": 1.0}, allow_extra_params=True)
        >>> exe.forward()
        [array(17.)]
        """
        if allow_extra_params:
            arg_params = {k: v for k, v in arg_params.items() if k in self._arg_dict}
        for dst, src in self._check_updates("copy_params_from", dict(arg_params)):
            np.copyto(dst, src, casting="same_kind")

    def forward(self, is_train: bool = False, **args) -> list:
        """Compute the outputs (a list, also kept in `exe.outputs`). Keyword arrays are
        first copied into the bound arrays. With `is_train=True` the values `backward`
        needs are kept (and, for scalar outputs, the gradients are computed already).

        >>> import graphc as gc, numpy as np
        >>> args = {"x": np.array([1.0, 2.0]), "w": np.array([3.0, 4.0])}
        >>> exe = gc.sum(gc.var("x") * gc.var("w")).bind(args, {"x": np.zeros(2)})
        >>> exe.forward()
        [array(11.)]
        >>> exe.forward(x=np.array([0.0, 1.0]))  # copied into the bound x first
        [array(4.)]
        """
        for dst, src in self._check_updates("forward", args):
            np.copyto(dst, src, casting="same_kind")
        self._state = None
        if is_train and (self._wrt or self._adj):
            self._train_forward()
        else:
            self._set_outputs(_run(self._plan.forward(), self._arrays))
        return self.outputs

    def _set_outputs(self, values) -> None:
        self._outputs = _as_outputs(values, self._arrays)

    def _scalar_heads(self) -> bool:
        """Is every output a gradient flows from a scalar (so that training is fused)?"""
        if self._fused is None:
            wanted = self._wrt or self._adj
            self._diff = self._plan.differentiable_outputs(self._wrt, self._adj) if wanted else []
            self._fused = all(size_of(self._plan.outputs[k]) == 1 for k in self._diff)
        return self._fused

    def _train_forward(self) -> None:
        n = len(self._plan.outputs)
        if self._scalar_heads():
            program, reached = self._plan.fused(self._wrt, self._adj)
            values = _run(program, self._arrays)
            self._set_outputs(values[:n])
            self._state = ("fused", values[n:], reached)
        else:
            fwd, _, _, _ = self._plan.split(self._wrt, self._adj)
            values = _run(fwd, self._arrays)
            self._set_outputs(values[:n])
            self._state = ("split", values[n:])

    def backward(self, out_grads=None) -> None:
        """Write (grad_req "write") or add ("add") the gradients into `exe.grad_dict`.

        `out_grads` are the heads, one per output (an array for a single output, a list
        otherwise; None entries mean 1 for scalar outputs): the gradient computed is that of
        sum_k sum(output_k * out_grads[k]). They are required for non-scalar outputs.
        Without a preceding `forward(is_train=True)` the forward pass runs first.

        >>> import graphc as gc, numpy as np
        >>> args = {"x": np.array([1.0, 2.0]), "w": np.array([3.0, 4.0])}
        >>> exe = gc.sum(gc.var("x") * gc.var("w")).bind(args, {"x": np.zeros(2)})
        >>> _ = exe.forward(is_train=True)
        >>> exe.backward()
        >>> exe.grad_dict["x"]  # d sum(x * w) / dx = w
        array([3., 4.])
        """
        heads = self._check_heads(out_grads)
        if not (self._wrt or self._adj):
            return
        if self._state is None:
            self._train_forward()
        diff = self._diff
        given = [k for k in diff if heads[k] is not None]
        if self._state[0] == "fused" and not given:
            _, grads, reached = self._state
        elif self._state[0] == "fused" and len(diff) == 1:
            # One scalar output: a VJP is linear in its head, so scale what forward computed.
            _, unit, reached = self._state
            h = heads[diff[0]].reshape(())
            grads = [g * h for g in unit]
        else:
            if self._state[0] == "fused":  # several scalar outputs with given heads
                self._state = None
                fwd = self._plan.split(self._wrt, self._adj)[0]
                self._state = ("split", _run(fwd, self._arrays)[len(self._plan.outputs) :])
            _, bwd, reached, diff = self._plan.split(self._wrt, self._adj)
            head_arrays = [
                heads[k]
                if heads[k] is not None
                else np.ones(self._plan.outputs[k].shape, self._plan.outputs[k].dtype)
                for k in diff
            ]
            grads = _run(bwd, list(self._arrays) + list(self._state[1]) + head_arrays)
        self._write(grads, reached)

    def _write(self, grads, reached) -> None:
        adjoints = grads[len(reached) :]
        self._adjoints = {n: np.asarray(a) for n, a in zip(self._adj, adjoints)}
        done = set()
        for i, g in zip(reached, grads):
            name = self._wrt[i]
            done.add(name)
            dst = self._grads[name]
            if self._reqs[name] == "write":
                np.copyto(dst, g, casting="same_kind")
            else:
                np.add(dst, g, out=dst, casting="same_kind")
        for name in self._wrt:
            if name not in done and self._reqs[name] == "write":
                dst = self._grads[name]
                dst[...] = 0  # an argument the outputs do not depend on

    def _check_heads(self, out_grads) -> list:
        """One checked head array (or None) per output."""
        outs = self._plan.outputs
        if out_grads is None and self._scalar_heads():
            return [None] * len(outs)
        heads = self._head_entries(out_grads)
        self._scalar_heads()
        diff = set(self._diff)
        return [
            check_head(h, out, name, k in diff)
            for k, (h, out, name) in enumerate(zip(heads, outs, self._plan.out_names))
        ]

    def _head_entries(self, out_grads) -> list:
        """`out_grads` as one entry per output: None, a list of them, or a single output's
        head (which may itself be written as a list of numbers)."""
        outs = self._plan.outputs
        n = len(outs)
        if out_grads is None:
            return [None] * n
        if (
            isinstance(out_grads, (list, tuple))
            and len(out_grads) == n
            and (n > 1 or is_entry_list(out_grads, outs[0]))
        ):
            return list(out_grads)
        if n == 1:
            return [out_grads]
        raise BindError(
            f"backward: out_grads must have one entry per output "
            f"{self._plan.out_names}, got {describe_heads(out_grads)}"
        )

    def grad_exprs(self) -> dict:
        """{argument name: gradient symbol} for the arguments with a gradient (`grad_req` not
        "null", reached by the outputs): the values `backward` computes, derived on the
        bound shapes and dtypes and each simplified on its own, so it prints in textbook form
        with no shape-generic step. The gradient of the sum of the outputs when each differentiable
        output is a scalar, else of sum_k sum(output_k * head{k}), the heads being vars.

        >>> import graphc as gc, numpy as np
        >>> A, x = gc.var("A"), gc.var("x")
        >>> exe = (x @ A @ x).bind({"A": np.eye(3), "x": np.ones(3)})
        >>> print(exe.grad_exprs()["x"])
        (A + A.T) @ x
        """
        return dict(self._plan.gradients(self._wrt, self._scalar_heads())) if self._wrt else {}

    def source(self, mode: str = "train") -> str:
        """The emitted source of the programs this executor runs: "forward" (outputs
        only) or "train" (forward(is_train=True) and backward).

        >>> import graphc as gc, numpy as np
        >>> args = {"x": np.array([1.0, 2.0]), "w": np.array([3.0, 4.0])}
        >>> exe = gc.sum(gc.var("x") * gc.var("w")).bind(args, {"x": np.zeros(2)})
        >>> exe.source("forward").splitlines()[2:4]  # sum(x * w) of vectors: a dot product
        ['def fn(x, w):', '    t1 = np.dot(x, w)']
        """
        if mode == "forward" or not (self._wrt or self._adj):
            return self._plan.forward().source
        if mode != "train":
            raise GraphcError(f"source: mode must be 'forward' or 'train', got {mode!r}")
        if self._scalar_heads():
            return self._plan.fused(self._wrt, self._adj)[0].source
        fwd, bwd, _, _ = self._plan.split(self._wrt, self._adj)
        return fwd.source + "\n" + bwd.source


def _load_executor(sym, args, args_grad, grad_req, adjoints=None, backend="numpy") -> Executor:
    """Unpickle (or copy) an `Executor`: bind again, with every check of `bind`."""
    return Executor(sym, args, args_grad, grad_req, adjoints, backend)
