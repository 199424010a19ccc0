"""Route ``pybind11``: the C core bound from C++ with pybind11 (the compiled module ``_ext``).

There is no Python wrapper layer: the names below are the compiled functions and class
themselves, and every argument check of the contract (``ffilab.contract``) happens in C++
(``_ext.cpp``), where pybind11's converting casters are deliberately not used.
"""

from __future__ import annotations

from ffilab._registry import KERNELS
# The compiled kernels themselves, re-exported unchanged: their names are ffilab.KERNELS
# (__all__ below), their types the shared stub's (routes/_kernels.pyi, through _ext.pyi).
from ffilab.routes.pybind11._ext import *  # noqa: F403

# The kernels every route exports: one list, ffilab._registry.KERNELS.
__all__ = list(KERNELS)
