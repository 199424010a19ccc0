"""What the lesson claims, as data, and how each claim is checked against a results file.

The lesson is "C Extensions and FFI - When Python Isn't Fast Enough" (quoted as "lesson says").
Every number it prints is one :class:`Claim`; :func:`check_claims` looks each up in the results
by route + kernel + n (and call kind for overheads), so adding a claim means adding one line.
The decision table of its Part 6 is :data:`DECISION_QUALITATIVE` (our own words) plus rows
measured from the results (:func:`decision_table`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ffilab.report.results import Results, is_ok, variant
from ffilab.report.units import MISSING, fmt_n, fmt_speedup, fmt_time, number

__all__ = [
    "CLAIMS",
    "DECISION_COLUMNS",
    "DECISION_QUALITATIVE",
    "DECISION_SPEEDUP_KERNELS",
    "REPRODUCES_WITHIN",
    "Claim",
    "ClaimCheck",
    "check_claims",
    "decision_table",
    "fact_checks",
]

#: A measured value within this factor of the lesson's (either way) "reproduces" it.  The
#: lesson's numbers are "typical results on modern hardware", so only the order is at stake.
REPRODUCES_WITHIN = 1.5

#: Seconds per unit of a lesson value; "x" is a dimensionless speedup.
_UNIT_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "x": 1.0}


@dataclass(frozen=True)
class Claim:
    """One number the lesson prints.

    ``kind`` is ``time`` (seconds per call of ``kernel`` at size ``n``), ``speedup`` (against the
    pure-Python loop at the same ``n``) or ``overhead`` (the per-call cost of a ``call`` kind,
    times ``calls`` calls).  ``linear`` says the kernel is O(n), so that a time measured at
    another n may be scaled linearly (said so in the report); otherwise a different n is "not
    comparable".  ``note`` says how our measurement differs from the lesson's set-up.
    """

    where: str
    approach: str
    kind: str
    route: str
    value: float
    unit: str
    kernel: str = ""
    n: int | None = None
    call: str = ""
    calls: int = 1
    variant: str = ""
    linear: bool = False
    approx: bool = False
    note: str = ""

    def lesson_text(self) -> str:
        """The lesson's value as the lesson writes it (``"~1 us"``, ``"6.2 s"``, ``"73x"``)."""
        tilde = "~" if self.approx else ""
        return f"{tilde}{self.value:g}x" if self.unit == "x" else f"{tilde}{self.value:g} {self.unit}"

    def what(self) -> str:
        """A short description of the quantity claimed."""
        if self.kind == "overhead":
            if self.calls > 1:
                return f"{self.approach}: {self.calls:,} calls ({self.call}) take"
            return f"{self.approach}: overhead per call ({self.call})"
        size = f"{self.kernel}, n={fmt_n(self.n)}"
        return f"{self.approach}: {'speedup vs Python loop' if self.kind == 'speedup' else 'time'}, {size}"


_SOS = "sum_of_squares"
_LINEAR_SOS = {"kernel": _SOS, "linear": True}
_P7 = {"kernel": _SOS, "n": 50_000_000, "linear": True}
_HAV = {"kernel": "haversine_many", "n": 100_000, "linear": True}
_CFFI_NOTE = "the lesson gives one figure for cffi; both of our cffi modes are held to it"
_WRAPPER_NOTE = "includes our Python safety wrapper (dtype and range checks), as careful ctypes/cffi code has"
_HAV_CY_NOTE = (
    "the lesson's Cython loop is a Python loop calling a Cython function per point; "
    "ours runs the whole loop in Cython"
)
_HAV_PY_NOTE = (
    "the lesson's loop indexes the NumPy arrays per point (numpy.float64 arithmetic, several times "
    "slower); ours converts them to Python floats once"
)
_HAV_SPEEDUP_NOTE = "our Python baseline is the faster loop of the row above, so speedups vs it are smaller"
_PRIMES_PY_NOTE = (
    "the lesson's 'Python-style' code is untyped Cython (compiled); ours is the interpreted reference"
)

