"""The ``"numba"`` backend's generated source (`graphc.backends.numba`): each cluster's
kernel, a loop over the entries in blocks written from its `fused_loop` attrs and the op
facts only (no user string reaches it), and the library the kernel modules import (numba's
imports, bit-cast intrinsics and graphc's elementary functions, `graphc.backends.numba_math`).
"""

from __future__ import annotations

import hashlib
import inspect
import math
import re

from ..ops import OPS
from ..ops.fused import FusedLoop, number_text, template
from . import numba_math

BLOCK = 4096  # entries per block of a kernel's loop

# numexpr's function names -> the kernel's (graphc's own where it has one, libm otherwise)
FUNCTIONS = {
    "sin": "_sin(float({0}))",
    "cos": "_cos(float({0}))",
    "exp": "_exp(float({0}))",
    "log": "_log(float({0}))",
    "log1p": "_log1p(float({0}))",
    "tanh": "_tanh(float({0}))",
    "maximum": "_maximum({0}, {1})",
    "minimum": "_minimum({0}, {1})",
    "sign": "_sign({0})",
    "where": "({1} if {0} else {2})",
    "floor": "np.floor({0})",
    "ceil": "np.ceil({0})",
    "abs": "abs({0})",
    **{
        name: f"math.{name.replace('arc', 'a')}({{0}})"
        for name in "sqrt tan arcsin arccos arctan sinh cosh arcsinh arccosh arctanh "
        "expm1 log10 log2".split()
    },
}

PRELUDE = """import math

import numba as _numba
import numpy as np
from llvmlite import ir as _ir
from numba.extending import intrinsic as _intrinsic

_ELEMENT = dict(error_model="numpy", fastmath=False, forceinline=True, cache=True)
_LOOP = dict(error_model="numpy", fastmath=False, nogil=True, cache=True)
_PARALLEL = dict(_LOOP, parallel=True)
_SUM = dict(error_model="numpy", fastmath={"reassoc", "nsz"}, nogil=True, cache=True)
_BLOCK = BLOCK_SIZE


@_intrinsic
def f2i(typingctx, x):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], _ir.IntType(64))

    return _numba.types.int64(_numba.types.float64), codegen


@_intrinsic
def i2f(typingctx, x):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], _ir.DoubleType())

    return _numba.types.float64(_numba.types.int64), codegen
""".replace("BLOCK_SIZE", str(BLOCK))


def kernel_name(attrs, parallel: bool = False) -> str:
    """A cluster's kernel name: a hash of its `fused_loop` attrs (one cluster, one kernel)
    and of whether it runs on numba's threads."""
    text = repr(tuple(attrs[k] for k in FusedLoop.attr_names)) + " parallel" * parallel
    return "_nbk_" + hashlib.sha256(text.encode()).hexdigest()[:16]


# --- the kernel module's source --------------------------------------------------------


def _spelling(op_name: str) -> str:
    """The kernel's statement template for op `op_name` (from its numexpr spelling)."""
    spelled = template(OPS[op_name])
    head = spelled.split("(")[0]
    if head in FUNCTIONS:
        args = ", ".join(f"{{{k}}}" for k in range(OPS[op_name].nin))
        if spelled != f"{head}({args})":  # relu: maximum({0}, 0)
            inner = spelled[len(head) + 1 : -1].split(", ")
            return FUNCTIONS[head].format(*inner)
        return FUNCTIONS[head]
    return spelled


def _names(args) -> list[str]:
    return [
        f"a{a[1]}" if a[0] == "in" else f"v{a[1]}" if a[0] == "v" else number_text(a[1])
        for a in args
    ]


def _step_text(step) -> str:
    op, dtype, *args = step
    text = _spelling(op).format(*_names(args))
    return f"np.float32({text})" if dtype == "float32" else text


