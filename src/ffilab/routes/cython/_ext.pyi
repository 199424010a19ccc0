"""Type stubs of ``ffilab.routes.cython._ext``, the compiled kernels of route ``cython``."""

# The kernels' signatures are every route's: they stand once, in ffilab/routes/_kernels.pyi.
from ffilab.routes._kernels import *