# fmt: off
#: Every number the lesson claims about speed, in the order it prints them.
CLAIMS: tuple[Claim, ...] = (
    Claim("Part 1", "Python", "time", "python", 6.200, "s", n=100_000_000, **_LINEAR_SOS),
    Claim("Part 1", "C via ctypes", "time", "ctypes", 0.085, "s", n=100_000_000, **_LINEAR_SOS,
          note="the lesson's C loop wraps in a long long; ours accumulates exactly in 128 bits"),
    Claim("Part 1", "C via ctypes", "speedup", "ctypes", 73, "x", n=100_000_000, **_LINEAR_SOS),
    Claim("Part 6", "ctypes", "overhead", "ctypes", 1, "us", call="scalar float", approx=True, note=_WRAPPER_NOTE),
    Claim("Part 6", "cffi (ABI mode)", "overhead", "cffi_abi", 0.5, "us", call="scalar float", approx=True,
          note=f"{_CFFI_NOTE}; {_WRAPPER_NOTE}"),
    Claim("Part 6", "cffi (API mode)", "overhead", "cffi_api", 0.5, "us", call="scalar float", approx=True,
          note=f"{_CFFI_NOTE}; {_WRAPPER_NOTE}"),
    Claim("Part 6", "Cython", "overhead", "cython", 0.1, "us", call="scalar float", approx=True),
    Claim("Part 6", "pybind11", "overhead", "pybind11", 0.1, "us", call="scalar float", approx=True),
    Claim("Part 6", "CPython C API", "overhead", "capi", 0.05, "us", call="scalar float", approx=True),
    Claim("Key takeaways", "ctypes", "overhead", "ctypes", 10, "s", call="scalar float", calls=10_000_000,
          approx=True, note="our measured per-call overhead times 10 million"),
    Claim("Part 7", "NumPy (warm)", "time", "numpy", 0.045, "s", variant="warm", **_P7,
          note="the lesson's warm code squares int64 and overflows from n = 3,037,000 (its 5e7 result is wrong); "
               "ours squares in uint64 and sums exact 32-bit halves, two reductions instead of one"),
    Claim("Part 7", "NumPy (warm)", "speedup", "numpy", 133.3, "x", variant="warm", **_P7),
    Claim("Part 7", "NumPy", "time", "numpy", 0.180, "s", **_P7,
          note="our numpy route, like this lesson row, creates its arrays inside the call (in blocks, exact)"),
    Claim("Part 7", "NumPy", "speedup", "numpy", 33.3, "x", **_P7),
    Claim("Part 7", "ctypes", "time", "ctypes", 0.085, "s", **_P7),
    Claim("Part 7", "ctypes", "speedup", "ctypes", 70.6, "x", **_P7),
    Claim("Part 7", "Cython", "time", "cython", 0.065, "s", **_P7),
    Claim("Part 7", "Cython", "speedup", "cython", 92.3, "x", **_P7),
    Claim("Part 7", "pybind11", "time", "pybind11", 0.062, "s", **_P7),
    Claim("Part 7", "pybind11", "speedup", "pybind11", 96.8, "x", **_P7),
    Claim("Part 7", "Python sum()", "time", "python", 2.800, "s", variant="sum()", **_P7,
          note="sum() over a generator of i * i: a variant of the python route, not a route"),
    Claim("Part 7", "Python sum()", "speedup", "python", 2.1, "x", variant="sum()", **_P7),
    Claim("Part 7", "Python loop", "time", "python", 6.000, "s", **_P7),
    Claim("Part 3", "Python-style", "time", "python", 1.200, "s", kernel="primes", n=10_000, note=_PRIMES_PY_NOTE),
    Claim("Part 3", "Typed Cython", "time", "cython", 0.035, "s", kernel="primes", n=10_000),
    Claim("Part 3", "Typed Cython", "speedup", "cython", 34, "x", kernel="primes", n=10_000, note=_PRIMES_PY_NOTE),
    Claim("Part 8", "Python loop", "time", "python", 0.850, "s", **_HAV, note=_HAV_PY_NOTE),
    Claim("Part 8", "Cython loop", "time", "cython", 0.025, "s", **_HAV, note=_HAV_CY_NOTE),
    Claim("Part 8", "Cython loop", "speedup", "cython", 34, "x", **_HAV, note=f"{_HAV_CY_NOTE}; {_HAV_SPEEDUP_NOTE}"),
    Claim("Part 8", "NumPy vectorised", "time", "numpy", 0.003, "s", **_HAV),
    Claim("Part 8", "NumPy vectorised", "speedup", "numpy", 283, "x", **_HAV, note=_HAV_SPEEDUP_NOTE),
)
# fmt: on


@dataclass(frozen=True)
class ClaimCheck:
    """One row of the "lesson says / measured here" table."""

    where: str
    claim: str
    lesson: str
    measured: str
    verdict: str
    note: str


