"""First-call worker: ``python -m ffilab.bench._first_call ROUTE KERNEL`` prints one JSON object.

A fresh interpreter per kernel and cache state, started by :func:`ffilab.bench._jit.first_call_costs`
(with ``NUMBA_CACHE_DIR`` set); what it measures is :func:`ffilab.bench._jit.first_call`.
"""

from __future__ import annotations

import json
import sys

from ffilab.bench._jit import first_call

if __name__ == "__main__":
    json.dump(first_call(sys.argv[1], sys.argv[2]), sys.stdout)
