"""The command line: ``python -m graphc demo`` and ``python -m graphc grad EXPR --wrt NAME``.

``grad`` parses EXPR with the safe parser (`graphc.parse`, never `eval`), prints each simplified
gradient, optionally the emitted numpy source (``--source``), and the values at a point
(``--at``). Bad input prints one line on stderr and exits with status 2; an expression
that does not parse is shown under that line with a caret under the offending column.
An expression may start with ``-`` (``grad "-sin(x)" --wrt x``), and ``--wrt x,y`` names
several variables.

Examples::

    python -m graphc grad "2*dot(x, x)" --wrt x --at x=0,1,2,3
    python -m graphc grad "sum((x@w - y)**2)" --wrt w --shape x=2,3 --shape w=3 --shape y=2
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

import graphc as gc

from . import __version__
from .demo import run_demo
from .errors import GraphcError, ParseError
from .parse import parse
from .printing import assign

EXIT_USAGE = 2


class CommandError(Exception):
    """Bad command-line input; printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {_one_line(message)}\n")


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="graphc",
        description="graphc: a symbolic-graph compiler for "
        "automatic differentiation (define, differentiate, simplify, emit numpy).",
    )
    parser.add_argument("--version", action="version", version=f"graphc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    demo = sub.add_parser("demo", help="run the worked examples end to end")
    demo.add_argument("--no-eager", action="store_true", help="leave out the eager-mode column")
    grad = sub.add_parser(
        "grad",
        help="differentiate an expression",
        description="Differentiate EXPR (Python expression syntax over vars and gc "
        "functions, parsed and never evaluated) and print each simplified "
        "gradient.",
    )
    grad.add_argument("expr", metavar="EXPR", help='e.g. "2*dot(x, x)" or "sum(tanh(w*x))"')
    grad.add_argument(
        "--wrt",
        metavar="NAME",
        action="append",
        required=True,
        help="the variables to differentiate with respect to: x or x,y (repeatable)",
    )
    grad.add_argument(
        "--shape",
        metavar="NAME=D1,D2",
        action="append",
        default=[],
        help="declare a variable's shape (empty for a scalar, ? for unknown)",
    )
    grad.add_argument(
        "--at",
        metavar="NAME=V1,V2,...",
        action="append",
        default=[],
        help="evaluate at this point (give every variable; reshaped to its "
        "--shape, else a scalar or a vector)",
    )
    grad.add_argument("--source", action="store_true", help="print the emitted numpy code")
    return parser


# --- grad --------------------------------------------------------------------------------


def _split_assignment(text: str, option: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise CommandError(f"{option} expects NAME=VALUES, got {text!r}")
    return name, value.strip()


def _parse_shapes(items: Sequence[str]) -> dict[str, tuple]:
    shapes: dict[str, tuple] = {}
    for item in items:
        name, value = _split_assignment(item, "--shape")
        if name in shapes:
            raise CommandError(f"--shape given twice for {name!r}")
        dims = []
        for part in filter(None, (p.strip() for p in value.strip("()").split(","))):
            if part in ("?", "None"):
                dims.append(None)
            elif part.isdigit() and len(part) <= 9:
                dims.append(int(part))
            else:
                raise CommandError(
                    f"--shape {name}: {part!r} is not a dimension (a non-negative int or ?)"
                )
        shapes[name] = tuple(dims)
    return shapes


def _parse_values(items: Sequence[str], shapes: dict) -> dict[str, np.ndarray]:
    values: dict[str, np.ndarray] = {}
    for item in items:
        name, value = _split_assignment(item, "--at")
        if name in values:
            raise CommandError(f"--at given twice for {name!r}")
        numbers = []
        for part in (p.strip() for p in value.strip("[]()").split(",")):
            try:
                numbers.append(float(part))
            except ValueError:
                raise CommandError(f"--at {name}: {part!r} is not a number") from None
        arr = np.array(numbers, dtype=np.float64)
        shape = shapes.get(name)
        if shape is not None:
            if None in shape:
                raise CommandError(f"--at {name}: its --shape has unknown dims")
            if int(np.prod(shape)) != arr.size:
                raise CommandError(f"--at {name}: {arr.size} value(s) do not fill shape {shape}")
            arr = arr.reshape(shape)
        elif arr.size == 1:
            arr = arr.reshape(())
        values[name] = arr
    return values


def _format_value(value) -> str:
    # One line per value (numpy still summarises arrays of more than 1000 entries).
    text = np.array2string(
        np.asarray(value),
        precision=6,
        suppress_small=True,
        separator=", ",
        max_line_width=1_000_000,
    )
    return " ".join(text.split())


def run_grad(args, out=None) -> None:
    """The `grad` command (raises CommandError or a graphc error on bad input).

    >>> from graphc.__main__ import main
    >>> main(["grad", "x * sin(x)", "--wrt", "x", "--at", "x=0"])  # doctest: +ELLIPSIS
    f = (x * sin(x))
    df/dx = ...
    at x=0.:
      f = 0.
      df/dx = 0.
    0
    """
    shapes = _parse_shapes(args.shape)
    point = _parse_values(args.at, shapes)
    # A value given with --at fixes its var's shape (and dtype): the gradients are then
    # derived for those shapes and print in their simplest form (mean(...), not sum_to(...)).
    known = {**{n: a.shape for n, a in point.items()}, **shapes}
    parsed = parse(
        args.expr, shapes=known, dtypes={n: a.dtype for n, a in point.items() if n not in shapes}
    )
    expr, variables = parsed.expr, dict(parsed.vars)
    wrt_names = _wrt_names(args.wrt)
    _check_names(variables, wrt_names, shapes, point)
    if expr.shape is not None and any(d != 1 for d in expr.shape):
        shape = tuple("?" if d is None else d for d in expr.shape)
        raise CommandError(
            f"the expression has shape {shape}, not a scalar: differentiate "
            f"sum(...) or mean(...) of it"
        )
    grads = gc.grad(expr, [variables[name] for name in wrt_names])
    lines = [assign("f", str(expr))]
    lines += [assign(f"df/d{name}", str(g)) for name, g in zip(wrt_names, grads)]
    if args.source or point:
        fn = gc.compile(list(variables.values()), [expr] + list(grads))
    if point:
        lines += _values_at(fn(**point), point, variables, wrt_names)
    if args.source:
        lines.append("emitted numpy code (returns f and the gradients):")
        lines.append(fn.source.rstrip())
    # Printed only once everything worked, so bad input leaves stdout empty.
    print("\n".join(lines), file=out if out is not None else sys.stdout)


def _wrt_names(items: Sequence[str]) -> list[str]:
    """The names of `--wrt x --wrt y,z`, each once, in order."""
    names = [n.strip() for item in items for n in item.split(",")]
    if not all(names):
        raise CommandError(f"--wrt expects names separated by commas, got {','.join(items)!r}")
    return list(dict.fromkeys(names))


_OPTIONS_WITH_VALUE = {"--wrt", "--shape", "--at"}


def expression_last(argv: Sequence[str]) -> list[str]:
    """`argv` with the `grad` command's expression moved behind `--`, so that one starting
    with `-` (`-sin(x)`) is read as the expression, not as an option: the expression is the
    first argument after `grad` that is not an option of `grad` or an option's value (or the
    argument after a `--`).

    >>> expression_last(["grad", "-sin(x)", "--wrt", "x"])
    ['grad', '--wrt', 'x', '--', '-sin(x)']
    >>> expression_last(["grad", "--wrt=x", "--", "-x*y"])
    ['grad', '--wrt=x', '--', '-x*y']
    """
    argv = list(argv)
    if not argv or argv[0] != "grad":
        return argv
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return argv[:i] + argv[i + 2 :] + ["--", argv[i + 1]] if i + 1 < len(argv) else argv
        if arg in _OPTIONS_WITH_VALUE:
            i += 2
        elif arg.split("=")[0] in _OPTIONS_WITH_VALUE or arg in ("--source", "-h", "--help"):
            i += 1
        else:
            return argv[:i] + argv[i + 1 :] + ["--", arg]
    return argv


def _check_names(variables: dict, wrt_names: list, shapes: dict, point: dict) -> None:
    """Every name given with --wrt, --shape and --at is a variable of the expression, and
    --at (when given) has a value for each."""
    for option, names in (("--wrt", wrt_names), ("--shape", shapes), ("--at", point)):
        for name in names:
            if name not in variables:
                raise CommandError(
                    f"{option} names {name!r}, which is not a variable of the "
                    f"expression (variables: {', '.join(variables) or 'none'})"
                )
    missing = [name for name in variables if name not in point]
    if point and missing:
        raise CommandError(f"--at is missing value(s) for {', '.join(missing)}")


def _values_at(results, point: dict, variables: dict, wrt_names: list) -> list[str]:
    """The lines printing f and its gradients at the --at point."""
    where = ", ".join(f"{name}={_format_value(point[name])}" for name in variables)
    lines = [f"at {where}:", f"  f = {_format_value(results[0])}"]
    lines += [
        f"  df/d{name} = {_format_value(value)}" for name, value in zip(wrt_names, results[1:])
    ]
    return lines


# --- entry point -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 1 demo failure, 2 bad
    input)."""
    parser = build_parser()
    argv = expression_last(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (status 2), --help and --version (status 0)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command == "demo":
        return run_demo(eager=not args.no_eager)
    try:
        run_grad(args)
    except CommandError as exc:
        print(f"graphc grad: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except ParseError as exc:
        pointer = exc.pointer()
        print(f"graphc grad: error: {_one_line(exc)}", file=sys.stderr)
        if pointer:  # the expression, with a caret under the column
            print("\n".join("  " + line for line in pointer.splitlines()), file=sys.stderr)
        return EXIT_USAGE
    except RecursionError:
        print("graphc grad: error: the expression is nested too deeply", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # graphc errors, and anything numpy says about the input
        kind = (
            ""
            if isinstance(exc, GraphcError) and type(exc).__name__ == "GraphcError"
            else f"{type(exc).__name__}: "
        )
        print(f"graphc grad: error: {kind}{_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
