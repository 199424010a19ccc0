"""NumPy-heavy: pairwise distances of point clouds with array expressions (the time is inside NumPy).

Run: python examples/advise/numpy_heavy.py [N_POINTS] [N_ROUNDS]
"""

from __future__ import annotations

import sys

import numpy as np


def closest_pair_distance(points: np.ndarray) -> float:
    """Smallest distance between two distinct points of an (n, 3) array."""
    diff = points[:, None, :] - points[None, :, :]
    d2 = np.sum(diff * diff, axis=-1)
    np.fill_diagonal(d2, np.inf)
    return float(np.sqrt(d2.min()))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 900
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    rng = np.random.default_rng(3)
    for r in range(rounds):
        pts = rng.random((n, 3))
        print(f"round {r}: closest pair {closest_pair_distance(pts):.6f}")


if __name__ == "__main__":
    main()
