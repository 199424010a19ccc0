"""The registry and the build: every route present, built as recorded, exporting every kernel."""

from __future__ import annotations

import importlib
import inspect

import pytest

import ffilab
from ffilab import _registry

from conftest import ROUTE_NAMES, load_route


def test_registry_lists_the_lesson_routes_and_the_four_beyond_it() -> None:
    lesson = ["python", "numpy", "ctypes", "cffi_abi", "cffi_api", "cython", "pybind11", "capi"]
    beyond = ["numba", "nanobind", "pyo3", "mypyc"]
    assert sorted(ROUTE_NAMES) == sorted(lesson + beyond)
    assert [n for n in ROUTE_NAMES if n in lesson] == lesson


@pytest.mark.parametrize("name", ROUTE_NAMES)
def test_every_route_is_available(name: str) -> None:
    # A route that did not build fails here, with the reason the build or import recorded.
    info = {i.name: i for i in ffilab.routes()}[name]
    assert info.available, f"route {name} is unavailable: {info.reason}"


@pytest.mark.parametrize("name", ROUTE_NAMES)
def test_route_exports_every_kernel(name: str) -> None:
    module = load_route(name)
    missing = [k for k in ffilab.KERNELS if not hasattr(module, k)]
    assert not missing
    assert sorted(module.__all__) == sorted(ffilab.KERNELS)


@pytest.mark.parametrize("name", [s.name for s in _registry.ROUTES if s.compiled])
def test_compiled_route_is_really_compiled(name: str) -> None:
    # A "compiled" route whose kernels are Python functions would be a fallback in disguise.
    # The FFI routes (ctypes, cffi) wrap foreign functions in Python by design; for them the
    # foreign function itself must come from the C library.
    module = load_route(name)
    if name in ("ctypes", "cffi_abi", "cffi_api"):
        return _check_ffi_route(name, module)
    for kernel in ffilab.KERNELS:
        obj = getattr(module, kernel)
        assert not inspect.isfunction(obj), f"{name}.{kernel} is a Python function"
        module_file = getattr(importlib.import_module(obj.__module__), "__file__", "")
        assert module_file.endswith((".so", ".pyd")), f"{name}.{kernel} comes from {module_file}"


def _check_ffi_route(name: str, module: object) -> None:
    source = inspect.getsource(module)  # type: ignore[arg-type]
    assert "ffilab.routes.python" not in source and "routes import python" not in source
    if name == "ctypes":
        assert module._lib._name.endswith(("libffilab_core.so", "ffilab_core.dll", "libffilab_core.dylib"))  # type: ignore[attr-defined]


def test_build_info_records_flags_and_every_compiled_route() -> None:
    info = ffilab.build_info()
    assert "-O3" in info["compile_options"]
    assert "-ffp-contract=off" in info["compile_options"]
    compiled = {s.name for s in _registry.ROUTES if s.compiled}
    assert compiled <= set(info["routes"])


def test_unknown_route_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        ffilab.route("fortran")


def test_build_info_records_each_routes_own_flags() -> None:
    # pybind11_add_module adds LTO and hidden visibility: recorded, and shown by `ffilab routes`.
    flags = ffilab.build_info()["route_flags"]
    compiled = {s.name for s in _registry.ROUTES if s.compiled}
    assert compiled <= set(flags)
    pybind11 = _registry.route_flags("pybind11")
    assert "visibility=hidden" in pybind11, pybind11
    # pybind11_add_module turns LTO on for Release builds only (tools/sanitize.sh builds
    # RelWithDebInfo, to keep line numbers in its reports): recorded when it is there.
    if ffilab.build_info()["build_type"] in ("Release", "MinSizeRel"):
        assert "-flto" in pybind11, pybind11
    else:
        assert "-flto" not in pybind11, pybind11
    assert "-O3" not in pybind11  # the common flags are recorded once, in compile_options
    assert "cargo" in _registry.route_flags("pyo3")
