"""One ``ffilab bench`` run: every section (proof, verification, overhead, throughput, sweep, startup, features) in order, into one results dict.

How it measures, and why the numbers can be trusted, is told in :mod:`ffilab.bench`; the parts it
composes are in :mod:`ffilab.bench.suite`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ffilab
from ffilab import _registry
from ffilab.bench._jit import first_call_costs
from ffilab.bench.overhead import FLOOR_ROUTE
from ffilab.bench.suite import (
    FORMAT, QUICK_FIRST_CALLS, Config, apply_closed_form_guard, crossovers, metadata, overhead_suite, summarize, verify_workloads,
)
from ffilab.bench.workloads import OVERHEAD_CALLS, SWEEP_KERNELS, VARIANTS, throughput_workloads

__all__ = ["run"]

def _run_throughput(route: str, config: Config, kernels: list[str]) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Time one route's throughput workloads in ``config.processes`` worker processes (pooled)."""
    cmd = [sys.executable, "-m", "ffilab.bench.throughput", "--route", route, "--mode", config.mode,
           "--kernels", ",".join(kernels), "--values", str(config.values), "--min-time", str(config.min_time),
           "--timer", config.timer]
    samples: dict[str, list[float]] = {}
    loops: dict[str, int] = {}
    for _ in range(config.worker_processes):
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        if proc.returncode != 0:
            why = f"signal {-proc.returncode}" if proc.returncode < 0 else f"status {proc.returncode}"
            raise RuntimeError(f"throughput worker of {route} ended with {why}: {proc.stderr.strip()[-800:]}")
        result = json.loads(proc.stdout)
        for name, values in result["samples"].items():
            samples.setdefault(name, []).extend(values)
        loops.update(result["loops"])
    return samples, loops


def _pyperf_suite(samples: dict[str, list[float]], loops: dict[str, int], path: Path) -> None:
    """Write the throughput samples as a pyperf suite (``python -m pyperf stats|compare_to`` read it)."""
    import pyperf

    benchmarks = []
    for name, values in samples.items():
        if not values:
            continue
        run = pyperf.Run(values, metadata={"name": name, "loops": loops.get(name, 1), "unit": "second"},
                         collect_metadata=False)
        benchmarks.append(pyperf.Benchmark([run]))
    if benchmarks:
        pyperf.BenchmarkSuite(benchmarks).dump(str(path), replace=True)


def _run_sweep(names: list[str], config: Config) -> dict[str, Any]:
    # One worker process for every route (interleaved timings, verified sizes, the closed-form
    # guard: ffilab.bench._sweep); a crash ends the sweep, not the benchmark.
    cmd = [sys.executable, "-m", "ffilab.bench._sweep", config.mode, config.timer, *names]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    if proc.returncode != 0:
        raise RuntimeError(f"scaling sweep failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def _route_files(name: str) -> list[Path]:
    """Every compiled file the route ships: all of its package's binaries, the C core for the FFI routes.

    A route's extension may be more than one file (mypyc: a small ``_ext`` shim and the
    ``_ext__mypyc`` module holding the compiled code), so the binaries beside ``_ext`` are all
    counted; ctypes and cffi_abi load the shared C core, which is their binary.
    """
    import importlib.util

    if name in ("ctypes", "cffi_abi"):
        from ffilab.routes._core_library import core_library_path

        return [core_library_path()]
    spec = importlib.util.find_spec(f"ffilab.routes.{name}._ext")
    if not (spec and spec.origin and spec.origin.endswith((".so", ".pyd"))):
        return []
    folder = Path(spec.origin).parent
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith((".so", ".pyd", ".dylib", ".dll")))


def _import_times(name: str, repeats: int = 5) -> list[float]:
    # A fresh interpreter per sample; numpy and ffilab's shared modules are imported first so the
    # number is the route's own cost (its module, extension and library loading).
    code = (
        "import time, importlib, numpy, ffilab, ffilab.contract, ffilab.routes._cstatus\n"
        f"t = time.perf_counter(); importlib.import_module('ffilab.routes.{name}'); print(time.perf_counter() - t)"
    )
    out = []
    for _ in range(repeats):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        out.append(float(proc.stdout))
    return out


