"""``python -m graphc demo``: the worked examples end to end.

Each section defines a graph, prints it, derives its gradient (before and after
simplification), shows the emitted numpy code where it teaches something, runs it, and puts
the results next to the same computation in eager mode (`graphc.eager`, PyTorch-like) and the
value the tutorials expect. A section that fails is reported and the demo goes on; the exit
status is 1 if anything failed or disagreed.
"""

from __future__ import annotations

import sys
import time
import traceback

import numpy as np

import graphc as gc

from .ir import toposort
from .printing import assign, one_line

_WIDTH = 24


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    arr = np.asarray(value)
    text = np.array2string(
        arr, precision=4, suppress_small=True, separator=", ", max_line_width=10_000
    ).replace("\n", "")
    return text if len(text) <= _WIDTH else text[: _WIDTH - 3] + "..."


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(one_line(str(text)).split())
    return text if len(text) <= limit else text[: limit - 5] + " ... "


def _count(sym) -> int:
    return sum(1 for n in toposort(gc.ir.flatten_outputs(sym)) if n.op not in ("var", "const"))


class Demo:
    """Printing helpers shared by the sections; records failures instead of raising."""

    def __init__(self, out, eager: bool):
        self.out = out
        self.failures: list[str] = []
        self.E = None
        self.eager_note = "eager mode switched off (--no-eager)"
        if eager:
            try:
                from . import eager as eager_module

                self.E = eager_module
            except Exception as exc:  # eager mode is optional for the demo
                self.eager_note = f"eager mode unavailable ({type(exc).__name__}: {exc})"

    def say(self, text: str = "") -> None:
        print(text, file=self.out)

    def heading(self, number: int, title: str) -> None:
        self.say()
        self.say(f"== {number}. {title} " + "=" * max(0, 70 - len(title)))

    def graph(self, label: str, sym) -> None:
        self.say(f"  graph      {_short(assign(label, str(sym)))}")

    def gradient(self, y, x, label: str, head=None):
        """Print the derived and the simplified gradient; return the simplified one."""
        derived = gc.grad(y, x, head=head, simplify=False)
        simplified = gc.grad(y, x, head=head)
        self.say(f"  derived    {_short(assign(label, str(derived)))}   [{_count(derived)} ops]")
        self.say(
            f"  simplified {_short(assign(label, str(simplified)))}   [{_count(simplified)} ops]"
        )
        return simplified

    def bound(self, y, data: dict, names) -> None:
        """Print the gradients an executor bound to `data` computes: specialised to the
        data's shapes, they read as the textbook writes them."""
        exprs = y.bind({k: np.asarray(v, dtype=float) for k, v in data.items()}).grad_exprs()
        for name in names:
            self.say(f"  bound      {_short(assign(f'd/d{name}', str(exprs[name])))}")

    def source(self, fn, title: str = "emitted numpy code") -> None:
        self.say(f"  {title}:")
        for line in fn.source.rstrip().splitlines():
            self.say("    | " + line)

    def eager(self, compute):
        """Run `compute(eager_module)`; None (with a note) when eager mode is missing."""
        if self.E is None:
            return None
        try:
            return compute(self.E)
        except Exception as exc:
            self.say(f"  eager: failed ({type(exc).__name__}: {_short(exc, 100)})")
            return None

    def compare(self, rows) -> None:
        """rows: (quantity, graphc value, eager value or None, expected value or None)."""
        self.say(
            f"  {'quantity':<14}{'graphc (compiled)':<{_WIDTH + 2}}"
            f"{'eager':<{_WIDTH + 2}}{'expected':<{_WIDTH + 2}}"
        )
        for name, got, eager_value, expected in rows:
            ok = all(_close(got, other) for other in (eager_value, expected) if other is not None)
            mark = "ok" if ok else "MISMATCH"
            if not ok:
                self.failures.append(
                    f"{name}: graphc {_fmt(got)}, eager {_fmt(eager_value)}, "
                    f"expected {_fmt(expected)}"
                )
            self.say(
                f"  {name:<14}{_fmt(got):<{_WIDTH + 2}}{_fmt(eager_value):<{_WIDTH + 2}}"
                f"{_fmt(expected):<{_WIDTH + 2}}{mark}"
            )


