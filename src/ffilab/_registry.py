"""The one registry of routes: what each is, what it is built from, and whether it is usable here.

A route is a module ``ffilab.routes.<name>`` exporting every name in :data:`KERNELS`.  Adding a
route means one folder under ``src/ffilab/routes/`` and one line in :data:`ROUTES` (plus its name
in the build list of ``CMakeLists.txt`` if it is compiled).

A route that cannot be imported, or that the build skipped, is *unavailable with its reason*, and
so is one that cannot run the code its kind claims here (a compiled route whose kernels are Python
code, an FFI route whose calls never enter the C library, the JIT route with ``NUMBA_DISABLE_JIT=1``:
:func:`routes` asks :mod:`ffilab._proof`).  Nothing ever falls back to another route.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
from dataclasses import dataclass
from importlib import resources
from types import ModuleType
from typing import Any

__all__ = ["KERNELS", "ROUTES", "ROUTES_BY_NAME", "RouteInfo", "route_flags", "RouteSpec", "RouteUnavailable", "build_info", "route", "routes"]

#: The names every route module exports, in the order the lesson introduces them.
KERNELS: tuple[str, ...] = (
    "sum_of_squares",
    "circle_area",
    "scale_array",
    "compute_distances",
    "primes",
    "fast_sum",
    "fast_dot",
    "fast_norm",
    "scale_and_shift",
    "Accumulator",
    "haversine_distance",
    "haversine_many",
    "find_nearest_k",
    "tokenize_batch",
)

#: Optional kernels: a route may export them (with the same contract in every route that does);
#: tests and the pipeline find them with ``hasattr``.  ``tokenize_arrow``: the tokens of
#: ``tokenize_batch`` as a pyarrow ``list<string>`` array built from native buffers
#: (reference: ``ffilab.text.arrow.reference_tokenize_arrow``).
OPTIONAL_KERNELS: tuple[str, ...] = ("tokenize_arrow",)


@dataclass(frozen=True)
class RouteSpec:
    """A registry line: a route's name, kind and what it is built from."""

    name: str
    kind: str
    built_from: str
    compiled: bool


@dataclass(frozen=True)
class RouteInfo:
    """A route as found on this installation."""

    name: str
    kind: str
    built_from: str
    available: bool
    reason: str


class RouteUnavailable(ImportError):
    """Raised by :func:`route` for a route that was not built or cannot be loaded here."""


# fmt: off
ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("python",   "interpreted", "plain Python loops: the reference",                        False),
    RouteSpec("numpy",    "vectorised",  "NumPy array expressions",                                  False),
    RouteSpec("numba",    "JIT",         "Numba @njit kernels, compiled to machine code at first call",  False),
    RouteSpec("ctypes",   "C ABI (FFI)", "libffilab_core.so loaded with ctypes.CDLL",                True),
    RouteSpec("cffi_abi", "C ABI (FFI)", "libffilab_core.so loaded with cffi ffi.dlopen",            True),
    RouteSpec("cffi_api", "C extension", "cffi out-of-line API mode over the C core",                True),
    RouteSpec("cython",   "C extension", "typed Cython (loops written in Cython)",                   True),
    RouteSpec("pybind11", "C++ binding", "pybind11 module over the C core",                          True),
    RouteSpec("nanobind", "C++ binding", "nanobind module over the C core",                          True),
    RouteSpec("capi",     "C extension", "hand-written CPython C API module over the C core",        True),
    RouteSpec("pyo3",     "Rust binding", "Rust crate with PyO3, built by cargo",                     True),
    RouteSpec("mypyc",    "compiled Python", "the reference's typed Python compiled by mypyc",       True),
)
# fmt: on

#: The registry lines by route name.
ROUTES_BY_NAME: dict[str, RouteSpec] = {spec.name: spec for spec in ROUTES}
_SPECS = ROUTES_BY_NAME


@functools.cache
def build_info() -> dict[str, Any]:
    """Return what the build recorded: compilers, flags and the status of each compiled route."""
    try:
        text = resources.files("ffilab").joinpath("_build_info.json").read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return {"routes": {}, "missing": "no _build_info.json: ffilab was not installed by its build"}
    return json.loads(text)


