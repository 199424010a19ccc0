"""Hand-written routes, estimated; then Amdahl's law with the measured p, a ranking and one recommendation.

A hand-written route (C API, pybind11, nanobind, PyO3, typed Cython, cffi, ctypes) cannot be
tried on the user's function without writing it, so its time per call is bounded from what this
machine measured for ffilab's own kernels: the route's per-call overhead (a scalar float call,
``circle_area(1.5)``) plus the function's work divided by the speedups the route reached on the
lesson's kernels of similar shape (float loops: ``haversine_many``, ``fast_dot``,
``compute_distances``; integer loops: ``primes``). The spread of those speedups is the estimate's
range. The numbers come from an ``ffilab bench`` results file, or from a quick measurement now.
"""

from __future__ import annotations

import math
import statistics
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["HAND_WRITTEN", "KERNEL_GROUPS", "Prediction", "RouteCosts", "amdahl", "estimate_rows", "from_results",
           "measure_quick", "recommend", "shape_of"]

#: The routes whose code is written by hand, estimated (never tried).
HAND_WRITTEN = ("capi", "pybind11", "nanobind", "pyo3", "cython", "cffi_api", "cffi_abi", "ctypes")

#: The smallest predicted overall speedup worth recommending a route for.
MIN_GAIN = 1.1

#: Lesson kernels by the shape of their work: what a user function of that shape is compared with.
KERNEL_GROUPS = {"float": ("haversine_many", "fast_dot", "compute_distances"), "int": ("primes",)}


@dataclass
class RouteCosts:
    """Per-route numbers of this machine: scalar call overhead and kernel speedups over pure Python.

    Attributes
    ----------
    source : str
        Where they come from (a results file, or "measured now").
    overhead_s : dict
        ``{route: seconds}`` of one ``circle_area(1.5)`` call; ``python def`` is a bare Python
        function's call (the interpreted call a compiled route replaces).
    speedups : dict
        ``{route: {kernel: speedup over the python route}}``.
    unavailable : dict
        ``{route: reason}``.
    """

    source: str
    overhead_s: dict[str, float] = field(default_factory=dict)
    speedups: dict[str, dict[str, float]] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dict(self.__dict__)


def from_results(path: str | Path) -> RouteCosts:
    """Read the overhead and throughput sections of an ``ffilab bench`` results file.

    Raises
    ------
    ValueError
        Not a results file, or it lacks the python route's scalar float overhead.
    """
    from ffilab.report.results import is_ok, load_results, variant

    res = load_results(path)
    costs = RouteCosts(source=f"results file {Path(path).name} ({res.metadata.get('date', 'undated')})")
    for row in res.overhead:
        if row.get("call") == "scalar float" and is_ok(row):
            costs.overhead_s[row["route"]] = float(row["median_s"])
        elif row.get("route") == "(floor)" and row.get("call") == "python def" and is_ok(row):
            costs.overhead_s["python def"] = float(row["median_s"])
    for row in res.throughput:
        if is_ok(row) and not variant(row) and not row.get("closed_form") and row.get("speedup_vs_python"):
            costs.speedups.setdefault(row["route"], {})[row["kernel"]] = float(row["speedup_vs_python"])
    costs.unavailable = res.unavailable_routes()
    if "python" not in costs.overhead_s:
        raise ValueError(f"results: {path} has no 'scalar float' overhead row of the python route (run ffilab bench without -r)")
    return costs


def _best_time(fn: Callable[..., Any], args: tuple[Any, ...], budget_s: float = 0.02, repeats: int = 3) -> float:
    """Best seconds per call of ``fn(*args)`` in the thread's CPU time, called as a program calls it."""
    names = [f"a{i}" for i in range(len(args))]
    # timeit compiles `f(a0, a1)` into its own loop: a plain call, no lambda or *args around it.
    timer = timeit.Timer(f"f({', '.join(names)})", globals={"f": fn, **dict(zip(names, args))}, timer=time.thread_time)
    once = max(timer.timeit(1), 1e-8)  # also the warm-up call
    loops = max(1, int(budget_s / once))
    return min(timer.repeat(repeats, loops)) / loops


def _python_call(x: float) -> float:
    return x


