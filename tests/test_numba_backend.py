"""The numba backend (`gc.compile(..., backend="numba")`): graphc's own elementary
functions are within their stated ulp bounds of numpy (float64, dense grids and edge points),
every elementwise op agrees with the numpy backend (values, gradients, dtypes and shapes,
float64 and float32), edge values (nan, inf, signed zeros, huge arguments) agree, the
elementwise workload is one loop, and programs export, pickle and cache their kernels."""

import os
import pickle
import runpy
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from op_recipes import RECIPES, call, make_args

import graphc as gc
from graphc.backends import numba as numba_backend
from graphc.backends import numba_math
from graphc.backends.numba import Numba, load
from graphc.ops import OPS
from graphc.ops.fused import template

pytest.importorskip("numba")

SMALL = Numba(min_size=1)  # fuse the recipes' small arrays too
FUSED_OPS = sorted(name for name, op in OPS.items() if op.elementwise and template(op))
TOL = {"float64": 1e-12, "float32": 1e-4}  # as the numexpr backend's tests: conditioning
ULPS = {"sin": 2, "cos": 2, "exp": 1, "log": 1, "log1p": 1, "tanh": 3}  # numba_math's bounds


def _agree(got, want, rtol, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (what, got.dtype, want.dtype)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, equal_nan=True, err_msg=what)


def _ulps(got, want):
    """|got - want| in units of want's last place (0 where both are the same nan or inf)."""
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    with np.errstate(all="ignore"):
        err = np.abs(got - want) / np.spacing(np.abs(want))
    return np.where(same, 0.0, np.where(np.isfinite(err), err, np.inf))


VECTOR = "\n".join(
    f"""@_numba.njit(**_LOOP)
def v{name}(x, out):
    for i in range(x.shape[0]):
        out[i] = _{name}(x[i])
"""
    for name in ULPS
)

GRIDS = {
    "sin": [np.linspace(-10, 10, 400_001), np.linspace(-1e5, 1e5, 400_001)],
    "exp": [np.linspace(-746, 710, 400_001), np.linspace(-3, 3, 200_001)],
    "log": [np.geomspace(5e-324, 1.7e308, 400_001), np.linspace(0, 3, 200_001)],
    "log1p": [np.linspace(-1, 10, 400_001), np.geomspace(1e-300, 1e300, 200_001)],
}
GRIDS["cos"] = GRIDS["sin"]
GRIDS["tanh"] = [np.linspace(-25, 25, 400_001), np.geomspace(1e-300, 1, 200_001)]
EDGE = np.array(
    [
        0.0,
        -0.0,
        5e-324,
        -5e-324,
        2.2e-308,
        1e-300,
        1.0,
        -1.0,
        2.0,
        0.5,
        709.78,
        709.79,
        -708.4,
        -745.13,
        -745.14,
        -1e300,
        1e300,
        1.7e308,
        np.inf,
        -np.inf,
        np.nan,
        np.pi / 2,
        np.pi,
        -1 + 2**-53,
        1e5,
        -1e5,
    ]
)


@pytest.mark.parametrize("name", sorted(ULPS))
def test_elementary_functions_are_within_their_ulp_bounds(name):
    """Compiled as the kernels compile them (vectorised); sin and cos on their reduction's
    range (beyond it a kernel runs libm: the last test of this file)."""
    module = load(VECTOR)
    ref = getattr(np, name)
    for x in [*GRIDS[name], EDGE]:
        if name in ("sin", "cos"):
            x = x[np.abs(x) <= numba_math.SC_LIMIT]
        out = np.empty_like(x)
        getattr(module, f"v{name}")(x, out)
        with np.errstate(all="ignore"):
            err = _ulps(out, ref(x))
        worst = int(np.argmax(err))
        assert err[worst] <= ULPS[name], (name, x[worst], out[worst], ref(x[worst]))


def test_the_library_runs_as_plain_python():
    x = np.array([0.3, 2.5, 40.0, -7.0])
    for name in ULPS:
        got = np.array([getattr(numba_math, f"_{name}")(v) for v in np.abs(x)])
        assert _ulps(got, getattr(np, name)(np.abs(x))).max() <= ULPS[name], name


