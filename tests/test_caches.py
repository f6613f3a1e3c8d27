"""Caches stay bounded: plans die with their symbol, signature caches keep at most
`SIGNATURE_CACHE` entries, and emitted programs leave `linecache` when they are collected."""

from __future__ import annotations

import gc as pygc
import linecache

import numpy as np
import pytest

import graphc as gc
from graphc import codegen, executor


def _programs_in_linecache() -> int:
    pygc.collect()
    codegen._forget_dead_programs()  # what the next compile does first
    return sum(1 for k in linecache.cache if str(k).startswith("<graphc-"))


def test_collecting_a_program_never_changes_linecache_during_a_scan():
    # Was: the finalizer popped the entry, so a collection inside linecache.checkcache()
    # (which reads every key of a snapshot: doctest, pdb) raised KeyError.
    x = gc.var("x")
    f = gc.compile([x], x * 2.0)
    f(np.ones(2))
    snapshot = list(linecache.cache)
    del f
    pygc.collect()
    for name in snapshot:
        assert name in linecache.cache
    linecache.checkcache()
    assert _programs_in_linecache() < len([k for k in snapshot if str(k).startswith("<graphc-")])


def _training_step(rng):
    x = gc.var("x", shape=(4,), dtype=np.float64)
    w = gc.var("w", shape=(4,), dtype=np.float64)
    loss = gc.sum(gc.tanh(x * w))
    exe = loss.bind({"x": rng.normal(size=4), "w": rng.normal(size=4)})
    exe.forward(is_train=True)
    exe.backward()
    return exe.grad_dict["w"]


def test_plans_die_with_their_symbol_when_vars_declare_the_bound_shape(rng):
    # Was: the plan held its own key symbol (no rebuild for declared shapes), +65 KiB a step.
    _training_step(rng)
    plans, programs = len(executor._PLANS), _programs_in_linecache()
    for _ in range(30):
        _training_step(rng)
    assert _programs_in_linecache() <= programs
    assert len(executor._PLANS) <= plans


def test_a_bound_var_is_not_kept_alive_by_its_plan():
    x = gc.var("x", shape=(2,), dtype=np.float64)
    plans = len(executor._PLANS)
    exe = x.bind({"x": np.ones(2)})
    assert exe.forward()[0].tolist() == [1.0, 1.0]
    del x, exe
    pygc.collect()
    assert len(executor._PLANS) <= plans


@pytest.fixture
def small_cache(monkeypatch):
    monkeypatch.setattr(codegen, "SIGNATURE_CACHE", 4)
    return 4


def test_function_keeps_the_last_signatures(small_cache):
    x = gc.var("x")
    f = gc.compile([x], x * 2)
    before = _programs_in_linecache()
    for n in range(1, 12):
        assert f(np.ones(n)).tolist() == [2.0] * n
    assert len(f._cache) == len(f._programs) == small_cache
    assert _programs_in_linecache() <= before + small_cache
    assert f(np.ones(1)).tolist() == [2.0]  # dropped, compiled again
    del f
    assert _programs_in_linecache() <= before  # a dropped function's programs go away


def test_value_and_grad_keeps_the_last_signatures(small_cache):
    vg = gc.value_and_grad(lambda x: gc.sum(x * x))
    for n in range(1, 12):
        value, g = vg(np.ones(n))
        assert value == n and g.tolist() == [2.0] * n
    assert len(vg._cache) <= small_cache and len(vg._fast) <= small_cache


def test_graph_function_keeps_the_last_signatures(small_cache):
    @gc.function
    def double(x):
        return x * 2

    for n in range(1, 12):
        assert double(np.ones(n)).tolist() == [2.0] * n
    assert len(double._cache) <= small_cache


def test_executor_plans_per_symbol_are_bounded(small_cache):
    x = gc.var("x")
    y = gc.sum(x * 3)
    for n in range(1, 12):
        assert y.bind({"x": np.ones(n)}).forward()[0] == 3.0 * n
    assert len(executor._PLANS[id(y)][1]) == small_cache
