"""The numpy functions graphc does not implement, and why: documentation as data.

Every public callable of `numpy` and `numpy.linalg` is either a `gc` function, reached from
numpy by name (graphc.numpy_interop derives which from the op table), or listed here with the
reason graphc lacks it (tests/test_numpy_names.py checks both ways). `not_supported()` renders
the list; the error a numpy call on a graphc value raises quotes the entry.
"""

from __future__ import annotations

from .calls import checks_call
from .errors import ArgumentError

# (reason, names): a name is qualified within numpy ("unique", "linalg.eig").
NOT_SUPPORTED: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (why, tuple(names.split()))
    for why, names in (
        (
            "elementwise functions not in graphc's op table yet (each is one entry in "
            "graphc/ops); meanwhile write them with the ones it has: hypot(a, b) is "
            "sqrt(a*a + b*b), deg2rad(x) is x*pi/180, trunc(x) is sign(x)*floor(abs(x))",
            "arctan2 atan2 cbrt copysign deg2rad degrees fabs fix float_power floor_divide "
            "fmax fmin fmod heaviside hypot i0 ldexp logaddexp2 nextafter positive rad2deg "
            "radians rint spacing trunc unwrap",
        ),
        (
            "more than one result per entry (a quotient and a remainder, a mantissa and an "
            "exponent): not in graphc's op table; divmod(a, b) is (floor(a/b), mod(a, b))",
            "divmod frexp modf",
        ),
        (
            "reductions and statistics not in graphc's op table yet (sum, mean, var, std, "
            "prod, max, min, logsumexp, cumsum, cumprod and diff are); NaN-ignoring ones "
            "are gc.where(x == x, x, 0) first",
            "average convolve corrcoef correlate cov cumulative_prod cumulative_sum ediff1d "
            "gradient interp median nancumprod nancumsum nanmax nanmean nanmedian nanmin "
            "nanpercentile nanprod nanquantile nanstd nansum nanvar percentile ptp quantile "
            "trapezoid",
        ),
        (
            "rearranging and joining not in graphc's op table yet: compose them from "
            "gc.concatenate, gc.stack, gc.split, gc.reshape, gc.flip, gc.swapaxes and "
            "indexing (fliplr(x) is gc.flip(x, 1), column_stack of vectors is "
            "gc.stack(xs, axis=1), atleast_1d(x) is gc.reshape(x, (-1,)) for a scalar)",
            "append array_split atleast_1d atleast_3d block broadcast_arrays choose "
            "column_stack delete diagflat dsplit dstack fliplr flipud hsplit insert pad "
            "partition resize rollaxis rot90 row_stack select take_along_axis unstack "
            "vsplit",
        ),
        (
            "products not in graphc's op table yet: write them with gc.einsum or matmul "
            "(vdot(a, b) is gc.sum(a * b), vecdot(a, b) is gc.sum(a * b, axis=-1), "
            "matvec(A, v) is A @ v)",
            "vdot vecdot matvec vecmat linalg.vecdot linalg.multi_dot linalg.matrix_power",
        ),
        (
            "linear algebra not in graphc's op table (det, slogdet, inv, solve, cholesky, "
            "eigh, qr, svd and norm are): svdvals(x) is gc.svd(x, compute_uv=False), "
            "matrix_norm and vector_norm are gc.norm with ord and axis, pinv and lstsq go "
            "through solve on the normal equations when the matrix has full rank",
            "linalg.cond linalg.eigvalsh linalg.lstsq linalg.matrix_rank linalg.pinv "
            "linalg.svdvals linalg.tensorinv linalg.tensorsolve linalg.matrix_norm "
            "linalg.vector_norm",
        ),
        (
            "numpy.linalg's array-API variant works on the last two axes, gc.trace and "
            "gc.diagonal (numpy.trace and numpy.diagonal) on the first two by default: "
            "write gc.trace(x, axis1=-2, axis2=-1)",
            "linalg.diagonal linalg.trace",
        ),
        (
            "complex results or complex parts: graphc computes and differentiates in real "
            "floating point (eigh is the real symmetric eigendecomposition)",
            "angle conj conjugate imag real real_if_close sort_complex iscomplex "
            "iscomplexobj isreal isrealobj linalg.eig linalg.eigvals",
        ),
        (
            "the result's shape depends on the values; a graph's shapes are fixed before "
            "data is bound (gc.where keeps the shape: gc.where(mask, x, 0))",
            "argwhere bincount compress extract flatnonzero histogram histogram2d "
            "histogram_bin_edges histogramdd intersect1d isin nonzero setdiff1d setxor1d "
            "trim_zeros union1d unique unique_all unique_counts unique_inverse unique_values",
        ),
        (
            "integer indices as results (no derivative): not in graphc's op table; sort, max "
            "and min are",
            "argmax argmin argpartition argsort digitize lexsort nanargmax nanargmin "
            "ravel_multi_index searchsorted unravel_index diag_indices_from "
            "tril_indices_from triu_indices_from",
        ),
        (
            "integer and bit operations: no derivative, and graphc computes on floats (integers "
            "are labels and indices)",
            "bitwise_and bitwise_count bitwise_invert bitwise_left_shift bitwise_not "
            "bitwise_or bitwise_right_shift bitwise_xor gcd invert lcm left_shift right_shift "
            "packbits unpackbits base_repr binary_repr",
        ),
        (
            "boolean tests and logic beyond the comparisons (x < y, x == y, ...) and gc.where: "
            "not in graphc's op table yet (any(m) is gc.max(gc.where(m, 1, 0)) > 0)",
            "all allclose any array_equal array_equiv count_nonzero isclose isfinite isinf "
            "isnan isneginf isposinf logical_and logical_not logical_or logical_xor signbit",
        ),
        (
            "writes into an array in place: graphc values are immutable (gc.where selects, "
            "gc.concatenate joins)",
            "copyto fill_diagonal place put put_along_axis putmask",
        ),
        (
            "makes a numpy array from shapes, Python data or a file, not from graphc values: "
            "make it with numpy, and it enters a graph as a constant (x + np.ones(3)); "
            "gc.eye, gc.linspace, gc.zeros_like and gc.ones_like are graphc's",
            "arange array asanyarray asarray asarray_chkfinite ascontiguousarray "
            "asfortranarray asmatrix bartlett blackman bmat copy diag_indices empty "
            "empty_like from_dlpack frombuffer fromfile fromfunction fromiter fromregex "
            "fromstring full full_like geomspace hamming hanning identity indices ix_ kaiser "
            "logspace mask_indices meshgrid ones require tri tril_indices triu_indices vander "
            "zeros",
        ),
        (
            "calls a Python function per entry or slice: write the function with gc "
            "functions on whole arrays (gc.function traces Python control flow)",
            "apply_along_axis apply_over_axes frompyfunc piecewise vectorize",
        ),
        (
            "numpy's legacy polynomial API: write the polynomial with + and * (roots and fits "
            "have no op)",
            "poly poly1d polyadd polyder polydiv polyfit polyint polymul polysub polyval roots",
        ),
        (
            "files and text: graphc saves graphs (sym.tojson, gc.load); values are numpy "
            "arrays, saved with numpy",
            "array2string array_repr array_str datetime_as_string format_float_positional "
            "format_float_scientific genfromtxt load loadtxt save savetxt savez "
            "savez_compressed",
        ),
        (
            "dates and times: graphc computes with numbers",
            "busday_count busday_offset datetime_data is_busday isnat",
        ),
        (
            "about dtypes, shapes or memory, not values: ask numpy with x.dtype and x.shape "
            "(a symbol's shape may be unknown until data is bound)",
            "broadcast_shapes can_cast common_type einsum_path isdtype isfortran isscalar "
            "issubdtype iterable may_share_memory min_scalar_type mintypecode "
            "promote_types result_type shares_memory typename",
        ),
        (
            "numpy's types: scalar types, dtypes, array classes and iteration helpers "
            "(np.float32, np.ndarray, np.dtype, np.errstate, ...); graphc takes numpy dtypes "
            "(gc.var(dtype=...), x.astype) and numpy arrays (as constants)",
            "bool bool_ broadcast busdaycalendar byte bytes_ cdouble character clongdouble "
            "complex128 complex192 complex256 complex64 complexfloating csingle datetime64 "
            "double dtype errstate finfo flatiter flexible float128 float16 float32 float64 "
            "float96 floating generic half iinfo inexact int16 int32 int64 int8 int_ intc "
            "integer intp long longdouble longlong matrix memmap ndarray ndenumerate ndindex "
            "nditer nested_iters number object_ recarray record short signedinteger single "
            "str_ timedelta64 ubyte ufunc uint uint16 uint32 uint64 uint8 uintc uintp ulong "
            "ulonglong unsignedinteger ushort void linalg.LinAlgError",
        ),
        (
            "numpy's configuration, documentation and test runner",
            "get_include get_printoptions getbufsize geterr geterrcall info printoptions "
            "set_printoptions setbufsize seterr seterrcall show_config show_runtime test "
            "linalg.test",
        ),
    )
)

