"""The ``"dask"`` backend: the numpy program over `dask.array`, lazy and chunked.

The program's first lines make each argument a dask array (``x = _chunked(x, chunks)``:
a dask array keeps its own chunks, a memmap is read chunk by chunk, other arrays are cut by
``da.asarray``), each statement then builds a lazy dask
array through numpy's dispatch (NEP 13 and 18), and the last line computes every output in
one ``dask.compute(...)``, so work that outputs share runs once. The active scheduler runs
it: dask's threads by default, a `dask.distributed.Client`'s cluster when one is active.

Not every numpy function has a chunked dask form. An op in `WHOLE` runs on its operands
gathered into one piece (``_whole``: still lazy and inside the one compute, but not
chunked: linear algebra's factorisations, sorting, indexing by arrays, and whatever reads
a value whose shape depends on the data, ...); an elementwise op dask lacks runs chunk by
chunk (``da.map_blocks``).

Control flow on array values cannot stay lazy: dask builds a graph without branches. A
`cond` computes its predicate where the program reaches it (``_decided``: once, though the
gradient's cond reads it again), a `while_loop` whose condition reads the data its
condition before each iteration, with its carries persisted first (``dask.persist``:
computed, kept in memory, or in the cluster's, in their chunks), so that each test builds
on the last iteration only. What is computed there shares work with the values of its
block that read the same intermediate results and are still live (`_shared`): a cond's
predicate is computed, and a while_loop's carries and captures persisted, in one
``dask.persist`` with those values, so that the work runs once (and a capture the condition
reads is not computed again at every test); they are then held in memory until the program
returns. (Work a cond or loop in a loop body or a branch shares with values outside that
block runs again.) A `while_loop` whose condition reads no data (a counter), a `fori_loop`
and a `scan` stay lazy.
"""

from __future__ import annotations

import inspect
import mmap
import re

import numpy as np

from ..binding import check_array, check_declared
from ..errors import BackendError, ShapeError
from ..ir import toposort
from ..ops.base import Elementwise
from .base import Backend

DOCTEST_NEEDS = ("dask",)  # tests/test_doctests.py skips this module's examples without it

# Ops run on their operands whole (one piece, one task): dask has no chunked form of them.
WHOLE = {
    "cholesky": "a factorisation needs each matrix whole",
    "det": "a factorisation needs each matrix whole",
    "slogdet": "a factorisation needs each matrix whole",
    "inv": "a factorisation needs each matrix whole",
    "solve": "a factorisation needs each matrix whole",
    "solve_rule": "a factorisation needs each matrix whole",
    "svd": "a factorisation needs each matrix whole",
    "qr": "a factorisation needs each matrix whole",
    "eigh": "a factorisation needs each matrix whole",
    "sort": "dask has no sort",
    "sorted_like": "dask has no argsort",
    "take": "indexing by arrays",
    "index_grad": "scatter-adds (np.add.at) into zeros",
    "diag_embed": "writes into a diagonal",
    "diag_grad": "writes into a diagonal",
    "diagonal": "dask's diagonal is 2-d only",
    "trace": "dask's trace is 2-d only",
    "diag": "writes into a diagonal",
    "cross": "dask has no cross product",
    "kron": "dask has no kron",
    "linspace": "its ends are array values",
    "split": "dask has no split",
    "prod_others": "running products along an axis",
    "cross_entropy": "dask has no take_along_axis",
    "one_hot": "writes ones at the labels",
    "repeat": "dask repeats along one given axis only",
}
# Elementwise ops whose numpy form dask lacks: run chunk by chunk with da.map_blocks.
BLOCKWISE = {"erf", "nan_to_num"}


class MemmapFile:
    """A memory-mapped numpy array (`np.load(path, mmap_mode="r")`, or a view of one) that
    dask reads chunk by chunk (its `from_array` copies a memmap whole), and that pickles as
    its file, offset, dtype and shape when it is a whole memmap, so that a cluster's worker
    maps the file again instead of receiving its bytes (the file must be at the same path
    there)."""

    def __init__(self, array):
        self.array = array
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim
        self.file = _file_of(array)

    def __getitem__(self, key):
        return np.array(self.array[key])

    def __reduce__(self):
        if self.file is None:
            return MemmapFile, (np.array(self.array),)  # not a file's bytes: its values
        order = "C" if self.array.flags.c_contiguous else "F"
        return _open_memmap, (*self.file, self.dtype.str, self.shape, order)

    def __dask_tokenize__(self):
        m = self.array
        address = m.__array_interface__["data"][0]
        return ("memmap", id(m), address, m.shape, m.strides, m.dtype.str)


def _open_memmap(filename, offset, dtype, shape, order):
    return MemmapFile(np.memmap(filename, dtype, "r", offset, shape, order))