def _program(dtype, rng, cases=None, grads=True):
    """Every elementwise op's recipes as one program (one kernel module to compile)."""
    xs, outputs, arrays, labels = [], [], [], []
    for name in FUSED_OPS:
        for case in RECIPES[name].cases[:cases]:
            arr, attrs = make_args(name, case, rng)
            arr = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arr]
            vs = [
                gc.var(f"x{len(xs) + i}", shape=a.shape, dtype=a.dtype) for i, a in enumerate(arr)
            ]
            y = call(name, *vs, **attrs)
            out = gc.where(y, 2.5, -0.5) if y.dtype == bool else y * 3.0
            wrt = [v for v, a in zip(vs, arr) if a.dtype.kind == "f"]
            found = []
            if grads and OPS[name].differentiable and y.dtype != bool:
                found = gc.grad(gc.sum(gc.sin(out) * out), wrt)
            xs += vs
            arrays += arr
            outputs += [out, *found]
            labels += [f"{name}{case}"] * (1 + len(found))
    return xs, outputs, arrays, labels


def _check_program(dtype, rng, **options):
    xs, outputs, arrays, labels = _program(dtype, rng, **options)
    plain = gc.compile(xs, outputs)(*arrays)
    f = gc.compile(xs, outputs, backend=SMALL)
    fused = f(*arrays)
    assert f.source.count("def _nbk_") >= 2, f.source
    for k, (a, b) in enumerate(zip(fused, plain)):
        _agree(a, b, TOL[dtype], f"{labels[k]} output {k}")


def test_every_elementwise_op_agrees_with_numpy(rng):
    """Each op's first recipe, float64 values (the slow test below: all of it)."""
    _check_program("float64", rng, cases=1, grads=False)


@pytest.mark.slow  # compiles about 30 loops per dtype (a minute; seconds once cached)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_elementwise_op_agrees_with_numpy_values_and_gradients(dtype, rng):
    _check_program(dtype, rng)


def test_float32_stays_float32_with_python_numbers():
    x = gc.var("x", shape=(5,), dtype=np.float32)
    y = gc.where(x > 0.1, x * 0.1 + 1e-8, x - 2)
    a = np.array([0.1, 0.2, -1.0, 0.3, 0.09999999], np.float32)
    (plain,) = gc.compile([x], [y])(a)
    f = gc.compile([x], [y], backend=SMALL)
    (fused,) = f(a)
    assert "_nbk_" in f.source and fused.dtype == np.float32
    np.testing.assert_array_equal(fused, plain)


EDGES = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 1e-300, 1e300, 0.5, 3e5, -7e8])


@pytest.mark.parametrize(
    "fn",
    [
        lambda x, w: gc.maximum(x, w) * 2 + gc.minimum(x, w) - w,
        lambda x, w: gc.where(x > w, x / w, w**x) + gc.abs(x) * gc.sign(w),
        lambda x, w: gc.sqrt(x) + gc.log(x) * gc.exp(-x) + gc.log1p(x * w),
        lambda x, w: gc.sin(x) * gc.cos(w) + gc.tanh(x) + gc.arctan(w),
        lambda x, w: gc.floor(x) + gc.ceil(w) * gc.relu(x),
    ],
)
def test_edge_values_agree(fn):
    """nan, inf, signed zeros, subnormal and huge arguments (sin and cos beyond their
    reduction's range run libm), each fused in one loop."""
    x, w = gc.var("x", shape=(12,)), gc.var("w", shape=(12,))
    with np.errstate(all="ignore"):
        args = [EDGES, EDGES[::-1].copy()]
        (plain,) = gc.compile([x, w], [fn(x, w)])(*args)
        f = gc.compile([x, w], [fn(x, w)], backend=SMALL)
        (fused,) = f(*args)
    assert f.source.split("def fn")[1].count("_nbk_") == 1, f.source
    number = ~np.isnan(plain)  # (a nan's sign is not numpy's promise)
    np.testing.assert_array_equal(np.signbit(fused[number]), np.signbit(plain[number]))
    np.testing.assert_allclose(fused, plain, rtol=1e-15, equal_nan=True)


