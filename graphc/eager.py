"""Eager (define-by-run) mode with PyTorch's semantics, on the op table's derivative rules.

Every `gc` function given a `Tensor` computes at once with the op's numpy `impl`. When an input
requires grad (and grad mode is on) the result remembers its `grad_fn`: the op, its inputs and
attrs, a tape entry (`graphc.tape`). `backward` walks that tape in reverse topological order
and calls the same `op.vjp` rules that the symbolic compiler uses: on numpy arrays normally
(fast, nothing recorded), or on tensors with `create_graph=True`, so that the backward pass is
itself recorded and can be differentiated again. No derivative rule lives here.

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

import functools
import threading

import numpy as np

from . import dispatch
from .dispatch import IMPL_ERRORS, impl_error, plain_array
from .errors import DTypeError, GradError, GraphcError, ShapeError
from .mixin import ArrayMixin
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


class _GradState(threading.local):
    """Grad mode, one per thread (as in PyTorch): every thread starts with it enabled, and
    `no_grad`, `enable_grad` and `backward()` change only their own thread's. `saved` holds
    the modes to restore on leaving each open block, so that one context manager object may
    be entered by several threads at once."""

    def __init__(self):
        self.enabled = True
        self.saved = []


_grad_state = _GradState()
_new_object = object.__new__
# Ops that give fresh values with no path back to their input (as in PyTorch).
_NO_RECORD = frozenset(("stop_gradient", "zeros_like", "ones_like"))
# Shape adapters that derivative rules insert; when the shapes already agree they are the
# identity, and the input itself is the result (the specialisation pass does the same).
_ADAPTERS = frozenset(("sum_to", "broadcast_like", "reshape_like"))


# --- the tensor --------------------------------------------------------------------------


class Tensor(ArrayMixin):
    """An n-dimensional array that can record the operations made on it.

    Build one with `eager.tensor`; every `gc` function and operator works on it.
    """

    __slots__ = ("_data", "_rg", "_node", "_grad", "_retain", "__weakref__")
    _graphc_kind = "eager"
    __hash__ = object.__hash__  # like PyTorch: tensors are dict keys by identity

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        arr = _as_data(data, dtype, default_float=True)
        self._data, self._node, self._grad, self._retain, self._rg = arr, None, None, False, False
        if requires_grad:
            self.requires_grad_(True)

    # --- attributes ------------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The values, a numpy array; assign to replace them outside autograd's sight."""
        return self._data

    @data.setter
    def data(self, value) -> None:
        arr = value._data if isinstance(value, Tensor) else np.asarray(value)
        if self._rg and arr.dtype.kind not in "fc":
            raise DTypeError(
                f"Tensor.data: a tensor that requires grad needs floating "
                f"data, got dtype {arr.dtype}"
            )
        self._data = arr

    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by `backward` (leaves only), or None."""
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None and not isinstance(value, Tensor):
            value = tensor(value, dtype=self._data.dtype)
        if value is not None and value.shape != self.shape:
            raise ShapeError(
                f"Tensor.grad: assigned gradient of shape {value.shape} to a "
                f"tensor of shape {self.shape}"
            )
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        """Start (or stop) recording operations on this leaf; returns the tensor."""
        flag = bool(flag)
        if self._node is not None:
            if not flag:
                raise GradError(
                    "requires_grad_: only leaf tensors can stop requiring grad; "
                    "use .detach() to get a tensor without history"
                )
            return self
        if flag and self._data.dtype.kind not in "fc":
            raise DTypeError(
                f"only floating-point tensors can require gradients, got dtype "
                f"{self._data.dtype} (as in PyTorch, make it from floats, e.g. "
                f"eager.tensor([2., 3.]), or pass dtype=np.float64)"
            )
        self._rg = flag
        return self

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user and for results that record no history."""
        return self._node is None

    @property
    def grad_fn(self) -> Node | None:
        """The tape entry that made this tensor (`<MulBackward>`), None for leaves."""
        return self._node

    def retain_grad(self) -> None:
        """Also fill `.grad` of this non-leaf tensor during `backward`."""
        if not self._rg:
            raise GradError("retain_grad: the tensor does not require grad")
        self._retain = True

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return self._data.size

    def dim(self) -> int:
        return self._data.ndim

    # --- conversion ------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The values as a numpy array (shared, not copied)."""
        return self._data

    def tolist(self):
        return self._data.tolist()

    def all(self, axis=None) -> Tensor:
        """Whether every entry is true (a boolean tensor, no gradient)."""
        return _wrap(np.asarray(self._data.all(axis=axis)))

    def any(self, axis=None) -> Tensor:
        """Whether some entry is true (a boolean tensor, no gradient)."""
        return _wrap(np.asarray(self._data.any(axis=axis)))

    def double(self) -> Tensor:
        """As float64 (differentiable, like PyTorch's `.double()`)."""
        return self.astype(np.float64)

    def float(self) -> Tensor:
        """As float32 (differentiable, like PyTorch's `.float()`)."""
        return self.astype(np.float32)

    def item(self):
        """The one value as a Python number."""
        if self._data.size != 1:
            raise ShapeError(
                f"item: a tensor with {self._data.size} elements cannot be "
                "converted to a Python number"
            )
        return self._data.item()

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self._data, dtype=dtype, copy=True)
        return self._data if dtype is None else self._data.astype(dtype, copy=False)

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise GraphcError(
                f"the truth value of a tensor with {self._data.size} elements "
                "is ambiguous; use .any() style reductions such as "
                "gc.max(t) > 0, or compare a single element"
            )
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu":
            raise DTypeError(
                f"only integer tensors of one element can be used as an index, "
                f"got dtype {self._data.dtype}"
            )
        return int(self.item())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise ShapeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __setitem__(self, index, value):
        raise GraphcError(
            "eager tensors do not support item assignment; build the value "
            "with gc.stack, gc.concatenate or gc.where instead"
        )

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self._data.item(), spec)
        return format(repr(self), spec)

    def __repr__(self) -> str:
        text = np.array2string(self._data, separator=", ", prefix="tensor(")
        extra = ""
        if self._data.dtype not in (np.float64, np.int64, np.bool_):
            extra += f", dtype={self._data.dtype.name}"
        if self._node is not None:
            extra += f", grad_fn={self._node!r}"
        elif self._rg:
            extra += ", requires_grad=True"
        return f"tensor({text}{extra})"

    __str__ = __repr__

    def __reduce__(self):
        # pickle and copy.deepcopy: values, the flag and .grad; a recorded history cannot be
        # carried along (as in PyTorch, only leaves can be serialised).
        if self._node is not None:
            raise GradError(
                "only leaf tensors can be pickled or deep-copied (a tape cannot "
                "be carried along); use .detach() first"
            )
        grad = None if self._grad is None else self._grad._data
        return (_rebuild, (self._data, self._rg, grad))

    # --- autograd --------------------------------------------------------------------
    def detach(self) -> Tensor:
        """A tensor sharing these values with no history (no gradient flows through it)."""
        return _wrap(self._data)

    def zero_(self) -> Tensor:
        """Set every entry to zero in place; returns the tensor."""
        if self._data.flags.writeable:
            self._data[...] = 0
        else:  # a read-only view (broadcast): replace the buffer
            self._data = np.zeros(self._data.shape, self._data.dtype)
        return self

    def backward(
        self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False
    ) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad.

        A non-scalar tensor needs `gradient` (the head: the result is the gradient of
        `sum(self * gradient)`). The graph is freed afterwards unless `retain_graph=True`.
        """
        retain = create_graph if retain_graph is None else bool(retain_graph)
        head = _head(self, gradient, create_graph, "backward")
        with _mode(create_graph):
            backprop([self], [head], None, retain, create_graph, _wrap)


# --- construction ------------------------------------------------------------------------


def _wrap(data: np.ndarray, rg: bool = False, node: Node | None = None) -> Tensor:
    """A Tensor around an ndarray, without the checks of the public constructor."""
    t = _new_object(Tensor)
    t._data, t._rg, t._node, t._grad, t._retain = data, rg, node, None, False
    return t


def _rebuild(data: np.ndarray, rg: bool, grad) -> Tensor:
    t = _wrap(data, rg)
    if grad is not None:
        t._grad = _wrap(grad)
    return t


def _as_data(data, dtype, default_float: bool = False) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data._data
    elif isinstance(data, np.ndarray):
        data = plain_array(data)  # np.matrix: its data; a masked array is refused
    try:
        if dtype is None and default_float and not isinstance(data, np.ndarray):
            arr = np.array(data)
            if arr.dtype.kind in "biu":
                arr = arr.astype(np.float64)
        else:
            arr = np.array(data, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise DTypeError(f"tensor: cannot make an array of {type(data).__name__}: {exc}") from None
    if arr.dtype.kind not in "biufc":
        raise DTypeError(f"tensor: unsupported dtype {arr.dtype} (numbers and booleans only)")
    return arr


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """A new tensor holding a copy of `data` (numpy's dtype unless `dtype` is given).

    >>> tensor([1., 2.], requires_grad=True)
    tensor([1., 2.], requires_grad=True)
    """
    t = _wrap(_as_data(data, dtype))
    if requires_grad:
        t.requires_grad_(True)
    return t


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with `array`."""
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biufc":
        raise DTypeError(
            f"from_numpy: expected a numeric numpy array, got "
            f"{getattr(array, 'dtype', type(array).__name__)}"
        )
    return _wrap(plain_array(array))  # a view of an np.matrix shares its memory


def arange(start, stop=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """`np.arange` as a tensor: `arange(4.0)` is `tensor([0., 1., 2., 3.])`."""
    data = (
        np.arange(start, dtype=dtype)
        if stop is None
        else np.arange(start, stop, step, dtype=dtype)
    )
    return tensor(data, requires_grad=requires_grad)


def _shape_args(shape, size):
    if size is not None:
        shape = (size,)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(d) for d in shape)


def zeros(*shape, size=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """Zeros of the given shape (`zeros(2, 3)` or `zeros((2, 3))`), float64 by default."""
    return tensor(np.zeros(_shape_args(shape, size), dtype=dtype or np.float64), requires_grad)


def ones(*shape, size=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """Ones of the given shape, float64 by default."""
    return tensor(np.ones(_shape_args(shape, size), dtype=dtype or np.float64), requires_grad)


_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator behind `randn`."""
    global _rng
    _rng = np.random.default_rng(seed)


def randn(*shape, size=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples of the given shape (`randn(2, 3)` or `randn(size=())`)."""
    data = _rng.standard_normal(_shape_args(shape, size))
    return tensor(data.astype(dtype) if dtype is not None else data, requires_grad)


# --- grad mode ---------------------------------------------------------------------------


class _GradMode:
    """Context manager (and decorator) that sets grad mode for its block."""

    enabled = False

    def __enter__(self):
        state = _grad_state
        state.saved.append(state.enabled)
        state.enabled = self.enabled

    def __exit__(self, *exc):
        state = _grad_state
        state.enabled = state.saved.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Operations inside the block record nothing (`with eager.no_grad(): ...`)."""

    enabled = False


class enable_grad(_GradMode):
    """Turn recording back on inside a `no_grad` block."""

    enabled = True


def is_grad_enabled() -> bool:
    """Whether operations in this thread record for backward (each thread has its own mode).

    >>> with no_grad():
    ...     is_grad_enabled()
    False
    """
    return _grad_state.enabled


def _mode(create: bool) -> _GradMode:
    """Grad mode for running derivative rules: on to record them, off otherwise."""
    return enable_grad() if create else no_grad()


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
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    if (
        op.name in _ADAPTERS
        and isinstance(inputs[0], Tensor)
        and out.shape == inputs[0]._data.shape
    ):
        return inputs[0]
    if (
        record
        and _grad_state.enabled
        and op.differentiable
        and out.dtype.kind in "fc"
        and op.name not in _NO_RECORD
    ):
        return _wrap(out, True, Node(op, inputs, args, attrs, mask))
    return _wrap(out)


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


# --- backward ----------------------------------------------------------------------------


def _head(out: Tensor, gradient, create: bool, where: str):
    if not isinstance(out, Tensor):
        raise GradError(f"{where}: outputs must be eager tensors, got {type(out).__name__}")
    if out._data.dtype.kind not in "fc":
        raise DTypeError(
            f"{where}: cannot differentiate a tensor of dtype {out._data.dtype}: "
            "only floating-point tensors have gradients"
        )
    if not out._rg:
        raise GradError(
            f"{where}: the tensor does not require grad and has no grad_fn "
            "(make a leaf with requires_grad=True and compute from it)"
        )
    if gradient is None:
        if out._data.size != 1:
            raise GradError(
                f"{where}: grad can be implicitly created only for scalar outputs; "
                f"this output has shape {out.shape}: pass gradient= (a tensor of "
                "that shape, e.g. ones) or reduce it first, e.g. y.sum()"
            )
        head = np.ones_like(out._data)
        return _wrap(head) if create else head
    if isinstance(gradient, Tensor):
        if gradient.shape != out.shape:
            raise ShapeError(
                f"{where}: gradient of shape {gradient.shape} does not match the "
                f"output's shape {out.shape}"
            )
        return gradient if create else gradient._data
    head = np.asarray(gradient, dtype=out._data.dtype)
    if head.shape != out.shape:
        raise ShapeError(
            f"{where}: gradient of shape {head.shape} does not match the "
            f"output's shape {out.shape}"
        )
    return _wrap(head) if create else head


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
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = (
            [grad_outputs] * len(outs) if len(outs) == 1 or grad_outputs is None else None
        )
    if grad_outputs is None or len(grad_outputs) != len(outs):
        raise GradError(f"grad: expected {len(outs)} grad_outputs, one per output")
    for x in ins:
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
    heads = [_head(o, h, create_graph, "grad") for o, h in zip(outs, grad_outputs)]
    retain = create_graph if retain_graph is None else bool(retain_graph)
    with _mode(create_graph):
        found = backprop(outs, heads, ins, retain, create_graph, _wrap)
    results = []
    for x in ins:
        g = found.get(id(x))
        if g is None:
            results.append(_wrap(np.zeros_like(x._data)))
        elif isinstance(g, Tensor):
            # (create_graph) x's shape and dtype, recorded: a float64 step of a float32
            # computation does not make its gradient float64
            same = g._data.shape == x._data.shape and g._data.dtype == x._data.dtype
            results.append(g if same else OPS["checked_grad"](g, x))
        elif (
            type(g) is np.ndarray
            and g.shape == x._data.shape
            and g.dtype == x._data.dtype
            and g.flags.writeable
        ):
            results.append(_wrap(g))  # a fresh result of the rules: no copy needed
        else:  # a Python number, a broadcast view or another dtype
            results.append(_wrap(np.array(fit(np.asarray(g), x), dtype=x._data.dtype)))
    return tuple(results)


def __getattr__(name: str):
    # The gc functions take tensors; they are reachable as eager.<name> too (torch.dot style).
    op = OPS.get(name)
    import graphc

    if op is not None and getattr(graphc, name, None) is op:
        return op
    raise AttributeError(f"module 'graphc.eager' has no attribute {name!r}")