def _close(a, b) -> bool:
    try:
        return bool(
            np.allclose(
                np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-5, atol=1e-6
            )
        )
    except Exception:
        return False


def _numpy(t):
    return None if t is None else np.array(t.numpy() if hasattr(t, "numpy") else t)


# --- the sections --------------------------------------------------------------------------


def dot_example(d: Demo) -> None:
    """y = 2 x.x, the first example of the autograd tutorial."""
    x = gc.var("x")
    y = 2 * gc.dot(x, x)
    d.graph("y", y)
    g = d.gradient(y, x, "dy/dx")
    f = gc.compile([x], [y, g])
    yv, gv = f(np.arange(4.0))
    d.source(f)

    def eager(E):
        xt = E.arange(4.0, requires_grad=True)
        yt = 2 * gc.dot(xt, xt)
        yt.backward()
        return _numpy(yt), _numpy(xt.grad)

    ye, ge = d.eager(eager) or (None, None)
    d.compare([("y", yv, ye, 28.0), ("dy/dx", gv, ge, [0.0, 4.0, 8.0, 12.0])])


def sum_and_head_example(d: Demo) -> None:
    """sum(x) gives ones; x*x with a head of ones (PyTorch's backward(gradient=...))."""
    x = gc.var("x")
    xv = np.arange(4.0)
    y1 = gc.sum(x)
    d.graph("y", y1)
    g1 = d.gradient(y1, x, "dy/dx")
    y2 = x * x
    d.graph("y", y2)
    g2 = d.gradient(y2, x, "vjp(ones)", head=gc.ones_like(x))
    f = gc.compile([x], [g1, g2])
    g1v, g2v = f(xv)

    def eager(E):
        xt = E.arange(4.0, requires_grad=True)
        xt.sum().backward()
        first = _numpy(xt.grad)
        xt.grad.zero_()
        (xt * xt).backward(gradient=E.ones(4))
        return first, _numpy(xt.grad)

    e1, e2 = d.eager(eager) or (None, None)
    d.compare([("d sum(x)/dx", g1v, e1, np.ones(4)), ("x*x, head 1", g2v, e2, 2 * xv)])


def detach_example(d: Demo) -> None:
    """z = u*x with u = (x*x).detach(): the gradient treats u as a constant."""
    x = gc.var("x")
    y = x * x
    u = y.detach()
    z = u * x
    d.graph("z", z)
    gz = d.gradient(gc.sum(z), x, "d sum(z)/dx")
    gy = d.gradient(gc.sum(y), x, "d sum(y)/dx")
    xv = np.arange(4.0)
    gzv, gyv = gc.compile([x], [gz, gy])(xv)

    def eager(E):
        xt = E.arange(4.0, requires_grad=True)
        yt = xt * xt
        zt = yt.detach() * xt
        zt.sum().backward()
        first = _numpy(xt.grad)
        xt.grad.zero_()
        yt.sum().backward()
        return first, _numpy(xt.grad)

    e1, e2 = d.eager(eager) or (None, None)
    d.compare([("dz/dx = u", gzv, e1, xv * xv), ("dy/dx = 2x", gyv, e2, 2 * xv)])


