"""`einsum`, and `tensordot`, `inner` and `kron` (products whose rules are einsums or block
sums): einsum is sums of products over named axes. Its derivative in each operand is an einsum of
the cotangent and the other operands (axes only that operand has are broadcast back, and a
repeated axis, a diagonal, is written back through an identity operand).

Subscripts are stored in explicit form (`"ij,jk->ik"`); the implicit form (`"ij,jk"`: the
axes named once, in alphabetical order) and spaces are accepted; `...` is not supported.
"""

from __future__ import annotations

import numpy as np

from ..errors import ArgumentError, ShapeError
from . import costs
from .base import OpDef, fmt_shape, register, result_dtype
from .batch_rules import batch_size, batched_all
from .elementwise import equal, ones_like
from .linalg import deferred_vjp
from .rearrange import full_cotangent
from .reduce import sum as reduce_sum
from .select import getitem
from .sequence import cumsum
from .shape import broadcast_like, expand_dims, reshape, reshape_like

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def parse_subscripts(subscripts: str) -> tuple[tuple[str, ...], str]:
    """The input terms and the output term of `subscripts`, explicit.

    >>> parse_subscripts("ij, jk")
    (('ij', 'jk'), 'ik')
    >>> parse_subscripts("ii->i")
    (('ii',), 'i')
    """
    if not isinstance(subscripts, str):
        raise ArgumentError(f"einsum: subscripts must be a string, got {subscripts!r}")
    text = subscripts.replace(" ", "")
    if "." in text:
        raise ArgumentError("einsum: '...' is not supported; name every axis")
    if text.count("->") > 1:
        raise ArgumentError(f"einsum: more than one '->' in {subscripts!r}")
    lhs, arrow, out = text.partition("->")
    terms = tuple(lhs.split(","))
    letters = "".join(terms)
    bad = sorted(set(letters + out) - set(_LETTERS))
    if bad:
        raise ArgumentError(f"einsum: subscripts are letters, got {''.join(bad)!r}")
    if not arrow:
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if len(set(out)) != len(out) or not set(out) <= set(letters):
        raise ArgumentError(
            f"einsum: output {out!r} must name distinct axes of the inputs ({subscripts!r})"
        )
    return terms, out


def _spec(terms, out) -> str:
    return f"{','.join(terms)}->{out}"


class Einsum(OpDef):
    """`np.einsum(subscripts, *operands)` with named axes (no `...`)."""

    name, nin, attr_names = "einsum", None, ("subscripts",)
    public, fresh = True, True

    def cost(self, y, *xs, subscripts):
        """From the subscripts (`costs.contraction`): `ij,jk->ik` is `2*i*j*k`."""
        return costs.contraction(subscripts, xs), costs.moved(y, xs)

    def prepare(self, *args, subscripts=None):
        if subscripts is None:  # numpy's order: einsum("ij,jk", a, b)
            if not args:
                raise ArgumentError("einsum: needs subscripts and operands")
            subscripts, args = args[0], args[1:]
        attrs = self.check_attrs({"subscripts": subscripts})
        n = len(parse_subscripts(attrs["subscripts"])[0])
        if len(args) != n:
            raise ArgumentError(
                f"einsum: {attrs['subscripts']!r} names {n} operand(s), got {len(args)}"
            )
        return args, attrs

    def check_attrs(self, attrs):
        return {"subscripts": _spec(*parse_subscripts(attrs["subscripts"]))}

    def shape(self, *shapes, subscripts):
        terms, out = parse_subscripts(subscripts)
        if len(shapes) != len(terms):
            raise ShapeError(f"einsum: {subscripts!r} needs {len(terms)} operands")
        dims: dict[str, int | None] = {}
        for s, term in zip(shapes, terms):
            if s is None:
                continue
            if len(s) != len(term):
                raise ShapeError(
                    f"einsum: operand {term!r} of {subscripts!r} has shape {fmt_shape(s)}"
                )
            for c, d in zip(term, s):
                if d is None:
                    continue
                if dims.get(c) not in (None, d):
                    raise ShapeError(
                        f"einsum: axis {c!r} of {subscripts!r} has sizes {dims[c]} and {d}"
                    )
                dims[c] = d
        return tuple(dims.get(c) for c in out)

    def dtype(self, *dtypes, subscripts):
        return result_dtype(*dtypes)

    def impl(self, *xs, subscripts):
        return np.einsum(subscripts, *xs)

    def emit(self, *xs, subscripts):
        return f"np.einsum({subscripts!r}, {', '.join(xs)})"

    def array_api(self, *xs, subscripts):
        return f"_einsum({subscripts!r}, {', '.join(xs)})"

    def vjp(self, g, y, *xs, subscripts):
        return self.vjp_some(None, g, y, *xs, subscripts=subscripts)

    def vjp_some(self, wanted, g, y, *xs, subscripts):
        terms, out = parse_subscripts(subscripts)
        g = full_cotangent(g, y)
        return tuple(
            None if wanted is not None and not wanted[k] else operand_vjp(g, xs, terms, out, k)
            for k in range(len(xs))
        )

    def jvp(self, ts, y, *xs, subscripts):
        total = None
        for k, t in enumerate(ts):
            if t is not None:
                term = einsum(subscripts, *(t if j == k else x for j, x in enumerate(xs)))
                total = term if total is None else total + term
        return total

    def dot_subscripts(self, na: int, nb: int) -> str:
        """The subscripts of `np.dot` of ranks `na` >= 1 and `nb` >= 2 (linalg's dot rule
        reaches them through the table)."""
        return tensordot_subscripts(na, nb, ((na - 1,), (nb - 2,)))

    def batch(self, batched, y, *xs, subscripts):
        terms, out = parse_subscripts(subscripts)
        b = next(c for c in _LETTERS if c not in subscripts)
        terms = [b + t if k else t for t, k in zip(terms, batched)]
        return einsum(_spec(terms, b + out), *xs)


