"""The AST rewrite behind `@gc.function`: each `if`, `while` and `for ... in range(...)`
statement of the user's function becomes a call of a runtime helper (`autograph_runtime`)
with the statement's bodies as local functions, whose parameters and results are the
variables the bodies assign.

A loop's own `break` and `continue` become boolean flag variables (`break_1 = True`, the
rest of the body under `if not break_1:`, the loop test `not break_1 and test`), and a loop's
`else` runs after it under `if not break_1:`; the flags are then ordinary carries. Statements
a body cannot leave through a local function (`return`, `yield`, `del`, `global`/`nonlocal`
names, `:=` in a condition) stay as they are; their condition is checked at run time and a symbolic one raises `GraphcError` naming the
line.
"""

from __future__ import annotations

import ast
import copy
import sys

TYPE_PARAMS = {"type_params": []} if sys.version_info >= (3, 12) else {}
RUNTIME = "_gc_rt"  # the per-function runtime object, bound in the rewritten function's closure
_UNSUPPORTED = (
    ast.Return,
    ast.Yield,
    ast.YieldFrom,
    ast.Await,
    ast.Delete,
    ast.Global,
    ast.Nonlocal,
)


def _walk_scope(nodes):
    """AST nodes of `nodes` without entering nested functions, classes and lambdas."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(
                child,
                (
                    ast.FunctionDef,
                    ast.AsyncFunctionDef,
                    ast.ClassDef,
                    ast.Lambda,
                    ast.ListComp,
                    ast.SetComp,
                    ast.DictComp,
                    ast.GeneratorExp,
                ),
            ):
                stack.append(child)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                stack.append(ast.Name(id=child.name, ctx=ast.Store()))


def _name_load(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Load())


def assigned_names(stmts) -> list[str]:
    """Names the statements bind in the enclosing function's scope, in order."""
    names = []
    for node in _walk_scope(stmts):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.append(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.extend((a.asname or a.name).split(".")[0] for a in node.names)
    return sorted(set(names), key=names.index)


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_LOOPS = (ast.For, ast.While, ast.AsyncFor)


def _blocker(stmts, loop: bool = False, jumps: bool = True) -> ast.AST | None:
    """The first statement that cannot move into a local function: break/continue of this
    loop (not of a nested one; unless `jumps` is False), return, yield, del,
    global/nonlocal."""
    stack = list(stmts)
    while stack:
        node = stack.pop(0)
        if isinstance(node, _UNSUPPORTED) or (isinstance(node, ast.NamedExpr)):
            return node
        if jumps and isinstance(node, (ast.Break, ast.Continue)):
            return node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _SCOPES):
                continue
            if isinstance(child, _LOOPS):
                # break/continue inside a nested loop belong to it (but not in its else)
                stack.extend(
                    c for c in ast.walk(child) if isinstance(c, _UNSUPPORTED + (ast.NamedExpr,))
                )
                stack.extend(child.orelse)
                continue
            stack.append(child)
    return None


def _jumps(stmts) -> set:
    """The types of this loop's own break/continue statements in `stmts`."""
    found, stack = set(), list(stmts)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Break, ast.Continue)):
            found.add(type(node))
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _LOOPS):
                stack.extend(child.orelse)
            elif not isinstance(child, _SCOPES):
                stack.append(child)
    return found


def _flag(name: str, value: bool, where):
    return ast.copy_location(
        ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=ast.Constant(value=value)),
        where,
    )


def _none_set(flags: dict):
    names = [ast.Name(id=n, ctx=ast.Load()) for n in flags.values()]
    test = names[0] if len(names) == 1 else ast.BoolOp(op=ast.Or(), values=names)
    return ast.UnaryOp(op=ast.Not(), operand=test)


def _lower(stmts, flags: dict):
    """`stmts` with this loop's break/continue turned into assignments of their flags
    (`flags`: statement type -> flag name) and the statements after one guarded by
    `if not flag:`; None where a jump sits inside a statement this cannot rewrite. The
    input is not modified."""
    out = []
    for k, st in enumerate(stmts):
        if isinstance(st, (ast.Break, ast.Continue)):
            out.append(_flag(flags[type(st)], True, st))
            return out
        if not _jumps([st]):
            out.append(st)
            continue
        st = copy.copy(st)
        if isinstance(st, ast.If):
            parts = ["body", "orelse"]
        elif isinstance(st, (ast.With, ast.AsyncWith)):
            parts = ["body"]
        else:
            return None
        for part in parts:
            lowered = _lower(getattr(st, part), flags)
            if lowered is None:
                return None
            setattr(st, part, lowered)
        out.append(st)
        if stmts[k + 1 :]:
            rest = _lower(stmts[k + 1 :], flags)
            if rest is None:
                return None
            out.append(
                ast.copy_location(
                    ast.If(test=_none_set(flags), body=rest, orelse=[]), stmts[k + 1]
                )
            )
        return out
    return out


