"""Throughput worker of ``ffilab bench``: one route's workloads, interleaved, in one process.

``python -m ffilab.bench.throughput --route R --mode quick --kernels k1,k2 ...`` prints JSON:
``{"samples": {name: [seconds per call, ...]}, "loops": {name: n}}`` with the benchmark names
of the results (``throughput/<route>/<kernel>/<label>``, ``variant/<route>/<variant>/<kernel>/<label>``,
``guard/<route>/sum_of_squares/<label>``: the same kernel at twice the size, for the closed-form
guard).

Why one process per route and not pyperf's process per benchmark: pyperf starts a calibration
process and its worker processes for every benchmark, each importing NumPy, ffilab and the
route again; for twelve routes of thirteen workloads that was several hundred processes, most of
the quick benchmark's twelve minutes.  Here each workload is called once untimed (a JIT route
compiles; inputs are built outside the timer), its loop count is calibrated so that one value
lasts at least ``--min-time``, and then ``--values`` rounds time every workload once each, in a
rotated order, on the thread's CPU clock (``--timer wall``: ``time.perf_counter``).  A crash
ends this route's process only; ``ffilab bench --processes N`` pools N such processes.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["main", "measure"]


def _calibrate(run: Callable[[int], float], min_time: float) -> int:
    loops = 1
    while True:
        elapsed = run(loops)
        if elapsed >= min_time or loops >= 1 << 20:
            return loops
        loops = max(loops * 2, int(loops * min_time / max(elapsed, 1e-9) * 1.2)) if elapsed > min_time / 20 else loops * 10


def _loop(fn: Callable[..., Any], args: tuple[Any, ...], clock: Callable[[], float]) -> Callable[[int], float]:
    def run(loops: int) -> float:
        t0 = clock()
        for _ in range(loops):
            fn(*args)
        return clock() - t0

    return run


def measure(benchmarks: dict[str, tuple[Callable[..., Any], Callable[[], tuple[Any, ...]]]], values: int, min_time: float,
            timer: str = "cpu", interleave: bool = True) -> dict[str, Any]:
    """Time every benchmark ``values`` times; return samples (seconds per call) and loop counts.

    Parameters
    ----------
    benchmarks : dict
        Name -> (function, make_args).  Arguments are built before any timing of the benchmark.
    values : int
        Values per benchmark (with ``interleave``: rounds of one value per benchmark).
    min_time : float
        Seconds one value lasts at least (the loop count is calibrated to it).
    timer : str
        ``cpu`` (the thread's CPU time) or ``wall``.
    interleave : bool, default True
        Time the benchmarks in rotated rounds, all inputs alive at once; False times them one
        after another, freeing each one's inputs (``--full``: its 10**8-element arrays would not
        all fit in memory at once).
    """
    clock = time.thread_time if timer == "cpu" else time.perf_counter
    samples: dict[str, list[float]] = {name: [] for name in benchmarks}
    loops: dict[str, int] = {}

    def prepare(name: str) -> Callable[[int], float]:
        fn, make_args = benchmarks[name]
        args = make_args()
        fn(*args)  # untimed: a JIT kernel compiles here
        run = _loop(fn, args, clock)
        loops[name] = _calibrate(run, min_time)
        return run

    names = list(benchmarks)
    if not interleave:
        for name in names:
            run = prepare(name)
            gc.collect()
            samples[name] = [run(loops[name]) / loops[name] for _ in range(values)]
            del run
        return {"samples": samples, "loops": loops}
    runs = {name: prepare(name) for name in names}
    gc.collect()
    for r in range(values):
        for k in range(len(names)):
            name = names[(k + r) % len(names)]
            samples[name].append(runs[name](loops[name]) / loops[name])
    return {"samples": samples, "loops": loops}


def _sized(make: Callable[[int], tuple[Any, ...]], n: int) -> Callable[[], tuple[Any, ...]]:
    """``make`` bound to the size ``n``."""
    return lambda: make(n)


def main(argv: list[str] | None = None) -> None:
    """The worker's command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m ffilab.bench.throughput", description=__doc__.splitlines()[0])
    parser.add_argument("--route", required=True)
    parser.add_argument("--mode", choices=("quick", "full"), default="quick")
    parser.add_argument("--kernels", default="", help="comma-separated kernels (default: all)")
    parser.add_argument("--values", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=0.05)
    parser.add_argument("--timer", choices=("cpu", "wall"), default="cpu")
    args = parser.parse_args(argv)

    import ffilab
    from ffilab.bench.workloads import VARIANTS, throughput_workloads

    route = args.route
    module = ffilab.route(route)
    kernels = set(filter(None, args.kernels.split(",")))
    benchmarks: dict[str, tuple[Callable[..., Any], Callable[[], tuple[Any, ...]]]] = {}
    for work in throughput_workloads(args.mode == "full"):
        if kernels and work.kernel not in kernels:
            continue
        fn = getattr(module, work.kernel)
        benchmarks[f"throughput/{route}/{work.key}"] = (fn, work.make_args)
        for (v_route, variant, v_kernel), (v_fn, v_args) in VARIANTS.items():
            if v_route == route and v_kernel == work.kernel:
                benchmarks[f"variant/{route}/{variant}/{work.key}"] = (v_fn, _sized(v_args, work.n))
        if work.kernel == "sum_of_squares" and route != "python":
            benchmarks[f"guard/{route}/{work.key}"] = (fn, _sized(lambda n: (n,), 2 * work.n))
    json.dump(measure(benchmarks, args.values, args.min_time, args.timer, interleave=args.mode != "full"), sys.stdout)


if __name__ == "__main__":
    main()