def operand_vjp(g, xs, terms, out, k):
    """The cotangent of operand `k` of einsum(terms -> out) given the output's `g`: the
    einsum of g and the other operands onto operand k's axes."""
    target = list(terms[k])
    operands = [x for j, x in enumerate(xs) if j != k] + [g]
    specs = [t for j, t in enumerate(terms) if j != k] + [out]
    used = set("".join(terms) + out)
    fresh = iter(c for c in _LETTERS if c not in used)
    for i, c in enumerate(target):
        if c in target[:i]:  # a diagonal: write it back through an identity operand
            extra = next(fresh)
            operands.append(_identity(xs[k], i, len(target)))
            specs.append(c + extra)
            target[i] = extra
    available = set("".join(specs))
    kept = "".join(c for c in target if c in available)
    ct = einsum(_spec(specs, kept), *operands)
    missing = tuple(i for i, c in enumerate(target) if c not in available)
    if missing:  # axes only operand k has (summed there): broadcast the cotangent along them
        ct = broadcast_like(expand_dims(ct, missing), xs[k])
    return ct


def _identity(x, i, rank):
    """The identity matrix (booleans) of the size of axis `i` of `x`, known or not: the
    counts 1..n along that axis compared with themselves."""
    line = getitem(x, tuple(slice(None) if j == i else 0 for j in range(rank)))
    counts = cumsum(ones_like(line), 0)
    return equal(expand_dims(counts, 1), expand_dims(counts, 0))


def _pair_axes(axes):
    """tensordot's `axes`: an int (the last n of a with the first n of b) or two lists."""
    if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
        if axes < 0:
            raise ShapeError(f"tensordot: axes must not be negative, got {axes}")
        return int(axes)
    try:
        ia, ib = axes
        ia = (ia,) if isinstance(ia, (int, np.integer)) else tuple(ia)
        ib = (ib,) if isinstance(ib, (int, np.integer)) else tuple(ib)
    except (TypeError, ValueError):
        raise ArgumentError(
            f"tensordot: axes must be an int or two sequences of ints, got {axes!r}"
        ) from None
    if len(ia) != len(ib) or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in ia + ib
    ):
        raise ShapeError(f"tensordot: axes {axes!r} must pair axes of a with axes of b")
    return (tuple(int(v) for v in ia), tuple(int(v) for v in ib))


def tensordot_subscripts(na: int, nb: int, axes) -> str:
    """The einsum subscripts of `np.tensordot` on operands of ranks `na` and `nb`.

    >>> tensordot_subscripts(3, 2, 1), tensordot_subscripts(2, 2, ((0,), (1,)))
    ('abc,ce->abe', 'ab,ca->bc')
    """
    if isinstance(axes, int):
        axes = (tuple(range(na - axes, na)), tuple(range(axes)))
    ia = [a % na if na else a for a in axes[0]]
    ib = [b % nb if nb else b for b in axes[1]]
    if (
        len(set(ia)) != len(ia)
        or len(set(ib)) != len(ib)
        or not all(0 <= a < na for a in ia)
        or not all(0 <= b < nb for b in ib)
    ):
        raise ShapeError(f"tensordot: axes {axes!r} do not fit ranks {na} and {nb}")
    letters = iter(_LETTERS)
    ta = [next(letters) for _ in range(na)]
    tb = [next(letters) for _ in range(nb)]
    for a, b in zip(ia, ib):
        tb[b] = ta[a]
    out = [c for i, c in enumerate(ta) if i not in ia] + [
        c for i, c in enumerate(tb) if i not in ib
    ]
    return _spec(("".join(ta), "".join(tb)), "".join(out))


def inner_subscripts(na: int, nb: int) -> str:
    """The einsum subscripts of `np.inner` (a scalar operand multiplies).

    >>> inner_subscripts(2, 1)
    'ab,b->a'
    """
    if na == 0 or nb == 0:
        return tensordot_subscripts(na, nb, 0)
    return tensordot_subscripts(na, nb, ((na - 1,), (nb - 1,)))


