"""Proof that a route runs the code it claims to run, decided from what runs, never from names.

``ffilab routes``, ``ffilab verify`` and ``ffilab bench`` use :func:`route_problem`; a route whose
proof fails is reported unavailable with the reason, never timed as what it claims to be.

What is proved, per registry kind:

* **compiled extension routes** (cython, pybind11, nanobind, capi, pyo3, mypyc): no kernel is
  Python code.  A kernel that is a Python function (``types.FunctionType``, whatever its
  ``__module__`` says), a wrapper over one (``functools.partial``, a bound method,
  ``__wrapped__``), an instance of a class with Python methods, or a class any of whose methods
  is Python code is refused.  Their types are then C types (``builtin_function_or_method``,
  Cython's ``cython_function_or_method``, nanobind's ``nb_func``, pybind11's functions and
  classes), whose behaviour is machine code in the extension file they were loaded from.
* **FFI routes** (ctypes, cffi_abi, cffi_api): their kernels are Python wrappers by design, so the
  proof is a call.  Each kernel is called once with small arguments and must enter the C core
  during that call: for the routes that load ``libffilab_core`` (ctypes, cffi_abi) the core's
  thread-local call marker ``ffl_core_calls()`` must advance; cffi_api compiles its own copy of
  the core into its extension, whose private symbols cannot be read from here, so the call must
  reach a function of that extension's ``lib`` (seen by ``sys.setprofile``'s ``c_call`` event;
  the marker would serve if ``ffl_core_calls`` were added to the shared cdef).  The marker is
  read through ffilab's own handle on the library, never through the module under proof.
* **the JIT route** (numba): ``NUMBA_DISABLE_JIT`` must be off; every kernel's code must call a
  Numba dispatcher, none in object mode, none using the pure-Python reference
  (:func:`ffilab.bench._jit.jit_problem`); and each kernel, called once, must leave one of the
  dispatchers its code names with a compiled nopython signature.  A dispatcher named in a branch
  that never runs compiles nothing and is refused.

Limits, stated: a kernel that calls the C core for show and then returns an answer computed in
Python passes the marker (its answer is still checked by ``verify`` and the bench's own
verification); the Numba proof cannot tell a dead reference to a dispatcher that something else
already compiled in this process.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import sys
from collections.abc import Callable
from types import FrameType, FunctionType, MethodType, ModuleType
from typing import Any

__all__ = ["FFI_ROUTES", "core_calls", "python_code_in", "route_problem"]

#: The base class of ctypes' foreign function pointers (private in ctypes, public in behaviour).
_C_FUNCTION_POINTER: type = getattr(ctypes, "_CFuncPtr")

#: Routes whose kernels are Python wrappers over the C core by design, proved by a call.
FFI_ROUTES: tuple[str, ...] = ("ctypes", "cffi_abi", "cffi_api")


@functools.cache
def _core_counter() -> Callable[[], int]:
    from ffilab.routes._core_library import core_library_path

    # ctypes.CDLL of the path returns the process's one mapping of the library (dlopen counts
    # references), so this reads the very counter the ctypes and cffi_abi routes advance.
    fn = ctypes.CDLL(str(core_library_path())).ffl_core_calls
    fn.argtypes = []
    fn.restype = ctypes.c_uint64
    return fn  # type: ignore[no-any-return]


def core_calls() -> int:
    """Return how many times this thread has entered the kernels of ``libffilab_core``.

    Returns
    -------
    int
        The C core's thread-local call marker (``ffl_core_calls`` in ``csrc/ffilab_core.h``).
    """
    return int(_core_counter()())


def _has_python_code(value: Any) -> bool:
    # The type, not a __code__ attribute: Cython's compiled functions carry a __code__ (an empty
    # one, for introspection), and any object can grow one.  A Python function or bound method
    # is exactly what the interpreter runs.
    return isinstance(value, (FunctionType, MethodType))


def python_code_in(obj: Any, _depth: int = 0) -> str:
    """Describe the Python code that calling ``obj`` would run ("" when there is none).

    Parameters
    ----------
    obj : object
        A kernel: a function-like object or a class.

    Returns
    -------
    str
        E.g. ``"a Python function (circle_area in /tmp/x.py)"``; "" for a C-implemented callable
        or a class whose methods are all C-implemented.
    """
    if _depth > 8:
        return "wrappers nested too deep to inspect"
    if _has_python_code(obj):
        code = getattr(obj, "__code__", None)
        where = f" ({code.co_name} in {code.co_filename})" if code is not None else ""
        return f"a Python function{where}"
    if isinstance(obj, _C_FUNCTION_POINTER) and not isinstance(obj, type):
        # A C function pointer may be a ctypes callback over a Python function; an extension
        # route's kernel is never one.
        return "a ctypes function pointer (possibly a callback into Python)"
    for attr in ("__wrapped__", "__func__", "func"):
        inner = getattr(obj, attr, None) if not isinstance(obj, type) else vars(obj).get(attr)
        if inner is not None and inner is not obj and callable(inner):
            found = python_code_in(inner, _depth + 1)
            if found:
                return f"wraps {found}"
    cls = obj if isinstance(obj, type) else type(obj)
    for klass in cls.__mro__:
        if klass is object:
            continue
        for key, value in vars(klass).items():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            parts = [value.fget, value.fset, value.fdel] if isinstance(value, property) else [value]
            if any(_has_python_code(p) for p in parts if p is not None):
                what = "its class " if cls is not obj else ""
                return f"{what}{klass.__qualname__}.{key} is a Python function"
    return ""


def _extension_problem(module: ModuleType) -> str:
    import ffilab

    for kernel in ffilab.KERNELS:
        obj = getattr(module, kernel)
        found = python_code_in(obj)
        if found:
            return f"{kernel} is {found}, not compiled code"
        # Where the C type says it was defined: a builtin's __self__ is the module object that
        # created it (it cannot be reassigned); other types name theirs.
        home = getattr(obj, "__self__", None)
        if not isinstance(home, ModuleType):
            home = sys.modules.get(str(getattr(obj, "__module__", ""))) or importlib.import_module(obj.__module__)
        home_file = str(getattr(home, "__file__", "") or "")
        if not home_file.endswith((".so", ".pyd")):
            return f"{kernel} comes from {home_file or home.__name__}, not from a compiled module"
    return ""


def _probe(kernel: str, obj: Any) -> Callable[[], Any]:
    from ffilab.bench.workloads import FIRST_CALLS

    return FIRST_CALLS[kernel][1](obj)


def _cffi_api_lib_functions() -> set[int]:
    from ffilab.routes.cffi_api import _ext

    if not str(getattr(_ext, "__file__", "")).endswith((".so", ".pyd")):
        raise RuntimeError(f"ffilab.routes.cffi_api._ext is not a compiled module: {_ext!r}")
    return {id(getattr(_ext.lib, name)) for name in dir(_ext.lib)}


def _enters_cffi_api_lib(call: Callable[[], Any]) -> bool:
    lib_functions = _cffi_api_lib_functions()
    entered = False

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal entered
        if event == "c_call" and id(arg) in lib_functions:
            entered = True

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(previous)
    return entered


def _ffi_problem(name: str, module: ModuleType) -> str:
    import ffilab

    from ffilab.bench._jit import _functions_of

    reference = sys.modules.get("ffilab.routes.python")
    for kernel in ffilab.KERNELS:
        obj = getattr(module, kernel)
        if reference is not None and any(
            v is reference or getattr(v, "__module__", None) == reference.__name__
            for fn in _functions_of(obj) for v in getattr(fn, "__globals__", {}).values()
        ):
            return f"{kernel} uses the pure-Python reference"
        call = _probe(kernel, obj)
        try:
            if name == "cffi_api":
                entered = _enters_cffi_api_lib(call)
            else:
                before = core_calls()
                call()
                entered = core_calls() > before
        except Exception as exc:  # a kernel that cannot even run its probe proves nothing
            return f"{kernel} failed its probe call: {type(exc).__name__}: {exc}"
        if not entered:
            where = "cffi_api's compiled lib" if name == "cffi_api" else "libffilab_core (its call marker did not move)"
            return f"{kernel} never entered {where}: its work ran in Python"
    return ""


def _jit_problem(module: ModuleType) -> str:
    import ffilab

    try:
        from numba.core import config as numba_config
    except ImportError as exc:
        return f"Numba cannot be imported: {exc}"
    if getattr(numba_config, "DISABLE_JIT", 0):
        return ("NUMBA_DISABLE_JIT=1: @njit returns plain Python functions here, so every kernel calls no Numba "
                "dispatcher: its work would run in the interpreter")
    from ffilab.bench._jit import called_dispatchers, jit_problem

    problem = jit_problem(module)
    if problem:
        return problem
    for kernel in ffilab.KERNELS:
        obj = getattr(module, kernel)
        try:
            _probe(kernel, obj)()
        except Exception as exc:
            return f"{kernel} failed its probe call: {type(exc).__name__}: {exc}"
        dispatchers = called_dispatchers(obj)
        if not any(d.nopython_signatures for d in dispatchers):
            names = ", ".join(d.py_func.__qualname__ for d in dispatchers)
            return (f"{kernel}: called once, the Numba dispatchers its code names ({names}) compiled no nopython "
                    "signature: the call ran in the interpreter")
    return ""


def route_problem(name: str, module: ModuleType | None = None) -> str:
    """Return why route ``name`` does not run the code its registry kind claims ("" if it does).

    Parameters
    ----------
    name : str
        A registered route name; its registry entry says what must be proved.
    module : module, optional
        The module to prove (default: the route's own, :func:`ffilab.route`).  The tests pass
        impostor modules here.

    Returns
    -------
    str
        "" for a proven route and for the routes that claim no compiled code (python, numpy).

    Raises
    ------
    KeyError
        ``name`` is not a registered route.
    """
    from ffilab import _registry

    spec = _registry.ROUTES_BY_NAME[name]
    if spec.kind != "JIT" and not spec.compiled:
        return ""
    if module is None:
        module = _registry.route(name)
    if spec.kind == "JIT":
        return _jit_problem(module)
    if name in FFI_ROUTES:
        return _ffi_problem(name, module)
    return _extension_problem(module)
