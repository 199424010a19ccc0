"""Route ``python``: the pure-Python reference, written as the lesson writes it (plain loops).

Every other route is proven equal to this one.  It is deliberately unoptimised: no NumPy
vectorisation, no builtins that hide the loop (``sum`` of a generator, ``math.fsum``), one Python
operation per element, exactly the program the lesson times as "Python loop".

Arrays are ndarray arguments because the contract (``ffilab.contract``) makes every route take
the same inputs.  The loops run over Python floats (``tolist()``, exact), as the lesson's loops do,
rather than over NumPy scalars, whose boxed arithmetic would make the baseline slower still.
"""

from __future__ import annotations

import math
import unicodedata
from typing import SupportsFloat, SupportsIndex, TypeAlias

import numpy as np

from ffilab import contract

__all__ = [
    "Accumulator",
    "circle_area",
    "compute_distances",
    "fast_dot",
    "fast_norm",
    "fast_sum",
    "find_nearest_k",
    "haversine_distance",
    "haversine_many",
    "primes",
    "scale_and_shift",
    "scale_array",
    "sum_of_squares",
    "tokenize_batch",
]

_R = contract.EARTH_RADIUS_KM

# What the contract accepts as a real number (PyFloat_AsDouble's rules): float, int, or anything with
# __float__ or __index__.  Annotating such arguments `float` would be too narrow, and mypyc, which
# compiles this module as route `mypyc`, would enforce it: `float` admits only float and int there.
_Real: TypeAlias = SupportsFloat | SupportsIndex


def _floats(arr: np.ndarray) -> list[float]:
    # Iterating an ndarray yields numpy.float64 scalars whose arithmetic is several times slower
    # than float's; the lesson's loops run over Python floats, so convert once (exactly).
    # Called on the contract's checked base-class views only: a subclass (masked array, matrix,
    # one whose attributes lie) is read as its raw data, as native code reads it.
    return arr.tolist()


def sum_of_squares(n: SupportsIndex, /) -> int:
    """Return the exact sum of ``i * i`` for ``0 <= i < n``.

    Parameters
    ----------
    n : int
        Number of terms, ``0 <= n <= 2**32``.

    Returns
    -------
    int
        The exact sum (a Python int; never wraps around).

    Raises
    ------
    TypeError
        ``n`` is not an integer.
    ValueError
        ``n < 0``.
    OverflowError
        ``n > 2**32``.
    """
    n = contract.as_index("sum_of_squares", "n", n, maximum=contract.SUM_OF_SQUARES_MAX_N)
    total = 0
    for i in range(n):
        total += i * i
    return total


def circle_area(radius: _Real, /) -> float:
    """Return ``pi * radius * radius`` (evaluated left to right, as in C)."""
    r = contract.as_real("circle_area", "radius", radius)
    return math.pi * r * r


def scale_array(arr: np.ndarray, factor: _Real) -> None:
    """Multiply every element of the writable float64 array ``arr`` by ``factor``, in place."""
    f = contract.as_real("scale_array", "factor", factor)
    raw = contract.check_array("scale_array", "arr", arr, writable=True)
    values = _floats(raw)
    for i in range(len(values)):
        raw[i] = values[i] * f


def compute_distances(points: np.ndarray, /) -> np.ndarray:
    """Return the distance of each row of the ``(n, 2)`` array ``points`` from the origin."""
    raw = contract.check_points("compute_distances", "points", points)
    flat = _floats(raw.reshape(-1))
    n = raw.shape[0]
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        x = flat[2 * i]
        y = flat[2 * i + 1]
        out[i] = math.sqrt(x * x + y * y)
    return out


def primes(n: SupportsIndex, /) -> list[int]:
    """Return the primes below ``n`` by the lesson's trial division.

    Each candidate is divided by every ``d`` in ``2 .. candidate - 1`` until the first divisor.
    """
    n = contract.as_index("primes", "n", n, maximum=contract.PRIMES_MAX_N)
    result = []
    for candidate in range(2, n):
        is_prime = True
        for divisor in range(2, candidate):
            if candidate % divisor == 0:
                is_prime = False
                break
        if is_prime:
            result.append(candidate)
    return result


