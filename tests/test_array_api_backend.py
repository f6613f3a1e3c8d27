"""The "array_api" backend: every op recipe and the benchmark workloads agree with numpy when
run on array-api-strict arrays (the 2023.12 standard, nothing more), values and gradients,
float64 and float32 (erf, indexing by arrays and loops included: none is refused); the same
program runs on torch tensors; an op with no array-API form is refused when the program is
written, naming the op and the user's line."""

import pickle
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import graphc as gc
from graphc.ops import OPS

strict = pytest.importorskip("array_api_strict")
pytest.importorskip("array_api_compat")

sys.path.insert(0, str(Path(__file__).parent / "ops"))
from op_recipes import PARAMS, backend_program  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def standard_2023():
    strict.set_array_api_strict_flags(api_version="2023.12")
    yield
    strict.reset_array_api_strict_flags()


def _agree(got, want, dtype):
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert not isinstance(g, np.ndarray), f"output {k} is a numpy array"
        g, w = np.asarray(strict.asarray(g)._array), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, f"output {k}"
        tol = 2e-5 if dtype == np.float32 else 1e-11
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, err_msg=f"output {k}")


def _cases():
    """Every recipe case, in float64 and in float32."""
    return [
        pytest.param(*p.values, dtype, id=f"{p.id}-{dtype.__name__}")
        for p in PARAMS
        if p.values[1] is not None
        for dtype in (np.float64, np.float32)
    ]


@pytest.mark.parametrize("name,case,dtype", _cases())
def test_recipe_agrees_with_numpy_under_array_api_strict(name, case, dtype):
    xs, outs, arrays = backend_program(name, case, dtype)
    f = gc.compile(xs, outs, backend="array_api", simplify=False)
    got = f(*[strict.asarray(a) for a in arrays])
    _agree(got, gc.compile(xs, outs, simplify=False)(*arrays), dtype)


def _workloads():
    from benchmarks.workloads import all_workloads

    names = ("linreg", "mlp", "elementwise", "deep_small", "recurrence")
    return [w for w in all_workloads(quick=True) if w.name.startswith(names)]


@pytest.mark.parametrize("workload", _workloads(), ids=lambda w: w.name)
def test_benchmark_workloads_agree_with_numpy(workload):
    arrays = workload.arrays()
    xs = [gc.var(n, shape=a.shape, dtype=a.dtype) for n, a in zip(workload.names, arrays)]
    y = workload.math(gc, *xs)
    params = [xs[i] for i in workload.param_indices()]
    outs = [y, *gc.grad(y, params)]
    f = gc.compile(xs, outs, backend="array_api")
    want = gc.compile(xs, outs)(*arrays)
    _agree(f(*[strict.asarray(a) for a in arrays]), want, workload.dtype)


def test_the_same_program_runs_on_torch_tensors():
    torch = pytest.importorskip("torch")
    x, w = gc.var("x", shape=(4, 3)), gc.var("w", shape=(3,))
    y = gc.sum(gc.tanh(x @ w) ** 2) + gc.mean(gc.softmax(x, axis=-1))
    y = y + gc.sum(gc.erf(x)[[0, 2, 2], 1:])  # erf and indexing by arrays
    y = y + gc.fori_loop(0, 2, lambda i, c: c * gc.cos(c), gc.sum(w))  # a loop
    f = gc.compile([x, w], [y, *gc.grad(y, [x, w])], backend="array_api")
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    got = f(torch.from_numpy(a), torch.from_numpy(b))
    assert all(isinstance(g, torch.Tensor) for g in got)
    for g, want in zip(got, gc.compile([x, w], [y, *gc.grad(y, [x, w])])(a, b)):
        np.testing.assert_allclose(g.numpy(), want, rtol=1e-12)


def test_source_calls_only_the_namespace():
    x = gc.var("x", shape=(3,))
    f = gc.compile([x], gc.sum(gc.arcsin(x) ** 2), backend="array_api")
    body = f.source.split("def fn(x):")[1]
    assert "np." not in body
    assert "xp, dev = _namespace(x)" in body and "xp.asin(x)" in body


