"""A backend: how a program is written (`codegen.Emission`) and what it is called with.

`Backend` is the default, numpy: today's program, called with numpy arrays (other values
are converted by `binding.check_array`). A backend that runs on other arrays (dask, the array
API) overrides `check` and `signature`; one that needs packages names them in `packages`
and the pip extra that installs them in `extra`, and `require()` says which is missing.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from ..binding import check_array
from ..codegen import Emission
from ..errors import BackendError


class Backend(Emission):
    """The numpy backend, and the base of the others (see `graphc.backends`).

    >>> from graphc.backends import backend
    >>> backend("numpy").name, backend("numpy").in_place
    ('numpy', True)
    """

    name = "numpy"
    packages: tuple[str, ...] = ()  # importable modules the backend needs
    extra: str | None = None  # the pip extra that installs them
    # Texts of the control blocks replacing graphc.ops.control_emit.TEXTS: templates, or for
    # a statement a function of the node giving one
    control_texts: dict[str, str] = {}
    # Whether an argument `check` returns as it is (the same object) would be returned as it
    # is by any argument of the same class, shape and `dtype` attribute: then a `Function`
    # calls the program with such arguments without checking them (its fast path). A backend
    # whose `check` looks at more (values, devices) sets it False.
    raw_keys = True

    def missing(self) -> list[str]:
        """The packages this backend needs that are not installed."""
        return [p for p in self.packages if not _importable(p)]

    def require(self) -> Backend:
        """This backend, or a `BackendError` naming the packages to install."""
        missing = self.missing()
        if missing:
            how = f'pip install "graphc[{self.extra}]"' if self.extra else "pip install"
            raise BackendError(
                f"backend {self.name!r} needs {', '.join(missing)}, which "
                f"{'is' if len(missing) == 1 else 'are'} not installed: {how}"
            )
        return self

    def check(self, what: str, name: str, value, vars_):
        """`value` as an array this backend's program takes for argument `name`, checked
        against its declarations `vars_` (shape and dtype errors name them)."""
        return check_array(what, name, value, vars_)

    def bindable(self, what: str, args) -> None:
        """Raise a `BackendError` if an `Executor` (which holds numpy arrays and writes
        gradients into them) cannot hold the argument values `args` (a dict or a list) for
        this backend's programs; the default takes what `check_array` converts."""

    def signature(self, array) -> tuple[type, tuple, np.dtype]:
        """(type, shape, numpy dtype) of a checked argument: its part of the program
        cache's key (numpy: `check` gave an ndarray)."""
        return np.ndarray, array.shape, array.dtype

    def __repr__(self):
        return f"<graphc backend {self.name!r}>"


def _importable(package: str) -> bool:
    """Can `package` be imported (a finder that refuses it counts as not installed)?"""
    try:
        return importlib.util.find_spec(package) is not None
    except ImportError:
        return False
