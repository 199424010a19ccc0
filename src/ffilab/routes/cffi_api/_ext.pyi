"""Type stub of ``ffilab.routes.cffi_api._ext``, the cffi API-mode module generated and compiled at build time."""

from typing import Any

import cffi

# The compiled module's ffi is a CompiledFFI, which has FFI's run-time methods (new, cast,
# from_buffer, gc, buffer, unpack, typeof, ...) but no cdef/set_source/compile.
ffi: cffi.FFI
# lib's attributes are the ffl_* functions of ffilab_core.h as built-in functions; cffi gives
# them no static types, and spelling them out here would duplicate _cffi_cdef.CDEF.
lib: Any
