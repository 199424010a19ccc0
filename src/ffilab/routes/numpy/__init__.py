"""Route ``numpy``: the kernels as NumPy array expressions, no compiled code of our own.

Each kernel keeps the reference's algorithm and replaces its Python loop by whole-array
operations.  Where NumPy's own algorithm differs from the reference's loop the difference is a
legitimate part of this route and stays within the documented error bounds:

* ``np.sum`` and ``np.dot`` use pairwise/blocked summation, not left-to-right accumulation;
* ``sum_of_squares`` cannot use a 128-bit accumulator, so it sums exact 32-bit halves of ``i*i``
  per block (see :func:`sum_of_squares`) — the same loop over ``i``, exact for every accepted n;
* ``primes`` runs the same trial divisions, all candidates still undecided at once;
* ``find_nearest_k`` ranks with ``argpartition`` instead of a full sort;
* ``tokenize_batch`` scans the whole batch as one array of code points (boundaries by array
  comparisons) and lets ``str.split`` cut the tokens out of a rendered string, so no Python
  code runs per character or per token (see :func:`tokenize_batch`).

The reference never warns, and overflow to inf or NaN results are part of the contract, so the
kernels compute under ``np.errstate(all="ignore")``.
"""

from __future__ import annotations

import functools
import math
import sys
import unicodedata

import numpy as np

from ffilab import contract
from ffilab._registry import KERNELS

# The kernels every route exports: one list, ffilab._registry.KERNELS.
__all__ = list(KERNELS)

# Elements per block in sum_of_squares: bounds the temporary arrays to 8 MiB each.
_BLOCK = 1 << 20
_MASK32 = np.uint64(0xFFFFFFFF)
_DEG_TO_RAD = math.pi / 180.0


def sum_of_squares(n: int, /) -> int:
    """Return the exact sum of ``i * i`` for ``0 <= i < n``.

    NumPy has no 128-bit integers.  For ``i < 2**32``, ``i * i`` is exact in uint64; each block
    then sums the high and low 32-bit halves of the squares separately: each half-sum of at most
    ``2**20`` values below ``2**32`` fits in uint64, and the halves are recombined in Python ints.
    """
    n = contract.as_index("sum_of_squares", "n", n, maximum=contract.SUM_OF_SQUARES_MAX_N)
    total = 0
    for start in range(0, n, _BLOCK):
        i = np.arange(start, min(start + _BLOCK, n), dtype=np.uint64)
        sq = i * i
        high = int(np.sum(sq >> np.uint64(32), dtype=np.uint64))
        low = int(np.sum(sq & _MASK32, dtype=np.uint64))
        total += (high << 32) + low
    return total


def circle_area(radius: float, /) -> float:
    """Return ``pi * radius * radius`` (NumPy adds nothing to one scalar; kept for completeness)."""
    r = np.float64(contract.as_real("circle_area", "radius", radius))
    with np.errstate(all="ignore"):
        return float(np.pi * r * r)


def scale_array(arr: np.ndarray, factor: float) -> None:
    """Multiply the writable float64 array ``arr`` by ``factor`` in place (``arr *= factor``)."""
    f = contract.as_real("scale_array", "factor", factor)
    arr = contract.check_array("scale_array", "arr", arr, writable=True)
    with np.errstate(all="ignore"):
        arr *= f


def compute_distances(points: np.ndarray, /) -> np.ndarray:
    """Return ``sqrt(x*x + y*y)`` for each row (not ``np.hypot``, which rounds differently)."""
    p = contract.check_points("compute_distances", "points", points)
    x = p[:, 0]
    y = p[:, 1]
    with np.errstate(all="ignore"):
        return np.sqrt(x * x + y * y)


