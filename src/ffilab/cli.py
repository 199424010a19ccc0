"""The ``ffilab`` command line: ``routes``, ``verify`` and ``bench``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import defaultdict
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from ffilab import _registry

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()


@app.command("routes")
def routes_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List every route: kind, what it is built from, and whether it is available here."""
    infos = _registry.routes()
    if as_json:
        print(json.dumps({"routes": [i.__dict__ for i in infos], "build": _registry.build_info()}, indent=2))
        return
    table = Table(title="ffilab routes")
    for col in ("route", "kind", "built from", "status"):
        table.add_column(col)
    for info in infos:
        status = "[green]available[/]" if info.available else f"[red]unavailable[/]: {info.reason}"
        table.add_row(info.name, info.kind, info.built_from, status)
    console.print(table)
    build = _registry.build_info()
    if "compile_options" in build:
        console.print(f"built with {build['c_compiler']} / {build['cxx_compiler']}: {build['compile_options']}")
    available = sum(i.available for i in infos)
    console.print(f"{available} of {len(infos)} routes available")


def run_isolated(route: str, kernels: list[str], timeout: float) -> tuple[list[dict[str, object]], str]:
    """Verify ``route`` in a child process, so a crash is reported instead of ending the run.

    Returns
    -------
    outcomes : list of dict
        One record per case (``case``, ``ok``, ``detail``); empty if the child died.
    failure : str
        Why the child produced no result ("" when it did), see :func:`run_child`.
    """
    stdout, failure = run_child([sys.executable, "-m", "ffilab.verify", route, *kernels], timeout)
    return ([] if failure else json.loads(stdout)), failure


def run_child(cmd: list[str], timeout: float) -> tuple[str, str]:
    """Run ``cmd``; return its stdout and "" or, if it failed, "" and why.

    A child killed by a signal (a segfault in native code) is reported with the signal's name.
    """
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "", f"timed out after {timeout:.0f} s"
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        return "", f"crashed with {name}: {proc.stderr.strip()[-500:]}"
    if proc.returncode != 0:
        return "", f"exited with status {proc.returncode}: {proc.stderr.strip()[-500:]}"
    return proc.stdout, ""


