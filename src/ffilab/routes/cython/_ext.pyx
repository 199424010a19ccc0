# _ext.pyx: the kernels of route ``cython``, written in typed Cython (this route does not call the C core).
# cython: language_level=3
# cython: boundscheck=False, wraparound=False, initializedcheck=False
# cython: cdivision=True, autotestdict=False
# cython: binding=False, embedsignature=True, embedsignature.format=clinic
"""Route ``cython``: the lesson's kernels as typed Cython, loops and all.

Every public function is a ``def`` taking plain Python objects.  Nothing is left to Cython's
automatic argument conversion, because it does not follow the argument contract
(``ffilab.contract``):

* a ``long long n`` parameter raises OverflowError for ``-2**70`` (the contract says ValueError)
  and cannot tell the kernel and argument in its message;
* a ``double[::1]`` parameter accepts ``None``, ``array.array('d')`` and any other buffer (the
  contract says TypeError for whatever is not a ``numpy.ndarray``) and answers a non-contiguous
  or a read-only array with a BufferError-flavoured ValueError of its own.

So each kernel first converts its scalar arguments, then checks its arrays on their C struct
through NumPy's C API (the same checks, in the same order, as the reference; a typed memoryview
would cost an acquisition of the buffer on every call and read nothing the struct does not
say), takes each array's data pointer and runs a loop of C types only, with the GIL released
once the input is large enough to repay that (``FFL_RELEASE_GIL_MIN_WORK`` of the C core's
header).  The directives above are safe because of those checks: ``boundscheck`` and
``wraparound`` are off because every index is in ``0 .. len - 1`` of a length already checked,
``cdivision`` is on because no division has a zero or negative divisor (and it makes ``x / 2.0``
plain C).  There is no ``-ffast-math``-like directive: the floating-point operations are the
reference's, in its order (left-to-right sums, ``(pi * r) * r``, ``s * s`` rather than a power),
compiled with the build's ``-ffp-contract=off``.

``binding=False`` makes every kernel a builtin function (the C API's own ``PyCFunction``, called
through METH_O or METH_FASTCALL) instead of Cython's function type, whose call costs several ns
more (measured, thread CPU time: ``fast_sum`` of one element 24.8 ns with it, 20.2 ns without;
``circle_area`` 21.5 and 15.3 ns); ``embedsignature`` in the clinic format writes the signature
line CPython reads back for ``inspect.signature``, so nothing visible is lost.

``cython -a _ext.pyx`` writes an annotated HTML page of this file: every inner loop (the bodies
of the ``with nogil`` blocks and the ``noexcept nogil`` helpers) shows no interaction with the
Python C API.
"""

from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_AsDouble
from cpython.number cimport PyNumber_Index
from libc.math cimport M_PI, asin, cos, isnan, sin, sqrt
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free, malloc, realloc

cimport numpy as cnp
import numpy as np

cdef extern from "Python.h":
    ctypedef struct PyThreadState
    PyThreadState *PyEval_SaveThread()
    void PyEval_RestoreThread(PyThreadState *state)

cdef extern from "ffilab_core.h":
    # The work from which the loops below run without the GIL (the header says how it was
    # measured): releasing it around one element would cost more than the loop.
    const int64_t FFL_RELEASE_GIL_MIN_WORK


# The loops release the GIL only when their work repays it.  Cython's `with nogil(condition)`
# accepts compile-time conditions only, so this is Py_BEGIN/END_ALLOW_THREADS written out: every
# statement between the two calls is plain C on C variables (no Python object, nothing that can
# raise), as it was inside the `with nogil` blocks these replace.
cdef inline PyThreadState *_release_gil_if(int64_t work) noexcept:
    if work >= FFL_RELEASE_GIL_MIN_WORK:
        return PyEval_SaveThread()
    return NULL


cdef inline void _restore_gil(PyThreadState *released) noexcept:
    if released != NULL:
        PyEval_RestoreThread(released)

# The array checks read the array's C struct through NumPy's C API (as the capi route does):
# a Python-level ``arr.dtype`` or ``arr.flags`` costs an attribute lookup and an object each,
# and an ndarray subclass may redefine them to say anything.
cnp.import_array()

# The 128-bit accumulator of sum_of_squares.  Cython has no 128-bit type; declaring the C name
# through an extern ctypedef lets the loop use it as a plain C integer.  It is never converted to
# a Python object directly (Cython would believe it is 64 bits wide): it is split into two
# uint64_t halves first.
cdef extern from *:
    ctypedef unsigned long long u128 "unsigned __int128"

# The contract's limits (ffilab.contract), kept as Python ints: every range check happens on the
# Python int, before anything is converted to a C type, so 2**64 + 5 can never wrap to 5.
cdef object _SUM_OF_SQUARES_MAX_N = 2**32
cdef object _PRIMES_MAX_N = 2**31 - 1


# ---------------------------------------------------------------------------------------------
# Argument checks: the contract, written once more at C speed.
# ---------------------------------------------------------------------------------------------

