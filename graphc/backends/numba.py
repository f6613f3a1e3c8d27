"""The ``"numba"`` backend: each maximal cluster of elementwise operations of the program
(forward and backward alike) is one loop, compiled by numba, that computes all the values
read outside the cluster and the full sums of the cluster's values in one pass over the
entries, with no temporaries.

`Numba.lower`, the last pass before the program is written, finds the clusters from the same
op facts as the numexpr backend (`graphc.backends.numexpr.Clusters`: an op with a `numexpr`
fact, float32, float64 and boolean values, known shapes of at least `min_size` entries):
connected fusable nodes of one shape, and full sums of them, form a cluster; a cluster whose
values reach each other through other operations (a gradient that reads a sum of the forward
values) is cut into stages that do not. Each becomes one `fused_loop` node
(`graphc.ops.fused.FusedLoop`), emitted as a call of its kernel, a plain Python function of
the program's kernel module.

The kernel module's source is in the program's header (``f.source``), generated from the
op facts only (no user string reaches it). `load` writes it, after numba's imports and
graphc's elementary functions (`graphc.backends.numba_math`: sin, cos, exp, log, log1p, tanh as
polynomials that LLVM vectorises, where numba calls libm one entry at a time), to a file named
by the hash of its text in the cache directory (``GRAPHC_CACHE_DIR``, else
``~/.cache/graphc``), and numba caches the compiled code next to it: a second process loads
it instead of compiling (about 0.3 s against 1-3 s). Each kernel runs the entries in blocks
of 4096: a block in which sin or cos meets an argument beyond their reduction's range (or
nan, inf) is run again with libm. Float32 steps compute in float32 where numpy does and are
rounded to float32 after graphc's float64 elementary functions; sums accumulate in float64.
``f.export(path)`` writes a module that needs numpy and numba only.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import math
import os
import re
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np

from ..ir import Symbol, rebuild
from ..ops import OPS
from ..ops.fused import FusedLoop, fused_loop, number_text, template
from . import numba_math
from .base import Backend
from .numexpr import Clusters, _number, _weak_number

MIN_SIZE = 4096  # entries: below it a cluster stays numpy statements
BLOCK = 4096  # entries per block of a kernel's loop
# A loop's body is cut where its weight (a step 1, sin and cos 8, exp and logs 5) would pass
# MAX_WEIGHT: compiling a loop of 100 sin and 800 other steps took 63 s, of 40 sin 1 s.
MAX_WEIGHT = 400
WEIGHTS = {"sin": 8, "cos": 8, "exp": 5, "log": 5, "log1p": 5}

# numexpr's function names -> the kernel's (graphc's own where it has one, libm otherwise)
FUNCTIONS = {
    "sin": "_sin(float({0}))",
    "cos": "_cos(float({0}))",
    "exp": "_exp(float({0}))",
    "log": "_log(float({0}))",
    "log1p": "_log1p(float({0}))",
    "tanh": "_tanh(float({0}))",
    "maximum": "_maximum({0}, {1})",
    "minimum": "_minimum({0}, {1})",
    "sign": "_sign({0})",
    "where": "({1} if {0} else {2})",
    "floor": "np.floor({0})",
    "ceil": "np.ceil({0})",
    "abs": "abs({0})",
    **{
        name: f"math.{name.replace('arc', 'a')}({{0}})"
        for name in "sqrt tan arcsin arccos arctan sinh cosh arcsinh arccosh arctanh "
        "expm1 log10 log2".split()
    },
}

PRELUDE = """import math

import numba as _numba
import numpy as np
from llvmlite import ir as _ir
from numba.extending import intrinsic as _intrinsic

_ELEMENT = dict(error_model="numpy", fastmath=False, forceinline=True, cache=True)
_LOOP = dict(error_model="numpy", fastmath=False, nogil=True, cache=True)
_SUM = dict(error_model="numpy", fastmath={"reassoc", "nsz"}, nogil=True, cache=True)
_BLOCK = BLOCK_SIZE


@_intrinsic
def f2i(typingctx, x):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], _ir.IntType(64))

    return _numba.types.int64(_numba.types.float64), codegen


@_intrinsic
def i2f(typingctx, x):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], _ir.DoubleType())

    return _numba.types.float64(_numba.types.int64), codegen