def _elementwise(n):
    x = gc.var("x", shape=(n,), dtype=np.float64)
    x2 = x**2
    y = gc.sum(gc.sin(x) * gc.exp(-x2) + gc.log1p(x2) + gc.sqrt(x2 + 1))
    return x, [y, *gc.grad(y, [x])]


def test_the_elementwise_workload_is_one_loop():
    """Forward value (summed in the loop) and gradient: one kernel, one pass, no numpy call."""
    x, outputs = _elementwise(10**5)
    a = np.random.default_rng(0).standard_normal(10**5)
    want = gc.compile([x], outputs)(a)
    f = gc.compile([x], outputs, backend="numba")
    for got, ref in zip(f(a), want):
        _agree(got, ref, 1e-12, "elementwise")
    body = f.source.split("def fn(x):")[1]
    assert body.count("_nbk_") == 1 and "np." not in body, f.source
    assert f.source.count("for i in range(hi - lo):") == 2, f.source  # vectorised and libm


def test_a_gradient_reading_a_sum_of_the_forward_values_is_a_second_loop():
    """softmax-like: the backward cluster reads sum(exp(x)), which reads the forward one."""
    x = gc.var("x", shape=(6000,), dtype=np.float64)
    y = gc.log(gc.sum(gc.exp(x) * 2.0)) + gc.sum(gc.sin(x))
    outputs = [y, *gc.grad(y, [x])]
    a = np.random.default_rng(1).standard_normal(6000)
    f = gc.compile([x], outputs, backend="numba")
    for got, ref in zip(f(a), gc.compile([x], outputs)(a)):
        _agree(got, ref, 1e-12, "two stages")
    assert f.source.split("def fn(x):")[1].count("_nbk_") == 2, f.source


def test_broadcast_inputs_and_single_entries():
    x = gc.var("x", shape=(50, 100), dtype=np.float32)
    b = gc.var("b", shape=(50, 1), dtype=np.float32)
    s = gc.var("s", shape=(), dtype=np.float32)
    y = gc.sum(gc.tanh(x * s + b) ** 2)
    outputs = [y, *gc.grad(y, [x, b, s])]
    rng = np.random.default_rng(2)
    args = [
        rng.standard_normal((50, 100)).astype(np.float32),
        rng.standard_normal((50, 1)).astype(np.float32),
        np.float32(0.7),
    ]
    f = gc.compile([x, b, s], outputs, backend=SMALL)
    for got, ref in zip(f(*args), gc.compile([x, b, s], outputs)(*args)):
        _agree(got, ref, 1e-4, "broadcast")
    assert "_nbk_" in f.source


