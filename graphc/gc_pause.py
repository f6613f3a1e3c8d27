"""Python's cyclic garbage collector paused while a graph is differentiated or compiled.

A compilation allocates many objects that live on (the graph's nodes, their inputs and
attributes); each of the collector's full collections walks every live object, so on a graph
of 1e4-1e5 nodes they took about a fifth of the time. Nothing is lost by collecting after
the call instead: the collector is switched on again when it returns (or raises).

After a call that left many new objects (`TENURE` or more), they are moved to the oldest
generation at once (`gc.freeze()` then `gc.unfreeze()`, which is what those two do together):
a generational collector would walk each of them twice more on its way there (the young and
the middle generation, 1.5-2 s after `gc.grad` of a 1e5-node graph) to find what was clear
already, that a graph's nodes live on. Garbage among them, if any, goes at the next full
collection. Not when objects are frozen already (someone froze them for a `fork`: unfreezing
would undo that).
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
            if gc.get_count()[0] >= TENURE and not gc.get_freeze_count():
                gc.freeze()  # (all tracked objects to the permanent generation,
                gc.unfreeze()  # then to the oldest: none walked)
            gc.enable()

    return paused


TENURE = 100_000  # new objects (net) after which a paused call moves them to the oldest generation