""".replace("BLOCK_SIZE", str(BLOCK))

_local = threading.local()  # the kernels of the program being written (lower -> header)
_loaded: dict[str, object] = {}
_lock = threading.Lock()


class Numba(Backend):
    """Elementwise clusters as one numba loop each (see the module docstring).

    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x", shape=(10000,), dtype=np.float64)
    >>> y = gc.sum(gc.sin(x) * gc.exp(-x * x) + x)
    >>> f = gc.compile([x], [y, *gc.grad(y, [x])], backend="numba")
    >>> print(f.source.split("def fn")[1])  # doctest: +ELLIPSIS
    (x):
        t1 = _nbk_...(x)
        t2 = t1[0]
        t3 = t1[1]
        return t2, t3
    <BLANKLINE>
    >>> value, grad = f(np.linspace(-1.0, 1.0, 10000))
    """

    name = "numba"
    packages = ("numba",)
    extra = "numba"

    def __init__(self, min_size: int = MIN_SIZE, fuse_sum: bool = True):
        self.min_size, self.fuse_sum = min_size, fuse_sum

    def lower(self, outputs: list[Symbol]) -> list[Symbol]:
        loops = Loops(outputs, self)
        result = loops.fused()
        _local.kernels = loops.kernels
        return result

    def header(self, helpers: set[str]) -> list[str]:
        lines = super().header(helpers)
        kernels = getattr(_local, "kernels", {})
        _local.kernels = {}
        if not kernels:
            return lines
        text = kernels_text(list(kernels.values()))
        lines += ["from graphc.backends.numba import load as _nb_load", "", "_k = _nb_load('''"]
        lines += [("    " + line).rstrip() for line in text.splitlines()] + ["''')"]
        return lines + [f"{name} = _k.{name}" for name in kernels]

    def expr(self, node: Symbol, args: list[str]) -> str:
        if node.op == "fused_loop":
            return f"{kernel_name(node.attrs)}({', '.join(args)})"
        return super().expr(node, args)

    def standalone(self, program=None) -> list[str]:
        kernels = _kernels_of(program.source) if program is not None else ""
        return [library_text(), kernels] if kernels else ["import numpy as np"]

    def __repr__(self):
        return f"<graphc backend {self.name!r}>"


DOCTEST_NEEDS = ("numba",)


class _Nodes(Clusters):
    """The numexpr backend's fusable nodes, with known shapes; full sums of float32 and
    float64 values (accumulated in float64), whatever else reads the values."""

    def _fusable(self, n: Symbol) -> bool:
        return n.shape is not None and None not in n.shape and super()._fusable(n)

    def _summed(self, n: Symbol, x: Symbol, returned) -> bool:
        return n.dtype == x.dtype and n.dtype in (np.float32, np.float64)


def kernel_name(attrs) -> str:
    """A cluster's kernel name: a hash of its `fused_loop` attrs (one cluster, one kernel)."""
    text = repr(tuple(attrs[k] for k in FusedLoop.attr_names))
    return "_nbk_" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _split(stages: dict) -> dict:
    """{stage: its nodes, in program order} from {node: stage}."""
    parts: dict[int, list[Symbol]] = {}
    for n, stage in stages.items():
        parts.setdefault(stage, []).append(n)
    return parts


def _kind(leaf, shape) -> str:
    """How a loop of `shape` reads an input of shape `leaf` (`graphc.ops.fused.KINDS`)."""
    if leaf == shape:
        return "a"
    known = leaf is not None and None not in leaf
    return "s" if known and math.prod(leaf) == 1 else "b"


