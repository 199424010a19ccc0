"""The pyperf script behind ``ffilab bench``: one route's benchmarks, in pyperf worker processes.

``ffilab bench`` runs ``python -m ffilab.bench._pyperf_script --ffilab-route R ... -o FILE``;
pyperf's manager then re-runs this script as worker processes that calibrate the loop count, warm
up and record values (``pyperf.Runner.bench_time_func``).  The time function is ours so that the
user can choose CPU time (``time.process_time``, steadier on a shared machine) or wall time.

Benchmark names: ``overhead/<route>/<call>``, ``throughput/<route>/<kernel>/<label>``,
``variant/<route>/<variant>/<kernel>/<label>`` (the lesson's other ways of writing a kernel) and
``guard/<route>/sum_of_squares/<label>`` (the same kernel at twice the size, for the honesty guard).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pyperf

FLOOR_ROUTE = "(floor)"


def make_timefunc(fn: Callable[..., Any] | None, args: tuple[Any, ...], timer: str) -> Callable[[int], float]:
    """Return ``timefunc(loops) -> seconds`` calling ``fn(*args)`` ``loops`` times.

    The loop is specialised by argument count so that every route pays the same, minimal call
    syntax (no ``*args`` unpacking for the one- and two-argument calls); ``fn=None`` times the
    empty loop itself.  The returned function calls ``fn(*args)`` once, untimed, before its first
    timing (:func:`_first_call_untimed`).
    """
    return _first_call_untimed(_make_loop(fn, args, timer), fn, args)


def _first_call_untimed(loop: Callable[[int], float], fn: Callable[..., Any] | None,
                        args: tuple[Any, ...]) -> Callable[[int], float]:
    # A JIT route compiles a kernel at its first call (or loads it from its cache): hundreds of
    # milliseconds.  pyperf drops its warm-up values, but its loop calibration starts with one
    # loop and stops doubling once a value lasts min_time, so a compiling first call would fix
    # loops=1 for a 100 ns call.  So each worker calls the function once before pyperf sees any
    # time, every route alike (ffilab bench measures first calls on their own).  Only the
    # worker running this benchmark pays: pyperf calls timefunc in that worker alone.
    pending = fn is not None

    def timefunc(loops: int) -> float:
        nonlocal pending
        if pending:
            pending = False
            fn(*args)  # type: ignore[misc]
        return loop(loops)

    return timefunc


def _make_loop(fn: Callable[..., Any] | None, args: tuple[Any, ...], timer: str) -> Callable[[int], float]:
    clock = time.process_time if timer == "cpu" else time.perf_counter
    if fn is None:
        def timefunc(loops: int) -> float:
            t0 = clock()
            for _ in range(loops):
                pass
            return clock() - t0
    elif len(args) == 1:
        (a,) = args

        def timefunc(loops: int) -> float:
            t0 = clock()
            for _ in range(loops):
                fn(a)
            return clock() - t0
    elif len(args) == 2:
        a, b = args

        def timefunc(loops: int) -> float:
            t0 = clock()
            for _ in range(loops):
                fn(a, b)
            return clock() - t0
    else:
        def timefunc(loops: int) -> float:
            t0 = clock()
            for _ in range(loops):
                fn(*args)
            return clock() - t0
    return timefunc


def _add_args(cmd: list[str], args: Any) -> None:
    # Forward ffilab's options to the worker processes pyperf spawns.
    cmd.extend(["--ffilab-route", args.ffilab_route, "--ffilab-timer", args.ffilab_timer,
                "--ffilab-mode", args.ffilab_mode, "--ffilab-suites", args.ffilab_suites,
                "--ffilab-kernels", args.ffilab_kernels])


def main() -> None:
    import sys

    runner = pyperf.Runner(add_cmdline_args=_add_args, program_args=("-m", "ffilab.bench._pyperf_script"))
    parser = runner.argparser
    parser.add_argument("--ffilab-route", required=True)
    parser.add_argument("--ffilab-timer", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--ffilab-mode", choices=("quick", "full"), default="quick")
    parser.add_argument("--ffilab-suites", default="overhead,throughput")
    parser.add_argument("--ffilab-kernels", default="")
    args = runner.parse_args()

    from ffilab.bench.workloads import FLOORS, OVERHEAD_CALLS, VARIANTS, throughput_workloads

    route_name = args.ffilab_route
    suites = set(args.ffilab_suites.split(","))
    kernels = set(filter(None, args.ffilab_kernels.split(",")))
    timer = args.ffilab_timer

    if route_name == FLOOR_ROUTE:
        for call, _what, fn, fargs in FLOORS:
            runner.bench_time_func(f"overhead/{FLOOR_ROUTE}/{call}", make_timefunc(fn, fargs, timer))
        return

    import ffilab

    module = ffilab.route(route_name)
    if "overhead" in suites:
        for call, kernel, make, _text in OVERHEAD_CALLS:
            runner.bench_time_func(f"overhead/{route_name}/{call}", make_timefunc(getattr(module, kernel), make(), timer))
    if "throughput" in suites:
        for work in throughput_workloads(args.ffilab_mode == "full"):
            if kernels and work.kernel not in kernels:
                continue
            fn = getattr(module, work.kernel)
            runner.bench_time_func(f"throughput/{route_name}/{work.key}", make_timefunc(fn, work.make_args(), timer))
            for (v_route, variant, v_kernel), (v_fn, v_args) in VARIANTS.items():
                if v_route == route_name and v_kernel == work.kernel:
                    runner.bench_time_func(f"variant/{route_name}/{variant}/{work.key}", make_timefunc(v_fn, v_args(work.n), timer))
            if work.kernel == "sum_of_squares" and route_name != "python":
                doubled = (2 * work.n,)
                runner.bench_time_func(f"guard/{route_name}/{work.key}", make_timefunc(fn, doubled, timer))


if __name__ == "__main__":
    main()
