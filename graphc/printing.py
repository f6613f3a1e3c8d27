"""Readable text for graphs: infix `str` and LaTeX (`explain`'s table: graphc.explanation).

`str(sym)` is sympy's printing of `sym.to_sympy()`: elementwise operations print as sympy
prints them (`4*x`, `1 - tanh(x)**2`), other operations with numpy's names (`dot(x, w)`,
`sum(x, axis=0)`), with numpy's syntax (`a @ b`, `x.T`, `x[1:3]`) and gc's names, never
sympy's (`abs`, `maximum`, `inf`): the text parses back (`graphc.parse`). Where unknown
shapes need a shape-generic step, it is a public gc function: `sum_to(g, x)` (g summed
down to x's shape), `broadcast_like`, `reshape_like`, `size(x)` (the divisor of a mean),
`product_vjp`; the gradient of indexing prints `zeros_like(x).at[1:3].add(g)`.

Large or deep graphs would make sympy's recursive printers overflow the stack and a tree
print exponentially long, so beyond `TREE_LIMIT` tree nodes or `DEPTH_LIMIT` levels the
text names sub-expressions (graphc.letform decides which and how), as it does for parts
an expression repeats: one line `t1 = ...` per named part, then the expression. Every walk
here is iterative and linear in the graph's size.

The printers themselves (`graphc.sympy_text`, `graphc.tex`) import sympy, so they are imported
with the first printout: `import graphc` does not import sympy.
"""

from __future__ import annotations

import io
import keyword
import tokenize

from .dispatch import Group, checks_call
from .errors import GraphcError
from .ir import Symbol
from .letform import check_symbol
from .subgraph import make_param, substitute


def one_line(text: str) -> str:
    """A printout on one line: the lines of a let-form joined by `; ` (Python reads it so).

    >>> one_line("t1 = tanh(x)\\nt1**2 + t1")
    't1 = tanh(x); t1**2 + t1'
    """
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def assign(name: str, text: str) -> str:
    """`name = text`, a let-form's lines first: its last line is the value `name` gets.

    >>> print(assign("df/dx", "t1 = tanh(x)\\nt1**2 + t1"))
    t1 = tanh(x)
    df/dx = t1**2 + t1
    """
    *lets, last = text.splitlines() or [""]
    return "\n".join([*lets, f"{name} = {last}"])


def to_str(sym: Symbol) -> str:
    """The expression as text: `str(sym.to_sympy())`, or in let-form (graphc.letform) when
    it repeats a part or is very large: one `name = ...` line per named part, then the
    expression.

    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> to_str(gc.grad(2 * gc.dot(x, x), x))
    '4*x'
    >>> s = gc.sigmoid(2 * x + 1)
    >>> print(to_str(gc.exp(s) + gc.sin(s) * s))
    t1 = sigmoid(2*x + 1)
    t1*sin(t1) + exp(t1)
    """
    from .sympy_text import text  # sympy is imported with the first printout

    return text(check_symbol(sym))


@checks_call
def latex(sym: Symbol) -> str:
    """The expression as LaTeX (without `$`); in let-form an `aligned` block.

    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> latex(gc.exp(x) / 2)
    '\\\\frac{e^{x}}{2}'
    >>> A = gc.var("A", shape=(3, 3))
    >>> latex(A.T @ x + gc.sigmoid(x))
    'A^{\\\\top} x + \\\\sigma\\\\left(x\\\\right)'
    """
    from .tex import tex  # sympy's LaTeX printer is imported with the first use

    return tex(check_symbol(sym))


def lambda_text(graph) -> str:
    """A sub-graph (a control-flow body) as the lambda it was traced from, on one line; a
    part the body repeats is named where it is first evaluated, `(t1 := ...)` (a lambda holds
    one expression), and params print with distinct names.

    >>> import graphc as gc
    >>> from graphc.ir import Graph
    >>> h, a = gc.var("h"), gc.var("a")
    >>> t = gc.tanh(a * h + 1)
    >>> lambda_text(Graph([h, a], [a * (1 - t**2) * (1 - t**2 * t), t]))
    'lambda h, a: (a*(1 - (t1 := tanh(a*h + 1))**2)*(1 - t1**3), t1)'
    """
    params, outputs = _distinct_params(graph.inputs, graph.outputs)
    root = outputs[0] if len(outputs) == 1 else Group(outputs)
    *lines, text = to_str(root).splitlines()
    for line in reversed(lines):  # the last named part first: it may use the earlier ones
        name, value = line.split(" = ", 1)
        text = _name_first_use(text, name, f"({name} := {value})")
    return f"lambda {', '.join(p.name for p in params)}: {text}".replace("lambda : ", "lambda: ")


def _distinct_params(params, outputs):
    """The params renamed where a name is missing, not an identifier, or repeats (a capture
    named like a carry), and the outputs over the renamed params."""
    names: list[str] = []
    for p in params:
        base = p.name if isinstance(p.name, str) and p.name.isidentifier() else "p"
        name, k = base, 0
        while name in names or keyword.iskeyword(name):
            k += 1
            name = f"{base}_{k}"
        names.append(name)
    if names == [p.name for p in params]:
        return list(params), list(outputs)
    renamed = [make_param(n, p.shape, p.dtype, p.origin) for n, p in zip(names, params)]
    mapping = {id(p): r for p, r in zip(params, renamed)}
    return renamed, substitute(list(outputs), mapping, stop=list(params))


def _name_first_use(text: str, name: str, definition: str) -> str:
    """`text` with the first use of `name` (in Python's evaluation order, which is the
    text's, outside nested lambdas) replaced by `definition`."""
    depth, lambda_depth, previous = 0, None, None
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
            lambda_depth = (
                None if lambda_depth is not None and depth < lambda_depth else lambda_depth
            )
        elif tok.type == tokenize.OP and tok.string == "," and depth == lambda_depth:
            lambda_depth = None
        elif tok.type == tokenize.NAME and tok.string == "lambda" and lambda_depth is None:
            lambda_depth = depth
        elif (
            tok.type == tokenize.NAME
            and tok.string == name
            and lambda_depth is None
            and previous != "."
        ):
            start, end = tok.start[1], tok.end[1]
            return text[:start] + definition + text[end:]
        previous = tok.string
    raise GraphcError(f"printing a body: the named part {name!r} is not used")  # a bug
