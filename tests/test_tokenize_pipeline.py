"""``ffilab tokenize``: the streaming pipeline over real files, worker processes, a real Dask cluster, the CLI.

Every output is checked against the reference kernel called directly on the same records: the
three input formats, any cut of the input into partitions, any number of workers, the Dask engine
and every available route must write exactly the same ``(id, tokens)`` rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ffilab
from ffilab.text import pipeline
from ffilab.text.pipeline import PipelineError

# Records that stress the reader as much as the tokenizer: characters Python's str.splitlines
# would split on (a .txt record ends at "\n" only), a "\r" inside a line, quotes and backslashes
# for JSON, NUL, blank records, and the tokenizer's own adversarial text.
_SEEDS = [
    "Don't stop: state-of-the-art Straße, ﬁne ＡＢＣ İstanbul ışık",
    "",
    "   ",
    "line\u2028separator\x0bvertical\x0cform\x1cfile\x85next",
    "carriage\rreturn inside",
    'JSON "quotes" and \\backslashes\\ and \ttabs',
    "nul\x00byte",
    "Ωμέγα σοφός ΣΊΣΥΦΟΣ שלום עולם مرحبا بالعالم 東京都 नमस्ते दुनिया",
    "emoji 👩\u200d💻 and 😀\u200d😀, digits ² ① ٣ 2024 1,000",
    "'quoted' a--b a-'b x_y e\u0301te\u0301 caf\u00e9",
    "x" * 64 + " " + "y" * 65,
]


def _records(n: int) -> list[str]:
    """``n`` records: the seeds, then deterministic mixtures of their words."""
    words = " ".join(_SEEDS).replace("\n", " ").split(" ")
    out = []
    for i in range(n):
        if i < len(_SEEDS):
            out.append(_SEEDS[i])
        else:
            out.append(" ".join(words[(i * 7 + j * 13) % len(words)] for j in range(i % 17)))
    return out


def _write_txt(path: Path, records: list[str], newline: str = "\n", final: bool = True) -> Path:
    path.write_bytes((newline.join(records) + (newline if final else "")).encode("utf-8"))
    return path


def _write_jsonl(path: Path, records: list[str], ids: list[int] | None = None) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for i, text in enumerate(records):
            obj: dict[str, Any] = {"text": text, "source": "test"}
            if ids is not None:
                obj["id"] = ids[i]
            f.write(json.dumps(obj, ensure_ascii=i % 2 == 0) + "\n")
            if i % 50 == 3:
                f.write("\n")  # blank lines are skipped in JSON Lines
    return path


def _write_corpus(path: Path, records: list[str], ids: list[int], row_group_size: int = 100) -> Path:
    # The layout of a corpus from `ffilab corpus`: id, source, text.
    table = pa.table({"id": pa.array(ids, pa.int64()), "source": ["test"] * len(records), "text": records})
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def _expected(records: list[str], ids: list[int] | None = None) -> list[dict[str, Any]]:
    tokens = ffilab.route("python").tokenize_batch(records)
    return [{"id": i if ids is None else ids[i], "tokens": t} for i, t in enumerate(tokens)]


def _rows(path: Path) -> list[dict[str, Any]]:
    return pq.read_table(path).to_pylist()  # type: ignore[no-any-return]


N = 700
RECORDS = _records(N)
IDS = [10_000 + 3 * i for i in range(N)]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same records as .txt, .jsonl (with and without ids) and .parquet (a corpus)."""
    d = tmp_path_factory.mktemp("inputs")
    return {
        "txt": _write_txt(d / "records.txt", RECORDS),
        "jsonl": _write_jsonl(d / "records.jsonl", RECORDS, IDS),
        "jsonl_noid": _write_jsonl(d / "noid.jsonl", RECORDS),
        "parquet": _write_corpus(d / "corpus.parquet", RECORDS, IDS),
    }


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A real two-worker LocalCluster, shared by the Dask tests.

    Worker threads rather than processes, to start fast; the Dask engine's own cluster (worker
    processes, results serialised to the client) runs in test_cli_dask_with_its_own_cluster.
    """
    from distributed import LocalCluster

    # dashboard_address=":0": a free port, since parallel test workers would clash on 8787.
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as c:
        yield c


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["txt", "jsonl", "jsonl_noid", "parquet"])
def test_formats_write_the_reference_tokens_with_ids(inputs: dict[str, Path], fmt: str, tmp_path: Path) -> None:
    out = tmp_path / "tokens.parquet"
    stats = pipeline.tokenize_file(inputs[fmt], out, route="python", batch_size=37)
    assert stats.records == N
    ids = IDS if fmt in ("jsonl", "parquet") else None
    assert _rows(out) == _expected(RECORDS, ids)
    assert pq.read_schema(out).equals(pipeline.SCHEMA)
    assert not (tmp_path / "tokens.parquet.part").exists()


@pytest.mark.parametrize("fmt", ["txt", "jsonl"])
@pytest.mark.parametrize("part_bytes", [1, 2, 7, 64, 999, 1 << 20])
def test_any_cut_into_parts_reads_every_record_once(tmp_path: Path, fmt: str, part_bytes: int) -> None:
    # Every byte a cut point (part_bytes 1) on a short file; longer parts on the same records.
    records = RECORDS[:150]
    path = _write_txt(tmp_path / "r.txt", records) if fmt == "txt" else _write_jsonl(tmp_path / "r.jsonl", records)
    parts = pipeline.plan_parts(path, part_bytes)
    assert parts[0].start == 0 and parts[-1].stop == path.stat().st_size
    texts: list[str] = []
    for part in parts:
        for chunk in pipeline.read_part(part, batch_size=50):
            texts.extend(pipeline.as_list(chunk.texts))
    assert texts == records


@pytest.mark.parametrize(("newline", "final"), [("\r\n", True), ("\r\n", False), ("\n", False)])
def test_txt_line_endings(tmp_path: Path, newline: str, final: bool) -> None:
    path = _write_txt(tmp_path / "crlf.txt", ["a b", "", "c\rd", "e"], newline, final)
    chunks = list(pipeline.iter_chunks(path))
    assert [t for c in chunks for t in pipeline.as_list(c.texts)] == ["a b", "", "c\rd", "e"]


def test_empty_inputs_write_empty_outputs(tmp_path: Path) -> None:
    for path in (tmp_path / "e.txt", tmp_path / "e.jsonl"):
        path.write_bytes(b"")
        out = tmp_path / f"{path.suffix[1:]}.parquet"
        assert pipeline.tokenize_file(path, out, route="python").records == 0
        assert pq.read_table(out).num_rows == 0
    (tmp_path / "blank.jsonl").write_bytes(b"\n\n  \n")
    assert pipeline.tokenize_file(tmp_path / "blank.jsonl", tmp_path / "b.parquet", route="python").records == 0


def test_limit_keeps_the_first_records(inputs: dict[str, Path], tmp_path: Path) -> None:
    for limit in (0, 5, 37, N + 5):
        out = tmp_path / f"limit{limit}.parquet"
        pipeline.tokenize_file(inputs["parquet"], out, route="python", batch_size=10, limit=limit)
        assert _rows(out) == _expected(RECORDS, IDS)[:limit]


def test_missing_ids_fall_back_to_the_position(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"text": "a", "id": 7}\n{"text": "b"}\n{"text": "c", "id": null}\n{"id": 9, "text": "d"}\n')
    out = tmp_path / "mixed.parquet"
    pipeline.tokenize_file(path, out, route="python", batch_size=1)
    assert _rows(out) == [{"id": 7, "tokens": ["a"]}, {"id": 1, "tokens": ["b"]}, {"id": 2, "tokens": ["c"]},
                          {"id": 9, "tokens": ["d"]}]


# ------------------------------------------------------------------------------------------------
# Bad input: a clear PipelineError, no output left behind
# ------------------------------------------------------------------------------------------------


def _bad_inputs(d: Path) -> dict[str, tuple[Path, str]]:
    pq.write_table(pa.table({"id": [1, 2], "body": ["a", "b"]}), d / "notext.parquet")
    pq.write_table(pa.table({"text": [1, 2]}), d / "inttext.parquet")
    pq.write_table(pa.table({"text": ["a", None]}), d / "nulltext.parquet")
    pq.write_table(pa.table({"text": ["a"], "id": ["x"]}), d / "strid.parquet")
    (d / "numtext.jsonl").write_text('{"text": "fine"}\n{"text": 5}\n')
    (d / "listtext.jsonl").write_text('{"text": ["a", "b"]}\n')
    (d / "notext.jsonl").write_text('{"text": "fine"}\n{"body": "b"}\n')
    (d / "broken.jsonl").write_text('{"text": "fine"}\n{"text": \n')
    (d / "latin1.txt").write_bytes("ok\ncaf\u00e9\n".encode("latin-1"))
    (d / "records.csv").write_text("text\na\n")
    return {
        "parquet without text": (d / "notext.parquet", "no column 'text'"),
        "parquet int text": (d / "inttext.parquet", "column 'text' must hold strings"),
        "parquet null text": (d / "nulltext.parquet", "record 1"),
        "parquet str id": (d / "strid.parquet", "column 'id' must hold integers"),
        "jsonl number text": (d / "numtext.jsonl", "string 'text'"),
        "jsonl list text": (d / "listtext.jsonl", "string 'text'"),
        "jsonl without text": (d / "notext.jsonl", "record 1"),
        "jsonl broken": (d / "broken.jsonl", "bad JSON"),
        "txt not utf-8": (d / "latin1.txt", "not UTF-8 text at byte 6"),
        "unknown suffix": (d / "records.csv", "must end in .txt, .jsonl or .parquet"),
    }


BAD_CASES = ["parquet without text", "parquet int text", "parquet null text", "parquet str id", "jsonl number text",
             "jsonl list text", "jsonl without text", "jsonl broken", "txt not utf-8", "unknown suffix"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_a_clear_error(tmp_path: Path, case: str) -> None:
    path, message = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out.parquet"
    with pytest.raises(PipelineError, match=message):
        pipeline.tokenize_file(path, out, route="python")
    assert not out.exists() and not (tmp_path / "out.parquet.part").exists()


def test_bad_route_and_options(inputs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="unknown route"):
        pipeline.tokenize_file(inputs["txt"], tmp_path / "o.parquet", route="cobol")
    with pytest.raises(ValueError, match="workers"):
        pipeline.tokenize_file(inputs["txt"], tmp_path / "o.parquet", route="python", workers=0)
    with pytest.raises(ValueError, match="batch-size"):
        pipeline.tokenize_file(inputs["txt"], tmp_path / "o.parquet", route="python", batch_size=0)


# ------------------------------------------------------------------------------------------------
# Engines, workers and routes: the same output
# ------------------------------------------------------------------------------------------------


def test_workers_write_the_same_output(inputs: dict[str, Path], tmp_path: Path) -> None:
    one, two = tmp_path / "w1.parquet", tmp_path / "w2.parquet"
    pipeline.tokenize_file(inputs["jsonl"], one, route="python", batch_size=23, workers=1)
    seen: list[int] = []
    stats = pipeline.tokenize_file(inputs["jsonl"], two, route="python", batch_size=23, workers=2, progress=seen.append)
    assert stats.workers == 2 and stats.records == N and sum(seen) == N
    assert pq.read_table(one).equals(pq.read_table(two))
    assert _rows(two) == _expected(RECORDS, IDS)


def _arrow_route() -> str:
    """A route with tokenize_arrow (the arrow path), or skip."""
    from ffilab.text.arrow import routes_with_arrow

    names = routes_with_arrow()
    if not names:
        pytest.skip("no available route exports tokenize_arrow")
    return names[0]


@pytest.mark.parametrize("fmt", ["txt", "jsonl", "jsonl_noid", "parquet"])
def test_every_path_mode_and_worker_count_writes_the_same_bytes(inputs: dict[str, Path], tmp_path: Path,
                                                                fmt: str) -> None:
    # The issue-18 promise: the arrow path (tokenize_arrow) and the lists path (tokenize_batch),
    # one worker, threads and processes write byte-identical files (not only equal rows).
    route = _arrow_route()
    first = tmp_path / "arrow-1.parquet"
    stats = pipeline.tokenize_file(inputs[fmt], first, route=route, batch_size=37)
    assert stats.path == "arrow" and stats.records == N
    want = first.read_bytes()
    runs = [("lists", 1, "auto"), ("arrow", 2, "threads"), ("arrow", 3, "processes"), ("lists", 2, "processes"),
            ("lists", 2, "threads"), ("arrow", 2, "auto")]
    for path, workers, mode in runs:
        out = tmp_path / f"{path}-{workers}-{mode}.parquet"
        seen: list[int] = []
        stats = pipeline.tokenize_file(inputs[fmt], out, route=route, batch_size=37, workers=workers, parallel=mode,
                                       arrow=path == "arrow", progress=seen.append)
        assert stats.path == path and stats.records == N and sum(seen) == N
        if workers > 1:
            assert stats.parallel == ("threads" if mode == "auto" else mode)
        assert out.read_bytes() == want, (path, workers, mode)
    assert _rows(first) == _expected(RECORDS, None if fmt in ("txt", "jsonl_noid") else IDS)


def test_limits_cut_every_engine_at_the_same_record(inputs: dict[str, Path], tmp_path: Path) -> None:
    route = _arrow_route()
    outs = []
    for workers, mode, arrow in ((1, "auto", False), (1, "auto", True), (2, "threads", True), (2, "processes", True)):
        out = tmp_path / f"{workers}-{mode}-{arrow}.parquet"
        stats = pipeline.tokenize_file(inputs["parquet"], out, route=route, batch_size=30, limit=245, workers=workers,
                                       parallel=mode, arrow=arrow)
        assert stats.records == 245
        outs.append(out.read_bytes())
    assert outs.count(outs[0]) == len(outs)
    assert _rows(tmp_path / "1-auto-True.parquet") == _expected(RECORDS, IDS)[:245]


def test_processes_leave_no_shared_memory_behind(inputs: dict[str, Path], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # The directory the worker processes hand their IPC files through (in /dev/shm where there is
    # one) is gone after the run, files and all.
    made: list[str] = []
    make = pipeline._shared_dir

    def spy() -> str:
        made.append(make())
        return made[-1]

    monkeypatch.setattr(pipeline, "_shared_dir", spy)
    pipeline.tokenize_file(inputs["parquet"], tmp_path / "o.parquet", route=_arrow_route(), batch_size=50, workers=2,
                           parallel="processes")
    assert len(made) == 1 and not Path(made[0]).exists()
    if Path("/dev/shm").is_dir():
        assert made[0].startswith("/dev/shm/")


def test_bad_parallel_mode(inputs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(pipeline.UsageError, match="--parallel"):
        pipeline.tokenize_file(inputs["txt"], tmp_path / "o.parquet", route="python", workers=2, parallel="fibers")


@pytest.mark.parametrize("fmt", ["txt", "jsonl_noid", "parquet"])
def test_dask_writes_the_local_output(inputs: dict[str, Path], cluster: Any, tmp_path: Path, fmt: str) -> None:
    from distributed import Client

    from ffilab.text.dask_engine import tokenize_dask

    local, dask = tmp_path / "local.parquet", tmp_path / "dask.parquet"
    pipeline.tokenize_file(inputs[fmt], local, route="python", batch_size=31)
    seen: list[int] = []
    with Client(cluster) as client:
        # Small partitions: many tasks, most of them cutting a line, all written in order.
        stats = tokenize_dask(inputs[fmt], dask, route="python", batch_size=31, client=client, part_bytes=997,
                              window=3, progress=seen.append)
        assert stats.records == N and sum(seen) == N and stats.engine == "dask"
        assert pq.read_table(local).equals(pq.read_table(dask))
        stats = tokenize_dask(inputs[fmt], tmp_path / "limited.parquet", route="python", client=client,
                              part_bytes=997, limit=45)
        assert _rows(tmp_path / "limited.parquet") == _rows(local)[:45]


def test_dask_reports_bad_input(cluster: Any, tmp_path: Path) -> None:
    from ffilab.text.dask_engine import tokenize_dask

    path, message = _bad_inputs(tmp_path)["jsonl number text"]
    with pytest.raises(PipelineError, match=message):
        tokenize_dask(path, tmp_path / "out.parquet", route="python", scheduler=cluster.scheduler_address)
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize("route", [s.name for s in ffilab.ROUTES if s.name != "python"])
def test_routes_write_the_reference_tokens(inputs: dict[str, Path], tmp_path: Path, route: str) -> None:
    try:
        pipeline.load_tokenizer(route)
    except PipelineError as exc:
        pytest.skip(str(exc))
    out = tmp_path / f"{route}.parquet"
    pipeline.tokenize_file(inputs["parquet"], out, route=route, batch_size=64)
    assert _rows(out) == _expected(RECORDS, IDS)


# ------------------------------------------------------------------------------------------------
# Profile and Amdahl
# ------------------------------------------------------------------------------------------------


def test_amdahl_and_the_lessons_arithmetic() -> None:
    assert pipeline.amdahl(0.7, 20) == pytest.approx(2.985, abs=5e-4)
    assert pipeline.LESSON_AMDAHL["value"] == pytest.approx(1 / (0.30 + 0.70 / 20))
    assert pipeline.LESSON_AMDAHL["lesson_says"] == 2.86
    assert pipeline.LESSON_AMDAHL["tokenizer_speedup_for_2_86"] == pytest.approx(14, abs=0.05)
    assert pipeline.amdahl(0.5, 1) == 1.0 and pipeline.amdahl(0.0, 100) == 1.0
    with pytest.raises(ValueError, match="p must be"):
        pipeline.amdahl(1.5, 2)


def test_profile_returns_predicted_and_measured(inputs: dict[str, Path], tmp_path: Path) -> None:
    # The reference alone, with a pool of two (the CLI test below profiles the default route).
    out = tmp_path / "kept.parquet"
    result = pipeline.profile(inputs["parquet"], routes=["python"], workers=[2], out=out)
    assert [r["route"] for r in result["routes"]] == ["python"]
    assert result["identical_output"] and result["records"] == N
    assert 0 < result["p"] <= 1 and result["ceiling"] >= 1
    ref = result["routes"][0]
    assert ref["tokenize_speedup"] == 1.0 and ref["predicted_speedup"] == pytest.approx(1.0)
    for row in result["routes"]:
        assert set(row["stages"]) == {"read", "tokenize", "write"}
        assert row["predicted_speedup"] == pytest.approx(pipeline.amdahl(result["p"], row["tokenize_speedup"]))
        assert row["measured_speedup"] > 0
        assert [s["workers"] for s in row["scaling"]] == [1, 2]
        assert all(s["projection_100m_s"] == pytest.approx(1e8 / s["records_per_s"]) for s in row["scaling"])
    assert _rows(out) == _expected(RECORDS, IDS)
    assert json.loads(json.dumps(result))["lesson"]["lesson_says"] == 2.86  # ready for a results file


def test_profile_compares_the_paths_and_modes(inputs: dict[str, Path]) -> None:
    route = _arrow_route()
    result = pipeline.profile(inputs["parquet"], routes=[route], workers=[2], parallel=("threads", "processes"),
                              batch_size=64)
    assert [(r["route"], r["path"]) for r in result["routes"]] == [("python", "lists"), (route, "lists"), (route, "arrow")]
    assert result["identical_output"]
    for row in result["routes"]:
        assert [(s["workers"], s["parallel"]) for s in row["scaling"]] == [(1, ""), (2, "threads"), (2, "processes")]
        assert row["parallel_speedup"] == pytest.approx(
            max(s["records_per_s"] for s in row["scaling"]) / row["scaling"][0]["records_per_s"])
    goals = result["goals"]
    assert set(goals) == set(pipeline.PROFILE_GOALS)
    tok = {r["path"]: r["stages"]["tokenize"]["cpu_s"] for r in result["routes"][1:]}
    assert goals["arrow_tokenize"]["value"] == pytest.approx(tok["lists"] / tok["arrow"])
    assert goals["projection_100m_s"]["value"] == pytest.approx(1e8 / goals["records_per_s"]["value"])


# ------------------------------------------------------------------------------------------------
# CLI (`python -m ffilab tokenize ...` in a child process, as a user runs it)
# ------------------------------------------------------------------------------------------------


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="160")
    return subprocess.run([sys.executable, "-m", "ffilab", "tokenize", *map(str, args)], capture_output=True,
                          text=True, timeout=120, env=env)


def test_cli_tokenizes(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "cli.parquet"
    proc = _cli(inputs["txt"], "--out", out, "--route", "python", "--batch-size", "100", "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert f"{N:,} records" in proc.stdout and "records/s" in proc.stdout
    assert _rows(out) == _expected(RECORDS)


def test_cli_dask_with_its_own_cluster(inputs: dict[str, Path], tmp_path: Path) -> None:
    # The default path of --engine dask: a LocalCluster of worker processes, started and closed.
    out = tmp_path / "cli-dask.parquet"
    proc = _cli(inputs["jsonl"], "--out", out, "--route", "python", "--engine", "dask", "--workers", "1")
    # stderr is not checked for silence: a worker may log a heartbeat error while a LocalCluster
    # closes (dask/distributed#7105, harmless), which would make such a check flaky.
    assert proc.returncode == 0, proc.stderr
    assert f"{N:,} records" in proc.stdout and "dask" in proc.stdout
    assert _rows(out) == _expected(RECORDS, IDS)


@pytest.mark.parametrize("case", ["parquet without text", "jsonl number text"])
def test_cli_bad_input_exits_nonzero(tmp_path: Path, case: str) -> None:
    path, message = _bad_inputs(tmp_path)[case]
    proc = _cli(path, "--out", tmp_path / "out.parquet", "--route", "python")
    assert proc.returncode == 2
    assert "error:" in proc.stdout and message in " ".join(proc.stdout.split())
    assert not (tmp_path / "out.parquet").exists()


def test_cli_usage_errors(inputs: dict[str, Path], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ffilab.cli import app

    for args in ([], ["--out", str(tmp_path / "o.csv")], ["--out", str(tmp_path / "o.parquet"), "--engine", "spark"],
                 ["--out", str(tmp_path / "o.parquet"), "--scheduler", "tcp://127.0.0.1:1"],
                 ["--out", str(tmp_path / "o.parquet"), "--route", "all"],
                 ["--out", str(tmp_path / "o.parquet"), "--workers", "2", "--parallel", "fibers"],
                 ["--out", str(tmp_path / "o.parquet"), "--engine", "dask", "--parallel", "threads"]):
        result = CliRunner().invoke(app, ["tokenize", str(inputs["txt"]), *args])
        assert result.exit_code == 2, (args, result.output)
    assert not (tmp_path / "o.parquet").exists()


def test_cli_profile_prints_predicted_and_measured(inputs: dict[str, Path]) -> None:
    # One worker count here (test_profile_returns_predicted_and_measured measures two).
    proc = _cli(inputs["parquet"], "--profile", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    for needle in ("predicted", "measured", "read", "tokenize", "write", "100M records", "2.985x", "identical", "Targets"):
        assert needle in text, needle
    assert pipeline.default_route() in text
