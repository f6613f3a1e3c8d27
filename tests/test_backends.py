"""The backend option: `gc.compile(..., backend=...)`, `bind(..., backend=...)`, and what the
default numpy backend guarantees (today's program)."""

import pickle

import numpy as np
import pytest

import graphc as gc
from graphc import backends
from graphc.codegen import Emission


def _model():
    x, w = gc.var("x", shape=(3,)), gc.var("w", shape=(3,))
    y = gc.sum(gc.tanh(x * w) ** 2)
    return x, w, y, gc.grad(y, [x, w])


def test_numpy_is_the_default_and_the_same_program():
    x, w, y, grads = _model()
    default = gc.compile([x, w], [y, *grads])
    named = gc.compile([x, w], [y, *grads], backend="numpy")
    given = gc.compile([x, w], [y, *grads], backend=backends.backend("numpy"))
    args = np.array([0.1, -0.2, 0.3]), np.array([1.0, 2.0, 3.0])
    for f in (named, given):
        for a, b in zip(f(*args), default(*args)):
            np.testing.assert_array_equal(a, b)
        assert f.source == default.source
    assert repr(default) == (
        "<graphc.Function (x: ?[3], w: ?[3]) -> (?[], ?[3], ?[3]), numpy, 1 program>"
    )


def test_unknown_backend_names_the_known_ones_and_changes_nothing():
    x = gc.var("x")
    with pytest.raises(
        gc.BackendError, match=r"unknown backend 'numpyy' \(did you mean numpy\?\)"
    ):
        gc.compile([x], gc.exp(x), backend="numpyy")
    with pytest.raises(gc.BackendError, match="a int; give a name or a graphc Backend"):
        gc.compile([x], gc.exp(x), backend=3)
    with pytest.raises(gc.BackendError, match="unknown backend"):
        (x * 2).bind({"x": np.ones(2)}, backend="nope")


def test_a_backend_whose_package_is_missing_names_the_extra():
    class Missing(backends.Backend):
        name = "missing"
        packages = ("graphc_no_such_package",)
        extra = "nothing"

    x = gc.var("x")
    with pytest.raises(
        gc.BackendError,
        match=r"backend 'missing' needs graphc_no_such_package, which is not installed: "
        r'pip install "graphc\[nothing\]"',
    ):
        gc.compile([x], gc.exp(x), backend=Missing())
    assert "missing" not in backends.available()
    assert "numpy" in backends.available()


class Traced(backends.Backend):
    """A test backend that changes every hook a backend has, visibly."""

    name = "traced"
    in_place = False

    def header(self, helpers):
        return ["# traced", *super().header(helpers)]

    def prologue(self, params):
        return [f"_seen.append(({', '.join(params)},))"]

    def returns(self, results, single):
        return f"_done(({super().returns(results, single)}))"

    def namespace(self):
        return {"_seen": self.seen, "_done": lambda r: (self.done.append(r), r)[1]}

    def expr(self, node, args):
        return super().expr(node, args)

    def __init__(self):
        self.seen, self.done = [], []


def test_every_hook_of_a_backend_reaches_the_program():
    x = gc.var("x", shape=(4,))
    b = Traced()
    f = gc.compile([x], gc.exp(gc.sin(x) * 2) + 1, backend=b)
    out = f(np.zeros(4))
    np.testing.assert_allclose(out, np.exp(np.sin(np.zeros(4)) * 2) + 1)
    assert len(b.seen) == len(b.done) == 1 and b.done[0] is out
    src = f.source
    assert src.startswith("# traced\nimport numpy as np\n")
    assert "out=" not in src and "+=" not in src  # in_place=False: no buffer written twice
    assert "return _done((t" in src and "    _seen.append((x,))" in src
    assert repr(f).endswith(", traced, 1 program>")


def test_in_place_is_the_numpy_default():
    x = gc.var("x", shape=(4,))
    f = gc.compile([x], gc.exp(gc.sin(x) * 2) + 1)
    f(np.zeros(4))
    assert "out=t" in f.source


def test_bind_takes_a_backend_and_keeps_it_through_pickle():
    x = gc.var("x")
    b = Traced()
    exe = (x * 2).bind({"x": np.ones(2)}, backend="numpy")
    np.testing.assert_array_equal(exe.forward()[0], [2.0, 2.0])
    assert pickle.loads(pickle.dumps(exe))._plan.backend is backends.BACKENDS["numpy"]
    sym = gc.sum(x * x)
    exe = sym.bind({"x": np.arange(3.0)}, {"x": np.zeros(3)}, backend=b)
    exe.forward(is_train=True)
    exe.backward()
    np.testing.assert_array_equal(exe.grad_dict["x"], [0.0, 2.0, 4.0])
    assert b.seen  # the executor's programs were written by the backend
    assert gc.sum(x).simple_bind(x=(2,), backend="numpy").forward()[0] == 0.0


def test_function_pickles_with_its_backend():
    x = gc.var("x")
    f = gc.compile([x], gc.exp(x), backend="numpy")
    g = pickle.loads(pickle.dumps(f))
    assert g.backend is backends.BACKENDS["numpy"]
    np.testing.assert_array_equal(g(np.zeros(2)), [1.0, 1.0])


def test_emission_default_is_the_numpy_program():
    assert Emission().returns(["a"], single=False) == "a,"
    assert Emission().returns(["a"], single=True) == "a"
    assert Emission().returns([], single=False) == "()"
