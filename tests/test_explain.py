"""`gc.explain`: the chain rule step by step (issue 14, items 1 and 2).

Known graphs: the seed's `2 * dot(x, x)`, a two-layer network, the 3-step recurrence
`h = tanh(a*h + x_t)`; each zero-gradient reason with the user lines it names; the text, HTML
and record forms; the numbers with `at` against numpy.
"""

from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

import graphc as gc
from graphc.errors import GraphcError
from graphc.parse import parse

HERE = os.path.basename(__file__)


def here() -> int:
    """The caller's line number."""
    return inspect.currentframe().f_back.f_lineno


def rows(e, *keys):
    return [tuple(r[k] for k in keys) for r in e.records]


def test_seed_chain_rule_rows_and_text():
    x = gc.var("x", shape=(3,))
    e, line = gc.explain(2 * gc.dot(x, x), x), here()
    assert rows(
        e, "step", "op", "node", "adjoint", "input", "local_derivative", "contribution"
    ) == [
        (1, "multiply", "2*dot(x, x)", "1", "dot(x, x)", "2", "2"),
        (2, "dot", "dot(x, x)", "2", "x", "x", "2*x"),
        (2, "dot", "dot(x, x)", "2", "x", "x", "2*x"),
    ]
    assert {r["line"] for r in e.records} == {f"{__file__}:{line}"}
    assert [r["position"] for r in e.records] == [1, 0, 1]
    assert str(e["x"].after) == "4*x"
    place = f"{HERE}:{line}"
    pad = " " * (len(place) - 4)
    expected = f"""\
chain rule for 2*dot(x, x): the reverse pass, in the order it runs
(adjoint: the gradient of the output with respect to the node; contribution: what the step sends to the input)
step  line{pad}  op        node         adjoint  input      local derivative  contribution
----  {"-" * len(place)}  --------  -----------  -------  ---------  ----------------  ------------
   1  {place}  multiply  2*dot(x, x)  1        dot(x, x)  2                 2
   2  {place}  dot       dot(x, x)    2        x          x                 2*x
{" " * (len(place) + 40)}x          x                 2*x

gradients:
  d/dx = 4*x

what simplification did:
"""
    expected = "\n".join(line.rstrip() for line in expected.splitlines()) + "\n"
    text = str(e)
    assert text.startswith(expected), text
    assert "d/dx  " in text and "operations after each pass: derived" in text


def _network():
    X, Y = gc.var("X", shape=(4, 3)), gc.var("Y", shape=(4, 2))
    W1, b1 = gc.var("W1", shape=(3, 5)), gc.var("b1", shape=(5,))
    W2, b2 = gc.var("W2", shape=(5, 2)), gc.var("b2", shape=(2,))
    h, line_h = gc.tanh(X @ W1 + b1), here()
    out, line_out = h @ W2 + b2, here()
    loss, line_loss = gc.mean((out - Y) ** 2), here()
    return loss, (W1, b1, W2, b2), (line_h, line_out, line_loss)


def test_two_layer_network_steps():
    loss, params, (lh, lo, ll) = _network()
    e = gc.explain(loss, list(params))
    ops = [s.node.op for s in e.steps]
    assert ops == ["mean", "power", "subtract", "add", "matmul", "tanh", "add", "matmul"]
    lines = [int(s.line.rsplit(":", 1)[1]) for s in e.steps]
    assert lines == [ll, ll, ll, lo, lo, lh, lh, lh]
    recs = {(r["step"], r["input"]): r for r in e.records}
    tanh = recs[(6, "b1 + X @ W1")]
    assert tanh["local_derivative"] == "1 - tanh(b1 + X @ W1)**2"
    assert tanh["contribution"].startswith("(1 - tanh(b1 + X @ W1)**2)*")
    # matmul: one contribution per input, its local derivative a map of the adjoint g
    assert recs[(5, "tanh(b1 + X @ W1)")]["local_derivative"] == "g -> g @ W2.T"
    assert recs[(5, "W2")]["local_derivative"] == "g -> tanh(b1 + X @ W1).T @ g"
    assert recs[(8, "W1")]["local_derivative"] == "g -> X.T @ g"
    # the broadcast bias: local derivative 1, its contribution summed over the batch
    assert recs[(4, "b2")]["local_derivative"] == "1"
    assert recs[(4, "b2")]["contribution"].startswith("sum(")
    assert recs[(4, "b2")]["contribution"].endswith(", axis=0)")
    assert recs[(2, "b2 + tanh(b1 + X @ W1) @ W2 - Y")]["local_derivative"] == (
        "2*(b2 + tanh(b1 + X @ W1) @ W2 - Y)"
    )
    assert [r.name for r in e] == ["W1", "b1", "W2", "b2"]
    assert str(e["b2"].after) == "sum((b2 + tanh(b1 + X @ W1) @ W2 - Y)/4, axis=0)"
    assert e.zero_reasons == {}


