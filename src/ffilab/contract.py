"""The argument contract every route enforces: one place that says what each kernel accepts.

The pure-Python reference defines the behaviour of every kernel; this module states the part of
that behaviour that concerns *inputs* so that the Python-level routes (python, numpy, ctypes,
cffi_abi, cffi_api) share one implementation and the native routes (cython, pybind11, capi) can be
checked against it.  The rules, in one table:

==========================  =============================================  ===============
input                       rule                                           violation
==========================  =============================================  ===============
integer argument            ``operator.index(x)`` must work (int, bool,    TypeError
                            numpy integer); 2.5, "3", None are rejected
integer below its minimum   ``n < 0`` (``k < 0``)                          ValueError
integer above its maximum   ``n > SUM_OF_SQUARES_MAX_N`` and so on         OverflowError
real argument               float, int or anything with ``__float__`` or   TypeError
                            ``__index__`` (what ``PyFloat_AsDouble``
                            accepts); str, bytes, None, complex rejected
real argument too large     an int beyond the float range                  OverflowError
array argument, wrong type  not a ``numpy.ndarray`` (lists, memoryviews)   TypeError
array of the wrong dtype    anything but native-endian float64             TypeError
array of the wrong shape    wrong ``ndim``, or not ``(n, 2)`` for points   ValueError
non-contiguous array        not C-contiguous (stride 2, negative stride)   ValueError
unaligned array             data not aligned for float64 (``offset=1``)    ValueError
read-only array             passed to an in-place kernel                   ValueError
length mismatch             two arrays that must be equally long           ValueError
``k > n``                   ``find_nearest_k``                             ValueError
==========================  =============================================  ===============

Calling convention: the single argument of ``sum_of_squares``, ``circle_area``,
``compute_distances``, ``primes``, ``fast_sum``, ``fast_norm`` and ``Accumulator.add`` is
positional-only (a keyword call is a TypeError) in every route, the reference included, so that
the C API route can take it with ``METH_O``, the cheapest calling convention.  Every other argument
may be passed by keyword, under the reference's names.

Order of the checks, the same in every route: first every conversion that can run Python code
(a real's ``__float__``, an integer's ``__index__``), in argument order; then the arrays, in
argument order; last the ranges that depend on an array's length (``k <= n``).  A conversion may
make an array read-only, resize it or raise: checking the arrays after it means no route can
write into, or read past, an array that changed after its check.  Arrays are checked on, and
used through, their base-class view: a subclass's Python-level ``shape``, ``dtype`` or ``flags``
may lie, the C struct native code reads cannot.

Real arguments follow ``PyFloat_AsDouble`` exactly, so that the native routes need no rule of
their own: NumPy complex scalars, which define ``__float__``, are accepted with NumPy's
``ComplexWarning`` (the imaginary part is dropped), Python's ``complex`` is rejected; a float
subclass is read as its stored value even when it overrides ``__float__``.  Integers follow
``PyNumber_Index``: an int subclass is its stored value, whatever its ``__index__`` says.

Why reject rather than convert: an in-place kernel that silently converts (float32 to float64,
strided to contiguous) writes into a temporary copy and the caller's array is never modified.
Rejecting every non-conforming array in every kernel keeps one simple rule for all routes.

Why the integer maxima: ``sum_of_squares`` squares ``i < n`` in an unsigned 64-bit integer and
sums in 128 bits, which is exact for every ``n <= 2**32`` (``(2**32 - 1)**2 < 2**64``; the sum is
below ``2**95``).  ``primes`` counts in int64 and its trial division is quadratic, so a bound of
``2**31 - 1`` (the lesson's C ``int``) loses nothing a user could wait for.  The reference
enforces the same bounds so that every route answers the same input the same way.
"""

from __future__ import annotations

import functools
import hashlib
import math
import operator
import sys
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

from ffilab import _cache

