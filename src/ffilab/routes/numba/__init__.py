"""Route ``numba``: the C core's loops as ``@njit(nogil=True)`` kernels, compiled by Numba at first call.

What this folder shows: a thin Python wrapper per kernel applies ``ffilab.contract`` (so the
route raises the reference's exception classes), then calls a Numba dispatcher in
``_kernels.py`` that runs the loop as machine code without the GIL.  The wrapper is needed:
raw Numba compiles a float64 version for ``2.5`` where the contract wants a TypeError, types
``2**63`` as uint64 and wraps it in int64 arithmetic, refuses ``2**64`` with its own TypingError
instead of OverflowError, and silently compiles a new specialisation for a float32 array (then
computes in float32), a strided one or a list, instead of rejecting them.  One Python layer per
call, like ctypes and cffi.

Compilation: lazy, on disk
    The kernels are declared without signatures and compile at their first call, so importing
    the route costs Numba's import only (``ffilab routes`` and the test suite import every
    route; explicit signatures would compile all thirteen kernels, seconds, at every import
    without a cache).  The wrappers pass one set of types (int64, float64, C-contiguous
    float64 arrays), so each kernel has one specialisation, plus a second one the first time it
    sees a read-only array (Numba types read-only arrays apart).  ``ffilab bench`` measures the
    first call of every kernel in a fresh process, with an empty cache and with a filled one,
    and reports it beside the import time, never inside a timed loop (see
    ``docs/results-format.md``, section ``first_call``).  Measured here: Numba's one-time
    set-up, about 0.4 s per process, then 0.12 s (``circle_area``) to 2.4 s
    (``find_nearest_k``) to compile a kernel, or 5 - 40 ms to load it from the cache.

    ``cache=True``: the compiled code is written to disk and loaded by later processes instead
    of being compiled again (the pyperf workers of ``ffilab bench`` are fresh processes).
    Where it lives: ``$NUMBA_CACHE_DIR`` if set; else ``__pycache__/`` beside ``_kernels.py`` (in
    site-packages) if writable; else the user's cache directory (``~/.cache/numba/`` on Linux);
    one ``.nbi`` index per function and one ``.nbc`` file per compiled signature.  An entry is
    keyed by the source file's content hash, the function's bytecode, the Numba version, the
    Python version and the CPU name and features, so an edit, an upgrade or another machine
    sharing a home directory never loads stale or foreign code.  When the package directory is
    read-only (a system install), Numba silently falls back to the user's cache directory; when
    no directory is writable at all, Numba would raise at import, so ``_kernels._jit`` decorates
    without the cache and the route compiles in every process (``_kernels.CACHED`` is then
    False).  None of these paths emits a NumbaWarning (the test suite turns warnings into
    errors): the cache warns only for functions that use "dynamic globals" such as a global
    array, which no kernel does.  ``pip uninstall`` leaves the ``.nbi``/``.nbc`` files behind
    (it removes only what it installed); they are keyed to the source, so a reinstall of other
    code never loads them.

Exact floats: no fastmath
    Numba compiles for the host CPU (like ``-march=native``), which here has FMA.  LLVM fuses a
    separate ``fmul`` and ``fadd`` into an FMA only when the IR carries the ``contract``
    fast-math flag, which Numba sets only with ``fastmath``; without it there is no FMA and no
    reassociated sum (no vectorised reduction), so the results equal the reference operation
    for operation.  ``tests/test_route_numba.py`` compiles every kernel in a fresh process
    (cached code cannot be disassembled) and fails on any fused multiply-add instruction.

Exact integers
    ``sum_of_squares`` accumulates in two uint64 limbs with an explicit carry (Numba has no
    128-bit integers); the wrapper combines them into a Python int, exact for every ``n <= 2**32``
    (the sum exceeds ``2**64`` from ``n ≈ 3.8e6``).  LLVM keeps the loop: it unrolls it by eight
    into ``add``/``adc`` pairs and finds no closed form (the carry is not a polynomial
    recurrence); the time doubles with n (``ffilab bench``'s guard measures it).

Accumulator: a Python class over a jitted helper, not a ``jitclass``
    Measured on this machine (2 cores, loaded): ``add`` costs 0.33 µs in this class (contract,
    then ``acc_add``) against 0.80 µs through a Python wrapper over a jitclass (0.72 µs calling
    a bare jitclass without the contract); creating one costs 0.19 µs against 5.5 µs.  A
    jitclass needs the wrapper anyway: its fields are writable from Python (``count`` must be
    read-only), it cannot define ``__repr__`` and it cannot be cached on disk, so it would be
    compiled (about 0.4 s) in every process.

Tokenizer: Python's Unicode work, then two jitted passes
    ``tokenize_batch`` normalises each text with Python's own ``unicodedata.normalize`` and
    ``str.casefold`` (the contract's truth; an ASCII batch is lowered in one call), joins the
    texts and hands their code points to ``tokenize_spans``, the C core's scanner line for line,
    and ``render_tokens``, which writes a string where ``str.split`` finds exactly the tokens.
    Numba has no Unicode database of its own to trust and cannot build Python strings without
    the GIL, so the lists are cut by ``str.split`` in C rather than by per-token slicing.

Results are the reference's types: Python ints and floats, ``list[int]`` for ``primes`` (an int64
array built by the kernel, converted once), and new arrays allocated by Numba's runtime (NRT) and
handed to NumPy without a copy.
"""

