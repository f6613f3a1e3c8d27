"""Python's cyclic garbage collector paused while a graph is differentiated or compiled.

A compilation allocates many objects that live on (the graph's nodes, their inputs and
attributes); each of the collector's full collections walks every live object, so on a graph
of 1e4-1e5 nodes they took about a fifth of the time. Nothing is lost by collecting after
the call instead: the collector is switched on again when it returns (or raises).
"""

from __future__ import annotations

import functools
import gc


def gc_paused(fn):
    """Decorate `fn`: the cyclic garbage collector is off while it runs, if it was on (a
    nested call leaves it as it is). The wrapper lives in graphc, so nodes built inside
    still name the user's line.

    >>> import gc
    >>> @gc_paused
    ... def inside():
    ...     return gc.isenabled()
    >>> inside(), gc.isenabled()
    (False, True)
    """

    @functools.wraps(fn)
    def paused(*args, **kwargs):
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()

    return paused
