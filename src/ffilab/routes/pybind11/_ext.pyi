"""Type stub of ``ffilab.routes.pybind11._ext``, the pybind11 route's compiled module (_ext.cpp)."""

# The kernels' signatures are every route's: they stand once, in ffilab/routes/_kernels.pyi.
from ffilab.routes._kernels import *
