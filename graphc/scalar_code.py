"""Scalar code: the parts of a program on 0-d float64 values run as Python floats and `math`.

A numpy call on a 0-d value costs 0.1 to 1 µs; the same operation on Python floats costs a
few tens of ns. The emitter (`graphc.codegen`) hands each run of consecutive statements
that scalar code can compute (0-d float64 or boolean results, each op's text from the op
table: `OpDef.scalar_emit`, see `graphc.ops.scalar`) to `lower`, which writes it twice:

    try:  # on Python floats (numpy's statements below on an error, an inf or a nan)
        t31 = float(a)
        t32 = xs.tolist()
        t33 = math.tanh(t32[0])
        t34 = t31 * t33 + ...
        if t34 - t34: raise ArithmeticError
        ...
        t15 = np.float64(t40)
    except (ArithmeticError, ValueError):
        <the numpy statements, unchanged>

Inputs are converted once (`float(a)`; a rank-1 array read by index becomes a list), and
results that later statements or the caller read go back to numpy scalars (`np.float64`,
`np.bool_`), the types numpy's statements give. The gradient of a vector read entry by
entry, a sum of one-hot vectors (`index_grad`), is a list updated in place (``g[3] += t5``)
and one `np.array` at the end, with numpy's bits (a -0.0 entry turns 0.0 at the next sum, as
in numpy) instead of a new array per entry. numpy's semantics are kept by running
numpy's statements whenever they could differ: `math` raises where numpy would give an
infinity or a NaN with a RuntimeWarning (``math.log(0.0)``, ``math.exp(1000.0)``,
``1.0 / 0.0``), and Python's arithmetic operators, which overflow silently, are followed
by a check (``if t34 - t34``: an inf or a nan) wherever a non-finite value could vanish
before it reaches a checked value (``tanh(inf)`` is 1.0): a value whose every use keeps a
non-finite value non-finite (``+ - *``, a numerator) needs no check of its own, nor does a
value whose range (`OpDef.image`) is finite once the run's inputs are checked to lie in
[-1e15, 1e15] at its start (``tanh(a*h + x[t])``: one statement per step). So values,
warnings and errors are numpy's. Python floats cannot see an underflow, which numpy ignores
by default: where `np.seterr` or `np.errstate` asks numpy to warn or raise on one, numpy's
statements run (`_underflow_ignored`).
"""

from __future__ import annotations

import ast
import functools
import math

import numpy as np

from .ir import Symbol
from .ops.scalar import scalar_template

FLOAT, BOOL = np.dtype(np.float64), np.dtype(bool)
# (Python conversion in, numpy scalar out) by dtype.
_TYPES = {FLOAT: ("float", "np.float64"), BOOL: ("bool", "np.bool_")}
ENABLED = True  # False: numpy statements only (the tests compare both programs)
MIN_RUN = 2  # a lone scalar statement stays numpy's
# A rank-1 array is converted to a list (`tolist`) when the run reads at least 1/LIST_READS
# of its entries, else read entry by entry (`float(xs[3])`).
LIST_READS = 4
MAX_NESTING = 8  # an expression holds at most this many statements' worth of operations
# A run whose inputs lie in [-BOUND, BOUND] (checked once) has values proved finite (at most
# FINITE in size) by their ranges: those need no check (`_Run._bounded`).
BOUND, FINITE = 1e15, 1e300  # BOUND is written 1e15 in the code (`_guard`)
# An array's guard (its min and max, about 2 µs) pays for itself only when it spares at least
# this many checks (`if t - t`, about 15 ns each); scalars' guards replace their own check.
LIST_GUARD_CHECKS = 128
_PROPAGATING = (ast.Add, ast.Sub, ast.Mult)


class Runs:
    """The runs of a block's nodes that scalar code computes: the emitter calls `start(i)`
    before it writes node `i` and `end(i)` after, and the lines of a run are rewritten at
    its end (`lower`)."""

    def __init__(self, em, nodes: list[Symbol], indent: str, last_use: dict, keep: set):
        self.em, self.nodes, self.indent = em, nodes, indent
        self.last_use, self.keep = last_use, keep
        self.ends = runs(em, nodes)
        self.starts = dict.fromkeys(self.ends.values(), 0)

    def start(self, i: int) -> None:
        if i in self.starts:
            self.starts[i] = len(self.em.lines)

    def end(self, i: int) -> None:
        first = self.ends.get(i)
        if first is not None:
            run = self.nodes[first : i + 1]
            lower(self.em, run, self.starts[first], self.indent, i, self.last_use, self.keep)


