"""Per-route build times from Ninja's log, written at install time to ffilab/_build_times.json.

Run by CMake's install step (after the build): ``build_times.py NINJA_LOG OUT_JSON ROUTE...``.
Each route's time is the sum of the durations of the build steps that produce its files (CPU-ish
time: steps that ran in parallel are all counted), plus the shared C core's object for the routes
that link it.  The latest entry per output is used, so an incremental rebuild keeps the times of
the steps it did not redo.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# Routes that link the C core's objects (see ffilab_link_core and libffilab_core in CMakeLists.txt).
CORE_ROUTES = {"ctypes", "cffi_abi", "cffi_api", "pybind11", "nanobind", "capi"}


def main(log_path: str, out_path: str, routes: list[str]) -> None:
    # output -> (start_ms, end_ms, command hash) of the latest step that wrote it.
    latest: dict[str, tuple[int, int, str]] = {}
    log = Path(log_path)
    if log.is_file():
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) >= 5:
                latest[parts[3]] = (int(parts[0]), int(parts[1]), parts[4])

    def seconds(match: str) -> float:
        # A step with several outputs (a custom command such as cargo's or Cython's, whose output
        # Ninja logs under a relative and an absolute path) has one log line per output: count
        # each step once.
        steps = {step for out, step in latest.items() if match in out}
        return sum(end - start for start, end, _ in steps) / 1000.0

    core_obj = seconds("ffilab_core_obj.dir")
    core_lib = seconds("libffilab_core")
    times: dict[str, float] = {}
    for route in routes:
        own = seconds(f"routes/{route}/")
        if route in ("ctypes", "cffi_abi"):
            times[route] = core_obj + core_lib
        else:
            times[route] = own + (core_obj if route in CORE_ROUTES else 0.0)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    Path(out_path).write_text(json.dumps({r: round(t, 3) for r, t in times.items()}, indent=1), encoding="utf-8")

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
