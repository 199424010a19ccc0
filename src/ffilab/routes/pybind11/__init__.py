"""Route ``pybind11``: the C core bound from C++ with pybind11 (the compiled module ``_ext``).

There is no Python wrapper layer: the names below are the compiled functions and class
themselves, and every argument check of the contract (``ffilab.contract``) happens in C++
(``_ext.cpp``), where pybind11's converting casters are deliberately not used.
"""

from __future__ import annotations

from ffilab._registry import KERNELS
from ffilab.routes.pybind11._ext import (
    Accumulator,
    circle_area,
    compute_distances,
    fast_dot,
    fast_norm,
    fast_sum,
    find_nearest_k,
    haversine_distance,
    haversine_many,
    primes,
    scale_and_shift,
    scale_array,
    sum_of_squares,
    tokenize_batch,
)

# The kernels every route exports: one list, ffilab._registry.KERNELS.
__all__ = list(KERNELS)