from __future__ import annotations

import functools
import sys
import unicodedata

import numpy as np

from ffilab import contract
from ffilab._registry import KERNELS
from ffilab.routes.numba._kernels import acc_add as _acc_add
from ffilab.routes.numba._kernels import acc_mean as _acc_mean
from ffilab.routes.numba._kernels import circle_area as _circle_area
from ffilab.routes.numba._kernels import compute_distances as _compute_distances
from ffilab.routes.numba._kernels import fast_dot as _fast_dot
from ffilab.routes.numba._kernels import fast_norm as _fast_norm
from ffilab.routes.numba._kernels import fast_sum as _fast_sum
from ffilab.routes.numba._kernels import find_nearest_k as _find_nearest_k
from ffilab.routes.numba._kernels import haversine as _haversine
from ffilab.routes.numba._kernels import haversine_many as _haversine_many
from ffilab.routes.numba._kernels import primes as _primes
from ffilab.routes.numba._kernels import render_tokens as _render_tokens
from ffilab.routes.numba._kernels import scale_and_shift as _scale_and_shift
from ffilab.routes.numba._kernels import scale_array as _scale_array
from ffilab.routes.numba._kernels import sum_of_squares as _sum_of_squares
from ffilab.routes.numba._kernels import tokenize_spans as _tokenize_spans

# The kernels every route exports: one list, ffilab._registry.KERNELS.
__all__ = list(KERNELS)


def sum_of_squares(n: int, /) -> int:
    """Return the exact sum of ``i * i`` for ``0 <= i < n``.

    Parameters
    ----------
    n : int
        Number of terms, ``0 <= n <= 2**32``.

    Returns
    -------
    int
        The exact sum, combined from the kernel's two uint64 limbs.

    Raises
    ------
    TypeError
        ``n`` is not an integer.
    ValueError
        ``n < 0``.
    OverflowError
        ``n > 2**32``.
    """
    n = contract.as_index("sum_of_squares", "n", n, maximum=contract.SUM_OF_SQUARES_MAX_N)
    hi, lo = _sum_of_squares(n)
    return (hi << 64) | lo


def circle_area(radius: float, /) -> float:
    """Return ``pi * radius * radius`` (evaluated left to right, as in C)."""
    return _circle_area(contract.as_real("circle_area", "radius", radius))


def scale_array(arr: np.ndarray, factor: float) -> None:
    """Multiply every element of the writable float64 array ``arr`` by ``factor``, in place."""
    f = contract.as_real("scale_array", "factor", factor)
    _scale_array(contract.check_array("scale_array", "arr", arr, writable=True), f)