def runs(em, nodes: list[Symbol]) -> dict[int, int]:
    """{last: first}: the positions in `nodes` of the maximal runs of consecutive nodes
    that scalar code computes (none in a teaching or checked program, nor for a backend
    whose arrays are not numpy's: `Emission.scalar_code`)."""
    if not ENABLED or em.readable or em.checked is not None or not em.emission.scalar_code:
        return {}
    found, first, lists = {}, None, set()
    for i, node in enumerate([*nodes, None]):
        if node is not None and template(node) is not None:
            first = i if first is None else first
            continue
        if node is not None and _list_node(node, lists):
            first = i if first is None else first
            lists.add(id(node))
            continue
        if first is not None and i - first >= MIN_RUN:
            found[i - 1] = first
        first, lists = None, set()
    return found


def one_hot(node: Symbol) -> tuple[int, int] | None:
    """(k, n) when `node` is a float64 vector of n zeros but a 0-d value at entry k (the
    gradient of reading entry k: `index_grad`'s `scalar_one_hot`), else None."""
    fact = getattr(node.opdef, "scalar_one_hot", None)
    x = node.inputs[0] if node.inputs else None
    if fact is None or node.dtype != FLOAT or x.shape != () or not _scalar_input(x):
        return None
    return fact(node)


def _list_node(node: Symbol, lists: set) -> bool:
    """A float64 vector that scalar code builds as a Python list: a one-hot vector, or a
    sum of two such lists of the run (the gradient of a vector read entry by entry)."""
    if one_hot(node) is not None:
        return True
    return (
        node.opdef.infix == "+"
        and node.dtype == FLOAT
        and node.shape is not None
        and len(node.shape) == 1
        and all(id(x) in lists and x.shape == node.shape for x in node.inputs)
    )


def template(node: Symbol) -> str | None:
    """`node`'s scalar code template, or None when scalar code does not compute it: its
    value must be 0-d float64 (or boolean, from a comparison or an entry of a boolean
    array), its inputs 0-d or rank-1 float64 or boolean values or finite Python numbers."""
    if (
        node.op in ("var", "const", "get")
        or node.shape != ()
        or node.dtype is None
        or node.dtype not in _TYPES
        or node.weak
        or getattr(node.opdef, "emit_block", None) is not None
        or not all(_scalar_input(x) for x in node.inputs)
    ):
        return None
    if node.dtype == BOOL and not (node.opdef.comparison or _reads_entries(node)):
        return None  # numpy's True + True is True: booleans only as comparisons give them
    return scalar_template(node.opdef, node)


def _scalar_input(x: Symbol) -> bool:
    if x.op == "const":
        value = x.attrs["value"]
        if type(value) in (bool, int, float):
            return math.isfinite(value)
        value = np.asarray(value)
        return value.shape == () and value.dtype in _TYPES and bool(np.isfinite(value))
    return (
        x.dtype is not None
        and x.dtype in _TYPES
        and x.shape is not None
        and len(x.shape) <= 1
        and None not in x.shape
    )


def _reads_entries(node: Symbol) -> bool:
    return any(x.shape != () for x in node.inputs)


@functools.cache
def facts(text: str, nin: int) -> tuple[bool, frozenset, bool]:
    """(can it overflow silently: it has a Python arithmetic operator; the input positions
    whose non-finite value makes its value non-finite: operands of + - *, a numerator,
    under a unary minus; is it written without operators at its top: a call, an index)."""
    tree = ast.parse(text.format(*(f"_{k}" for k in range(nin))), mode="eval").body
    silent = any(isinstance(n, ast.BinOp) for n in ast.walk(tree))
    keeps, todo = set(), [tree]
    while todo:
        n = todo.pop()
        if isinstance(n, ast.BinOp) and isinstance(n.op, _PROPAGATING):
            todo += [n.left, n.right]
        elif isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div):
            todo.append(n.left)
        elif isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
            todo.append(n.operand)
        elif isinstance(n, ast.Name) and n.id.startswith("_"):
            keeps.add(int(n.id[1:]))
    return silent, frozenset(keeps), isinstance(tree, (ast.Call, ast.Subscript, ast.Name))


