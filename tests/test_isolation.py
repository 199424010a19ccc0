"""A crash in native code is one failed check, named, never the end of the run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from ffilab.cli import run_child

SEGFAULT = "import ctypes; ctypes.string_at(0)"


def test_verify_reports_a_crashed_child_by_signal() -> None:
    out, failure = run_child([sys.executable, "-c", SEGFAULT], timeout=60)
    assert out == ""
    assert failure.startswith("crashed with SIGSEGV")


def test_verify_child_success_passes_stdout_through() -> None:
    out, failure = run_child([sys.executable, "-c", "print('fine')"], timeout=60)
    assert (out, failure) == ("fine\n", "")


def test_the_test_suite_survives_a_segfaulting_test(tmp_path: Path) -> None:
    # The suite runs under pytest-xdist (see pyproject addopts): a worker that dies is reported
    # as the failure of the test it was running, and a fresh worker runs the rest.
    (tmp_path / "test_crash.py").write_text(
        textwrap.dedent(
            f"""
            def test_crashes():
                {SEGFAULT}

            def test_after_the_crash():
                assert True
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "1", "-p", "no:cacheprovider", "-o", "addopts=", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    report = proc.stdout + proc.stderr
    assert proc.returncode == 1, report
    assert "test_crash.py::test_crashes" in report and "crashed" in report, report
    assert "1 failed, 1 passed" in report, report