cdef object _as_index(str func, str name, object value, object minimum, object maximum):
    """Return ``value`` as a Python int in ``minimum .. maximum`` (None: unbounded)."""
    try:
        n = PyNumber_Index(value)
    except TypeError:
        raise TypeError(f"{func}: {name} must be an integer, got {type(value).__name__}") from None
    if minimum is not None and n < minimum:
        raise ValueError(f"{func}: {name} must be >= {minimum}, got {_show_int(n)}")
    if maximum is not None and n > maximum:
        raise OverflowError(f"{func}: {name} must be <= {maximum}, got {_show_int(n)}")
    return n


cdef double _as_real(str func, str name, object value) except? -1.0:
    """Return ``value`` as a C double by ``PyFloat_AsDouble``'s rules, with a named error."""
    # The common case costs one pointer comparison.
    if type(value) is float:
        return PyFloat_AS_DOUBLE(value)
    try:
        # float subclasses, __float__, then __index__ (an int beyond the float range raises
        # OverflowError); str, bytes, None and complex raise TypeError.
        return PyFloat_AsDouble(value)
    except TypeError:
        raise TypeError(f"{func}: {name} must be a real number, got {type(value).__name__}") from None
    except OverflowError:
        raise OverflowError(f"{func}: {name} is too large to convert to float") from None


cdef str _describe(object arr):
    if cnp.PyArray_Check(arr):
        raw = np.ndarray.view(arr, np.ndarray)  # the truth, whatever a subclass's attributes say
        return f"{raw.dtype} array of shape {raw.shape}"
    return type(arr).__name__


cdef str _show_int(object n):
    # str() of an int past 4300 digits raises ValueError (CPython's limit), which would replace
    # the contract's exception by another: describe huge values by their size instead.
    return str(n) if n.bit_length() <= 256 else f"an integer of {n.bit_length()} bits"


cdef cnp.ndarray _check_float64(str func, str name, object arr, bint writable):
    """Return ``arr`` as an ndarray after the contract's checks, all on its C struct.

    Checked before the data pointer is taken, in the reference's order, with its classes; an
    ndarray subclass is read as what its struct says, never through its Python attributes.
    """
    what = "a writable C-contiguous float64 array" if writable else "a C-contiguous float64 array"
    if not cnp.PyArray_Check(arr):
        raise TypeError(f"{func}: {name} must be {what}, got {_describe(arr)}")
    cdef cnp.ndarray a = <cnp.ndarray>arr
    if cnp.PyArray_TYPE(a) != cnp.NPY_DOUBLE or not cnp.PyArray_ISNOTSWAPPED(a):
        raise TypeError(f"{func}: {name} must be {what}, got {_describe(arr)}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError(f"{func}: {name} must be {what}, got a non-contiguous array")
    if not cnp.PyArray_ISALIGNED(a):
        # A misaligned double read through double* is undefined behaviour in C.
        raise ValueError(f"{func}: {name} must be {what}, got a misaligned array")
    if writable and not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"{func}: {name} must be {what}, got a read-only array")
    return a


cdef cnp.ndarray _check_array(str func, str name, object arr, bint writable=False):
    """Return ``arr`` if it is a 1-D C-contiguous native float64 ndarray (writable if asked)."""
    cdef cnp.ndarray a = _check_float64(func, name, arr, writable)
    if cnp.PyArray_NDIM(a) != 1:
        raise ValueError(f"{func}: {name} must be 1-D, got {_describe(arr)}")
    return a


cdef int _check_same_length(str func, cnp.ndarray a, cnp.ndarray b, str names) except -1:
    if cnp.PyArray_DIM(a, 0) != cnp.PyArray_DIM(b, 0):
        raise ValueError(
            f"{func}: {names} must have the same length, got {cnp.PyArray_DIM(a, 0)} and {cnp.PyArray_DIM(b, 0)}"
        )
    return 0


cdef inline cnp.ndarray _new_float64(cnp.npy_intp n):
    # A fresh C-contiguous float64 array, without the Python-level call of np.empty.
    return cnp.PyArray_EMPTY(1, &n, cnp.NPY_DOUBLE, 0)


# ---------------------------------------------------------------------------------------------
# Kernels.
# ---------------------------------------------------------------------------------------------

def sum_of_squares(object n, /):
    """Return the exact sum of ``i * i`` for ``0 <= i < n``.

    The loop runs in C with the GIL released: each ``i * i`` in uint64 (exact, as ``i < 2**32``)
    added to an ``unsigned __int128`` total (the sum is below ``2**95``).

    Parameters
    ----------
    n : int
        Number of terms, ``0 <= n <= 2**32``; anything with ``__index__``.

    Returns
    -------
    int
        The exact sum.

    Raises
    ------
    TypeError
        ``n`` is not an integer.
    ValueError
        ``n < 0``.
    OverflowError
        ``n > 2**32``.
    """
    cdef uint64_t count = _as_index("sum_of_squares", "n", n, 0, _SUM_OF_SQUARES_MAX_N)
    cdef uint64_t i
    cdef u128 total = 0
    cdef PyThreadState *released = _release_gil_if(<int64_t>count)
    for i in range(count):
        total += <u128>(i * i)
    _restore_gil(released)
    cdef uint64_t hi = <uint64_t>(total >> 64)
    cdef uint64_t lo = <uint64_t>total
    return (<object>hi << 64) | <object>lo


