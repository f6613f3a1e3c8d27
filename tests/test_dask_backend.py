"""The "dask" backend (graphc.backends.dask): the numpy program over dask.array, lazy and
chunked, every output computed in one `dask.compute`; arguments checked without being read.
Skipped without dask (the `dask` extra)."""

from __future__ import annotations

import pathlib
import pickle
import re
import sys
import tracemalloc
import warnings

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

dask_local = pytest.importorskip("dask.local")
from op_recipes import PARAMS, backend_program  # noqa: E402

import graphc as gc  # noqa: E402
from graphc.backends import Dask, backend  # noqa: E402
from graphc.backends.dask import MemmapFile  # noqa: E402


class Scheduler:
    """dask's synchronous scheduler, counting the computations (each `dask.compute`, and
    any value a program would read in the middle, which must not happen)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return dask_local.get_sync(*args, **kwargs)


@pytest.fixture
def counted():
    scheduler = Scheduler()
    with dask.config.set(scheduler=scheduler):
        yield scheduler


def _outputs(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def test_the_program_cuts_its_arguments_and_computes_once(counted):
    x, w = gc.var("x", shape=(6, 2)), gc.var("w", shape=(2,))
    loss = gc.sum(gc.tanh(x @ w))
    f = gc.compile([x, w], [loss, gc.grad(loss, w)], backend=Dask(chunks={0: 2}))
    args = np.arange(12.0).reshape(6, 2) / 10, np.array([0.5, -0.25])
    value, grad = f(*args)
    assert counted.calls == 1
    want = gc.compile([x, w], [loss, gc.grad(loss, w)])(*args)
    assert type(grad) is np.ndarray and grad.dtype == np.float64
    np.testing.assert_allclose(value, want[0], rtol=1e-13)
    np.testing.assert_allclose(grad, want[1], rtol=1e-13)
    assert f.source == (
        "import dask\n"
        "import dask.array as da\n"
        "import numpy as np\n"
        "from graphc.backends.dask import _chunked, _decided, _reshape, _whole\n"
        "\n"
        "def fn(x, w):\n"
        "    x = _chunked(x, {0: 2})\n"
        "    w = _chunked(w, {0: 2})\n"
        "    t1 = x @ w\n"
        "    t2 = np.tanh(t1)\n"
        "    del t1\n"
        "    t3 = t2.sum()\n"
        "    t4 = t2 * t2\n"
        "    del t2\n"
        "    t5 = 1 - t4\n"
        "    del t4\n"
        "    t6 = x.T @ t5\n"
        "    del t5\n"
        "    return dask.compute(t3, t6)\n"
    )
    assert ", dask, 1 program>" in repr(f)


def test_outputs_sharing_work_run_it_once():
    x = gc.var("x", shape=(8,))
    shared = gc.exp(x) * 3
    outputs = [gc.sum(shared), gc.max(shared), shared]
    args = np.linspace(0, 1, 8)

    def tasks(outs):
        keys = []
        with dask.callbacks.Callback(pretask=lambda key, *_: keys.append(key)):
            values = gc.compile([x], outs, backend=Dask(chunks=2))(args)
        return values, keys

    (total, top, full), together = tasks(outputs)
    assert len(together) == len(set(together))  # no task ran twice
    alone = [tasks([o])[1] for o in outputs]
    assert len(together) < sum(len(k) for k in alone)  # exp(x) * 3: once, not three times
    np.testing.assert_allclose(total, np.sum(np.exp(args) * 3))
    assert top == full.max()


def test_lazy_returns_dask_arrays_and_computes_nothing(counted):
    x = gc.var("x", shape=(4,))
    f = gc.compile([x], [gc.exp(x), gc.sum(x)], backend=Dask(chunks=2, lazy=True))
    y, s = f(np.zeros(4))
    assert counted.calls == 0
    assert isinstance(y, da.Array) and y.chunks == ((2, 2),)
    np.testing.assert_array_equal(y.compute(), np.ones(4))
    assert "return t1, t2" in f.source


def test_dask_arrays_are_checked_without_being_computed(counted):
    def boom():
        raise AssertionError("computed")

    lazy = da.from_delayed(dask.delayed(boom)(), (3, 2), dtype=np.float32)
    x = gc.var("x", shape=(3, 2), dtype="float32")
    f = gc.compile([x], gc.sum(x * 2), backend=Dask(lazy=True))
    assert isinstance(f(lazy), da.Array)
    with pytest.raises(
        gc.ShapeError, match=r"argument 'x': expected shape \(3, 2\), got \(2, 3\)"
    ):
        f(lazy.T)
    with pytest.raises(gc.DTypeError, match="argument 'x': expected dtype float32, got float64"):
        f(lazy.astype(np.float64))
    unknown = da.from_array(np.ones(4), chunks=2)
    unknown = unknown[unknown > 0]
    with pytest.raises(gc.ShapeError, match="unknown shape"):
        gc.compile([gc.var("x")], gc.var("x") * 2, backend="dask")(unknown)
    assert counted.calls == 0


def test_a_dask_argument_keeps_its_chunks(counted):
    x = gc.var("x")
    f = gc.compile([x], gc.exp(x) + 1, backend=Dask(chunks=100, lazy=True))
    y = f(da.zeros((6,), chunks=3))
    assert y.chunks == ((3, 3),)


def _traced_peak(fn, *args):
    tracemalloc.start()
    try:
        value = fn(*args)
        return value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_memmap_is_read_chunk_by_chunk(tmp_path, counted):
    path = tmp_path / "x.npy"
    np.save(path, np.arange(40_000.0))
    m = np.load(path, mmap_mode="r")
    x = gc.var("x", shape=(40_000,))
    f = gc.compile([x], gc.sum(gc.sqrt(x)), backend=Dask(chunks=4000))
    checked, peak = _traced_peak(f.backend.check, "", "x", m, [x])
    assert checked.shape == m.shape and peak < 10_000  # checked, not read
    f(m)  # compiled (and dask's modules imported)
    value, peak = _traced_peak(f, m)
    np.testing.assert_allclose(value, np.sum(np.sqrt(np.arange(40_000.0))))
    assert peak < 4 * 4000 * 8 + 200_000  # a few chunks, not the 320 kB of the array
    exe = gc.sum(gc.sqrt(x)).bind({"x": m}, grad_req="null", backend=Dask(chunks=4000))
    exe.forward()
    (out,), peak = _traced_peak(exe.forward)
    assert out == value and peak < 4 * 4000 * 8 + 200_000  # bound by reference, mapped
    # pickled for a cluster's worker: the file is mapped again, its bytes are not sent
    mapped = MemmapFile(m)
    again = pickle.loads(pickle.dumps(mapped))
    assert isinstance(again.array, np.memmap) and len(pickle.dumps(mapped)) < 1000
    np.testing.assert_array_equal(again[10:12], [10.0, 11.0])
    view = MemmapFile(np.asarray(m)[5:])  # a plain view of the memmap: its part of the file
    assert len(pickle.dumps(view)) < 1000
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(view))[:2], [5.0, 6.0])
    assert len(pickle.dumps(MemmapFile(m[::2]))) > 8 * 19_000  # not contiguous: its values


def test_zarr_arrays_are_taken_unread():
    zarr = pytest.importorskip("zarr")
    z = zarr.zeros((6,), chunks=(2,), dtype="float64")
    z[:] = np.arange(6.0)
    x = gc.var("x", shape=(6,))
    f = gc.compile([x], gc.sum(x * x), backend="dask")
    assert f.backend.check("", "x", z, [x]) is z
    assert f(z) == 55.0


def test_chunks_are_written_as_literals_and_nothing_else():
    assert Dask(chunks=((2, 2), -1)).chunks_text == "((2, 2, ), -1, )"
    assert Dask(chunks="64 MiB").chunks_text == "'64 MiB'"

    class Sneaky(str):
        def __repr__(self):
            return "__import__('os')"

    for bad in (Sneaky("auto"), object(), 1.5, {"x": 2}, True):
        with pytest.raises(gc.BackendError, match="chunks must be"):
            Dask(chunks=bad)


def test_options_survive_pickling_and_name_the_cache():
    x = gc.var("x")
    f = gc.compile([x], gc.exp(x), backend=Dask(chunks=3))
    g = pickle.loads(pickle.dumps(f))
    assert g.backend == Dask(chunks=3) and g.backend != Dask(chunks=4)
    assert pickle.loads(pickle.dumps(gc.compile([x], x, backend="dask"))).backend is backend(
        "dask"
    )
    np.testing.assert_allclose(g(np.zeros(5)), np.ones(5))


def test_bind_runs_on_dask():
    x = gc.var("x")
    exe = gc.sum(x * x).bind({"x": np.arange(3.0)}, {"x": np.zeros(3)}, backend="dask")
    exe.forward(is_train=True)
    exe.backward()
    np.testing.assert_array_equal(exe.grad_dict["x"], [0.0, 2.0, 4.0])
    assert "dask.compute(" in exe.source()


def test_cond_and_while_loop_compute_their_conditions(counted):
    """A cond computes its predicate once where it is reached (the gradient's cond reads it
    again), a while_loop its condition before each iteration, its carries persisted (each
    iteration's test builds on the last one only), then the outputs in one compute."""
    x = gc.var("x", shape=(3,))
    y = gc.cond(gc.sum(x) > 0, lambda a: a * 2, lambda a: gc.sin(a), x)
    y = gc.while_loop(lambda c: gc.sum(c) < 10.0, lambda c: c * 2.0, y)
    outs = [y, gc.grad(gc.sum(y * y), x)]
    f = gc.compile([x], outs, backend=Dask(chunks=2))
    data = np.array([0.5, 0.25, 1.0])  # sum 1.75 > 0: doubled, then 3.5, 7.0, 14.0
    got = f(data)
    # the predicate; 3 persists (before the loop and after each of its 2 iterations) and 3
    # tests of the condition; the outputs
    assert counted.calls == 1 + 3 + 3 + 1
    for g, w in zip(got, gc.compile([x], outs)(data), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-14)
    assert re.search(r"\n    (t\d+) = _decided\(\1\)\n    if \1:\n", f.source)
    assert f.source.count(" = dask.persist(") == 2


def test_work_a_cond_predicate_shares_runs_once(counted):
    """The predicate was computed alone, then the final compute ran the work it shares with
    the outputs again (each chunk of the argument read twice): now the values that share it
    are persisted with the predicate, and every chunk is read once."""
    reads = []

    def read(block):
        reads.append(block.copy())
        return block

    x = gc.var("x", shape=(8,))
    s = gc.exp(x) * 3  # shared by the predicate, the branches and two outputs
    y = gc.cond(gc.sum(s) > 0, lambda a: a * 2, lambda a: gc.sin(a), s)
    outs = [y, gc.sum(s), s * s, gc.grad(gc.sum(y), x)]
    f = gc.compile([x], outs, backend=Dask(chunks=2))
    data = np.linspace(-1, 1, 8)
    arg = da.from_array(data, chunks=2).map_blocks(read)
    reads.clear()  # map_blocks ran `read` once to find its dtype
    got = f(arg)
    assert len(reads) == 4  # 4 chunks, each read once (8 before)
    assert counted.calls == 3  # the persist, the predicate's value, the outputs
    for g, w in zip(got, gc.compile([x], outs)(data), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-14)
    decide = re.search(
        r"\n    (t\d+), (t\d+(, t\d+)*) = _decided\(\1, \2\)\n    if \1:\n", f.source
    )
    assert decide and len(decide[2].split(", ")) == 3  # exp(x), its product and its sum
    assert f.source.count("_decided(") == 2  # the gradient's cond: decided already


def test_work_a_while_loop_shares_runs_once(counted):
    """The carries were persisted alone, and the condition's captures were not: the work
    they share with the outputs ran again in the final compute, and a capture the condition
    reads (a limit computed from the data) ran again at every test (20 reads of 4 chunks);
    now they are persisted with the carries."""
    reads = []
    x = gc.var("x", shape=(8,))
    s = gc.exp(x) * 3
    limit = gc.sum(s) * 4
    y = gc.while_loop(lambda c: gc.sum(c) < limit, lambda c: c * 2.0, s)
    outs = [y, gc.sum(s), gc.grad(gc.sum(y * y), x)]
    f = gc.compile([x], outs, backend=Dask(chunks=2))
    data = np.linspace(-1, 1, 8)
    arg = da.from_array(data, chunks=2).map_blocks(lambda b: reads.append(b.size) or b)
    reads.clear()
    got = f(arg)
    assert len(reads) == 4
    for g, w in zip(got, gc.compile([x], outs)(data), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-13)
    first = re.search(r"\n    c, (t\d+(, t\d+)*), = dask.persist\(c, \1\)\n    while", f.source)
    assert first and len(first[1].split(", ")) == 4  # the limit, the sum, s and exp(x)


def test_a_while_loop_on_a_counter_stays_lazy(counted):
    """A condition that reads no data (a counter, though the body's other carry is the
    data, and a capture of data only feeds the body) is not computed mid-program."""
    x, s = gc.var("x", shape=(3,)), gc.var("s", shape=())
    y, n = gc.while_loop(lambda c: c[1] < 3, lambda c: (c[0] * s + 1.0, c[1] + 1), (x, 0))
    outs = [y, n, gc.grad(gc.sum(y), x)]
    f = gc.compile([x, s], outs, backend=Dask(chunks=2))
    got = f(np.arange(3.0), np.float64(0.5))
    assert counted.calls == 1 and "persist" not in f.source
    for g, w in zip(got, gc.compile([x, s], outs)(np.arange(3.0), 0.5), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-14)


def test_export_runs_with_dask_alone(tmp_path):
    x = gc.var("x", shape=(4,))
    s = gc.sort(x) * gc.sum(x, keepdims=True)
    f = gc.compile([x], [s, gc.grad(gc.sum(s * s), x)], backend=Dask(chunks=2))
    args = np.array([3.0, -1.0, 2.0, 0.5])
    f(args)
    path = tmp_path / "exported.py"
    f.export(path, name="run")
    text = path.read_text()
    assert "graphc" not in text.replace("# Generated by graphc", "")
    assert "x = _chunked(x, 2)" in text and "def _whole(" in text
    namespace: dict = {}
    exec(compile(text, str(path), "exec"), namespace)  # the test's own generated module
    for got, want in zip(namespace["run"](args), f(args), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13)


# --- every op of the table, against the numpy backend -------------------------------------


# Ops that compute a condition in the middle of the program (graphc.backends.dask).
DECIDED = ("cond", "while_loop")


def _agree(name, case, dtype):
    """Compile `name`'s case (outputs and the gradient of a weighted sum of them) for numpy
    and for dask in chunks of 2, and compare (one computation per call, besides the
    conditions of control flow)."""
    xs, ys, arrays = backend_program(name, case, np.dtype(dtype))
    f = gc.compile(xs, ys, backend=Dask(chunks=2))
    want = gc.compile(xs, ys)(*arrays)
    scheduler = Scheduler()
    with dask.config.set(scheduler=scheduler), warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # dask computing a numpy call it lacks
        got = f(*arrays)
    if not any(n.op in DECIDED for n in gc.ir.toposort(ys)):
        assert scheduler.calls <= 1, f"{scheduler.calls} computations"
    tol = {"rtol": 1e-10, "atol": 1e-12} if dtype == "float64" else {"rtol": 2e-5, "atol": 1e-5}
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        g, w = np.asarray(g), np.asarray(w)
        assert (g.dtype, g.shape) == (w.dtype, w.shape), f"output {k}"
        np.testing.assert_allclose(g, w, **tol, err_msg=f"output {k}")


CASES = [p for p in PARAMS if p.values[1] is not None]
FIRST = [
    pytest.param(*p.values, dtype, id=f"{p.id}-{dtype}")
    for p in CASES
    if p.id.endswith("-0")
    for dtype in ("float64", "float32")
]
REST = [
    pytest.param(*p.values, dtype, id=f"{p.id}-{dtype}")
    for dtype in ("float64", "float32")
    for p in CASES
    if not p.id.endswith("-0")
]


@pytest.mark.parametrize("name,case,dtype", FIRST)
def test_every_op_agrees_with_numpy(name, case, dtype):
    _agree(name, case, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("name,case,dtype", REST)
def test_every_case_agrees_with_numpy(name, case, dtype):
    """Every other case of every op, in float64 and in float32."""
    _agree(name, case, dtype)


def test_benchmark_workloads_agree():
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    from benchmarks import harness, workloads

    for w in workloads.all_workloads(quick=True):
        arrays = w.arrays()
        syms = [gc.var(n, shape=a.shape, dtype=a.dtype) for n, a in zip(w.names, arrays)]
        y = w.math(gc, *syms)
        wrt = [syms[i] for i in w.param_indices()]
        f = gc.compile(syms, [y, *gc.grad(y, wrt)] if wrt else [y], backend=Dask(chunks=4))
        value, *grads = f(*arrays)
        want, want_grads = harness.baseline_reference(w)
        rtol = 1e-9 if w.dtype == np.float64 else 1e-4
        np.testing.assert_allclose(value, want, rtol=rtol, err_msg=w.name)
        for g, wg in zip(grads, want_grads, strict=True):
            np.testing.assert_allclose(g, wg, rtol=rtol, atol=rtol, err_msg=w.name)


# --- the worked example: linear regression on a memmap ten times the chunk size -----------


def _regression(tmp_path, n, d):
    """X (n, d) and y (n,) saved as .npy and opened as memmaps; the loss, its gradient
    compiled for numpy and for dask in chunks of n/10 rows."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "X.npy", rng.standard_normal((n, d)))
    np.save(tmp_path / "y.npy", rng.standard_normal(n))
    X = np.load(tmp_path / "X.npy", mmap_mode="r")
    y = np.load(tmp_path / "y.npy", mmap_mode="r")
    Xv, yv, wv = gc.var("X", shape=(None, d)), gc.var("y", shape=(None,)), gc.var("w", shape=(d,))
    loss = gc.mean((Xv @ wv - yv) ** 2)
    outputs = [loss, gc.grad(loss, wv)]
    chunked = gc.compile([Xv, yv, wv], outputs, backend=Dask(chunks={0: n // 10}))
    return X, y, gc.compile([Xv, yv, wv], outputs), chunked


def _descend(f, X, y, w, steps=2):
    """`steps` of gradient descent; the gradients taken and the peak memory traced."""
    grads = []
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(steps):
            _, g = f(X, y, w)
            grads.append(g)
            w = w - 0.1 * g
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return grads, peak


def _check_descent(tmp_path, n, d, bound_chunks):
    X, y, plain, chunked = _regression(tmp_path, n, d)
    w = np.zeros(d)
    chunked(X, y, w)  # compiled, and the scheduler warmed up
    grads, peak = _descend(chunked, X, y, w)
    want, _ = _descend(plain, np.asarray(X), np.asarray(y), w)
    for g, gw in zip(grads, want):
        np.testing.assert_allclose(g, gw, rtol=1e-12, atol=1e-15)
    chunk = X.nbytes // 10
    assert peak < bound_chunks * chunk, f"peak {peak / chunk:.1f} chunks"
    return peak / chunk


def test_linear_regression_on_a_memmap_with_threads(tmp_path):
    with dask.config.set(scheduler="threads", num_workers=2):
        _check_descent(tmp_path, 200_000, 8, bound_chunks=4)


@pytest.mark.slow
def test_linear_regression_on_a_memmap_on_a_local_cluster(tmp_path):
    """The worked example: a .npy memmap of 64 MB in chunks of 6.4 MB on a one-worker
    LocalCluster (its thread in this process, so tracemalloc sees the worker's arrays): the
    gradients are numpy's and the peak memory stays under four chunks (about two measured;
    with dask's default worker-saturation, 1.1, the worker reads a chunk ahead: about
    three)."""
    distributed = pytest.importorskip("distributed")
    with (
        dask.config.set({"distributed.scheduler.worker-saturation": 1.0}),
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        _check_descent(tmp_path, 1_000_000, 8, bound_chunks=4)


@pytest.mark.slow
def test_a_cluster_of_worker_processes_maps_the_memmap_again(tmp_path):
    """On workers in other processes (as on a real cluster: only the address changes), a
    memmap travels as its file name and offset, and the gradients are numpy's."""
    distributed = pytest.importorskip("distributed")
    X, y, plain, chunked = _regression(tmp_path, 100_000, 4)
    w = np.linspace(-1, 1, 4)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        value, grad = chunked(X, y, w)
        loaded = client.run(lambda: sorted(sys.modules))  # each worker's imported modules
    want = plain(np.asarray(X), np.asarray(y), w)
    np.testing.assert_allclose(value, want[0], rtol=1e-12)
    np.testing.assert_allclose(grad, want[1], rtol=1e-12)
    (modules,) = loaded.values()
    assert "graphc.backends.dask" in modules  # the worker unpickled MemmapFile


def test_dask_arguments_take_the_fast_path(monkeypatch):
    # `Dask.check` returns a dask array as it is, so its raw key (class, shape, dtype) is
    # a sound cache key: the second call runs the program without checking again.
    x = gc.var("x")
    f = gc.compile([x], [gc.sum(gc.exp(x)), x * 2], backend=Dask(chunks=2))
    values = np.array([0.5, -1.0, 2.0, 3.0])
    want = gc.compile([x], [gc.sum(gc.exp(x)), x * 2])(values)
    calls, slow = [], f._slow_call
    monkeypatch.setattr(f, "_slow_call", lambda *a: calls.append(a) or slow(*a))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            for got, expected in zip(f(da.from_array(values, chunks=2)), want, strict=True):
                np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert len(calls) == 1 and f.cache_info().hits == 2
