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
of 4096 (`graphc.backends.numba_source`), row by row where that reads a broadcast operand
(a bias, a column) in place: a block in which sin or cos meets an argument beyond their
reduction's range (or nan, inf) is run again with libm. With ``Numba(parallel_min=n)`` the
blocks of a loop of at least n entries run on numba's threads, with the same results bit
for bit; it is off by default: on a 2-core machine shared with other work it took 0.4-0.6x
the time of loops of 16k-1e6 entries while a core was free, but while the other core was busy
most calls waited for a scheduler time slice (3-10 ms, at any size: up to 2800x) for the
thread that must finish each loop. Float32 steps compute in float32 where numpy does and are
rounded to float32 after graphc's float64 elementary functions; sums accumulate in float64.
``f.export(path)`` writes a module that needs numpy and numba only.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.util
import math
import os
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np

from ..ir import Symbol, rebuild
from ..ops import OPS
from ..ops.fused import fused_loop
from .base import Backend
from .numba_source import kernel_name, kernels_text, library_text
from .numexpr import Clusters, _number, _weak_number

MIN_SIZE = 4096  # entries: below it a cluster stays numpy statements
ROW_MIN = 32  # entries: a loop is cut into rows of at least these (else broadcasts are copied:
# tanh(x + b), b of 16 entries, read in place row by row took 1.02x the copy, of 32 0.87x)
# A loop's body is cut where its weight (a step 1, sin and cos 8, exp and logs 5) would pass
# MAX_WEIGHT: compiling a loop of 100 sin and 800 other steps took 63 s, of 40 sin 1 s.
MAX_WEIGHT = 400
WEIGHTS = {"sin": 8, "cos": 8, "exp": 5, "log": 5, "log1p": 5}

CACHE_ENTRIES = 256  # modules the cache directory keeps (about 50 MB), the last written
_LIBRARY = "graphc_numba_math_"  # (+ the hash of its text: the library's module name)

_local = threading.local()  # the kernels of the program being written (lower -> header)
_loaded: dict[str, object] = {}
_lock = threading.Lock()


class Numba(Backend):
    """Elementwise clusters as one numba loop each (see the module docstring): clusters of at
    least `min_size` entries; full sums in the loop when `fuse_sum`; the blocks of loops of
    at least `parallel_min` entries on numba's threads (None: every loop on the calling
    thread).

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
    parallel_min = None  # (the default of a Numba pickled before the option)

    def __init__(
        self, min_size: int = MIN_SIZE, fuse_sum: bool = True, parallel_min: int | None = None
    ):
        self.min_size, self.fuse_sum, self.parallel_min = min_size, fuse_sum, parallel_min

    def parallel(self, attrs) -> bool:
        """Does the loop of `fused_loop` attrs `attrs` run its blocks on numba's threads (a
        loop of at least `parallel_min` entries; None: none does)?"""
        return self.parallel_min is not None and math.prod(attrs["shape"]) >= self.parallel_min

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
            return f"{kernel_name(node.attrs, self.parallel(node.attrs))}({', '.join(args)})"
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


def _split(stages: dict) -> dict:
    """{stage: its nodes, in program order} from {node: stage}."""
    parts: dict[int, list[Symbol]] = {}
    for n, stage in stages.items():
        parts.setdefault(stage, []).append(n)
    return parts


def _kind(leaf, shape, split: int) -> str:
    """How a loop of `shape` cut at axis `split` reads an input of shape `leaf`
    (`graphc.ops.fused.KINDS`)."""
    if leaf == shape:
        return "a"
    if leaf is None or None in leaf:
        return "b"
    if math.prod(leaf) == 1:
        return "s"
    padded = (1,) * (len(shape) - len(leaf)) + tuple(leaf)
    if split and padded[split:] == shape[split:] and set(padded[:split]) == {1}:
        return "r"
    if split and padded[:split] == shape[:split] and set(padded[split:]) == {1}:
        return "c"
    return "b"


def _reading(leaves, shape) -> tuple[int, tuple[str, ...]]:
    """(split, kinds): where a loop of `shape` is cut into rows and columns, and how it reads
    inputs of shapes `leaves`: the cut, into rows of at least `ROW_MIN` entries, at which
    the fewest broadcast inputs must be copied to the loop's shape (the others are read in
    place: a bias the same in every row, a column one entry per row); 0 (one flat loop) when
    no cut spares a copy.

    >>> _reading([(256,), (64, 256), (), (64, 1)], (64, 256))
    (1, ('r', 'a', 's', 'c'))
    >>> _reading([(8, 1)], (4, 8, 100)), _reading([(8,)], (300, 8))
    ((0, ('b',)), (0, ('b',)))
    """
    best = (0, tuple(_kind(leaf, shape, 0) for leaf in leaves))
    for split in range(1, len(shape)):
        kinds = tuple(_kind(leaf, shape, split) for leaf in leaves)
        if math.prod(shape[split:]) >= ROW_MIN and kinds.count("b") < best[1].count("b"):
            best = (split, kinds)
    return best


class Loops:
    """The clusters of one program's graph and their `fused_loop` nodes."""

    def __init__(self, outputs: list[Symbol], backend: Numba):
        self.outputs, self.backend = outputs, backend
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
        self.kernels: dict[str, tuple[dict, bool]] = {}  # name -> (attrs, parallel)

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
        split, kinds = _reading([x.shape for x in leaves.values()], shape)
        attrs = fused_loop.check_attrs(
            {"steps": tuple(steps), "outs": tuple(outs), "shape": shape, "kinds": kinds}
            | {"split": split}
        )
        shape_, dtype = fused_loop.node_type([], attrs)
        node = Symbol(fused_loop, tuple(new_leaves), attrs, shape_, dtype, origin=nodes[-1].origin)
        parallel = self.backend.parallel(attrs)
        self.kernels[kernel_name(attrs, parallel)] = (attrs, parallel)
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


