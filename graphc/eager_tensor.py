"""The eager `Tensor`, grad mode, and the head of a backward pass.

A tensor holds a numpy array, whether it requires grad, and (for a recorded result) its tape
entry (`graphc.tape.Node`). `graphc.eager` computes on tensors and records; this module has no
op semantics of its own.
"""

from __future__ import annotations

import functools
import threading

import numpy as np

from .dispatch import plain_array
from .errors import DTypeError, GradError, GraphcError, ShapeError
from .mixin import ArrayMixin
from .tape import Node, backprop


class _GradState(threading.local):
    """Grad mode, one per thread (as in PyTorch): every thread starts with it enabled, and
    `no_grad`, `enable_grad` and `backward()` change only their own thread's. `saved` holds
    the modes to restore on leaving each open block, so that one context manager object may
    be entered by several threads at once."""

    def __init__(self):
        self.enabled = True
        self.saved = []


grad_state = _GradState()
_new_object = object.__new__

# --- the tensor --------------------------------------------------------------------------


class Tensor(ArrayMixin):
    """An n-dimensional array that can record the operations made on it.

    Build one with `eager.tensor`; every `gc` function and operator works on it.
    """

    __slots__ = ("_data", "_rg", "_node", "_grad", "_retain", "__weakref__")
    _graphc_kind = "eager"
    __hash__ = object.__hash__  # like PyTorch: tensors are dict keys by identity

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        arr = as_data(data, dtype, default_float=True)
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
            value = wrap(as_data(value, self._data.dtype))
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
        return wrap(np.asarray(self._data.all(axis=axis)))

    def any(self, axis=None) -> Tensor:
        """Whether some entry is true (a boolean tensor, no gradient)."""
        return wrap(np.asarray(self._data.any(axis=axis)))

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
        return wrap(self._data)

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
        head = head_gradient(self, gradient, create_graph, "backward")
        with rule_mode(create_graph):
            backprop([self], [head], None, retain, create_graph, wrap)


# --- construction ------------------------------------------------------------------------


def wrap(data: np.ndarray, rg: bool = False, node: Node | None = None) -> Tensor:
    """A Tensor around an ndarray, without the checks of the public constructor."""
    t = _new_object(Tensor)
    t._data, t._rg, t._node, t._grad, t._retain = data, rg, node, None, False
    return t


def _rebuild(data: np.ndarray, rg: bool, grad) -> Tensor:
    t = wrap(data, rg)
    if grad is not None:
        t._grad = wrap(grad)
    return t


def as_data(data, dtype, default_float: bool = False) -> np.ndarray:
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


# --- grad mode ---------------------------------------------------------------------------


class _GradMode:
    """Context manager (and decorator) that sets grad mode for its block."""

    enabled = False

    def __enter__(self):
        state = grad_state
        state.saved.append(state.enabled)
        state.enabled = self.enabled

    def __exit__(self, *exc):
        state = grad_state
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
    return grad_state.enabled


def rule_mode(create: bool) -> _GradMode:
    """Grad mode for running derivative rules: on to record them, off otherwise."""
    return enable_grad() if create else no_grad()


# --- backward ----------------------------------------------------------------------------


def head_gradient(out: Tensor, gradient, create: bool, where: str):
    """The head of a backward pass from `out`: `gradient` checked against it, or ones for a
    scalar; a tensor when the pass is recorded (`create`), else an array."""
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
        return wrap(head) if create else head
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
    return wrap(head) if create else head