def backward_examples(d: Demo) -> None:
    """mean(3*(a+3)**2) at [2, 3]; n = [m0**2, m1**3] with head [1, 1]."""
    a = gc.var("a")
    out = gc.mean(3 * (a + 3) ** 2)
    d.graph("out", out)
    ga = d.gradient(out, a, "d out/da")
    m = gc.var("m", shape=(2,))
    n = gc.stack([m[0] ** 2, m[1] ** 3])
    d.graph("n", n)
    gm = d.gradient(n, m, "vjp([1, 1])", head=np.ones(2))
    gav = gc.compile([a], ga)(np.array([2.0, 3.0]))
    gmv = gc.compile([m], gm)(np.array([2.0, 3.0]))

    def eager(E):
        at = E.tensor([2.0, 3.0], requires_grad=True)
        gc.mean(3 * (at + 3) ** 2).backward()
        mt = E.tensor([2.0, 3.0], requires_grad=True)
        gc.stack([mt[0] ** 2, mt[1] ** 3]).backward(gradient=E.tensor([1.0, 1.0]))
        return _numpy(at.grad), _numpy(mt.grad)

    e1, e2 = d.eager(eager) or (None, None)
    d.compare([("d out/da", gav, e1, [15.0, 18.0]), ("d n/dm", gmv, e2, [4.0, 27.0])])


def mxnet_example(d: Demo) -> None:
    """MXNet's explicit construction: c = 2*a + b, data bound later."""
    a = gc.var("a")
    b = gc.var("b")
    c = 2 * a + b
    d.graph("c", c)
    d.say(f"  arguments  {c.list_arguments()}   (bind data into a and b later)")
    args = {"a": np.ones((2, 1)), "b": np.ones((2, 1))}
    try:
        exe = c.bind(args)
        first = np.array(exe.forward()[0])
        exe.arg_dict["a"][...] = 2.0  # bound by reference: the next forward sees it
        second = np.array(exe.forward()[0])
        d.say(
            "  bound with c.bind({'a': ones((2, 1)), 'b': ones((2, 1))}), then "
            "exe.arg_dict['a'][...] = 2"
        )
    except Exception as exc:  # bind arrives with graphc.executor
        d.say(f"  (bind unavailable: {type(exc).__name__}; using gc.compile)")
        f = gc.compile([a, b], c)
        first, second = f(**args), f(a=2 * args["a"], b=args["b"])

    def eager(E):
        at, bt = E.ones((2, 1)), E.ones((2, 1))
        return _numpy(2 * at + bt), _numpy(2 * (2 * at) + bt)

    e1, e2 = d.eager(eager) or (None, None)
    d.compare(
        [("c", first, e1, np.full((2, 1), 3.0)), ("c, a = 2", second, e2, np.full((2, 1), 5.0))]
    )


def linear_regression_grad(d: Demo) -> None:
    """The JAX/torch.autograd.grad seed: d loss / d theta at theta = 0."""
    X = np.array([1.0, 2, 3, 4, 5, 6])
    Y = np.array([13.0, 14, 20, 21, 25, 30])
    t0, t1 = gc.var("theta0"), gc.var("theta1")
    x, y = gc.var("X"), gc.var("Y")
    loss = gc.sum((t0 + t1 * x - y) ** 2) / (2 * len(X))
    d.graph("loss", loss)
    g0 = d.gradient(loss, t0, "d/dtheta0")
    g1 = d.gradient(loss, t1, "d/dtheta1")
    d.bound(loss, {"theta0": 0.0, "theta1": 0.0, "X": X, "Y": Y}, ["theta0", "theta1"])
    f = gc.compile([t0, t1, x, y], [loss, g0, g1])
    lv, g0v, g1v = f(0.0, 0.0, X, Y)
    d.source(f)
    if hasattr(gc, "value_and_grad"):
        vg = gc.value_and_grad(
            lambda a, b, xx, yy: gc.sum((a + b * xx - yy) ** 2) / (2 * 6), argnums=(0, 1)
        )
        value, grads = vg(np.float64(0.0), np.float64(0.0), X, Y)
        d.say(
            f"  value_and_grad(argnums=(0, 1)) -> {_fmt(value)}, "
            f"({_fmt(grads[0])}, {_fmt(grads[1])})"
        )

    def eager(E):
        a = E.tensor(0.0, requires_grad=True)
        b = E.tensor(0.0, requires_grad=True)
        lt = gc.sum((a + b * E.tensor(X) - E.tensor(Y)) ** 2) / (2 * len(X))
        ga, gb = E.grad(lt, [a, b])
        return _numpy(lt), _numpy(ga), _numpy(gb)

    le, g0e, g1e = d.eager(eager) or (None, None, None)
    d.compare(
        [
            ("loss", lv, le, np.sum(Y**2) / 12),
            ("d/dtheta0", g0v, g0e, -20.5),
            ("d/dtheta1", g1v, g1e, -490.0 / 6),
        ]
    )


