"""Var names are data: any non-empty string compiles, runs, binds, saves and differentiates
correctly, and none of it ever becomes code in the emitted source."""

from __future__ import annotations

import ast
import importlib.util
import keyword
import re

import numpy as np
import pytest

import graphc as gc

SAFE_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def hostile_names(marker):
    return [
        f"x); open({str(marker)!r}, 'w').close() #",
        f"__import__('os').system('touch {marker}')",
        "x); import os; os.system('touch /tmp/pwned') #",
        f"a\nopen({str(marker)!r}, 'w')\n",
        "line\nbreak",
        "tab\there",
        "carriage\rreturn",
        "nul\x00byte",
        "import",
        "def",
        "class",
        "lambda",
        "None",
        "True",
        "match",
        "case",
        "_",
        "np",
        "numpy",
        "print",
        "len",
        "__builtins__",
        "__name__",
        "_sum_to",
        "_index_grad",
        "t1",
        "t2",
        "c0",
        "v0_x",
        "grad_x",
        "fn",
        "x y",
        "x-y",
        "1x",
        " x",
        "x ",
        "'",
        '"""',
        "\\",
        "#",
        "{x}",
        "%s",
        "λ",
        "日本語",
        "x\u200b",
        "é",
        "🙂",
        "x" * 300,
    ]


def _check_source(source: str, names):
    """The emitted source is valid Python whose every name is a plain ASCII identifier and
    no user string appears in its code or its string literals."""
    tree = ast.parse(source)
    unsafe = [n for n in names if not (SAFE_IDENT.match(n) and n.isascii()) and len(n) > 2]
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert SAFE_IDENT.match(node.id) and node.id.isascii(), node.id
        if isinstance(node, ast.arg):
            assert SAFE_IDENT.match(node.arg) and not keyword.iskeyword(node.arg), node.arg
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert not any(n in node.value for n in unsafe), node.value
    code = [line.split("#", 1)[0] for line in source.splitlines()]
    for name in unsafe:
        assert all(name not in line for line in code), name


@pytest.fixture
def names(tmp_path):
    marker = tmp_path / "pwned"
    yield hostile_names(marker)
    assert not marker.exists(), "a var name was executed"


def test_hostile_names_compile_and_run(names):
    xs = [gc.var(name) for name in names]
    y = sum((i + 1) * x for i, x in enumerate(xs))
    fn = gc.compile(xs, [y] + gc.grad(y, xs))
    values = [np.float64(i) for i in range(len(xs))]
    out = fn(*values)
    assert out[0] == sum((i + 1) * i for i in range(len(xs)))
    assert [float(g) for g in out[1:]] == [float(i + 1) for i in range(len(xs))]
    by_name = fn(**{name: v for name, v in zip(names, values)})
    assert by_name[0] == out[0]
    _check_source(fn.source, names)


def test_names_that_collide_after_mangling(names):
    # Distinct names whose safe forms would collide, and user names equal to generated ones.
    group = ["a b", "a_b", "a-b", "a\nb", "v0_a_b", "v1_a_b", "t1", "t2", "c0", "fn", "grad_a"]
    xs = [gc.var(n, shape=(2,)) for n in group]
    y = gc.sum(gc.stack([x * (i + 1) for i, x in enumerate(xs)]) ** 2)
    grads = gc.grad(y, xs)
    fn = gc.compile(xs, [y] + grads)
    values = [np.full(2, float(i)) for i in range(len(xs))]
    out = fn(*values)
    expected = sum(np.sum(((i + 1) * v) ** 2) for i, v in enumerate(values))
    assert out[0] == pytest.approx(expected)
    for i, (g, v) in enumerate(zip(out[1:], values)):
        np.testing.assert_allclose(g, 2 * (i + 1) ** 2 * v)
    _check_source(fn.source, group)
    params = ast.parse(fn.source).body[-1].args.args
    assert len({p.arg for p in params}) == len(group)


def test_same_name_twice_is_refused():
    with pytest.raises(gc.BindError, match="named 'x'"):
        gc.compile([gc.var("x"), gc.var("x")], gc.var("x") * 2)


