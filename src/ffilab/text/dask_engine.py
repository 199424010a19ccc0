"""Tokenize a corpus on Dask: tasks read and tokenize their own partition, the client writes in order.

The input is cut into partitions (:func:`ffilab.text.pipeline.plan_parts`: one per Parquet row
group, or a byte range of lines for .txt/.jsonl), so no text passes through the client: every
task opens the input itself, tokenizes its partition in batches with the route's
``tokenize_batch`` and returns an Arrow table of ``(id, tokens)``.  The client keeps a bounded
window of tasks in flight and writes their results strictly in partition order with the same
:class:`~ffilab.text.pipeline.TokenWriter` as the local engine, so the output is the local one,
row for row, and the client's memory holds at most the window's results.

Gathering in order (rather than letting the workers write part files and merging them) needs no
file system shared for the output; the input must be readable at the same path by every worker
(on a real cluster: a shared file system, and ffilab installed on the workers).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ffilab._dask import dask_client
from ffilab.text import pipeline
from ffilab.text.pipeline import Part, RunStats, UsageError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["tokenize_dask", "tokenize_part"]


def tokenize_part(part: Part, route: str, batch_size: int) -> pa.Table:
    """Read and tokenize one partition: a table of ``id`` (null where the input has none) and ``tokens``."""
    # The route's tokenize_arrow where it has one (the arrow path: no Python object per token).
    tok = pipeline.load_pipeline_tokenizer(route)
    ids: list[pa.Array] = []
    tokens: list[pa.Array] = []
    for chunk in pipeline.read_part(part, batch_size):
        tokens.append(tok.tokens(chunk.texts))
        ids.append(chunk.ids if chunk.ids is not None else pa.nulls(len(chunk.texts), pa.int64()))
    return pa.Table.from_arrays([pa.chunked_array(ids, pa.int64()), pa.chunked_array(tokens, pipeline.TOKENS_TYPE)],
                                names=["id", "tokens"])


def _warm_worker(route: str) -> None:
    # Load the route and build its tables on every worker before the clock runs.
    pipeline.warm(pipeline.load_pipeline_tokenizer(route).tokens)


def _default_part_bytes(path: str, threads: int) -> int:
    # Four partitions per worker thread balance the load; between 1 and 32 MiB keeps a task's
    # texts and tokens (a few times the bytes) small in a worker's memory.
    size = os.path.getsize(path)
    return min(32 << 20, max(1 << 20, size // (4 * max(threads, 1)) + 1))


def tokenize_dask(
    input: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    route: str | None = None,
    batch_size: int = pipeline.DEFAULT_BATCH_SIZE,
    client: Client | None = None,
    scheduler: str | None = None,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    processes: bool = True,
    part_bytes: int | None = None,
    window: int | None = None,
    limit: int | None = None,
    progress: Callable[[int], Any] | None = None,
) -> RunStats:
    """Write what :func:`ffilab.text.pipeline.tokenize_file` writes, computed on a Dask cluster.

    Parameters
    ----------
    input, out, route, batch_size, limit, progress
        As for :func:`~ffilab.text.pipeline.tokenize_file`.
    client : distributed.Client, optional
        A client to use (left open).  Otherwise one is made, and closed at the end, for:
    scheduler : str, optional
        The address of a running scheduler (``tcp://host:8786``): a real cluster.  Without it a
        ``LocalCluster`` is started with ``n_workers`` worker processes (default: one per CPU) of
        ``threads_per_worker`` threads (default 1: the reference route holds the GIL).
    part_bytes : int, optional
        Bytes of lines per partition of a .txt/.jsonl input (default: about four partitions per
        worker thread, 1 to 32 MiB).  A Parquet input is partitioned by row group.
    window : int, optional
        Partitions in flight at once (default: twice the cluster's threads): bounds the memory.

    Returns
    -------
    RunStats
        ``workers`` is the cluster's thread count; ``startup_s`` the time to start or reach it.
    """
    name = route or pipeline.default_route()
    if batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
    if limit is not None and limit < 0:
        raise UsageError(f"--limit must be >= 0, got {limit}")
    # Workers may run elsewhere: they open the input by an absolute path.
    path = os.path.abspath(os.fspath(input))
    pipeline.plan_parts(path, 1 << 20)  # check the input before anything starts
    pipeline.load_tokenizer(name)

    begin = time.perf_counter()
    stack = contextlib.ExitStack()
    writer: pipeline.TokenWriter | None = None
    try:
        client = stack.enter_context(dask_client(client, scheduler, n_workers=n_workers,
                                                 threads_per_worker=threads_per_worker, processes=processes))
        client.run(_warm_worker, name)
        threads = sum(client.nthreads().values()) or 1
        parts = pipeline.plan_parts(path, part_bytes or _default_part_bytes(path, threads))
        depth = window or 2 * threads
        if depth < 1:
            raise UsageError(f"window must be >= 1, got {depth}")
        stats = RunStats(name, "dask", threads)
        start = time.perf_counter()
        stats.startup_s = start - begin
        writer = pipeline.TokenWriter(out)
        left = limit
        todo = iter(parts)
        pending: deque[Any] = deque()

        def submit_next() -> None:
            part = next(todo, None)
            if part is not None:
                pending.append(client.submit(tokenize_part, part, name, batch_size, pure=False))

        for _ in range(depth):
            submit_next()
        while pending and (left is None or left > 0):
            table = pending.popleft().result()
            submit_next()
            if left is not None:
                table = table.slice(0, left)
                left -= table.num_rows
            writer.write(table.column("id"), table.column("tokens"))
            if progress is not None and table.num_rows:
                progress(table.num_rows)
        if pending:
            client.cancel(list(pending))
        writer.close()
        stats.wall_s = time.perf_counter() - start
        stats.records = writer.records
        return stats
    except BaseException:
        if writer is not None:
            writer.close(ok=False)
        raise
    finally:
        stack.close()
