"""What a user sees of the CLI: plain help text and terminal tables that fit 80 columns."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

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
