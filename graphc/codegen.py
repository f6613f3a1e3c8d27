"""Lowering a graph to Python/numpy source: plan (order, names, last uses), emit, compile.

Naming scheme (the one place it is defined):
- parameters keep the user's var names when those are plain ASCII identifiers that are not
  keywords, builtins, `np`, or shaped like the generated names below; otherwise they become
  `v<k>_<letters of the name>`. A user string never reaches the source in any other way.
- `t1, t2, ...` are temporaries in emission order; outputs may be given names by the caller
  (`grad_<name>` for gradients); array constants are module globals `c0, c1, ...`;
  runtime helpers start with `_` (`_sum_to`), which no mangled name does.
Each operation is one statement; a temporary is `del`-ed right after its last use.

What a backend changes in a program (`gc.compile(..., backend=...)`, see graphc.backends) is
an `Emission`: this module's default writes today's numpy program.
"""

from __future__ import annotations

import builtins
import inspect
import itertools
import keyword
import linecache
import math
import re
import sys
import weakref
from collections.abc import Sequence

import numpy as np

from . import runtime, scalar_code
from .errors import GraphcError
from .ir import Symbol, format_origin, origin_code, toposort, users
from .schedule import dead_after, inline_views, last_uses, memory_order, overwrites_a_read

IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
GENERATED = re.compile(r"(t\d+|c\d+|v\d+_.*|grad_.*|fn)\Z")
RESERVED = set(keyword.kwlist) | set(getattr(keyword, "softkwlist", ())) | set(dir(builtins))
RESERVED |= {"np", "numpy", "math", "xp", "dev", "da", "dask"}  # names programs import or set
_counter = itertools.count()


class Namer:
    """Hands out unique, safe identifiers."""

    def __init__(self):
        self.used: set[str] = set()
        self._temps = itertools.count(1)
        self._mangled = itertools.count()

    def claim(self, name: str) -> str:
        self.used.add(name)
        return name

    def user(self, name: str) -> str:
        """A safe identifier for a user-supplied name."""
        if (
            IDENT.match(name)
            and name not in RESERVED
            and not GENERATED.match(name)
            and name not in self.used
        ):
            return self.claim(name)
        letters = re.sub(r"[^A-Za-z0-9_]", "_", name.encode("ascii", "ignore").decode())[:24]
        while True:
            candidate = f"v{next(self._mangled)}_{letters}"
            if candidate not in self.used:
                return self.claim(candidate)

    def temp(self) -> str:
        while True:
            candidate = f"t{next(self._temps)}"
            if candidate not in self.used:
                return self.claim(candidate)


def literal(value) -> str | None:
    """Source text for a Python number, or None when it must be a bound constant.

    Only exact builtin numbers are written, each by its builtin type's own `__repr__`
    (a subclass's `__repr__` is never called: its text would become code).
    """
    kind = type(value)
    if kind is bool:
        return "True" if value else "False"
    if kind is int:
        text = int.__repr__(value)
    elif kind is float:
        if math.isnan(value):
            return "np.nan"
        if math.isinf(value):
            return "np.inf" if value > 0 else "(-np.inf)"
        text = float.__repr__(value)
    elif kind is complex:
        return f"complex({literal(value.real)}, {literal(value.imag)})"
    else:
        return None
    return f"({text})" if text.startswith("-") else text


