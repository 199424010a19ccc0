"""What ``ffilab bench`` times: per-call overhead calls, throughput workloads and sweep sizes.

Inputs are built from fixed seeds, so the manager (which verifies results) and every pyperf worker
process (which times them) build identical arguments independently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FIRST_CALLS", "FLOORS", "OVERHEAD_CALLS", "VARIANTS", "Workload", "sweep_sizes", "throughput_workloads"]

# Query point of the lesson's real-world section (New York).
NYC = (40.7128, -74.0060)


@dataclass(frozen=True)
class Workload:
    """One kernel call to time.

    Parameters
    ----------
    kernel : str
        Kernel name in every route.
    label : str
        What the call does, for tables ("n=100,000,000").
    n : int
        Problem size, used to match the lesson's claims and for the closed-form guard.
    make_args : callable
        Builds the arguments (deterministic).
    """

    kernel: str
    label: str
    n: int
    make_args: Callable[[], tuple[Any, ...]]

    @property
    def key(self) -> str:
        return f"{self.kernel}/{self.label}"


# The per-call overhead calls: the cheapest call of each argument/result kind.
OVERHEAD_CALLS: list[tuple[str, str, Callable[[], tuple[Any, ...]], str]] = [
    ("scalar int", "sum_of_squares", lambda: (1,), "1"),
    ("scalar float", "circle_area", lambda: (1.5,), "1.5"),
    ("1-element array", "fast_sum", lambda: (np.ones(1),), "np.ones(1)"),
    ("array result", "scale_and_shift", lambda: (np.ones(1), 2.0, 1.0), "np.ones(1), 2.0, 1.0"),
    ("1-text batch", "tokenize_batch", lambda: (["Hello"],), "['Hello']"),
]


def _python_def(x: float) -> float:
    return x


# Floors measured in the same run: what any call from Python costs at least.
FLOORS: list[tuple[str, str, Callable[..., Any] | None, tuple[Any, ...]]] = [
    ("python def", "def f(x): return x", _python_def, (1.5,)),
    ("builtin abs", "abs(-1.5)", abs, (-1.5,)),
    ("empty loop", "for _ in range(loops): pass", None, ()),
]


def _vec(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=n)


def _geo(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)  # the lesson seeds 42 and draws uniformly
    return rng.uniform(-90, 90, n), rng.uniform(-180, 180, n)


def throughput_workloads(full: bool = False) -> list[Workload]:
    """Return the throughput workloads: the lesson's sizes with ``full``, smaller ones otherwise."""
    n_arr = 10_000_000 if full else 1_000_000
    n_geo = 100_000  # the lesson's size; cheap enough for the quick run
    sos = (100_000_000, 50_000_000) if full else (5_000_000,)
    primes_n = 10_000 if full else 3_000
    n_texts = 10_000  # one batch, the pipeline's default batch size
    out = [Workload("sum_of_squares", f"n={n:,}", n, lambda n=n: (n,)) for n in sos]
    out += [
        Workload("primes", f"below {primes_n:,}", primes_n, lambda: (primes_n,)),
        Workload("fast_sum", f"n={n_arr:,}", n_arr, lambda: (_vec(n_arr, 1),)),
        Workload("fast_dot", f"n={n_arr:,}", n_arr, lambda: (_vec(n_arr, 1), _vec(n_arr, 2))),
        Workload("fast_norm", f"n={n_arr:,}", n_arr, lambda: (_vec(n_arr, 1),)),
        Workload("scale_and_shift", f"n={n_arr:,}", n_arr, lambda: (_vec(n_arr, 1), 2.0, 1.0)),
        Workload("compute_distances", f"n={n_arr // 10:,}", n_arr // 10, lambda: (_vec(n_arr // 5, 3).reshape(-1, 2),)),
        Workload("haversine_many", f"n={n_geo:,}", n_geo, lambda: (*NYC, *_geo(n_geo))),
        Workload("find_nearest_k", f"n={n_geo:,}, k=5", n_geo, lambda: (*NYC, *_geo(n_geo), 5)),
        Workload("tokenize_batch", f"{n_texts:,} mixed-corpus records", n_texts, lambda: (_mixed_corpus(n_texts),)),
    ]
    return out


def _mixed_corpus(records: int) -> list[str]:
    from ffilab.text import corpus  # imported on use: the corpus loads its packages' data

    return corpus.sample_texts(records, 0, "mixed")


def sweep_sizes(full: bool = False) -> list[int]:
    """Sizes of the scaling sweep, from 10 to 1e6 (quick) or 1e8 (full)."""
    top = 8 if full else 6
    return [10**e for e in range(1, top + 1)]


# The kernels swept over n, with how to build their arguments at size n.
SWEEP_KERNELS: dict[str, Callable[[int], tuple[Any, ...]]] = {
    "sum_of_squares": lambda n: (n,),
    "fast_sum": lambda n: (_vec(n, 1),),
    "haversine_many": lambda n: (*NYC, *_geo(n)),
}


# The lesson's Part 7 also times two ways of writing sum_of_squares that are not routes of their
# own: the Python builtin sum() over a generator, and NumPy on a "warm" array created before the
# timer starts.  Both are measured as variants of their route, verified like everything else.
# The lesson's warm NumPy code squares int64 and overflows for n >= 3,037,000 (its 5e7 result is
# wrong); ours squares in uint64 and sums the 32-bit halves, exact for every n <= 2**32.


def _python_sum_generator(n: int) -> int:
    return sum(i * i for i in range(n))


_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)


