"""The Python half of ``tokenize_batch`` shared by the C-ABI routes (ctypes, cffi ABI, cffi API mode).

Through a foreign-function interface C can neither read a ``str`` in place nor create one, so the
Unicode work and the making of the result stay in Python, and only the scan crosses into the C core
(``ffl_tokenize_spans``), once per batch:

1. :func:`prepare`: normalise and case-fold every text (Python's ``unicodedata`` and ``str.casefold``
   are the contract's truth), join the results with newlines into one ``str``, encode it into one
   buffer of fixed-width code points and lay out the offsets and the empty output arrays;
2. the route calls ``ffl_tokenize_spans`` on that buffer, its own way (this is all that differs
   between the three routes, so they pay for the same Python layers);
3. :func:`finish`: turn the spans the core found into the lists of tokens.

Step 3 is where the time goes: every token must become a ``str`` object, and C cannot make them
here.  Slicing the joined text once per token runs bytecode per token; instead, :func:`finish`
masks every character outside a token to a space in one NumPy pass, marks the ends of texts with
a newline, decodes the buffer back to one ``str`` and lets ``str.split`` cut out the tokens in C
(measured on 20,000 mixed lines: this step about 1.5x faster than the best slicing loop, the
whole kernel about 1.3x).  That is exact only because a token never holds whitespace, which
:func:`_split_is_exact` checks once against the class table of the running interpreter; if it
ever failed, the tokens would be sliced instead.
"""

from __future__ import annotations

import functools
import hashlib
import sys
import unicodedata
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ffilab import _cache, contract
from ffilab.routes._cstatus import raise_for_status

__all__ = ["INERT_REPLACED", "ArrowTables", "Batch", "arrow_tables", "finish", "prepare"]

_NUM_TOKEN = contract.NUM_TOKEN
# In finish's masked text: outside a token, end of a text, first character of a number token.
_SPACE, _NEWLINE, _NUM_MARK = 0x20, 0x0A, 0x00


class Batch(NamedTuple):
    """One batch laid out for ``ffl_tokenize_spans``: its inputs and its (uninitialised) outputs.

    The route passes ``data``, ``kind``, ``offsets``, ``n_texts``, ``spans``, ``is_num``,
    ``capacity`` and ``counts`` to the core; holding the Batch keeps every buffer alive across the
    call, during which the GIL is released.
    """

    #: The normalised, case-folded texts, each but the last followed by a newline.
    text: str
    #: ``text`` as ``kind``-byte little-endian code points (latin-1 or UTF-32-LE).
    data: bytes
    #: Bytes per code point in ``data``: 1 or 4 (the PEP 393 kinds the core reads).
    kind: int
    #: int64[n_texts + 1]: text ``i`` (with its newline) is ``text[offsets[i]:offsets[i + 1]]``.
    offsets: np.ndarray
    n_texts: int
    #: int64[2 * capacity]: ``(start, end)`` of every token, filled by the core.
    spans: np.ndarray
    #: uint8[capacity]: 1 where the token is digits only, filled by the core.
    is_num: np.ndarray
    #: Room for this many tokens: ``FFL_TOKEN_CAPACITY(len(text), n_texts)``, always enough.
    capacity: int
    #: int64[n_texts]: tokens of each text, filled by the core.
    counts: np.ndarray