def circle_area(object radius, /):
    """Return the area ``pi * radius * radius`` of a circle, evaluated left to right.

    Parameters
    ----------
    radius : float
        Anything ``PyFloat_AsDouble`` accepts.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        ``radius`` is not a real number.
    OverflowError
        ``radius`` is an int too large for a float.
    """
    cdef double r = _as_real("circle_area", "radius", radius)
    return M_PI * r * r


def scale_array(object arr, object factor):
    """Multiply every element of ``arr`` by ``factor``, in place.

    Parameters
    ----------
    arr : numpy.ndarray
        Writable, 1-D, C-contiguous, native float64; modified in place (never copied).
    factor : float
        Anything ``PyFloat_AsDouble`` accepts.

    Returns
    -------
    None

    Raises
    ------
    TypeError
        ``arr`` is not a float64 ndarray, or ``factor`` is not a real number.
    ValueError
        ``arr`` is not 1-D, not C-contiguous, or read-only.
    OverflowError
        ``factor`` is an int too large for a float.
    """
    # The conversion first: factor's __float__ may run Python code that changes arr.
    cdef double f = _as_real("scale_array", "factor", factor)
    cdef cnp.ndarray a = _check_array("scale_array", "arr", arr, True)
    # The caller's own buffer: the writes land in ``arr`` itself.
    cdef double *v = <double *>cnp.PyArray_DATA(a)
    cdef Py_ssize_t i, n = cnp.PyArray_DIM(a, 0)
    cdef PyThreadState *released = _release_gil_if(n)
    for i in range(n):
        v[i] = v[i] * f
    _restore_gil(released)


def compute_distances(object points, /):
    """Return the distance from the origin of each row ``(x, y)`` of ``points``.

    Parameters
    ----------
    points : numpy.ndarray
        Shape ``(n, 2)``, C-contiguous, native float64 (read-only is fine).

    Returns
    -------
    numpy.ndarray
        A new float64 array of ``n`` distances ``sqrt(x * x + y * y)``.

    Raises
    ------
    TypeError
        ``points`` is not a float64 ndarray.
    ValueError
        ``points`` is not C-contiguous or not of shape ``(n, 2)``.
    """
    f = "compute_distances"
    cdef cnp.ndarray pts = _check_float64(f, "points", points, False)
    if cnp.PyArray_NDIM(pts) != 2 or cnp.PyArray_DIM(pts, 1) != 2:
        raise ValueError(f"{f}: points must have shape (n, 2), got {_describe(points)}")
    cdef const double *p = <const double *>cnp.PyArray_DATA(pts)
    cdef Py_ssize_t i, n = cnp.PyArray_DIM(pts, 0)
    # The lesson's C version mallocs the result and hands it over; Cython has no need for a
    # C-owned buffer: NumPy allocates the array and the loop fills it.
    cdef cnp.ndarray out = _new_float64(n)
    cdef double *o = <double *>cnp.PyArray_DATA(out)
    cdef double x, y
    cdef PyThreadState *released = _release_gil_if(n)
    for i in range(n):
        x = p[2 * i]
        y = p[2 * i + 1]
        o[i] = sqrt(x * x + y * y)
    _restore_gil(released)
    return out


def primes(object n, /):
    """Return the primes below ``n`` by the lesson's trial division.

    Each candidate is divided by every ``d`` in ``2 .. candidate - 1`` until the first divisor,
    in int64 with the GIL released; the primes are collected in a growing C buffer and turned
    into a list once the loop is done.

    Parameters
    ----------
    n : int
        Upper bound (exclusive), ``0 <= n <= 2**31 - 1``; anything with ``__index__``.

    Returns
    -------
    list of int

    Raises
    ------
    TypeError
        ``n`` is not an integer.
    ValueError
        ``n < 0``.
    OverflowError
        ``n > 2**31 - 1``.
    MemoryError
        The buffer of primes could not grow.
    """
    cdef int64_t limit = _as_index("primes", "n", n, 0, _PRIMES_MAX_N)
    cdef int64_t candidate, divisor, i
    cdef int64_t length = 0, capacity = 64
    cdef bint is_prime, out_of_memory = False
    cdef int64_t *grown
    cdef PyThreadState *released
    cdef int64_t *buf = <int64_t *>malloc(<size_t>capacity * sizeof(int64_t))
    if buf == NULL:
        raise MemoryError("primes: could not allocate the buffer of primes")
    try:
        released = _release_gil_if(limit)
        for candidate in range(2, limit):
            is_prime = True
            for divisor in range(2, candidate):
                if candidate % divisor == 0:
                    is_prime = False
                    break
            if is_prime:
                if length == capacity:
                    grown = <int64_t *>realloc(buf, <size_t>(2 * capacity) * sizeof(int64_t))
                    if grown == NULL:
                        # buf is still valid and freed below; the exception needs the GIL.
                        out_of_memory = True
                        break
                    buf = grown
                    capacity *= 2
                buf[length] = candidate
                length += 1
        _restore_gil(released)
        if out_of_memory:
            raise MemoryError("primes: could not grow the buffer of primes")
        return [buf[i] for i in range(length)]
    finally:
        free(buf)


