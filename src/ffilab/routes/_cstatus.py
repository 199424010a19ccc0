"""Status codes of the C core (``csrc/ffilab_core.h``) and the Python exception each one means.

Shared by the routes that call the core through a foreign-function interface (ctypes, cffi ABI
and API mode); the C API and pybind11 routes map the same codes in C/C++.
"""

from __future__ import annotations

OK = 0
EINVAL = 1
EOVERFLOW = 2
ENOMEM = 3

_EXCEPTIONS: dict[int, type[Exception]] = {
    EINVAL: ValueError,
    EOVERFLOW: OverflowError,
    ENOMEM: MemoryError,
}


def raise_for_status(func: str, status: int) -> None:
    """Raise the exception that ``status`` stands for; return quietly for ``OK``.

    The Python-side contract checks run first, so a non-OK status here means the C core caught
    something the wrapper let through: it is still reported, never ignored.
    """
    if status != OK:
        exc = _EXCEPTIONS.get(status, RuntimeError)
        raise exc(f"{func}: the C core returned status {status}")
