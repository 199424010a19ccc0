"""Route ``pyo3``: the kernels written in Rust and bound with PyO3 (the compiled module ``_ext``).

The loops are Rust's own (``src/kernels.rs``; the tokenizer's scan in ``src/tokenize.rs``), not
the C core's, written in the C core's order of operations so that results match the reference bit
for bit where it expects exact ones.  There is no Python wrapper layer: the names below are the
compiled functions and class themselves, every argument check of the contract
(``ffilab.contract``) happens in Rust (``src/contract.rs``), the GIL is released around every loop,
and arrays are used in place, never converted or copied.
"""

from __future__ import annotations

from ffilab._registry import KERNELS
# The compiled kernels themselves, re-exported unchanged: their names are ffilab.KERNELS
# (__all__ below), their types the shared stub's (routes/_kernels.pyi, through _ext.pyi).
from ffilab.routes.pyo3._ext import *  # noqa: F403
# The optional kernel (ffilab._registry.OPTIONAL_KERNELS): exported, outside __all__, which
# lists the kernels every route has.
from ffilab.routes.pyo3._ext import tokenize_arrow as tokenize_arrow

# The kernels every route exports: one list, ffilab._registry.KERNELS.
__all__ = list(KERNELS)
