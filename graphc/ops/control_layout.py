"""Where things sit in a loop node (`while_loop`, `fori_loop`, `scan`): one named layout for
its inputs, its body's params and outputs, and its results.

===========  =======================================================================
node inputs  bounds (fori_loop: lower, upper), carries, xs (scan), captures
body params  index (fori_loop: i), carries, one slice of each xs, captures
body outputs carries, ys (scan)
results      finals (the carries after the loop), ys stacked, histories, trips
             (while_loop: the trip count)
===========  =======================================================================

`Layout.of(node)` reads the counts from the node; `layout.inputs(seq)`, `layout.params(seq)`
and `layout.results(seq)` cut a sequence laid out that way into its named groups, so code
reads `layout.results(g).hists` instead of `g[n_c + n_y :]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Inputs(NamedTuple):
    """The groups of a loop node's inputs."""

    bounds: list
    carries: list
    xs: list
    caps: list


class Params(NamedTuple):
    """The groups of a loop body's params."""

    index: list
    carries: list
    xs: list
    caps: list


class Results(NamedTuple):
    """The groups of a loop node's results."""

    finals: list
    ys: list
    hists: list
    trips: list


class Layout(NamedTuple):
    """The group sizes of a loop node; see the module docstring.

    >>> import graphc as gc
    >>> carry, ys = gc.scan(lambda c, x: (c + x, c * x), 0.0, gc.var("xs"))
    >>> layout = Layout.of(carry.inputs[0])
    >>> layout.results(["c", "ys", "c_hist"])
    Results(finals=['c'], ys=['ys'], hists=['c_hist'], trips=[])
    """

    n_bounds: int  # node inputs before the carries (fori_loop: lower and upper)
    n_index: int  # body params before the carries (fori_loop: the index)
    n_carry: int
    n_xs: int  # scanned inputs (scan)
    n_ys: int  # per-step outputs (scan)
    n_trips: int  # trip-count results (while_loop)

    @classmethod
    def of(cls, node) -> Layout:
        """The layout of a while_loop, fori_loop or scan node."""
        return cls.for_op(node.op, node.attrs)

    @classmethod
    def for_op(cls, op: str, attrs: dict) -> Layout:
        """The layout of a loop op with these attrs."""
        n_out = len(attrs["body"].outputs)
        if op == "scan":
            n_c = attrs["n_carry"]
            return cls(0, 0, n_c, attrs["n_xs"], n_out - n_c, 0)
        if op == "fori_loop":
            return cls(2, 1, n_out, 0, 0, 0)
        return cls(0, 0, n_out, 0, 0, 1)

    @property
    def n_results(self) -> int:
        return 2 * self.n_carry + self.n_ys + self.n_trips

    def inputs(self, seq: Sequence) -> Inputs:
        """`seq` laid out as the node's inputs, cut into its groups."""
        return _cut(Inputs, seq, (self.n_bounds, self.n_carry, self.n_xs))

    def params(self, seq: Sequence) -> Params:
        """`seq` laid out as the body's params, cut into its groups."""
        return _cut(Params, seq, (self.n_index, self.n_carry, self.n_xs))

    def results(self, seq: Sequence) -> Results:
        """`seq` laid out as the node's results, cut into its groups."""
        return _cut(Results, seq, (self.n_carry, self.n_ys, self.n_carry))

    def positions(self) -> Results:
        """The index of each result, by group."""
        return self.results(range(self.n_results))


def _cut(kind, seq: Sequence, sizes: Sequence[int]):
    """`seq` cut into consecutive groups of `sizes`, the rest as the last group."""
    groups, start = [], 0
    for size in sizes:
        groups.append(list(seq[start : start + size]))
        start += size
    return kind(*groups, list(seq[start:]))


__all__ = ["Inputs", "Layout", "Params", "Results"]