def _describe(node) -> str:
    return {
        ast.Break: "break",
        ast.Continue: "continue",
        ast.Return: "return",
        ast.Yield: "yield",
        ast.YieldFrom: "yield from",
        ast.Await: "await",
        ast.Delete: "del",
        ast.Global: "global",
        ast.Nonlocal: "nonlocal",
        ast.NamedExpr: "an assignment expression (:=)",
    }.get(type(node), type(node).__name__)


class _Rewriter(ast.NodeTransformer):
    """Turns if/while/for-range statements into runtime-helper calls."""

    def __init__(self):
        self.count = 0
        self.stops: dict[int, str] = {}  # id(for node) -> its break flag

    def _name(self, kind: str) -> str:
        self.count += 1
        return f"_gc_{kind}_{self.count}"

    @staticmethod
    def _rt(attr: str):
        return ast.Attribute(value=ast.Name(id=RUNTIME, ctx=ast.Load()), attr=attr, ctx=ast.Load())

    def _call(self, attr, *args):
        return ast.Call(func=self._rt(attr), args=list(args), keywords=[])

    @staticmethod
    def _def(name, params, body, results):
        ret = (
            None
            if results is None
            else ast.Return(
                value=ast.Tuple(
                    elts=[ast.Name(id=n, ctx=ast.Load()) for n in results], ctx=ast.Load()
                )
            )
        )
        return ast.FunctionDef(
            name=name,
            args=ast.arguments(
                posonlyargs=[],
                args=[ast.arg(arg=p) for p in params],
                kwonlyargs=[],
                kw_defaults=[],
                defaults=[],
            ),
            body=list(body) + [ret] if results is not None else list(body),
            decorator_list=[],
            returns=None,
            **TYPE_PARAMS,
        )

    def _assign(self, names, value):
        if not names:
            return ast.Expr(value=value)
        return ast.Assign(
            targets=[
                ast.Tuple(elts=[ast.Name(id=n, ctx=ast.Store()) for n in names], ctx=ast.Store())
            ],
            value=value,
        )

    def _run_block(self, node, defs, targets, names, call, *extra):
        """`defs`, then `targets = <runtime>.kind(*args, (values of names), names, lineno,
        *extra)`, where `call` is (kind, *args): how every converted block ends."""
        kind, *args = call
        args += [self._load(names), ast.Constant(value=tuple(names))]
        args += [ast.Constant(value=node.lineno), *extra]
        stmts = [*defs, self._assign(targets, self._call(kind, *args))]
        return [ast.copy_location(s, node) for s in stmts]

    def _load(self, names):
        return self._call(
            "load",
            ast.Call(func=ast.Name(id="locals", ctx=ast.Load()), args=[], keywords=[]),
            ast.Constant(value=tuple(names)),
        )

    def _guard(self, test, node, blocker, what):
        reason = f"`{what}` containing `{_describe(blocker)}` (line {blocker.lineno})"
        return self._call(
            "python_test", test, ast.Constant(value=node.lineno), ast.Constant(value=reason)
        )

    def _test(self, test):
        """`and`/`or`/`not` in a condition, evaluated lazily and symbol-aware."""
        if isinstance(test, ast.BoolOp):
            op = "and_" if isinstance(test.op, ast.And) else "or_"
            thunks = [
                ast.Lambda(
                    args=ast.arguments(
                        posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]
                    ),
                    body=self._test(v),
                )
                for v in test.values
            ]
            return ast.copy_location(self._call(op, *thunks), test)
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            return ast.copy_location(self._call("not_", self._test(test.operand)), test)
        return test

    # --- statements -----------------------------------------------------------------
    def visit_If(self, node):
        names = assigned_names(node.body + node.orelse)
        blocker = _blocker(node.body + node.orelse, loop=False) or _blocker([node.test], False)
        self.generic_visit(node)
        node.test = self._test(node.test)
        if blocker is not None:
            node.test = self._guard(node.test, node, blocker, "if")
            return node
        true_name, false_name = self._name("if_true"), self._name("if_false")
        defs = [
            self._def(true_name, names, node.body, names),
            self._def(false_name, names, node.orelse or [ast.Pass()], names),
        ]
        call = ("if_stmt", node.test, _name_load(true_name), _name_load(false_name))
        return self._run_block(node, defs, names, names, call)

    def _lower_loop(self, node):
        """The loop with its break/continue lowered to flags and its `else` moved after it:
        (statements before, the loop, statements after). Unchanged if it cannot be."""
        jumps = _jumps(node.body)
        header = [node.test] if isinstance(node, ast.While) else [node.iter]
        if _blocker(header) is not None or _blocker(node.body, jumps=False) is not None:
            return [], node, []
        flags = {
            kind: self._name("break" if kind is ast.Break else "continue")
            for kind in (ast.Break, ast.Continue)
            if kind in jumps
        }
        body = _lower(node.body, flags) if flags else node.body
        if body is None:
            return [], node, []
        new = copy.copy(node)
        new.body, new.orelse = body, []
        before, after = [], list(node.orelse)
        if ast.Continue in flags:
            new.body = [_flag(flags[ast.Continue], False, node)] + new.body
        if ast.Break in flags:
            brk = flags[ast.Break]
            before = [_flag(brk, False, node)]
            if isinstance(node, ast.While):
                new.test = ast.copy_location(
                    ast.BoolOp(
                        op=ast.And(),
                        values=[
                            ast.UnaryOp(op=ast.Not(), operand=ast.Name(id=brk, ctx=ast.Load())),
                            node.test,
                        ],
                    ),
                    node.test,
                )
            self.stops[id(new)] = brk  # for_stmt stops a Python-valued loop at a break
            if after:
                after = [
                    ast.copy_location(
                        ast.If(test=_none_set({ast.Break: brk}), body=after, orelse=[]), node
                    )
                ]
        return before, new, after

    def _with_lowered(self, node, convert):
        before, node, after = self._lower_loop(node)
        out = []
        for stmt in before + [None] + after:
            done = convert(node) if stmt is None else self.visit(stmt)
            out.extend(done if isinstance(done, list) else [done])
        return out

    def visit_While(self, node):
        return self._with_lowered(node, self._while)

    def _while(self, node):
        names = assigned_names(node.body)
        blocker = _blocker(node.body, loop=True) or _blocker([node.test], False)
        self.generic_visit(node)
        node.test = self._test(node.test)
        if blocker is not None:
            node.test = self._guard(node.test, node, blocker, "while")
            return node
        if node.orelse:
            node.test = self._call(
                "python_test",
                node.test,
                ast.Constant(value=node.lineno),
                ast.Constant(value="`while ... else`"),
            )
            return node
        cond_name, body_name = self._name("while_cond"), self._name("while_body")
        cond_def = self._def(cond_name, names, [ast.Return(value=node.test)], None)
        defs = [cond_def, self._def(body_name, names, node.body, names)]
        call = ("while_stmt", _name_load(cond_name), _name_load(body_name))
        return self._run_block(node, defs, names, names, call)

    def visit_For(self, node):
        it = node.iter
        is_range = (
            isinstance(it, ast.Call)
            and isinstance(it.func, ast.Name)
            and it.func.id == "range"
            and not it.keywords
            and 1 <= len(it.args) <= 3
            and not any(isinstance(a, ast.Starred) for a in it.args)
            and isinstance(node.target, ast.Name)
        )
        if not is_range:
            self.generic_visit(node)
            return node
        return self._with_lowered(node, self._for)

    def _for(self, node):
        it = node.iter
        stop = self.stops.get(id(node), "")
        target = node.target.id
        names = [n for n in assigned_names(node.body) if n != target]
        blocker = _blocker(node.body, loop=True)
        self.generic_visit(node)
        if blocker is None and node.orelse:
            blocker = node
        if blocker is not None:
            node.iter = self._call(
                "python_range",
                ast.Tuple(elts=it.args, ctx=ast.Load()),
                ast.Constant(value=node.lineno),
                ast.Constant(
                    value=f"`for` containing `{_describe(blocker)}` (line {blocker.lineno})"
                    if blocker is not node
                    else "`for ... else`"
                ),
            )
            return node
        body_name = self._name("for_body")
        defs = [self._def(body_name, [target] + names, node.body, names)]
        call = ("for_stmt", _name_load(body_name), ast.Tuple(elts=it.args, ctx=ast.Load()))
        return self._run_block(node, defs, [target] + names, names, call, ast.Constant(value=stop))

    def visit_IfExp(self, node):
        self.generic_visit(node)
        empty = ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[])
        return ast.copy_location(
            self._call(
                "if_exp",
                self._test(node.test),
                ast.Lambda(args=empty, body=node.body),
                ast.Lambda(args=empty, body=node.orelse),
                ast.Constant(value=node.lineno),
            ),
            node,
        )


def rewrite(fdef: ast.FunctionDef) -> None:
    """Rewrite the control-flow statements of the function definition `fdef` in place into
    calls of the runtime object named `RUNTIME`."""
    _Rewriter().visit(fdef)


__all__ = ["RUNTIME", "TYPE_PARAMS", "assigned_names", "rewrite"]