class _Run:
    """One run being lowered: its nodes, inputs from outside, results read after it."""

    def __init__(self, nodes, last: int, last_use: dict, keep: set):
        self.nodes = nodes
        self.texts = {id(n): template(n) for n in nodes}
        self.vectors = {id(n) for n in nodes if n.shape}  # built as lists
        for n in nodes:
            if n.shape:  # for the checks, a one-hot vector is its value
                self.texts[id(n)] = "{0}" if one_hot(n) else "{0} + {1}"
        self.inside = {id(n) for n in nodes}
        self.exports = [n for n in nodes if last_use.get(id(n), -1) > last or id(n) in keep]
        self.imports: dict[int, Symbol] = {}
        reads: dict[int, int] = {}
        for n in nodes:
            for i, x in enumerate(n.inputs):
                if id(x) not in self.inside and i not in n.opdef.shape_only_inputs:
                    self.imports.setdefault(id(x), x)
                    reads[id(x)] = reads.get(id(x), 0) + 1
        # rank-1 arrays converted to lists (the others are read entry by entry)
        self.lists = {
            k for k, x in self.imports.items() if x.shape and reads[k] * LIST_READS >= x.shape[0]
        }
        self.checks = self._checks()
        self.guarded = self._bounded(lists=True) or self._bounded(lists=False)

    def _checks(self) -> set[int]:
        """The values followed by a finiteness check: those that may be an inf or a nan
        (an input, an entry read, a Python operator's result) and that no checked value or
        result would show (see the module docstring)."""
        shown: set[int] = set()
        checks: set[int] = set()
        for n in reversed(self.nodes):
            silent, keeps, _ = facts(self.texts[id(n)], len(n.inputs))
            if n.dtype == FLOAT and (silent or _reads_entries(n)) and id(n) not in shown:
                checks.add(id(n))
                shown.add(id(n))
            if id(n) in shown:
                shown.update(id(n.inputs[k]) for k in keeps)
        for k, x in self.imports.items():
            if x.op != "const" and x.shape == () and x.dtype == FLOAT and k not in shown:
                checks.add(k)
        return checks

    def _bounded(self, lists: bool) -> set[int]:
        """The inputs checked to lie in [-BOUND, BOUND] at the run's start (none, or every
        float input: scalars, and arrays read as lists if `lists`), so that the values that
        then cannot be an inf or a nan (interval arithmetic with the ops' images,
        `OpDef.image`) need no check of their own: in `tanh(a*h + x[t])` once `a` and `x`
        are bounded, as `tanh` keeps `h` in [-1, 1]."""
        bounds = {k: b for k, x in self.imports.items() if (b := self._input_bounds(k, x, lists))}
        dropped = (self.checks & _finite(self.nodes, bounds)) - set(self.imports)
        arrays = lists and any(k in bounds for k in self.lists)
        if not dropped or (arrays and len(dropped) < LIST_GUARD_CHECKS):
            return set()
        self.checks -= dropped
        return {k for k, x in self.imports.items() if x.op != "const" and k in bounds}

    def _input_bounds(self, key: int, x: Symbol, lists: bool) -> tuple | None:
        """A constant's value, or [-BOUND, BOUND] for a float input checked against it."""
        if x.op == "const":
            value = np.asarray(x.attrs["value"])
            ok = value.shape == () and value.dtype.kind in "biuf"
            return (float(value), float(value)) if ok else None
        if x.dtype == FLOAT and (x.shape == () or (lists and key in self.lists)):
            return (-BOUND, BOUND)
        return None


def _finite(nodes: list[Symbol], bounds: dict) -> set[int]:
    """The values proved to lie within [-FINITE, FINITE] by interval arithmetic from
    `bounds` (id -> (lo, hi) of the run's inputs; extended with the nodes' here)."""
    for n in nodes:
        ins = [bounds.get(id(x)) for x in n.inputs]
        if n.op == "getitem" and not n.shape:  # an entry of a bounded list
            bounds[id(n)] = ins[0]
        elif n.opdef.image is not None and n.dtype == FLOAT and not n.shape:
            bounds[id(n)] = n.opdef.image(*ins)
    return {k for k, b in bounds.items() if b is not None and -FINITE <= b[0] <= b[1] <= FINITE}