def test_constants_and_numbers_become_arrays_of_the_namespace():
    x = gc.var("x", shape=(3,), dtype="float32")
    c = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    f = gc.compile([x], gc.maximum(x, 0.5) * c, backend="array_api")
    assert "_const(xp, dev, c0)" in f.source
    assert "xp.asarray(0.5, dtype=xp.float32, device=dev)" in f.source
    out = f(strict.asarray(np.array([0.0, 1.0, 2.0], dtype=np.float32)))
    assert out.dtype == strict.float32
    np.testing.assert_array_equal(np.asarray(out._array), [0.5, 2.0, 6.0])


def test_an_op_with_no_form_names_itself_and_the_line(monkeypatch):
    from graphc.ops import array_api as forms

    monkeypatch.setattr(OPS["sinc"], "array_api", forms.none("a reason"))
    x = gc.var("x", shape=(3,))
    y = gc.sinc(x)
    line = sys._getframe().f_lineno - 1
    with pytest.raises(
        gc.BackendError,
        match=rf"test_array_api_backend.py:{line}: sinc has no array-API form \(a reason\); "
        "compute it with the numpy backend",
    ):
        gc.compile([x], y, backend="array_api")(np.ones(3))


def test_erf_runs_in_the_namespace():
    x = gc.var("x", shape=(4,), dtype="float32")
    y = gc.sum(gc.erf(x) ** 2)
    f = gc.compile([x], [y, *gc.grad(y, [x])], backend="array_api")
    assert "_erf(x)" in f.source
    data = np.array([-3.0, -0.5, 0.25, 1.5], dtype=np.float32)
    for g, w in zip(f(strict.asarray(data)), gc.compile([x], [y, *gc.grad(y, [x])])(data)):
        assert g.dtype == strict.float32
        np.testing.assert_allclose(np.asarray(g._array), w, rtol=1e-6)


def test_cond_runs_with_constants_and_numbers_in_its_branches():
    p, x = gc.var("p", shape=()), gc.var("x", shape=())
    y = gc.cond(p > 0, lambda a: a * 2.0, lambda a: gc.sin(a) * 0.0 + 1.0, x)
    inner = lambda a: gc.cond(a > 0, lambda b: b * np.array(3.0), lambda b: b, a)  # noqa: E731
    y = gc.cond(p > 1, inner, lambda a: a, y)
    outs = [y, *gc.grad(y, [x])]
    f, want = gc.compile([p, x], outs, backend="array_api"), gc.compile([p, x], outs)
    for pv in (0.5, -0.5, 2.0):
        got = f(strict.asarray(pv), strict.asarray(0.3))
        for g, w in zip(got, want(pv, 0.3)):
            np.testing.assert_allclose(np.asarray(g._array), w, rtol=1e-14)


def test_loops_run_as_python_blocks_over_the_namespace():
    x, xs = gc.var("x", shape=(3,)), gc.var("xs", shape=(4, 3))
    y = gc.while_loop(
        lambda c: gc.sum(c[0]) < 10.0, lambda c: (c[0] * 2.0 + 0.5, c[1] + 1), (x, 0)
    )
    z = gc.fori_loop(1, 3, lambda i, c: c * gc.cos(c) + i, y[0])
    w, ws = gc.scan(lambda c, v: (c * gc.tanh(v), c + v), z, xs, reverse=True)
    out = gc.sum(w) + gc.sum(ws * ws)
    outs = [out, y[1], *gc.grad(out, [x, xs])]
    f = gc.compile([x, xs], outs, backend="array_api")
    data = np.array([0.5, 1.0, 0.25]), np.linspace(-1, 1, 12).reshape(4, 3)
    _agree(f(*map(strict.asarray, data)), gc.compile([x, xs], outs)(*data), np.float64)
    body = f.source.split("def fn(")[1]
    assert "np." not in body and "len(" not in body
    assert "_arange(xp, dev, " in body and "xp.stack(" in body


def test_arguments_are_checked_and_kept_in_their_namespace():
    x = gc.var("x", shape=(3,), dtype="float64")
    f = gc.compile([x], x * 2.0, backend="array_api")
    with pytest.raises(gc.ShapeError, match=r"argument 'x': expected shape \(3,\), got \(2,\)"):
        f(strict.ones(2, dtype=strict.float64))
    with pytest.raises(gc.DTypeError, match="expected dtype float64, got float32"):
        f(strict.ones(3, dtype=strict.float32))
    assert isinstance(f([1.0, 2.0, 3.0]), np.ndarray)  # a list becomes a numpy array
    assert type(f(strict.ones(3, dtype=strict.float64))) is type(strict.ones(1))


