"""The report: files written, self-contained HTML, lesson tables filled from the results, honesty marks.

Every test builds its own synthetic results (TEST INPUT, not measurements) in a tmp folder, so the
tests are independent under pytest-xdist and assert nothing about timing.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from ffilab.report import write_report
from ffilab.report.lesson import CLAIMS, DECISION_QUALITATIVE, check_claims
from ffilab.report.results import results_from_dict
from ffilab.report.units import fmt_speedup, fmt_time

ROUTES = ("python", "numpy", "ctypes", "cffi_abi", "cffi_api", "cython", "pybind11", "capi")
# TEST INPUT: made-up but plausible per-call medians (seconds), distinct so each can be found.
OVERHEAD_S = {"python": 61e-9, "numpy": 412e-9, "ctypes": 1234e-9, "cffi_abi": 733e-9, "cffi_api": 517e-9,
              "cython": 47.1e-9, "pybind11": 123e-9}
SOS_N = 5_000_000


def _timed(median: float, **extra: Any) -> dict[str, Any]:
    return {"samples_s": [median * 0.98, median, median * 1.02], "median_s": median, "q1_s": median * 0.99,
            "q3_s": median * 1.01, "spread": 0.02, "unstable": False, "status": "ok", **extra}


def _unavailable() -> dict[str, Any]:
    return {"samples_s": [], "median_s": None, "q1_s": None, "q3_s": None, "spread": None, "unstable": False,
            "status": "unavailable: not built: FFILAB_ROUTES left it out"}


def synthetic_results() -> dict[str, Any]:
    """TEST INPUT: a small results file of format ffilab-bench/2, not a measurement."""
    routes = [{"name": r, "kind": "k", "built_from": "b", "available": r != "capi",
               "reason": "not built: FFILAB_ROUTES left it out" if r == "capi" else ""} for r in ROUTES]
    overhead = [{"route": r, "call": "scalar float", "kernel": "circle_area", "args": "1.5", **_timed(t)}
                for r, t in OVERHEAD_S.items()]
    overhead[-1]["unstable"] = True  # pybind11
    overhead += [{"route": r, "call": "scalar int", "kernel": "sum_of_squares", "args": "1", **_timed(t * 1.1)}
                 for r, t in OVERHEAD_S.items()]
    overhead.append({"route": "capi", "call": "scalar float", "kernel": "circle_area", "args": "1.5", **_unavailable()})
    overhead += [{"route": "(floor)", "call": c, "kernel": k, **_timed(t)}
                 for c, k, t in (("python def", "def f(x): return x", 30e-9), ("builtin abs", "abs(x)", 15e-9),
                                 ("empty loop", "for _ in range(n): pass", 5e-9))]
    sos = {"python": 0.25, "numpy": 0.010, "ctypes": 0.004, "cffi_abi": 0.0041, "cffi_api": 0.0042,
           "cython": 0.000001, "pybind11": 0.0039}
    throughput = []
    for r, t in sos.items():
        row = _timed(t, route=r, kernel="sum_of_squares", label=f"n={SOS_N:,}", n=SOS_N,
                     speedup_vs_python=sos["python"] / t, notes=[], closed_form=r == "cython")
        if r == "cython":
            row["notes"] = ["time does not grow with n (x1.02 for 2n): the compiler removed the loop"]
        throughput.append(row)
    hav = {"python": 0.85 * 1.1, "numpy": 0.0031, "cython": 0.0012}
    throughput += [_timed(t, route=r, kernel="haversine_many", label="n=100,000 (New York)", n=100_000,
                          speedup_vs_python=hav["python"] / t, notes=[], closed_form=False) for r, t in hav.items()]
    throughput += [_timed(t, route=r, kernel="primes", label="below 3,000", n=3_000,
                          speedup_vs_python=0.09 / t, notes=[], closed_form=False)
                   for r, t in (("python", 0.09), ("cython", 0.003))]
    throughput.append({"route": "capi", "kernel": "fast_sum", "label": "n=1,000,000", "n": 1_000_000,
                       **_unavailable(), "speedup_vs_python": None, "notes": [], "closed_form": False})
    throughput.append({"route": "cffi_api", "kernel": "fast_sum", "label": "n=1,000,000", "n": 1_000_000,
                       **_unavailable(), "status": "fails verification: 3.0 != 6.0", "speedup_vs_python": None,
                       "notes": [], "closed_form": False})
    scaling = [{"route": r, "kernel": "fast_sum", "n": n, "median_s": n * per + fixed, "per_element_s": (n * per + fixed) / n}
               for r, per, fixed in (("python", 30e-9, 1e-7), ("numpy", 0.4e-9, 2e-6), ("ctypes", 0.5e-9, 1.2e-6))
               for n in (1, 10, 100, 1_000, 10_000, 100_000)]
    crossovers = [{"route": "ctypes", "kernel": "fast_sum", "versus": "python", "n": 100},
                  {"route": "ctypes", "kernel": "fast_sum", "versus": "numpy", "n": None}]
    build = [{"route": r, "build_s": None, "size_bytes": 100_000 + 1000 * i, "files": [f"ffilab/routes/{r}/_ext.so"],
              "import_s": 0.001 * (i + 1), "import_samples_s": [0.001 * (i + 1)] * 3}
             for i, r in enumerate(ROUTES[2:7])]
    return {
        "format": "ffilab-bench/2",
        "metadata": {"date": "2026-11-28T14:30:00+0000", "python": "3.11.7", "implementation": "CPython",
                     "platform": "Linux-test", "cpu": "Test CPU <model> & co", "cpu_flags": ["avx2", "fma"],
                     "cpu_count": 2, "numpy": "2.4.6", "ffilab": "0.1.0", "packages": {"cffi": "2.0.0"},
                     "build": {"c_compiler": "GNU 12.2.0", "compile_options": "-O3 -ffp-contract=off",
                               "routes": {"ctypes": "built"}},
                     "timer": "cpu", "mode": "quick", "processes": 3, "values": 5, "warmups": 1, "min_time_s": 0.05},
        "routes": routes, "overhead": overhead, "throughput": throughput, "scaling": scaling,
        "crossovers": crossovers, "build": build,
    }


def _write(tmp_path: Path, data: dict[str, Any]) -> dict[str, Path]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    results = tmp_path / "results.json"
    results.write_text(json.dumps(data), encoding="utf-8")
    return write_report(results, tmp_path / "report")


@pytest.fixture()
def report(tmp_path: Path) -> tuple[dict[str, Path], str, str]:
    """The report of the synthetic results: paths, Markdown text, HTML text."""
    paths = _write(tmp_path, synthetic_results())
    return paths, paths["markdown"].read_text(encoding="utf-8"), paths["html"].read_text(encoding="utf-8")


def _section(markdown: str, title: str) -> str:
    start = markdown.index(f"## {title}")
    end = markdown.find("\n## ", start + 1)
    return markdown[start:] if end < 0 else markdown[start:end]


def _row(section: str, startswith: str) -> str:
    return next(line for line in section.splitlines() if line.startswith(f"| {startswith}"))


def test_files_are_written(report: tuple[dict[str, Path], str, str]) -> None:
    paths, _, _ = report
    assert set(paths) == {"markdown", "html", "overhead", "speedup", "scaling", "build"}
    for path in paths.values():
        assert path.is_file() and path.stat().st_size > 0
    for name in ("overhead", "speedup", "scaling", "build"):
        assert paths[name].read_bytes().startswith(b"\x89PNG")


def test_html_is_self_contained(report: tuple[dict[str, Path], str, str]) -> None:
    _, _, html = report
    assert "http://" not in html and "https://" not in html
    sources = re.findall(r'\b(?:src|href)="([^"]*)"', html)
    assert len(sources) == 4
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<link" not in html and "<script" not in html
    # Text from the results is escaped, never interpreted as markup.
    assert "Test CPU &lt;model&gt; &amp; co" in html and "<model>" not in html


def test_decision_table_has_measured_values(report: tuple[dict[str, Path], str, str]) -> None:
    _, markdown, html = report
    section = _section(markdown, "Which route?")
    overhead = _row(section, "Overhead per call, measured")
    for route, seconds in OVERHEAD_S.items():
        assert fmt_time(seconds) in overhead, route
    assert "123 ns†" in overhead  # pybind11 is unstable in the test input
    assert overhead.rstrip(" |").endswith("not measured")  # capi is unavailable
    speedup = _row(section, "Measured speedup vs python: sum_of_squares (n=5,000,000)")
    assert fmt_speedup(0.25 / 0.004) in speedup  # ctypes
    assert "‡" in speedup  # cython's closed form is marked in the decision table too
    assert _row(section, "Measured speedup vs python: haversine_many")
    # No tokenize_batch rows in this test input: the row says so per route rather than vanishing.
    tokenize = _row(section, "Measured speedup vs python: tokenize_batch")
    assert tokenize.count("not measured") == len(ROUTES)
    for row_name, cells in DECISION_QUALITATIVE.items():
        assert _row(section, row_name)
        assert cells["cffi_api"].split(" (")[0] in _row(section, row_name)
    assert "Which route?" in html and "1.23 us" in html


def test_lesson_table_compares_claims(report: tuple[dict[str, Path], str, str]) -> None:
    _, markdown, _ = report
    section = _section(markdown, "Lesson says / measured here")
    rows = [line for line in section.splitlines() if line.startswith("| Part") or line.startswith("| Key")]
    assert len(rows) >= len(CLAIMS)
    # ctypes overhead: ~1 us in the lesson, 1.23 us in the test input: within 1.5x.
    ctypes = next(r for r in rows if "ctypes: overhead per call" in r)
    assert "~1 us" in ctypes and "1.23 us" in ctypes and "reproduces" in ctypes
    cython = next(r for r in rows if "| Cython: overhead per call" in r)
    assert "off by 2.1x (faster here)" in cython
    # 10 million ctypes calls: 12.3 s measured against the lesson's ~10 s.
    assert "12.3 s" in next(r for r in rows if "10,000,000 calls" in r)
    # sum_of_squares was run at n=5,000,000: an O(n) time is scaled linearly and says so.
    part1 = next(r for r in rows if "Python: time, sum_of_squares, n=100,000,000" in r)
    assert "5.00 s, scaled linearly from 250 ms at n=5,000,000" in part1 and "(scaled)" in part1
    # primes is not O(n): a different n is not comparable.
    primes = next(r for r in rows if "Typed Cython: time, primes" in r)
    assert "measured at n=3,000, not comparable" in primes
    # haversine at the lesson's n: compared directly; the Python loop is 1.1x the lesson's.
    hav = next(r for r in rows if "Python loop: time, haversine_many" in r)
    assert "935 ms" in hav and "reproduces (x1.10)" in hav
    # A closed-form row is never compared as loop speed.
    closed = next(r for r in rows if "Typed" not in r and "Cython: time, sum_of_squares" in r)
    assert "closed form" in closed
    # Unavailable route and absent variants.
    assert "not measured (unavailable: not built" in next(r for r in rows if "CPython C API" in r)
    assert "not measured" in next(r for r in rows if "NumPy (warm): time" in r)
    # The fact check of the lesson's printed sum.
    fact = next(r for r in rows if "fastmod.sum_of_squares" in r)
    assert "333333328333333350000000" in fact and "wrong: 1000x too small" in fact


def test_closed_form_is_labelled(report: tuple[dict[str, Path], str, str]) -> None:
    _, markdown, html = report
    table = _section(markdown, "Throughput")
    cython = _row(table, "cython‡")
    assert "closed form — not loop speed" in cython
    assert "loop replaced by a closed form — not loop speed" in table
    assert "loop replaced by a closed form — not loop speed" in html


def test_unavailable_and_failing_rows_are_listed(report: tuple[dict[str, Path], str, str]) -> None:
    _, markdown, html = report
    section = _section(markdown, "Not measured")
    assert "capi — unavailable: not built: FFILAB_ROUTES left it out" in section
    assert "cffi_api — fails verification: 3.0 != 6.0 (fast_sum n=1,000,000)" in section
    # Neither gets a throughput table of its own.
    assert "### fast_sum" not in markdown
    assert "fails verification: 3.0 != 6.0" in html


def test_tables_are_sorted_fastest_first(report: tuple[dict[str, Path], str, str]) -> None:
    _, markdown, _ = report
    table = _section(markdown, "Throughput").split("### haversine_many")[1].split("###")[0]
    approaches = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ") and "Approach" not in line]
    assert approaches == ["cython", "numpy", "python"]


def test_missing_sections_do_not_crash(tmp_path: Path) -> None:
    data = synthetic_results()
    data["scaling"] = []
    del data["crossovers"]
    for row in data["build"]:
        row.update(build_s=None, size_bytes=None, import_s=None)
    paths = _write(tmp_path, data)
    assert {"scaling", "build"}.isdisjoint(paths)
    markdown = paths["markdown"].read_text(encoding="utf-8")
    assert "This run has no size sweep." in markdown
    assert "This run recorded no build times." in markdown


def test_minimal_results(tmp_path: Path) -> None:
    paths = _write(tmp_path, {"format": "ffilab-bench/2", "metadata": {}})
    assert set(paths) == {"markdown", "html"}
    markdown = paths["markdown"].read_text(encoding="utf-8")
    assert "No overhead was measured." in markdown and "No throughput was measured." in markdown
    assert "not measured" in _section(markdown, "Lesson says / measured here")


def test_degenerate_values_draw_without_warnings(tmp_path: Path) -> None:
    # A zero median (a timer too coarse for the call), NaN and null must not reach a log axis.
    data = synthetic_results()
    data["overhead"][0]["median_s"] = 0.0
    data["overhead"][1]["median_s"] = float("nan")
    data["throughput"][0]["speedup_vs_python"] = None
    data["scaling"][0]["per_element_s"] = 0.0
    data["build"][0]["size_bytes"] = 0
    paths = _write(tmp_path, data)
    assert {"overhead", "speedup", "scaling", "build"} <= set(paths)
    assert "0.00 ns" in paths["markdown"].read_text(encoding="utf-8")


def test_report_is_deterministic(tmp_path: Path) -> None:
    first = _write(tmp_path / "a", synthetic_results())
    second = _write(tmp_path / "b", synthetic_results())
    for key, path in first.items():
        assert path.read_bytes() == second[key].read_bytes(), key


def test_exact_size_is_compared_directly() -> None:
    data = copy.deepcopy(synthetic_results())
    for row in data["throughput"]:
        if row["kernel"] == "sum_of_squares":
            row["n"] = 100_000_000
    checks = check_claims(results_from_dict(data))
    ctypes = next(c for c in checks if c.claim == "C via ctypes: time, sum_of_squares, n=100,000,000")
    assert ctypes.measured == "4.00 ms" and ctypes.verdict == "off by 21.2x (faster here)"


def test_wrong_format_is_rejected(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"format": "ffilab-bench/1", "results": []}), encoding="utf-8")
    with pytest.raises(ValueError, match="ffilab-bench/2"):
        write_report(results, tmp_path / "out")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(3.9e-8, "39.0 ns"), (1.234e-6, "1.23 us"), (0.085, "85.0 ms"), (6.2, "6.20 s"), (None, "—"), (float("nan"), "—")],
)
def test_fmt_time(seconds: float | None, text: str) -> None:
    assert fmt_time(seconds) == text


def test_fmt_speedup() -> None:
    assert fmt_speedup(12.34) == "12.3x" and fmt_speedup(0.456) == "0.46x" and fmt_speedup(None) == "—"


def test_feature_sections_are_rendered(tmp_path: Path) -> None:
    # TEST INPUT: the shapes ffilab.bench.nearest and ffilab.bench.tokenize write, made-up values.
    data = synthetic_results()
    data["nearest"] = {
        "rows": [{"goal": "single", "subject": "fused (1 thread)", "status": "ok", "seconds": 0.0004,
                  "per_second": 2500.0, "ratio": 15.2, "note": ""}],
        "goals": {"single": {"what": "one query: fused vs NumPy", "target": 10.0, "ratios": [15.2], "met": True}},
    }
    data["tokenize"] = {
        "sample": {"records": 20000},
        "rows": [{"group": "routes", "subject": "capi", "status": "ok", "seconds": 0.0412, "per_second": 485437.0,
                  "vs_python": 7.7, "agreement": 1.0, "note": ""},
                 {"group": "peers", "subject": "blingfire text_to_words", "status": "unavailable: install ffilab[bench]",
                  "seconds": None, "per_second": None, "vs_python": None, "agreement": None, "note": ""}],
        "goals": {"speedup": {"what": "fastest route vs the reference", "target": 10.0, "ratios": [7.7], "met": False}},
        "pipeline": {"routes": [{"route": "capi", "tokenize_share": 0.42, "tokenize_speedup": 7.0, "predicted_speedup": 3.11,
                                 "measured_speedup": 3.7, "scaling": [{"workers": 1, "records_per_s": 186165.0}]}],
                     "p": 0.792, "ceiling": 4.8},
    }
    markdown = _write(tmp_path, data)["markdown"].read_text(encoding="utf-8")
    near = _section(markdown, "Nearest places (ffilab.nearest)")
    assert "fused (1 thread)" in near and "15.20x" in near and "met: one query" in near
    tok = _section(markdown, "Tokenizer (tokenize_batch)")
    assert "485,437" in tok and "7.7x" in tok and "100.0%" in tok
    assert "unavailable: install ffilab[bench]" in tok
    assert "NOT met: fastest route vs the reference (measured 7.70x; target 10.0x)" in tok
    assert "3.70x" in markdown and "4.80x" in markdown and "2.985x" in markdown


def test_format_3_overhead_shows_multiples_of_the_runs_abs() -> None:
    data = synthetic_results()
    data["format"] = "ffilab-bench/3"
    for row in data["overhead"]:
        if row.get("median_s"):
            row["ratio_to_abs"] = row["median_s"] / 15e-9
    from ffilab.report import tables

    results = results_from_dict(data)
    overhead = tables.overhead_table(results)
    floors = tables.floor_table(results)
    assert overhead is not None and floors is not None
    assert "x: the same run's builtin abs" in overhead.caption
    assert any("x1.00" in cell for row in floors.rows for cell in row)  # abs against itself
    # Format 2 files (no ratios) render as before.
    assert "builtin abs" not in str(tables.overhead_table(results_from_dict(synthetic_results())).caption)
