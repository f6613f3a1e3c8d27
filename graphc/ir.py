"""The graph IR: immutable `Symbol` nodes, `Graph`, walks and the `rebuild` helper.

A `Symbol` is one node: an operation (`opdef`, an entry of the op table), its `inputs`, its
frozen `attrs`, a static `shape` (a tuple of ints or `None` per dim, or `None` for an unknown
rank) and `dtype` (`None` until data is bound), a `name` (vars only) and the `origin`, the user's
file and line that created it. Hashing is by identity, and `==` builds a comparison node, so
internal code keys dicts by `id()` and never uses `in`/`index` on lists of symbols.
"""

from __future__ import annotations

import contextlib
import inspect
import linecache
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from operator import is_not

from .errors import ArgumentError, DTypeError, GraphcError, ShapeError
from .mixin import ArrayMixin
from .orders import toposort
from .symbol_slots import SLOTS

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))
_origin_override: list[tuple[str, int] | None] = []
# Control flow traces a body by running it once; the nodes made meanwhile are recorded here
# (innermost trace last), so that every other symbol the body reads is a capture.
_creation_logs: list[list] = []


def user_origin() -> tuple[str, int] | None:
    """The (file, line) of the innermost stack frame outside the graphc package."""
    if _origin_override:
        return _origin_override[-1]
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PKG_DIR) and not filename.startswith("<graphc-"):
            return (filename, frame.f_lineno)
        frame = frame.f_back
    return None


@contextlib.contextmanager
def origin_scope(origin: tuple[str, int] | None):
    """Nodes created inside the block get `origin` (derivative nodes get their primal's)."""
    _origin_override.append(origin)
    try:
        yield
    finally:
        _origin_override.pop()


@contextlib.contextmanager
def recording_creations():
    """Yield a list that collects every node created inside the block."""
    log: list = []
    _creation_logs.append(log)
    try:
        yield log
    finally:
        _creation_logs.pop()


class LoadedOrigin(tuple):
    """The (file, line) of a node read from JSON: data that is printed as `file:line`, never
    a file to read (the document may name any file, a device or a FIFO)."""

    __slots__ = ()


def format_origin(origin: tuple[str, int] | None) -> str:
    if origin is None:
        return "<unknown>"
    filename, line = origin
    return f"{filename}:{line}"


def origin_code(origin: tuple[str, int] | None) -> str:
    """The source line at `origin`, stripped; "" for a loaded origin or an unreadable one."""
    if origin is None or isinstance(origin, LoadedOrigin):
        return ""
    filename = origin[0]
    # Only regular files or registered source (an origin made by `user_origin` names a
    # code object's file).
    if filename not in linecache.cache and not os.path.isfile(filename):
        return ""
    return linecache.getline(filename, origin[1]).strip()


def located(origin, message: str) -> str:
    """Prefix an error message with the user's file:line and show the line's code."""
    code = origin_code(origin)
    text = f"{format_origin(origin)}: {message}"
    return f"{text}\n    {code}" if code else text


def call_mismatch(name: str, fn, args: tuple, kwargs: dict) -> ArgumentError | None:
    """An `ArgumentError` saying why `args`/`kwargs` do not fit `fn`'s parameters (Python's
    words, then the expected signature, under the public name `name`), or None if they fit.
    """
    try:
        signature = inspect.signature(fn)
        signature.bind(*args, **kwargs)
    except TypeError as mismatch:
        params = ", ".join(
            str(p.replace(annotation=p.empty)) for p in signature.parameters.values()
        )
        return ArgumentError(
            located(user_origin(), f"{name}(): {mismatch}; expected {name}({params})")
        )
    except ValueError:  # no signature to compare with
        pass
    return None


