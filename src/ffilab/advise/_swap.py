"""Build the replacement of a user's function for a route (stdlib only, loaded by path in the child runner too).

The child runner (``_runner.py``) runs the user's interpreter, which may not have ffilab installed,
so this module imports nothing from ffilab; ``compile.py`` loads the very same file, so the function
``ffilab try`` verifies and times is built exactly as the one ``--confirm`` swaps into the program.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any, Callable

__all__ = ["numba_jit", "load_extension"]


def numba_jit(fn: types.FunctionType) -> Callable[..., Any]:
    """Return ``numba.njit`` of ``fn``, with the module's plain functions it calls jitted as well.

    A user decorating their hot function with ``@njit`` must decorate the helpers it calls too
    (Numba cannot call an interpreted function from compiled code); doing the same here keeps the
    try honest about what one decorator per function buys. The module itself is left untouched:
    the helpers are jitted in a copy of the function's globals.
    """
    import numba

    done: dict[int, Any] = {}

    def jit(f: types.FunctionType) -> Any:
        if id(f) in done:
            return done[id(f)]
        globs = dict(f.__globals__)
        clone = types.FunctionType(f.__code__, globs, f.__name__, f.__defaults__, f.__closure__)
        jitted = numba.njit(clone)
        done[id(f)] = jitted
        for name in _global_names(f.__code__):
            obj = globs.get(name)
            if isinstance(obj, types.FunctionType) and obj.__module__ == f.__module__:
                globs[name] = jit(obj)
        return jitted

    return jit(fn)


def _global_names(code: types.CodeType) -> set[str]:
    """Every global name the code (and the code of its nested functions) may load."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def load_extension(module_name: str, path: str) -> types.ModuleType:
    """Import the compiled extension module ``module_name`` from the file ``path``."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the compiled module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
