"""`checks_call`: a public function called with arguments that do not fit its parameters
raises a graphc `ArgumentError` (Python's words, then the expected signature, at the user's
line; `ir.call_mismatch`) instead of Python's bare `TypeError`."""

from __future__ import annotations

import functools

from .errors import GraphcError
from .ir import call_mismatch


def checks_call(fn=None, *, name: str | None = None, skip_self: bool = False):
    """Decorate a public function so that a call that does not fit its parameters (count,
    keyword names) raises `ArgumentError` naming the function, instead of Python's bare
    `TypeError`; other errors pass through unchanged (the check runs on the error path only).

    >>> @checks_call
    ... def area(width, height=1):
    ...     return width * height
    >>> area(2, depth=3)
    Traceback (most recent call last):
    ...
    graphc.errors.ArgumentError: ...area(): got an unexpected keyword argument 'depth'; \
expected area(width, height=1)
    """
    if fn is None:
        return functools.partial(checks_call, name=name, skip_self=skip_self)
    public = name or fn.__name__

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TypeError as exc:
            if isinstance(exc, GraphcError):
                raise
            bound = args[1:] if skip_self else args
            target = functools.partial(fn, args[0]) if skip_self and args else fn
            error = call_mismatch(public, target, bound, kwargs)
            if error is None:
                raise
            raise error from None

    return checked