def _verdict(measured: float, lesson: float, bigger: str, smaller: str) -> str:
    ratio = measured / lesson
    if 1 / REPRODUCES_WITHIN <= ratio <= REPRODUCES_WITHIN:
        return f"reproduces (x{ratio:.2f})"
    return f"off by {max(ratio, 1 / ratio):.1f}x ({bigger if ratio > 1 else smaller} here)"


def _row_marks(row: dict[str, Any]) -> str:
    return " (unstable)" if row.get("unstable") else ""


def _not_measured(results: Results, route: str, rows: list[dict[str, Any]]) -> str:
    statuses = sorted({str(r.get("status")) for r in rows if not is_ok(r)})
    if statuses:
        return f"not measured ({'; '.join(statuses)})"
    reason = results.unavailable_routes().get(route)
    return f"not measured (unavailable: {reason})" if reason else "not measured"


def _check_overhead(claim: Claim, results: Results) -> ClaimCheck:
    rows = [r for r in results.overhead if r.get("route") == claim.route and r.get("call") == claim.call]
    ok = [r for r in rows if is_ok(r)]
    if not ok:
        measured = _not_measured(results, claim.route, rows)
        return ClaimCheck(claim.where, claim.what(), claim.lesson_text(), measured, MISSING, claim.note)
    row = ok[0]
    total = number(row["median_s"]) * claim.calls  # type: ignore[operator]  # is_ok guarantees a median
    measured = fmt_time(total) + _row_marks(row)
    if claim.calls > 1:
        measured += f" ({fmt_time(row['median_s'])} per call)"
    verdict = _verdict(total, claim.value * _UNIT_SCALE[claim.unit], "slower", "faster")
    return ClaimCheck(claim.where, claim.what(), claim.lesson_text(), measured, verdict, claim.note)


def _check_throughput(claim: Claim, results: Results) -> ClaimCheck:
    rows = [
        r
        for r in results.throughput
        if r.get("route") == claim.route and r.get("kernel") == claim.kernel and variant(r) == claim.variant
    ]
    ok = [r for r in rows if is_ok(r) and number(r.get("n")) is not None]
    base = ClaimCheck(claim.where, claim.what(), claim.lesson_text(), "", MISSING, claim.note)
    if not ok:
        return replace(base, measured=_not_measured(results, claim.route, rows))
    exact = [r for r in ok if number(r.get("n")) == claim.n]
    row = exact[0] if exact else max(ok, key=lambda r: number(r["n"]) or 0.0)
    n_row = int(number(row["n"]) or 0)
    at_n = f" at n={fmt_n(n_row)}"
    if claim.kind == "speedup":
        value = number(row.get("speedup_vs_python"))
        if value is None:
            return replace(base, measured="not measured (no python time in this run)")
        shown = fmt_speedup(value) + _row_marks(row)
    else:
        value = number(row["median_s"])
        shown = fmt_time(value) + _row_marks(row)
    assert value is not None  # is_ok guarantees a median
    if row.get("closed_form"):
        return replace(
            base,
            measured=f"{shown}{'' if exact else at_n}",
            verdict="not comparable: loop replaced by a closed form — not loop speed",
        )
    if exact:
        bigger, smaller = ("larger", "smaller") if claim.kind == "speedup" else ("slower", "faster")
        verdict = _verdict(value, claim.value * _UNIT_SCALE[claim.unit], bigger, smaller)
        return replace(base, measured=shown, verdict=verdict)
    if not claim.linear:
        return replace(base, measured=f"{shown}{at_n}", verdict=f"measured at n={fmt_n(n_row)}, not comparable")
    assert claim.n is not None
    if claim.kind == "speedup":
        # Both times of an O(n) kernel scale with n, so their ratio does not: compared as is.
        measured = f"{shown}{at_n} (O(n): the ratio is compared as is)"
        verdict = _verdict(value, claim.value, "larger", "smaller")
    else:
        scaled = value * claim.n / n_row
        measured = f"{fmt_time(scaled)}, scaled linearly from {shown}{at_n}"
        verdict = _verdict(scaled, claim.value * _UNIT_SCALE[claim.unit], "slower", "faster") + " (scaled)"
    return replace(base, measured=measured, verdict=verdict)


def check_claims(results: Results) -> list[ClaimCheck]:
    """Check every claim of :data:`CLAIMS` against the results, then add :func:`fact_checks`."""
    checks = [
        _check_overhead(claim, results) if claim.kind == "overhead" else _check_throughput(claim, results)
        for claim in CLAIMS
    ]
    return checks + fact_checks()


