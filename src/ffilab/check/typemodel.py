"""The two type worlds the checker compares: C types from a header and ctypes types from Python.

A :class:`CType` is what the C compiler sees (``const double *``, ``size_t``); a :class:`PyType`
is what ctypes will marshal (``POINTER(c_double)``, ``c_int``, ``c_float * 6``, an ``ndpointer``).
Both reduce to a *kind* (int, float, pointer, ...) with a size and a signedness on the LP64 ABI
(Linux and macOS on 64-bit machines, where ``long`` and pointers are 8 bytes), which is where a
mismatch becomes garbage or a crash.  :func:`mismatch` says, in words, why a ctypes type does not
fit a C type, or returns ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["CType", "PyType", "ctypes_simple", "dtype_elem", "elem_mismatch", "mismatch"]

CKind = Literal["void", "int", "float", "pointer", "struct", "function", "other"]
PyKind = Literal["int", "float", "pointer", "void_p", "char_p", "wchar_p", "array", "ndpointer", "none", "struct", "other"]


@dataclass(frozen=True)
class CType:
    """A C type, resolved through typedefs, keeping the spelling the header wrote for messages.

    ``kind`` is ``void``, ``int`` (any integer, ``char`` and ``_Bool`` included), ``float``,
    ``pointer`` (``pointee`` set; arrays in parameters decay to pointers), ``struct`` (also unions
    and enums passed by value are ``int``), ``function`` or ``other``.
    """

    kind: CKind
    spelling: str
    size: int = 0
    signed: bool = True
    pointee: CType | None = None
    plain_char: bool = False

    def depth(self) -> int:
        """How many pointer levels: 0 for ``double``, 2 for ``int64_t **``."""
        return 0 if self.pointee is None else 1 + self.pointee.depth()


@dataclass(frozen=True)
class PyType:
    """A ctypes type as the checker knows it (from source text, or from a live ctypes class).

    ``elem`` is the element of a ``POINTER(...)`` or of an array type ``T * n``; ``dtype`` the
    NumPy dtype name of an ``ndpointer(dtype=...)`` (``None`` when it accepts any).
    """

    kind: PyKind
    name: str
    size: int = 0
    signed: bool = True
    elem: PyType | None = None
    dtype: str | None = None

    def depth(self) -> int:
        """Pointer levels of a ``POINTER``/``c_void_p``/array type (an array counts as one)."""
        if self.kind in ("void_p", "char_p", "wchar_p", "ndpointer"):
            return 1
        if self.kind in ("pointer", "array"):
            return 1 + (self.elem.depth() if self.elem is not None and self.elem.kind in ("pointer", "array") else 0)
        return 0


# The fixed-size ctypes scalars on LP64 (c_long is 8 bytes, c_wchar 4).
_SIMPLE: dict[str, tuple[PyKind, int, bool]] = {
    "c_bool": ("int", 1, False),
    "c_char": ("int", 1, True),
    "c_byte": ("int", 1, True),
    "c_ubyte": ("int", 1, False),
    "c_short": ("int", 2, True),
    "c_ushort": ("int", 2, False),
    "c_int": ("int", 4, True),
    "c_uint": ("int", 4, False),
    "c_long": ("int", 8, True),
    "c_ulong": ("int", 8, False),
    "c_longlong": ("int", 8, True),
    "c_ulonglong": ("int", 8, False),
    "c_size_t": ("int", 8, False),
    "c_ssize_t": ("int", 8, True),
    "c_time_t": ("int", 8, True),
    "c_int8": ("int", 1, True),
    "c_uint8": ("int", 1, False),
    "c_int16": ("int", 2, True),
    "c_uint16": ("int", 2, False),
    "c_int32": ("int", 4, True),
    "c_uint32": ("int", 4, False),
    "c_int64": ("int", 8, True),
    "c_uint64": ("int", 8, False),
    "c_wchar": ("int", 4, True),
    "c_float": ("float", 4, True),
    "c_double": ("float", 8, True),
    "c_longdouble": ("float", 16, True),
    "c_void_p": ("void_p", 8, False),
    "c_char_p": ("char_p", 8, False),
    "c_wchar_p": ("wchar_p", 8, False),
    "HRESULT": ("int", 4, True),
}

# ctypes' one-letter type codes (``_type_`` of a simple class) to the names above.
TYPE_CODES: dict[str, str] = {
    "?": "c_bool", "c": "c_char", "b": "c_byte", "B": "c_ubyte", "h": "c_short", "H": "c_ushort",
    "i": "c_int", "I": "c_uint", "l": "c_long", "L": "c_ulong", "q": "c_longlong", "Q": "c_ulonglong",
    "f": "c_float", "d": "c_double", "g": "c_longdouble", "P": "c_void_p", "z": "c_char_p",
    "Z": "c_wchar_p", "u": "c_wchar",
}

# NumPy dtype names to the element they hold (kind, size, signed).
_DTYPES: dict[str, tuple[PyKind, int, bool]] = {
    "float64": ("float", 8, True), "float32": ("float", 4, True), "float16": ("float", 2, True),
    "longdouble": ("float", 16, True),
    "int8": ("int", 1, True), "uint8": ("int", 1, False), "int16": ("int", 2, True),
    "uint16": ("int", 2, False), "int32": ("int", 4, True), "uint32": ("int", 4, False),
    "int64": ("int", 8, True), "uint64": ("int", 8, False), "bool": ("int", 1, False),
}


def ctypes_simple(name: str) -> PyType | None:
    """The :class:`PyType` of a ctypes scalar named ``name`` (``"c_double"``), or ``None``."""
    spec = _SIMPLE.get(name)
    if spec is None:
        return None
    kind, size, signed = spec
    return PyType(kind, name, size, signed)


def dtype_elem(dtype: str) -> PyType | None:
    """The element :class:`PyType` a NumPy array of ``dtype`` holds, or ``None`` if unknown."""
    spec = _DTYPES.get(dtype)
    if spec is None:
        return None
    kind, size, signed = spec
    return PyType(kind, f"numpy {dtype}", size, signed)


def _scalar_mismatch(py: PyType, c: CType) -> str | None:
    # Integers and floats: the kind, then the width, then the sign must agree.
    if c.kind == "int":
        if py.kind == "float":
            return f"{py.name} is a floating-point type, C {c.spelling} is an integer"
        if py.kind in ("void_p", "char_p", "wchar_p", "pointer", "array", "ndpointer"):
            return f"{py.name} is a pointer, C {c.spelling} is an integer"
        if py.kind != "int":
            return None
        if py.size != c.size:
            return f"{py.name} is {py.size * 8}-bit, C {c.spelling} is {c.size * 8}-bit"
        # Plain char's sign is the compiler's choice, and c_char carries bytes, not numbers.
        if py.signed != c.signed and not c.plain_char and py.name != "c_char":
            return f"{py.name} is {'signed' if py.signed else 'unsigned'}, C {c.spelling} is {'signed' if c.signed else 'unsigned'}"
        return None
    if c.kind == "float":
        if py.kind == "int":
            return f"{py.name} is an integer type, C {c.spelling} is floating-point"
        if py.kind in ("void_p", "char_p", "wchar_p", "pointer", "array", "ndpointer"):
            return f"{py.name} is a pointer, C {c.spelling} is floating-point"
        if py.kind == "float" and py.size != c.size:
            return f"{py.name} is {py.size * 8}-bit, C {c.spelling} is {c.size * 8}-bit"
        return None
    return None


def _bare(spelling: str) -> str:
    return " ".join(w for w in spelling.split() if w not in ("const", "volatile", "restrict"))


def elem_mismatch(elem: PyType, pointee: CType) -> str | None:
    """Why data of element type ``elem`` cannot be read as C ``pointee`` (``None`` if it can).

    A ``void`` or struct pointee accepts anything; a pointer pointee needs a pointer element.
    """
    if pointee.kind in ("void", "struct", "function", "other"):
        return None
    if pointee.kind == "pointer":
        if elem.kind in ("int", "float"):
            return f"{elem.name} is not a pointer, C {_bare(pointee.spelling)} is"
        return None
    if elem.kind in ("int", "float"):
        if elem.kind != pointee.kind or elem.size != pointee.size:
            return f"{elem.name} is not C {_bare(pointee.spelling)}"
        if elem.kind == "int" and elem.signed != pointee.signed and elem.size > 1:
            return f"{elem.name} is {'signed' if elem.signed else 'unsigned'}, C {_bare(pointee.spelling)} is not"
        return None
    if elem.kind in ("pointer", "void_p", "char_p", "wchar_p", "array") and pointee.kind in ("int", "float"):
        return f"{elem.name} is a pointer, C {_bare(pointee.spelling)} is not"
    return None


def _pointer_mismatch(py: PyType, c: CType) -> str | None:
    pointee = c.pointee
    assert pointee is not None
    if py.kind in ("int", "float"):
        what = "an integer" if py.kind == "int" else "a floating-point type"
        return f"{py.name} is {what}, C {c.spelling} is a pointer"
    if py.kind == "void_p":
        return None
    if py.kind == "char_p":
        if pointee.kind == "void" or (pointee.kind == "int" and pointee.size == 1):
            return None
        return f"c_char_p points to bytes, C {c.spelling} points to {pointee.spelling}"
    if py.kind == "wchar_p":
        if pointee.kind == "void" or (pointee.kind == "int" and pointee.size == 4):
            return None
        return f"c_wchar_p points to wchar_t, C {c.spelling} points to {pointee.spelling}"
    if py.kind == "ndpointer":
        if py.dtype is None:
            return None
        elem = dtype_elem(py.dtype)
        if elem is None:
            return None
        why = elem_mismatch(elem, pointee)
        return None if why is None else f"ndpointer(dtype={py.dtype}) holds {py.dtype}, C {c.spelling} points to {pointee.spelling}"
    if py.kind in ("pointer", "array") and py.elem is not None:
        if c.depth() != py.depth() and pointee.kind != "void" and py.elem.kind not in ("struct", "other"):
            return f"{py.name} has {py.depth()} level(s) of pointer, C {c.spelling} has {c.depth()}"
        if pointee.kind == "pointer" and py.elem.kind in ("pointer", "array") and pointee.pointee is not None:
            inner = _pointer_mismatch(py.elem, pointee)
            return None if inner is None else f"{py.name} does not fit C {c.spelling}: {inner}"
        why = elem_mismatch(py.elem, pointee)
        return None if why is None else f"{py.name} points to {py.elem.name}, C {c.spelling} points to {pointee.spelling}"
    return None


def mismatch(py: PyType, c: CType, *, is_return: bool = False) -> str | None:
    """Why ctypes type ``py`` does not marshal C type ``c``, in words; ``None`` when it does.

    ``py`` of kind ``none`` stands for ``restype = None`` (only right for a ``void`` return);
    unknown kinds (structures, callbacks, custom classes) are accepted.
    """
    if c.kind == "void":
        if is_return and py.kind != "none":
            return f"C returns void, restype {py.name} reads a value that is not there (use None)"
        return None
    if py.kind == "none":
        return f"None discards the C {c.spelling} result" if is_return else f"None is not a ctypes type for C {c.spelling}"
    if py.kind in ("struct", "other"):
        return None
    if c.kind == "pointer":
        return _pointer_mismatch(py, c)
    if c.kind in ("int", "float"):
        return _scalar_mismatch(py, c)
    return None
