"""Shared test settings: the `rng` fixture and the hypothesis profile for the whole suite.

The suite must stay well under ten minutes on two shared cores, so hypothesis runs a modest,
derandomized number of examples with no per-example deadline (the first call of a compiled
function includes code generation, which would trip a deadline). Set HYPOTHESIS_PROFILE=thorough
to run more examples locally.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# The shared test helpers (`op_recipes`, `random_graphs`) import by module name from any test.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "ops"))

settings.register_profile(
    "graphc",
    deadline=None,
    derandomize=True,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "thorough",
    parent=settings.get_profile("graphc"),
    derandomize=False,
    max_examples=500,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "graphc"))


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator per test, so every test is reproducible on its own."""
    return np.random.default_rng(20240601)
