"""JIT routes in ``ffilab bench``: proof that the kernels are compiled, and their first-call cost.

A JIT route (registry kind ``"JIT"``, the Numba route) is not compiled at build time, so the
compiled-module check of :func:`ffilab.bench.compiled_problem` cannot apply.  Its honest
counterpart, :func:`jit_problem`: every kernel's Python code (the contract wrapper, or the
class's methods) must call a Numba dispatcher in nopython mode, and the route must not use the
pure-Python reference.  ``NUMBA_DISABLE_JIT=1`` turns every ``@njit`` function back into plain
Python; the check reports that as "not really compiled" instead of timing the interpreter.

The first-call cost, :func:`first_call_costs`: a JIT kernel compiles on its first call (or loads
its machine code from Numba's on-disk cache).  The bench's timings never include it (its workers call
every function once before calibrating, see :mod:`ffilab.bench.throughput`); it is measured here, each kernel
in a fresh process of its own, so that it pays for its own compilation only:

* ``cold``: ``NUMBA_CACHE_DIR`` is a new empty directory: the call compiles;
* ``warm``: a second fresh process with the same directory: the call loads what the first wrote.

Numba's own set-up (its typing and lowering registries, LLVM's target machine), which the first
compile or cache load of a process triggers whatever the kernel, is timed apart just before the
first call (``runtime_init_s``): a program pays it once, then each kernel its first call.

The worker, ``python -m ffilab.bench._first_call ROUTE KERNEL``, runs :func:`first_call`: it
imports the route (import time is measured separately), builds the arguments, then times the
first and the second call of the kernel in wall-clock time (the time a user waits) and prints
one JSON object.
"""

from __future__ import annotations

import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

__all__ = ["called_dispatchers", "first_call", "first_call_costs", "jit_problem"]

#: The environment variable that points Numba's cache at a directory of our choosing.
CACHE_ENV = "NUMBA_CACHE_DIR"


def _code_names(code: CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):  # comprehensions, nested functions
            names |= _code_names(const)
    return names


def _functions_of(obj: Any) -> list[Any]:
    if inspect.isclass(obj):
        return [inspect.unwrap(v) for v in vars(obj).values() if inspect.isfunction(v)]
    return [inspect.unwrap(obj)]


def called_dispatchers(obj: Any) -> list[Any]:
    """Return the Numba dispatchers that ``obj``'s code calls.

    ``obj`` is a kernel: a dispatcher itself, a Python function, or a class (its methods are
    read).  A dispatcher counts when the function's code names a global bound to it, directly
    (``_fast_sum(a)``) or as an attribute of a module global (``_kernels.fast_sum(a)``).
    """
    from numba.core.dispatcher import Dispatcher

    if isinstance(obj, Dispatcher):
        return [obj]
    found: list[Any] = []
    for fn in _functions_of(obj):
        code = getattr(fn, "__code__", None)
        if code is None:
            continue
        names = _code_names(code)
        for name in names:
            value = fn.__globals__.get(name)
            candidates = [getattr(value, attr, None) for attr in names] if isinstance(value, ModuleType) else [value]
            found += [c for c in candidates if isinstance(c, Dispatcher) and all(c is not f for f in found)]
    return found


def _route_sources(module: ModuleType) -> Iterable[Path]:
    origin = getattr(module, "__file__", None)
    if not origin:
        return []
    return sorted(Path(origin).parent.glob("*.py"))


def jit_problem(module: ModuleType) -> str:
    """Return why a JIT route's kernels would not run compiled code ("" if they do)."""
    import ffilab

    for path in _route_sources(module):
        text = path.read_text(encoding="utf-8")
        if "ffilab.routes.python" in text or "routes import python" in text:
            return f"{path.name} imports the pure-Python reference"
    reference = sys.modules.get("ffilab.routes.python")
    for kernel in ffilab.KERNELS:
        obj = getattr(module, kernel)
        dispatchers = called_dispatchers(obj)
        if not dispatchers:
            return f"{kernel} calls no Numba dispatcher: its work would run in the interpreter"
        for dispatcher in dispatchers:
            if dispatcher.targetoptions.get("forceobj"):
                return f"{kernel}: {dispatcher.py_func.__qualname__} is compiled in object mode (the interpreter does the work)"
        if reference is not None and any(
            v is reference or getattr(v, "__module__", None) == reference.__name__
            for fn in _functions_of(obj) for v in getattr(fn, "__globals__", {}).values()
        ):
            return f"{kernel} uses the pure-Python reference"
    return ""


