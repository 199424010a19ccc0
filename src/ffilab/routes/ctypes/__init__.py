"""Route ``ctypes``: the C core (``libffilab_core``) loaded with the standard library's ctypes.

No compiled glue: every argument is marshalled at run time by ctypes from the ``argtypes`` and
``restype`` declared below.  ctypes checks neither array dtypes nor integer ranges (``c_int64``
silently wraps ``2**64 + 5`` to ``5``), so each kernel is a Python wrapper that enforces the
contract (``ffilab.contract``) before the call.  That wrapper is part of this route's cost and is
what a careful ctypes user must write anyway.  ctypes releases the GIL around every foreign call.
"""

from __future__ import annotations

import ctypes
import functools
import weakref
from ctypes import POINTER, byref, c_char_p, c_double, c_int, c_int64, c_uint64, c_void_p

import numpy as np

from ffilab import contract
from ffilab._registry import KERNELS
from ffilab.routes import _text_glue
from ffilab.routes._core_library import core_library_path
from ffilab.routes._cstatus import raise_for_status

# The kernels every route exports: one list, ffilab._registry.KERNELS.
__all__ = list(KERNELS)

_lib = ctypes.CDLL(str(core_library_path()))


def _declare(name: str, restype: object, *argtypes: object) -> ctypes._CFuncPtr:
    # Without argtypes/restype ctypes assumes C int everywhere: doubles and pointers would be
    # silently truncated (the lesson's "Always Set argtypes and restype").
    fn = getattr(_lib, name)
    fn.argtypes = list(argtypes)
    fn.restype = restype
    return fn


_sum_of_squares = _declare("ffl_sum_of_squares", c_int, c_int64, POINTER(c_uint64), POINTER(c_uint64))
_circle_area = _declare("ffl_circle_area", c_double, c_double)
_scale_array = _declare("ffl_scale_array", c_int, c_void_p, c_int64, c_double)
_compute_distances = _declare("ffl_compute_distances", c_void_p, c_void_p, c_int64)
_primes = _declare("ffl_primes", c_int, c_int64, POINTER(POINTER(c_int64)), POINTER(c_int64))
_free = _declare("ffl_free", None, c_void_p)
_fast_sum = _declare("ffl_fast_sum", c_double, c_void_p, c_int64)
_fast_dot = _declare("ffl_fast_dot", c_double, c_void_p, c_void_p, c_int64)
_fast_norm = _declare("ffl_fast_norm", c_double, c_void_p, c_int64)
_scale_and_shift = _declare("ffl_scale_and_shift", c_int, c_void_p, c_void_p, c_int64, c_double, c_double)
_haversine = _declare("ffl_haversine", c_double, c_double, c_double, c_double, c_double)
_haversine_many = _declare("ffl_haversine_many", c_int, c_double, c_double, c_void_p, c_void_p, c_int64, c_void_p)
_find_nearest_k = _declare(
    "ffl_find_nearest_k", c_int, c_double, c_double, c_void_p, c_void_p, c_int64, c_int64, c_void_p, c_void_p
)
_acc_new = _declare("ffl_acc_new", c_void_p, c_double)
_acc_free = _declare("ffl_acc_free", None, c_void_p)
_acc_add = _declare("ffl_acc_add", c_int, c_void_p, c_double)
_acc_mean = _declare("ffl_acc_mean", c_double, c_void_p)
_acc_count = _declare("ffl_acc_count", c_int64, c_void_p)
_acc_total = _declare("ffl_acc_total", c_double, c_void_p)
# c_char_p for the two byte buffers: ctypes passes a bytes object's own memory, without a copy.
_tokenize_spans = _declare(
    "ffl_tokenize_spans",
    c_int64,
    c_char_p, c_int, c_void_p, c_int64, c_char_p, c_int64, c_void_p, c_void_p, c_int64, c_void_p,
)


