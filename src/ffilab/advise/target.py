"""Find the user's function: ``MODULE:FUNCTION`` or a function of a script, imported without running the program.

Importing a module runs its top level; for a script that is the program itself, unless its main
code sits under ``if __name__ == "__main__":``. So a script is imported only when its top level
does nothing but define (imports, functions, classes, constants): otherwise trying one of its
functions would run the program again, which the user did not ask for.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
import types
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Target", "TargetError", "load_function", "load_script_function"]


class TargetError(Exception):
    """The function cannot be found or imported: one line for the user."""


@dataclass
class Target:
    """A user function, with where it lives.

    Attributes
    ----------
    fn : function
        The function object (a plain Python function defined at the module's top level).
    module : module
        The module that defines it.
    file : Path
        Its source file.
    name : str
        Its name (top-level, so also its attribute in the module).
    line : int
        The line of its ``def``.
    spec : str
        How the user named it (``pkg.mod:func`` or ``path/file.py:func``).
    """

    fn: types.FunctionType
    module: types.ModuleType
    file: Path
    name: str
    line: int
    spec: str

    @property
    def runner_target(self) -> dict[str, object]:
        """How the child runner finds the function's definition in the program."""
        return {"file": str(self.file), "name": self.name, "line": self.line}


def _function(module: types.ModuleType, name: str, spec: str) -> Target:
    obj = getattr(module, name, None)
    if obj is None:
        raise TargetError(f"{spec}: module {module.__name__!r} has no attribute {name!r}")
    obj = inspect.unwrap(obj)
    if not isinstance(obj, types.FunctionType):
        raise TargetError(f"{spec}: {name!r} is a {type(obj).__name__}, expected a Python function defined with def")
    if obj.__qualname__ != obj.__name__:
        raise TargetError(f"{spec}: {obj.__qualname__} is not a top-level function of its module (methods and nested functions cannot be swapped)")
    file = Path(obj.__code__.co_filename).resolve()
    if not file.is_file():
        raise TargetError(f"{spec}: the source of {name!r} is not a file ({obj.__code__.co_filename})")
    return Target(fn=obj, module=module, file=file, name=name, line=obj.__code__.co_firstlineno, spec=spec)


def load_function(spec: str) -> Target:
    """Import ``MODULE:FUNCTION`` (a module name importable from the current directory, or ``path.py:FUNCTION``).

    Raises
    ------
    TargetError
        A malformed spec, a module that cannot be imported (with its error), or no such function.
    """
    module_part, sep, name = spec.rpartition(":")
    if not sep or not module_part or not name.isidentifier():
        raise TargetError(f"expected MODULE:FUNCTION (e.g. mypkg.geo:haversine or path/to/file.py:haversine), got {spec!r}")
    if module_part.endswith(".py"):
        return load_script_function(Path(module_part), name, None, spec)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_part)
    except ModuleNotFoundError as exc:
        raise TargetError(f"cannot import {module_part!r}: {exc}") from None
    except BaseException as exc:  # the module's own top level failed: report it, do not crash
        raise TargetError(f"importing {module_part!r} raised {type(exc).__name__}: {exc}") from None
    return _function(module, name, spec)


def _main_guard(node: ast.stmt) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and isinstance(node.test.left, ast.Name)
            and node.test.left.id == "__name__")


def _runs_code(tree: ast.Module) -> int | None:
    """The line of the first top-level statement that calls something (the program running), else None."""
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or _main_guard(node):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring
        if any(isinstance(n, ast.Call) for n in ast.walk(node)):
            return node.lineno
    return None


def load_script_function(path: Path, name: str, line: int | None = None, spec: str | None = None) -> Target:
    """Import the script ``path`` under a private name and return its function ``name``.

    Raises
    ------
    TargetError
        The script does not exist, does not parse, or would run the program when imported.
    """
    spec = spec or f"{path}:{name}"
    path = Path(path).resolve()
    if not path.is_file():
        raise TargetError(f"{spec}: no such file {path}")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError, ValueError) as exc:
        raise TargetError(f"{spec}: cannot parse {path.name}: {exc}") from None
    at = _runs_code(tree)
    if at is not None:
        raise TargetError(f"{spec}: {path.name} runs code at import (line {at}); ffilab will not run your program "
                          "to reach the function: put the main code under `if __name__ == \"__main__\":`")
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    module_name = f"_ffilab_user_{path.stem}_{digest}"
    module = sys.modules.get(module_name)
    if module is None:
        mspec = importlib.util.spec_from_file_location(module_name, path)
        if mspec is None or mspec.loader is None:
            raise TargetError(f"{spec}: cannot import {path}")
        module = importlib.util.module_from_spec(mspec)
        sys.modules[module_name] = module
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        try:
            mspec.loader.exec_module(module)
        except BaseException as exc:  # the script's definitions failed: report it, do not crash
            del sys.modules[module_name]
            raise TargetError(f"importing {path.name} raised {type(exc).__name__}: {exc}") from None
    target = _function(module, name, spec)
    if line is not None and target.line != line:
        raise TargetError(f"{spec}: {name!r} is defined at line {target.line} now, the profile says line {line}: the file changed")
    return target