def test_two_layer_network_numbers_against_numpy():
    loss, params, _ = _network()
    rng = np.random.default_rng(0)
    at = {
        "X": rng.normal(size=(4, 3)),
        "Y": rng.normal(size=(4, 2)),
        "W1": rng.normal(size=(3, 5)),
        "b1": rng.normal(size=5),
        "W2": rng.normal(size=(5, 2)),
        "b2": rng.normal(size=2),
    }
    e = gc.explain(loss, list(params), at=at)
    pre = at["X"] @ at["W1"] + at["b1"]
    h = np.tanh(pre)
    r = h @ at["W2"] + at["b2"] - at["Y"]
    g_out = 2 * r / r.size
    g_h = g_out @ at["W2"].T
    g_pre = g_h * (1 - h**2)
    expected = {"W1": at["X"].T @ g_pre, "b1": g_pre.sum(0), "W2": h.T @ g_out, "b2": g_out.sum(0)}
    for name, value in expected.items():
        np.testing.assert_allclose(e[name].value, value, rtol=1e-12)
    recs = {(x["step"], x["input"]): x for x in e.records}
    np.testing.assert_allclose(recs[(6, "b1 + X @ W1")]["adjoint_value"], g_h, rtol=1e-12)
    np.testing.assert_allclose(recs[(6, "b1 + X @ W1")]["contribution_value"], g_pre, rtol=1e-12)
    np.testing.assert_allclose(recs[(4, "b2")]["contribution_value"], g_out.sum(0), rtol=1e-12)
    assert recs[(1, "(b2 + tanh(b1 + X @ W1) @ W2 - Y)**2")]["adjoint_value"] == 1
    text = str(e)
    assert "adjoint value" in text and "contribution value" in text
    # small arrays in full, larger ones by shape, min, max and norm
    b2_row = next(line for line in text.splitlines() if line.strip().startswith("b2 "))
    assert "[" in b2_row
    w = g_pre
    summary = f"shape (4, 5), min {w.min():.4g}, max {w.max():.4g}, norm {np.linalg.norm(w):.4g}"
    assert summary in text
    assert "d/db2 = sum((b2 + tanh(b1 + X @ W1) @ W2 - Y)/4, axis=0)  = [" in text


def test_recurrence_steps_and_numbers():
    a, h = gc.var("a"), gc.var("h")
    xs = [gc.var(f"x{t}") for t in range(3)]
    lines = []
    for t in range(3):
        h = gc.tanh(a * h + xs[t])
        lines.append(here() - 1)
    values = {"a": 0.7, "h": 0.3, "x0": 0.5, "x1": -1.0, "x2": 2.0}
    e = gc.explain(h, [a, "x0"], at=values)
    assert [s.node.op for s in e.steps] == ["tanh", "add", "multiply"] * 3
    assert [int(s.line.rsplit(":", 1)[1]) for s in e.steps] == [
        line for line in reversed(lines) for _ in range(3)
    ]
    tanh_rows = [r for r in e.records if r["op"] == "tanh"]
    assert [r["local_derivative"] for r in tanh_rows] == [f"1 - {r['node']}**2" for r in tanh_rows]
    assert tanh_rows[-1]["local_derivative"] == "1 - tanh(a*h + x0)**2"
    # each multiply sends a contribution to a and one to the previous state (none to the
    # initial state h: it is not differentiated)
    mult = [
        (r["step"], r["input"], r["local_derivative"]) for r in e.records if r["op"] == "multiply"
    ]
    assert mult[-3:] == [(6, "a", "tanh(a*h + x0)"), (6, "tanh(a*h + x0)", "a"), (9, "a", "h")]
    # numpy: the forward pass, then the adjoints backwards
    hs, h_ = [values["h"]], values["h"]
    for t in range(3):
        h_ = np.tanh(values["a"] * h_ + values[f"x{t}"])
        hs.append(h_)
    g, ga, adjoints = 1.0, 0.0, []
    for t in reversed(range(3)):
        adjoints.append(g)
        g = g * (1 - hs[t + 1] ** 2)
        ga += g * hs[t]
        g = g * values["a"]
    assert [s.adjoint_value for s in e.steps if s.node.op == "tanh"] == pytest.approx(adjoints)
    to_a = [r["contribution_value"] for r in e.records if r["input"] == "a"]
    assert sum(to_a) == pytest.approx(ga) == float(e["a"].value)
    assert float(e["x0"].value) == pytest.approx(g / values["a"])


