"""The ``ffilab`` command line: ``routes``, ``verify``, ``bench``, ``report``, ``compare``, ``nearest``, ``corpus``, ``tokenize``, ``advise`` and ``try``."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ffilab import _registry


def _plain_help(text: str | None) -> str | None:
    """Return a docstring as plain terminal text: ``x`` and :role:`x` become x.

    Typer prints docstrings verbatim, so the reStructuredText that Sphinx wants would reach the
    terminal as raw markup.

    Parameters
    ----------
    text : str or None
        A docstring (None: no help).

    Returns
    -------
    str or None
        The text without double backticks and roles.
    """
    if text is None:
        return None
    text = re.sub(r":[a-z]+(?::[a-z]+)?:`~?([^`]+)`", r"\1", text)
    return re.sub(r"``([^`]+)``", r"\1", text)


app = typer.Typer(add_completion=False, no_args_is_help=True, help=_plain_help(__doc__))
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
        for info in infos:
            own = _registry.route_flags(info.name)
            if own:
                console.print(f"  {info.name} adds: {escape(own)}")
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


def _run_feature(run: Callable[[], object], usage_error: type[Exception]) -> None:
    """Run a feature command (nearest, tokenize): a wrong combination of options becomes typer's
    usage error; bad data and I/O errors a red line and exit status 2, without a traceback."""
    try:
        run()
    except usage_error as exc:
        raise typer.BadParameter(str(exc)) from None
    except (ValueError, TypeError, OSError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None


def _stacked(name: str, width: int = 4) -> str:
    """Split a route name into lines of ``width`` characters: a narrow column header that still reads in full."""
    return "\n".join(name[i:i + width] for i in range(0, len(name), width))


def _print_matrix(
    names: list[str], kernels: list[str], results: dict[str, dict[str, list[dict[str, object]]]], failures: dict[str, str]
) -> None:
    # Twelve routes must fit 80 columns: 4-character cells, each route name stacked over two header
    # lines, and what the symbols mean under the table (the details follow it line by line).
    console.print("[italic]ffilab verify: kernel x route against the reference[/]")  # a title above, not wrapped to a narrow table
    table = Table(padding=(0, 0))
    table.add_column("kernel", no_wrap=True)
    for name in names:
        table.add_column(_stacked(name), justify="center", no_wrap=True, min_width=4)
    for kern in kernels:
        row = [kern]
        for name in names:
            if name in failures and not results.get(name):
                row.append("[yellow]n/a[/]" if failures[name].startswith("unavailable") else "[red]died[/]")
                continue
            outs = results.get(name, {}).get(kern, [])
            bad = sum(not o["ok"] for o in outs)
            row.append(f"[green]✓{len(outs)}[/]" if not bad else f"[red]✗{bad}[/]")
        table.add_row(*row)
    console.print(table)
    console.print("✓N: all N checks agree · ✗N: N checks disagree · n/a: unavailable · died: the route's "
                  "process crashed (each listed below)", markup=False)


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    # Compare the rounded value, so that 999.6 ns prints as "1 us", not "1e+03 ns".
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if float(f"{seconds / scale:.3g}") >= 1.0:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


@app.command("bench")
def bench_command(
    route: Annotated[Optional[list[str]], typer.Option("--route", "-r", help="Route(s) to time (default: all; python is always timed as the baseline).")] = None,
    kernel: Annotated[Optional[list[str]], typer.Option("--kernel", "-k", help="Throughput kernel(s) to time (default: all).")] = None,
    full: Annotated[bool, typer.Option("--full", help="The lesson's sizes (n = 1e8 ...) and the full sweep to 1e8: takes much longer.")] = False,
    timer: Annotated[str, typer.Option(help="cpu (process CPU time, steadier on shared machines) or wall.")] = "cpu",
    processes: Annotated[Optional[int], typer.Option(help="Throughput worker processes per route, pooled (default: 1; 3 with --full).")] = None,
    values: Annotated[int, typer.Option(help="Timed values per worker process.")] = 3,
    min_time: Annotated[float, typer.Option(help="Minimum seconds per value (loop calibration).")] = 0.05,
    throughput: Annotated[bool, typer.Option(help="Time the throughput workloads.")] = True,
    sweep: Annotated[bool, typer.Option(help="Run the scaling sweep over n.")] = True,
    nearest: Annotated[bool, typer.Option(help="Benchmark ffilab.nearest against NumPy, scipy's cKDTree and scikit-learn's BallTree.")] = True,
    tokenize: Annotated[bool, typer.Option(help="Benchmark every route's tokenizer against PyICU, regex, HF tokenizers and blingfire on the corpus.")] = True,
    startup: Annotated[bool, typer.Option(help="Measure binary sizes, import times and JIT first-call costs.")] = True,
    out: Annotated[str, typer.Option("--out", "-o", help="Where to save the results (JSON; a .pyperf.json file is written beside it).")] = "ffilab-bench.json",
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON instead of tables.")] = False,
) -> None:
    """Measure every available route: per-call overhead, throughput, scaling, size and start-up."""
    from rich.progress import Progress

    from ffilab import bench

    if timer not in ("cpu", "wall"):
        raise typer.BadParameter("--timer must be cpu or wall")
    config = bench.Config(route, kernel, full=full, timer=timer, processes=processes, values=values,
                          min_time=min_time, throughput=throughput, sweep=sweep, startup=startup, nearest=nearest,
                          tokenize=tokenize)
    out_path = Path(out)
    pyperf_path = out_path.with_suffix(".pyperf.json")
    pyperf_path.unlink(missing_ok=True)  # a stale suite from an earlier run must not be taken for this one's
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("benchmarking", total=None)
        results = bench.run(config, progress=lambda what: progress.update(task, description=what), pyperf_out=pyperf_path)
    out_path.write_text(json.dumps(results, indent=1), encoding="utf-8")
    if as_json:
        print(json.dumps(results, indent=1))
        return
    _print_bench(results)
    pyperf_note = f" (throughput as a pyperf suite: {pyperf_path})" if pyperf_path.exists() else ""
    console.print(f"results: {out_path}{pyperf_note}; `ffilab report {out_path}` renders them")
    if any(str(r["status"]).startswith("fails") or "not really compiled" in str(r["status"])
           for r in results["throughput"] + results["overhead"]):
        raise typer.Exit(1)


def _first_call_cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "-"
    return _fmt_time(row["median_s"]) if row["status"] == "ok" else row["status"].split(":")[0]


def _print_bench(results: dict) -> None:  # type: ignore[type-arg]
    meta = results["metadata"]
    console.print(f"[bold]ffilab bench[/] {meta['mode']} · {meta['cpu']} · {meta['cpu_count']} cores · "
                  f"Python {meta['python']} · timer: {meta['timer']} time · throughput {meta['processes']}x{meta['values']} values")
    calls = list(dict.fromkeys(r["call"] for r in results["overhead"] if r["route"] != "(floor)"))
    # No vertical rules, one space between columns: six calls x 12 routes fit 80 columns whole.
    table = Table(title="Per-call overhead (median [IQR]; x the same run's abs floor)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0), leading=1)
    table.add_column("route")
    for call in calls:
        table.add_column(call, justify="right")
    rows: dict[str, dict[str, str]] = defaultdict(dict)
    for r in results["overhead"]:
        if r["route"] == "(floor)":
            continue
        # One figure per line (median, [IQR], multiple of abs): the same three lines in every cell,
        # so six call columns fit 80 columns instead of wrapping wherever a figure happens to be long.
        ratio = f"\nx{r['ratio_to_abs']:.2f}" if r.get("ratio_to_abs") is not None else ""
        rows[r["route"]][r["call"]] = (
            f"{_fmt_time(r['median_s'])}\n[{r['spread']:.0%}]{ratio}" if r["status"] == "ok" else r["status"].split(":")[0]
        )
    for name, cells in rows.items():
        table.add_row(name, *[cells.get(c, "-") for c in calls])
    console.print(table)
    floors = [f"{r['call']} {_fmt_time(r['median_s'])}" + (f" (x{r['ratio_to_abs']:.2f})" if r.get("ratio_to_abs") else "")
              for r in results["overhead"] if r["route"] == "(floor)" and r.get("median_s") is not None]
    console.print("floors in the same run: " + ", ".join(floors))
    method = results.get("overhead_method") or {}
    if method.get("harness_s"):
        console.print(f"interleaved in one process, {method['processes']} processes x {method['rounds']} rounds, "
                      f"{method['unroll']} calls per loop iteration; the loop's own cost, "
                      f"{_fmt_time(method['harness_s'])} per call, is subtracted from every figure")

    by_work: dict[tuple[str, str], list[dict]] = defaultdict(list)  # type: ignore[type-arg]
    for r in results["throughput"]:
        by_work[(r["kernel"], r["label"])].append(r)
    for (kern, label), rs in by_work.items():
        table = Table(title=f"{kern} ({label})", title_justify="left")
        for col, justify in (("Approach", "left"), ("Time", "right"), ("Speedup", "right"), ("IQR", "right"), ("notes", "left")):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for r in sorted(rs, key=lambda r: (r["status"] != "ok", r["median_s"] or 0.0)):
            if r["status"] != "ok":
                table.add_row(r["route"] + (f" ({r['variant']})" if r.get("variant") else ""), "-", "-", "-", r["status"])
                continue
            speed = f"{r['speedup_vs_python']:.1f}x" if r["speedup_vs_python"] else "-"
            name = r["route"] + (f" ({r['variant']})" if r.get("variant") else "") + (" [closed form]" if r["closed_form"] else "")
            table.add_row(name, _fmt_time(r["median_s"]), speed, f"{r['spread']:.0%}", "; ".join(r["notes"]))
        console.print(table)

    if results["crossovers"]:
        table = Table(title="Scaling: smallest n from which a route stays faster", title_justify="left")
        for col in ("kernel", "route", "vs python", "vs numpy"):
            table.add_column(col)
        cross: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
        for c in results["crossovers"]:
            cross[(c["kernel"], c["route"])][c["versus"]] = "never" if c["n"] is None else f"{c['n']:,}"
        for (kern, name), cells in sorted(cross.items()):
            table.add_row(kern, name, cells.get("python", "-"), cells.get("numpy", "-"))
        console.print(table)
    for p in results.get("scaling_problems") or []:
        where = f" at n={p['n']:,}" if p.get("n") else ""
        console.print(f"[yellow]sweep: {escape(str(p['route']))} {escape(str(p['kernel']))}{where}: {escape(str(p['status']))}[/]")
    for g in results.get("scaling_guard") or []:
        if g.get("closed_form"):
            console.print(f"[yellow]sweep: {escape(str(g['route']))} {g['kernel']} is a closed form (x{g['ratio']:.2f} for "
                          f"{g['factor']}n): its rows are not loop speed and make no crossover[/]")
    if results["build"]:
        table = Table(title="Size and start-up", title_justify="left")
        for col in ("route", "binary size", "import time", "build time"):
            table.add_column(col, justify="right" if col != "route" else "left")
        for b in results["build"]:
            size = f"{b['size_bytes'] / 1024:.0f} KiB" if b["size_bytes"] else "-"
            table.add_row(b["route"], size, _fmt_time(b["import_s"]), _fmt_time(b["build_s"]))
        console.print(table)
    if results.get("nearest"):
        from ffilab.bench import nearest as nearest_bench

        nearest_bench.print_rows(results["nearest"], console)
    if results.get("tokenize"):
        from ffilab.bench import tokenize as tokenize_bench

        tokenize_bench.print_rows(results["tokenize"], console)
    first = results.get("first_call") or []
    if first:
        # A JIT route compiles each kernel at its first call: shown apart, never inside a timing.
        table = Table(title="JIT first call (compile or cache load; not in any timing above)", title_justify="left")
        for col in ("route", "kernel", "cold cache", "warm cache", "next call", "runtime set-up"):
            table.add_column(col, justify="left" if col in ("route", "kernel") else "right")
        calls_by_cache: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
        for r in first:
            calls_by_cache[(r["route"], r["kernel"])][r["cache"]] = r
        for (name, kern), by_cache in calls_by_cache.items():
            cold, warm = by_cache.get("cold"), by_cache.get("warm")
            any_row = cold or warm or {}
            table.add_row(name, kern, _first_call_cell(cold), _first_call_cell(warm), _fmt_time(any_row.get("next_call_s")),
                          _fmt_time(any_row.get("runtime_init_s")))
        console.print(table)


@app.command("nearest", context_settings={"ignore_unknown_options": True})
def nearest_command(
    lat: Annotated[Optional[float], typer.Argument(help="Latitude of the query point, degrees (-90..90).", show_default=False)] = None,
    lon: Annotated[Optional[float], typer.Argument(help="Longitude, degrees (negative west, e.g. -74.0060).", show_default=False)] = None,
    k: Annotated[int, typer.Option("-k", "--k", help="How many places per query.")] = 5,
    strategy: Annotated[str, typer.Option("--strategy", help="python, numpy, cython, fused or tree (see ffilab.nearest).")] = "tree",
    threads: Annotated[Optional[int], typer.Option(help="Threads for fused/tree (default: all CPUs; with --engine dask, per Dask task, default 1).")] = None,
    points: Annotated[Optional[Path], typer.Option(help="Search your own points (.csv/.parquet with lat, lon[, name]; .npy; .npz) instead of the gazetteer.")] = None,
    queries: Annotated[Optional[Path], typer.Option(help="A batch of query points (.csv/.parquet/.npy/.npz).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Where the batch's answers go (.parquet or .csv), one row per query and rank.")] = None,
    engine: Annotated[str, typer.Option(help="local, or dask: partition the batch over a Dask cluster.")] = "local",
    scheduler: Annotated[Optional[str], typer.Option(help="Dask scheduler address of a running cluster (default: start a LocalCluster).")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Workers of the LocalCluster (--engine dask without --scheduler).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one query's answer as JSON.")] = False,
) -> None:
    """The nearest places to a point (or to every point of --queries) in the GeoNames gazetteer."""
    from ffilab.nearest import _cli

    opts = _cli.NearestOptions(lat, lon, k, strategy, threads, points, queries, out, engine, scheduler, workers, as_json)
    _run_feature(lambda: _cli.run(opts, console), _cli.UsageError)


@app.command("corpus")
def corpus_command(
    records: Annotated[int, typer.Option("--records", "-n", help="How many records (1M ... 100M: memory stays flat).")] = 1_000_000,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where the corpus goes: .parquet, .jsonl or .txt.")] = Path("corpus.parquet"),
    seed: Annotated[int, typer.Option(help="Seed: the same seed writes the same records.")] = 0,
    mix: Annotated[str, typer.Option(help="mixed, bible, multilingual, zipf, stress, or weights like bible=1,zipf=2.")] = "mixed",
    fmt: Annotated[Optional[str], typer.Option("--format", help="parquet, jsonl or txt (default: from the --out suffix).")] = None,
    batch_size: Annotated[int, typer.Option(help="Records per batch (a Parquet row group).")] = 65536,
) -> None:
    """Write a real multilingual text corpus of any size, seeded and streamed (input of `ffilab tokenize`)."""
    from ffilab.text import corpus

    try:
        corpus.run(records, out, seed, mix, fmt, batch_size, console)
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(str(exc)) from None
    except (ImportError, OSError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None


@app.command("report")
def report_command(
    results: Annotated[str, typer.Argument(help="A results file written by `ffilab bench`.")],
    out: Annotated[str, typer.Option("--out", "-o", help="Directory for report.md, report.html and the plots.")] = "ffilab-report",
) -> None:
    """Render a results file as Markdown and self-contained HTML, with plots and the decision table."""
    from ffilab.report import write_report

    paths = write_report(results, out)
    for kind, path in paths.items():
        console.print(f"{kind}: {path}")


@app.command("tokenize")
def tokenize_command(
    input: Annotated[Path, typer.Argument(help="Records to tokenize: .txt (one per line), .jsonl (field text, optional id) or .parquet (column text, optional id).", show_default=False)],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="The Parquet file to write: columns id (int64) and tokens (list<string>), in input order.")] = None,
    route: Annotated[Optional[str], typer.Option("--route", "-r", help="The route whose tokenize_batch runs (default: the fastest native one available; with --profile, 'all' profiles every route).")] = None,
    batch_size: Annotated[int, typer.Option(help="Records per call of the tokenizer (and per row group of the output).")] = 65_536,
    workers: Annotated[Optional[int], typer.Option(help="Workers (local: threads or processes, see --parallel; default 1: this process) or LocalCluster workers (dask); with --profile, the largest worker count measured (default: every CPU).")] = None,
    parallel: Annotated[str, typer.Option(help="How local --workers run: threads, processes, or auto (threads where the route has tokenize_arrow, else processes); --profile measures both unless one is given.")] = "auto",
    engine: Annotated[str, typer.Option(help="local, or dask: partitions read and tokenized by tasks on a Dask cluster.")] = "local",
    scheduler: Annotated[Optional[str], typer.Option(help="Dask scheduler address of a running cluster (default: start a LocalCluster).")] = None,
    profile: Annotated[bool, typer.Option("--profile", help="Time read / tokenize / write for the reference and the route; Amdahl's prediction vs the measured speedup; a 100M-record projection.")] = False,
    limit: Annotated[Optional[int], typer.Option(help="Only the first N records (e.g. to --profile a sample of a large corpus).")] = None,
) -> None:
    """Tokenize a corpus into Parquet, streaming, with worker processes or on Dask; --profile times it."""
    from ffilab.text import pipeline

    opts = pipeline.TokenizeOptions(input, out, route, batch_size, workers, engine, scheduler, profile, limit, parallel)
    _run_feature(lambda: pipeline.run_cli(opts, console), pipeline.UsageError)


@app.command("advise", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def advise_command(
    items: Annotated[Optional[list[str]], typer.Argument(help="The program after `--` (python script.py ARGS), or a cProfile file.", show_default=False)] = None,
    route: Annotated[Optional[list[str]], typer.Option("--route", "-r", help="Tried route(s): numba, cython, mypyc (default: all).")] = None,
    top: Annotated[int, typer.Option(help="How many hot functions to examine.")] = 3,
    results: Annotated[Optional[Path], typer.Option(help="An `ffilab bench` results file for the hand-written routes' overheads (default: a quick measurement now).")] = None,
    confirm: Annotated[bool, typer.Option("--confirm", help="Re-run the program with each verified compiled function swapped in; print the measured overall speedup.")] = False,
    confirm_runs: Annotated[int, typer.Option(help="Runs per variant for --confirm (median).")] = 3,
    no_try: Annotated[bool, typer.Option("--no-try", help="Profile, time and estimate only: compile nothing, record no arguments.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Profile your program and say which route would speed it up, by how much overall, and why."""
    from ffilab.advise import _cli

    _cli.run_advise(items or [], routes=route, top=top, results=results, confirm=confirm, confirm_runs=confirm_runs,
                    no_try=no_try, as_json=as_json, console=console)


