"""`gc.compile` -> `Function`: argument checks, per-signature specialisation and caching.

A call costs a signature lookup plus the emitted statements. The first call with a new
signature (shapes and dtypes) checks the arguments, gives the graph's vars those static
shapes, runs the specialisation and simplification passes, and emits one program.
A function keeps the programs of its last `codegen.SIGNATURE_CACHE` signatures.
"""

from __future__ import annotations

import builtins
import html
from collections.abc import Sequence

from . import backends, codegen
from . import simplify as passes
from .codegen import Program, emit_program, remember
from .dispatch import checks_call
from .errors import BindError, GraphcError
from .finite import raise_nonfinite
from .gc_pause import gc_paused
from .ir import Symbol, as_list, flatten_outputs, free_vars, retype_vars, unify_vars
from .orders import shared_orders, sharing_orders
from .readable import export_text, readable_program
from .reports import (
    ArgType,
    CacheInfo,
    CompileReport,
    Recorder,
    compilation,
    key_signature,
    signature_of,
    source_html,
    type_text,
)
from .serialize import load_json, tojson


def check_inputs(inputs) -> list[Symbol]:
    """The vars a program takes, validated: symbols of op var with distinct names."""
    if isinstance(inputs, Symbol):
        inputs = [inputs]
    inputs = as_list(inputs, "compile: inputs")
    seen = set()
    for v in inputs:
        if not isinstance(v, Symbol) or v.op != "var":
            raise BindError(f"compile: inputs must be vars made with gc.var, got {v!r}")
        if v.name in seen:
            raise BindError(f"compile: two inputs are named {v.name!r}")
        seen.add(v.name)
    return inputs


def check_covered(inputs: Sequence[Symbol], outputs: Sequence[Symbol]) -> None:
    names = {v.name for v in inputs}
    for v in free_vars(outputs):
        if v.name not in names:
            raise BindError(
                f"{v.where()}: the outputs use var {v.name!r}, which is not among "
                f"the inputs {sorted(names)}"
            )


def specialize_graph(inputs, outputs, arrays, unified: bool = False) -> tuple[list, list]:
    """Copies of the vars with the arrays' static shapes and dtypes (anything with numpy's
    `.shape` and `.dtype`), and the outputs rebuilt on them (shape errors surface here,
    naming the user's line). `unified`: the inputs are the only vars the outputs read."""
    types = {v.name: (v, tuple(arr.shape), arr.dtype) for v, arr in zip(inputs, arrays)}
    new, outputs = retype_vars(outputs, types, free=inputs if unified else None)
    return [new[v.name] for v in inputs], outputs


def optimize(
    outputs: Sequence[Symbol], simplify: bool, record: Recorder | None = None
) -> list[Symbol]:
    """Specialise to the static shapes, simplify, and specialise again: simplification may
    prefer forms that read better (`mean(x)`) over ones that run faster on numpy
    (`x.sum() / 6`), and the emitted program should run fast. `record` collects the time
    and operation count of each pass (`Function.report`)."""
    record = Recorder(count=False) if record is None else record
    record.graph(outputs)
    outputs = passes.run(outputs, passes.SPECIALIZE, ctx=record.context())
    if not simplify:
        return outputs
    # One full CSE: values and gradients simplified apart (gc.grad, then gc.compile) share
    # `sin(x)`, `x**2`, ... computed once. First when some outputs are simplified (the
    # gradients) and others not (the loss, whose graph then mostly merges into theirs, and
    # the pipeline does not walk it); last, only if the pipeline changed the graph since.
    merged = None
    if passes.mixed_normal_forms(outputs):
        outputs = merged = record.step("merge into gradients", passes.merge_into_normal, outputs)
    outputs = passes.run(outputs, ctx=record.context())
    outputs = passes.run(outputs, passes.SPECIALIZE, ctx=record.context(" again"))
    if merged is not None and all(a is b for a, b in zip(outputs, merged)):
        return outputs
    return record.step("cse (whole program)", passes.cse, outputs)


