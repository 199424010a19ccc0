"""The streaming tokenize pipeline behind ``ffilab tokenize``: text records in, Parquet of tokens out.

Input is read with pyarrow in batches and never held whole:

- ``.parquet``: column ``text`` (strings), optional integer column ``id``; a corpus written by
  ``ffilab corpus`` (columns ``id, source, text``) is read as it is;
- ``.jsonl``: one JSON object per line with a string field ``text`` and an optional integer
  field ``id``; other fields are ignored, blank lines are skipped;
- ``.txt``: one record per line, UTF-8; lines are split on ``"\\n"`` only (a ``"\\r"`` before it is
  dropped), so every line is a record, a blank one too.

Each batch goes through one route's tokenizer and is appended to the output with
``pyarrow.parquet.ParquetWriter``: columns ``id`` (int64) and ``tokens`` (list<string>), in input
order.  A record's ``id`` is its own id where the input gives one, else its position in the input
(0-based).  The output is written to ``OUT.part`` and renamed at the end, so a failed run never
leaves a truncated file under the name asked for.

Two paths through the tokenizer write the very same bytes:

- *arrow*, for a route that exports the optional kernel ``tokenize_arrow``
  (:mod:`ffilab.text.arrow`): the batch's Arrow string array goes in as it was read, and the
  tokens come back as an Arrow ``list<string>`` array built by native code — no Python object per
  record or per token;
- *lists*, for every other route: the batch becomes a list of str, ``tokenize_batch`` returns the
  lesson's list of lists, converted to Arrow for the writer.

Engines (every one writes the same file, whatever the route, the path or the number of workers):

- ``local`` with ``workers=1``: read, tokenize and write in this process, timed per stage;
- ``local`` with ``workers=N`` and ``parallel="threads"`` (the default on the arrow path): N
  threads each read a partition (a Parquet row group, 8 MiB of lines) and tokenize it, while this
  thread writes the results in order; the native scan, Parquet's decoding and encoding all
  release the GIL, so the threads share the CPUs (only Python's NFKC of the texts the quick check
  cannot prove normalised, and the little Python between calls, hold it);
- ``local`` with ``workers=N`` and ``parallel="processes"`` (the default on the lists path, whose
  ``tokenize_batch`` builds Python objects under the GIL): N worker processes each read their own
  partition (only its path and row-group range are sent) and hand the tokens back as an Arrow IPC
  file in shared memory (``/dev/shm``), which this process maps without a copy and writes;
- in both, at most ``2 * N`` partitions are in flight, so memory stays flat whatever the input's
  size;
- ``dask`` (:mod:`ffilab.text.dask_engine`): the input is cut into partitions (Parquet row groups,
  byte ranges of lines) that tasks read and tokenize themselves; the client writes them in order.

:func:`profile` measures the read / tokenize / write split of each route over the same input and
sets Amdahl's predicted overall speedup beside the measured one (the lesson's Level 3 design
challenge, measured instead of estimated).
"""

from __future__ import annotations

import io
import math
import multiprocessing
import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import pyarrow.parquet as pq

import ffilab

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "PROFILE_GOALS",
    "FORMATS",
    "LESSON_AMDAHL",
    "REFERENCE_ROUTE",
    "SCHEMA",
    "Chunk",
    "Part",
    "PARALLEL_MODES",
    "PipelineError",
    "RunStats",
    "TokenizeOptions",
    "TokenWriter",
    "Tokenizer",
    "UsageError",
    "amdahl",
    "default_route",
    "input_format",
    "iter_chunks",
    "load_pipeline_tokenizer",
    "load_tokenizer",
    "plan_parts",
    "print_profile",
    "profile",
    "read_part",
    "run_cli",
    "tokenize_file",
    "tokens_array",
    "warm",
]

#: The input formats, by file suffix.
FORMATS: dict[str, str] = {".txt": "txt", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
#: Records per call of the tokenizer, and per row group of the output: large enough that the
#: per-call and per-row-group costs vanish (Parquet writes a row group per batch: measured, 10,000
#: records a batch cost 1.4x the writing time of 65,536), small enough that a batch in flight is a
#: few MB; the row group size of ``ffilab corpus``.
DEFAULT_BATCH_SIZE = 65_536
#: The route every other is measured against.
REFERENCE_ROUTE = "python"
#: The default route: the first of these that is available (the fastest measured first).
ROUTE_PREFERENCE: tuple[str, ...] = ("capi", "cython", "pyo3", "nanobind", "pybind11", "cffi_api", "python")
TOKENS_TYPE = pa.list_(pa.string())
#: The output's columns.
SCHEMA = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("tokens", TOKENS_TYPE, nullable=False)])
#: Bytes of a .txt/.jsonl input read at once by the local engine (then cut into batches).
_BLOCK_BYTES = 8 << 20
_JSON_SCHEMA = pa.schema([("text", pa.string()), ("id", pa.int64())])
_JSON_PARSE = pajson.ParseOptions(explicit_schema=_JSON_SCHEMA, unexpected_field_behavior="ignore")

#: The lesson's Amdahl arithmetic (Level 3 solution sketch): it prints 2.86x for an expression
#: whose value is 2.985x; 2.86x = 1 / 0.35 would need a tokenizer only 14x faster, not 20x.
LESSON_AMDAHL: dict[str, Any] = {
    "expression": "1 / (0.30 + 0.70 / 20)",
    "lesson_says": 2.86,
    "value": 1.0 / (0.30 + 0.70 / 20),
    # 2.86 is 1 / 0.35 rounded: 0.30 + 0.70 / s = 0.35 at s = 14.
    "tokenizer_speedup_for_2_86": 0.70 / (0.35 - 0.30),
}


class PipelineError(ValueError):
    """The input cannot be tokenized as asked (a bad file, a missing column, a non-str record)."""


class UsageError(ValueError):
    """The options do not describe a job (the CLI reports it as a usage error)."""


# ------------------------------------------------------------------------------------------------
# Reading: partitions and batches
# ------------------------------------------------------------------------------------------------


class Chunk(NamedTuple):
    """A batch of records: their texts (an Arrow string array or a list of str) and ids (or None)."""

    texts: pa.Array | list[str]
    ids: pa.Array | None


