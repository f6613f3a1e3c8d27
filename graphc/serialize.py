"""Save and load graphs as JSON, validated on the way in.

Format (version 1)::

    {"format": "graphc", "version": 1, "kind": "symbol" | "list", "files": [FILE, ...],
     "graph": {"inputs": [ID, ...], "outputs": [ID, ...], "nodes": [NODE, ...]}}

    NODE = {"id": 0, "op": "var", "inputs": [ID, ...], "attrs": {NAME: VALUE, ...},
            "name": str, "shape": [int | null, ...], "dtype": "<f8", "origin": [FILE_ID, LINE]}

Nodes are listed in topological order with ids 0, 1, 2, ... (an id is its position), and an
input must name an earlier id, so a loaded graph cannot have a cycle. Keys at their default
(no inputs, no attrs, no name, unknown shape or dtype, no origin) are left out. An origin
names the user's file by its index in ``files`` (the file:line that made the node, kept as
data: printed as ``file:line`` in messages, never read, by loading or by any later error
message; a name is printable and at most 4096 characters). Attr values are JSON values;
what JSON cannot say is written as a one-key object: tuples are lists, and
``{"$float": "nan"}``, ``{"$complex": [re, im]}``,
``{"$array": {"dtype", "shape", "data"}}`` (little-endian bytes in base64, so every value,
NaN and inf included, comes back bit for bit), ``{"$scalar": ...}`` (a numpy scalar),
``{"$dtype": "<f4"}``, ``{"$dict": [[k, v], ...]}``,
``{"$slice": [start, stop, step]}``, ``{"$ellipsis": null}`` and ``{"$graph": GRAPH}`` (a
sub-graph held by a control-flow op, with its own ids; its ``inputs`` are its parameter vars).

Loading executes nothing from the file: op names are looked up in `OPS`, attrs go through the
op's `check_attrs` schema, and nodes are rebuilt with the ordinary shape and dtype rules
(`graphc.deserialize` decodes and validates). Anything wrong raises `SerializationError`.
"""

from __future__ import annotations

import base64
import json
import math
import os
import stat
from typing import Any

import numpy as np

from .deserialize import FORMAT, MAX_DEPTH, VERSION, load_json
from .dispatch import checks_call
from .errors import SerializationError
from .ir import Graph, Symbol, toposort, var_groups

__all__ = ["FORMAT", "MAX_LOAD_BYTES", "VERSION", "load", "load_json", "save", "tojson"]

MAX_LOAD_BYTES = 64 * 2**20  # the largest file `load` reads


# --- writing ---------------------------------------------------------------------------


def tojson(sym) -> str:
    """The graph of `sym` (a symbol, a Group, or a list of symbols) as JSON text.

    >>> import graphc as gc
    >>> x = gc.var("x", shape=(3,))
    >>> text = gc.sum(x * x).tojson()
    >>> y = gc.load_json(text)
    >>> y.op, y.list_arguments(), y.inputs[0].inputs[0].shape
    ('sum', ['x'], (3,))
    """
    if isinstance(sym, Symbol):
        kind, outputs = "symbol", [sym]
    elif isinstance(sym, (list, tuple)) and all(isinstance(s, Symbol) for s in sym):
        kind, outputs = "list", list(sym)
    else:
        raise SerializationError(
            f"tojson: expected a graphc symbol or a list of symbols, got {type(sym).__name__}"
        )
    var_groups(outputs)  # a var is its name: its declarations must agree
    writer = _Writer()
    graph = writer.graph([], outputs, depth=0)
    return _dump_document(
        {"format": FORMAT, "version": VERSION, "kind": kind, "files": writer.files, "graph": graph}
    )


def save(sym, path) -> None:
    """Write `tojson(sym)` to the file `path` (UTF-8)."""
    text = tojson(sym)
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise SerializationError(f"save: cannot write {path!s}: {exc}") from exc


def _dump_document(doc: dict) -> str:
    """JSON with one node per line, so saved graphs can be read and diffed."""
    graph = doc["graph"]
    head = {k: v for k, v in doc.items() if k != "graph"}
    dump = _dumps
    nodes = ",\n  ".join(dump(n) for n in graph["nodes"])
    return (
        dump(head)[:-1]
        + ',\n "graph": {"inputs": '
        + dump(graph["inputs"])
        + ', "outputs": '
        + dump(graph["outputs"])
        + ',\n "nodes": [\n  '
        + nodes
        + "\n ]}}\n"
    )


def _dumps(value) -> str:
    return json.dumps(value, allow_nan=False, ensure_ascii=False)


