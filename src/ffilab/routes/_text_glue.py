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
import unicodedata
from typing import NamedTuple

import numpy as np

from ffilab import contract
from ffilab.routes._cstatus import raise_for_status

__all__ = ["Batch", "finish", "prepare"]

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
