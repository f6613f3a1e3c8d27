"""The exception hierarchy: everything graphc raises derives from `GraphcError`."""

from __future__ import annotations


class GraphcError(Exception):
    """Base class of every error raised by graphc."""


class ShapeError(GraphcError, ValueError):
    """Shapes that do not fit an operation or a binding."""


class DTypeError(GraphcError, TypeError):
    """A dtype that an operation, a binding or a derivative cannot take."""


class ArgumentError(GraphcError, TypeError):
    """A call with arguments of the wrong number, name or type (also a `TypeError`, as
    Python raises for a bad call)."""


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
    """An expression the safe parser does not accept."""
