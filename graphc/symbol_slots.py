"""The fields of a `Symbol` (its `__slots__`) and their docstrings, which `help(Symbol)` and
the API reference show (`graphc.ir` defines the node; its fields are read-only)."""

from __future__ import annotations

SLOTS = {
    "opdef": """The operation, an entry of the op table (`gc.sum` is one; `op` is its name).

    >>> import graphc as gc
    >>> y = gc.sum(gc.var("x"))
    >>> y.opdef is gc.sum
    True
    """,
    "op": """The operation's name (numpy's name for it; "var" and "const" for leaves):
    `opdef.name`, kept in the node (compiler passes read it millions of times).

    >>> import graphc as gc
    >>> gc.var("x").op, (gc.var("x") @ gc.var("w")).op
    ('var', 'matmul')
    """,
    "inputs": """The nodes this node computes from, a tuple (empty for vars and constants).

    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> (x * 2).inputs
    (<Symbol var 'x' shape=? dtype=?>, <Symbol 2 shape=() dtype=int64>)
    """,
    "attrs": """The op's non-array arguments, a dict (`axis`, `keepdims`, `shape`, ...).

    >>> import graphc as gc
    >>> gc.sum(gc.var("x", shape=(2, 3)), axis=0).attrs
    {'axis': 0, 'keepdims': False}
    """,
    "shape": """The static shape: a tuple of ints, with None for a dim not known yet, or None
    when even the rank is unknown (a var declared without a shape).

    >>> import graphc as gc
    >>> x = gc.var("x", shape=(2, None))
    >>> (x.shape, gc.sum(x, axis=1).shape, gc.var("y").shape)
    ((2, None), (2,), None)
    """,
    "dtype": """The numpy dtype of the values, or None until data is bound (a var declared
    without one).

    >>> import graphc as gc
    >>> x = gc.var("x", dtype="float32")
    >>> (x + 1).dtype, gc.var("y").dtype
    (dtype('float32'), None)
    """,
    "name": """The name of a var (how data is bound), or of an op node made with `name=`;
    None for other nodes.

    >>> import graphc as gc
    >>> x = gc.var("x")
    >>> x.name, gc.tanh(x, name="h").name, gc.tanh(x).name
    ('x', 'h', None)
    """,
    "origin": """`(file, line)` of the user's code that created the node (None if unknown):
    errors and `where()` name it.

    >>> import graphc as gc
    >>> gc.var("x").origin
    ('<doctest ...>', 1)
    """,
    "weak": """Whether the value promotes like a Python number (numpy's weak scalars): a
    result of Python numbers combined by an operator, which does not make a float32 graph
    float64.

    >>> import graphc as gc
    >>> six = gc.const(2.0) * 3.0
    >>> six.weak, (gc.var("x", dtype="float32") * six).dtype
    (True, dtype('float32'))
    """,
    "__weakref__": None,
    # (graphc.simplify) the token of the pipeline whose normal form the node is, if set
    "_normal": None,
    # (graphc.simplify.framework.rule_pass) a bit per rule pass the node is a fixed point
    # of, with all below it: an int, which the cyclic garbage collector never walks
    "_fixed": None,
}

__test__ = {name: doc for name, doc in SLOTS.items() if doc}  # doctest runs the examples
