"""The README's tour is a doctest: it runs as written against this checkout."""

from __future__ import annotations

import doctest
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_tour():
    result = doctest.testfile(
        str(README), module_relative=False, verbose=False, optionflags=doctest.ELLIPSIS
    )
    assert result.attempted > 10
    assert result.failed == 0, f"{result.failed} README examples failed (see the output above)"
