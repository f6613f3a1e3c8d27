"""The notebooks' saved outputs speak the printing contract: no graphc-internal name (an op
of the op table that is not a public `gc` function) appears in what a reader sees. Reads the
saved .ipynb files only (no kernel), so it runs in the default loop."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from graphc.deserialize import RENAMED
from graphc.ops.base import OPS

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# Ops that never print under their own name: vars and constants print as names and values,
# a group as a tuple, an item of a multi-output op as indexing.
SILENT = {"var", "const", "group", "get"}


def _outputs(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    texts = []
    for cell in cells:
        for out in cell.get("outputs", []):
            texts.append("".join(out.get("text", "")))
            for kind in ("text/plain", "text/latex", "text/markdown", "text/html"):
                texts.append("".join(out.get("data", {}).get(kind, "")))
    return "\n".join(texts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_internal_names_in_saved_outputs(path):
    internal = sorted(name for name, op in OPS.items() if not op.public and name not in SILENT)
    internal += sorted(RENAMED)  # names ops had before they became public under another
    assert internal  # the op table has internal ops: the check below can fail
    text = _outputs(path)
    assert text.strip(), f"{path.name} was saved without outputs"
    found = [name for name in internal if re.search(rf"\b{re.escape(name)}\(", text)]
    assert not found, f"{path.name} shows internal names {found}"
