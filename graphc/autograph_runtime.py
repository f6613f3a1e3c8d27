"""The helpers that `@gc.function`'s rewritten code calls: each decides at run time whether a
statement runs as Python (Python-valued condition or bounds) or becomes a control-flow op
(symbolic ones), and carries the statement's variables in and out.
"""

from __future__ import annotations

import numpy as np

from . import ops
from .control import as_int, cond, results
from .dispatch import located
from .errors import DTypeError, GraphcError, ShapeError
from .ir import Symbol
from .ops.control_build import build_fori, build_while, close_bodies, control_node
from .subgraph import Traced, as_symbol, make_param


class Undefined:
    """A variable with no value after a converted statement (assigned only in one branch,
    or only inside a loop): using it raises GraphcError naming the variable and the line."""

    __slots__ = ("name", "where", "why")

    def __init__(self, name: str, where: str = "", why: str = "it is not defined here"):
        self.name, self.where, self.why = name, where, why

    def fail(self, *args, **kwargs):
        raise GraphcError(f"{self.where}: variable {self.name!r} has no value: {self.why}")

    def __repr__(self):
        return f"<undefined {self.name}>"

    __bool__ = __call__ = __getitem__ = __iter__ = __len__ = __float__ = __int__ = fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = fail
    __rtruediv__ = __pow__ = __rpow__ = __matmul__ = __rmatmul__ = __neg__ = __abs__ = fail
    __lt__ = __le__ = __gt__ = __ge__ = __array__ = fail

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        self.fail()


def _numeric(x) -> bool:
    if isinstance(x, (Symbol, bool, int, float, complex, np.generic)):
        return True
    return isinstance(x, np.ndarray) and x.dtype.kind in "biufc"


def _logical(op: str, a, b):
    """`a and b` / `a or b` with a symbolic `a` (numpy's where, so no short cut)."""
    if isinstance(b, (bool, np.bool_)):  # x and True is x, x or True is True, ...
        if bool(b) == (op == "and"):
            return _boolean(a, op)
        return as_symbol(bool(b), f"operand of `{op}`")
    a, b = _boolean(a, op), _boolean(b, op)
    return ops.where(a, b, False) if op == "and" else ops.where(a, True, b)


def _boolean(x, op: str):
    x = as_symbol(x, f"operand of `{op}`")
    if x.dtype is not None and x.dtype != np.bool_:
        raise DTypeError(
            f"`{op}` of symbols needs booleans, got dtype {x.dtype}; compare first (x > 0)"
        )
    return x


