"""The `"cupy"` backend: the `"array_api"` program (`graphc.backends.array_api`), requiring
CuPy. Called with CuPy arrays it runs on their GPU; the arguments stay on the device, the
results are CuPy arrays. It is tested where a GPU exists and skipped elsewhere.
"""

from __future__ import annotations

from ..errors import BackendError
from .array_api import ArrayAPI


class CuPy(ArrayAPI):
    """The array-API program, requiring CuPy: call it with `cupy` arrays to run on the GPU
    (numpy arguments still run on the CPU)."""

    name = "cupy"
    packages = ("array_api_compat", "cupy")

    def require(self):
        """This backend, or a `BackendError` naming what to install (CuPy is built per CUDA
        version, so no graphc extra installs it)."""
        missing = self.missing()
        if missing:
            raise BackendError(
                f"backend 'cupy' needs {', '.join(missing)}, not installed: pip install "
                '"graphc[array-api]" and the CuPy build for your CUDA version (e.g. '
                "pip install cupy-cuda12x); or use backend='array_api' with CuPy arrays"
            )
        return self
