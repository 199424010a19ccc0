"""The judge itself: verify's bounds are tight where they must be, and it fails what it should."""

from __future__ import annotations

import math

import numpy as np

import ffilab
from ffilab import verify
from ffilab.bounds import haversine_tol
from ffilab.verify import LyingFloat, compare_results, lying


def _points_apart(metres: float) -> tuple[np.ndarray, np.ndarray]:
    # Two points north of the query, `metres` apart along the meridian (1 degree = 111.195 km).
    step = metres / 1000.0 / (math.pi * 6371.0 / 180.0)
    return np.array([45.0 + 2 * step, 45.0 + step]), np.array([7.0, 7.0])


def test_two_points_ten_centimetres_apart_cannot_swap_places() -> None:
    reference = ffilab.route("python")
    lats, lons = _points_apart(0.1)
    args = (45.0, 7.0, lats, lons, 2)
    want = reference.find_nearest_k(*args)
    assert want[0].tolist() == [1, 0]
    swapped_idx = want[0][::-1].copy()
    # Swapped indices with the reference's distances, and swapped indices with swapped distances
    # (so the result is sorted by its own distances): both are wrong answers.
    assert compare_results("find_nearest_k", (swapped_idx, want[1].copy()), want, args)
    assert compare_results("find_nearest_k", (swapped_idx, want[1][::-1].copy()), want, args)
    assert compare_results("find_nearest_k", want, want, args) == ""


def test_haversine_bound_is_relative_near_zero_distance() -> None:
    reference = ffilab.route("python")
    for metres in (0.01, 0.1, 1.0, 100.0):
        lats, lons = _points_apart(metres)
        d = reference.haversine_distance(45.0, 7.0, float(lats[1]), float(lons[1]))
        tol = haversine_tol(d, 45.0, 7.0, float(lats[1]), float(lons[1]))
        # Dominated by the rounding of the angles in radians (eps·|φ| of a Δφ of 1e-9 rad at
        # 1 cm): a few millionths of the distance, a micrometre at most here.
        assert 0 < tol < 1e-5 * d and tol < 1e-9, (metres, d, tol)
    # Without the coordinates it is the old absolute bound, about a metre.
    assert haversine_tol(1e-4) > 5e-4


def test_haversine_bound_still_covers_other_libraries() -> None:
    # NumPy's sin/cos are not libm's: the NumPy route must still pass on many random pairs.
    rng = np.random.default_rng(3)
    numpy_route, reference = ffilab.route("numpy"), ffilab.route("python")
    lats, lons = rng.uniform(-90, 90, 2000), rng.uniform(-180, 180, 2000)
    near = lats[:1000] + rng.normal(0, 1e-6, 1000)
    for q in range(20):
        lat, lon = float(lats[q]), float(lons[q])
        for pts in ((lats, lons), (near, lons[:1000])):
            got = numpy_route.haversine_many(lat, lon, *pts)
            want = reference.haversine_many(lat, lon, *pts)
            assert compare_results("haversine_many", got, want, (lat, lon, *pts)) == ""


def test_the_reference_reads_a_lying_float_as_its_value() -> None:
    reference = ffilab.route("python")
    assert reference.circle_area(LyingFloat(1.5)) == math.pi * 1.5 * 1.5
    arr = np.ones(4)
    reference.scale_array(lying(arr, "shape-huge"), LyingFloat(3.0))
    assert arr.tolist() == [3.0] * 4


def test_the_reference_is_judged_on_lying_arrays_by_an_oracle() -> None:
    # Compared with itself, the reference could never fail: the lying-array cases carry an
    # oracle (the reference on the plain view), so verify runs them on the reference too.
    labels = {o.case for o in verify.verify_route("python", ["fast_sum"])}
    assert "fast_sum[lie-shape-huge]" in labels and "fast_sum[lie-ctypes-null]" in labels


def test_a_route_reading_the_claimed_length_is_caught() -> None:
    # What the ctypes route did before: the length from the object, not the memory.
    class Liar:
        @staticmethod
        def fast_sum(a: np.ndarray) -> float:
            return float(np.asarray(a)[: min(len(a), np.asarray(a).size)].sum()) + float(a.shape[0] != a.size)

    case = next(c for c in verify.CASES if c.id == "fast_sum[lie-shape-tiny]")
    assert not verify.run_case(Liar, case).ok  # type: ignore[arg-type]