@dataclass(frozen=True)
class Part:
    """A partition of the input: row groups ``[start, stop)`` of a Parquet file, or the lines
    that begin at bytes ``[start, stop)`` of a .txt/.jsonl file."""

    path: str
    fmt: str
    start: int
    stop: int


def input_format(path: str | os.PathLike[str]) -> str:
    """Return ``"txt"``, ``"jsonl"`` or ``"parquet"`` for ``path``, by its suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise PipelineError(f"{Path(path).name}: INPUT must end in .txt, .jsonl or .parquet, got {suffix or 'no suffix'!r}")
    return FORMATS[suffix]


def _parquet_columns(path: str) -> tuple[pq.ParquetFile, list[str]]:
    """Open ``path`` and return it with the columns to read, after checking their types."""
    pf = pq.ParquetFile(path)
    schema = pf.schema_arrow
    if "text" not in schema.names:
        raise PipelineError(f"{path}: no column 'text' (columns: {', '.join(schema.names) or 'none'})")
    ttype = schema.field("text").type
    if pa.types.is_dictionary(ttype):
        ttype = ttype.value_type
    if not (pa.types.is_string(ttype) or pa.types.is_large_string(ttype) or pa.types.is_string_view(ttype)):
        raise PipelineError(f"{path}: column 'text' must hold strings, got {schema.field('text').type}")
    columns = ["text"]
    if "id" in schema.names:
        if not pa.types.is_integer(schema.field("id").type):
            raise PipelineError(f"{path}: column 'id' must hold integers, got {schema.field('id').type}")
        columns.append("id")
    return pf, columns


def plan_parts(path: str | os.PathLike[str], part_bytes: int = _BLOCK_BYTES) -> list[Part]:
    """Cut the input into partitions: one per Parquet row group, or ``part_bytes`` of lines.

    Also checks the input (format, Parquet columns) before any work is sent anywhere.
    """
    spath = os.fspath(path)
    fmt = input_format(spath)
    if fmt == "parquet":
        pf, _ = _parquet_columns(spath)
        return [Part(spath, fmt, i, i + 1) for i in range(pf.metadata.num_row_groups)]
    if part_bytes < 1:
        raise ValueError(f"plan_parts: part_bytes must be >= 1, got {part_bytes}")
    size = os.path.getsize(spath)
    return [Part(spath, fmt, a, min(a + part_bytes, size)) for a in range(0, size, part_bytes)]


def _line_block(f: BinaryIO, start: int, stop: int) -> tuple[int, bytes]:
    """Return the offset and bytes of the lines that begin in ``[start, stop)``.

    A line cut by ``start`` belongs to the partition before, which reads past its ``stop`` to
    finish it: every line is read exactly once whatever the cut points.
    """
    if start > 0:
        f.seek(start - 1)
        if f.read(1) != b"\n":
            f.readline()
    else:
        f.seek(0)
    first = f.tell()
    if first >= stop:
        return first, b""
    data = f.read(stop - first)
    if data and not data.endswith(b"\n"):
        data += f.readline()
    return first, data


def _txt_records(path: str, first: int, block: bytes) -> list[str]:
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PipelineError(f"{path}: not UTF-8 text at byte {first + exc.start} ({exc.reason})") from None
    if not text:
        return []
    if text.endswith("\n"):
        text = text[:-1]
    lines = text.split("\n")
    if "\r" in text:
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    return lines


def _jsonl_records(path: str, first: int, block: bytes) -> tuple[pa.Array, pa.Array]:
    if not block.strip():
        return pa.array([], pa.string()), pa.array([], pa.int64())
    # One parse of the whole block (every line is complete); the block size must cover it.
    opts = pajson.ReadOptions(use_threads=False, block_size=max(len(block) + 1, 1 << 16))
    try:
        table = pajson.read_json(io.BytesIO(block), read_options=opts, parse_options=_JSON_PARSE)
    except pa.ArrowInvalid as exc:
        raise PipelineError(f"{path}: bad JSON line in the lines from byte {first}: {exc} "
                            "(each line must be an object with a string 'text' and an optional integer 'id')") from None
    return table.column("text").combine_chunks(), table.column("id").combine_chunks()


def _check_texts(path: str, texts: pa.Array, where: str) -> None:
    if texts.null_count:
        i = pc.index(pc.is_null(texts), True).as_py()
        raise PipelineError(f"{path}: record {i} {where} has no string 'text' (missing or null)")


def read_part(part: Part, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[Chunk]:
    """Yield the records of ``part`` in batches of at most ``batch_size``, checked.

    Raises
    ------
    PipelineError
        A record without a string ``text``, a non-integer ``id``, text that is not UTF-8, a bad
        JSON line.
    """
    if batch_size < 1:
        raise ValueError(f"read_part: batch_size must be >= 1, got {batch_size}")
    if part.fmt == "parquet":
        pf, columns = _parquet_columns(part.path)
        seen = 0
        for batch in pf.iter_batches(batch_size=batch_size, row_groups=range(part.start, part.stop),
                                     columns=columns, use_threads=False):
            texts = batch.column(0)
            if not pa.types.is_string(texts.type):
                texts = texts.cast(pa.string())
            _check_texts(part.path, texts, f"of row group {part.start} (+{seen})")
            ids = batch.column(1).cast(pa.int64()) if len(columns) > 1 else None
            seen += len(texts)
            yield Chunk(texts, ids)
        return
    with open(part.path, "rb") as f:
        first, block = _line_block(f, part.start, part.stop)
    if part.fmt == "txt":
        lines = _txt_records(part.path, first, block)
        for a in range(0, len(lines), batch_size):
            yield Chunk(lines[a:a + batch_size], None)
        return
    texts, ids = _jsonl_records(part.path, first, block)
    _check_texts(part.path, texts, f"of the lines from byte {first}")
    has_ids = ids.null_count < len(ids)
    for a in range(0, len(texts), batch_size):
        # A slice pickles with its parent's whole buffers: copy it, as it may go to a worker.
        t = pa.concat_arrays([texts.slice(a, batch_size)])
        yield Chunk(t, pa.concat_arrays([ids.slice(a, batch_size)]) if has_ids else None)


def iter_chunks(path: str | os.PathLike[str], batch_size: int = DEFAULT_BATCH_SIZE, limit: int | None = None) -> Iterator[Chunk]:
    """Yield the records of the whole input in order, in batches of at most ``batch_size``.

    Only one block of the input (a Parquet batch, or 8 MiB of lines) is in memory at a time.
    ``limit`` stops after that many records.
    """
    parts = plan_parts(path)
    left = math.inf if limit is None else limit
    for part in parts:
        for chunk in read_part(part, batch_size):
            if left <= 0:
                return
            n = len(chunk.texts)
            if n > left:
                k = int(left)
                chunk = Chunk(chunk.texts[:k], None if chunk.ids is None else chunk.ids[:k])
                n = k
            left -= n
            yield chunk


# ------------------------------------------------------------------------------------------------
# Tokenizing and writing
# ------------------------------------------------------------------------------------------------


def load_tokenizer(route: str) -> Callable[[list[str]], list[list[str]]]:
    """Return ``ffilab.route(route).tokenize_batch``; PipelineError if it cannot be had here."""
    try:
        return ffilab.route(route).tokenize_batch  # type: ignore[no-any-return]
    except KeyError as exc:
        raise PipelineError(str(exc.args[0])) from None
    except (ffilab.RouteUnavailable, AttributeError) as exc:
        raise PipelineError(f"route {route!r} cannot tokenize here: {exc}") from None


class Tokenizer(NamedTuple):
    """A route's tokenizer as the pipeline runs it: ``tokenize_arrow`` where the route has it."""

    route: str
    #: The route's ``tokenize_batch`` (every route has it).
    batch: Callable[[list[str]], list[list[str]]]
    #: The route's ``tokenize_arrow``, or None: no such kernel, or the lists path was asked for.
    arrow: Callable[[Any], pa.Array] | None

    @property
    def path(self) -> str:
        """``"arrow"`` or ``"lists"``: which of the two paths (see the module's docstring) it takes."""
        return "lists" if self.arrow is None else "arrow"

    def tokens(self, texts: pa.Array | list[str]) -> pa.Array:
        """Return the tokens of a batch as the ``list<string>`` array the writer takes."""
        if self.arrow is not None:
            return self.arrow(texts)
        return tokens_array(self.batch(as_list(texts)))


