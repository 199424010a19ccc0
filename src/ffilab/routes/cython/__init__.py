"""Route ``cython``: the kernels written in typed Cython (``_ext.pyx``), loops and all.

The compiled functions and class are re-exported as they are: there is no Python wrapper layer.
Each kernel checks its own arguments against the contract (``ffilab.contract``) inside the
extension, then runs its loop over typed memoryviews and C doubles with the GIL released.
This route does not call the C core: it is the lesson's "typed Cython", compiled by Cython and
the same C compiler flags as every other route.
"""

from __future__ import annotations

from ffilab._registry import KERNELS
# The compiled kernels themselves, re-exported unchanged: their names are ffilab.KERNELS
# (__all__ below), their types the shared stub's (routes/_kernels.pyi, through _ext.pyi).
from ffilab.routes.cython._ext import *  # noqa: F403

# The kernels every route exports: one list, ffilab._registry.KERNELS.
__all__ = list(KERNELS)
