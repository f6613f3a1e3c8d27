"""The "array_api" program on torch tensors and JAX arrays (through array-api-compat): every
op recipe agrees with numpy, values and gradients, float64 and float32 (each op's first case
in the fast suite, every case under `slow`); negative-step slices, which torch has no views
for, and the symmetric decompositions, which JAX reads differently from numpy, are tested
on their own. Each namespace's tests skip without its package (`torch`, `jax`)."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc

pytest.importorskip("array_api_compat")
from op_recipes import PARAMS, backend_program  # noqa: E402

CLEAR_EVERY = 50


class Torch:
    name = "torch"

    def __init__(self):
        self.torch = pytest.importorskip("torch")

    def asarray(self, a):
        return self.torch.from_numpy(np.array(a, copy=True))

    def numpy(self, g):
        assert isinstance(g, self.torch.Tensor), type(g)
        return g.numpy()


class Jax:
    name = "jax"
    used = 0  # namespaces made: JAX's caches are cleared every CLEAR_EVERY

    def __init__(self):
        self.jax = pytest.importorskip("jax")
        self.jnp = pytest.importorskip("jax.numpy")
        Jax.used += 1
        if Jax.used % CLEAR_EVERY == 0:  # its compiled ops: about 10 MB a case otherwise
            self.jax.clear_caches()

    def asarray(self, a):
        return self.jnp.asarray(a)

    def numpy(self, g):
        assert isinstance(g, self.jax.Array), type(g)
        return np.asarray(g)


@pytest.fixture(scope="module", autouse=True)
def jax_64():
    """JAX with 64-bit types while this module runs (graphc's index arrays are int64)."""
    try:
        import jax
    except ImportError:
        yield
        return
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", before)


SPACES = {"torch": Torch, "jax": Jax}


def _spaces(items: dict, fast):
    """pytest params (namespace name, item) for each namespace and item; JAX's only for
    the items named in `fast` outside the slow suite (JAX dispatches each op on its own,
    about 0.1 s a case here)."""
    return [
        pytest.param(
            name,
            item,
            id=f"{name}-{label}",
            marks=() if name == "torch" or label in fast else pytest.mark.slow,
        )
        for name in SPACES
        for label, item in items.items()
    ]


def _agree(space, got, want, dtype):
    tol = 2e-5 if dtype == np.float32 else 1e-11
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        g, w = space.numpy(g), np.asarray(w)
        assert (g.shape, g.dtype) == (w.shape, w.dtype), f"output {k}"
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, err_msg=f"output {k}")


def _svd_program(case, dtype):
    """svd's singular vectors are unique up to their signs, which LAPACK builds choose
    differently (torch's and numpy's do for non-square matrices): the outputs compared are
    the singular values and products that do not depend on the signs (U diag(w) Vh,
    U diag(w) U^T, V diag(w) V^T), and the gradient of a weighted sum of them."""
    xs, _, arrays = backend_program("svd", case, dtype)
    u, s, vh = gc.svd(xs[0], **case[1])
    rng = np.random.default_rng(1)
    w = rng.standard_normal(s.shape[-1]).astype(dtype)
    products = [(u * w) @ vh, (u * w) @ gc.matrix_transpose(u)]
    products.append(gc.matrix_transpose(vh) @ (vh * w[:, None]))
    outs = [s, *products]
    total = sum(gc.sum(p * rng.standard_normal(p.shape).astype(dtype)) for p in outs)
    return xs, [*outs, gc.grad(total, xs[0])], arrays


def _check(space, name, case, dtype):
    program = _svd_program if name == "svd" else lambda c, d: backend_program(name, c, d)
    xs, outs, arrays = program(case, dtype)
    f = gc.compile(xs, outs, backend="array_api", simplify=False)
    got = f(*[space.asarray(a) for a in arrays])
    _agree(space, got, gc.compile(xs, outs, simplify=False)(*arrays), dtype)


CASES = [p for p in PARAMS if p.values[1] is not None]


def _params(cases):
    return [
        pytest.param(*p.values, dtype, id=f"{p.id}-{dtype.__name__}")
        for p in cases
        for dtype in (np.float64, np.float32)
    ]


# JAX's fast suite: a sample of the cases whose forms differ most between namespaces.
JAX_SAMPLE = {"index_grad-3": np.float32, "cond-0": np.float64}  # a scatter-add, a branch
FIRST = [p for p in CASES if p.id.endswith("-0")]


@pytest.mark.parametrize("name,case,dtype", _params(FIRST))
def test_every_op_agrees_with_numpy_on_torch(name, case, dtype):
    _check(Torch(), name, case, dtype)


