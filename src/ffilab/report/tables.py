"""The report's tables built from a results file: overhead, throughput, crossovers, build, metadata."""

from __future__ import annotations

import json
from typing import Any

from ffilab.report.document import Table
from ffilab.report.plots import CLOSED_FORM_MARK, UNSTABLE_MARK, throughput_groups
from ffilab.report.results import CALL_KINDS, FLOOR, Results, iqr, is_ok, variant
from ffilab.report.units import MISSING, fmt_bytes, fmt_n, fmt_speedup, fmt_time, number

__all__ = [
    "CLOSED_FORM_NOTE",
    "UNSTABLE_NOTE",
    "build_table",
    "crossover_table",
    "floor_table",
    "metadata_table",
    "not_measured",
    "overhead_table",
    "throughput_tables",
]

CLOSED_FORM_NOTE = (
    f"{CLOSED_FORM_MARK} loop replaced by a closed form — not loop speed: the time does not grow with n, "
    "so the compiler removed the loop; this is not the speed of the loop."
)
UNSTABLE_NOTE = f"{UNSTABLE_MARK} unstable: the interquartile range is 10 % of the median or more; read it as rough."


def _marks(row: dict[str, Any]) -> str:
    return (CLOSED_FORM_MARK if row.get("closed_form") else "") + (UNSTABLE_MARK if row.get("unstable") else "")


def _median_iqr(row: dict[str, Any]) -> str:
    quartiles = iqr(row)
    text = fmt_time(row.get("median_s")) + _marks(row)
    return f"{text} (IQR {fmt_time(quartiles[0])}–{fmt_time(quartiles[1])})" if quartiles else text


def _notes_for(rows: list[dict[str, Any]]) -> list[str]:
    notes = []
    if any(r.get("closed_form") for r in rows):
        notes.append(CLOSED_FORM_NOTE)
    if any(r.get("unstable") for r in rows):
        notes.append(UNSTABLE_NOTE)
    return notes


def overhead_table(results: Results) -> Table | None:
    """Route × call kind: median time per call with its interquartile range."""
    rows = [r for r in results.overhead if r.get("route") != FLOOR]
    if not rows:
        return None
    found = {str(r.get("call")) for r in rows}
    calls = [c for c in CALL_KINDS if c in found] + sorted(found - set(CALL_KINDS))
    cells: dict[tuple[str, str], str] = {}
    for row in rows:
        cells[(str(row.get("route")), str(row.get("call")))] = _median_iqr(row) + _times_abs(row) if is_ok(row) else "not measured"
    routes = [r for r in results.route_order() if any(route == r for route, _ in cells)]
    what = {str(r.get("call")): f"{r.get('kernel', '')}({r.get('args', '')})" for r in rows}
    body = [[route, *(cells.get((route, c), MISSING) for c in calls)] for route in routes]
    with_ratio = any(r.get("ratio_to_abs") is not None for r in rows)
    return Table(
        ["route", *(f"{c}: {what[c]}" for c in calls)],
        body,
        caption="Median time per call (interquartile range)" + ("; x: the same run's builtin abs" if with_ratio else ""),
        numeric=set(range(1, len(calls) + 1)),
        notes=_notes_for([r for r in rows if is_ok(r)]),
    )


def _times_abs(row: dict[str, Any]) -> str:
    """`` x1.23``: the row as a multiple of its run's ``abs`` floor (results format 3), else ""."""
    ratio = number(row.get("ratio_to_abs"))
    return f" x{ratio:.2f}" if ratio is not None else ""


def floor_table(results: Results) -> Table | None:
    """The floor rows: what the cheapest Python-level operations cost on this machine."""
    rows = [r for r in results.overhead if r.get("route") == FLOOR]
    if not rows:
        return None
    body = [
        [str(r.get("call")), str(r.get("kernel", "")), _median_iqr(r) + _times_abs(r) if is_ok(r) else str(r.get("status"))]
        for r in rows
    ]
    return Table(["floor", "what is timed", "median (IQR)"], body, caption="Floors", numeric={2},
                 notes=_notes_for([r for r in rows if is_ok(r)]))


def throughput_tables(results: Results) -> list[tuple[str, Table]]:
    """One table per kernel and size in the lesson's style "Approach | Time | Speedup", fastest first."""
    out = []
    for (kernel, label), rows in throughput_groups(results).items():
        ok = sorted((r for r in rows if is_ok(r)), key=lambda r: number(r["median_s"]) or 0.0)
        if not ok:
            continue
        body = []
        for r in ok:
            approach = str(r.get("route")) + (f" ({variant(r)})" if variant(r) else "")
            quartiles = iqr(r)
            spread = f"{fmt_time(quartiles[0])}–{fmt_time(quartiles[1])}" if quartiles else MISSING
            notes = list(r.get("notes") or [])
            if r.get("closed_form") and not any("not loop speed" in str(n) for n in notes):
                notes.insert(0, "closed form — not loop speed")
            body.append([
                approach + _marks(r),
                fmt_time(r["median_s"]),
                fmt_speedup(r.get("speedup_vs_python")),
                spread,
                "; ".join(str(n) for n in notes),
            ])
        title = f"{kernel}, {label}" if label else kernel
        out.append((title, Table(["Approach", "Time", "Speedup", "IQR", "Notes"], body, numeric={1, 2, 3},
                                 notes=_notes_for(ok))))
    return out


