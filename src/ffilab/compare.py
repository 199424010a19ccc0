"""``ffilab compare A.json B.json``: which measurements changed between two bench results, and is it noise?

Rows of the two results files (format ``ffilab-bench/3`` or ``/2``, see ``docs/results-format.md``)
are matched by what they measure — overhead rows by ``(route, call, kernel)``, throughput rows by
``(route, kernel, n)`` (the label where ``n`` is null), build rows by route (their import-time
samples) — and each matched pair of raw samples is compared with
:func:`ffilab.stats.compare_samples`: B against baseline A. Rows found in only one file are listed
as added or removed, rows that are not ``ok`` in either file with their status, never as a change.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ffilab.stats import Comparison, compare_samples

__all__ = ["FORMAT", "MIN_EFFECT", "READABLE_FORMATS", "Row", "compare_runs", "format_seconds", "load_results", "main", "metadata_differences", "render"]

FORMAT = "ffilab-bench/3"
"""The results format ``ffilab bench`` writes now."""

READABLE_FORMATS: tuple[str, ...] = ("ffilab-bench/2", "ffilab-bench/3")
"""The results formats this module reads (both compare in seconds; format 3 adds each overhead row's
spread between worker processes, its run-to-run noise)."""

MIN_EFFECT: dict[str, float] = {"overhead": 0.07, "throughput": 0.07, "build": 0.10}
"""The smallest relative change called significant, per section.  Measured on this project's
2-CPU machine, shared with other jobs: two back-to-back runs of the same build differ by up to
about 5.5 % in a row's overhead median (most rows within 3 %), and import times (fresh
processes, the file cache) by more.  A real change of 10 % stays above 7 %."""

# Metadata whose difference makes a comparison measure the machine or the build rather than the code.
_METADATA_THAT_MATTERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cpu", ("cpu",)),
    ("python", ("python",)),
    ("compile_options", ("build", "compile_options")),
    ("timer", ("timer",)),
)


@dataclass(frozen=True)
class Row:
    """One line of a comparison: a measurement in A, in B, or in both.

    Attributes
    ----------
    section : str
        ``"overhead"``, ``"throughput"`` or ``"build"``.
    key : tuple of str
        What the row is matched on (e.g. ``("capi", "scalar float", "circle_area")``).
    what : str
        The row as a reader names it, e.g. ``"overhead capi circle_area (scalar float)"``.
    state : str
        ``"compared"`` (both files measured it), ``"added"`` (only in B), ``"removed"`` (only in
        A) or ``"not ok"`` (in both, but not measured in at least one: see ``detail``).
    median_a_s, median_b_s : float or None
        Median seconds per call in A and B (from the samples where there are any).
    comparison : Comparison or None
        The statistics of B against A; only for ``"compared"`` rows.
    detail : str
        Why a row is not ok (each file's status), or notes on a compared row (unstable,
        closed form).
    """

    section: str
    key: tuple[str, ...]
    what: str
    state: str
    median_a_s: float | None = None
    median_b_s: float | None = None
    comparison: Comparison | None = None
    detail: str = ""

    @property
    def significant(self) -> bool:
        """True for a compared row whose change is significant."""
        return self.comparison is not None and self.comparison.significant


@dataclass(frozen=True)
class _Entry:
    """One measured row of one results file, reduced to what the comparison needs."""

    key: tuple[str, ...]
    what: str
    status: str
    samples: tuple[float, ...]
    median_s: float | None
    notes: tuple[str, ...]
    process_spread: float = 0.0


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a results file of ``ffilab bench --json``, refusing any other format.

    Parameters
    ----------
    path : str or Path
        The JSON file.

    Returns
    -------
    dict
        The parsed results object.

    Raises
    ------
    ValueError
        If the file is not JSON, not a JSON object, or its ``format`` is not one of
        :data:`READABLE_FORMATS`.
    OSError
        If the file cannot be read.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object with format {FORMAT!r}, got {type(data).__name__}")
    found = data.get("format")
    if found not in READABLE_FORMATS:
        raise ValueError(
            f"{path}: cannot compare results of format {found!r}; expected {FORMAT!r} "
            f"(or {', '.join(repr(f) for f in READABLE_FORMATS if f != FORMAT)}; rerun `ffilab bench` with this "
            "version of ffilab)"
        )
    return data


def _lookup(metadata: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """Return the value at a nested key path of the metadata, or None where any level is missing."""
    value: Any = metadata
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def metadata_differences(meta_a: Mapping[str, Any], meta_b: Mapping[str, Any]) -> list[str]:
    """Describe the metadata differences that make timings of A and B not like for like.

    Parameters
    ----------
    meta_a, meta_b : mapping
        The ``metadata`` objects of the two results files.

    Returns
    -------
    list of str
        One warning per differing field among cpu, python, compile_options and timer (a field
        missing from one file counts as different), e.g. ``"timer differs: A 'cpu', B 'wall'"``.
    """
    warnings = []
    for name, path in _METADATA_THAT_MATTERS:
        va, vb = _lookup(meta_a, path), _lookup(meta_b, path)
        if va != vb:
            warnings.append(f"{name} differs: A {va!r}, B {vb!r}")
    return warnings


def _finite_floats(values: Any) -> tuple[float, ...]:
    """Return the numeric, finite entries of a samples list (empty for anything else)."""
    if not isinstance(values, list):
        return ()
    out = []
    for v in values:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out.append(float(v))
    return tuple(out)


def _median_of(raw: Mapping[str, Any], field: str) -> float | None:
    value = raw.get(field)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _unique(entries: Iterable[_Entry]) -> Iterator[_Entry]:
    """Yield the entries, numbering repeats of one key (``#2``…) so none is silently dropped."""
    seen: dict[tuple[str, ...], int] = {}
    for e in entries:
        count = seen.get(e.key, 0) + 1
        seen[e.key] = count
        if count == 1:
            yield e
        else:
            yield _Entry(e.key + (f"#{count}",), f"{e.what} #{count}", e.status, e.samples, e.median_s, e.notes,
                         e.process_spread)


def _overhead_entries(data: Mapping[str, Any]) -> Iterator[_Entry]:
    for raw in data.get("overhead") or []:
        route, call, kernel = str(raw.get("route")), str(raw.get("call")), str(raw.get("kernel"))
        notes = ("unstable",) if raw.get("unstable") else ()
        yield _Entry(
            key=(route, call, kernel),
            what=f"{route} {kernel} ({call})",
            status=str(raw.get("status", "ok")),
            samples=_finite_floats(raw.get("samples_s")),
            median_s=_median_of(raw, "median_s"),
            notes=notes,
            process_spread=_median_of(raw, "process_spread") or 0.0,
        )


def _throughput_entries(data: Mapping[str, Any]) -> Iterator[_Entry]:
    for raw in data.get("throughput") or []:
        route, kernel, label, n = str(raw.get("route")), str(raw.get("kernel")), str(raw.get("label")), raw.get("n")
        # n is what was measured; the label is prose that may be reworded between versions.
        size = f"n={n}" if n is not None else label
        notes = []
        if raw.get("unstable"):
            notes.append("unstable")
        if raw.get("closed_form"):
            notes.append("closed form: not loop speed")
        yield _Entry(
            key=(route, kernel, size),
            what=f"{route} {kernel} ({label})",
            status=str(raw.get("status", "ok")),
            samples=_finite_floats(raw.get("samples_s")),
            median_s=_median_of(raw, "median_s"),
            notes=tuple(notes),
        )


def _build_entries(data: Mapping[str, Any]) -> Iterator[_Entry]:
    for raw in data.get("build") or []:
        route = str(raw.get("route"))
        samples = _finite_floats(raw.get("import_samples_s"))
        yield _Entry(
            key=(route,),
            what=f"{route} import",
            status=str(raw.get("status", "ok")),
            samples=samples,
            median_s=_median_of(raw, "import_s"),
            notes=(),
        )


_SECTIONS = (("overhead", _overhead_entries), ("throughput", _throughput_entries), ("build", _build_entries))


def _not_ok_reason(entry: _Entry) -> str | None:
    """Return why an entry cannot be compared (its status, or missing samples), or None if it can."""
    if entry.status != "ok":
        return entry.status
    if not entry.samples:
        return "no samples"
    return None


def _status_note(entry: _Entry) -> str:
    """The status of a row present in one file only, where it is worth showing (not plain ok)."""
    return "" if entry.status == "ok" else entry.status


def _compare_section(section: str, entries_a: list[_Entry], entries_b: list[_Entry]) -> list[Row]:
    by_key_b = {e.key: e for e in entries_b}
    keys_a = {e.key for e in entries_a}
    rows = []
    for ea in entries_a:
        eb = by_key_b.get(ea.key)
        if eb is None:
            rows.append(Row(section, ea.key, f"{section} {ea.what}", "removed", median_a_s=ea.median_s, detail=_status_note(ea)))
            continue
        what = f"{section} {eb.what}"
        why_a, why_b = _not_ok_reason(ea), _not_ok_reason(eb)
        if why_a is not None or why_b is not None:
            detail = f"A: {why_a or 'ok'}; B: {why_b or 'ok'}"
            rows.append(Row(section, ea.key, what, "not ok", ea.median_s, eb.median_s, detail=detail))
            continue
        notes = [f"{note} in A" for note in ea.notes] + [f"{note} in B" for note in eb.notes]
        # The runs' own noise: within a run, how far the figure moved between its worker
        # processes (format 3 overhead rows); a change must exceed it, and the section's minimum.
        min_effect = max(MIN_EFFECT.get(section, 0.05), ea.process_spread, eb.process_spread)
        # Seconds, not the multiples of each run's abs: measured, abs itself moves by up to 4 %
        # between two runs of one build (its process's memory layout, like any row's), and
        # dividing by it moved every row of that run with it (6 of 34 rows called changed).
        comparison = compare_samples(ea.samples, eb.samples, min_effect=min_effect)
        rows.append(
            Row(section, ea.key, what, "compared", comparison.a.median, comparison.b.median, comparison, "; ".join(notes))
        )
    for eb in entries_b:
        if eb.key not in keys_a:
            rows.append(Row(section, eb.key, f"{section} {eb.what}", "added", median_b_s=eb.median_s, detail=_status_note(eb)))
    return rows


def _compare_data(data_a: Mapping[str, Any], data_b: Mapping[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for section, entries in _SECTIONS:
        rows += _compare_section(section, list(_unique(entries(data_a))), list(_unique(entries(data_b))))
    return rows


def compare_runs(path_a: str | Path, path_b: str | Path) -> list[Row]:
    """Match the measured rows of two results files and compare B against baseline A.

    Parameters
    ----------
    path_a, path_b : str or Path
        Results files of ``ffilab bench --json`` (format ``ffilab-bench/2``): A is the baseline.

    Returns
    -------
    list of Row
        Overhead rows, then throughput rows, then build (import time) rows; within a section in
        A's order, with the rows only B has (``"added"``) at the end of their section. Rows with
        the same key twice in one file are numbered (``#2``) rather than dropped.

    Raises
    ------
    ValueError
        If either file is not a results file of format ``ffilab-bench/2``.

    Notes
    -----
    Metadata differences are not checked here; see :func:`metadata_differences` (``main`` prints
    them as warnings).
    """
    return _compare_data(load_results(path_a), load_results(path_b))


def format_seconds(seconds: float | None) -> str:
    """Format a time with a unit suited to its size (``"39.0 ns"``, ``"1.25 ms"``), ``-`` for None."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(seconds) >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _format_p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def render(rows: Sequence[Row], console: Console, *, title: str = "ffilab compare: B against baseline A") -> Table:
    """Print the comparison as a table and return it.

    Parameters
    ----------
    rows : sequence of Row
        As returned by :func:`compare_runs` (possibly filtered).
    console : rich.console.Console
        Where to print.
    title : str, optional
        Title of the table.

    Returns
    -------
    rich.table.Table
        The printed table: columns what, A median, B median, change, p-value, verdict. ``change``
        is the relative change of the median (+23.0 % is 23 % more time per call in B).
    """
    table = Table(title=title, title_justify="left")
    table.add_column("what")
    table.add_column("A median", justify="right")
    table.add_column("B median", justify="right")
    table.add_column("change", justify="right")
    table.add_column("p-value", justify="right")
    table.add_column("verdict")
    for row in rows:
        detail = f" [dim]({escape(row.detail)})[/]" if row.detail else ""
        a, b = format_seconds(row.median_a_s), format_seconds(row.median_b_s)
        c = row.comparison
        if c is None:
            verdict = {"added": "[cyan]added[/]", "removed": "[cyan]removed[/]"}.get(row.state, "[yellow]not ok[/]")
            table.add_row(escape(row.what), a, b, "-", "-", verdict + detail)
            continue
        change = f"{c.change:+.1%}" if math.isfinite(c.change) else "-"
        colour = ("red" if c.ratio > 1 else "green") if c.significant else "dim"
        table.add_row(escape(row.what), a, b, change, _format_p(c.p_value), f"[{colour}]{escape(c.verdict)}[/]" + detail)
    console.print(table)
    return table


def _summary_line(rows: Sequence[Row]) -> str:
    compared = [r for r in rows if r.comparison is not None]
    slower = sum(r.significant and r.comparison is not None and r.comparison.ratio > 1 for r in compared)
    faster = sum(r.significant for r in compared) - slower
    counts = {state: sum(r.state == state for r in rows) for state in ("added", "removed", "not ok")}
    return (
        f"{len(compared)} compared: {slower} slower, {faster} faster, {len(compared) - slower - faster} not significant; "
        f"{counts['added']} added, {counts['removed']} removed, {counts['not ok']} not ok"
    )


def main(path_a: str | Path, path_b: str | Path, *, only_significant: bool = False, console: Console | None = None) -> int:
    """Compare two results files and print the table (the ``ffilab compare A.json B.json`` command).

    Parameters
    ----------
    path_a, path_b : str or Path
        Baseline and new results files (format ``ffilab-bench/2``).
    only_significant : bool, default False
        Hide compared rows whose change is not significant; added, removed and not-ok rows are
        always shown (they are differences, not measurements within noise).
    console : rich.console.Console, optional
        Where to print (a new console on standard output by default).

    Returns
    -------
    int
        0 when the files were compared, whatever changed; 2 when a file cannot be read or is not
        of format ``ffilab-bench/2`` (the reason is printed).
    """
    console = console or Console()
    try:
        data_a, data_b = load_results(path_a), load_results(path_b)
    except (OSError, ValueError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        return 2
    for warning in metadata_differences(data_a.get("metadata") or {}, data_b.get("metadata") or {}):
        console.print(f"[yellow]warning:[/] {escape(warning)} — the comparison may measure the machine, not the code")
    rows = _compare_data(data_a, data_b)
    shown = [r for r in rows if r.state != "compared" or r.significant] if only_significant else rows
    render(shown, console, title=escape(f"ffilab compare: {path_b} against baseline {path_a}"))
    console.print(_summary_line(rows))
    console.print(
        "[dim]change: relative change of the median time per call; significant = Mann-Whitney p < 0.05 and a "
        "change larger than half the larger relative IQR, than the row's spread between the runs' worker processes "
        "and than the section's minimum (overhead and throughput 7 %, import 10 %).[/]"
    )
    return 0
