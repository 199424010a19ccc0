"""Benchmarks of ``ffilab.nearest`` (issue #6): every goal measured side by side in one run.

``python -m ffilab.bench.nearest`` (or :func:`run`) measures, on this machine:

1. one query over the 234,908 places of the gazetteer: the lesson's routes (Python, NumPy,
   Cython) and the compiled ``fused`` scan (goal: fused >= 10x NumPy) and the ``tree``;
2. a batch of 10,000 queries, k = 10, over the gazetteer: ``tree`` against scipy's ``cKDTree``
   over unit vectors (``workers=1``) and scikit-learn's ``BallTree(metric="haversine")``, with
   index build times (goal: >= 2x the throughput of both), for queries near real places and for
   queries anywhere on Earth;
3. threads: a large batch on 1 and 2 threads (goal: >= 1.7x);
4. a 10,000,000-point synthetic set: build time, memory, batch throughput.

Method: every subject's answer is first checked against the reference (the Python route, or the
NumPy route where the Python one would take minutes) with the bounds of ``ffilab.verify``; a
subject that disagrees is reported and not timed.  cKDTree and BallTree return their own
neighbours and distances: the rows say how many answers match ours (differences are allowed only
between near-equal distances) and the largest distance difference.  Each timing is repeated
(after one warm-up call) and the median wall time is reported with the spread (IQR / median);
ratios are of medians.  cKDTree works on 3-D points, so its subject includes turning the queries'
degrees into unit vectors and its chord lengths into kilometres — what a user must do to answer
the same question; its bare ``query`` time is reported beside it, and the goal is judged against
the faster of the two.  scipy or scikit-learn missing: their rows say
``unavailable: install ffilab[bench]``.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

import ffilab
from ffilab.nearest import (
    NearestIndex,
    StrategyUnavailable,
    default_threads,
    jittered_points,
    load_gazetteer,
    uniform_points,
)
from ffilab.nearest.index import haversine_bound_km
from ffilab.report.units import fmt_time
from ffilab.stats import median_spread
from ffilab.bounds import compare_results

__all__ = ["Config", "GOALS", "print_rows", "run"]

_R = 6371.0
UNAVAILABLE_BENCH = "unavailable: install ffilab[bench]"

#: goal id -> (what, target ratio)
GOALS: dict[str, tuple[str, float | None]] = {
    "single": ("one query over the gazetteer: fused vs the NumPy route", 10.0),
    "batch": ("10,000 queries, k=10: tree (1 thread) vs cKDTree (workers=1) and BallTree", 2.0),
    "threads": ("large batch: 2 threads vs 1 thread (tree)", 1.7),
    "big": ("a large synthetic set (10,000,000 points with --full / --big-n 10000000): works within memory, throughput", None),
}


@dataclass
class Config:
    """What to measure.

    Attributes
    ----------
    repeats : int
        Timed repetitions per subject (after one warm-up).
    k_single : int
        k of the single-query benchmark.
    batch : int
        Queries in the batch benchmark.
    k : int
        k of the batch benchmarks.
    large_batch : int
        Queries in the threads benchmark.
    big_n : int
        Points of the synthetic set (0 skips it).
    threads : int
        "All threads" (default: every CPU this process may use).
    seed : int
    timer : str
        ``"auto"``: CPU time of the calling thread for single-threaded subjects, wall time for
        multi-threaded ones (ratios are only formed between rows of the same clock); ``"wall"``:
        wall time everywhere (on an idle machine).
    """

    repeats: int = 5
    k_single: int = 5
    batch: int = 10_000
    k: int = 10
    large_batch: int = 100_000
    big_n: int = 10_000_000
    threads: int = 0
    seed: int = 2024
    timer: str = "auto"

    def timer_for(self, threads: int) -> str:
        """The clock for a subject on ``threads`` threads: see :func:`_times`."""
        return "thread" if self.timer == "auto" and threads == 1 else "wall"


def _times(fn: Callable[[], Any], repeats: int, timer: str = "wall") -> list[float]:
    """Time ``fn`` ``repeats`` times after one warm-up call.

    ``timer="thread"``: CPU time of the calling thread, for subjects that run on it alone (NumPy,
    Cython, cKDTree with workers=1, BallTree, ``threads=1``): on a shared machine it does not
    count the time the thread waited for a CPU.  ``"wall"``: wall-clock time, the only fair
    measure of a multi-threaded subject.
    """
    clock = time.thread_time if timer == "thread" else time.perf_counter
    fn()  # warm-up: first-touch page faults, caches, lazy imports
    out = []
    for _ in range(repeats):
        start = clock()
        fn()
        out.append(clock() - start)
    return out


def _row(goal: str, subject: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"goal": goal, "subject": subject, "status": "ok", "timer": None, "seconds": None, "best": None,
                           "spread": None, "items": None, "per_second": None, "build_seconds": None,
                           "ratio": None, "target": None, "met": None, "note": ""}
    row.update(fields)
    if row["seconds"] and row["items"]:
        row["per_second"] = row["items"] / row["seconds"]
    return row


def _unit_vectors(lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    phi, lam = np.radians(lats), np.radians(lons)
    c = np.cos(phi)
    return np.stack([c * np.cos(lam), c * np.sin(lam), np.sin(phi)], axis=1)


def _agreement(ours: tuple[np.ndarray, np.ndarray], theirs: tuple[np.ndarray, np.ndarray]) -> tuple[float, float, str]:
    """Share of rows with identical neighbours, largest |distance difference| (km), and a problem.

    A differing neighbour is acceptable only where the two distances are within twice the
    haversine bound of each other (a near-tie that either answer may break either way).
    """
    oi, od = ours
    ti, td = theirs
    same_rows = float(np.mean(np.all(oi == ti, axis=1)))
    diff = float(np.max(np.abs(od - td))) if od.size else 0.0
    bounds = np.vectorize(haversine_bound_km)(od)
    # Their distances come from other formulas (chord, sklearn's haversine): compare at the
    # bound of the chord conversion too, a few ulps of 2R relative to the chord.
    tol = 2 * bounds + 1e-9 * _R
    bad = np.abs(od - td) > tol
    problem = f"{int(bad.sum())} distances differ beyond the bound" if bad.any() else ""
    return same_rows, diff, problem


def _max_rss_mib() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


# ------------------------------------------------------------------------------------------------
# The four goals
# ------------------------------------------------------------------------------------------------


def _bench_single(cfg: Config, gaz: Any, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    rng = np.random.default_rng(cfg.seed)
    picks = rng.integers(0, len(gaz), 16)
    queries = [(float(gaz.lats[i]) + 0.01, float(gaz.lons[i]) - 0.01) for i in picks]
    k = cfg.k_single
    want = [ffilab.route("python").find_nearest_k(a, b, gaz.lats, gaz.lons, k) for a, b in queries[:2]]
    subjects: list[tuple[str, str, int]] = [
        ("python", "python", 1), ("numpy", "numpy", 1), ("cython", "cython", 1),
        ("fused", "fused (1 thread)", 1), ("fused", f"fused ({cfg.threads} threads)", cfg.threads),
        ("tree", "tree (index built once)", 1),
    ]
    per_query: dict[str, float] = {}
    for strategy, label, threads in subjects:
        progress(f"single query: {label}")
        try:
            index = NearestIndex(gaz.lats, gaz.lons, strategy, threads=threads if strategy in ("fused", "tree") else None)
        except StrategyUnavailable as exc:
            rows.append(_row("single", label, status=f"unavailable: {exc}"))
            continue
        problem = next((p for (a, b), w in zip(queries, want)
                        if (p := compare_results("find_nearest_k", index.query(a, b, k), w, (a, b, gaz.lats, gaz.lons, k)))), "")
        if problem:
            rows.append(_row("single", label, status=f"fails verification: {problem}"))
            continue
        # The Python loop takes about a second per query here: two queries, once each.
        batch = queries[:2] if strategy == "python" else queries
        timer = cfg.timer_for(threads)
        samples = _times(lambda: [index.query(a, b, k) for a, b in batch], 1 if strategy == "python" else cfg.repeats,
                         timer)
        st = median_spread([s / len(batch) for s in samples])
        per_query[label] = st["seconds"]
        built = index.build_seconds if strategy in ("fused", "tree") else None
        rows.append(_row("single", label, items=1, build_seconds=built, timer=timer, **st,
                         note=f"k={k}, n={len(gaz):,}, mean of {len(batch)} queries"))
    numpy_s = per_query.get("numpy")
    for r in rows:
        same_clock = r["timer"] == cfg.timer_for(1)
        if r["status"] == "ok" and numpy_s and r["seconds"] and same_clock:
            r["note"] += f"; {numpy_s / r['seconds']:.1f}x numpy"
        if r["subject"].startswith("fused") and r["status"] == "ok" and numpy_s and same_clock:
            r["ratio"] = numpy_s / r["seconds"]
            r["target"] = GOALS["single"][1]
            r["met"] = r["ratio"] >= r["target"]
    return rows


def _bench_batch(cfg: Config, gaz: Any, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    k, m = cfg.k, cfg.batch
    sets = {
        "near places": jittered_points(m, seed=cfg.seed, sigma_km=5.0, gazetteer=gaz),
        "anywhere": uniform_points(m, seed=cfg.seed),
    }
    progress("batch: building the indexes")
    tree1 = NearestIndex(gaz.lats, gaz.lons, "tree", threads=1)
    treeN = NearestIndex(gaz.lats, gaz.lons, "tree", threads=cfg.threads)
    try:
        from scipy.spatial import cKDTree
    except ImportError:
        cKDTree = None  # noqa: N806
    try:
        from sklearn.neighbors import BallTree
    except ImportError:
        BallTree = None  # noqa: N806

    builds: dict[str, float] = {"tree": statistics.median(
        _times(lambda: NearestIndex(gaz.lats, gaz.lons, "tree", threads=1), cfg.repeats, cfg.timer_for(1)))}
    kd = ball = None
    if cKDTree is not None:
        builds["cKDTree"] = statistics.median(_times(lambda: cKDTree(_unit_vectors(gaz.lats, gaz.lons)), cfg.repeats,
                                                     cfg.timer_for(1)))
        kd = cKDTree(_unit_vectors(gaz.lats, gaz.lons))
    if BallTree is not None:
        rad = np.radians(np.stack([gaz.lats, gaz.lons], axis=1))
        builds["BallTree"] = statistics.median(_times(lambda: BallTree(rad, metric="haversine"), max(1, cfg.repeats // 2),
                                                      cfg.timer_for(1)))
        ball = BallTree(rad, metric="haversine")

    for set_name, (qa, qo) in sets.items():
        label = f"{m:,} queries {set_name}"
        ours = tree1.query_many(qa, qo, k)
        # Our answer is checked against the NumPy route on a sample (the Python loop would take
        # hours for the whole batch); the whole batch is then compared with cKDTree/BallTree.
        npr = ffilab.route("numpy")
        for i in range(0, m, max(1, m // 20)):
            args = (float(qa[i]), float(qo[i]), gaz.lats, gaz.lons, k)
            p = compare_results("find_nearest_k", (ours[0][i], ours[1][i]), npr.find_nearest_k(*args), args)
            if p:
                rows.append(_row("batch", f"tree: {label}", status=f"fails verification: {p}"))
                return rows
        progress(f"batch ({set_name}): tree")
        one, many = cfg.timer_for(1), cfg.timer_for(cfg.threads)
        t1 = median_spread(_times(lambda: tree1.query_many(qa, qo, k), cfg.repeats, one))
        tN = median_spread(_times(lambda: treeN.query_many(qa, qo, k), cfg.repeats, many))
        base = _row("batch", f"tree, 1 thread: {label}", items=m, build_seconds=builds["tree"], timer=one, **t1)
        rows.append(base)
        rows.append(_row("batch", f"tree, {cfg.threads} threads: {label}", items=m, build_seconds=builds["tree"],
                         timer=many, **tN))
        ratios: list[float] = []
        if kd is None:
            rows.append(_row("batch", f"cKDTree: {label}", status=UNAVAILABLE_BENCH))
        else:
            progress(f"batch ({set_name}): cKDTree")

            def kd_pipeline() -> tuple[np.ndarray, np.ndarray]:
                d, i = kd.query(_unit_vectors(qa, qo), k, workers=1)
                return i.astype(np.int64), 2 * _R * np.arcsin(np.minimum(d / 2, 1.0))

            xyz = _unit_vectors(qa, qo)
            same, diff, problem = _agreement(ours, kd_pipeline())
            full = median_spread(_times(kd_pipeline, cfg.repeats, one))
            bare = median_spread(_times(lambda: kd.query(xyz, k, workers=1), cfg.repeats, one))
            fastest = min(full["seconds"], bare["seconds"])
            ratio = fastest / t1["seconds"]
            ratios.append(ratio)
            rows.append(_row("batch", f"cKDTree workers=1: {label}", items=m, build_seconds=builds["cKDTree"], timer=one,
                             **full,
                             ratio=ratio, target=GOALS["batch"][1], met=ratio >= 2.0,
                             status="ok" if not problem else f"disagrees: {problem}",
                             note=f"bare query {bare['seconds'] * 1e3:.1f} ms; tree 1 thread is "
                                  f"{full['seconds'] / t1['seconds']:.2f}x (with conversions) / "
                                  f"{bare['seconds'] / t1['seconds']:.2f}x (bare); same neighbours in {same:.2%} of "
                                  f"queries, max |dkm| {diff:.2e}"))
        if ball is None:
            rows.append(_row("batch", f"BallTree: {label}", status=UNAVAILABLE_BENCH))
        else:
            progress(f"batch ({set_name}): BallTree")
            qrad = np.radians(np.stack([qa, qo], axis=1))

            def ball_query() -> tuple[np.ndarray, np.ndarray]:
                d, i = ball.query(qrad, k)
                return i.astype(np.int64), d * _R

            same, diff, problem = _agreement(ours, ball_query())
            bt = median_spread(_times(ball_query, max(1, cfg.repeats // 2), one))
            ratio = bt["seconds"] / t1["seconds"]
            ratios.append(ratio)
            rows.append(_row("batch", f"BallTree haversine: {label}", items=m, build_seconds=builds["BallTree"],
                             timer=one, **bt,
                             ratio=ratio, target=GOALS["batch"][1], met=ratio >= 2.0,
                             status="ok" if not problem else f"disagrees: {problem}",
                             note=f"same neighbours in {same:.2%} of queries, max |dkm| {diff:.2e}"))
        base["note"] = f"k={k}; " + (f"{min(ratios):.2f}x the slower-to-beat competitor" if ratios else "no competitor installed")
    return rows


def _bench_threads(cfg: Config, gaz: Any, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    qa, qo = jittered_points(cfg.large_batch, seed=cfg.seed + 1, sigma_km=5.0, gazetteer=gaz)
    index = NearestIndex(gaz.lats, gaz.lons, "tree", threads=1)
    progress("threads: 1 vs 2")
    # Wall time for both: CPU time would hide exactly what threads are for.
    one = median_spread(_times(lambda: index.query_many(qa, qo, cfg.k, threads=1), cfg.repeats, "wall"))
    two = median_spread(_times(lambda: index.query_many(qa, qo, cfg.k, threads=2), cfg.repeats, "wall"))
    same = np.array_equal(index.query_many(qa, qo, cfg.k, threads=1)[0], index.query_many(qa, qo, cfg.k, threads=2)[0])
    # How many CPUs the 2-thread run actually got: process CPU time over wall time.  Near 2 on an
    # idle machine; near 1 when other work holds the CPUs, and then no speed-up is possible.
    wall0, cpu0 = time.perf_counter(), time.process_time()
    index.query_many(qa, qo, cfg.k, threads=2)
    cpus_used = (time.process_time() - cpu0) / max(time.perf_counter() - wall0, 1e-9)
    rows.append(_row("threads", f"tree, 1 thread: {cfg.large_batch:,} queries", items=cfg.large_batch, timer="wall",
                     **one))
    ratio = one["seconds"] / two["seconds"]
    target = GOALS["threads"][1]
    assert target is not None
    rows.append(_row("threads", f"tree, 2 threads: {cfg.large_batch:,} queries", items=cfg.large_batch, timer="wall",
                     **two, ratio=ratio, target=target, met=ratio >= target,
                     status="ok" if same else "fails: answers differ between 1 and 2 threads",
                     note=f"{default_threads()} CPUs available to this process; the 2-thread run got "
                          f"{cpus_used:.2f} CPUs on average (process CPU time / wall time)"))
    fused = NearestIndex(gaz.lats, gaz.lons, "fused", threads=1)
    f1 = median_spread(_times(lambda: fused.query(40.7, -74.0, 10), cfg.repeats * 4, "wall"))
    fused2 = NearestIndex(gaz.lats, gaz.lons, "fused", threads=2)
    f2 = median_spread(_times(lambda: fused2.query(40.7, -74.0, 10), cfg.repeats * 4, "wall"))
    rows.append(_row("threads", "fused one query, 1 thread", items=1, timer="wall", **f1))
    rows.append(_row("threads", "fused one query, 2 threads", items=1, timer="wall", **f2,
                     ratio=f1["seconds"] / f2["seconds"],
                     note="threads over the points of one query (context, not the goal)"))
    return rows


def _bench_big(cfg: Config, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    n = cfg.big_n
    progress(f"{n:,} synthetic points: generating")
    lats, lons = uniform_points(n, seed=cfg.seed + 2)
    qa, qo = uniform_points(cfg.batch, seed=cfg.seed + 3)
    rows: list[dict[str, Any]] = []
    for strategy in ("tree", "fused"):
        progress(f"{n:,} synthetic points: {strategy}")
        index = NearestIndex(lats, lons, strategy, threads=cfg.threads)
        # Checked against the NumPy route (the Python loop would take about a minute per query).
        npr = ffilab.route("numpy")
        for a, b in zip(qa[:2], qo[:2]):
            args = (float(a), float(b), lats, lons, cfg.k)
            p = compare_results("find_nearest_k", index.query(a, b, cfg.k), npr.find_nearest_k(*args), args)
            if p:
                rows.append(_row("big", f"{strategy}: {n:,} points", status=f"fails verification: {p}"))
                break
        else:
            if strategy == "tree":
                st = median_spread(_times(lambda: index.query_many(qa, qo, cfg.k), max(1, cfg.repeats // 2), "wall"))
                rows.append(_row("big", f"tree, {cfg.threads} threads: {cfg.batch:,} queries over {n:,} points",
                                 items=cfg.batch, build_seconds=index.build_seconds, timer="wall", **st,
                                 note=f"index {index.nbytes / 2**20:,.0f} MiB; peak RSS {_max_rss_mib():,.0f} MiB"))
            else:
                st = median_spread(_times(lambda: index.query(12.3, 45.6, cfg.k), max(1, cfg.repeats // 2), "wall"))
                rows.append(_row("big", f"fused, {cfg.threads} threads: one query over {n:,} points", items=1,
                                 build_seconds=index.build_seconds, timer="wall", **st,
                                 note=f"{n / st['seconds'] / 1e9:.2f} G points/s; index {index.nbytes / 2**20:,.0f} MiB"))
        del index
    return rows


def run(config: Config | None = None, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Run every nearest-places benchmark; return ``{"config", "machine", "rows", "goals"}``.

    Each row: ``goal``, ``subject``, ``status`` ("ok", "unavailable: ...", "fails ...",
    "disagrees: ..."), ``seconds`` (median wall time of one call), ``best``, ``spread``, ``items``
    (queries per call), ``per_second``, ``build_seconds``, ``ratio`` (against the goal's baseline),
    ``target``, ``met`` and ``note``.  ``goals`` sums up, per goal, whether every row judged met.
    """
    cfg = config or Config()
    if cfg.threads <= 0:
        cfg.threads = default_threads()
    progress("loading the gazetteer")
    gaz = load_gazetteer()
    rows = _bench_single(cfg, gaz, progress)
    rows += _bench_batch(cfg, gaz, progress)
    rows += _bench_threads(cfg, gaz, progress)
    if cfg.big_n > 0:
        rows += _bench_big(cfg, progress)
    goals = {}
    for goal, (what, target) in GOALS.items():
        judged = [r for r in rows if r["goal"] == goal and r["met"] is not None]
        ran = [r for r in rows if r["goal"] == goal]
        failed = [r for r in ran if r["status"] != "ok" and not r["status"].startswith("unavailable")]
        goals[goal] = {"what": what, "target": target,
                       "ratios": [round(r["ratio"], 3) for r in judged],
                       "met": (bool(judged) and all(r["met"] for r in judged) and not failed) if target
                       else (bool(ran) and not failed),
                       "measured": bool(ran)}
    import os
    import platform

    machine = {"cpu": platform.processor() or platform.machine(), "cpus": default_threads(),
               "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
               "python": platform.python_version(), "numpy": np.__version__}
    return {"config": asdict(cfg), "machine": machine, "rows": rows, "goals": goals}