def fast_sum(object a, /):
    """Return the sum of ``a``, accumulated left to right.

    Parameters
    ----------
    a : numpy.ndarray
        1-D, C-contiguous, native float64 (read-only is fine).

    Returns
    -------
    float
        0.0 for an empty array.

    Raises
    ------
    TypeError
        ``a`` is not a float64 ndarray.
    ValueError
        ``a`` is not 1-D or not C-contiguous.
    """
    cdef cnp.ndarray arr = _check_array("fast_sum", "a", a)
    cdef const double *v = <const double *>cnp.PyArray_DATA(arr)
    cdef Py_ssize_t i, n = cnp.PyArray_DIM(arr, 0)
    cdef double total = 0.0
    cdef PyThreadState *released = _release_gil_if(n)
    for i in range(n):
        total += v[i]
    _restore_gil(released)
    return total


def fast_dot(object a, object b):
    """Return the dot product of ``a`` and ``b``, accumulated left to right.

    Parameters
    ----------
    a, b : numpy.ndarray
        1-D, C-contiguous, native float64, equally long (read-only is fine).

    Returns
    -------
    float

    Raises
    ------
    TypeError
        ``a`` or ``b`` is not a float64 ndarray.
    ValueError
        Not 1-D, not C-contiguous, or of different lengths.
    """
    cdef cnp.ndarray arr_a = _check_array("fast_dot", "a", a)
    cdef cnp.ndarray arr_b = _check_array("fast_dot", "b", b)
    _check_same_length("fast_dot", arr_a, arr_b, "a and b")
    cdef const double *va = <const double *>cnp.PyArray_DATA(arr_a)
    cdef const double *vb = <const double *>cnp.PyArray_DATA(arr_b)
    cdef Py_ssize_t i, n = cnp.PyArray_DIM(arr_a, 0)
    cdef double total = 0.0
    cdef PyThreadState *released = _release_gil_if(n)
    for i in range(n):
        total += va[i] * vb[i]
    _restore_gil(released)
    return total


def fast_norm(object a, /):
    """Return the L2 norm ``sqrt(sum(x * x))`` of ``a``.

    No rescaling: like the C loop it overflows to inf when the sum of squares does.

    Parameters
    ----------
    a : numpy.ndarray
        1-D, C-contiguous, native float64 (read-only is fine).

    Returns
    -------
    float

    Raises
    ------
    TypeError
        ``a`` is not a float64 ndarray.
    ValueError
        ``a`` is not 1-D or not C-contiguous.
    """
    cdef cnp.ndarray arr = _check_array("fast_norm", "a", a)
    cdef const double *v = <const double *>cnp.PyArray_DATA(arr)
    cdef Py_ssize_t i, n = cnp.PyArray_DIM(arr, 0)
    cdef double sum_sq = 0.0
    cdef PyThreadState *released = _release_gil_if(n)
    for i in range(n):
        sum_sq += v[i] * v[i]
    _restore_gil(released)
    return sqrt(sum_sq)


def scale_and_shift(object a, object scale, object shift=0.0):
    """Return a new array ``a * scale + shift``.

    Parameters
    ----------
    a : numpy.ndarray
        1-D, C-contiguous, native float64 (read-only is fine; it is not modified).
    scale, shift : float
        Anything ``PyFloat_AsDouble`` accepts; ``shift`` defaults to 0.0.

    Returns
    -------
    numpy.ndarray
        A new float64 array.

    Raises
    ------
    TypeError
        ``a`` is not a float64 ndarray, or ``scale``/``shift`` is not a real number.
    ValueError
        ``a`` is not 1-D or not C-contiguous.
    OverflowError
        ``scale`` or ``shift`` is an int too large for a float.
    """
    # The conversions first: their __float__ may run Python code that changes a.
    cdef double s = _as_real("scale_and_shift", "scale", scale)
    cdef double t = _as_real("scale_and_shift", "shift", shift)
    cdef cnp.ndarray arr = _check_array("scale_and_shift", "a", a)
    cdef const double *v = <const double *>cnp.PyArray_DATA(arr)
    cdef Py_ssize_t i, n = cnp.PyArray_DIM(arr, 0)
    cdef cnp.ndarray out = _new_float64(n)
    cdef double *o = <double *>cnp.PyArray_DATA(out)
    cdef PyThreadState *released = _release_gil_if(n)
    for i in range(n):
        o[i] = v[i] * s + t
    _restore_gil(released)
    return out


