"""Scaling sweep worker: ``python -m ffilab.bench._sweep MODE TIMER ROUTE...`` prints JSON.

Every number it prints is verified and guarded:

* **verified at every size it times**: before timing a size, every route's result at that size
  is compared with the reference's (:func:`ffilab.bounds.compare_results`; a large element-wise
  result must equal the reference's within 1e-9 relative everywhere and meet verify's bounds on
  10**4 evenly spread elements, see :func:`verify_elementwise`); a route that disagrees gets a
  ``problems`` entry and is not swept further (its earlier, verified sizes stay).
  Above :data:`VERIFY_FULL_MAX` (the ``--full`` sizes) the reference would take minutes, so
  ``sum_of_squares`` is checked against its exact closed form and the element-wise kernels
  (``fast_sum`` excepted, whose reference stays cheap) on a prefix of :data:`PREFIX` elements;
* **guarded**: a route's ``sum_of_squares`` is timed again at four times its largest swept n
  (at most 1e6); a time that does not grow (ratio below 1.5, a loop gives about 4) means a closed
  form, not a loop, and every row of that route and kernel is labelled ``closed_form`` (never a
  crossover);
* **interleaved**: at each size, the routes still in the sweep are timed in rounds, one burst per
  route per round in a rotated order, on the thread's CPU clock; small sizes use the overhead
  suite's unrolled burst (:func:`ffilab.bench.overhead.make_burst`), so the harness stays out of
  the small-n figures that crossovers are read from.

All routes run in this one process (the manager starts it once, after verifying the routes on the
benchmark's other inputs).  A route stops growing n once one call takes longer than the mode's
budget, so the pure-Python route ends early instead of running for minutes.  Each kernel is called
once before any timing, so a JIT route's compilation is never part of a sweep point.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

BURST_S = 0.01
ROUNDS = {"quick": 3, "full": 7}
BUDGET_S = {"quick": 0.3, "full": 3.0}
#: Up to this n every size is verified against the reference itself.
VERIFY_FULL_MAX = 10**6
#: Elements of an element-wise result compared with the reference above VERIFY_FULL_MAX.
PREFIX = 10**5
#: The closed-form guard: time at GUARD_FACTOR * n over time at n (n = the route's largest swept
#: size, at most GUARD_MAX_N) must reach GUARD_RATIO; a loop gives about GUARD_FACTOR.
GUARD_FACTOR = 4
GUARD_RATIO = 1.5
GUARD_MAX_N = 10**6
#: Elements of a large element-wise result checked with verify's own bounds (the rest within 1e-9).
SAMPLE = 10**4
#: Unrolled bursts (the overhead suite's harness) below this many elements per call.
UNROLLED_BELOW = 10**4


def _expected(kernel: str, reference: Any, make: Callable[[int], tuple[Any, ...]], n: int) -> tuple[Any, tuple[Any, ...], int | None]:
    """The reference's answer at n (once per size, shared by every route), its arguments and the prefix compared."""
    from ffilab.verify import _sos_closed_form

    if n <= VERIFY_FULL_MAX or kernel == "fast_sum":
        args = make(n)
        return reference(*args), args, None
    if kernel == "sum_of_squares":
        return _sos_closed_form(n), make(n), None
    # Element-wise kernels: element i depends on input i only, so a prefix is checked exactly
    # as the whole would be.
    short = tuple(a[:PREFIX] if getattr(a, "ndim", 0) == 1 and len(a) == n else a for a in make(n))
    return reference(*short), short, PREFIX


def _verify(kernel: str, fn: Any, make: Callable[[int], tuple[Any, ...]], n: int,
            expected: tuple[Any, tuple[Any, ...], int | None]) -> str:
    from ffilab.bounds import compare_results

    want, args, prefix = expected
    try:
        got = fn(*make(n))
    except Exception as exc:
        return f"raised {type(exc).__name__}: {exc}"
    if prefix is not None:
        got = got[:prefix]
    if isinstance(want, np.ndarray) and want.size > SAMPLE:
        return verify_elementwise(kernel, got, want, args)
    return compare_results(kernel, got, want, args)


def verify_elementwise(kernel: str, got: Any, want: np.ndarray, args: tuple[Any, ...]) -> str:
    """Verify a large element-wise result (element i depends on input i only) without hours of bounds.

    Used where every array argument has the result's shape (``haversine_many``,
    ``scale_and_shift``); anything else gets :func:`ffilab.bounds.compare_results` whole.

    ``verify``'s bounds are computed per element in Python (about 8 s per 10**6 points of
    ``haversine_many``, for every route at every size: most of the sweep's time).  So: the
    whole result must be the reference's bit for bit, or within 1e-9 relative of it element by
    element (NaN where the reference has NaN); then ``verify``'s own bounds are applied to
    :data:`SAMPLE` elements spread evenly over the array.  A result that fails the fast check
    gets the full verification, whose verdict stands.
    """
    from ffilab.bounds import compare_results

    same_shape_args = all(a.shape == want.shape for a in args if isinstance(a, np.ndarray))
    if same_shape_args and type(got) is type(want) and got.shape == want.shape and got.dtype == want.dtype:
        if np.array_equal(got, want, equal_nan=True) or np.allclose(got, want, rtol=1e-9, atol=0.0, equal_nan=True):
            idx = np.unique(np.linspace(0, want.size - 1, SAMPLE).astype(np.intp))
            sampled = tuple(a[idx] if isinstance(a, np.ndarray) and a.shape == want.shape else a for a in args)
            return compare_results(kernel, got[idx], want[idx], sampled)
    return compare_results(kernel, got, want, args)