def _sum_of_squares(n: int) -> int:
    return n * (n - 1) * (2 * n - 1) // 6


def _wrapped_int64(value: int) -> int:
    value %= 2**64
    return value - 2**64 if value >= 2**63 else value


def _speedup_arithmetic() -> list[str]:
    # Each printed speedup should be the ratio of two printed times of the same part and size.
    times = {(c.where, c.route, c.variant, c.kernel, c.n): c.value for c in CLAIMS if c.kind == "time"}
    wrong = []
    for c in CLAIMS:
        if c.kind != "speedup":
            continue
        t = times.get((c.where, c.route, c.variant, c.kernel, c.n))
        base = times.get((c.where, "python", "", c.kernel, c.n))
        # The lesson rounds its speedups to the digits it prints ("73x", "133.3x").
        digits = len(f"{c.value:g}".partition(".")[2])
        if t and base and round(base / t, digits) != c.value:
            wrong.append(f"{c.where} {c.approach}: {c.value:g}x printed, {base / t:.1f}x from its times")
    return wrong


def fact_checks() -> list[ClaimCheck]:
    """Check what the lesson states that needs no measurement (its arithmetic and its printed values)."""
    n = 100_000_000
    exact = _sum_of_squares(n)
    printed = 333333328333333350000
    checks = [
        ClaimCheck(
            "Part 5",
            f"fastmod.sum_of_squares({n:_}) prints",
            f"{printed}",
            f"exact: {exact} (n(n-1)(2n-1)/6)",
            f"wrong: {exact // printed}x too small (three digits short)" if exact != printed else "correct",
            f"the exact value exceeds a C long long (2**63-1), so the lesson's C loop overflows "
            f"(undefined behaviour; wrapping would give {_wrapped_int64(exact)})",
        ),
        ClaimCheck(
            "Part 7",
            "the table is printed sorted by time (the code sorts by time)",
            "NumPy 0.180s above ctypes 0.085s",
            "—",
            "inconsistent: the printed rows are not in time order",
            "the rows of our throughput tables are sorted fastest first",
        ),
        ClaimCheck(
            "Parts 1 and 7",
            "sum_of_squares: ctypes and Python loop at n=100,000,000 (Part 1) and n=50,000,000 (Part 7)",
            "0.085 s / 6.2 s and 0.085 s / 6.0 s",
            "—",
            "inconsistent: about the same time for half the work, for O(n) loops",
            "our table above scales O(n) times linearly between sizes, and says so",
        ),
    ]
    wrong = _speedup_arithmetic()
    n_speedups = sum(c.kind == "speedup" for c in CLAIMS)
    checks.append(
        ClaimCheck(
            "Parts 1, 3, 7, 8",
            "each printed speedup is the ratio of its printed times",
            f"{n_speedups} speedups",
            "recomputed from the printed times",
            "consistent (to the digits printed)" if not wrong else "inconsistent: " + "; ".join(wrong),
            "",
        )
    )
    return checks


# --- the decision table of Part 6, for our routes ------------------------------------------------

#: Our routes as columns of the decision table, with the lesson's column each one stands for.
DECISION_COLUMNS: dict[str, str] = {
    "python": "(not in the lesson's table)",
    "numpy": "(not in the lesson's table)",
    "ctypes": "ctypes",
    "cffi_abi": "cffi",
    "cffi_api": "cffi",
    "cython": "Cython",
    "pybind11": "pybind11",
    "capi": "CPython C API",
    "numba": "(not in the lesson's table)",
    "nanobind": "(not in the lesson's table)",
    "pyo3": "(not in the lesson's table)",
    "mypyc": "(not in the lesson's table)",
}

