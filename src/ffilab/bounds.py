"""Agreement bounds: how far a route's result may lie from the reference's, and the comparison.

Read by ``ffilab.verify`` (the case table), the benchmarks and ``ffilab.nearest`` alike, so none of
them has to import the case table to judge a result.  Float results are compared with error bounds
derived from the operations performed, never with a free tolerance (the derivations are in
``ffilab.verify``'s module docstring and in :func:`haversine_tol`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ffilab import contract

__all__ = ["EPS", "array_tols", "compare_results", "haversine_tol", "same_float", "scalar_tol", "short_repr"]

#: Machine epsilon of float64: the unit of every bound.
EPS = float(np.finfo(np.float64).eps)
_R = contract.EARTH_RADIUS_KM




def same_float(got: float, want: float, tol: float) -> bool:
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    if math.isinf(want) or math.isinf(got):
        return got == want
    return abs(got - want) <= tol


def haversine_tol(
    d: float, lat1: float | None = None, lon1: float | None = None, lat2: float | None = None, lon2: float | None = None
) -> float:
    """Bound on the difference of two haversine evaluations of the reference distance ``d``.

    With the two points' coordinates (degrees) the bound follows the error to its sources, so it
    is relative near zero distance: the inner term ``a = sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2)``
    is off by at most

    * ``32·eps·a``: the rounding of its ten-odd operations, each a few ulps of a positive term
      (different ``sin``/``cos`` libraries included);
    * ``|sin(Δφ/2)|·e_φ + |sin(Δλ/2)|·e_λ``: the absolute error of the angle differences when a
      route subtracts radians rather than degrees (``e_φ = 4·eps·(|φ1| + |φ2|)``, the same for λ;
      ``d sin²(x/2)/dx = sin(x/2)cos(x/2)``);
    * ``(4·eps + e_φ)·sin²(Δλ/2)``: the error of ``cos φ1 cos φ2``, which is absolute (relative
      near the poles it is not).

    Without coordinates (``ffilab.nearest``'s bound, which knows only the distance) ``a`` is
    given an absolute ``32·eps``: about 1 m near zero distance, too loose to tell the order of
    two points 0.1 m apart, hence the coordinates wherever they are known.
    """
    if not math.isfinite(d):
        return 0.0
    a = math.sin(d / (2 * _R)) ** 2
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        delta = 32 * EPS
    else:
        p1, p2, l1, l2 = (math.radians(float(x)) for x in (lat1, lat2, lon1, lon2))
        e_phi = 4 * EPS * (abs(p1) + abs(p2))
        e_lam = 4 * EPS * (abs(l1) + abs(l2))
        s_lat = abs(math.sin((p2 - p1) / 2))
        s_lon = abs(math.sin((l2 - l1) / 2))
        if not math.isfinite(e_lam + e_phi + s_lat + s_lon):
            return math.inf
        delta = 32 * EPS * a + s_lat * e_phi + s_lon * e_lam + (4 * EPS + e_phi) * s_lon * s_lon
    hi = math.asin(math.sqrt(min(1.0, a + delta)))
    lo = math.asin(math.sqrt(max(0.0, a - delta)))
    return 2 * _R * (hi - lo) + 4 * EPS * d


def array_tols(kernel: str, want: np.ndarray, args: tuple[Any, ...], idx: np.ndarray | None = None) -> np.ndarray:
    if kernel == "scale_array":
        return np.zeros(want.shape)
    if kernel == "compute_distances":
        return 4 * EPS * np.abs(want)
    if kernel == "scale_and_shift":
        a, scale = args[0], float(args[1])
        shift = float(args[2]) if len(args) > 2 else 0.0
        with np.errstate(all="ignore"):
            return 2 * EPS * (np.abs(a * scale) + abs(shift))
    if kernel in ("haversine_many", "find_nearest_k"):
        lat, lon, lats, lons = (float(args[0]), float(args[1]), args[2], args[3])
        points = range(len(want)) if idx is None else idx.tolist()
        return np.array([
            haversine_tol(float(d), lat, lon, float(lats[i]), float(lons[i])) for d, i in zip(want.tolist(), points)
        ])
    raise KeyError(kernel)


def _compare_arrays(kernel: str, got: Any, want: np.ndarray, args: tuple[Any, ...], idx: np.ndarray | None = None) -> str:
    if type(got) is not np.ndarray:
        # Exactly ndarray: a subclass result could redefine the attributes compared below.
        return f"returned {type(got).__name__}, the reference an ndarray"
    if got.dtype != want.dtype or got.shape != want.shape:
        return f"returned {got.dtype}{got.shape}, the reference {want.dtype}{want.shape}"
    tol = array_tols(kernel, want, args, idx)
    for i, (g, w, t) in enumerate(zip(got.tolist(), want.tolist(), tol.tolist())):
        if not same_float(g, w, t):
            return f"element {i}: {g!r} != {w!r} (bound {t:.3g})"
    return ""


def scalar_tol(kernel: str, want: float, args: tuple[Any, ...]) -> float:
    if kernel == "circle_area":
        return 0.0
    if kernel == "haversine_distance":
        return haversine_tol(want, *(float(x) for x in args[:4]))
    a = args[0]
    n = a.shape[0]
    with np.errstate(all="ignore"):
        if kernel == "fast_sum":
            return 4 * n * EPS * float(np.sum(np.abs(a)))
        if kernel == "fast_dot":
            return 4 * n * EPS * float(np.sum(np.abs(a * args[1])))
        if kernel == "fast_norm":
            return (4 * n + 2) * EPS * want
    raise KeyError(kernel)


def _compare_nearest(got: Any, want: tuple[np.ndarray, np.ndarray], args: tuple[Any, ...]) -> str:
    if not (isinstance(got, tuple) and len(got) == 2):
        return f"returned {type(got).__name__}, the reference a tuple (indices, distances)"
    idx, dist = got
    want_idx, want_dist = want
    for arr, ref in ((idx, want_idx), (dist, want_dist)):
        if not isinstance(arr, np.ndarray) or arr.dtype != ref.dtype or arr.shape != ref.shape:
            return f"returned {arr!r}, the reference {ref!r}"
    problem = _compare_arrays("find_nearest_k", dist, want_dist, args, want_idx)
    if problem:
        return "distances: " + problem
    # The order of the route's own result: by its distances, NaN last, ties by index.
    keys = [contract.nearest_order_key(d, i) for d, i in zip(dist.tolist(), idx.tolist())]
    for rank in range(1, len(keys)):
        if not keys[rank - 1] < keys[rank]:
            return f"ranks {rank - 1} and {rank} are out of order: {keys[rank - 1]} then {keys[rank]}"
    if np.array_equal(idx, want_idx):
        return ""
    # A different index is acceptable only for a near-tie: both distances equal within the bound.
    lat, lon, lats, lons = (float(args[0]), float(args[1]), args[2], args[3])
    if len(set(idx.tolist())) != len(idx) or (len(idx) and (idx.min() < 0 or idx.max() >= len(lats))):
        return f"indices {idx.tolist()} are not distinct valid indices"
    from ffilab.routes import python as reference

    for i, (g, w) in enumerate(zip(idx.tolist(), want_idx.tolist())):
        if g != w:
            dg = reference.haversine_distance(lat, lon, lats[g], lons[g])
            dw = reference.haversine_distance(lat, lon, lats[w], lons[w])
            tol = haversine_tol(dg, lat, lon, float(lats[g]), float(lons[g])) + haversine_tol(
                dw, lat, lon, float(lats[w]), float(lons[w])
            )
            if not same_float(dg, dw, tol):
                return f"rank {i}: index {g} (distance {dg!r}) where the reference has {w} ({dw!r})"
    return ""


def compare_results(kernel: str, got: Any, want: Any, args: tuple[Any, ...]) -> str:
    """Return "" if ``got`` agrees with the reference's ``want`` for ``kernel``, else why not."""
    # Bounds come from the raw data every route reads: the contract reads an ndarray subclass
    # (a masked array, a matrix) as its base-class view, so the bounds must too.
    args = tuple(np.asarray(a) if isinstance(a, np.ndarray) else a for a in args)
    if kernel == "find_nearest_k":
        return _compare_nearest(got, want, args)
    if isinstance(want, np.ndarray):
        return _compare_arrays(kernel, got, want, args)
    if type(got) is not type(want):
        return f"returned {type(got).__name__} {got!r}, the reference {type(want).__name__} {want!r}"
    if isinstance(want, float):
        tol = scalar_tol(kernel, want, args)
        return "" if same_float(got, want, tol) else f"{got!r} != {want!r} (bound {tol:.3g})"
    if kernel == "Accumulator":
        return _compare_accumulator(got, want)
    if kernel == "tokenize_batch":
        return _compare_tokens(got, want)
    return "" if got == want else f"{short_repr(got)} != {short_repr(want)}"


def _compare_tokens(got: list[Any], want: list[list[str]]) -> str:
    # Exact: the same lists of exact str (a str subclass or a tuple would compare equal but is
    # not what the contract returns).
    if len(got) != len(want):
        return f"{len(got)} token lists for {len(want)} texts"
    for i, (g, w) in enumerate(zip(got, want)):
        if type(g) is not list or any(type(t) is not str for t in g):
            return f"text {i}: returned {short_repr(g)}, not a list of str"
        if g != w:
            return f"text {i}: {short_repr(g)} != {short_repr(w)}"
    return ""


def _compare_accumulator(got: Any, want: Any) -> str:
    if isinstance(want, str) or got == want:
        return "" if got == want else f"{got!r} != {want!r}"
    # Totals are the same left-to-right float additions in every route: compared exactly,
    # as are the counts and the repr built from them.  NaN totals compare by repr.
    if repr(got) == repr(want):
        return ""
    for step, (g, w) in enumerate(zip(got, want)):
        if repr(g) != repr(w):
            return f"after {step} add(s): {g!r} != {w!r}"
    return f"{len(got)} states != {len(want)} states"


def short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 120 else text[:117] + "..."
