"""Route ``nanobind``: the C core bound from C++ with nanobind (the compiled module ``_ext``).

There is no Python wrapper layer: the names below are the compiled functions and class
themselves, and every argument check of the contract (``ffilab.contract``) happens in C++
(``_ext.cpp``), where nanobind's converting casters (and ``nb::ndarray`` arguments, which
would convert a float32 or strided array into a hidden copy) are deliberately not used.  Array
results leave the nanobind way, as ``nb::ndarray<nb::numpy>`` over a buffer owned by a capsule.
"""

from __future__ import annotations

from ffilab._registry import KERNELS
# The compiled kernels themselves, re-exported unchanged: their names are ffilab.KERNELS
# (__all__ below), their types the shared stub's (routes/_kernels.pyi, through _ext.pyi).
from ffilab.routes.nanobind._ext import *  # noqa: F403

# The kernels every route exports: one list, ffilab._registry.KERNELS.
__all__ = list(KERNELS)