def kernel_text(name: str, attrs: dict, parallel: bool = False) -> str:
    """One cluster's kernel: the loop over the entries in blocks (`<name>_l`), row by row
    when the loop is cut into rows (`split`), and the Python function the program calls
    (`<name>`), which flattens the inputs and makes the outputs. A block where sin or cos
    met an argument beyond their reduction's range is run again with libm's; a block's values
    to sum are kept in a buffer, summed by `_bsum`. A `parallel` loop runs its blocks on
    numba's threads (`_spread`)."""
    outs, kinds = attrs["outs"], attrs["kinds"]
    params = [f"a{k}" for k in range(len(kinds))]
    sums = [k for k, (_, r) in enumerate(outs) if r == "sum"]
    args = [*params, *(f"o{k}" for k, (_, r) in enumerate(outs) if r is None)]
    args = ", ".join(args + [f"b{k}" for k in sums] * (not parallel))
    size = "rows, cols" if attrs["split"] else "n"
    lines = [f"@_numba.njit(**{'_PARALLEL' if parallel else '_LOOP'})"]
    lines += [f"def {name}_l({size}, {args}):", *(_spread if parallel else _serial)(attrs, sums)]
    lines += [f"    return {''.join(f't{k}, ' for k in sums)}".rstrip(), ""]
    return "\n".join(lines + _caller(name, attrs, params, args, sums, parallel)) + "\n"


def _serial(attrs, sums) -> list[str]:
    """The loop over the blocks in turn (and over the rows first when it has rows)."""
    rowwise = attrs["split"] > 0
    lines = [f"    t{k} = 0.0" for k in sums]
    if rowwise:
        lines.append("    for r in range(rows):")
        lines += [
            f"        x{k} = a{k}[r]" for k, kind in enumerate(attrs["kinds"]) if kind == "c"
        ]
    size = "cols" if rowwise else "n"
    block = [f"for lo in range(0, {size}, _BLOCK):", f"    hi = min(lo + _BLOCK, {size})"]
    block += _blocks(attrs) + [f"    t{k} += _bsum(b{k}, hi - lo)" for k in sums]
    return lines + ["    " * (1 + rowwise) + line for line in block]


def _spread(attrs, sums) -> list[str]:
    """The loop over the blocks (of every row) on numba's threads (`prange`): each block
    sums its values into an array of partial sums, added up in the blocks' order afterwards,
    so the sums are the serial loop's to the last bit."""
    rowwise = attrs["split"] > 0
    size, count = ("cols", "rows * blocks") if rowwise else ("n", "blocks")
    lines = [f"    blocks = ({size} + _BLOCK - 1) // _BLOCK"]
    lines += [f"    s{k} = np.empty({count})" for k in sums]
    lines.append(f"    for q in _numba.prange({count}):")
    if rowwise:
        lines.append("        r = q // blocks")
        lines += [
            f"        x{k} = a{k}[r]" for k, kind in enumerate(attrs["kinds"]) if kind == "c"
        ]
    lines.append(f"        lo = {'q % blocks' if rowwise else 'q'} * _BLOCK")
    lines.append(f"        hi = min(lo + _BLOCK, {size})")
    lines += [f"        b{k} = np.empty(hi - lo)" for k in sums]
    lines += ["    " + line for line in _blocks(attrs)]
    lines += [f"        s{k}[q] = _bsum(b{k}, hi - lo)" for k in sums]
    for k in sums:
        lines += [f"    t{k} = 0.0", f"    for q in range({count}):", f"        t{k} += s{k}[q]"]
    return lines


def _blocks(attrs) -> list[str]:
    """One block's work, from `lo` to `hi` (of row `r` when the loop has rows): its views of
    the arrays (``u<k>`` of input k, ``p<k>`` of output k), its loop, and again with libm's
    sin and cos where needed."""
    row = "r, " if attrs["split"] else ""
    checked = sorted({_names(s[2:])[0] for s in attrs["steps"] if s[0] in ("sin", "cos")})
    lines = []
    for k, kind in enumerate(attrs["kinds"]):
        if kind in "abr":
            lines.append(f"    u{k} = a{k}[{'' if kind == 'r' else row}lo:hi]")
    lines += [
        f"    p{k} = o{k}[{row}lo:hi]" for k, (_, r) in enumerate(attrs["outs"]) if r is None
    ]
    lines += ["    bad = False"] * bool(checked) + _block(attrs, checked, exact=False)
    if checked:
        lines += ["    if bad:  # again with libm's sin and cos", *_block(attrs, checked, True)]
    return lines


