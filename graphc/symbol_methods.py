"""The methods of `Symbol` (and `Graph`) that higher layers own, installed on import.

`graphc.ir` defines the node and imports nothing above it; printing, the sympy bridge, binding,
the executor and serialization give symbols their conveniences (`str(sym)`, `sym.to_sympy()`,
`sym.infer_shape(...)`, `sym.bind(...)`, `sym.tojson()`, pickling) from here, as JAX's numpy
layer attaches array methods to tracers. `import graphc` imports this module.
"""

from __future__ import annotations

from .binding import infer_shape, infer_type, internal_outputs, output_names
from .dispatch import Group
from .executor import Executor, eval_symbol, simple_bind
from .ir import Graph, Symbol, install_methods, toposort
from .printing import lambda_text, latex, one_line, to_str
from .serialize import load_json, save, tojson


class _SymbolMethods:
    def __repr__(self):
        shape = "?" if self.shape is None else tuple("?" if d is None else d for d in self.shape)
        dtype = "?" if self.dtype is None else self.dtype.name
        if self.op == "var":
            text = f"var {self.name!r}"
        elif len(toposort([self])) <= 30:  # small graphs show their expression
            text = one_line(to_str(self))
        else:
            text = f"{self.op}(...)"
        return f"<Symbol {text} shape={shape} dtype={dtype}>"

    def __str__(self):
        return to_str(self)

    def _repr_latex_(self):
        return f"${latex(self)}$"

    def to_sympy(self):
        """This expression as a sympy expression (vars become `sympy.Symbol` objects).

        >>> import graphc as gc
        >>> (gc.var("x") * 2).to_sympy()
        2*x
        """
        from .simplify.sympy_bridge import to_sympy  # sympy is imported on first use

        return to_sympy(self)

    def list_outputs(self) -> list[str]:
        """MXNet-style output names: a var's own name, else `<op><k>_output`.

        >>> import graphc as gc
        >>> x = gc.var("x")
        >>> gc.Group([x, gc.exp(x)]).list_outputs()
        ['x', 'exp0_output']
        """
        return output_names(self)

    def get_internals(self):
        """Every value this graph takes or computes, as one `Group` (MXNet's
        `get_internals`): the vars, then the ops in the order they run, named by
        `list_outputs()` as `<op><k>_output` (`h_output` for an op made with `name="h"`).
        These names ask `bind(..., adjoints=[...])` for the gradient with respect to a value.

        >>> import graphc as gc
        >>> x = gc.var("x")
        >>> y = gc.sum(gc.tanh(x * 2, name="h"))
        >>> y.get_internals().list_outputs()
        ['x', 'multiply0_output', 'h_output', 'sum0_output']
        """
        return Group([node for _, node in internal_outputs(self)])

    def infer_shape(self, **shapes):
        """The shapes of the arguments and outputs, given some arguments' shapes (MXNet's
        `infer_shape`); nothing is computed.

        Parameters
        ----------
        **shapes : tuple of ints
            Argument name -> shape; the others keep their declared shape (or None).

        Returns
        -------
        (arg_shapes, out_shapes) : (list, list)
            In `list_arguments()` and `list_outputs()` order; None where unknown. Shapes
            that do not fit the graph raise `gc.ShapeError`.

        Examples
        --------
        >>> import graphc as gc
        >>> x, w = gc.var("x"), gc.var("w")
        >>> gc.dot(x, w).infer_shape(x=(4, 3), w=(3, 2))
        ([(4, 3), (3, 2)], [(4, 2)])
        >>> (x + w).infer_shape(x=(2, 3))
        ([(2, 3), None], [None])
        """
        return infer_shape(self, shapes)

    def infer_type(self, **dtypes):
        """`(arg_types, out_types)` in argument/output order (None where unknown).

        >>> import graphc as gc
        >>> (gc.var("x") + 1).infer_type(x="float32")
        ([dtype('float32')], [dtype('float32')])
        """
        return infer_type(self, dtypes)

    def eval(self, **args):
        """The outputs for the arrays `args`, computed once (MXNet's `eval`).

        Parameters
        ----------
        **args : array_like
            Argument name -> value, for every argument (`list_arguments()`).

        Returns
        -------
        list of ndarray
            One array per output (`list_outputs()`), also for a single output. The program
            is compiled for these shapes and dtypes and kept for the next call like them.

        Examples
        --------
        >>> import graphc as gc
        >>> (gc.var("x") * 2).eval(x=[1.0, 2.0])
        [array([2., 4.])]
        >>> x = gc.var("x")
        >>> gc.Group([x * 2, x + 1]).eval(x=1.0)
        [array(2.), array(2.)]
        """
        return eval_symbol(self, args)

    def bind(self, args, args_grad=None, grad_req="write", adjoints=None, backend="numpy"):
        """An `Executor`: this graph bound to arrays, to run forward and backward passes
        in place (MXNet's `bind`).

        Parameters
        ----------
        args : dict or list of array_like
            Argument name -> array (or a list in `list_arguments()` order). numpy arrays
            are held by reference: changing them in place changes the next `forward`.
        args_grad : dict or list of ndarray, optional
            Argument name -> the array `backward` writes its gradient into (held by
            reference); arguments without one get no gradient.
        grad_req : {"write", "add", "null"} or dict, default "write"
            How `backward` stores each gradient: overwrite, accumulate (see
            `Executor.zero_grad`) or skip; a dict gives it per argument.
        adjoints : list of str, optional
            Internal values (`get_internals().list_outputs()`) whose adjoints `backward`
            puts in `exe.adjoint_dict`; by default every op made with `name=` (none costs
            nothing).
        backend : str or Backend, default "numpy"
            The backend of the executor's programs (see `graphc.backends`).

        Returns
        -------
        Executor
            Shape and dtype errors of the graph on these arrays are raised here
            (`gc.ShapeError`, `gc.DTypeError`, `gc.BindError` for missing arguments).

        Examples
        --------

        >>> import graphc as gc, numpy as np
        >>> exe = (gc.var("x") ** 2).bind({"x": np.array([3.0])}, {"x": np.zeros(1)})
        >>> exe.forward(is_train=True)
        [array([9.])]
        >>> exe.backward()
        >>> exe.grad_dict["x"]
        array([6.])
        """
        return Executor(self, args, args_grad, grad_req, adjoints, backend)

    def simple_bind(self, grad_req="write", backend="numpy", **shapes):
        """An `Executor` on new zero arrays of the given shapes, with zero gradient arrays
        (MXNet's `simple_bind`): fill `exe.arg_dict` in place, then run.

        Parameters
        ----------
        grad_req : {"write", "add", "null"} or dict, default "write"
            As in `bind`; "null" allocates no gradient arrays.
        backend : str or Backend, default "numpy"
            As in `bind`.
        **shapes : tuple of ints
            Argument name -> shape, for the arguments whose declared shape is not fully
            known. Arrays are of the declared dtype, float64 when none is declared.

        Returns
        -------
        Executor

        Examples
        --------
        >>> import graphc as gc
        >>> exe = gc.sum(gc.var("x") ** 2).simple_bind(x=(2,))
        >>> exe.arg_dict["x"]
        array([0., 0.])
        >>> exe.arg_dict["x"][:] = [1.0, 2.0]
        >>> exe.forward(is_train=True), exe.backward(), exe.grad_dict["x"]
        ([array(5.)], None, array([2., 4.]))
        """
        return simple_bind(self, grad_req, shapes, backend)

    def tojson(self) -> str:
        """The graph as JSON text: every node's op, inputs, attrs, declared types and the
        user's file:line, in graphc's versioned format; `gc.load_json` reads it back (and
        validates it: loading never executes anything from the text).

        Returns
        -------
        str

        Examples
        --------
        >>> import graphc as gc
        >>> text = (gc.var("x") + 1).tojson()
        >>> text.startswith('{"format": "graphc", "version": 1')
        True
        >>> print(gc.load_json(text))
        x + 1
        """
        return tojson(self)

    def save(self, path) -> None:
        """Write `tojson()` to the file `path` (UTF-8); `gc.load(path)` reads it back.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (replaced if it exists).

        Examples
        --------
        >>> import graphc as gc, os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "graph.json")
        >>> (gc.var("x") * 2).save(path)
        >>> print(gc.load(path))
        2*x
        """
        save(self, path)

    def __reduce__(self):
        """Pickled as its JSON text (`tojson`), rebuilt by `gc.load_json`, which validates it:
        an unpickled graph is a loaded graph (its origins are printed, never read)."""
        return load_json, (self.tojson(),)


class _GraphMethods:
    def __repr__(self):
        # Read like the Python function it was traced from: `lambda b: norm(b) < 1000`.
        return lambda_text(self)


install_methods(Symbol, _SymbolMethods)
install_methods(Graph, _GraphMethods)