def load_pipeline_tokenizer(route: str, *, arrow: bool = True) -> Tokenizer:
    """Return route ``route``'s :class:`Tokenizer`: its ``tokenize_arrow`` if it has one and ``arrow``.

    Raises
    ------
    PipelineError
        The route does not exist or cannot tokenize here.
    """
    from ffilab.text.arrow import arrow_tokenizer

    batch = load_tokenizer(route)
    return Tokenizer(route, batch, arrow_tokenizer(route) if arrow else None)


def default_route() -> str:
    """Return the first route of :data:`ROUTE_PREFERENCE` that can tokenize on this installation."""
    for name in ROUTE_PREFERENCE:
        try:
            load_tokenizer(name)
        except PipelineError:
            continue
        return name
    return REFERENCE_ROUTE


def as_list(texts: pa.Array | list[str]) -> list[str]:
    """Return the texts of a chunk as the list of str the kernel takes."""
    return texts if isinstance(texts, list) else texts.to_pylist()


def tokens_array(tokens: list[list[str]]) -> pa.Array:
    """Return the kernel's answer as an Arrow ``list<string>`` array."""
    return pa.array(tokens, type=TOKENS_TYPE)


class TokenWriter:
    """Append batches of ``(id, tokens)`` to a Parquet file in order, filling missing ids.

    Written to ``out`` + ``.part`` and renamed by :meth:`close` only after a complete run.
    """

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.out.with_name(self.out.name + ".part")
        # Statistics (min/max) for the id column only: those of the tokens (the smallest and
        # largest token of a row group) serve no query, and computing them cost 15% of the
        # writing (measured on 262,144 corpus records: 0.270 s -> 0.229 s CPU).
        self._writer = pq.ParquetWriter(self._tmp, SCHEMA, write_statistics=["id"])
        #: Records written so far: the position of the next record in the input.
        self.records = 0

    def write(self, ids: pa.Array | pa.ChunkedArray | None, tokens: pa.Array | pa.ChunkedArray) -> None:
        """Append one batch; a null or absent id becomes the record's position in the input."""
        n = len(tokens)
        if ids is not None and len(ids) != n:
            raise ValueError(f"TokenWriter.write: {len(ids)} ids for {n} token lists")
        if ids is None or ids.null_count:
            pos = pa.array(np.arange(self.records, self.records + n, dtype=np.int64))
            ids = pos if ids is None else pc.if_else(pc.is_valid(ids), ids, pos)
        self._writer.write_table(pa.Table.from_arrays([ids, tokens], schema=SCHEMA))
        self.records += n

    def close(self, ok: bool = True) -> None:
        """Finish the file and give it its name (``ok``), or remove it (a failed run)."""
        self._writer.close()
        if ok:
            os.replace(self._tmp, self.out)
        else:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> TokenWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.close(ok=exc_type is None)


# ------------------------------------------------------------------------------------------------
# The local engine
# ------------------------------------------------------------------------------------------------

STAGES = ("read", "tokenize", "write")


@dataclass
class RunStats:
    """What one run did and how long it took.

    ``wall_s`` is the streaming run itself; ``startup_s`` (worker processes, a Dask cluster) is
    reported apart because it does not grow with the input.  ``stages`` holds the wall and CPU
    seconds of read / tokenize / write for an in-process run (empty otherwise).
    """

    route: str
    engine: str
    workers: int
    records: int = 0
    wall_s: float = 0.0
    startup_s: float = 0.0
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    #: ``"arrow"`` or ``"lists"`` (see the module's docstring).
    path: str = ""
    #: ``"threads"`` or ``"processes"`` for a local run with several workers, else ``""``.
    parallel: str = ""

    @property
    def records_per_s(self) -> float:
        """Records per second of the streaming run."""
        return self.records / self.wall_s if self.wall_s > 0 else math.inf


