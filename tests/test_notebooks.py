"""Every tutorial notebook runs top to bottom without an error.

Each ``notebooks/*.ipynb`` is executed with nbclient in a fresh ipykernel started by the very
interpreter that runs pytest (a kernelspec written to a temporary folder, so neither a user's
nor a system's ``python3`` kernel can point to another environment), importing graphc from
this checkout, with matplotlib's Agg backend. Any error output fails the test.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

pytestmark = pytest.mark.slow  # each notebook starts a kernel: about a minute in all

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL_NAME = "graphc-test-python"
CELL_TIMEOUT = 180  # seconds per cell; a whole notebook takes well under a minute


@pytest.fixture(scope="module")
def kernel_dirs(tmp_path_factory):
    """A kernelspec for this interpreter, in a folder only these tests look in."""
    base = tmp_path_factory.mktemp("kernels")
    spec_dir = base / KERNEL_NAME
    spec_dir.mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "graphc tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return [str(base)]


def test_notebooks_exist():
    names = [p.stem for p in NOTEBOOKS]
    for prefix in ("01_", "02_", "03_", "04_", "05_", "06_"):
        assert any(n.startswith(prefix) for n in names), f"no notebook {prefix}* in {names}"


def test_notebooks_match_their_sources():
    """Each saved notebook was built from the current notebooks/src/*.py (no stale copy)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "notebooks_build", ROOT / "notebooks" / "build.py"
    )
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    for path in NOTEBOOKS:
        source = ROOT / "notebooks" / "src" / f"{path.stem}.py"
        assert source.is_file(), f"{path.name} has no source {source}"
        want = [(c["kind"], c["source"]) for c in build.parse_source(source.read_text("utf-8"))]
        nb = nbformat.read(str(path), as_version=4)
        got = [(c.cell_type, c.source) for c in nb.cells]
        assert got == want, f"{path.name} is stale: run python notebooks/build.py {path.stem}"


def _errors(nb) -> list[str]:
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"{out.get('ename')}: {out.get('evalue')}\nin cell:\n{cell.source}")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, kernel_dirs, monkeypatch):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient.exceptions import CellExecutionError

    # The kernel inherits this environment: graphc from this checkout, no GUI backend.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv(
        "PYTHONPATH",
        os.pathsep.join(
            [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        ),
    )
    nb = nbformat.read(str(path), as_version=4)
    km = KernelManager(
        kernel_name=KERNEL_NAME, kernel_spec_manager=KernelSpecManager(kernel_dirs=kernel_dirs)
    )
    client = nbclient.NotebookClient(
        nb,
        km=km,
        kernel_name=KERNEL_NAME,
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{path.name} failed:\n{exc}", pytrace=False)
    errors = _errors(nb)
    assert not errors, f"{path.name}: error outputs:\n" + "\n\n".join(errors)


def test_kernel_is_this_interpreter(kernel_dirs, monkeypatch):
    """The notebooks run in pytest's own environment, not some other python3 kernel."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.prefix)"))
    km = KernelManager(
        kernel_name=KERNEL_NAME, kernel_spec_manager=KernelSpecManager(kernel_dirs=kernel_dirs)
    )
    nbclient.NotebookClient(nb, km=km, kernel_name=KERNEL_NAME, timeout=60).execute()
    printed = nb.cells[0].outputs[0]["text"].strip()
    # sys.prefix tells a venv from its base interpreter (their executables may be one file).
    assert os.path.realpath(printed) == os.path.realpath(sys.prefix)
