"""`explain`: the chain rule of one output's gradients, step by step, as a printable table.

`gc.explain(y, wrt, at=None)` walks the reverse pass (graphc.chainrule) and says why a zero
gradient is zero (graphc.zero_reasons); it also keeps what simplification did to each
gradient (its forms before and after, with their operation counts: the summary at the end).
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np

from .autodiff import (
    as_symbols,
    check_differentiable,
    check_differentiable_output,
    grad,
    head_for,
    resolve,
)
from .chainrule import Step, evaluate, fill_values, flat, place, show_value, walk
from .dispatch import checks_call
from .errors import GraphcError
from .ir import Symbol
from .printing import check_symbol, one_line, to_str
from .simplify import count_ops, run
from .zero_reasons import numeric, structural


class GradientRow:
    """One gradient in an `Explanation`: its input, its forms and their operation counts."""

    __slots__ = ("wrt", "name", "before", "after", "ops_before", "ops_after", "value")

    def __init__(self, wrt, name, before, after, ops_before, ops_after):
        self.wrt = wrt
        self.name = name
        self.before = before
        self.after = after  # the simplified total gradient
        self.ops_before = ops_before
        self.ops_after = ops_after
        self.value = None  # its value, with `at`

    def __repr__(self):
        return (
            f"<GradientRow d/d{self.name}: {self.ops_before} ops -> {self.ops_after} ops: "
            f"{_short(to_str(self.after), 60)}>"
        )


def _short(text: str, width: int | None) -> str:
    text = " ".join(one_line(text).split())
    return text if width is None or len(text) <= width else text[: width - 1] + "…"


def _table(head: tuple, rows: list, right: tuple) -> list[str]:
    """Text lines of a table: the header, a rule and the rows, columns padded."""
    rows = [head] + rows
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]

    def line(cells):
        return "  ".join(
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)
        ).rstrip()

    return [line(head), "  ".join("-" * w for w in widths)] + [line(r) for r in rows[1:]]


def _html_table(head: tuple, rows: list, code: set) -> str:
    esc = html.escape
    top = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td><code>{esc(c)}</code></td>" if i in code and c else f"<td>{esc(c)}</td>"
            for i, c in enumerate(cells)
        )
        + "</tr>"
        for cells in rows
    )
    return f"<table><thead><tr>{top}</tr></thead><tbody>{body}</tbody></table>"


class Explanation:
    """The chain rule of one output's gradients, step by step: a printable table.

    `steps` holds the reverse pass in the order it runs (`graphc.chainrule.Step`: the node,
    the user's line that built it, its adjoint and one contribution per input, each with its
    local derivative); `records` the same as a list of dicts, one per contribution, for
    programs. `rows` holds one `GradientRow` per input: the total gradient (simplified) and
    what simplification did to it, its form and operation count before and after (iterate
    the explanation, or index it by position or by var name); `stages` the operation count
    of all gradients together after each pass. `zero_reasons` maps the name of each input
    whose gradient is zero to why (a dict: `kind`, `message`, `blockers`; see
    `graphc.zero_reasons`). With `at`, the steps and rows hold values too.
    """

    WIDTH = 60  # expression columns of the summary are cut to this many characters
    CELL = 40  # expression cells of the chain-rule table are cut to this many characters

    def __init__(self, output: Symbol, rows: list[GradientRow], stages: list[tuple[str, int]]):
        self.output = output
        self.rows = rows
        self.stages = stages
        self.steps: list[Step] = []
        self.zero_reasons: dict[str, dict] = {}
        self.at: Mapping | None = None

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, key):
        if isinstance(key, str):
            for row in self.rows:
                if row.name == key:
                    return row
            raise KeyError(key)
        return self.rows[key]

    @property
    def records(self) -> list[dict]:
        """One dict per contribution, in the order the reverse pass runs: `step`, `line`
        (the user's file:line), `origin`, `op`, `node`, `adjoint`, `input`, `position`,
        `local_derivative`, `contribution` (texts), and with `at` the arrays
        `adjoint_value` and `contribution_value`."""
        out = []
        for step in self.steps:
            for c in step.contributions:
                rec = {
                    "step": step.index,
                    "line": step.line,
                    "origin": step.node.origin,
                    "op": step.node.op,
                    "node": step.expression,
                    "adjoint": step.adjoint_text,
                    "input": flat(to_str(c.input)),
                    "position": c.position,
                    "local_derivative": c.local_text,
                    "contribution": c.text,
                }
                if self.at is not None:
                    rec["adjoint_value"] = step.adjoint_value
                    rec["contribution_value"] = c.value
                out.append(rec)
        return out

    def _chain_rows(self, width: int | None) -> tuple[tuple, list[tuple]]:
        numbers = self.at is not None
        head = ("step", "line", "op", "node", "adjoint")
        head += ("adjoint value",) * numbers + ("input", "local derivative", "contribution")
        head += ("contribution value",) * numbers
        rows, last = [], None
        for rec in self.records:
            first = rec["step"] != last
            last = rec["step"]
            node = (
                (str(rec["step"]), place(rec["origin"]), rec["op"], rec["node"], rec["adjoint"])
                if first
                else ("",) * 5
            )
            cells = [node[0], node[1], node[2], _short(node[3], width), _short(node[4], width)]
            if numbers:
                cells.append(show_value(rec["adjoint_value"]) if first else "")
            cells += [_short(rec[k], width) for k in ("input", "local_derivative", "contribution")]
            if numbers:
                cells.append(show_value(rec["contribution_value"]))
            rows.append(tuple(cells))
        return head, rows

    def _totals(self, width: int | None) -> list[str]:
        out = []
        for r in self.rows:
            text = f"d/d{r.name} = {_short(to_str(r.after), width)}"
            if r.value is not None:
                text += f"  = {show_value(r.value)}"
            out.append(text)
        return out

    def _cells(self, width: int | None) -> list[tuple]:
        return [
            (
                f"d/d{r.name}",
                str(r.ops_before),
                str(r.ops_after),
                _short(to_str(r.before), width),
                _short(to_str(r.after), width),
            )
            for r in self.rows
        ]

    _SUMMARY_HEAD = (
        "gradient",
        "ops before",
        "ops after",
        "before simplification",
        "after simplification",
    )

    def __str__(self):
        head, rows = self._chain_rows(self.CELL)
        right = (True,) + (False,) * (len(head) - 1)
        out = [
            f"chain rule for {_short(to_str(self.output), 70)}: the reverse pass, in the order "
            "it runs",
            "(adjoint: the gradient of the output with respect to the node; contribution: "
            "what the step sends to the input)",
        ]
        out += _table(head, rows, right) if rows else ["(no step: nothing to differentiate)"]
        out += ["", "gradients:"] + ["  " + t for t in self._totals(self.WIDTH)]
        for name, reason in self.zero_reasons.items():
            out.append(f"why d/d{name} is zero: {reason['message']}")
        out += ["", "what simplification did:"]
        out += _table(
            self._SUMMARY_HEAD, self._cells(self.WIDTH), (False, True, True, False, False)
        )
        if self.stages:
            out.append(
                "operations after each pass: "
                + ", ".join(f"{name} {count}" for name, count in self.stages)
            )
        return "\n".join(out)

    __repr__ = __str__

    def _repr_html_(self):
        esc = html.escape
        head, rows = self._chain_rows(200)
        code = {i for i, h in enumerate(head) if h not in ("step", "line", "op")}
        totals = "".join(f"<li><code>{esc(t)}</code></li>" for t in self._totals(None))
        zeros = "".join(
            f"<p>why <code>d/d{esc(name)}</code> is zero: {esc(reason['message'])}</p>"
            for name, reason in self.zero_reasons.items()
        )
        stages = esc(", ".join(f"{name} {count}" for name, count in self.stages))
        return (
            f"<p>chain rule for <code>{esc(_short(to_str(self.output), 200))}</code>: the "
            "reverse pass, in the order it runs</p>"
            + _html_table(head, rows, code)
            + f"<p>gradients:</p><ul>{totals}</ul>{zeros}"
            + "<p>what simplification did:</p>"
            + _html_table(self._SUMMARY_HEAD, self._cells(200), {3, 4})
            + f"<p>operations after each pass: {stages}</p>"
        )


@checks_call
def explain(y: Symbol, wrt, at=None, head=None) -> Explanation:
    """The chain rule of `y`'s gradients with respect to `wrt`, step by step.

    Parameters
    ----------
    y : Symbol
        The output (a scalar, or any shape with `head`, as for `gc.grad`).
    wrt : Symbol, str, or list/tuple of them
        The inputs (vars, var names or nodes).
    at : dict, optional
        Arrays by var name: every step also shows the numbers (the adjoint's value and each
        contribution's; small arrays in full, large ones by shape, min, max and norm), and a
        gradient that is zero at these values is explained.
    head : Symbol or array, optional
        The output gradient, as for `gc.grad`.

    Returns
    -------
    Explanation
        Prints as a text table, renders as an HTML table in Jupyter; `records` lists the
        contributions as dicts, `zero_reasons` says why each zero gradient is zero, and the
        rows (iterate, or index by name) hold each total gradient with its forms before and
        after simplification and their operation counts.

    Examples
    --------
    >>> import graphc as gc
    >>> x = gc.var("x", shape=(3,))
    >>> e = gc.explain(2 * gc.dot(x, x), x)
    >>> [(r["op"], r["input"], r["local_derivative"], r["contribution"]) for r in e.records]
    [('multiply', 'dot(x, x)', '2', '2'), ('dot', 'x', 'x', '2*x'), ('dot', 'x', 'x', '2*x')]
    >>> str(e["x"].after), e["x"].ops_after
    ('4*x', 1)
    >>> c = gc.var("c")
    >>> e = gc.explain(gc.sum(gc.relu(x - 3)) + c, [x, c], at={"x": [1.0, 2.0, 0.0], "c": 1.0})
    >>> e.zero_reasons["x"]["kind"], e.zero_reasons["x"]["blockers"][0]["op"]
    ('flat', 'relu')
    """
    check_symbol(y)
    items = as_symbols(wrt, names=True)
    (y,), wrts = resolve([y], items, "explain")
    for w in wrts:
        check_differentiable(w)
    check_differentiable_output(y)
    if at is not None and not isinstance(at, Mapping):
        raise GraphcError(
            f"explain: at must be a dict of arrays by var name, got {type(at).__name__}"
        )
    steps, cts = walk(y, head_for(y, head), wrts)
    raw = grad(y, wrts, head=head, simplify=False)
    stages = [("derived", count_ops(raw))]
    current = run(raw, trace=lambda name, outs: stages.append((name, count_ops(outs))))
    rows = []
    for w, item, before, after in zip(wrts, items, raw, current):
        name = item if isinstance(item, str) else w.name if w.op == "var" else to_str(w)
        rows.append(GradientRow(w, name, before, after, count_ops(before), count_ops(after)))
    e = Explanation(y, rows, stages)
    e.steps = steps
    zero_edges = {
        (id(s.node), c.position) for s in steps for c in s.contributions if c.symbol is None
    }
    if at is not None:
        e.at = at
        fill_values(steps, at)
        for r, value in zip(rows, evaluate([r.after for r in rows], at)):
            r.value = value
    for r in rows:
        if id(r.wrt) not in cts:
            e.zero_reasons[r.name] = structural(y, r.wrt, r.name, zero_edges)
        elif r.value is not None and not np.any(r.value != 0):
            e.zero_reasons[r.name] = numeric(steps, y, r.wrt, r.name, at)
    return e
