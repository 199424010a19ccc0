"""Route ``cffi_abi``: the C core (``libffilab_core``) loaded with cffi in ABI mode (``ffi.dlopen``).

Nothing is compiled for this route: the declarations of ``ffilab.routes._cffi_cdef`` are parsed
when the module is imported and every call goes through libffi, like ctypes, but with cffi's
C-level argument conversion instead of ctypes' ``argtypes`` machinery.  ABI mode trusts the
declarations (a mismatch with the header would be undefined behaviour, not an error), which is why
the one CDEF string is shared with ``cffi_api``, where the C compiler checks it against the header.

The kernels are the wrappers of ``ffilab.routes._cffi_kernels``, identical in both cffi routes:
they enforce the contract before calling C, because cffi checks neither dtypes nor the contract's
integer ranges.  cffi releases the GIL around every call into the library.
"""

from __future__ import annotations

from cffi import FFI

from ffilab._registry import KERNELS
from ffilab.routes._cffi_cdef import CDEF
from ffilab.routes._cffi_kernels import make_kernels
from ffilab.routes._core_library import core_library_path

# The kernels every route exports: one list, ffilab._registry.KERNELS.
__all__ = list(KERNELS)

ffi = FFI()
ffi.cdef(CDEF)
# RTLD_NODELETE: the core stays mapped for the life of the process, as an extension module's
# code does (and as ctypes, which never unloads, keeps it).  Without it, the library is unmapped
# when this ffi object dies, while ffi.gc destructors (raw function pointers: ffl_free of a
# compute_distances result, ffl_acc_free of an Accumulator) may still be pending, e.g. during
# interpreter shutdown or after the module is dropped; running one would then crash.
lib = ffi.dlopen(str(core_library_path()), ffi.RTLD_NOW | getattr(ffi, "RTLD_NODELETE", 0))

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