__all__ = [
    "CHAR_DIGIT",
    "CHAR_FOLDED",
    "CHAR_JOINER",
    "CHAR_WORD",
    "EARTH_RADIUS_KM",
    "NUM_TOKEN",
    "PRIMES_MAX_N",
    "TOKEN_JOINERS",
    "TOKEN_MAX_CHARS",
    "SUM_OF_SQUARES_MAX_N",
    "as_index",
    "as_real",
    "check_array",
    "check_points",
    "check_same_length",
    "check_k",
    "check_nearest",
    "check_query",
    "check_texts",
    "char_classes",
    "is_word_char",
    "nearest_order_key",
]

#: Largest ``n`` accepted by ``sum_of_squares``: every ``i * i`` with ``i < n`` fits in uint64.
SUM_OF_SQUARES_MAX_N = 2**32
#: Largest ``n`` accepted by ``primes`` (the lesson's C ``int``).
PRIMES_MAX_N = 2**31 - 1
#: Mean Earth radius used by every haversine kernel, in kilometres.
EARTH_RADIUS_KM = 6371.0

_FLOAT64 = np.dtype(np.float64)


def as_index(func: str, name: str, value: Any, *, minimum: int | None = 0, maximum: int | None = None) -> int:
    """Return ``value`` as a Python int, or raise the contract's exception.

    Parameters
    ----------
    func, name : str
        Kernel and argument name, used in the error message.
    value : object
        Anything implementing ``__index__``.
    minimum, maximum : int or None
        Inclusive bounds; below ``minimum`` raises ValueError, above ``maximum`` OverflowError;
        None checks the conversion alone.

    Raises
    ------
    TypeError
        ``value`` is not an integer (``2.5``, ``"3"``, ``None``).
    ValueError
        ``value < minimum``.
    OverflowError
        ``value > maximum``.
    """
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{func}: {name} must be an integer, got {type(value).__name__}"
        ) from None
    if minimum is not None and n < minimum:
        raise ValueError(f"{func}: {name} must be >= {minimum}, got {_show_int(n)}")
    if maximum is not None and n > maximum:
        raise OverflowError(f"{func}: {name} must be <= {maximum}, got {_show_int(n)}")
    return n


def _show_int(n: int) -> str:
    # str() of an int past 4300 digits raises ValueError (CPython's limit), which would replace
    # the contract's exception by another: describe huge values by their size instead.
    return str(n) if n.bit_length() <= 256 else f"an integer of {n.bit_length()} bits"


def as_real(func: str, name: str, value: Any) -> float:
    """Return ``value`` as a Python float with ``PyFloat_AsDouble``'s rules.

    Accepts float, int, and any object whose type defines ``__float__`` or ``__index__``.
    Strings are rejected even though ``float("3")`` would parse them: a kernel argument is a
    number, not text, and C-level conversions (``PyFloat_AsDouble``) reject them too.

    Raises
    ------
    TypeError
        ``value`` is not a real number.
    OverflowError
        ``value`` is an int too large for a float.
    """
    tp = type(value)
    if tp is float:
        return value
    if issubclass(tp, float):
        # PyFloat_AsDouble reads a float subclass's own value and never calls an overridden
        # __float__, and every native route converts with it: so does the contract.  (float(x)
        # would call the override: F(1.0) with a __float__ returning 42.0 gave two answers.)
        # float.__float__ unbound returns that stored value, whatever the subclass defines.
        return float.__float__(value)
    if hasattr(tp, "__float__") or hasattr(tp, "__index__"):
        try:
            return float(value if hasattr(tp, "__float__") else operator.index(value))
        except OverflowError:
            raise OverflowError(f"{func}: {name} is too large to convert to float") from None
    raise TypeError(f"{func}: {name} must be a real number, got {tp.__name__}")


def _describe(arr: Any) -> str:
    if isinstance(arr, np.ndarray):
        return f"{arr.dtype} array of shape {arr.shape}"
    return type(arr).__name__