def fast_sum(a: np.ndarray, /) -> float:
    """Return the sum of ``a``, accumulated left to right."""
    raw = contract.check_array("fast_sum", "a", a)
    total = 0.0
    for x in _floats(raw):
        total += x
    return total


def fast_dot(a: np.ndarray, b: np.ndarray) -> float:
    """Return the dot product of equally long ``a`` and ``b``, accumulated left to right."""
    raw_a = contract.check_array("fast_dot", "a", a)
    raw_b = contract.check_array("fast_dot", "b", b)
    contract.check_same_length("fast_dot", raw_a, raw_b)
    total = 0.0
    for x, y in zip(_floats(raw_a), _floats(raw_b)):
        total += x * y
    return total


def fast_norm(a: np.ndarray, /) -> float:
    """Return the L2 norm ``sqrt(sum(x * x))`` of ``a`` (no rescaling: overflows like C)."""
    raw = contract.check_array("fast_norm", "a", a)
    sum_sq = 0.0
    for x in _floats(raw):
        sum_sq += x * x
    return math.sqrt(sum_sq)


def scale_and_shift(a: np.ndarray, scale: _Real, shift: _Real = 0.0) -> np.ndarray:
    """Return a new array ``a * scale + shift``."""
    s = contract.as_real("scale_and_shift", "scale", scale)
    t = contract.as_real("scale_and_shift", "shift", shift)
    values = _floats(contract.check_array("scale_and_shift", "a", a))
    out = np.empty(len(values), dtype=np.float64)
    for i in range(len(values)):
        out[i] = values[i] * s + t
    return out


class Accumulator:
    """Running total and count of the values added to it.

    Parameters
    ----------
    initial : float
        Starting total (the count starts at 0).
    """

    __slots__ = ("_total", "_count")

    def __init__(self, initial: _Real = 0.0) -> None:
        self._total = contract.as_real("Accumulator", "initial", initial)
        self._count = 0

    def add(self, value: _Real, /) -> None:
        """Add ``value`` to the total and count it."""
        self._total += contract.as_real("Accumulator.add", "value", value)
        self._count += 1

    def mean(self) -> float:
        """Return ``total / count``, or 0.0 when nothing was added."""
        return self._total / self._count if self._count > 0 else 0.0

    @property
    def count(self) -> int:
        """Number of values added (read-only)."""
        return self._count

    @property
    def total(self) -> float:
        """Current total (read-only)."""
        return self._total

    def __repr__(self) -> str:
        return f"<Accumulator count={self._count} total={self._total!r}>"


def _sin(x: float) -> float:
    # C's sin(inf) is NaN where math.sin raises ValueError; the contract follows IEEE/C.
    return math.sin(x) if math.isfinite(x) else math.nan


def _cos(x: float) -> float:
    return math.cos(x) if math.isfinite(x) else math.nan


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    # The lesson writes sin(x) ** 2; we write s * s because pow(s, 2.0) and s * s can differ in
    # the last bit, and every compiled route squares by multiplication.  Same order of
    # operations as the C core (csrc/ffilab_core.c), so results agree bit for bit wherever the
    # same libm is used.  a lies in [0, 1] for any real angles, but rounding can push it a hair
    # outside, where sqrt/asin raise (Python) or give NaN (C): every route clamps it to [0, 1]
    # (NaN stays NaN).
    dlat = math.radians(lat2 - lat1)
    dlon = math.radians(lon2 - lon1)
    s_lat = _sin(dlat / 2.0)
    s_lon = _sin(dlon / 2.0)
    a = s_lat * s_lat + _cos(math.radians(lat1)) * _cos(math.radians(lat2)) * s_lon * s_lon
    if a > 1.0:
        a = 1.0
    elif a < 0.0:
        a = 0.0
    return _R * (2.0 * math.asin(math.sqrt(a)))


