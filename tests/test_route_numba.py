"""The numba route's own claims: contract before Numba, exact integers, no FMA, lazy cached JIT.

The registry-wide suites (test_kernels, test_properties, test_threads, test_leaks, test_fuzz)
already prove the route equal to the reference; this file checks what is particular to a JIT
route: that the wrappers, not Numba's own conversions, decide what is accepted; that the machine
code holds no fused multiply-add and still loops; how compilation and its on-disk cache behave;
and the bench's JIT honesty check and first-call measurement.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import ffilab
from ffilab import bench
from ffilab.routes import python as reference

from conftest import load_route


@pytest.fixture(scope="module")
def numba_route() -> ModuleType:
    return load_route("numba")


@pytest.fixture(scope="module")
def kernels(numba_route: ModuleType) -> ModuleType:
    from ffilab.routes.numba import _kernels

    return _kernels


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that turns every warning into an error."""
    return subprocess.run([sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=600, env={**os.environ, **env})


# --------------------------------------------------------------------------------------------
# The contract is the wrappers', not Numba's
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, exc", [
    (2.5, TypeError),          # raw Numba compiles a float64 version and runs it
    (np.float64(3.0), TypeError),
    (2**63, OverflowError),    # raw Numba types it as uint64 and wraps in int64 arithmetic
    (2**64, OverflowError),    # raw Numba raises its own TypingError
    (2**64 + 5, OverflowError),
    (-1, ValueError),
])
def test_integer_arguments_follow_the_contract(numba_route: ModuleType, kernels: ModuleType, value: Any, exc: type[Exception]) -> None:
    for kernel in ("sum_of_squares", "primes"):
        with pytest.raises(exc):
            getattr(numba_route, kernel)(value)
        with pytest.raises(exc):
            getattr(reference, kernel)(value)
    numba_route.sum_of_squares(10)
    numba_route.primes(10)
    # Numba never saw the bad value: the only compiled specialisation is the wrappers' int64.
    for kernel in (kernels.sum_of_squares, kernels.primes):
        assert [str(sig) for sig in kernel.signatures] == ["(int64,)"]


def test_arrays_are_rejected_not_converted(numba_route: ModuleType, kernels: ModuleType) -> None:
    single = np.arange(6, dtype=np.float32)
    with pytest.raises(TypeError):
        numba_route.scale_array(single, 2.0)  # raw Numba compiles a float32 version and scales
    assert single.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    with pytest.raises(TypeError):
        numba_route.fast_sum(single)
    with pytest.raises(ValueError):
        numba_route.fast_sum(np.arange(12.0)[::2])  # raw Numba compiles an 'A'-layout version
    with pytest.raises(TypeError):
        numba_route.fast_sum([1.0, 2.0])  # raw Numba compiles a reflected-list version
    numba_route.fast_sum(np.ones(3))
    numba_route.scale_array(np.ones(3), 2.0)
    for kernel in (kernels.fast_sum, kernels.scale_array):
        for sig in kernel.signatures:
            array = sig[0]
            assert (str(array.dtype), array.ndim, array.layout) == ("float64", 1, "C"), sig


