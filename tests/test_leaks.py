"""Leak checks on the normal build: every kernel of every route, error paths and objects included.

Two measures, both read after ``gc.collect()`` so that only memory still reachable counts:

* ``sys.getallocatedblocks()``: the blocks of Python's object allocator in use, so a leaked
  reference (an object never freed) shows as growth — CPython's own ``-R`` leak hunt reads it;
* the C heap: ``mallinfo2()`` of glibc (bytes handed out by ``malloc`` and not freed, all arenas
  and mmapped chunks), which is where the C core's buffers, NumPy's array data and CPython's
  large objects live, so a leaked C buffer shows as growth byte for byte; and the resident set
  size from ``/proc/self/statm``, which would also show memory mapped by other means.

The rule is CPython's ``-R`` rule: after warm-up rounds (caches fill, free lists settle), the
same calls are repeated in ``ROUNDS`` rounds, and a leak is growth in *every* round beyond a
small noise allowance.  A leak on a single path of a kernel grows every round by (calls of that
path per round) × (size leaked), far above the allowances; each bound below says what a leak
would cost.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import ffilab
from ffilab.verify import CASES, Case

from conftest import skip_under_asan

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads glibc's mallinfo2 and /proc")

ROUNDS = 3
WARMUP_ITERATIONS = 200
ITERATIONS = 1000
#: Allowed growth per round.  Observed noise: at most a few blocks and a few hundred heap bytes
#: once warm; a leak of one block or one malloc chunk (>= 32 bytes) on any single path of a
#: kernel (at most 39 bad and 12 good paths, so each runs >= 25 times a round) exceeds both.
BLOCKS_NOISE = 10
HEAP_NOISE = 512


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")
    ]


@functools.cache
def _mallinfo2() -> Callable[[], _MallInfo2] | None:
    try:
        fn = ctypes.CDLL(None).mallinfo2  # glibc >= 2.33
    except (AttributeError, OSError):
        return None
    fn.restype = _MallInfo2
    fn.argtypes = []
    return fn


def _heap_bytes() -> int:
    mallinfo2 = _mallinfo2()
    if mallinfo2 is None:
        pytest.skip("C-heap accounting needs glibc's mallinfo2 (glibc >= 2.33)")
    info = mallinfo2()
    return info.uordblks + info.hblkhd  # in use in the arenas + in mmapped chunks


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * 4096


def _reading() -> tuple[int, int, int]:
    # As CPython's -R does: the type attribute cache keeps up to 4096 recently looked-up
    # attribute names alive (error paths format dtype names and look them up), so it fills
    # slowly and would pass for a leak.
    sys._clear_type_cache()
    gc.collect()
    return sys.getallocatedblocks(), _heap_bytes(), _rss_bytes()


def _growth(step: Callable[[int], None], warmup: int, iterations: int) -> list[tuple[int, int, int]]:
    """Per round: growth of (blocks, heap bytes, RSS bytes) over ``iterations`` calls of ``step``."""
    for i in range(warmup):
        step(i)
    gc.collect()
    # What exists now is not under test: frozen, it is left out of every later collection, which
    # then takes microseconds instead of scanning the whole test process.
    gc.freeze()
    try:
        before = _reading()
        deltas = []
        for _ in range(ROUNDS):
            for i in range(iterations):
                step(i)
            after = _reading()
            deltas.append(tuple(a - b for a, b in zip(after, before)))
            before = after
    finally:
        gc.unfreeze()
    return deltas  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# Every path of every kernel, many times
# --------------------------------------------------------------------------------------------

#: Largest integer argument or array a call may have in the per-call check (thousands of calls).
_SMALL = 64


def _small(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    for value in (*args, *kwargs.values()):
        if isinstance(value, np.ndarray) and value.size > _SMALL:
            return False
        if type(value) is int and value > _SMALL:  # the n of sum_of_squares and primes
            return False
    return True


def _paths(kernel: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The kernel's good and bad calls from ``ffilab.verify.CASES``, built once and reused."""
    good: list[tuple[Any, ...]] = []
    bad: list[tuple[Any, ...]] = []
    for case in CASES:
        if case.kernel != kernel or case.oracle is not None or case.stateful:
            continue
        if case.scenario is not None:  # Accumulator: the scenario creates, uses and drops one
            (good if case.raises is None else bad).append((case, None, None))
            continue
        args, kwargs = case.make()
        if case.raises is not None:
            bad.append((case, args, kwargs))
        elif _small(args, kwargs):
            good.append((case, args, kwargs))
    return good, bad


def _run(module: ModuleType, case: Case, args: Any, kwargs: Any) -> None:
    if case.scenario is not None:
        case.scenario(module.Accumulator)
    else:
        getattr(module, case.kernel)(*args, **kwargs)