def _row_cells(r: dict[str, Any]) -> tuple[list[str], str]:
    """The figures of one row as table cells, and its note (the status first when it is not ok)."""
    note = r["note"] if r["status"] == "ok" else "; ".join(x for x in (r["status"], r["note"]) if x)
    if r["status"] != "ok" and not r["seconds"]:
        return ["-"] * 6, note
    ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}x" + ("" if r["met"] is None else (" ✓" if r["met"] else " ✗"))
    return [fmt_time(r["seconds"]), r["timer"] or "-", f"{r['spread']:.0%}",
            "-" if r["per_second"] is None else f"{r['per_second']:,.0f}", fmt_time(r["build_seconds"]), ratio], note


def print_rows(results: dict[str, Any], console: Any = None, wide: bool = False) -> None:
    """Print the rows and the goals as rich tables (the hook ``ffilab bench`` can call).

    Parameters
    ----------
    results : dict
        What :func:`run` returned.
    console : rich.console.Console, optional
        Where to print (default: a new console on stdout).
    wide : bool
        One table with every column, notes included (needs about 160 columns). The default fits 80
        columns: one table per goal, and each row's note under its table, numbered.
    """
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    figures = ("time", "clock", "spread", "per second", "build", "ratio")
    if wide:
        table = Table(title="ffilab nearest: benchmarks (median time per call; clock: thread CPU or wall)",
                      title_justify="left")
        for col in ("goal", "subject", *figures, "notes"):
            table.add_column(col, justify="right" if col in ("time", "spread", "per second", "build", "ratio") else "left")
        for r in results["rows"]:
            cells, note = _row_cells(r)
            table.add_row(r["goal"], r["subject"], *cells, note)
        console.print(table)
    else:
        console.print("[bold]ffilab nearest: benchmarks[/] (median time per call; clock: thread CPU or wall)")
        for goal in dict.fromkeys(r["goal"] for r in results["rows"]):
            # No vertical rules and one space between columns: the figures never wrap, and the long
            # subject names keep about 23 of 80 columns (two lines each, not six).
            table = Table(title=f"goal: {goal}", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                          padding=(0, 1, 0, 0), expand=True)
            table.add_column("subject", ratio=1)  # the figures take what they need, the subject the rest
            for col in figures:
                table.add_column(col, justify="left" if col == "clock" else "right", no_wrap=True)
            table.add_column("note", justify="right", no_wrap=True)
            notes: list[str] = []
            for r in (r for r in results["rows"] if r["goal"] == goal):
                cells, note = _row_cells(r)
                if note:
                    notes.append(note)
                table.add_row(r["subject"], *cells, str(len(notes)) if note else "")
            console.print(table)
            legend = Table.grid(padding=(0, 1))  # a hanging indent: a long note wraps under its text
            legend.add_column(justify="right")
            legend.add_column()
            for i, note in enumerate(notes, 1):
                legend.add_row(f"{i}.", escape(note))
            console.print(legend)
    for goal, g in results["goals"].items():
        target = f" (target {g['target']}x; measured {', '.join(f'{x:.2f}x' for x in g['ratios'])})" if g["target"] else ""
        if not g.get("measured", True):
            # Skipped by the configuration (--big-n 0): nothing ran, so nothing failed either.
            console.print(f"not measured: {g['what']} (skipped in this run)", markup=False)
            continue
        if g["target"] and not g["ratios"]:
            # Nothing was judged (e.g. scipy/scikit-learn missing): say so rather than "NOT met".
            console.print(f"not measured: {g['what']} (its baselines are unavailable here; pip install \".[bench]\")", markup=False)
            continue
        console.print(f"{'met' if g['met'] else 'NOT met'}: {g['what']}{target}")
    m = results["machine"]
    console.print(f"{m['cpus']} CPUs, load average at the end {m['load_average']}, Python {m['python']}")