class Symbol(ArrayMixin):
    """A node of the static graph; build them with `gc.var`, `gc.const` and `gc` functions.

    Immutable, hashed by identity; `==` and `<` build comparison nodes. Its fields (`op`,
    `inputs`, `attrs`, `shape`, `dtype`, `name`) describe the node; `bind`, `eval`,
    `infer_shape`, `tojson` run or save the graph it ends.

    >>> import graphc as gc
    >>> x = gc.var("x", shape=(3,))
    >>> y = gc.sum(x * 2)
    >>> y
    <Symbol sum(2*x) shape=() dtype=?>
    >>> y.eval(x=[1.0, 2.0, 3.0])
    [array(12.)]
    """

    __slots__ = SLOTS  # the fields, with their docstrings
    _graphc_kind = "symbol"

    def __init__(
        self,
        opdef,
        inputs: tuple,
        attrs: dict,
        shape,
        dtype,
        name=None,
        origin=None,
        weak: bool = False,
    ):
        object.__setattr__(self, "opdef", opdef)
        object.__setattr__(self, "op", opdef.name)
        object.__setattr__(self, "inputs", tuple(inputs))
        object.__setattr__(self, "attrs", attrs)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "dtype", dtype)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "origin", origin)
        # Weakly typed like a Python number (promotes as numpy promotes a Python scalar).
        object.__setattr__(self, "weak", weak)
        object.__setattr__(self, "_fixed", 0)
        object.__setattr__(self, "_normal", None)
        if _creation_logs:
            _creation_logs[-1].append(self)

    def __setattr__(self, key, value):
        raise AttributeError(f"graphc symbols are immutable (tried to set {key!r})")

    __hash__ = object.__hash__

    @property
    def ndim(self) -> int | None:
        """The number of dims (`len(shape)`), None when the rank is unknown.

        >>> import graphc as gc
        >>> gc.var("x", shape=(2, 3)).ndim, gc.var("y").ndim
        (2, None)
        """
        return None if self.shape is None else len(self.shape)

    def __bool__(self):
        raise GraphcError(
            f"{self.where()}: a symbolic value has no truth value before data is bound; "
            "use gc.cond or gc.where for data-dependent choices, or decorate the function "
            "with @gc.function to convert Python if/while/for"
        )

    def __len__(self):
        if self.shape is None or not self.shape or self.shape[0] is None:
            raise GraphcError(f"{self.where()}: len() of a symbol needs a known first dimension")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def where(self) -> str:
        """`file:line` of the user code that created this node.

        >>> import graphc as gc
        >>> gc.var("x").where()
        '<doctest ...>:1'
        """
        return format_origin(self.origin)

    # MXNet-style surface: `list_outputs`, `bind`, `eval`, ... are installed by
    # graphc.executor, `tojson`/`save`/pickling by graphc.serialize, `str`/`repr`/LaTeX by
    # graphc.printing, `to_sympy` by graphc.simplify.sympy_bridge (see `install_methods`).
    def list_arguments(self) -> list[str]:
        """The names of the graph's vars, in order of first use (vars that share a name are
        one argument: data is bound by name).

        >>> import graphc as gc
        >>> (gc.var("x") * gc.var("y") + gc.var("x")).list_arguments()
        ['x', 'y']
        """
        return list(var_groups(flatten_outputs(self)))

    # Python protocols. A symbol is immutable, so a copy (shallow or deep) is the symbol itself,
    # as for a tuple; containers of symbols deep-copy without entering graph internals.
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


class Graph:
    """A sub-graph: parameter vars and outputs (control-flow bodies are held as attrs).

    >>> import graphc as gc
    >>> x = gc.var("x", shape=(3,))
    >>> g = gc.Graph([x], [gc.sum(x)])
    >>> g, [n.op for n in g.nodes]
    (lambda x: sum(x), ['var', 'sum'])
    """

    __slots__ = ("inputs", "outputs", "_nodes")

    def __init__(self, inputs: Sequence[Symbol], outputs: Sequence[Symbol]):
        inputs, outputs = as_list(inputs, "Graph: inputs"), as_list(outputs, "Graph: outputs")
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self._nodes = None

    @property
    def nodes(self) -> list[Symbol]:
        if self._nodes is None:
            self._nodes = toposort(self.outputs)
        return self._nodes