cdef class Accumulator:
    """Accumulator(initial=0.0)
--

Running total and count of the values added to it, kept in C fields of the object.

    Parameters
    ----------
    initial : float
        Starting total (the count starts at 0); anything ``PyFloat_AsDouble`` accepts.

    Raises
    ------
    TypeError
        ``initial`` is not a real number.
    OverflowError
        ``initial`` is an int too large for a float.

    Notes
    -----
    The first lines of this docstring are CPython's text-signature convention for C types
    (``Name(...)`` then ``--``): they give ``inspect.signature(Accumulator)``, which a cdef
    class otherwise lacks, and are stripped from ``__doc__``.
    """

    # The state lives in the object's own struct (no separate allocation), so there is nothing
    # to free when the object dies; Cython's tp_dealloc releases the object itself.
    cdef double _total
    cdef int64_t _count

    def __init__(self, object initial=0.0):
        self._total = _as_real("Accumulator", "initial", initial)
        self._count = 0

    def add(self, object value, /):
        """Add ``value`` to the total and count it.

        Parameters
        ----------
        value : float
            Anything ``PyFloat_AsDouble`` accepts.

        Raises
        ------
        TypeError
            ``value`` is not a real number.
        OverflowError
            ``value`` is an int too large for a float.
        """
        self._total += _as_real("Accumulator.add", "value", value)
        self._count += 1

    def mean(self):
        """Return ``total / count``, or 0.0 when nothing was added.

        Returns
        -------
        float
        """
        if self._count > 0:
            return self._total / <double>self._count
        return 0.0

    @property
    def count(self):
        """Number of values added (read-only)."""
        return self._count

    @property
    def total(self):
        """Current total (read-only)."""
        return self._total

    def __repr__(self):
        return f"<Accumulator count={self._count} total={self._total!r}>"


cdef inline double _radians(double degrees) noexcept nogil:
    # As Python's math.radians: multiply by pi / 180 (one constant, folded by the C compiler as
    # in the C core) rather than divide by 180.  Written as C constants, not module globals,
    # which the compiler would have to reload after every store into an output array.
    return degrees * (M_PI / 180.0)


cdef inline double _haversine(double lat1, double lon1, double lat2, double lon2) noexcept nogil:
    # The C core's formula and order of operations (csrc/ffilab_core.c): s * s rather than the
    # lesson's ** 2, because pow(s, 2.0) and s * s may differ in the last bit.
    cdef double dlat = _radians(lat2 - lat1)
    cdef double dlon = _radians(lon2 - lon1)
    cdef double s_lat = sin(dlat / 2.0)
    cdef double s_lon = sin(dlon / 2.0)
    cdef double a = s_lat * s_lat + cos(_radians(lat1)) * cos(_radians(lat2)) * s_lon * s_lon
    # a is in [0, 1] for any real angles, but rounding can push it a hair outside, where sqrt or
    # asin give NaN: clamp, as the C core and the reference do (NaN compares false, stays NaN).
    if a > 1.0:
        a = 1.0
    elif a < 0.0:
        a = 0.0
    return 6371.0 * (2.0 * asin(sqrt(a)))  # mean Earth radius in km (contract.EARTH_RADIUS_KM)


def haversine_distance(object lat1, object lon1, object lat2, object lon2):
    """Return the great-circle distance in km between two points given in degrees.

    Parameters
    ----------
    lat1, lon1, lat2, lon2 : float
        Latitudes and longitudes in degrees; anything ``PyFloat_AsDouble`` accepts.

    Returns
    -------
    float
        The haversine distance on a sphere of radius 6371 km.

    Raises
    ------
    TypeError
        An argument is not a real number.
    OverflowError
        An argument is an int too large for a float.
    """
    f = "haversine_distance"
    cdef double a1 = _as_real(f, "lat1", lat1)
    cdef double o1 = _as_real(f, "lon1", lon1)
    cdef double a2 = _as_real(f, "lat2", lat2)
    cdef double o2 = _as_real(f, "lon2", lon2)
    return _haversine(a1, o1, a2, o2)


def haversine_many(object lat, object lon, object lats, object lons):
    """Return the distance in km from ``(lat, lon)`` to every ``(lats[i], lons[i])``.

    Parameters
    ----------
    lat, lon : float
        The origin, in degrees.
    lats, lons : numpy.ndarray
        1-D, C-contiguous, native float64, equally long (read-only is fine).

    Returns
    -------
    numpy.ndarray
        A new float64 array of distances.

    Raises
    ------
    TypeError
        ``lat``/``lon`` is not a real number, or ``lats``/``lons`` is not a float64 ndarray.
    ValueError
        ``lats``/``lons`` not 1-D, not C-contiguous, or of different lengths.
    OverflowError
        ``lat`` or ``lon`` is an int too large for a float.
    """
    f = "haversine_many"
    cdef double lat0 = _as_real(f, "lat", lat)
    cdef double lon0 = _as_real(f, "lon", lon)
    cdef cnp.ndarray arr_lats = _check_array(f, "lats", lats)
    cdef cnp.ndarray arr_lons = _check_array(f, "lons", lons)
    _check_same_length(f, arr_lats, arr_lons, "lats and lons")
    cdef const double *la = <const double *>cnp.PyArray_DATA(arr_lats)
    cdef const double *lo = <const double *>cnp.PyArray_DATA(arr_lons)
    cdef Py_ssize_t i, n = cnp.PyArray_DIM(arr_lats, 0)
    cdef cnp.ndarray out = _new_float64(n)
    cdef double *o = <double *>cnp.PyArray_DATA(out)
    cdef PyThreadState *released = _release_gil_if(n)
    for i in range(n):
        o[i] = _haversine(lat0, lon0, la[i], lo[i])
    _restore_gil(released)
    return out


