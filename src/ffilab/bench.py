"""``ffilab bench``: every available route timed side by side on the lesson's kernels.

Method (kept deliberately simple and stated in the output):

* every route's result on the benchmark input is first compared with the reference's, with the
  bounds of :mod:`ffilab.verify`; a route that disagrees is reported as failing and not timed;
* each timing calibrates its loop count until one repeat takes at least ``min_time`` of CPU time
  (``time.process_time``: steadier than wall time on a shared machine), runs one warm-up repeat,
  then ``repeats`` repeats; the median time per call is reported with the interquartile range,
  and a spread of 10 % or more of the median is flagged as unstable;
* the kernel is called exactly as a user calls it: the route's public function object, so a route
  that needs a Python wrapper (ctypes, cffi) pays for it;
* the honesty guard: ``sum_of_squares`` is also timed at twice the size; a compiled loop takes
  about twice as long, so a ratio below 1.5 marks a compiler that replaced the loop by a formula.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

import ffilab
from ffilab.verify import compare_results

__all__ = ["Measurement", "Workload", "measure", "run", "workloads"]


@dataclass(frozen=True)
class Workload:
    """One kernel call to time: the kernel, a label, and its arguments."""

    kernel: str
    label: str
    args: tuple[Any, ...]
    python_ok: bool = True  # False where the pure-Python reference would take minutes


@dataclass
class Measurement:
    """The timing of one workload on one route (seconds per call)."""

    route: str
    kernel: str
    label: str
    status: str
    median_s: float = float("nan")
    q1_s: float = float("nan")
    q3_s: float = float("nan")
    loops: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def spread(self) -> float:
        return (self.q3_s - self.q1_s) / self.median_s if self.median_s > 0 else float("nan")


def workloads(full: bool = False) -> list[Workload]:
    """Return the benchmark's workloads: the lesson's sizes with ``full``, smaller ones otherwise."""
    rng = np.random.default_rng(42)
    n_arr = 10_000_000 if full else 1_000_000
    n_geo = 100_000
    a = rng.normal(size=n_arr)
    b = rng.normal(size=n_arr)
    lats = rng.uniform(-90, 90, n_geo)
    lons = rng.uniform(-180, 180, n_geo)
    pts = rng.normal(size=(n_arr // 10, 2))
    sos = 100_000_000 if full else 5_000_000
    return [
        Workload("circle_area", "one scalar call", (1.5,)),
        Workload("sum_of_squares", f"n={sos:,}", (sos,)),
        Workload("primes", "below 10,000" if full else "below 3,000", (10_000 if full else 3_000,)),
        Workload("fast_sum", f"n={n_arr:,}", (a,)),
        Workload("fast_dot", f"n={n_arr:,}", (a, b)),
        Workload("fast_norm", f"n={n_arr:,}", (a,)),
        Workload("scale_and_shift", f"n={n_arr:,}", (a, 2.0, 1.0)),
        Workload("compute_distances", f"n={n_arr // 10:,}", (pts,)),
        Workload("haversine_many", f"n={n_geo:,} (New York)", (40.7128, -74.0060, lats, lons)),
        Workload("find_nearest_k", f"n={n_geo:,}, k=5", (40.7128, -74.0060, lats, lons, 5)),
    ]


def _time(fn: Callable[..., Any], args: tuple[Any, ...], loops: int) -> float:
    start = time.process_time()
    for _ in range(loops):
        fn(*args)
    return time.process_time() - start


def measure(fn: Callable[..., Any], args: tuple[Any, ...], *, repeats: int = 7, min_time: float = 0.05) -> tuple[list[float], int]:
    """Return per-call CPU times of ``repeats`` repeats and the calibrated loop count."""
    loops = 1
    while True:
        elapsed = _time(fn, args, loops)
        if elapsed >= min_time or loops >= 10**7:
            break
        loops *= 10 if elapsed < min_time / 10 else 2
    _time(fn, args, loops)  # warm-up repeat
    return [_time(fn, args, loops) / loops for _ in range(repeats)], loops


def run(
    route_names: list[str] | None = None,
    kernels: list[str] | None = None,
    *,
    full: bool = False,
    repeats: int = 7,
    min_time: float = 0.05,
    progress: Callable[[str], None] | None = None,
) -> list[Measurement]:
    """Verify, then time every selected workload on every selected route."""
    reference = ffilab.route("python")
    names = route_names or [s.name for s in ffilab.ROUTES]
    reasons = {info.name: info.reason for info in ffilab.routes()}
    out: list[Measurement] = []
    for work in workloads(full):
        if kernels and work.kernel not in kernels:
            continue
        want = getattr(reference, work.kernel)(*work.args) if work.python_ok else None
        for name in names:
            if progress:
                progress(f"{work.kernel} / {name}")
            m = Measurement(name, work.kernel, work.label, "ok")
            if reasons[name]:
                m.status = f"unavailable: {reasons[name]}"
                out.append(m)
                continue
            module = ffilab.route(name)
            fn = getattr(module, work.kernel)
            problem = compare_results(work.kernel, fn(*work.args), want, work.args)
            if problem:
                m.status = f"FAILS verification, not timed: {problem}"
                out.append(m)
                continue
            times, m.loops = measure(fn, work.args, repeats=repeats, min_time=min_time)
            q = statistics.quantiles(times, n=4)
            m.median_s, m.q1_s, m.q3_s = statistics.median(times), q[0], q[2]
            if m.spread >= 0.10:
                m.notes.append(f"unstable: IQR {m.spread:.0%} of the median")
            if work.kernel == "sum_of_squares" and name not in ("python",):
                double = (work.args[0] * 2,)
                t2 = statistics.median(measure(fn, double, repeats=3, min_time=min_time)[0])
                if t2 / m.median_s < 1.5:
                    m.notes.append(f"time does not grow with n (x{t2 / m.median_s:.2f} for 2n): loop removed by the compiler?")
            out.append(m)
    return out


def metadata() -> dict[str, Any]:
    """Machine and build facts recorded with every result."""
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    import os

    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu": cpu or platform.processor(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "ffilab": ffilab.__version__,
        "build": ffilab.build_info(),
        "timer": "time.process_time (CPU time of this process)",
    }


def to_json(measurements: list[Measurement]) -> str:
    """Serialise the results with their metadata."""
    rows = [dict(asdict(m), spread=m.spread) for m in measurements]
    return json.dumps({"format": "ffilab-bench/1", "metadata": metadata(), "results": rows}, indent=2)