def _plain_view(func: str, name: str, arr: Any, what: str) -> np.ndarray:
    """Return the base-class ndarray view of ``arr``'s memory, or raise TypeError.

    Why: a subclass can redefine ``shape``, ``dtype``, ``flags``, ``strides``, ``size``,
    ``ctypes`` or ``__len__`` as properties that say anything, while native code reads the
    array's C struct.  Everything is checked on, and taken from, this view, never the object:
    a wrapper that checked the object and then handed C its buffer with the *claimed* length
    read past the end of the memory.  ``type()`` (not ``isinstance``, which a ``__class__``
    property can fool) decides what the object is; ``np.ndarray.view`` unbound cannot be
    overridden and runs no Python code of the subclass.
    """
    tp = type(arr)
    if tp is np.ndarray:
        return arr
    if not issubclass(tp, np.ndarray):
        raise TypeError(f"{func}: {name} must be {what}, got {tp.__name__}")
    return np.ndarray.view(arr, np.ndarray)


def check_array(func: str, name: str, arr: Any, *, writable: bool = False) -> np.ndarray:
    """Check that ``arr`` is a 1-D C-contiguous native float64 ``numpy.ndarray``.

    Parameters
    ----------
    func, name : str
        Kernel and argument name, used in the error message.
    arr : object
        The candidate array.
    writable : bool
        Require a writable array (in-place kernels).

    Returns
    -------
    numpy.ndarray
        ``arr`` as a base-class ndarray: a view of the same memory, never a copy.  A subclass
        (masked array, matrix) is thereby read and written as its raw data, as native code does.
        Callers take length, dtype and data pointer from this view only (see ``_plain_view``).

    Raises
    ------
    TypeError
        Not an ndarray, or not native float64.
    ValueError
        Not 1-D, not C-contiguous, or read-only when ``writable``.
    """
    raw = _check_float64(func, name, arr, writable=writable)
    if raw.ndim != 1:
        raise ValueError(f"{func}: {name} must be 1-D, got {_describe(raw)}")
    return raw


def check_points(func: str, name: str, arr: Any) -> np.ndarray:
    """Check that ``arr`` is an ``(n, 2)`` C-contiguous native float64 ``numpy.ndarray``.

    Returns the base-class view, as :func:`check_array` does.
    """
    raw = _check_float64(func, name, arr, writable=False)
    if raw.ndim != 2 or raw.shape[1] != 2:
        raise ValueError(f"{func}: {name} must have shape (n, 2), got {_describe(raw)}")
    return raw


def _check_float64(func: str, name: str, arr: Any, *, writable: bool) -> np.ndarray:
    what = "a writable C-contiguous float64 array" if writable else "a C-contiguous float64 array"
    raw = _plain_view(func, name, arr, what)
    if raw.dtype != _FLOAT64:
        raise TypeError(f"{func}: {name} must be {what}, got {_describe(raw)}")
    if not raw.flags.c_contiguous:
        raise ValueError(f"{func}: {name} must be {what}, got a non-contiguous array")
    if not raw.flags.aligned:
        # Reading a misaligned double through double* is undefined behaviour in C.
        raise ValueError(f"{func}: {name} must be {what}, got a misaligned array")
    if writable and not raw.flags.writeable:
        raise ValueError(f"{func}: {name} must be {what}, got a read-only array")
    return raw


def check_same_length(func: str, a: np.ndarray, b: np.ndarray, names: str = "a and b") -> None:
    """Raise ValueError unless the two 1-D arrays are equally long."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{func}: {names} must have the same length, got {a.shape[0]} and {b.shape[0]}")


def check_query(func: str, lat: Any, lon: Any, lats: Any, lons: Any) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Check the arguments shared by the many-point haversine kernels, in the reference's order.

    The query point is converted first: its ``__float__`` may run Python code that changes
    ``lats`` or ``lons``, so the arrays are checked only after every conversion.

    Returns
    -------
    lat, lon : float
        The query point as floats.
    lats, lons : numpy.ndarray
        The checked base-class views (never copies).
    """
    lat0 = as_real(func, "lat", lat)
    lon0 = as_real(func, "lon", lon)
    raw_lats = check_array(func, "lats", lats)
    raw_lons = check_array(func, "lons", lons)
    check_same_length(func, raw_lats, raw_lons, "lats and lons")
    return lat0, lon0, raw_lats, raw_lons