# (loop shape, operand shape, how the loop reads the operand); loops of distinct shapes, so
# that each case is a loop of its own
BROADCASTS = [
    ((64, 100), (100,), "in place"),  # a bias: the same in every row
    ((65, 100), (1, 100), "in place"),
    ((66, 100), (66, 1), "in place"),  # a column: one entry per row
    ((67, 100), (), "in place"),  # 0-d: a single entry
    ((68, 100), (1, 1), "in place"),
    ((4, 8, 100), (100,), "in place"),
    ((5, 8, 100), (5, 1, 1), "in place"),
    ((6, 8, 100), (8, 100), "in place"),
    ((7, 8, 100), (8, 1), "copied"),  # neither the same in every row nor one per row
    ((300, 8), (8,), "copied"),  # rows shorter than ROW_MIN
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_broadcast_operands_agree_with_numpy(dtype):
    """Each case a loop of its own (one program): values and gradients equal the numpy
    backend's; only the operands no cut into rows reads in place are copied."""
    xs, outputs, arrays = [], [], []
    rng = np.random.default_rng(3)
    for k, (shape, other, _) in enumerate(BROADCASTS):
        x, b = gc.var(f"x{k}", shape=shape, dtype=dtype), gc.var(f"b{k}", shape=other, dtype=dtype)
        y = gc.tanh(x * 0.5 + b) * b + gc.exp(-x)
        outputs += [y, *gc.grad(gc.sum(y * y), [x, b])]
        xs += [x, b]
        arrays += [rng.standard_normal(s).astype(dtype) for s in (shape, other)]
    want = gc.compile(xs, outputs)(*arrays)
    f = gc.compile(xs, outputs, backend=SMALL)
    for k, (got, ref) in enumerate(zip(f(*arrays), want)):
        _agree(got, ref, TOL[dtype], f"{BROADCASTS[k // 3]} output {k % 3}")
    copied = sum(case[2] == "copied" for case in BROADCASTS)
    assert f.source.count("np.broadcast_to(") == copied, f.source
    assert "def _nbk_" in f.source and "for r in range(rows):" in f.source


def test_parallel_loops_equal_the_serial_ones_to_the_last_bit():
    """`Numba(parallel_min=n)` runs the blocks of loops of at least n entries on numba's
    threads (prange); each block's partial sum is added up in the blocks' order afterwards, so
    values and sums are the serial loop's bit for bit: a flat loop and one cut into rows
    (several blocks per row, a bias and a column read in place), float64 and float32, and
    a block where sin runs libm's beyond its reduction's range."""
    x, w = gc.var("x", shape=(20000,)), gc.var("w", shape=(3, 9000), dtype=np.float32)
    b, c = (
        gc.var("b", shape=(9000,), dtype=np.float32),
        gc.var("c", shape=(3, 1), dtype=np.float32),
    )
    y = gc.sum(gc.sin(x) * gc.exp(-x * x) + gc.sqrt(x * x + 1))
    z = gc.sum(gc.tanh(w * c + b) ** 2)
    # (as written: two simplifications of one graph may differ where sympy ran out of time)
    outputs = [y, z, *gc.grad(y, [x], simplify=False), *gc.grad(z, [w, b, c], simplify=False)]
    rng = np.random.default_rng(4)
    args = [rng.standard_normal(20000) * np.where(np.arange(20000) < 15000, 1, 1e6)]
    args += [rng.standard_normal(s).astype(np.float32) for s in ((3, 9000), (9000,), (3, 1))]
    serial = gc.compile([x, w, b, c], outputs, backend=Numba(min_size=1), simplify=False)
    threads = Numba(min_size=1, parallel_min=9000)
    parallel = gc.compile([x, w, b, c], outputs, backend=threads, simplify=False)
    for got, want in zip(parallel(*args), serial(*args)):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    assert parallel.source.count("_numba.prange(") == 2 and "prange" not in serial.source
    for got, want in zip(serial(*args), gc.compile([x, w, b, c], outputs)(*args)):
        _agree(got, want, TOL[got.dtype.name], "serial")


def test_a_backend_pickled_before_parallel_min_runs_its_loops_serially():
    old = Numba(min_size=1)
    del old.parallel_min  # (as an object pickled before the option has no such attribute)
    loaded = pickle.loads(pickle.dumps(old))
    assert "parallel_min" not in vars(loaded) and not loaded.parallel({"shape": (10**7,)})
    assert Numba(parallel_min=10).parallel({"shape": (2, 5)})


def test_small_arrays_and_single_ops_stay_numpy_statements():
    x = gc.var("x", shape=(16,), dtype=np.float64)
    f = gc.compile([x], [gc.exp(x) * 2 + 1], backend="numba")
    f(np.ones(16))
    assert "_nbk_" not in f.source
    g = gc.compile([x], [gc.exp(x)], backend=SMALL)
    g(np.ones(16))
    assert "_nbk_" not in g.source


def test_export_pickle_and_the_disk_cache(tmp_path):
    x = gc.var("x", shape=(8,), dtype=np.float64)
    y = gc.sum(gc.tanh(x) ** 2 + gc.sin(x))
    f = gc.compile([x], [y, *gc.grad(y, [x])], backend=SMALL)
    a = np.linspace(-1, 1, 8)
    want = gc.compile([x], [y, *gc.grad(y, [x])])(a)
    for got, ref in zip(f(a), want):
        _agree(got, ref, 1e-12, "numba")
    path = tmp_path / "fused.py"
    f.export(str(path))
    text = path.read_text()
    assert (
        "import numba" in text and "def _sin(" in text and "graphc" not in text.split("\n", 1)[1]
    )
    for got, ref in zip(runpy.run_path(str(path))["fn"](a), want):
        _agree(got, ref, 1e-12, "exported")
    h = pickle.loads(pickle.dumps(f))
    assert h.backend.name == "numba" and "numba" in repr(f)
    _agree(h(a)[0], want[0], 1e-12, "pickled")


@pytest.mark.slow  # a subprocess that imports graphc and numba
def test_a_second_process_loads_the_compiled_kernels(tmp_path):
    """Whatever time sympy had: the program is written as differentiated (simplify=False), so
    its kernels do not depend on sympy's CPU budget. (With simplification, a process whose
    sympy call ran out of time under load wrote other kernels than the next one, which then
    compiled its own: the test failed now and then; here the first process has no budget.)"""
    script = (
        "import sys, graphc as gc, numpy as np\n"
        "import graphc.simplify.elementwise as el\n"
        "el.TIME_BUDGET = float(sys.argv[1])\n"
        "x = gc.var('x', shape=(5000,), dtype=np.float64)\n"
        "y = gc.sum(gc.cos(x) * gc.exp(x))\n"
        "outputs = [y, *gc.grad(y, [x], simplify=False)]\n"
        "f = gc.compile([x], outputs, backend='numba', simplify=False)\n"
        "f(np.ones(5000))\n"
    )
    env = {**os.environ, "GRAPHC_CACHE_DIR": str(tmp_path)}
    root = Path(__file__).resolve().parents[1]

    def run(budget):
        subprocess.run(
            [sys.executable, "-c", script, str(budget)],
            env=env,
            cwd=root,
            capture_output=True,
            check=True,
        )
        files = (tmp_path / "numba").rglob("*")
        return {p: p.stat().st_mtime_ns for p in files if p.is_file() and p.name != ".lock"}

    first = run(0.0)
    suffixes = {p.suffix for p in first} - {".pyc"}  # (Python's own, unless told not to)
    assert suffixes == {".py", ".nbi", ".nbc"}, first  # (in __pycache__)
    assert run(1.0) == first  # the second process compiled nothing and wrote nothing


def _tiny(k, salt):
    """A kernel module's text of its own (`salt`: a test's tmp_path, so no earlier run of the
    process has it loaded)."""
    return f"# {salt}\n@_numba.njit(**_LOOP)\ndef f(x):\n    return x + {k}\n"


def test_the_disk_cache_keeps_the_modules_written_last(tmp_path, monkeypatch):
    """A process that writes a module prunes the cache directory to the GRAPHC_CACHE_ENTRIES
    modules written last (and the one it wrote): the others' source and numba's compiled
    files go. A pruned module still runs in a process that loaded it; one that needs it again
    writes it again."""
    numba_backend._library_name()  # (loaded: not written to tmp_path)
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("GRAPHC_CACHE_ENTRIES", "3")
    folder, past = tmp_path / "numba", time.time_ns() - 10**12
    modules = []
    for k in range(5):
        modules.append(load(_tiny(k, tmp_path)))
        assert modules[k].f(1.0) == 1.0 + k  # (compiled: numba's files written)
        path = Path(modules[k].__file__)
        os.utime(path, ns=(past + k * 10**9, past + k * 10**9))  # written in this order

    def kept():
        names = {p.stem for p in folder.glob("graphc_kernels_*.py")}
        compiled = {p.name.split(".")[0] for p in (folder / "__pycache__").iterdir()}
        assert compiled <= names, compiled - names  # no compiled files of a deleted module
        return [Path(m.__file__).stem in names for m in modules], names

    assert kept()[0] == [False, False, True, True, True], kept()
    assert not Path(modules[0].__file__).exists() and modules[0].f(2.0) == 2.0
    name = Path(modules[0].__file__).stem
    del numba_backend._loaded[name], sys.modules[name]  # as a new process would need it
    again = load(_tiny(0, tmp_path))
    assert again.f(1.0) == 1.0 and Path(again.__file__).exists()
    left = kept()[1]
    assert len(left) == 3 and not Path(modules[2].__file__).exists()  # the oldest went
    assert sorted(numba_backend.prune(folder, limit=0)) == sorted(left)
    assert not list(folder.glob("graphc_*.py")) and not list((folder / "__pycache__").iterdir())


def test_a_cache_whose_lock_file_cannot_be_opened_still_loads(tmp_path, monkeypatch):
    """(A cache directory one may read but not write: loading needs no lock.)"""
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    (tmp_path / "numba" / ".lock").mkdir(parents=True)  # open(..., "a") fails on it
    assert load(_tiny(7, tmp_path)).f(1.0) == 8.0


@pytest.mark.slow  # two processes that import graphc and numba
def test_processes_writing_and_pruning_one_cache_at_once_all_succeed(tmp_path):
    """Two processes load the same twelve modules in opposite orders into one cache directory
    bounded to three: each writes, imports, compiles and prunes while the other does; both
    get every module's value and the directory ends bounded."""
    script = (
        "import sys\n"
        "from graphc.backends.numba import load\n"
        "order = range(12) if sys.argv[1] == '0' else range(11, -1, -1)\n"
        "for k in order:\n"
        f"    m = load('# {tmp_path}\\n@_numba.njit(**_LOOP)\\ndef f(x):\\n    return x + %d\\n' % k)\n"
        "    assert m.f(1.0) == 1.0 + k\n"
    )
    env = {**os.environ, "GRAPHC_CACHE_DIR": str(tmp_path), "GRAPHC_CACHE_ENTRIES": "3"}
    root = Path(__file__).resolve().parents[1]
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(k)], env=env, cwd=root, stderr=subprocess.PIPE
        )
        for k in range(2)
    ]
    for run in runs:
        assert run.wait(timeout=600) == 0, run.stderr.read().decode()
    kernels = list((tmp_path / "numba").glob("graphc_kernels_*.py"))
    assert 1 <= len(kernels) <= 3 + 1, kernels  # (+ the one a process wrote last)


