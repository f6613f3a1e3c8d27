"""A hard deadline for one sympy call, in CPU time of this process.

sympy cannot be asked to stop, so a call that explodes (a cancel or factor_terms over a
large expression) would run for minutes. Where Python allows it (the main thread of the
main interpreter, on a platform with `SIGVTALRM`, and no `ITIMER_VIRTUAL` timer already
armed by someone else), `hard_deadline` arms a one-shot `ITIMER_VIRTUAL` timer (it counts
the CPU time this process spends, `time.process_time`, so a machine busy with other work
does not make the budget run out sooner) whose handler raises `Timeout` inside the call; the previous handler and the disarmed timer are restored before
the block is left, whichever way it is left. It interrupts only sympy's own code (not a
garbage-collector callback or finalizer running on top of it, which would swallow the raise),
never an import (a module left half-executed would be executed again later), nor a section
the caller marks unsafe.
Elsewhere it arms nothing and says so (it yields False): callers then rely on their size
caps alone.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import threading
from contextlib import contextmanager

_AVAILABLE = hasattr(signal, "setitimer") and hasattr(signal, "SIGVTALRM")
TIMER = getattr(signal, "ITIMER_VIRTUAL", None)  # counts this process's CPU time
SIGNAL = getattr(signal, "SIGVTALRM", None)  # what it sends when it expires
_RETRY = 0.005  # seconds until the next try when the deadline found no safe point


def _package_dir(name: str) -> str:
    spec = importlib.util.find_spec(name)  # finds the package without importing it
    return os.path.dirname(spec.origin) if spec and spec.origin else os.devnull


# Code the deadline may interrupt (directory prefixes): sympy, mpmath (which sympy calls) and
# the simplifier itself. Tests of the mechanism add their own directory.
INTERRUPTIBLE = (_package_dir("sympy"), _package_dir("mpmath"), os.path.dirname(__file__))


class Timeout(BaseException):
    """The deadline passed. A BaseException, so that sympy's `except Exception` clauses do
    not swallow it; only `hard_deadline`'s callers catch it."""


def _disarm(state: list) -> None:
    # Idempotent: the first caller (the handler or the block's exit) restores everything.
    if state:
        previous = state.pop()
        signal.setitimer(TIMER, 0)
        signal.signal(SIGNAL, previous)


def _in_sympy(frame) -> bool:
    """Is the interrupted code sympy's (or the simplifier's own)? Anything else running on
    top of the call, such as a garbage-collector callback or a finalizer, would swallow the
    raise ("Exception ignored") and the call would go on with no deadline."""
    filename = frame.f_code.co_filename
    return filename.startswith(INTERRUPTIBLE)


def _importing(frame) -> bool:
    """Is a module being imported (its code running) somewhere up the stack? A module left
    half-executed by an exception would be imported again later, defining its classes twice."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


@contextmanager
def hard_deadline(seconds: float, can_stop=None):
    """Raise `Timeout` inside the block once `seconds` of CPU time have passed (see
    `time.process_time`), where a timer signal can
    be used; yields whether it could (False: the block runs unbounded). The raise waits while
    a module is being imported or while `can_stop()` (if given) is false.

    >>> with hard_deadline(5.0) as armed:
    ...     total = sum(range(10))
    >>> total
    45
    """
    state: list = []
    if (
        _AVAILABLE
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(TIMER)[0] == 0
    ):
        previous = signal.getsignal(SIGNAL)
        if previous is not None:  # None: a handler not installed from Python, keep it

            def on_alarm(signum, frame):
                if not state:
                    return
                if (
                    not _in_sympy(frame)
                    or _importing(frame)
                    or (can_stop is not None and not can_stop())
                ):
                    signal.setitimer(TIMER, _RETRY)  # not here: a bit later
                    return
                _disarm(state)  # restore first, so the raise leaves nothing armed
                raise Timeout

            try:
                signal.signal(SIGNAL, on_alarm)
            except ValueError:  # not the main interpreter
                pass
            else:
                state.append(previous)
                signal.setitimer(TIMER, max(seconds, 1e-3))
    try:
        yield bool(state)
    finally:
        _disarm(state)