def _time_interleaved(calls: dict[str, tuple[Any, tuple[Any, ...]]], n: int, rounds: int,
                      clock: Callable[[], int]) -> dict[str, list[float]]:
    from ffilab.bench.overhead import make_burst

    unroll = 16 if n < UNROLLED_BELOW else 1
    bursts = {name: make_burst(fn, args, clock, unroll=unroll) for name, (fn, args) in calls.items()}
    iterations: dict[str, int] = {}
    for name, burst in bursts.items():
        it = 1
        while True:
            elapsed = burst(it)
            if elapsed >= BURST_S * 1e9 or it >= 1 << 22:
                break
            it = max(it * 2, int(it * BURST_S * 1e9 / max(elapsed, 1) * 1.1)) if elapsed > BURST_S * 5e7 else it * 10
        iterations[name] = it
    names = list(bursts)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds + 1):  # round 0 is the warm-up
        for k in range(len(names)):
            name = names[(k + r) % len(names)]
            ns = bursts[name](iterations[name])
            if r:
                samples[name].append(ns * 1e-9 / (iterations[name] * unroll))
    return samples


def sweep(modules: dict[str, ModuleType], mode: str, timer: str, kernels: list[str] | None = None,
          sizes: list[int] | None = None) -> dict[str, Any]:
    """Sweep every kernel of :data:`ffilab.bench.workloads.SWEEP_KERNELS` over the mode's sizes.

    Parameters
    ----------
    modules : dict
        Route name -> route module (the tests pass impostor modules here).
    mode : str
        ``quick`` or ``full`` (sizes, rounds and the per-call budget).
    timer : str
        ``cpu`` (the thread's CPU time) or ``wall``.
    kernels, sizes : list, optional
        Restrict the kernels; replace the mode's sizes.

    Returns
    -------
    dict
        ``rows`` (route, kernel, n, median_s, q1_s, q3_s, per_element_s, closed_form, notes),
        ``problems`` (route, kernel, n, status: the size where a route failed verification) and
        ``guard`` (route, kernel, n, factor, ratio, closed_form).
    """
    import ffilab
    from ffilab.bench.workloads import SWEEP_KERNELS, sweep_sizes

    clock = time.thread_time_ns if timer == "cpu" else time.perf_counter_ns
    reference_module = ffilab.route("python")
    ns_list = sizes or sweep_sizes(mode == "full")
    rows: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    guards: list[dict[str, Any]] = []
    gc.collect()
    for kernel, make in SWEEP_KERNELS.items():
        if kernels and kernel not in kernels:
            continue
        reference = getattr(reference_module, kernel)
        fns = {name: getattr(module, kernel) for name, module in modules.items()}
        for fn in fns.values():
            fn(*make(ns_list[0]))  # a JIT kernel compiles here, untimed
        active = list(fns)
        last_n: dict[str, int] = {}
        for n in ns_list:
            expected = _expected(kernel, reference, make, n)
            for name in list(active):
                problem = _verify(kernel, fns[name], make, n, expected)
                if problem:
                    problems.append({"route": name, "kernel": kernel, "n": n, "status": f"fails verification: {problem}"})
                    active.remove(name)
            if not active:
                break
            args = make(n)
            samples = _time_interleaved({name: (fns[name], args) for name in active}, n, ROUNDS[mode], clock)
            for name in list(active):
                median = statistics.median(samples[name])
                q = statistics.quantiles(samples[name], n=4, method="inclusive") if len(samples[name]) > 1 else [median] * 3
                rows.append({"route": name, "kernel": kernel, "n": n, "median_s": median, "q1_s": q[0], "q3_s": q[2],
                             "per_element_s": median / n, "closed_form": False, "notes": []})
                last_n[name] = n
                if median > BUDGET_S[mode]:
                    active.remove(name)
        if kernel != "sum_of_squares":
            continue
        # The honesty guard at each route's largest swept n (at most GUARD_MAX_N): a loop takes
        # about GUARD_FACTOR times as long at GUARD_FACTOR * n, a closed form about as long.
        # Four times, not twice: NumPy's blocked sum costs 5.8 ms at 1e6 and 6.4 ms at 2e6 here
        # (a fresh 8 MB block per call at 1e6), which a doubling would read as a closed form.
        for name, n_last in last_n.items():
            n = min(n_last, GUARD_MAX_N)
            if n < 10**4:
                continue  # the call's own overhead would hide the loop at this size
            timed = _time_interleaved({"n": (fns[name], make(n)), "4n": (fns[name], make(GUARD_FACTOR * n))}, n, 5, clock)
            ratio = min(timed["4n"]) / min(timed["n"])  # minima: load only ever adds time
            closed = ratio < GUARD_RATIO
            guards.append({"route": name, "kernel": kernel, "n": n, "factor": GUARD_FACTOR, "ratio": ratio, "closed_form": closed})
            if closed:
                for row in rows:
                    if row["route"] == name and row["kernel"] == kernel:
                        row["closed_form"] = True
                        row["notes"].append(f"time does not grow with n (x{ratio:.2f} for {GUARD_FACTOR}n at n={n:,}): "
                                            "a closed form, not loop speed")
    return {"rows": rows, "problems": problems, "guard": guards}


if __name__ == "__main__":
    import ffilab

    mode_arg, timer_arg, *route_args = sys.argv[1:]
    json.dump(sweep({name: ffilab.route(name) for name in route_args}, mode_arg, timer_arg), sys.stdout)
