"""The backends a program can be compiled for: `gc.compile(..., backend=NAME)` and
`sym.bind(..., backend=NAME)`.

- ``"numpy"`` (the default): one numpy statement per operation, buffers reused in place.
- ``"dask"``: the same program over `dask.array`, lazy and chunked, every output computed
  in one ``dask.compute`` (`Dask`; options ``Dask(chunks=..., lazy=...)``).
- ``"numexpr"``: each cluster of elementwise operations one multi-threaded numexpr
  evaluation (`graphc.backends.numexpr`; ``pip install "graphc[numexpr]"``).
- ``"array_api"``: functions of the Python array API standard through the arguments'
  namespace (numpy, CuPy, torch, JAX, array-api-strict arrays); ``"cupy"`` is the same
  program, requiring CuPy (`graphc.backends.array_api`, `graphc.backends.cupy`).

A name is looked up in `BACKENDS`; a `Backend` instance is taken as it is (its options set).
A backend whose packages are missing raises `gc.BackendError` naming the extra to install.
"""

from __future__ import annotations

from ..errors import BackendError, did_you_mean
from .array_api import ArrayAPI
from .base import Backend
from .cupy import CuPy
from .dask import Dask
from .numba import Numba
from .numexpr import Numexpr

BACKENDS: dict[str, Backend] = {
    "numpy": Backend(),
    "dask": Dask(),
    "numexpr": Numexpr(),
    "numba": Numba(),
    "array_api": ArrayAPI(),
    "cupy": CuPy(),
}


def backend(spec) -> Backend:
    """The backend `spec` names (a string from `BACKENDS`, or a `Backend`), its packages
    checked.

    >>> backend("numpy")
    <graphc backend 'numpy'>
    >>> backend("numpyy")
    Traceback (most recent call last):
    ...
    graphc.errors.BackendError: unknown backend 'numpyy' (did you mean numpy?); the backends are [...]
    """
    if isinstance(spec, Backend):
        return spec.require()
    if isinstance(spec, str) and spec in BACKENDS:
        return BACKENDS[spec].require()
    if isinstance(spec, str):
        hint = did_you_mean(spec, BACKENDS)
    else:
        hint = f" (a {type(spec).__name__}; give a name or a graphc Backend)"
    raise BackendError(f"unknown backend {spec!r}{hint}; the backends are {sorted(BACKENDS)}")


def pickled(b: Backend):
    """What a pickle keeps of backend `b`: its name when it is the registered one, else the
    object (with its options)."""
    return b.name if BACKENDS.get(b.name) is b else b


def available() -> list[str]:
    """The names of the backends whose packages are installed.

    >>> "numpy" in available()
    True
    """
    return [name for name, b in BACKENDS.items() if not b.missing()]
