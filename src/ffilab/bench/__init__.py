"""``ffilab bench``: every available route measured side by side, honestly, on this machine.

How it measures (the reasons users can trust the numbers):

* every route's result on each benchmark input is first checked against the reference with the
  bounds of :mod:`ffilab.bounds`; a route that disagrees is reported as failing and not timed;
* a route that does not run the code its kind claims is refused (:mod:`ffilab._proof`): a
  compiled route whose kernels are Python code, an FFI route whose calls never enter the C core,
  a JIT route whose kernels compile no nopython Numba function;
* per-call overhead: every route and the floors (a Python ``def``, ``abs``, ``math.fabs``, the
  harness's own loop) timed interleaved in one worker process, in rounds of short bursts of an
  unrolled loop of direct calls, on the thread's CPU clock (:mod:`ffilab.bench.overhead`); a few
  such processes are pooled; each figure is also given as a multiple of the same run's ``abs``;
* throughput: one worker process per route (:mod:`ffilab.bench.throughput`; ``--processes``
  pools several), each workload called once untimed, its loop calibrated to ``--min-time`` per
  value, the route's workloads timed in rotated rounds; the timer is the thread's CPU time by
  default (``--timer wall`` otherwise); medians are reported with the interquartile range, and a
  spread of 10 % or more of the median is flagged unstable; the samples are also written as a
  pyperf suite;
* every route is timed through its public function object, so a route that needs a Python
  wrapper (ctypes, cffi) pays for it;
* the honesty guard times ``sum_of_squares`` again at twice the size: a loop takes about twice as
  long; a ratio below 1.5 means a compiler replaced the loop by a closed form, and the row is
  labelled as such, never as loop speed;
* a JIT route's first call compiles: the timing workers call every function once before
  calibrating, so compilation never lands in a timed value, and the first-call cost is measured
  on its own, each kernel in fresh processes with an empty and a filled cache
  (:mod:`ffilab.bench._jit`, results section ``first_call``);
* the machine, the build (compilers, flags) and package versions are recorded with the results.

The modules: :mod:`ffilab.bench.runner` (one run, :func:`run`), :mod:`ffilab.bench.suite` (its
configuration, guards, metadata, verification and overhead suite), the worker modules named above,
and the feature benchmarks :mod:`ffilab.bench.nearest` and :mod:`ffilab.bench.tokenize`.
"""

from __future__ import annotations

from ffilab.bench._jit import first_call_costs
from ffilab.bench.overhead import FLOOR_ROUTE
from ffilab.bench.runner import run
from ffilab.bench.suite import (
    CLOSED_FORM_RATIO,
    FORMAT,
    QUICK_FIRST_CALLS,
    Config,
    apply_closed_form_guard,
    closed_form_ratio,
    compiled_problem,
    crossovers,
    metadata,
    overhead_suite,
    summarize,
    verify_workloads,
)

__all__ = ["CLOSED_FORM_RATIO", "FLOOR_ROUTE", "FORMAT", "QUICK_FIRST_CALLS", "Config", "apply_closed_form_guard",
           "closed_form_ratio", "compiled_problem", "crossovers", "first_call_costs", "metadata", "overhead_suite", "run",
           "summarize", "verify_workloads"]
