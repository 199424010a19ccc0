"""C memory from allocating functions: leaked, skippable and correctly released paths."""

import ctypes
import weakref
from ctypes import POINTER, byref, c_double, c_int, c_size_t, c_void_p

lib = ctypes.CDLL("./libmathlib.so")
stats = ctypes.CDLL("./libstats.so")
for f, res, args in [
    ("compute_distances", POINTER(c_double), [POINTER(c_double), c_size_t]),
    ("free_array", None, [POINTER(c_double)]),
]:
    fn = getattr(lib, f)
    fn.restype = res
    fn.argtypes = args
stats.stats_quantiles.argtypes = [POINTER(c_double), c_size_t, POINTER(POINTER(c_double)), POINTER(c_size_t)]
stats.stats_quantiles.restype = c_int
stats.stats_free.argtypes = [c_void_p]
stats.stats_free.restype = None
stats.stats_hist_new.argtypes = [POINTER(c_double), c_size_t, c_int]
stats.stats_hist_new.restype = c_void_p
stats.stats_hist_free.argtypes = [c_void_p]
stats.stats_hist_free.restype = None
compute = lib.compute_distances
release = lib.free_array


def never_freed(buf, n):
    out = compute(buf, n)  # expect: FFI005
    return out[0]


def unbound(buf, n):
    return compute(buf, n)[0]  # expect: FFI005


def early_return(buf, n, quick):
    out = compute(buf, n)  # expect: FFI005
    if quick:
        return None
    first = out[0]
    release(out)
    return first


def raises_before_free(buf, n):
    out = compute(buf, n)  # expect: FFI005
    if out[0] < 0:
        raise ValueError("negative distance")
    release(out)


def one_branch(buf, n, keep):
    out = compute(buf, n)  # expect: FFI005
    if not keep:
        release(out)


def in_loop(buf, n, times):
    total = 0.0
    for _ in range(times):
        out = compute(buf, n)  # expect: FFI005
        total += out[0]
    return total


def overwritten(buf, n):
    out = compute(buf, n)  # expect: FFI005
    out = compute(buf, n)
    release(out)


def quantiles_leak(values, n):
    q = POINTER(c_double)()
    count = c_size_t()
    stats.stats_quantiles(values, n, byref(q), byref(count))  # expect: FFI005
    return q[0]


def skippable(buf, n):
    out = compute(buf, n)
    values = [out[i] for i in range(n)]
    release(out)  # expect: FFI006
    return values


def skippable_finally(buf, n):
    out = compute(buf, n)
    first = out[0]
    try:
        return first + out[1]
    finally:
        release(out)  # expect: FFI006


# Released on every path: no findings below.
def with_finally(buf, n):
    out = compute(buf, n)
    try:
        return [out[i] for i in range(n)]
    finally:
        release(out)


def null_checked(buf, n):
    out = compute(buf, n)
    if not out:
        raise MemoryError("compute_distances: out of memory")
    try:
        return out[:n]
    finally:
        release(out)


def handed_to_caller(buf, n):
    return compute(buf, n)


def handed_to_finalizer(buf, n):
    address = ctypes.cast(compute(buf, n), c_void_p).value
    if address is None:
        raise MemoryError("out of memory")
    view = (c_double * n).from_address(address)
    weakref.finalize(view, release, ctypes.cast(address, POINTER(c_double)))
    return view


def freed_inline(buf, n):
    release(compute(buf, n))


def quantiles_ok(values, n):
    q = POINTER(c_double)()
    count = c_size_t()
    status = stats.stats_quantiles(values, n, byref(q), byref(count))
    try:
        return status, q[: count.value]
    finally:
        stats.stats_free(q)


class Hist:
    def __init__(self, values, n):
        h = stats.stats_hist_new(values, n, 10)
        if not h:
            raise MemoryError("stats_hist_new: out of memory")
        self._h = h

    def close(self):
        stats.stats_hist_free(self._h)


def each_pass_freed(buf, n, times):
    total = 0.0
    for _ in range(times):
        out = compute(buf, n)
        try:
            total += out[0]
        finally:
            release(out)
    return total