# fmt: off
#: The qualitative rows of the lesson's Part 6 table, restated for our routes in our own words.
DECISION_QUALITATIVE: dict[str, dict[str, str]] = {
    "Compilation needed": {
        "python": "no", "numpy": "no (NumPy ships compiled)",
        "ctypes": "no (loads a compiled C library; ours is built once)",
        "cffi_abi": "no at run time (cdef parsed on import; the C library is built once)",
        "cffi_api": "yes (cffi generates and compiles a C extension)",
        "cython": "yes (.pyx to C to extension)", "pybind11": "yes (C++ extension module)",
        "capi": "yes (C extension module)",
        "numba": "no build step; LLVM compiles each kernel at its first call (a cost we report)",
        "nanobind": "yes (C++ extension module)", "pyo3": "yes (Rust crate built by cargo)",
        "mypyc": "yes (typed Python to C to extension)",
    },
    "Learning curve": {
        "python": "none", "numpy": "low (think in whole arrays)",
        "ctypes": "low (argtypes/restype by hand)", "cffi_abi": "low (paste the C declarations)",
        "cffi_api": "low to medium (plus a build step)", "cython": "medium (Python plus C types)",
        "pybind11": "medium (C++ and its templates)", "capi": "high (reference counts, error protocol)",
        "numba": "low (a subset of Python and NumPy)", "nanobind": "medium (C++ and its templates)",
        "pyo3": "medium to high (Rust, ownership, PyO3's types)", "mypyc": "low (type-annotated Python)",
    },
    "C++ support": {
        "python": "n/a", "numpy": "n/a",
        "ctypes": "none (extern \"C\" functions only)", "cffi_abi": "none (C declarations only)",
        "cffi_api": "none (C only; C++ behind extern \"C\" shims)",
        "cython": "partial (cdef extern C++ classes, libcpp containers)",
        "pybind11": "full (classes, overloads, STL, exceptions)",
        "capi": "possible (write the module in C++, no help)",
        "numba": "none", "nanobind": "full (classes, STL, exceptions; C++17)",
        "pyo3": "n/a (Rust; C through FFI)", "mypyc": "none",
    },
    "NumPy integration": {
        "python": "none (element by element)", "numpy": "native",
        "ctypes": "manual (arr.ctypes pointers; no dtype check without a wrapper)",
        "cffi_abi": "manual (ffi.from_buffer; no dtype check without a wrapper)",
        "cffi_api": "manual (ffi.from_buffer; no dtype check without a wrapper)",
        "cython": "typed memoryviews (buffer protocol)",
        "pybind11": "py::array_t (converts silently unless noconvert)",
        "capi": "buffer protocol or NumPy C API, by hand",
        "numba": "native (arrays are typed on the first call)",
        "nanobind": "nb::ndarray (converts silently unless .noconvert())",
        "pyo3": "the numpy crate (PyReadonlyArray / PyArray)", "mypyc": "none (arrays are plain objects)",
    },
    "Error handling": {
        "python": "exceptions", "numpy": "exceptions; errstate for float errors",
        "ctypes": "manual (status codes; bad arguments can crash)",
        "cffi_abi": "manual (status codes; cffi type-checks arguments)",
        "cffi_api": "manual (status codes; cffi type-checks arguments)",
        "cython": "mostly automatic (exceptions propagate; except clauses on cdef)",
        "pybind11": "automatic (C++ exceptions become Python exceptions)",
        "capi": "manual (set PyErr_* and return NULL on every path)",
        "numba": "exceptions, but integers wrap and arguments coerce: checks needed",
        "nanobind": "automatic (C++ exceptions become Python exceptions)",
        "pyo3": "automatic (PyResult / PyErr, panics become exceptions)",
        "mypyc": "exceptions (plus TypeError at annotated boundaries)",
    },
    "Debugging": {
        "python": "easy (pdb, tracebacks)", "numpy": "easy (Python tools)",
        "ctypes": "hard (segfaults, gdb)", "cffi_abi": "hard (gdb; clearer type errors)",
        "cffi_api": "hard (gdb; clearer type errors)", "cython": "medium (cython -a, generated C)",
        "pybind11": "medium (C++ debugger, long template errors)", "capi": "very hard (gdb, reference-count bugs)",
        "numba": "medium (typing errors at compile time; no pdb inside njit)",
        "nanobind": "medium (C++ debugger, template errors)", "pyo3": "medium (Rust compiler catches most; gdb)",
        "mypyc": "medium (run it interpreted to debug)",
    },
    "Type safety": {
        "python": "dynamic", "numpy": "dtypes checked at run time",
        "ctypes": "none unless argtypes are declared; integers wrap silently",
        "cffi_abi": "C declarations (argument types checked)", "cffi_api": "C declarations, checked by the C compiler",
        "cython": "static C types where declared", "pybind11": "C++ types, checked at conversion",
        "capi": "manual (whatever you parse)",
        "numba": "inferred at compile time per signature", "nanobind": "C++ types, checked at conversion",
        "pyo3": "Rust types, checked at extraction; memory-safe", "mypyc": "annotations enforced at run time",
    },
    "Best for": {
        "python": "the reference; code that is not hot", "numpy": "whole-array arithmetic",
        "ctypes": "calling an existing C library with no build step",
        "cffi_abi": "the same, declared in C syntax", "cffi_api": "wrapping a C library, with a build step",
        "cython": "speeding up Python loops gradually", "pybind11": "exposing C++ code and classes",
        "capi": "full control, no dependency",
        "numba": "numeric loops over arrays, no build step",
        "nanobind": "exposing C++ with the lowest binding overhead",
        "pyo3": "new native code that must be memory-safe",
        "mypyc": "an existing typed code base, modest gains",
    },
}
# fmt: on