def _eval_genex(text: str, config: str, language: str) -> str:
    """Evaluate the CMake generator expressions the build records (config, language, and/or/not)."""

    def truth(expr: str) -> str:
        if expr in ("0", "1"):
            return expr
        name, _, arg = expr.partition(":")
        args = arg.split(",") if arg else []
        if name == "CONFIG":
            return "1" if config in args else "0"
        if name == "COMPILE_LANGUAGE":
            return "1" if language in args else "0"
        if name == "OR":
            return "1" if "1" in args else "0"
        if name == "AND":
            return "1" if all(a == "1" for a in args) else "0"
        if name == "NOT":
            return "0" if args == ["1"] else "1"
        if name in ("0", "1"):
            return arg if name == "1" else ""
        return f"?{expr}"

    # Innermost first: $<X> without nested $< inside.
    inner = re.compile(r"\$<([^$<>]*)>")
    for _ in range(50):
        new = inner.sub(lambda m: truth(m.group(1)), text)
        if new == text:
            break
        text = new
    return " ".join(text.split())


def route_flags(name: str) -> str:
    """Return the flags route ``name`` adds to the common ones, as the build recorded them ("" if none).

    Reads ``route_flags`` of ``_build_info.json`` (the compile and link options of the route's
    CMake targets, with those of the libraries they link; their visibility and IPO; a note where
    another tool builds the route), evaluates the generator expressions for the build's
    configuration and drops what every route has (``compile_options`` and the extension
    modules' version script).
    """
    info = build_info()
    flags = info.get("route_flags", {}).get(name)
    if not flags:
        return ""
    config = info.get("build_type") or "Release"
    common = set(str(info.get("compile_options", "")).split())
    language = "CXX" if name in ("pybind11", "nanobind") else "C"
    parts = []
    for target, fields in flags.get("targets", {}).items():
        own = []
        compile_ = [f for f in _eval_genex(fields.get("compile", ""), config, language).split() if f not in common]
        link = [f for f in _eval_genex(fields.get("link", ""), config, language).split()
                if not f.startswith("LINKER:--version-script=")]
        if compile_:
            own.append("compile " + " ".join(compile_))
        if link:
            own.append("link " + " ".join(link))
        if fields.get("visibility"):
            own.append(f"visibility={fields['visibility']}")
        if fields.get("ipo"):
            own.append(f"IPO={fields['ipo']}")
        if own:
            parts.append(f"{target}: " + ", ".join(own))
    if flags.get("note"):
        parts.append(str(flags["note"]))
    return "; ".join(parts)


@functools.cache
def _load(name: str) -> ModuleType | str:
    spec = _SPECS[name]
    if spec.compiled:
        status = build_info().get("routes", {}).get(name)
        if status is None:
            return "not built: the build recorded no status for this route"
        if status != "built":
            return status
    try:
        return importlib.import_module(f"ffilab.routes.{name}")
    except Exception as exc:  # any import failure makes the route unavailable, with its reason
        return f"import failed: {type(exc).__name__}: {exc}"


def route(name: str) -> ModuleType:
    """Return the module of route ``name``, whose attributes are the kernels.

    Raises
    ------
    KeyError
        No route of that name exists.
    RouteUnavailable
        The route exists but is not usable on this installation; the message gives the reason.
    """
    if name not in _SPECS:
        raise KeyError(f"unknown route {name!r}; routes are {', '.join(_SPECS)}")
    loaded = _load(name)
    if isinstance(loaded, str):
        raise RouteUnavailable(f"route {name!r} is unavailable: {loaded}")
    return loaded


@functools.cache
def _proof_problem(name: str) -> str:
    from ffilab import _proof

    try:
        problem = _proof.route_problem(name)
    except Exception as exc:  # a proof that cannot run proves nothing: unavailable, with why
        problem = f"its proof failed: {type(exc).__name__}: {exc}"
    return f"not really compiled: {problem}" if problem else ""


def routes(prove: bool = True) -> list[RouteInfo]:
    """Return every registered route with its availability on this installation.

    Parameters
    ----------
    prove : bool, default True
        Also prove that each importable route runs the code its kind claims
        (:func:`ffilab._proof.route_problem`: compiled kernels, calls that enter the C core,
        Numba kernels compiled in nopython mode); a route that fails is unavailable with the
        reason.  The proof calls every kernel once with small arguments (the JIT route compiles
        or loads them from its cache) and is made once per process.
    """
    out = []
    for spec in ROUTES:
        loaded = _load(spec.name)
        reason = loaded if isinstance(loaded, str) else ""
        if not reason and prove:
            reason = _proof_problem(spec.name)
        out.append(RouteInfo(spec.name, spec.kind, spec.built_from, not reason, reason))
    return out
