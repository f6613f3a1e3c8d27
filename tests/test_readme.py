"""The README's tour is a doctest: it runs as written against this checkout."""

from __future__ import annotations

import contextlib
import doctest
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_tour():
    result = doctest.testfile(
        str(README), module_relative=False, verbose=False, optionflags=doctest.ELLIPSIS
    )
    assert result.attempted > 10
    assert result.failed == 0, f"{result.failed} README examples failed (see the output above)"


def test_first_snippet_prints_what_its_comments_say():
    """The snippet at the top of README: each `print(...)  # text` prints that text (the
    last one, the source, is only checked to be the program)."""
    text = README.read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert ">>>" not in code
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})  # the README's own snippet
    printed = out.getvalue().splitlines()
    claims = [line.split("#", 1)[1].strip() for line in code.splitlines() if "print(" in line]
    assert printed[0] == claims[0] == "4*x"
    assert printed[1] == claims[1]
    assert printed[2] == "import numpy as np" and "def fn(x):" in printed
