"""Route ``mypyc``: the pure-Python reference itself, compiled to C by mypyc at build time.

There is no second copy of the kernels: the build copies ``ffilab/routes/python/__init__.py``
into the build tree as module ``ffilab.routes.mypyc._ext``, mypyc type-checks it and writes C for
it, and CMake compiles that C with the flags of every other route (``_build_mypyc.py``,
``CMakeLists.txt``).  What the route measures is what mypyc makes of ordinary typed Python: the
loops over ``int`` and ``float`` run on unboxed C values, ``Accumulator`` becomes a native class,
and everything the reference does through NumPy or ``ffilab.contract`` is still a Python call,
made from C.  Arguments are checked by the same ``ffilab.contract`` functions as in the
reference.  The compiled code holds the GIL throughout (``ffilab.gil``).

The compiled functions and class are re-exported as they are: there is no Python wrapper layer.
"""

from __future__ import annotations

from ffilab._registry import KERNELS
# The compiled kernels themselves, re-exported unchanged: their names are ffilab.KERNELS
# (__all__ below), their types the shared stub's (routes/_kernels.pyi, through _ext.pyi).
from ffilab.routes.mypyc._ext import *  # noqa: F403

# The kernels every route exports: one list, ffilab._registry.KERNELS.
__all__ = list(KERNELS)
