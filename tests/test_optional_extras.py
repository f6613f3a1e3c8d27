"""The base install never needs an optional extra: with the backends' packages made
unimportable, `import graphc` works, asking for such a backend is a clear `BackendError`
naming the extra, and the backends' tests skip cleanly instead of failing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL = [
    "numexpr",
    "numba",
    "dask",
    "distributed",
    "array_api_strict",
    "array_api_compat",
    "cupy",
    "zarr",
    "torch",
    "jax",
]
BLOCKER = f"""
import importlib.abc, sys

class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {OPTIONAL!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)")
        return None

sys.meta_path.insert(0, _Block())
"""


def _run(tmp_path, *args):
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    env = {"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow  # two subprocesses, one of them a pytest run
def test_without_the_extras_graphc_works_and_backend_tests_skip(tmp_path):
    script = textwrap.dedent(
        """
        import graphc as gc, numpy as np
        from graphc import backends
        x = gc.var("x")
        assert gc.compile([x], gc.exp(x))(np.zeros(1))[0] == 1.0
        print(sorted(backends.available()))
        for name in sorted(backends.BACKENDS):
            if name == "numpy":
                continue
            try:
                gc.compile([x], gc.exp(x), backend=name)
            except gc.BackendError as exc:
                print(exc)
            else:
                raise AssertionError(name + " compiled without its packages")
        """
    )
    probe = _run(tmp_path, "-c", script)
    assert probe.returncode == 0, probe.stderr
    lines = probe.stdout.splitlines()
    assert lines[0] == "['numpy']"
    for line in lines[1:]:
        assert "not installed: pip install" in line, line
    files = sorted(
        str(p.relative_to(ROOT))
        for pattern in ("test_*backend*.py", "test_fused*.py", "test_scalar_code.py")
        for p in (ROOT / "tests").glob(pattern)
    )
    run = _run(
        tmp_path, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", *files
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "failed" not in run.stdout.splitlines()[-1]
