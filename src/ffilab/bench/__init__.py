"""``ffilab bench``: every available route measured side by side, honestly, on this machine.

How it measures (the reasons users can trust the numbers):

* every route's result on each benchmark input is first checked against the reference with the
  bounds of :mod:`ffilab.verify`; a route that disagrees is reported as failing and not timed;
* a route that does not run the code its kind claims is refused (:mod:`ffilab._proof`): a
  compiled route whose kernels are Python code, an FFI route whose calls never enter the C core,
  a JIT route whose kernels compile no nopython Numba function;
* per-call overhead: every route and the floors (a Python ``def``, ``abs``, ``math.fabs``, the
  harness's own loop) timed interleaved in one worker process, in rounds of short bursts of an
  unrolled loop of direct calls, on the thread's CPU clock (:mod:`ffilab.bench.overhead`); a few
  such processes are pooled; each figure is also given as a multiple of the same run's ``abs``;
* throughput: one worker process per route (:mod:`ffilab.bench.throughput`; ``--processes``
  pools several), each workload called once untimed, its loop calibrated to ``--min-time`` per
  value, the route's workloads timed in rotated rounds; the timer is the thread's CPU time by
  default (``--timer wall`` otherwise); medians are reported with the interquartile range, and a
  spread of 10 % or more of the median is flagged unstable; the samples are also written as a
  pyperf suite;
* every route is timed through its public function object, so a route that needs a Python
  wrapper (ctypes, cffi) pays for it;
* the honesty guard times ``sum_of_squares`` again at twice the size: a loop takes about twice as
  long; a ratio below 1.5 means a compiler replaced the loop by a closed form, and the row is
  labelled as such, never as loop speed;
* a JIT route's first call compiles: the timing workers call every function once before
  calibrating, so compilation never lands in a timed value, and the first-call cost is measured
  on its own, each kernel in fresh processes with an empty and a filled cache
  (:mod:`ffilab.bench._jit`, results section ``first_call``);
* the machine, the build (compilers, flags) and package versions are recorded with the results.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import ffilab
from ffilab import _proof, _registry, stats
from ffilab.bench import _sweep as _sweep_module
from ffilab.bench._jit import first_call_costs
from ffilab.bench.workloads import OVERHEAD_CALLS, SWEEP_KERNELS, VARIANTS, throughput_workloads
from ffilab.bounds import compare_results

__all__ = ["Config", "apply_closed_form_guard", "closed_form_ratio", "compiled_problem", "crossovers", "first_call_costs",
           "metadata", "overhead_suite", "run", "summarize"]

FORMAT = "ffilab-bench/3"
FLOOR_ROUTE = "(floor)"
#: The kernels whose JIT first call the quick run measures (``--full``: every kernel).
QUICK_FIRST_CALLS = ("circle_area", "fast_sum", "primes", "tokenize_batch")
CLOSED_FORM_RATIO = 1.5


@dataclass
class Config:
    """What to run: routes, kernels, sizes, timer and pyperf's effort."""

    routes: list[str] | None = None
    kernels: list[str] | None = None
    full: bool = False
    timer: str = "cpu"
    #: Throughput worker processes per route, pooled (None: 1 in the quick run, 3 with ``full``).
    processes: int | None = None
    values: int = 3
    warmups: int = 1
    min_time: float = 0.05
    #: The interleaved overhead suite (:mod:`ffilab.bench.overhead`): worker processes, each
    #: timing every entry in rounds (None: 3 processes of 40 rounds, 5 of 60 with ``full``).
    overhead_processes: int | None = None
    overhead_rounds: int | None = None
    throughput: bool = True
    sweep: bool = True
    startup: bool = True
    nearest: bool = True
    tokenize: bool = True
    #: Fresh processes per kernel and cache state for a JIT route's first-call cost
    #: (None: one in the quick run, three with ``full``).
    jit_repeats: int | None = None

    @property
    def worker_processes(self) -> int:
        """Throughput worker processes per route: ``processes``, or the mode's default."""
        return self.processes or (3 if self.full else 1)

    @property
    def mode(self) -> str:
        return "full" if self.full else "quick"


def summarize(samples: list[float]) -> dict[str, Any]:
    """The result-row fields of :func:`ffilab.stats.summarize`: median, quartiles, spread, unstable."""
    summary = stats.summarize(samples)
    return {"median_s": summary.median, "q1_s": summary.q1, "q3_s": summary.q3,
            "spread": summary.spread, "unstable": summary.unstable}


def closed_form_ratio(t_n: float, t_2n: float) -> tuple[float, bool]:
    """Return the time ratio for doubling n and whether it betrays a closed form (< 1.5)."""
    ratio = t_2n / t_n if t_n > 0 else float("inf")
    return ratio, ratio < CLOSED_FORM_RATIO