class Loops:
    """The clusters of one program's graph and their `fused_loop` nodes."""

    def __init__(self, outputs: list[Symbol], backend: Numba):
        self.outputs = outputs
        nodes = _Nodes(outputs, backend)
        self.order, self.readers = nodes.order, nodes.readers
        self.position = {id(n): i for i, n in enumerate(self.order)}
        groups: dict[tuple, list[Symbol]] = {}  # the fusable nodes of each shape
        for n in self.order:
            if nodes.ok[id(n)]:
                groups.setdefault(n.shape, []).append(n)
            elif id(n) in nodes.sums:
                groups.setdefault(n.inputs[0].shape, []).append(n)
        self.group: dict[int, tuple] = {}  # id(node) -> its cluster's key
        self.members: dict[tuple, list[Symbol]] = {}
        self.sums = nodes.sums
        for root, nodes_ in groups.items():
            for stage, part in _split(self._stages(nodes_)).items():
                for n, chunk in self._chunks(part).items():
                    self.group[id(n)] = (root, stage, chunk)
                    self.members.setdefault((root, stage, chunk), []).append(n)
        self.returned = {id(o) for o in outputs}
        self.made: dict[tuple, Symbol | None] = {}
        self.kernels: dict[str, dict] = {}

    def _chunks(self, nodes: list[Symbol]) -> dict:
        """{node: chunk}: a stage cut, in program order, into loops of at most `MAX_WEIGHT`
        (LLVM's time grows faster than the loop's body); a sum goes with its values."""
        chunk, weight, found = 0, 0, {}
        for n in nodes:
            if id(n) in self.sums:
                found[n] = found[n.inputs[0]]
                continue
            cost = WEIGHTS.get(n.op, 1)
            if weight and weight + cost > MAX_WEIGHT:
                chunk, weight = chunk + 1, 0
            weight += cost
            found[n] = chunk
        return found

    def _stages(self, nodes: list[Symbol]) -> dict:
        """{node: stage}: a node reading a sum of the cluster's values, or through other
        operations any value of the cluster, computed at stage s is at stage s + 1 or later
        (one loop per stage)."""
        inside = {id(n) for n in nodes}
        stage: dict[int, int] = {}
        after: dict[int, int] = {}  # outside node -> the first stage that may read it
        first = self.position[id(nodes[0])]
        for n in self.order[first:]:
            if id(n) in inside:
                stage[id(n)] = max(
                    [
                        stage[id(x)] + (id(x) in self.sums)
                        if id(x) in inside
                        else after.get(id(x), 0)
                        for x in n.inputs
                    ]
                    or [0]
                )
            else:
                reach = [
                    stage[id(x)] + 1 if id(x) in inside else after[id(x)]
                    for x in n.inputs
                    if id(x) in inside or id(x) in after
                ]
                if reach:
                    after[id(n)] = max(reach)
        return {n: stage[id(n)] for n in nodes}

    def fused(self) -> list[Symbol]:
        """The outputs with each cluster's results read from its `fused_loop` node."""
        memo: dict[int, Symbol] = {}

        def rule(node, inputs):
            key = self.group.get(id(node))
            if key is None:
                return None
            loop = self._loop(key, rule, memo)
            if loop is None:
                return None
            node_, results = loop
            if id(node) not in results:
                return None  # read only inside the loop (left unused)
            k = results[id(node)]
            if len(results) == 1:
                return node_
            return Symbol(OPS["get"], (node_,), {"index": k}, node.shape, node.dtype)

        return rebuild(self.outputs, rule, memo=memo, order=self.order)

    def _loop(self, key, rule, memo):
        if key in self.made:
            return self.made[key]
        self.made[key] = None
        nodes = self.members[key]
        inside = {id(n) for n in nodes}
        ops = [n for n in nodes if id(n) not in self.sums]
        if len(nodes) < 2 or not ops:
            return None
        shape = ops[-1].shape
        leaves: dict[int, Symbol] = {}
        steps: list[tuple] = []
        index: dict[int, int] = {}
        outs: list[tuple] = []
        results: dict[int, int] = {}
        for n in nodes:
            if id(n) in self.sums:
                outs.append((index[id(n.inputs[0])], "sum"))
            else:
                args = [self._arg(x, n, i, inside, index, leaves) for i, x in enumerate(n.inputs)]
                index[id(n)] = len(steps)
                steps.append((n.op, n.dtype.name, *args))
                readers = self.readers[id(n)]
                if id(n) not in self.returned and all(id(r) in inside for r in readers):
                    continue  # read only inside the loop
                outs.append((index[id(n)], None))
            results[id(n)] = len(outs) - 1
        new_leaves = rebuild(list(leaves.values()), rule, memo=memo)
        kinds = tuple(_kind(x.shape, shape) for x in leaves.values())
        attrs = fused_loop.check_attrs(
            {"steps": tuple(steps), "outs": tuple(outs), "shape": shape, "kinds": kinds}
        )
        shape_, dtype = fused_loop.node_type([], attrs)
        node = Symbol(fused_loop, tuple(new_leaves), attrs, shape_, dtype, origin=nodes[-1].origin)
        self.kernels[kernel_name(attrs)] = attrs
        self.made[key] = (node, results)
        return self.made[key]

    def _arg(self, x, user, i, inside, index, leaves):
        if id(x) in inside:
            return ("v", index[id(x)])
        if _weak_number(x):
            return _number(x, user, i, leaves)
        if x.op == "const" and x.shape == () and x.dtype == np.float64:
            value = float(np.asarray(x.attrs["value"]))  # a float64 scalar: a literal
            if math.isfinite(value):
                return ("lit", value)
        if id(x) not in leaves:
            leaves[id(x)] = x
        return ("in", list(leaves).index(id(x)))


