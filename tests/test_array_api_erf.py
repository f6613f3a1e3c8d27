"""The array-API error function (graphc/backends/array_api_erf.py: the standard has none)
against math.erf, in ulps of the dtype, on a dense grid over the real line and at the edge
points, float64 and float32, on array-api-strict arrays (standard functions only)."""

import math
import warnings

import numpy as np
import pytest

strict = pytest.importorskip("array_api_strict")
pytest.importorskip("array_api_compat")

from graphc.backends.array_api_erf import _erf  # noqa: E402

_math_erf = np.frompyfunc(math.erf, 1, 1)


@pytest.fixture(autouse=True, scope="module")
def standard_2023():
    strict.set_array_api_strict_flags(api_version="2023.12")
    yield
    strict.reset_array_api_strict_flags()


def _run(x):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid value on the way
        return np.asarray(_erf(strict.asarray(x))._array)


def _ulps(got, want, dtype):
    """|got - want| in units of the last place of `want` in `dtype`."""
    unit = np.spacing(np.abs(want)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want.astype(np.float64)) / unit


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_erf_is_within_two_ulps_on_a_dense_grid(dtype):
    tiny = np.finfo(dtype).tiny
    x = np.concatenate([np.linspace(-7.0, 7.0, 200_001), np.geomspace(tiny, 7.0, 50_000)]).astype(
        dtype
    )
    x = np.concatenate([x, -x[-50_000:]])
    want = _math_erf(x.astype(np.float64)).astype(np.float64).astype(dtype)
    got = _run(x)
    assert got.dtype == dtype
    ulps = _ulps(got, want, dtype)
    worst = int(np.argmax(ulps))
    assert ulps[worst] <= 2.0, f"{ulps[worst]} ulps at x = {x[worst]!r}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_erf_at_the_edges(dtype):
    info = np.finfo(dtype)
    tiny = info.smallest_subnormal
    x = np.array(
        [0.0, -0.0, tiny, -tiny, info.tiny, 1e-30, -1.0, 1.0, 5.9, 6.0, 27.0, info.max]
        + [-info.max, np.inf, -np.inf, np.nan],
        dtype=dtype,
    )
    got = _run(x)
    want = _math_erf(x.astype(np.float64)).astype(np.float64).astype(dtype)
    finite = np.isfinite(x)
    assert max(_ulps(got[finite], want[finite], dtype)) <= 2.0
    assert list(got[:4]) == list(want[:4])  # 0, -0, and the smallest subnormals: exact
    assert list(np.signbit(got[:2])) == [False, True]  # erf(-0.0) is -0.0
    assert list(got[-7:-1]) == [1.0, 1.0, 1.0, -1.0, 1.0, -1.0]  # 6.0 onwards
    assert np.isnan(got[-1])
