"""I/O-bound: reads records from files and waits on a slow "service" (sleep); the parsing is light.

Run: python examples/advise/io_bound.py [N_FILES]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time


def fetch_rate(currency: str) -> float:
    """Ask a slow exchange-rate service (simulated: 20 ms of latency per request)."""
    time.sleep(0.02)
    return 1.0 + (sum(map(ord, currency)) % 17) / 100


def load_amounts(path: str) -> list[float]:
    """Read one file of amounts, one per line."""
    with open(path, encoding="utf-8") as fh:
        return [float(line) for line in fh]


def main() -> None:
    n_files = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(n_files):
            path = os.path.join(tmp, f"amounts_{i}.txt")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write("\n".join(str(j * 0.25 + i) for j in range(2000)))
            paths.append(path)
        total = 0.0
        for i, path in enumerate(paths):
            rate = fetch_rate(("EUR", "GBP", "JPY")[i % 3])
            total += rate * sum(load_amounts(path))
    print(f"total in USD: {total:.2f}")


if __name__ == "__main__":
    main()