class _Names:
    """The names of a run's values in one branch: a name is taken again once its value is
    dead (each variable of the function costs every call), the first ones from `pool`. A
    value in `inlined` has no name: its expression is written into its one reader's."""

    def __init__(self, em, nodes, pool: list[str], exports, inlined: dict):
        self.em, self.names, self.free, self.own = em, {}, list(pool), set()
        at: dict[int, int] = {}  # where each node's expression is written
        for j in range(len(nodes) - 1, -1, -1):
            key = id(nodes[j])
            at[key] = at[id(inlined[key])] if key in inlined else j
        last: dict[int, int] = {}
        for n in nodes:
            for x in n.inputs:
                last[id(x)] = max(last.get(id(x), -1), at[id(n)])
        last.update((id(n), len(nodes)) for n in exports)
        self.dying: dict[int, list[int]] = {}
        for key, j in last.items():
            self.dying.setdefault(j, []).append(key)

    def new(self, key: int) -> str:
        self.own.add(key)
        self.names[key] = self.free.pop() if self.free else self.em.namer.temp()
        return self.names[key]

    def alias(self, key: int, other: int) -> None:
        """`key`'s value is `other`'s list, changed in place: one name."""
        self.names[key] = self.names[other]
        self.own.discard(other)
        self.own.add(key)

    def release(self, j: int) -> None:
        """Free the names of the values read for the last time by the statement at `j`."""
        self.free += [self.names[k] for k in self.dying.get(j, ()) if k in self.own]


def _inlined(run: _Run) -> tuple[dict, dict]:
    """({id(value): its reader}: the values that scalar code writes into their one reader's
    expression (read once in the run, not a result, not checked; nested at most
    MAX_NESTING deep), {id(sum): (list, one-hot)}: the sums of vectors computed in place,
    `list[k] += value`, where the list dies and the one-hot vector is read only there)."""
    readers: dict[int, list] = {}
    for n in run.nodes:
        for x in n.inputs:
            readers.setdefault(id(x), []).append(n)
    named = {id(n) for n in run.exports} | run.checks
    inlined, depth, in_place = {}, {}, {}
    for n in run.nodes:
        key = id(n)
        if key in run.vectors:
            if one_hot(n) is None:
                in_place.update(_in_place(n, readers, named))
                if key in in_place:
                    inlined[id(in_place[key][1])] = n
            continue
        depth[key] = 1 + max((depth[id(x)] for x in n.inputs if id(x) in inlined), default=0)
        users = readers.get(key, ())
        if len(users) == 1 and key not in named and depth[key] < MAX_NESTING:
            inlined[key] = users[0]
    return inlined, in_place


def _in_place(n: Symbol, readers: dict, named: set) -> dict:
    """{id(n): (list, one-hot)} when the sum `n` can add its one-hot operand into its other
    operand's list (both read only by `n`)."""
    for p, q in (n.inputs, n.inputs[::-1]):
        if (
            one_hot(q) is not None
            and p is not q
            and all(len(readers[id(x)]) == 1 and id(x) not in named for x in (p, q))
        ):
            return {id(n): (p, q)}
    return {}


def lower(em, nodes, mark: int, indent: str, last: int, last_use: dict, keep: set) -> None:
    """Rewrite the lines emitted since line `mark` for the run `nodes` (ending at position
    `last` of the block) as scalar code with numpy's statements as the fallback."""
    run = _Run(nodes, last, last_use, keep)
    exports = {id(n): em.names[id(n)] for n in run.exports}
    # Both branches take the names the emitter gave the run's other values first.
    pool = [em.names[id(n)] for n in reversed(nodes) if id(n) not in exports]
    pool = list(dict.fromkeys(p for p in pool if p not in exports.values()))  # a += chain
    note = "Python floats (numpy's statements below on an error, an inf or a nan)"
    em.lines[mark:] = [
        (f"{indent}try:  # {note}", None),
        *_floats(em, run, pool, exports, indent + "    "),
        (f"{indent}except (ArithmeticError, ValueError):", None),
        *_numpy(em, run, pool, exports, indent + "    "),
        *_dels(em.lines[mark:], indent, run, em),
    ]
    em.modules.add("math")
    em.helpers.add("_underflow_ignored")


