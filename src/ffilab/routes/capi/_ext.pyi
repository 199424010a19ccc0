"""Type stub of ``ffilab.routes.capi._ext``, the hand-written CPython C API module (``_ext.c``)."""

import pyarrow

# The kernels' signatures are every route's: they stand once, in ffilab/routes/_kernels.pyi.
from ffilab.routes._kernels import *

# The optional kernel (ffilab._registry.OPTIONAL_KERNELS), which this route has.
def tokenize_arrow(texts: list[str] | pyarrow.Array, /) -> pyarrow.ListArray: ...
