"""The house's single sources: one contract in C, one docstring per kernel, one stub, one kernel list."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import ffilab
from ffilab import _docstrings

ROOT = Path(__file__).resolve().parent.parent
ROUTES_DIR = ROOT / "src" / "ffilab" / "routes"

#: The routes whose compiled modules take their docstrings from csrc/ffilab_docs.h.
DOC_ROUTES = ("capi", "pybind11", "nanobind")
#: Routes whose kernels still carry docstrings written in their own source (issue 15 asks for the
#: one text there too); strict xfail, so a route that comes to agree must leave this set.
DOC_PENDING = {
    "python": "the reference's docstrings are its own source (mypyc compiles that file alone)",
    "numpy": "Python functions with docstrings of their own",
    "numba": "Python wrappers with docstrings of their own",
    "ctypes": "Python wrappers with docstrings of their own",
    "cffi_abi": "Python wrappers with docstrings of their own",
    "cffi_api": "Python wrappers with docstrings of their own",
    "cython": "docstrings written in _ext.pyx",
    "pyo3": "docstrings written as Rust doc comments in src/lib.rs",
    "mypyc": "the reference's source, compiled",
}
#: Members the C API gives no docstring of its own (slot wrappers of tp_init and tp_repr).
CAPI_SLOTS = {"Accumulator.__init__", "Accumulator.__repr__"}


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_ffilab_generate_docs", ROOT / "csrc" / "generate_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_header_is_generated_from_the_one_source() -> None:
    gen = _load_generator()
    header = (ROOT / "csrc" / "ffilab_docs.h").read_text()
    assert header == gen.render(gen.load_source()), "csrc/ffilab_docs.h is stale: run python csrc/generate_docs.py"


def test_every_kernel_has_one_docstring() -> None:
    documented = {name.split(".")[0] for name in _docstrings.DOCS}
    assert documented == set(ffilab.KERNELS)


def _member(route: ModuleType, name: str) -> Any:
    obj: Any = route
    for part in name.split("."):
        # A property's docstring is the property object's: read it from the class's __dict__.
        obj = obj.__dict__[part] if isinstance(obj, type) and part in obj.__dict__ else getattr(obj, part)
    return obj


def _body(doc: str | None, short: str) -> str:
    """A docstring without the signature line its binding put first.

    CPython's text signature (``name(...)\\n--\\n\\n``, which ``__doc__`` of a builtin function
    drops by itself) and nanobind's (``name(...) -> type\\n\\n``, from nb::sig) are stripped.
    """
    lines = (doc or "").split("\n")
    if len(lines) > 2 and lines[0].startswith(short + "("):
        lines = lines[3:] if lines[1] == "--" else lines[2:] if lines[1] == "" else lines
    return "\n".join(lines)


def _route_docs(route_name: str) -> dict[str, str]:
    try:
        route = ffilab.route(route_name)
    except ffilab.RouteUnavailable as exc:
        pytest.skip(str(exc))
    return {
        name: _body(_member(route, name).__doc__, name.rsplit(".", 1)[-1])
        for name in _docstrings.DOCS
        if not (route_name == "capi" and name in CAPI_SLOTS)
    }


def _doc_params() -> list[Any]:
    params = []
    for spec in ffilab.ROUTES:
        name = spec.name
        marks = [pytest.mark.xfail(strict=True, reason=DOC_PENDING[name])] if name in DOC_PENDING else []
        params.append(pytest.param(name, marks=marks, id=name))
    return params


@pytest.mark.parametrize("route_name", _doc_params())
def test_route_docstrings_are_the_one_source(route_name: str) -> None:
    docs = _route_docs(route_name)
    wrong = sorted(name for name, text in docs.items() if text != _docstrings.DOCS[name][1])
    assert not wrong, f"{route_name}: docstrings differ from ffilab/_docstrings.py for {wrong}"


def test_doc_routes_are_the_converted_ones() -> None:
    # Every route is either checked equal or pending with its reason: none is forgotten.
    assert set(DOC_ROUTES) | set(DOC_PENDING) == {spec.name for spec in ffilab.ROUTES}


@pytest.mark.parametrize("route_name", ["capi", "pybind11"])
def test_text_signatures_come_with_the_docstrings(route_name: str) -> None:
    import inspect

    route = ffilab.route(route_name)
    assert str(inspect.signature(route.scale_and_shift)) == "(a, scale, shift=0.0)"
    assert str(inspect.signature(route.fast_sum)) == "(a, /)"


# --- one contract: the native routes raise the reference's exception with its message ---------


class _F(float):
    def __float__(self) -> float:
        return 42.0  # PyFloat_AsDouble reads the stored value, never this


def _read_only() -> np.ndarray:
    a = np.ones(4)
    a.flags.writeable = False
    return a


def _misaligned() -> np.ndarray:
    return np.frombuffer(b"\0" * 17, dtype=np.uint8)[1:].view(np.float64)


BAD_CALLS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "n-negative": ("sum_of_squares", (-1,)),
    "n-huge": ("sum_of_squares", (2**300,)),
    "n-above": ("sum_of_squares", (2**33,)),
    "n-wraps": ("sum_of_squares", (2**64 + 5,)),
    "n-str": ("sum_of_squares", ("3",)),
    "n-float": ("primes", (2.5,)),
    "points-1d": ("compute_distances", (np.ones(3),)),
    "points-list": ("compute_distances", ([1.0],)),
    "k-above": ("find_nearest_k", (0, 0, np.ones(3), np.ones(3), 5)),
    "k-negative": ("find_nearest_k", (0, 0, np.ones(3), np.ones(3), -2)),
    "k-huge": ("find_nearest_k", (0, 0, np.ones(3), np.ones(3), 2**70)),
    "k-float": ("find_nearest_k", (0, 0, np.ones(3), np.ones(3), 1.5)),
    "strided": ("scale_array", (np.ones(4)[::2], 1.0)),
    "read-only": ("scale_array", (_read_only(), 1.0)),
    "real-str": ("circle_area", ("x",)),
    "real-huge": ("circle_area", (2**2000,)),
    "real-float-subclass": ("circle_area", (_F(1.0),)),
    "lengths": ("fast_dot", (np.ones(2), np.ones(3))),
    "float32": ("fast_sum", (np.ones(3, dtype=np.float32),)),
    "2d": ("fast_sum", (np.ones((2, 2)),)),
    "big-endian": ("fast_sum", (np.ones(3, dtype=">f8"),)),
    "misaligned": ("fast_sum", (_misaligned(),)),
    "query-lengths": ("haversine_many", (0, 0, np.ones(2), np.ones(3))),
    "real-none": ("haversine_distance", (0, None, 0, 0)),
}


def _outcome(route: ModuleType, kernel: str, args: tuple[Any, ...]) -> str:
    try:
        result = getattr(route, kernel)(*args)
    except Exception as exc:  # the class and the message are what is compared
        return f"{type(exc).__name__}: {exc}"
    return f"ok {result!r}"


@pytest.mark.parametrize("route_name", ["capi", "pybind11", "nanobind"])
def test_native_routes_share_the_contracts_messages(route_name: str) -> None:
    try:
        route = ffilab.route(route_name)
    except ffilab.RouteUnavailable as exc:
        pytest.skip(str(exc))
    reference = ffilab.route("python")
    for case, (kernel, args) in BAD_CALLS.items():
        assert _outcome(route, kernel, args) == _outcome(reference, kernel, args), case


# --- one stub, one kernel list -------------------------------------------------------------


def _stub_defs(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


def test_shared_stub_declares_every_kernel() -> None:
    assert _stub_defs(ROUTES_DIR / "_kernels.pyi") == set(ffilab.KERNELS)


@pytest.mark.parametrize("stub", sorted(ROUTES_DIR.glob("*/_ext.pyi")), ids=lambda p: p.parent.name)
def test_route_stubs_reuse_the_shared_stub(stub: Path) -> None:
    if stub.parent.name == "cffi_api":
        pytest.skip("cffi_api's _ext is cffi's ffi/lib pair, not the kernels")
    assert "from ffilab.routes._kernels import *" in stub.read_text()
    assert not _stub_defs(stub) & set(ffilab.KERNELS), f"{stub} declares kernels of its own"


def test_stubs_type_check_the_routes(tmp_path: Path) -> None:
    # mypy reads the stubs as a user's type checker would: the shared signatures reach every
    # route's module and, through its star import, the route package; a route's own optional
    # kernel stays its own.
    use = tmp_path / "use.py"
    use.write_text(textwrap.dedent("""\
        from ffilab.routes.capi import _ext as capi
        from ffilab.routes.nanobind import _ext as nb
        from ffilab.routes.pyo3 import _ext as rs
        from ffilab.routes import pybind11

        n: int = capi.sum_of_squares(3)
        s: float = pybind11.circle_area(1.0)
        t: float = nb.Accumulator(1.0).total
        rs.tokenize_arrow(["a"])
        capi.circle_area("x")
        nb.tokenize_arrow(["a"])
        """))
    run = subprocess.run(
        # import-untyped: pyarrow ships no type information (the stubs' tokenize_arrow returns one of
        # its arrays); whether mypy says so depends on what else is installed, not on our stubs.
        [sys.executable, "-m", "mypy", "--no-incremental", "--follow-imports=silent", "--disable-error-code=import-untyped",
         "--cache-dir", str(tmp_path / "c"), str(use)],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "MYPYPATH": str(ROOT / "src")}, timeout=300,
    )
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 2, run.stdout + run.stderr
    assert 'Argument 1 to "circle_area" has incompatible type "str"' in errors[0]
    assert 'Module has no attribute "tokenize_arrow"' in errors[1]


def test_route_all_is_the_kernel_list() -> None:
    for spec in ffilab.ROUTES:
        source = ROUTES_DIR / spec.name / "__init__.py"
        tree = ast.parse(source.read_text())
        assigned = [n.value for n in tree.body if isinstance(n, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets)]
        assert len(assigned) == 1, source
        if spec.name == "python":
            # The reference is compiled by mypyc from its own source alone (mypyc/_build_mypyc.py
            # stages it with contract.py only), so it cannot import the registry: its list is
            # checked equal instead.
            module = importlib.import_module("ffilab.routes.python")
            assert sorted(module.__all__) == sorted(ffilab.KERNELS)
            continue
        assert ast.unparse(assigned[0]) == "list(KERNELS)", f"{source}: __all__ is a hand list"
