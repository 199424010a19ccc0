"""CLI glue of ``ffilab advise`` and ``ffilab try``: parse the words, show progress, render the report, map errors to one line."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ffilab.advise.compile import TRIED_ROUTES
from ffilab.advise.estimate import KERNEL_GROUPS as ESTIMATE_KERNELS
from ffilab.advise.profiling import ProgramError
from ffilab.advise.session import AdviseOptions, TryOptions, advise, try_function
from ffilab.advise.target import TargetError

__all__ = ["run_advise", "run_try"]

_err = Console(stderr=True, highlight=False)


def _progress(message: str) -> None:
    _err.print(f"[dim]ffilab: {message}...[/]")


def _routes(names: list[str] | None) -> tuple[str, ...]:
    if not names:
        return TRIED_ROUTES
    bad = [n for n in names if n not in TRIED_ROUTES]
    if bad:
        raise typer.BadParameter(f"--route must be one of {', '.join(TRIED_ROUTES)}, got {', '.join(bad)}")
    return tuple(dict.fromkeys(names))


def _is_profile_arg(items: list[str]) -> bool:
    if len(items) != 1:
        return False
    word = items[0]
    return not word.endswith(".py") and not os.path.basename(word).startswith("python") and shutil.which(word) is None


def _fail(exc: Exception) -> typer.Exit:
    _err.print(f"[red]error:[/] {escape(str(exc))}")
    status = exc.status if isinstance(exc, ProgramError) else 2
    return typer.Exit(status if status else 2)


def run_advise(items: list[str], *, routes: list[str] | None, top: int, results: Path | None, confirm: bool,
               confirm_runs: int, no_try: bool, as_json: bool, console: Console) -> None:
    """``ffilab advise``: profile a program (or read a profile), try and estimate routes, recommend one."""
    if not items:
        raise typer.BadParameter("give a program (`ffilab advise -- python script.py ARGS`) or a profile file (`ffilab advise profile.pstats`)")
    if top < 1:
        raise typer.BadParameter("--top must be at least 1")
    if confirm_runs < 1:
        raise typer.BadParameter("--confirm-runs must be at least 1")
    opts = AdviseOptions(routes=_routes(routes), top=top, results=results, confirm=confirm, confirm_runs=confirm_runs,
                         try_routes=not no_try, stdout_to_stderr=as_json)
    if _is_profile_arg(items):
        opts.pstats = Path(items[0])
    else:
        opts.command = list(items)
    try:
        report = advise(opts, _progress)
    except (ProgramError, TargetError) as exc:
        raise _fail(exc) from None
    if as_json:
        print(json.dumps(report, indent=1, default=str))
        return
    render_advise(report, console)


def run_try(function: str, *, args: list[str] | None, record: list[str], routes: list[str] | None, confirm: bool,
            confirm_runs: int, as_json: bool, console: Console) -> None:
    """``ffilab try MODULE:FUNCTION``: compile, verify and time one function with the tried routes."""
    opts = TryOptions(function=function, args=list(args or []), record=list(record), routes=_routes(routes), confirm=confirm,
                      confirm_runs=confirm_runs, stdout_to_stderr=as_json)
    try:
        report = try_function(opts, _progress)
    except (ProgramError, TargetError) as exc:
        raise _fail(exc) from None
    if as_json:
        print(json.dumps(report, indent=1, default=str))
        return
    render_try(report, console)


# --- rendering -------------------------------------------------------------------------------------

def _t(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(seconds) >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}x"


def _status(row: dict[str, Any]) -> str:
    return {"ok": "[green]ok[/]", "disagrees": "[red]disagrees[/]", "failed": "[red]failed[/]",
            "unavailable": "[yellow]unavailable[/]"}.get(row["status"], row["status"])


def _overall(row: dict[str, Any]) -> str:
    if row["overall"] is None:
        return "-"
    if row["how"] == "estimate" and row["low"] is not None:
        return f"{row['overall']:.3g}x ({row['low']:.3g}-{row['high']:.3g})"
    return _x(row["overall"])


def render_advise(report: dict[str, Any], console: Console) -> None:
    """Print an advise report as tables and a recommendation."""
    prog = report["program"]
    clock = prog["clock"]
    what = " ".join(prog["command"]) if "command" in prog else f"profile {prog['profile']}"
    console.print(f"[bold]ffilab advise[/] {what}")
    if prog.get("cpu_s") is not None:
        console.print(f"run without the profiler: {_t(prog['cpu_s'])} CPU, {_t(prog['wall_s'])} wall "
                      f"(under cProfile: {_t(prog['profiled_s'])}); predictions use {clock} time")
    else:
        console.print(f"profiled time {_t(prog['profiled_s'])} (cProfile's own per-call cost inflates functions of many tiny calls)")
    waits = f" ({', '.join(prog['waiting_in'])})" if prog["waiting_in"] and prog["waiting_share"] >= 0.01 else ""
    console.print(f"waiting (sleep, I/O, locks): {prog['waiting_share']:.0%}{waits}; inside NumPy: {prog['numpy_share']:.0%}")
    table = Table(title="Hot functions", title_justify="left")
    for col, just in (("function", "left"), ("p profile", "right"), ("p measured", "right"), ("calls", "right"),
                      ("per call", "right"), ("kind", "left")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    per = report.get("per_function", {})
    for f in report["functions"]:
        entry = per.get(f["label"], {})
        p_timed = entry.get("p_timed")
        per_call = entry.get("original_per_call_s", f["per_call_s"])
        table.add_row(f["label"], f"{f['p']:.1%}", "-" if p_timed is None else f"{p_timed:.1%}", f"{f['calls']:,}",
                      _t(per_call), f["kind"])
    console.print(table)
    for label, entry in per.items():
        for prob in entry.get("recording_problems", []):
            console.print(f"[yellow]! {escape(label)}: {escape(prob)}[/]")
        if entry.get("skipped"):
            console.print(f"[dim]{escape(label)}: {escape(entry['skipped'])}[/]")
    rows = report.get("rows", [])
    if rows:
        confirmed = any(r["confirmed"] is not None for r in rows)
        table = Table(title="Routes, ranked by predicted overall speedup (Amdahl with the measured p)", title_justify="left")
        cols = ["function", "route", "how", "status", "speedup", "overall"] + (["measured"] if confirmed else []) + ["note"]
        for col in cols:
            table.add_column(col, justify="right" if col in ("speedup", "overall", "measured") else "left", overflow="fold")
        footnotes: list[str] = []
        for r in rows:
            note = r["note"]
            extra_notes = [n for n in r.get("extra", {}).get("notes", []) if n not in note]
            if r["how"] == "tried" and (len(note) > 60 or extra_notes):
                footnotes.append(f"{r['route']} on {r['function']}: " + "; ".join(x for x in [note, *extra_notes] if x))
                note = f"[{len(footnotes)}]"
            cells = [r["function"].split(" (")[0], r["route"], r["how"], _status(r), _x(r["function_speedup"]), _overall(r)]
            if confirmed:
                at = r.get("extra", {}).get("predicted_at_confirm")
                cells.append(_x(r["confirmed"]) + (f" ({_x(at)})" if at else ""))
            cells.append(escape(note))
            table.add_row(*cells)
        console.print(table)
        for i, text in enumerate(footnotes, 1):
            console.print(f"[{i}] {text}", highlight=False, markup=False)
        kernels = ", ".join(sorted({k for ks in ESTIMATE_KERNELS.values() for k in ks}))
        console.print(f"[dim]estimates (hand-written routes, not tried): scalar-call overhead + the work at the speedups of the "
                      f"lesson's kernels ({kernels}), {report['route_costs']['source']}; not counted: converting Python lists "
                      f"or objects into C data[/]")
    conf = report.get("confirm")
    if conf:
        base = conf["seconds"].get("original", [])
        console.print(f"--confirm: the program run {len(base)} times as it is ({', '.join(_t(s) for s in base)}, {conf['clock']} time) "
                      "and as often with each variant swapped in; measured = median as it is / median swapped "
                      "(in brackets: the prediction at the median time of these runs)")
    rec = report["recommendation"]
    console.print(f"[bold]recommendation:[/] {rec['route']} — {escape(rec['reason'])}")


def render_try(report: dict[str, Any], console: Console) -> None:
    """Print a try report."""
    console.print(f"[bold]ffilab try[/] {report['function']} on {report['recorded_calls']} "
                  f"{'recorded ' if report.get('calls_in_run') is not None else ''}call(s): original "
                  f"{_t(report['original_per_call_s'])} per call (spread {report['original_spread']:.0%})")
    for prob in report.get("recording_problems", []):
        console.print(f"[yellow]! {escape(prob)}[/]")
    table = Table(title_justify="left")
    confirmed = any(r["confirmed"] is not None for r in report["rows"])
    cols = ["route", "status", "per call", "speedup", "compile"] + (["overall predicted", "measured"] if confirmed else []) + ["note"]
    for col in cols:
        table.add_column(col, justify="left" if col in ("route", "status", "note") else "right", overflow="fold")
    for r in report["rows"]:
        extra = r.get("extra", {})
        cells = [r["route"], _status(r), _t(extra.get("per_call_s")), _x(r["function_speedup"]),
                 _t(extra.get("compile_s")) if r["status"] != "unavailable" else "-"]
        if confirmed:
            cells += [_x(r["overall"]), _x(r["confirmed"])]
        cells.append(escape(r["note"]))
        table.add_row(*cells)
    console.print(table)
    if report.get("p_profile") is not None:
        console.print(f"the function's share of the recorded run (cProfile): {report['p_profile']:.1%} over {report['calls_in_run']:,} calls")

