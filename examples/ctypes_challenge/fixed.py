"""The lesson's Level 2 debug challenge with its four bugs fixed (the lesson's own fix, re-told).

One leak is left on purpose, the one the lesson's fix keeps: ``free_array`` is reached only if
reading the results does not raise.  ``ffilab check`` reports it (FFI006); ``safe.py`` closes it.
"""

import ctypes
import os

lib = ctypes.CDLL(os.environ.get("MATHLIB") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "libmathlib.so"))

# Declared from mathlib.h: ctypes would otherwise pass C ints and read a C int back.
lib.compute_distances.argtypes = [ctypes.POINTER(ctypes.c_double), ctypes.c_size_t]
lib.compute_distances.restype = ctypes.POINTER(ctypes.c_double)
lib.free_array.argtypes = [ctypes.POINTER(ctypes.c_double)]
lib.free_array.restype = None


def distances_from_origin(points):
    n = len(points) // 2
    buf = (ctypes.c_double * len(points))(*points)  # doubles, as the C side reads
    out = lib.compute_distances(buf, n)
    values = [out[i] for i in range(n)]  # read through the double * the prototype returns
    lib.free_array(out)  # C memory goes back to C
    return values


if __name__ == "__main__":
    print(distances_from_origin([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
