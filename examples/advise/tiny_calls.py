"""Many tiny calls: a soft-clipping function called once per sample (the work per call is ~0.2 us).

Run: python examples/advise/tiny_calls.py [N_SAMPLES] [N_PASSES]
"""

from __future__ import annotations

import math
import sys


def soft_clip(x: float, limit: float) -> float:
    """Clip x smoothly into (-limit, limit): linear near zero, a cubic knee towards the limit."""
    if x > limit:
        return limit
    if x < -limit:
        return -limit
    t = x / limit
    return limit * (1.5 * t - 0.5 * t * t * t)


def total_clipped(samples: list[float], limit: float) -> float:
    """Sum of the soft-clipped samples."""
    total = 0.0
    for x in samples:
        total += soft_clip(x, limit)
    return total


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400_000
    passes = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    samples = [3.0 * math.sin(0.37 * i) * math.cos(0.011 * i) for i in range(n)]
    for p in range(passes):
        print(f"pass {p}: total {total_clipped(samples, 1.0 + 0.5 * p):.6f}")


if __name__ == "__main__":
    main()