def measure_quick(progress: Callable[[str], None] | None = None) -> RouteCosts:
    """Measure each available route's scalar call and its speedup on the shape kernels, now (a few seconds)."""
    import ffilab

    rng = np.random.default_rng(0)
    lats, lons = rng.uniform(-90, 90, 4000), rng.uniform(-180, 180, 4000)
    a, b = rng.random(40_000), rng.random(40_000)
    pts = rng.random((120, 2))
    work: dict[str, tuple[Any, ...]] = {
        "haversine_many": (40.7, -74.0, lats, lons),
        "fast_dot": (a, b),
        "compute_distances": (pts,),
        "primes": (3000,),
    }
    costs = RouteCosts(source="measured now (quick, thread CPU time, best of 3)")
    # The interpreted call a compiled route replaces: a bare Python function of one argument.
    costs.overhead_s["python def"] = _best_time(_python_call, (1.5,), 0.01)
    times: dict[str, dict[str, float]] = {}
    infos = {i.name: i for i in ffilab.routes()}
    for name in ("python", *HAND_WRITTEN):
        info = infos.get(name)
        if info is None or not info.available:
            costs.unavailable[name] = info.reason if info else "not a route of this ffilab"
            continue
        if progress:
            progress(f"measuring the {name} route's call overhead and kernels")
        module = ffilab.route(name)
        costs.overhead_s[name] = _best_time(module.circle_area, (1.5,), 0.01)
        times[name] = {k: _best_time(getattr(module, k), args) for k, args in work.items()}
    base = times.get("python", {})
    for name, kt in times.items():
        costs.speedups[name] = {k: base[k] / t for k, t in kt.items() if k in base and t > 0}
    return costs