def prepare(texts: list[str]) -> Batch:
    """Normalise, join and encode ``texts``, the plain list that ``contract.check_texts`` returned.

    Parameters
    ----------
    texts : list of str
        The batch; ``str`` subclasses are read through ``str``'s own methods, never theirs.

    Returns
    -------
    Batch
        The buffers of one ``ffl_tokenize_spans`` call.
    """
    # Per text, as the reference does: NFKC does not commute with concatenation (a combining
    # mark at the start of one text could compose with the end of the previous one), and a text
    # that is already normalised makes normalize() return at once, while one big string would
    # take the slow path as soon as any text needed it (measured: 3-4x slower).  For ASCII, NFKC
    # is the identity and case folding is ASCII lowercasing, so both Unicode calls are skipped.
    # The methods are called unbound so that a str subclass's overrides are never run.
    isascii = str.isascii
    lower = str.lower
    casefold = str.casefold
    normalize = unicodedata.normalize
    parts = [lower(t) if isascii(t) else casefold(normalize("NFKC", t)) for t in texts]
    n = len(parts)
    # The newline between two texts is a character no token holds: it ends the previous text's
    # last token, and finish() finds the texts again by it.  It belongs to the text before it.
    text = "\n".join(parts)
    # The narrowest width the core reads that holds every code point: a batch of latin-1 text
    # (ASCII included) is copied byte for byte; anything else goes to 4 bytes per code point,
    # "surrogatepass" keeping lone surrogates as the code points they are.  The failed latin-1
    # attempt stops at the first wider character, so it costs little.  (Width 2 is left out: it
    # needs a scan for astral characters first, and any emoji in the batch rules it out.)
    try:
        data = text.encode("latin-1")
        kind = 1
    except UnicodeEncodeError:
        data = text.encode("utf-32-le", "surrogatepass")
        kind = 4
    offsets = np.zeros(n + 1, dtype=np.int64)
    if n:
        lengths = np.fromiter(map(len, parts), dtype=np.int64, count=n)
        lengths[:-1] += 1  # the newlines
        np.cumsum(lengths, out=offsets[1:])
    # FFL_TOKEN_CAPACITY of ffilab_core.h: a text of length L holds at most (L + 1) // 2 tokens.
    capacity = (len(text) + n) // 2 + 1
    # np.empty: the core writes every entry it reports, nothing needs clearing (nor the pages
    # touching, for the spans of a large batch that are never reached).
    return Batch(
        text=text,
        data=data,
        kind=kind,
        offsets=offsets,
        n_texts=n,
        spans=np.empty(2 * capacity, dtype=np.int64),
        is_num=np.empty(capacity, dtype=np.uint8),
        capacity=capacity,
        counts=np.empty(n, dtype=np.int64),
    )


def finish(func: str, batch: Batch, n_tokens: int) -> list[list[str]]:
    """Return the tokens of every text of ``batch`` from the result of ``ffl_tokenize_spans``.

    Parameters
    ----------
    func : str
        Kernel name for error messages.
    batch : Batch
        The batch the core has just scanned.
    n_tokens : int
        What the core returned: the number of tokens, or minus an ``FFL_E*`` status.

    Returns
    -------
    list of list of str
        One list of tokens per text, in order.

    Raises
    ------
    ValueError, OverflowError, MemoryError
        The core refused the call (a bug in :func:`prepare`, reported rather than ignored).
    """
    if n_tokens < 0:
        raise_for_status(func, -n_tokens)
    if batch.n_texts == 0:
        return []
    if not _split_is_exact():
        return _finish_by_slicing(batch, n_tokens)
    codes = np.frombuffer(batch.data, dtype=np.uint8 if batch.kind == 1 else np.uint32)
    spans = batch.spans[: 2 * n_tokens]
    starts = spans[0::2]
    ends = spans[1::2]
    is_num = batch.is_num[:n_tokens].view(np.bool_)
    is_word = ~is_num
    # +1 where a kept token starts, -1 where it ends: the running sum is 1 exactly inside one.
    # Plain assignment is enough, as no token starts where another ends: inside a text they are
    # at least one character apart (they are maximal runs), and a text's newline parts it from
    # the next text.
    edges = np.zeros(codes.shape[0] + 1, dtype=np.int8)
    edges[starts[is_word]] = 1
    edges[ends[is_word]] = -1
    inside = np.cumsum(edges[:-1], dtype=np.int8).view(np.bool_)
    masked = np.where(inside, codes, codes.dtype.type(_SPACE))
    # Newlines inside a text were masked with everything else outside tokens: those left are
    # exactly the ends of texts.
    masked[batch.offsets[1:-1] - 1] = _NEWLINE
    has_num = bool(is_num.any())
    if has_num:
        # A number token stays as one mark (the rest of it is masked), replaced below in one pass;
        # NUL is no word character (checked with the whitespace), so no token holds one.
        masked[starts[is_num]] = _NUM_MARK
    if batch.kind == 1:
        joined = str(masked.data, "latin-1")
    else:
        joined = str(masked.data, "utf-32-le", "surrogatepass")
    if has_num:
        joined = joined.replace("\0", _NUM_TOKEN)
    # str.split() with no separator drops the runs of spaces and gives [] for a text without
    # tokens: one C loop per text makes its tokens and its list.
    split = str.split
    return [split(line) for line in joined.split("\n")]


def _finish_by_slicing(batch: Batch, n_tokens: int) -> list[list[str]]:
    # The exact way that needs no property of the Unicode database: slice every token out of the
    # joined text (spans are code-point positions in the buffer, so also in the str).
    spans = batch.spans[: 2 * n_tokens]
    text = batch.text
    tokens = list(map(text.__getitem__, map(slice, spans[0::2].tolist(), spans[1::2].tolist())))
    for t in np.flatnonzero(batch.is_num[:n_tokens]).tolist():
        tokens[t] = _NUM_TOKEN
    ends = np.cumsum(batch.counts).tolist()
    return list(map(tokens.__getitem__, map(slice, [0, *ends[:-1]], ends)))


