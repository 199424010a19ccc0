"""Route ``numpy``: the kernels as NumPy array expressions, no compiled code of our own.

Each kernel keeps the reference's algorithm and replaces its Python loop by whole-array
operations.  Where NumPy's own algorithm differs from the reference's loop the difference is a
legitimate part of this route and stays within the documented error bounds:

* ``np.sum`` and ``np.dot`` use pairwise/blocked summation, not left-to-right accumulation;
* ``sum_of_squares`` cannot use a 128-bit accumulator, so it sums exact 32-bit halves of ``i*i``
  per block (see :func:`sum_of_squares`) — the same loop over ``i``, exact for every accepted n;
* ``primes`` runs the same trial divisions, all candidates still undecided at once;
* ``find_nearest_k`` ranks with ``argpartition`` instead of a full sort.

The reference never warns, and overflow to inf or NaN results are part of the contract, so the
kernels compute under ``np.errstate(all="ignore")``.
"""

from __future__ import annotations

import math

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
]

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
    arr = contract.check_array("scale_array", "arr", arr, writable=True)
    f = contract.as_real("scale_array", "factor", factor)
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
    a = contract.check_array("scale_and_shift", "a", a)
    s = contract.as_real("scale_and_shift", "scale", scale)
    t = contract.as_real("scale_and_shift", "shift", shift)
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
    lat0, lon0 = contract.check_query(f, lat, lon, lats, lons)
    lats, lons = np.asarray(lats), np.asarray(lons)  # raw data of a subclass, as native code reads it
    return _haversine_arrays(lat0, lon0, lats, lons)


def find_nearest_k(
    lat: float, lon: float, lats: np.ndarray, lons: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(indices, distances)`` of the ``k`` nearest points, nearest first.

    ``argpartition`` finds the k-th distance in O(n); every point at or below it (so every tie)
    is then ordered by (NaN last, distance, index) with ``lexsort`` and the first k are kept.
    """
    f = "find_nearest_k"
    lat0, lon0 = contract.check_query(f, lat, lon, lats, lons)
    lats, lons = np.asarray(lats), np.asarray(lons)  # raw data of a subclass, as native code reads it
    kk = contract.check_k(f, k, lats.shape[0])
    if kk == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    d = _haversine_arrays(lat0, lon0, lats, lons)
    kth = d[np.argpartition(d, kk - 1)[kk - 1]]  # NaN sorts last in argpartition
    candidates = np.arange(d.shape[0], dtype=np.int64) if np.isnan(kth) else np.flatnonzero(d <= kth)
    # lexsort keys: last is primary.  NaN distances sort after numbers in lexsort too.
    order = candidates[np.lexsort((candidates, d[candidates]))][:kk]
    return order.astype(np.int64, copy=False), d[order]