@app.command("verify")
def verify_command(
    route: Annotated[Optional[list[str]], typer.Option("--route", "-r", help="Route(s) to verify (default: all).")] = None,
    kernel: Annotated[Optional[list[str]], typer.Option("--kernel", "-k", help="Kernel(s) to verify (default: all).")] = None,
    require_all: Annotated[bool, typer.Option(help="Fail if any selected route is unavailable.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds allowed per route.")] = 600.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Run every kernel x route against the reference, incl. bad inputs; exit 1 on any disagreement."""
    from ffilab.verify import CASES

    names = route or [spec.name for spec in _registry.ROUTES]
    kernels = kernel or list(_registry.KERNELS)
    unknown = [k for k in kernels if k not in _registry.KERNELS] + [r for r in names if r not in {s.name for s in _registry.ROUTES}]
    if unknown:
        raise typer.BadParameter(f"unknown route or kernel: {', '.join(unknown)}")
    infos = {i.name: i for i in _registry.routes()}
    results: dict[str, dict[str, list[dict[str, object]]]] = {}
    failures: dict[str, str] = {}
    with console.status("verifying...") as status:
        for name in names:
            if not infos[name].available:
                failures[name] = f"unavailable: {infos[name].reason}"
                continue
            status.update(f"verifying {name}...")
            outcomes, failure = run_isolated(name, kernels, timeout)
            if failure:
                failures[name] = failure
            by_kernel: dict[str, list[dict[str, object]]] = defaultdict(list)
            for o in outcomes:
                by_kernel[str(o["case"]).split("[", 1)[0]].append(o)
            results[name] = by_kernel

    disagreements = [
        (name, o) for name, bk in results.items() for outs in bk.values() for o in outs if not o["ok"]
    ]
    crashed = [n for n, f in failures.items() if not f.startswith("unavailable")]
    unavailable = [n for n, f in failures.items() if f.startswith("unavailable")]
    if as_json:
        print(json.dumps({"results": results, "failures": failures, "cases": len(CASES)}, indent=2))
    else:
        _print_matrix(names, kernels, results, failures)
        for name, o in disagreements:
            console.print(f"[red]✗ {name}[/] {o['case']}: {o['detail']}")
        for name, why in failures.items():
            console.print(f"[yellow]! {name}[/] {why}")
        total = sum(len(outs) for bk in results.values() for outs in bk.values())
        console.print(f"{total - len(disagreements)} of {total} checks agree with the reference")
    if disagreements or crashed or (require_all and unavailable):
        raise typer.Exit(1)


def _print_matrix(
    names: list[str], kernels: list[str], results: dict[str, dict[str, list[dict[str, object]]]], failures: dict[str, str]
) -> None:
    table = Table(title="ffilab verify: kernel x route against the reference", padding=(0, 0))
    table.add_column("kernel", no_wrap=True)
    for name in names:
        table.add_column(name, justify="center", no_wrap=True)
    for kern in kernels:
        row = [kern]
        for name in names:
            if name in failures and not results.get(name):
                row.append("[yellow]n/a[/]" if failures[name].startswith("unavailable") else "[red]crash[/]")
                continue
            outs = results.get(name, {}).get(kern, [])
            bad = sum(not o["ok"] for o in outs)
            row.append(f"[green]✓ {len(outs)}[/]" if not bad else f"[red]✗ {bad}/{len(outs)}[/]")
        table.add_row(*row)
    console.print(table)


def _fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


@app.command("bench")
def bench_command(
    route: Annotated[Optional[list[str]], typer.Option("--route", "-r", help="Route(s) to time (default: all).")] = None,
    kernel: Annotated[Optional[list[str]], typer.Option("--kernel", "-k", help="Kernel(s) to time (default: all).")] = None,
    full: Annotated[bool, typer.Option("--full", help="The lesson's sizes (n = 1e8 ...): takes longer.")] = False,
    repeats: Annotated[int, typer.Option(help="Timed repeats per measurement.")] = 7,
    min_time: Annotated[float, typer.Option(help="Minimum CPU seconds per repeat (loop calibration).")] = 0.05,
    json_out: Annotated[Optional[str], typer.Option("--json", help="Also write the results as JSON to this file.")] = None,
) -> None:
    """Time every available route on the lesson's kernels (verified first), with speedups vs Python."""
    from rich.progress import Progress

    from ffilab import bench

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("benchmarking", total=None)
        results = bench.run(
            route, kernel, full=full, repeats=repeats, min_time=min_time,
            progress=lambda what: progress.update(task, description=f"timing {what}"),
        )
    by_kernel: dict[tuple[str, str], list[bench.Measurement]] = defaultdict(list)
    for m in results:
        by_kernel[(m.kernel, m.label)].append(m)
    for (kern, label), rows in by_kernel.items():
        base = next((m.median_s for m in rows if m.route == "python" and m.status == "ok"), float("nan"))
        table = Table(title=f"{kern} ({label})", title_justify="left")
        for col, justify in (("route", "left"), ("time per call", "right"), ("speedup vs python", "right"), ("IQR", "right"), ("notes", "left")):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for m in sorted(rows, key=lambda m: (m.status != "ok", m.median_s)):
            if m.status != "ok":
                table.add_row(m.route, "-", "-", "-", m.status)
                continue
            speedup = f"{base / m.median_s:.1f}x" if base == base else "-"
            table.add_row(m.route, _fmt_time(m.median_s), speedup, f"{m.spread:.0%}", "; ".join(m.notes))
        console.print(table)
    console.print("CPU time per call, median of repeats after calibration and warm-up; every route verified first.")
    if json_out:
        with open(json_out, "w", encoding="utf-8") as f:
            f.write(bench.to_json(results))
        console.print(f"results written to {json_out}")
    if any(m.status.startswith("FAILS") for m in results):
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