class Runtime:
    """Run-time helpers for one converted function (`filename` names its lines)."""

    def __init__(self, filename: str):
        self.filename = filename

    def _where(self, lineno: int) -> str:
        return f"{self.filename}:{lineno}"

    def _origin(self, lineno: int):
        return (self.filename, lineno)

    @staticmethod
    def load(scope: dict, names) -> list:
        """The current values of `names` (Undefined for unbound ones)."""
        return [scope[n] if n in scope else Undefined(n) for n in names]

    # --- conditions -----------------------------------------------------------------
    def python_test(self, test, lineno: int, construct: str):
        """The condition of a statement that cannot be converted: a symbol is an error."""
        if isinstance(test, Symbol):
            raise GraphcError(
                located(
                    self._origin(lineno),
                    f"@gc.function: the condition is "
                    f"symbolic, but a {construct} cannot "
                    "be converted to graph control flow; "
                    "restructure it without that "
                    "statement",
                )
            )
        return test

    def python_range(self, bounds, lineno: int, construct: str):
        if any(isinstance(b, Symbol) for b in bounds):
            self.python_test(
                bounds[0] if isinstance(bounds[0], Symbol) else bounds[-1], lineno, construct
            )
        return range(*(as_int(b) for b in bounds))

    @staticmethod
    def and_(*thunks):
        value = thunks[0]()
        for thunk in thunks[1:]:
            if isinstance(value, Symbol):
                value = _logical("and", value, thunk())
            elif not value:
                return value
            else:
                value = thunk()
        return value

    @staticmethod
    def or_(*thunks):
        value = thunks[0]()
        for thunk in thunks[1:]:
            if isinstance(value, Symbol):
                value = _logical("or", value, thunk())
            elif value:
                return value
            else:
                value = thunk()
        return value

    @staticmethod
    def not_(value):
        if isinstance(value, Symbol):
            return ops.equal(_boolean(value, "not"), False)
        return not value

    def if_exp(self, test, then, other, lineno: int):
        if not isinstance(test, Symbol):
            return then() if test else other()
        return cond(test, lambda: then(), lambda: other())

    # --- statements -----------------------------------------------------------------
    def if_stmt(self, test, true_fn, false_fn, values, names, lineno: int):
        if not isinstance(test, Symbol):
            return true_fn(*values) if test else false_fn(*values)
        origin = self._origin(lineno)
        _check_pred(test, origin, "if")
        sym = [k for k, v in enumerate(values) if isinstance(v, Symbol)]
        params = [make_param(names[k], values[k].shape, values[k].dtype, origin) for k in sym]

        def call(fn):
            args = list(values)
            for k, p in zip(sym, params):
                args[k] = p
            return list(fn(*args))

        traced = [Traced(call, [fn], params) for fn in (true_fn, false_fn)]
        back = {id(p): values[k] for k, p in zip(sym, params)}
        out, keep = [None] * len(names), []
        for k, (a, b) in enumerate(zip(traced[0].result, traced[1].result)):
            if a is b:
                out[k] = back.get(id(a), a)
            elif isinstance(a, Undefined) or isinstance(b, Undefined):
                out[k] = Undefined(
                    names[k],
                    self._where(lineno),
                    f"it is assigned in only one branch of the `if` at line "
                    f"{lineno}, whose condition is symbolic",
                )
            else:
                keep.append(k)
        if not keep:
            return tuple(out)
        res = []
        for mine, other in (
            (traced[0].result, traced[1].result),
            (traced[1].result, traced[0].result),
        ):
            res.append(
                [
                    self._value(
                        mine[k],
                        names[k],
                        lineno,
                        "if",
                        other[k] if isinstance(other[k], Symbol) else None,
                    )
                    for k in keep
                ]
            )
        graphs, caps = close_bodies(traced, res, params, origin)
        node = control_node(
            "cond",
            [test] + [values[k] for k in sym] + caps,
            {"true_fn": graphs[0], "false_fn": graphs[1]},
            origin,
        )
        for k, r in zip(keep, results(node, 0, len(keep))):
            out[k] = r
        return tuple(out)

    def _value(self, value, name, lineno, construct, like=None):
        if isinstance(value, Undefined):
            value.fail()
        if not _numeric(value):
            raise GraphcError(
                located(
                    self._origin(lineno),
                    f"@gc.function: variable {name!r} "
                    f"holds a {type(value).__name__} in "
                    f"the `{construct}` whose condition "
                    "is symbolic; only numbers and "
                    "arrays can flow through graph "
                    "control flow",
                )
            )
        return as_symbol(value, name, self._origin(lineno), like=like)

    def while_stmt(self, cond_fn, body_fn, values, names, lineno: int):
        values = list(values)
        while True:
            test = cond_fn(*values)
            if isinstance(test, Symbol):
                return self._graph_loop(
                    "while", names, values, lineno, cond_fn=cond_fn, body_fn=body_fn
                )
            if not test:
                return tuple(values)
            values = list(body_fn(*values))

    def for_stmt(self, body_fn, bounds, values, names, lineno: int, stop: str = ""):
        """`for i in range(*bounds)`; `stop` names the flag a lowered `break` sets."""
        if not any(isinstance(b, Symbol) for b in bounds):
            index = Undefined("loop variable", self._where(lineno), "the range was empty")
            values = list(values)
            flag = names.index(stop) if stop else None
            for index in range(*(as_int(b) for b in bounds)):
                values = list(body_fn(index, *values))
                if flag is not None and values[flag] is True:
                    break
            return (index,) + tuple(values)
        if len(bounds) == 3 and not (
            isinstance(bounds[2], (int, np.integer))
            and not isinstance(bounds[2], bool)
            and bounds[2] == 1
        ):
            raise GraphcError(
                located(
                    self._origin(lineno),
                    "@gc.function: a `for` over a symbolic range needs step 1",
                )
            )
        lower, upper = (0, bounds[0]) if len(bounds) == 1 else bounds[:2]
        out = self._graph_loop(
            "for", names, list(values), lineno, body_fn=body_fn, bounds=(lower, upper)
        )
        index = Undefined(
            "loop variable",
            self._where(lineno),
            f"the `for` at line {lineno} ran over a symbolic range",
        )
        return (index,) + out

    def _graph_loop(self, kind, names, values, lineno, cond_fn=None, body_fn=None, bounds=None):
        """A while_loop/fori_loop over the variables with values (numbers and symbols); the
        rest must pass through the body unchanged (or be loop-local temporaries)."""
        origin = self._origin(lineno)
        carried = [k for k, v in enumerate(values) if _numeric(v)]
        local = [k for k, v in enumerate(values) if isinstance(v, Undefined)]
        init = [values[k] for k in carried]

        def fill(flat):
            args = list(values)
            for k, v in zip(carried, flat):
                args[k] = v
            return args

        def body(*flat):
            if kind == "for":
                index, flat = flat[0], flat[1:]
                outs = list(body_fn(index, *fill(flat)))
            else:
                outs = list(body_fn(*fill(flat)))
            for k, (v, o) in enumerate(zip(values, outs)):
                if k not in carried and k not in local and o is not v:
                    self._value(o, names[k], lineno, kind)  # raises for non-numbers
                    raise GraphcError(
                        located(
                            origin,
                            f"@gc.function: variable {names[k]!r} "
                            f"is assigned in the `{kind}` loop but "
                            "holds no number before it",
                        )
                    )
            return [outs[k] for k in carried]

        carry_names = [names[k] for k in carried]
        for attempt in range(2):
            try:
                if kind == "while":
                    node = build_while(
                        lambda *flat: cond_fn(*fill(flat)), body, init, carry_names, origin
                    )
                else:
                    node = build_fori(
                        bounds[0], bounds[1], body, init, ["i"] + carry_names, origin
                    )
                break
            except DTypeError:
                # A Python number that the loop turns into a float starts as a float.
                promoted = [np.float64(v) if isinstance(v, (bool, int)) else v for v in init]
                if attempt or all(a is b for a, b in zip(promoted, init)):
                    raise
                init = promoted
        finals = results(node, 0, len(carried))
        out = list(values)
        for k, v in zip(carried, finals):
            out[k] = v
        for k in local:
            out[k] = Undefined(
                names[k],
                self._where(lineno),
                f"it is first assigned inside the `{kind}` loop at line "
                f"{lineno}, which became a graph loop; define it before the "
                "loop",
            )
        return tuple(out)


def _check_pred(test: Symbol, origin, what: str) -> None:
    if test.shape is not None and test.shape != ():
        raise ShapeError(
            located(
                origin,
                f"@gc.function: the condition of this `{what}` must "
                f"be a scalar, got shape {test.shape}; use gc.where "
                "for elementwise choices",
            )
        )
    if test.dtype is not None and test.dtype != np.bool_:
        raise DTypeError(
            located(
                origin,
                f"@gc.function: the condition of this `{what}` must "
                f"be boolean, got dtype {test.dtype}",
            )
        )
