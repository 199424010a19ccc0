"""What a user sees of the CLI: plain help text and terminal tables that fit 80 columns."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from typing import Any

import pytest
import typer
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

from ffilab.cli import app

ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`")


def _commands() -> list[str]:
    group = typer.main.get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


def _check_plain(text: str, where: str) -> None:
    assert "``" not in text, f"{where}: raw double-backtick markup"
    assert not ROLE.search(text), f"{where}: raw reStructuredText role"
    wide = [line for line in text.splitlines() if len(line.rstrip()) > 80]
    assert not wide, f"{where}: lines over 80 columns: {wide[:3]}"


def test_every_command_is_listed() -> None:
    # The help test below must walk the real command list, not an empty one.
    assert {"routes", "verify", "bench", "report", "nearest", "tokenize"} <= set(_commands())


@pytest.mark.parametrize("argv", [[], *[[c] for c in _commands()]], ids=lambda a: a[0] if a else "ffilab")
def test_help_is_plain_text_within_80_columns(argv: list[str]) -> None:
    result = CliRunner().invoke(app, [*argv, "--help"], terminal_width=80, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    _check_plain(result.output, " ".join(["ffilab", *argv, "--help"]))


def test_plain_help_strips_markup() -> None:
    from ffilab.cli import _plain_help

    assert _plain_help("the ``ffilab`` CLI, see :func:`~ffilab.verify.run` and :py:class:`X`") == (
        "the ffilab CLI, see ffilab.verify.run and X"
    )
    assert _plain_help(None) is None


def _recording_console(monkeypatch: pytest.MonkeyPatch) -> Console:
    import ffilab.cli as cli

    recorder = Console(width=80, record=True, file=io.StringIO())
    monkeypatch.setattr(cli, "console", recorder)
    return recorder


def _lines_fit(text: str, width: int = 80) -> None:
    wide = [line for line in text.splitlines() if cell_len(line.rstrip()) > width]
    assert not wide, f"lines over {width} columns: {wide[:3]}"


def test_verify_matrix_of_every_route_fits_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    from ffilab import _registry
    from ffilab.cli import _print_matrix

    recorder = _recording_console(monkeypatch)
    names = [spec.name for spec in _registry.ROUTES]
    kernels = list(_registry.KERNELS)
    # Every cell kind: agreeing (a three-digit count), disagreeing, unavailable, crashed.
    results = {n: {k: [{"ok": True}] * 120 for k in kernels} for n in names[:-2]}
    results[names[0]][kernels[0]] = [{"ok": False}] * 12 + [{"ok": True}] * 3
    failures = {names[-2]: "unavailable: not built", names[-1]: "crashed: signal 11"}
    _print_matrix(names, kernels, results, failures)
    text = recorder.export_text()
    _lines_fit(text)
    assert "…" not in text, "a cell or header was truncated"
    for kern in kernels:
        assert kern in text
    for cell in ("✓120", "✗12", "n/a", "died"):
        assert cell in text
    # Each route's name reads in full down its stacked header.
    header = [line for line in text.splitlines() if line.startswith("┃")]
    columns = [[cell.strip() for cell in line.strip("┃").split("┃")[1:]] for line in header]
    assert ["".join(parts) for parts in zip(*columns)] == names


def test_verify_command_fits_80_columns() -> None:
    env = {**os.environ, "COLUMNS": "80"}
    done = subprocess.run([sys.executable, "-m", "ffilab.cli", "verify", "-r", "python", "-r", "numpy", "-k", "circle_area"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "checks agree with the reference" in done.stdout
    _lines_fit(done.stdout)
    assert "…" not in done.stdout


def _bench_results() -> dict[str, Any]:
    """TEST INPUT: a made-up results file (every route, six overhead calls, extreme figures), not a measurement."""
    from ffilab import _registry

    names = [spec.name for spec in _registry.ROUTES]
    calls = ("scalar int", "scalar float", "1-element array", "array result", "1-text batch", "object method")
    overhead = [{"route": r, "call": c, "kernel": "k", "median_s": 1.234e-6 * (i + 1), "spread": 0.35,
                 "ratio_to_abs": 2467.23, "status": "ok"} for i, r in enumerate(names) for c in calls]
    overhead.append({"route": "(floor)", "call": "builtin abs", "kernel": "abs(x)", "median_s": 13e-9, "spread": 0.1,
                     "ratio_to_abs": 1.0, "status": "ok"})
    throughput = [{"route": r, "variant": None, "kernel": "fast_sum", "label": "n=1,000,000", "median_s": 1e-3,
                   "speedup_vs_python": 12.5, "spread": 0.02, "closed_form": False, "notes": [], "status": "ok"}
                  for r in names]
    return {"metadata": {"mode": "quick", "cpu": "Test CPU", "cpu_count": 2, "python": "3.11", "timer": "cpu",
                         "processes": 1, "values": 3},
            "overhead": overhead, "throughput": throughput, "crossovers": [], "build": []}


def test_bench_tables_fit_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    from ffilab.cli import _print_bench

    recorder = _recording_console(monkeypatch)
    _print_bench(_bench_results())
    text = recorder.export_text()
    _lines_fit(text)
    assert "…" not in text
    # Every overhead figure is printed whole, one per line of its cell.
    assert "x2467.23" in text and "[35%]" in text and "14.8 us" in text


def _nearest_results() -> dict[str, Any]:
    """TEST INPUT: the shape ffilab.bench.nearest.run returns, with long subjects and notes."""
    row = {"status": "ok", "timer": "thread", "seconds": 2.58e-6, "spread": 0.13, "per_second": 1_234_567.0,
           "build_seconds": 0.163, "ratio": 127.25, "met": True}
    rows = [{**row, "goal": "batch", "subject": f"cKDTree workers=1: 10,000 queries near places #{i}",
             "note": "bare query 0.3 ms; tree 1 thread is 1.69x (with conversions) / 1.23x (bare); same neighbours "
                     f"in 99.00% of queries, max |dkm| 2.14e-12 #{i}"} for i in range(3)]
    rows.append({**row, "goal": "single", "subject": "capi", "status": "unavailable: not built", "seconds": None,
                 "note": ""})
    return {"rows": rows,
            "goals": {"batch": {"what": "10,000 queries", "target": 2.0, "ratios": [127.25], "met": True}},
            "machine": {"cpus": 2, "load_average": [1.0], "python": "3.11"}}


def test_nearest_bench_table_fits_80_columns() -> None:
    from ffilab.bench import nearest as nearest_bench

    results = _nearest_results()
    recorder = Console(width=80, record=True, file=io.StringIO())
    nearest_bench.print_rows(results, recorder)
    text = recorder.export_text()
    _lines_fit(text)
    assert "…" not in text
    flat = " ".join(text.split())
    for r in results["rows"]:
        # Nothing is lost: every figure and every note is printed whole (wrapped, not cut).
        assert r["note"] in flat
    assert "127.25x ✓" in text and "1,234,567" in text and "unavailable: not built" in flat
    wide = Console(width=200, record=True, file=io.StringIO())
    nearest_bench.print_rows(results, wide, wide=True)
    assert results["rows"][0]["subject"] in wide.export_text()
