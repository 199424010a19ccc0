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
    latest: dict[str, float] = {}
    log = Path(log_path)
    if log.is_file():
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) >= 4:
                latest[parts[3]] = (int(parts[1]) - int(parts[0])) / 1000.0
    core_obj = sum(s for out, s in latest.items() if "ffilab_core_obj.dir" in out)
    core_lib = sum(s for out, s in latest.items() if "libffilab_core" in out)
    times: dict[str, float] = {}
    for route in routes:
        own = sum(s for out, s in latest.items() if f"routes/{route}/" in out)
        if route in ("ctypes", "cffi_abi"):
            times[route] = core_obj + core_lib
        else:
            times[route] = own + (core_obj if route in CORE_ROUTES else 0.0)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    Path(out_path).write_text(json.dumps({r: round(t, 3) for r, t in times.items()}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