def primes(n: int, /) -> list[int]:
    """Return the primes below ``n`` by the reference's trial division, vectorised over candidates.

    Divisor ``d`` is tried on every candidate that is still undecided and greater than ``d``;
    a candidate leaves the pool at its first divisor (composite) or once ``d`` reaches it
    (prime).  So each candidate sees exactly the divisions the reference performs.
    """
    n = contract.as_index("primes", "n", n, maximum=contract.PRIMES_MAX_N)
    if n <= 2:
        return []
    pending = np.arange(2, n, dtype=np.int64)
    found = []
    d = 2
    while pending.size:
        # Candidates <= d have been divided by every d' < candidate without a divisor: prime.
        done = pending <= d
        if done.any():
            found.append(pending[done])
            pending = pending[~done]
        if pending.size:
            pending = pending[pending % d != 0]
        d += 1
    return np.concatenate(found).tolist() if found else []


def fast_sum(a: np.ndarray, /) -> float:
    """Return ``np.sum(a)`` (pairwise summation)."""
    a = contract.check_array("fast_sum", "a", a)
    with np.errstate(all="ignore"):
        return float(np.sum(a))


def fast_dot(a: np.ndarray, b: np.ndarray) -> float:
    """Return ``np.dot(a, b)``."""
    a = contract.check_array("fast_dot", "a", a)
    b = contract.check_array("fast_dot", "b", b)
    contract.check_same_length("fast_dot", a, b)
    with np.errstate(all="ignore"):
        return float(np.dot(a, b))


def fast_norm(a: np.ndarray, /) -> float:
    """Return ``sqrt(dot(a, a))``: the naive norm, like the reference (np.linalg.norm rescales)."""
    a = contract.check_array("fast_norm", "a", a)
    with np.errstate(all="ignore"):
        return math.sqrt(float(np.dot(a, a)))


def scale_and_shift(a: np.ndarray, scale: float, shift: float = 0.0) -> np.ndarray:
    """Return a new array ``a * scale + shift``."""
    s = contract.as_real("scale_and_shift", "scale", scale)
    t = contract.as_real("scale_and_shift", "shift", shift)
    a = contract.check_array("scale_and_shift", "a", a)
    with np.errstate(all="ignore"):
        out = a * s
        out += t
    return out


class Accumulator:
    """Running total and count.

    A scalar accumulator has nothing to vectorise; this class keeps its state in NumPy float64
    scalars so the route stays NumPy's own, and it is measured as such.
    """

    __slots__ = ("_total", "_count")

    def __init__(self, initial: float = 0.0) -> None:
        self._total = np.float64(contract.as_real("Accumulator", "initial", initial))
        self._count = 0

    def add(self, value: float, /) -> None:
        """Add ``value`` to the total and count it."""
        value = np.float64(contract.as_real("Accumulator.add", "value", value))
        with np.errstate(all="ignore"):
            self._total = self._total + value
        self._count += 1

    def mean(self) -> float:
        """Return ``total / count``, or 0.0 when nothing was added."""
        return float(self._total / self._count) if self._count > 0 else 0.0

    @property
    def count(self) -> int:
        """Number of values added (read-only)."""
        return self._count

    @property
    def total(self) -> float:
        """Current total (read-only)."""
        return float(self._total)

    def __repr__(self) -> str:
        return f"<Accumulator count={self._count} total={float(self._total)!r}>"


def _haversine_arrays(lat0: float, lon0: float, lats: np.ndarray | np.float64, lons: np.ndarray | np.float64) -> np.ndarray:
    # Same formula and order of operations as the reference, whole arrays at a time.
    with np.errstate(all="ignore"):
        dlat = (lats - lat0) * _DEG_TO_RAD
        dlon = (lons - lon0) * _DEG_TO_RAD
        s_lat = np.sin(dlat / 2.0)
        s_lon = np.sin(dlon / 2.0)
        a = s_lat * s_lat + np.cos(lat0 * _DEG_TO_RAD) * np.cos(lats * _DEG_TO_RAD) * s_lon * s_lon
        a = np.clip(a, 0.0, 1.0)  # as the reference: rounding can push a out of [0, 1]; NaN stays
        return contract.EARTH_RADIUS_KM * (2.0 * np.arcsin(np.sqrt(a)))


