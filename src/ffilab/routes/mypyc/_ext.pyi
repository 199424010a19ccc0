"""Type stubs of ``ffilab.routes.mypyc._ext``, the reference (``routes/python``) compiled by mypyc.

The signatures are the reference's own, positional-only markers included (see _build_mypyc.py).
"""

# The kernels' signatures are every route's: they stand once, in ffilab/routes/_kernels.pyi.
from ffilab.routes._kernels import *
