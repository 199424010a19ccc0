"""A wrapper over two C libraries written the careful way: ffilab check must find nothing here."""

from __future__ import annotations

import ctypes
import ctypes.util
import weakref
from ctypes import POINTER, byref, c_double, c_int, c_int32, c_int64, c_size_t, c_uint32, c_void_p

import numpy as np
from numpy.ctypeslib import ndpointer

_math = ctypes.cdll.LoadLibrary(ctypes.util.find_library("mathlib") or "libmathlib.so")
_stats = np.ctypeslib.load_library("libstats", ".")
lib = _math  # an alias of the handle

# A declaration table run in a loop.
_SIGNATURES = {
    "circle_area": (c_double, [c_double]),
    "scale_array": (None, [POINTER(c_double), c_size_t, c_double]),
    "compute_distances": (POINTER(c_double), [POINTER(c_double), c_size_t]),
    "free_array": (None, [POINTER(c_double)]),
}
for _name, (_res, _args) in _SIGNATURES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args


def _declare(name, restype, *argtypes):
    # A helper that declares a function of the stats library and returns it.
    fn = getattr(_stats, name)
    fn.argtypes = list(argtypes)
    fn.restype = restype
    return fn


stats_mean = _declare("stats_mean", c_double, ndpointer(dtype=np.float64, flags="C_CONTIGUOUS"), c_size_t)
count_above = _declare("stats_count_above", c_int64, c_void_p, c_size_t, c_int32)
version = _declare("stats_version", c_uint32)
quantiles = _declare("stats_quantiles", c_int, POINTER(c_double), c_size_t, POINTER(POINTER(c_double)), POINTER(c_size_t))
hist_new = _declare("stats_hist_new", c_void_p, POINTER(c_double), c_size_t, c_int)
hist_free = _declare("stats_hist_free", None, c_void_p)
hist_counts = _declare("stats_hist_counts", POINTER(c_int64), c_void_p)
stats_free = _declare("stats_free", None, c_void_p)
mean_f = _declare("stats_mean_f", ctypes.c_float, POINTER(ctypes.c_float), c_int)


def area(r: float) -> float:
    return lib.circle_area(r)


def scale(values: np.ndarray, factor: float) -> None:
    data = np.ascontiguousarray(values, dtype=np.float64)
    lib.scale_array(data.ctypes.data_as(POINTER(c_double)), data.size, factor)


def distances(points: list[float]) -> list[float]:
    n = len(points) // 2
    buf = (c_double * len(points))(*points)
    out = lib.compute_distances(buf, n)
    if not out:
        raise MemoryError("compute_distances: out of memory")
    try:
        return [out[i] for i in range(n)]
    finally:
        lib.free_array(out)


def distances_array(points: np.ndarray) -> np.ndarray:
    # The C buffer handed to NumPy without a copy; a finalizer gives it back to C.
    n = points.shape[0]
    address = ctypes.cast(lib.compute_distances(points.ctypes.data_as(POINTER(c_double)), n), c_void_p).value
    if not address:
        raise MemoryError("compute_distances: out of memory")
    owner = (c_double * n).from_address(address)
    weakref.finalize(owner, lib.free_array, ctypes.cast(address, POINTER(c_double)))
    return np.frombuffer(owner, dtype=np.float64)


def mean(values: np.ndarray) -> float:
    return stats_mean(np.asarray(values, dtype=np.float64), values.size)


def count(ids: np.ndarray, threshold: int) -> int:
    arr = np.ascontiguousarray(ids, dtype=np.int32)
    return count_above(arr.ctypes.data, arr.shape[0], threshold)


def small_mean(values: list[float]) -> float:
    # A float32 buffer for a float * parameter, and a literal count for an int parameter.
    buf = (ctypes.c_float * 3)(*values[:3])
    return mean_f(buf, 3)


def all_quantiles(values: np.ndarray) -> list[float]:
    out = POINTER(c_double)()
    n_out = c_size_t()
    status = quantiles(values.ctypes.data_as(POINTER(c_double)), values.size, byref(out), byref(n_out))
    try:
        if status != 0:
            raise ValueError("stats_quantiles failed")
        return out[: n_out.value]
    finally:
        stats_free(out)


class Histogram:
    """A C histogram owned by a Python object."""

    def __init__(self, values: np.ndarray, bins: int) -> None:
        self._values = np.ascontiguousarray(values, dtype=np.float64)
        handle = hist_new(self._values.ctypes.data_as(POINTER(c_double)), self._values.size, bins)
        if handle is None:
            raise MemoryError("stats_hist_new: out of memory")
        self._handle = handle
        self._finalizer = weakref.finalize(self, hist_free, handle)

    def counts(self, bins: int) -> list[int]:
        counts = hist_counts(self._handle)
        try:
            return counts[:bins]
        finally:
            stats_free(counts)


for _ in range(3):
    print(area(1.0), version())


class MathLib:
    """The library as a class attribute, declared by a factory, used through self."""

    _lib = None

    @staticmethod
    def _load():
        handle = ctypes.CDLL(ctypes.util.find_library("mathlib") or "libmathlib.so")
        handle.circle_area.argtypes = (c_double,)
        handle.circle_area.restype = c_double
        return handle

    def __init__(self):
        self._lib = self._load()

    def area(self, r: float) -> float:
        return self._lib.circle_area(r)

    def areas(self, radii: list[float]) -> list[float]:
        return [self.area(r) for r in radii]


def _free_later(p):
    lib.free_array(p)


def legacy_sum(points):
    # A known leak, accepted here on purpose: suppressed on its line like a flake8 finding.
    out = lib.compute_distances((c_double * len(points))(*points), len(points) // 2)  # noqa: FFI005
    return out[0]
