"""Reading a results file of ``ffilab bench`` (format ``ffilab-bench/3``, or the older ``/2``) for the report."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ffilab.report.units import number

__all__ = ["FORMAT", "Results", "iqr", "is_ok", "load_results", "results_from_dict", "variant"]

#: The results format this report reads (see docs/results-format.md).
FORMAT = "ffilab-bench/3"
#: Formats the report reads: format 3 adds the overhead rows' ratios to abs and the sweep's checks.
READABLE_FORMATS = ("ffilab-bench/2", "ffilab-bench/3")

#: Every route of the registry, in its order; used to order rows and colours even when a
#: results file lists routes in another order or omits some.
KNOWN_ROUTES = ("python", "numpy", "numba", "ctypes", "cffi_abi", "cffi_api", "cython", "pybind11", "nanobind",
                "capi", "pyo3", "mypyc")

#: The overhead call kinds in the order the results format lists them.
CALL_KINDS = ("scalar int", "scalar float", "1-element array", "array result", "1-text batch")

#: The route name of the floor rows of the overhead section.
FLOOR = "(floor)"


@dataclass
class Results:
    """The sections of one results file; an absent section is an empty list."""

    metadata: dict[str, Any] = field(default_factory=dict)
    routes: list[dict[str, Any]] = field(default_factory=list)
    overhead: list[dict[str, Any]] = field(default_factory=list)
    throughput: list[dict[str, Any]] = field(default_factory=list)
    scaling: list[dict[str, Any]] = field(default_factory=list)
    crossovers: list[dict[str, Any]] = field(default_factory=list)
    build: list[dict[str, Any]] = field(default_factory=list)
    #: The feature benchmarks (``ffilab.bench.nearest``, ``ffilab.bench.tokenize``); {} when absent.
    nearest: dict[str, Any] = field(default_factory=dict)
    tokenize: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def route_order(self) -> list[str]:
        """Return every route name that occurs, registry order first, then in order of appearance."""
        seen = [r.get("name", "") for r in self.routes]
        for section in (self.overhead, self.throughput, self.scaling, self.build):
            seen += [row.get("route", "") for row in section]
        names = [name for name in KNOWN_ROUTES if name in seen]
        for name in seen:
            if name and name != FLOOR and name not in names:
                names.append(name)
        return names

    def unavailable_routes(self) -> dict[str, str]:
        """Return ``{route: reason}`` for the routes the run found unavailable."""
        return {r.get("name", "?"): r.get("reason") or "no reason given" for r in self.routes if not r.get("available", True)}


def is_ok(row: dict[str, Any]) -> bool:
    """Whether a row was measured: status ``ok`` and a usable median (scaling rows carry no status)."""
    return row.get("status", "ok") == "ok" and number(row.get("median_s")) is not None


def variant(row: dict[str, Any]) -> str:
    """Return the row's variant ("" for the plain route).

    The results format has no variant field yet; a bench that adds the lesson's variants
    ("NumPy (warm)", "Python sum()") as rows of the numpy/python route can tag them with one,
    and the report then keeps them apart from the plain route.
    """
    return str(row.get("variant") or "")


def iqr(row: dict[str, Any]) -> tuple[float, float] | None:
    """Return the row's (q1, q3) in seconds, from the file or recomputed from its samples."""
    q1, q3 = number(row.get("q1_s")), number(row.get("q3_s"))
    if q1 is not None and q3 is not None:
        return q1, q3
    samples = [s for s in (number(x) for x in row.get("samples_s") or []) if s is not None]
    if len(samples) >= 2:
        quartiles = statistics.quantiles(samples, n=4)
        return quartiles[0], quartiles[2]
    return None


def results_from_dict(data: dict[str, Any], source: str = "") -> Results:
    """Build :class:`Results` from the parsed JSON object of a results file.

    Raises
    ------
    ValueError
        The object is not a results file of format ``ffilab-bench/3`` or ``/2``.
    """
    if not isinstance(data, dict):
        raise ValueError(f"results: expected a JSON object, got {type(data).__name__}")
    fmt = data.get("format")
    if fmt not in READABLE_FORMATS:
        raise ValueError(f"results: expected format {FORMAT!r} (or 'ffilab-bench/2'), got {fmt!r}")

    def rows(key: str) -> list[dict[str, Any]]:
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
            raise ValueError(f"results: {key!r} must be a list of objects")
        return value

    return Results(
        metadata=data.get("metadata") or {},
        routes=rows("routes"),
        overhead=rows("overhead"),
        throughput=rows("throughput"),
        scaling=rows("scaling"),
        crossovers=rows("crossovers"),
        build=rows("build"),
        nearest=data.get("nearest") or {},
        tokenize=data.get("tokenize") or {},
        source=source,
    )


def load_results(path: str | Path) -> Results:
    """Read a results file written by ``ffilab bench --json``.

    Parameters
    ----------
    path : str or Path
        The results JSON.

    Raises
    ------
    ValueError
        The file is not valid JSON or not of format ``ffilab-bench/3`` or ``/2``.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"results: {path} is not valid JSON: {exc}") from exc
    return results_from_dict(data, source=path.name)
