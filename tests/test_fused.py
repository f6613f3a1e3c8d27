"""The fused backend (`gc.compile(..., backend="numexpr")`): every elementwise op numexpr
computes agrees with the numpy backend (values, gradients, dtypes and shapes, float64 and
float32), edge values (inf, nan, signed zeros) agree, the benchmark workloads agree, and the
elementwise workload's program is one evaluation per cluster."""

import pickle
import runpy

import numpy as np
import pytest
from op_recipes import RECIPES, call, make_args, make_vars

import graphc as gc
from graphc.backends import Numexpr
from graphc.ops import OPS
from graphc.ops.fused import template

pytest.importorskip("numexpr")

SMALL = Numexpr(min_size=1)  # fuse the recipes' small arrays too
FUSED_OPS = sorted(name for name, op in OPS.items() if op.elementwise and template(op))
TOL = {"float64": 1e-12, "float32": 1e-4}  # float32: conditioning amplifies ulps


def _agree(got, want, rtol, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (what, got.dtype, want.dtype)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, equal_nan=True, err_msg=what)


def _both(inputs, outputs, arrays, backend=SMALL):
    """The numpy and the fused program's results, and the fused program's source."""
    plain = gc.compile(inputs, outputs)(*arrays)
    fused = gc.compile(inputs, outputs, backend=backend)
    return plain, fused(*arrays), fused.source


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", FUSED_OPS)
def test_every_fused_op_agrees_with_numpy(name, dtype, rng):
    for case in RECIPES[name].cases:
        arrays, attrs = make_args(name, case, rng)
        arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
        xs = make_vars(arrays)
        y = call(name, *xs, **attrs)
        # one more op so that the cluster is fused (one op alone stays a numpy statement)
        out = gc.where(y, 2.5, -0.5) if y.dtype == bool else y * 3.0
        wrt = [x for x, a in zip(xs, arrays) if a.dtype.kind == "f"]
        grads = []
        if OPS[name].differentiable and y.dtype != bool:
            grads = gc.grad(gc.sum(gc.sin(out) * out), wrt)
        plain, fused, source = _both(xs, [out, *grads], arrays)
        # float32: numexpr widens some functions (sign, maximum) to float64; such a
        # cluster stays numpy statements, which the dtype checks below also prove
        assert "_ne(" in source or dtype == "float32", source
        for k, (a, b) in enumerate(zip(fused, plain)):
            _agree(a, b, TOL[dtype], f"{name}{case} output {k}")


def test_float32_stays_float32_with_python_numbers():
    x = gc.var("x", shape=(5,), dtype=np.float32)
    y = gc.where(x > 0.1, x * 0.1 + 1e-8, x - 2)
    a = np.array([0.1, 0.2, -1.0, 0.3, 0.09999999], np.float32)
    (plain,), (fused,), source = _both([x], [y], [a])
    assert "_ne(" in source and fused.dtype == np.float32
    np.testing.assert_array_equal(fused, plain)


EDGES = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 1e-300, 1e300, 0.5])


@pytest.mark.parametrize(
    "fn",
    [
        lambda x, w: gc.maximum(x, w) * 2,
        lambda x, w: gc.minimum(x, w) - w,
        lambda x, w: gc.where(x > w, x / w, w**x),
        lambda x, w: gc.sqrt(x) + gc.log(x) * gc.exp(-x),
        lambda x, w: gc.abs(x) * gc.sign(w) + x / w,
        lambda x, w: gc.tanh(x) + gc.arctan(w) - gc.log1p(x * w),
        lambda x, w: gc.floor(x) + gc.ceil(w) * gc.relu(x),
    ],
)
def test_edge_values_agree(fn):
    x, w = gc.var("x", shape=(10,)), gc.var("w", shape=(10,))
    with np.errstate(all="ignore"):
        (plain,), (fused,), source = _both([x, w], [fn(x, w)], [EDGES, EDGES[::-1].copy()])
    assert "_ne(" in source
    np.testing.assert_array_equal(np.signbit(fused), np.signbit(plain))
    np.testing.assert_allclose(fused, plain, rtol=1e-15, equal_nan=True)