def apply_closed_form_guard(row: dict[str, Any], samples_2n: list[float]) -> None:
    """Label ``row`` (timed at n) as a closed form if its time at 2n did not grow.

    The ratio is of the fastest values at n and 2n where the row has its samples (its median
    otherwise): load on the machine only ever adds time, so the minima are what the work itself
    costs.  With medians of three values each, a loaded machine read NumPy's blocked loop as
    x1.46 for 2n, a closed form.
    """
    base = min(row["samples_s"]) if row.get("samples_s") else row["median_s"]
    ratio, closed = closed_form_ratio(base, min(samples_2n))
    row["doubling_ratio"] = ratio
    if closed:
        row["closed_form"] = True
        row["notes"].append(f"time does not grow with n (x{ratio:.2f} for 2n): the compiler removed the loop; not loop speed")


def compiled_problem(name: str, module: Any = None) -> str:
    """Return why a route does not run the code its registry kind claims ("" if it does).

    The proof is :func:`ffilab._proof.route_problem`: decided from what runs (the kernel
    objects' types, a call that must advance the C core's call marker, Numba dispatchers that
    compiled a nopython signature when called), never from names.
    """
    return _proof.route_problem(name, module)


def crossovers(scaling: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Smallest swept n from which each route beats python / numpy at every larger common n.

    Only verified rows are swept; rows the closed-form guard labelled (``closed_form``) are not
    loop speed and never make a crossover, for the route or as its comparison.
    """
    table: dict[tuple[str, str], dict[int, float]] = {}
    for row in scaling:
        if row.get("closed_form") or row.get("median_s") is None:
            continue
        table.setdefault((row["route"], row["kernel"]), {})[row["n"]] = row["median_s"]
    out = []
    for (route, kernel), times in sorted(table.items()):
        for versus in ("python", "numpy"):
            if route == versus or (versus, kernel) not in table:
                continue
            base = table[(versus, kernel)]
            common = sorted(set(times) & set(base))
            n_cross = None
            for n in reversed(common):
                if times[n] < base[n]:
                    n_cross = n
                else:
                    break
            out.append({"route": route, "kernel": kernel, "versus": versus, "n": n_cross})
    return out


def _cpu_flags() -> list[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return line.split(":", 1)[1].split()
    except OSError:
        pass
    return []


def metadata(config: Config) -> dict[str, Any]:
    """Machine, build and package facts recorded with every result."""
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    packages = {}
    for name in ("numpy", "cffi", "pyperf", "rich", "typer", "Cython", "pybind11", "scikit-build-core", "numba", "llvmlite"):
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu": cpu or platform.processor(),
        "cpu_flags": _cpu_flags(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "ffilab": ffilab.__version__,
        "packages": packages,
        "build": ffilab.build_info(),
        "timer": config.timer,
        "mode": config.mode,
        "processes": config.worker_processes,
        "values": config.values,
        "warmups": config.warmups,
        "min_time_s": config.min_time,
    }


def _verify_workloads(names: list[str], config: Config, progress: Callable[[str], None]) -> dict[str, dict[str, str]]:
    """Check every route on every benchmark input; return {route: {workload key: problem}}."""
    reference = ffilab.route("python")
    problems: dict[str, dict[str, str]] = {name: {} for name in names}
    checks = [(f"overhead/{call}", kernel, make) for call, kernel, make, _ in OVERHEAD_CALLS]
    checks += [(f"throughput/{w.key}", w.kernel, w.make_args) for w in throughput_workloads(config.full)
               if config.throughput and (not config.kernels or w.kernel in config.kernels)]
    works = {f"throughput/{w.key}": w for w in throughput_workloads(config.full)}
    for key, kernel, make in checks:
        args = make()
        progress(f"verifying {key}")
        want = getattr(reference, kernel)(*args)
        for name in names:
            got = getattr(ffilab.route(name), kernel)(*make())
            # A large element-wise result: every element within 1e-9 and verify's bounds on a
            # spread sample (verify's per-element bounds are Python: 0.8 s per route here).
            if isinstance(want, np.ndarray) and want.size > _sweep_module.SAMPLE:
                problem = _sweep_module.verify_elementwise(kernel, got, want, args)
            else:
                problem = compare_results(kernel, got, want, args)
            if problem:
                problems[name][key] = problem
            for (v_route, variant, v_kernel), (v_fn, v_args) in VARIANTS.items():
                if v_route == name and v_kernel == kernel and key in works:
                    problem = compare_results(kernel, v_fn(*v_args(works[key].n)), want, args)
                    if problem:
                        problems[name][f"variant/{variant}/{works[key].key}"] = problem
    return problems


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


def _overhead_worker(names: list[str], skip: list[str], timer: str, rounds: int, extra: dict[str, str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "ffilab.bench.overhead", "--rounds", str(rounds), "--timer", timer]
    for name in names:
        cmd += ["--route", name]
    for key in skip:
        cmd += ["--skip", key]
    for name, module in extra.items():
        cmd += ["--extra", f"{name}={module}"]
    # One fixed hash seed: dictionary layouts (and with them a little of every call's cost) then
    # do not change from run to run.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        why = f"signal {-proc.returncode}" if proc.returncode < 0 else f"status {proc.returncode}"
        raise RuntimeError(f"the overhead worker ended with {why}: {proc.stderr.strip()[-600:]}")
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def overhead_suite(names: list[str], *, processes: int, rounds: int, timer: str = "cpu", skip: list[str] | None = None,
                   extra: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Time the overhead calls of ``names`` and the floors, interleaved, in ``processes`` workers.

    Each worker (:mod:`ffilab.bench.overhead`) times every entry in one process, in ``rounds``
    rounds of short bursts; the workers' samples are pooled, so that no one process's memory
    layout decides a figure.  Every figure is also given as a multiple of the same process's
    ``builtin abs`` floor (``ratio_*``).

    Parameters
    ----------
    names : list of str
        Routes to time (already verified).
    processes, rounds : int
        Worker processes, one after another, and rounds per worker.
    timer : str
        ``cpu`` (the thread's CPU time) or ``wall``.
    skip : list of str, optional
        ``route/call`` entries to leave out.
    extra : dict, optional
        Name -> importable module timed like a route.

    Returns
    -------
    rows : list of dict
        One per measured entry (floors first), status ``ok``, in the results format's overhead
        fields; empty if a worker failed.
    info : dict
        The ``overhead_method`` section: method, processes, rounds, unroll, burst_s, timer,
        harness_s (the loop's own cost per call, subtracted), abs_s (the run's abs floor, the
        divisor of every ratio), failure ("" or why a worker failed).
    """
    pooled: dict[tuple[str, str], dict[str, Any]] = {}
    meta: list[dict[str, Any]] = []
    failure = ""
    for _ in range(processes):
        try:
            result = _overhead_worker(names, list(skip or []), timer, rounds, dict(extra or {}))
        except RuntimeError as exc:
            failure = str(exc)
            break
        meta.append({k: v for k, v in result.items() if k != "rows"})
        for row in result["rows"]:
            entry = pooled.setdefault((row["route"], row["call"]), {"route": row["route"], "call": row["call"],
                                                                  "kernel": row["kernel"], "args": row["args"],
                                                                  "samples_s": [], "process_medians_s": []})
            entry["samples_s"] += row["samples_s"]
            entry["process_medians_s"].append(statistics.median(row["samples_s"]))
    harness = [m["harness_s"] for m in meta]
    info = {"method": "interleaved", "processes": len(meta), "rounds": rounds, "unroll": meta[0]["unroll"] if meta else None,
            "burst_s": meta[0]["burst_s"] if meta else None, "timer": timer,
            "harness_s": statistics.median(harness) if harness else None, "failure": failure}
    rows: list[dict[str, Any]] = []
    if failure or (FLOOR_ROUTE, "builtin abs") not in pooled:
        return rows, info
    # One divisor per run (the abs floor's median over all its samples), not one per process:
    # the ratios are then the run's times on the scale of its own abs, and no process's abs
    # figure (which moves with that process's memory layout like any other) leaks into the rest.
    abs_s = statistics.median(pooled[(FLOOR_ROUTE, "builtin abs")]["samples_s"])
    info["abs_s"] = abs_s
    for entry in pooled.values():
        ratios = [v / abs_s for v in entry["samples_s"]]
        ratio = stats.summarize(ratios)
        medians = entry["process_medians_s"]
        rows.append({**{k: entry[k] for k in ("route", "call", "kernel", "args")}, "status": "ok",
                     "samples_s": entry["samples_s"], **summarize(entry["samples_s"]),
                     "ratio_samples": ratios, "ratio_to_abs": ratio.median, "ratio_q1": ratio.q1, "ratio_q3": ratio.q3,
                     "process_medians_s": medians,
                     # How far this row's figure moves from one process to the next in this run:
                     # the run-to-run noise that ffilab compare must not call a change.
                     "process_spread": (max(medians) - min(medians)) / statistics.median(medians)
                     if len(medians) > 1 and statistics.median(medians) > 0 else 0.0})
    return rows, info


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
    problems = _verify_workloads(names, config, progress)
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
