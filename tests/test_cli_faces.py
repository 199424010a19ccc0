"""What a user sees of the CLI: plain help text and terminal tables that fit 80 columns."""

from __future__ import annotations

import re

import pytest
import typer
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