cdef inline bint _nearer(const double *d, int64_t i, int64_t j) noexcept nogil:
    # find_nearest_k's order: by distance, NaN after every number, then by index.  A strict
    # total order, so the k nearest and their order are unique (equal to the reference's sort).
    cdef bint nan_i = isnan(d[i])
    cdef bint nan_j = isnan(d[j])
    if nan_i != nan_j:
        return nan_j
    if not nan_i and d[i] != d[j]:
        return d[i] < d[j]
    return i < j


cdef void _sift_down(int64_t *heap, int64_t length, int64_t pos, const double *d) noexcept nogil:
    # Max-heap by _nearer: the farthest of the points kept so far sits on top.
    cdef int64_t child, tmp
    while True:
        child = 2 * pos + 1
        if child >= length:
            return
        if child + 1 < length and _nearer(d, heap[child], heap[child + 1]):
            child += 1
        if not _nearer(d, heap[pos], heap[child]):
            return
        tmp = heap[pos]
        heap[pos] = heap[child]
        heap[child] = tmp
        pos = child


def find_nearest_k(object lat, object lon, object lats, object lons, object k):
    """Return the ``k`` points nearest to ``(lat, lon)``, nearest first.

    All distances are computed once, then a bounded max-heap keeps the ``k`` nearest
    (O(n log k)) and is sorted in place, all with the GIL released.

    Parameters
    ----------
    lat, lon : float
        The origin, in degrees.
    lats, lons : numpy.ndarray
        1-D, C-contiguous, native float64, equally long (read-only is fine).
    k : int
        How many points to return, ``0 <= k <= len(lats)``.

    Returns
    -------
    indices : numpy.ndarray of int64
    distances : numpy.ndarray of float64
        Sorted by distance (km), ties broken by the smaller index, NaN distances last.

    Raises
    ------
    TypeError
        A non-real ``lat``/``lon``, a non-float64-ndarray ``lats``/``lons``, or a non-integer ``k``.
    ValueError
        Arrays not 1-D, not C-contiguous or of different lengths; ``k < 0`` or ``k > len(lats)``.
    OverflowError
        ``lat`` or ``lon`` is an int too large for a float.
    MemoryError
        The distance buffer could not be allocated.
    """
    f = "find_nearest_k"
    cdef double lat0 = _as_real(f, "lat", lat)
    cdef double lon0 = _as_real(f, "lon", lon)
    # k's __index__ may run Python code that changes the arrays: convert it before they are
    # checked, check its range (which needs their length) after (contract.check_nearest).
    kk_obj = _as_index(f, "k", k, None, None)
    cdef cnp.ndarray arr_lats = _check_array(f, "lats", lats)
    cdef cnp.ndarray arr_lons = _check_array(f, "lons", lons)
    _check_same_length(f, arr_lats, arr_lons, "lats and lons")
    cdef cnp.npy_intp npoints = cnp.PyArray_DIM(arr_lats, 0)
    if kk_obj < 0:
        raise ValueError(f"{f}: k must be >= 0, got {_show_int(kk_obj)}")
    if kk_obj > npoints:
        raise ValueError(f"{f}: k must be <= the number of points ({npoints}), got {_show_int(kk_obj)}")
    cdef cnp.npy_intp kk = kk_obj
    cdef const double *la = <const double *>cnp.PyArray_DATA(arr_lats)
    cdef const double *lo = <const double *>cnp.PyArray_DATA(arr_lons)
    cdef int64_t n = npoints
    cdef cnp.ndarray idx = cnp.PyArray_EMPTY(1, &kk, cnp.NPY_INT64, 0)
    cdef cnp.ndarray dist = _new_float64(kk)
    if kk == 0:
        return idx, dist
    cdef double *dist_v = <double *>cnp.PyArray_DATA(dist)
    cdef int64_t *heap = <int64_t *>cnp.PyArray_DATA(idx)
    cdef int64_t i, pos, length, tmp
    cdef PyThreadState *released
    # n >= k > 0 here, and n doubles already exist in lats, so the size cannot overflow.
    cdef double *d = <double *>malloc(<size_t>n * sizeof(double))
    if d == NULL:
        raise MemoryError("find_nearest_k: could not allocate the distance buffer")
    try:
        released = _release_gil_if(n)
        for i in range(n):
            d[i] = _haversine(lat0, lon0, la[i], lo[i])
        # The k nearest are kept in a max-heap held in the index array itself.
        for i in range(kk):
            heap[i] = i
        pos = kk // 2 - 1
        while pos >= 0:
            _sift_down(heap, kk, pos, d)
            pos -= 1
        for i in range(kk, n):
            if _nearer(d, i, heap[0]):
                heap[0] = i
                _sift_down(heap, kk, 0, d)
        # Heap sort in place: repeatedly move the farthest kept point to the end.
        length = kk - 1
        while length > 0:
            tmp = heap[0]
            heap[0] = heap[length]
            heap[length] = tmp
            _sift_down(heap, length, 0, d)
            length -= 1
        for i in range(kk):
            dist_v[i] = d[heap[i]]
        _restore_gil(released)
    finally:
        free(d)
    return idx, dist


