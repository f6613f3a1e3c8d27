"""Why `gc.check_grad` failed: the first operation whose VJP disagrees with finite
differences of that operation alone (gradient bisection), and the compiled gradient, the
eager tape's and finite differences compared three ways (graphc.transforms calls these).

Each operation is checked locally, at the values the forward pass gives its inputs: its VJP
rule applied to a random head `g`, against central differences of `sum(op(inputs) * g)` in
each input entry. The first one in execution order that disagrees is named with its user
line; an operation whose VJP cannot run on arrays (control flow) is not checked.
"""

from __future__ import annotations

import numpy as np

from .autodiff import depends
from .ir import Symbol, format_origin, origin_code, toposort


def default_eps(dtype=np.float64) -> float:
    """Central-difference step for `dtype` (float64 for a non-floating one): the cube root of
    machine epsilon, which balances the truncation error O(eps**2) against the rounding
    error O(u / eps). `gc.check_grad` and `assert_grads` both use it.

    >>> round(default_eps(), 8), round(default_eps(np.float32), 6)
    (6.06e-06, 0.004922)
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    return float(np.finfo(dtype).eps) ** (1.0 / 3.0)


def central_differences(f, x0: np.ndarray, h: float) -> np.ndarray:
    """d f / d x0[i] for every entry, by central differences: `f()` reads `x0`, which is
    perturbed in place and restored. The step is h, or more where h would vanish next to
    the entry; the difference is divided by the step actually taken after rounding."""
    numeric = np.empty(x0.shape, np.float64)
    for i in np.ndindex(x0.shape):
        orig = x0[i]
        step = max(h, 4.0 * float(np.spacing(np.abs(orig))))
        x0[i] = orig + step
        plus, hi = f(), float(x0[i])
        x0[i] = orig - step
        minus, lo = f(), float(x0[i])
        x0[i] = orig
        numeric[i] = (plus - minus) / (hi - lo)
    return numeric


def worst_entry(name: str, a: np.ndarray, numeric: np.ndarray, rtol, atol, h) -> tuple:
    """The largest |analytic - numeric| (NaN counts as infinite), and the entry furthest
    outside tolerance: (ratio to tolerance, name, index, analytic, numeric, difference,
    tolerance, step)."""
    diff = np.abs(a - numeric)
    tol = atol + rtol * np.abs(numeric)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ratio = diff / np.maximum(tol, np.finfo(np.float64).tiny)
    ratio = np.where(np.isnan(ratio), np.inf, ratio)  # a NaN on either side fails
    largest = float(np.nanmax(np.where(np.isnan(diff), np.inf, diff)))
    j = np.unravel_index(int(np.argmax(ratio)), a.shape) if a.shape else ()
    entry = (float(ratio[j]), name, j, float(a[j]), float(numeric[j]), float(diff[j]))
    return largest, entry + (float(tol[j]), h)


def _index(j) -> str:
    return f"[{', '.join(map(str, j))}]" if j else ""


# --- bisection -------------------------------------------------------------------------


def first_wrong_vjp(y: Symbol, wrts, at: dict, rtol: float, atol: float) -> dict | None:
    """The first operation of `y`'s graph, in execution order, whose VJP disagrees with
    finite differences of that operation alone at the values `at` (var name -> array) gives
    it: a record (op, line, origin, input, index, vjp, numeric), or None when every
    operation on a path from `wrts` agrees."""
    nodes = toposort([y])
    dep = depends(nodes, wrts)
    values = _forward_values(nodes, at)
    rng = np.random.default_rng(0)
    for node in nodes:
        if node.op in ("var", "const") or id(node) not in dep or not node.opdef.differentiable:
            continue
        targets = [
            id(x) in dep and i not in node.opdef.nondiff_inputs for i, x in enumerate(node.inputs)
        ]
        found = _local_check(node, [values[id(x)] for x in node.inputs], targets, rng, rtol, atol)
        if found is not None:
            return found
    return None


def _forward_values(nodes, at: dict) -> dict:
    """id(node) -> its value, each op computed with its numpy `impl`."""
    values: dict[int, object] = {}
    with np.errstate(all="ignore"):
        for node in nodes:
            if node.op == "var":
                values[id(node)] = at[node.name]
            elif node.op == "const":
                values[id(node)] = node.attrs["value"]
            else:
                values[id(node)] = node.opdef.impl(
                    *[values[id(x)] for x in node.inputs], **node.attrs
                )
    return values


def _local_check(node: Symbol, xs: list, targets: list, rng, rtol, atol) -> dict | None:
    """`node`'s VJP at inputs `xs` against central differences, for the inputs in
    `targets`; the worst disagreeing entry as a record, or None."""
    impl, attrs = node.opdef.impl, node.attrs
    y0 = impl(*xs, **attrs)
    if not isinstance(y0, np.ndarray | np.generic | float) or np.asarray(y0).dtype.kind != "f":
        return None
    g = rng.standard_normal(np.shape(y0))
    try:
        with np.errstate(all="ignore"):
            cts = node.opdef.vjp_some(targets, g, y0, *xs, **attrs)
    except Exception:  # a rule that needs graph nodes (control flow): not checked here
        return None
    for i, (want, ct) in enumerate(zip(targets, cts)):
        x0 = np.array(xs[i], dtype=np.float64) if want else None
        if x0 is None or np.asarray(xs[i]).dtype.kind != "f" or not x0.size:
            continue
        args = list(xs)
        args[i] = x0

        def inner(args=args):
            with np.errstate(all="ignore"):
                return float(np.sum(np.asarray(impl(*args, **attrs), np.float64) * g))

        h = default_eps()
        numeric = central_differences(inner, x0, h)
        a = np.broadcast_to(np.asarray(0.0 if ct is None else ct, np.float64), x0.shape)
        _, (ratio, _, j, av, nv, *_) = worst_entry("", a, numeric, rtol, atol, h)
        if not ratio <= 1.0:
            return {
                "op": node.op,
                "line": format_origin(node.origin),
                "origin": node.origin,
                "input": i,
                "index": j,
                "vjp": av,
                "numeric": nv,
            }
    return None


def describe_wrong_vjp(found: dict | None) -> str:
    """The sentence `check_grad` adds about the bisection's result."""
    if found is None:
        return (
            "every operation's VJP agrees with finite differences of it alone: the "
            "disagreement comes from how they combine, or the function is not smooth here"
        )
    entry = f", entry {_index(found['index'])}" if found["index"] else ""
    text = (
        f"the first operation whose VJP disagrees with finite differences of it alone is "
        f"{found['op']} at {found['line']} (input {found['input']}{entry}: its VJP gives "
        f"{found['vjp']:.10g}, central differences {found['numeric']:.10g})"
    )
    code = origin_code(found["origin"])
    return f"{text}\n    {code}" if code else text


