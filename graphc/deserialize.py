"""Read graphs saved by `graphc.serialize` (whose docstring describes the format).

A document is validated as it is decoded, node by node: op names are looked up in `OPS`,
attrs go through the op's `check_attrs` schema, nodes are rebuilt with the ordinary shape and
dtype rules, and a saved shape, dtype or origin is only attached where it agrees with them.
Nothing in the text is executed; anything wrong raises `SerializationError`.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence

import numpy as np

from .dispatch import checks_call, const, make_node, var
from .errors import SerializationError, ShapeError
from .ir import Graph, LoadedOrigin, Symbol, origin_scope
from .ops.base import OPS, check_size

FORMAT = "graphc"
VERSION = 1  # the version this graphc writes and reads

MAX_DEPTH = 64  # nesting of attr values and sub-graphs
_INT_RANGE = (-(2**63), 2**64)  # integers numpy can hold without an object dtype
_MAX_FILE_NAME = 4096  # characters of an origin's file name


@checks_call
def load_json(text) -> Symbol | list[Symbol]:
    """The graph saved by `tojson`; malformed, cyclic or unknown input raises
    `SerializationError`. Nothing in the text is executed.

    >>> import graphc as gc
    >>> gc.load_json('{"format": "graphc", "version": 1, "graph": []}')
    Traceback (most recent call last):
    ...
    graphc.errors.SerializationError: load_json: "graph" must be an object, got list
    """
    try:
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8")
        if not isinstance(text, str):
            raise SerializationError(f"load_json: expected JSON text, got {type(text).__name__}")
        try:
            doc = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
        except ValueError as exc:
            raise SerializationError(f"load_json: not valid JSON: {exc}") from None
        return _decode_document(doc)
    except SerializationError:
        raise
    except RecursionError:
        raise SerializationError("load_json: the document is nested too deeply") from None
    except Exception as exc:  # any other failure is still a bad document
        raise SerializationError(f"load_json: invalid graph: {type(exc).__name__}: {exc}") from exc


def _no_duplicates(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise SerializationError(f"load_json: duplicate key {key!r}")
        obj[key] = value
    return obj


def _no_constant(name):
    raise SerializationError(
        f'load_json: {name} is not JSON (non-finite floats are written as {{"$float": "nan"}})'
    )


def _fail(msg: str):
    raise SerializationError(f"load_json: {msg}")


def _type(v) -> str:
    return {
        dict: "object",
        list: "list",
        str: "string",
        bool: "bool",
        int: "int",
        float: "float",
        type(None): "null",
    }.get(type(v), type(v).__name__)


def _decode_document(doc):
    if not isinstance(doc, dict):
        _fail(f"expected a JSON object, got {_type(doc)}")
    if doc.get("format") != FORMAT:
        _fail(f'"format" must be "{FORMAT}", got {doc.get("format")!r}')
    version = doc.get("version")
    if type(version) is not int or version != VERSION:
        _fail(f"unsupported version {version!r} (this graphc reads version {VERSION})")
    extra = set(doc) - {"format", "version", "kind", "files", "graph"}
    if extra:
        _fail(f"unknown key(s) {sorted(extra)}")
    kind = doc.get("kind", "symbol")
    if kind not in ("symbol", "list"):
        _fail(f'"kind" must be "symbol" or "list", got {kind!r}')
    files = doc.get("files", [])
    if not isinstance(files, list) or not all(
        isinstance(f, str) and len(f) <= _MAX_FILE_NAME and f.isprintable() for f in files
    ):
        _fail(
            f'"files" must be a list of file names (printable, at most {_MAX_FILE_NAME} '
            "characters)"
        )
    graph = doc.get("graph")
    if not isinstance(graph, dict):
        _fail(f'"graph" must be an object, got {_type(graph)}')
    _inputs, outputs = _decode_graph(graph, 0, files)
    if kind == "symbol":
        if len(outputs) != 1:
            _fail(f'a "symbol" document has one output, got {len(outputs)}')
        return outputs[0]
    return outputs


def _decode_graph(graph: dict, depth: int, files: Sequence[str] = ()):
    if depth > MAX_DEPTH:
        _fail("sub-graphs are nested too deeply")
    extra = set(graph) - {"nodes", "inputs", "outputs"}
    if extra:
        _fail(f"unknown graph key(s) {sorted(extra)}")
    nodes = graph.get("nodes")
    if not isinstance(nodes, list):
        _fail(f'"nodes" must be a list, got {_type(nodes)}')
    built: list[Symbol] = []
    for i, entry in enumerate(nodes):
        built.append(_decode_node(entry, i, built, depth, files))
    inputs = [_ref(r, built, "graph input") for r in _id_list(graph.get("inputs", []), "inputs")]
    for s in inputs:
        if s.op != "var":
            _fail(f"graph inputs must be vars, got a {s.op} node")
    outputs = [_ref(r, built, "graph output") for r in _id_list(graph.get("outputs"), "outputs")]
    return inputs, outputs


def _id_list(value, what: str) -> list:
    if not isinstance(value, list):
        _fail(f'"{what}" must be a list of node ids, got {_type(value)}')
    return value


def _ref(r, built: list, what: str) -> Symbol:
    if type(r) is not int or not 0 <= r < len(built):
        _fail(f"{what} {r!r} does not name an earlier node (ids 0..{len(built) - 1})")
    return built[r]


RENAMED = {"reduced_size": "size"}  # ops saved under an older name -> their name now
_NODE_KEYS = {"id", "op", "inputs", "attrs", "name", "shape", "dtype", "origin"}


def _decode_node(entry, i: int, built: list, depth: int, files: Sequence[str]) -> Symbol:
    if not isinstance(entry, dict):
        _fail(f"node {i} must be an object, got {_type(entry)}")
    extra = set(entry) - _NODE_KEYS
    if extra:
        _fail(f"node {i}: unknown key(s) {sorted(extra)}")
    if "id" in entry and (type(entry["id"]) is not int or entry["id"] != i):
        _fail(f"node {i}: id {entry['id']!r} is not its position {i}")
    opname = entry.get("op")
    opname = RENAMED.get(opname, opname) if isinstance(opname, str) else opname
    if not isinstance(opname, str) or opname not in OPS:
        _fail(f"node {i}: unknown operation {opname!r}")
    op = OPS[opname]
    where = f"node {i} ({opname})"
    inputs = tuple(
        _ref(r, built, f"{where}: input")
        for r in _id_list(entry.get("inputs", []), f"{where} inputs")
    )
    raw_attrs = entry.get("attrs", {})
    if not isinstance(raw_attrs, dict):
        _fail(f"{where}: attrs must be an object, got {_type(raw_attrs)}")
    attrs = {k: _decode_value(v, where, depth + 1, files) for k, v in raw_attrs.items()}
    name = entry.get("name")
    if name is not None and not isinstance(name, str):
        _fail(f"{where}: name must be a string, got {_type(name)}")
    shape = _decode_shape(entry.get("shape"), where)
    dtype = _decode_dtype(entry.get("dtype"), where)
    origin = _decode_origin(entry.get("origin"), where, files)
    # Built under no origin: an error message while loading must not read the file that a
    # saved origin names (it is data, and could name a device or a FIFO).
    with origin_scope(None):
        try:
            if opname == "var":
                node = _build_var(inputs, attrs, name, shape, dtype, where)
            elif opname == "const":
                node = _build_const(inputs, attrs, where)
            else:
                node = _build_op(op, inputs, attrs, name, where)
        except SerializationError:
            raise
        except Exception as exc:
            _fail(f"{where}: {type(exc).__name__}: {str(exc).removeprefix('<unknown>: ')}")
    return _refine(node, shape, dtype, origin, where)


def _decode_shape(shape, where: str):
    if shape is None:
        return None
    if not isinstance(shape, list) or not all(
        d is None or (type(d) is int and 0 <= d < _INT_RANGE[1]) for d in shape
    ):
        _fail(f"{where}: shape must be a list of non-negative ints or nulls, got {shape!r}")
    try:
        check_size(tuple(shape), where)
    except ShapeError as exc:
        _fail(str(exc))
    return tuple(shape)


def _decode_dtype(dtype, where: str):
    if dtype is None:
        return None
    if not isinstance(dtype, str) or len(dtype) > 16:
        _fail(f"{where}: dtype must be a short string, got {dtype!r}")
    try:
        dt = np.dtype(dtype)
    except Exception:
        _fail(f"{where}: not a dtype: {dtype!r}")
    if dt.kind not in "biufc":
        _fail(f"{where}: unsupported dtype {dtype!r}")
    return dt if dt.isnative else dt.newbyteorder("=")


def _decode_origin(origin, where: str, files: Sequence[str]):
    if origin is None:
        return None
    if (
        not isinstance(origin, list)
        or len(origin) != 2
        or type(origin[0]) is not int
        or not 0 <= origin[0] < len(files)
        or type(origin[1]) is not int
        or not 0 <= origin[1] < 2**31
    ):
        _fail(
            f"{where}: origin must be [file id, line] with a file id below {len(files)}, "
            f"got {origin!r}"
        )
    # Marked as loaded: printed as file:line, never opened.
    return LoadedOrigin((files[origin[0]], origin[1]))


def _build_var(inputs, attrs, name, shape, dtype, where):
    if inputs or attrs:
        _fail(f"{where}: a var has no inputs and no attrs")
    if not name:
        _fail(f"{where}: a var needs a non-empty name")
    return var(name, shape=shape, dtype=dtype)


def _build_const(inputs, attrs, where):
    if inputs:
        _fail(f"{where}: a const has no inputs")
    if set(attrs) - {"value", "name"} or "value" not in attrs:
        _fail(f"{where}: a const has attrs value (and optionally name), got {sorted(attrs)}")
    value, name = attrs["value"], attrs.get("name")
    if name is not None and not isinstance(name, str):
        _fail(f"{where}: a const's name must be a string")
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if not _INT_RANGE[0] <= value < _INT_RANGE[1]:
            _fail(f"{where}: integer constant {value} does not fit 64 bits")
    elif not isinstance(value, (float, complex, np.ndarray)):
        _fail(f"{where}: a const's value must be a number or an array, got {type(value).__name__}")
    return const(value, name=name)


def _build_op(op, inputs, attrs, name, where):
    if op.nin is not None and len(inputs) != op.nin:
        _fail(f"{where}: takes {op.nin} input(s), got {len(inputs)}")
    if op.name == "group" and not inputs:
        _fail(f"{where}: a group needs at least one input")
    unknown = set(attrs) - set(op.attr_names)
    if unknown:
        _fail(f"{where}: unknown attr(s) {sorted(unknown)}")
    attrs = op.check_attrs(attrs)
    return make_node(op, inputs, attrs, name=name)


def _refine(node: Symbol, shape, dtype, origin, where: str) -> Symbol:
    """Attach the saved origin, and use the saved static shape/dtype where the rules leave
    them unknown; a saved value that contradicts the rules is an error."""
    new_shape, new_dtype = node.shape, node.dtype
    if shape is not None:
        if node.shape is None:
            new_shape = shape
        elif len(node.shape) != len(shape) or any(
            a is not None and b is not None and a != b for a, b in zip(node.shape, shape)
        ):
            _fail(
                f"{where}: saved shape {list(shape)} contradicts the inferred shape "
                f"{list(node.shape)}"
            )
        else:
            new_shape = tuple(a if a is not None else b for a, b in zip(node.shape, shape))
    if dtype is not None:
        if node.dtype is None:
            new_dtype = dtype
        elif np.dtype(node.dtype) != dtype:
            _fail(f"{where}: saved dtype {dtype} contradicts the inferred dtype {node.dtype}")
    if (
        new_shape == node.shape
        and (new_dtype is None) == (node.dtype is None)
        and origin == node.origin
    ):
        return node
    return Symbol(
        node.opdef,
        node.inputs,
        node.attrs,
        new_shape,
        new_dtype,
        name=node.name,
        origin=origin,
        weak=node.weak,
    )


def _decode_value(v, where: str, depth: int, files: Sequence[str] = ()):
    """An attr value from its JSON form: plain JSON, a list (a tuple), or a tagged object."""
    if depth > MAX_DEPTH:
        _fail(f"{where}: an attr value is nested too deeply")
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, list):
        return tuple(_decode_value(x, where, depth + 1, files) for x in v)
    if not isinstance(v, dict) or len(v) != 1:
        _fail(
            f"{where}: an attr object must have exactly one tag key, got {_type(v)} "
            f"with keys {sorted(v) if isinstance(v, dict) else []}"
        )
    ((tag, body),) = v.items()
    decode = _TAGGED.get(tag)
    if decode is None:
        _fail(f"{where}: unknown attr tag {tag!r} (known: {', '.join(_TAGGED)})")
    return decode(body, where, depth, files)


def _decode_float(body, where, depth, files):
    if body not in ("nan", "inf", "-inf"):
        _fail(f'{where}: $float must be "nan", "inf" or "-inf", got {body!r}')
    return float(body)


def _decode_complex(body, where, depth, files):
    if not isinstance(body, list) or len(body) != 2:
        _fail(f"{where}: $complex must be [re, im]")
    re, im = (_decode_value(x, where, depth + 1) for x in body)
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (re, im)):
        _fail(f"{where}: $complex parts must be numbers")
    return complex(re, im)


def _decode_scalar(body, where, depth, files):
    arr = _decode_array(body, where)
    if arr.shape != ():
        _fail(f"{where}: $scalar must have shape []")
    return arr[()]


def _decode_dict(body, where, depth, files):
    if not isinstance(body, list) or not all(isinstance(p, list) and len(p) == 2 for p in body):
        _fail(f"{where}: $dict must be a list of [key, value] pairs")
    out = {}
    for k, x in body:
        key = _decode_value(k, where, depth + 1, files)
        if not isinstance(key, (str, int, float, bool, tuple, type(None))):
            _fail(f"{where}: unhashable $dict key")
        out[key] = _decode_value(x, where, depth + 1, files)
    return out


def _decode_slice(body, where, depth, files):
    if (
        not isinstance(body, list)
        or len(body) != 3
        or not all(x is None or type(x) is int for x in body)
    ):
        _fail(f"{where}: $slice must be [start, stop, step] of ints or nulls")
    return slice(*body)


def _decode_ellipsis(body, where, depth, files):
    if body is not None:
        _fail(f"{where}: $ellipsis takes null")
    return Ellipsis


def _decode_subgraph(body, where, depth, files):
    if not isinstance(body, dict):
        _fail(f"{where}: $graph must be an object")
    inputs, outputs = _decode_graph(body, depth + 1, files)
    return Graph(inputs, outputs)


def _decode_array(body, where: str) -> np.ndarray:
    if not isinstance(body, dict) or set(body) != {"dtype", "shape", "data"}:
        _fail(f"{where}: an array needs exactly dtype, shape and data")
    dtype = _decode_dtype(body["dtype"], where)
    shape = body["shape"]
    if (
        not isinstance(shape, list)
        or not all(type(d) is int and d >= 0 for d in shape)
        or len(shape) > 32
    ):
        _fail(f"{where}: array shape must be a list of non-negative ints")
    data = body["data"]
    if not isinstance(data, str):
        _fail(f"{where}: array data must be a base64 string")
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except Exception:
        _fail(f"{where}: array data is not valid base64")
    size = math.prod(shape)
    little = dtype.newbyteorder("<")
    if size * little.itemsize != len(raw):
        _fail(
            f"{where}: array of shape {shape} and dtype {dtype} needs "
            f"{size * little.itemsize} bytes, got {len(raw)}"
        )
    if dtype.kind == "b":  # any nonzero byte is True, as numpy itself would read it
        arr = (np.frombuffer(raw, dtype=np.uint8) != 0).reshape(shape)
    else:
        arr = np.frombuffer(raw, dtype=little).reshape(shape).astype(dtype.newbyteorder("="))
    arr.setflags(write=False)
    return arr


# The tagged objects of the format, each with its decoder (body, where, depth, files).
_TAGGED = {
    "$float": _decode_float,
    "$complex": _decode_complex,
    "$array": lambda body, where, depth, files: _decode_array(body, where),
    "$scalar": _decode_scalar,
    "$dtype": lambda body, where, depth, files: _decode_dtype(body, where),
    "$dict": _decode_dict,
    "$slice": _decode_slice,
    "$ellipsis": _decode_ellipsis,
    "$graph": _decode_subgraph,
}