def test_undeclared_shapes_print_public_names():
    u, b = gc.var("u"), gc.var("b")
    e = gc.explain(gc.sum(gc.tanh(u) * u + b), [u, b])
    recs = {(r["op"], r["input"]): r for r in e.records}
    assert recs[("tanh", "u")]["local_derivative"] == "1 - tanh(u)**2"
    assert recs[("add", "b")]["contribution"] == "sum_to(ones_like(b + u*tanh(u)), b)"
    for r in e.records:  # every expression is public gc text that parses back
        for key in ("node", "adjoint", "input", "contribution"):
            parse(r[key])


def test_html_and_records_forms():
    x = gc.var("x", shape=(3,))
    W = gc.var("W", shape=(2, 3))
    z = gc.var("z")
    e = gc.explain(
        gc.sum(W @ x) + gc.stop_gradient(z),
        [W, z],
        at={"W": np.ones((2, 3)), "x": np.arange(3.0), "z": 1.0},
    )
    html = e._repr_html_()
    assert html.count("<table>") == 2
    assert "<th>local derivative</th>" in html and "<th>contribution value</th>" in html
    assert "<code>g -&gt; outer(g, x)</code>" in html
    assert "why <code>d/dz</code> is zero" in html
    rec = e.records[-1]
    assert set(rec) == {
        "step",
        "line",
        "origin",
        "op",
        "node",
        "adjoint",
        "input",
        "position",
        "local_derivative",
        "contribution",
        "adjoint_value",
        "contribution_value",
    }
    np.testing.assert_array_equal(rec["contribution_value"], np.outer(np.ones(2), np.arange(3.0)))
    assert rec["origin"][0] == __file__
    assert [s.node.op for s in e.steps] == ["add", "stop_gradient", "sum", "matmul"]
    assert repr(e.steps[-1]).startswith("<Step 4 matmul at ")
    # stop_gradient's rule sends nothing: a zero local derivative and contribution
    assert rows(e, "op", "local_derivative", "contribution", "contribution_value")[2] == (
        "stop_gradient",
        "0",
        "0",
        0.0,
    )


def test_no_path():
    x, z = gc.var("x", shape=(2,)), gc.var("z")
    e = gc.explain(gc.sum(x * 2), [x, z])
    reason = e.zero_reasons["z"]
    assert reason["kind"] == "no_path" and reason["blockers"] == []
    assert reason["message"] == "no path from z to the output: sum(2*x) does not depend on it"
    assert list(e.zero_reasons) == ["z"]
    assert "why d/dz is zero: no path from z" in str(e)


def test_stop_gradient_and_detach_on_every_path():
    x, z = gc.var("x", shape=(2,)), gc.var("z", shape=(2,))
    s, ls = gc.stop_gradient(z), here()
    d, ld = z.detach(), here()
    e = gc.explain(gc.sum(s * x) + gc.sum(d + x), [z, x])
    reason = e.zero_reasons["z"]
    assert reason["kind"] == "stop_gradient"
    assert [(b["op"], b["line"]) for b in reason["blockers"]] == [
        ("stop_gradient", f"{__file__}:{ls}"),
        ("stop_gradient", f"{__file__}:{ld}"),
    ]
    assert reason["message"] == (
        "every path from z to the output passes a stop_gradient/detach: "
        f"stop_gradient(z) at {HERE}:{ls}; stop_gradient(z) at {HERE}:{ld}"
    )
    assert "x" not in e.zero_reasons


def test_integer_cast_or_comparison_on_every_path():
    x, z = gc.var("x", shape=(2,)), gc.var("z", shape=(2,))
    i, li = z.astype(int), here()
    k, lk = z > 0, here()
    e = gc.explain(gc.sum(x * i) + gc.sum(gc.where(k, x, 1.0)), z)
    reason = e.zero_reasons["z"]
    assert reason["kind"] == "integer"
    assert [(b["kind"], b["op"], b["line"]) for b in reason["blockers"]] == [
        ("integer", "astype", f"{__file__}:{li}"),
        ("comparison", "greater", f"{__file__}:{lk}"),
    ]
    assert f"z > 0 at {HERE}:{lk}" in reason["message"]
    assert "an integer cast" in reason["message"] and "a comparison" in reason["message"]


