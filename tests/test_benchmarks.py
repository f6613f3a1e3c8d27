"""The benchmark suite's correctness checks, at tiny sizes (no timing asserts).

The numpy baselines are checked against central finite differences; graphc (compiled, through
``gc.value_and_grad`` and eager) is checked against the baselines exactly as ``python -m
benchmarks`` does before timing. The graphc tests are named ``test_graphc_*`` (select them with
``-k graphc``); they fail, never skip, when graphc raises, naming the system, the workload and
the error. Optional peers (torch, jax, pytensor, autograd) are not exercised here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest

from benchmarks import harness, systems, workloads

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = workloads.all_workloads(quick=True)
BY_SYSTEM = {s.name: s for s in systems.SYSTEMS}
GRAPHC_SYSTEMS = ("graphc", "graphc-vag", "graphc-eager")
PEERS = ("torch", "jax", "pytensor", "autograd")


def _as_float64(w: workloads.Workload) -> list[np.ndarray]:
    return [a.astype(np.float64) if a.dtype.kind == "f" else a for a in w.arrays()]


def _finite_differences(w: workloads.Workload, eps: float = 1e-6) -> list[np.ndarray]:
    """Central differences of the baseline's value w.r.t. each parameter, in float64."""
    fn = w.baseline(w.inputs)
    arrays = _as_float64(w)
    grads = []
    for i in w.param_indices():
        x = arrays[i].copy()
        arrays[i] = x
        g = np.zeros_like(x)
        for k in np.ndindex(x.shape):
            old = x[k]
            x[k] = old + eps
            up = float(fn(*[a.copy() for a in arrays])[0])
            x[k] = old - eps
            down = float(fn(*[a.copy() for a in arrays])[0])
            x[k] = old
            g[k] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


# --------------------------------------------------------------------------------------------
# the baselines


@pytest.mark.parametrize("w", WORKLOADS, ids=[w.name for w in WORKLOADS])
def test_baseline_gradients_match_finite_differences(w):
    value, grads = w.baseline(w.inputs)(*_as_float64(w))
    assert len(grads) == len(w.params)
    for name, g, fd in zip(w.params, grads, _finite_differences(w)):
        scale = float(np.max(np.abs(fd)))
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6 * scale, err_msg=name)


@pytest.mark.parametrize("w", WORKLOADS, ids=[w.name for w in WORKLOADS])
def test_baseline_keeps_dtype_shapes_and_inputs(w):
    before = [a.copy() for a in w.arrays()]
    value, grads = harness.baseline_reference(w)
    for name, a, b in zip(w.names, w.arrays(), before):
        np.testing.assert_array_equal(a, b, err_msg=f"baseline modified {name}")
    assert value.dtype == w.dtype
    for name, g in zip(w.params, grads):
        assert g.shape == w.inputs[name].shape, name
        assert g.dtype == w.dtype, name


def test_linreg_seed_known_values():
    w = next(w for w in WORKLOADS if w.name == "linreg_seed")
    value, (g0, g1) = harness.baseline_reference(w)
    assert value == pytest.approx(227.5833333333, rel=1e-10)
    assert g0 == pytest.approx(-20.5, rel=1e-12)
    assert g1 == pytest.approx(-81.6666666667, rel=1e-10)


def test_overhead_baseline_is_np_exp():
    w = next(w for w in WORKLOADS if w.name == "overhead")
    value, grads = harness.baseline_reference(w)
    np.testing.assert_array_equal(value, np.exp(w.inputs["x"]))
    assert grads == []


@pytest.mark.parametrize("w", [w for w in WORKLOADS if w.variants], ids=lambda w: w.name)
def test_numpy_variants_match_baseline(w):
    for key in w.variants:
        harness.check_system(BY_SYSTEM[f"numpy-{key}"], w, harness.baseline_reference(w))


def test_full_sizes_are_the_documented_ones():
    full = {w.name: w for w in workloads.all_workloads(quick=False)}
    assert full["mlp-f64"].inputs["X"].shape == (256, 784)
    assert full["mlp-f64"].inputs["W1"].shape == (784, 256)
    assert full["mlp-f32"].inputs["W2"].dtype == np.float32
    assert full["elementwise"].inputs["x"].shape == (1_000_000,)
    assert len(full["deep_small"].params) == 100
    assert full["deep_small"].inputs["W0"].shape == (32, 32)
    assert {w for w in full if w.startswith("recurrence")} == {
        "recurrence-T10",
        "recurrence-T100",
        "recurrence-T1000",
        "recurrence-scalar-T1000",
    }
    assert full["recurrence-scalar-T1000"].inputs["xs"].shape == (1000,)


