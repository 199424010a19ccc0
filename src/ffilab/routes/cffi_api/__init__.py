"""Route ``cffi_api``: the C core compiled into a cffi API-mode extension module (``_ext``).

``_build_cffi_api.py`` turns the declarations of ``ffilab.routes._cffi_cdef`` into C source at
build time (``ffi.emit_c_code``), and CMake compiles that source together with the C core itself
into ``_ext``: no ``dlopen`` of ``libffilab_core`` and no libffi at run time; each ``lib.ffl_*``
is a built-in function that converts its arguments in generated C and calls the core directly.
The generated source repeats the shared declarations after the header, so the C compiler
rejects any that differ from ``ffilab_core.h``.

The kernels are the wrappers of ``ffilab.routes._cffi_kernels``, identical in both cffi routes:
they enforce the contract before calling C, because cffi checks neither dtypes nor the contract's
integer ranges.  The generated code releases the GIL around every call into the core.
"""

from __future__ import annotations

from ffilab._registry import KERNELS
from ffilab.routes._cffi_kernels import make_kernels
from ffilab.routes.cffi_api._ext import ffi, lib

# The kernels every route exports: one list, ffilab._registry.KERNELS.
__all__ = list(KERNELS)

_kernels = make_kernels(ffi, lib, __name__)

sum_of_squares = _kernels.sum_of_squares
circle_area = _kernels.circle_area
scale_array = _kernels.scale_array
compute_distances = _kernels.compute_distances
primes = _kernels.primes
fast_sum = _kernels.fast_sum
fast_dot = _kernels.fast_dot
fast_norm = _kernels.fast_norm
scale_and_shift = _kernels.scale_and_shift
Accumulator = _kernels.Accumulator
haversine_distance = _kernels.haversine_distance
haversine_many = _kernels.haversine_many
find_nearest_k = _kernels.find_nearest_k
tokenize_batch = _kernels.tokenize_batch