def install_methods(cls: type, methods: type) -> None:
    """Attach the functions defined in the class body `methods` to `cls` (`Symbol`, `Graph`).

    A higher layer gives symbols its conveniences this way (graphc.printing: `str`,
    graphc.executor: `bind`, graphc.serialize: `tojson`), as JAX's numpy layer attaches array
    methods to tracers: this module imports none of them. The functions keep their docstrings.

    >>> class _Twice:
    ...     def twice(self):
    ...         'This graph, added to itself.'
    ...         return self + self
    >>> install_methods(Graph, _Twice)
    >>> Graph.twice.__qualname__
    'Graph.twice'
    >>> del Graph.twice
    """
    for name, value in vars(methods).items():
        if name in ("__module__", "__qualname__", "__doc__", "__dict__", "__weakref__"):
            continue
        if hasattr(value, "__qualname__"):
            value.__qualname__ = f"{cls.__name__}.{name}"
        setattr(cls, name, value)


def as_list(items, what: str, expected: str = "a symbol or a list of symbols") -> list:
    """`items` as a list; a value that is not iterable is an `ArgumentError` naming `what`.

    >>> as_list(2.5, "compile: outputs")
    Traceback (most recent call last):
    ...
    graphc.errors.ArgumentError: compile: outputs must be a symbol or a list of symbols, got float
    """
    try:
        return list(items)
    except TypeError:
        if not hasattr(type(items), "__iter__"):
            raise ArgumentError(f"{what} must be {expected}, got {type(items).__name__}") from None
        raise


def flatten_outputs(outputs, what: str = "outputs") -> list[Symbol]:
    """A list of output symbols: a symbol, a Group, or a list/tuple of them."""
    if isinstance(outputs, Symbol):
        outputs = [outputs]
    flat: list[Symbol] = []
    for out in as_list(outputs, what):
        if not isinstance(out, Symbol):
            raise GraphcError(f"outputs must be graphc symbols, got {type(out).__name__}")
        if out.op == "group":
            flat.extend(out.inputs)
        else:
            flat.append(out)
    return flat


def free_vars(outputs: Iterable[Symbol]) -> list[Symbol]:
    """The var nodes reachable from `outputs`, in order of first appearance."""
    return [n for n in toposort(outputs) if n.op == "var"]


def _shape_text(shape) -> str:
    return (
        "?"
        if shape is None
        else "("
        + ", ".join("?" if d is None else str(d) for d in shape)
        + ("," if len(shape) == 1 else "")
        + ")"
    )


def _conflict(a: Symbol, b: Symbol) -> GraphcError | None:
    """The error for two declarations of one name that cannot be one argument, or None."""
    if (
        a.shape is not None
        and b.shape is not None
        and (
            len(a.shape) != len(b.shape)
            or any(p is not None and q is not None and p != q for p, q in zip(a.shape, b.shape))
        )
    ):
        what, cls = (f"shape {_shape_text(a.shape)}", f"shape {_shape_text(b.shape)}"), ShapeError
    elif a.dtype is not None and b.dtype is not None and a.dtype != b.dtype:
        what, cls = (f"dtype {a.dtype}", f"dtype {b.dtype}"), DTypeError
    else:
        return None
    return cls(
        f"var {a.name!r} is declared with {what[0]} at {a.where()} and with {what[1]} "
        f"at {b.where()}: vars with the same name are one argument, so their "
        "declarations must agree"
    )


def _same_dtype(a, b) -> bool:
    # (np.dtype("float64") == None is True, so None is compared by identity)
    return a is b if a is None or b is None else a == b


def merged_var(vars_: Sequence[Symbol]) -> Symbol:
    """The one argument that vars sharing a name stand for, with the most specific of their
    declarations (the first var that has it, else a new var); conflicting declarations (rank,
    a known dim or dtype) raise a ShapeError or DTypeError naming both lines."""
    distinct: list[Symbol] = []
    for v in vars_:
        if any(v.shape == d.shape and _same_dtype(v.dtype, d.dtype) for d in distinct):
            continue
        for d in distinct:
            error = _conflict(d, v)
            if error is not None:
                raise error
        distinct.append(v)
    if len(distinct) == 1:
        return distinct[0]
    shape = next((v.shape for v in distinct if v.shape is not None), None)
    if shape is not None:
        shape = tuple(
            next(
                (v.shape[i] for v in distinct if v.shape is not None and v.shape[i] is not None),
                None,
            )
            for i in range(len(shape))
        )
    dtype = next((v.dtype for v in distinct if v.dtype is not None), None)
    for v in distinct:
        if v.shape == shape and _same_dtype(v.dtype, dtype):
            return v
    first = distinct[0]
    return Symbol(first.opdef, (), {}, shape, dtype, name=first.name, origin=first.origin)


