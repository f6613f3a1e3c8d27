"""graphc.eager under threads: grad mode is per thread (as in PyTorch), so `backward()` and
`no_grad()` in one thread never change what another thread records."""

from __future__ import annotations

import threading

import numpy as np

import graphc as gc
from graphc import eager


def _run_threads(n: int, target) -> list:
    """Run `target(i, barrier)` in `n` threads; return what each raised (None if nothing)."""
    barrier = threading.Barrier(n)
    errors: list = [None] * n

    def body(i):
        try:
            target(i, barrier)
        except BaseException as exc:  # reported by the test, never swallowed
            errors[i] = exc

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_backward_in_threads_gives_exact_gradients():
    steps = 300
    grads: list = [[] for _ in range(8)]

    def train(i, barrier):
        w = eager.tensor(np.ones(3), requires_grad=True)
        barrier.wait()
        for _ in range(steps):
            w.grad = None
            (gc.sum(w * 2.0) + gc.sum(w * 3.0)).backward()
            grads[i].append(w.grad.numpy().copy())

    errors = _run_threads(8, train)
    assert errors == [None] * 8
    for per_thread in grads:
        assert len(per_thread) == steps
        for g in per_thread:
            np.testing.assert_array_equal(g, [5.0, 5.0, 5.0])
    assert eager.is_grad_enabled()


def test_no_grad_in_one_thread_leaves_the_others_recording():
    inside = threading.Event()
    checked = threading.Event()
    seen = {}

    def worker(i, barrier):
        if i == 0:
            with eager.no_grad():
                seen["own"] = eager.is_grad_enabled()
                inside.set()
                checked.wait(10)
            return
        inside.wait(10)
        w = eager.tensor(np.ones(2), requires_grad=True)
        y = gc.sum(w * 3.0)
        seen["other"] = (eager.is_grad_enabled(), y.requires_grad)
        y.backward()
        seen["grad"] = w.grad.numpy().copy()
        checked.set()

    assert _run_threads(2, worker) == [None, None]
    assert seen["own"] is False
    assert seen["other"] == (True, True)
    np.testing.assert_array_equal(seen["grad"], [3.0, 3.0])
    assert eager.is_grad_enabled()


def test_shared_no_grad_object_entered_by_two_threads():
    ctx = eager.no_grad()
    entered = threading.Barrier(2)

    def worker(i, barrier):
        if i == 0:
            with eager.enable_grad():
                with ctx:
                    entered.wait(10)
                    entered.wait(10)
                assert eager.is_grad_enabled()
        else:
            with ctx:
                entered.wait(10)
                entered.wait(10)
            assert eager.is_grad_enabled()

    assert _run_threads(2, worker) == [None, None]
    assert eager.is_grad_enabled()


def test_a_new_thread_starts_with_grad_enabled():
    seen = []
    with eager.no_grad():
        t = threading.Thread(target=lambda: seen.append(eager.is_grad_enabled()))
        t.start()
        t.join()
        assert not eager.is_grad_enabled()
    assert seen == [True]
    assert eager.is_grad_enabled()