def crossover_table(results: Results) -> Table | None:
    """Kernel × route: from which swept n the route beats python, and numpy (or "never")."""
    if not results.crossovers:
        return None
    versus = sorted({str(c.get("versus")) for c in results.crossovers}, key=lambda v: (v != "python", v))
    found: dict[tuple[str, str], dict[str, str]] = {}
    for c in results.crossovers:
        n = c.get("n")
        cell = fmt_n(n) if number(n) is not None else "never in the swept range"
        found.setdefault((str(c.get("kernel")), str(c.get("route"))), {})[str(c.get("versus"))] = cell
    order = results.route_order()
    keys = sorted(found, key=lambda k: (k[0], order.index(k[1]) if k[1] in order else len(order)))
    body = [[kernel, route, *(found[(kernel, route)].get(v, MISSING) for v in versus)] for kernel, route in keys]
    return Table(
        ["kernel", "route", *(f"faster than {v} from n" for v in versus)],
        body,
        numeric=set(range(2, 2 + len(versus))),
        caption="Smallest swept n from which the route is faster at every larger swept n",
    )


def _short_path(path: str) -> str:
    # Installed paths differ per machine; the part inside the package is what identifies the file.
    marker = "/ffilab/"
    return "ffilab/" + path.rsplit(marker, 1)[1] if marker in path else path


def build_table(results: Results) -> Table | None:
    """Build time, binary size and import time per route (absent values shown as "—")."""
    if not results.build:
        return None
    order = results.route_order()
    rows = sorted(results.build, key=lambda r: order.index(r["route"]) if r.get("route") in order else len(order))
    body = []
    for r in rows:
        compiled = bool(r.get("files")) or number(r.get("size_bytes")) is not None
        if number(r.get("build_s")) is not None:
            build = fmt_time(r.get("build_s"))
        else:
            build = "not measured" if compiled else "— (not compiled)"
        files = ", ".join(_short_path(str(f)) for f in r.get("files") or []) or MISSING
        body.append([str(r.get("route")), build, fmt_bytes(r.get("size_bytes")), fmt_time(r.get("import_s")), files])
    notes = []
    if all(number(r.get("build_s")) is None for r in rows):
        notes.append("This run recorded no build times.")
    return Table(["route", "build time", "binary size", "import time", "files"], body, numeric={1, 2, 3},
                 notes=notes)


def not_measured(results: Results) -> list[str]:
    """One line per route and reason for every row that was not measured, and every unavailable route."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for section, rows in (("overhead", results.overhead), ("throughput", results.throughput)):
        for r in rows:
            if is_ok(r):
                continue
            status = str(r.get("status") or "no median")
            what = f"{section} {r.get('call')}" if section == "overhead" else f"{r.get('kernel')} {r.get('label', '')}"
            grouped.setdefault((str(r.get("route")), status), []).append(what.strip())
    lines = [f"{route} — {status} ({', '.join(what)})" for (route, status), what in grouped.items()]
    listed = {route for route, _ in grouped}
    lines += [f"{name} — unavailable: {reason}" for name, reason in results.unavailable_routes().items() if name not in listed]
    return lines


def _value(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return MISSING if value is None or value == "" else str(value)


_META_ORDER = (
    ("date", "date"), ("cpu", "CPU"), ("cpu_count", "cores"), ("platform", "platform"),
    ("python", "Python"), ("implementation", "implementation"), ("numpy", "NumPy"), ("ffilab", "ffilab"),
    ("timer", "timer"), ("mode", "mode"), ("processes", "processes"), ("values", "values per process"),
    ("warmups", "warm-ups"), ("min_time_s", "minimum time per value (s)"),
)


def metadata_table(results: Results) -> Table:
    """The machine, the toolchain and the method of the run, one fact per row."""
    meta = results.metadata
    body = [[label, _value(meta.get(key))] for key, label in _META_ORDER if key in meta]
    build = meta.get("build") or {}
    for key, label in (("c_compiler", "C compiler"), ("cxx_compiler", "C++ compiler"),
                       ("compile_options", "compile flags"), ("build_type", "build type"), ("native", "-march=native")):
        if key in build:
            body.append([label, _value(build[key])])
    for route, status in (build.get("routes") or {}).items():
        body.append([f"build: {route}", _value(status)])
    for name, version in sorted((meta.get("packages") or {}).items()):
        body.append([f"package: {name}", _value(version)])
    flags = meta.get("cpu_flags")
    if flags:
        body.append([f"CPU flags ({len(flags)})", " ".join(str(f) for f in flags)])
    known = {k for k, _ in _META_ORDER} | {"build", "packages", "cpu_flags"}
    body += [[key, _value(value)] for key, value in meta.items() if key not in known]
    if results.source:
        body.append(["results file", results.source])
    return Table(["", "value"], body)