def descent_example(d: Demo) -> None:
    """Gradient descent on w**2 + 20: 500 steps from 10 with rate 0.01."""
    w = gc.var("w")
    loss = w**2 + 20
    d.graph("loss", loss)
    g = d.gradient(loss, w, "dloss/dw")
    step = gc.compile([w], w - 0.01 * g)
    d.source(step, "emitted update step")
    wv = np.float64(10.0)
    for _ in range(500):
        wv = step(wv)
    w2 = gc.var("w2")
    two = gc.compile([w2], w2 - 0.01 * gc.grad(gc.sum(2 * w2**2), w2))(np.array([10.0, 20.0]))

    def eager(E):
        wt = E.tensor(10.0, requires_grad=True)
        for _ in range(500):
            if wt.grad is not None:
                wt.grad.zero_()
            (wt**2 + 20).sum().backward()
            wt.data = wt.data - 0.01 * wt.grad.data
        w2t = E.tensor([10.0, 20.0], requires_grad=True)
        (2 * w2t**2).sum().backward()
        return _numpy(wt), _numpy(w2t.data - 0.01 * w2t.grad.data)

    we, twoe = d.eager(eager) or (None, None)
    d.compare([("w after 500", wv, we, 10 * 0.98**500), ("2w**2, 1 step", two, twoe, [9.6, 19.2])])


def _train(d: Demo, params: dict, loss, data: dict, steps: int, rate: float, report):
    """Gradient descent with one compiled program returning the loss and the gradients."""
    names = list(params)
    variables = [params[n] for n in names]
    grads = gc.grad(loss, variables)
    inputs = variables + [v for v in gc.ir.free_vars([loss]) if v.name not in params]
    f = gc.compile(inputs, [loss] + grads)
    values = {n: np.array(v) for n, v in report["init"].items()}
    history = []
    for i in range(steps + 1):
        out = f(**values, **data)
        if i in report["at"]:
            history.append((i, float(out[0])))
        if i < steps:
            for n, gv in zip(names, out[1:]):
                values[n] = values[n] - rate * gv
    return f, values, history


