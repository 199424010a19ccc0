"""One way for every Dask engine of ffilab to reach a cluster: the caller's client, a scheduler address, or a LocalCluster of its own."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["dask_client"]


@contextlib.contextmanager
def dask_client(client: Any = None, scheduler: str | None = None, *, n_workers: int | None = None,
                threads_per_worker: int = 1, processes: bool = True) -> Iterator[Any]:
    """Yield a ``distributed.Client``; close what was opened here when the block ends.

    Parameters
    ----------
    client : distributed.Client, optional
        Used as it is and left open (the caller owns it).
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``) to connect to.
    n_workers, threads_per_worker, processes
        The ``LocalCluster`` started when neither ``client`` nor ``scheduler`` is given.
    """
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as connected:
            yield connected
        return
    # The dashboard on a free port: the default 8787 may be taken (another cluster, a parallel
    # test), which warns, and a batch job does not look at it.
    with LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=processes,
                      dashboard_address=":0") as cluster, Client(cluster) as local:
        yield local