# --------------------------------------------------------------------------------------------
# the harness


def _fake_system(name, transform):
    """A system that runs the numpy baseline and passes its result through ``transform``."""

    def prepare(w):
        fn = w.baseline(w.inputs)
        return systems.Prepared(
            fn=lambda *a: transform(w, fn(*a), a),
            args=tuple(w.arrays()),
            to_numpy=lambda out: (np.asarray(out[0]), [np.asarray(g) for g in out[1]]),
        )

    return systems.System(name, prepare, numpy_based=True)


def _raise(w, out, args):
    raise RuntimeError("boom")


def _wrong_grad(w, out, args):
    value, grads = out
    return value, (grads[0] * 1.001, *grads[1:])


def _mutate(w, out, args):
    args[-1][...] = 0.0
    return out


def test_compare_reports_shape_dtype_and_worst_entry():
    want = np.array([1.0, 2.0, 3.0])
    harness.compare("x", want * (1 + 1e-9), want, 1e-6)
    with pytest.raises(harness.CheckError, match="shape"):
        harness.compare("x", want[:2], want, 1e-6)
    with pytest.raises(harness.CheckError, match="dtype"):
        harness.compare("x", want.astype(np.float32), want, 1e-6)
    with pytest.raises(harness.CheckError, match=r"index \(1,\)"):
        harness.compare("x", np.array([1.0, 2.1, 3.0]), want, 1e-6)
    with pytest.raises(harness.CheckError):
        harness.compare("x", np.array([1.0, np.nan, 3.0]), want, 1e-6)


def test_failures_are_reported_and_the_run_goes_on():
    w = next(w for w in WORKLOADS if w.name == "linreg_seed")
    before = [a.copy() for a in w.arrays()]
    chosen = [
        BY_SYSTEM["numpy"],
        _fake_system("raises", _raise),
        _fake_system("wrong", _wrong_grad),
        _fake_system("mutates", _mutate),
        _fake_system("right", lambda w, out, a: out),
    ]
    rows = {o.system: o for o in harness.run_workload(w, chosen, harness.Settings.quick())}
    assert rows["raises"].status == "FAILED" and "boom" in rows["raises"].error
    assert rows["wrong"].status == "FAILED" and "grad t0" in rows["wrong"].error
    assert rows["mutates"].status == "FAILED" and "modified" in rows["mutates"].error
    for name in ("numpy", "right"):
        assert rows[name].status == "ok" and rows[name].median_us > 0
        assert rows[name].peak_bytes is not None and rows[name].ratio is not None
    for a, b in zip(w.arrays(), before):  # the mutation was undone
        np.testing.assert_array_equal(a, b)


def test_missing_peer_is_skipped_with_a_note():
    w = WORKLOADS[0]
    ghost = systems.System("ghost", systems.prepare_numpy, False, requires="no_such_module_xyz")
    rows = harness.run_workload(w, [BY_SYSTEM["numpy"], ghost], harness.Settings.quick())
    assert rows[1].status == "skipped" and "not installed" in rows[1].error


@pytest.mark.slow  # a subprocess
def test_importing_the_suite_imports_no_peer():
    code = (
        "import sys, benchmarks, benchmarks.harness, benchmarks.systems, "
        "benchmarks.workloads, benchmarks.__main__\n"
        f"print(sorted(set({PEERS!r}) & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.slow  # a subprocess timing three workloads
def test_command_line_quick_run_writes_json(tmp_path):
    # a few workloads only: every workload's checks run in test_graphc_matches_baseline
    path = tmp_path / "out.json"
    only = "overhead,linreg_seed,elementwise"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--core",
            "--only",
            only,
            "--json",
            str(path),
        ],  # fmt: skip
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "median us" in proc.stdout
    data = json.loads(path.read_text())
    assert data["meta"]["quick"] is True
    rows = {(r["workload"], r["system"]): r for r in data["results"]}
    assert {w for w, _ in rows} == set(only.split(","))
    for name in only.split(","):
        assert rows[(name, "numpy")]["status"] == "ok"
        assert rows[(name, "numpy")]["median_us"] > 0
        assert rows[(name, "graphc")]["status"] in ("ok", "FAILED")
    assert rows[("elementwise", "numpy-inplace")]["status"] == "ok"
    assert rows[("overhead", "numpy-inplace")]["status"] == "n/a"


