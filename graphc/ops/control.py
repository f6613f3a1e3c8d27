"""Control flow: cond, while_loop, fori_loop and scan.

Each is one tuple-valued node; `get(node, index=k)` reads result k. Bodies are sub-graphs
(`ir.Graph`) held as attrs, their params bound positionally to the node's inputs, the
captured outer symbols last. Results and attr schemas:

- ``cond(pred, *args)``, attrs ``{"true_fn": Graph, "false_fn": Graph}`` (same param and
  output counts): results are the branch outputs.
- ``while_loop(*init, *caps)``, attrs ``{"cond": Graph, "body": Graph}`` (params: carries,
  caps; cond gives one scalar bool, body the new carries): results are the final carries, the
  history of each carry (``hist[k]`` is the carry entering iteration k, stacked), and the trip
  count.
- ``fori_loop(lower, upper, *init, *caps)``, attrs ``{"body": Graph}`` (params: i, carries,
  caps): results are the final carries and their histories.
- ``scan(*init, *xs, *caps)``, attrs ``{"body": Graph, "n_carry": int, "n_xs": int,
  "reverse": bool}`` (params: carries, one slice of each xs, caps; outputs: carries, ys):
  results are the final carries, the stacked ys, and the carry histories.

Histories are what reverse mode saves: emitted code records one only when something reads it,
so a loop that is not differentiated costs no memory. The VJP of a loop is a reverse `scan`
over those histories (or a `fori_loop` when the derived body VJP reads no carry) whose body
is the body's VJP, derived once with `autodiff` and simplified; the VJP of a cond is a cond
of the branches' VJPs. JVPs are loops over (carry, tangent) pairs. All are built from these
same ops, so they can be differentiated again.
"""

from __future__ import annotations

import numpy as np

from ..batching import batched_graph
from ..dispatch import make_node
from ..errors import DTypeError, GraphcError, ShapeError
from ..ir import Graph, free_vars
from ..subgraph import (
    inline,
    is_float_type,
    jvp_graph,
    merge_shapes,
    merge_types,
    output_types,
    run_graph,
    specialized,
    type_of,
    vjp_graph,
)
from . import costs
from .base import OpDef, fmt_shape, register
from .batch_rules import batch_size
from .control_ad import (
    ct,
    get_item,
    history_type,
    is_float_value,
    loop_jvp,
    loop_vjp,
    scan_jvp,
    scan_vjp,
    spread,
)
from .control_build import build_fori, build_while
from .control_emit import emit_cond, emit_fori, emit_scan, emit_while
from .elementwise import maximum
from .shape import get


def _check_graph(graph, op: str, key: str) -> Graph:
    if not isinstance(graph, Graph):
        raise GraphcError(f"{op}: attr {key!r} must be a sub-graph, got {type(graph).__name__}")
    for p in graph.inputs:
        if getattr(p, "op", None) != "var":
            raise GraphcError(f"{op}: the params of sub-graph {key!r} must be vars")
    params = {id(p) for p in graph.inputs}
    for v in free_vars(graph.outputs):
        if id(v) not in params:  # a sub-graph is closed: outer symbols are captures
            raise GraphcError(
                f"{op}: sub-graph {key!r} reads var {v.name!r}, which is not one of its params"
            )
    return graph