def _file_of(x):
    """(file name, byte offset) of a contiguous array `x` that lies in a file a numpy memmap
    maps (the memmap, or a view of it), else None."""
    if not (x.flags.c_contiguous or x.flags.f_contiguous):
        return None
    m = x
    while isinstance(m, np.ndarray) and not (
        isinstance(m, np.memmap) and isinstance(m.base, mmap.mmap)
    ):
        m = m.base
    if not isinstance(m, np.memmap) or m.filename is None:
        return None
    return m.filename, m.offset + (x.ctypes.data - m.ctypes.data)


def _chunked(x, chunks):
    """`x` as a dask array: a dask array as it is, a memory-mapped array read chunk by
    chunk (`MemmapFile`), anything else cut in `chunks` by `dask.array.from_array`."""
    import dask.array as da

    base = x
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, mmap.mmap):
        x = MemmapFile(x)
    return da.asarray(x, chunks=chunks)


class Dask(Backend):
    """The dask backend: ``gc.compile(..., backend="dask")`` or, with options,
    ``backend=gc.backends.Dask(chunks=..., lazy=...)``.

    The function takes numpy arrays, memmaps (``np.load(path, mmap_mode="r")``, read chunk
    by chunk), zarr arrays and dask arrays, none of them read when the call checks their
    shape and dtype; `chunks` is how an argument that is not a dask array yet is cut
    (anything `dask.array.from_array` takes; dask's ``"auto"`` by default), the same for
    every argument: a dict by axis such as ``{0: 100_000}`` cuts rows whatever an
    argument's rank (a dask array keeps its own chunks). Every output is
    computed in one ``dask.compute(...)`` call and returned as numpy values; with
    ``lazy=True`` the outputs are returned as dask arrays, not computed.

    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x", shape=(6,))
    >>> y = gc.sum(gc.exp(x))
    >>> f = gc.compile([x], [y, gc.grad(y, x)], backend=gc.backends.Dask(chunks=2))
    >>> value, grad = f(np.zeros(6))
    >>> value, grad
    (np.float64(6.0), array([1., 1., 1., 1., 1., 1.]))
    >>> print(f.source)  # doctest: +ELLIPSIS
    import dask
    ...
    def fn(x):
        x = _chunked(x, 2)
        t1 = np.exp(x)
        t2 = t1.sum()
        return dask.compute(t2, t1)
    """

    name = "dask"
    scalar_code = False  # its arrays are not numpy's
    packages = ("dask",)
    extra = "dask"
    in_place = False

    def __init__(self, chunks="auto", lazy: bool = False):
        self.chunks_text = _literal(chunks)
        self.chunks = chunks
        self.lazy = bool(lazy)

    # --- the program -------------------------------------------------------------------
    control_texts = {
        "decide": lambda em, node: _decide(em, node),
        "enter": lambda em, node: _enter(em, node),
        "carries": lambda em, node: (
            "{names}, = dask.persist({names})" if _tests_data(node) else ""
        ),
    }

    def expr(self, node, args):
        if node.op in BLOCKWISE and isinstance(node.opdef, Elementwise):
            params = [f"_a{i}" for i in range(len(args))]
            body = node.opdef.emit(*params, **node.attrs)
            dtype = "" if node.dtype is None else f", dtype={np.dtype(node.dtype).name!r}"
            return f"da.map_blocks(lambda {', '.join(params)}: {body}, {', '.join(args)}{dtype})"
        ranks = [None if x.shape is None else len(x.shape) for x in node.inputs]
        if node.op in ("dot", "inner") and 0 in ranks:
            return f"{args[0]} * {args[1]}"  # by a number: numpy's dot and inner multiply
        if node.op == "inner" and None not in ranks:
            return f"np.tensordot({args[0]}, {args[1]}, ({ranks[0] - 1}, {ranks[1] - 1}))"
        if node.op in WHOLE or _whole_here(node, ranks):
            return _whole_expr(node, args)
        if node.op in ("reshape", "reshape_like"):  # chunks that do not fit: rechunked
            return f"_reshape(lambda _a0: {node.opdef.emit('_a0', *args[1:], **node.attrs)}, {args[0]})"
        return super().expr(node, args)

    def header(self, helpers):
        return [
            "import dask",
            "import dask.array as da",
            *super().header(helpers),
            "from graphc.backends.dask import _chunked, _decided, _reshape, _whole",
        ]

    def prologue(self, params):
        return [f"{p} = _chunked({p}, {self.chunks_text})" for p in params]

    def returns(self, results, single):
        if self.lazy or not results:
            return super().returns(results, single)
        if single:
            return f"dask.compute({results[0]})[0]"
        return f"dask.compute({', '.join(results)})"

    def standalone(self, program=None):
        lines = ["import mmap", "", "import dask", "import dask.array as da", "import numpy as np"]
        for helper in (MemmapFile, _open_memmap, _file_of, _chunked, _decided, _whole, _reshape):
            lines += ["", inspect.getsource(helper).rstrip()]
        return lines

    # --- the arguments -----------------------------------------------------------------
    def check(self, what, name, value, vars_):
        if not _kept(value):  # numpy's arrays (a memmap stays mapped: not read)
            return check_array(what, name, value, vars_)
        where = f"{what}: argument {name!r}" if what else f"argument {name!r}"
        dtype, shape = np.dtype(value.dtype), tuple(value.shape)
        if any(not isinstance(d, (int, np.integer)) for d in shape):
            raise ShapeError(
                f"{where}: a dask array of unknown shape {shape}; call "
                "x.compute_chunk_sizes() first"
            )
        check_declared(where, shape, dtype, vars_)
        return value

    def signature(self, array):
        return type(array), tuple(int(d) for d in array.shape), np.dtype(array.dtype)

    def __eq__(self, other):
        return type(other) is type(self) and (self.chunks_text, self.lazy) == (
            other.chunks_text,
            other.lazy,
        )

    def __hash__(self):
        return hash((type(self), self.chunks_text, self.lazy))

    def __repr__(self):
        lazy = ", lazy=True" if self.lazy else ""
        return f"<graphc backend 'dask' (chunks={self.chunks_text}{lazy})>"


