"""Build-time script (run by CMake): write the C source of the cffi API-mode module ``_ext``.

Usage: ``python _build_cffi_api.py OUTPUT.c``.  Only the C source is generated here; CMake
compiles it with the C core and the project's flags, like every other compiled route.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from cffi import FFI

# The CDEF is loaded by file path: the ffilab package is not installed while it is being built.
_CDEF_PATH = Path(__file__).resolve().parent.parent / "_cffi_cdef.py"


def _load_cdef() -> str:
    spec = importlib.util.spec_from_file_location("_ffilab_cffi_cdef", _CDEF_PATH)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the cffi declarations from {_CDEF_PATH}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CDEF


def main(argv: list[str]) -> int:
    """Write the generated C source to ``argv[1]``; return the exit status."""
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUTPUT.c", file=sys.stderr)
        return 2
    cdef = _load_cdef()
    ffi = FFI()
    ffi.cdef(cdef)
    # The preamble repeats the declarations after the header: any type that differs from
    # ffilab_core.h is then a "conflicting types" compile error.  cffi alone would let most
    # mismatches through (its wrappers convert scalars implicitly and only warn on pointers),
    # and cffi_abi, which trusts the same CDEF blindly, relies on this check too.
    preamble = '#include "ffilab_core.h"\n\n/* ffilab.routes._cffi_cdef.CDEF, checked against the header: */\n' + cdef
    # The full dotted name makes PyInit__ext register the module where the package imports it.
    ffi.set_source("ffilab.routes.cffi_api._ext", preamble)
    ffi.emit_c_code(argv[1])
    # emit_c_code leaves an up-to-date file untouched; without a fresh mtime the output would
    # stay older than its inputs and the build tool would rerun this step on every build.
    Path(argv[1]).touch()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