# --- the kernel module's source --------------------------------------------------------


def _spelling(op_name: str) -> str:
    """The kernel's statement template for op `op_name` (from its numexpr spelling)."""
    spelled = template(OPS[op_name])
    head = spelled.split("(")[0]
    if head in FUNCTIONS:
        args = ", ".join(f"{{{k}}}" for k in range(OPS[op_name].nin))
        if spelled != f"{head}({args})":  # relu: maximum({0}, 0)
            inner = spelled[len(head) + 1 : -1].split(", ")
            return FUNCTIONS[head].format(*inner)
        return FUNCTIONS[head]
    return spelled


def _names(args) -> list[str]:
    return [
        f"a{a[1]}" if a[0] == "in" else f"v{a[1]}" if a[0] == "v" else number_text(a[1])
        for a in args
    ]


def _step_text(step) -> str:
    op, dtype, *args = step
    text = _spelling(op).format(*_names(args))
    return f"np.float32({text})" if dtype == "float32" else text


def kernel_text(name: str, attrs: dict) -> str:
    """One cluster's kernel: the loop over the entries in blocks (`<name>_l`), and the
    Python function the program calls (`<name>`), which flattens the inputs and makes the
    outputs. A block where sin or cos met an argument beyond their reduction's range is run
    again with libm's; a block's values to sum are kept in a buffer, summed by `_bsum`."""
    steps, outs, kinds = attrs["steps"], attrs["outs"], attrs["kinds"]
    params = [f"a{k}" for k in range(len(kinds))]
    arrays = [f"o{k}" for k, (_, r) in enumerate(outs) if r is None]
    sums = [k for k, (_, r) in enumerate(outs) if r == "sum"]
    args = ", ".join([*params, *arrays, *(f"b{k}" for k in sums)])
    checked = sorted({_names(s[2:])[0] for s in steps if s[0] in ("sin", "cos")})
    lines = ["@_numba.njit(**_LOOP)", f"def {name}_l(n, {args}):"]
    lines += [f"    t{k} = 0.0" for k in sums] + ["    for lo in range(0, n, _BLOCK):"]
    lines += ["        hi = min(lo + _BLOCK, n)"] + ["        bad = False"] * bool(checked)
    lines += _block(attrs, checked, exact=False)
    if checked:
        lines += [
            "        if bad:  # again with libm's sin and cos",
            *_block(attrs, checked, True),
        ]
    lines += [f"        t{k} += _bsum(b{k}, hi - lo)" for k in sums]
    lines += [f"    return {''.join(f't{k}, ' for k in sums)}".rstrip(), ""]
    return "\n".join(lines + _caller(name, attrs, params, args, sums)) + "\n"


def _block(attrs, checked, exact: bool) -> list[str]:
    """The loop over one block's entries (libm's sin and cos where `exact`)."""
    indent = " " * (12 if exact else 8)
    reads = {f"a{k}": f"x{k}" for k, kind in enumerate(attrs["kinds"]) if kind != "s"}
    lines = [f"{indent}for i in range(lo, hi):"]
    lines += [f"{indent}    {x} = {a}[i]" for a, x in reads.items()]
    for j, step in enumerate(attrs["steps"]):
        text = _step_text(step)
        for a, x in reads.items():
            text = re.sub(rf"\b{a}\b", x, text)
        if exact:
            text = text.replace("_sin(", "math.sin(").replace("_cos(", "math.cos(")
        lines.append(f"{indent}    v{j} = {text}")
    for k, (j, r) in enumerate(attrs["outs"]):
        lines.append(f"{indent}    {f'o{k}[i]' if r is None else f'b{k}[i - lo]'} = v{j}")
    if checked and not exact:
        flags = " | ".join(f"_sc_bad(float({reads.get(v, v)}))" for v in checked)
        lines.append(f"{indent}    bad |= {flags}")
    return lines