def _whole(fn, shape, dtype, *args):
    """`fn(*args)` on whole arrays, lazily: a one-chunk dask array of `shape` and `dtype`
    (a tuple of them for a function of several results, `shape` and `dtype` then being
    tuples too)."""
    import dask
    import dask.array as da

    value = dask.delayed(fn, pure=True)(*args)
    if isinstance(dtype, tuple):
        return tuple(
            da.from_delayed(value[k], s, dtype=d) for k, (s, d) in enumerate(zip(shape, dtype))
        )
    return da.from_delayed(value, shape, dtype=dtype)


def _decided(x, *shared):
    """A cond's predicate `x` computed, if it is a dask array (its branch is chosen now);
    given the values `shared` that share work with it, they are persisted in the same
    computation and returned after it (else they would compute that work again)."""
    import dask
    import dask.array as da

    if not isinstance(x, da.Array):
        return (x, *shared) if shared else x
    if not shared:
        return x.compute()
    x, *shared = dask.persist(x, *shared)
    return (x.compute(), *shared)


def _decide(em, cond) -> str:
    """The statement deciding cond node `cond`'s predicate, with the values it shares work
    with (`_shared`) persisted in the same computation; a predicate an earlier cond decided
    (the gradient's cond reads the forward one's) is only read."""
    pred = cond.inputs[0]
    live, decided = _live(em)
    name = em.names.get(id(pred))
    shared = [] if name in decided else _shared(em, cond, [pred], live - {name})
    if not shared:
        return "{pred} = _decided({pred})"
    names = ", ".join(shared)
    return "{pred}, " + names + " = _decided({pred}, " + names + ")"


def _enter(em, loop) -> str:
    """The statement before a while_loop's first test: if its condition reads data, its
    carries persisted, with its captures and the values they share work with."""
    if not _tests_data(loop):
        return ""
    shared = "".join(", " + name for name in _shared(em, loop, loop.inputs, _live(em)[0]))
    return "{names}" + shared + ", = dask.persist({names}" + shared + ")"


def _shared(em, node, roots, live) -> list[str]:
    """The names in `live` of the values computed before control-flow node `node` in its
    block that read an intermediate result of the `roots` (or are one): the work `node`
    computes in the middle of the program shares with them."""
    todo = [n for n in toposort(list(roots)) if n.op not in ("var", "const")]
    seen, names = set(), []
    while todo:
        n = todo.pop()
        if id(n) in seen or n is node:
            continue
        seen.add(id(n))
        if em.names.get(id(n)) in live:
            names.append(em.names[id(n)])
        todo.extend(em.readers(n))
    return list(dict.fromkeys(names))


_ASSIGNED = re.compile(r"(\w+(?:, \w+)*),? = (_decided\()?")


def _live(em) -> tuple[set, set]:
    """(the names the lines emitted so far assign and do not delete, the predicates they
    decide): the program's names are unique (no buffer is reused)."""
    live, deleted, decided = set(), set(), set()
    for text, _ in em.lines:
        line = text.strip()
        if line.startswith("del "):
            deleted.update(name.strip() for name in line[4:].split(","))
            continue
        match = _ASSIGNED.match(line)
        if match:
            names = match[1].split(", ")
            live.update(names)
            if match[2]:
                decided.add(names[0])
    return live - deleted, decided


