"""Static shapes beyond `ops.base.MAX_ELEMENTS` are refused when built, loaded or specialised
(a graph whose one call would run for minutes), with the op, the shape and the user's line."""

from __future__ import annotations

import json

import numpy as np
import pytest

import graphc as gc
from graphc.ops import base

HUGE = (10**6, 10**6)


def _huge_sum():
    return gc.sum(gc.broadcast_to(gc.const(1.0), HUGE))


def test_building_a_huge_shape_is_a_shape_error():
    with pytest.raises(
        gc.ShapeError,
        match=r"test_size_limit\.py:\d+: broadcast_to: shape "
        r"\(1000000, 1000000\) has 1000000000000 elements",
    ):
        _huge_sum()
    with pytest.raises(gc.ShapeError, match=r"var 'x': shape \(1000000, 1000000\)"):
        gc.var("x", shape=HUGE)


def test_loading_a_huge_shape_is_refused(monkeypatch):
    # Was: a 250-byte JSON loaded and compiled, then ran about 650 s per call.
    monkeypatch.setattr(base, "MAX_ELEMENTS", 10**12)  # build it to save it
    text = _huge_sum().tojson()
    monkeypatch.undo()
    with pytest.raises(gc.SerializationError, match=r"broadcast_to.*MAX_ELEMENTS"):
        gc.load_json(text)
    doc = json.loads(text)
    for node in doc["graph"]["nodes"]:
        node.pop("shape", None)  # the rule refuses it too, not only the saved shape
    with pytest.raises(gc.SerializationError, match=r"broadcast_to.*1000000000000 elements"):
        gc.load_json(json.dumps(doc))


def test_specialising_to_a_huge_shape_is_refused_before_running():
    v = gc.var("v")
    f = gc.compile([v], gc.sum(gc.outer(v, v)))
    assert f(np.ones(3)) == 9.0
    with pytest.raises(gc.ShapeError, match=r"outer: shape \(1000000, 1000000\)"):
        f(np.broadcast_to(1.0, (10**6,)))


def test_the_limit_can_be_raised(monkeypatch):
    monkeypatch.setattr(base, "MAX_ELEMENTS", 10**12)
    y = _huge_sum()
    assert y.shape == ()
    assert gc.var("x", shape=HUGE).shape == HUGE
    base.check_size(HUGE, "ok")
    with pytest.raises(gc.ShapeError):
        base.check_size((10**6, 10**6, 2), "ones")