REASONS: dict[str, str] = {name: why for why, names in NOT_SUPPORTED for name in names}

# numpy names a gc function has too but with another meaning: never dispatched to the op
# (NOT_SUPPORTED says how they differ). Any other name an op gains is reached from numpy.
DIFFERENT_MEANING = frozenset({"linalg.diagonal", "linalg.trace"})

# numpy functions that read the value's attributes (`x.shape`, `x.ndim`): numpy's own code
# answers them for graphc values too.
ATTRIBUTE_QUERIES = frozenset({"shape", "ndim"})


def reason(name: str) -> str | None:
    """Why graphc lacks numpy function `name` ("unique", "linalg.eig"), or None if not listed.

    >>> reason("linalg.trace").startswith("numpy.linalg's array-API variant")
    True
    """
    return REASONS.get(name)


@checks_call
def not_supported(name: str | None = None) -> str:
    """The numpy functions graphc does not implement, grouped by the reason; or the reason for
    one of them (`name`, qualified within numpy as "linalg.eig").

    >>> import graphc as gc
    >>> print(gc.not_supported("linalg.trace"))  # doctest: +ELLIPSIS
    numpy.linalg.trace: numpy.linalg's array-API variant works on the last two axes, ...
    """
    if name is not None:
        if not isinstance(name, str):
            raise ArgumentError(f"not_supported: name must be a string, got {name!r}")
        name = name.removeprefix("numpy.").removeprefix("np.")
        why = REASONS.get(name)
        if why is None:
            raise ArgumentError(
                f"not_supported: numpy.{name} is not in the list (a gc function, or not numpy's)"
            )
        return f"numpy.{name}: {why}"
    blocks = []
    for why, names in NOT_SUPPORTED:
        blocks.append(f"{why}:\n    " + ", ".join(f"numpy.{n}" for n in names))
    return "\n\n".join(blocks)
