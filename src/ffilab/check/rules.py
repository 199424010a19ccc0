"""The checker's rules: stable codes, severities, one-paragraph explanations, and a finding."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

__all__ = ["RULES", "Finding", "Rule", "explain"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Rule:
    """A rule: its code (``FFI001``), a short title, its severity and why it matters."""

    code: str
    title: str
    severity: Severity
    explanation: str


@dataclass(frozen=True, order=True)
class Finding:
    """One problem at one place: ``path:line:col: CODE message``."""

    path: str
    line: int
    col: int
    code: str
    message: str

    @property
    def severity(self) -> Severity:
        """The rule's severity (``error`` or ``warning``)."""
        return RULES[self.code].severity

    def format(self) -> str:
        """The linter line: ``path:line:col: CODE message``."""
        return f"{self.path}:{self.line}:{self.col}: {self.code} {self.message}"

    def as_dict(self) -> dict[str, object]:
        """The finding as a JSON-ready dict (with its severity)."""
        return {**asdict(self), "severity": self.severity}


_RULE_LIST = [
    Rule("FFI001", "foreign function called without argtypes/restype", "error",
         "ctypes checks nothing it was not told: without `argtypes` every Python int is passed as a C "
         "int (32 bits) and a float is refused, and without `restype` the result is read as a C int, "
         "so a returned pointer is cut to 32 bits (a crash on the first read) and a returned double "
         "becomes a meaningless integer. Declare both, from the header, before the first call. "
         "Reported for a call of a function with parameters and no argtypes, or whose C return type is "
         "neither int nor void and has no restype."),
    Rule("FFI002", "argtypes disagree with the C prototype", "error",
         "Each entry of `argtypes` must marshal the C parameter it stands for: the same kind (integer, "
         "floating point, pointer), the same width (c_int is 32 bits, int64_t and size_t are 64), the "
         "same signedness, and for pointers the same element type and pointer depth (c_void_p fits any "
         "pointer; c_char_p any byte or void pointer). A wrong entry passes garbage silently. The "
         "number of entries must equal the number of parameters."),
    Rule("FFI003", "restype disagrees with the C prototype", "error",
         "`restype` says how ctypes reads the C return value. c_float for a double, c_int for a pointer "
         "or an int64_t, POINTER(c_float) for a double * all read the wrong bits; `None` is only right "
         "for a void function, and a void function's restype should be None."),
    Rule("FFI004", "buffer of the wrong element type passed to a pointer parameter", "error",
         "A ctypes array `(c_float * n)()`, a `POINTER(c_float)` from `data_as`, or a NumPy float32 "
         "array (`.ctypes.data`, `.ctypes.data_as(...)`, an `ndpointer`) handed to a C `double *` "
         "makes C read 8-byte doubles out of 4-byte floats: garbage, and reads past the end of the "
         "buffer. Reported where the buffer's element type is written when that is known, else at "
         "the argument."),
    Rule("FFI005", "C-allocated memory not released on some path", "error",
         "A function the header marks as allocating (its comment says 'release it with FREE' or "
         "'free it with FREE') or that `[tool.ffilab.check] allocators = {alloc = \"free\"}` names "
         "returns memory only its free function can release. Reported at the allocating call when "
         "some path leaves the result unreleased: it is never bound, never passed to FREE, "
         "overwritten, or a `return`/`raise` leaves before the release. Handing it to "
         "`weakref.finalize(obj, FREE, ptr)`, returning it, or storing it in an attribute or a "
         "container moves the ownership and counts as released; a NULL check that raises or returns "
         "(`if not ptr: raise MemoryError`) is not a leak."),
    Rule("FFI006", "release that an exception can skip", "error",
         "The memory is released on every normal path, but a statement between the allocation and "
         "the release can raise (a call, an index, a loop, a comprehension) and the release is not in "
         "a `finally:` block, so the exception leaks it. Put the work in `try:` and the release in "
         "`finally:`, or hand the pointer to `weakref.finalize` right away. Building ctypes views "
         "(`(c_double * n).from_address(p)`, `ctypes.cast`, `POINTER`, `byref`) and a NULL check are "
         "not counted as raising."),
    Rule("FFI007", "result read through a pointer of another type", "error",
         "Memory the C function returned as `double *` read through `ctypes.cast(p, POINTER(c_int))` "
         "or `(c_float * n).from_address(p)` reinterprets its bytes: wrong values, and the wrong "
         "count of bytes. Read it through the prototype's own element type."),
    Rule("FFI008", "a length passed as a 32-bit C int", "warning",
         "A length or size (`len(x)`, `x.size`, `x.shape[i]`, or arithmetic on them) passed to a C "
         "`int` parameter wraps, or goes negative, once the array holds more than 2**31 - 1 elements. "
         "A warning: fine for small data, wrong for big data. Prefer size_t/int64_t in the C API."),
    Rule("FFI009", "cffi cdef disagrees with the header", "error",
         "cffi's ABI mode (`ffi.cdef(...)` then `ffi.dlopen(...)`) trusts the cdef text: a prototype "
         "there that differs from the library's header (float vs double, int vs size_t, a pointer "
         "level) marshals the wrong bits exactly like wrong ctypes argtypes."),
    Rule("FFI010", "wrong number of arguments", "error",
         "The call passes a different number of arguments than the C prototype takes. With argtypes "
         "ctypes raises TypeError; without them C reads registers that hold garbage."),
]

RULES: dict[str, Rule] = {r.code: r for r in _RULE_LIST}


def explain(code: str) -> str:
    """The explanation of rule ``code`` (e.g. ``"FFI004"``, case-insensitive).

    Raises
    ------
    ValueError
        If no rule has that code.
    """
    rule = RULES.get(code.strip().upper())
    if rule is None:
        raise ValueError(f"code must be one of {', '.join(RULES)}, got {code!r}")
    return f"{rule.code} ({rule.severity}): {rule.title}\n\n{rule.explanation}"