def test_a_fused_loop_has_no_derivative_and_checks_its_attrs():
    loop = OPS["fused_loop"]
    with pytest.raises(gc.GradError, match="after differentiation"):
        loop.vjp(None, None)
    good = {
        "steps": (("exp", "float64", ("in", 0)),),
        "outs": ((0, None),),
        "shape": (4,),
        "kinds": ("a",),
    }
    assert loop.check_attrs(good)["steps"] == (("exp", "float64", ("in", 0)),)
    assert loop.check_attrs(good)["split"] == 0  # (the default: one flat loop)
    rows = {**good, "shape": (4, 5), "kinds": ("c",), "split": 1}
    assert loop.check_attrs(rows)["kinds"] == ("c",)
    bad = [
        {"steps": (("eval", "float64", ("in", 0)),)},
        {"steps": (("exp", "int64", ("in", 0)),)},
        {"steps": (("exp", "float64", ("lit", "__import__")),)},
        {"steps": (("exp", "float64", ("v", 0)),)},  # a step reads only earlier steps
        {"outs": ((1, None),)},
        {"outs": ((0, "prod"),)},
        {"kinds": ("z",)},
        {"shape": (-1,)},
        {"kinds": ("r",)},  # a row needs a cut into rows
        {"split": 1},  # a cut inside the shape, not at its end
        {"split": True},
        {"shape": (4, 5), "kinds": ("c",), "split": 2},
    ]
    for change in bad:
        with pytest.raises(gc.ArgumentError):
            loop.check_attrs({**good, **change})
