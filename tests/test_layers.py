"""The package's layers, checked statically from the source: imports point down only.

This test reads every `import` in graphc/ (module level and inside functions) and fails on any
edge from a module to one in a higher layer, on any cycle between modules, and on a
function-level import that is not listed below with its reason. The layers (a module may
import its own layer or lower ones; within a layer the imports form no cycle):

```
 7  CLI, demo                 __main__, demo
 6  public API                transforms < graphc/__init__ (gc.*) < testing (which uses gc.*)
 5  front ends and runners    function, executor, binding, eager, eager_tensor, eager_create,
                              tape, control, autograph, autograph_rewrite, autograph_runtime,
                              numpy_interop (numpy's functions on graphc values),
                              letform < sympy_text (sympy printing), tex < printing (which
                              imports both on first use), chainrule < zero_reasons < explanation,
                              viz, serialize, deserialize, parse_scopes, parse_index < parse,
                              symbol_methods (installs Symbol.bind, .tojson, str(), ...),
                              printing < readable (the teaching export) < function,
                              printing < finite < function < diagnostics,
                              grad_bisect (check_grad's bisection; autodiff.depends),
                              function < plan (a bound symbol's programs) < executor,
                              binding < backends.base < backends (and each backend module)
                              < function
 4  passes                    grad_lint < autodiff, batching < jacobians, simplify/*,
                              scalar_code < codegen,
                              subgraph (tracing),
                              ops.control, ops.control_ad, ops.control_emit,
                              ops.control_layout, ops.control_build
 3  op families               ops (package), ops.shape < ops.elementwise < ops.special, ops.linalg
                              < ops.reduce < ops.nn; ops.select < ops.rearrange < ops.take,
                              < ops.sequence < ops.einsum, ops.grad_check;
                              ops.linalg_basic < ops.linalg_triangle, ops.linalg_inv < ops.linalg_decomp, ops.linalg_svd < ops.linalg_norm,
                              ops.linalg_qr, ops.scalar (derived scalar_emit facts)
 2  op-table core, dispatch   ops.costs, ops.ranges, ops.sympy_forms (sympy, on first use)
                              < ops.base (OpDef, OPS, register) < ops.batch_rules,
                              dispatch (apply, make_node, var, const, Group)
 1  IR                        ir, mixin, numpy_names (what numpy has that graphc lacks),
                              const_text (array constants as text)
 0  leaves                    errors, runtime, gc_pause, orders (shared topological orders)
```

Where a lower layer offers a higher layer's convenience, the higher layer installs it:
`dispatch` installs `apply` into `ops.base` (calling an `OpDef`) and `make_node`/`dtype_key`
into `ir` (rebuild, remake); `graphc.ops` installs itself into `mixin` (the array operators)
and `numpy_interop` its answers to numpy's protocols;
`symbol_methods` attaches printing, executor, serialization and sympy methods to `Symbol`;
the public layer subscribes to the op table (`ops.base.on_register`) for `gc.*` exports.
Within layer 3, `ops.shape` reaches `sum` (ops.reduce uses its shape ops) through the table
`OPS`, and the `Elementwise` family rules in `ops.base` reach the ops they call the same way.
The control-flow ops register themselves when `graphc.control` imports them.
"""

from __future__ import annotations

import ast
import functools
import pathlib

import networkx as nx

PKG = pathlib.Path(__file__).resolve().parent.parent / "graphc"

# Lower number = lower layer. A module may import modules of its own layer or below.
LAYERS = {
    0: ["errors", "runtime", "symbol_slots", "gc_pause", "orders"],
    1: ["ir", "calls", "mixin", "numpy_names", "const_text"],
    2: [
        "ops.costs",
        "ops.ranges",
        "ops.array_api",
        "ops.sympy_forms",
        "ops.base",
        "ops.batch_rules",
        "ops.docs",
        "dispatch",
    ],
    3: [
        "ops",
        "ops.shape",
        "ops.elementwise",
        "ops.special",
        "ops.linalg",
        "ops.linalg_basic",
        "ops.linalg_triangle",
        "ops.linalg_inv",
        "ops.linalg_decomp",
        "ops.linalg_svd",
        "ops.linalg_norm",
        "ops.linalg_qr",
        "ops.reduce",
        "ops.nn",
        "ops.docs_arithmetic",
        "ops.docs_elementwise",
        "ops.docs_arrays",
        "ops.docs_shapes",
        "ops.select",
        "ops.rearrange",
        "ops.take",
        "ops.sequence",
        "ops.einsum",
        "ops.grad_check",
        "ops.fused",
        "ops.scalar",
    ],
    4: [
        "grad_lint",
        "autodiff",
        "batching",
        "jacobians",
        "simplify",
        "simplify.framework",
        "simplify.passes",
        "simplify.broadcast_rules",
        "simplify.rewrites",
        "simplify.deadline",
        "simplify.sympy_print",
        "simplify.sympy_bridge",
        "simplify.sympy_plan",
        "simplify.elementwise",
        "simplify.noops",
        "simplify.identity",
        "simplify.matrix",
        "schedule",
        "scalar_code",
        "codegen",
        "subgraph",
        "ops.control",
        "ops.control_ad",
        "ops.control_emit",
        "ops.control_layout",
        "ops.control_build",
    ],
    5: [
        "backends.base",
        "backends.dask",
        "backends.numexpr",
        "backends.array_api_erf",
        "backends.array_api_index",
        "backends.numba_math",
        "backends.numba_source",
        "backends.numba",
        "backends.array_api_runtime",
        "backends.array_api",
        "backends.cupy",
        "backends",
        "function",
        "plan",
        "heads",
        "executor",
        "binding",
        "eager",
        "eager_tensor",
        "eager_create",
        "numpy_interop",
        "tape",
        "control",
        "autograph",
        "autograph_rewrite",
        "autograph_runtime",
        "letform",
        "sympy_text",
        "tex",
        "printing",
        "chainrule",
        "zero_reasons",
        "explanation",
        "reports",
        "cost",
        "viz",
        "serialize",
        "deserialize",
        "parse_scopes",
        "parse_index",
        "parse",
        "symbol_methods",
        "readable",
        "finite",
        "diagnostics",
        "grad_bisect",
    ],
    6: ["__init__", "transforms", "testing"],
    7: ["__main__", "demo"],
}