def compute_distances(points: np.ndarray, /) -> np.ndarray:
    """Return the distance of each row of the ``(n, 2)`` array ``points`` from the origin."""
    return _compute_distances(contract.check_points("compute_distances", "points", points))


def primes(n: int, /) -> list[int]:
    """Return the primes below ``n`` by the lesson's trial division."""
    n = contract.as_index("primes", "n", n, maximum=contract.PRIMES_MAX_N)
    return _primes(n).tolist()


def fast_sum(a: np.ndarray, /) -> float:
    """Return the sum of ``a``, accumulated left to right."""
    return _fast_sum(contract.check_array("fast_sum", "a", a))


def fast_dot(a: np.ndarray, b: np.ndarray) -> float:
    """Return the dot product of equally long ``a`` and ``b``, accumulated left to right."""
    a = contract.check_array("fast_dot", "a", a)
    b = contract.check_array("fast_dot", "b", b)
    contract.check_same_length("fast_dot", a, b)
    return _fast_dot(a, b)


def fast_norm(a: np.ndarray, /) -> float:
    """Return the L2 norm ``sqrt(sum(x * x))`` of ``a`` (no rescaling: overflows like C)."""
    return _fast_norm(contract.check_array("fast_norm", "a", a))


def scale_and_shift(a: np.ndarray, scale: float, shift: float = 0.0) -> np.ndarray:
    """Return a new array ``a * scale + shift``."""
    s = contract.as_real("scale_and_shift", "scale", scale)
    t = contract.as_real("scale_and_shift", "shift", shift)
    return _scale_and_shift(contract.check_array("scale_and_shift", "a", a), s, t)


class Accumulator:
    """Running total and count of the values added to it.

    The state is a Python float and int; ``add`` and ``mean`` compute in jitted helpers (see the
    module docstring for why this is not a ``jitclass``).

    Parameters
    ----------
    initial : float
        Starting total (the count starts at 0).
    """

    __slots__ = ("_total", "_count")

    def __init__(self, initial: float = 0.0) -> None:
        self._total = contract.as_real("Accumulator", "initial", initial)
        self._count = 0

    def add(self, value: float, /) -> None:
        """Add ``value`` to the total and count it."""
        self._total = _acc_add(self._total, contract.as_real("Accumulator.add", "value", value))
        self._count += 1

    def mean(self) -> float:
        """Return ``total / count``, or 0.0 when nothing was added."""
        return _acc_mean(self._total, self._count)

    @property
    def count(self) -> int:
        """Number of values added (read-only)."""
        return self._count

    @property
    def total(self) -> float:
        """Current total (read-only)."""
        return self._total

    def __repr__(self) -> str:
        return f"<Accumulator count={self._count} total={self._total!r}>"


