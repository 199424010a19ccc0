"""The report's figures, drawn with matplotlib's Agg canvas (no pyplot, no GUI, no global state).

Each function writes one PNG and returns its path, or returns None when the results hold nothing
to draw.  Only rows with status ``ok`` are drawn; closed-form rows are hatched and labelled, and
unstable rows carry a dagger, so that no bar can be read as plain loop speed by mistake.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ffilab.report.results import CALL_KINDS, FLOOR, Results, is_ok, variant
from ffilab.report.style import route_style
from ffilab.report.units import fmt_bytes, fmt_n, fmt_speedup, fmt_time, number

__all__ = [
    "CLOSED_FORM_MARK",
    "UNSTABLE_MARK",
    "plot_build",
    "plot_overhead",
    "plot_scaling",
    "plot_speedup",
    "throughput_groups",
]

#: Marks used in plots and tables alike.
CLOSED_FORM_MARK = "‡"
UNSTABLE_MARK = "†"

_HATCH = "///"
_DPI = 100
# Crossover markers by the route they are measured against.
_CROSSOVER_MARKERS = {"python": "*", "numpy": "D"}


def _colour(route: str) -> str:
    # One colour per route across every figure (ffilab.report.style).
    return route_style(route).colour


def _label(row: dict[str, Any]) -> str:
    name = str(row.get("route", "?"))
    if variant(row):
        name += f" ({variant(row)})"
    if row.get("closed_form"):
        name += f" {CLOSED_FORM_MARK} closed form"
    if row.get("unstable"):
        name += f" {UNSTABLE_MARK}"
    return name


def _grid(count: int, bars: int) -> tuple[Figure, list[Axes]]:
    # Height grows with the number of bars per panel so that labels never overlap.
    cols = 1 if count == 1 else 2
    rows = math.ceil(count / cols)
    fig = Figure(figsize=(7.0 * cols, rows * (1.2 + 0.38 * max(bars, 2))), layout="constrained")
    FigureCanvasAgg(fig)  # the Agg backend, set explicitly for this figure only
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(count)]
    return fig, axes


def _save(fig: Figure, path: Path) -> Path:
    # No "Software" stamp: the bytes then depend only on the data and the fonts.
    fig.savefig(path, format="png", dpi=_DPI, metadata={"Software": None})
    return path


def _footnote(fig: Figure, rows: list[dict[str, Any]]) -> None:
    notes = []
    if any(r.get("closed_form") for r in rows):
        notes.append(f"{CLOSED_FORM_MARK} hatched: loop replaced by a closed form — not loop speed")
    if any(r.get("unstable") for r in rows):
        notes.append(f"{UNSTABLE_MARK} unstable: IQR at least 10 % of the median")
    if notes:
        fig.supxlabel("    ".join(notes), fontsize=9)


def _hbars(ax: Axes, rows: list[dict[str, Any]], values: list[float], text: list[str], log: bool = True) -> None:
    # Horizontal bars, first row on top; the value is printed at the end of each bar.
    y = list(range(len(rows)))[::-1]
    bars = ax.barh(y, values, color=[_colour(str(r.get("route"))) for r in rows], log=log)
    for bar, row in zip(bars, rows):
        if row.get("closed_form"):
            bar.set_hatch(_HATCH)
            bar.set_edgecolor("black")
    ax.set_yticks(y, [_label(r) for r in rows], fontsize=9)
    high = max(values)
    for yy, value, label in zip(y, values, text):
        ax.text(value * 1.08 if log else value + high * 0.01, yy, label, va="center", fontsize=8)
    if log:
        ax.set_xlim(min(values) / 3, high * 12)
    else:
        ax.set_xlim(0, high * 1.3)


def plot_overhead(results: Results, path: Path) -> Path | None:
    """Per-call overhead in ns, one panel per call kind, floor rows as dashed reference lines.

    Returns None when no overhead row was measured.
    """
    # A log axis cannot show a zero (a timer too coarse for the call): such a row stays in the tables.
    drawable = [r for r in results.overhead if is_ok(r) and (number(r["median_s"]) or 0) > 0]
    ok = [r for r in drawable if r.get("route") != FLOOR]
    floors = [r for r in drawable if r.get("route") == FLOOR]
    found = {str(r.get("call")) for r in ok}
    calls = [c for c in CALL_KINDS if c in found] + sorted(found - set(CALL_KINDS))
    if not calls:
        return None
    order = results.route_order()
    panels = {c: sorted((r for r in ok if r.get("call") == c), key=lambda r: order.index(r["route"])) for c in calls}
    fig, axes = _grid(len(calls), max(len(p) for p in panels.values()))
    for ax, call in zip(axes, calls):
        rows = panels[call]
        values = [number(r["median_s"]) * 1e9 for r in rows]  # type: ignore[operator]  # is_ok: a median
        _hbars(ax, rows, values, [fmt_time(r["median_s"]) for r in rows])
        for i, floor in enumerate(floors):
            # Floors are what any Python-level call costs at least: reference lines, not routes.
            ax.axvline(number(floor["median_s"]) * 1e9, color="dimgrey",  # type: ignore[operator]
                       linestyle=("--", ":", "-.")[i % 3], linewidth=1.2,
                       label=f"floor: {floor.get('call')} ({fmt_time(floor['median_s'])})")
        left, right = ax.get_xlim()
        floor_ns = [number(f["median_s"]) * 1e9 for f in floors]  # type: ignore[operator]
        ax.set_xlim(min([left, *(f / 2 for f in floor_ns)]), max([right, *(f * 2 for f in floor_ns)]))
        if floors:
            ax.legend(fontsize=7, loc="lower right")
        kernel = rows[0].get("kernel", "")
        args = rows[0].get("args", "")
        ax.set_title(f"{call}: {kernel}({args})", fontsize=10)
        ax.set_xlabel("median time per call (ns, log scale)")
    _footnote(fig, [r for p in panels.values() for r in p])
    return _save(fig, path)


def throughput_groups(results: Results) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Group the throughput rows by (kernel, label), in order of first appearance."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in results.throughput:
        label = str(row.get("label") or (f"n={fmt_n(row.get('n'))}" if row.get("n") is not None else ""))
        groups[(str(row.get("kernel", "?")), label)].append(row)
    return dict(groups)


def plot_speedup(results: Results, path: Path) -> Path | None:
    """Speedup vs python, one panel per throughput kernel and size, fastest on top.

    Returns None when no row has a speedup (python was not measured, or no throughput section).
    """
    panels = {}
    for key, rows in throughput_groups(results).items():
        usable = [r for r in rows if is_ok(r) and (number(r.get("speedup_vs_python")) or 0) > 0]
        if usable:
            panels[key] = sorted(usable, key=lambda r: number(r["median_s"]) or 0.0)
    if not panels:
        return None
    fig, axes = _grid(len(panels), max(len(p) for p in panels.values()))
    for ax, ((kernel, label), rows) in zip(axes, panels.items()):
        values = [number(r["speedup_vs_python"]) or 0.0 for r in rows]
        _hbars(ax, rows, values, [fmt_speedup(v) for v in values])
        ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.set_title(f"{kernel}, {label}", fontsize=10)
        ax.set_xlabel("speedup vs python (log scale; dashed: 1x)")
    _footnote(fig, [r for p in panels.values() for r in p])
    return _save(fig, path)


def plot_scaling(results: Results, path: Path) -> Path | None:
    """Time per element vs n, log-log, one panel per kernel, one line per route; crossovers marked.

    Returns None when the results have no usable scaling rows.
    """
    curves: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for row in results.scaling:
        if row.get("status", "ok") != "ok":
            continue
        n, median = number(row.get("n")), number(row.get("median_s"))
        per = number(row.get("per_element_s"))
        if per is None and n and median is not None:
            per = median / n
        if n and n > 0 and per and per > 0:  # a log axis cannot show zeros
            curves[str(row.get("kernel"))][str(row.get("route"))].append((n, per))
    if not curves:
        return None
    order = results.route_order()
    fig, axes = _grid(len(curves), 8)
    for ax, (kernel, lines) in zip(axes, curves.items()):
        for route in sorted(lines, key=lambda r: order.index(r) if r in order else len(order)):
            points = sorted(lines[route])
            ax.plot([p[0] for p in points], [p[1] for p in points], marker=route_style(route).marker, markersize=4,
                    color=_colour(route), label=route)
        handles, labels = ax.get_legend_handles_labels()
        seen_versus = set()
        smallest = min(p[0] for points in lines.values() for p in points)
        for cross in results.crossovers:
            route, n = str(cross.get("route")), number(cross.get("n"))
            # A route faster from the smallest swept n on never crosses: nothing to mark.
            if cross.get("kernel") != kernel or n is None or n <= smallest or route not in lines:
                continue
            per = dict(lines[route]).get(n)
            if per is None:
                continue
            versus = str(cross.get("versus"))
            marker = _CROSSOVER_MARKERS.get(versus, "X")
            ax.plot([n], [per], marker=marker, markersize=11, color=_colour(route), markeredgecolor="black",
                    linestyle="none")
            seen_versus.add(versus)
        for versus in sorted(seen_versus):
            handles.append(Line2D([], [], marker=_CROSSOVER_MARKERS.get(versus, "X"), color="white",
                                  markerfacecolor="lightgrey", markeredgecolor="black", markersize=9))
            labels.append(f"faster than {versus} from here")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(kernel, fontsize=10)
        ax.set_xlabel("n (log scale)")
        ax.set_ylabel("median time per element (s)")
        ax.grid(True, which="major", alpha=0.3)
        if handles:
            ax.legend(handles, labels, fontsize=7, loc="best")
    return _save(fig, path)


_BUILD_PANELS = (
    ("build_s", "build time", fmt_time),
    ("size_bytes", "binary size", fmt_bytes),
    ("import_s", "import time", fmt_time),
)


def plot_build(results: Results, path: Path) -> Path | None:
    """Build time, binary size and import time per route; a panel with no data is left out.

    Returns None when no route has any of the three.
    """
    order = results.route_order()
    rows = sorted(results.build, key=lambda r: order.index(r["route"]) if r.get("route") in order else len(order))
    panels = []
    for key, title, fmt in _BUILD_PANELS:
        have = [r for r in rows if (number(r.get(key)) or 0) > 0]
        if have:
            panels.append((key, title, fmt, have))
    if not panels:
        return None
    fig, axes = _grid(len(panels), max(len(p[3]) for p in panels))
    for ax, (key, title, fmt, have) in zip(axes, panels):
        values = [number(r[key]) or 0.0 for r in have]
        # Linear axes: these differ by small factors, and a linear bar shows the factor honestly.
        _hbars(ax, have, values, [fmt(v) for v in values], log=False)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("seconds" if key != "size_bytes" else "bytes")
    return _save(fig, path)