def test_cupy_is_the_same_program_on_the_gpu():
    from graphc import backends

    cupy = backends.BACKENDS["cupy"]
    assert cupy.packages == ("array_api_compat", "cupy") and cupy.in_place is False
    if cupy.missing():
        with pytest.raises(gc.BackendError, match=r"needs cupy, not installed: .*cupy-cuda12x"):
            gc.compile([gc.var("x")], gc.var("x") * 2, backend="cupy")
        pytest.skip("CuPy is not installed")
    import cupy as cp

    try:
        cp.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - CuPy installed without a GPU
        pytest.skip("no GPU")
    x = gc.var("x", shape=(3,))
    f = gc.compile([x], gc.sum(gc.exp(x)), backend="cupy")
    out = f(cp.asarray([0.0, 1.0, 2.0]))
    assert isinstance(out, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(out), np.exp([0.0, 1.0, 2.0]).sum())


def test_bind_runs_the_array_api_program_on_numpy_arrays_and_refuses_others():
    x, w = gc.var("x", shape=(3,)), gc.var("w", shape=(3,))
    y = gc.sum(gc.tanh(x * w) ** 2)
    args = {"x": np.array([0.1, 0.2, 0.3]), "w": np.array([1.0, -2.0, 0.5])}
    exe = y.bind(dict(args), backend="array_api")
    exe.forward(is_train=True)
    exe.backward()
    want = y.bind(dict(args))
    want.forward(is_train=True)
    want.backward()
    assert "xp, dev = _namespace(x, w)" in exe.source()
    np.testing.assert_allclose(exe.outputs[0], want.outputs[0], rtol=1e-14)
    for name in args:
        np.testing.assert_allclose(exe.grad_dict[name], want.grad_dict[name], rtol=1e-14)
    with pytest.raises(
        gc.BackendError,
        match=r"bind: argument 'x' is a array_api_strict\S*"
        r"Array: an Executor holds numpy arrays",
    ):
        y.bind({"x": strict.ones(3, dtype=strict.float64), "w": args["w"]}, backend="array_api")


def test_export_writes_a_module_that_needs_only_array_api_compat(tmp_path):
    import runpy

    x = gc.var("x", shape=(3,))
    y = gc.sum(gc.softmax(x * np.array([1.0, 2.0, 3.0]), axis=0) ** 2)
    f = gc.compile([x], [y, *gc.grad(y, [x])], backend="array_api")
    path = tmp_path / "exported.py"
    f.export(str(path))
    assert "from graphc" not in path.read_text() and "import graphc" not in path.read_text()
    fn = runpy.run_path(str(path))["fn"]
    data = np.array([0.1, 0.2, 0.3])
    got = fn(strict.asarray(data))
    for g, w in zip(got, f(data)):
        np.testing.assert_allclose(np.asarray(g._array), w, rtol=1e-14)


_B = np.array([[True, False, True], [False, True, True]])
INDEXES = {  # beyond the recipes: numpy's placement rules, masks, repeats, empty indices
    "ellipsis between arrays (axes first)": ((3, 4, 5), lambda: ([0, 2], ..., [1, 1]), ()),
    "an int apart from an array": ((3, 4, 5), lambda: (None, 1, slice(None), [0, 4, 4]), ()),
    "a 2-d mask and an array": ((2, 3, 4), lambda m, i: (m, i), (_B, np.array([0, 3, 3, 1]))),
    "a mask, a reversed slice": ((3, 2), lambda m: (m, slice(None, None, -1)), (_B[0],)),
    "an all-False mask": ((4, 3), lambda m: (m,), (np.zeros(4, bool),)),
    "an empty index": ((5,), lambda i: (i,), (np.array([], dtype=np.int64),)),
    "a 0-d uint8 index": ((4,), lambda i: (i,), (np.array(2, dtype=np.uint8),)),
    "1000 repeats": ((6,), lambda i: (i,), (np.arange(1000) * 7 % 6 - 3,)),
}


@pytest.mark.parametrize("shape,index,arrays", INDEXES.values(), ids=list(INDEXES))
def test_indexing_by_arrays_and_its_gradient_agree_with_numpy(shape, index, arrays):
    rng = np.random.default_rng(3)
    x = gc.var("x", shape=shape)
    syms = [gc.var(f"i{k}", shape=a.shape, dtype=a.dtype) for k, a in enumerate(arrays)]
    y = x[index(*syms)]
    data = rng.standard_normal(shape)
    head = rng.standard_normal(data[index(*arrays)].shape)
    outs = [y, gc.grad(gc.sum(y * head), x)]
    got = gc.compile([x, *syms], outs, backend="array_api")(
        strict.asarray(data), *map(strict.asarray, arrays)
    )
    _agree(got, gc.compile([x, *syms], outs)(data, *arrays), np.float64)