def haversine_distance(lat1: _Real, lon1: _Real, lat2: _Real, lon2: _Real) -> float:
    """Return the great-circle distance in km between two points given in degrees (R = 6371)."""
    f = "haversine_distance"
    return _haversine(
        contract.as_real(f, "lat1", lat1),
        contract.as_real(f, "lon1", lon1),
        contract.as_real(f, "lat2", lat2),
        contract.as_real(f, "lon2", lon2),
    )


def haversine_many(lat: _Real, lon: _Real, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Return the distance in km from ``(lat, lon)`` to every ``(lats[i], lons[i])``."""
    f = "haversine_many"
    lat0, lon0, raw_lats, raw_lons = contract.check_query(f, lat, lon, lats, lons)
    la = _floats(raw_lats)
    lo = _floats(raw_lons)
    out = np.empty(len(la), dtype=np.float64)
    for i in range(len(la)):
        out[i] = _haversine(lat0, lon0, la[i], lo[i])
    return out


def find_nearest_k(
    lat: _Real, lon: _Real, lats: np.ndarray, lons: np.ndarray, k: SupportsIndex
) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``k`` points nearest to ``(lat, lon)``.

    Returns
    -------
    indices : numpy.ndarray of int64
    distances : numpy.ndarray of float64
        Sorted by distance (km), ties broken by the smaller index, NaN distances last.

    Raises
    ------
    ValueError
        ``k > len(lats)``, ``k < 0`` or ``lats``/``lons`` of different lengths.
    """
    f = "find_nearest_k"
    lat0, lon0, raw_lats, raw_lons, kk = contract.check_nearest(f, lat, lon, lats, lons, k)
    la = _floats(raw_lats)
    lo = _floats(raw_lons)
    ranked = []
    for i in range(len(la)):
        d = _haversine(lat0, lon0, la[i], lo[i])
        ranked.append((contract.nearest_order_key(d, i), d))
    ranked.sort()
    best = ranked[:kk]
    idx = np.array([key[2] for key, _ in best], dtype=np.int64)
    dist = np.array([d for _, d in best], dtype=np.float64)
    return idx, dist


def _tokenize(text: str) -> list[str]:
    # str.casefold called unbound: a str subclass is read as its raw data, never through an
    # overridden method, as native routes read it.
    s = str.casefold(unicodedata.normalize("NFKC", text))
    joiners = contract.TOKEN_JOINERS
    is_word = contract.is_word_char
    n = len(s)
    tokens: list[str] = []
    i = 0
    while i < n:
        if not is_word(s[i]):
            i += 1
            continue
        start = i
        i += 1
        while True:
            while i < n and is_word(s[i]):
                i += 1
            # A joiner joins only when a word character follows it ("don't", not "don'").
            if i + 1 < n and s[i] in joiners and is_word(s[i + 1]):
                i += 2
                continue
            break
        if i - start > contract.TOKEN_MAX_CHARS:
            continue
        token = s[start:i]
        tokens.append(contract.NUM_TOKEN if token.isdigit() else token)
    return tokens


def tokenize_batch(texts: list[str], /) -> list[list[str]]:
    """Return the tokens of every text: the lesson's Level 3 tokenizer, exact on any Unicode.

    Per text: NFKC normalisation, then case folding (``str.casefold``: "Straße" -> ["strasse"]);
    tokens are maximal runs of word characters (letters, numbers, marks, connector punctuation)
    in which an apostrophe, hyphen or zero-width (non-)joiner between two word characters joins
    ("don't", "state-of-the-art"); a token of digits only becomes ``"<num>"``, a token longer than
    ``ffilab.contract.TOKEN_MAX_CHARS`` (64) code points is dropped.  See ``ffilab.contract``.

    Parameters
    ----------
    texts : list of str
        The batch.  Native routes cross the language boundary once per batch, not per text.

    Returns
    -------
    list of list of str
        One list of tokens per text, in order.

    Raises
    ------
    TypeError
        ``texts`` is not a list, or one of its elements is not a str.
    """
    items = contract.check_texts("tokenize_batch", texts)
    out: list[list[str]] = []
    for text in items:
        out.append(_tokenize(text))
    return out
