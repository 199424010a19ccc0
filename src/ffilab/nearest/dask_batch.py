"""Answer a batch of queries on Dask: the queries are partitioned, the index is shared.

For batches larger than one machine: every worker receives the index once (``scatter`` with
``broadcast=True``; a ``NearestIndex`` pickles as its points and rebuilds on arrival), the queries
are cut into partitions that are scattered too, and each task answers one partition with
``NearestIndex.query_many``.  The answer is the local one, row for row: the same engine runs
every partition and no answer depends on how the queries were split.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ffilab._dask import dask_client
from ffilab.nearest.index import NearestIndex, _check_k, _check_lats_lons, _coords

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["query_dask"]


def _query_partition(index: NearestIndex, part: tuple[np.ndarray, np.ndarray], k: int, threads: int) -> tuple[np.ndarray, np.ndarray]:
    lats, lons = part
    return index.query_many(lats, lons, k, threads=threads)


def query_dask(
    index: NearestIndex,
    lats: npt.ArrayLike,
    lons: npt.ArrayLike,
    k: int = 1,
    *,
    client: Client | None = None,
    scheduler: str | None = None,
    n_workers: int | None = None,
    threads_per_worker: int | None = None,
    processes: bool = True,
    partitions: int | None = None,
    threads_per_task: int = 1,
    progress: Callable[[int], Any] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Return ``index.query_many(lats, lons, k)``, computed on a Dask cluster.

    Parameters
    ----------
    index : NearestIndex
        The index to share with every worker.
    lats, lons : array_like of float
        The query points (validated here, before anything is sent).
    k : int
        Neighbours per query.
    client : distributed.Client, optional
        A client to use (left open).  Otherwise one is made, and closed at the end, for:
    scheduler : str, optional
        The address of a running scheduler (``tcp://host:8786``): a real cluster.  Without it a
        ``LocalCluster`` is started with ``n_workers``, ``threads_per_worker`` and ``processes``.
    partitions : int, optional
        How many pieces to cut the queries into (default: four per worker thread).
    threads_per_task : int
        Engine threads per task (1: Dask's worker threads supply the parallelism).
    progress : callable, optional
        Called with the number of queries of each partition as it completes.

    Returns
    -------
    indices : numpy.ndarray of int64, shape (m, k)
    distances : numpy.ndarray of float64, shape (m, k)
    """
    f = "query_dask"
    if not isinstance(index, NearestIndex):
        raise TypeError(f"{f}: index must be a NearestIndex, got {type(index).__name__}")
    query_lats, query_lons = _coords(f, "lats", lats), _coords(f, "lons", lons)
    _check_lats_lons(f, query_lats, query_lons)
    k = _check_k(f, k, len(index))
    m = query_lats.shape[0]
    if m == 0:
        return np.empty((0, k), dtype=np.int64), np.empty((0, k), dtype=np.float64)

    from distributed import as_completed

    stack = contextlib.ExitStack()
    try:
        client = stack.enter_context(dask_client(client, scheduler, n_workers=n_workers,
                                                 threads_per_worker=threads_per_worker, processes=processes))
        if partitions is None:
            total_threads = sum(client.nthreads().values()) or 1
            partitions = 4 * total_threads
        if partitions < 1:
            raise ValueError(f"{f}: partitions must be >= 1, got {partitions}")
        partitions = min(partitions, m)
        bounds = np.linspace(0, m, partitions + 1).astype(np.int64)
        parts = [(query_lats[a:b], query_lons[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
        shared = client.scatter(index, broadcast=True)
        part_futures = client.scatter(parts)
        futures = [client.submit(_query_partition, shared, pf, k, threads_per_task, pure=False)
                   for pf in part_futures]
        if progress is not None:
            sizes = {fut.key: len(part[0]) for fut, part in zip(futures, parts)}
            for done in as_completed(futures):
                progress(sizes[done.key])
        results = client.gather(futures)
    finally:
        stack.close()
    return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])
