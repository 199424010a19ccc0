"""ffilab check: every rule found where it should be and nowhere else, on files of realistic shape.

The case files under tests/check_cases/ mark each expected finding on its line (``# expect:
CODE``); everything else in them -- and all of clean_realistic.py -- is the negative case.  The
runtime mode runs the lesson's challenge for real against a libmathlib.so built here with cc.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ffilab.check import (
    RULES, CheckError, ConfigError, HeaderError, check_files, check_source, explain, load_config, load_headers,
    prepare_headers,
)
from ffilab.check.runtime import run_checked

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "check_cases"
CHALLENGE = ROOT / "examples" / "ctypes_challenge"
MATHLIB_H = CHALLENGE / "mathlib.h"
STATS_H = CASES / "stats.h"
ROUTE = ROOT / "src" / "ffilab" / "routes" / "ctypes" / "__init__.py"
CORE_H = ROOT / "csrc" / "ffilab_core.h"

needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc) to preprocess headers")
pytestmark = needs_cc


@pytest.fixture(scope="module")
def headers():
    return load_headers([MATHLIB_H, STATS_H])


def expected(path: Path) -> set[tuple[int, str]]:
    out = set()
    for i, line in enumerate(path.read_text().splitlines(), start=1):
        for m in re.finditer(r"expect: (FFI\d{3})", line):
            out.add((i, m.group(1)))
    return out


def found(path: Path, hs) -> set[tuple[int, str]]:
    return {(f.line, f.code) for f in check_files([path], hs)}


@pytest.mark.parametrize("name", ["bad_declarations.py", "bad_buffers.py", "leaks.py", "cffi_abi.py", "clean_realistic.py"])
def test_case_file_findings_are_exactly_the_marked_ones(name, headers):
    path = CASES / name
    assert found(path, headers) == expected(path)


def test_every_rule_has_a_positive_case_and_the_clean_file_has_none():
    marked = {code for p in CASES.glob("*.py") for _, code in expected(p)}
    assert marked == set(RULES)
    assert expected(CASES / "clean_realistic.py") == set()


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


def test_lesson_challenge_four_bugs_each_at_its_line(headers):
    path = CHALLENGE / "challenge.py"
    call = _line_of(path, "bug 2")
    assert found(path, headers) == {
        (_line_of(path, "bug 1"), "FFI004"),  # c_float buffer for const double *
        (call, "FFI001"),  # no argtypes/restype
        (call, "FFI005"),  # never passed to free_array
        (_line_of(path, "bug 4"), "FFI007"),  # doubles read as c_int
    }


def test_lesson_fixed_version_keeps_only_the_exception_path_leak(headers):
    path = CHALLENGE / "fixed.py"
    assert found(path, headers) == {(_line_of(path, "lib.free_array(out)"), "FFI006")}
    assert found(CHALLENGE / "safe.py", headers) == set()


def test_ffilab_ctypes_route_is_clean_and_the_check_is_not_vacuous():
    hs = prepare_headers([], load_config(ROOT / "pyproject.toml"))
    assert {"ffl_compute_distances", "ffl_primes", "ffl_acc_new"} <= set(hs.allocators)
    source = ROUTE.read_text()
    assert check_source(source, str(ROUTE), hs) == []
    # The same file with three bugs put in: each one is found.
    broken = source
    for old, new in [
        ('_declare("ffl_circle_area", c_double, c_double)', '_declare("ffl_circle_area", c_int, c_double)'),
        ("weakref.finalize(owner, _free, address)", "owner = owner"),
        ('_declare("ffl_fast_sum", c_double, c_void_p, c_int64)', '_declare("ffl_fast_sum", c_double, c_void_p, c_int)'),
    ]:
        assert old in broken, f"the ctypes route no longer has {old!r}: update this test's mutations"
        broken = broken.replace(old, new)
    codes = sorted(f.code for f in check_source(broken, "route.py", hs))
    assert codes == ["FFI002", "FFI003", "FFI005"]


def test_the_clean_file_is_clean_because_every_call_was_checked(headers):
    from ffilab.check.static import _Walker

    walker = _Walker("clean_realistic.py", headers)
    walker.run(ast.parse((CASES / "clean_realistic.py").read_text()))
    called = {c.func.name for c in walker.calls}
    declared = {d.func.name for d in walker.decls}
    every = set(headers.prototypes) - {"stats_hist_free"}  # only handed to weakref.finalize
    assert called == every
    assert declared == set(headers.prototypes)


def test_headers_resolve_real_includes_and_annotations():
    hs = load_headers([CORE_H, STATS_H])
    n = hs.get("ffl_scale_array").params[1].ctype
    assert (n.spelling, n.kind, n.size, n.signed) == ("int64_t", "int", 8, True)
    size = hs.get("stats_mean").params[1].ctype
    assert (size.spelling, size.size, size.signed) == ("size_t", 8, False)
    assert hs.get("ffl_primes").params[1].ctype.depth() == 2
    assert hs.allocators["ffl_primes"].out_index == 1
    assert hs.allocators["stats_quantiles"].free == "stats_free"
    assert hs.allocators["stats_hist_new"].free == "stats_hist_free"
    assert "ffl_free" not in hs.allocators and "stats_version" not in hs.allocators


def test_two_headers_that_disagree_are_an_error(tmp_path):
    other = tmp_path / "other.h"
    other.write_text("#include <stddef.h>\nvoid scale_array(float *arr, size_t n, double factor);\n")
    with pytest.raises(HeaderError, match=r"scale_array is declared differently in .*mathlib.h:14 .* and .*other.h:2"):
        load_headers([MATHLIB_H, other])
    same = tmp_path / "same.h"
    same.write_text("#include <stddef.h>\nvoid scale_array(double *values, size_t count, double f);\n")
    assert load_headers([MATHLIB_H, same]).get("scale_array") is not None


def test_bad_headers_are_one_clear_error(tmp_path):
    broken = tmp_path / "broken.h"
    broken.write_text("double f(double x;\n")
    with pytest.raises(HeaderError, match="broken.h: cannot parse as C"):
        load_headers([broken])
    missing_include = tmp_path / "inc.h"
    missing_include.write_text('#include "nowhere.h"\nint g(void);\n')
    with pytest.raises(HeaderError, match="inc.h: the C preprocessor rejected it: .*nowhere.h"):
        load_headers([missing_include])
    with pytest.raises(HeaderError, match="does not exist"):
        load_headers([tmp_path / "absent.h"])


def test_bad_python_and_unknown_functions_are_one_clear_error(headers):
    with pytest.raises(CheckError, match=r"^x.py:2:\d+: error: not valid Python"):
        check_source("import ctypes\nlib = ctypes.CDLL(\n", "x.py", headers)
    src = "import ctypes\nlib = ctypes.CDLL('m')\nlib.circle_area.restype = ctypes.c_double\nlib.cube_volume(2.0)\n"
    with pytest.raises(CheckError, match=r"^x.py:4:1: error: cube_volume is not declared in any header given"):
        check_source(src, "x.py", headers)


def test_deeply_nested_code_is_checked_or_one_clear_error(headers):
    assert check_source("x = 1" + " + 1" * 2000 + "\n", "deep.py", headers) == []
    with pytest.raises(CheckError, match="deep.py:1:1: error: not valid Python: nested too deeply"):
        check_source("x = 1" + " + 1" * 50000 + "\n", "deep.py", headers)


def test_config_pairs_and_ignores(tmp_path, headers):
    header = tmp_path / "pool.h"
    header.write_text("#include <stddef.h>\nvoid *pool_take(size_t n);\nvoid pool_give(void *p);\n")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.ffilab.check]\nheaders = ["pool.h"]\nallocators = { pool_take = "pool_give" }\nignore = ["FFI001"]\n'
    )
    script = tmp_path / "use.py"
    script.write_text("import ctypes\nlib = ctypes.CDLL('libpool.so')\n\ndef f():\n    p = lib.pool_take(16)\n    return 1\n")
    config = load_config(tmp_path / "pyproject.toml")
    hs = prepare_headers([], config)
    assert hs.allocators["pool_take"].free == "pool_give"
    assert {(f.line, f.code) for f in check_files([script], hs, config.ignore)} == {(5, "FFI005")}
    assert {f.code for f in check_files([script], hs)} == {"FFI001", "FFI005"}
    (tmp_path / "pyproject.toml").write_text('[tool.ffilab.check]\nignore = ["FFI999"]\n')
    with pytest.raises(ConfigError, match="unknown rule codes"):
        load_config(tmp_path / "pyproject.toml")


def test_noqa_suppresses_its_line_and_codes_only(headers):
    path = CASES / "clean_realistic.py"
    source = path.read_text()
    line = _line_of(path, "# noqa: FFI005")
    assert check_source(source, str(path), headers) == []
    unmarked = [(f.line, f.code) for f in check_source(source.replace("# noqa: FFI005", ""), str(path), headers)]
    assert unmarked == [(line, "FFI005")]
    other_code = [(f.line, f.code) for f in check_source(source.replace("# noqa: FFI005", "# noqa: FFI004"), str(path), headers)]
    assert other_code == [(line, "FFI005")]
    assert check_source(source.replace("# noqa: FFI005", "# noqa"), str(path), headers) == []


def test_explain_every_code():
    for code in RULES:
        assert explain(code.lower()).startswith(f"{code} (")
    with pytest.raises(ValueError, match="code must be one of"):
        explain("FFI999")


def _cli(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ffilab.cli", "check", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def test_cli_output_json_and_exit_status():
    proc = _cli(str(CHALLENGE / "challenge.py"), "--header", str(MATHLIB_H))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert [ln.split(" ")[1] for ln in lines] == ["FFI004", "FFI001", "FFI005", "FFI007"]
    assert all(re.match(r"^\S+challenge\.py:\d+:\d+: FFI\d{3} ", ln) for ln in lines)
    proc = _cli(str(CHALLENGE / "safe.py"), "--header", str(MATHLIB_H), "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["findings"] == []
    proc = _cli(str(CHALLENGE / "fixed.py"), "-H", str(MATHLIB_H), "--json")
    data = json.loads(proc.stdout)
    assert proc.returncode == 1 and [(f["code"], f["severity"]) for f in data["findings"]] == [("FFI006", "error")]
    proc = _cli(str(ROUTE))  # headers and allocators from ffilab's own [tool.ffilab.check]
    assert (proc.returncode, proc.stdout) == (0, "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{bad_py}", "-H", "{mathlib}"], r"bad\.py:1:\d+: error: not valid Python"),
        (["{challenge}", "-H", "{bad_h}"], r"error: .*bad\.h: cannot parse as C"),
        (["{challenge}", "-H", "{stats}"], r"challenge\.py:17:\d+: error: compute_distances is not declared in any header given"),
        (["{copy}"], r"error: no header given"),
        ([], r"error: give the Python files to check"),
        (["--explain", "FFI000"], r"error: --explain: code must be one of"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(tmp_path, args, message):
    (tmp_path / "bad.py").write_text("def f(:\n")
    (tmp_path / "bad.h").write_text("int f(int x\n")
    shutil.copy(CHALLENGE / "challenge.py", tmp_path / "challenge_copy.py")  # outside any [tool.ffilab.check]
    subs = {"bad_py": tmp_path / "bad.py", "bad_h": tmp_path / "bad.h", "mathlib": MATHLIB_H, "stats": STATS_H,
            "challenge": CHALLENGE / "challenge.py", "copy": tmp_path / "challenge_copy.py"}
    proc = _cli(*[a.format(**subs) for a in args], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert re.search(message, proc.stderr), proc.stderr


# ----------------------------------------------------------------------------- runtime mode
@pytest.fixture(scope="module")
def mathlib(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mathlib") / "libmathlib.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(out), str(CHALLENGE / "mathlib.c"), "-lm"], check=True)
    return out


def test_runtime_catches_the_challenge_in_a_real_run(mathlib, monkeypatch):
    monkeypatch.setenv("MATHLIB", str(mathlib))
    path = CHALLENGE / "challenge.py"
    report = run_checked(path, [], [str(MATHLIB_H)])
    call = _line_of(path, "bug 2")
    got = {(f.line, f.code) for f in report.findings}
    # The truncated pointer usually ends the run with SIGSEGV; the events written before that stay.
    assert got == {(call, "FFI001"), (call, "FFI004"), (call, "FFI005"), (_line_of(path, "bug 4"), "FFI007")}
    leak = next(f for f in report.findings if f.code == "FFI005")
    assert "never passed to free_array" in leak.message


def test_runtime_leaves_results_and_status_alone(mathlib, monkeypatch, capfd):
    monkeypatch.setenv("MATHLIB", str(mathlib))
    plain = subprocess.run([sys.executable, str(CHALLENGE / "fixed.py")], capture_output=True, text=True, check=True)
    report = run_checked(CHALLENGE / "fixed.py", [], [str(MATHLIB_H)])
    assert (report.status, report.findings) == (0, [])
    assert capfd.readouterr().out == plain.stdout == "[2.23606797749979, 5.0, 7.810249675906654]\n"


def test_runtime_arguments_leaks_at_exit_finalizers_and_exit_status(tmp_path, mathlib):
    script = tmp_path / "prog.py"
    script.write_text(
        "import ctypes, sys, weakref\n"
        f"lib = ctypes.CDLL({str(mathlib)!r})\n"
        "f = lib.compute_distances\n"
        "f.argtypes = [ctypes.c_void_p, ctypes.c_size_t]\n"
        "f.restype = ctypes.POINTER(ctypes.c_double)\n"
        "lib.free_array.argtypes = [ctypes.POINTER(ctypes.c_double)]\n"
        "lib.free_array.restype = None\n"
        "floats = (ctypes.c_float * 4)(1, 2, 3, 4)\n"
        "kept = f(floats, 2)\n"
        "doubles = (ctypes.c_double * 4)(3, 4, 6, 8)\n"
        "owned = f(doubles, 2)\n"
        "holder = type('Holder', (), {})()\n"
        "weakref.finalize(holder, lib.free_array, owned)\n"
        "import numpy as np\n"
        "lib.scale_array.argtypes = [np.ctypeslib.ndpointer(dtype=np.float32), ctypes.c_size_t, ctypes.c_double]\n"
        "halves = np.ones(4, dtype=np.float32)\n"
        "lib.scale_array(halves, 2, 2.0)  # 16 bytes: two doubles fit, and are garbage as floats\n"
        "print(round(owned[1], 6), sys.argv[1:])\n"
        "sys.exit(3)\n"
    )
    proc = _cli("--run", "-H", str(MATHLIB_H), str(script), "--", "a", "--b", cwd=tmp_path)
    assert proc.returncode == 3  # the program's own status
    assert proc.stdout == "10.0 ['a', '--b']\n"
    findings = [ln for ln in proc.stderr.splitlines() if re.match(r"^\S+prog\.py:\d+:", ln)]
    assert len(findings) == 4, proc.stderr
    assert re.search(r"prog\.py:9:\d+: FFI004 compute_distances argument 1 .* gets a c_float \* 4", findings[0])
    assert re.search(r"prog\.py:9:\d+: FFI005 .*never passed to free_array: still allocated when the program ended", findings[1])
    assert re.search(r"prog\.py:17:\d+: FFI002 scale_array\.argtypes\[0\] .*float32", findings[2])
    assert re.search(r"prog\.py:17:\d+: FFI004 scale_array argument 1 .* gets a numpy float32 array", findings[3])
