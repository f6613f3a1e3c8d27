"""Eager (define-by-run) mode with PyTorch's semantics, on the op table's derivative rules.

Every `gc` function given a `Tensor` computes at once with the op's numpy `impl`. When an input
requires grad (and grad mode is on) the result remembers its `grad_fn`: the op, its inputs and
attrs, a tape entry (`graphc.tape`). `backward` walks that tape in reverse topological order
and calls the same `op.vjp` rules that the symbolic compiler uses: on numpy arrays normally
(fast, nothing recorded), or on tensors with `create_graph=True`, so that the backward pass is
itself recorded and can be differentiated again. No derivative rule lives here.

The tensor and grad mode are in `graphc.eager_tensor`, the constructors in
`graphc.eager_create`; this module is the handler that computes and records, and `grad`.

>>> import graphc as gc
>>> from graphc import eager
>>> x = eager.arange(4.0).requires_grad_()
>>> y = 2 * gc.dot(x, x)
>>> y
tensor(28., grad_fn=<MulBackward>)
>>> y.backward()
>>> x.grad
tensor([ 0.,  4.,  8., 12.])
"""

from __future__ import annotations

import numpy as np

from . import dispatch
from .dispatch import IMPL_ERRORS, checks_call, impl_error
from .eager_create import arange, from_numpy, manual_seed, ones, randn, tensor, zeros
from .eager_tensor import (
    Tensor,
    enable_grad,
    grad_state,
    head_gradient,
    is_grad_enabled,
    no_grad,
    rule_mode,
    wrap,
)
from .errors import ArgumentError, DTypeError, GradError
from .ops import OPS
from .tape import Node, backprop, fit

__all__ = [
    "Tensor",
    "tensor",
    "from_numpy",
    "arange",
    "zeros",
    "ones",
    "randn",
    "manual_seed",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "grad",
]

float32, float64, int32, int64 = np.float32, np.float64, np.int32, np.int64

# --- the dispatch handler ----------------------------------------------------------------


def _apply(op, inputs: tuple, attrs: dict) -> Tensor:
    """Compute `op` on the tensors' data; record a tape entry when a gradient may flow."""
    record = False
    args = []
    mask = []
    for x in inputs:
        if isinstance(x, Tensor):
            args.append(x._data)
            if x._rg:
                record = True
                mask.append(True)
                continue
        else:
            args.append(x)
        mask.append(False)
    try:
        out = op.impl(*args, **attrs)
    except IMPL_ERRORS as exc:
        raise impl_error(op, args, attrs, exc) from None
    if isinstance(out, tuple):  # a tuple-valued op (slogdet, eigh, ...): a tensor per result
        return _results(op, inputs, args, attrs, mask, record, out)
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    # Shape adapters that derivative rules insert are the identity when the shapes already
    # agree: the input itself is the result (the specialisation pass does the same).
    if (
        op.identity_when_same_shape
        and isinstance(inputs[0], Tensor)
        and out.shape == inputs[0]._data.shape
    ):
        return inputs[0]
    if (
        record
        and grad_state.enabled
        and op.differentiable
        and out.dtype.kind in "fc"
        and op.records_on_tape  # not: fresh values with no path back (as in PyTorch)
    ):
        return wrap(out, True, Node(op, inputs, args, attrs, mask))
    return wrap(out)


def _results(op, inputs, args, attrs, mask, record: bool, out: tuple) -> tuple:
    """The results of a tuple-valued op as tensors; when recording, each gets a tape node
    whose rule is the op's own, given the cotangent of that result alone (`_ResultOf`)."""
    datas = [np.asarray(o) for o in out]
    record = record and grad_state.enabled and op.differentiable and op.records_on_tape
    tensors = []
    for k, data in enumerate(datas):
        if record and data.dtype.kind in "fc":
            tensors.append(wrap(data, True, Node(_ResultOf(op, k), inputs, args, attrs, mask)))
        else:
            tensors.append(wrap(data))
    for t in tensors:
        if t._node is not None:
            t._node.op.results = (tuple(tensors), tuple(datas))
    return tuple(tensors)


class _ResultOf:
    """Result k of a tuple-valued op, as a tape node's op: its VJP is the op's rule with the
    cotangents of the other results zero (None); VJPs are linear, so the contributions of
    the results add up to the op's."""

    def __init__(self, op, k: int):
        self.opdef, self.k, self.results = op, k, None
        self.name, self.tape_name = op.name, op.tape_name

    # Equal per (op, result): the tape's cache of backward names keeps one, not every call's.
    def __eq__(self, other):
        return isinstance(other, _ResultOf) and (other.opdef, other.k) == (self.opdef, self.k)

    def __hash__(self):
        return hash((self.opdef.name, self.k))

    def vjp_some(self, wanted, g, y, *xs, **attrs):
        tensors, datas = self.results
        ys = tensors if isinstance(y, Tensor) else datas
        gs = tuple(g if i == self.k else None for i in range(len(ys)))
        return self.opdef.vjp_some(wanted, gs, ys, *xs, **attrs)