def first_call(route: str, kernel: str) -> dict[str, Any]:
    """Time the first and the second call of ``kernel`` in this (fresh) process."""
    import ffilab
    from ffilab.bench.workloads import FIRST_CALLS

    module = ffilab.route(route)
    obj = getattr(module, kernel)
    text, prepare = FIRST_CALLS[kernel]
    call = prepare(obj)
    dispatchers = called_dispatchers(obj)
    # Numba sets up its compiler (typing and lowering registries, LLVM's target) at the first
    # compile or cache load of the process: a cost paid once per process, not per kernel.  Timed
    # apart, so that a reader does not count it once per kernel; None if this Numba lacks it.
    t0 = time.perf_counter()
    try:
        dispatchers[0].targetctx.refresh()
        runtime_init: float | None = time.perf_counter() - t0
    except (AttributeError, IndexError):
        runtime_init = None
    t0 = time.perf_counter()
    call()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    call()
    second = time.perf_counter() - t0
    return {
        "kernel": kernel,
        "call": text,
        "runtime_init_s": runtime_init,
        "first_call_s": first,
        "next_call_s": second,
        # Counted over the dispatchers the kernel calls directly (callees compile inside them).
        "cache_hits": sum(sum(d.stats.cache_hits.values()) for d in dispatchers),
        "cache_misses": sum(sum(d.stats.cache_misses.values()) for d in dispatchers),
    }


def _worker(route: str, kernel: str, cache_dir: str) -> dict[str, Any]:
    env = dict(os.environ, **{CACHE_ENV: cache_dir})
    proc = subprocess.run([sys.executable, "-m", "ffilab.bench._first_call", route, kernel],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"first call of {route}.{kernel} failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout)


def _median_or_none(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def first_call_costs(route: str, kernels: Iterable[str], repeats: int = 3,
                     progress: Callable[[str], None] = lambda _: None) -> list[dict[str, Any]]:
    """Measure each kernel's first call, cold and warm cache, ``repeats`` fresh processes each.

    Returns
    -------
    list of dict
        Two rows per kernel (``cache`` = ``"cold"``, ``"warm"``) in the results format's
        ``first_call`` section (``docs/results-format.md``).
    """
    from ffilab.bench import summarize

    rows = []
    for kernel in kernels:
        progress(f"JIT first call: {route}.{kernel}")
        runs: dict[str, list[dict[str, Any]]] = {"cold": [], "warm": []}
        try:
            for _ in range(repeats):
                with tempfile.TemporaryDirectory(prefix="ffilab-jit-cache-") as cache_dir:
                    runs["cold"].append(_worker(route, kernel, cache_dir))  # empty cache: compiles
                    runs["warm"].append(_worker(route, kernel, cache_dir))  # loads what cold wrote
        except RuntimeError as exc:
            for state in runs:
                rows.append({"route": route, "kernel": kernel, "cache": state, "call": "", "samples_s": [],
                             "median_s": None, "status": f"failed: {exc}", "notes": []})
            continue
        for state, measured in runs.items():
            samples = [m["first_call_s"] for m in measured]
            hits = [m["cache_hits"] for m in measured]
            row: dict[str, Any] = {
                "route": route, "kernel": kernel, "cache": state, "call": measured[0]["call"],
                "samples_s": samples, **summarize(samples),
                "next_call_s": statistics.median(m["next_call_s"] for m in measured),
                "runtime_init_s": _median_or_none([m["runtime_init_s"] for m in measured]),
                "cache_hits": hits, "cache_misses": [m["cache_misses"] for m in measured],
                "status": "ok", "notes": [],
            }
            if state == "warm" and not all(hits):
                row["notes"].append("no cache hit: compiled again (Numba found no writable cache directory)")
            if state == "cold" and any(hits):
                row["notes"].append("cache hit in a fresh cache directory: not a compile time")
            rows.append(row)
    return rows