#: Qualitative rows placed before the measured overhead rows, as in the lesson's order.
_ROWS_BEFORE_OVERHEAD = ("Compilation needed", "Learning curve", "C++ support", "NumPy integration", "Error handling")

#: The throughput kernels whose speedup vs python the decision table shows (one per row): an O(n)
#: integer loop (the lesson's running example), the lesson's real-world hot path, and its Level 3
#: string workload (lists of str in and out: where the C-ABI routes pay for their Python half).
DECISION_SPEEDUP_KERNELS = ("sum_of_squares", "haversine_many", "tokenize_batch")

#: The overhead call kind the decision table's "overhead per call" row is measured with.
DECISION_OVERHEAD_CALL = "scalar float"


def _largest_ok(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    ok = [r for r in rows if is_ok(r)]
    return max(ok, key=lambda r: number(r.get("n")) or 0.0) if ok else None


def decision_table(results: Results) -> tuple[list[str], list[list[str]], list[str]]:
    """Return the decision table: header, rows and footnotes.

    The rows are the lesson's, restated for our routes (:data:`DECISION_QUALITATIVE`), with two
    kinds of measured rows: the median overhead of one ``scalar float`` call beside the lesson's
    figure, and the speedup vs python of each kernel of :data:`DECISION_SPEEDUP_KERNELS` (its
    largest measured n).  Cells carry ``†`` (unstable) and ``‡`` (closed form) marks.
    """
    routes = [r for r in DECISION_COLUMNS if r in results.route_order()] or list(DECISION_COLUMNS)
    header = ["", *routes]
    rows: list[list[str]] = [["Lesson's column", *(DECISION_COLUMNS[r] for r in routes)]]
    rows += [[name, *(DECISION_QUALITATIVE[name][r] for r in routes)] for name in _ROWS_BEFORE_OVERHEAD]

    lesson_overhead = {c.route: c.lesson_text() for c in CLAIMS if c.kind == "overhead" and c.calls == 1}
    rows.append(["Overhead per call, lesson says", *(lesson_overhead.get(r, MISSING) for r in routes)])
    measured = []
    for r in routes:
        row = next(
            (o for o in results.overhead if o.get("route") == r and o.get("call") == DECISION_OVERHEAD_CALL), None
        )
        measured.append(
            fmt_time(row["median_s"]) + ("†" if row.get("unstable") else "") if row and is_ok(row) else "not measured"
        )
    kernel = next((o.get("kernel") for o in results.overhead if o.get("call") == DECISION_OVERHEAD_CALL), "circle_area")
    rows.append([f"Overhead per call, measured (median, {DECISION_OVERHEAD_CALL}: {kernel})", *measured])

    for name in DECISION_SPEEDUP_KERNELS:
        picked = {
            r: _largest_ok(
                [t for t in results.throughput if t.get("route") == r and t.get("kernel") == name and not variant(t)]
            )
            for r in routes
        }
        sizes = {int(number(p.get("n")) or 0) for p in picked.values() if p}
        common = len(sizes) == 1
        cells = []
        for r in routes:
            p = picked[r]
            speedup = number(p.get("speedup_vs_python")) if p else None
            if p is None or speedup is None:
                cells.append("not measured")
                continue
            cell = fmt_speedup(speedup) + ("‡" if p.get("closed_form") else "") + ("†" if p.get("unstable") else "")
            cells.append(cell if common else f"{cell} (n={fmt_n(p.get('n'))})")
        label = f"Measured speedup vs python: {name}" + (f" (n={fmt_n(next(iter(sizes)))})" if common else "")
        rows.append([label, *cells])

    rows += [
        [name, *(DECISION_QUALITATIVE[name][r] for r in routes)]
        for name in DECISION_QUALITATIVE
        if name not in _ROWS_BEFORE_OVERHEAD
    ]
    notes = [
        "ctypes, cffi_abi and cffi_api overheads include our Python safety wrapper (dtype and range checks).",
        f"Speedups are of the largest n measured for {', '.join(DECISION_SPEEDUP_KERNELS)}, "
        "vs the python route in the same run.",
    ]
    return header, rows, notes