# ---------------------------------------------------------------------------------------------
# tokenize_batch: the lesson's Level 3 design, exact.  A batch in, lists out, the language
# boundary crossed once per batch.  The lesson's sketch encodes every text to UTF-8 and scans
# bytes; that cannot classify non-ASCII characters, so this scans the str's own PEP 393 buffer
# (1, 2 or 4 bytes per code point) with the contract's class table instead, and leaves NFKC and
# case folding of non-ASCII text to Python's own functions, the truth of the contract.
# ---------------------------------------------------------------------------------------------

from libc.stdint cimport uint8_t, uint32_t
from libc.stdlib cimport calloc
from cpython.ref cimport PyObject

cdef extern from "Python.h":
    ctypedef unsigned char Py_UCS1
    bint PyUnicode_IS_ASCII(object s)
    int PyUnicode_KIND(object s)
    void *PyUnicode_DATA(object s)
    Py_ssize_t PyUnicode_GET_LENGTH(object s)
    Py_UCS4 PyUnicode_READ(int kind, const void *data, Py_ssize_t index) nogil
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    object PyUnicode_Substring(object s, Py_ssize_t start, Py_ssize_t end)
    list PyList_GetSlice(object lst, Py_ssize_t low, Py_ssize_t high)
    Py_ssize_t PyList_GET_SIZE(object lst)

cdef enum:
    _TOKEN_MAX_CHARS = 64   # ffilab.contract.TOKEN_MAX_CHARS
    _WORD = 1               # ffilab.contract.CHAR_WORD, CHAR_DIGIT, CHAR_JOINER
    _DIGIT = 2
    _JOINER = 4
    _RECENT_MAX = 16384     # slots of the table of recent tokens (see _Recent)

# Repeated tokens of one call share one str, as in the capi, pybind11, nanobind and pyo3 routes
# (csrc/ffilab_tokenize_py.h says why): a direct-mapped table of the latest token per hash slot,
# its pointers borrowed from the result being built, freed when the call returns.
cdef struct _Recent:
    uint64_t hash
    PyObject *token

cdef object _tok_table = None         # ffilab.contract.char_classes(), kept alive for _tok_classes
cdef const uint8_t *_tok_classes = NULL
cdef object _tok_normalize = None
cdef object _tok_casefold = str.casefold   # unbound: a str subclass is folded as its raw data
cdef str _NUM_TOKEN = "<num>"


cdef int _tok_init() except -1:
    global _tok_table, _tok_classes, _tok_normalize
    import unicodedata
    from ffilab import contract
    table = contract.char_classes()
    if type(table) is not bytes or len(table) != 0x110000:
        raise RuntimeError("tokenize_batch: ffilab.contract.char_classes() is not 0x110000 bytes")
    _tok_normalize = unicodedata.normalize
    _tok_table = table
    _tok_classes = <const uint8_t *><const char *>table
    return 0


cdef inline uint8_t _tok_class(const uint8_t *classes, Py_UCS4 c) noexcept nogil:
    return classes[c] if c < 0x110000 else 0


cdef Py_ssize_t _tok_scan(int kind, const void *data, Py_ssize_t n, const uint8_t *classes,
                          int64_t *spans, uint8_t *is_num) noexcept nogil:
    """Write the spans of the tokens of one text; return their number (at most (n + 1) // 2)."""
    cdef Py_ssize_t i = 0, start, t = 0
    cdef uint8_t c
    cdef bint digits
    while i < n:
        if not (_tok_class(classes, PyUnicode_READ(kind, data, i)) & _WORD):
            i += 1
            continue
        start = i
        digits = True
        while True:
            while i < n:
                c = _tok_class(classes, PyUnicode_READ(kind, data, i))
                if not (c & _WORD):
                    break
                digits = digits and (c & _DIGIT) != 0
                i += 1
            # A joiner joins only when a word character follows it ("don't", not "don'").
            if (i + 1 < n and (_tok_class(classes, PyUnicode_READ(kind, data, i)) & _JOINER)
                    and (_tok_class(classes, PyUnicode_READ(kind, data, i + 1)) & _WORD)):
                digits = False
                i += 1
                continue
            break
        if i - start > _TOKEN_MAX_CHARS:
            continue
        spans[2 * t] = start
        spans[2 * t + 1] = i
        is_num[t] = digits
        t += 1
    return t


cdef inline uint32_t _folded_at(int kind, const void *data, Py_ssize_t i, bint ascii) noexcept:
    cdef uint32_t c = <uint32_t>PyUnicode_READ(kind, data, i)
    return c + 32 if ascii and 65 <= c <= 90 else c


cdef uint64_t _token_hash(int kind, const void *data, Py_ssize_t a, Py_ssize_t b, bint ascii) noexcept:
    """FNV-1a over the token's folded code points."""
    cdef uint64_t h = <uint64_t>14695981039346656037ULL
    cdef Py_ssize_t i
    for i in range(a, b):
        h = (h ^ _folded_at(kind, data, i, ascii)) * <uint64_t>1099511628211ULL
    return h


cdef bint _same_token(object token, int kind, const void *data, Py_ssize_t a, Py_ssize_t b, bint ascii):
    if PyUnicode_GET_LENGTH(token) != b - a:
        return False
    cdef int tkind = PyUnicode_KIND(token)
    cdef const void *tdata = PyUnicode_DATA(token)
    cdef Py_ssize_t i
    for i in range(b - a):
        if <uint32_t>PyUnicode_READ(tkind, tdata, i) != _folded_at(kind, data, a + i, ascii):
            return False
    return True