@functools.cache
def _split_is_exact() -> bool:
    """Return whether :func:`finish` may cut tokens out with ``str.split`` (checked once a process).

    True when no character a token can hold (any class bit set: word character or joiner) is
    whitespace to ``str.split``, and the marks finish() writes (space, newline, NUL) are no such
    character.  Unicode makes no letter, number, mark or connector whitespace, so this holds;
    it is checked rather than assumed because the table follows the running interpreter.
    """
    table = contract.char_classes()
    if table[_SPACE] or table[_NEWLINE] or table[_NUM_MARK]:
        return False
    token_chars = np.flatnonzero(np.frombuffer(table, dtype=np.uint8)).astype(np.uint32)
    text = str(token_chars.data, "utf-32-le", "surrogatepass")
    return text.split() == [text]


# ------------------------------------------------------------------------------------------------
# The tables of the Arrow kernel (``tokenize_arrow``): which texts need no call into Python
# ------------------------------------------------------------------------------------------------
#
# tokenize_arrow's native routes give a non-ASCII text to unicodedata.normalize and str.casefold
# only when they cannot prove what those would return.  Two facts of the running interpreter's
# Unicode database, read once per code point, let C prove it for most text:
#
# * NFKC: Unicode's quick check (UAX #15, section 9), which CPython's own normalize() runs first,
#   answers "yes, already NFKC" for a text whose code points all have NFKC_Quick_Check=Yes and
#   whose runs of combining marks are in canonical order (each mark's combining class at least
#   the previous one's).  unicodedata does not expose the property, so the table derives a subset
#   of it, the *inert* code points: c with NFKC(c) == c (which rules out NFKC_QC=No) that is
#   never the second half of a canonical composition (the second code point of any
#   two-code-point canonical decomposition, or a Hangul medial vowel or final consonant: that
#   rules out NFKC_QC=Maybe), and, to stay on the safe side, whose NFKD starts with itself or
#   with a starter that is not such a second half either.  The quick check over inert code
#   points and combining classes is then exact; tests check it against normalize().
# * compatibility characters: a code point c that is not inert only because NFKC maps it to
#   other code points m ("ﬁ" -> "fi", fullwidth "Ｈ" -> "H", "①" -> "1") is *replaced* by m in C
#   when nothing around it can interact: c is a starter that is no second half, NFKD(c) and m
#   start with such a starter, m is inert and in canonical order, and the code point after c is
#   an inert starter or another replaced one (else "Ｈ" + U+0307 would compose to "Ḣ").  Then
#   NFKD of the text falls apart at c's ends and NFKC(text) is the concatenation of the pieces.
# * case folding maps each character on its own (no context, unlike lower()'s final sigma), so
#   str.casefold(text) is the concatenation of every character's folding: the table lists the
#   folding of every code point that is not its own (CHAR_FOLDED clear in the class table).

#: The inert table's mark of a replaced compatibility character (above every 1 + combining class).
INERT_REPLACED = 255


class ArrowTables(NamedTuple):
    """What :func:`arrow_tables` returns, in the layout the native kernels read."""

    #: One byte per code point (``0x110000``): 0 if the code point is not NFKC-inert (see above),
    #: :data:`INERT_REPLACED` for a replaced compatibility character, else 1 + its canonical
    #: combining class.
    inert: bytes
    #: uint32 little-endian, ascending: the code points whose case folding is not themselves.
    fold_keys: bytes
    #: uint32 little-endian, four per key: the folding's length (1 to 3), then its code points
    #: (zero-padded).
    fold_values: bytes
    #: uint32 little-endian, ascending: the replaced compatibility characters (INERT_REPLACED).
    compat_keys: bytes
    #: uint32 little-endian, one more than the keys: key k's NFKC is
    #: ``compat_pool[compat_offsets[k]:compat_offsets[k + 1]]``.
    compat_offsets: bytes
    #: uint32 little-endian: the code points of every replacement, one after the other.
    compat_pool: bytes


_ARROW_TABLES_MAGIC = b"ffilab-arrow-tables-3\n"
_HANGUL_SECOND = (*range(0x1161, 0x1176), *range(0x11A8, 0x11C3))


