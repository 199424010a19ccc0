"""``ffilab check``: ctypes and cffi-ABI code checked against the C headers it calls into.

The lesson's danger box -- "ctypes assumes c_int for everything undeclared" -- and its Level 2
debug challenge as a tool.  :func:`check_files` reads Python files statically
(:mod:`ffilab.check.static`, :mod:`ffilab.check.leaks`) against prototypes parsed from real
headers (:mod:`ffilab.check.header`); :func:`ffilab.check.runtime.run_checked` runs a program
with every ctypes call checked as it happens.  Rule codes and explanations live in
:mod:`ffilab.check.rules`, the ``[tool.ffilab.check]`` configuration in :mod:`ffilab.check.config`.

>>> from ffilab.check import RULES
>>> sorted(RULES)[:2]
['FFI001', 'FFI002']
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from ffilab.check.config import CheckConfig, ConfigError, find_config, load_config
from ffilab.check.header import HeaderError, HeaderSet, load_headers
from ffilab.check.rules import RULES, Finding, explain
from ffilab.check.static import CheckError, check_source

__all__ = [
    "RULES", "CheckConfig", "CheckError", "ConfigError", "Finding", "HeaderError", "HeaderSet",
    "check_files", "check_source", "explain", "find_config", "load_config", "load_headers", "prepare_headers",
]


def prepare_headers(
    headers: Iterable[str | os.PathLike[str]],
    config: CheckConfig,
    include_dirs: Iterable[str] = (),
    allocators: Mapping[str, str] | None = None,
) -> HeaderSet:
    """Load ``headers`` (or, when none are given, the configuration's) with every allocator pair.

    Raises
    ------
    HeaderError
        If no header is given anywhere, or one cannot be parsed (see :func:`load_headers`).
    """
    paths = [str(h) for h in headers] or list(config.headers)
    if not paths:
        raise HeaderError("no header given: pass --header HEADER.h (or set headers in [tool.ffilab.check])")
    hs = load_headers(paths, [*include_dirs, *config.include_dirs])
    if config.allocators:
        hs.add_allocators(config.allocators, f"{config.source} [tool.ffilab.check] allocators")
    if allocators:
        hs.add_allocators(allocators, "allocators")
    return hs


def check_files(paths: Iterable[str | os.PathLike[str]], headers: HeaderSet, ignore: Iterable[str] = ()) -> list[Finding]:
    """Check Python files against ``headers``; the findings of all files, sorted.

    Raises
    ------
    CheckError
        If a file cannot be read or parsed, or uses a function no header declares.
    """
    skip = frozenset(c.upper() for c in ignore)
    found: list[Finding] = []
    for raw in paths:
        path = Path(raw)
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CheckError(str(path), 1, 1, f"error: cannot read the file: {exc}") from None
        found += check_source(source, str(raw), headers, skip)
    return sorted(found)
