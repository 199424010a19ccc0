"""ffilab's cache files: the shared writer, and the tokenizer's table of character classes.

The gazetteer's and the corpus pools' caches have their own tests (test_nearest, test_corpus).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ffilab import _cache, contract


@pytest.fixture(scope="module")
def table() -> bytes:
    return contract._compute_char_classes()


def _only_file(directory: Path) -> Path:
    files = sorted(directory.glob("char-classes-*.bin"))
    assert len(files) == 1, files
    return files[0]


def test_write_atomic_leaves_nothing_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "thing.bin"

    def boom(fh: object) -> None:
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError, match="writer failed"):
        _cache.write_atomic(target, boom)
    assert list((tmp_path / "sub").iterdir()) == []
    _cache.write_atomic(target, lambda fh: fh.write(b"whole"))
    assert target.read_bytes() == b"whole" and [p.name for p in target.parent.iterdir()] == ["thing.bin"]


def test_cache_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFILAB_CACHE_DIR", str(tmp_path / "mine"))
    assert _cache.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("FFILAB_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _cache.cache_dir() == tmp_path / "xdg" / "ffilab"


def test_char_classes_are_written_once_then_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 table: bytes) -> None:
    assert contract._load_char_classes(tmp_path) == table
    _only_file(tmp_path)
    assert not list(tmp_path.glob(".*")), "a temporary file was left behind"

    def must_not_compute() -> bytes:
        raise AssertionError("computed although the cache file was current")

    monkeypatch.setattr(contract, "_compute_char_classes", must_not_compute)
    assert contract._load_char_classes(tmp_path) == table


@pytest.mark.parametrize("damage", ["a table byte", "one byte short", "another fingerprint", "the checksum", "empty"])
def test_damaged_or_foreign_char_classes_file_is_computed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                table: bytes, damage: str) -> None:
    contract._load_char_classes(tmp_path)
    path = _only_file(tmp_path)
    data = bytearray(path.read_bytes())
    magic = len(contract._CHAR_CLASSES_MAGIC)
    if damage == "a table byte":
        data[-1000] ^= 0x01
    elif damage == "one byte short":
        del data[-1]
    elif damage == "another fingerprint":
        data[magic] ^= 0xFF
    elif damage == "the checksum":
        data[magic + 32] ^= 0xFF
    else:
        data.clear()
    path.write_bytes(bytes(data))
    computed: list[int] = []
    real = contract._compute_char_classes
    monkeypatch.setattr(contract, "_compute_char_classes", lambda: computed.append(1) or real())
    assert contract._load_char_classes(tmp_path) == table
    assert computed == [1]
    assert contract._load_char_classes(tmp_path) == table  # the file was written again, whole
    assert computed == [1]


def test_another_unicode_version_gets_its_own_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   table: bytes) -> None:
    contract._load_char_classes(tmp_path)
    first = _only_file(tmp_path)
    monkeypatch.setattr(contract.unicodedata, "unidata_version", "99.0.0")
    assert contract._load_char_classes(tmp_path) == table
    assert len(list(tmp_path.glob("char-classes-*.bin"))) == 2 and first.exists()


def test_unwritable_cache_directory_still_gives_the_table(tmp_path: Path, table: bytes) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    assert contract._load_char_classes(blocker / "cache") == table  # mkdir fails: computed, not cached


def test_char_classes_use_ffilab_cache_directory(tmp_path: Path, table: bytes) -> None:
    # The public function, in a fresh process, writes to $FFILAB_CACHE_DIR; a second process reads it.
    env = dict(os.environ, FFILAB_CACHE_DIR=str(tmp_path))
    code = "import hashlib; from ffilab import contract; print(hashlib.sha256(contract.char_classes()).hexdigest())"
    want = hashlib.sha256(table).hexdigest()
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == want
        _only_file(tmp_path)