@pytest.mark.parametrize("kernel", ffilab.KERNELS)
def test_no_growth_over_repeated_calls(route: ModuleType, kernel: str) -> None:
    good, bad = _paths(kernel)
    assert good and bad, f"verify.CASES has no small good case or no bad case for {kernel}"

    def step(i: int) -> None:
        case, args, kwargs = good[i % len(good)]
        _run(route, case, args, kwargs)  # scale_array rescales its array: the values do not matter
        case, args, kwargs = bad[i % len(bad)]
        try:
            _run(route, case, args, kwargs)
        except case.raises:  # type: ignore[misc]
            pass
        else:
            raise AssertionError(f"{case.id} did not raise {case.raises}")

    deltas = _growth(step, WARMUP_ITERATIONS, ITERATIONS)
    if min(d[1] for d in deltas) > HEAP_NOISE:
        # Measured again once: in the full suite the C heap of a pytest-xdist worker read a few KB
        # of growth in every round of one measurement (1-9 KB, never the same twice) for a
        # kernel that is flat alone and on re-measurement; a leak grows on every measurement.
        deltas = _growth(step, 0, ITERATIONS)
    blocks = [d[0] for d in deltas]
    heap = [d[1] for d in deltas]
    # A leaked object or chunk on any path grows every round; noise does not.
    assert min(blocks) <= BLOCKS_NOISE, f"allocated blocks grew by {blocks} in {ROUNDS} rounds of {ITERATIONS} calls"
    assert min(heap) <= HEAP_NOISE, f"the C heap grew by {heap} bytes in {ROUNDS} rounds of {ITERATIONS} calls"


# --------------------------------------------------------------------------------------------
# Large buffers: results and temporaries of thousands of elements
# --------------------------------------------------------------------------------------------

_N = 10_000
_CALLS = 10


@functools.cache
def _large_inputs() -> dict[str, tuple[Callable[[ModuleType], object], int]]:
    """Per kernel: one call on ``_N`` elements, and the bytes a leak of its buffer would cost."""
    rng = np.random.default_rng(11)
    a = rng.normal(0.0, 10.0, _N)
    b = rng.normal(0.0, 10.0, _N)
    own = rng.normal(0.0, 10.0, _N)
    points = rng.normal(0.0, 10.0, (_N, 2))
    lats = rng.uniform(-90.0, 90.0, _N)
    lons = rng.uniform(-180.0, 180.0, _N)
    vector = 8 * _N  # a result of _N doubles, or a temporary copy of an input
    texts = [f"Grüße aus Köln {i}, don't ﬁne ΣΊΣΥΦΟΣ" if i % 3 == 0 else f"Plain ASCII text number {i}" for i in range(_N)]
    return {
        # The C-allocated result handed to NumPy without a copy (C-ABI routes, pybind11 and nanobind).
        "compute_distances": (lambda m: m.compute_distances(points), vector),
        # The C core's growing buffer of primes, copied into a list and freed (303 primes).
        "primes": (lambda m: m.primes(2000), 8 * 303),
        "fast_sum": (lambda m: m.fast_sum(a), vector),
        "fast_dot": (lambda m: m.fast_dot(a, b), vector),
        "fast_norm": (lambda m: m.fast_norm(a), vector),
        "scale_and_shift": (lambda m: m.scale_and_shift(a, 1.5, 2.0), vector),
        "scale_array": (lambda m: m.scale_array(own, 1.0), vector),
        "haversine_many": (lambda m: m.haversine_many(40.7, -74.0, lats, lons), vector),
        "find_nearest_k": (lambda m: m.find_nearest_k(40.7, -74.0, lats, lons, 500), vector),
        # Per-call scratch (spans, the table of recent tokens, folded copies of non-ASCII texts)
        # and the result's lists: the smallest of them, one pointer per text, is 8 * _N bytes.
        "tokenize_batch": (lambda m: m.tokenize_batch(texts), 8 * _N),
    }


#: Kernels with no buffer that grows with the input: the per-call check above covers them.
NO_LARGE_BUFFERS = {
    "sum_of_squares": "the loop keeps two uint64 halves; the result is an int",
    "circle_area": "scalar in, scalar out",
    "haversine_distance": "scalar in, scalar out",
    "Accumulator": "a fixed-size C struct per object, created and destroyed in the per-call check",
}


def test_every_kernel_is_covered() -> None:
    assert set(_large_inputs()) | set(NO_LARGE_BUFFERS) == set(ffilab.KERNELS)
    assert not set(_large_inputs()) & set(NO_LARGE_BUFFERS)


@skip_under_asan
@pytest.mark.parametrize("kernel", sorted(_large_inputs()))
def test_no_growth_with_large_buffers(route: ModuleType, kernel: str) -> None:
    call, buffer_bytes = _large_inputs()[kernel]
    deltas = _growth(lambda i: call(route), warmup=3, iterations=_CALLS)
    heap = [d[1] for d in deltas]
    rss = [d[2] for d in deltas]
    # Leaking one buffer per call would grow every round by _CALLS buffers (800 KB for the
    # arrays): the heap may grow by less than one buffer a round.
    assert min(heap) < buffer_bytes, f"the C heap grew by {heap} bytes in rounds of {_CALLS} calls ({buffer_bytes} B per buffer)"
    # RSS counts whole pages and follows the allocator's caching: allow a quarter of the rounds'
    # leak cost, and never less than 64 KiB.
    rss_bound = max(_CALLS * buffer_bytes // 4, 64 * 1024)
    assert min(rss) <= rss_bound, f"RSS grew by {rss} bytes in rounds of {_CALLS} calls (bound {rss_bound})"
