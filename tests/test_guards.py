"""The "really compiled" guard (ffilab._proof) refuses impostors: real modules that only look compiled.

Each impostor is a real module written to a temporary directory and imported, holding every real
kernel of the route it imitates except one, which runs in the interpreter while carrying what the
old, name-based guard looked for: a ``__module__`` naming the extension, a ``CDLL``/``ffi``
attribute, a Numba dispatcher named in a branch that never runs.  ``NUMBA_DISABLE_JIT=1`` is tried
in a subprocess, through the commands a user runs.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import ffilab
from ffilab import _proof

from conftest import ROUTE_NAMES, load_route


@pytest.fixture
def make_module(tmp_path: Path) -> Iterator[object]:
    """Write ``source`` as a module file of its own and import it (removed from sys.modules after)."""
    names: list[str] = []
    sys.path.insert(0, str(tmp_path))

    def make(name: str, source: str) -> ModuleType:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        importlib.invalidate_caches()
        names.append(name)
        return importlib.import_module(name)

    yield make
    sys.path.remove(str(tmp_path))
    for name in names:
        sys.modules.pop(name, None)


# Every kernel but circle_area is the route's own; circle_area computes pi * r * r in Python.
_ALL_BUT_CIRCLE_AREA = """
    import math
    import ffilab

    _real = ffilab.route({route!r})
    for _name in ffilab.KERNELS:
        globals()[_name] = getattr(_real, _name)
"""


@pytest.mark.parametrize("route", ["capi", "pybind11", "nanobind", "cython", "pyo3", "mypyc"])
def test_a_python_function_with_a_spoofed_module_is_refused(make_module: object, route: str) -> None:
    # The old guard imported kernel.__module__ and accepted it when that module is a .so file.
    load_route(route)
    module = make_module(f"spoof_{route}", _ALL_BUT_CIRCLE_AREA.format(route=route) + f"""
    def circle_area(radius, /):
        return math.pi * radius * radius

    circle_area.__module__ = _real.circle_area.__module__
    """)
    assert module.circle_area(2.0) == ffilab.route("python").circle_area(2.0)  # it computes right
    problem = _proof.route_problem(route, module)
    assert "circle_area" in problem and "Python function" in problem, problem


def test_a_python_class_posing_as_a_compiled_class_is_refused(make_module: object) -> None:
    load_route("capi")
    module = make_module("spoof_class", _ALL_BUT_CIRCLE_AREA.format(route="capi") + """
    class Accumulator:
        def __init__(self, initial=0.0):
            self.total, self.count = float(initial), 0

        def add(self, value):
            self.total += value
            self.count += 1

    Accumulator.__module__ = _real.Accumulator.__module__
    """)
    problem = _proof.route_problem("capi", module)
    assert "Accumulator" in problem and "Python" in problem, problem


def test_a_partial_over_a_python_function_is_refused(make_module: object) -> None:
    # functools.partial is a C type: only what it wraps tells where the work runs.
    load_route("capi")
    module = make_module("spoof_partial", _ALL_BUT_CIRCLE_AREA.format(route="capi") + """
    import functools

    def _area(scale, radius):
        return scale * radius * radius

    circle_area = functools.partial(_area, math.pi)
    """)
    problem = _proof.route_problem("capi", module)
    assert "circle_area" in problem and "Python function" in problem, problem


@pytest.mark.parametrize("route", ["ctypes", "cffi_abi", "cffi_api"])
def test_an_ffi_route_computing_in_python_beside_its_library_is_refused(make_module: object, route: str) -> None:
    # The old guard accepted any module holding a ctypes.CDLL (or a cffi FFI) that does not
    # import the reference by name: this one holds both and computes circle_area in Python.
    load_route(route)
    module = make_module(f"ffi_{route}", _ALL_BUT_CIRCLE_AREA.format(route=route) + """
    import ctypes
    import cffi
    from ffilab.routes._core_library import core_library_path

    _lib = ctypes.CDLL(str(core_library_path()))
    ffi = cffi.FFI()
    lib = ffi.dlopen(str(core_library_path()))

    def circle_area(radius, /):
        return math.pi * radius * radius
    """)
    problem = _proof.route_problem(route, module)
    assert "circle_area" in problem and "never entered" in problem, problem


def test_numba_with_a_dispatcher_in_a_dead_branch_is_refused(make_module: object) -> None:
    load_route("numba")
    module = make_module("numba_dead_branch", _ALL_BUT_CIRCLE_AREA.format(route="numba") + """
    import numba

    _SHOW = False

    @numba.njit
    def _circle_area(radius):
        return math.pi * radius * radius

    def circle_area(radius, /):
        if _SHOW:
            return _circle_area(radius)
        return math.pi * radius * radius
    """)
    problem = _proof.route_problem("numba", module)
    assert "circle_area" in problem and "compiled no nopython signature" in problem, problem


def test_every_available_route_passes() -> None:
    for name in ROUTE_NAMES:
        module = load_route(name)
        assert _proof.route_problem(name, module) == "", name


def test_the_ffi_call_marker_advances_across_a_real_kernel_call() -> None:
    module = load_route("ctypes")
    before = _proof.core_calls()
    module.fast_sum(__import__("numpy").ones(4))
    assert _proof.core_calls() == before + 1


def _ffilab(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ffilab", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})


def test_numba_disable_jit_makes_routes_and_verify_report_numba_unavailable() -> None:
    # With the JIT disabled every @njit function is plain Python: the results stay right, so only
    # the guard stands between that and "numba: available" over interpreted code.
    proc = _ffilab("routes", "--json", NUMBA_DISABLE_JIT="1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    numba = next(r for r in json.loads(proc.stdout)["routes"] if r["name"] == "numba")
    assert not numba["available"] and "NUMBA_DISABLE_JIT" in numba["reason"], numba
    proc = _ffilab("verify", "-r", "numba", "-k", "circle_area", "--json", NUMBA_DISABLE_JIT="1")
    failures = json.loads(proc.stdout)["failures"]
    assert failures["numba"].startswith("unavailable") and "NUMBA_DISABLE_JIT" in failures["numba"], failures