@pytest.mark.slow  # a subprocess
def test_command_line_rejects_unknown_workload():
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "unknown workload" in proc.stderr


# --------------------------------------------------------------------------------------------
# graphc against the baselines: these fail (never skip) when graphc raises


GRAPHC_CASES = [
    (s, w) for s in GRAPHC_SYSTEMS for w in WORKLOADS if not (s == "graphc-vag" and not w.params)
]


def _check_graphc(system_name: str, w: workloads.Workload) -> systems.Prepared:
    reference = harness.baseline_reference(w)
    try:
        return harness.check_system(BY_SYSTEM[system_name], w, reference)
    except harness.CheckError as exc:
        pytest.fail(f"{system_name} gives a wrong result on {w.name}: {exc}", pytrace=False)
    except Exception as exc:
        pytest.fail(
            f"graphc raised ({system_name} on {w.name}): {type(exc).__name__}: {exc}\n"
            f"{traceback.format_exc()}",
            pytrace=False,
        )


@pytest.mark.parametrize(
    "system_name,w", GRAPHC_CASES, ids=[f"{s}-{w.name}" for s, w in GRAPHC_CASES]
)
def test_graphc_matches_baseline(system_name, w):
    _check_graphc(system_name, w)


def test_graphc_recurrence_reports_op_counts():
    w = next(w for w in WORKLOADS if w.group == "recurrence")
    prepared = _check_graphc("graphc", w)
    info = prepared.info
    assert {"ops_before", "ops_after", "source_lines"} <= set(info)
    assert prepared.compile_s is not None and prepared.compile_s > 0
    if isinstance(info["ops_before"], int) and isinstance(info["ops_after"], int):
        # simplification is guarded to never grow the graph (DESIGN)
        assert 0 < info["ops_after"] <= info["ops_before"], info


def test_ratio_table_has_a_column_per_system_from_the_minima():
    rows = [
        harness.Outcome("w1", "g", "numpy", "ok", min_us=10.0),
        harness.Outcome("w1", "g", "graphc", "ok", min_us=5.0),
        harness.Outcome("w1", "g", "graphc-numexpr", "ok", min_us=2.5),
        harness.Outcome("w2", "g", "numpy", "ok", min_us=4.0),
        harness.Outcome("w2", "g", "graphc", "ok", min_us=6.0),
        harness.Outcome("w2", "g", "graphc-numexpr", "skipped", error="not installed"),
    ]
    table = harness.ratio_table(rows)
    assert table[1].split() == ["workload", "graphc", "graphc-numexpr"]
    assert table[2].split() == ["w1", "0.50x", "0.25x"]
    assert table[3].split() == ["w2", "1.50x", "-"]


def test_progress_bar_only_when_asked_or_on_a_terminal(capsys):
    from benchmarks.__main__ import progress

    items = [1, 2]
    assert progress(items, "off") is items
    assert progress(items, "auto") is items  # pytest's stderr is not a terminal
    tqdm = pytest.importorskip("tqdm")
    bar = progress(items, "on")
    assert isinstance(bar, tqdm.tqdm) and list(bar) == items


def test_compile_scaling_measures_fresh_graphs_and_fits_the_growth(tmp_path, capsys):
    from benchmarks import compile_scaling

    out = tmp_path / "scaling.json"
    assert compile_scaling.main(["--sizes", "150,300", "--steps", "5", "--json", str(out)]) == 0
    assert "fitted exponent" in capsys.readouterr().out
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert set(rows) == {"model-100", "recurrence-T5", "chain-150", "chain-300"}
    assert 100 <= rows["model-100"]["nodes"] < 120 and rows["chain-300"]["nodes"] >= 300
    for r in rows.values():
        parts = r["grad_s"] + r["compile_s"] + r["first_call_s"] + r["gc_s"]
        assert r["seconds"] == pytest.approx(parts)
        sympy = r["sympy"]  # clusters planned by sympy or found in its cache
        assert sympy["planned"] + sympy["cached"] > 0 and r["cpu_s"] > 0
    assert isinstance(result["exponent"], float) and isinstance(result["exponent_cpu"], float)


def test_compile_scaling_fit_is_the_log_log_slope():
    from benchmarks.compile_scaling import fit_exponent

    rows = [{"nodes": n, "seconds": 0.5 * n**1.5} for n in (10, 100, 1000)]
    assert fit_exponent(rows) == pytest.approx(1.5)
    assert fit_exponent(rows[:1]) is None