def test_every_compiled_signature_is_one_the_wrappers_pass(numba_route: ModuleType) -> None:
    from numba import types

    from ffilab.verify import CASES, run_case

    for case in CASES:  # good, edge and bad inputs of every kernel, through the wrappers
        run_case(numba_route, case)
    allowed_scalars = {types.int64, types.float64}
    # The dispatchers the wrappers call (helpers called by kernels, such as the int64 heap of
    # find_nearest_k's _sift_down, get their types from the kernels, and are compiled only when
    # their caller is compiled rather than loaded from the cache).
    called = {d.py_func.__name__: d for k in ffilab.KERNELS for d in bench._jit.called_dispatchers(getattr(numba_route, k))}
    assert len(called) == 16
    # The tokenizer's kernels read text, not floats: one specialisation each, whatever the batch
    # (ASCII or not, a list or str subclass): read-only uint32 code points and class table (views
    # of bytes objects), int64 offsets and spans, uint8 flags.
    numba_route.tokenize_batch(["Don't stop", "ASCII 12"])
    numba_route.tokenize_batch(["Straße ①", "\ud800 👩\u200d💻", ""])
    code_points = types.Array(types.uint32, 1, "C", readonly=True)
    i64 = types.Array(types.int64, 1, "C")
    u8 = types.Array(types.uint8, 1, "C")
    token_signatures = {
        "tokenize_spans": [(code_points, i64, types.Array(types.uint8, 1, "C", readonly=True), types.int64, i64, u8, i64)],
        "render_tokens": [(code_points, i64, i64, u8, types.int64, types.Array(types.uint32, 1, "C"))],
    }
    for name, expected in token_signatures.items():
        assert list(called.pop(name).signatures) == expected, name
    for name, dispatcher in called.items():
        for sig in dispatcher.signatures:
            for arg in sig:
                if isinstance(arg, types.Array):
                    assert (arg.dtype, arg.layout, arg.aligned) == (types.float64, "C", True), f"{name}{sig}"
                else:
                    assert arg in allowed_scalars, f"{name}{sig}"


def test_primes_returns_python_ints(numba_route: ModuleType) -> None:
    got = numba_route.primes(50)
    assert got == reference.primes(50) and all(type(p) is int for p in got)


def test_accumulator_is_a_python_class_with_the_reference_api(numba_route: ModuleType, kernels: ModuleType) -> None:
    acc = numba_route.Accumulator(1.5)
    acc.add(2)
    assert (acc.count, acc.total, acc.mean(), repr(acc)) == (1, 3.5, 3.5, "<Accumulator count=1 total=3.5>")
    assert type(acc.total) is float and type(acc.count) is int
    with pytest.raises(AttributeError):
        acc.count = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        acc.add(value=1.0)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        acc.add("1.0")
    assert acc.count == 1
    # The work is jitted (add and mean), the state is plain Python (see the route's docstring).
    assert {d.py_func.__name__ for d in bench._jit.called_dispatchers(numba_route.Accumulator)} == {"acc_add", "acc_mean"}


# --------------------------------------------------------------------------------------------
# Exact integers, and a loop that stays a loop
# --------------------------------------------------------------------------------------------


def _closed_form(n: int) -> int:
    return n * (n - 1) * (2 * n - 1) // 6


def test_sum_of_squares_is_exact_across_the_carry(numba_route: ModuleType) -> None:
    # Around the first n whose sum reaches 2**64 (3,810,779) the first carry into the high limb
    # happens; it must be exact there and beyond.
    first_past = 3_810_779
    assert _closed_form(first_past - 1) < 2**64 <= _closed_form(first_past)
    for n in (0, 1, 2, 3, 1000, first_past - 1, first_past, first_past + 1, 10**7):
        assert numba_route.sum_of_squares(n) == _closed_form(n), n
    assert numba_route.sum_of_squares(first_past) >= 2**64 > numba_route.sum_of_squares(first_past - 1)


@pytest.mark.slow
def test_sum_of_squares_is_exact_at_the_contract_maximum(numba_route: ModuleType) -> None:
    n = 2**32  # 2**32 iterations: about 2.5 s here
    got = numba_route.sum_of_squares(n)
    assert got == n * (n - 1) * (2 * n - 1) // 6
    assert got.bit_length() == 95


def test_sum_of_squares_time_doubles_with_n(numba_route: ModuleType) -> None:
    # The honesty guard of ffilab bench, in small: LLVM must not replace the loop by a formula.
    # CPU time of this thread, not wall time: a busy machine (pytest-xdist neighbours, the
    # sanitizer run) delays the thread without changing the work, and wall time then read a
    # doubled loop as x1.45.
    def best(n: int) -> float:
        times = []
        for _ in range(7):
            t0 = time.thread_time()
            numba_route.sum_of_squares(n)
            times.append(time.thread_time() - t0)
        return min(times)

    n = 2**25
    numba_route.sum_of_squares(n)
    ratio = best(2 * n) / best(n)
    assert ratio >= bench.CLOSED_FORM_RATIO, f"time grew x{ratio:.2f} for 2n: the loop was removed"