def _floats(em, run: _Run, pool: list, exports: dict, inner: str) -> list:
    """The run's statements on Python floats (`inner` is their indentation)."""
    lines = [(f"{inner}if not _underflow_ignored(): raise ArithmeticError", None)]
    inlined, in_place = _inlined(run)
    names = _Names(em, run.nodes, pool, run.exports, inlined)
    dirty: dict[int, set] = {}  # id(list) -> its entries that may be -0.0
    for key, x in run.imports.items():
        if x.op == "const" and type(x.attrs["value"]) in (bool, int, float):
            names.names[key] = em.expr(x)
        elif x.shape == ():
            lines.append((f"{inner}{names.new(key)} = {_TYPES[x.dtype][0]}({em.expr(x)})", None))
            if key in run.guarded:
                _guard(lines, inner, names.names[key], names.names[key])
            else:
                _check(lines, inner, names.names[key], key in run.checks)
        elif key in run.lists:
            if key in run.guarded:
                _guard(lines, inner, f"{em.expr(x)}.min()", f"{em.expr(x)}.max()")
            lines.append((f"{inner}{names.new(key)} = {em.expr(x)}.tolist()", None))
        else:
            names.names[key] = em.expr(x)
    for j, n in enumerate(run.nodes):
        if id(n) in run.vectors:
            if id(n) not in inlined:
                lines += [(inner + t, n) for t in _vector(n, j, names, in_place, dirty)]
                _check(lines, inner, names.names[id(n)], id(n) in run.checks, vector=True)
            continue
        text = run.texts[id(n)].format(*(names.names[id(x)] for x in n.inputs))
        if any(x.shape and id(x) not in run.lists for x in n.inputs):
            text = f"{_TYPES[n.dtype][0]}({text})"  # an entry of a numpy array
        if id(n) in inlined:
            atomic = facts(run.texts[id(n)], len(n.inputs))[2]
            names.names[id(n)] = text if atomic else f"({text})"
            continue
        names.release(j)
        lines.append((f"{inner}{names.new(id(n))} = {text}", n))
        _check(lines, inner, names.names[id(n)], id(n) in run.checks)
    for n in run.exports:
        out = f"{'np.array' if n.shape else _TYPES[n.dtype][1]}({names.names[id(n)]})"
        lines.append((f"{inner}{exports[id(n)]} = {out}", None))
    return lines


def _numpy(em, run: _Run, pool: list, exports: dict, inner: str) -> list:
    """numpy's statements of the run, as the emitter wrote them (names taken again)."""
    lines, names = [], _Names(em, run.nodes, pool, run.exports, {})
    for j, n in enumerate(run.nodes):
        args = [
            exports.get(id(x)) or names.names[id(x)] if id(x) in run.inside else em.expr(x)
            for x in n.inputs
        ]
        names.release(j)
        target = exports.get(id(n)) or names.new(id(n))
        lines.append((f"{inner}{target} = {em.emission.expr(n, args)}", n))
    return lines


def _vector(n: Symbol, j: int, names: _Names, in_place: dict, dirty: dict) -> list[str]:
    """The statements building vector `n` as a list whose entries are numpy's bits: a
    one-hot vector's entry is assigned (as `_index_grad` does), a sum adds entry by entry;
    adding a one-hot vector in place also adds 0.0 to the entries that may be -0.0."""
    key, hot = id(n), one_hot(n)
    if hot is not None:
        (k, size), value = hot, names.names[id(n.inputs[0])]
        name = names.new(key)  # before the inputs' names are free: two statements
        names.release(j)
        dirty[key] = {k}
        return [f"{name} = [0.0] * {size}", f"{name}[{k}] = {value}"]
    if key in in_place:
        p, q = in_place[key]
        k, value = one_hot(q)[0], names.names[id(q.inputs[0])]
        names.alias(key, id(p))
        names.release(j)
        dirty[key] = {k}
        name = names.names[key]
        return [f"{name}[{k}] += {value}"] + [
            f"{name}[{d}] += 0.0" for d in sorted(dirty[id(p)] - {k})
        ]
    a, b = (names.names[id(x)] for x in n.inputs)
    names.release(j)
    dirty[key] = dirty[id(n.inputs[0])] & dirty[id(n.inputs[1])]
    return [f"{names.new(key)} = [u + v for u, v in zip({a}, {b})]"]


def _check(lines: list, indent: str, name: str, wanted: bool, vector: bool = False) -> None:
    if wanted and vector:
        lines.append((f"{indent}if not math.isfinite(sum({name})): raise ArithmeticError", None))
    elif wanted:
        lines.append((f"{indent}if {name} - {name}: raise ArithmeticError", None))


def _guard(lines: list, indent: str, low: str, high: str) -> None:
    """`low` and `high` within [-BOUND, BOUND] (not a nan), else numpy's statements run."""
    bound = "1e15"  # BOUND
    test = (
        f"-{bound} <= {low} <= {bound}"
        if low == high
        else f"-{bound} <= {low} <= {high} <= {bound}"
    )
    lines.append((f"{indent}if not {test}: raise ArithmeticError", None))


def _dels(lines, indent: str, run: _Run, em) -> list:
    """The `del` of the values from before the run that numpy's statements (in `lines`)
    deleted, after both branches (scalar code reads them too)."""
    inside = {em.names[id(n)] for n in run.nodes}
    dead = [
        name
        for text, _ in lines
        if text.startswith(indent + "del ")
        for name in text[len(indent) + 4 :].split(", ")
        if name not in inside
    ]
    return [(f"{indent}del {', '.join(dict.fromkeys(dead))}", None)] if dead else []