class Program:
    """Emitted source, the compiled callable, and the line -> node map for errors."""

    def __init__(
        self,
        source: str,
        fn,
        filename: str,
        line_nodes: dict,
        consts: dict,
        helpers: set,
        fn_name: str,
        emission: Emission | None = None,
    ):
        self.source = source
        self.fn = fn
        self.filename = filename
        self.line_nodes = line_nodes
        self.consts = consts
        self.helpers = helpers
        self.fn_name = fn_name
        self.emission = emission or NUMPY

    def annotated(self, exc: Exception) -> Exception:
        """The error to raise for `exc`, raised while this program ran: with a note naming
        the emitted line and the user line of the failing operation, and as the graphc
        error that operation names for it (`OpDef.run_error`: an index out of bounds)."""
        lineno = self._failing_line(exc)
        node = self.line_nodes.get(lineno)
        if node is not None and not isinstance(exc, GraphcError):
            exc = node.opdef.run_error(exc) or exc
        note = self.explain_error(exc, lineno)
        if note is not None:
            if sys.version_info >= (3, 11):
                exc.add_note(note)
            else:  # pragma: no cover - Python 3.10
                exc.args = (f"{exc.args[0] if exc.args else ''}\n{note}",) + exc.args[1:]
        return exc

    def _failing_line(self, exc: BaseException) -> int | None:
        tb = exc.__traceback__
        lineno = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                lineno = tb.tb_lineno
            tb = tb.tb_next
        return lineno

    def explain_error(self, exc: BaseException, lineno: int | None = None) -> str | None:
        """A note naming the emitted line and the user line of the failing operation."""
        lineno = lineno or self._failing_line(exc)
        if lineno is None:
            return None
        node = self.line_nodes.get(lineno)
        line = self.source.splitlines()[lineno - 1].strip()
        note = f"graphc: in emitted line {lineno}: {line}"
        if node is not None:
            note += f"\n  the {node.op} operation was defined at {format_origin(node.origin)}"
            code = origin_code(node.origin)
            if code:
                note += f"\n    {code}"
        return note

    def export_text(self, name: str, title=None, const_text=None) -> str:
        """A standalone module defining `name`: `title` (comment lines) first, each constant
        array written by `const_text(array)` (default: its bytes, exactly)."""
        title = title or ["# Generated by graphc: a standalone numpy program."]
        em, scalar = self.emission, ["import math"] if "\nimport math\n" in self.source else []
        lines = [*title, *em.standalone(self), *scalar, "", *em.helper_sources(self.helpers)]
        for cname, value in self.consts.items():
            lines.append(f"{cname} = {(const_text or bytes_text)(value)}")
        body = self.source.split("\n")
        start = next(i for i, line in enumerate(body) if line.startswith("def "))
        body[start] = body[start].replace(f"def {self.fn_name}(", f"def {name}(", 1)
        return "\n".join(lines + [""] + body[start:]) + "\n"


def bytes_text(value) -> str:
    """Source text rebuilding an array exactly from its bytes."""
    arr = np.ascontiguousarray(value)
    return (
        f"np.frombuffer(bytes.fromhex({arr.tobytes().hex()!r}), "
        f"dtype={arr.dtype.str!r}).reshape({tuple(arr.shape)!r})"
    )


def _with_callees(helpers) -> set[str]:
    """`helpers` and the runtime helpers they call (`_product_vjp` uses `_sum_to`)."""
    needed: set[str] = set()
    todo = list(helpers)
    while todo:
        helper = todo.pop()
        if helper not in needed:
            needed.add(helper)
            source = inspect.getsource(getattr(runtime, helper))
            todo.extend(h for h in runtime.HELPERS if h + "(" in source)
    return needed


class Emission:
    """How a program is written, the parts a backend may change (this default: numpy).

    - `lower(outputs)`: a last graph pass before emission (a fused backend merges clusters
      of elementwise nodes into one node here);
    - `expr(node, args)`: the expression computing `node` from its inputs' expressions;
    - `in_place`: may a statement write into a dead temporary's buffer (`out=`, `+=`);
    - `scalar_code`: may runs of 0-d statements be Python floats (numpy arrays only);
    - `header(helpers)`: the module's import lines (`helpers`: the graphc.runtime names read);
    - `prologue(params)`: the first lines of the function body (4-space indented);
    - `returns(results, single)`: the text after `return`;
    - `namespace()`: more globals the program reads (never a user string);
    - `standalone(program)`, `helper_sources(helpers)`: an exported module's first lines, helpers.
    """

    name = "numpy"
    in_place = True
    scalar_code = True

    def lower(self, outputs: list[Symbol]) -> list[Symbol]:
        return outputs

    def expr(self, node: Symbol, args: list[str]) -> str:
        return node.opdef.emit(*args, **node.attrs)

    def header(self, helpers: set[str]) -> list[str]:
        header = ["import numpy as np"]
        if helpers:
            header.append(f"from graphc.runtime import {', '.join(sorted(helpers))}")
        return header

    def prologue(self, params: list[str]) -> list[str]:
        return []

    def returns(self, results: list[str], single: bool) -> str:
        comma = "," if len(results) == 1 and not single else ""
        return ", ".join(results) + comma if results else "()"

    def namespace(self) -> dict:
        return {}

    def standalone(self, program=None) -> list[str]:
        return ["import numpy as np"]

    def helper_sources(self, helpers: set[str]) -> list[str]:
        return [inspect.getsource(getattr(runtime, h)) for h in sorted(_with_callees(helpers))]