def _compute_arrow_tables() -> ArrowTables:
    second = set(_HANGUL_SECOND)
    for cp in range(0x110000):
        d = unicodedata.decomposition(chr(cp))
        if d and not d.startswith("<"):
            parts = d.split()
            if len(parts) == 2:
                second.add(int(parts[1], 16))
    inert = bytearray(0x110000)
    normalize, combining = unicodedata.normalize, unicodedata.combining
    for cp in range(0x110000):
        c = chr(cp)
        if cp in second or normalize("NFKC", c) != c:
            continue
        head = normalize("NFKD", c)[0]
        if head != c and (combining(head) or ord(head) in second):
            continue
        inert[cp] = 1 + combining(c)
    # Compatibility characters replaced in C (see above).
    compat_keys: list[int] = []
    compat_offsets = [0]
    compat_pool: list[int] = []
    for cp in range(0x110000):
        c = chr(cp)
        if inert[cp] or cp in second or 0xD800 <= cp < 0xE000 or combining(c):
            continue
        m = normalize("NFKC", c)
        head = normalize("NFKD", c)[0]
        if not m or m == c or combining(head) or ord(head) in second or combining(m[0]) or ord(m[0]) in second:
            continue
        cccs = [inert[ord(x)] - 1 for x in m]
        if any(not inert[ord(x)] for x in m) or any(b and a > b for a, b in zip(cccs, cccs[1:])):
            continue
        compat_keys.append(cp)
        compat_pool.extend(map(ord, m))
        compat_offsets.append(len(compat_pool))
    for cp in compat_keys:
        inert[cp] = INERT_REPLACED
    classes = contract.char_classes()
    keys = [cp for cp in range(0x110000) if not classes[cp] & contract.CHAR_FOLDED]
    values = np.zeros((len(keys), 4), dtype="<u4")
    for row, cp in enumerate(keys):
        folded = str.casefold(chr(cp))
        if not 1 <= len(folded) <= 3:
            raise RuntimeError(f"str.casefold({chr(cp)!r}) has {len(folded)} code points; the tables hold 1 to 3")
        values[row, 0] = len(folded)
        values[row, 1 : 1 + len(folded)] = [ord(f) for f in folded]

    def u32(items: list[int]) -> bytes:
        return np.array(items, dtype="<u4").tobytes()

    return ArrowTables(bytes(inert), u32(keys), values.tobytes(), u32(compat_keys), u32(compat_offsets), u32(compat_pool))


def _arrow_tables_fingerprint() -> bytes:
    # What the tables are made from: this module's definitions, the interpreter's database, and
    # the class table (whose CHAR_FOLDED bits choose the keys).
    h = hashlib.sha256()
    for part in (Path(__file__).read_bytes(), sys.version.encode(), unicodedata.unidata_version.encode(),
                 hashlib.sha256(contract.char_classes()).digest()):
        h.update(len(part).to_bytes(8, "little") + part)
    return h.digest()


@functools.cache
def arrow_tables() -> ArrowTables:
    """Return the tables with which native ``tokenize_arrow`` kernels fold text without Python.

    Computing them asks ``unicodedata`` about every code point (about 1 s), so they are kept in
    ffilab's cache directory under a fingerprint of their sources with a checksum, as
    :func:`ffilab.contract.char_classes` is; a stale or damaged file is computed again.

    Returns
    -------
    ArrowTables
    """
    fingerprint = _arrow_tables_fingerprint()
    path = _cache.cache_dir() / f"arrow-tables-{fingerprint.hex()[:16]}.bin"
    digest = hashlib.sha256().digest_size
    header = len(_ARROW_TABLES_MAGIC) + 2 * digest
    try:
        data = path.read_bytes()
    except OSError:
        data = b""
    if data.startswith(_ARROW_TABLES_MAGIC + fingerprint) and len(data) > header:
        body = data[header:]
        if hashlib.sha256(body).digest() == data[header - digest : header]:
            fields, at = [], 0
            while at + 8 <= len(body):
                size = int.from_bytes(body[at : at + 8], "little")
                fields.append(body[at + 8 : at + 8 + size])
                at += 8 + size
            if at == len(body) and len(fields) == len(ArrowTables._fields):
                return ArrowTables(*fields)
    tables = _compute_arrow_tables()
    body = b"".join(len(f).to_bytes(8, "little") + f for f in tables)
    try:
        _cache.write_atomic(path, lambda fh: fh.write(_ARROW_TABLES_MAGIC + fingerprint + hashlib.sha256(body).digest() + body))
    except OSError:
        pass  # no writable cache directory: the next process computes the tables again
    return tables
