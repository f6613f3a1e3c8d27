"""The safe expression parser: what it accepts builds the right graph; everything else,
hostile or garbage, gives `ParseError` and nothing else (and nothing is ever evaluated)."""

from __future__ import annotations

import builtins
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphc as gc
from graphc.parse import MAX_DEPTH, MAX_EXPONENT, MAX_LENGTH, parse

X = np.array([0.5, -1.0, 2.0])
W = np.array([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]])


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2*dot(x, x)", 2 * X @ X),
        ("sum(x*x) / 3 - 1", np.sum(X * X) / 3 - 1),
        ("-x ** 2 + +x", -(X**2) + X),
        ("2 ** 3 * x", 8 * X),
        ("x ** -1", X**-1.0),
        ("mean(3*(x+3)**2)", np.mean(3 * (X + 3) ** 2)),
        ("gc.exp(x) + np.log(abs(x)) + numpy.tanh(x)", np.exp(X) + np.log(abs(X)) + np.tanh(X)),
        ("w @ x", W @ X),
        ("sum(w, axis=0, keepdims=True)", np.sum(W, axis=0, keepdims=True)),
        ("sum(w, axis=(0, 1))", np.sum(W)),
        ("max(w, axis=-1)", np.max(W, axis=-1)),
        ("transpose(w, axes=(1, 0))", W.T),
        ("reshape(w, (3, 2))", W.reshape(3, 2)),
        ("reshape(w, shape=(-1,))", W.reshape(-1)),
        ("w[1, 0:3:2]", W[1, 0:3:2]),
        ("w[:, -1]", W[:, -1]),
        ("w[None, ..., 0]", W[None, ..., 0]),
        ("x[::-1]", X[::-1]),
        ("stack([x, 2*x], axis=1)", np.stack([X, 2 * X], axis=1)),
        ("concatenate((x, x))", np.concatenate([X, X])),
        ("where(x > 0, x, 0)", np.where(X > 0, X, 0)),
        ("clip(x, a_min=0)", np.clip(X, 0, None)),
        ("maximum(x, 1) + minimum(x, 1)", np.maximum(X, 1) + np.minimum(X, 1)),
        ("astype(x, dtype='float32')", X.astype(np.float32)),
        ("softmax(w, axis=0)", np.exp(W) / np.exp(W).sum(axis=0)),
        ("x >= 0.5", X >= 0.5),
        ("norm(x) * 1e-3", np.linalg.norm(X) * 1e-3),
        ("sigmoid(x) * True", 1 / (1 + np.exp(-X))),
        ("(x\n + 1)", X + 1),
    ],
)
def test_accepted_expressions_compute_like_numpy(text, expected):
    y, variables = parse(text)
    assert set(variables) <= {"x", "w"}
    values = {"x": X, "w": W}
    fn = gc.compile(list(variables.values()), y)
    got = fn(**{name: values[name] for name in variables})
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_shapes_dtypes_and_one_var_per_name():
    y, variables = parse("x * x + y[0]", shapes={"x": (2,), "y": (3,)}, dtypes={"y": "int64"})
    assert list(variables) == ["x", "y"]
    assert variables["x"].shape == (2,) and variables["y"].dtype == np.int64
    assert [n for n in gc.ir.free_vars([y])][0] is variables["x"]
    assert len(gc.ir.free_vars([y])) == 2


def test_numbers_alone_stay_lazy_and_weak():
    y, variables = parse("exp(1) + 2")
    assert isinstance(y, gc.Symbol) and not variables
    y, _ = parse("2 * 3")
    assert y.op == "const" and y.attrs["value"] == 6 and isinstance(y.attrs["value"], int)
    y, variables = parse("x * 2", dtypes={"x": "float32"})
    assert y.dtype == np.float32  # a Python number does not promote