@functools.cache
def _char_classes() -> c_char_p:
    # Built on first use (the table takes about 0.4 s), then passed as is on every call:
    # from_param of a c_char_p is the argument itself, and it keeps the 1.1 MB table alive.
    return c_char_p(contract.char_classes())


def sum_of_squares(n: int, /) -> int:
    """Return the exact sum of ``i * i`` for ``0 <= i < n`` (see the reference)."""
    n = contract.as_index("sum_of_squares", "n", n, maximum=contract.SUM_OF_SQUARES_MAX_N)
    hi, lo = c_uint64(), c_uint64()
    raise_for_status("sum_of_squares", _sum_of_squares(n, byref(hi), byref(lo)))
    return (hi.value << 64) | lo.value


def circle_area(radius: float, /) -> float:
    """Return ``pi * radius * radius``."""
    return _circle_area(contract.as_real("circle_area", "radius", radius))


def scale_array(arr: np.ndarray, factor: float) -> None:
    """Multiply the writable float64 array ``arr`` by ``factor`` in place."""
    f = contract.as_real("scale_array", "factor", factor)
    # Length and address come from the contract's checked base-class view, never from `arr`
    # itself, whose attributes a subclass can redefine.
    raw = contract.check_array("scale_array", "arr", arr, writable=True)
    raise_for_status("scale_array", _scale_array(raw.ctypes.data, raw.shape[0], f))


def compute_distances(points: np.ndarray, /) -> np.ndarray:
    """Return the distances from the origin of the rows of ``points`` (shape ``(n, 2)``).

    The result buffer is allocated by C (``malloc``) and handed to NumPy without a copy: the
    array's base is a ctypes array over that memory, and a finalizer on it calls ``ffl_free``
    when the last view of the buffer dies.
    """
    raw = contract.check_points("compute_distances", "points", points)
    n = raw.shape[0]
    address = _compute_distances(raw.ctypes.data, n)
    if not address:
        raise MemoryError("compute_distances: the C core could not allocate the result")
    owner = (c_double * n).from_address(address)
    weakref.finalize(owner, _free, address)
    return np.frombuffer(owner, dtype=np.float64)


def primes(n: int, /) -> list[int]:
    """Return the primes below ``n`` by the lesson's trial division."""
    n = contract.as_index("primes", "n", n, maximum=contract.PRIMES_MAX_N)
    out = POINTER(c_int64)()
    count = c_int64()
    raise_for_status("primes", _primes(n, byref(out), byref(count)))
    try:
        return np.ctypeslib.as_array(out, shape=(count.value,)).tolist() if count.value else []
    finally:
        _free(out)


def fast_sum(a: np.ndarray, /) -> float:
    """Return the left-to-right sum of ``a``."""
    raw = contract.check_array("fast_sum", "a", a)
    return _fast_sum(raw.ctypes.data, raw.shape[0])


def fast_dot(a: np.ndarray, b: np.ndarray) -> float:
    """Return the dot product of equally long ``a`` and ``b``."""
    raw_a = contract.check_array("fast_dot", "a", a)
    raw_b = contract.check_array("fast_dot", "b", b)
    contract.check_same_length("fast_dot", raw_a, raw_b)
    return _fast_dot(raw_a.ctypes.data, raw_b.ctypes.data, raw_a.shape[0])


def fast_norm(a: np.ndarray, /) -> float:
    """Return ``sqrt(sum(x * x))`` of ``a``."""
    raw = contract.check_array("fast_norm", "a", a)
    return _fast_norm(raw.ctypes.data, raw.shape[0])


def scale_and_shift(a: np.ndarray, scale: float, shift: float = 0.0) -> np.ndarray:
    """Return a new array ``a * scale + shift``."""
    s = contract.as_real("scale_and_shift", "scale", scale)
    t = contract.as_real("scale_and_shift", "shift", shift)
    raw = contract.check_array("scale_and_shift", "a", a)
    out = np.empty(raw.shape[0], dtype=np.float64)
    raise_for_status("scale_and_shift", _scale_and_shift(raw.ctypes.data, out.ctypes.data, raw.shape[0], s, t))
    return out


