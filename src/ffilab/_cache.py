"""ffilab's cache directory, and the one way a file is written into it.

Three things are cached between processes: the gazetteer as arrays (``ffilab.nearest``), the
corpus generator's word pools (``ffilab.text.corpus``) and the tokenizer's table of character
classes (``ffilab.contract.char_classes``).  Each names its file after a fingerprint of what it
was made from, so a stale file is never read; this module only says where the files live and how
they are written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["cache_dir", "write_atomic"]


def cache_dir() -> Path:
    """Return the directory of ffilab's cache files (it may not exist yet).

    ``$FFILAB_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/ffilab``, else ``~/.cache/ffilab``.
    """
    env = os.environ.get("FFILAB_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ffilab"


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` by calling ``write(file)`` on a temporary file beside it, then renaming it.

    Concurrent first uses (pytest-xdist workers, Dask workers, pipeline processes) may all write
    the same cache file; the rename makes each reader see one whole file, never half of one.  The
    directory is created if needed.

    Raises
    ------
    OSError
        The directory cannot be created or written; nothing is left behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
