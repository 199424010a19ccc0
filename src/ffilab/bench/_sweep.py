"""Scaling sweep worker: ``python -m ffilab.bench._sweep ROUTE MODE TIMER`` prints JSON rows.

One process per route, so a crash or a slow route cannot disturb the others.  Each size is timed
with a calibrated loop (at least ``MIN_TIME`` per repeat), one warm-up repeat and ``REPEATS``
repeats; a route stops growing n once one call takes longer than the mode's budget, so the
pure-Python route ends early instead of running for minutes.  Each kernel is called once before
any timing, so a JIT route's compilation is never part of a sweep point.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

MIN_TIME = 0.02
REPEATS = 5
BUDGET_S = {"quick": 0.3, "full": 3.0}


def _measure(fn: Any, args: tuple[Any, ...], clock: Any) -> tuple[float, int]:
    loops = 1
    while True:
        t0 = clock()
        for _ in range(loops):
            fn(*args)
        elapsed = clock() - t0
        if elapsed >= MIN_TIME or loops >= 10**7:
            break
        loops *= 10 if elapsed < MIN_TIME / 10 else 2
    samples = []
    for _ in range(REPEATS + 1):  # the first repeat is the warm-up
        t0 = clock()
        for _ in range(loops):
            fn(*args)
        samples.append((clock() - t0) / loops)
    return statistics.median(samples[1:]), loops


def sweep(route: str, mode: str, timer: str) -> list[dict[str, Any]]:
    """Time every sweep kernel of ``route`` over the mode's sizes."""
    import ffilab
    from ffilab.bench.workloads import SWEEP_KERNELS, sweep_sizes

    clock = time.process_time if timer == "cpu" else time.perf_counter
    module = ffilab.route(route)
    rows = []
    for kernel, make in SWEEP_KERNELS.items():
        fn = getattr(module, kernel)
        # The first call of a JIT kernel compiles it: make it here, untimed, or the calibration
        # below would settle on one loop at the smallest n (ffilab bench reports first calls).
        fn(*make(sweep_sizes(mode == "full")[0]))
        for n in sweep_sizes(mode == "full"):
            args = make(n)
            median, _ = _measure(fn, args, clock)
            rows.append({"route": route, "kernel": kernel, "n": n, "median_s": median, "per_element_s": median / n})
            if median > BUDGET_S[mode]:
                break
    return rows


if __name__ == "__main__":
    json.dump(sweep(sys.argv[1], sys.argv[2], sys.argv[3]), sys.stdout)