def test_an_index_out_of_bounds_is_numpys_error():
    x, i = gc.var("x", shape=(4,)), gc.var("i", shape=(2,), dtype="int64")
    for y in (x[i], gc.take(x, i), x[gc.stop_gradient(x) > 0][i]):
        f = gc.compile([x, i], y, backend="array_api")
        for bad in (4, -5):
            with pytest.raises(gc.OutOfBoundsError, match=f"index {bad} is out of bounds"):
                f(strict.ones(4, dtype=strict.float64), strict.asarray([1, bad]))


def _counting_slow_calls(f, monkeypatch) -> list:
    """The calls that leave `f`'s fast path, recorded as they happen."""
    calls, slow = [], f._slow_call
    monkeypatch.setattr(f, "_slow_call", lambda *a: calls.append(a) or slow(*a))
    return calls


def test_array_api_arguments_take_the_fast_path_without_a_dtype_warning(monkeypatch):
    # Issue 16: the program was cached under numpy's dtype, so every call with
    # array-api-strict arrays missed the fast path and compared the two dtypes (a warning).
    x, w = gc.var("x"), gc.var("w")
    f = gc.compile([x, w], [gc.sum(gc.exp(x) * w), x * 2], backend="array_api")
    xs, ws = np.array([0.5, -1.0, 2.0]), np.array([1.0, 2.0, 3.0])
    want = f(xs, ws)
    calls = _counting_slow_calls(f, monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f(strict.asarray(xs), strict.asarray(ws))  # compiles
        assert len(calls) == 1
        for _ in range(2):
            _agree(f(strict.asarray(xs), strict.asarray(ws)), want, np.float64)
        for got, expected in zip(f(xs, ws), want):  # numpy arrays are kept too: fast
            np.testing.assert_array_equal(got, expected)
    assert len(calls) == 1
    info = f.cache_info()
    assert (info.hits, info.misses, info.currsize) == (3, 2, 2)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
def test_arguments_the_check_converts_or_refuses_never_take_the_fast_path(monkeypatch):
    x = gc.var("x", dtype="float64")
    f = gc.compile([x], x * 2, backend="array_api")
    calls = _counting_slow_calls(f, monkeypatch)
    for value in ([1.0, 2.0], [1.0, 2.0], np.asmatrix([1.0, 2.0]), np.asmatrix([1.0, 2.0])):
        np.testing.assert_array_equal(np.asarray(f(value)).ravel(), [2.0, 4.0])
    assert len(calls) == 4
    for _ in range(2):  # a declared dtype is checked on every call
        with pytest.raises(gc.DTypeError, match="expected dtype float64, got float32"):
            f(strict.ones(2, dtype=strict.float32))
    assert len(calls) == 6


def test_fast_path_errors_name_the_line_and_dropped_programs_leave_it(monkeypatch):
    from graphc import codegen

    monkeypatch.setattr(codegen, "SIGNATURE_CACHE", 2)
    x, i = gc.var("x"), gc.var("i", dtype="int64")
    f = gc.compile([x, i], x[i], backend="array_api")
    f(strict.ones(4, dtype=strict.float64), strict.asarray([1]))
    calls = _counting_slow_calls(f, monkeypatch)
    with pytest.raises(gc.OutOfBoundsError) as info:
        f(strict.ones(4, dtype=strict.float64), strict.asarray([7]))
    assert not calls and "test_array_api_backend.py" in "\n".join(info.value.__notes__)
    for n in range(1, 5):
        f(strict.ones(n, dtype=strict.float64), strict.asarray([0]))
    kept = {p.fn for p in f._programs.values()}
    assert len(f._programs) == 2 and set(f._cache.values()) <= kept
    assert f.cache_info().currsize == 2 and f.report().lines > 0
    g = pickle.loads(pickle.dumps(f))
    for _ in range(2):
        _agree([g(strict.asarray([1.0, 2.0]), strict.asarray([1]))], [np.array([2.0])], np.float64)