class _StageClock:
    """Accumulates wall (``perf_counter``) and CPU (``process_time``: pyarrow's threads too) per stage."""

    def __init__(self) -> None:
        self.times = {s: {"wall_s": 0.0, "cpu_s": 0.0} for s in STAGES}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        w, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.times[stage]["wall_s"] += time.perf_counter() - w
            self.times[stage]["cpu_s"] += time.process_time() - c


def warm(tokenize: Callable[[list[str]], Any]) -> None:
    """Call ``tokenize`` once, so that one-off set-up is paid before any clock runs."""
    # A native route may build its tables at its first call (the class table takes ~0.3 s, the
    # Arrow kernel's quick-check tables are read from the cache): paid once per process, before
    # any clock runs.
    tokenize(["warm-up ① Straße"])


def _run_inprocess(path: str, writer: TokenWriter, tok: Tokenizer, stats: RunStats, batch_size: int,
                   limit: int | None, progress: Callable[[int], Any] | None) -> None:
    clock = _StageClock()
    start = time.perf_counter()
    arrow = tok.arrow
    with clock("read"):
        chunks = iter_chunks(path, batch_size, limit)
    while True:
        with clock("read"):
            chunk = next(chunks, None)
            if chunk is None:
                break
            # The arrow path takes the batch as read; the lists path needs Python's str.
            texts = chunk.texts if arrow is not None else as_list(chunk.texts)
        with clock("tokenize"):
            result = arrow(texts) if arrow is not None else tok.batch(texts)  # type: ignore[arg-type]
        with clock("write"):
            writer.write(chunk.ids, result if arrow is not None else tokens_array(result))
        if progress is not None:
            progress(len(texts))
    with clock("write"):
        writer.close()
    stats.wall_s = time.perf_counter() - start
    stats.stages = clock.times


#: How the local engine runs more than one worker: ``auto`` takes threads on the arrow path and
#: processes on the lists path (measured: ``ffilab tokenize --profile``, README).
PARALLEL_MODES = ("auto", "threads", "processes")

Tokens = list[tuple["pa.Array | None", pa.Array]]


def _part_tokens(part: Part, tok: Tokenizer, batch_size: int) -> Tokens:
    """Read and tokenize one partition: its batches' ``(ids, tokens)``, in order."""
    return [(chunk.ids, tok.tokens(chunk.texts)) for chunk in read_part(part, batch_size)]


def _write_in_order(writer: TokenWriter, parts: list[Part], submit: Callable[[Part], Future[Any]],
                    unpack: Callable[[Any], Iterator[tuple[pa.Array | None, pa.Array]]], in_flight: int,
                    limit: int | None, progress: Callable[[int], Any] | None) -> None:
    """Submit the partitions, at most ``in_flight`` at a time, and write their batches in order.

    The batches and the cut at ``limit`` are those of :func:`iter_chunks`, so the file is the one
    the in-process run writes.
    """
    left = math.inf if limit is None else limit
    todo = iter(parts)
    pending: deque[Future[Any]] = deque()

    def fill() -> None:
        while len(pending) < in_flight:
            part = next(todo, None)
            if part is None:
                return
            pending.append(submit(part))

    fill()
    while pending and left > 0:
        for ids, tokens in unpack(pending.popleft().result()):
            if left <= 0:
                break
            n = len(tokens)
            if n > left:
                n = int(left)
                tokens = tokens.slice(0, n)
                ids = None if ids is None else ids.slice(0, n)
            writer.write(ids, tokens)
            left -= n
            if progress is not None:
                progress(n)
        fill()
    for fut in pending:
        fut.cancel()


def _run_threads(path: str, writer: TokenWriter, tok: Tokenizer, stats: RunStats, workers: int, batch_size: int,
                 limit: int | None, progress: Callable[[int], Any] | None) -> None:
    start = time.perf_counter()
    with ThreadPoolExecutor(workers, thread_name_prefix="ffilab-tokenize") as pool:
        try:
            _write_in_order(writer, plan_parts(path), lambda part: pool.submit(_part_tokens, part, tok, batch_size),
                            iter, 2 * workers, limit, progress)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    writer.close()
    stats.wall_s = time.perf_counter() - start


# Set in each worker process by the pool's initializer: the route's tokenizer, loaded once.
_worker_tok: Tokenizer | None = None

#: What a worker process hands back per batch, as an Arrow IPC file in shared memory.
_IPC_SCHEMA = pa.schema([pa.field("id", pa.int64()), pa.field("tokens", TOKENS_TYPE, nullable=False)])


def _worker_init(route: str, arrow: bool) -> None:
    global _worker_tok
    _worker_tok = load_pipeline_tokenizer(route, arrow=arrow)
    warm(_worker_tok.tokens)


def _worker_ready(_: int) -> int:
    # Sleep a little so that every worker of the pool gets one of these and is started.
    time.sleep(0.05)
    return os.getpid()


def _worker_part(part: Part, batch_size: int, directory: str) -> str:
    """Read and tokenize one partition in a worker; return the Arrow IPC file its batches are in.

    Only the partition's path and range came in (pickled: a few bytes); the tokens go back as a
    file in ``directory`` (shared memory), which the parent maps without a copy.
    """
    assert _worker_tok is not None
    fd, name = tempfile.mkstemp(dir=directory, suffix=".arrow")
    os.close(fd)
    with pa.OSFile(name, "wb") as sink, pa.ipc.new_file(sink, _IPC_SCHEMA) as ipc:
        for ids, tokens in _part_tokens(part, _worker_tok, batch_size):
            ipc.write_batch(pa.record_batch([pa.nulls(len(tokens), pa.int64()) if ids is None else ids, tokens],
                                            schema=_IPC_SCHEMA))
    return name


def _read_ipc(name: str) -> Iterator[tuple[pa.Array | None, pa.Array]]:
    """The batches of a worker's IPC file, mapped (no copy); the file is removed once read."""
    try:
        with pa.memory_map(name) as source:
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                batch = reader.get_batch(i)
                ids = batch.column(0)
                yield (None if ids.null_count == len(ids) else ids), batch.column(1)
    finally:
        os.unlink(name)


