"""The reference manual's coverage (issue 17): every name in `gc.__all__` and every public
method and property of `Symbol`, `Function` and `Executor` has a docstring with an example,
and every op's example runs (an op is an `OpDef` instance, whose docstring doctest's module
walk does not see: it is run here, and where the doc table writes it)."""

from __future__ import annotations

import doctest
import inspect

import pytest

import graphc as gc
from graphc.executor import Executor
from graphc.function import Function
from graphc.ops.base import public_ops

CLASSES = (gc.Symbol, Function, Executor)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

# Names still without an example: this set may only shrink (empty it as they are written).
UNDOCUMENTED: set[str] = set()


def _documented(obj) -> bool:
    return ">>>" in (inspect.getdoc(obj) or "")


def _public_members():
    for cls in CLASSES:
        for name in dir(cls):
            if not name.startswith("_"):
                raw = inspect.getattr_static(cls, name)  # a property: its own docstring
                yield (
                    f"{cls.__name__}.{name}",
                    raw if isinstance(raw, property) else getattr(cls, name),
                )


def test_every_public_name_and_member_has_an_example():
    names = [(name, getattr(gc, name)) for name in gc.__all__] + list(_public_members())
    missing = {name for name, obj in names if not _documented(obj)}
    assert missing <= UNDOCUMENTED, f"no docstring example: {sorted(missing - UNDOCUMENTED)}"
    done = sorted(UNDOCUMENTED - missing)
    assert not done, f"documented now, drop from UNDOCUMENTED: {done}"


def test_docstring_sections_parse_as_numpydoc():
    """Every public docstring is valid numpydoc: no section twice, and each Returns, Raises
    and Warns entry starts with a type or a name (its text indented below it), so that no
    paragraph is read as a type and nothing after a section is swallowed by it."""
    docscrape = pytest.importorskip("numpydoc.docscrape")
    names = [(name, getattr(gc, name)) for name in gc.__all__] + list(_public_members())
    bad = []
    for name, obj in names:
        obj = obj.fget if isinstance(obj, property) else obj
        try:
            doc = docscrape.NumpyDocString(inspect.getdoc(obj) or "")
        except ValueError as e:  # a section twice
            bad.append(f"{name}: {e}".splitlines()[0])
            continue
        for section in ("Returns", "Yields", "Raises", "Warns"):
            for entry in doc[section]:
                head = entry.type or entry.name
                if (not entry.desc and len(head.split()) > 3) or ">>>" in head:
                    bad.append(f"{name}: {section} entry {head[:40]!r} reads as a type")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", sorted(public_ops()))
def test_each_op_example_runs_and_calls_the_op(name):
    op = public_ops()[name]
    example = getattr(op, "example", None)
    if example is None:  # its class docstring's example, run by tests/test_doctests.py
        assert ">>>" in (op.__doc__ or ""), f"gc.{name} has no example"
        return
    calls = [f"gc.{name}("] + [f".{m}(" for m in op.methods]
    assert any(c in example for c in calls), f"{name}'s example does not call it"
    for method in op.methods:  # x.exp()'s docstring is this example: it shows the method
        assert f".{method}(" in example, f"{name}'s example does not call x.{method}()"
    test = doctest.DocTestParser().get_doctest(op.__doc__, {}, f"gc.{name}", None, 0)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0, f"gc.{name}'s example fails"


def test_a_wrong_example_fails():
    """The runner above does fail on a wrong expected output (no test that cannot fail)."""
    text = (
        ">>> import graphc as gc\n>>> print(gc.grad(gc.sin(gc.var('x')), gc.var('x')))\nsin(x)\n"
    )
    test = doctest.DocTestParser().get_doctest(text, {}, "wrong", None, 0)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test, out=lambda s: None)
    assert runner.summarize(verbose=False).failed == 1


def test_op_methods_point_at_the_op_and_share_its_example():
    x = gc.var("x")
    assert x.exp.__doc__.startswith("`x.exp(...)` is `gc.exp(x, ...)`.")
    assert gc.exp.example in x.exp.__doc__
    assert "cos(x)" in gc.sin.__doc__  # help(gc.sin) shows its derivative
