"""The work behind ``ffilab check``: options in, findings printed, an exit status out.

``ffilab/cli.py`` declares the options and calls :func:`run`; this is the only module of the
package that speaks in command-line flags.  Exit status: 0 clean, 1 findings, 2 bad input or
usage (one line on stderr, never a traceback); with ``--run`` the program's own status.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ffilab.check import check_files, prepare_headers
from ffilab.check.config import ConfigError, find_config, load_config
from ffilab.check.header import HeaderError
from ffilab.check.rules import Finding, explain
from ffilab.check.static import CheckError

__all__ = ["CheckOptions", "run"]


@dataclass(frozen=True)
class CheckOptions:
    """The options of ``ffilab check`` (see ``ffilab check --help``)."""

    paths: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    include_dirs: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    config: str | None = None
    as_json: bool = False
    explain: str | None = None
    run_script: bool = False


def _error(message: str, err: TextIO) -> int:
    print(f"ffilab check: {message}", file=err)
    return 2


def _summary(findings: list[Finding], files: int) -> str:
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    return f"{len(findings)} finding(s) ({errors} error(s), {warnings} warning(s)) in {files} file(s)"


def run(opts: CheckOptions, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Do what ``opts`` asks; return the exit status (0 clean, 1 findings, 2 bad input)."""
    out = out or sys.stdout
    err = err or sys.stderr
    if opts.explain is not None:
        try:
            print(explain(opts.explain), file=out)
        except ValueError as exc:
            return _error(f"error: --explain: {exc}", err)
        return 0
    if not opts.paths:
        return _error("error: give the Python files to check (or --run SCRIPT [-- ARGS], or --explain CODE)", err)
    try:
        config_path = Path(opts.config) if opts.config else find_config(Path(opts.paths[0]).resolve().parent)
        config = load_config(config_path)
        ignore = {c.upper() for c in opts.ignore} | set(config.ignore)
        if opts.run_script:
            return _run_program(opts, config.headers, config.include_dirs, config.allocators, ignore, out, err)
        headers = prepare_headers(opts.headers, config, opts.include_dirs)
        files = _python_files(opts.paths)
        findings = check_files(files, headers, ignore)
    except CheckError as exc:
        return _error(str(exc), err)  # already "path:line:col: error: ..."
    except (HeaderError, ConfigError) as exc:
        return _error(f"error: {exc}", err)
    if opts.as_json:
        json.dump({"files": files, "headers": list(headers.files), "findings": [f.as_dict() for f in findings]}, out, indent=2)
        print(file=out)
    else:
        for f in findings:
            print(f.format(), file=out)
        print(_summary(findings, len(files)), file=err)
    return 1 if findings else 0


def _python_files(paths: list[str]) -> list[str]:
    # A directory stands for the .py files under it, as with other linters.
    out: list[str] = []
    for p in paths:
        path = Path(p)
        out += sorted(str(f) for f in path.rglob("*.py")) if path.is_dir() else [p]
    return out


def _run_program(opts: CheckOptions, config_headers: tuple[str, ...], config_includes: tuple[str, ...],
                 allocators: dict[str, str], ignore: set[str], out: TextIO, err: TextIO) -> int:
    from ffilab.check.runtime import run_checked

    headers = opts.headers or list(config_headers)
    if not headers:
        raise HeaderError("no header given: pass --header HEADER.h (or set headers in [tool.ffilab.check])")
    script, *args = opts.paths
    try:
        report = run_checked(script, args, headers, [*opts.include_dirs, *config_includes], allocators)
    except FileNotFoundError as exc:
        raise CheckError(script, 1, 1, f"error: {exc}") from None
    findings = [f for f in report.findings if f.code not in ignore]
    # The program's stdout is its own: the findings go to stderr.
    if opts.as_json:
        json.dump({"script": script, "status": report.status, "died_of": report.died_of,
                   "findings": [f.as_dict() for f in findings]}, err, indent=2)
        print(file=err)
    else:
        if report.died_of:
            print(f"ffilab check --run: {script} died of {report.died_of}", file=err)
        for f in findings:
            print(f.format(), file=err)
        print(f"ffilab check --run: {_summary(findings, 1)}", file=err)
    return report.status
