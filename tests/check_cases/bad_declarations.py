"""Declarations that disagree with mathlib.h and stats.h (each expected finding is marked on its line)."""

import ctypes
from ctypes import POINTER, c_double, c_float, c_int, c_int64, c_size_t, c_void_p

import numpy as np

lib = ctypes.CDLL("./libmathlib.so")
stats = ctypes.CDLL("./libstats.so")
area = lib.circle_area  # an alias of the function

# FFI001: called with nothing declared, through an alias in a helper, and in a loop.
def unit_areas(radii):
    return [area(ctypes.c_double(r)) for r in radii]  # expect: FFI001


def release_all(handles):
    for h in handles:
        stats.stats_hist_free(h)  # no argtypes  # expect: FFI001


# FFI002: argtypes against the prototype.
lib.scale_array.argtypes = [POINTER(c_float), c_size_t, c_double]  # expect: FFI002
lib.scale_array.restype = None
lib.compute_distances.argtypes = [
    POINTER(c_double),
    c_int,  # size_t n_points  # expect: FFI002
]
lib.compute_distances.restype = POINTER(c_double)
stats.stats_count_above.argtypes = [c_void_p, c_size_t, ctypes.c_uint32]  # int32_t threshold  # expect: FFI002
stats.stats_count_above.restype = c_int64
stats.stats_quantiles.argtypes = [POINTER(c_double), c_size_t, POINTER(c_double), POINTER(c_size_t)]  # expect: FFI002
stats.stats_quantiles.restype = c_int
stats.stats_mean.argtypes = [np.ctypeslib.ndpointer(dtype=np.float32), c_size_t]  # expect: FFI002
stats.stats_mean_f.argtypes = [POINTER(c_float)]  # one of two  # expect: FFI002
stats.stats_mean_f.restype = c_float

# FFI003: restype against the prototype.
stats.stats_mean.restype = c_float  # expect: FFI003
lib.free_array.argtypes = [POINTER(c_double)]
lib.free_array.restype = c_int  # a void function  # expect: FFI003
stats.stats_hist_counts.argtypes = [c_void_p]
stats.stats_hist_counts.restype = c_int64  # returns int64_t *  # expect: FFI003
stats.stats_version.restype = None  # expect: FFI003

# Right ones, for contrast: no finding.
stats.stats_hist_new.argtypes = [POINTER(c_double), c_size_t, c_int]
stats.stats_hist_new.restype = c_void_p
stats.stats_free.argtypes = [c_void_p]
stats.stats_free.restype = None


def scaled(values, factor):
    buf = (c_float * len(values))(*values)  # expect: FFI004
    lib.scale_array(buf, len(values), factor)
    lib.scale_array(buf, len(values))  # expect: FFI010
    return list(buf)