def var_groups(outputs: Iterable[Symbol], extra: Sequence[Symbol] = ()) -> dict[str, list]:
    """name -> the vars of that name (`extra` first, then those reachable from `outputs` in
    order of first appearance), checked to be one argument each (see `merged_var`)."""
    groups: dict[str, list[Symbol]] = {}
    for v in list(extra) + free_vars(outputs):
        groups.setdefault(v.name, []).append(v)
    for vs in groups.values():
        if len(vs) > 1:
            merged_var(vs)
    return groups


def unify_vars(outputs: Sequence[Symbol], extra: Sequence[Symbol] = ()):
    """Within a graph a var is its name: `(canon, outputs, memo)` where `canon` maps each
    name to its one var (`merged_var`), `outputs` are rebuilt on those (the same objects when
    each name already has one node) and `memo` maps id(old node) -> new node."""
    groups = var_groups(outputs, extra)
    canon = {name: merged_var(vs) for name, vs in groups.items()}
    memo: dict[int, Symbol] = {}
    if all(all(v is canon[name] for v in vs) for name, vs in groups.items()):
        return canon, list(outputs), memo
    outputs = rebuild(outputs, lambda n, _: canon[n.name] if n.op == "var" else None, memo)
    return canon, outputs, memo


def users(nodes: Sequence[Symbol]) -> dict[int, list[Symbol]]:
    """id(node) -> the nodes (of `nodes`) that use it."""
    result: dict[int, list[Symbol]] = {id(n): [] for n in nodes}
    for node in nodes:
        for x in node.inputs:
            result.setdefault(id(x), []).append(node)
    return result


Rule = Callable[[Symbol, tuple], "Symbol | None"]
# Set it (when debugging rules): a rule whose replacement has another dtype or shape than
# the node it replaces raises (a bug in the rule) instead of being refused quietly.
STRICT_RULES = False


def fits(old: Symbol, new: Symbol) -> bool:
    """Can `new` replace `old`: the same dtype and shape wherever both are known?

    >>> import graphc as gc
    >>> x = gc.var("x", shape=(None, 3), dtype="float64")
    >>> fits(x, gc.var("y", shape=(2, 3))), fits(x, x.astype("float32"))
    (True, False)
    """
    if old.dtype is not None and new.dtype is not None and old.dtype != new.dtype:
        # A Python number (weakly typed) takes the dtype of the arrays it meets: one of the
        # same kind stands for a scalar of any precision.
        weak = isinstance(_dtype_key(new), (bool, int, float, complex))
        if not (weak and new.dtype.kind == old.dtype.kind):
            return False
    a, b = old.shape, new.shape
    if a is None or b is None:
        return True
    return len(a) == len(b) and all(p is None or q is None or p == q for p, q in zip(a, b))


def refuse(rule, node: Symbol, new: Symbol) -> None:
    """A walker refusing `rule`'s replacement `new` of `node` (it does not `fits`): quietly,
    or raising under `STRICT_RULES`."""
    if STRICT_RULES:
        name = getattr(rule, "__name__", repr(rule))
        raise GraphcError(
            f"{node.where()}: internal: rule {name} replaced {node.op} "
            f"(shape {_shape_text(node.shape)}, dtype {node.dtype}) by {new.op} "
            f"(shape {_shape_text(new.shape)}, dtype {new.dtype})"
        )


# Node building needs the op table, a layer above: graphc.dispatch installs its `make_node`
# (shape and dtype inferred again) and `dtype_key` (the dtype as promotion sees it) here.
_make_node: Callable = None  # type: ignore[assignment]
_dtype_key: Callable = None  # type: ignore[assignment]


def _same_types(a: Symbol, b: Symbol) -> bool:
    if a.shape != b.shape:
        return False
    ka, kb = _dtype_key(a), _dtype_key(b)
    return type(ka) is type(kb) and ka == kb


