"""Check a compiled variant against the original on the recorded calls, then time both, interleaved.

Verification compares results (and the arguments after the call, for functions that write into
them) call by call and names the first call that differs. Timing runs the original and every
variant in turns (round-robin, so a load change on the machine hits all of them alike), in the
thread's CPU time, and reports each one's median seconds per call with the spread of the rounds.
"""

from __future__ import annotations

import copy
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ffilab.stats import summarize

__all__ = ["Check", "Timing", "same", "time_interleaved", "verify"]

Call = tuple[tuple[Any, ...], dict[str, Any]]

#: Floats agree within this relative difference (compiled math may round the last bit differently).
REL_TOL = 1e-9


def same(a: Any, b: Any) -> bool:
    """Whether two results are the same value: exact for ints and strings, close for floats, recursive for containers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b and isinstance(a, (bool, int, np.bool_)) and isinstance(b, (bool, int, np.bool_))
    if isinstance(a, (int, np.integer)) and isinstance(b, (int, np.integer)):
        return int(a) == int(b)
    if isinstance(a, (int, float, np.floating, np.integer)) and isinstance(b, (int, float, np.floating, np.integer)):
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return fa == fb or math.isclose(fa, fb, rel_tol=REL_TOL, abs_tol=1e-300)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.shape != b.shape:
            return False
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            return bool(np.allclose(a, b, rtol=REL_TOL, atol=0.0, equal_nan=True))
        return bool(np.array_equal(a, b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:  # a type whose == raises or is ambiguous: not provably the same
        return False


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    parts = [_show(a) for a in args] + [f"{k}={_show(v)}" for k, v in kwargs.items()]
    text = ", ".join(parts)
    return text if len(text) <= 160 else text[:157] + "..."


@dataclass
class Check:
    """The verdict of a variant on the recorded calls.

    Attributes
    ----------
    agrees : bool
        Every call gave the original's result (and left the arguments as the original did).
    calls : int
        Calls compared.
    first_difference : str
        The first differing call, what the original gave and what the variant gave ("" if none).
    mutates : bool
        The original writes into its arguments (then timing copies them before every pass).
    """

    agrees: bool
    calls: int
    first_difference: str = ""
    mutates: bool = False


def _outcome(fn: Callable[..., Any], call: Call) -> tuple[str, Any, Call]:
    args, kwargs = copy.deepcopy(call)
    try:
        return "returned", fn(*args, **kwargs), (args, kwargs)
    except Exception as exc:  # an exception is an outcome to compare, like a result
        return "raised", exc, (args, kwargs)


def verify(original: Callable[..., Any], variant: Callable[..., Any], calls: list[Call]) -> Check:
    """Call both on a fresh copy of every recorded call and compare what they return or raise."""
    mutates = False
    for i, call in enumerate(calls, 1):
        how_a, a, after_a = _outcome(original, call)
        how_b, b, after_b = _outcome(variant, call)
        mutates = mutates or not same(list(after_a[0]), list(call[0]))
        where = f"call {i} ({_describe(*call)})"
        if how_a != how_b:
            got_a = f"{how_a} {_show(a)}" if how_a == "returned" else f"raised {type(a).__name__}: {a}"
            got_b = f"{how_b} {_show(b)}" if how_b == "returned" else f"raised {type(b).__name__}: {b}"
            return Check(False, i, f"{where}: original {got_a}, compiled {got_b}", mutates)
        if how_a == "raised":
            if type(a) is not type(b):
                return Check(False, i, f"{where}: original raised {type(a).__name__}, compiled raised {type(b).__name__}", mutates)
            continue
        if not same(a, b):
            return Check(False, i, f"{where}: original returned {_show(a)}, compiled returned {_show(b)}", mutates)
        if not same(list(after_a[0]), list(after_b[0])) or not same(after_a[1], after_b[1]):
            return Check(False, i, f"{where}: the arguments differ after the call (it writes into them)", mutates)
    return Check(True, len(calls), "", mutates)


@dataclass
class Timing:
    """Seconds per call of one function over the timed calls: median of the rounds, spread, samples."""

    median_s: float
    spread: float
    samples_s: list[float]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dict(self.__dict__)


def _harness(calls: list[Call], with_call: bool) -> Callable[[Callable[..., Any], list[Call], int], None]:
    """A loop that calls ``f`` the way a program does: arguments unpacked into locals, a plain call.

    ``f(*args, **kwargs)`` would cost more per call than the program's own ``f(a, b)``; for tiny
    functions that difference would be mistaken for the function's time. Without ``with_call``
    the loop only unpacks: its time per call is subtracted from every function's.
    """
    arity = {len(a) for a, _k in calls}
    if len(arity) == 1 and not any(k for _a, k in calls):
        names = [f"a{i}" for i in range(arity.pop())]
        target = "(" + ", ".join(names) + ("," if len(names) == 1 else "") + ")" if names else "()"
        body = f"f({', '.join(names)})" if with_call else "pass"
        src = (f"def h(f, sets, loops):\n    for _ in range(loops):\n        for {target}, _k in sets:\n"
               f"            {body}\n")
    else:
        src = ("def h(f, sets, loops):\n    for _ in range(loops):\n        for a, k in sets:\n"
               f"            {'f(*a, **k)' if with_call else 'pass'}\n")
    namespace: dict[str, Any] = {}
    exec(compile(src, "<ffilab timing harness>", "exec"), namespace)  # noqa: S102 - generated above, no user text
    harness: Callable[[Callable[..., Any], list[Call], int], None] = namespace["h"]
    return harness


def _pass(harness: Callable[[Callable[..., Any], list[Call], int], None], fn: Callable[..., Any], sets: list[Call], loops: int) -> float:
    t0 = time.thread_time()
    harness(fn, sets, loops)
    return time.thread_time() - t0


def time_interleaved(funcs: dict[str, Callable[..., Any]], calls: list[Call], *, mutates: bool = False,
                     rounds: int = 7, min_pass_s: float = 0.02, max_pass_s: float = 0.25,
                     progress: Callable[[str], None] | None = None) -> dict[str, Timing]:
    """Time every function on the recorded calls, in interleaved rounds, in the thread's CPU time.

    Parameters
    ----------
    funcs : dict
        ``{label: function}``; the first is the original (its speed decides how many calls a pass uses).
    calls : list
        Recorded ``(args, kwargs)``; a pass calls each function on a random subset of them (all
        of them when they take less than ``max_pass_s`` of the original's time), repeated to
        last at least ``min_pass_s``.
    mutates : bool
        The function writes into its arguments: every pass then gets fresh copies (made untimed).
    rounds : int
        Passes per function; the median is reported.

    Returns
    -------
    dict
        ``{label: Timing}`` in seconds per call: the call and the function's work, without the
        timing loop's own cost per call (measured in the same rounds with the call left out).
    """
    if not calls:
        raise ValueError("calls: need at least one recorded call to time")
    first = next(iter(funcs.values()))
    call_loop, bare_loop = _harness(calls, True), _harness(calls, False)
    # How many recorded calls a pass uses: enough for the original to take about 4 x min_pass_s,
    # at most max_pass_s (a heavy function's pass may be one call).
    # In a shuffled order (fixed seed), so that a subset stands for all the calls, not the first few.
    order = list(range(len(calls)))
    random.Random(0).shuffle(order)
    shuffled = [calls[i] for i in order]
    sets = copy.deepcopy(shuffled)
    used = 0
    spent = 0.0
    while used < len(sets) and (spent < max_pass_s or used == 0):
        spent += _pass(call_loop, first, [sets[used]], 1)
        used += 1
    timed = shuffled[:used]
    per_func_sets = {label: copy.deepcopy(timed) for label in funcs}
    loops: dict[str, int] = {}
    for label, fn in funcs.items():
        # One untimed pass each first (a warm-up; Numba compiled at its first call, never inside a timing).
        t = _pass(call_loop, fn, per_func_sets[label], 1)
        loops[label] = max(1, math.ceil(min_pass_s / t)) if t > 0 else 1000
    samples: dict[str, list[float]] = {label: [] for label in funcs}
    labels = list(funcs)
    bare: list[float] = []
    bare_loops = max(loops.values())
    for r in range(rounds):
        if progress:
            progress(f"timing round {r + 1}/{rounds}")
        for label in labels[r % len(labels):] + labels[:r % len(labels)]:
            sets = copy.deepcopy(timed) if mutates else per_func_sets[label]
            samples[label].append(_pass(call_loop, funcs[label], sets, loops[label]) / (loops[label] * len(timed)))
        bare.append(_pass(bare_loop, first, timed, bare_loops) / (bare_loops * len(timed)))
    loop_s = statistics.median(bare)
    for values in samples.values():
        values[:] = [max(v - loop_s, 1e-12) for v in values]
    out = {}
    for label, values in samples.items():
        s = summarize(values)
        out[label] = Timing(median_s=s.median, spread=s.spread, samples_s=values)
    return out