def _block(attrs, checked, exact: bool) -> list[str]:
    """The loop over one block's entries (libm's sin and cos where `exact`)."""
    indent = " " * (8 if exact else 4)
    reads = {f"a{k}": f"x{k}" for k, kind in enumerate(attrs["kinds"]) if kind != "s"}
    lines = [f"{indent}for i in range(hi - lo):"]
    lines += [
        f"{indent}    x{k} = u{k}[i]" for k, kind in enumerate(attrs["kinds"]) if kind in "abr"
    ]
    for j, step in enumerate(attrs["steps"]):
        text = _step_text(step)
        for a, x in reads.items():
            text = re.sub(rf"\b{a}\b", x, text)
        if exact:
            text = text.replace("_sin(", "math.sin(").replace("_cos(", "math.cos(")
        lines.append(f"{indent}    v{j} = {text}")
    for k, (j, r) in enumerate(attrs["outs"]):
        lines.append(f"{indent}    {'p' if r is None else 'b'}{k}[i] = v{j}")
    if checked and not exact:
        flags = " | ".join(f"_sc_bad(float({reads.get(v, v)}))" for v in checked)
        lines.append(f"{indent}    bad |= {flags}")
    return lines


def _caller(name, attrs, params, args, sums, parallel) -> list[str]:
    """The Python function the program calls: inputs flattened (rows by columns when the
    loop has rows), outputs made."""
    steps, shape, split = attrs["steps"], attrs["shape"], attrs["split"]
    dims = [math.prod(shape[:split]), math.prod(shape[split:])] if split else [math.prod(shape)]
    grid = ", ".join(map(str, dims))
    lines = [f"def {name}({', '.join(params)}):"]
    for k, kind in enumerate(attrs["kinds"]):
        read = {
            "a": f"np.ravel(a{k})" + (f".reshape({grid})" if split else ""),
            "s": f"np.asarray(a{k}).reshape(-1)[0]",
            "b": f"np.broadcast_to(a{k}, {shape!r}).reshape({grid})",
        }.get(kind, f"np.ravel(a{k})")
        lines.append(f"    a{k} = {read}")
    for k, (j, r) in enumerate(attrs["outs"]):
        if r is None:
            dtype = steps[j][1].replace("bool", "bool_")
            lines.append(f"    o{k} = np.empty({tuple(dims)!r}, np.{dtype})")
    lines += [f"    b{k} = np.empty(min({dims[-1]}, _BLOCK))" for k in sums if not parallel]
    got = f"{''.join(f't{k}, ' for k in sums)}= " if sums else ""
    lines.append(f"    {got}{name}_l({grid}, {args})")
    values = [
        f"o{k}.reshape({shape!r})" if r is None else f"np.{steps[j][1]}(t{k})"
        for k, (j, r) in enumerate(attrs["outs"])
    ]
    return lines + [f"    return {', '.join(values)}"]


def kernels_text(kernels: list[tuple[dict, bool]]) -> str:
    """The program's kernels (the part of its kernel module shown in ``f.source``), from
    their attrs and whether each runs on numba's threads."""
    return "\n\n".join(kernel_text(kernel_name(a, p), a, p) for a, p in kernels)


def library_text() -> str:
    """numba's imports, the bit-cast intrinsics and graphc's elementary functions, compiled
    (a module of its own in the cache directory, which the kernel modules import)."""
    source = inspect.getsource(numba_math)
    library = source.split("# --- library", 1)[1].split("\n", 1)[1]
    names = numba_math.FUNCTIONS.split()
    decorate = "\n".join(f"{f} = _numba.njit(**_ELEMENT)({f})" for f in names)
    decorate += "\n_bsum = _numba.njit(**_SUM)(_bsum)"
    exported = [
        *names,
        "_bsum",
        "math",
        "np",
        "_numba",
        "_ELEMENT",
        "_LOOP",
        "_PARALLEL",
        "_BLOCK",
    ]
    return f"{PRELUDE}\n{library}\n{decorate}\n\n__all__ = {exported!r}\n"