def _caller(name, attrs, params, args, sums) -> list[str]:
    """The Python function the program calls: inputs flattened, outputs made."""
    steps, shape = attrs["steps"], attrs["shape"]
    n = math.prod(shape)
    lines = [f"def {name}({', '.join(params)}):"]
    for k, kind in enumerate(attrs["kinds"]):
        read = {"a": f"np.ravel(a{k})", "s": f"np.asarray(a{k}).reshape(-1)[0]"}.get(
            kind, f"np.broadcast_to(a{k}, {shape!r}).ravel()"
        )
        lines.append(f"    a{k} = {read}")
    for k, (j, r) in enumerate(attrs["outs"]):
        if r is None:
            lines.append(f"    o{k} = np.empty({n}, np.{steps[j][1].replace('bool', 'bool_')})")
    lines += [f"    b{k} = np.empty(min({n}, _BLOCK))" for k in sums]
    got = f"{''.join(f't{k}, ' for k in sums)}= " if sums else ""
    lines.append(f"    {got}{name}_l({n}, {args})")
    values = [
        f"o{k}.reshape({shape!r})" if r is None else f"np.{steps[j][1]}(t{k})"
        for k, (j, r) in enumerate(attrs["outs"])
    ]
    return lines + [f"    return {', '.join(values)}"]


def kernels_text(kernels: list[dict]) -> str:
    """The program's kernels (the part of its kernel module shown in ``f.source``)."""
    return "\n\n".join(kernel_text(kernel_name(a), a) for a in kernels)


def library_text() -> str:
    """numba's imports, the bit-cast intrinsics and graphc's elementary functions, compiled
    (a module of its own in the cache directory, which the kernel modules import)."""
    source = inspect.getsource(numba_math)
    library = source.split("# --- library", 1)[1].split("\n", 1)[1]
    names = numba_math.FUNCTIONS.split()
    decorate = "\n".join(f"{f} = _numba.njit(**_ELEMENT)({f})" for f in names)
    decorate += "\n_bsum = _numba.njit(**_SUM)(_bsum)"
    exported = [*names, "_bsum", "math", "np", "_numba", "_ELEMENT", "_LOOP", "_BLOCK"]
    return f"{PRELUDE}\n{library}\n{decorate}\n\n__all__ = {exported!r}\n"


def _library_name() -> str:
    text = library_text()
    return _import(text, "graphc_numba_math_" + _hash(text))


def module_text(kernels: str) -> str:
    """A kernel module: the library's names, then the program's kernels."""
    return f"from {_library_name()} import *  # noqa: F403\n\n\n{kernels}"


def _kernels_of(source: str) -> str:
    """The kernels' text in a program's header (the `load` call's argument), or ''."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Name) and func.id == "_nb_load":
                return textwrap.dedent(node.value.args[0].value)
    return ""


def cache_dir() -> Path:
    """Where kernel modules and numba's compiled code are kept."""
    root = os.environ.get("GRAPHC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "graphc"
    )
    return Path(root) / "numba"


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _import(text: str, name: str) -> str:
    """Import module `name` with source `text`, written once to the cache directory (where
    numba keeps its compiled code); returns `name`."""
    with _lock:
        if name not in _loaded:
            folder = cache_dir()
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{name}.py"
            if not path.exists():
                temp = path.with_suffix(f".{os.getpid()}.tmp")
                temp.write_text(text)
                os.replace(temp, path)
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            _loaded[name] = module
    return name


def load(kernels: str):
    """The kernel module of `kernels` (see `module_text`), imported from the cache
    directory under the hash of its text."""
    text = module_text(textwrap.dedent(kernels))
    return _loaded[_import(text, "graphc_kernels_" + _hash(text))]