# --------------------------------------------------------------------------------------------
# Compilation: options, machine code, laziness, cache
# --------------------------------------------------------------------------------------------


def test_every_kernel_is_nopython_nogil_without_fastmath(kernels: ModuleType) -> None:
    dispatchers = kernels.dispatchers()
    assert len(dispatchers) >= 13
    for name, dispatcher in dispatchers.items():
        options = dispatcher.targetoptions
        assert options.get("nopython") and options.get("nogil"), name
        assert not options.get("fastmath") and not options.get("forceobj"), name


def test_machine_code_has_no_fused_multiply_add(tmp_path: Path) -> None:
    # Cached code cannot be inspected, so a fresh process compiles every kernel into an empty
    # cache directory and reads the assembly of every specialisation.
    proc = _python("""
        import json, re
        import ffilab
        from ffilab.bench.workloads import FIRST_CALLS
        from ffilab.routes.numba import _kernels
        module = ffilab.route("numba")
        for kernel, (_text, prepare) in FIRST_CALLS.items():
            prepare(getattr(module, kernel))()
        fused = re.compile(r"\\b(v?f(n)?m(add|sub)[0-9a-z]*|fml[as])\\b", re.IGNORECASE)
        seen, found = [], []
        for name, dispatcher in _kernels.dispatchers().items():
            for sig in dispatcher.signatures:
                asm = dispatcher.inspect_asm(sig)
                seen.append(name)
                found += [f"{name}: {line.strip()}" for line in asm.splitlines() if fused.search(line)]
        print(json.dumps({"seen": seen, "fused": found, "cached": _kernels.CACHED}))
    """, NUMBA_CACHE_DIR=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert set(result["seen"]) >= {"circle_area", "scale_and_shift", "fast_dot", "fast_norm", "haversine", "compute_distances"}
    assert result["fused"] == []


def test_import_compiles_nothing_and_never_loads_the_reference() -> None:
    proc = _python("""
        import json, sys
        import ffilab
        ffilab.route("numba")
        from ffilab.routes.numba import _kernels
        compiled = {n: len(d.signatures) for n, d in _kernels.dispatchers().items() if d.signatures}
        print(json.dumps({"compiled": compiled, "reference": "ffilab.routes.python" in sys.modules}))
    """)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout) == {"compiled": {}, "reference": False}


_CACHE_CHECK = """
    import json, os
    import numpy as np
    import ffilab
    from ffilab.routes.numba import _kernels
    m = ffilab.route("numba")
    n = 10**7
    ok = m.sum_of_squares(n) == n * (n - 1) * (2 * n - 1) // 6 and m.fast_sum(np.arange(4.0)) == 6.0
    path = getattr(_kernels.fast_sum.stats, "cache_path", None)
    print(json.dumps({"ok": ok, "cached": _kernels.CACHED, "path": path,
                      "files": sorted(os.listdir(path)) if path else []}))
"""


def _locators_configurable() -> bool:
    try:
        from numba.core import config
    except ImportError:  # the route is then unavailable: its tests skip, test_registry fails
        return False
    return hasattr(config, "CACHE_LOCATOR_CLASSES")


