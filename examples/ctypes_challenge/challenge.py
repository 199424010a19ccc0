"""The lesson's Level 2 debug challenge, re-told: distances through ctypes, with its four bugs.

Run ``ffilab check examples/ctypes_challenge/challenge.py --header examples/ctypes_challenge/mathlib.h``
to see them found; ``fixed.py`` is the repaired version.  The library is looked up beside this
file (or at $MATHLIB); build it with ``cc -shared -fPIC -O2 -o libmathlib.so mathlib.c -lm``.
"""

import ctypes
import os

lib = ctypes.CDLL(os.environ.get("MATHLIB") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "libmathlib.so"))


def distances_from_origin(points):
    n = len(points) // 2
    buf = (ctypes.c_float * len(points))(*points)  # bug 1: the C side reads doubles
    out = lib.compute_distances(buf, n)  # bug 2: no argtypes/restype; bug 3: never freed
    values = ctypes.cast(out, ctypes.POINTER(ctypes.c_int))  # bug 4: doubles read as ints
    return [values[i] for i in range(n)]


if __name__ == "__main__":
    print(distances_from_origin([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
