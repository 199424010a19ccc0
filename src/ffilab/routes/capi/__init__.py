"""Route ``capi``: a hand-written CPython C API extension module (``_ext``) over the C core.

The kernels are the compiled functions themselves, re-exported unchanged: there is no Python
wrapper layer, so every argument check of the contract (``ffilab.contract``) is done in C by
``_ext.c`` before the shared C core (``csrc/ffilab_core.c``) is called.  The GIL is released
around every loop, and arrays are used in place through the NumPy C API, never copied.
"""

from __future__ import annotations

from ffilab._registry import KERNELS
from ffilab.routes.capi._ext import (
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
# The optional kernel (ffilab._registry.OPTIONAL_KERNELS): exported, outside __all__, which
# lists the kernels every route has.
from ffilab.routes.capi._ext import tokenize_arrow as tokenize_arrow

# The kernels every route exports: one list, ffilab._registry.KERNELS.
__all__ = list(KERNELS)
