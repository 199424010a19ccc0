"""The parts of ``ffilab bench`` shared beyond its run: the configuration, statistics and guards, metadata, verification and the overhead suite.

:mod:`ffilab.bench.runner` composes them into a run; :mod:`ffilab.bench.agreement` and the tests
use them on their own.  How the bench measures, and why, is told in :mod:`ffilab.bench`.
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
from typing import Any

import numpy as np

import ffilab
from ffilab import _proof, stats
from ffilab.bench import _sweep as _sweep_module
from ffilab.bench.overhead import FLOOR_ROUTE
from ffilab.bench.workloads import OVERHEAD_CALLS, VARIANTS, throughput_workloads
from ffilab.bounds import compare_results

__all__ = ["CLOSED_FORM_RATIO", "FORMAT", "QUICK_FIRST_CALLS", "Config", "apply_closed_form_guard", "closed_form_ratio",
           "compiled_problem", "crossovers", "metadata", "overhead_suite", "summarize", "verify_workloads"]

FORMAT = "ffilab-bench/3"
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


def verify_workloads(names: list[str], config: Config, progress: Callable[[str], None]) -> dict[str, dict[str, str]]:
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

