"""Operators and array methods shared by `Symbol` and the eager `Tensor`.

Every method calls the public `gc` function of the same name, so both kinds of value have one
surface and the dispatcher decides whether to build a node or compute and record.
The functions live in the op table, a layer above this module: `graphc.ops` installs itself
(`install_ops`).
"""

from __future__ import annotations

_ops = None
_numpy = None


def install_ops(namespace) -> None:
    """Make `namespace` (the `graphc.ops` package) where the methods find the `gc` functions."""
    global _ops
    _ops = namespace


def install_numpy(handler) -> None:
    """Make `handler` (graphc.numpy_interop) what numpy's functions on our values call."""
    global _numpy
    _numpy = handler


def _F():
    return _ops


class ArrayMixin:
    __slots__ = ()
    __array_priority__ = 1000

    # numpy's functions and ufuncs on our values (np.exp(x), ndarray + x) call the `gc`
    # function numpy's name stands for: graphc.numpy_interop.
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _numpy.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _numpy.array_function(func, types, args, kwargs)

    def __add__(self, other):
        return _F().add(self, other)

    def __radd__(self, other):
        return _F().add(other, self)

    def __sub__(self, other):
        return _F().subtract(self, other)

    def __rsub__(self, other):
        return _F().subtract(other, self)

    def __mul__(self, other):
        return _F().multiply(self, other)

    def __rmul__(self, other):
        return _F().multiply(other, self)

    def __truediv__(self, other):
        return _F().divide(self, other)

    def __rtruediv__(self, other):
        return _F().divide(other, self)

    def __pow__(self, other):
        return _F().power(self, other)

    def __rpow__(self, other):
        return _F().power(other, self)

    def __mod__(self, other):
        return _F().mod(self, other)

    def __rmod__(self, other):
        return _F().mod(other, self)

    def __matmul__(self, other):
        return _F().matmul(self, other)

    def __rmatmul__(self, other):
        return _F().matmul(other, self)

    def __neg__(self):
        return _F().negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _F().abs(self)

    def __lt__(self, other):
        return _F().less(self, other)

    def __le__(self, other):
        return _F().less_equal(self, other)

    def __gt__(self, other):
        return _F().greater(self, other)

    def __ge__(self, other):
        return _F().greater_equal(self, other)

    def __eq__(self, other):  # type: ignore[override]
        return _F().equal(self, other)

    def __ne__(self, other):  # type: ignore[override]
        return _F().not_equal(self, other)

    def __getitem__(self, index):
        return _F().getitem(self, index)

    @property
    def T(self):
        """The transpose, axes reversed: `gc.transpose(x)` (numpy's `ndarray.T`).

        >>> import graphc as gc
        >>> x = gc.var("x", shape=(2, 3))
        >>> print(x.T)
        x.T
        >>> x.T.shape
        (3, 2)
        """
        return _F().transpose(self)

    def reshape(self, *shape):
        """`gc.reshape(x, shape)`; the shape may be given as one tuple or as ints.

        >>> import graphc as gc
        >>> x = gc.var("x", shape=(2, 3))
        >>> x.reshape(3, 2).shape, x.reshape((-1,)).shape
        ((3, 2), (6,))
        """
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        return _F().reshape(self, tuple(shape))

    def transpose(self, *axes):
        """`gc.transpose(x, axes)`; the axes may be given as one tuple or as ints, none
        reverses them.

        >>> import graphc as gc
        >>> x = gc.var("x", shape=(2, 3, 4))
        >>> x.transpose().shape, x.transpose(1, 0, 2).shape
        ((4, 3, 2), (3, 2, 4))
        """
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = axes[0]
        return _F().transpose(self, tuple(axes) if axes else None)

    # Methods that call an op on `self` with the same arguments (`x.sum(axis=0)`, `x.exp()`)
    # are declared by the op (`OpDef.methods`) and attached by `add_op_methods`.


def add_op_methods(op) -> None:
    """Attach the methods `op` declares (`OpDef.methods`): `x.name(*args, **kwargs)` is
    `op(x, *args, **kwargs)`, on `Symbol` and the eager `Tensor` alike."""
    for name in op.methods:
        if name in ArrayMixin.__dict__:
            raise ValueError(f"op {op.name!r}: method {name!r} is already defined")
    for name in op.methods:
        setattr(ArrayMixin, name, _op_method(op, name))


def remove_op_methods(op) -> None:
    """Detach the methods `add_op_methods(op)` attached."""
    for name in op.methods:
        if getattr(ArrayMixin.__dict__.get(name), "op", None) is op:
            delattr(ArrayMixin, name)


def _op_method(op, name: str):
    def method(self, *args, **kwargs):
        return op(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = _method_doc(op, name)
    method.op = op
    return method


def _method_doc(op, name: str) -> str:
    """`x.name(...)` is `gc.op(x, ...)`: the op's summary line, and its example (the op's
    `example` fact, which calls the method too) once the op table documents it."""
    summary = (op.__doc__ or "").strip().split("\n\n")[0]
    text = f"`x.{name}(...)` is `gc.{op.name}(x, ...)`. {summary}".rstrip()
    example = getattr(op, "example", None)
    return f"{text}\n\nExamples\n--------\n{example}\n" if example else text