class Accumulator:
    """Running total and count, kept in a C ``ffl_accumulator`` behind an opaque handle.

    The handle is released by a ``weakref.finalize`` when the object dies (or at interpreter
    exit), so no C memory outlives its Python owner.
    """

    __slots__ = ("_handle", "_finalizer", "__weakref__")

    def __init__(self, initial: float = 0.0) -> None:
        value = contract.as_real("Accumulator", "initial", initial)
        handle = _acc_new(value)
        if not handle:
            raise MemoryError("Accumulator: the C core could not allocate an accumulator")
        self._handle = handle
        self._finalizer = weakref.finalize(self, _acc_free, handle)

    def add(self, value: float, /) -> None:
        """Add ``value`` to the total and count it."""
        _acc_add(self._handle, contract.as_real("Accumulator.add", "value", value))

    def mean(self) -> float:
        """Return ``total / count``, or 0.0 when nothing was added."""
        return _acc_mean(self._handle)

    @property
    def count(self) -> int:
        """Number of values added (read-only)."""
        return _acc_count(self._handle)

    @property
    def total(self) -> float:
        """Current total (read-only)."""
        return _acc_total(self._handle)

    def __repr__(self) -> str:
        return f"<Accumulator count={self.count} total={self.total!r}>"


def haversine_distance(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance in km between two points in degrees."""
    f = "haversine_distance"
    return _haversine(
        contract.as_real(f, "lat1", lat1),
        contract.as_real(f, "lon1", lon1),
        contract.as_real(f, "lat2", lat2),
        contract.as_real(f, "lon2", lon2),
    )


def haversine_many(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Return the distance in km from ``(lat, lon)`` to every ``(lats[i], lons[i])``."""
    f = "haversine_many"
    lat0, lon0, raw_lats, raw_lons = contract.check_query(f, lat, lon, lats, lons)
    n = raw_lats.shape[0]
    out = np.empty(n, dtype=np.float64)
    raise_for_status(f, _haversine_many(lat0, lon0, raw_lats.ctypes.data, raw_lons.ctypes.data, n, out.ctypes.data))
    return out


def find_nearest_k(
    lat: float, lon: float, lats: np.ndarray, lons: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(indices, distances)`` of the ``k`` nearest points, nearest first."""
    f = "find_nearest_k"
    lat0, lon0, raw_lats, raw_lons, kk = contract.check_nearest(f, lat, lon, lats, lons, k)
    idx = np.empty(kk, dtype=np.int64)
    dist = np.empty(kk, dtype=np.float64)
    status = _find_nearest_k(
        lat0, lon0, raw_lats.ctypes.data, raw_lons.ctypes.data, raw_lats.shape[0], kk, idx.ctypes.data, dist.ctypes.data
    )
    raise_for_status(f, status)
    return idx, dist


def tokenize_batch(texts: list[str], /) -> list[list[str]]:
    """Return the tokens of every text (the contract of ``ffilab.contract``; see the reference).

    Normalisation and the result lists are made in Python (``ffilab.routes._text_glue``); the
    scan for token boundaries is one call of the C core per batch, without the GIL.
    """
    # check_texts returns a plain list of the items: a list subclass is read as its raw data.
    items = contract.check_texts("tokenize_batch", texts)
    b = _text_glue.prepare(items)
    n_tokens = _tokenize_spans(
        b.data, b.kind, b.offsets.ctypes.data, b.n_texts, _char_classes(), contract.TOKEN_MAX_CHARS,
        b.spans.ctypes.data, b.is_num.ctypes.data, b.capacity, b.counts.ctypes.data,
    )
    return _text_glue.finish("tokenize_batch", b, n_tokens)