def remake(node: Symbol, inputs: tuple) -> Symbol:
    """`node`'s op on new inputs, with node's origin. When they have the old inputs' shapes
    and dtypes (as seen by promotion), the shape and dtype rules would give the same
    answers: they are skipped."""
    if (
        getattr(node.opdef, "node_type", None) is None
        and len(inputs) == len(node.inputs)
        and all(a is b or _same_types(a, b) for a, b in zip(inputs, node.inputs))
    ):
        return Symbol(
            node.opdef,
            inputs,
            node.attrs,
            node.shape,
            node.dtype,
            name=node.name,
            origin=node.origin,
            weak=node.weak,
        )
    with origin_scope(node.origin):
        return _make_node(node.opdef, inputs, node.attrs, name=node.name)


def rebuild(
    outputs: Sequence[Symbol],
    rule: Rule | None = None,
    memo: dict[int, Symbol] | None = None,
    stop: Iterable[Symbol] = (),
    order: list[Symbol] | None = None,
) -> list[Symbol]:
    """The one graph walker: rebuild the graph bottom-up, where `rule(node, new_inputs)` may
    return a replacement for a node (or None to keep it).

    Iterative (graphs of any depth). Untouched nodes are reused, so the result holds the same
    objects when nothing changed; a rebuilt node keeps its `origin`, and nodes that the rule
    builds take the user line of the node they replace. A replacement must have the node's
    dtype and shape where both are known (`fits`): one that does not is refused (the node is
    kept), or raises under `STRICT_RULES`. `memo` (id(old) -> new) may pre-seed replacements;
    the walk does not enter its nodes, nor the nodes in `stop` (which the rule still sees).
    `order` is `toposort(outputs, stop)`, if the caller has it already.

    >>> import graphc as gc
    >>> x, y = gc.var("x"), gc.var("y")
    >>> print(rebuild([gc.sin(x) + x], lambda n, _: y if n is x else None)[0])
    y + sin(y)
    """
    memo = {} if memo is None else memo
    if order is None:
        if len(outputs) == 1 and all(id(x) in memo for x in outputs[0].inputs):
            order = [outputs[0]]  # (a rewrite settling one new node: no walk needed)
        else:
            order = toposort(outputs, stop=stop, stop_ids=memo or None)
    get = memo.get
    for node in order:
        key = id(node)
        if key in memo:
            continue
        old = node.inputs
        inputs = tuple([get(id(x), x) for x in old]) if old else old
        if rule is not None:
            _origin_override.append(node.origin)
            try:
                new = rule(node, inputs)
                if new is not None and new is not node and not fits(node, new):
                    refuse(rule, node, new)
                    new = None
            finally:
                _origin_override.pop()
            if new is not None:
                memo[key] = new
                continue
        memo[key] = remake(node, inputs) if any(map(is_not, inputs, old)) else node
    return [memo[id(o)] for o in outputs]


def identical(xs: Sequence, ys: Sequence) -> bool:
    """Are `xs` and `ys` the same objects, pairwise (up to the shorter's length)? (Symbols'
    `==` builds a node: compare them by identity.)

    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> identical((x, x), (x, x)), identical((x,), (gc.var("x"),))
    (True, False)
    """
    return not any(map(is_not, xs, ys))


def retype_vars(outputs: Sequence[Symbol], types: dict, free=None) -> tuple[dict, list[Symbol]]:
    """Give vars static types: `types` maps a name to `(var, shape, dtype)`, and every var of
    that name becomes one var of that shape and dtype (`var` itself when it has them, else a
    copy with var's origin). Returns `(name -> var, outputs rebuilt on them)`; shape and dtype
    errors surface here, naming the operation and the user's line. `free`, if given, holds
    every var the outputs read (it saves a walk).

    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> new, outs = retype_vars([gc.sum(x)], {"x": (x, (2, 3), np.dtype("float32"))})
    >>> new["x"].shape, outs[0].dtype
    ((2, 3), dtype('float32'))
    """
    new = {}
    for name, (v, shape, dtype) in types.items():
        if v.shape != shape or not _same_dtype(v.dtype, dtype):
            v = Symbol(v.opdef, (), {}, shape, dtype, name=name, origin=v.origin)
        new[name] = v
    if all(new.get(v.name, v) is v for v in (free_vars(outputs) if free is None else free)):
        return new, list(outputs)  # (the vars had those types: the graph is as it was)
    return new, rebuild(outputs, lambda n, _: new.get(n.name) if n.op == "var" else None)
