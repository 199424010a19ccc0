"""Which long-running kernels release the GIL, route by route: a declaration the tests prove.

``tests/test_threads.py::test_gil_declaration`` runs each of these kernels on a large input in a
worker thread while the main thread counts; a kernel declared ``True`` must let the main thread
make substantial progress, one declared ``False`` must let it make (almost) none.  A route or a
kernel missing from the table fails that test, so a new route must state its answer here.

"Releases" describes the kernel on a large input, where it spends its time in its loop.  Every
kernel still holds the GIL for its argument checks and for building its result.  The native
bindings (capi, pybind11, nanobind, cython, pyo3) release it only from ``FFL_RELEASE_GIL_MIN_WORK``
elements (1024; ``csrc/ffilab_core.h`` says how that was measured): below it the release would cost
more than the loop, as NumPy's own threshold (500) says too.  The proofs run far above it.

Evidence (2-core machine, two runs of the whole suite under pytest-xdist, i.e. with another test
process busy beside it): the main thread's counting rate while the kernel runs, as a fraction of
its free-running rate measured just before (values above 1 mean the baseline itself was slowed
by the other process).  The control, a pure-Python loop in the worker, gave 0.000 in all 160
measurements; each test records both numbers (``pytest --junitxml=FILE`` shows them).

=========  ======================  ====================================================
route      measured                note
=========  ======================  ====================================================
python     0.000 for every kernel  holds: not one step while a kernel runs
numpy      0.38 - 1.19             releases; primes is lowest (its tail, below ~500
                                   pending candidates, runs ufuncs too small to release)
ctypes     0.62 - 1.16             releases
cffi_abi   0.69 - 1.05             releases
cffi_api   0.55 - 1.11             releases
cython     0.68 - 1.00             releases
pybind11   0.64 - 1.23             releases
capi       0.61 - 1.23             releases
nanobind   0.46 - 1.73             releases (one run, load average about 7)
numba      0.38 - 1.98             releases (one run, machine loaded by builds)
pyo3       see the test's record   releases (test_gil_declaration passes for every kernel)
=========  ======================  ====================================================

``tokenize_batch`` (measured on long ASCII texts of separators, so that the scan is the loop):
python 0.00 and mypyc 0.00 hold; capi 0.81, pybind11 1.06, nanobind 0.71, cython 0.67, pyo3 0.65
release around the scan (their normalisation of non-ASCII text and the building of the tokens
hold it, as building any result does); numpy 0.60 and numba 0.35 release in their array passes and
compiled scan; ctypes 0.18 - 0.26, cffi_abi 0.33, cffi_api 0.52 release only around the C call, as
their Python half (lower, encode, decode, split: all as long as the batch) needs the GIL, which is
why the test accepts 0.10 for this kernel (``RELEASES_MIN_FOR`` in tests/test_threads.py).
"""

from __future__ import annotations

__all__ = ["LONG_RUNNING_KERNELS", "RELEASES_GIL"]

#: The kernels whose run time grows with their input, so that releasing the GIL matters.
LONG_RUNNING_KERNELS: tuple[str, ...] = (
    "sum_of_squares",
    "primes",
    "fast_sum",
    "fast_dot",
    "fast_norm",
    "scale_and_shift",
    "scale_array",
    "compute_distances",
    "haversine_many",
    "find_nearest_k",
    "tokenize_batch",
)

# fmt: off
RELEASES_GIL: dict[str, dict[str, bool]] = {
    # Pure-Python loops: the interpreter holds the GIL for every bytecode; another thread runs
    # only when the interpreter forces a switch (every sys.getswitchinterval() seconds), never
    # because the kernel lets it.
    "python": dict.fromkeys(LONG_RUNNING_KERNELS, False),
    # NumPy releases the GIL inside ufunc loops, reductions, sorting/partitioning and BLAS
    # calls on arrays of more than a few hundred elements; each kernel's own Python code
    # (contract checks, a loop over blocks or divisors) holds it, but on a large input that
    # code is a small part of the run.  Measured per kernel:
    "numpy": {
        "sum_of_squares": True,     # Python loop over 2**20-element blocks; arange, *, >>, &, sum release
        "primes": True,             # Python loop over divisors; %, masks on the pending array release (>500 left)
        "fast_sum": True,           # np.sum: a reduction, released
        "fast_dot": True,           # np.dot: BLAS ddot, released
        "fast_norm": True,          # np.dot(a, a): BLAS, released
        "scale_and_shift": True,    # a * s, += t: ufuncs, released
        "scale_array": True,        # arr *= f: an in-place ufunc, released
        "compute_distances": True,  # column views, *, +, sqrt: ufuncs, released
        "haversine_many": True,     # about fifteen ufuncs over the arrays, released
        "find_nearest_k": True,     # the haversine ufuncs, argpartition and lexsort, released
        "tokenize_batch": True,     # class lookup, comparisons, flatnonzero over the code points, released
    },
    # ctypes drops the GIL around every foreign call made through a CDLL function pointer (only
    # PyDLL keeps it); the wrapper's contract checks run before, holding it.
    "ctypes": dict.fromkeys(LONG_RUNNING_KERNELS, True),
    # cffi releases the GIL around every call into C, in ABI mode (libffi call) and in API mode
    # (the generated wrapper has Py_BEGIN/END_ALLOW_THREADS around the call).
    "cffi_abi": dict.fromkeys(LONG_RUNNING_KERNELS, True),
    "cffi_api": dict.fromkeys(LONG_RUNNING_KERNELS, True),
    # Every loop runs between PyEval_SaveThread/RestoreThread from FFL_RELEASE_GIL_MIN_WORK, after
    # the checks and before the result is built.
    "cython": dict.fromkeys(LONG_RUNNING_KERNELS, True),
    # py::gil_scoped_release around every C-core call from FFL_RELEASE_GIL_MIN_WORK (ReleaseGilIf).
    "pybind11": dict.fromkeys(LONG_RUNNING_KERNELS, True),
    # Py_BEGIN_ALLOW_THREADS / Py_END_ALLOW_THREADS around every C-core call from FFL_RELEASE_GIL_MIN_WORK.
    "capi": dict.fromkeys(LONG_RUNNING_KERNELS, True),
    # @njit(nogil=True): the compiled loop runs without the GIL once the wrapper's checks are done.
    "numba": dict.fromkeys(LONG_RUNNING_KERNELS, True),
    # nb::gil_scoped_release around every C-core call from FFL_RELEASE_GIL_MIN_WORK (ReleaseGilIf).
    "nanobind": dict.fromkeys(LONG_RUNNING_KERNELS, True),
    # py.detach(|| ...) (PyO3 0.30's name for allow_threads) around every Rust loop from
    # RELEASE_GIL_MIN_WORK (its copy of the header's threshold); the arrays are read through raw
    # slices taken, after every conversion, while the GIL was held.
    "pyo3": dict.fromkeys(LONG_RUNNING_KERNELS, True),
    # mypyc compiles to C that calls the C API for every object operation: it holds the GIL
    # throughout, like the interpreter it replaces.
    "mypyc": dict.fromkeys(LONG_RUNNING_KERNELS, False),
}
# fmt: on