# Function-level imports that remain, (importer, imported) -> why it is not at module level.
_EAGER_OPTIONAL = (
    "eager mode is optional: `import graphc` does not load graphc.eager (it installs the "
    "tape handler); imported where eager tensors are already in play or to probe for it"
)
_LAZY_SYMPY = "sympy is imported on first use, not by `import graphc`"
FUNCTION_LEVEL = {
    # its helpers import array_api_compat, an optional package (the array-api extra)
    ("backends.array_api", "backends.array_api_runtime"): "optional package",
    # `import graphc` does not import sympy (a fifth of a second): the modules that need it
    # are imported with the first simplification, printout or conversion
    ("ops.base", "ops.sympy_forms"): _LAZY_SYMPY,
    ("simplify", "simplify.sympy_bridge"): _LAZY_SYMPY,
    ("simplify.elementwise", "simplify.sympy_plan"): _LAZY_SYMPY,
    ("printing", "sympy_text"): _LAZY_SYMPY,
    ("printing", "tex"): _LAZY_SYMPY,
    ("symbol_methods", "simplify.sympy_bridge"): _LAZY_SYMPY,
    ("control", "eager"): _EAGER_OPTIONAL,
    ("testing", "eager"): _EAGER_OPTIONAL,
    ("grad_bisect", "eager"): _EAGER_OPTIONAL,
    ("demo", "eager"): _EAGER_OPTIONAL,
}


def _module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(PKG).with_suffix("")
    parts = rel.parts
    if parts[-1] == "__init__":
        parts = parts[:-1] or ("__init__",)
    return ".".join(parts)


def _targets(node, package: list[str], modules) -> list[str]:
    """The graphc modules an import statement names (`from . import x` names module x)."""
    if isinstance(node, ast.Import):
        return [
            alias.name.removeprefix("graphc").lstrip(".") or "__init__"
            for alias in node.names
            if alias.name == "graphc" or alias.name.startswith("graphc.")
        ]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = package[: len(package) - (node.level - 1)]
        mod = ".".join(base + ([node.module] if node.module else []))
    elif node.module == "graphc" or (node.module or "").startswith("graphc."):
        mod = node.module.removeprefix("graphc").lstrip(".")
    else:
        return []
    out = []
    for alias in node.names:
        full = f"{mod}.{alias.name}" if mod else alias.name
        out.append(full if full in modules else (mod or "__init__"))
    return out


@functools.cache
def import_edges():
    """(importer, imported, lineno, function_level) for every intra-package import."""
    modules = {_module_name(p): p for p in PKG.rglob("*.py")}
    edges = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        if path.name == "__init__.py":
            package = [] if name == "__init__" else name.split(".")
        else:
            package = name.split(".")[:-1]
        fn_level = set()
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                fn_level.update(id(n) for n in ast.walk(fn))
        for node in ast.walk(tree):
            for t in _targets(node, package, modules):
                if t in modules and t != name:
                    edges.append((name, t, node.lineno, id(node) in fn_level))
    return modules, tuple(edges)


def _path(module: str) -> str:
    """The source path of `module` (graphc/ops/__init__.py for the ops package)."""
    modules, _ = import_edges()
    return str(modules[module].relative_to(PKG.parent))


def layer_of(module: str) -> int:
    for level, names in LAYERS.items():
        if module in names:
            return level
    raise AssertionError(f"graphc.{module} has no layer: add it to LAYERS (and the docstring)")


def test_every_module_has_a_layer():
    modules, _ = import_edges()
    for name in modules:
        layer_of(name)


def test_imports_point_down():
    _, edges = import_edges()
    upward = [
        f"{_path(a)}:{line} imports {b} (layer {layer_of(a)} -> {layer_of(b)})"
        f"{' inside a function' if fn else ''}"
        for a, b, line, fn in edges
        if layer_of(b) > layer_of(a)
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_cycle():
    _, edges = import_edges()
    graph = nx.DiGraph((a, b) for a, b, _, _ in edges)
    tangles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert not tangles, f"modules that import each other (directly or around a cycle): {tangles}"


def test_function_level_imports_are_listed_with_a_reason():
    _, edges = import_edges()
    found = {(a, b) for a, b, _, fn in edges if fn}
    unlisted = sorted(
        f"{_path(a)}:{line} imports {b}"
        for a, b, line, fn in edges
        if fn and (a, b) not in FUNCTION_LEVEL
    )
    assert not unlisted, (
        "function-level imports: move them to module level, or list them in FUNCTION_LEVEL "
        "with the reason they must stay:\n" + "\n".join(unlisted)
    )
    stale = sorted(set(FUNCTION_LEVEL) - found)
    assert not stale, f"FUNCTION_LEVEL lists imports that no longer exist: {stale}"


def test_every_module_is_at_most_600_lines():
    """A module that outgrows 600 lines is split by what it does (the modules above are the
    result), not left to grow."""
    long = {
        str(p.relative_to(PKG)): n
        for p in PKG.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert not long, f"split these modules: {long}"
