"""``NearestIndex``: the k nearest places to a point, by any of the lesson's routes or the fast ones.

Every strategy answers the same question with the same answer: the ``k`` points nearest to the
query by the haversine distance of the reference (``ffilab.routes.python``, R = 6371 km), sorted by
distance, ties broken by the smaller index.

======== ===================================================================================
strategy how
======== ===================================================================================
python   the lesson's pure-Python loop, ``ffilab.route("python").find_nearest_k``: the
         reference itself, one query at a time
numpy    the lesson's vectorised NumPy version (``argpartition``, not a full sort)
cython   the lesson's Cython loop, ``ffilab.route("cython").find_nearest_k``
fused    compiled scan over all points: ranks by the squared chord (the haversine inner term
         ``a`` is a quarter of it) from cached unit vectors — no trigonometry per point, in
         blocks the compiler vectorises — and evaluates the reference's own formula only for
         the few points that can still be among the k nearest; threads over the points of one
         query and over the queries of a batch, GIL released
tree     the same exact ranking over a k-d tree of the unit vectors, built once; threads over
         the queries of a batch, which it searches along a space-filling curve
======== ===================================================================================

``fused`` and ``tree`` return the reference's distances bit for bit wherever they use the same
libm as Python (the same operations in the same order, no FMA); ``numpy`` uses NumPy's own
``sin``/``cos``, so its distances agree within the haversine bound of ``ffilab.verify`` and its
neighbours up to ties within that bound.  See ``_engine.cpp`` for why the compiled ranking is exact.
"""

from __future__ import annotations

import operator
import os
import time
from dataclasses import dataclass
from typing import Any, SupportsFloat, SupportsIndex

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "NearestIndex",
    "StrategyInfo",
    "StrategyUnavailable",
    "default_threads",
    "haversine_bound_km",
    "strategies",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: Every strategy, with one line on what it is.
STRATEGIES: dict[str, str] = {
    "python": "the lesson's pure-Python loop (the reference, ffilab.route('python'))",
    "numpy": "the lesson's NumPy version: vectorised haversine + argpartition",
    "cython": "the lesson's Cython loop (ffilab.route('cython'))",
    "fused": "compiled scan: chord ranking, exact re-ranking of the few candidates, threaded",
    "tree": "compiled k-d tree over unit vectors, built once, exact re-ranking, threaded batches",
}
#: The strategy ``NearestIndex`` uses unless told otherwise: the fastest for one query and many.
DEFAULT_STRATEGY = "tree"
_COMPILED = ("fused", "tree")
_ROUTES = ("python", "numpy", "cython")
# Longitudes in [-360, 360] cover both the [-180, 180] and [0, 360] conventions (see _engine.hpp).
_MAX_ABS_LON = 360.0
_MAX_THREADS = 1024


class StrategyUnavailable(RuntimeError):
    """The strategy cannot run on this installation; the message says why."""


@dataclass(frozen=True)
class StrategyInfo:
    """A strategy and whether it can run here."""

    name: str
    description: str
    available: bool
    reason: str


def _load(strategy: str) -> Any:
    """Return the route module or the compiled engine module behind ``strategy``."""
    if strategy in _COMPILED:
        try:
            from ffilab.nearest import _core
        except ImportError as exc:
            raise StrategyUnavailable(
                f"strategy {strategy!r} is unavailable: the compiled module ffilab.nearest._core "
                f"could not be imported ({exc}); reinstall ffilab from source"
            ) from exc
        return _core
    import ffilab

    try:
        return ffilab.route(strategy)
    except ffilab.RouteUnavailable as exc:
        raise StrategyUnavailable(f"strategy {strategy!r} is unavailable: {exc}") from exc


def strategies() -> list[StrategyInfo]:
    """Return every strategy with its availability on this installation."""
    out = []
    for name, description in STRATEGIES.items():
        try:
            _load(name)
        except StrategyUnavailable as exc:
            out.append(StrategyInfo(name, description, False, str(exc)))
        else:
            out.append(StrategyInfo(name, description, True, ""))
    return out