NUMPY = Emission()


class Emitter:
    """Writes statements for a list of nodes; control-flow ops use `emit_body` for blocks."""

    def __init__(self, namer: Namer, emission: Emission = NUMPY):
        self.namer = namer
        self.emission = emission
        self.lines: list[tuple[str, Symbol | None]] = []
        self.consts: dict[str, np.ndarray] = {}
        self.helpers: set[str] = set()
        self.names: dict[int, str] = {}
        self.block_nodes: list[Symbol] = []
        self.block_readers: dict[int, list[Symbol]] | None = None
        self.block_out_names: dict[int, str] = {}
        # A teaching program (graphc.readable: comments, telling names, no reuse) or None.
        self.readable = None
        # With a check (debug mode), each statement is followed by `_graphc_check(name, k)`
        # and checked[k] is its node; None (the default) emits nothing more.
        self.checked: list[Symbol] | None = None
        self.inline: dict[int, Symbol] = {}  # transposes written into their one reader
        self.modules: set[str] = set()  # imported besides numpy (scalar code: math)

    def expr(self, node: Symbol) -> str:
        """The expression that reads `node`'s value: a name, a literal or a constant."""
        name = self.names.get(id(node))
        if name is not None:
            return name
        if id(node) in self.inline:  # `a @ x.T`, not `t = x.T` then `a @ t`
            return self.emission.expr(node, [self.expr(node.inputs[0])])
        if node.op == "const":
            value = node.attrs["value"]
            text = literal(value)
            if text is None:
                text = f"c{len(self.consts)}"
                self.consts[text] = value
            self.names[id(node)] = text
            return text
        raise GraphcError(f"internal: {node.op} node used before it was computed")

    def statement(self, indent: str, text: str, node: Symbol | None = None) -> None:
        self.lines.append((indent + text, node))
        for helper in runtime.HELPERS if "_" in text else ():  # (each helper's name has one)
            if helper + "(" in text:
                self.helpers.add(helper)

    def emit_body(
        self,
        outputs: Sequence[Symbol],
        indent: str,
        stop: Sequence[Symbol] = (),
        out_names: dict[int, str] | None = None,
    ) -> list[str]:
        """Emit the statements computing `outputs` (nodes in `stop` or already named are
        taken as given) and return the expressions of the outputs."""
        out_names = out_names or {}
        reached = toposort(outputs, stop, {id(s) for s in stop} | self.names.keys())
        for n in reached:
            if n.op == "var" and id(n) not in self.names:
                raise GraphcError(
                    f"{format_origin(n.origin)}: var {n.name!r} is not an input of this program"
                )
        nodes = [n for n in reached if id(n) not in self.names and n.op not in ("const", "var")]
        nodes = self._ordered(nodes, outputs, out_names)
        last_use = last_uses(nodes, outputs, self.inline)
        keep = {id(o) for o in outputs}
        local: set[int] = set()
        outer = self.block_nodes, self.block_readers, self.block_out_names
        self.block_nodes, self.block_readers, self.block_out_names = nodes, None, out_names
        try:
            self._emit_nodes(nodes, indent, out_names, last_use, keep, local)
        finally:
            self.block_nodes, self.block_readers, self.block_out_names = outer
        return [self.expr(o) for o in outputs]

    def _ordered(self, nodes, outputs, out_names) -> list[Symbol]:
        """`nodes` in the order the program computes them (`schedule.memory_order`: a
        temporary dies once its readers can run), less the transposes written into their
        one reader (`schedule.inline_views`, recorded in `self.inline`)."""
        if not overwrites_a_read(nodes, out_names, self.names):
            nodes = memory_order(nodes, outputs)
        if self.readable is None and self.checked is None:
            self.inline.update(inline_views(nodes, outputs, out_names))
            nodes = [n for n in nodes if id(n) not in self.inline]
        return nodes

    def _emit_nodes(self, nodes, indent, out_names, last_use, keep, local) -> None:
        readable = self.readable
        if readable:
            last_use = {}  # no value is dead for the teaching program: no reuse, no `del`
        in_place = self.emission.in_place and not readable
        taken, reused = _plan_free_buffers(nodes, out_names, last_use, keep, in_place)
        kept = keep | {id(b) for b in taken.values()}  # outputs, and buffers taken again
        runs = scalar_code.Runs(self, nodes, indent, last_use, kept)  # on Python floats
        for i, node in enumerate(nodes):
            runs.start(i)
            if id(node) in self.names:  # written by a control-flow block: one of its results
                local.add(id(node))
                continue
            args = [self.expr(x) for x in node.inputs]
            # the dead input, or else temporary, whose buffer it is written into (or None)
            reuse = reused.get(id(node), taken.get(id(node)))
            target = out_names.get(id(node)) or (
                self.names[id(reuse)] if reuse is not None else self._new_name(node)
            )
            block = self._write(node, args, target, indent, reuse)
            self.names[id(node)] = target
            local.add(id(node))
            if self.checked is not None and block is None:
                self.statement(indent, f"_graphc_check({target}, {len(self.checked)})", node)
                self.checked.append(node)
            dead = dead_after(node, i, last_use, local, kept, reuse, self.inline)
            dead = [self.names[id(x)] for x in dead]
            if dead:
                self.statement(indent, "del " + ", ".join(dict.fromkeys(dead)))
            runs.end(i)

    def _write(self, node, args, target, indent, reuse):
        """The statement(s) computing `node` into `target`; returns the op's `emit_block`
        (None for one statement)."""
        if self.readable:
            self.lines.append((indent + self.readable.comment(node), None))
        block = getattr(node.opdef, "emit_block", None)
        if block is not None:
            block(self, node, args, target, indent)
        elif reuse is not None:
            self.statement(indent, _in_place(node, args, target), node)
        else:
            self.statement(indent, f"{target} = {self.emission.expr(node, args)}", node)
        return block

    def _new_name(self, node: Symbol) -> str:
        return self.readable.name(self, node) if self.readable else self.namer.temp()

    def readers(self, node: Symbol) -> list[Symbol]:
        """The nodes of the block being emitted that read `node` (for `emit_block`: a
        tuple-valued op names the `get`s of its results and skips unread ones)."""
        if self.block_readers is None:  # (found when first asked: most blocks never ask)
            self.block_readers = users(self.block_nodes)
        return self.block_readers.get(id(node), [])

    def result_name(self, node: Symbol) -> str:
        """The name `node`'s value gets: the caller's output name, or a new temporary."""
        return self.block_out_names.get(id(node)) or self.namer.temp()