class _Contraction(OpDef):
    """An op that is an einsum once the operands' ranks are known: its derivatives and
    batch rule are that einsum's."""

    nin, public, fresh = 2, True, True

    def cost(self, y, a, b, **attrs):
        """Its einsum's (`costs.contraction`)."""
        spec = self.subscripts(len(a.shape), len(b.shape), **attrs)
        return costs.contraction(spec, (a, b)), costs.moved(y, (a, b))

    def dtype(self, *dtypes, **attrs):
        return result_dtype(*dtypes)

    def shape(self, a, b, **attrs):
        if a is None or b is None:
            return None
        return einsum.shape(a, b, subscripts=self.subscripts(len(a), len(b), **attrs))

    def vjp(self, g, y, a, b, **attrs):
        if _unranked(a, b):  # deferred to bind (linalg.product_vjp)
            return deferred_vjp(self.name, g, a, b, **attrs)
        spec = self.subscripts(len(a.shape), len(b.shape), **attrs)
        return einsum.vjp(g, y, a, b, subscripts=spec)

    def jvp(self, ts, y, a, b, **attrs):
        ta, tb = ts
        terms = [None if ta is None else self(ta, b, **attrs)]
        terms.append(None if tb is None else self(a, tb, **attrs))
        terms = [t for t in terms if t is not None]
        return None if not terms else sum(terms[1:], terms[0])

    def batch(self, batched, y, a, b, **attrs):
        ranks = [len(x.shape) - k for x, k in zip((a, b), batched)]
        spec = self.subscripts(*ranks, **attrs)
        return einsum.batch(batched, y, a, b, subscripts=spec)


class Tensordot(_Contraction):
    """`np.tensordot(a, b, axes)`."""

    name, attr_names = "tensordot", ("axes",)

    def prepare(self, a, b, axes=2):
        return (a, b), self.check_attrs({"axes": axes})

    def check_attrs(self, attrs):
        return {"axes": _pair_axes(attrs.get("axes", 2))}

    def subscripts(self, na, nb, *, axes):
        return tensordot_subscripts(na, nb, axes)

    def impl(self, a, b, *, axes):
        return np.tensordot(a, b, axes)

    def emit(self, a, b, *, axes):
        return f"np.tensordot({a}, {b}, {axes!r})"

    def array_api(self, a, b, *, axes):
        return f"xp.tensordot({a}, {b}, axes={axes!r})"


class Inner(_Contraction):
    """`np.inner(a, b)`: sums over the last axes."""

    name = "inner"
    array_api = "_inner({0}, {1})"

    def subscripts(self, na, nb):
        return inner_subscripts(na, nb)

    def impl(self, a, b):
        return np.inner(a, b)

    def emit(self, a, b):
        return f"np.inner({a}, {b})"


class Kron(_Contraction):
    """`np.kron(a, b)`: the block product (the operand of lower rank gets leading 1s). Its
    VJP sums the cotangent, cut into blocks, against the other operand (ranks needed)."""

    name = "kron"  # bilinear like the contractions: their JVP
    array_api = "_kron({0}, {1})"
    cost = costs.entrywise  # one product per entry

    def shape(self, a, b):
        if a is None or b is None:
            return None
        n = max(len(a), len(b))
        a, b = ((1,) * (n - len(s)) + s for s in (a, b))
        return tuple(None if p is None or q is None else p * q for p, q in zip(a, b))

    def impl(self, a, b):
        return np.kron(a, b)

    def emit(self, a, b):
        return f"np.kron({a}, {b})"

    def vjp(self, g, y, a, b):
        if _unranked(a, b):  # deferred to bind (linalg.product_vjp)
            return deferred_vjp("kron", g, a, b)
        ranks = [a.shape, b.shape]
        n = max(len(r) for r in ranks)
        # a's axes at the even places of 2n, b's at the odd: kron is their product reshaped.
        wide_a = expand_dims(_lead(a, n - len(ranks[0])), tuple(range(1, 2 * n, 2)))
        wide_b = expand_dims(_lead(b, n - len(ranks[1])), tuple(range(0, 2 * n, 2)))
        blocks = reshape_like(full_cotangent(g, y), wide_a * wide_b)
        ga = reduce_sum(blocks * wide_b, axis=tuple(range(1, 2 * n, 2)))
        gb = reduce_sum(blocks * wide_a, axis=tuple(range(0, 2 * n, 2)))
        return reshape_like(ga, a), reshape_like(gb, b)

    def batch(self, batched, y, a, b):
        size = batch_size((a, b), batched)
        a, b = batched_all((a, b), batched, size)
        n = len(y.shape)  # entry by entry: a's axes at the odd places after the batch's
        wide_a, wide_b = (
            expand_dims(reshape(x, (size,) + (1,) * (n + 1 - len(x.shape)) + x.shape[1:]), axes)
            for x, axes in ((a, tuple(range(2, 2 * n + 1, 2))), (b, tuple(range(1, 2 * n, 2))))
        )
        return reshape(wide_a * wide_b, (size,) + y.shape)


def _unranked(a, b) -> bool:
    return any(getattr(x, "shape", None) is None for x in (a, b))


def _lead(x, k):
    """`x` with `k` leading axes of size 1."""
    return expand_dims(x, tuple(range(k))) if k else x


einsum = register(Einsum())
tensordot = register(Tensordot())
inner = register(Inner())
kron = register(Kron())
