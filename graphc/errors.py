"""The exception hierarchy: everything graphc raises derives from `GraphcError`."""

from __future__ import annotations

import difflib


class GraphcError(Exception):
    """Base class of every error raised by graphc: `except gc.GraphcError` catches them all
    (each is also the built-in exception Python or numpy would raise: `ValueError`, ...).

    >>> import graphc as gc
    >>> try:
    ...     gc.var("x", shape=(2,)) + gc.var("y", shape=(3,))
    ... except gc.GraphcError as exc:
    ...     print(type(exc).__name__, isinstance(exc, ValueError))
    ShapeError True
    """


class ShapeError(GraphcError, ValueError):
    """Shapes that do not fit an operation or a binding, raised where the graph is built
    (naming the op and the user's line) or bound.

    >>> import graphc as gc
    >>> gc.var("x", shape=(2,)) + gc.var("y", shape=(3,))
    Traceback (most recent call last):
    ...
    graphc.errors.ShapeError: <doctest ...>:1: add: shapes (2,) and (3,) do not broadcast
    """


class OutOfBoundsError(ShapeError, IndexError):
    """An index outside the axis it indexes (`x[[0, 5]]` on 3 entries), found when the graph
    is built or, for index data, when it runs; also an `IndexError`, as numpy raises.

    >>> import graphc as gc
    >>> gc.var("x", shape=(3,))[[0, 5]]
    Traceback (most recent call last):
    ...
    graphc.errors.OutOfBoundsError: ...getitem: index 5 is out of bounds for axis 0 with size 3
    """


class DTypeError(GraphcError, TypeError):
    """A dtype that an operation, a binding or a derivative cannot take.

    >>> import graphc as gc
    >>> gc.var("x").astype("U3")
    Traceback (most recent call last):
    ...
    graphc.errors.DTypeError: astype: unsupported dtype <U3 (numbers and booleans only)
    """


class ArgumentError(GraphcError, TypeError):
    """A call with arguments of the wrong number, name or type (also a `TypeError`, as
    Python raises for a bad call), naming the function and its signature.

    >>> import graphc as gc
    >>> gc.sum(gc.var("x"), keepdim=True)
    Traceback (most recent call last):
    ...
    graphc.errors.ArgumentError: ...sum(): got an unexpected keyword argument 'keepdim'; \
expected sum(x, axis=None, keepdims=False)
    """


class UnsupportedError(GraphcError, TypeError):
    """A numpy function, ufunc method or keyword that graphc does not have, called on graphc
    values (numpy raises a `TypeError` when no argument implements a function).

    >>> import graphc as gc, numpy as np
    >>> np.unique(gc.var("x"))
    Traceback (most recent call last):
    ...
    graphc.errors.UnsupportedError: numpy.unique is not supported by graphc: the result's \
shape depends on the values; ...
    """


class UnknownNameError(GraphcError, AttributeError):
    """A `gc.<name>` that does not exist (an `AttributeError`, so `hasattr` works)."""


def did_you_mean(name: str, names) -> str:
    """`" (did you mean a, b?)"` naming the entries of `names` nearest to `name`, or "".

    >>> did_you_mean("argmax", ["amax", "max", "mean"])
    ' (did you mean amax, max?)'
    """
    close = difflib.get_close_matches(name, sorted(set(names)), n=5, cutoff=0.65)
    return f" (did you mean {', '.join(close)}?)" if close else ""


class BackendError(GraphcError, ValueError):
    """An unknown backend name, or a backend whose packages are not installed (the message
    names the pip extra that installs them).

    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> gc.compile([x], x * 2, backend="fortran")
    Traceback (most recent call last):
    ...
    graphc.errors.BackendError: unknown backend 'fortran'; the backends are [...]
    """


class BindError(GraphcError, ValueError):
    """Missing, extra or misspelt arguments when binding or calling.

    >>> import graphc as gc
    >>> (gc.var("x") * gc.var("y")).eval(x=1.0)
    Traceback (most recent call last):
    ...
    graphc.errors.BindError: eval: missing argument(s) ['y']; the arguments are ['x', 'y']
    """


class GradError(GraphcError, RuntimeError):  # PyTorch raises RuntimeError for these
    """A derivative that cannot be taken as asked (e.g. of a non-scalar without `head=`).

    >>> import graphc as gc
    >>> x = gc.var("x", shape=(2,))
    >>> gc.grad(x * 2, x)
    Traceback (most recent call last):
    ...
    graphc.errors.GradError: ...grad of the multiply output of shape (2,) needs head= ...
    """


class HeadShapeError(ShapeError, GradError):
    """A head (output gradient) whose shape is not the output's: both a shape and a grad
    error, so either `except` clause catches it."""


class GradientCheckError(GraphcError, AssertionError):
    """`check_grad` found a gradient outside tolerance (here relu's kink at 0, where its
    derivative is taken as 0 and central differences give 0.5).

    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x", shape=(2,))
    >>> gc.check_grad(gc.sum(gc.relu(x)), x, {"x": np.array([0.0, 1.0])})
    Traceback (most recent call last):
    ...
    graphc.errors.GradientCheckError: check_grad: d(sum output)/d x[0]: reverse mode gives 0, \
central differences (step ...) give 0.5; ...
    """


class SerializationError(GraphcError, ValueError):
    """Malformed, cyclic or unknown input when loading a graph.

    >>> import graphc as gc
    >>> gc.load_json('{"format": "graphc"}')
    Traceback (most recent call last):
    ...
    graphc.errors.SerializationError: load_json: unsupported version None (this graphc \
reads version 1)
    """


class ParseError(GraphcError, ValueError):
    """An expression the safe parser does not accept. Where the parser knows the place,
    `text` is the expression's line and `column` (1-based) the offending character, and
    `pointer()` shows them:

    >>> from graphc.parse import parse
    >>> try:
    ...     parse("x + * 2")
    ... except ParseError as exc:
    ...     print(exc.pointer())
    x + * 2
        ^
    """

    def __init__(self, message: str, text: str | None = None, column: int | None = None):
        super().__init__(message)
        self.text, self.column = text, column

    def pointer(self) -> str:
        """The expression's line with a caret under the column ("" when unknown)."""
        if self.text is None or self.column is None:
            return ""
        return f"{self.text}\n{' ' * (self.column - 1)}^"


class NonFiniteError(GraphcError, FloatingPointError):
    """An operation whose value has a NaN or an infinity, found by a program compiled with
    `gc.compile(..., debug=True)` (also a `FloatingPointError`, as numpy's
    `np.errstate(all="raise")` raises).

    >>> import graphc as gc, numpy as np
    >>> x = gc.var("x")
    >>> f = gc.compile([x], gc.log(x), debug=True)
    >>> with np.errstate(invalid="ignore"):
    ...     f(np.array([-1.0]))
    Traceback (most recent call last):
    ...
    graphc.errors.NonFiniteError: ...the log operation gives nan at 1 of 1 entries ...
    """


class GraphcWarning(UserWarning):
    """Base class of every warning graphc gives (a graph that is valid but likely wrong),
    e.g. a `where` whose unused branch makes the gradient NaN.

    >>> import graphc as gc, warnings
    >>> x = gc.var("x")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = gc.grad(gc.sum(gc.where(x > 0, gc.sqrt(x), 0)), x)
    >>> caught[0].category.__name__, "Guard the input" in str(caught[0].message)
    ('GraphcWarning', True)
    """