@pytest.mark.parametrize(
    "name,case,dtype",
    [pytest.param(*p.values, JAX_SAMPLE[p.id], id=p.id) for p in CASES if p.id in JAX_SAMPLE],
)
def test_a_sample_of_cases_agrees_with_numpy_on_jax(name, case, dtype):
    _check(Jax(), name, case, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("name,case,dtype", _params(CASES))
def test_every_case_agrees_with_numpy(space, name, case, dtype):
    _check(SPACES[space](), name, case, dtype)


def test_the_jax_sample_names_recipe_cases():
    assert set(JAX_SAMPLE) <= {p.id for p in CASES}


SLICES = {
    "reversed": (slice(None, None, -1),),
    "5:1:-2 of the last axis": (slice(None), slice(5, 1, -2)),
    "a new axis, an int, every third back": (None, 1, slice(None, None, -3)),
    "empty": (Ellipsis, slice(2, 2, -1)),
    "one entry": (slice(0, None, -1),),
    "an array before": ([2, 0, 2], slice(None, None, -1)),
    "an array after": (slice(None, None, -2), [5, 0, 5]),
    "a mask": (np.array([True, False, True, True]), slice(4, None, -1)),
}


@pytest.mark.parametrize("space,index", _spaces(SLICES, fast={"an array after"}))
def test_negative_steps_and_their_gradients_agree_with_numpy(space, index):
    space = SPACES[space]()
    # torch has no negative strides: x[::-1] raised "step must be greater than zero", and
    # so did the gradient of such a slice (zeros written into at the slice)
    x = gc.var("x", shape=(4, 6))
    y = x[index]
    data = np.arange(24.0).reshape(4, 6) ** 1.5
    head = np.random.default_rng(2).standard_normal(data[index].shape)
    outs = [y, gc.grad(gc.sum(y * head), x), gc.grad(gc.sum(gc.sin(y)), x)]
    f = gc.compile([x], outs, backend="array_api")
    _agree(space, f(space.asarray(data)), gc.compile([x], outs)(data), np.float64)


def test_only_a_negative_step_is_read_by_the_helper():
    x = gc.var("x", shape=(4, 6))
    f = gc.compile([x], [x[1:3], x[::-1, 2], x[::2]], backend="array_api")
    assert "x[1:3, ...]" in f.source and "x[::2, ...]" in f.source
    assert "_sliced(x, (slice(None, None, -1), 2, ..., ))" in f.source
    data = np.arange(24.0).reshape(4, 6)
    np.testing.assert_array_equal(f(data)[1], data[::-1, 2])  # numpy: a view, as before


@pytest.mark.parametrize("space", SPACES)
def test_symmetric_decompositions_read_the_lower_triangle(space):
    # JAX's eigh and cholesky average a matrix with its transpose; numpy reads the lower
    # triangle (as torch does): the program gives every namespace the matrix numpy reads
    x = gc.var("x", shape=(3, 3))
    w, v = gc.eigh(x)
    c = gc.cholesky(x)
    loss = gc.sum(w * np.array([1.0, 2.0, 3.0])) + gc.sum(c * c * c)
    outs = [w, gc.abs(v), c, gc.grad(loss, x)]
    data = np.array([[4.0, 9.0, -7.0], [1.0, 5.0, 8.0], [0.5, -1.0, 6.0]])  # not symmetric
    space = SPACES[space]()
    f = gc.compile([x], outs, backend="array_api")
    _agree(space, f(space.asarray(data)), gc.compile([x], outs)(data), np.float64)


@pytest.mark.parametrize("space", SPACES)
def test_a_constant_output_is_the_callers_own(space):
    # the converted constant is kept for the next calls: it was returned itself, so writing
    # into one call's output changed the next call's (torch, numpy through the namespace)
    space = SPACES[space]()
    x = gc.var("x", shape=(2,))
    c = gc.stop_gradient(x) * 0.0 + np.array([1.0, 2.0])  # folded to a constant
    f = gc.compile([x], [x * 2, c], backend="array_api")
    assert "xp.asarray(_const(xp, dev, c0), copy=True)" in f.source
    first = f(space.asarray(np.ones(2)))[1]
    if space.name == "torch":
        first[0] = 99.0
    np.testing.assert_array_equal(space.numpy(f(space.asarray(np.ones(2)))[1]), [1.0, 2.0])
    out = f(np.ones(2))[1]
    out[0] = 99.0
    np.testing.assert_array_equal(f(np.ones(2))[1], [1.0, 2.0])