def default_threads() -> int:
    """Return the number of CPUs this process may run on (the compiled strategies' default)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# ------------------------------------------------------------------------------------------------
# Validation: one place, so every strategy rejects the same input with the same message.
# ------------------------------------------------------------------------------------------------


def _coords(func: str, name: str, values: Any) -> F64:
    """Return ``values`` as a new 1-D C-contiguous float64 array (a copy: the caller keeps theirs)."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "fiu" or arr.dtype == np.float16:
        raise TypeError(f"{func}: {name} must be real numbers (float or int), got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{func}: {name} must be 1-D, got shape {arr.shape}")
    return np.array(arr, dtype=np.float64, order="C", copy=True)


def _check_lats_lons(func: str, lats: F64, lons: F64, lat_name: str = "lats", lon_name: str = "lons") -> None:
    if lats.shape[0] != lons.shape[0]:
        raise ValueError(f"{func}: {lat_name} and {lon_name} must have the same length, "
                         f"got {lats.shape[0]} and {lons.shape[0]}")
    with np.errstate(invalid="ignore"):
        bad_lat = ~((lats >= -90.0) & (lats <= 90.0))  # NaN fails both comparisons
        bad_lon = ~((lons >= -_MAX_ABS_LON) & (lons <= _MAX_ABS_LON))
    if bad_lat.any():
        i = int(np.flatnonzero(bad_lat)[0])
        raise ValueError(f"{func}: {lat_name}[{i}] must be a latitude in [-90, 90] degrees, got {lats[i]!r}")
    if bad_lon.any():
        i = int(np.flatnonzero(bad_lon)[0])
        raise ValueError(f"{func}: {lon_name}[{i}] must be a longitude in [-360, 360] degrees, got {lons[i]!r}")


def _scalar(func: str, name: str, value: Any) -> float:
    if isinstance(value, (str, bytes, complex)) or value is None:
        raise TypeError(f"{func}: {name} must be a real number, got {type(value).__name__}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{func}: {name} must be a real number, got {type(value).__name__}") from None


def _check_query_point(func: str, lat: Any, lon: Any) -> tuple[float, float]:
    lat, lon = _scalar(func, "lat", lat), _scalar(func, "lon", lon)
    if not -90.0 <= lat <= 90.0:  # False for NaN
        raise ValueError(f"{func}: lat must be a latitude in [-90, 90] degrees, got {lat!r}")
    if not -_MAX_ABS_LON <= lon <= _MAX_ABS_LON:
        raise ValueError(f"{func}: lon must be a longitude in [-360, 360] degrees, got {lon!r}")
    return lat, lon


def _check_k(func: str, k: Any, n: int) -> int:
    try:
        k = operator.index(k)
    except TypeError:
        raise TypeError(f"{func}: k must be an integer, got {type(k).__name__}") from None
    if k <= 0:
        raise ValueError(f"{func}: k must be >= 1, got {k}")
    if k > n:
        raise ValueError(f"{func}: k must be <= the number of points ({n}), got {k}")
    return k


def _check_threads(func: str, threads: Any, strategy: str) -> int:
    if threads is None:
        return default_threads() if strategy in _COMPILED else 1
    try:
        t = operator.index(threads)
    except TypeError:
        raise TypeError(f"{func}: threads must be an integer or None, got {type(threads).__name__}") from None
    if not 1 <= t <= _MAX_THREADS:
        raise ValueError(f"{func}: threads must be between 1 and {_MAX_THREADS}, got {t}")
    if t != 1 and strategy not in _COMPILED:
        # Refused rather than ignored: a benchmark asking for 2 threads must not time 1.
        raise ValueError(f"{func}: strategy {strategy!r} runs on one thread; threads must be 1 or None, got {t}")
    return t


