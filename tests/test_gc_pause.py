"""The cyclic garbage collector around graphc's large calls (`graphc.gc_pause`)."""

from __future__ import annotations

import gc

import pytest

from graphc import gc_pause


class _Node:
    """A stand-in for a graph node: an object the collector tracks."""

    def __init__(self, inputs=()):
        self.inputs = inputs


def _build(n: int) -> list:
    nodes = [_Node()]
    for _ in range(n - 1):
        nodes.append(_Node((nodes[-1],)))
    return nodes


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    gc.collect()
    yield
    if not was:
        gc.disable()


def test_a_paused_call_switches_the_collector_back_on(collector_on):
    @gc_pause.gc_paused
    def fails():
        assert not gc.isenabled()
        raise ValueError("no")

    with pytest.raises(ValueError):
        fails()
    assert gc.isenabled()


def test_many_new_objects_go_to_the_oldest_generation_unwalked(collector_on):
    """A call that leaves `TENURE` or more new objects hands them to the oldest generation
    (the young generation's count starts again from zero); a small call leaves them young."""
    small = gc_pause.gc_paused(lambda: _build(100))
    kept = small()
    assert gc.get_count()[0] >= 100
    big = gc_pause.gc_paused(lambda: _build(gc_pause.TENURE))
    kept = big()
    assert gc.get_count()[0] < 100
    assert gc.get_freeze_count() == 0  # (moved on, none left frozen)
    assert all(gc.is_tracked(n) for n in kept[:3])
    # Garbage among them is still collected, by the next full collection.
    cycle = gc_pause.gc_paused(lambda: _build(gc_pause.TENURE))()
    cycle[0].inputs = (cycle[-1],)
    del cycle
    assert gc.collect() >= gc_pause.TENURE


def test_objects_someone_froze_stay_frozen(collector_on):
    """Unfreezing would undo a `gc.freeze()` made for a fork: then nothing is moved."""
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        gc_pause.gc_paused(lambda: _build(gc_pause.TENURE))()
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
