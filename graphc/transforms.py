"""Function-level helpers built on `grad` and `compile`: `value_and_grad` (JAX-like, traced
and compiled once per input signature) and `check_grad` (reverse mode against central finite
differences).
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

from .autodiff import grad
from .binding import argument_vars, check_args
from .codegen import remember
from .dispatch import checks_call, const, plain_array, var
from .errors import BindError, DTypeError, GradError, GradientCheckError
from .function import compile as compile_graph
from .grad_bisect import (
    central_differences,
    default_eps,
    describe_wrong_vjp,
    eager_gradients,
    first_wrong_vjp,
    three_way,
    worst_entry,
)
from .ir import Symbol


class ValueAndGrad:
    """The callable `gc.value_and_grad(fn, argnums)` returns (see there)."""

    def __init__(self, fn, argnums=0):
        if not callable(fn):
            raise GradError(f"value_and_grad: fn must be callable, got {type(fn).__name__}")
        self._single = isinstance(argnums, (int, np.integer)) and not isinstance(argnums, bool)
        nums = (argnums,) if self._single else argnums
        if (
            not isinstance(nums, tuple)
            or not nums
            or not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in nums)
        ):
            raise GradError(
                f"value_and_grad: argnums must be an int or a non-empty tuple of "
                f"ints, got {argnums!r}"
            )
        self.fn = fn
        self.argnums = tuple(int(i) for i in nums)
        try:
            self._signature = inspect.signature(fn)
        except (TypeError, ValueError):  # builtins without a signature
            self._signature = None
        self._cache: dict = {}
        # (type, shape, dtype) per argument -> compiled, for plain ndarray calls
        self._fast: dict = {}
        self._last = None
        functools.update_wrapper(self, fn)

    def _names(self, nargs: int) -> list[str]:
        """One var name per positional argument: the parameter names (`*args` entries are
        numbered)."""
        names: list[str] = []
        params = [] if self._signature is None else list(self._signature.parameters.values())
        for p in params:
            if len(names) == nargs:
                break
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                names.append(p.name)
            elif p.kind == p.VAR_POSITIONAL:
                names.extend(f"{p.name}{i}" for i in range(nargs - len(names)))
        names.extend(f"arg{i}" for i in range(len(names), nargs))
        return names

    def __call__(self, *args, **kwargs):
        if not kwargs:  # the fast path: arrays of a signature seen before
            try:
                compiled = self._fast[tuple([(a.__class__, a.shape, a.dtype) for a in args])]
            except (AttributeError, KeyError):
                pass
            else:
                self._last = compiled
                results = compiled(*args)
                return results[0], (results[1] if self._single else results[1:])
        return self._call(args, kwargs)

    def _call(self, args, kwargs):
        nargs = len(args)
        for i in self.argnums:
            if not -nargs <= i < nargs:
                raise GradError(
                    f"value_and_grad: argnums {i} is out of range for "
                    f"{nargs} positional argument(s)"
                )
        names = self._names(nargs) + list(kwargs)
        values = list(args) + list(kwargs.values())
        arrays, key = [], []
        for name, value in zip(names, values):
            if getattr(type(value), "_graphc_kind", None) == "eager":
                value = value.numpy()
            arr = plain_array(value)
            if arr.dtype.kind not in "biufc":
                raise DTypeError(
                    f"value_and_grad: argument {name!r} must be a numeric array "
                    f"or number, got {type(value).__name__}"
                )
            arrays.append(arr)
            key.append((name, arr.shape, arr.dtype.str))
        key = tuple(key)
        compiled = self._cache.get(key)
        if compiled is None:
            compiled = remember(self._cache, key, self._trace(names, arrays, nargs))
        self._last = compiled
        if not kwargs and all(a is b for a, b in zip(arrays, args)):
            fast_key = tuple((a.__class__, a.shape, a.dtype) for a in arrays)
            remember(self._fast, fast_key, compiled)
        results = compiled(*arrays)
        value, grads = results[0], tuple(results[1:])
        return value, (grads[0] if self._single else grads)

    def _trace(self, names, arrays, nargs):
        """Trace `fn` on vars of these shapes and dtypes; compile value and gradients as
        one program."""
        vars_ = [var(n, shape=a.shape, dtype=a.dtype) for n, a in zip(names, arrays)]
        out = self.fn(*vars_[:nargs], **dict(zip(names[nargs:], vars_[nargs:])))
        if not isinstance(out, Symbol):
            if isinstance(out, (tuple, list, dict)) or np.asarray(out).dtype.kind not in "biufc":
                got = "None" if out is None else f"a {type(out).__name__}"
                raise GradError(
                    f"value_and_grad: {_fn_name(self.fn)} must return a scalar "
                    f"(a gc expression of size 1), got {got}"
                )
            out = const(out)
        if out.shape is not None and int(np.prod(out.shape)) != 1:
            raise GradError(
                f"value_and_grad: {_fn_name(self.fn)} must return a scalar, got shape {out.shape}"
            )
        wrt = [vars_[i] for i in self.argnums]
        grads = grad(out, wrt, simplify=False)
        return compile_graph(vars_, [out] + grads)

    @property
    def source(self) -> str:
        """The emitted source of the program last used."""
        if self._last is None:
            raise GradError("value_and_grad: call the function once to compile it")
        return self._last.source

    def __repr__(self):
        return f"<graphc.value_and_grad of {_fn_name(self.fn)}, argnums={self.argnums}>"


def _fn_name(fn) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


@checks_call
def value_and_grad(fn, argnums=0) -> ValueAndGrad:
    """`fn`'s value and its gradient with respect to the positional argument(s) `argnums`.

    `fn` uses `gc` operations. It is traced once per input signature (shapes and dtypes) on
    vars named after its parameters, and the value and the gradients are compiled into one
    program, which is cached. The gradient is a tuple when `argnums` is a tuple.

    >>> import graphc as gc, numpy as np
    >>> vg = gc.value_and_grad(lambda w, b: gc.sum((w * 2.0 + b) ** 2), argnums=(0, 1))
    >>> value, (dw, db) = vg(np.array([1.0, 2.0]), 0.5)
    >>> float(value), dw.tolist(), float(db)
    (26.5, [10.0, 18.0], 14.0)
    """
    return ValueAndGrad(fn, argnums)


@checks_call
def check_grad(y, wrt, args: dict, eps=None, rtol: float = 1e-5, atol: float = 1e-8) -> float:
    """Compare `gc.grad(y, wrt)` with central finite differences at `args`.

    `y` is a scalar symbol, `wrt` a var, a var name or a list of them, `args` a dict name -> array for
    every argument of `y`. Each entry is perturbed by a step chosen for its dtype (the cube
    root of its machine epsilon, unless `eps` is given). Returns the largest absolute
    difference; raises `GradientCheckError` naming the worst entry when some entry differs
    by more than `atol + rtol * |numeric|`. The error then also says which of the compiled
    gradient, the eager tape's and finite differences agree (`error.agree`, pair -> bool),
    and names the first operation, in execution order, whose VJP disagrees with finite
    differences of that operation alone at the values the forward pass gives it, with the
    user's line (`error.first_wrong_vjp`, a dict; None when every VJP agrees).

    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> gc.check_grad(gc.sum(gc.sin(x) * x), x, {"x": np.linspace(0.1, 1.0, 4)}) < 1e-8
    True
    """
    if not isinstance(y, Symbol):
        raise GradError(f"check_grad: y must be a graphc symbol, got {type(y).__name__}")
    vars_by_name = argument_vars(y)
    wrts = _wrt_vars(wrt, vars_by_name)
    if not isinstance(args, dict):
        raise BindError(
            f"check_grad: args must be a dict name -> array, got {type(args).__name__}"
        )
    for w in wrts:
        vars_by_name.setdefault(w.name, [w])
    names = list(vars_by_name)
    base = [np.array(a) for a in check_args("check_grad", args, vars_by_name)]
    at = {n: a for n, a in zip(names, base)}  # the arrays perturbed in place
    for w in wrts:
        if at[w.name].dtype.kind != "f":
            raise DTypeError(
                f"check_grad: var {w.name!r} is bound to "
                f"{at[w.name].dtype} data; finite differences need "
                f"a real floating array (e.g. {w.name}.astype(float))"
            )
    inputs = [vars_by_name[n][0] for n in names]
    analytic = compile_graph(inputs, [y] + grad(y, wrts, simplify=False))(*base)
    if np.size(analytic[0]) != 1:
        raise GradError(f"check_grad: y must be a scalar, got shape {np.shape(analytic[0])}")
    f = compile_graph(inputs, y)
    found = []  # per var with entries: (largest difference, worst entry)
    numerics = []
    for w, g in zip(wrts, analytic[1:]):
        x0 = at[w.name]
        h = default_eps(x0.dtype) if eps is None else float(eps)
        numerics.append(central_differences(lambda: float(f(*base)), x0, h))
        if x0.size:
            a = np.broadcast_to(np.asarray(g, np.float64), x0.shape)
            found.append(worst_entry(w.name, a, numerics[-1], rtol, atol, h))
    worst = max((entry for _, entry in found), key=lambda entry: entry[0], default=None)
    if worst is not None and not worst[0] <= 1.0:
        _, name, j, av, nv, dv, tv, h = worst
        index = f"[{', '.join(map(str, j))}]" if j else ""
        error = GradientCheckError(
            f"check_grad: d({y.op} output)/d {name}{index}: reverse mode gives {av:.10g}, "
            f"central differences (step {h:.3g}) give {nv:.10g}; the difference {dv:.3g} "
            f"exceeds atol + rtol * |numeric| = {tv:.3g}"
        )
        raise _explained(error, y, wrts, at, analytic[1:], numerics, rtol, atol)
    return max((largest for largest, _ in found), default=0.0)


def _explained(error, y, wrts, at, compiled, numeric, rtol, atol) -> GradientCheckError:
    """`error` with why: the compiled gradient, the eager tape's and finite differences
    compared three ways (`error.agree`: pair -> bool), and the first operation whose VJP
    disagrees with finite differences of it alone (`error.first_wrong_vjp`: a record with
    op, line, input, index, vjp, numeric; None when each agrees)."""
    values = {name: np.array(a) for name, a in at.items()}
    try:
        eager = eager_gradients(y, wrts, values)
    except Exception:  # a graph the tape cannot replay (control flow): two ways only
        eager = None
    error.agree, said = three_way(compiled, numeric, eager, rtol, atol)
    error.first_wrong_vjp = first_wrong_vjp(y, wrts, values, rtol, atol)
    error.args = (f"{error.args[0]}\n{said}\n{describe_wrong_vjp(error.first_wrong_vjp)}",)
    return error


def _wrt_vars(wrt, vars_by_name: dict) -> list[Symbol]:
    """`check_grad`'s wrt (a var, a name, or a list of them) as vars."""
    wrts = [wrt] if isinstance(wrt, (Symbol, str)) else list(wrt)
    for k, w in enumerate(wrts):
        if isinstance(w, str):
            if w not in vars_by_name:
                raise GradError(
                    f"check_grad: the graph has no argument named {w!r}; its "
                    f"arguments are {list(vars_by_name)}"
                )
            wrts[k] = vars_by_name[w][0]
        elif not isinstance(w, Symbol) or w.op != "var":
            raise GradError(
                f"check_grad: wrt must be vars made with gc.var or their names, got {w!r}"
            )
    return wrts