# ------------------------------------------------------------------------------------------------
# The index
# ------------------------------------------------------------------------------------------------


class NearestIndex:
    """The k nearest of a fixed set of points on the sphere, by one selectable strategy.

    Parameters
    ----------
    lats, lons : array_like of float
        The points, in degrees: latitudes in [-90, 90], longitudes in [-360, 360]; 1-D, equally
        long, at least one point.  They are copied.
    strategy : str
        One of :data:`STRATEGIES` (default ``"tree"``).
    threads : int or None
        Threads for the compiled strategies (default: every CPU this process may use); the lesson's
        strategies run on one thread and accept only 1 or None.  Answers never depend on it.
    leaf_size : int
        Points per k-d tree leaf (``tree`` only), 1..4096.

    Attributes
    ----------
    build_seconds : float
        Wall time spent building the strategy's data structure.

    Raises
    ------
    ValueError
        A latitude outside [-90, 90], a longitude outside [-360, 360], NaN, lengths that differ,
        no points, an unknown strategy, or a bad ``threads``/``leaf_size``.
    TypeError
        Non-numeric coordinates, or a non-integer ``threads``/``leaf_size``.
    StrategyUnavailable
        The strategy is not usable here (the reason is in the message).

    Examples
    --------
    >>> idx = NearestIndex([0.0, 10.0, 20.0], [0.0, 10.0, 20.0])
    >>> idx.query(9.0, 9.0, k=2)[0].tolist()
    [1, 0]
    """

    def __init__(
        self,
        lats: npt.ArrayLike,
        lons: npt.ArrayLike,
        strategy: str = DEFAULT_STRATEGY,
        *,
        threads: SupportsIndex | None = None,
        leaf_size: SupportsIndex = 16,
    ) -> None:
        f = "NearestIndex"
        if strategy not in STRATEGIES:
            raise ValueError(f"{f}: unknown strategy {strategy!r}; strategies are {', '.join(STRATEGIES)}")
        lats, lons = _coords(f, "lats", lats), _coords(f, "lons", lons)
        _check_lats_lons(f, lats, lons)
        if lats.shape[0] == 0:
            raise ValueError(f"{f}: lats and lons must hold at least one point")
        self._threads = _check_threads(f, threads, strategy)
        try:
            leaf = operator.index(leaf_size)
        except TypeError:
            raise TypeError(f"{f}: leaf_size must be an integer, got {type(leaf_size).__name__}") from None
        if not 1 <= leaf <= 4096:
            raise ValueError(f"{f}: leaf_size must be between 1 and 4096, got {leaf}")
        lats.flags.writeable = False
        lons.flags.writeable = False
        self._lats, self._lons = lats, lons
        self._strategy = strategy
        self._leaf_size = leaf
        module = _load(strategy)
        start = time.perf_counter()
        if strategy in _COMPILED:
            self._engine: Any = module.Index(lats, lons, tree=strategy == "tree", leaf_size=leaf, threads=self._threads)
        else:
            self._engine = module.find_nearest_k
        self.build_seconds = time.perf_counter() - start

    # -- properties ---------------------------------------------------------------------------
    @property
    def strategy(self) -> str:
        """The strategy's name."""
        return self._strategy

    @property
    def threads(self) -> int:
        """Threads the compiled strategies use (1 for the lesson's)."""
        return self._threads

    @property
    def lats(self) -> F64:
        """The indexed latitudes (a read-only copy)."""
        return self._lats

    @property
    def lons(self) -> F64:
        """The indexed longitudes (a read-only copy)."""
        return self._lons

    def __len__(self) -> int:
        return int(self._lats.shape[0])

    def __repr__(self) -> str:
        return f"NearestIndex(n={len(self)}, strategy={self._strategy!r}, threads={self._threads})"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Pickled as its points and settings and rebuilt on load: that is how Dask shares one
        # index with every worker (a k-d tree over the gazetteer builds in a fraction of a second).
        return (_rebuild, (self._lats, self._lons, self._strategy, self._threads, self._leaf_size))

    # -- queries ------------------------------------------------------------------------------
    def query(self, lat: SupportsFloat, lon: SupportsFloat, k: SupportsIndex = 1) -> tuple[I64, F64]:
        """Return the ``k`` points nearest to ``(lat, lon)``, nearest first.

        Parameters
        ----------
        lat, lon : float
            Degrees: lat in [-90, 90], lon in [-360, 360].
        k : int
            How many points, ``1 <= k <= len(self)``.

        Returns
        -------
        indices : numpy.ndarray of int64, shape (k,)
            Positions in the indexed arrays.
        distances : numpy.ndarray of float64, shape (k,)
            Haversine distances in km; sorted by (distance, index).

        Raises
        ------
        ValueError
            A coordinate out of range or NaN, ``k <= 0`` or ``k > len(self)``.
        TypeError
            A non-real coordinate or a non-integer ``k``.
        """
        f = "NearestIndex.query"
        lat, lon = _check_query_point(f, lat, lon)
        k = _check_k(f, k, len(self))
        if self._strategy in _COMPILED:
            idx, dist = self._engine.query(lat, lon, k, self._threads)
        else:
            idx, dist = self._engine(lat, lon, self._lats, self._lons, k)
        return idx, dist

    def query_many(
        self,
        lats: npt.ArrayLike,
        lons: npt.ArrayLike,
        k: SupportsIndex = 1,
        *,
        threads: SupportsIndex | None = None,
    ) -> tuple[npt.NDArray[np.int64], F64]:
        """Return the ``k`` nearest points of every query point.

        Parameters
        ----------
        lats, lons : array_like of float
            The query points (1-D, equally long; may be empty).
        k : int
            Neighbours per query, ``1 <= k <= len(self)``.
        threads : int or None
            Overrides the index's ``threads`` for this call.

        Returns
        -------
        indices : numpy.ndarray of int64, shape (m, k)
        distances : numpy.ndarray of float64, shape (m, k)
            Row ``i`` is ``query(lats[i], lons[i], k)``.

        Raises
        ------
        ValueError, TypeError
            As :meth:`query`, naming the first bad element.
        """
        f = "NearestIndex.query_many"
        query_lats, query_lons = _coords(f, "lats", lats), _coords(f, "lons", lons)
        _check_lats_lons(f, query_lats, query_lons)
        k = _check_k(f, k, len(self))
        t = self._threads if threads is None else _check_threads(f, threads, self._strategy)
        if self._strategy in _COMPILED:
            idx, dist = self._engine.query_many(query_lats, query_lons, k, t)
            return idx, dist
        out_idx = np.empty((query_lats.shape[0], k), dtype=np.int64)
        out_dist = np.empty((query_lats.shape[0], k), dtype=np.float64)
        for i in range(query_lats.shape[0]):
            out_idx[i], out_dist[i] = self._engine(float(query_lats[i]), float(query_lons[i]), self._lats, self._lons, k)
        return out_idx, out_dist

    @property
    def nbytes(self) -> int:
        """Bytes held by the index: its copy of the points plus the engine's arrays."""
        extra = int(self._engine.nbytes) if self._strategy in _COMPILED else 0
        return int(self._lats.nbytes + self._lons.nbytes) + extra


def _rebuild(lats: F64, lons: F64, strategy: str, threads: int, leaf_size: int) -> NearestIndex:
    return NearestIndex(lats, lons, strategy, threads=threads, leaf_size=leaf_size)


def haversine_bound_km(distance_km: float) -> float:
    """Return the bound within which two correct haversine evaluations of ``distance_km`` agree.

    The bound of ``ffilab.bounds`` (inner term off by at most 32 eps); two strategies may each be
    that far from the exact value, so compare them with twice this.
    """
    from ffilab.bounds import haversine_tol

    return float(haversine_tol(float(distance_km)))