def check_nearest(
    func: str, lat: Any, lon: Any, lats: Any, lons: Any, k: Any
) -> tuple[float, float, np.ndarray, np.ndarray, int]:
    """Check the arguments of ``find_nearest_k`` in the order every route follows.

    Every conversion that can run Python code (``lat``, ``lon``, then ``k``'s ``__index__``)
    comes before the arrays are checked; ``k``'s range (``0 <= k <= n``, ValueError) is checked
    last, once ``n`` is known.
    """
    lat0 = as_real(func, "lat", lat)
    lon0 = as_real(func, "lon", lon)
    kk = as_index(func, "k", k, minimum=None)  # the conversion alone: TypeError
    raw_lats = check_array(func, "lats", lats)
    raw_lons = check_array(func, "lons", lons)
    check_same_length(func, raw_lats, raw_lons, "lats and lons")
    return lat0, lon0, raw_lats, raw_lons, check_k(func, kk, raw_lats.shape[0])


def check_k(func: str, k: Any, n: int) -> int:
    """Return ``k`` as an int in ``0..n``; TypeError for non-integers, ValueError otherwise."""
    kk = as_index(func, "k", k, minimum=0)
    if kk > n:
        raise ValueError(f"{func}: k must be <= the number of points ({n}), got {_show_int(kk)}")
    return kk


def nearest_order_key(distance: float, index: int) -> tuple[int, float, int]:
    """Sort key of ``find_nearest_k``: by distance, NaN last, ties broken by index.

    Every route orders its result exactly like ``sorted(range(n), key=...)`` with this key.
    """
    if math.isnan(distance):
        return (1, 0.0, index)
    return (0, distance, index)


# --- The tokenizer contract (kernel ``tokenize_batch``) ---------------------------------------
#
# Per text: NFKC normalisation, then ``str.casefold`` (not ``lower``: "Straße" -> "strasse").
# A token is a maximal run of word characters in which a joiner (apostrophe, hyphen, zero-width
# (non-)joiner) standing *between two word characters* joins: "don't", "state-of-the-art", Persian
# words written with ZWNJ.  A token longer than TOKEN_MAX_CHARS code points is dropped; a token of
# digits only becomes NUM_TOKEN.  Python's Unicode database (``unicodedata``, ``str`` methods of
# the running interpreter) is the truth; native routes read it through ``char_classes()``.
#
# Why word characters include marks: Python's ``re`` ``\w`` is ``isalnum() or "_"``, which splits
# Devanagari, Thai or any text with combining marks inside words ("नमस्ते" -> "नमस", "त").  UTS #18's
# word character adds the marks (Mn, Mc, Me) and connector punctuation (Pc, which holds "_"); the
# join controls ZWNJ/ZWJ that UTS #18 also counts are joiners here, so that emoji joined by ZWJ do
# not leave one-character tokens of ZWJ behind.

#: Longest token kept, in code points after normalisation and case folding; longer ones are dropped.
TOKEN_MAX_CHARS = 64
#: What a token of digits only (``str.isdigit``) becomes.
NUM_TOKEN = "<num>"
#: Characters that join two word characters into one token: apostrophe, right single quotation
#: mark (the typographic apostrophe), hyphen-minus, hyphen, zero-width non-joiner, zero-width joiner.
TOKEN_JOINERS = "'\u2019-\u2010\u200c\u200d"
_WORD_CATEGORIES = frozenset({"Mn", "Mc", "Me", "Pc"})

#: Bits of :func:`char_classes`.
CHAR_WORD = 1
CHAR_DIGIT = 2
CHAR_JOINER = 4
CHAR_FOLDED = 8


def is_word_char(c: str) -> bool:
    """Return whether the one-character string ``c`` is a word character of the tokenizer.

    Letters and numbers (``str.isalnum``), marks (Mn, Mc, Me) and connector punctuation (Pc).
    """
    return c.isalnum() or unicodedata.category(c) in _WORD_CATEGORIES