def _pool_context() -> multiprocessing.context.BaseContext:
    # Not fork: this process runs threads (pyarrow's pool, the progress bar) and forking a
    # threaded process can deadlock the child.
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # The fork server imports pyarrow and ffilab once; every worker forked from it starts warm.
    ctx.set_forkserver_preload([__name__])
    return ctx


def _shared_dir() -> str:
    """A new directory in shared memory (``/dev/shm``) where there is one, else in the temp dir."""
    shm = "/dev/shm"
    return tempfile.mkdtemp(prefix="ffilab-tokenize-", dir=shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None)


def _run_pool(path: str, writer: TokenWriter, tok: Tokenizer, stats: RunStats, workers: int, batch_size: int,
              limit: int | None, progress: Callable[[int], Any] | None) -> None:
    begin = time.perf_counter()
    directory = _shared_dir()
    pool = ProcessPoolExecutor(workers, mp_context=_pool_context(), initializer=_worker_init,
                               initargs=(tok.route, tok.arrow is not None))
    try:
        # Start (and warm) every worker before the clock runs: start-up is a fixed cost.
        list(pool.map(_worker_ready, range(workers)))
        start = time.perf_counter()
        stats.startup_s = start - begin
        _write_in_order(writer, plan_parts(path), lambda part: pool.submit(_worker_part, part, batch_size, directory),
                        _read_ipc, 2 * workers, limit, progress)
        writer.close()
        stats.wall_s = time.perf_counter() - start
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(directory, ignore_errors=True)


def tokenize_file(
    input: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    route: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = 1,
    limit: int | None = None,
    progress: Callable[[int], Any] | None = None,
    parallel: str = "auto",
    arrow: bool = True,
) -> RunStats:
    """Tokenize every record of ``input`` with ``route`` and write ``out`` (Parquet: id, tokens).

    Parameters
    ----------
    input : path
        A .txt, .jsonl or .parquet file (see the module's docstring for what each holds).
    out : path
        The Parquet file to write (replaced only when the run succeeds).
    route : str, optional
        The route that tokenizes (default: :func:`default_route`).
    batch_size : int
        Records per call of the tokenizer (and per row group of the output).
    workers : int
        1: everything in this process, with the read / tokenize / write split timed.  N > 1: N
        threads or worker processes (``parallel``) read and tokenize partitions, this thread
        writes; at most ``2 * N`` partitions in flight.
    limit : int, optional
        Stop after this many records (e.g. to profile a sample of a large corpus).
    progress : callable, optional
        Called with the number of records of each batch as it is written.
    parallel : {"auto", "threads", "processes"}
        How N > 1 workers run; ``auto``: threads on the arrow path, processes on the lists path.
    arrow : bool
        Use the route's ``tokenize_arrow`` if it has one (False: ``tokenize_batch`` and lists).
        Both paths write the same file.

    Returns
    -------
    RunStats

    Raises
    ------
    PipelineError
        The input is not one the pipeline reads (see :func:`read_part`), or the route cannot run.
    UsageError
        A bad option value.
    """
    name = route or default_route()
    if batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
    if workers < 1:
        raise UsageError(f"--workers must be >= 1, got {workers}")
    if limit is not None and limit < 0:
        raise UsageError(f"--limit must be >= 0, got {limit}")
    if parallel not in PARALLEL_MODES:
        raise UsageError(f"--parallel must be one of {', '.join(PARALLEL_MODES)}, got {parallel!r}")
    path = os.fspath(input)
    plan_parts(path)  # checks the input before the output is created
    tok = load_pipeline_tokenizer(name, arrow=arrow)
    mode = ("threads" if tok.arrow is not None else "processes") if parallel == "auto" else parallel
    stats = RunStats(name, "local", workers, path=tok.path, parallel=mode if workers > 1 else "")
    writer = TokenWriter(out)
    try:
        if workers == 1:
            warm(tok.tokens)
            _run_inprocess(path, writer, tok, stats, batch_size, limit, progress)
        elif mode == "threads":
            warm(tok.tokens)
            _run_threads(path, writer, tok, stats, workers, batch_size, limit, progress)
        else:
            _run_pool(path, writer, tok, stats, workers, batch_size, limit, progress)
    except BaseException:
        writer.close(ok=False)
        raise
    stats.records = writer.records
    return stats


# ------------------------------------------------------------------------------------------------
# Profile: the time split, Amdahl's prediction and the measured speedup
# ------------------------------------------------------------------------------------------------


