"""The lesson's nearest-places loop: pure-Python haversine over many points (heavy work per call).

As in the lesson's benchmark, the points are NumPy arrays and the loop indexes them one by one.

Run: python examples/advise/nearest_places.py [N_POINTS] [N_QUERIES]
"""

from __future__ import annotations

import math
import sys

import numpy as np


def find_nearest_k(qlat: float, qlon: float, lats: np.ndarray, lons: np.ndarray, k: int) -> list[int]:
    """Indices of the k points nearest to (qlat, qlon), nearest first (great-circle distance)."""
    radius = 6371.0
    best_d = [math.inf] * k
    best_i = [-1] * k
    for i in range(len(lats)):
        dlat = math.radians(lats[i] - qlat)
        dlon = math.radians(lons[i] - qlon)
        a = math.sin(dlat / 2) ** 2 + math.cos(math.radians(qlat)) * math.cos(math.radians(lats[i])) * math.sin(dlon / 2) ** 2
        d = radius * 2 * math.asin(math.sqrt(a))
        if d < best_d[k - 1]:
            # Insertion into the short sorted list of the best k so far.
            j = k - 1
            while j > 0 and best_d[j - 1] > d:
                best_d[j] = best_d[j - 1]
                best_i[j] = best_i[j - 1]
                j -= 1
            best_d[j] = d
            best_i[j] = i
    return best_i


def main() -> None:
    n_points = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    n_queries = int(sys.argv[2]) if len(sys.argv) > 2 else 24
    rng = np.random.default_rng(42)
    lats = rng.uniform(-90.0, 90.0, n_points)
    lons = rng.uniform(-180.0, 180.0, n_points)
    for q in range(n_queries):
        qlat, qlon = float(rng.uniform(-60.0, 60.0)), float(rng.uniform(-180.0, 180.0))
        nearest = find_nearest_k(qlat, qlon, lats, lons, 5)
        print(f"query {q}: ({qlat:.2f}, {qlon:.2f}) -> nearest point #{nearest[0]}")


if __name__ == "__main__":
    main()