dispatch.set_eager_handler(_apply)


def _operator(name: str, reflected: bool = False):
    """`Tensor.__add__` and friends: straight to `_apply`, skipping the generic call path of
    the `gc` function (the same op and rules; this only saves per-op Python time)."""
    op = OPS[name]
    kinds = dispatch._kinds

    if reflected:

        def method(self, other):
            if kinds[type(other)] == "symbol":
                return op(other, self)
            return _apply(op, (other, self), {})
    else:

        def method(self, other):
            if kinds[type(other)] == "symbol":
                return op(self, other)
            return _apply(op, (self, other), {})

    method.__name__ = f"__{'r' if reflected else ''}{name}__"
    return method


for _name, _method in (
    ("add", "add"),
    ("subtract", "sub"),
    ("multiply", "mul"),
    ("divide", "truediv"),
    ("power", "pow"),
    ("matmul", "matmul"),
):
    setattr(Tensor, f"__{_method}__", _operator(_name))
    setattr(Tensor, f"__r{_method}__", _operator(_name, reflected=True))
del _name, _method


# --- grad ------------------------------------------------------------------------------------


@checks_call
def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> tuple:
    """Gradients of `outputs` with respect to `inputs`, as a tuple (`torch.autograd.grad`).

    `.grad` is left alone. With `create_graph=True` the results record their own history, so
    they can be differentiated again. An input the outputs do not depend on gets zeros.

    >>> import graphc as gc
    >>> x = tensor(3.0, requires_grad=True)
    >>> (dx,) = grad(x ** 3, x, create_graph=True)
    >>> dx, grad(dx, x)[0]
    (tensor(27., grad_fn=<MulBackward>), tensor(18.))
    """
    outs = _tensor_list(outputs, "outputs")
    ins = _tensor_list(inputs, "inputs")
    for x in ins:
        _check_wrt(x)
    heads = [
        head_gradient(o, h, create_graph, "grad")
        for o, h in zip(outs, _grad_outputs(grad_outputs, len(outs)))
    ]
    retain = create_graph if retain_graph is None else bool(retain_graph)
    with rule_mode(create_graph):
        found = backprop(outs, heads, ins, retain, create_graph, wrap)
    return tuple(_gradient_for(x, found.get(id(x))) for x in ins)


def _tensor_list(value, what: str) -> list:
    """One tensor or a sequence of them, as a list (items are checked where they are used)."""
    if isinstance(value, Tensor):
        return [value]
    if not isinstance(value, (list, tuple)):
        raise ArgumentError(
            f"grad: {what} must be an eager tensor or a sequence of them, "
            f"got {type(value).__name__}"
        )
    return list(value)


def _grad_outputs(grad_outputs, n: int) -> list:
    """One head per output: None (ones, for scalar outputs) or the given ones."""
    if grad_outputs is None:
        return [None] * n
    if isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] if n == 1 else None
    elif not isinstance(grad_outputs, (list, tuple)):
        raise ArgumentError(
            "grad: grad_outputs must be a tensor, an array or a sequence of them, "
            f"got {type(grad_outputs).__name__}"
        )
    if grad_outputs is None or len(grad_outputs) != n:
        raise GradError(f"grad: expected {n} grad_outputs, one per output")
    return list(grad_outputs)


def _check_wrt(x) -> None:
    """`x` can be differentiated against: a floating tensor that requires grad."""
    if not isinstance(x, Tensor):
        raise GradError(f"grad: inputs must be eager tensors, got {type(x).__name__}")
    if x._data.dtype.kind not in "fc":
        raise DTypeError(
            f"grad: cannot differentiate with respect to a tensor of dtype "
            f"{x._data.dtype}: only floating-point tensors have gradients"
        )
    if not x._rg:
        raise GradError(
            f"grad: an input of shape {x.shape} does not require grad; "
            "create it with requires_grad=True"
        )


def _gradient_for(x: Tensor, g) -> Tensor:
    """The gradient `backprop` found for `x` (None: zeros) as a tensor of x's shape and
    dtype."""
    if g is None:
        return wrap(np.zeros_like(x._data))
    if isinstance(g, Tensor):
        # (create_graph) x's shape and dtype, recorded: a float64 step of a float32
        # computation does not make its gradient float64
        same = g._data.shape == x._data.shape and g._data.dtype == x._data.dtype
        return g if same else OPS["checked_grad"](g, x)
    if (
        type(g) is np.ndarray
        and g.shape == x._data.shape
        and g.dtype == x._data.dtype
        and g.flags.writeable
    ):
        return wrap(g)  # a fresh result of the rules: no copy needed
    # a Python number, a broadcast view or another dtype
    return wrap(np.array(fit(np.asarray(g), x), dtype=x._data.dtype))


def __getattr__(name: str):
    # The gc functions take tensors; they are reachable as eager.<name> too (torch.dot style).
    op = OPS.get(name)
    if op is not None and op.public:
        return op
    raise AttributeError(f"module 'graphc.eager' has no attribute {name!r}")