@app.command("try", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def try_command(
    function: Annotated[str, typer.Argument(help="MODULE:FUNCTION (or path/to/file.py:FUNCTION).", show_default=False)],
    record: Annotated[Optional[list[str]], typer.Argument(help="With --record: the program after `--` whose calls to record.", show_default=False)] = None,
    args: Annotated[Optional[list[str]], typer.Option("--args", help="A Python expression for one call's arguments (a tuple for several); repeatable.")] = None,
    do_record: Annotated[bool, typer.Option("--record", help="Record the arguments from a run of the program given after `--`.")] = False,
    route: Annotated[Optional[list[str]], typer.Option("--route", "-r", help="Tried route(s): numba, cython, mypyc (default: all).")] = None,
    confirm: Annotated[bool, typer.Option("--confirm", help="With --record: re-run the program with each verified variant swapped in.")] = False,
    confirm_runs: Annotated[int, typer.Option(help="Runs per variant for --confirm (median).")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Compile one function with Numba, Cython and mypyc; check it on real arguments; time it against the original."""
    from ffilab.advise import _cli

    if bool(record) != do_record:
        raise typer.BadParameter("--record needs the program after `--` (ffilab try MOD:FUNC --record -- python script.py), and a program needs --record")
    _cli.run_try(function, args=args, record=record or [], routes=route, confirm=confirm, confirm_runs=confirm_runs,
                 as_json=as_json, console=console)


@app.command("compare")
def compare_command(
    a: Annotated[str, typer.Argument(help="The earlier results file.")],
    b: Annotated[str, typer.Argument(help="The later results file.")],
    only_significant: Annotated[bool, typer.Option(help="Show only significant changes.")] = False,
) -> None:
    """Show what changed between two `ffilab bench` runs, with significance."""
    from ffilab.compare import main as compare_main

    raise typer.Exit(compare_main(a, b, only_significant=only_significant))


@app.command("check")
def check_command(
    paths: Annotated[Optional[list[str]], typer.Argument(help="Python files to check; with --run, the script and (after --) its arguments.", show_default=False)] = None,
    header: Annotated[Optional[list[str]], typer.Option("--header", "-H", help="C header the code calls into (repeatable; default: headers in \\[tool.ffilab.check]).")] = None,
    include: Annotated[Optional[list[str]], typer.Option("--include", "-I", help="Extra include directory for the C preprocessor (repeatable).")] = None,
    ignore: Annotated[Optional[list[str]], typer.Option("--ignore", help="Rule code not to report (repeatable).")] = None,
    config: Annotated[Optional[str], typer.Option("--config", help="pyproject.toml to read \\[tool.ffilab.check] from (default: the nearest one).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    explain: Annotated[Optional[str], typer.Option("--explain", help="Explain a rule code (e.g. FFI004) and exit.")] = None,
    run: Annotated[bool, typer.Option("--run", help="Run the script with every ctypes call checked, instead of reading the files.")] = False,
) -> None:
    """Check ctypes/cffi code against C headers: undeclared or mistyped functions, wrong buffers, leaks."""
    from ffilab.check import _cli as check_cli

    opts = check_cli.CheckOptions(paths or [], header or [], include or [], ignore or [], config, as_json, explain, run)
    raise typer.Exit(check_cli.run(opts))


# Every command's help is its docstring made plain (typer reads the docstring only when no help is set).
for _info in app.registered_commands:
    if _info.help is None and _info.callback is not None:
        _info.help = _plain_help(_info.callback.__doc__)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