def linear_regression_training(d: Demo) -> None:
    """mse_loss(x @ w + b, y): the torch seed's gradients, then training by descent."""
    rng = np.random.default_rng(0)
    x, w, b, y = gc.var("x"), gc.var("w"), gc.var("b"), gc.var("y")
    loss = gc.mse_loss(x @ w + b, y)
    d.graph("loss", loss)
    gw = d.gradient(loss, w, "dloss/dw")
    d.gradient(loss, b, "dloss/db")
    xs, ys = np.ones((2, 5)), np.zeros((2, 3))
    w0, b0 = rng.normal(size=(5, 3)), rng.normal(size=3)
    d.bound(loss, {"x": xs, "w": w0, "b": b0, "y": ys}, ["w", "b"])
    gwv = gc.compile([x, w, b, y], gw)(xs, w0, b0, ys)
    hand = xs.T @ (2 * (xs @ w0 + b0 - ys) / ys.size)
    d.compare([("dloss/dw", gwv, None, hand)])

    true_w, true_b = np.array([[2.0], [-3.0], [0.5]]), np.array([1.0])
    xd = rng.normal(size=(100, 3))
    yd = xd @ true_w + true_b + 0.01 * rng.normal(size=(100, 1))
    init = {"w": np.zeros((3, 1)), "b": np.zeros(1)}
    report = {"init": init, "at": (0, 10, 50, 200)}
    f, final, history = _train(d, {"w": w, "b": b}, loss, {"x": xd, "y": yd}, 200, 0.1, report)
    d.source(f, "emitted training step (loss and gradients in one program)")
    d.say("  loss by step: " + ", ".join(f"{i}: {v:.5f}" for i, v in history))

    def eager(E):
        wt = E.tensor(np.zeros((3, 1)), requires_grad=True)
        bt = E.tensor(np.zeros(1), requires_grad=True)
        xt, yt = E.tensor(xd), E.tensor(yd)
        for _ in range(200):
            lt = gc.mse_loss(xt @ wt + bt, yt)
            gw_, gb_ = E.grad(lt, [wt, bt])
            with E.no_grad():
                wt = (wt - 0.1 * gw_).detach().requires_grad_()
                bt = (bt - 0.1 * gb_).detach().requires_grad_()
        return _numpy(wt), _numpy(bt)

    we, be = d.eager(eager) or (None, None)
    d.compare(
        [
            ("w", final["w"].ravel(), None if we is None else we.ravel(), None),
            ("b", final["b"], be, None),
        ]
    )
    d.say(
        f"  true w = {true_w.ravel().tolist()}, b = {true_b.tolist()}; fitted w = "
        f"{np.round(final['w'].ravel(), 3).tolist()}, b = {np.round(final['b'], 3).tolist()}"
    )
    if not np.allclose(final["w"], true_w, atol=0.05):
        d.failures.append("linear regression did not fit")


def mlp_training(d: Demo) -> None:
    """A 2-16-1 tanh network fitting sin(x0) * cos(x1) by gradient descent."""
    rng = np.random.default_rng(1)
    x, y = gc.var("x"), gc.var("y")
    w1, b1, w2, b2 = gc.var("w1"), gc.var("b1"), gc.var("w2"), gc.var("b2")
    hidden = gc.tanh(x @ w1 + b1)
    loss = gc.mse_loss(hidden @ w2 + b2, y)
    d.graph("loss", loss)
    d.gradient(loss, w1, "dloss/dw1")
    xd = rng.uniform(-2, 2, size=(128, 2))
    yd = (np.sin(xd[:, 0]) * np.cos(xd[:, 1]))[:, None]
    init = {
        "w1": rng.normal(size=(2, 16)) * 0.8,
        "b1": np.zeros(16),
        "w2": rng.normal(size=(16, 1)) * 0.3,
        "b2": np.zeros(1),
    }
    params = {"w1": w1, "b1": b1, "w2": w2, "b2": b2}
    steps, rate = 400, 0.2
    report = {"init": init, "at": (0, 100, 200, 400)}
    f, final, history = _train(d, params, loss, {"x": xd, "y": yd}, steps, rate, report)
    d.source(f, "emitted training step")
    d.say("  loss by step: " + ", ".join(f"{i}: {v:.5f}" for i, v in history))

    def eager(E):
        ps = {n: E.tensor(v, requires_grad=True) for n, v in init.items()}
        xt, yt = E.tensor(xd), E.tensor(yd)
        last = None
        for _ in range(steps + 1):
            for p in ps.values():
                p.grad = None
            lt = gc.mse_loss(gc.tanh(xt @ ps["w1"] + ps["b1"]) @ ps["w2"] + ps["b2"], yt)
            last = lt.item()
            if _ == steps:
                break
            lt.backward()
            with E.no_grad():
                for p in ps.values():
                    p.data = p.data - rate * p.grad.data
        return last

    le = d.eager(eager)
    d.compare([("final loss", history[-1][1], le, None)])
    if not history[-1][1] < 0.5 * history[0][1]:
        d.failures.append("the MLP did not learn")