def _build_times() -> dict[str, float]:
    try:
        from importlib import resources

        return json.loads(resources.files("ffilab").joinpath("_build_times.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, OSError, ValueError):
        return {}


def _variant_row(name: str, variant: str, work: Any, samples: dict[str, list[float]],
                 problems: dict[str, dict[str, str]], base_median: float | None) -> dict[str, Any]:
    row: dict[str, Any] = {"route": name, "variant": variant, "kernel": work.kernel, "label": work.label,
                           "n": work.n, "notes": [], "closed_form": False}
    problem = problems.get(name, {}).get(f"variant/{variant}/{work.key}")
    values = samples.get(f"variant/{name}/{variant}/{work.key}")
    if problem or not values:
        row.update(status=f"fails verification: {problem}" if problem else "not measured",
                   samples_s=[], median_s=None, speedup_vs_python=None)
        return row
    row.update(status="ok", samples_s=values, **summarize(values))
    row["speedup_vs_python"] = base_median / row["median_s"] if base_median else None
    if row["unstable"]:
        row["notes"].append(f"unstable: IQR {row['spread']:.0%} of the median")
    return row



def _overhead(wanted: list[str], names: list[str], status: dict[str, str], problems: dict[str, dict[str, str]],
              config: Config) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The overhead section: every wanted route's rows (measured, unavailable or failing) and the floors."""
    skip = [f"{name}/{call}" for name in names for call, *_ in OVERHEAD_CALLS if f"overhead/{call}" in problems.get(name, {})]
    measured, info = overhead_suite(names, processes=config.overhead_processes or (5 if config.full else 3),
                                    rounds=config.overhead_rounds or (60 if config.full else 40), timer=config.timer, skip=skip)
    found = {(r["route"], r["call"]): r for r in measured}
    from ffilab.bench.overhead import floor_entries

    rows: list[dict[str, Any]] = []
    keys = [(e.route, e.call, e.kernel, e.args_text) for e in floor_entries()]
    keys += [(name, call, kernel, text) for name in wanted for call, kernel, _make, text in OVERHEAD_CALLS]
    for route, call, kernel, text in keys:
        row: dict[str, Any] = {"route": route, "call": call, "kernel": kernel, "args": text}
        problem = problems.get(route, {}).get(f"overhead/{call}")
        if route != FLOOR_ROUTE and status.get(route) != "ok":
            row.update(status=status[route], samples_s=[], median_s=None)
        elif problem:
            row.update(status=f"fails verification: {problem}", samples_s=[], median_s=None)
        elif (route, call) not in found:
            row.update(status=f"failed: {info['failure'] or 'not measured'}", samples_s=[], median_s=None)
        else:
            row = found[(route, call)]
        rows.append(row)
    return rows, info


class _SectionClock:
    """Wall-clock seconds per section of a run (``metadata.section_s``): where a run's time goes."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._t, 3)
        self._t = now


def run(config: Config, progress: Callable[[str], None] = lambda _: None, pyperf_out: Path | None = None) -> dict[str, Any]:
    """Run the benchmark and return the results (format ``ffilab-bench/3``)."""
    clock = _SectionClock()
    infos = _registry.routes()
    wanted = config.routes or [i.name for i in infos]
    unknown = set(wanted) - {i.name for i in infos}
    if unknown:
        raise KeyError(f"unknown route(s): {', '.join(sorted(unknown))}")
    if "python" not in wanted:
        wanted = ["python", *wanted]  # speedups are against the reference, measured in this run
    # ffilab.routes() proves every route (ffilab._proof): one that does not run the code its
    # kind claims is unavailable with "not really compiled: <why>" and never timed.
    status = {i.name: ("ok" if i.available else f"unavailable: {i.reason}") for i in infos}
    names = [n for n in wanted if status[n] == "ok"]
    clock.lap("proof")
    problems = verify_workloads(names, config, progress)
    clock.lap("verification")

    works = [w for w in throughput_workloads(config.full) if not config.kernels or w.kernel in config.kernels]
    if not config.throughput:
        works = []
    samples: dict[str, list[float]] = {}
    loops: dict[str, int] = {}
    for name in names:
        ok_kernels = sorted({w.kernel for w in works if f"throughput/{w.key}" not in problems.get(name, {})})
        if not ok_kernels:
            continue
        progress(f"timing {name} throughput")
        route_samples, route_loops = _run_throughput(name, config, ok_kernels)
        samples.update(route_samples)
        loops.update(route_loops)
    if pyperf_out is not None and samples:
        _pyperf_suite(samples, loops, pyperf_out)

    clock.lap("throughput")
    progress("timing per-call overhead (every route and the floors, interleaved)")
    overhead, overhead_info = _overhead(wanted, names, status, problems, config)

    throughput = []
    for work in works:
        base = samples.get(f"throughput/python/{work.key}")
        base_median = statistics.median(base) if base else None
        for name in wanted:
            row = {"route": name, "kernel": work.kernel, "label": work.label, "n": work.n, "notes": [], "closed_form": False}
            problem = problems.get(name, {}).get(f"throughput/{work.key}")
            if status[name] != "ok" or problem:
                row.update(status=status[name] if status[name] != "ok" else f"fails verification: {problem}",
                           samples_s=[], median_s=None, speedup_vs_python=None)
                throughput.append(row)
                continue
            values = samples[f"throughput/{name}/{work.key}"]
            row.update(status="ok", samples_s=values, **summarize(values))
            row["speedup_vs_python"] = base_median / row["median_s"] if base_median else None
            if row["unstable"]:
                row["notes"].append(f"unstable: IQR {row['spread']:.0%} of the median")
            guard = samples.get(f"guard/{name}/{work.key}")
            if guard:
                apply_closed_form_guard(row, guard)
            throughput.append(row)
            for (v_route, variant, v_kernel) in VARIANTS:
                if v_route == name and v_kernel == work.kernel:
                    throughput.append(_variant_row(name, variant, work, samples, problems, base_median))

    clock.lap("overhead")
    scaling: list[dict[str, Any]] = []
    sweep_problems: list[dict[str, Any]] = []
    sweep_guard: list[dict[str, Any]] = []
    if config.sweep and (not config.kernels or set(config.kernels) & set(SWEEP_KERNELS)):
        # Routes that failed verification on any benchmark input are not swept.
        swept = [n for n in names if not problems.get(n)]
        progress("scaling sweep (every route interleaved, verified at every size)")
        try:
            result = _run_sweep(swept, config)
        except RuntimeError as exc:
            sweep_problems.append({"route": "", "kernel": "", "n": None, "status": f"failed: {exc}"})
        else:
            keep = (lambda r: not config.kernels or r["kernel"] in config.kernels)
            scaling = [r for r in result["rows"] if keep(r)]
            sweep_problems = [r for r in result["problems"] if keep(r)]
            sweep_guard = [r for r in result["guard"] if keep(r)]
        sweep_problems += [{"route": n, "kernel": "", "n": None, "status": "not swept: fails verification"}
                           for n in names if problems.get(n)]

    clock.lap("sweep")
    build = []
    if config.startup:
        built = _build_times()
        for name in names:
            progress(f"import time: {name}")
            files = _route_files(name)
            times = _import_times(name, repeats=5 if config.full else 3)
            build.append({
                "route": name,
                "build_s": built.get(name),
                "size_bytes": sum(f.stat().st_size for f in files) if files else None,
                "files": [str(f) for f in files],
                "import_s": statistics.median(times),
                "import_samples_s": times,
            })

    clock.lap("import times")
    first_call: list[dict[str, Any]] = []
    if config.startup:
        kinds = {spec.name: spec.kind for spec in _registry.ROUTES}
        for name in names:
            if kinds[name] == "JIT":
                # The quick run measures a few kernels' first calls (a scalar, an array, a loop, the
                # tokenizer: 0.1 to 2 s each of compilation); --full measures every kernel.
                every = ffilab.KERNELS if config.full or config.kernels else QUICK_FIRST_CALLS
                kernels = [k for k in every if not config.kernels or k in config.kernels]
                repeats = config.jit_repeats or (3 if config.full else 1)
                first_call += first_call_costs(name, kernels, repeats, progress)

    clock.lap("first calls")
    nearest: dict[str, Any] = {}
    if config.nearest and (not config.kernels or "find_nearest_k" in config.kernels):
        from ffilab.bench import nearest as nearest_bench

        # The nearest-places feature (ffilab.nearest) against NumPy, scipy and scikit-learn; the
        # synthetic scale test uses 10**6 points in the quick run, the 10**7 with --full.
        progress("nearest places (ffilab.nearest)")
        nearest = nearest_bench.run(nearest_bench.Config(big_n=10_000_000 if config.full else 1_000_000), progress=progress)

    clock.lap("nearest")
    tokenize: dict[str, Any] = {}
    if config.tokenize and (not config.kernels or "tokenize_batch" in config.kernels):
        from ffilab.bench import tokenize as tokenize_bench

        # The tokenizer of every route against the field's tools on the same corpus sample.
        progress("tokenizer (tokenize_batch and its peers)")
        # The quick run profiles the pipeline on 40,000 records (the tokenizer module's default,
        # 200,000, with --full) and times 3 passes per subject instead of 5.
        quick_tok = {} if config.full else {"repeats": 3, "pipeline_records": 40_000}
        tokenize = tokenize_bench.run(tokenize_bench.Config(records=100_000 if config.full else 20_000, **quick_tok,
                                                            routes=tuple(names)), progress=progress)

    clock.lap("tokenize")
    meta = metadata(config)
    meta["section_s"] = clock.laps
    return {
        "format": FORMAT,
        "metadata": meta,
        "routes": [dict(i.__dict__) for i in infos],
        "overhead": overhead,
        "overhead_method": overhead_info,
        "throughput": throughput,
        "scaling": scaling,
        "scaling_problems": sweep_problems,
        "scaling_guard": sweep_guard,
        "crossovers": crossovers(scaling),
        "build": build,
        "first_call": first_call,
        "nearest": nearest,
        "tokenize": tokenize,
    }

