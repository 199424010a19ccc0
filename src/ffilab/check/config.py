"""The ``[tool.ffilab.check]`` section of a project's ``pyproject.toml``: headers, allocators, ignores."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from ffilab.check.rules import RULES

__all__ = ["CheckConfig", "ConfigError", "find_config", "load_config"]


class ConfigError(ValueError):
    """The ``[tool.ffilab.check]`` section is malformed."""


@dataclass(frozen=True)
class CheckConfig:
    """What a project configures: default headers and include directories (absolute paths),
    extra ``allocator -> free`` pairs, and rule codes to ignore; ``source`` names the file."""

    headers: tuple[str, ...] = ()
    include_dirs: tuple[str, ...] = ()
    allocators: dict[str, str] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()
    source: str = ""


def find_config(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start`` that has ``[tool.ffilab.check]``."""
    here = start.resolve()
    for folder in (here, *here.parents) if here.is_dir() else here.parents:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError):
                continue
            if "check" in data.get("tool", {}).get("ffilab", {}):
                return candidate
    return None


def _strings(value: object, key: str, source: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{source}: [tool.ffilab.check] {key} must be a list of strings, got {value!r}")
    return value


def load_config(path: Path | None) -> CheckConfig:
    """Read ``[tool.ffilab.check]`` from ``path`` (``None``: an empty configuration).

    Raises
    ------
    ConfigError
        If the file is not TOML, or a key has the wrong type or names an unknown rule code.
    """
    if path is None:
        return CheckConfig()
    source = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read the configuration: {exc}") from None
    section = data.get("tool", {}).get("ffilab", {}).get("check", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: [tool.ffilab.check] must be a table")
    unknown = set(section) - {"headers", "include_dirs", "allocators", "ignore"}
    if unknown:
        raise ConfigError(f"{source}: [tool.ffilab.check] has unknown keys {sorted(unknown)} (known: headers, include_dirs, allocators, ignore)")
    base = path.parent
    headers = tuple(str(base / h) for h in _strings(section.get("headers", []), "headers", source))
    include_dirs = tuple(str(base / d) for d in _strings(section.get("include_dirs", []), "include_dirs", source))
    allocators = section.get("allocators", {})
    if not isinstance(allocators, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in allocators.items()):
        raise ConfigError(f"{source}: [tool.ffilab.check] allocators must map allocator names to free-function names, got {allocators!r}")
    ignore = frozenset(c.upper() for c in _strings(section.get("ignore", []), "ignore", source))
    bad = sorted(ignore - set(RULES))
    if bad:
        raise ConfigError(f"{source}: [tool.ffilab.check] ignore names unknown rule codes {bad} (known: {', '.join(RULES)})")
    return CheckConfig(headers, include_dirs, dict(allocators), ignore, source)