cdef str _ascii_token(const Py_UCS1 *src, Py_ssize_t length):
    """A new ASCII str of ``src[:length]`` lowercased (ASCII case folding)."""
    cdef str token = PyUnicode_New(length, 127)
    cdef Py_UCS1 *dst = <Py_UCS1 *>PyUnicode_DATA(token)
    cdef Py_ssize_t i
    cdef Py_UCS1 c
    for i in range(length):
        c = src[i]
        dst[i] = c + 32 if 65 <= c <= 90 else c
    return token


def tokenize_batch(object texts, /):
    """Return the tokens of every text (NFKC, casefold, word runs with joiners; ffilab.contract).

    ASCII texts never reach Python's Unicode functions (NFKC leaves ASCII alone and its case
    folding is its lowercase); the others are normalised by ``unicodedata.normalize`` and
    ``str.casefold``.  Every text is then scanned in its own buffer with the GIL released.

    Raises
    ------
    TypeError
        ``texts`` is not a list, or an element is not a str.
    """
    if not isinstance(texts, list):
        raise TypeError(f"tokenize_batch: texts must be a list of str, got {type(texts).__name__}")
    if _tok_classes == NULL:
        _tok_init()
    # A plain copy of the raw items (a list subclass's __getitem__/__iter__ are never called),
    # which also keeps every str alive while the GIL is released.
    cdef list items = PyList_GetSlice(texts, 0, PyList_GET_SIZE(texts))
    cdef Py_ssize_t n = len(items), k, j, a, b, units = 0, slots = 16
    cdef object text, token
    for k in range(n):
        text = items[k]
        if not isinstance(text, str):
            raise TypeError(f"tokenize_batch: texts[{k}] must be str, got {type(text).__name__}")
        units += PyUnicode_GET_LENGTH(text)
    while slots < _RECENT_MAX and slots < units // 2:
        slots *= 2
    cdef uint64_t h
    cdef _Recent *slot

    cdef const void **data = <const void **>malloc((n + 1) * sizeof(void *))
    cdef int *kinds = <int *>malloc((n + 1) * sizeof(int))
    cdef Py_ssize_t *lengths = <Py_ssize_t *>malloc((n + 1) * sizeof(Py_ssize_t))
    cdef int64_t *first = <int64_t *>malloc((n + 1) * sizeof(int64_t))
    cdef Py_ssize_t *counts = <Py_ssize_t *>malloc((n + 1) * sizeof(Py_ssize_t))
    cdef uint8_t *ascii = <uint8_t *>malloc(n + 1)
    cdef _Recent *recent = <_Recent *>calloc(slots, sizeof(_Recent))
    cdef int64_t *spans = NULL
    cdef uint8_t *is_num = NULL
    cdef list result, tokens
    cdef const uint8_t *classes = _tok_classes
    try:
        if not (data and kinds and lengths and first and counts and ascii and recent):
            raise MemoryError()
        first[0] = 0
        for k in range(n):
            text = items[k]
            ascii[k] = PyUnicode_IS_ASCII(text)
            if not ascii[k]:
                text = _tok_casefold(_tok_normalize("NFKC", text))
                items[k] = text
            data[k] = PyUnicode_DATA(text)
            kinds[k] = PyUnicode_KIND(text)
            lengths[k] = PyUnicode_GET_LENGTH(text)
            first[k + 1] = first[k] + (lengths[k] + 1) // 2 + 1
        spans = <int64_t *>malloc((2 * first[n] + 1) * sizeof(int64_t))
        is_num = <uint8_t *>malloc(first[n] + 1)
        if not (spans and is_num):
            raise MemoryError()
        with nogil:
            for k in range(n):
                counts[k] = _tok_scan(kinds[k], data[k], lengths[k], classes,
                                      spans + 2 * first[k], is_num + first[k])
        result = []
        for k in range(n):
            tokens = []
            for j in range(first[k], first[k] + counts[k]):
                a = spans[2 * j]
                b = spans[2 * j + 1]
                if is_num[j]:
                    tokens.append(_NUM_TOKEN)
                    continue
                h = _token_hash(kinds[k], data[k], a, b, ascii[k])
                slot = &recent[h & <uint64_t>(slots - 1)]
                if slot.token != NULL and slot.hash == h and _same_token(<object>slot.token, kinds[k], data[k], a, b, ascii[k]):
                    tokens.append(<object>slot.token)
                    continue
                if ascii[k]:
                    token = _ascii_token(<const Py_UCS1 *>data[k] + a, b - a)
                else:
                    token = PyUnicode_Substring(items[k], a, b)
                tokens.append(token)
                slot.hash = h
                slot.token = <PyObject *>token  # borrowed: the list owns it until the call returns
            result.append(tokens)
        return result
    finally:
        free(data)
        free(kinds)
        free(lengths)
        free(first)
        free(counts)
        free(ascii)
        free(spans)
        free(is_num)
        free(recent)