def test_bad_names_are_refused():
    for bad in ("", None, 3, b"x"):
        with pytest.raises(gc.GraphcError):
            gc.var(bad)


def test_export_of_hostile_names_imports_only_numpy(names, tmp_path):
    xs = [gc.var(name) for name in names[:8]]
    y = gc.exp(xs[0]) * xs[1] + sum(xs[2:])
    fn = gc.compile(xs, y)
    path = tmp_path / "exported.py"
    fn.export(path, name="model")
    text = path.read_text()
    _check_source(text, names[:8])
    assert "import os" not in text and "open(" not in text
    spec = importlib.util.spec_from_file_location("exported", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = [np.float64(i + 1) for i in range(8)]
    assert module.model(*args) == pytest.approx(fn(*args))


def test_names_in_bind_print_and_json(names):
    a, b = gc.var(names[0]), gc.var(names[3])
    c = 2 * a + b
    assert c.list_arguments() == [names[0], names[3]]
    exe = c.bind({names[0]: np.ones(2), names[3]: np.ones(2)})
    np.testing.assert_array_equal(exe.forward()[0], [3.0, 3.0])
    assert names[0] in str(c)  # printing shows the name as text
    back = gc.load_json(c.tojson())
    assert back.list_arguments() == [names[0], names[3]]
    fn = gc.compile(gc.ir.free_vars([back]), back)
    np.testing.assert_array_equal(fn(np.ones(2), np.zeros(2)), [2.0, 2.0])
    _check_source(fn.source, names)


def test_parsed_unicode_and_keyword_like_names():
    from graphc.parse import parse

    y, variables = parse("λ * np_ + t1 * 日本 + fn", shapes={})
    fn = gc.compile(list(variables.values()), [y] + gc.grad(y, list(variables.values())))
    out = fn(2.0, 3.0, 4.0, 5.0, 6.0)
    assert out[0] == 2 * 3 + 4 * 5 + 6
    _check_source(fn.source, list(variables))


# --- a var is its name (issue 11, item 1) -------------------------------------------------


def test_vars_sharing_a_name_are_one_argument_everywhere():
    a1, a2 = gc.var("a"), gc.var("a")
    y = a1 * a2
    assert str(y) == "a**2"
    for wrt in (a1, a2, "a"):
        g = gc.grad(y, wrt)
        assert str(g) == "2*a"
        assert float(gc.compile([a1], g)(3.0)) == 6.0
        assert float(gc.compile([a2], gc.jvp(y, {wrt: 1.0}))(3.0)) == 6.0
    exe = y.bind({"a": np.array(3.0)})
    exe.forward(is_train=True)
    exe.backward()
    assert float(exe.grad_dict["a"]) == 6.0
    assert float(gc.compile([gc.var("a")], y)(3.0)) == 9.0
    assert "def fn(a)" in gc.compile([a1], y).source


def test_grad_after_load_matches_vars_by_name():
    w = gc.var("W", shape=(2,))
    loss = gc.sum(w**2)
    back = gc.load_json(loss.tojson())
    at = np.array([1.0, -2.0])
    for wrt in (gc.var("W"), "W", w):
        np.testing.assert_array_equal(gc.compile([w], gc.grad(back, wrt))(at), 2 * at)
    assert gc.check_grad(back, "W", {"W": at}) < 1e-6
    np.testing.assert_allclose(gc.compile([w], gc.hessian(back, "W"))(at), 2 * np.eye(2))
    np.testing.assert_allclose(gc.compile([w], gc.jacobian(back, gc.var("W")))(at), 2 * at)


def test_declarations_of_one_name_merge_or_conflict():
    loose, exact = gc.var("b"), gc.var("b", shape=(2,), dtype="float64")
    fn = gc.compile([loose], loose * exact)
    np.testing.assert_array_equal(fn(np.ones(2)), [1.0, 1.0])
    with pytest.raises(gc.ShapeError, match=r"expected shape \(2,\)"):
        fn(np.ones(3))  # the merged declaration is checked, not only the input's
    other = gc.var("b", shape=(3,))
    total = gc.sum(exact) + gc.sum(other)
    line_exact, line_other = exact.where(), other.where()
    for attempt in (
        lambda: gc.grad(total, exact),
        lambda: gc.grad(total, "b"),
        lambda: gc.compile([exact], total),
        lambda: total.list_arguments(),
        lambda: total.bind({"b": np.ones(2)}),
        lambda: total.tojson(),
        lambda: gc.jvp(total, {"b": np.ones(2)}),
    ):
        with pytest.raises(gc.ShapeError) as info:
            attempt()
        assert line_exact in str(info.value) and line_other in str(info.value)
    typed = gc.sum(exact) + gc.sum(gc.var("b", dtype="float32"))
    with pytest.raises(gc.DTypeError, match="float32"):
        gc.grad(typed, exact)


def test_wrt_name_absent_from_the_graph_is_an_error():
    x = gc.var("x")
    with pytest.raises(gc.GradError, match=r"'z'.*\['x'\]"):
        gc.grad(gc.sin(x), "z")
    with pytest.raises(gc.GradError, match=r"'z'.*\['x'\]"):
        gc.jvp(gc.sin(x), {"z": 1.0})
    # a var the output does not reach still gets zeros (SPEC)
    assert str(gc.grad(gc.sin(x), gc.var("z"))) == "zeros_like(z)"


# --- keyword calls bind by var name only (issue 11, item 10) ------------------------------


def test_keywords_bind_by_var_name_not_by_position():
    a1, a0 = gc.var("a1"), gc.var("a0")
    f = gc.compile([a1, a0], a1 - a0)
    assert f(10.0, 1.0) == 9.0  # the fast path first: the keyword calls reuse its cache
    assert f(a1=10.0, a0=1.0) == 9.0
    assert f(a0=1.0, a1=10.0) == 9.0
    assert f(10.0, a0=1.0) == 9.0
    p = gc.var("p")
    g = gc.compile([p, a1], p - a1)
    assert g(a1=1.0, p=5.0) == 4.0


@pytest.mark.parametrize(
    "name", ["self", "rest", "kwargs", "args", "a0", "_NO", "fn", "lambda", "class"]
)
def test_any_var_name_is_a_keyword(name):
    v, w = gc.var(name), gc.var("w")
    f = gc.compile([w, v], w - 2 * v)
    assert f(**{name: 1.0, "w": 5.0}) == 3.0
    assert f(5.0, **{name: 1.0}) == 3.0
    assert f(5.0, 1.0) == 3.0


def test_bad_keyword_calls_are_bind_errors():
    p, a1 = gc.var("p"), gc.var("a1")
    g = gc.compile([p, a1], p - a1)
    with pytest.raises(gc.BindError, match=r"'p' given twice.*\['p', 'a1'\]"):
        g(1.0, p=2.0)
    with pytest.raises(gc.BindError, match=r"unknown argument 'q'.*\['p', 'a1'\]"):
        g(1.0, q=2.0)
    with pytest.raises(gc.BindError, match=r"missing argument\(s\) \['a1'\]"):
        g(p=1.0)


@pytest.mark.parametrize("backend", ["numpy", "array_api", "dask"])
def test_vars_named_as_a_programs_modules_run(backend):
    """A var may be named as a module or a namespace that a backend's program reads (math in
    scalar code, xp and dev in the array API's, da and dask in dask's): it is renamed."""
    if gc.backends.BACKENDS[backend].missing():
        pytest.skip(f"{backend} is not installed")
    names = ["np", "numpy", "math", "xp", "dev", "da", "dask"]
    xs = [gc.var(n) for n in names]
    y = sum(gc.sin(x) * (i + 1) for i, x in enumerate(xs))
    values = [np.float64(0.5 * i) for i in range(len(xs))]
    got = gc.compile(xs, [y, *gc.grad(y, xs)], backend=backend)(*values)
    want = [np.sum(np.sin(values) * np.arange(1, 8))] + list(np.cos(values) * np.arange(1, 8))
    np.testing.assert_allclose(np.array([float(g) for g in got]), want, rtol=1e-14)
