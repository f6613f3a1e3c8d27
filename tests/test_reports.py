"""`Function.cache_info()` and `f.report()` (issue 14 item 6) on known graphs: the seed's
`2 * dot(x, x)`, a two-layer network and the recurrence."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import graphc as gc
from graphc import simplify
from graphc.simplify import elementwise as el


def _two_layer():
    x, w1, w2 = gc.var("x"), gc.var("W1"), gc.var("W2")
    loss = gc.sum(gc.tanh(x @ w1) @ w2)
    return [x, w1, w2], loss


def _recurrence():
    a = gc.var("a", shape=())
    xs = [gc.var(f"x{i}", shape=(2,)) for i in range(3)]
    h0 = h = gc.var("h0", shape=(2,))
    for xt in xs:
        h = gc.tanh(a * h + xt)
    return [a, h0, *xs], gc.sum(h)


def test_cache_info_counts_hits_and_misses_like_functools():
    x = gc.var("x")
    y = 2 * gc.dot(x, x)
    f = gc.compile([x], [y, gc.grad(y, x)])
    assert f.cache_info()[:4] == (0, 0, 64, 0)
    for _ in range(3):
        f(np.arange(4.0))
    f(x=np.arange(4.0))  # by keyword: the slow path, still a hit
    info = f.cache_info()
    assert (info.hits, info.misses, info.maxsize, info.currsize) == (3, 1, 64, 1)
    assert [str(s) for s in info.signatures[0]] == ["x: float64[4]"]
    assert str(info.compilations[0]) == "x: float64[4]: first call"


def test_cache_info_names_the_argument_that_changed_shape_or_dtype():
    args, loss = _two_layer()
    f = gc.compile(args, [loss, *gc.grad(loss, args[1:])])
    x, w1, w2 = np.ones((5, 3)), np.ones((3, 4)), np.ones((4, 2))
    f(x, w1, w2)
    f(np.ones((7, 3)), w1, w2)  # a new batch size
    f(np.ones((7, 3)), w1, w2.astype(np.float32))  # W2 in float32
    info = f.cache_info()
    assert info.misses == 3 and info.hits == 0
    second, third = info.compilations[1:]
    assert second.changes == (("x", "shape", (5, 3), (7, 3)),)
    assert second.reason == "x changed shape (5, 3) -> (7, 3)"
    assert third.changes == (("W2", "dtype", np.dtype("float64"), np.dtype("float32")),)
    text = str(info)
    assert "3. x: float64[7, 3], W1: float64[3, 4], W2: float32[4, 2]: W2 changed dtype" in text
    assert "float64 -> float32" in text


def test_cache_info_says_a_signature_was_dropped_from_a_full_cache(monkeypatch):
    from graphc import codegen

    monkeypatch.setattr(codegen, "SIGNATURE_CACHE", 1)
    x = gc.var("x")
    f = gc.compile([x], gc.sum(x))
    f(np.ones(2))
    f(np.ones(3))
    f(np.ones(2))  # dropped when (3,) came: compiled again
    info = f.cache_info()
    assert (info.misses, info.currsize, info.maxsize) == (3, 1, 1)
    assert "dropped from the full cache" in info.compilations[2].reason


def test_report_lists_every_pipeline_stage_with_counts():
    args, loss = _recurrence()
    f = gc.compile(args, [loss, gc.grad(loss, args[0])])
    f(np.float64(0.5), *[np.ones(2)] * 4)
    r = f.report()
    names = [s.name for s in r.stages]
    assert names[:2] == ["graph", "specialize"]
    pipeline = [p.__name__ for p in simplify.PIPELINE]
    assert names[2 : 2 + len(pipeline)] == pipeline  # the first round, every pass listed
    assert names[-3:] == ["specialize again", "cse (whole program)", "codegen"]
    assert all(s.ops is not None for s in r.stages[:-1]) and r.stages[-1].ops is None
    final = r.stages[-2].ops
    assert r.stages[0].ops > final  # simplification made it smaller
    assert r.lines == len(f.source.splitlines()) and r.chars == len(f.source)
    text = str(r)
    assert text.startswith("compiled a: float64[], h0: float64[2], x0: float64[2]")
    for line in ("simplify_elementwise", "codegen", "sympy budget: not exceeded"):
        assert line in text
    assert f"program: {r.lines} lines, {r.chars} characters" in text


def test_report_before_the_first_call_is_the_shape_generic_program():
    x = gc.var("x")
    f = gc.compile([x], 2 * gc.dot(x, x))
    r = f.report()
    assert r.signature is None and str(r).startswith("compiled (shape-generic) in")
    assert r.lines == len(f.source.splitlines())


def test_a_sympy_budget_overrun_is_reported(monkeypatch):
    monkeypatch.setattr(el, "_cache", OrderedDict())  # plan the clusters here
    monkeypatch.setattr(el, "TIME_BUDGET", 0.0)
    x = gc.var("x")
    f = gc.compile([x], gc.exp(x * 2 + x * 2) + gc.sin(gc.sum(x * 3 - x)))
    f(np.ones(2))
    r = f.report()
    assert r.budget_ran_out and r.budget["skipped"] > 0
    assert f"clusters {r.budget['skipped']} not tried (budget spent)" in str(r)


def test_report_true_prints_each_compilation(capsys):
    x = gc.var("x")
    f = gc.compile([x], gc.exp(x), report=True)
    f(np.ones(2))
    f(np.ones(2))
    f(np.ones(3))
    out = capsys.readouterr().out
    assert out.count("compiled x: float64[") == 2 and "codegen" in out


def test_without_simplification_only_specialize_and_codegen():
    x = gc.var("x")
    f = gc.compile([x], gc.exp(x) * 1, simplify=False)
    f(np.ones(2))
    assert [s.name for s in f.report().stages] == ["graph", "specialize", "codegen"]


@pytest.mark.parametrize("n", [0, 1, 3])
def test_hits_are_counted_on_the_fast_path_for_any_arity(n):
    xs = [gc.var(f"x{i}") for i in range(n)]
    f = gc.compile(xs, gc.const(1.0) if not xs else sum(xs[1:], xs[0]))
    arrays = [np.ones(2)] * n
    for _ in range(4):
        f(*arrays)
    assert f.cache_info()[:2] == (3, 1)
