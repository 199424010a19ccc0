"""The numba route's jitted kernels: the C core's loops (csrc/ffilab_core.c) in Numba's nopython mode.

Every function here is a Numba dispatcher, compiled on its first call for the argument types the
wrappers in ``__init__.py`` pass (int64, float64, C-contiguous float64 arrays).  They trust their
arguments: the contract is checked by the wrappers before any call.  All jitted code sits in this
one file on purpose: Numba's on-disk cache is invalidated by a change of the *file* that defines a
function, not of the files its callees live in, so a helper in another module could leave a
stale cached caller behind.

Options, one set for every kernel (:data:`OPTIONS`):

* ``nogil=True``: the compiled body runs without the GIL (the dispatcher holds it only while it
  unboxes the arguments and boxes the result);
* ``error_model="numpy"``: no ZeroDivisionError checks inside the loops (no divisor here can be
  zero, and IEEE results are the contract: ``x / 0.0`` is inf, as in C);
* ``fastmath`` stays off: LLVM may then neither reorder the sums nor fuse ``a * b + c`` into an
  FMA, so every float result is the reference's, operation for operation (the route's tests read
  the machine code to prove there is no FMA);
* ``cache=True`` where a cache directory is writable (see the package docstring).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from numba.core.dispatcher import Dispatcher

__all__ = [
    "CACHED",
    "OPTIONS",
    "acc_add",
    "acc_mean",
    "circle_area",
    "compute_distances",
    "dispatchers",
    "fast_dot",
    "fast_norm",
    "fast_sum",
    "find_nearest_k",
    "haversine",
    "haversine_many",
    "primes",
    "render_tokens",
    "scale_and_shift",
    "scale_array",
    "sum_of_squares",
    "tokenize_spans",
]

#: The options of every kernel.  No ``fastmath``: see the module docstring.
OPTIONS: dict[str, Any] = {"nogil": True, "error_model": "numpy"}

# Python's math.pi and math.radians' factor; float globals are frozen into the machine code as
# constants (a global *array* would make the functions uncachable, with a NumbaWarning).
_PI = math.pi
_DEG_TO_RAD = math.pi / 180.0
_R = 6371.0  # ffilab.contract.EARTH_RADIUS_KM, kept literal so this file imports nothing of ours

#: Whether the kernels are cached on disk (False when no cache directory is writable).
CACHED = True


def _jit(fn: Callable[..., Any]) -> Any:
    """``numba.njit(cache=True, **OPTIONS)``, or without the cache when no directory is writable.

    Numba looks for a cache directory when a function is decorated and raises RuntimeError
    ("no locator available") if none is writable; the route then compiles in every process
    instead of failing to import.
    """
    global CACHED
    if CACHED:
        try:
            return numba.njit(cache=True, **OPTIONS)(fn)
        except RuntimeError:
            CACHED = False
    return numba.njit(cache=False, **OPTIONS)(fn)


@_jit
def sum_of_squares(n: int) -> tuple[int, int]:
    """Return ``(hi, lo)``, the two uint64 limbs of the sum of ``i * i`` for ``0 <= i < n``.

    ``n <= 2**32``, so ``i * i < 2**64`` is exact in uint64; the sum (below ``2**95``) is carried
    into ``hi`` whenever ``lo`` wraps around (unsigned addition wraps modulo ``2**64``; the sum
    wrapped exactly when it is smaller than the term just added).  The wrapper combines the limbs.
    Every value stays uint64: Numba types uint64 mixed with int64 as float64.
    """
    one = np.uint64(1)
    hi = np.uint64(0)
    lo = np.uint64(0)
    end = np.uint64(n)
    i = np.uint64(0)
    while i < end:
        square = i * i
        lo += square
        if lo < square:
            hi += one
        i += one
    return hi, lo


@_jit
def circle_area(radius: float) -> float:
    """Return ``pi * radius * radius``, left to right as in C."""
    return _PI * radius * radius


@_jit
def scale_array(arr: np.ndarray, factor: float) -> None:
    """Multiply every element of ``arr`` by ``factor`` in place (the caller's memory)."""
    for i in range(arr.shape[0]):
        arr[i] *= factor


@_jit
def compute_distances(points: np.ndarray) -> np.ndarray:
    """Return a new array of ``sqrt(x*x + y*y)`` for the rows of the ``(n, 2)`` array."""
    n = points.shape[0]
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        x = points[i, 0]
        y = points[i, 1]
        out[i] = math.sqrt(x * x + y * y)
    return out


@_jit
def primes(n: int) -> np.ndarray:
    """Return the primes below ``n`` by the lesson's trial division, as an int64 array.

    The buffer grows by doubling, as the C core's does; the result is a view of its first
    ``count`` elements.  The copy into the grown buffer is an explicit loop: the slice
    assignment ``grown[:capacity] = found`` runs as fast but made this function's first call
    compile for 6.4 s instead of 0.6 s (Numba's generic broadcasting ``setitem``).
    """
    capacity = 64
    found = np.empty(capacity, dtype=np.int64)
    count = 0
    for candidate in range(2, n):
        is_prime = True
        for divisor in range(2, candidate):
            if candidate % divisor == 0:
                is_prime = False
                break
        if is_prime:
            if count == capacity:
                grown = np.empty(2 * capacity, dtype=np.int64)
                for j in range(capacity):
                    grown[j] = found[j]
                found = grown
                capacity *= 2
            found[count] = candidate
            count += 1
    return found[:count]


@_jit
def fast_sum(a: np.ndarray) -> float:
    """Return the sum of ``a``, left to right (no fastmath: LLVM may not reassociate it)."""
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i]
    return total