def _count(value, op: str, key: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
        raise GraphcError(f"{op}: attr {key!r} must be a non-negative int, got {value!r}")
    return int(value)


def _scalar_bool(t, op: str, what: str) -> None:
    shape, dtype = t
    if shape is not None and shape != ():
        raise ShapeError(f"{op}: {what} must be a scalar boolean, got shape {fmt_shape(shape)}")
    if dtype is not None and dtype != np.bool_:
        raise DTypeError(f"{op}: {what} must be boolean, got dtype {dtype}")


def _carry_types(op: str, body: Graph, carries, before: list, after: list) -> list:
    """The loop's carry types: the initial values' and the body's results must agree.
    `before` and `after` are the types of the body's other params around the carries."""
    types = [type_of(x) for x in carries]
    out = output_types(body, list(before) + types + list(after))
    params = body.inputs[len(before) :]
    return [
        merge_types(t, o, op, f"carry {k} ({p.name}) entering the loop", "the body's result")
        for k, (t, o, p) in enumerate(zip(types, out, params))
    ]


class _ControlOp(OpDef):
    """Shared by the control-flow ops: tuple-valued, never folded, typed by `types`."""

    nin = None
    cost = costs.not_modelled  # depends on the trip count
    foldable = False

    def node_type(self, inputs, attrs):
        self.types(inputs, attrs)  # validates; the node itself is a tuple
        return None, None

    def element_types(self, node) -> list:
        """(shape, dtype) of each result, for `get`."""
        return self.types(node.inputs, node.attrs)

    def emit(self, *names, **attrs):
        raise GraphcError(f"{self.name} is emitted as a block")

    front = None  # the public function (`gc.cond`, ...): graphc.control installs it

    def __call__(self, *args, **kwargs):
        """The public function (`gc.cond`, ...), which traces Python bodies."""
        if self.front is None:
            raise GraphcError(f"{self.name}: the public function is installed by graphc.control")
        return self.front(*args, **kwargs)

    def resolve(self, *xs, **attrs):
        """Once shapes are known: the same op with its sub-graphs re-typed for the inputs
        and specialised (loop-invariant numbers folded in), or None if they already are."""
        new, changed = dict(attrs), False
        for key, (types, values) in self.param_types(xs, attrs).items():
            new[key] = specialized(attrs[key], types, values)
            changed |= new[key] is not attrs[key]
        return make_node(self, xs, new) if changed else None


class Cond(_ControlOp):
    """`true_fn(*args)` if `pred` else `false_fn(*args)`."""

    name, attr_names = "cond", ("true_fn", "false_fn")
    nondiff_inputs = (0,)

    def check_attrs(self, attrs):
        """Schema: {"true_fn": Graph, "false_fn": Graph}, the same number of params and
        of outputs (at least one)."""
        t = _check_graph(attrs.get("true_fn"), "cond", "true_fn")
        f = _check_graph(attrs.get("false_fn"), "cond", "false_fn")
        if len(t.inputs) != len(f.inputs) or len(t.outputs) != len(f.outputs) or not t.outputs:
            raise GraphcError(
                "cond: the branches must take the same params and give the same "
                "number of results (at least one)"
            )
        return {"true_fn": t, "false_fn": f}

    def param_types(self, inputs, attrs):
        """Per sub-graph: the types of its params and the values bound to them."""
        types = [type_of(x) for x in inputs[1:]]
        return {"true_fn": (types, inputs[1:]), "false_fn": (types, inputs[1:])}

    def types(self, inputs, attrs):
        t, f = attrs["true_fn"], attrs["false_fn"]
        pred, args = inputs[0], inputs[1:]
        _scalar_bool(type_of(pred), "cond", "pred")
        if len(args) != len(t.inputs):
            raise GraphcError(f"cond: {len(args)} operands for branches of {len(t.inputs)} params")
        types = [type_of(a) for a in args]
        return [
            merge_types(a, b, "cond", f"result {k} of true_fn", "false_fn's")
            for k, (a, b) in enumerate(zip(output_types(t, types), output_types(f, types)))
        ]

    def impl(self, pred, *args, true_fn, false_fn):
        return tuple(run_graph(true_fn if pred else false_fn, args))

    def vjp(self, g, y, pred, *args, true_fn, false_fn):
        types = self.element_types(y)
        out_mask = [gk is not None and is_float_type(t) for gk, t in zip(g, types)]
        in_mask = [is_float_value(a) for a in args]
        if not any(out_mask) or not any(in_mask):
            return (None,) * (1 + len(args))
        heads = [ct(gk, None, t) for gk, t, m in zip(g, types, out_mask) if m]
        back = make_node(
            self,
            (pred,) + args + tuple(heads),
            {
                "true_fn": vjp_graph(true_fn, in_mask, out_mask),
                "false_fn": vjp_graph(false_fn, in_mask, out_mask),
            },
        )
        cts = [get(back, index=k) for k in range(sum(in_mask))]
        return (None,) + tuple(spread(cts, in_mask))

    def jvp(self, ts, y, pred, *args, true_fn, false_fn):
        in_mask = [t is not None for t in ts[1:]]
        out_mask = [is_float_type(t) for t in self.element_types(y)]
        if not any(out_mask):
            return None
        tangents = [t for t in ts[1:] if t is not None]
        fwd = make_node(
            self,
            (pred,) + args + tuple(tangents),
            {
                "true_fn": jvp_graph(true_fn, in_mask, out_mask),
                "false_fn": jvp_graph(false_fn, in_mask, out_mask),
            },
        )
        n = len(true_fn.outputs)
        return tuple(spread([get(fwd, index=n + k) for k in range(sum(out_mask))], out_mask))

    def batch(self, batched, y, pred, *args, true_fn, false_fn):
        if batched[0]:  # the branch taken may differ per entry
            return None
        size = batch_size(args, batched[1:])
        branches = {
            key: batched_graph(graph, batched[1:], size)
            for key, graph in (("true_fn", true_fn), ("false_fn", false_fn))
        }
        if None in branches.values():
            return None
        node = make_node(self, (pred,) + args, branches)
        return tuple(get(node, index=k) for k in range(len(true_fn.outputs)))

    def emit_block(self, em, node, args, target, indent):
        emit_cond(em, node, args, indent)


class WhileLoop(_ControlOp):
    """`while cond(carry): carry = body(carry)`; also the carry histories and trip count."""

    name, attr_names = "while_loop", ("cond", "body")

    def check_attrs(self, attrs):
        """Schema: {"cond": Graph, "body": Graph} with the same params (carries, captures);
        cond gives one value, body one per carry."""
        c = _check_graph(attrs.get("cond"), "while_loop", "cond")
        b = _check_graph(attrs.get("body"), "while_loop", "body")
        if len(c.inputs) != len(b.inputs) or len(c.outputs) != 1 or len(b.outputs) > len(b.inputs):
            raise GraphcError(
                "while_loop: cond and body must take the same params; cond "
                "gives one value and body one per carry"
            )
        return {"cond": c, "body": b}

    def param_types(self, inputs, attrs):
        n = len(attrs["body"].outputs)
        types = self.types(inputs, attrs)[:n] + [type_of(x) for x in inputs[n:]]
        values = [None] * n + list(inputs[n:])
        return {"cond": (types, values), "body": (types, values)}

    def types(self, inputs, attrs):
        cond, body = attrs["cond"], attrs["body"]
        n = len(body.outputs)
        if len(inputs) != len(body.inputs):
            raise GraphcError(
                f"while_loop: {len(inputs)} inputs for a body of {len(body.inputs)} params"
            )
        caps = [type_of(x) for x in inputs[n:]]
        carry = _carry_types("while_loop", body, inputs[:n], [], caps)
        _scalar_bool(output_types(cond, carry + caps)[0], "while_loop", "cond_fun's result")
        return carry + [history_type(t) for t in carry] + [((), np.dtype(np.int64))]

    def impl(self, *xs, cond, body):
        n = len(body.outputs)
        carry, caps = list(xs[:n]), list(xs[n:])
        hist: list[list] = [[] for _ in range(n)]
        count = 0
        while run_graph(cond, carry + caps)[0]:
            for h, c in zip(hist, carry):
                h.append(c)
            carry = run_graph(body, carry + caps)
            count += 1
        return tuple(carry) + tuple(_stack(h, c) for h, c in zip(hist, carry)) + (np.int64(count),)

    def vjp(self, g, y, *xs, cond, body):
        return loop_vjp(y, xs, g, trip=get_item(y, 2 * len(body.outputs)))

    def jvp(self, ts, y, *xs, cond, body):
        n = len(body.outputs)

        def make(flat_body, init, names):
            return build_while(
                lambda *c: inline(cond, list(c[:n]) + list(xs[n:]))[0], flat_body, init, names
            )

        return loop_jvp(y, xs, ts, make)

    def emit_block(self, em, node, args, target, indent):
        emit_while(em, node, args, indent)


class ForiLoop(_ControlOp):
    """`for i in range(lower, upper): carry = body(i, carry)`; also the carry histories."""

    name, attr_names = "fori_loop", ("body",)
    nondiff_inputs = (0, 1)

    def check_attrs(self, attrs):
        """Schema: {"body": Graph} with params (i, carries, captures), one output per
        carry."""
        b = _check_graph(attrs.get("body"), "fori_loop", "body")
        if len(b.outputs) >= len(b.inputs):
            raise GraphcError(
                "fori_loop: the body takes (i, carries..., captures...) and "
                "gives one value per carry"
            )
        return {"body": b}

    def param_types(self, inputs, attrs):
        n = len(attrs["body"].outputs)
        types = (
            [_index_type(inputs)]
            + self.types(inputs, attrs)[:n]
            + [type_of(x) for x in inputs[2 + n :]]
        )
        return {"body": (types, [None] * (1 + n) + list(inputs[2 + n :]))}

    def types(self, inputs, attrs):
        body = attrs["body"]
        n = len(body.outputs)
        if len(inputs) != len(body.inputs) + 1:
            raise GraphcError(
                f"fori_loop: {len(inputs)} inputs for a body of {len(body.inputs)} params"
            )
        lower, upper = inputs[0], inputs[1]
        for b, what in ((lower, "lower"), (upper, "upper")):
            if b.dtype is not None and b.dtype.kind not in "iu":
                raise DTypeError(
                    f"fori_loop: {what} bound must be an integer, got dtype {b.dtype}"
                )
            if b.shape is not None and b.shape != ():
                raise ShapeError(
                    f"fori_loop: {what} bound must be a scalar, got shape {fmt_shape(b.shape)}"
                )
        caps = [type_of(x) for x in inputs[2 + n :]]
        carry = _carry_types("fori_loop", body, inputs[2 : 2 + n], [_index_type(inputs)], caps)
        steps = None
        if lower.op == "const" and upper.op == "const":
            steps = max(int(upper.attrs["value"]) - int(lower.attrs["value"]), 0)
        return carry + [(None if s is None else (steps,) + s, d) for s, d in carry]

    def impl(self, lower, upper, *xs, body):
        n = len(body.outputs)
        carry, caps = list(xs[:n]), list(xs[n:])
        hist: list[list] = [[] for _ in range(n)]
        for i in range(int(lower), int(upper)):
            for h, c in zip(hist, carry):
                h.append(c)
            carry = run_graph(body, [i] + carry + caps)
        return tuple(carry) + tuple(_stack(h, c) for h, c in zip(hist, carry))

    def vjp(self, g, y, lower, upper, *xs, body):
        return loop_vjp(y, (lower, upper) + xs, g, trip=maximum(upper - lower, 0), upper=upper)

    def jvp(self, ts, y, lower, upper, *xs, body):
        def make(flat_body, init, names):
            return build_fori(lower, upper, flat_body, init, [body.inputs[0].name] + names)

        return loop_jvp(y, (lower, upper) + xs, ts, make)

    def emit_block(self, em, node, args, target, indent):
        emit_fori(em, node, args, indent)


def _index_type(inputs):
    lower, upper = inputs[0], inputs[1]
    if lower.dtype is None or upper.dtype is None:
        return ((), None)
    return ((), np.result_type(lower.dtype, upper.dtype))


class Scan(_ControlOp):
    """`carry, y = body(carry, x)` over the leading axis of xs; ys stacked."""

    name, attr_names = "scan", ("body", "n_carry", "n_xs", "reverse")

    def check_attrs(self, attrs):
        """Schema: {"body": Graph, "n_carry": int, "n_xs": int, "reverse": bool}; the body
        takes (carries, x slices, captures) and gives (carries, ys)."""
        b = _check_graph(attrs.get("body"), "scan", "body")
        n_carry = _count(attrs.get("n_carry"), "scan", "n_carry")
        n_xs = _count(attrs.get("n_xs"), "scan", "n_xs")
        reverse = attrs.get("reverse", False)
        if not isinstance(reverse, (bool, np.bool_)):
            raise GraphcError(f"scan: attr 'reverse' must be a bool, got {reverse!r}")
        if n_xs < 1 or n_carry + n_xs > len(b.inputs) or n_carry > len(b.outputs):
            raise GraphcError(
                "scan: the body takes (carries, x slices, captures) and gives "
                "(carries, ys), with at least one xs"
            )
        return {"body": b, "n_carry": n_carry, "n_xs": n_xs, "reverse": bool(reverse)}

    def param_types(self, inputs, attrs):
        n_c, n_x = attrs["n_carry"], attrs["n_xs"]
        slices = [
            (None if x.shape is None else x.shape[1:], x.dtype) for x in inputs[n_c : n_c + n_x]
        ]
        types = (
            self.types(inputs, attrs)[:n_c] + slices + [type_of(x) for x in inputs[n_c + n_x :]]
        )
        return {"body": (types, [None] * (n_c + n_x) + list(inputs[n_c + n_x :]))}

    def types(self, inputs, attrs):
        body, n_c, n_x = attrs["body"], attrs["n_carry"], attrs["n_xs"]
        if len(inputs) != len(body.inputs):
            raise GraphcError(
                f"scan: {len(inputs)} inputs for a body of {len(body.inputs)} params"
            )
        length, slices = None, []
        for k, x in enumerate(inputs[n_c : n_c + n_x]):
            if x.shape is None:
                slices.append((None, x.dtype))
                continue
            if not x.shape:
                raise ShapeError(f"scan: xs {k} is a scalar; xs need a leading axis")
            try:
                length = merge_shapes((length,), x.shape[:1])[0]
            except ValueError:
                raise ShapeError(
                    f"scan: xs have different lengths ({length} and {x.shape[0]})"
                ) from None
            slices.append((x.shape[1:], x.dtype))
        caps = [type_of(x) for x in inputs[n_c + n_x :]]
        carry = _carry_types("scan", body, inputs[:n_c], [], slices + caps)
        ctypes = [type_of(x) for x in inputs[:n_c]]
        ys = output_types(body, ctypes + slices + caps)[n_c:]
        stacked = [(None if s is None else (length,) + s, d) for s, d in ys + carry]
        return carry + stacked

    def impl(self, *xs, body, n_carry, n_xs, reverse):
        carry = list(xs[:n_carry])
        seqs, caps = xs[n_carry : n_carry + n_xs], list(xs[n_carry + n_xs :])
        length = len(seqs[0])
        n_y = len(body.outputs) - n_carry
        if length == 0 and n_y:
            raise ShapeError("scan: cannot stack the ys of zero steps")
        hist: list[list] = [[] for _ in range(n_carry)]
        ys: list[list] = [[] for _ in range(n_y)]
        for k in range(length - 1, -1, -1) if reverse else range(length):
            for h, c in zip(hist, carry):
                h.append(c)
            out = run_graph(body, carry + [s[k] for s in seqs] + caps)
            carry = out[:n_carry]
            for row, y in zip(ys, out[n_carry:]):
                row.append(y)
        if reverse:
            for row in hist + ys:
                row.reverse()
        return (
            tuple(carry)
            + tuple(np.stack(row) for row in ys)
            + tuple(_stack(h, c) for h, c in zip(hist, carry))
        )

    def vjp(self, g, y, *xs, body, n_carry, n_xs, reverse):
        return scan_vjp(y, xs, g)

    def jvp(self, ts, y, *xs, body, n_carry, n_xs, reverse):
        return scan_jvp(y, xs, ts)

    def emit_block(self, em, node, args, target, indent):
        emit_scan(em, node, args, indent)


def _stack(rows: list, last):
    """A history list as an array (right for zero iterations too)."""
    if rows:
        return np.stack(rows)
    return np.zeros((0,) + np.shape(last), np.result_type(last))


cond = register(Cond())
while_loop = register(WhileLoop())
fori_loop = register(ForiLoop())
scan = register(Scan())