def amdahl(p: float, s: float) -> float:
    """Return Amdahl's overall speedup ``1 / ((1 - p) + p / s)``.

    ``p`` is the share of the time spent in the part that is made ``s`` times faster.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"amdahl: p must be in [0, 1], got {p}")
    if s <= 0:
        raise ValueError(f"amdahl: s must be > 0, got {s}")
    return 1.0 / ((1.0 - p) + p / s)


def _same_output(a: Path, b: Path) -> bool:
    """Whether two output files hold the same rows, compared a block at a time."""
    fa, fb = pq.ParquetFile(a), pq.ParquetFile(b)
    if fa.metadata.num_rows != fb.metadata.num_rows:
        return False
    for x, y in zip(fa.iter_batches(batch_size=65536), fb.iter_batches(batch_size=65536)):
        if not x.equals(y):
            return False
    return True


def _available_tokenizers() -> list[str]:
    names = []
    for spec in ffilab.ROUTES:
        try:
            load_tokenizer(spec.name)
        except PipelineError:
            continue
        names.append(spec.name)
    return names


#: The issue-18 targets :func:`profile` reports against (measured, never asserted in tests).
PROFILE_GOALS: dict[str, tuple[str, float]] = {
    "arrow_tokenize": ("arrow tokenize stage vs the best lists route's (CPU, single thread)", 3.0),
    "records_per_s": ("end-to-end records/s, best configuration", 650_000.0),
    "projection_100m_s": ("100M-record projection, best configuration (s)", 150.0),
    "parallel_speedup": ("best parallel configuration vs one worker, same route and path", 1.6),
}


def profile(
    input: str | os.PathLike[str],
    *,
    routes: Sequence[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: Iterable[int] = (1,),
    limit: int | None = None,
    out: str | os.PathLike[str] | None = None,
    progress: Callable[[str, int | None], Callable[[int], Any]] | None = None,
    parallel: Sequence[str] = ("auto",),
    paths: Sequence[str] = ("lists", "arrow"),
) -> dict[str, Any]:
    """Time the pipeline per route and path over the same input; predict each speedup by Amdahl's law.

    Every route runs the whole pipeline in this process, timed in three stages: *read* (the input
    parsed up to what the kernel takes: a list of str on the lists path, the Arrow array itself
    on the arrow path), *tokenize* (the kernel's call) and *write* (on the lists path the lists
    converted to Arrow, then Parquet).  A route with ``tokenize_arrow`` is profiled on both paths
    (``paths``), one row each.  ``p`` is the reference's tokenize share of its end-to-end time and
    ``s`` a row's measured tokenize speedup over the reference, so Amdahl predicts
    ``1 / ((1 - p) + p / s)``, set beside the measured end-to-end speedup; both on the wall clock
    and (keys ending ``_cpu``) on process CPU time, which is steadier on a shared machine.  Each
    row is also run with every worker count in ``workers`` (> 1: in every mode of ``parallel``),
    and its records/s give a projection for 100M records (assuming time linear in records, which
    the streaming design makes true up to the disk).  The outputs of every route, path, mode and
    worker count are compared: they must be identical.

    Parameters
    ----------
    input : path
        As for :func:`tokenize_file`.
    routes : sequence of str, optional
        Routes to profile besides the reference (default: :func:`default_route`); ``["all"]``:
        every available route.
    batch_size, limit
        As for :func:`tokenize_file`.
    workers : iterable of int
        Worker counts to measure for the projection (1 is always measured).
    out : path, optional
        Where to keep the output of the last row profiled (else it is discarded).
    progress : callable, optional
        ``progress(description, total)`` returns the per-batch callback of one run.
    parallel : sequence of str
        The modes (:data:`PARALLEL_MODES`) to run worker counts above 1 in.
    paths : sequence of str
        Which paths to profile a route with ``tokenize_arrow`` on (the reference and routes
        without it always take the lists path).

    Returns
    -------
    dict
        ``routes``: one entry per row (``route``, ``path``, ``label``, ``stages``, ``wall_s``,
        ``tokenize_share``, ``tokenize_speedup``, ``predicted_speedup``, ``measured_speedup``,
        ``records_per_s``, ``scaling``: per worker count and mode ``records_per_s`` and
        ``projection_100m_s``, and ``parallel_speedup``, its best over one worker); ``p``,
        ``ceiling`` (``1 / (1 - p)``), ``identical_output``, ``goals`` (:data:`PROFILE_GOALS`
        measured, where the rows allow), ``load`` (the load average before and after) and
        ``lesson`` (the lesson's own arithmetic, corrected: :data:`LESSON_AMDAHL`).
    """
    from ffilab.text.arrow import arrow_tokenizer

    wanted = list(routes) if routes else [default_route()]
    if wanted == ["all"]:
        wanted = _available_tokenizers()
    names = [REFERENCE_ROUTE] + [r for r in dict.fromkeys(wanted) if r != REFERENCE_ROUTE]
    for name in names:
        load_tokenizer(name)
    for mode in parallel:
        if mode not in PARALLEL_MODES:
            raise UsageError(f"--parallel must be one of {', '.join(PARALLEL_MODES)}, got {mode!r}")
    plan: list[tuple[str, str]] = []
    for name in names:
        has_arrow = name != REFERENCE_ROUTE and arrow_tokenizer(name) is not None
        for path in ("lists", "arrow"):
            if (path == "lists" and (not has_arrow or "lists" in paths)) or (path == "arrow" and has_arrow and "arrow" in paths):
                plan.append((name, path))
    counts = sorted({1, *workers})
    if counts[0] < 1:
        raise UsageError(f"worker counts must be >= 1, got {counts[0]}")
    rows: list[dict[str, Any]] = []
    identical = True
    total = _count_records(input, limit)
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory(prefix="ffilab-profile-", dir=Path(out).parent if out else None) as tmp:
        first: Path | None = None
        kept: Path | None = None
        for name, path in plan:
            label = name if path == "lists" else f"{name} (arrow)"
            scaling: list[dict[str, Any]] = []
            for w in counts:
                for mode in (["auto"] if w == 1 else list(dict.fromkeys(parallel))):
                    dest = Path(tmp) / f"{name}-{path}-{w}-{mode}.parquet"
                    cb = progress(f"{label} x{w}{'' if w == 1 else ' ' + mode}", total) if progress else None
                    stats = tokenize_file(input, dest, route=name, batch_size=batch_size, workers=w, limit=limit,
                                          progress=cb, parallel=mode, arrow=path == "arrow")
                    if w == 1:
                        row: dict[str, Any] = {"route": name, "path": path, "label": label, "records": stats.records,
                                               "wall_s": stats.wall_s,
                                               "cpu_s": sum(s["cpu_s"] for s in stats.stages.values()),
                                               "stages": stats.stages, "records_per_s": stats.records_per_s}
                        kept = dest
                    rate = stats.records_per_s
                    scaling.append({"workers": w, "parallel": stats.parallel, "records_per_s": rate,
                                    "wall_s": stats.wall_s, "startup_s": stats.startup_s,
                                    "projection_100m_s": 1e8 / rate if rate > 0 else math.inf})
                    if first is None:
                        first = dest
                    else:
                        identical = identical and _same_output(first, dest)
                        if dest != kept:
                            dest.unlink()
            row["scaling"] = scaling
            one = scaling[0]["records_per_s"]
            row["parallel_speedup"] = max(sc["records_per_s"] for sc in scaling) / one if one > 0 else math.inf
            rows.append(row)
        if out is not None and kept is not None:
            os.replace(kept, out)
    ref = rows[0]
    shares: dict[str, float] = {}
    # Wall clock is what a user waits for; CPU time is steadier on a shared machine.  Both given.
    for clock, suffix in (("wall_s", ""), ("cpu_s", "_cpu")):
        ref_total, ref_tok = ref[clock], ref["stages"]["tokenize"][clock]
        p = min(max(ref_tok / ref_total, 0.0), 1.0) if ref_total > 0 else 0.0
        ceiling = 1.0 / (1.0 - p) if p < 1 else math.inf
        shares["p" + suffix], shares["ceiling" + suffix] = p, ceiling
        for row in rows:
            total, tok = row[clock], row["stages"]["tokenize"][clock]
            s = ref_tok / tok if tok > 0 else math.inf
            row["tokenize_share" + suffix] = tok / total if total > 0 else 0.0
            row["tokenize_speedup" + suffix] = s
            row["predicted_speedup" + suffix] = amdahl(p, s) if math.isfinite(s) else ceiling
            row["measured_speedup" + suffix] = ref_total / total if total > 0 else math.inf
    return {
        "input": os.fspath(input),
        "format": input_format(input),
        "records": ref["records"],
        "batch_size": batch_size,
        "reference": REFERENCE_ROUTE,
        "cpu_count": os.cpu_count(),
        **shares,
        "routes": rows,
        "identical_output": identical,
        "goals": _goals(rows),
        "load": {"before": load_before, "after": os.getloadavg() if hasattr(os, "getloadavg") else None},
        "lesson": dict(LESSON_AMDAHL),
    }


def _goals(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The measured value of each of :data:`PROFILE_GOALS` that these rows can tell."""
    out: dict[str, dict[str, Any]] = {}

    def put(key: str, value: float, how: str) -> None:
        what, target = PROFILE_GOALS[key]
        met = value <= target if key == "projection_100m_s" else value >= target
        out[key] = {"what": what, "target": target, "value": value, "met": met, "how": how}

    arrow = [r for r in rows if r["path"] == "arrow"]
    lists = [r for r in rows if r["path"] == "lists" and r["route"] != REFERENCE_ROUTE]
    if arrow and lists:
        best_a = min(arrow, key=lambda r: r["stages"]["tokenize"]["cpu_s"])
        best_l = min(lists, key=lambda r: r["stages"]["tokenize"]["cpu_s"])
        a, b = best_a["stages"]["tokenize"]["cpu_s"], best_l["stages"]["tokenize"]["cpu_s"]
        if a > 0:
            put("arrow_tokenize", b / a, f"{best_l['label']} {b:.3f} s / {best_a['label']} {a:.3f} s CPU")
    best = max(((r, sc) for r in rows for sc in r["scaling"]), key=lambda x: x[1]["records_per_s"])
    r, sc = best
    where = f"{r['label']}, {sc['workers']} worker{'s' if sc['workers'] > 1 else ''}{' ' + sc['parallel'] if sc['parallel'] else ''}"
    put("records_per_s", sc["records_per_s"], where)
    put("projection_100m_s", sc["projection_100m_s"], where)
    if any(len(r["scaling"]) > 1 for r in rows):
        r = max(rows, key=lambda r: r["parallel_speedup"] if r["route"] != REFERENCE_ROUTE else 0.0)
        put("parallel_speedup", r["parallel_speedup"], f"{r['label']}, best of its worker counts over 1 worker")
    return out


def _count_records(input: str | os.PathLike[str], limit: int | None) -> int | None:
    """The number of records for a progress bar's total, where it is known without reading."""
    if input_format(input) != "parquet":
        return limit
    n = int(pq.ParquetFile(input).metadata.num_rows)
    return n if limit is None else min(n, limit)


def _fmt_s(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-"
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1e3:.0f} ms"


def print_profile(result: dict[str, Any], console: Any) -> None:
    """Print :func:`profile`'s result as rich tables on ``console``."""
    from rich.table import Table

    load = result.get("load") or {}
    before = load.get("before")
    console.print(f"[bold]ffilab tokenize --profile[/] {result['input']} · {result['records']:,} records · "
                  f"batch {result['batch_size']:,} · {result['cpu_count']} CPUs"
                  + (f" · load average {before[0]:.2f} before, {load['after'][0]:.2f} after" if before else ""))
    split = Table(title="Time split: wall s (CPU s)", title_justify="left")
    for col in ("route", *STAGES, "total", "tokenize share"):
        split.add_column(col, justify="left" if col == "route" else "right")
    for row in result["routes"]:
        st = row["stages"]
        split.add_row(row["label"], *[f"{st[s]['wall_s']:.2f} ({st[s]['cpu_s']:.2f})" for s in STAGES],
                      f"{row['wall_s']:.2f} ({row['cpu_s']:.2f})",
                      f"{row['tokenize_share']:.0%} ({row['tokenize_share_cpu']:.0%})")
    console.print(split)
    amdahl_table = Table(title="Amdahl: predicted 1 / ((1 - p) + p / s) vs measured end-to-end speedup",
                         title_justify="left")
    for col in ("route", "s", "predicted", "measured", "s CPU", "predicted CPU", "measured CPU"):
        amdahl_table.add_column(col, justify="left" if col == "route" else "right")
    for row in result["routes"]:
        amdahl_table.add_row(row["label"], f"{row['tokenize_speedup']:.1f}x", f"{row['predicted_speedup']:.2f}x",
                             f"{row['measured_speedup']:.2f}x", f"{row['tokenize_speedup_cpu']:.1f}x",
                             f"{row['predicted_speedup_cpu']:.2f}x", f"{row['measured_speedup_cpu']:.2f}x")
    console.print(amdahl_table)
    console.print(f"p = {result['p']:.1%} (CPU {result['p_cpu']:.1%}): the reference's tokenize share; s: a route's "
                  f"tokenize speedup over it.  Ceiling 1 / (1 - p) = {result['ceiling']:.2f}x however fast the "
                  "tokenizer: the rest is read + write.")
    lesson = result["lesson"]
    console.print(f"The lesson's arithmetic: {lesson['expression']} = {lesson['value']:.3f}x, not the "
                  f"{lesson['lesson_says']}x it prints (2.86x = 1 / 0.35 needs a tokenizer "
                  f"{lesson['tokenizer_speedup_for_2_86']:.0f}x faster, not 20x).")
    proj = Table(title="Measured records/s and a projection for 100M records on this machine", title_justify="left")
    for col in ("route", "workers", "parallel", "records/s", "vs 1 worker", "100M records", "worker start-up"):
        proj.add_column(col, justify="left" if col == "route" else "right")
    for row in result["routes"]:
        one = row["scaling"][0]["records_per_s"]
        for sc in row["scaling"]:
            proj.add_row(row["label"], str(sc["workers"]), sc["parallel"] or "-", f"{sc['records_per_s']:,.0f}",
                         f"{sc['records_per_s'] / one:.2f}x" if one > 0 else "-", _fmt_s(sc["projection_100m_s"]),
                         _fmt_s(sc["startup_s"]) if sc["parallel"] == "processes" else "-")
    console.print(proj)
    goals = result.get("goals") or {}
    if goals:
        table = Table(title="Targets (issue 18)", title_justify="left")
        for col in ("target", "goal", "measured", "", "how"):
            table.add_column(col, justify="left" if col in ("target", "how") else "right")
        for key, g in goals.items():
            fmt = _fmt_s if key == "projection_100m_s" else (lambda v: f"{v:,.0f}") if key == "records_per_s" else (lambda v: f"{v:.2f}x")
            table.add_row(g["what"], ("<= " if key == "projection_100m_s" else ">= ") + fmt(g["target"]), fmt(g["value"]),
                          "[green]met[/]" if g["met"] else "[red]NOT met[/]", g["how"])
        console.print(table)
    same = "[green]identical[/]" if result["identical_output"] else "[red]DIFFERENT[/]"
    console.print(f"tokens written by every route, path, mode and worker count: {same}")


# ------------------------------------------------------------------------------------------------
# The command line's work (``ffilab/cli.py`` declares the options and calls run_cli)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenizeOptions:
    """The options of ``ffilab tokenize`` (see ``ffilab tokenize --help``)."""

    input: Path
    out: Path | None
    route: str | None
    batch_size: int
    workers: int | None
    engine: str
    scheduler: str | None
    profile: bool
    limit: int | None
    #: How N > 1 local workers run (:data:`PARALLEL_MODES`).
    parallel: str = "auto"


def _progress_bar() -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Records per second."""

        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text("-" if speed is None else f"{speed:,.0f} records/s", style="progress.data.speed")

    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    RateColumn(), TimeElapsedColumn(), console=Console(stderr=True), transient=True)


def run_cli(opts: TokenizeOptions, console: Any) -> dict[str, Any] | RunStats:
    """Do what ``opts`` asks, printing to ``console``; raise :class:`UsageError` for bad options."""
    if opts.engine not in ("local", "dask"):
        raise UsageError(f"--engine must be local or dask, got {opts.engine!r}")
    if opts.scheduler is not None and opts.engine != "dask":
        raise UsageError("--scheduler is for --engine dask")
    if opts.out is None and not opts.profile:
        raise UsageError("give --out FILE.parquet")
    if opts.out is not None and opts.out.suffix.lower() != ".parquet":
        raise UsageError(f"--out must end in .parquet, got {opts.out.name}")
    if opts.workers is not None and opts.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {opts.workers}")
    if opts.batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {opts.batch_size}")
    if opts.limit is not None and opts.limit < 0:
        raise UsageError(f"--limit must be >= 0, got {opts.limit}")
    if opts.parallel not in PARALLEL_MODES:
        raise UsageError(f"--parallel must be one of {', '.join(PARALLEL_MODES)}, got {opts.parallel!r}")
    if opts.parallel != "auto" and opts.engine != "local":
        raise UsageError("--parallel is for --engine local")
    input_format(opts.input)
    if not opts.input.is_file():
        raise PipelineError(f"{opts.input}: no such file")
    route = opts.route
    if route is not None and route != "all":
        load_tokenizer(route)
    if opts.profile:
        if opts.engine != "local":
            raise UsageError("--profile times the local engine (use --workers for the worker counts)")
        top = opts.workers or os.cpu_count() or 1
        # 1, 2, 4, ... up to the count asked for (default: every CPU).
        counts = sorted({1, top, *(2**i for i in range(1, top.bit_length()) if 2**i < top)})
        bar = _progress_bar()
        with bar:
            def progress(what: str, total: int | None) -> Callable[[int], Any]:
                task = bar.add_task(f"profile {what}", total=total)
                return lambda n: bar.advance(task, n)

            # Both parallel modes unless one was asked for: the profile is where they are compared.
            modes = ("threads", "processes") if opts.parallel == "auto" else (opts.parallel,)
            result = profile(opts.input, routes=[route] if route else None, batch_size=opts.batch_size,
                             workers=counts, limit=opts.limit, out=opts.out, progress=progress, parallel=modes)
        print_profile(result, console)
        if not result["identical_output"]:
            raise PipelineError("the routes or worker counts wrote different tokens")
        return result
    if route == "all":
        raise UsageError("--route all is for --profile")
    assert opts.out is not None
    name = route or default_route()
    bar = _progress_bar()
    with bar:
        task = bar.add_task(f"tokenize ({name}, {opts.engine})", total=_count_records(opts.input, opts.limit))
        advance = lambda n: bar.advance(task, n)  # noqa: E731
        if opts.engine == "dask":
            from ffilab.text.dask_engine import tokenize_dask

            stats = tokenize_dask(opts.input, opts.out, route=name, batch_size=opts.batch_size, scheduler=opts.scheduler,
                                  n_workers=opts.workers, limit=opts.limit, progress=advance)
        else:
            stats = tokenize_file(opts.input, opts.out, route=name, batch_size=opts.batch_size, workers=opts.workers or 1,
                                  limit=opts.limit, progress=advance, parallel=opts.parallel)
    where = f"{stats.workers} worker{'s' if stats.workers != 1 else ''}" if stats.workers else "cluster"
    if stats.parallel:
        where += f" ({stats.parallel})"
    if stats.path:
        where += f", {stats.path} path"
    console.print(f"{stats.records:,} records in {stats.wall_s:.2f} s ({stats.records_per_s:,.0f} records/s; route {name}, "
                  f"{stats.engine}, {where}; start-up {stats.startup_s:.2f} s) -> {opts.out}")
    return stats