@_jit
def fast_dot(a: np.ndarray, b: np.ndarray) -> float:
    """Return the dot product of equally long ``a`` and ``b``, left to right."""
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total


@_jit
def fast_norm(a: np.ndarray) -> float:
    """Return ``sqrt(sum(x * x))``, left to right, without rescaling (overflows like C)."""
    sum_sq = 0.0
    for i in range(a.shape[0]):
        sum_sq += a[i] * a[i]
    return math.sqrt(sum_sq)


@_jit
def scale_and_shift(a: np.ndarray, scale: float, shift: float) -> np.ndarray:
    """Return a new array ``a * scale + shift`` (a multiply, then an add: never an FMA)."""
    n = a.shape[0]
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        out[i] = a[i] * scale + shift
    return out


@_jit
def acc_add(total: float, value: float) -> float:
    """Return ``total + value``: the Accumulator's running total after one ``add``."""
    return total + value


@_jit
def acc_mean(total: float, count: int) -> float:
    """Return ``total / count``, or 0.0 when nothing was added."""
    if count > 0:
        return total / count
    return 0.0


@_jit
def haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km: the C core's ``ffl_haversine``, operation for operation.

    ``math.sin``/``cos``/``asin``/``sqrt`` compile to calls of the process's libm, so results
    agree bit for bit with the C routes.  ``a`` is clamped to ``[0, 1]`` (NaN stays NaN).
    """
    dlat = (lat2 - lat1) * _DEG_TO_RAD
    dlon = (lon2 - lon1) * _DEG_TO_RAD
    s_lat = math.sin(dlat / 2.0)
    s_lon = math.sin(dlon / 2.0)
    a = s_lat * s_lat + math.cos(lat1 * _DEG_TO_RAD) * math.cos(lat2 * _DEG_TO_RAD) * s_lon * s_lon
    if a > 1.0:
        a = 1.0
    elif a < 0.0:
        a = 0.0
    return _R * (2.0 * math.asin(math.sqrt(a)))


@_jit
def haversine_many(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Return a new array of the distances from ``(lat, lon)`` to every ``(lats[i], lons[i])``."""
    n = lats.shape[0]
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        out[i] = haversine(lat, lon, lats[i], lons[i])
    return out


@_jit
def _nearer(d: np.ndarray, i: int, j: int) -> bool:
    # The order of find_nearest_k: by distance, NaN after every number, then by index.
    nan_i = math.isnan(d[i])
    nan_j = math.isnan(d[j])
    if nan_i != nan_j:
        return nan_j
    if not nan_i and d[i] != d[j]:
        return d[i] < d[j]
    return i < j


@_jit
def _sift_down(heap: np.ndarray, length: int, pos: int, d: np.ndarray) -> None:
    # Max-heap by _nearer: the farthest of the kept points on top.
    while True:
        child = 2 * pos + 1
        if child >= length:
            return
        if child + 1 < length and _nearer(d, heap[child], heap[child + 1]):
            child += 1
        if not _nearer(d, heap[pos], heap[child]):
            return
        heap[pos], heap[child] = heap[child], heap[pos]
        pos = child