def _known_array(x: Symbol) -> bool:
    """Is `x` an array (not 0-d) of known shape and dtype?"""
    return bool(x.shape) and None not in x.shape and x.dtype is not None


def _writes_out(node: Symbol) -> bool:
    """Can `node` be emitted as `np.<ufunc>(..., out=buffer)` of its own shape and dtype?"""
    fn = getattr(node.opdef, "fn", None)
    return isinstance(fn, np.ufunc) and fn.nout == 1 and _known_array(node)


def _owns_buffer(x: Symbol) -> bool:
    """Is `x` a whole array of known shape that nothing else owns?"""
    return x.opdef.fresh and _known_array(x)


def _plan_free_buffers(nodes, out_names, last_use, keep, in_place=True) -> tuple[dict, dict]:
    """`(taken, reused)`: id(node) -> a temporary, dead by then, whose buffer `node` writes
    into instead of allocating (same shape and dtype), and id(node) -> its input it writes
    into (`_reusable_input`). Simulates the emission order: an input reused in place is
    not free; a buffer is free from its last use on (views keep it alive longer, see
    `last_use`), and it is not `del`-ed when a later node takes it. A node with a
    caller-given name (`out_names`) is assigned to it. Without `in_place`, none."""
    free: dict[tuple, list[Symbol]] = {}
    taken: dict[int, Symbol] = {}
    reused: dict[int, Symbol] = {}
    nodes = nodes if in_place else ()
    local: set[int] = set()
    for i, node in enumerate(nodes):
        reuse = None if id(node) in out_names else _reusable_input(node, i, last_use, local, keep)
        if reuse is not None:
            reused[id(node)] = reuse
        elif (
            id(node) not in out_names
            and _writes_out(node)
            and getattr(node.opdef, "emit_block", None) is None
        ):
            pool = free.get((node.shape, node.dtype.str))
            if pool:
                taken[id(node)] = pool.pop()
        local.add(id(node))
        # Each input once: `t1 + t1` frees t1's buffer once, not twice (else two later
        # nodes would both be given it while the first is still live).
        for x in {id(x): x for x in _uses(node)}.values():
            if (
                last_use.get(id(x)) == i
                and id(x) in local
                and id(x) not in keep
                and x is not reuse
                and _owns_buffer(x)
            ):
                free.setdefault((x.shape, x.dtype.str), []).append(x)
    return taken, reused


