"""The examples in graphc's docstrings run as written (STYLE: public API docstrings carry a
small runnable example), and they do run: every `>>>` line in a module's source is an example
doctest attempted, and the package's total does not fall below the count known when this test
was written (a docstring lost to a decorator, or a module left out of the walk, fails here)."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import re

import pytest

import graphc

MODULES = ["graphc"] + sorted(
    m.name
    for m in pkgutil.walk_packages(graphc.__path__, "graphc.")
    if not m.name.endswith("__main__")
)
KNOWN_EXAMPLES = 1000  # the package's examples when this test was written; raise it as they grow
_PROMPT = re.compile(r"^\s*>>> ", re.MULTILINE)


def _prompts(name: str) -> int:
    return len(_PROMPT.findall(inspect.getsource(importlib.import_module(name))))


def _made_here(name: str) -> int:
    """`>>>` lines of the docstrings `graphc.mixin` makes for the op methods (`x.exp()`): the
    op's `example` fact, written (and counted) in an op doc table, run again here."""
    if name != "graphc.mixin":
        return 0
    methods = [f for f in vars(graphc.mixin.ArrayMixin).values() if hasattr(f, "op")]
    return sum(len(_PROMPT.findall(f.__doc__)) for f in methods)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    for package in getattr(module, "DOCTEST_NEEDS", ()):  # a backend's optional packages
        pytest.importorskip(package)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
    assert result.attempted == _prompts(name) + _made_here(name), (
        f"{name}: {_prompts(name)} `>>>` lines in the source, {result.attempted} examples ran"
    )


def test_the_package_has_at_least_the_known_examples():
    assert sum(_prompts(name) for name in MODULES) >= KNOWN_EXAMPLES
