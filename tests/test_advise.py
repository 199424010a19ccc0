"""`ffilab advise` and `ffilab try` on real programs in real processes: hot function, p, kind, routes, errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "advise"

#: A child that measures one function's share of a program directly: the program's main() runs
#: with the function wrapped by a timer, and the whole process's time is the denominator.
_DIRECT = r"""
import contextlib, importlib.util, io, sys, time
clock = time.process_time if sys.argv[3] == "cpu" else time.perf_counter
t0 = clock()
spec = importlib.util.spec_from_file_location("example", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
original, spent = getattr(module, sys.argv[2]), [0.0]
def timed(*args, **kwargs):
    start = clock()
    try:
        return original(*args, **kwargs)
    finally:
        spent[0] += clock() - start
setattr(module, sys.argv[2], timed)
sys.argv = [sys.argv[1], *sys.argv[4:]]
with contextlib.redirect_stdout(io.StringIO()):
    module.main()
print(spent[0] / (clock() - t0))
"""

#: For a function of many tiny calls a timer per call would cost more than the call: the share is
#: the same calls made in a plain loop (minus the loop alone), over the program's own time.
_DIRECT_TINY = r"""
import contextlib, importlib.util, io, math, sys, time
t0 = time.process_time()
spec = importlib.util.spec_from_file_location("example", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
n, passes = int(sys.argv[2]), int(sys.argv[3])
sys.argv = [sys.argv[1], str(n), str(passes)]
with contextlib.redirect_stdout(io.StringIO()):
    module.main()
total = time.process_time() - t0
samples = [3.0 * math.sin(0.37 * i) * math.cos(0.011 * i) for i in range(n)]
f = module.soft_clip
def calls(xs, limit):
    for x in xs:
        f(x, limit)
def bare(xs, limit):
    for x in xs:
        pass
inside = 0.0
for p in range(passes):
    a = time.process_time(); calls(samples, 1.0 + 0.5 * p); b = time.process_time(); bare(samples, 1.0 + 0.5 * p)
    inside += (b - a) - (time.process_time() - b)
print(inside / total)
"""


def ffilab(*args: str, cwd: Path | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run the ffilab command line in a child process."""
    return subprocess.run([sys.executable, "-m", "ffilab", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, check=False)


def advise_json(*args: str, cwd: Path | None = None) -> dict[str, Any]:
    proc = ffilab("advise", "--json", *args, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def direct_shares(script: Path, function: str, clock: str, *args: str) -> list[float]:
    """Two direct measurements, one before and one after: a busy machine moves a single one."""
    out = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", _DIRECT, str(script), function, clock, *args], capture_output=True,
                              text=True, timeout=120, check=True)
        out.append(float(proc.stdout.strip()))
    return out


#: How far a share may be from the direct measurements' range. These programs run for a fraction of
#: a second so the suite stays short; on a busy shared machine the CPU time of the very same work
#: moves by tens of percent between runs (the two direct runs alone differ by up to 0.05 there, and
#: one full-suite run under pytest-xdist read 0.70 against 0.61-0.62).  The test guards against the
#: gross errors (cProfile's own cost left in made the many-tiny-calls shares several times too
#: large); the precise agreement is measured at full size and reported (README: 0.913 vs 0.938).
TOLERANCE = 0.12


def near(value: float, directs: list[float], tolerance: float = TOLERANCE) -> bool:
    """Whether ``value`` is within ``tolerance`` of the direct measurements' range."""
    return min(directs) - tolerance <= value <= max(directs) + tolerance


def entry(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(v for k, v in report["per_function"].items() if k.startswith(name + " "))


@pytest.fixture(scope="module")
def nearest() -> dict[str, Any]:
    return advise_json("-r", "numba", "--", sys.executable, str(EXAMPLES / "nearest_places.py"), "30000", "10")


@pytest.fixture(scope="module")
def tiny() -> dict[str, Any]:
    return advise_json("-r", "cython", "--confirm", "--confirm-runs", "1", "--", sys.executable, str(EXAMPLES / "tiny_calls.py"), "100000", "4")


def test_nearest_heavy_work_hot_function_and_p(nearest: dict[str, Any]) -> None:
    hottest = nearest["functions"][0]
    assert hottest["name"] == "find_nearest_k"
    assert hottest["kind"] == "heavy work per call"
    assert hottest["calls"] == 10
    e = entry(nearest, "find_nearest_k")
    assert e["recorded_calls"] == 10 and e["p_source"] == "run"
    direct = direct_shares(EXAMPLES / "nearest_places.py", "find_nearest_k", "cpu", "30000", "10")
    assert near(e["p_timed"], direct), (e["p_timed"], direct)
    numba_row = next(r for r in nearest["rows"] if r["how"] == "tried" and r["route"] == "numba")
    # Numba compiles the loop over arrays; verified on the ten recorded calls.
    assert numba_row["status"] == "ok" and numba_row["extra"]["checked_calls"] == 10
    assert numba_row["function_speedup"] > 1.0
    # Its one-time import + compile, measured in a fresh process, is part of the prediction.
    assert numba_row["extra"]["setup_s"] > numba_row["extra"]["compile_s"] * 0.5 > 0
    assert {r["route"] for r in nearest["rows"] if r["how"] == "estimate"} >= {"capi", "ctypes", "pybind11"}


def test_tiny_calls_kind_p_and_a_really_faster_recommendation(tiny: dict[str, Any]) -> None:
    hottest = tiny["functions"][0]
    assert hottest["name"] == "soft_clip"
    assert hottest["kind"] == "many tiny calls"
    assert hottest["calls"] == 400_000
    # Many tiny calls: the caller that makes them is examined too (the loop could move).
    caller = entry(tiny, "total_clipped")
    assert caller["kind"] == "heavy work per call"
    e = entry(tiny, "soft_clip")
    assert e["p_source"] == "calls x timed"

    def direct_share() -> float:
        proc = subprocess.run([sys.executable, "-c", _DIRECT_TINY, str(EXAMPLES / "tiny_calls.py"), "100000", "4"],
                              capture_output=True, text=True, timeout=120, check=True)
        return float(proc.stdout)

    direct = direct_share()
    if abs(e["p_timed"] - direct) >= 0.1:
        # Both sides measured once more: with the other pytest-xdist worker (or any job) busy,
        # one pair read 0.86 against 0.60 and the next 0.74 against 0.61 for the same program;
        # a wrong share is wrong on every measurement, the load's effect is not.
        again = advise_json("-r", "cython", "--", sys.executable, str(EXAMPLES / "tiny_calls.py"), "100000", "4")
        e, direct = entry(again, "soft_clip"), direct_share()
    assert abs(e["p_timed"] - direct) < 0.1, (e["p_timed"], direct)
    rec = tiny["recommendation"]
    assert rec["route"] == "cython", rec
    chosen = [r for r in tiny["rows"] if r["how"] == "tried" and r["route"] == "cython" and r["status"] == "ok"]
    assert chosen and all(r["confirmed"] is not None for r in chosen)
    best = max(chosen, key=lambda r: r["overall"])
    # The recommended variant really makes the program faster when swapped in (generous margin).
    assert best["confirmed"] > 1.0, best
    loop_note = next(r for r in chosen if r["function"].startswith("total_clipped"))["extra"]["notes"]
    assert any("lines of the loop still touch Python objects" in n for n in loop_note)
    # ctypes' per-call overhead on 400,000 calls of a ~100 ns function: the estimate says slower.
    ctypes_row = next(r for r in tiny["rows"] if r["route"] == "ctypes" and r["function"].startswith("soft_clip"))
    assert ctypes_row["overall"] < 1.0 and "slower" in ctypes_row["note"]


def test_io_bound_is_waiting_and_no_route_is_recommended() -> None:
    script = EXAMPLES / "io_bound.py"
    report = advise_json("--", sys.executable, str(script), "30")
    hottest = report["functions"][0]
    assert hottest["name"] == "fetch_rate"
    assert hottest["kind"] == "waiting"
    assert any("time.sleep" in w for w in hottest["waiting_in"])
    e = entry(report, "fetch_rate")
    assert e["p_source"] == "run" and "waiting" in e["skipped"] or "waits" in e["skipped"]
    direct = direct_shares(script, "fetch_rate", "wall", "30")
    assert near(e["p_timed"], direct), (e["p_timed"], direct)
    assert report["recommendation"]["route"] == "none"
    assert "waits" in report["recommendation"]["reason"]


def test_numpy_heavy_is_inside_numpy() -> None:
    script = EXAMPLES / "numpy_heavy.py"
    report = advise_json("--no-try", "--", sys.executable, str(script), "800", "15")
    hottest = report["functions"][0]
    assert hottest["name"] == "closest_pair_distance"
    assert hottest["kind"] == "NumPy"
    e = entry(report, "closest_pair_distance")
    assert e["p_source"] == "run" and "--no-try" in e["skipped"]
    direct = direct_shares(script, "closest_pair_distance", "cpu", "800", "15")
    assert near(e["p_timed"], direct), (e["p_timed"], direct)
    assert report["recommendation"]["route"] == "none"
    assert "NumPy" in report["recommendation"]["reason"]


def test_advise_reads_a_profile_file(tmp_path: Path) -> None:
    stats = tmp_path / "tiny.pstats"
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(stats), str(EXAMPLES / "tiny_calls.py"), "100000", "3"],
                   capture_output=True, check=True, timeout=60)
    report = advise_json(str(stats))
    # From a profile alone, the split between a function of tiny calls and its caller rests on
    # cProfile's per-call cost (subtracted, as measured here): the tiny one leads or is second.
    assert "soft_clip" in {f["name"] for f in report["functions"][:2]}
    assert next(f for f in report["functions"] if f["name"] == "soft_clip")["kind"] == "many tiny calls"
    assert all(r["how"] == "estimate" for r in report["rows"])
    assert "record" in entry(report, "soft_clip")["skipped"]


def test_uncopyable_arguments_are_reported(tmp_path: Path) -> None:
    script = tmp_path / "gen_prog.py"
    script.write_text(textwrap.dedent('''
        """A hot function that receives a generator (which cannot be copied) on some calls."""
        import sys


        def total(values, scale):
            s = 0.0
            for v in values:
                s += v * scale
            return s


        def main():
            out = 0.0
            for i in range(30):
                data = [float(j) for j in range(20000)]
                out += total(data if i % 2 else (x for x in data), 0.5)
            print(out)


        if __name__ == "__main__":
            main()
    '''), encoding="utf-8")
    report = advise_json("-r", "numba", "--", sys.executable, str(script))
    e = entry(report, "total")
    assert e["recorded_calls"] == 15
    assert len(e["recording_problems"]) == 15
    assert "argument 1 (generator) cannot be copied" in e["recording_problems"][0]


USERLIB = '''
"""Functions for `ffilab try` tests."""


def poly_hash(codes: list[int]) -> int:
    """A polynomial hash in Python's unbounded ints (Numba computes it in wrapping int64)."""
    h = 0
    for c in codes:
        h = h * 1000003 + c
    return h


def describe(values: list[float]) -> str:
    """Formats with a format spec, which Numba cannot compile."""
    out = []
    for v in values:
        out.append(f"{v:.2f}")
    return ", ".join(out)
'''


@pytest.fixture()
def userlib(tmp_path: Path) -> Path:
    (tmp_path / "userlib.py").write_text(USERLIB, encoding="utf-8")
    return tmp_path


def test_try_reports_a_disagreeing_compiled_function(userlib: Path) -> None:
    proc = ffilab("try", "userlib:poly_hash", "-r", "numba", "--args", "[1, 2, 3]", "--args", "list(range(40))", "--json", cwd=userlib)
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)["rows"][0]
    assert row["route"] == "numba" and row["status"] == "disagrees"
    # The small call agrees; the first that overflows int64 is named with both results.
    assert row["note"].startswith("call 2 ("), row["note"]
    assert "original returned" in row["note"] and "compiled returned" in row["note"]
    assert row["function_speedup"] is None and row["overall"] is None


def test_try_reports_a_compile_failure_with_its_reason(userlib: Path) -> None:
    proc = ffilab("try", "userlib:describe", "-r", "numba", "--args", "[1.5, 2.25]", cwd=userlib)
    assert proc.returncode == 0, proc.stderr
    assert "failed" in proc.stdout
    line = next(i for i, text in enumerate(USERLIB.splitlines(), 1) if "out.append" in text)
    assert f"line {line}" in proc.stdout and "format spec" in proc.stdout


def test_program_missing(tmp_path: Path) -> None:
    proc = ffilab("advise", "--", sys.executable, str(tmp_path / "nope.py"))
    assert proc.returncode == 2
    assert "program not found" in proc.stderr and "Traceback" not in proc.stderr


def test_program_failing_passes_its_exit_status(tmp_path: Path) -> None:
    script = tmp_path / "fails.py"
    script.write_text('import sys\nprint("partial output")\nsys.stderr.write("boom\\n")\nsys.exit(3)\n', encoding="utf-8")
    proc = ffilab("advise", "--", sys.executable, str(script))
    assert proc.returncode == 3
    assert "partial output" in proc.stdout and "boom" in proc.stderr
    assert "exited with status 3" in proc.stderr and "Traceback" not in proc.stderr.replace("boom", "")


def test_program_raising_shows_its_own_traceback_only(tmp_path: Path) -> None:
    script = tmp_path / "raises.py"
    script.write_text('def f():\n    raise ValueError("bad data")\n\nf()\n', encoding="utf-8")
    proc = ffilab("advise", "--", sys.executable, str(script))
    assert proc.returncode == 1
    assert "ValueError: bad data" in proc.stderr and "_runner.py" not in proc.stderr and "runpy" not in proc.stderr
    assert "exited with status 1" in proc.stderr


def test_function_not_importable(tmp_path: Path) -> None:
    proc = ffilab("try", "no_such_module_xyz:f", "--args", "1", cwd=tmp_path)
    assert proc.returncode == 2
    assert "cannot import 'no_such_module_xyz'" in proc.stderr and "Traceback" not in proc.stderr
    proc = ffilab("try", "nocolon", "--args", "1", cwd=tmp_path)
    assert proc.returncode == 2 and "MODULE:FUNCTION" in proc.stderr


def test_not_a_profile(tmp_path: Path) -> None:
    bogus = tmp_path / "profile.pstats"
    bogus.write_text("this is not a profile\n", encoding="utf-8")
    proc = ffilab("advise", str(bogus))
    assert proc.returncode == 2
    assert "not a cProfile/pstats file" in proc.stderr and "Traceback" not in proc.stderr
