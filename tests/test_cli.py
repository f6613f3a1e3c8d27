"""The command line: `python -m graphc grad ...` and `demo`, in process (through `main`) and
as real subprocesses for the exit codes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from graphc.__main__ import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, timeout=120):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "graphc", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


def values(stdout: str, label: str) -> np.ndarray:
    """The numbers printed after `label = ` in the values block."""
    block = stdout.split("\nat ", 1)[1]
    match = re.search(rf"^\s+{re.escape(label)} = (.*)$", block, re.M)
    return np.array(
        [float(v) for v in re.findall(r"-?[\d.]+(?:e[-+]?\d+)?|nan|inf", match.group(1))]
    )


def test_grad_prints_gradient_and_values(capsys):
    assert main(["grad", "2*dot(x, x)", "--wrt", "x", "--at", "x=0,1,2,3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("f = ") and "df/dx = " in out
    np.testing.assert_array_equal(values(out, "df/dx"), [0, 4, 8, 12])
    np.testing.assert_array_equal(values(out, "f"), [28])


def test_grad_several_vars_shapes_and_source(capsys):
    code = main(
        [
            "grad",
            "sum((x @ w - y) ** 2) / 2",
            "--wrt",
            "w",
            "--wrt",
            "x",
            "--shape",
            "x=2,3",
            "--shape",
            "w=3",
            "--shape",
            "y=2",
            "--at",
            "x=1,0,0,0,1,0",
            "--at",
            "w=1,2,3",
            "--at",
            "y=0,0",
            "--source",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    x, w = np.array([[1.0, 0, 0], [0, 1, 0]]), np.array([1.0, 2, 3])
    r = x @ w
    np.testing.assert_allclose(values(out, "df/dw"), (x.T @ r).ravel())
    np.testing.assert_allclose(values(out, "df/dx"), np.outer(r, w).ravel())
    assert "def fn(x, w, y):" in out and "return" in out


def test_grad_without_at_prints_only_expressions(capsys):
    assert main(["grad", "sin(x) * y", "--wrt", "x", "--wrt", "y"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 3 and "df/dx = " in out and "df/dy = " in out


def test_wrt_a_name_not_in_the_expression_is_an_error(capsys):
    assert main(["grad", "sin(x)", "--wrt", "z"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "'z'" in captured.err and "variables: x" in captured.err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["grad", "__import__('os').system('echo pwned')", "--wrt", "x"], "attribute access"),
        (["grad", "open('/etc/passwd')", "--wrt", "x"], "not a gc function"),
        (["grad", "x +", "--wrt", "x"], "ends too early (at column 4)"),
        (["grad", "x + * 2", "--wrt", "x"], "invalid syntax (at column 5)"),
        (["grad", "x * x"], "--wrt"),
        (["grad", "x * x", "--wrt", "x", "--shape", "x=2,a"], "not a dimension"),
        (["grad", "x * x", "--wrt", "x", "--shape", "x"], "NAME=VALUES"),
        (["grad", "sum(x * x)", "--wrt", "x", "--shape", "x=3", "--at", "x=1,2"], "do not fill"),
        (["grad", "x * y", "--wrt", "x", "--at", "x=1"], "missing value"),
        (["grad", "x * y", "--wrt", "x", "--at", "x=1", "--at", "y=os"], "not a number"),
        (["grad", "x * 2", "--wrt", "x", "--at", "q=1"], "not a variable"),
        (["grad", "x * x", "--wrt", "x", "--shape", "x=3"], "not a scalar"),
        (["grad", "dot(x, y)", "--wrt", "x", "--shape", "x=3", "--shape", "y=4"], "aligned"),
        (["grad", "x * y", "--wrt", "x", "--at", "x=1", "--at", "x=2", "--at", "y=1"], "twice"),
        (["grad", "sum(x * y)", "--wrt", "x", "--at", "x=1,2", "--at", "y=1,2,3"], "broadcast"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_input_is_one_line_and_status_2(argv, message, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err
    first, *pointer = err.splitlines()
    assert "Traceback" not in err and message in first and first.startswith("graphc"), err
    column = re.search(r"\(at column (\d+)\)|\(column (\d+):", first)
    if column:  # a parse error: the expression, and a caret under the column
        column = int(column.group(1) or column.group(2))
        assert pointer == ["  " + argv[1], "  " + " " * (column - 1) + "^"]
    else:
        assert not pointer, err


@pytest.mark.parametrize(
    "argv",
    [
        ["grad", "-sin(x)", "--wrt", "x", "--at", "x=0"],
        ["grad", "--wrt", "x", "-sin(x)", "--at", "x=0"],
        ["grad", "--wrt", "x", "--at", "x=0", "--", "-sin(x)"],
        ["grad", "--", "-sin(x)", "--wrt", "x", "--at", "x=0"],
    ],
)
def test_an_expression_may_start_with_a_minus(argv, capsys):
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "f = -sin(x)" in out and "df/dx = -cos(x)" in out
    np.testing.assert_array_equal(values(out, "df/dx"), -1.0)


def test_wrt_takes_names_separated_by_commas(capsys):
    assert main(["grad", "x * y**2", "--wrt", "x,y", "--at", "x=2", "--at", "y=3"]) == 0
    out = capsys.readouterr().out
    np.testing.assert_array_equal(values(out, "df/dx"), 9.0)
    np.testing.assert_array_equal(values(out, "df/dy"), 12.0)
    assert main(["grad", "x * y", "--wrt", "x,"]) == 2
    assert "--wrt expects names separated by commas" in capsys.readouterr().err


@pytest.mark.slow  # starts Python four times
def test_rough_edges_through_the_real_command_line():
    minus = run_cli("grad", "-sin(x)", "--wrt", "x", "--at", "x=0")
    assert minus.returncode == 0, minus.stderr
    np.testing.assert_array_equal(values(minus.stdout, "df/dx"), -1.0)
    both = run_cli("grad", "x*y", "--wrt", "x,y", "--at", "x=2", "--at", "y=3")
    assert both.returncode == 0, both.stderr
    np.testing.assert_array_equal(values(both.stdout, "df/dy"), 2.0)
    caret = run_cli("grad", "x**", "--wrt", "x")
    assert caret.returncode == 2 and caret.stdout == ""
    assert caret.stderr.splitlines() == [
        "graphc grad: error: the expression ends too early (at column 4)",
        "  x**",
        "     ^",
    ]


@pytest.mark.slow  # starts Python three times
def test_subprocess_exit_codes(tmp_path):
    marker = tmp_path / "pwned"
    ok = run_cli("grad", "sum(x * x)", "--wrt", "x", "--at", "x=1,2,3")
    assert ok.returncode == 0, ok.stderr
    np.testing.assert_array_equal(values(ok.stdout, "df/dx"), [2, 4, 6])
    bad = run_cli("grad", f"__import__('os').system('touch {marker}')", "--wrt", "x")
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.splitlines()) == 3 and "Traceback" not in bad.stderr
    assert not marker.exists()
    usage = run_cli()
    assert usage.returncode == 2 and len(usage.stderr.splitlines()) == 1


@pytest.mark.slow  # a subprocess running the whole demo
def test_demo_runs_end_to_end():
    result = run_cli("demo", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "Traceback" not in out + result.stderr
    assert "every result agrees" in out and "MISMATCH" not in out
    for expected in (
        "2 * dot(x, x)",
        "simplified",
        "def fn(",
        "eager",
        "-20.5",
        "-81.6667",
        "[ 0.,  4.,  8., 12.]",
        "[15., 18.]",
        "[ 4., 27.]",
        "MLP",
        "bind",
    ):
        assert expected in out, expected


def test_demo_in_process_without_eager(capsys):
    from graphc.demo import run_demo

    assert run_demo(eager=False) == 0
    out = capsys.readouterr().out
    assert "eager mode switched off" in out and "every result agrees" in out