def shape_of(calls: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> str:
    """``float``, ``int`` or ``""``: what the recorded arguments hold, to pick the lesson kernels of similar shape."""
    kinds: set[str] = set()

    def visit(v: Any, depth: int = 0) -> None:
        if isinstance(v, bool):
            return
        if isinstance(v, (float, np.floating)):
            kinds.add("float")
        elif isinstance(v, (int, np.integer)):
            kinds.add("int")
        elif isinstance(v, np.ndarray):
            kinds.add("float" if v.dtype.kind in "fc" else "int" if v.dtype.kind in "iu" else "other")
        elif isinstance(v, (list, tuple)) and depth < 3:
            for x in v[:3]:
                visit(x, depth + 1)
        elif not isinstance(v, (list, tuple)):
            kinds.add("other")

    for args, kwargs in calls[:5]:
        for v in [*args, *kwargs.values()]:
            visit(v)
    if "float" in kinds:
        return "float"
    if "int" in kinds:
        return "int"
    return ""


def amdahl(total_s: float, part_s: float, speedup: float, setup_s: float = 0.0) -> float:
    """Overall speedup of a run of ``total_s`` whose part ``part_s`` (the function) gets ``speedup`` times faster.

    Amdahl's law, ``1 / ((1 - p) + p / s)`` with ``p = part_s / total_s``, plus any one-time cost
    the faster version brings (``setup_s``: a JIT's import and compilation).
    """
    if speedup <= 0:
        return 0.0
    new_total = total_s - part_s + part_s / speedup + setup_s
    return total_s / new_total if new_total > 0 else math.inf


@dataclass
class Prediction:
    """One row of the ranking: a route on one function, tried (verified, timed) or estimated.

    Attributes
    ----------
    function, route : str
        Which.
    how : str
        ``tried`` or ``estimate``.
    status : str
        ``ok``, ``disagrees``, ``failed`` or ``unavailable``.
    function_speedup : float or None
        Original seconds per call / the route's (for an estimate, the central value).
    overall : float or None
        Predicted speedup of the whole program (Amdahl with the measured p, one-time costs included).
    low, high : float or None
        The estimate's range of ``overall`` (equal to ``overall`` for a tried route).
    note : str
        The reason, the first differing call, the overhead arithmetic, annotation results.
    confirmed : float or None
        ``--confirm``'s measured overall speedup.
    """

    function: str
    route: str
    how: str
    status: str
    function_speedup: float | None = None
    overall: float | None = None
    low: float | None = None
    high: float | None = None
    note: str = ""
    confirmed: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dict(self.__dict__)


def _seconds(s: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(s) >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def estimate_rows(function: str, costs: RouteCosts, *, total_s: float, part_s: float, calls: int, orig_per_call_s: float,
                  shape: str, compiled_share: float) -> list[Prediction]:
    """Estimate every hand-written route on one function.

    Parameters
    ----------
    function : str
        Its label.
    costs : RouteCosts
        This machine's route numbers.
    total_s, part_s : float
        The program's time and the part of it spent in the function.
    calls, orig_per_call_s : int, float
        The function's call count and its time per call.
    shape : str
        ``float`` or ``int`` (see :func:`shape_of`); ``""`` gives no estimate.
    compiled_share : float
        Part of the function's time no route can shorten (waiting, or already in NumPy).
    """
    rows = []
    kernels = KERNEL_GROUPS.get(shape, ())
    py_call = costs.overhead_s.get("python def", costs.overhead_s.get("python", 0.0))
    fixed = orig_per_call_s * compiled_share
    work = max(orig_per_call_s - fixed - py_call, 0.0)
    for route in HAND_WRITTEN:
        label = "cython (by hand)" if route == "cython" else route
        if route in costs.unavailable or route not in costs.overhead_s:
            missing = "not in the results file" if costs.source.startswith("results file") else "not measured"
            rows.append(Prediction(function, label, "estimate", "unavailable", note=costs.unavailable.get(route, missing)))
            continue
        speeds = [x for x in (costs.speedups.get(route, {}).get(k) for k in kernels) if x]
        if not speeds:
            rows.append(Prediction(function, label, "estimate", "unavailable",
                                   note="no lesson kernel of this shape measured" if kernels else "arguments of no lesson kernel's shape (floats or ints)"))
            continue
        ov = costs.overhead_s[route]

        def per_call(s: float) -> float:
            return ov + work / s + fixed

        central = per_call(statistics.median(speeds))
        overall = amdahl(total_s, part_s, orig_per_call_s / central)
        lo = amdahl(total_s, part_s, orig_per_call_s / per_call(min(speeds)))
        hi = amdahl(total_s, part_s, orig_per_call_s / per_call(max(speeds)))
        added = calls * ov
        note = f"{calls:,} calls x {_seconds(ov)}; work {min(speeds):.3g}-{max(speeds):.3g}x faster"
        if overall < 1.0 and added >= part_s * 0.5:
            note = f"adds {_seconds(added)} of call overhead to a function of {_seconds(part_s)}: slower"
        rows.append(Prediction(function, label, "estimate", "ok", function_speedup=orig_per_call_s / central,
                               overall=overall, low=lo, high=hi, note=note))
    return rows


def recommend(rows: list[Prediction], *, waiting_share: float, kinds: dict[str, str], callers: dict[str, str]) -> tuple[str, str]:
    """One recommendation with its reason: ``(route or "none", reason)``.

    A tried route that agrees with the original and gains at least :data:`MIN_GAIN` overall is
    recommended (the hand-written estimate named beside it when higher); otherwise the hand-written
    route whose low estimate is best, if it gains that much; a disagreeing variant is never chosen.
    """
    if waiting_share >= 0.5:
        return "none", (f"the program waits {waiting_share:.0%} of its time (sleep, I/O, locks): no compiled route shortens "
                        "waiting; overlap it (threads, asyncio) or wait less")
    tried = [r for r in rows if r.how == "tried" and r.status == "ok" and r.overall is not None]
    est = [r for r in rows if r.how == "estimate" and r.status == "ok" and r.overall is not None]
    best_tried = max(tried, key=lambda r: r.overall or 0.0, default=None)
    best_est = max(est, key=lambda r: r.low or 0.0, default=None)
    if best_tried and best_tried.overall and best_tried.overall >= MIN_GAIN:
        # Verified beats estimated: a tried route needs no code written and was checked on the real
        # calls; a hand-written one is named beside it when even its low estimate is higher.
        r = best_tried
        reason = (f"{r.route} on {r.function}: {r.function_speedup:.3g}x on the function, verified on the recorded calls; "
                  f"{r.overall:.3g}x overall predicted" + (f", {r.confirmed:.3g}x measured (--confirm)" if r.confirmed else ""))
        if best_est and best_est.low and best_est.low > (r.overall or 0.0):
            reason += (f". Written by hand, {best_est.route} could reach {best_est.low:.3g}-{best_est.high:.3g}x overall "
                       "(estimate): worth it only if that gain pays for maintaining native code")
        return r.route, reason
    if best_est and best_est.low and best_est.low >= MIN_GAIN:
        r = best_est
        tail = f"; the best tried route, {best_tried.route}, gives {best_tried.overall:.3g}x" if best_tried and best_tried.overall else ""
        return r.route, (f"rewrite {r.function} by hand for this route: estimated {r.low:.3g}-{r.high:.3g}x overall "
                         f"from this machine's call overhead and kernel speedups{tail}")
    hot = next(iter(kinds), "")
    kind = kinds.get(hot, "")
    if kind == "NumPy":
        best = max([r.overall or 1.0 for r in rows if r.status == "ok"] or [1.0])
        return "none", f"{hot} already spends its time in NumPy's compiled loops: no route gains more than {best:.3g}x; look for a better algorithm"
    if kind == "many tiny calls":
        caller = callers.get(hot)
        move = f" (e.g. compile its caller {caller})" if caller else ""
        return "none", (f"{hot} does too little per call: every route's call overhead eats the gain; move the loop into "
                        f"compiled code{move} or pass arrays (NumPy)")
    return "none", f"no route predicts {MIN_GAIN}x or more overall here"