def _library_name() -> str:
    text = library_text()
    return _import(text, _LIBRARY + _hash(text))


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


def cache_entries() -> int:
    """How many modules the cache directory keeps: ``GRAPHC_CACHE_ENTRIES``, else
    `CACHE_ENTRIES`."""
    return int(os.environ.get("GRAPHC_CACHE_ENTRIES") or CACHE_ENTRIES)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _import(text: str, name: str) -> str:
    """Import module `name` with source `text`, written once to the cache directory (where
    numba keeps its compiled code); returns `name`. A process that writes a module prunes
    the directory (`prune`)."""
    with _lock:
        if name not in _loaded:
            folder = cache_dir()
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{name}.py"
            with _locked(folder, shared=True):  # (no process prunes it meanwhile)
                wrote = not path.exists()
                if wrote:
                    temp = path.with_suffix(f".{os.getpid()}.tmp")
                    temp.write_text(text)
                    os.replace(temp, path)
                spec = importlib.util.spec_from_file_location(name, path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
            _loaded[name] = module
            if wrote:
                prune(folder, keep={name, *(n for n in _loaded if n.startswith(_LIBRARY))})
    return name


@contextlib.contextmanager
def _locked(folder: Path, shared: bool):
    """Hold the cache directory's lock (a ``flock`` of its ``.lock`` file): shared while a
    process writes and imports a module, exclusive while one prunes. Where there is no
    ``fcntl`` (Windows), or the lock file cannot be opened, nothing is locked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        yield
        return
    try:
        handle = open(folder / ".lock", "a")
    except OSError:  # a directory one may read but not write: nothing to prune there either
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prune(folder: Path, keep=frozenset(), limit: int | None = None) -> list[str]:
    """Bound the cache directory `folder` to the `limit` (`cache_entries()`) modules written
    last, and the modules named in `keep`: delete the others' source and numba's files of
    every module no longer there (also those a process compiled after the module was
    deleted). Returns the names deleted. A process still using a deleted module keeps it in
    memory; one that needs it again writes it again (and compiles it).

    Safe against processes writing, importing or pruning meanwhile: it holds the
    directory's lock exclusively, so no module is deleted between its check and its import
    (`_import`); numba reads a missing index as no compiled code."""
    limit = cache_entries() if limit is None else limit
    with _locked(folder, shared=False):
        modules = sorted(
            folder.glob("graphc_*.py"), key=lambda p: p.stat().st_mtime_ns, reverse=True
        )
        dropped = [p for k, p in enumerate(modules) if k >= limit and p.stem not in keep]
        for path in dropped:
            path.unlink(missing_ok=True)
        remaining = {p.stem for p in modules} - {p.stem for p in dropped}
        compiled = folder / "__pycache__"
        for path in compiled.glob("graphc_*") if compiled.is_dir() else []:
            if path.name.split(".")[0] not in remaining:
                path.unlink(missing_ok=True)
    return [p.stem for p in dropped]


def load(kernels: str):
    """The kernel module of `kernels` (see `module_text`), imported from the cache
    directory under the hash of its text."""
    text = module_text(textwrap.dedent(kernels))
    return _loaded[_import(text, "graphc_kernels_" + _hash(text))]
