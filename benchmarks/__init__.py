"""Benchmark suite for graphc.

Each workload is written once as math (a function of a namespace ``ns`` and the inputs) and run
by every system: a hand-written numpy forward+backward (the baseline), graphc compiled, graphc
eager, and the optional peers (torch eager, ``jax.jit(jax.value_and_grad)``, PyTensor, HIPS
autograd), which are imported only when their system is prepared.

Run ``python -m benchmarks --help``.
"""

from __future__ import annotations

__all__ = ["harness", "systems", "workloads"]