def _tests_data(loop) -> bool:
    """Does while_loop `loop`'s condition read a value computed from the arguments (a dask
    array), directly or through a carry that the body makes from one (found by iterating
    to a fixed point)? Only then is it computed in the middle of the program, and its
    carries are persisted; else (a counter) the loop stays lazy."""
    cond, body = loop.attrs["cond"], loop.attrs["body"]
    data = [any(n.op == "var" for n in toposort([x])) for x in loop.inputs]  # carries, caps
    changed = True
    while changed:
        changed = False
        for j, out in enumerate(body.outputs):
            if not data[j] and _reads(out, body.inputs, data):
                data[j] = changed = True
    return _reads(cond.outputs[0], cond.inputs, data)


def _reads(out, params, flags) -> bool:
    """Does sub-graph output `out` read one of the `params` whose flag is set?"""
    flagged = {id(p) for p, flag in zip(params, flags) if flag}
    return any(id(n) in flagged for n in toposort([out]))


def _whole_here(node, ranks) -> bool:
    """Does this node of an op that dask runs chunked in general need its operands whole:
    an operand whose shape depends on the data (an index by a mask of data: dask knows
    neither its length nor its chunks), indexing by arrays other than one 1-d integer
    array (or of a numpy constant), stacking numbers, unknown ranks, matrix norms (by
    singular values)?"""
    if any(x.shape is not None and None in x.shape for x in node.inputs):
        return True
    if node.op == "getitem" and len(node.inputs) > 1:
        index = node.inputs[1:]
        return (
            len(index) > 1
            or ranks[1] != 1
            or index[0].dtype is None
            or index[0].dtype.kind == "b"
            or node.inputs[0].op == "const"  # numpy's indexing would compute the index
        )
    if node.op in ("hstack", "vstack", "inner") and (0 in ranks or None in ranks):
        return True
    if node.op == "norm" and node.attrs["ord"] in (2, -2, "nuc"):  # by singular values
        axis = node.attrs["axis"]
        return ranks[0] != 1 and (axis is None or (not isinstance(axis, int) and len(axis) == 2))
    return False


def _reshape(fn, x):
    """`fn(x)` (a reshape); when x's chunks do not fit the new shape, on x in one chunk."""
    try:
        return fn(x)
    except NotImplementedError:
        return fn(x.rechunk(-1))


def _whole_expr(node, args) -> str:
    """`_whole(lambda ...: <numpy statement>, shape, dtype, args...)` for `node`; a
    `get` of a tuple-valued op's result reads it as numpy does."""
    params = [f"_a{i}" for i in range(len(args))]
    body = node.opdef.emit(*params, **node.attrs)
    parts = _parts(node)
    if parts is None:
        shape, dtype = _shape_text(node.shape), _dtype_text(node.dtype)
    else:
        shape = "(" + "".join(_shape_text(p.shape) + ", " for p in parts) + ")"
        dtype = "(" + "".join(_dtype_text(p.dtype) + ", " for p in parts) + ")"
    lam = f"lambda {', '.join(params)}: {body}" if params else f"lambda: {body}"
    return f"_whole({lam}, {shape}, {dtype}{''.join(', ' + a for a in args)})"


def _parts(node):
    """The results of a tuple-valued node (its `get`s' shapes and dtypes), or None."""
    types = getattr(node.opdef, "element_types", None)
    return None if types is None else [_Part(*t) for t in types(node)]


class _Part:
    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype


def _shape_text(shape) -> str:
    if shape is None:
        return "None"
    dims = ["np.nan" if d is None else str(int(d)) for d in shape]
    return "(" + "".join(d + ", " for d in dims) + ")"


def _dtype_text(dtype) -> str:
    return "None" if dtype is None else repr(np.dtype(dtype).name)


def _kept(value) -> bool:
    """Is `value` an array the call keeps where it is (a dask or zarr array), unread?"""
    module = type(value).__module__.split(".")[0]
    return module in ("dask", "zarr") and hasattr(value, "shape") and hasattr(value, "dtype")


def _literal(chunks) -> str:
    """Source text of a `chunks` option: ints, strings, None, tuples, lists and dicts of
    them, each written by its builtin type's own repr (no other value reaches the
    program's text)."""
    kind = type(chunks)
    if chunks is None or kind in (int, str):
        return repr(chunks) if kind is not str else str.__repr__(chunks)
    if kind in (tuple, list):
        inner = "".join(_literal(c) + ", " for c in chunks)
        return f"({inner})" if kind is tuple else f"[{inner}]"
    if kind is dict and all(type(k) is int for k in chunks):
        return (
            "{" + ", ".join(f"{int.__repr__(k)}: {_literal(v)}" for k, v in chunks.items()) + "}"
        )
    raise BackendError(
        f"dask: chunks must be an int, a string such as 'auto' or '64 MiB', None, or tuples "
        f"or a dict of them (as dask.array.from_array takes), got {chunks!r}"
    )