class Function:
    """A compiled graph (made by `gc.compile`, which documents its arguments): call it with
    arrays, positionally in the order of its inputs or by var name.

    A call returns one value when the outputs were one symbol, a tuple when they were a list
    (a list of one gives a 1-tuple). It runs the program specialised for the arguments'
    shapes and dtypes, compiling one on the first call with new ones (`cache_info()`);
    `source` is the program's text, `export` writes it as a module, `backend` is the
    backend it was compiled for.

    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> f = gc.compile([x], gc.exp(x) * 2)
    >>> f(np.zeros(2))
    array([2., 2.])
    >>> gc.compile([x], [gc.exp(x) * 2])(x=np.zeros(2))
    (array([2., 2.]),)

    With `debug=True` the program checks every operation's value as it runs and raises
    `gc.NonFiniteError` at the first one with a NaN or an infinity, naming its op, its
    expression and the user's line (the default program has no checks, and costs nothing
    more):

    >>> g = gc.compile([x], gc.log(x) * 2, debug=True)
    >>> with np.errstate(invalid="ignore"):  # numpy's own warning
    ...     g(np.array([1.0, -1.0]))
    Traceback (most recent call last):
    ...
    graphc.errors.NonFiniteError: <doctest ...>:1: the log operation gives nan at 1 of 2 \
entries (first [1]): log(x)
    ...

    `f.cache_info()` tells the calls that found their program and the ones that compiled
    (and why); `f.report()` what the last compilation did (see `graphc.reports`).

    A function pickles as the JSON of its graph (see `gc.load_json`, which validates it on
    the way in) and its settings (the inputs, `simplify`, output names); the unpickled copy
    compiles again on its first call. `copy.copy` and `copy.deepcopy` give the function
    itself (it is immutable).

    >>> import pickle
    >>> pickle.loads(pickle.dumps(f))(np.zeros(2))
    array([2., 2.])
    """

    @checks_call(name="Function", skip_self=True)
    @gc_paused
    def __init__(
        self,
        inputs,
        outputs,
        simplify: bool = True,
        output_names=None,
        debug=False,
        report: bool = False,
        backend="numpy",
    ):
        inputs = check_inputs(inputs)
        self.backend = backends.backend(backend)
        self._single = isinstance(outputs, Symbol) and outputs.op != "group"
        outputs = flatten_outputs(outputs, "compile: outputs")
        with shared_orders():  # (both walk the graph for its vars)
            check_covered(inputs, outputs)
            # A var is its name: one node per name, with the most specific declaration.
            canon, self.outputs, _ = unify_vars(outputs, inputs)
        self._given = outputs  # as the user built them: what a teaching export names
        self.inputs = [canon[v.name] for v in inputs]
        self.simplify = simplify
        self.debug = bool(debug)
        self.output_names = output_names
        self._names = [v.name for v in self.inputs]
        self._nargs = len(self.inputs)
        self._cache: dict = {}
        self._programs: dict = {}
        self._last: Program | None = None
        self._last_graph: tuple | None = None
        self._print_reports = report
        self._report: CompileReport | None = None
        self._hits = 0
        self._history: list = []  # one `Compilation` per compilation, the newest last
        self._compiles = 0

    @checks_call(name="Function", skip_self=True)
    def __new__(cls, inputs, *args, **kwargs):
        n = 1 if isinstance(inputs, Symbol) else len(as_list(inputs, "compile: inputs"))
        return object.__new__(_fast_call_class(n) if cls is Function else cls)

    def __call__(self, *args, **kwargs):
        return self._slow_call(args, kwargs)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        names = None if self.output_names is None else list(self.output_names)
        return _load_function, (
            tojson(self.inputs + self.outputs),
            len(self.inputs),
            self._single,
            self.simplify,
            names,
            self.debug,
            backends.pickled(self.backend),
        )

    def _slow_call(self, args, kwargs):
        """Any call the generated fast path does not take: keywords, conversions, new
        signatures."""
        args = tuple(a for a in args if a is not _NO)
        if kwargs or len(args) != self._nargs:
            args = self._bind_args(args, kwargs)
        arrays, key = self._convert(args)
        program = self._programs.get(key)
        if program is None:
            fn = self._specialize(arrays, key)
        else:
            fn = program.fn
            self._hits += 1
        if self.backend.raw_keys and all(x is a for x, a in zip(arrays, args)):
            # `check` took these arguments as they are: later calls with arguments of the
            # same raw key (what the fast `__call__` looks up) need no check either
            remember(self._cache, _raw_key(arrays), fn)
        try:
            return fn(*arrays)
        except Exception as exc:
            raise self._annotated(exc, fn) from None

    def _bind_args(self, args, kwargs):
        if len(args) > self._nargs:
            raise BindError(f"got {len(args)} arguments, expected {self._nargs}: {self._names}")
        values = dict(zip(self._names, args))
        for name, value in kwargs.items():
            if name not in self._names:
                raise BindError(f"unknown argument {name!r}; the arguments are {self._names}")
            if name in values:
                raise BindError(
                    f"argument {name!r} given twice (by position and by "
                    f"keyword); the arguments are {self._names}"
                )
            values[name] = value
        missing = [n for n in self._names if n not in values]
        if missing:
            raise BindError(f"missing argument(s) {missing}; the arguments are {self._names}")
        return tuple(values[n] for n in self._names)

    def _convert(self, args):
        check = self.backend.check
        arrays = tuple(check("", v.name, a, [v]) for a, v in zip(args, self.inputs))
        return arrays, tuple(x for a in arrays for x in self.backend.signature(a))

    @gc_paused
    @sharing_orders
    def _specialize(self, arrays, key):
        arrays = [ArgType(None, key[3 * i + 1], key[3 * i + 2]) for i in range(len(arrays))]
        sig = signature_of(self._names, arrays)
        self._history = self._history[-_HISTORY:] + [compilation(sig, self._history)]
        self._compiles += 1
        record = Recorder(sig)
        program = self.program_for(arrays, record)
        self._report = record.done(program.source)
        if self._print_reports:
            print(self._report)
        remember(self._programs, key, program)
        kept = {p.fn for p in self._programs.values()}  # raw keys of dropped programs go too
        self._cache = {k: fn for k, fn in self._cache.items() if fn in kept}
        self._last = program
        return program.fn

    def program_for(self, arrays, record: Recorder | None = None) -> Program:
        """The program specialised for arrays like these (anything with numpy's `.shape`
        and `.dtype`), compiled now, without running it or caching it.

        >>> import graphc as gc, numpy as np
        >>> x = gc.var("x")
        >>> f = gc.compile([x], gc.sum(x * x))
        >>> f.program_for([np.ones(3)]).source.splitlines()[2:4]  # sum(x * x): a dot product
        ['def fn(x):', '    t1 = np.dot(x, x)']
        """
        record = Recorder(count=False) if record is None else record
        new_vars, outs = specialize_graph(self.inputs, self.outputs, arrays, unified=True)
        outs = optimize(outs, self.simplify, record)
        self._last_graph = new_vars, outs
        return self._emit(new_vars, outs, record)

    def _emit(self, params, outputs, record: Recorder | None = None, debug=None) -> Program:
        """The program of `outputs`, with the checks of `debug` (default: `self.debug`)."""
        debug = self.debug if debug is None else debug
        return (record or Recorder(count=False)).step(
            "codegen",
            emit_program,
            params,
            outputs,
            output_names=self.output_names,
            single=self._single,
            check=raise_nonfinite if debug else None,
            emission=self.backend,
        )

    def cache_info(self) -> CacheInfo:
        """Hits, misses and the signatures compiled, each with why it compiled (see
        `graphc.reports.CacheInfo`).

        >>> import graphc as gc, numpy as np
        >>> x = gc.var("x")
        >>> f = gc.compile([x], [gc.sum(x * x)])
        >>> _ = f(np.ones(3)), f(np.ones(3)), f(np.ones(4))
        >>> info = f.cache_info()
        >>> info.hits, info.misses
        (1, 2)
        >>> print(info.compilations[-1])  # doctest: +ELLIPSIS
        x: float64[4]: x changed shape (3,) -> (4,)
        """
        return CacheInfo(
            hits=self._hits,
            misses=self._compiles,
            maxsize=codegen.SIGNATURE_CACHE,
            currsize=len(self._programs),
            signatures=tuple(key_signature(self._names, k) for k in self._programs),
            compilations=tuple(self._history),
        )

    def report(self) -> CompileReport:
        """What the last compilation did: time and operation count after each pass, sympy's
        budget, the program's size (see `graphc.reports.CompileReport`). Before the first
        call, the shape-generic program's.

        >>> import graphc as gc, numpy as np
        >>> x = gc.var("x")
        >>> f = gc.compile([x], gc.exp(x) * 2)
        >>> _ = f(np.zeros(2))
        >>> r = f.report()
        >>> r.lines, r.stages[-1].name, r.budget_ran_out
        (6, 'codegen', False)
        """
        if self._report is None:
            self._generic()
        return self._report

    def _annotated(self, exc: Exception, fn) -> Exception:
        """`exc` raised by the program function `fn`, naming the user's line if it can."""
        program = next((p for p in self._programs.values() if p.fn is fn), None)
        return exc if program is None else program.annotated(exc)

    def _generic(self) -> Program:
        if self._last is None:
            record = Recorder()
            outs = optimize(self.outputs, self.simplify, record)
            self._last = self._emit(self.inputs, outs, record)
            self._report = record.done(self._last.source)
        return self._last

    @property
    def source(self) -> str:
        """The emitted source of the most recently specialised program (or the
        shape-generic one before the first call).

        >>> import graphc as gc, numpy as np
        >>> x = gc.var("x")
        >>> f = gc.compile([x], gc.exp(x) * 2)
        >>> f.source.splitlines()[2:4]
        ['def fn(x):', '    t1 = np.exp(x)']
        """
        return self._generic().source

    def export(self, path, name: str = "fn", readable: bool = False) -> None:
        """Write a standalone module (numpy only) defining `name` with this signature.

        The default module is the fast program (`f.source`). With ``readable=True`` it is
        a teaching program computing the same values (see `graphc.readable`): a comment
        per operation naming its op and the user's line, values named after what they
        are (``dL_dW`` for the gradient of ``L`` with respect to ``W``), constant arrays
        as literals, and no buffer reuse. Either is the program of the most recent call's
        shapes (the shape-generic one before any call).

        >>> import graphc as gc, numpy as np, os, runpy, tempfile
        >>> W = gc.var("W")
        >>> L = gc.sum(gc.tanh(W * np.array([1.0, 2.0])), name="L")
        >>> f = gc.compile([W], [L, gc.grad(L, W)])
        >>> path = os.path.join(tempfile.mkdtemp(), "teach.py")
        >>> f.export(path, readable=True)
        >>> print(open(path).read(), end="")  # doctest: +ELLIPSIS
        # Generated by graphc: a teaching program (numpy only).
        ...
        c0 = np.array([1.0, 2.0], dtype=np.float64)
        <BLANKLINE>
        def fn(W):
            # multiply at <doctest ...>:1
            multiply_1 = W * c0
            # tanh at <doctest ...>:1
            tanh_1 = np.tanh(multiply_1)
            # sum at <doctest ...>:1
            L = tanh_1.sum()
            # multiply at <doctest ...>:1
            multiply_2 = tanh_1 * tanh_1
            # subtract at <doctest ...>:1
            subtract_1 = 1 - multiply_2
            # multiply at <doctest ...>:1
            multiply_3 = subtract_1 * c0
            # sum_to at <doctest ...>:1
            sum_to_1 = _sum_to(multiply_3, np.shape(W))
            # checked_grad at <doctest ...>:1
            dL_dW = _checked_grad(sum_to_1, W)
            return L, dL_dW
        >>> module = runpy.run_path(path)
        >>> [np.allclose(a, b) for a, b in zip(module["fn"](np.ones(2)), f(np.ones(2)))]
        [True, True]
        """
        if not name.isidentifier() or name.startswith("_"):
            raise GraphcError(f"export: {name!r} is not a valid function name")
        if readable:
            if self._last_graph is None:
                self._last_graph = self.inputs, optimize(self.outputs, self.simplify)
            program = readable_program(
                *self._last_graph, self._given, self.output_names, self._single
            )
            text = export_text(program, name)
        else:
            program = self._generic()
            if self.debug:  # the exported module is standalone: no checks
                program = self._emit(
                    self.inputs, optimize(self.outputs, self.simplify), debug=False
                )
            text = program.export_text(name)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)

    def __repr__(self):
        """The inputs and outputs with their declared types, the backend, the programs.

        >>> import graphc as gc
        >>> x = gc.var("x", shape=(3,))
        >>> gc.compile([x, gc.var("u")], [gc.sum(x), x * 2])
        <graphc.Function (x: ?[3], u: ?[...]) -> (?[], ?[3]), numpy, 0 programs>
        """
        ins = ", ".join(f"{v.name}: {type_text(v.shape, v.dtype)}" for v in self.inputs)
        outs = ", ".join(type_text(o.shape, o.dtype) for o in self.outputs)
        outs = outs if self._single else f"({outs}{',' if len(self.outputs) == 1 else ''})"
        n = len(self._programs)
        return (
            f"<graphc.Function ({ins}) -> {outs}, {self.backend.name}, "
            f"{n} program{'' if n == 1 else 's'}>"
        )

    def _repr_html_(self):
        """Jupyter shows the repr and the emitted source, highlighted."""
        return f"<p><code>{html.escape(repr(self))}</code></p>{source_html(self.source)}"


