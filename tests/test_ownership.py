"""Memory handed across the boundary: C-allocated results are not copied and not leaked."""

from __future__ import annotations

import gc
import sys
from types import ModuleType

import numpy as np
import pytest

from conftest import load_route, skip_under_asan

# Routes whose compute_distances buffer is allocated by the C core (ffl_compute_distances) and
# handed to NumPy.  Cython fills a NumPy array it allocates itself (nothing to hand over); Numba
# returns an array its own runtime allocated (freed through its meminfo owner).
C_ALLOCATED = ["ctypes", "cffi_abi", "cffi_api", "capi", "pybind11", "nanobind"]


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.parametrize("name", C_ALLOCATED)
def test_c_buffer_is_handed_over_without_a_copy(name: str) -> None:
    module = load_route(name)
    out = module.compute_distances(np.array([[3.0, 4.0], [5.0, 12.0]]))
    # NumPy does not own the data: an owner object (capsule, ctypes array, cffi buffer) does.
    assert not out.flags.owndata
    assert out.base is not None
    assert out.tolist() == [5.0, 13.0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
@skip_under_asan
@pytest.mark.parametrize("name", C_ALLOCATED + ["cython", "numba", "pyo3"])
def test_c_buffers_are_freed_when_the_array_dies(name: str) -> None:
    module = load_route(name)
    points = np.random.default_rng(0).normal(size=(200_000, 2))  # 1.6 MB per result
    for _ in range(20):  # warm up the allocator
        module.compute_distances(points)
    gc.collect()
    before = _rss_bytes()
    for _ in range(200):
        module.compute_distances(points)
    gc.collect()
    grown = _rss_bytes() - before
    # 200 leaked results would be 320 MB; allow for allocator slack only.
    assert grown < 32 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB over 200 calls"


@pytest.mark.parametrize("name", C_ALLOCATED)
def test_result_outlives_everything_else(name: str) -> None:
    module = load_route(name)
    out = module.compute_distances(np.array([[6.0, 8.0]]))
    del module
    gc.collect()
    assert out.tolist() == [10.0]


@skip_under_asan
def test_accumulators_do_not_leak(route: ModuleType) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc/self/statm")
    for _ in range(1000):
        route.Accumulator(1.0).add(2.0)
    gc.collect()
    before_blocks = sys.getallocatedblocks()
    before = _rss_bytes()
    for _ in range(100_000):
        acc = route.Accumulator(1.0)
        acc.add(2.0)
    del acc
    gc.collect()
    assert sys.getallocatedblocks() - before_blocks < 100
    assert _rss_bytes() - before < 8 * 2**20
