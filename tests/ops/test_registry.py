"""Registry-driven op tests: generated from `graphc.ops.OPS`, so no op escapes.

Every registered op needs a recipe in `op_recipes.RECIPES` (its argument cases: shapes,
attrs, integer labels, ...); an op without one fails `test_recipe`. For each case the tests
check:

- the static shape and dtype rules against the real result, with shapes declared in full,
  as ranks only and not at all, and with dtypes unknown;
- the emitted code against `impl`, and compiled (and eager) results against the plain numpy
  call of the `gc` function and an independent numpy reference;
- VJP and JVP against finite differences and against each other, to second order, through
  `graphc.testing.assert_grads`;
- for elementwise ops, the partials `d` against `sympy.diff`, symbolically;
- a JSON round trip of the op and its gradient;
- numpy's dtype promotion for elementwise ops (float32 with Python scalars stays float32,
  integers to exp give float64, ...).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from op_recipes import (
    BAD_SHAPE_NAMES,
    EXEMPT,
    PARAMS,
    RECIPES,
    bad_shapes,
    call,
    find_node,
    make_args,
    make_vars,
)

import graphc as gc
from graphc import testing
from graphc.ops import OPS
from graphc.ops.base import Elementwise


@pytest.mark.parametrize("name", sorted(OPS))
def test_recipe(name):
    """Every registered op has a recipe (or an exemption with a reason)."""
    if name in EXEMPT:
        return
    try:
        recipe = RECIPES[name]
    except KeyError:
        pytest.fail(
            f"op {name!r} is registered but has no recipe in tests/ops/op_recipes.py "
            "RECIPES: add its argument cases there so its rules get tested"
        )
    assert recipe.cases


def _with_dtype(arrays, dtype):
    return [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]


def _outputs(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


@pytest.mark.parametrize("name,case", PARAMS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_shape_dtype_rule(name, case, dtype, rng):
    """Static shape and dtype agree with the real result, whatever the vars declare."""
    assert case is not None, f"op {name!r} has no recipe"
    arrays, attrs = make_args(name, case, rng)
    arrays = _with_dtype(arrays, dtype)
    reals = [np.asarray(r) for r in _outputs(call(name, *arrays, **attrs))]
    for declare in ("shape", "rank", "none"):
        for dtypes in (True, False):
            ys = _outputs(call(name, *make_vars(arrays, declare, dtypes), **attrs))
            find_node(ys[0], name)
            assert len(ys) == len(reals)
            for k, (y, real) in enumerate(zip(ys, reals)):
                where = f"{name} output {k}, vars declaring {declare}, dtypes {dtypes}"
                if declare == "shape" and RECIPES[name].data_shape is None:
                    assert y.shape == real.shape, where
                elif y.shape is not None:
                    assert len(y.shape) == real.ndim, where
                    assert all(d is None or d == r for d, r in zip(y.shape, real.shape)), where
                if dtypes:
                    assert y.dtype == real.dtype, f"{where}: {y.dtype} != {real.dtype}"
                else:
                    assert y.dtype is None or y.dtype == real.dtype, where


def _value_of(node, env):
    if node.op == "var":
        return env[node.name]
    assert node.op == "const", f"unexpected input {node.op}"
    return node.attrs["value"]


@pytest.mark.parametrize("name,case", PARAMS)
def test_forward(name, case, rng):
    """Emitted code == impl; compiled == plain numpy == an independent reference."""
    assert case is not None, f"op {name!r} has no recipe"
    recipe = RECIPES[name]
    arrays, attrs = make_args(name, case, rng)
    plains = _outputs(call(name, *arrays, **attrs))
    assert not any(isinstance(p, gc.Symbol) for p in plains)
    plains = [np.asarray(p) for p in plains]
    if recipe.ref is not None:
        expected = [np.asarray(e) for e in _outputs(recipe.ref(*arrays, **attrs))]
        for p, e in zip(plains, expected, strict=True):
            assert p.shape == e.shape
            np.testing.assert_allclose(p, e, rtol=1e-12, atol=1e-14)
    xs = make_vars(arrays)
    ys = _outputs(call(name, *xs, **attrs))
    node = find_node(ys[0], name)
    if node is ys[0] and len(ys) == 1:
        env = {x.name: a for x, a in zip(xs, arrays)}
        impl = np.asarray(node.opdef.impl(*(_value_of(x, env) for x in node.inputs), **node.attrs))
        out = np.asarray(gc.compile(xs, node, simplify=False)(*arrays))
        assert out.dtype == impl.dtype and out.shape == impl.shape
        np.testing.assert_array_equal(out, impl)
    if testing.eager_available():
        from graphc import eager

        tensors = [eager.tensor(a) for a in arrays]
        for k, (t, plain) in enumerate(
            zip(_outputs(call(name, *tensors, **attrs)), plains, strict=True)
        ):
            got = np.asarray(getattr(t, "data", t))
            assert got.dtype == plain.dtype and got.shape == plain.shape, f"eager output {k}"
            np.testing.assert_allclose(got, plain, rtol=1e-13, atol=1e-15)
    for declare in ("shape", "rank", "none"):
        xs = make_vars(arrays, declare)
        outs = gc.compile(xs, _outputs(call(name, *xs, **attrs)))(*arrays)
        for k, (out, plain) in enumerate(zip(outs, plains, strict=True)):
            out = np.asarray(out)
            where = f"output {k}, vars declaring {declare}"
            assert out.dtype == plain.dtype, f"{where}: {out.dtype} != {plain.dtype}"
            assert out.shape == plain.shape, where
            np.testing.assert_allclose(out, plain, rtol=1e-13, atol=1e-15, err_msg=where)


@pytest.mark.parametrize("name,case", PARAMS)
def test_json_round_trip(name, case, rng):
    """`load_json(tojson(y))` computes the same values, for the op and its gradient."""
    assert case is not None, f"op {name!r} has no recipe"
    arrays, attrs = make_args(name, case, rng)
    xs = make_vars(arrays)
    ys = _outputs(call(name, *xs, **attrs))
    floats = [y for y in ys if y.dtype is not None and y.dtype.kind == "f"]
    if (
        OPS[name].differentiable
        and RECIPES[name].grads is None
        and floats
        and any(a.dtype.kind == "f" for a in arrays)
    ):
        wrt = [x for x, a in zip(xs, arrays) if a.dtype.kind == "f"]
        ys = ys + gc.grad(gc.sum(floats[0]), wrt)
    loaded = gc.load_json(gc.Group(ys).tojson())
    inputs = {x.name: a for x, a in zip(xs, arrays)}
    params = gc.ir.free_vars([loaded])
    before = gc.compile(xs, ys)(*arrays)
    after = gc.compile(params, loaded)(*[inputs[v.name] for v in params])
    assert len(before) == len(after)
    for b, a in zip(before, after):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


FIRST_CASES = [p for p in PARAMS if p.values[1] is None or p.id.endswith("-0")]


@pytest.mark.parametrize("name,case", FIRST_CASES)
def test_export_is_standalone(name, case, rng, tmp_path):
    """`Function.export` of the shape-generic program (op and gradient, vars declaring
    nothing) is a module that needs only numpy, runtime helpers included."""
    assert case is not None, f"op {name!r} has no recipe"
    arrays, attrs = make_args(name, case, rng)
    xs = make_vars(arrays, "none")
    ys = _outputs(call(name, *xs, **attrs))
    wrt = [x for x, a in zip(xs, arrays) if a.dtype.kind == "f"]
    if (
        OPS[name].differentiable
        and RECIPES[name].grads is None
        and wrt
        and RECIPES[name].unshaped is None
    ):
        ys = ys + gc.grad(gc.sum(ys[0]), wrt)
    f = gc.compile(xs, ys)
    path = tmp_path / "exported.py"
    f.export(path, name="run")
    text = path.read_text()
    assert "graphc" not in text.replace("# Generated by graphc", "")
    namespace: dict = {}
    exec(compile(text, str(path), "exec"), namespace)  # the test's own generated module
    for got, want in zip(namespace["run"](*arrays), f(*arrays), strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-13)


def _floats(name, case):
    """Whether a case has floating inputs and floating outputs (built once, float32)."""
    arrays, attrs = make_args(name, case, np.random.default_rng(0))
    arrays = _with_dtype(arrays, np.float32)
    ys = _outputs(call(name, *make_vars(arrays), **attrs))
    inputs = any(a.dtype.kind == "f" for a in arrays)
    return inputs, inputs and any(y.dtype is not None and y.dtype.kind == "f" for y in ys)


# Derivative tests are generated only for the cases they apply to: ops marked differentiable
# whose recipe does not say why their derivatives are checked elsewhere (`Recipe.grads`), with a
# floating input (and, for float32, a floating output). A param without a recipe stays, to fail.
DERIVATIVE_PARAMS = [
    p
    for p in PARAMS
    if p.values[1] is None
    or (OPS[p.values[0]].differentiable and RECIPES[p.values[0]].grads is None)
]
_FLOATS = {p.id: _floats(*p.values) for p in DERIVATIVE_PARAMS if p.values[1] is not None}
GRAD_PARAMS = [p for p in DERIVATIVE_PARAMS if _FLOATS.get(p.id, (True,))[0]]
FLOAT32_PARAMS = [p for p in DERIVATIVE_PARAMS if _FLOATS.get(p.id, (True, True))[1]]


@pytest.mark.parametrize("name,case", GRAD_PARAMS)
def test_grads(name, case, rng):
    """VJP and JVP against finite differences and each other, to second order."""
    assert case is not None, f"op {name!r} has no recipe"
    recipe = RECIPES[name]
    arrays, attrs = make_args(name, case, rng)
    assert any(a.dtype.kind == "f" for a in arrays)
    engines = testing.default_engines()
    if recipe.generic is None:
        engines += ("generic",)
    fn = lambda *xs: call(name, *xs, **attrs)  # noqa: E731
    testing.assert_grads(
        fn, arrays, order=recipe.order, engines=engines, rtol=recipe.rtol, eps=recipe.eps, rng=rng
    )
    if recipe.unshaped is None:
        # Vars declared with no shape at all (`gc.var("x")`, the MXNet default): first order.
        testing.assert_grads(
            fn, arrays, order=1, engines=("unshaped",), rtol=recipe.rtol, eps=recipe.eps, rng=rng
        )


@pytest.mark.parametrize("name,case", FLOAT32_PARAMS)
def test_float32_derivatives_stay_float32(name, case, rng):
    """Gradients take their input's dtype and tangents their output's: no silent float64."""
    assert case is not None, f"op {name!r} has no recipe"
    arrays, attrs = make_args(name, case, rng)
    arrays = _with_dtype(arrays, np.float32)
    xs = make_vars(arrays)
    ys = [y for y in _outputs(call(name, *xs, **attrs)) if y.dtype.kind == "f"]
    wrt = [x for x, a in zip(xs, arrays) if a.dtype.kind == "f"]
    assert ys and wrt
    shape = ys[0].shape
    if None in shape:  # known at run time only (Recipe.data_shape)
        shape = np.shape(_outputs(call(name, *arrays, **attrs))[0])
    total = gc.sum(ys[0] * rng.standard_normal(shape).astype(np.float32))
    tangents = {x: rng.standard_normal(x.shape).astype(np.float32) for x in wrt}
    f = gc.compile(xs, gc.grad(total, wrt) + gc.jvp(ys, tangents))
    outs = [np.asarray(o) for o in f(*arrays)]
    for x, g in zip(wrt, outs):
        assert g.dtype == x.dtype, f"gradient of {x.name}: {g.dtype}"
    for y, t in zip(ys, outs[len(wrt) :]):
        assert t.dtype == y.dtype, f"tangent: {t.dtype}, output {y.dtype}"


@pytest.mark.parametrize(
    "fn,args",
    [
        (gc.logsumexp, [np.array([1000.0, 999.5, -1000.0, 0.3])]),
        (lambda x: gc.logsumexp(x, axis=1), [np.array([[1000.0, 999.5], [-1000.0, -1001.0]])]),
        (gc.softmax, [np.array([[1000.0, 999.5, -1000.0], [-1000.0, -999.0, -1001.0]])]),
        (gc.log_softmax, [np.array([[1000.0, 999.5, -1000.0], [-1000.0, -999.0, -1001.0]])]),
        (gc.sigmoid, [np.array([1000.0, -1000.0, 0.3])]),
        (gc.softplus, [np.array([1000.0, -1000.0, 0.3])]),
        (
            gc.cross_entropy,
            [np.array([[1000.0, 999.5, -1000.0], [-1000.0, -999.0, -1001.0]]), np.array([0, 2])],
        ),
    ],
    ids=[
        "logsumexp",
        "logsumexp-axis",
        "softmax",
        "log_softmax",
        "sigmoid",
        "softplus",
        "cross_entropy",
    ],
)
def test_stable_at_magnitude_1000(fn, args, rng):
    """Finite values and correct derivatives (to second order) for inputs of size 1000."""
    assert np.all(np.isfinite(np.asarray(fn(*args))))
    testing.assert_grads(fn, args, engines=testing.default_engines() + ("generic",), rng=rng)


@pytest.mark.parametrize("name", BAD_SHAPE_NAMES)
def test_shape_errors_name_the_op_and_the_line(name):
    """Shapes that do not fit raise ShapeError when the node is built (static shapes),
    naming the operation and the user's line (the recipe's lambda, or the call here)."""
    fn, shapes = bad_shapes(name)
    xs = [gc.var(f"x{i}", shape) for i, shape in enumerate(shapes)]
    with pytest.raises(gc.ShapeError) as info:
        fn(*xs)
    message = str(info.value)
    line = "op_recipes.py:" if getattr(fn, "__name__", "") == "<lambda>" else "test_registry.py:"
    assert name in message and line in message, message


def test_stop_gradient_blocks_derivatives(rng):
    x = gc.var("x", shape=(3,))
    t = gc.var("t", shape=(3,))
    y = gc.stop_gradient(x) * x
    f = gc.compile([x, t], [gc.grad(gc.sum(y), x), gc.jvp(y, {x: t})])
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    g, j = f(a, b)
    np.testing.assert_allclose(g, a)
    np.testing.assert_allclose(j, a * b)


# --- elementwise partials against sympy -----------------------------------------------------


def _to_sympy(sym, env, given):
    """An elementwise graph as a sympy expression, through each op's `sympy` mapping;
    `given` maps ids of nodes (the op's output `y`) to their expressions."""
    memo = dict(given)
    stop = [n for n in gc.ir.toposort([sym]) if id(n) in given]
    for node in gc.ir.toposort([sym], stop=stop):
        if id(node) in memo:
            continue
        if node.op == "var":
            memo[id(node)] = env[node.name]
        elif node.op == "const":
            memo[id(node)] = sp.nsimplify(np.asarray(node.attrs["value"]).item())
        elif node.op == "where":  # a guard in a rule (power's at zero)
            c, a, b = (memo[id(x)] for x in node.inputs)
            c = c if isinstance(c, sp.logic.boolalg.Boolean) else sp.Ne(c, 0)
            memo[id(node)] = sp.Piecewise((a, c), (b, True))
        else:
            assert node.opdef.sympy is not None, f"{node.op} has no sympy mapping"
            expr = node.opdef.sympy(*(memo[id(x)] for x in node.inputs))
            if isinstance(expr, sp.core.relational.Relational):
                expr = sp.Piecewise((1, expr), (0, True))  # a mask used as a number
            memo[id(node)] = expr
    return memo[id(sym)]


def _sympy_symbol(name, domain):
    if domain == "nonzero":
        return sp.Symbol(name, real=True, nonzero=True)
    lo, hi = domain
    return sp.Symbol(name, positive=True) if lo > 0 else sp.Symbol(name, real=True)


SYMPY_OPS = [
    name
    for name, op in sorted(OPS.items())
    if isinstance(op, Elementwise)
    and op.sympy is not None
    and op.differentiable
    and "vjp" not in vars(op)
]


@pytest.mark.parametrize("name", SYMPY_OPS)
def test_partials_match_sympy(name):
    """Each partial `d` equals sympy's derivative of the op's sympy mapping, symbolically."""
    op = OPS[name]
    domains = testing.input_domains(op, op.nin)
    syms = [_sympy_symbol(f"x{i}", d) for i, d in enumerate(domains)]
    expr = op.sympy(*syms)
    xs = [gc.var(f"x{i}") for i in range(op.nin)]
    y = op(*xs)
    env = {f"x{i}": s for i, s in enumerate(syms)}
    for i, d in enumerate(op.d):
        exact = sp.diff(expr, syms[i])
        if d is None:
            # Not differentiable there: the derivative must vanish almost everywhere.
            assert sp.simplify(exact.replace(sp.DiracDelta, lambda *a: 0)) == 0, name
            continue
        partial = d(y, *xs)
        if isinstance(partial, (int, float)):
            got = sp.nsimplify(partial)
        else:
            got = _to_sympy(partial, env, {id(y): expr})
        if exact.has(sp.Heaviside):
            # Masks (relu's x > 0) are Piecewise: compare with sympy's Heaviside the same way.
            exact = exact.rewrite(sp.Piecewise)
        difference = sp.piecewise_fold(got - exact)
        assert _vanishes(sp.simplify(difference)), f"{name}: d/dx{i} is {got}, sympy says {exact}"


def _vanishes(expr) -> bool:
    """expr == 0; for a Piecewise, each branch is 0 where it applies (a guard's branch at a
    single point, x1 == 0, is checked by substituting it)."""
    if expr == 0:
        return True
    if not isinstance(expr, sp.Piecewise):
        return False
    prior = []
    for branch, cond in expr.args:
        where = sp.simplify(sp.And(cond, *[sp.Not(c) for c in prior]))
        if isinstance(where, sp.Eq):
            branch = branch.subs(where.lhs, where.rhs)
        if sp.simplify(branch) != 0:
            return False
        prior.append(cond)
    return True


# --- dtype promotion, like numpy ---------------------------------------------------------


def _int_values(domain):
    if domain == "nonzero":
        return np.array([-1, 2])
    lo, hi = domain
    if lo > 0:
        return np.array([1, 2])
    if hi < 1:
        return np.array([0, 0])
    return np.array([-1, 1])


def _promotion_inputs(domains, kinds, rng):
    out = []
    for domain, kind in zip(domains, kinds):
        if kind in ("float64", "float32"):
            out.append(testing.sample(domain, (2,), rng, dtype=kind))
        elif kind in ("int64", "int32"):
            out.append(_int_values(domain).astype(kind))
        elif kind == "pyfloat":
            out.append(float(testing.sample(domain, (), rng)))
        elif kind == "pyint":
            out.append(int(_int_values(domain)[1]))
    return out


PROMOTIONS = {
    1: [("float32",), ("int64",), ("int32",)],
    2: [
        ("float32", "pyfloat"),
        ("pyfloat", "float32"),
        ("float32", "pyint"),
        ("int32", "pyint"),
        ("int64", "pyfloat"),
        ("float32", "float64"),
        ("int32", "float32"),
        ("int64", "int32"),
    ],
}
ELEMENTWISE = [
    name
    for name, op in sorted(OPS.items())
    if isinstance(op, Elementwise) and op.nin in PROMOTIONS
]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_dtype_promotion(name, rng):
    """Static dtype == numpy's result dtype == compiled dtype, Python scalars weakly typed."""
    op = OPS[name]
    domains = testing.input_domains(op, op.nin)
    for kinds in PROMOTIONS[op.nin]:
        values = _promotion_inputs(domains, kinds, rng)
        with np.errstate(all="ignore"):
            try:
                real = np.asarray(op.fn(*values))
            except (TypeError, ValueError):
                continue  # numpy refuses the combination itself
            plain = np.asarray(op(*values))
        assert plain.dtype == real.dtype, (name, kinds)
        xs = [
            gc.var(f"x{i}", np.shape(v), np.asarray(v).dtype)
            for i, v in enumerate(values)
            if isinstance(v, np.ndarray)
        ]
        it = iter(xs)
        args = [next(it) if isinstance(v, np.ndarray) else v for v in values]
        y = op(*args)
        assert y.dtype == real.dtype, f"{name}{kinds}: static {y.dtype}, numpy {real.dtype}"
        with np.errstate(all="ignore"):
            out = gc.compile(xs, y)(*[v for v in values if isinstance(v, np.ndarray)])
        assert out.dtype == real.dtype, f"{name}{kinds}: compiled {out.dtype}, numpy {real.dtype}"


@pytest.mark.parametrize(
    "fn,dtype,expected",
    [
        (lambda x: x * 2.0, "float32", "float32"),
        (lambda x: 1.5 + x, "float32", "float32"),
        (lambda x: x / 3, "float32", "float32"),
        (lambda x: x**2, "float32", "float32"),
        (lambda x: gc.exp(x), "int64", "float64"),
        (lambda x: gc.sqrt(x), "int32", "float64"),
        (lambda x: x / 2, "int64", "float64"),
        (lambda x: x * 2, "int32", "int32"),
        (lambda x: gc.sigmoid(x), "float32", "float32"),
        (lambda x: gc.softplus(x), "float32", "float32"),
        (lambda x: gc.mean(x), "int64", "float64"),
        (lambda x: gc.sum(x), "int32", "int64"),
        (lambda x: gc.softmax(x), "float32", "float32"),
        (lambda x: gc.logsumexp(x), "int64", "float64"),
        (lambda x: gc.norm(x), "float32", "float32"),
        (lambda x: gc.mse_loss(x, 0.5), "float32", "float32"),
        (lambda x: gc.relu(x), "float32", "float32"),
        (lambda x: gc.clip(x, 0.0, 1.0), "float32", "float32"),
        (lambda x: gc.where(x > 0, x, 0.0), "float32", "float32"),
    ],
)
def test_promotion_examples(fn, dtype, expected):
    """The documented promotion cases, statically, compiled and on plain numpy."""
    data = np.arange(1, 4).astype(dtype)
    x = gc.var("x", shape=(3,), dtype=dtype)
    y = fn(x)
    assert y.dtype == np.dtype(expected)
    assert gc.compile([x], y)(data).dtype == np.dtype(expected)
    assert np.asarray(fn(data)).dtype == np.dtype(expected)
