"""The documentation in docs/: its API reference covers every public name, and (slow, with
Sphinx installed) it builds with warnings as errors and the user guide's examples pass as
doctests, as docs/build.sh runs them."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

import graphc as gc
from graphc import backends, eager

DOCS = Path(__file__).resolve().parent.parent / "docs"
_DIRECTIVE = re.compile(
    r"^\.\. (?:auto(?:function|class|exception|data|module)|function|data|module)::\s*(\S+)",
    re.MULTILINE,
)


def _ops_page():
    spec = importlib.util.spec_from_file_location("ops_page", DOCS / "ops_page.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _documented() -> set[str]:
    """Names the API pages document, qualified (`graphc.grad`), from their directives; the
    operations page from its generator (it is written at build time)."""
    found = set()
    for page in (DOCS / "api").glob("*.rst"):
        if page.name == "operations.rst":
            continue
        text = page.read_text()
        module = "graphc"
        for block in re.split(r"^\.\. currentmodule::\s*", text, flags=re.MULTILINE):
            first = block.split("\n", 1)[0].strip()
            if first.startswith("graphc"):
                module = first
            for name in _DIRECTIVE.findall(block):
                found.add(name if name.startswith("graphc") else f"{module}.{name}")
    found.update(f"graphc.{name}" for names in _ops_page().sections().values() for name in names)
    return found


def test_every_public_name_is_in_the_api_reference():
    documented = _documented()
    wanted = [f"graphc.{name}" for name in gc.__all__]
    wanted += [f"graphc.eager.{name}" for name in eager.__all__]
    wanted += ["graphc.backends.available", "graphc.backends.backend", "graphc.backends.Backend"]
    missing = [name for name in wanted if name not in documented]
    assert not missing, f"not in docs/api/*.rst: {missing}"
    assert callable(backends.available)


def test_every_public_op_has_a_section_on_the_operations_page():
    page = _ops_page()
    listed = [name for names in page.sections().values() for name in names]
    assert sorted(listed) == sorted(gc.ops.base.public_ops())
    assert page.signature(gc.sum) == "(x, axis=None, keepdims=False, *, name=None)"
    assert page.signature(gc.sum, method=True) == "(axis=None, keepdims=False, *, name=None)"
    assert page.signature(gc.exp) == "(x, /, *, name=None)"


@pytest.mark.slow
def test_the_docs_build_without_warnings_and_their_examples_pass(tmp_path):
    """docs/build.sh's two builds, into a temporary directory: HTML with -W (every warning
    fails), then the guide's doctests; objects.inv lists every name of `gc.__all__`."""
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    from sphinx.util.inventory import InventoryFile

    for builder in ("html", "doctest"):
        cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q"]
        cmd += [
            "-d",
            str(tmp_path / "doctrees"),
            "-b",
            builder,
            str(DOCS),
            str(tmp_path / builder),
        ]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, f"sphinx -b {builder}:\n{run.stdout}\n{run.stderr}"
    with open(tmp_path / "html" / "objects.inv", "rb") as f:
        inventory = InventoryFile.load(f, "", lambda base, uri: uri)
    names = set()
    for entries in inventory.data.values() if hasattr(inventory, "data") else inventory.values():
        names.update(entries)
    missing = [name for name in gc.__all__ if f"graphc.{name}" not in names]
    assert not missing, f"in gc.__all__ but not in the built reference: {missing}"
    classes = _ops_page().backend_classes().values()
    missing = [name for name in classes if name not in names and not name.endswith(".Backend")]
    assert not missing, f"backends not in the built reference: {missing}"
    for qualname, cls in [
        ("graphc.Symbol", gc.Symbol),
        ("graphc.Function", gc.Function),
        ("graphc.Executor", gc.Executor),
        ("graphc.eager.Tensor", eager.Tensor),
    ]:
        public = [m for m in dir(cls) if not m.startswith("_")]
        missing = [m for m in public if f"{qualname}.{m}" not in names]
        assert not missing, f"public members of {qualname} not in the built reference: {missing}"