def control_flow_example(d: Demo) -> None:
    """The tutorial's f(a): a while loop and an if that depend on the data, written with
    @gc.function (Python control flow converted) or, without it, gc.while_loop and gc.cond."""
    if callable(getattr(gc, "function", None)):

        @gc.function
        def f(a):
            b = a * 2
            while gc.norm(b) < 1000:
                b = b * 2
            if gc.sum(b) > 0:
                c = b
            else:
                c = 100 * b
            return c

        d.say("  written with Python while/if under @gc.function")
    elif hasattr(gc, "while_loop") and hasattr(gc, "cond"):

        def f(a):
            b = gc.while_loop(lambda b: gc.norm(b) < 1000, lambda b: b * 2, a * 2)
            return gc.cond(gc.sum(b) > 0, lambda b: b, lambda b: 100 * b, b)

        d.say("  written with gc.while_loop and gc.cond (@gc.function is not in this build)")
    else:
        d.say("  (control flow is not available in this build)")
        return
    a = gc.var("a", shape=())
    dd = f(a)
    d.graph("d", dd)
    g = d.gradient(dd, a, "dd/da")
    fn = gc.compile([a], [dd, g])
    av = np.float64(np.random.default_rng(3).normal())
    dv, gv = fn(av)
    d.source(fn, "emitted numpy code (the loop keeps its trip count for the reverse pass)")
    back = gc.load_json(gc.Group([dd, g]).tojson())
    sv, sg = gc.compile([v for v in gc.ir.free_vars([back])], back)(av)
    d.say("  saved to JSON and loaded back: the loaded graph computes the same values")

    def eager(E):
        at = E.tensor(av, requires_grad=True)
        b = at * 2
        while b.norm() < 1000:
            b = b * 2
        c = b if b.sum() > 0 else 100 * b
        c.backward()
        return _numpy(c), _numpy(at.grad)

    de, ge = d.eager(eager) or (None, None)
    d.compare(
        [("d", dv, de, sv), ("dd/da = d/a", gv, ge, dv / av), ("loaded dd/da", sg, None, gv)]
    )


SECTIONS = [
    ("y = 2 * dot(x, x)  (autograd tutorial)", dot_example),
    ("sum(x), and x * x with a head of ones", sum_and_head_example),
    ("detach: z = u * x with u = (x * x).detach()", detach_example),
    ("backward with a gradient argument", backward_examples),
    ("MXNet sym.var: c = 2 * a + b, bind data later", mxnet_example),
    ("linear regression gradients (torch.autograd.grad / JAX seed)", linear_regression_grad),
    ("gradient descent on w**2 + 20", descent_example),
    ("linear regression trained by gradient descent", linear_regression_training),
    ("a small MLP trained by gradient descent", mlp_training),
    ("Python control flow: while and if on data", control_flow_example),
]


def run_demo(eager: bool = True, out=None) -> int:
    """Run every section; returns 0 when all ran and agreed, else 1."""
    out = out if out is not None else sys.stdout
    d = Demo(out, eager)
    start = time.perf_counter()
    d.say("graphc demo: define a graph, derive and simplify its gradient, emit numpy, run it,")
    d.say("and compare with eager mode (PyTorch semantics) and the tutorials' answers.")
    if d.E is None:
        d.say(f"({d.eager_note})")
    with np.errstate(all="ignore"):
        for number, (title, section) in enumerate(SECTIONS, 1):
            d.heading(number, title)
            before = len(d.failures)
            try:
                section(d)
            except Exception as exc:
                where = traceback.extract_tb(exc.__traceback__)[-1]
                d.failures.append(f"section {number} raised {type(exc).__name__}")
                d.say(
                    f"  !! this section failed: {type(exc).__name__}: {_short(exc, 200)} "
                    f"(at {where.filename}:{where.lineno})"
                )
            if len(d.failures) > before:
                d.say(f"  !! {len(d.failures) - before} problem(s) in this section")
    d.say()
    elapsed = time.perf_counter() - start
    if d.failures:
        d.say(f"demo finished in {elapsed:.1f}s with {len(d.failures)} problem(s):")
        for failure in d.failures:
            d.say(f"  - {failure}")
        return 1
    d.say(f"demo finished in {elapsed:.1f}s: every result agrees.")
    return 0