def _numpy_warm(arr: np.ndarray) -> int:
    sq = arr * arr
    return (int(np.sum(sq >> _SHIFT32, dtype=np.uint64)) << 32) + int(np.sum(sq & _MASK32, dtype=np.uint64))


def _warm_args(n: int) -> tuple[Any, ...]:
    return (np.arange(n, dtype=np.uint64),)


#: (route, variant, kernel) -> (function, make_args(n)): timed like the route's own kernel.
VARIANTS: dict[tuple[str, str, str], tuple[Callable[..., Any], Callable[[int], tuple[Any, ...]]]] = {
    ("python", "sum()", "sum_of_squares"): (_python_sum_generator, lambda n: (n,)),
    ("numpy", "warm", "sum_of_squares"): (_numpy_warm, _warm_args),
}


def _first_use_of_accumulator(cls: Any) -> Callable[[], Any]:
    def use() -> Any:
        acc = cls(1.0)
        acc.add(2.0)
        return acc.mean()

    return use


def _bind(*args: Any) -> Callable[[Any], Callable[[], Any]]:
    return lambda fn: lambda: fn(*args)


#: The first call of each kernel in a fresh process, for the JIT first-call cost:
#: kernel -> (what the call is, prepare(kernel object) -> the call, arguments built outside the
#: timer).  Small inputs: what is measured is compilation, not the loop.  The Accumulator's first
#: use is an instance created, one add and one mean.
FIRST_CALLS: dict[str, tuple[str, Callable[[Any], Callable[[], Any]]]] = {
    "sum_of_squares": ("sum_of_squares(1000)", _bind(1000)),
    "circle_area": ("circle_area(1.5)", _bind(1.5)),
    "scale_array": ("scale_array(np.ones(8), 2.0)", _bind(np.ones(8), 2.0)),
    "compute_distances": ("compute_distances(np.ones((4, 2)))", _bind(np.ones((4, 2)))),
    "primes": ("primes(100)", _bind(100)),
    "fast_sum": ("fast_sum(np.ones(8))", _bind(np.ones(8))),
    "fast_dot": ("fast_dot(np.ones(8), np.ones(8))", _bind(np.ones(8), np.ones(8))),
    "fast_norm": ("fast_norm(np.ones(8))", _bind(np.ones(8))),
    "scale_and_shift": ("scale_and_shift(np.ones(8), 2.0, 1.0)", _bind(np.ones(8), 2.0, 1.0)),
    "Accumulator": ("Accumulator(1.0); add(2.0); mean()", _first_use_of_accumulator),
    "haversine_distance": ("haversine_distance(NYC, London)", _bind(*NYC, 51.5074, -0.1278)),
    "haversine_many": ("haversine_many(NYC, 8 points)", _bind(*NYC, *_geo(8))),
    "find_nearest_k": ("find_nearest_k(NYC, 8 points, k=3)", _bind(*NYC, *_geo(8), 3)),
    "tokenize_batch": ("tokenize_batch(['Don't stop', 'Straße ①'])", _bind(["Don't stop", "Straße ①"])),
}