def main(argv: list[str] | None = None) -> int:
    """``python -m ffilab.bench.nearest``: run, print, optionally save JSON; exit 1 on a failure."""
    parser = argparse.ArgumentParser(prog="python -m ffilab.bench.nearest", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=Config.repeats)
    parser.add_argument("--big-n", type=int, default=Config.big_n, help="points of the synthetic set (0: skip)")
    parser.add_argument("--batch", type=int, default=Config.batch)
    parser.add_argument("--large-batch", type=int, default=Config.large_batch)
    parser.add_argument("--threads", type=int, default=0, help="'all threads' (default: every CPU)")
    parser.add_argument("--timer", choices=("auto", "wall"), default="auto",
                        help="auto: thread CPU time for single-threaded subjects, wall for threaded ones")
    parser.add_argument("--json", dest="json_out", default=None, help="also write the results to this JSON file")
    parser.add_argument("--wide", action="store_true", help="one table with every column and the notes (about 160 columns)")
    args = parser.parse_args(argv)
    cfg = Config(repeats=args.repeats, big_n=args.big_n, batch=args.batch, large_batch=args.large_batch,
                 threads=args.threads, timer=args.timer)
    from rich.console import Console

    err = Console(stderr=True)
    results = run(cfg, progress=lambda what: err.log(what))
    print_rows(results, wide=args.wide)
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1, default=lambda o: None if isinstance(o, float) and math.isnan(o) else str(o))
    failed = [r for r in results["rows"] if r["status"].startswith(("fails", "disagrees"))]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
