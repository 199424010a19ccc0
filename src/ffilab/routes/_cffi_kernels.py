"""The Python wrappers of both cffi routes, written once over any ``ffi``/``lib`` pair.

``cffi_abi`` (``ffi.dlopen`` of ``libffilab_core``) and ``cffi_api`` (a compiled cffi extension
holding the C core) hand their own ``ffi`` and ``lib`` to :func:`make_kernels` and export what it
returns.  The wrapper code is therefore identical in the two routes: a measured difference between
them is the difference between ABI-mode and API-mode calls, nothing else.

cffi checks neither NumPy dtypes (``ffi.from_buffer("double[]", a)`` happily reinterprets an int64
or float32 buffer) nor the contract's integer ranges, so every wrapper runs the contract checks of
``ffilab.contract`` first, in the reference's order, and only then calls ``lib.ffl_*``.  cffi
releases the GIL around every call into C, in both modes.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from ffilab import contract
from ffilab.routes import _text_glue
from ffilab.routes._cstatus import raise_for_status

__all__ = ["CffiKernels", "make_kernels"]


class CffiKernels(NamedTuple):
    """The kernels of one cffi route, one field per name in ``ffilab.KERNELS``."""

    sum_of_squares: Callable[[Any], int]
    circle_area: Callable[[Any], float]
    scale_array: Callable[[np.ndarray, Any], None]
    compute_distances: Callable[[np.ndarray], np.ndarray]
    primes: Callable[[Any], list[int]]
    fast_sum: Callable[[np.ndarray], float]
    fast_dot: Callable[[np.ndarray, np.ndarray], float]
    fast_norm: Callable[[np.ndarray], float]
    scale_and_shift: Callable[..., np.ndarray]
    Accumulator: type
    haversine_distance: Callable[[Any, Any, Any, Any], float]
    haversine_many: Callable[[Any, Any, np.ndarray, np.ndarray], np.ndarray]
    find_nearest_k: Callable[[Any, Any, np.ndarray, np.ndarray, Any], tuple[np.ndarray, np.ndarray]]
    tokenize_batch: Callable[[list[str]], list[list[str]]]


def make_kernels(ffi: Any, lib: Any, module: str) -> CffiKernels:
    """Build the kernels of a cffi route over ``lib``.

    Parameters
    ----------
    ffi : cffi.FFI
        The FFI object that declared ``lib`` (ABI mode) or the compiled module's ``ffi`` (API mode).
    lib : object
        The library whose ``ffl_*`` functions the kernels call.
    module : str
        Name of the route module; set as ``__module__`` of every kernel so that ``help()``,
        ``repr`` and tracebacks name the route the kernel belongs to.

    Returns
    -------
    CffiKernels
        One callable (or class) per kernel name.
    """
    # Looked up once here, not on every call: both routes pay the same (small) cost per call.
    from_buffer = ffi.from_buffer
    null = ffi.NULL
    new = ffi.new
    gc = ffi.gc
    buffer = ffi.buffer
    unpack = ffi.unpack
    # A parsed type is a little faster in from_buffer than the string it would re-look-up.
    double_array = ffi.typeof("double[]")
    int64_array = ffi.typeof("int64_t[]")
    uint8_array = ffi.typeof("uint8_t[]")

    _sum_of_squares = lib.ffl_sum_of_squares
    _circle_area = lib.ffl_circle_area
    _scale_array = lib.ffl_scale_array
    _compute_distances = lib.ffl_compute_distances
    _primes = lib.ffl_primes
    _free = lib.ffl_free
    _fast_sum = lib.ffl_fast_sum
    _fast_dot = lib.ffl_fast_dot
    _fast_norm = lib.ffl_fast_norm
    _scale_and_shift = lib.ffl_scale_and_shift
    _haversine = lib.ffl_haversine
    _haversine_many = lib.ffl_haversine_many
    _find_nearest_k = lib.ffl_find_nearest_k
    _acc_new = lib.ffl_acc_new
    _acc_free = lib.ffl_acc_free
    _acc_add = lib.ffl_acc_add
    _acc_mean = lib.ffl_acc_mean
    _acc_count = lib.ffl_acc_count
    _acc_total = lib.ffl_acc_total
    _tokenize_spans = lib.ffl_tokenize_spans
    # The class table as a cdata over the bytes themselves (no copy), made at the first call (the
    # table takes about 0.4 s to build) and reused: the cdata keeps the 1.1 MB table alive.
    char_classes: list[Any] = []

    # Arrays reach C through ffi.from_buffer rather than ffi.cast("double *", a.ctypes.data):
    # it is about four times faster (a buffer-protocol request instead of building a ctypes
    # helper object per call), it pins the memory for as long as the cdata lives, and with
    # require_writable=True it refuses a read-only buffer by itself.  It does NOT check the
    # dtype, which is why the contract check always comes first.  The cdata is created inside
    # the call expression so that it (and its buffer export) is released as soon as the call
    # returns, even when the status then raises; the caller's array keeps the memory alive.

    def sum_of_squares(n: Any, /) -> int:
        """Return the exact sum of ``i * i`` for ``0 <= i < n`` (128-bit loop in C).

        Parameters
        ----------
        n : int
            Number of terms, ``0 <= n <= 2**32``.

        Returns
        -------
        int
            The exact sum, assembled from the core's two 64-bit halves.
        """
        # The contract's check precedes the call: cffi itself would pass any int64 through
        # (-1 included) and raise OverflowError only beyond 2**63 - 1.
        n = contract.as_index("sum_of_squares", "n", n, maximum=contract.SUM_OF_SQUARES_MAX_N)
        halves = new("uint64_t[2]")
        raise_for_status("sum_of_squares", _sum_of_squares(n, halves, halves + 1))
        return (halves[0] << 64) | halves[1]

    def circle_area(radius: Any, /) -> float:
        """Return ``pi * radius * radius``."""
        return _circle_area(contract.as_real("circle_area", "radius", radius))

    def scale_array(arr: np.ndarray, factor: Any) -> None:
        """Multiply the writable float64 array ``arr`` by ``factor`` in place (returns None)."""
        f = contract.as_real("scale_array", "factor", factor)
        # Buffer and length come from the contract's checked base-class view, never from `arr`
        # itself, whose attributes a subclass can redefine.
        raw = contract.check_array("scale_array", "arr", arr, writable=True)
        raise_for_status("scale_array", _scale_array(from_buffer(double_array, raw, True), raw.shape[0], f))

    def compute_distances(points: np.ndarray, /) -> np.ndarray:
        """Return the distances from the origin of the rows of ``points`` (shape ``(n, 2)``).

        The result is the buffer the C core allocated, handed to NumPy without a copy: the array's
        base is an ``ffi.buffer`` that holds an ``ffi.gc`` pointer, whose destructor ``ffl_free``
        runs once, when the last view of the buffer dies.
        """
        pts = contract.check_points("compute_distances", "points", points)
        n = pts.shape[0]
        result = _compute_distances(from_buffer(double_array, pts), n)
        if result == null:
            raise MemoryError("compute_distances: the C core could not allocate the result")
        owned = gc(result, _free)
        return np.frombuffer(buffer(owned, n * 8), dtype=np.float64)

    def primes(n: Any, /) -> list[int]:
        """Return the primes below ``n`` by the lesson's trial division (``0 <= n <= 2**31 - 1``)."""
        n = contract.as_index("primes", "n", n, maximum=contract.PRIMES_MAX_N)
        out = new("int64_t **")
        count = new("int64_t *")
        status = _primes(n, out, count)
        try:
            raise_for_status("primes", status)
            # unpack copies into a list of Python ints in one C loop; the C buffer then goes.
            return unpack(out[0], count[0])
        finally:
            _free(out[0])  # NULL when the core failed; ffl_free(NULL) is a no-op

    def fast_sum(a: np.ndarray, /) -> float:
        """Return the left-to-right sum of ``a``."""
        raw = contract.check_array("fast_sum", "a", a)
        return _fast_sum(from_buffer(double_array, raw), raw.shape[0])

    def fast_dot(a: np.ndarray, b: np.ndarray) -> float:
        """Return the dot product of equally long ``a`` and ``b``, accumulated left to right."""
        raw_a = contract.check_array("fast_dot", "a", a)
        raw_b = contract.check_array("fast_dot", "b", b)
        contract.check_same_length("fast_dot", raw_a, raw_b)
        return _fast_dot(from_buffer(double_array, raw_a), from_buffer(double_array, raw_b), raw_a.shape[0])

    def fast_norm(a: np.ndarray, /) -> float:
        """Return ``sqrt(sum(x * x))`` of ``a`` (no rescaling)."""
        raw = contract.check_array("fast_norm", "a", a)
        return _fast_norm(from_buffer(double_array, raw), raw.shape[0])

    def scale_and_shift(a: np.ndarray, scale: Any, shift: Any = 0.0) -> np.ndarray:
        """Return a new array ``a * scale + shift``."""
        s = contract.as_real("scale_and_shift", "scale", scale)
        t = contract.as_real("scale_and_shift", "shift", shift)
        raw = contract.check_array("scale_and_shift", "a", a)
        n = raw.shape[0]
        out = np.empty(n, dtype=np.float64)
        status = _scale_and_shift(from_buffer(double_array, raw), from_buffer(double_array, out, True), n, s, t)
        raise_for_status("scale_and_shift", status)
        return out

    class Accumulator:
        """Running total and count, kept in a C ``ffl_accumulator`` behind an opaque handle.

        The handle is an ``ffi.gc`` pointer: ``ffl_acc_free`` runs exactly once, when the
        Accumulator (the handle's only owner) dies.

        Parameters
        ----------
        initial : float
            Starting total (the count starts at 0).
        """

        __slots__ = ("_handle",)

        def __init__(self, initial: Any = 0.0) -> None:
            value = contract.as_real("Accumulator", "initial", initial)
            raw = _acc_new(value)
            if raw == null:
                raise MemoryError("Accumulator: the C core could not allocate an accumulator")
            self._handle = gc(raw, _acc_free)

        def add(self, value: Any, /) -> None:
            """Add ``value`` to the total and count it."""
            v = contract.as_real("Accumulator.add", "value", value)
            raise_for_status("Accumulator.add", _acc_add(self._handle, v))

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

    def haversine_distance(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> float:
        """Return the great-circle distance in km between two points given in degrees."""
        f = "haversine_distance"
        return _haversine(
            contract.as_real(f, "lat1", lat1),
            contract.as_real(f, "lon1", lon1),
            contract.as_real(f, "lat2", lat2),
            contract.as_real(f, "lon2", lon2),
        )

    def haversine_many(lat: Any, lon: Any, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
        """Return the distance in km from ``(lat, lon)`` to every ``(lats[i], lons[i])``."""
        f = "haversine_many"
        lat0, lon0, raw_lats, raw_lons = contract.check_query(f, lat, lon, lats, lons)
        n = raw_lats.shape[0]
        out = np.empty(n, dtype=np.float64)
        status = _haversine_many(
            lat0, lon0, from_buffer(double_array, raw_lats), from_buffer(double_array, raw_lons), n,
            from_buffer(double_array, out, True),
        )
        raise_for_status(f, status)
        return out

    def find_nearest_k(
        lat: Any, lon: Any, lats: np.ndarray, lons: np.ndarray, k: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(indices, distances)`` of the ``k`` nearest points, nearest first.

        Ties are broken by the smaller index and NaN distances sort last, as in the reference.
        """
        f = "find_nearest_k"
        lat0, lon0, raw_lats, raw_lons, kk = contract.check_nearest(f, lat, lon, lats, lons, k)
        n = raw_lats.shape[0]
        idx = np.empty(kk, dtype=np.int64)
        dist = np.empty(kk, dtype=np.float64)
        status = _find_nearest_k(
            lat0, lon0, from_buffer(double_array, raw_lats), from_buffer(double_array, raw_lons), n, kk,
            from_buffer(int64_array, idx, True), from_buffer(double_array, dist, True),
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
        if not char_classes:
            char_classes.append(from_buffer(uint8_array, contract.char_classes()))
        b = _text_glue.prepare(items)
        n_tokens = _tokenize_spans(
            from_buffer(uint8_array, b.data), b.kind, from_buffer(int64_array, b.offsets), b.n_texts,
            char_classes[0], contract.TOKEN_MAX_CHARS, from_buffer(int64_array, b.spans, True),
            from_buffer(uint8_array, b.is_num, True), b.capacity, from_buffer(int64_array, b.counts, True),
        )
        return _text_glue.finish("tokenize_batch", b, n_tokens)

    kernels = CffiKernels(
        sum_of_squares=sum_of_squares,
        circle_area=circle_area,
        scale_array=scale_array,
        compute_distances=compute_distances,
        primes=primes,
        fast_sum=fast_sum,
        fast_dot=fast_dot,
        fast_norm=fast_norm,
        scale_and_shift=scale_and_shift,
        Accumulator=Accumulator,
        haversine_distance=haversine_distance,
        haversine_many=haversine_many,
        find_nearest_k=find_nearest_k,
        tokenize_batch=tokenize_batch,
    )
    # Defined inside this factory, the kernels would otherwise be named
    # "make_kernels.<locals>.sum_of_squares" in ffilab.routes._cffi_kernels.
    for name, obj in kernels._asdict().items():
        obj.__module__ = module
        obj.__qualname__ = name
    for name in ("__init__", "add", "mean", "__repr__"):
        method = getattr(Accumulator, name)
        method.__module__ = module
        method.__qualname__ = f"Accumulator.{name}"
    for name in ("count", "total"):
        getter = getattr(Accumulator, name).fget
        getter.__module__ = module
        getter.__qualname__ = f"Accumulator.{name}"
    return kernels
