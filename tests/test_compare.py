"""ffilab.compare on small synthetic results files: matching, added/removed/non-ok rows, refusals, warnings."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from ffilab.compare import Row, compare_runs, format_seconds, main, metadata_differences, render

METADATA: dict[str, Any] = {
    "date": "2026-11-28T14:30:00+0000", "python": "3.11.7", "implementation": "CPython",
    "platform": "Linux-test", "cpu": "Test CPU 3000", "cpu_count": 2, "numpy": "2.4.6", "ffilab": "0.1.0",
    "build": {"c_compiler": "GNU 12.2.0", "compile_options": "-O3 -ffp-contract=off", "routes": {}},
    "timer": "cpu", "mode": "quick", "processes": 3, "values": 5, "warmups": 1, "min_time_s": 0.05,
}


def _samples(median: float, seed: int, n: int = 15) -> list[float]:
    """Synthetic timings: ``median`` with +-2 % uniform noise, reproducible from the seed."""
    return (median * np.random.default_rng(seed).uniform(0.98, 1.02, n)).tolist()


def _measured(samples: list[float], **fields: Any) -> dict[str, Any]:
    row = {"samples_s": samples, "median_s": float(np.median(samples)), "status": "ok", "unstable": False}
    row.update(fields)
    return row


def _failed(status: str, **fields: Any) -> dict[str, Any]:
    return {"samples_s": [], "median_s": None, "status": status, **fields}


def _write(path: Path, *, metadata: dict[str, Any] | None = None, fmt: str = "ffilab-bench/2", **sections: Any) -> Path:
    data = {"format": fmt, "metadata": metadata or METADATA, "routes": [], "overhead": [], "throughput": [],
            "scaling": [], "crossovers": [], "build": []}
    data.update(sections)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _pair(tmp_path: Path, **b_metadata: Any) -> tuple[Path, Path]:
    """Two results files covering every kind of row (the seeds make A and B independent draws)."""
    a = _write(
        tmp_path / "a.json",
        overhead=[
            _measured(_samples(4e-8, 1), route="capi", call="scalar float", kernel="circle_area"),
            _measured(_samples(2e-7, 2), route="ctypes", call="scalar float", kernel="circle_area"),
            _measured(_samples(3e-8, 3), route="(floor)", call="python def", kernel="def f(x): return x"),
        ],
        throughput=[
            _measured(_samples(0.035, 4), route="cython", kernel="primes", label="below 10,000", n=10000),
            _measured(_samples(0.002, 5), route="numpy", kernel="fast_sum", label="n=1,000,000", n=1000000),
            _measured(_samples(0.5, 6), route="ctypes", kernel="primes", label="below 10,000", n=10000),
        ],
        build=[{"route": "cython", "build_s": None, "size_bytes": 1, "files": [], "import_s": 0.004,
                "import_samples_s": _samples(0.004, 7)}],
    )
    b = _write(
        tmp_path / "b.json",
        metadata={**METADATA, **b_metadata},
        overhead=[
            _measured(_samples(4e-8, 11), route="capi", call="scalar float", kernel="circle_area"),
            _measured(_samples(4e-7, 12), route="ctypes", call="scalar float", kernel="circle_area"),
            _measured(_samples(3e-8, 13), route="(floor)", call="python def", kernel="def f(x): return x"),
        ],
        throughput=[
            # The label was reworded: rows are matched on n.
            _measured(_samples(0.035 / 1.5, 14), route="cython", kernel="primes", label="primes below 10000", n=10000),
            _failed("fails verification: wrong count", route="ctypes", kernel="primes", label="below 10,000", n=10000),
            _measured(_samples(0.001, 15), route="pybind11", kernel="fast_sum", label="n=1,000,000", n=1000000),
        ],
        build=[{"route": "cython", "build_s": None, "size_bytes": 1, "files": [], "import_s": 0.004,
                "import_samples_s": _samples(0.004, 17)}],
    )
    return a, b


def _by_key(rows: list[Row]) -> dict[tuple[str, ...], Row]:
    return {r.key: r for r in rows}


def _console() -> Console:
    return Console(file=io.StringIO(), width=240, color_system=None)


def test_rows_are_matched_and_compared(tmp_path: Path) -> None:
    rows = compare_runs(*_pair(tmp_path))
    assert [r.section for r in rows] == ["overhead"] * 3 + ["throughput"] * 4 + ["build"]
    by_key = _by_key(rows)

    same = by_key[("capi", "scalar float", "circle_area")]
    assert same.state == "compared" and same.comparison is not None
    assert not same.significant and same.comparison.verdict == "not significant"

    slower = by_key[("ctypes", "scalar float", "circle_area")]
    assert slower.significant and slower.comparison is not None
    assert slower.comparison.ratio == pytest.approx(2.0, rel=0.05)
    assert slower.comparison.verdict.endswith("x slower")
    assert slower.median_a_s == pytest.approx(2e-7, rel=0.03)
    assert slower.median_b_s == pytest.approx(4e-7, rel=0.03)

    faster = by_key[("cython", "primes", "n=10000")]
    assert faster.significant and faster.comparison is not None
    assert faster.comparison.verdict.endswith("x faster")
    assert faster.comparison.ratio == pytest.approx(1 / 1.5, rel=0.05)
    assert faster.what == "throughput cython primes (primes below 10000)"

    floor = by_key[("(floor)", "python def", "def f(x): return x")]
    assert floor.state == "compared" and not floor.significant

    imports = by_key[("cython",)]
    assert imports.section == "build" and imports.state == "compared" and not imports.significant


def test_added_removed_and_not_ok_rows(tmp_path: Path) -> None:
    rows = compare_runs(*_pair(tmp_path))
    by_key = _by_key(rows)

    removed = by_key[("numpy", "fast_sum", "n=1000000")]
    assert (removed.state, removed.comparison, removed.median_b_s) == ("removed", None, None)
    assert removed.median_a_s == pytest.approx(0.002, rel=0.03)

    added = by_key[("pybind11", "fast_sum", "n=1000000")]
    assert (added.state, added.comparison, added.median_a_s) == ("added", None, None)
    assert rows[-2] is added  # B-only rows close their section

    failing = by_key[("ctypes", "primes", "n=10000")]
    assert failing.state == "not ok" and failing.comparison is None and not failing.significant
    assert failing.detail == "A: ok; B: fails verification: wrong count"


def test_rows_without_samples_are_not_ok(tmp_path: Path) -> None:
    row = {"route": "capi", "call": "scalar int", "kernel": "sum_of_squares", "median_s": 1e-7, "status": "ok"}
    a = _write(tmp_path / "a.json", overhead=[row])
    b = _write(tmp_path / "b.json", overhead=[_measured(_samples(1e-7, 1), **{k: row[k] for k in ("route", "call", "kernel")})])
    [only] = compare_runs(a, b)
    assert only.state == "not ok" and only.detail == "A: no samples; B: ok"


def test_unavailable_on_both_sides(tmp_path: Path) -> None:
    row = _failed("unavailable: pybind11 not found", route="pybind11", call="scalar float", kernel="circle_area")
    [only] = compare_runs(_write(tmp_path / "a.json", overhead=[row]), _write(tmp_path / "b.json", overhead=[row]))
    assert only.state == "not ok"
    assert only.detail == "A: unavailable: pybind11 not found; B: unavailable: pybind11 not found"


def test_repeated_keys_are_kept_apart(tmp_path: Path) -> None:
    rows = [_measured(_samples(1.0, s), route="numpy", kernel="fast_sum", label=f"run {s}", n=10) for s in (1, 2)]
    result = compare_runs(_write(tmp_path / "a.json", throughput=rows), _write(tmp_path / "b.json", throughput=rows))
    assert [r.key for r in result] == [("numpy", "fast_sum", "n=10"), ("numpy", "fast_sum", "n=10", "#2")]
    assert all(r.state == "compared" and r.comparison is not None and r.comparison.p_value == 1.0 for r in result)


def test_unstable_and_closed_form_are_noted(tmp_path: Path) -> None:
    a_row = _measured(_samples(1e-3, 1), route="capi", kernel="sum_of_squares", label="n=5,000,000", n=5000000,
                      closed_form=True)
    b_row = {**a_row, "samples_s": _samples(1e-3, 2), "unstable": True}
    [row] = compare_runs(_write(tmp_path / "a.json", throughput=[a_row]), _write(tmp_path / "b.json", throughput=[b_row]))
    assert row.detail == "closed form: not loop speed in A; unstable in B; closed form: not loop speed in B"


@pytest.mark.parametrize("fmt", ["ffilab-bench/1", "pyperf"])
def test_other_formats_are_refused(tmp_path: Path, fmt: str) -> None:
    a, b = _pair(tmp_path)
    old = _write(tmp_path / "old.json", fmt=fmt)
    with pytest.raises(ValueError, match=r"old\.json.*format '.*'; expected 'ffilab-bench/3'"):
        compare_runs(a, old)
    with pytest.raises(ValueError, match="ffilab-bench/3"):
        compare_runs(old, b)


def test_missing_format_and_non_json_are_refused(tmp_path: Path) -> None:
    a, _ = _pair(tmp_path)
    no_format = tmp_path / "no_format.json"
    no_format.write_text(json.dumps({"metadata": {}}), encoding="utf-8")
    with pytest.raises(ValueError, match="format None"):
        compare_runs(a, no_format)
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not a JSON file"):
        compare_runs(a, garbage)
    listing = tmp_path / "list.json"
    listing.write_text("[]", encoding="utf-8")
    with pytest.raises(ValueError, match="JSON object"):
        compare_runs(listing, a)


def test_metadata_differences() -> None:
    assert metadata_differences(METADATA, dict(METADATA)) == []
    # Differences that do not change what is measured are not warned about.
    assert metadata_differences(METADATA, {**METADATA, "date": "tomorrow", "platform": "other"}) == []
    changed = {**METADATA, "cpu": "Other CPU", "timer": "wall",
               "build": {**METADATA["build"], "compile_options": "-O3 -march=native"}}
    assert metadata_differences(METADATA, changed) == [
        "cpu differs: A 'Test CPU 3000', B 'Other CPU'",
        "compile_options differs: A '-O3 -ffp-contract=off', B '-O3 -march=native'",
        "timer differs: A 'cpu', B 'wall'",
    ]
    missing = {k: v for k, v in METADATA.items() if k != "python"}
    assert metadata_differences(METADATA, missing) == ["python differs: A '3.11.7', B None"]


def test_main_prints_the_table_and_returns_zero(tmp_path: Path) -> None:
    console = _console()
    assert main(*_pair(tmp_path), console=console) == 0
    out = console.file.getvalue()  # type: ignore[attr-defined]
    for expected in ("what", "A median", "B median", "change", "p-value", "verdict",
                     "capi circle_area (scalar float)", "not significant", "x slower", "x faster",
                     "added", "removed", "not ok", "fails verification: wrong count", "cython import",
                     "5 compared: 1 slower, 1 faster, 3 not significant; 1 added, 1 removed, 1 not ok"):
        assert expected in out, expected
    assert "warning" not in out


def test_main_warns_about_metadata_but_compares(tmp_path: Path) -> None:
    console = _console()
    assert main(*_pair(tmp_path, python="3.12.1", timer="wall"), console=console) == 0
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "warning: python differs: A '3.11.7', B '3.12.1'" in out
    assert "warning: timer differs: A 'cpu', B 'wall'" in out
    assert "cpu differs" not in out
    assert "5 compared" in out


def test_main_only_significant_hides_changes_within_noise(tmp_path: Path) -> None:
    console = _console()
    assert main(*_pair(tmp_path), only_significant=True, console=console) == 0
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "ctypes circle_area (scalar float)" in out and "cython primes" in out
    assert "capi circle_area (scalar float)" not in out and "cython import" not in out
    assert "added" in out and "removed" in out and "not ok" in out  # differences, never hidden


def test_main_reports_a_refused_file(tmp_path: Path) -> None:
    a, _ = _pair(tmp_path)
    console = _console()
    assert main(a, _write(tmp_path / "old.json", fmt="ffilab-bench/1"), console=console) == 2
    assert "error:" in console.file.getvalue()  # type: ignore[attr-defined]
    console = _console()
    assert main(a, tmp_path / "missing.json", console=console) == 2
    assert "missing.json" in console.file.getvalue()  # type: ignore[attr-defined]


def test_render_returns_the_table(tmp_path: Path) -> None:
    rows = compare_runs(*_pair(tmp_path))
    table = render(rows, _console())
    assert [str(c.header) for c in table.columns] == ["what", "A median", "B median", "change", "p-value", "verdict"]
    assert table.row_count == len(rows)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(3.9e-8, "39 ns"), (2.5e-6, "2.5 µs"), (0.035, "35 ms"), (12.5, "12.5 s"), (None, "-"), (float("nan"), "-")],
)
def test_format_seconds(seconds: float | None, text: str) -> None:
    assert format_seconds(seconds) == text


def test_a_row_moving_between_a_runs_processes_needs_a_larger_change(tmp_path: Path) -> None:
    # Format 3 overhead rows carry how far their figure moved between the run's worker processes:
    # a 9 % change in tight samples is called, unless a run's processes already differed by 12 %.
    def row(scale: float, seed: int, spread: float) -> dict[str, Any]:
        samples = (4e-8 * scale * np.random.default_rng(seed).uniform(0.995, 1.005, 60)).tolist()
        return _measured(samples, route="capi", call="scalar float", kernel="circle_area", process_spread=spread)

    a = _write(tmp_path / "a.json", fmt="ffilab-bench/3", overhead=[row(1.0, 1, 0.01)])
    [steady] = compare_runs(a, _write(tmp_path / "b.json", fmt="ffilab-bench/3", overhead=[row(1.09, 2, 0.01)]))
    [moving] = compare_runs(a, _write(tmp_path / "c.json", fmt="ffilab-bench/3", overhead=[row(1.09, 3, 0.12)]))
    assert steady.significant and steady.comparison is not None and steady.comparison.verdict == "1.09x slower"
    assert moving.comparison is not None and moving.comparison.noise_band == 0.12 and not moving.significant


def test_a_shift_below_the_section_minimum_is_not_called_significant(tmp_path: Path) -> None:
    # 5 % slower with +-0.2 % noise: the U test is sure (p < 0.001), but two runs of one build
    # differ by that much; 9 % is called.
    def row(scale: float, seed: int) -> dict[str, Any]:
        return _measured((1e-3 * scale * np.random.default_rng(seed).uniform(0.998, 1.002, 30)).tolist(),
                         route="cython", kernel="primes", label="below 10,000", n=10000)

    a = _write(tmp_path / "a.json", throughput=[row(1.0, 1)])
    [small] = compare_runs(a, _write(tmp_path / "b.json", throughput=[row(1.05, 2)]))
    [large] = compare_runs(a, _write(tmp_path / "c.json", throughput=[row(1.09, 3)]))
    assert small.comparison is not None and small.comparison.p_value < 0.001 and not small.significant
    assert large.significant and large.comparison is not None and large.comparison.verdict == "1.09x slower"
