"""The work behind ``ffilab nearest``: one query printed as a table, or a batch written to a file.

``ffilab/cli.py`` only declares the command's options and calls :func:`run`; everything the
command does lives here, beside the package it drives.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ffilab.nearest.data import GAZETTEER_CREDIT, Gazetteer, PointSet, load_gazetteer, load_points
from ffilab.nearest.index import NearestIndex, _check_k, _check_lats_lons

__all__ = ["NearestOptions", "run"]

# Queries per call of query_many in a local batch: large enough that the call overhead vanishes,
# small enough that the progress bar moves.
_CHUNK = 65536


@dataclass(frozen=True)
class NearestOptions:
    """The options of ``ffilab nearest`` (see ``ffilab nearest --help``)."""

    lat: float | None
    lon: float | None
    k: int
    strategy: str
    threads: int | None
    points: Path | None
    queries: Path | None
    out: Path | None
    engine: str
    scheduler: str | None
    workers: int | None
    as_json: bool


class UsageError(ValueError):
    """The options do not describe a job (the CLI reports it as a usage error)."""


def run(opts: NearestOptions, console: Console) -> None:
    """Do what ``opts`` asks; raise :class:`UsageError` for contradictory options."""
    single = opts.lat is not None or opts.lon is not None
    if single and (opts.lat is None or opts.lon is None):
        raise UsageError("give both LAT and LON")
    if single == (opts.queries is not None):
        raise UsageError("give either LAT LON (one query) or --queries FILE (a batch)")
    if opts.engine not in ("local", "dask"):
        raise UsageError(f"--engine must be local or dask, got {opts.engine!r}")
    if single and opts.engine != "local":
        raise UsageError("--engine dask is for batches (--queries)")
    if opts.queries is not None and opts.out is None:
        raise UsageError("a batch needs --out FILE (.parquet or .csv)")
    if opts.out is not None and opts.out.suffix.lower() not in (".parquet", ".csv"):
        raise UsageError(f"--out must end in .parquet or .csv, got {opts.out.name}")

    places: Gazetteer | PointSet = load_points(opts.points) if opts.points is not None else load_gazetteer()
    index = NearestIndex(places.lats, places.lons, opts.strategy, threads=opts.threads)
    _check_k("ffilab nearest", opts.k, len(index))
    if single:
        assert opts.lat is not None and opts.lon is not None
        _single(index, places, opts, console)
    else:
        assert opts.queries is not None and opts.out is not None
        _batch(index, places, opts, console)


def _describe(places: Gazetteer | PointSet, i: int) -> dict[str, Any]:
    if isinstance(places, Gazetteer):
        p = places.place(i)
        return {"index": i, "name": p.name, "country": p.country, "lat": p.lat, "lon": p.lon,
                "population": p.population}
    name = places.names[i] if places.names is not None else f"#{i}"
    return {"index": i, "name": name, "country": "", "lat": float(places.lats[i]), "lon": float(places.lons[i]),
            "population": None}


def _single(index: NearestIndex, places: Gazetteer | PointSet, opts: NearestOptions, console: Console) -> None:
    start = time.perf_counter()
    idx, dist = index.query(opts.lat, opts.lon, opts.k)  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    rows = [dict(_describe(places, int(i)), rank=r + 1, distance_km=float(d))
            for r, (i, d) in enumerate(zip(idx.tolist(), dist.tolist()))]
    if opts.as_json:
        print(json.dumps({"query": {"lat": opts.lat, "lon": opts.lon, "k": opts.k},
                          "strategy": index.strategy, "seconds": seconds, "places": rows}, indent=1))
        return
    table = Table(title=f"Nearest {opts.k} to ({opts.lat}, {opts.lon})", title_justify="left")
    # Narrow numeric columns leave the place's name room on an 80-column terminal.
    for col, justify in (("#", "right"), ("place", "left"), ("km", "right"), ("lat", "right"),
                         ("lon", "right"), ("population", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        pop = f"{r['population']:,}" if r["population"] is not None else ""
        place = f"{r['name']} ({r['country']})" if r["country"] else r["name"]
        table.add_row(str(r["rank"]), place, f"{r['distance_km']:.3f}", f"{r['lat']:.5f}", f"{r['lon']:.5f}", pop)
    console.print(table)
    source = GAZETTEER_CREDIT if isinstance(places, Gazetteer) else f"Places: {places.source}"
    console.print(f"{len(index):,} places · strategy {index.strategy} · query {seconds * 1e3:.3f} ms "
                  f"(index built in {index.build_seconds:.3f} s) · {source}")


def _batch(index: NearestIndex, places: Gazetteer | PointSet, opts: NearestOptions, console: Console) -> None:
    assert opts.queries is not None and opts.out is not None
    queries = load_points(opts.queries)
    m = len(queries)
    progress = Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    start = time.perf_counter()
    with progress:
        task = progress.add_task(f"nearest {opts.k} ({opts.engine})", total=m)
        if opts.engine == "dask":
            from ffilab.nearest.dask_batch import query_dask

            # --threads is honoured here too: the engine threads of each Dask task (the workers'
            # own threads already run tasks side by side; 1 unless asked).
            idx, dist = query_dask(index, queries.lats, queries.lons, opts.k, scheduler=opts.scheduler,
                                   n_workers=opts.workers, threads_per_task=opts.threads or 1,
                                   progress=lambda n: progress.advance(task, n))
        else:
            idx = np.empty((m, opts.k), dtype=np.int64)
            dist = np.empty((m, opts.k), dtype=np.float64)
            # Validate the whole batch first, so a bad row is reported before any work is done.
            _check_lats_lons("ffilab nearest --queries", queries.lats, queries.lons)
            for a in range(0, m, _CHUNK):
                b = min(m, a + _CHUNK)
                idx[a:b], dist[a:b] = index.query_many(queries.lats[a:b], queries.lons[a:b], opts.k)
                progress.advance(task, b - a)
    seconds = time.perf_counter() - start
    _write(opts.out, queries, places, idx, dist)
    rate = m / seconds if seconds > 0 else float("inf")
    console.print(f"{m:,} queries x k={opts.k} in {seconds:.2f} s ({rate:,.0f} queries/s, {opts.engine}, "
                  f"strategy {index.strategy}) -> {opts.out}")


def _write(out: Path, queries: PointSet, places: Gazetteer | PointSet, idx: np.ndarray, dist: np.ndarray) -> None:
    """Write one row per (query, rank): the query, the place and the distance."""
    import pyarrow as pa

    m, k = idx.shape
    flat = idx.ravel()
    columns: dict[str, Any] = {
        "query": np.repeat(np.arange(m, dtype=np.int64), k),
        "rank": np.tile(np.arange(1, k + 1, dtype=np.int32), m),
        "query_lat": np.repeat(queries.lats, k),
        "query_lon": np.repeat(queries.lons, k),
        "index": flat,
    }
    if isinstance(places, Gazetteer):
        columns["geonameid"] = places.geonameid[flat]
        columns["name"] = places.names(flat)
        columns["country"] = [c.decode("ascii") for c in places.country[flat]]
        columns["population"] = places.population[flat]
    elif places.names is not None:
        columns["name"] = [places.names[i] for i in flat.tolist()]
    columns["lat"] = places.lats[flat]
    columns["lon"] = places.lons[flat]
    columns["distance_km"] = dist.ravel()
    table = pa.table(columns)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, out)
    else:
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, out)
