"""The package's layering: the agreement bounds stand without the case table (no import cycle)."""

from __future__ import annotations

import subprocess
import sys


def test_bounds_do_not_import_the_case_table() -> None:
    # A fresh interpreter: in this one, other tests may already have imported ffilab.verify.
    code = "import sys, ffilab.bounds; print(sorted(m for m in sys.modules if m.startswith('ffilab')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded = eval(done.stdout.strip().splitlines()[-1])  # our own print of a list of str
    assert "ffilab.bounds" in loaded
    assert "ffilab.verify" not in loaded, loaded


def test_verify_reexports_the_bounds_comparison() -> None:
    import ffilab.bounds
    import ffilab.verify

    assert ffilab.verify.compare_results is ffilab.bounds.compare_results
