"""`explain`: what simplification did to the gradients of one output, as a printable table."""

from __future__ import annotations

import html

from .autodiff import grad
from .dispatch import checks_call
from .ir import Symbol, as_list
from .printing import check_symbol, one_line, to_str
from .simplify import count_ops, run


class GradientRow:
    """One gradient in an `Explanation`: its input, its forms and their operation counts."""

    __slots__ = ("wrt", "name", "before", "after", "ops_before", "ops_after")

    def __init__(self, wrt, name, before, after, ops_before, ops_after):
        self.wrt = wrt
        self.name = name
        self.before = before
        self.after = after
        self.ops_before = ops_before
        self.ops_after = ops_after

    def __repr__(self):
        return (
            f"<GradientRow d/d{self.name}: {self.ops_before} ops -> {self.ops_after} ops: "
            f"{_short(to_str(self.after), 60)}>"
        )


def _short(text: str, width: int) -> str:
    text = " ".join(one_line(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


class Explanation:
    """What simplification did to the gradients of one output: a printable table.

    `rows` holds one `GradientRow` per input (iterate, index by position or by var name);
    `stages` the operation count of all gradients together after each pass.
    """

    WIDTH = 60  # expression columns are cut to this many characters in the text table

    def __init__(self, output: Symbol, rows: list[GradientRow], stages: list[tuple[str, int]]):
        self.output = output
        self.rows = rows
        self.stages = stages

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

    def _cells(self, width: int | None):
        cut = (lambda s: _short(s, width)) if width else (lambda s: " ".join(one_line(s).split()))
        return [
            (
                f"d/d{r.name}",
                str(r.ops_before),
                str(r.ops_after),
                cut(to_str(r.before)),
                cut(to_str(r.after)),
            )
            for r in self.rows
        ]

    def __str__(self):
        head = (
            "gradient",
            "ops before",
            "ops after",
            "before simplification",
            "after simplification",
        )
        rows = [head] + self._cells(self.WIDTH)
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        right = (False, True, True, False, False)

        def line(cells):
            return "  ".join(
                c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)
            ).rstrip()

        out = [
            f"gradients of {_short(to_str(self.output), 70)}",
            line(head),
            "  ".join("-" * w for w in widths),
        ]
        out += [line(r) for r in rows[1:]]
        if self.stages:
            out.append(
                "operations after each pass: "
                + ", ".join(f"{name} {count}" for name, count in self.stages)
            )
        return "\n".join(out)

    __repr__ = __str__

    def _repr_html_(self):
        esc = html.escape
        head = "".join(
            f"<th>{esc(h)}</th>"
            for h in (
                "gradient",
                "ops before",
                "ops after",
                "before simplification",
                "after simplification",
            )
        )
        body = "".join(
            "<tr>"
            + "".join(
                f"<td><code>{esc(c)}</code></td>" if i >= 3 else f"<td>{esc(c)}</td>"
                for i, c in enumerate(cells)
            )
            + "</tr>"
            for cells in self._cells(200)
        )
        stages = esc(", ".join(f"{name} {count}" for name, count in self.stages))
        return (
            f"<p>gradients of <code>{esc(_short(to_str(self.output), 200))}</code></p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<p>operations after each pass: {stages}</p>"
        )


@checks_call
def explain(y: Symbol, wrt, head=None) -> Explanation:
    """The gradients of `y` before and after simplification, with their operation counts.

    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> e = gc.explain(gc.sum(x * x), x)
    >>> e["x"].ops_after, str(e["x"].after)
    (1, '2*x')
    """
    check_symbol(y)
    wrts = [wrt] if isinstance(wrt, (Symbol, str)) else as_list(wrt, "explain: wrt")
    raw = grad(y, wrts, head=head, simplify=False)
    stages = [("derived", count_ops(raw))]
    current = run(raw, trace=lambda name, outs: stages.append((name, count_ops(outs))))
    rows = []
    for w, before, after in zip(wrts, raw, current):
        name = w if isinstance(w, str) else w.name if w.op == "var" else to_str(w)
        rows.append(GradientRow(w, name, before, after, count_ops(before), count_ops(after)))
    return Explanation(y, rows, stages)