def _reusable_input(node: Symbol, i: int, last_use: dict, local: set, keep: set):
    """An input whose buffer `node` can overwrite: a ufunc result in this block, dead after
    `node`, of `node`'s exact shape and dtype, and not an output (liveness proves it safe;
    user arrays and views are never written)."""
    if not _writes_out(node):
        return None
    for x in node.inputs:
        if (
            id(x) in local
            and last_use.get(id(x)) == i
            and id(x) not in keep
            and x.shape == node.shape
            and x.dtype == node.dtype
            and x.opdef.fresh
        ):
            return x
    return None


def _in_place(node: Symbol, args: list[str], target: str) -> str:
    """`t1 += b` when the buffer is the first operand, else `np.ufunc(..., out=t1)`."""
    aug = node.opdef.augmented
    if aug is not None and args[0] == target:
        return f"{target} {aug} {args[1]}"
    if aug is not None and node.opdef.commutative and args[1] == target:
        return f"{target} {aug} {args[0]}"
    return f"np.{node.opdef.fn.__name__}({', '.join(args)}, out={target})"


def _uses(node: Symbol) -> list[Symbol]:
    """Inputs read by `node` (control-flow ops may read more than their inputs)."""
    return list(node.inputs)


def emit_program(
    params: Sequence[Symbol],
    outputs: Sequence[Symbol],
    output_names: Sequence[str | None] | None = None,
    fn_name: str = "fn",
    param_names: Sequence[str] | None = None,
    single: bool = False,
    readable=None,
    check=None,
    emission: Emission = NUMPY,
) -> Program:
    """Emit and compile `def fn(params...): ... return outputs` (a tuple, or the one
    output itself when `single`); `readable` (a `graphc.readable.Readable`) asks for the
    teaching program. With `check`, the program calls `check(value, node)` after each
    operation (`gc.compile(..., debug=True)`, `gc.check_finite`). `emission` is the
    backend's way of writing it (see `Emission`)."""
    namer = Namer()
    namer.claim(fn_name)
    em = Emitter(namer, emission)
    em.readable = readable
    if check is not None:
        em.checked = []
    names = []
    for i, p in enumerate(params):
        label = param_names[i] if param_names is not None else (p.name or "arg")
        names.append(namer.user(label))
        em.names[id(p)] = names[-1]
    outputs = emission.lower(list(outputs))
    wanted = _output_names(namer, em, outputs, output_names)
    results = em.emit_body(outputs, "    ", stop=params, out_names=wanted)
    body = [(f"def {fn_name}({', '.join(names)}):", None)]
    body += [("    " + line, None) for line in emission.prologue(names)] + em.lines
    body.append((f"    return {emission.returns(results, single)}", None))
    header = _header(em)
    lines = header + [text for text, _ in body]
    line_nodes = {
        len(header) + i + 1: node for i, (_, node) in enumerate(body) if node is not None
    }
    source = "\n".join(lines) + "\n"
    filename = f"<graphc-{next(_counter)}>"
    namespace = {"__name__": "graphc_generated", **emission.namespace(), **em.consts}
    if check is not None:
        checked = em.checked
        namespace["_graphc_check"] = lambda value, k: check(value, checked[k])
    exec(compile(source, filename, "exec"), namespace)  # graphc-generated source only
    fn = namespace[fn_name]
    _forget_dead_programs()
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    weakref.finalize(fn, _DEAD_PROGRAMS.append, filename)
    return Program(source, fn, filename, line_nodes, em.consts, em.helpers, fn_name, emission)