# --- compiled, eager and finite differences --------------------------------------------


def eager_gradients(y: Symbol, wrts, at: dict) -> list[np.ndarray]:
    """The gradients of `y` on the eager tape: the graph replayed on tensors, op by op."""
    from . import eager

    names = {w.name for w in wrts}
    values: dict[int, object] = {}
    leaves = {name: eager.tensor(a, requires_grad=name in names) for name, a in at.items()}
    for node in toposort([y]):
        if node.op == "var":
            values[id(node)] = leaves[node.name]
        elif node.op == "const":
            values[id(node)] = node.attrs["value"]
        else:
            inputs = tuple(values[id(x)] for x in node.inputs)
            values[id(node)] = eager._apply(node.opdef, inputs, dict(node.attrs))
    grads = eager.grad(values[id(y)], [leaves[w.name] for w in wrts])
    return [
        np.zeros(np.shape(at[w.name])) if g is None else np.asarray(g.numpy())
        for w, g in zip(wrts, grads)
    ]


def three_way(compiled, numeric, eager, rtol: float, atol: float) -> tuple[dict, str]:
    """Which of compiled, eager and finite differences agree (pair -> bool), and a
    sentence saying what that means; `eager` is None when the tape could not run."""

    def close(a, b):
        return all(
            np.allclose(np.asarray(p, np.float64), q, rtol=rtol, atol=atol, equal_nan=False)
            for p, q in zip(a, b)
        )

    pairs = {("compiled", "finite differences"): close(compiled, numeric)}
    if eager is None:
        return pairs, "the eager tape could not replay this graph"
    pairs[("eager", "finite differences")] = close(eager, numeric)
    pairs[("compiled", "eager")] = close(compiled, eager)
    said = "; ".join(
        f"{a} and {b} {'agree' if ok else 'disagree'}" for (a, b), ok in pairs.items()
    )
    if pairs[("compiled", "eager")] and not pairs[("eager", "finite differences")]:
        why = "the derivative rules both use are wrong here (or the function is not smooth)"
    elif pairs[("eager", "finite differences")]:
        why = (
            "the compiled program differs from the rules run eagerly (emission or simplification)"
        )
    else:
        why = "each differs from the others"
    return pairs, f"{said}: {why}"
