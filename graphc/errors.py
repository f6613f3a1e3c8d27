"""The exception hierarchy: everything graphc raises derives from `GraphcError`."""

from __future__ import annotations

import difflib


class GraphcError(Exception):
    """Base class of every error raised by graphc."""


class ShapeError(GraphcError, ValueError):
    """Shapes that do not fit an operation or a binding."""


class OutOfBoundsError(ShapeError, IndexError):
    """An index outside the axis it indexes (`x[[0, 5]]` on 3 entries), found when the graph
    is built or, for index data, when it runs; also an `IndexError`, as numpy raises."""


class DTypeError(GraphcError, TypeError):
    """A dtype that an operation, a binding or a derivative cannot take."""


class ArgumentError(GraphcError, TypeError):
    """A call with arguments of the wrong number, name or type (also a `TypeError`, as
    Python raises for a bad call)."""


class UnsupportedError(GraphcError, TypeError):
    """A numpy function, ufunc method or keyword that graphc does not have, called on graphc
    values (numpy raises a `TypeError` when no argument implements a function)."""


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
    names the pip extra that installs them)."""


class BindError(GraphcError, ValueError):
    """Missing, extra or misspelt arguments when binding or calling."""


class GradError(GraphcError, RuntimeError):  # PyTorch raises RuntimeError for these
    """A derivative that cannot be taken as asked."""


class HeadShapeError(ShapeError, GradError):
    """A head (output gradient) whose shape is not the output's: both a shape and a grad
    error, so either `except` clause catches it."""


class GradientCheckError(GraphcError, AssertionError):
    """`check_grad` found a gradient outside tolerance."""


class SerializationError(GraphcError, ValueError):
    """Malformed, cyclic or unknown input when loading a graph."""


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
    `np.errstate(all="raise")` raises)."""


class GraphcWarning(UserWarning):
    """Base class of every warning graphc gives (a graph that is valid but likely wrong)."""