def _output_names(namer: Namer, em: Emitter, outputs, output_names) -> dict:
    """{id(output): the variable name it is computed into} for outputs given a name that
    the body computes (not a var, a const or a parameter), each once."""
    wanted = {}
    for out, oname in zip(outputs, output_names or [None] * len(outputs)):
        if (
            oname is not None
            and id(out) not in wanted
            and out.op not in ("var", "const")
            and id(out) not in em.names
        ):
            # Generated output names (grad_<name>) are claimed as given when free: user
            # names shaped like them were mangled above, so they cannot collide.
            wanted[id(out)] = (
                namer.claim(oname)
                if IDENT.match(oname) and GENERATED.match(oname) and oname not in namer.used
                else namer.user(oname)
            )
    return wanted


def _header(em: Emitter) -> list[str]:
    """The program's first lines: imports, and a comment per constant array it reads."""
    header = [*em.emission.header(em.helpers), *(f"import {m}" for m in sorted(em.modules))]
    for cname, value in em.consts.items():
        arr = np.asarray(value)
        header.append(f"# {cname}: a constant {arr.dtype} array of shape {arr.shape}")
    header.append("")
    return header


# A collected program's linecache entry goes at the next registration, never from the
# finalizer itself: a garbage collection can run inside `linecache.checkcache()` (doctest, pdb,
# traceback printing), which reads every key of a snapshot and fails on a vanished one.
_DEAD_PROGRAMS: list[str] = []


def _forget_dead_programs() -> None:
    while _DEAD_PROGRAMS:
        linecache.cache.pop(_DEAD_PROGRAMS.pop(), None)


# --- how many programs a caller keeps ---------------------------------------------------

# Each compiled `Function`, `value_and_grad`, `@gc.function` and bound symbol keeps the
# programs of its last SIGNATURE_CACHE signatures (shapes and dtypes; the oldest is dropped
# first and compiled again if it comes back). Raise it for a function called with more
# shapes in turn: `graphc.codegen.SIGNATURE_CACHE = 256`.
SIGNATURE_CACHE = 64


def remember(cache: dict, key, value):
    """`cache[key] = value`, first dropping the oldest keys so that at most `SIGNATURE_CACHE`
    stay; returns `value`.

    >>> cache = {}
    >>> for k in range(100):
    ...     _ = remember(cache, k, str(k))
    >>> len(cache), min(cache)
    (64, 36)
    """
    while key not in cache and len(cache) >= max(1, SIGNATURE_CACHE):
        del cache[next(iter(cache))]
    cache[key] = value
    return value