def haversine_distance(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance in km between two points given in degrees (R = 6371)."""
    f = "haversine_distance"
    return _haversine(
        contract.as_real(f, "lat1", lat1),
        contract.as_real(f, "lon1", lon1),
        contract.as_real(f, "lat2", lat2),
        contract.as_real(f, "lon2", lon2),
    )


def haversine_many(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Return the distance in km from ``(lat, lon)`` to every ``(lats[i], lons[i])``."""
    lat0, lon0, raw_lats, raw_lons = contract.check_query("haversine_many", lat, lon, lats, lons)
    return _haversine_many(lat0, lon0, raw_lats, raw_lons)


def find_nearest_k(
    lat: float, lon: float, lats: np.ndarray, lons: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(indices, distances)`` of the ``k`` nearest points, nearest first.

    Returns
    -------
    indices : numpy.ndarray of int64
    distances : numpy.ndarray of float64
        Sorted by distance (km), ties broken by the smaller index, NaN distances last.

    Raises
    ------
    ValueError
        ``k > len(lats)``, ``k < 0`` or ``lats``/``lons`` of different lengths.
    """
    f = "find_nearest_k"
    lat0, lon0, raw_lats, raw_lons, kk = contract.check_nearest(f, lat, lon, lats, lons, k)
    return _find_nearest_k(lat0, lon0, raw_lats, raw_lons, kk)  # type: ignore[no-any-return]


# Code points of the string render_tokens writes: _SEP ends a text (and joins the texts in the
# scanned data), _NUM_MARK stands for a numeric token; both are of class 0 (never in a token)
# and not whitespace, so str.split() keeps them apart from the tokens.
_SEP = "\x00"
_NUM_MARK = "\x01"
# Code points as native uint32, the layout Numba reads.
_UTF32 = "utf-32-le" if sys.byteorder == "little" else "utf-32-be"


@functools.cache
def _classes() -> np.ndarray:
    # The contract's table as a read-only uint8 array, built on first use (about 0.4 s), not at
    # import: importing the route must stay cheap (see the module docstring).
    return np.frombuffer(contract.char_classes(), dtype=np.uint8)


def _code_points(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    # Python's Unicode work per text; returns the code points of the texts joined by _SEP and
    # their offsets (text k and its separator are data[offsets[k]:offsets[k + 1]]).  ASCII is
    # its own NFKC form and casefold() is lower() there, and lower() keeps every length, so an
    # ASCII batch is lowered in one call.  Unbound str methods: a str subclass is read as its
    # raw data, as native routes read it.
    joined = _SEP.join(texts)
    if joined.isascii():
        joined = joined.lower()
        lengths = np.fromiter(map(str.__len__, texts), dtype=np.int64, count=len(texts))
    else:
        norm = [
            str.lower(t) if str.isascii(t) else str.casefold(unicodedata.normalize("NFKC", t))
            for t in texts
        ]
        joined = _SEP.join(norm)
        lengths = np.fromiter(map(len, norm), dtype=np.int64, count=len(norm))
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths + 1, out=offsets[1:])
    offsets[-1] = len(joined)  # the last text has no separator after it
    # surrogatepass: a lone surrogate is a code point of the str like any other (class 0).
    return np.frombuffer(joined.encode(_UTF32, "surrogatepass"), dtype=np.uint32), offsets


def _split(rendered: np.ndarray, has_num: bool) -> list[list[str]]:
    # The token lists from render_tokens' string, built by str.split in C.  (A helper of its
    # own: bench._jit.called_dispatchers looks every name of the kernel's code up on the
    # modules it uses, and np.str warns.)
    out = rendered.tobytes().decode(_UTF32)  # no surrogate is left: none is a token character
    if has_num:
        out = out.replace(_NUM_MARK, contract.NUM_TOKEN)
    return list(map(str.split, out.split(_SEP)))


def tokenize_batch(texts: list[str], /) -> list[list[str]]:
    """Return the tokens of every text (contract in ``ffilab.contract``).

    Parameters
    ----------
    texts : list of str
        The batch: normalised in Python, scanned by ``tokenize_spans`` without the GIL.

    Returns
    -------
    list of list of str
        One list of tokens per text, in order.

    Raises
    ------
    TypeError
        ``texts`` is not a list, or one of its elements is not a str.
    """
    texts = contract.check_texts("tokenize_batch", texts)  # a plain list of the raw items
    if not texts:
        return []
    data, offsets = _code_points(texts)
    capacity = (data.shape[0] + len(texts)) // 2 + 1  # the C core's FFL_TOKEN_CAPACITY
    spans = np.empty(2 * capacity, dtype=np.int64)
    is_num = np.empty(capacity, dtype=np.uint8)
    counts = np.empty(len(texts), dtype=np.int64)
    found = _tokenize_spans(data, offsets, _classes(), contract.TOKEN_MAX_CHARS, spans, is_num, counts)
    if found < 0:  # cannot happen: the capacity is the C core's proven bound
        raise RuntimeError("tokenize_batch: token capacity exceeded")
    rendered = np.empty_like(data)
    _render_tokens(data, offsets, spans, is_num, found, rendered)
    return _split(rendered, bool(is_num[:found].any()))