@functools.cache
def char_classes() -> bytes:
    """Return the tokenizer's class of every code point, one byte each (``0x110000`` bytes).

    Byte ``cp`` holds :data:`CHAR_WORD` if ``chr(cp)`` is a word character (:func:`is_word_char`),
    :data:`CHAR_DIGIT` if ``chr(cp).isdigit()``, :data:`CHAR_JOINER` if it is in
    :data:`TOKEN_JOINERS` and :data:`CHAR_FOLDED` if ``chr(cp).casefold() == chr(cp)``.  Case
    folding maps each character on its own (no context), so a str whose characters all have
    :data:`CHAR_FOLDED` is its own case folding and a route may skip ``str.casefold`` for it.
    Native routes look characters up here instead of carrying a Unicode database of their own, so
    every route follows the running interpreter's Unicode version.

    Computing the table asks the interpreter about every code point (about 0.4 s), which every
    tokenizing process — each pipeline or Dask worker — would pay at its first batch.  So it is
    kept in ffilab's cache directory (:func:`ffilab._cache.cache_dir`) under a fingerprint of
    this module's source, the interpreter and its Unicode version, with a checksum of the table:
    a stale or damaged file is never used, only computed again.  An unwritable cache directory
    costs the time and nothing else.
    """
    return _load_char_classes(_cache.cache_dir())


def _compute_char_classes() -> bytes:
    table = bytearray(0x110000)
    for cp in range(0x110000):
        c = chr(cp)
        table[cp] = ((CHAR_WORD if is_word_char(c) else 0) | (CHAR_DIGIT if c.isdigit() else 0)
                     | (CHAR_FOLDED if c.casefold() == c else 0))
    for c in TOKEN_JOINERS:
        table[ord(c)] |= CHAR_JOINER
    return bytes(table)


_CHAR_CLASSES_MAGIC = b"ffilab-char-classes-1\n"


def _char_classes_fingerprint() -> bytes:
    # Everything the table is made from: this module's definitions (its source), and the
    # interpreter whose str methods and unicodedata answer the questions.
    h = hashlib.sha256()
    for part in (Path(__file__).read_bytes(), sys.version.encode(), sys.implementation.name.encode(),
                 unicodedata.unidata_version.encode()):
        h.update(len(part).to_bytes(8, "little") + part)
    return h.digest()


def _load_char_classes(directory: Path) -> bytes:
    """The table from ``directory`` when a file there matches; else computed and written there."""
    fingerprint = _char_classes_fingerprint()
    path = directory / f"char-classes-{fingerprint.hex()[:16]}.bin"
    header = len(_CHAR_CLASSES_MAGIC) + 2 * hashlib.sha256().digest_size
    try:
        data = path.read_bytes()
    except OSError:
        data = b""
    if len(data) == header + 0x110000 and data.startswith(_CHAR_CLASSES_MAGIC + fingerprint):
        table = data[header:]
        if hashlib.sha256(table).digest() == data[header - hashlib.sha256().digest_size:header]:
            return table
    table = _compute_char_classes()
    try:
        _cache.write_atomic(path, lambda fh: fh.write(_CHAR_CLASSES_MAGIC + fingerprint
                                                      + hashlib.sha256(table).digest() + table))
    except OSError:
        pass  # no writable cache directory: the next process computes the table again
    return table


def check_texts(func: str, texts: Any) -> list[str]:
    """Return the items of ``texts`` as a new plain list if it is a list of str; else TypeError.

    A tuple or any other iterable is rejected: the kernels index a list directly.  Subclasses of
    ``list`` and ``str`` are read as their raw data (their methods are never called), as native
    code reads them; the copy also keeps every item alive whatever happens to ``texts`` later.
    """
    if not isinstance(texts, list):
        raise TypeError(f"{func}: texts must be a list of str, got {type(texts).__name__}")
    items = list(list.__iter__(texts))
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"{func}: texts[{i}] must be str, got {type(text).__name__}")
    return items
