"""Run LeakSanitizer while the interpreter is still alive (installed by tools/sanitize.sh).

tools/sanitize.sh copies this file into its own virtual environment's site-packages, with a
``.pth`` line that imports it in every Python process started there: pytest, its xdist workers,
and the subprocesses the tests start (``ffilab verify`` workers, pyperf workers).

Why not LeakSanitizer's usual check at exit: CPython does not free every object when it
finalises (code constants, cached module state, objects in reference cycles at shutdown), so an
at-exit check reports hundreds of "leaks" that are CPython's, not ours, and would need
suppressions for whole modules.  Run from an ``atexit`` handler instead -- after the program's
work, before finalisation -- every live object is still reachable from the interpreter, so what
LeakSanitizer reports is memory nothing points to any more: a lost ``malloc``, a buffer whose
owner was freed without it, a reference-count leak of an object that is no longer reachable.
``tools/sanitize.sh`` sets ``leak_check_at_exit=0`` so only this check runs.

The handler is registered when site-packages is processed, i.e. before any other ``atexit``
handler, so it runs last of them.
"""

from __future__ import annotations

import atexit
import ctypes

try:
    # Present only when libasan is preloaded (LD_PRELOAD in tools/sanitize.sh).
    _check = ctypes.CDLL(None).__lsan_do_recoverable_leak_check
except (AttributeError, OSError):
    _check = None

if _check is not None:
    _check.restype = ctypes.c_int
    atexit.register(_check)