@pytest.mark.parametrize(
    "text,expected",
    [
        # Found by fuzzing: a call on numbers alone inside a list is a graph node, so these are
        # values (they raised numpy's "truth value of an array" and a "dtype object" error).
        ("(0 ** stack([1e308, .5e-3, 1_000]))", [0.0, 0.0, 0.0]),
        ("stack([0]) ** stack([0])", [1]),
        ("2 ** stack([1, 2])", [2, 4]),
        ("sum(concatenate(([1.0], [2.0])))", 3.0),
    ],
)
def test_calls_on_numbers_in_lists_are_graph_values(text, expected):
    y, variables = parse(text)
    assert isinstance(y, gc.Symbol) and not variables
    np.testing.assert_array_equal(y.eval()[0], expected)


def test_concatenate_of_scalars_is_a_parse_error_with_the_column():
    with pytest.raises(gc.ParseError, match=r"same non-zero rank \(column 1: 'concatenate"):
        parse("concatenate([1e999, 0, gc]) * 0")


def test_gradient_of_a_parsed_expression():
    y, v = parse("2*dot(x, x)", shapes={"x": (4,)})
    f = gc.compile([v["x"]], gc.grad(y, v["x"]))
    np.testing.assert_array_equal(f(np.arange(4.0)), [0.0, 4.0, 8.0, 12.0])


HOSTILE = [
    ("__import__('os').system('touch /tmp/pwned')", "attribute access"),
    ("__import__('os')", "not a gc function"),
    ("open('/etc/passwd')", "not a gc function"),
    ("eval('1')", "not a gc function"),
    ("exec('import os')", "not a gc function"),
    ("x.__class__.__bases__", "attribute access"),
    ("gc.__dict__", "attribute access"),
    ("gc.ops.exp(x)", "attribute access"),
    ("np.load('f.npy')", "not a gc function"),
    ("sum.__globals__", "attribute access"),
    ("().__class__", "attribute access"),
    ("lambda: 0", "lambda"),
    ("(lambda x: x)(1)", "only gc functions"),
    ("[c for c in ()]", "comprehension"),
    ("{c: 1 for c in x}", "comprehension"),
    ("sum(c for c in x)", "generator"),
    ("x if x else x", "conditional"),
    ("x and y", "and/or"),
    ("(y := 2)", "assignment"),
    ("f'{x}'", "f-string"),
    ("'abc'", "str"),
    ("b'abc'", "bytes"),
    ("{'a': 1}", "dict"),
    ("{1, 2}", "set"),
    ("[x, x]", "list or tuple"),
    ("(x, x) + 1", "list or tuple"),  # a tuple alone is a group: (x, x)
    ("x[[0.5]]", "ints or booleans only"),
    ("x[[y]]", "ints or booleans only"),
    ("x[True]", "indices"),
    ("x[1.5]", "indices"),
    ("x[0][::0]", "step"),
    ("exp(*x)", "starred"),
    ("exp(**x)", "keyword"),
    ("sum(x, where=x)", "keyword 'where'"),
    ("sum(x, axis=x)", "keyword values"),
    ("sum(x, axis=__import__('os'))", "keyword values"),
    ("x // 2", "FloorDiv"),
    ("x << 2", "LShift"),
    ("~x", "Invert"),
    ("not x", "Not"),
    ("x is x", "Is"),
    ("x in x", "In"),
    ("a < b < c", "chained"),
    ("1j * x", "complex"),
    ("None + x", "None"),
    ("...", "Ellipsis"),
    ("x = 1", "the last line must be an expression"),
    ("import os", "the last line must be an expression"),
    ("x; y", "only `name = expression` lines"),
    ("x = y + 1; x = 2; x", "'x' is already defined"),
    ("y + 1; y = 2; y", "only `name = expression` lines"),
    ("y = y + 1; y", "'y' is already defined or used as a var"),
    ("x[0] = 1; x", "only `name = expression` lines"),
    ("x\0", "null"),
    ("", "empty"),
    ("   ", "empty"),
    ("await x", "await"),
]


@pytest.mark.parametrize("text, message", HOSTILE)
def test_hostile_and_unsupported_input(text, message):
    with pytest.raises(gc.ParseError, match=message):
        parse(text)