def test_piecewise_constant_on_every_path_and_mixed_blockers():
    x, z = gc.var("x", shape=(2,)), gc.var("z", shape=(2,))
    f, lf = gc.floor(z), here()
    e = gc.explain(gc.sum(f * x), z)
    reason = e.zero_reasons["z"]
    assert reason["kind"] == "flat"
    assert [(b["op"], b["line"]) for b in reason["blockers"]] == [("floor", f"{__file__}:{lf}")]
    s, ls = gc.sign(z), here()
    e = gc.explain(gc.sum(f * x) + gc.sum(s) + gc.sum(z.detach()), z)
    reason = e.zero_reasons["z"]
    assert reason["kind"] == "blocked"
    assert {(b["op"], b["line"]) for b in reason["blockers"]} == {
        ("floor", f"{__file__}:{lf}"),
        ("sign", f"{__file__}:{ls}"),
        ("stop_gradient", f"{__file__}:{ls + 1}"),
    }


@pytest.mark.parametrize(
    "op, args", [("relu", ()), ("clip", (0.5, 2.0)), ("maximum", (5.0,)), ("minimum", (-5.0,))]
)
def test_flat_side_at_values(op, args):
    x, c = gc.var("x", shape=(3,)), gc.var("c")
    y, line = gc.sum(getattr(gc, op)(x, *args)) + c, here()
    at = {"x": np.array([-1.0, -2.0, -3.0]), "c": 1.0}
    e = gc.explain(y, [x, c], at=at)
    assert list(e.zero_reasons) == ["x"]
    reason = e.zero_reasons["x"]
    assert reason["kind"] == "flat"
    assert [(b["op"], b["line"]) for b in reason["blockers"]] == [(op, f"{__file__}:{line}")]
    assert "= [-1, -2, -3]" in reason["blockers"][0]["detail"]
    np.testing.assert_array_equal(e["x"].value, 0)
    # without values nothing is claimed: the gradient is not zero everywhere
    assert gc.explain(y, [x, c]).zero_reasons == {}


def test_max_not_selected_is_named_through_the_stack():
    x, c = gc.var("x", shape=(3,)), gc.var("c")
    y, line = gc.max(gc.stack([gc.sum(x), c])), here()
    e = gc.explain(y, x, at={"x": np.array([-1.0, -2.0, -3.0]), "c": 1.0})
    (blocker,) = e.zero_reasons["x"]["blockers"]
    assert (blocker["op"], blocker["line"]) == ("max", f"{__file__}:{line}")
    assert blocker["detail"].endswith("= [-6, 1]")
    assert gc.explain(y, x, at={"x": np.ones(3), "c": 1.0}).zero_reasons == {}


def test_cancelling_contributions():
    x, c = gc.var("x", shape=(2,)), gc.var("c")
    e = gc.explain(gc.sum(x * c - c * x) + c, x, at={"x": np.ones(2), "c": 2.0})
    reason = e.zero_reasons["x"]
    assert reason["kind"] == "cancel" and "cancel" in reason["message"]


def test_at_errors():
    x = gc.var("x", shape=(2,))
    with pytest.raises(GraphcError, match="at must be a dict"):
        gc.explain(gc.sum(x), x, at=[1.0, 2.0])
    with pytest.raises(GraphcError):
        gc.explain(gc.sum(x * gc.var("w")), x, at={"x": np.ones(2)})


def test_tuple_valued_nodes_and_heads():
    x = gc.var("x", shape=(3,))
    # a loop's adjoint is a tuple (one per carry): its rows show it, with no local derivative
    h = gc.fori_loop(0, 3, lambda i, h: gc.tanh(h * x), x)
    e = gc.explain(gc.sum(h), x, at={"x": np.full(3, 0.5)})
    assert [s.node.op for s in e.steps] == ["sum", "get", "fori_loop"]
    assert e.steps[1].contributions[0].text.startswith("(ones_like(x), 0")
    loop_rows = [r for r in e.records if r["op"] == "fori_loop"]
    assert {r["local_derivative"] for r in loop_rows} == {""}
    total = sum(r["contribution_value"] for r in loop_rows)
    np.testing.assert_allclose(total, e["x"].value, rtol=1e-12)
    # qr sends a tuple of cotangents through get
    A = gc.var("A", shape=(3, 3))
    e = gc.explain(gc.sum(gc.qr(A)[1]), A, at={"A": np.eye(3) + 0.1})
    assert [s.node.op for s in e.steps] == ["sum", "get", "qr"]
    # a head: the gradient of sum(y * head)
    e = gc.explain(gc.tanh(x), x, head=np.array([1.0, 2.0, 3.0]), at={"x": np.zeros(3)})
    assert e.records[0]["adjoint_value"].tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_allclose(e["x"].value, [1.0, 2.0, 3.0])