@pytest.mark.skipif(not _locators_configurable(), reason="this Numba cannot restrict its cache locators")
def test_read_only_package_dir_caches_in_the_user_cache_without_warning(tmp_path: Path) -> None:
    # Numba declines the in-tree __pycache__ when it cannot write there and moves on to the
    # user-wide cache directory.  The tests run as any user (root writes everywhere), so the
    # refusal is simulated by leaving the in-tree locator out of Numba's list.
    proc = _python(_CACHE_CHECK, NUMBA_CACHE_LOCATOR_CLASSES="UserWideCacheLocator", XDG_CACHE_HOME=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]  # -W error: a NumbaWarning would fail here
    result = json.loads(proc.stdout)
    assert result["ok"] and result["cached"]
    assert result["path"].startswith(str(tmp_path / "numba"))
    assert any(f.startswith("_kernels.fast_sum") and f.endswith(".nbc") for f in result["files"])


@pytest.mark.skipif(not _locators_configurable(), reason="this Numba cannot restrict its cache locators")
def test_no_writable_cache_directory_compiles_without_cache_or_warning(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    proc = _python(_CACHE_CHECK, NUMBA_CACHE_LOCATOR_CLASSES="UserProvidedCacheLocator",
                   NUMBA_CACHE_DIR=str(not_a_dir / "cache"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout) == {"ok": True, "cached": False, "path": None, "files": []}


# --------------------------------------------------------------------------------------------
# The bench: JIT honesty check and first-call cost
# --------------------------------------------------------------------------------------------


def test_bench_accepts_the_numba_route(numba_route: ModuleType) -> None:
    assert bench.compiled_problem("numba") == ""
    assert bench.compiled_problem("numba", numba_route) == ""


def test_bench_refuses_a_jit_route_whose_kernels_run_in_the_interpreter() -> None:
    impostor = ModuleType("impostor")
    for kernel in ffilab.KERNELS:
        setattr(impostor, kernel, getattr(reference, kernel))
    assert "calls no Numba dispatcher" in bench.compiled_problem("numba", impostor)

    # A wrapper that calls a dispatcher for show and returns the reference's answer.
    from ffilab.routes.numba import _kernels

    namespace = {"_jitted": _kernels.sum_of_squares, "reference": reference}
    exec("def sum_of_squares(n, /):\n    _jitted(n)\n    return reference.sum_of_squares(n)\n", namespace)
    mixed = ModuleType("mixed")
    for kernel in ffilab.KERNELS:
        setattr(mixed, kernel, getattr(load_route("numba"), kernel))
    mixed.sum_of_squares = namespace["sum_of_squares"]  # type: ignore[attr-defined]
    assert "sum_of_squares uses the pure-Python reference" in bench.compiled_problem("numba", mixed)


def test_bench_refuses_the_route_when_numba_jit_is_disabled() -> None:
    # NUMBA_DISABLE_JIT=1 makes every @njit function plain Python: the results stay right, so
    # only this check stands between it and a "numba" row that times the interpreter.
    proc = _python("""
        from ffilab import bench
        print(bench.compiled_problem("numba"))
    """, NUMBA_DISABLE_JIT="1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "calls no Numba dispatcher" in proc.stdout


def test_first_call_cost_is_measured_cold_and_warm() -> None:
    rows = bench.first_call_costs("numba", ["circle_area"], repeats=1)
    by_cache = {r["cache"]: r for r in rows}
    assert set(by_cache) == {"cold", "warm"}
    cold, warm = by_cache["cold"], by_cache["warm"]
    for row in rows:
        assert row["status"] == "ok" and row["route"] == "numba" and row["kernel"] == "circle_area"
        assert len(row["samples_s"]) == 1 and row["median_s"] > 0 and row["next_call_s"] > 0
        assert row["notes"] == []
    assert cold["cache_hits"] == [0] and cold["cache_misses"] == [1]
    assert warm["cache_hits"] == [1] and warm["cache_misses"] == [0]
    # Loading machine code is far cheaper than compiling it; the call itself is cheaper still.
    assert warm["median_s"] < cold["median_s"]
    assert cold["next_call_s"] < cold["median_s"]


def test_first_calls_cover_every_kernel() -> None:
    from ffilab.bench.workloads import FIRST_CALLS

    assert set(FIRST_CALLS) == set(ffilab.KERNELS)
