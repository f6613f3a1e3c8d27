"""Build the tutorial notebooks from their sources and execute them to save outputs.

Each notebook is written as a plain Python file in ``notebooks/src/`` in the "percent" format
(cells start with ``# %%``; markdown cells with ``# %% [markdown]`` and ``# `` before each
line), which reads and diffs well. This script turns each source into ``notebooks/NAME.ipynb``
with nbformat and runs it top to bottom with nbclient in a fresh kernel of the current
interpreter, so the saved outputs are the ones a reader would get.

Optional peers (torch, jax) appear only inside ``try: import ...`` cells that print a note
when they are missing, so every notebook runs on a plain ``pip install graphc[test]``. Usage::

    python notebooks/build.py                 # build and execute every notebook
    python notebooks/build.py 03 05           # only the notebooks whose names start so
    python notebooks/build.py --no-execute    # write the notebooks without outputs
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = HERE / "src"
KERNEL_NAME = "graphc-notebooks"
CELL_TIMEOUT = 120  # seconds; every notebook takes well under a minute in total


def parse_source(text: str) -> list[dict]:
    """Cells of a percent-format source: dicts with kind and source."""
    cells: list[dict] = []
    current = None
    for line in text.splitlines():
        if line.startswith("# %%"):
            header = line[4:].strip()
            kind = "code"
            if header.startswith("[markdown]"):
                kind = "markdown"
                header = header[len("[markdown]") :].strip()
            if header:
                raise ValueError(f"cannot read cell header {line!r}")
            current = {"kind": kind, "lines": []}
            cells.append(current)
        elif current is None:
            if line.strip():  # text before the first cell (a module docstring) is not a cell
                continue
        else:
            if current["kind"] == "markdown":
                if line.startswith("# "):
                    line = line[2:]
                elif line.startswith("#"):
                    line = line[1:]
            current["lines"].append(line)
    for cell in cells:
        lines = cell.pop("lines")
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        cell["source"] = "\n".join(lines)
    return [c for c in cells if c["source"]]


def make_notebook(cells: list[dict], name: str):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for cell in cells:
        make = (
            nbformat.v4.new_markdown_cell
            if cell["kind"] == "markdown"
            else nbformat.v4.new_code_cell
        )
        nb.cells.append(make(cell["source"]))
    for i, cell in enumerate(nb.cells):  # stable ids keep regenerated files diffable
        cell["id"] = f"{name[:2]}-{i:02d}"
    return nb


def write_kernelspec(directory: Path) -> Path:
    """A kernelspec that starts ipykernel with this very interpreter (so, this venv)."""
    spec_dir = directory / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python ({sys.executable})",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return spec_dir.parent


def execute(nb, kernels_dir: Path) -> None:
    """Run `nb` in place with nbclient; raises CellExecutionError on the first error."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    ksm = KernelSpecManager(kernel_dirs=[str(kernels_dir)])
    km = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=ksm)
    client = NotebookClient(
        nb,
        km=km,
        kernel_name=KERNEL_NAME,
        timeout=CELL_TIMEOUT,
        record_timing=False,
        resources={"metadata": {"path": str(HERE)}},
    )
    client.execute()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="name prefixes of the notebooks to build")
    parser.add_argument("--no-execute", action="store_true", help="write without outputs")
    args = parser.parse_args(argv)

    # The kernel imports graphc (and finds benchmarks/) from this checkout, not an install.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    os.environ.pop("MPLBACKEND", None)  # the inline backend, so figures are saved as images

    import nbformat

    sources = sorted(SRC.glob("[0-9][0-9]_*.py"))
    if args.only:
        sources = [s for s in sources if any(s.stem.startswith(p) for p in args.only)]
    status = 0
    with tempfile.TemporaryDirectory() as tmp:
        kernels_dir = write_kernelspec(Path(tmp))
        for src in sources:
            cells = parse_source(src.read_text(encoding="utf-8"))
            nb = make_notebook(cells, src.stem)
            start = time.perf_counter()
            if not args.no_execute:
                try:
                    execute(nb, kernels_dir)
                except Exception as exc:  # report, keep the old file, build the others
                    print(f"{src.stem}: FAILED\n{exc}", file=sys.stderr)
                    status = 1
                    continue
            out = HERE / f"{src.stem}.ipynb"
            nbformat.write(nb, str(out))
            print(
                f"{out.relative_to(ROOT)}: {len(nb.cells)} cells, "
                f"{time.perf_counter() - start:.1f} s, {out.stat().st_size // 1024} KiB"
            )
    return status


if __name__ == "__main__":
    sys.exit(main())
