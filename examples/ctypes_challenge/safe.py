"""The challenge done safely: the C buffer is released in ``finally``, whatever the reading does."""

import ctypes
import os

lib = ctypes.CDLL(os.environ.get("MATHLIB") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "libmathlib.so"))

lib.compute_distances.argtypes = [ctypes.POINTER(ctypes.c_double), ctypes.c_size_t]
lib.compute_distances.restype = ctypes.POINTER(ctypes.c_double)
lib.free_array.argtypes = [ctypes.POINTER(ctypes.c_double)]
lib.free_array.restype = None


def distances_from_origin(points):
    n = len(points) // 2
    buf = (ctypes.c_double * len(points))(*points)
    out = lib.compute_distances(buf, n)
    if not out:
        raise MemoryError("compute_distances: out of memory")
    try:
        return out[:n]  # a list of Python floats, copied out before the buffer goes
    finally:
        lib.free_array(out)


if __name__ == "__main__":
    print(distances_from_origin([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
