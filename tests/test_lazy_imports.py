"""`import graphc` does not import sympy (a fifth of a second of the CLI's start): only the
first simplification, printout or sympy conversion does. Each case runs in a fresh process,
where nothing has imported sympy yet."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

WITHOUT_SYMPY = """
    import sys
    import numpy as np
    import graphc as gc
    from graphc import eager
    assert "sympy" not in sys.modules, "import graphc"
    x = gc.var("x", shape=(3,))
    y = gc.sum(gc.tanh(x) * x)
    f = gc.compile([x], [y, gc.grad(y, x, simplify=False)], simplify=False)
    value, g = f(np.array([0.5, -1.0, 2.0]))
    assert np.allclose(g, np.tanh([0.5, -1.0, 2.0]) + [0.5, -1.0, 2.0] / np.cosh([0.5, -1.0, 2.0]) ** 2)
    t = eager.tensor([0.5, -1.0, 2.0], requires_grad=True)
    (eager.tanh(t) * t).sum().backward()
    assert np.allclose(t.grad.numpy(), g)
    assert "sympy" not in sys.modules, "compile, run, eager"
"""

WITH_SYMPY = [
    ("print(gc.grad(gc.sin(x) * x, x))", "x*cos(x) + sin(x)"),
    ("print(gc.latex(gc.exp(x) / 2))", r"\frac{e^{x}}{2}"),
    ("print(x.to_sympy() + 1)", "x + 1"),
    ("from graphc.simplify import to_sympy; print(to_sympy(x * 2))", "2*x"),
]


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_import_compile_run_and_eager_without_sympy():
    result = _run(WITHOUT_SYMPY)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("line, printed", WITH_SYMPY)
def test_sympy_is_imported_where_it_is_needed(line, printed):
    code = f"""
        import sys
        import graphc as gc
        x = gc.var("x")
        assert "sympy" not in sys.modules
        {line}
        assert "sympy" in sys.modules
    """
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == printed
