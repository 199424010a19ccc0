"""Locate ``libffilab_core``, the plain C library installed inside the package.

``importlib.resources`` rather than ``Path(__file__)``: it finds the file wherever the package
lives, including editable installs whose compiled files sit outside the source tree.
"""

from __future__ import annotations

import functools
import sys
from importlib import resources
from pathlib import Path

_NAMES = {"win32": "ffilab_core.dll", "darwin": "libffilab_core.dylib"}


@functools.cache
def core_library_path() -> Path:
    """Return the file system path of the installed C core library.

    Raises
    ------
    FileNotFoundError
        The library was not built or installed with this copy of ffilab.
    """
    name = _NAMES.get(sys.platform, "libffilab_core.so")
    entry = resources.files("ffilab._native").joinpath(name)
    if not entry.is_file():
        raise FileNotFoundError(f"{name} is not installed in ffilab._native (was the C core built?)")
    # as_file() yields a real path; for an installed (not zipped) package it is the file itself,
    # which stays valid after the context exits.
    with resources.as_file(entry) as path:
        return Path(path)
