"""Route ``capi``: a hand-written CPython C API extension module (``_ext``) over the C core.

The kernels are the compiled functions themselves, re-exported unchanged: there is no Python
wrapper layer, so every argument check of the contract (``ffilab.contract``) is done in C by
``_ext.c`` before the shared C core (``csrc/ffilab_core.c``) is called.  The GIL is released
around every loop, and arrays are used in place through the NumPy C API, never copied.
"""

from __future__ import annotations

from ffilab._registry import KERNELS
# The compiled kernels themselves, re-exported unchanged: their names are ffilab.KERNELS
# (__all__ below), their types the shared stub's (routes/_kernels.pyi, through _ext.pyi).
from ffilab.routes.capi._ext import *  # noqa: F403
# The optional kernel (ffilab._registry.OPTIONAL_KERNELS): exported, outside __all__, which
# lists the kernels every route has.
from ffilab.routes.capi._ext import tokenize_arrow as tokenize_arrow

# The kernels every route exports: one list, ffilab._registry.KERNELS.
__all__ = list(KERNELS)