def test_errors_name_the_part_and_column():
    with pytest.raises(gc.ParseError, match=r"column 9: 'x\.__class__'"):
        parse("1 + 2 * x.__class__")
    with pytest.raises(gc.ParseError, match=r"column 5: 'foo'"):
        parse("x + foo(x)")
    # Columns count characters, not UTF-8 bytes.
    with pytest.raises(gc.ParseError, match=r"column 7: 'ü\.real'"):
        parse("é + é+ü.real")
    with pytest.raises(gc.ParseError, match=r"line 2, column 2: 'x\.real'"):
        parse("(x\n+x.real)")
    with pytest.raises(gc.ParseError, match=r"exp.*column 1: 'exp\(x, x\)'"):
        parse("exp(x, x)")


@pytest.mark.parametrize(
    "text, message",
    [
        ("x ** 10 ** 10", "too large"),
        ("10 ** 10 ** 10", "too large"),
        (f"x ** {MAX_EXPONENT + 1}", "too large"),
        ("x ** 1e300", "too large"),
        ("2 ** 64 * x", "64 bits"),
        ("9" * 30 + " * x", "64 bits"),
        ("9" * 5000, "64 bits|invalid syntax|too long"),
        ("1e300 ** 2 * x", "constant arithmetic"),
        ("(-8) ** 0.5 * x", "fractional"),
        ("x + 1 / (1 - 1)", "division by zero"),
        ("0 ** -1 + x", "division by zero"),
        ("broadcast_to(1.0, (100000, 100000, 10))", "entries"),
        ("(" * 300 + "x" + ")" * 300, "invalid syntax|nested"),
        ("-" * 5000 + "x", "nested"),
        ("+".join(["x"] * 3000), "too large|nested"),
        ("exp(" * 150 + "x" + ")" * 150, "nested"),
        ("x" * (MAX_LENGTH + 1), "too long"),
        ("[" * 150 + "]" * 150, "nested|list"),
    ],
)
def test_resource_guards(text, message):
    with pytest.raises(gc.ParseError, match=message):
        parse(text)


def test_depth_limit_leaves_ordinary_expressions_alone():
    y, _ = parse("+".join(["x"] * (MAX_DEPTH // 2)))
    assert isinstance(y, gc.Symbol)


def test_parsing_never_evaluates(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("eval/exec called while parsing")

    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    parse("sum(exp(x) * w[0], axis=0) + 2 ** 3")
    for text, _ in HOSTILE:
        with pytest.raises(gc.ParseError):
            parse(text)


# --- hypothesis: garbage in, ParseError out ---------------------------------------------


def _parse_or_parse_error(text):
    try:
        result = parse(text)
    except gc.ParseError:
        return None
    assert isinstance(result.expr, gc.Symbol)
    assert all(isinstance(v, gc.Symbol) and v.op == "var" for v in result.vars.values())
    return result


@given(st.text(max_size=60))
def test_garbage_strings(text):
    _parse_or_parse_error(text)


TOKENS = [
    "x",
    "w",
    "1",
    "0",
    "-1",
    "2.5",
    "1e308",
    "9" * 25,
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "...",
    ".",
    "*",
    "**",
    "+",
    "-",
    "/",
    "@",
    "<",
    "==",
    "=",
    "'",
    '"',
    "\\",
    "\n",
    "é",
    "_",
    "__class__",
    "import",
    "lambda",
    "sum(",
    "exp(",
    "reshape(",
    "axis=",
    "None",
    "True",
    "gc.",
    "os.",
    " ",
    "#",
    "\x00",
    "j",
    "{",
    "}",
    "if",
    "for",
]
VALID = [
    "2*dot(x, x)",
    "sum(w, axis=0, keepdims=True)",
    "x[1:3] ** 2 - w[:, 0]",
    "stack([x, x], axis=-1)",
    "where(x > 0, x, -x)",
    "mean(3*(x+3)**2)",
    "reshape(w, (3, 2)) @ x[0:2]",
    "gc.tanh(x) / 2",
]


@given(
    st.sampled_from(VALID),
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 3), st.sampled_from(TOKENS)), max_size=4
    ),
)
def test_mutated_valid_expressions(text, edits):
    for position, cut, token in edits:
        i = position % (len(text) + 1)
        text = text[:i] + token + text[i + cut :]
    _parse_or_parse_error(text)


expressions = st.recursive(
    st.sampled_from(["x", "w", "1", "2.5", "-3", "True"]),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**", "@", ">"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(
            st.sampled_from(["exp", "sum", "tanh", "abs", "relu", "transpose", "norm"]), inner
        ).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(inner, st.sampled_from(["[0]", "[1:]", "[:, 0]", "[None]"])).map(
            lambda t: t[0] + t[1]
        ),
    ),
    max_leaves=8,
)


