"""The parser's scopes: the names a printout defines, in its let-form's lines (`let_form`)
and in control-flow bodies (`lambda` params and `:=` names), and the control-flow nodes
that hold the bodies (graphc.parse calls `control_call` for a call with `lambda` keywords).

A control-flow node prints as its op with its inputs and its sub-graphs as lambdas, then the
result it gives (graphc.ops.control has the layouts):

    fori_loop(0, 3, x, a, body=lambda i, h, a: tanh(a*h + 1))[0]

A lambda's params are the sub-graph's, bound positionally; its body reads nothing else (a
sub-graph is closed: what it uses from outside is an input of the node and a param). A body
that repeats a part names it where Python evaluates it first, with `:=` (a lambda holds one
expression, so the let-form's lines become assignment expressions):

    lambda h, a: (a*(1 - (t1 := tanh(a*h))**2), t1)

The node is rebuilt with the op-level constructor, so its checks (param counts, carry types)
are the op's own, and every result is read with `get` (the subscript after the call picks).
"""

from __future__ import annotations

import ast
import copy

from .dispatch import const
from .errors import ParseError
from .ir import Graph, Symbol
from .ops.base import OPS
from .ops.control_build import control_node
from .ops.shape import get
from .subgraph import make_param

ORIGIN = ("<expression>", 1)  # the origin of every node the parser builds

# The sub-graph attrs of each control-flow op; its other attrs are plain keyword values.
BODIES = {
    "cond": ("true_fn", "false_fn"),
    "while_loop": ("cond", "body"),
    "fori_loop": ("body",),
    "scan": ("body",),
}
# Their other keywords, and all of them (what graphc.parse.keywords() lists).
PLAIN = ("n_carry", "n_xs", "reverse")
KEYWORDS = tuple(dict.fromkeys(k for keys in BODIES.values() for k in keys)) + PLAIN


def is_control(node: ast.Call) -> bool:
    """Is `node` a call with a lambda keyword (a control-flow node as printed)?"""
    return any(isinstance(kw.value, ast.Lambda) for kw in node.keywords)


def control_call(builder, node: ast.Call, name: str, depth: int) -> list[Symbol]:
    """The results of the control-flow node `node` (a call of `name`) as symbols."""
    if name not in BODIES:
        builder.fail(node, f"{name!r} takes no lambda (only {', '.join(BODIES)} do)")
    inputs = [a if isinstance(a, Symbol) else const(a) for a in builder.positional(node, depth)]
    attrs = {}
    for kw in node.keywords:
        if kw.arg in BODIES[name]:
            if not isinstance(kw.value, ast.Lambda):
                builder.fail(kw.value, f"{name}: {kw.arg} must be a lambda")
            attrs[kw.arg] = lambda_graph(builder, kw.value, depth + 1)
        elif kw.arg in PLAIN:
            attrs[kw.arg] = builder.keyword_value(kw.value, depth + 1)
        else:
            builder.fail(
                kw.value if kw.arg else node, f"{name}: keyword {kw.arg!r} is not allowed"
            )
    missing = [key for key in BODIES[name] if key not in attrs]
    if missing:
        builder.fail(node, f"{name}: missing {', '.join(missing)}")
    try:
        attrs = OPS[name].check_attrs(attrs)  # with the defaults (scan's reverse=False)
        op_node = control_node(name, inputs, attrs, ORIGIN)
        count = len(OPS[name].element_types(op_node))
        return [get(op_node, index=k) for k in range(count)]
    except Exception as exc:  # the op's own check, at this call
        builder.fail(node, str(exc).strip().splitlines()[0] or type(exc).__name__)


def lambda_graph(builder, node: ast.Lambda, depth: int) -> Graph:
    """The sub-graph a printed lambda describes: its params (untyped: the node types them
    from its inputs) and the body's expression, or the tuple of them."""
    spec = node.args
    if spec.posonlyargs or spec.vararg or spec.kwonlyargs or spec.kwarg or spec.defaults:
        builder.fail(node, "a body's lambda takes plain params only")
    names = [a.arg for a in spec.args]
    for k, n in enumerate(names):
        if n in names[:k]:
            builder.fail(node, f"the lambda's param {n!r} repeats")
    params = [make_param(n, None, None, ORIGIN) for n in names]
    inner = copy.copy(builder)  # the body sees its params and its own names only
    inner.lets, inner.vars, inner.in_lambda = dict(zip(names, params)), {}, True
    body = node.body
    items = body.elts if isinstance(body, ast.Tuple) else [body]
    outputs = [inner.array(e, depth + 1) for e in items]
    if inner.vars:
        stray = next(iter(inner.vars))
        builder.fail(
            node,
            f"the lambda's body reads {stray!r}, which is not one of its params "
            "(a body reads what it uses from outside through its params)",
        )
    return Graph(params, outputs)


def assignment(builder, node: ast.NamedExpr, depth: int):
    """`(t1 := expr)` in a lambda's body: names the part for the rest of the body."""
    name = node.target.id
    if name in builder.lets:
        builder.fail(node, f"{name!r} is already defined in this lambda")
    value = builder.expr(node.value, depth + 1)  # a symbol, or the results of a node
    builder.lets[name] = value if isinstance(value, (Symbol, list)) else const(value)
    return builder.lets[name]


def let_form(builder, tree: ast.Module) -> ast.expr:
    """The let-form `str` prints when an expression repeats a part (graphc.letform): lines
    `name = expression` (`;`-separated too) naming a part or a call's results (`t1 = svd(x)`)
    for the lines after it, then the expression. Defines them in `builder`; returns the last."""
    if not tree.body:
        raise ParseError("empty expression")
    *lets, last = tree.body
    for stmt in lets:
        if not (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
        ):
            builder.fail(stmt, "only `name = expression` lines may come before the expression")
        name = stmt.targets[0].id
        value = builder.expr(stmt.value, 0)
        if name in builder.lets or name in builder.vars:
            builder.fail(stmt, f"{name!r} is already defined or used as a var")
        builder.lets[name] = value if isinstance(value, (Symbol, tuple, list)) else const(value)
    if not isinstance(last, ast.Expr):
        builder.fail(last, "the last line must be an expression")
    return last.value