def haversine_distance(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance in km between two points in degrees."""
    f = "haversine_distance"
    lat0 = contract.as_real(f, "lat1", lat1)
    lon0 = contract.as_real(f, "lon1", lon1)
    lat2_ = np.float64(contract.as_real(f, "lat2", lat2))
    lon2_ = np.float64(contract.as_real(f, "lon2", lon2))
    return float(_haversine_arrays(lat0, lon0, lat2_, lon2_))


def haversine_many(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Return the distance in km from ``(lat, lon)`` to every ``(lats[i], lons[i])``."""
    f = "haversine_many"
    lat0, lon0, lats, lons = contract.check_query(f, lat, lon, lats, lons)
    return _haversine_arrays(lat0, lon0, lats, lons)


def find_nearest_k(
    lat: float, lon: float, lats: np.ndarray, lons: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(indices, distances)`` of the ``k`` nearest points, nearest first.

    ``argpartition`` finds the k-th distance in O(n); every point at or below it (so every tie)
    is then ordered by (NaN last, distance, index) with ``lexsort`` and the first k are kept.
    """
    f = "find_nearest_k"
    lat0, lon0, lats, lons, kk = contract.check_nearest(f, lat, lon, lats, lons, k)
    if kk == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    d = _haversine_arrays(lat0, lon0, lats, lons)
    kth = d[np.argpartition(d, kk - 1)[kk - 1]]  # NaN sorts last in argpartition
    candidates = np.arange(d.shape[0], dtype=np.int64) if np.isnan(kth) else np.flatnonzero(d <= kth)
    # lexsort keys: last is primary.  NaN distances sort after numbers in lexsort too.
    order = candidates[np.lexsort((candidates, d[candidates]))][:kk]
    return order.astype(np.int64, copy=False), d[order]


# --- tokenize_batch ----------------------------------------------------------------------------

# Code points of the rendered string (see tokenize_batch).  None of them is a token character
# (class 0) and only the space is whitespace for str.split().
_SEP = 0x00  # between two texts
_NUM_MARK = 0x01  # stands for a numeric token until replaced by NUM_TOKEN
_SPACE = 0x20  # every other character that is not part of a kept token
# Code points as native uint32 (the rendered array is native, whatever its source's order).
_UTF32 = "utf-32-le" if sys.byteorder == "little" else "utf-32-be"


@functools.cache
def _classes() -> np.ndarray:
    # The contract's table as an array (computed on first use, not at import: about 0.4 s).
    return np.frombuffer(contract.char_classes(), dtype=np.uint8)


def _normalised(texts: list[str]) -> tuple[str, list[int]]:
    # Python's Unicode work, the truth of the contract, per text; returns the texts joined with
    # _SEP, framed by one _SEP on each side, and their lengths after normalisation.  ASCII is
    # its own NFKC form and casefold() is lower() there, so a batch of ASCII is lowered in one
    # call (lower() maps no ASCII character to another length).  Unbound str methods: a str
    # subclass is read as its raw data.
    sep = chr(_SEP)
    joined = sep.join(["", *texts, ""])
    if joined.isascii():
        return joined.lower(), list(map(str.__len__, texts))
    norm = [
        str.lower(t) if str.isascii(t) else str.casefold(unicodedata.normalize("NFKC", t))
        for t in texts
    ]
    return sep.join(["", *norm, ""]), list(map(len, norm))


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    # Every index of the half-open ranges [starts[i], ends[i]), concatenated (ranges non-empty).
    lengths = ends - starts
    stop = np.cumsum(lengths)
    index: np.ndarray = np.arange(int(stop[-1]), dtype=np.int64) + np.repeat(starts - (stop - lengths), lengths)
    return index


def _numeric(cls: np.ndarray, starts: np.ndarray, ends: np.ndarray, keep: np.ndarray) -> np.ndarray:
    # Which tokens are all digits (a joined token never is: joiners are not digits).  Only kept
    # tokens that start with a digit can be, usually few, so only their characters are read:
    # the minimum of the digit bit over each token's range, all ranges at once.
    numeric = np.zeros(starts.shape[0], dtype=np.bool_)
    candidates = np.flatnonzero(keep & ((cls[starts] & contract.CHAR_DIGIT) != 0))
    if candidates.size:
        s, e = starts[candidates], ends[candidates]
        first = np.cumsum(e - s) - (e - s)  # where each range begins in the concatenation
        all_digits = np.minimum.reduceat(cls[_ranges(s, e)] & contract.CHAR_DIGIT, first)
        numeric[candidates[all_digits != 0]] = True
    return numeric


def tokenize_batch(texts: list[str], /) -> list[list[str]]:
    """Return the tokens of every text (contract in ``ffilab.contract``).

    Normalisation (NFKC, casefold) is Python's, per text.  The scan is whole-array: the batch
    becomes one array of code points (texts separated by a character of class 0), the class
    table gives the word and joiner masks, a joiner with word characters on both sides becomes
    a word character, and the edges of the resulting mask are the token boundaries.  Instead
    of slicing every token out in Python, the route renders a string in which every character
    outside a kept token is a space, a numeric token is a marker later replaced by ``"<num>"``
    and texts are separated by NUL; ``str.split`` then builds the token lists in C.

    Parameters
    ----------
    texts : list of str
        The batch.

    Returns
    -------
    list of list of str
        One list of tokens per text, in order.

    Raises
    ------
    TypeError
        ``texts`` is not a list, or one of its elements is not a str.
    """
    texts = contract.check_texts("tokenize_batch", texts)  # a plain list of the raw items
    if not texts:
        return []
    joined, lengths = _normalised(texts)
    if joined.isascii():
        cp = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    else:
        # surrogatepass: a lone surrogate is a str's code point like any other (class 0).
        cp = np.frombuffer(joined.encode(_UTF32, "surrogatepass"), dtype=np.uint32)
    cls = _classes()[cp]
    word = (cls & contract.CHAR_WORD) != 0
    # A joiner joins when word characters stand on both sides; joiners are never word
    # characters, so this one pass over the original mask is the reference's rule exactly.
    token = word.copy()
    token[1:-1] |= ((cls[1:-1] & contract.CHAR_JOINER) != 0) & word[:-2] & word[2:]
    # The frame of _SEP makes the first and last characters non-token: edges alternate
    # start, end, start, end ...
    edges = np.flatnonzero(token[1:] != token[:-1]) + 1
    if edges.size == 0:
        return [[] for _ in texts]
    starts = edges[0::2]
    ends = edges[1::2]
    keep = ends - starts <= contract.TOKEN_MAX_CHARS
    numeric = _numeric(cls, starts, ends, keep)
    rendered = np.where(token, cp, cp.dtype.type(_SPACE))
    blank = ~keep | numeric
    if blank.any():
        rendered[_ranges(starts[blank], ends[blank])] = _SPACE
    has_num = bool(numeric.any())
    if has_num:
        rendered[starts[numeric]] = _NUM_MARK
    separators = np.zeros(len(lengths) + 1, dtype=np.int64)  # text k ends at separator k + 1
    np.cumsum(np.array(lengths, dtype=np.int64) + 1, out=separators[1:])
    rendered[separators] = _SEP
    if rendered.dtype == np.uint8:
        out = rendered.tobytes().decode("latin-1")
    else:
        out = rendered.tobytes().decode(_UTF32)  # no surrogates left: none is a token char
    if has_num:
        out = out.replace(chr(_NUM_MARK), contract.NUM_TOKEN)
    parts = out.split(chr(_SEP))
    return list(map(str.split, parts[1:-1]))