def test_the_elementwise_workload_is_one_evaluation_per_cluster():
    """sin(x) is read by both clusters and costly: computed once (numpy's sin); the forward
    values are one evaluation (numexpr sums them; numpy does with fuse_sum=False), the
    gradient one;
    exp and sqrt are recomputed in each."""
    x = gc.var("x", shape=(10**5,), dtype=np.float64)
    x2 = x**2
    y = gc.sum(gc.sin(x) * gc.exp(-x2) + gc.log1p(x2) + gc.sqrt(x2 + 1))
    outputs = [y, *gc.grad(y, [x])]
    a = np.random.default_rng(0).standard_normal(10**5)
    want = gc.compile([x], outputs)(a)
    forward = "t1 * exp(-(x * x)) + log1p((x * x)) + sqrt((x * x) + 1)"
    for backend, first in [
        ("numexpr", f't2 = _ne("sum({forward})", t1=t1, x=x)[()]'),
        (Numexpr(fuse_sum=False), f't2 = _ne("{forward}", t1=t1, x=x)'),
    ]:
        f = gc.compile([x], outputs, backend=backend)
        for got, ref in zip(f(a), want):
            _agree(got, ref, 1e-12, "elementwise")
        lines = f.source.splitlines()
        body = [line.strip() for line in lines[lines.index("def fn(x):") :]]
        assert body[1] == "t1 = np.sin(x)", f.source
        calls = [line for line in body if "_ne(" in line]
        assert len(calls) == 2 and calls[0] == first, f.source
        assert "cos(x)" in calls[1] and calls[1].endswith("t1=t1)"), f.source
        assert [line for line in body if "np." in line] == ["t1 = np.sin(x)"], f.source


def test_small_arrays_and_single_ops_stay_numpy_statements():
    x = gc.var("x", shape=(16,), dtype=np.float64)
    f = gc.compile([x], [gc.exp(x) * 2 + 1], backend="numexpr")
    f(np.ones(16))
    assert "_ne(" not in f.source
    g = gc.compile([x], [gc.exp(x)], backend=SMALL)
    g(np.ones(16))
    assert "_ne(" not in g.source


def test_threads_option_export_and_pickle(tmp_path):
    x = gc.var("x", shape=(8,), dtype=np.float64)
    y = gc.sum(gc.tanh(x) ** 2)
    f = gc.compile([x], [y, *gc.grad(y, [x])], backend=Numexpr(threads=1, min_size=1))
    a = np.linspace(-1, 1, 8)
    want = gc.compile([x], [y, *gc.grad(y, [x])])(a)
    for got, ref in zip(f(a), want):
        _agree(got, ref, 1e-12, "threads=1")
    assert "    _ne_threads(1)" in f.source and "numexpr" in repr(f)
    path = tmp_path / "fused.py"
    f.export(str(path))
    text = path.read_text()
    assert "import numexpr" in text and "def _ne(" in text and "from graphc" not in text
    for got, ref in zip(runpy.run_path(str(path))["fn"](a), want):
        _agree(got, ref, 1e-12, "exported")
    g = gc.compile([x], [y * 2 + 1], backend="numexpr")
    h = pickle.loads(pickle.dumps(g))
    assert h.backend is g.backend
    _agree(h(a), g(a), 0, "pickled")


def test_a_fused_node_has_no_derivative_and_checks_its_attrs():
    fused = OPS["fused"]
    with pytest.raises(gc.GradError, match="after differentiation"):
        fused.vjp(None, None)
    good = {"tree": ("add", ("in", 0), ("lit", 2.0)), "reduce": None, "dtype": "float64"}
    assert fused.check_attrs(good)["tree"] == ("add", ("in", 0), ("lit", 2.0))
    bad_trees = [
        ("eval", ("in", 0)),  # not an op with a numexpr fact
        ("add", ("in", 0)),  # wrong arity
        ("add", ("in", 0), ("lit", "__import__")),  # a literal is a finite number
        ("add", ("in", 0), ("lit", float("inf"))),
        ("sin", ("in", -1)),
        "sin(x)",
    ]
    for tree in bad_trees:
        with pytest.raises(gc.ArgumentError):
            fused.check_attrs({**good, "tree": tree})
    assert fused.emit("x", **good) == '_ne("x + 2.0", x=x)'
    assert fused.emit("sum", **{**good, "reduce": "sum"}) == '_ne("sum(a_0 + 2.0)", a_0=sum)[()]'


def test_benchmark_workloads_agree():
    from benchmarks import harness, workloads

    for w in workloads.all_workloads(quick=True):
        arrays = w.arrays()
        syms = [gc.var(n, shape=a.shape, dtype=a.dtype) for n, a in zip(w.names, arrays)]
        y = w.math(gc, *syms)
        grads = gc.grad(y, [syms[i] for i in w.param_indices()]) if w.params else []
        out = gc.compile(syms, [y, *grads], backend=SMALL)(*arrays)
        harness.check_result(w, (out[0], list(out[1:])), harness.baseline_reference(w))