_NO = object()  # an argument the caller did not pass
_HISTORY = 255  # compilations kept for `cache_info` (the newest)
_fast_classes: dict[int, type] = {}


def _raw_key(args) -> tuple:
    """The key the fast `__call__` looks up: each argument's own class, shape and dtype
    (an array-API or torch dtype too, never compared with a numpy one: classes differ)."""
    return tuple(x for a in args for x in (a.__class__, a.shape, a.dtype))


def _fast_call_class(n: int) -> type:
    """A `Function` subclass whose `__call__` is written for `n` positional arrays: one
    dict lookup by the arguments' raw key (`_raw_key`), then the emitted program. Generated
    from this fixed template (only the integer `n` varies), once per arity. Its parameters
    are positional-only, so no var name (`a0`, `self`, `rest`) can collide with them:
    keywords go to `_slow_call`."""
    cls = _fast_classes.get(n)
    if cls is None:
        params = "".join(f", a{i}=_NO" for i in range(n))
        names = ", ".join(f"a{i}" for i in range(n))
        # `_raw_key`, written out. `_slow_call` stores only raw keys of arguments `check`
        # took as they are (an np.matrix or a list of the same shape and dtype is converted).
        key = "".join(f"a{i}.__class__, a{i}.shape, a{i}.dtype, " for i in range(n))
        last = f" or a{n - 1} is _NO" if n else ""
        source = (
            # positional-only: a keyword is always a var name, bound in `_slow_call`
            f"def __call__(self{params}, /, *rest, **kwargs):\n"
            f"    if rest or kwargs{last}:\n"
            f"        return self._slow_call(({names}{',' if n else ''}) + rest, kwargs)\n"
            f"    try:\n"
            f"        fn = self._cache[({key})]\n"
            f"    except (AttributeError, KeyError, TypeError):\n"
            f"        return self._slow_call(({names}{',' if n else ''}), kwargs)\n"
            f"    self._hits += 1\n"
            f"    try:\n"
            f"        return fn({names})\n"
            f"    except Exception as exc:\n"
            f"        raise self._annotated(exc, fn) from None\n"
        )
        namespace = {"_NO": _NO}
        exec(builtins.compile(source, f"<graphc-call-{n}>", "exec"), namespace)
        cls = type(
            "Function",
            (Function,),
            {"__call__": namespace["__call__"], "__module__": Function.__module__},
        )
        _fast_classes[n] = cls
    return cls


