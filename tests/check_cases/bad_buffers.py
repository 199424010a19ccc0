"""Buffers of the wrong element type, results read through the wrong type, and int lengths."""

import ctypes
from ctypes import POINTER, c_double, c_float, c_int, c_int64, c_size_t, c_void_p

import numpy as np
from numpy.ctypeslib import ndpointer

_lib = ctypes.CDLL("./libmathlib.so")
_stats = ctypes.cdll.LoadLibrary("./libstats.so")

_lib.scale_array.argtypes = [c_void_p, c_size_t, c_double]
_lib.scale_array.restype = None
_lib.compute_distances.argtypes = [c_void_p, c_size_t]
_lib.compute_distances.restype = POINTER(c_double)
_lib.free_array.argtypes = [POINTER(c_double)]
_lib.free_array.restype = None
_stats.stats_mean.argtypes = [ndpointer(dtype=np.float64), c_size_t]
_stats.stats_mean.restype = c_double
_stats.stats_mean_f.argtypes = [POINTER(c_float), c_int]
_stats.stats_mean_f.restype = c_float
_stats.stats_count_above.argtypes = [c_void_p, c_size_t, ctypes.c_int32]
_stats.stats_count_above.restype = c_int64


def halve(values):
    arr = np.asarray(values, dtype=np.float32)  # expect: FFI004
    _lib.scale_array(arr.ctypes.data, arr.size, 0.5)
    return arr


def halve_via_pointer(arr):
    small = arr.astype(np.float32)
    _lib.scale_array(small.ctypes.data_as(POINTER(c_float)), small.size, 0.5)  # expect: FFI004


def halve_ok(values):
    arr = np.asarray(values, dtype=np.float64)
    _lib.scale_array(arr.ctypes.data_as(POINTER(c_double)), arr.size, 0.5)
    return arr


def mean32(values):
    return _stats.stats_mean(np.zeros(len(values), dtype="f4"), len(values))  # expect: FFI004


def mean64(values):
    return _stats.stats_mean(np.array(values, dtype=float), len(values))


def count_big(ids):
    wide = np.asarray(ids, dtype=np.int64)  # expect: FFI004
    return _stats.stats_count_above(wide.ctypes.data, wide.shape[0], 10)


def count_ok(ids):
    narrow = np.asarray(ids, dtype=np.int32)
    return _stats.stats_count_above(narrow.ctypes.data, narrow.shape[0], 10)


def mean_small(values):
    buf = (c_float * len(values))(*values)
    return _stats.stats_mean_f(buf, len(values))  # expect: FFI008


def mean_fixed(values):
    buf = (c_float * 4)(*values[:4])
    return _stats.stats_mean_f(buf, 4)


def distances_as_floats(points):
    n = len(points) // 2
    buf = (c_double * len(points))(*points)
    out = _lib.compute_distances(buf, n)
    try:
        as_float = ctypes.cast(out, POINTER(c_float))  # expect: FFI007
        view = (c_float * n).from_address(ctypes.addressof(out.contents))
        return [as_float[i] for i in range(n)], list(view)
    finally:
        _lib.free_array(out)


def distances_as_doubles(points):
    n = len(points) // 2
    buf = (c_double * len(points))(*points)
    out = _lib.compute_distances(buf, n)
    try:
        values = ctypes.cast(out, POINTER(c_double))
        return [values[i] for i in range(n)]
    finally:
        _lib.free_array(out)


def distances_from_address(points):
    n = len(points) // 2
    buf = (c_double * len(points))(*points)
    out = ctypes.cast(_lib.compute_distances(buf, n), c_void_p).value
    try:
        wrong = (c_float * n).from_address(out)  # expect: FFI007
        right = (c_double * n).from_address(out)
        return list(wrong), list(right)
    finally:
        _lib.free_array(ctypes.cast(out, POINTER(c_double)))