@_jit
def find_nearest_k(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(indices, distances)`` of the ``k`` nearest points, nearest first (``0 <= k <= n``).

    The C core's algorithm: the k nearest kept in a bounded max-heap (O(n log k)), then heap-sorted.
    """
    n = lats.shape[0]
    heap = np.empty(k, dtype=np.int64)
    dist = np.empty(k, dtype=np.float64)
    if k == 0:
        return heap, dist
    d = np.empty(n, dtype=np.float64)
    for i in range(n):
        d[i] = haversine(lat, lon, lats[i], lons[i])
    for i in range(k):
        heap[i] = i
    for pos in range(k // 2 - 1, -1, -1):
        _sift_down(heap, k, pos, d)
    for i in range(k, n):
        if _nearer(d, i, heap[0]):
            heap[0] = i
            _sift_down(heap, k, 0, d)
    for length in range(k - 1, 0, -1):
        heap[0], heap[length] = heap[length], heap[0]
        _sift_down(heap, length, 0, d)
    for i in range(k):
        dist[i] = d[heap[i]]
    return heap, dist


# Bits of ffilab.contract.char_classes(), kept literal like _R (ints are frozen into the code).
_CHAR_WORD = 1
_CHAR_DIGIT = 2
_CHAR_JOINER = 4
_SPACE = 0x20  # render_tokens: every character outside a kept token
_NUM_MARK = 0x01  # render_tokens: a numeric token (replaced by "<num>" in Python)
_SEP = 0x00  # render_tokens: the end of a text


@_jit
def tokenize_spans(data: np.ndarray, offsets: np.ndarray, classes: np.ndarray, max_chars: int,
                   spans: np.ndarray, is_num: np.ndarray, counts: np.ndarray) -> int:
    """The C core's ``ffl_tokenize_spans`` over code points already normalised and case-folded.

    ``data`` holds the uint32 code points of the texts, text ``k`` being
    ``data[offsets[k]:offsets[k + 1]]``; ``classes`` is ``ffilab.contract.char_classes()`` as a
    uint8 array (a code point beyond it is no word character).  Token ``t`` is written as
    ``spans[2t], spans[2t + 1]`` (start, end) and ``is_num[t]`` (all digits); ``counts[k]`` is
    the number of tokens of text ``k``; tokens longer than ``max_chars`` are skipped.  Returns the
    number of tokens, or -1 if ``is_num`` is too short (the wrapper allocates the C core's
    ``FFL_TOKEN_CAPACITY``, always enough: a token and the character after it take two places).
    """
    n_classes = classes.shape[0]
    capacity = is_num.shape[0]
    t = 0
    for k in range(offsets.shape[0] - 1):
        i = offsets[k]
        end = offsets[k + 1]
        before = t
        while i < end:
            cp = data[i]
            if cp >= n_classes or not (classes[cp] & _CHAR_WORD):
                i += 1
                continue
            start = i
            digits = True
            while True:
                while i < end:
                    cp = data[i]
                    c = classes[cp] if cp < n_classes else 0
                    if not (c & _CHAR_WORD):
                        break
                    digits = digits and (c & _CHAR_DIGIT) != 0
                    i += 1
                # A joiner joins only when a word character follows it ("don't", not "don'").
                if i + 1 < end:
                    cp = data[i]
                    nxt = data[i + 1]
                    if (cp < n_classes and (classes[cp] & _CHAR_JOINER)
                            and nxt < n_classes and (classes[nxt] & _CHAR_WORD)):
                        digits = False
                        i += 1
                        continue
                break
            if i - start > max_chars:
                continue
            if t >= capacity:
                return -1
            spans[2 * t] = start
            spans[2 * t + 1] = i
            is_num[t] = 1 if digits else 0
            t += 1
        counts[k] = t - before
    return t


@_jit
def render_tokens(data: np.ndarray, offsets: np.ndarray, spans: np.ndarray, is_num: np.ndarray,
                  n_tokens: int, out: np.ndarray) -> None:
    """Write into ``out`` (as long as ``data``) the string ``str.split`` cuts the tokens from.

    Every character of a token of ``spans`` is copied; a numeric token becomes one
    ``_NUM_MARK``; every other character is a space, except the last of each text but the last
    (the separator the wrapper put there), which becomes ``_SEP``.
    """
    for i in range(out.shape[0]):
        out[i] = _SPACE
    for t in range(n_tokens):
        start = spans[2 * t]
        if is_num[t]:
            out[start] = _NUM_MARK
        else:
            for i in range(start, spans[2 * t + 1]):
                out[i] = data[i]
    for k in range(1, offsets.shape[0] - 1):
        out[offsets[k] - 1] = _SEP


def dispatchers() -> dict[str, Any]:
    """Every Numba dispatcher of this file, by name (for the route's tests and diagnostics)."""
    return {name: obj for name, obj in globals().items() if isinstance(obj, Dispatcher)}
