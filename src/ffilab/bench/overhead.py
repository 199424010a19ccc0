"""The per-call overhead suite of ``ffilab bench``: every route and the floors, interleaved in one process.

Why it is built this way (issue 14: two runs of the same build must agree):

* **one process, interleaved**: every (route, call) and every floor is timed in the same worker
  process, in rounds; each round times one short burst of every entry, in an order rotated from
  round to round.  Whatever the machine does meanwhile (another process, frequency changes,
  a cache flushed) hits every entry alike, and each entry's figure is also reported as a
  ratio to the ``builtin abs`` burst of the *same round*, which cancels most of the drift.
  The worker is one child process (``python -m ffilab.bench.overhead``), so a crash is reported
  instead of ending ``ffilab bench``; a JIT kernel's first call (compilation) happens in the
  untimed warm-up, never in a burst.
* **the smallest harness**: a burst is a generated function whose loop body is
  :data:`UNROLL` direct calls ``f(a)`` with the callable and its arguments in local variables, so
  the loop's own cost is shared by :data:`UNROLL` calls.  That cost is measured too (the same
  loop with an empty body, interleaved like the rest), reported (``harness_s``, per call) and
  subtracted from every figure.
* **the thread's CPU time** by default (``time.thread_time_ns``: time this thread ran, not time it
  waited for a CPU on a shared machine); ``--timer wall`` uses ``time.perf_counter_ns``.
  The cyclic garbage collector is off during the bursts (the calls free what they allocate by
  reference counting), so a collection never lands in one entry's burst.

The floors: a Python ``def f(x): return x``, the builtin ``abs(-1.5)``, ``math.fabs(1.5)`` (the
like-for-like builtin for a float argument) and the harness itself (``empty loop``: the loop's
cost per call, already subtracted from every other row).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["FLOOR_ROUTE", "UNROLL", "Entry", "OverheadConfig", "floor_entries", "main", "make_burst", "measure"]

FLOOR_ROUTE = "(floor)"
#: Direct calls per loop iteration of a burst: the loop's own cost is shared by this many calls.
UNROLL = 16


@dataclass
class OverheadConfig:
    """How long to measure: rounds of one burst per entry, each burst about ``burst_s`` long."""

    rounds: int = 60
    warmup_rounds: int = 3
    burst_s: float = 0.0008
    timer: str = "cpu"


@dataclass
class Entry:
    """One thing to time: ``fn(*args)``; ``fn`` None is the empty loop (the harness itself)."""

    route: str
    call: str
    kernel: str
    args_text: str
    fn: Callable[..., Any] | None
    args: tuple[Any, ...]


def _python_def(x: float) -> float:
    return x


def floor_entries() -> list[Entry]:
    """The floors timed beside the routes: what any call from Python costs at least."""
    return [
        Entry(FLOOR_ROUTE, "python def", "def f(x): return x", "1.5", _python_def, (1.5,)),
        Entry(FLOOR_ROUTE, "builtin abs", "abs(-1.5)", "-1.5", abs, (-1.5,)),
        Entry(FLOOR_ROUTE, "math.fabs", "math.fabs(1.5)", "1.5", math.fabs, (1.5,)),
        Entry(FLOOR_ROUTE, "empty loop", f"the harness loop, per call ({UNROLL} calls per iteration)", "", None, ()),
    ]


def make_burst(fn: Callable[..., Any] | None, args: tuple[Any, ...], clock: Callable[[], int],
               unroll: int = UNROLL) -> Callable[[int], int]:
    """Return ``burst(iterations) -> nanoseconds`` running ``unroll * iterations`` calls ``fn(*args)``.

    The function is generated so that the loop body is ``unroll`` (default :data:`UNROLL`) plain
    calls of local variables (no ``*args``, no attribute lookup); ``fn=None`` gives the same loop
    with an empty body, whose time is the harness's own cost.
    """
    names = [f"a{i}" for i in range(len(args))]
    params = "".join(f", {n}={n}" for n in names)
    body = "; ".join([f"f({', '.join(names)})"] * unroll) if fn is not None else "pass"
    source = (f"def burst(iterations, f=f{params}, clock=clock):\n"
              f"    t0 = clock()\n"
              f"    for _ in range(iterations):\n"
              f"        {body}\n"
              f"    return clock() - t0\n")
    namespace: dict[str, Any] = {"f": fn, "clock": clock, **dict(zip(names, args))}
    exec(compile(source, f"<ffilab overhead burst {getattr(fn, '__name__', 'empty')}>", "exec"), namespace)
    return namespace["burst"]  # type: ignore[no-any-return]


def _calibrate(burst: Callable[[int], int], target_ns: float) -> int:
    iterations = 1
    while True:
        elapsed = burst(iterations)
        if elapsed >= target_ns or iterations >= 1 << 24:
            break
        # Jump close to the target once a burst is long enough to read, else grow tenfold.
        iterations = max(iterations * 2, int(iterations * target_ns / elapsed * 1.1)) if elapsed > target_ns / 20 else iterations * 10
    return iterations


def measure(entries: list[Entry], config: OverheadConfig) -> dict[str, Any]:
    """Time every entry interleaved; return per-entry samples (seconds per call).

    Returns
    -------
    dict
        ``rows``: one per entry, in order, with ``samples_s`` (one per round, the harness's
        cost per call subtracted; :func:`ffilab.bench.overhead_suite` divides them by the run's
        ``abs`` floor); ``harness_s``: the median cost of the loop per call;
        ``iterations``: loop iterations per burst per entry.
    """
    clock = time.thread_time_ns if config.timer == "cpu" else time.perf_counter_ns
    bursts = []
    for entry in entries:
        if entry.fn is not None:
            entry.fn(*entry.args)  # a JIT kernel compiles here, untimed
        bursts.append(make_burst(entry.fn, entry.args, clock))
    loop_index = next(i for i, e in enumerate(entries) if e.fn is None)
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        iterations = [_calibrate(b, config.burst_s * 1e9) for b in bursts]
        raw: list[list[float]] = [[] for _ in entries]
        count = len(entries)
        for r in range(config.warmup_rounds + config.rounds):
            # Rotate the order each round, so no entry always follows the same neighbour.
            for k in range(count):
                i = (k + r) % count
                ns = bursts[i](iterations[i])
                if r >= config.warmup_rounds:
                    raw[i].append(ns / (iterations[i] * UNROLL) * 1e-9)
    finally:
        if gc_was_enabled:
            gc.enable()
    harness = statistics.median(raw[loop_index])
    rows = []
    for i, entry in enumerate(entries):
        if i == loop_index:
            samples = raw[i]
        else:
            samples = [max(v - harness, 0.0) for v in raw[i]]
        rows.append({"route": entry.route, "call": entry.call, "kernel": entry.kernel, "args": entry.args_text,
                     "samples_s": samples, "iterations": iterations[i] * UNROLL})
    return {"rows": rows, "harness_s": harness, "unroll": UNROLL, "rounds": config.rounds, "burst_s": config.burst_s,
            "timer": config.timer}


def route_entries(routes: list[str], extra: dict[str, str] | None = None) -> list[Entry]:
    """The overhead calls (:data:`ffilab.bench.workloads.OVERHEAD_CALLS`) of every route given.

    ``extra`` maps a name to an importable module timed like a route (its kernels that exist),
    e.g. a user's own binding beside ffilab's routes.
    """
    import importlib

    import ffilab
    from ffilab.bench.workloads import OVERHEAD_CALLS

    modules = [(name, ffilab.route(name)) for name in routes]
    modules += [(name, importlib.import_module(path)) for name, path in (extra or {}).items()]
    out = []
    for name, module in modules:
        for call, kernel, make, text in OVERHEAD_CALLS:
            if hasattr(module, kernel):
                out.append(Entry(name, call, kernel, text, getattr(module, kernel), make()))
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m ffilab.bench.overhead --route R ... [--rounds N]``: print the suite's JSON."""
    parser = argparse.ArgumentParser(prog="python -m ffilab.bench.overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--route", action="append", default=[], help="a route to time (repeatable)")
    parser.add_argument("--skip", action="append", default=[], help="route/call to leave out (failed verification)")
    parser.add_argument("--rounds", type=int, default=OverheadConfig.rounds)
    parser.add_argument("--burst", type=float, default=OverheadConfig.burst_s, help="seconds per burst")
    parser.add_argument("--timer", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=MODULE",
                        help="also time an importable module's kernels under NAME (repeatable)")
    args = parser.parse_args(argv)
    skip = set(args.skip)
    extra = dict(item.split("=", 1) for item in args.extra)
    entries = floor_entries() + [e for e in route_entries(args.route, extra) if f"{e.route}/{e.call}" not in skip]
    result = measure(entries, OverheadConfig(rounds=args.rounds, burst_s=args.burst, timer=args.timer))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