class _Writer:
    """Encodes graphs; collects the origin file names into one table."""

    def __init__(self):
        self.files: list[str] = []
        self._file_ids: dict[str, int] = {}

    def graph(self, inputs, outputs, depth: int) -> dict:
        if depth > MAX_DEPTH:
            raise SerializationError("tojson: sub-graphs are nested too deeply")
        nodes = toposort(list(inputs) + list(outputs))
        ids = {id(n): i for i, n in enumerate(nodes)}
        return {
            "inputs": [ids[id(s)] for s in inputs],
            "outputs": [ids[id(s)] for s in outputs],
            "nodes": [self.node(n, i, ids, depth) for i, n in enumerate(nodes)],
        }

    def node(self, node: Symbol, i: int, ids: dict, depth: int) -> dict:
        out: dict[str, Any] = {"id": i, "op": node.op}
        if node.inputs:
            out["inputs"] = [ids[id(x)] for x in node.inputs]
        if node.attrs:
            where = f"tojson: {node.op} node"
            out["attrs"] = {str(k): self.value(v, where, depth + 1) for k, v in node.attrs.items()}
        if node.name is not None:
            out["name"] = str(node.name)
        if node.shape is not None:
            out["shape"] = [None if d is None else int(d) for d in node.shape]
        if node.dtype is not None:
            out["dtype"] = np.dtype(node.dtype).str
        if node.origin is not None:
            filename = str(node.origin[0])
            if filename not in self._file_ids:
                self._file_ids[filename] = len(self.files)
                self.files.append(filename)
            out["origin"] = [self._file_ids[filename], int(node.origin[1])]
        return out

    def value(self, v, where: str, depth: int):
        """An attr value as JSON (tagged objects for what JSON cannot say)."""
        if depth > MAX_DEPTH:
            raise SerializationError(f"{where}: an attr value is nested too deeply")
        if v is None or isinstance(v, (bool, int, str)) and not isinstance(v, np.generic):
            return v
        if isinstance(v, float) and not isinstance(v, np.generic):
            return _encode_float(v)
        if isinstance(v, complex) and not isinstance(v, np.generic):
            return {"$complex": [_encode_float(v.real), _encode_float(v.imag)]}
        if isinstance(v, (tuple, list)):
            return [self.value(x, where, depth + 1) for x in v]
        if isinstance(v, np.ndarray):
            return {"$array": _encode_array(v, where)}
        if isinstance(v, np.generic):
            return {"$scalar": _encode_array(np.asarray(v), where)}
        if isinstance(v, np.dtype):
            return {"$dtype": v.str}
        if isinstance(v, dict):
            return {
                "$dict": [
                    [self.value(k, where, depth + 1), self.value(x, where, depth + 1)]
                    for k, x in v.items()
                ]
            }
        if isinstance(v, slice):
            return {"$slice": [self.value(x, where, depth + 1) for x in (v.start, v.stop, v.step)]}
        if v is Ellipsis:
            return {"$ellipsis": None}
        if isinstance(v, Graph):
            return {"$graph": self.graph(v.inputs, v.outputs, depth + 1)}
        raise SerializationError(f"{where}: cannot save an attr value of type {type(v).__name__}")


def _encode_float(x: float):
    if math.isfinite(x):
        return x
    return {"$float": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def _encode_array(arr: np.ndarray, where: str) -> dict:
    if arr.dtype.kind not in "biufc":
        raise SerializationError(f"{where}: cannot save an array of dtype {arr.dtype}")
    little = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    data = np.ascontiguousarray(little).tobytes()
    return {
        "dtype": little.dtype.str,
        "shape": list(arr.shape),
        "data": base64.b64encode(data).decode("ascii"),
    }


# --- reading a file (the document itself is decoded by `graphc.deserialize`) -------------


@checks_call
def load(path) -> Symbol | list[Symbol]:
    """Read a graph written by `sym.save(path)` (see `load_json`).

    Only a regular file of at most `MAX_LOAD_BYTES` (64 MiB) is read: a device, a FIFO, a
    directory or a larger file raises `SerializationError` before anything is read (a FIFO is
    opened without waiting for a writer).

    >>> import graphc as gc, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "graph.json")
    >>> gc.sin(gc.var("x")).save(path)
    >>> print(gc.load(path))
    sin(x)
    """
    limit = MAX_LOAD_BYTES
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (OSError, TypeError, ValueError) as exc:
        raise SerializationError(f"load: cannot read {path!r}: {exc}") from exc
    try:
        info = os.fstat(fd)  # of the file opened: it cannot be swapped after the check
        if not stat.S_ISREG(info.st_mode):
            raise SerializationError(f"load: {path!r} is not a regular file")
        if info.st_size > limit:
            raise SerializationError(
                f"load: {path!r} has {info.st_size} bytes, more than "
                f"the limit of {limit} (serialize.MAX_LOAD_BYTES)"
            )
        chunks, size = [], 0
        while size <= limit:  # a file that grew meanwhile is still caught
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise SerializationError(f"load: cannot read {path!r}: {exc}") from exc
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise SerializationError(
            f"load: {path!r} has more than the limit of {limit} bytes (serialize.MAX_LOAD_BYTES)"
        )
    return load_json(data)