@given(expressions)
def test_random_well_formed_expressions(text):
    """Shape errors (x @ 1.0, w[:, 0] of a vector) are ParseErrors naming the call."""
    _parse_or_parse_error(text)


def test_every_whitelisted_function_is_a_gc_operation():
    from graphc import ops
    from graphc.parse import functions

    assert len(functions()) > 50
    for name in functions():
        assert callable(getattr(ops, name)), name
        assert getattr(gc, name, None) is getattr(ops, name), name


def test_parses_what_str_prints():
    """`.T`, `inf`/`nan` and list arguments, as `str` prints them."""
    y, xs = parse("(x + 1).T @ x - inf*x", shapes={"x": (2, 2)})
    x = np.array([[1.0, 2.0], [3.0, -4.0]])
    assert np.array_equal(y.eval(x=x)[0], (x + 1).T @ x - np.inf * x)
    z, _ = parse("stack([x, nan*x], axis=0)", shapes={"x": (2,)})
    assert np.array_equal(z.eval(x=np.ones(2))[0], [[1, 1], [np.nan, np.nan]], equal_nan=True)


def test_nested_tuple_keywords():
    """tensordot's axes print as a tuple of tuples and parse back."""
    y, _ = parse("tensordot(a, b, axes=((1, 2), (0, 1)))")
    assert str(y) == "tensordot(a, b, axes=((1, 2), (0, 1)))"


# --- control flow, as str prints it -------------------------------------------------


@pytest.mark.parametrize(
    "text,message",
    [
        ("fori_loop(0, 3, x, body=lambda i, h: h*y)[0]", "reads 'y', which is not one of its"),
        ("exp(x, body=lambda h: h)", "'exp' takes no lambda"),
        ("(t1 := exp(x))*t1", "an assignment expression is not allowed"),
        ("fori_loop(0, 3, x, body=lambda i, h, h: h)[0]", "param 'h' repeats"),
        ("fori_loop(0, 3, x, body=lambda i, h, a: h)[0]", "fori_loop: 3 inputs for a body"),
        ("while_loop(x, body=lambda h: h)[0]", "while_loop: missing cond"),
        ("scan(x, body=lambda h: h, n_carry=1, n_xs=0)[0]", "scan: the body takes"),
        ("cond(x > 0, x, true_fn=lambda v: v, false_fn=2)[0]", "false_fn must be a lambda"),
        ("fori_loop(0, 3, x, body=lambda i, h=1: h)[0]", "plain params only"),
        ("fori_loop(0, 3, x, body=lambda i, h: (h := h + 1))[0]", "'h' is already defined"),
    ],
)
def test_control_flow_text_errors_name_the_part(text, message):
    with pytest.raises(gc.ParseError, match=re.escape(message)):
        parse(text)


def test_a_printed_loop_runs_the_same_with_names_shadowed_and_defined_inside():
    """Params shadow outer vars of the same name; `(t1 := ...)` names a part of the body."""
    back = parse("fori_loop(0, 3, x, a, body=lambda i, x, a: (t1 := tanh(a*x))*t1 + x)[0]")
    x, a = np.array([0.3, -0.1]), np.float64(0.5)
    want = x
    for _ in range(3):
        t = np.tanh(a * want)
        want = t * t + want
    np.testing.assert_allclose(back.expr.eval(x=x, a=a)[0], want)
    assert list(back.vars) == ["x", "a"]