def _load_function(
    text, n_inputs, single, simplify, output_names, debug=False, backend="numpy"
) -> Function:
    """Unpickle a `Function`: its graph through `load_json`, its settings checked (the
    backend by `Function` itself)."""
    syms = load_json(text)
    if not (
        isinstance(syms, list)
        and type(n_inputs) is int
        and 0 <= n_inputs <= len(syms)
        and type(single) is bool
        and type(simplify) is bool
        and type(debug) is bool
        and (not single or len(syms) == n_inputs + 1)
        and (
            output_names is None
            or isinstance(output_names, list)
            and all(n is None or type(n) is str for n in output_names)
        )
    ):
        raise GraphcError("unpickling a graphc Function: malformed settings")
    outputs = syms[n_inputs:]
    return Function(
        syms[:n_inputs],
        outputs[0] if single else outputs,
        simplify=simplify,
        output_names=output_names,
        debug=debug,
        backend=backend,
    )


@checks_call
def compile(
    inputs,
    outputs,
    simplify: bool = True,
    debug: bool = False,
    report: bool = False,
    backend="numpy",
) -> Function:
    """Compile `outputs` as a Python function of the vars `inputs`: a `Function`.

    Nothing is computed here: the first call with arrays of new shapes or dtypes specialises
    the graph to them, simplifies it and emits one numpy program (`f.source`), which later
    calls with arrays like those run directly.

    Parameters
    ----------
    inputs : Symbol or list of Symbol
        The vars, in the order a call takes its arguments (a call may also name them:
        `f(x=...)`). Every var the outputs read must be one of them.
    outputs : Symbol or list of Symbol
        What a call returns: one symbol gives one value, a list (or `gc.Group`) a tuple of
        values in that order.
    simplify : bool, default True
        Run the simplification passes (CSE, algebra, sympy within a budget) before emission.
    debug : bool, default False
        The program checks each operation's value and raises `gc.NonFiniteError` at the first
        one with a NaN or an infinity, naming the op and the user's line.
    report : bool, default False
        Each compilation prints its `CompileReport` (`f.report()` holds the last one anyway).
    backend : str or Backend, default "numpy"
        What the program is written for (see `graphc.backends`): "numpy" is one numpy
        statement per operation; an unknown or uninstalled one is a `gc.BackendError`.

    Returns
    -------
    Function
        Called with arrays (anything numpy converts; Python numbers too). It compiles again
        when an argument's shape or dtype differs from every program it holds; it keeps the
        `codegen.SIGNATURE_CACHE` (64) most recent programs (`f.cache_info()` says which and
        why).

    Examples
    --------
    >>> import graphc as gc, numpy as np
    >>> x, y = gc.var("x"), gc.var("y")
    >>> f = gc.compile([x, y], [x * y, gc.sum(x)])  # a list out: a tuple back
    >>> f(np.array([1.0, 2.0]), 3.0)
    (array([3., 6.]), np.float64(3.0))
    >>> g = gc.compile([x], gc.exp(x))  # one symbol out: one value back
    >>> g(x=np.zeros(2))
    array([1., 1.])
    >>> _ = g(np.zeros(3, dtype="float32"))  # a new shape and dtype: compiles again
    >>> g.cache_info().misses
    2
    >>> h = gc.compile([x], [gc.sum(gc.log(x))], debug=True)
    >>> h(np.array([1.0, -2.0]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    graphc.errors.NonFiniteError: ...the log operation gives nan at 1 of 2 entries...
    """
    return Function(
        inputs, outputs, simplify=simplify, debug=debug, report=report, backend=backend
    )
