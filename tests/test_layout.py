"""The package's layering: the agreement bounds stand without the case table (no import cycle)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["ffilab.bounds", "ffilab.bench", "ffilab.nearest"])
def test_bounds_and_features_do_not_import_the_case_table(module: str) -> None:
    # A fresh interpreter: in this one, other tests may already have imported ffilab.verify.
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.startswith('ffilab')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded = eval(done.stdout.strip().splitlines()[-1])  # our own print of a list of str
    assert module in loaded
    assert "ffilab.verify" not in loaded, loaded


def test_verify_reexports_the_bounds_comparison() -> None:
    import ffilab.bounds
    import ffilab.verify

    assert ffilab.verify.compare_results is ffilab.bounds.compare_results


_ROUTES_FACES = """
import sys, types
{first}
import ffilab
from ffilab.routes import python as reference
import ffilab.routes.numpy
assert isinstance(ffilab.routes, types.FunctionType), type(ffilab.routes)
assert type(sys.modules["ffilab.routes"]) is types.ModuleType, type(sys.modules["ffilab.routes"])
assert [r.name for r in ffilab.routes(prove=False)][:2] == ["python", "numpy"]
assert ffilab.route("python") is reference and reference.sum_of_squares(10) == 285
print("ok")
"""


@pytest.mark.parametrize("first", ["", "import ffilab.routes.python", "from ffilab.routes import numpy"])
def test_routes_is_a_function_and_the_routes_a_plain_package(first: str) -> None:
    # Whatever is imported first, ``ffilab.routes`` stays the registry's function (a plain one, no
    # callable module) and the package a plain package: each in a fresh interpreter.
    code = _ROUTES_FACES.format(first=first)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
