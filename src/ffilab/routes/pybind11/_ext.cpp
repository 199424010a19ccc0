// _ext.cpp: route pybind11, the lesson's kernels bound from C++ with pybind11 over the shared C core.
//
// The kernels themselves are the C core's (csrc/ffilab_core.c), so this route runs the very same
// machine code as ctypes, cffi and the C API: what differs is only the glue below.
//
// pybind11's automatic argument casters do not follow ffilab's contract (ffilab/contract.py):
//   * an int64_t parameter given 2**64 raises TypeError ("incompatible function arguments"),
//     where the contract wants OverflowError, and a double parameter given 2**1024 does the same
//     where the contract wants OverflowError;
//   * py::array_t<double> silently converts float32, byte-swapped or strided arrays into a
//     temporary copy, so an in-place kernel would write into the copy and the caller's array
//     would never change; with .noconvert() the wrong classes come out (TypeError where the
//     contract says ValueError for a non-contiguous array).
// So every argument is taken as a plain py::handle and checked here, in the reference's order,
// raising exactly the reference's exception class.  There is no Python wrapper layer.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>

#include "ffilab_core.h"
#include "ffilab_tokenize_py.h"

namespace py = pybind11;

namespace {

// Work below this size keeps the GIL: the threshold every native binding of ffilab shares
// (ffilab_core.h says how it was measured).  ctypes and cffi release around every foreign call
// and cannot be told otherwise; that is part of what those routes cost.
constexpr int64_t kReleaseGilMinWork = FFL_RELEASE_GIL_MIN_WORK;

// Holds py::gil_scoped_release only when the work is long enough to repay it.  Every array the
// released code reads stays referenced by a py::array in the caller's frame, so nothing it
// points into can be freed while the GIL is down.
class ReleaseGilIf {
public:
    explicit ReleaseGilIf(bool release) {
        if (release) {
            release_.emplace();
        }
    }

private:
    std::optional<py::gil_scoped_release> release_;
};

// Sets a Python exception of the given class and unwinds to pybind11, which re-raises it
// unchanged; pybind11's own exception types do not cover OverflowError and MemoryError alike.
[[noreturn]] void throw_python(PyObject *type, const std::string &message) {
    PyErr_SetString(type, message.c_str());
    throw py::error_already_set();
}

// Frees memory the C core allocated, for std::unique_ptr: every exit path releases it.
struct CoreFree {
    void operator()(void *p) const noexcept { ffl_free(p); }
};

// Maps a status code of the C core onto the exception it stands for (see ffilab_core.h).  The
// checks below run first, so a non-OK status means the core caught something they let through:
// it is still reported, never ignored.
void check_status(const char *func, int status) {
    if (status == FFL_OK) {
        return;
    }
    const std::string message = std::string(func) + ": the C core returned status " + std::to_string(status);
    switch (status) {
    case FFL_EINVAL:
        throw_python(PyExc_ValueError, message);
    case FFL_EOVERFLOW:
        throw_python(PyExc_OverflowError, message);
    case FFL_ENOMEM:
        throw_python(PyExc_MemoryError, message);
    default:
        throw_python(PyExc_RuntimeError, message);
    }
}

std::string type_name(py::handle obj) {
    // __name__ rather than tp_name, which carries the module ("numpy.float32"), as the
    // reference's messages do.
    return py::str(py::type::handle_of(obj).attr("__name__"));
}

std::string describe(py::handle obj) {
    if (py::isinstance<py::array>(obj)) {
        auto arr = py::reinterpret_borrow<py::array>(obj);
        return py::str("{} array of shape {}").format(arr.dtype(), arr.attr("shape"));
    }
    return type_name(obj);
}

// An integer argument as the C core's int64_t, or the contract's exception.  overflow is -1 or +1
// when the Python int lies outside the range of long long: the range is checked on the Python int
// itself, so 2**64 + 5 can never wrap around to 5.
struct IndexValue {
    long long value;
    int overflow;
};

IndexValue to_index(const char *func, const char *name, py::handle obj) {
    // PyNumber_Index is operator.index: int, bool, NumPy integers and anything with __index__.
    PyObject *index = PyNumber_Index(obj.ptr());
    if (index == nullptr) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            throw_python(PyExc_TypeError,
                         std::string(func) + ": " + name + " must be an integer, got " + type_name(obj));
        }
        throw py::error_already_set();  // anything else __index__ raised passes through, as in Python
    }
    auto owned = py::reinterpret_steal<py::object>(index);
    IndexValue out{0, 0};
    out.value = PyLong_AsLongLongAndOverflow(index, &out.overflow);
    if (out.value == -1 && out.overflow == 0 && PyErr_Occurred()) {
        throw py::error_already_set();
    }
    return out;
}

std::string got(const IndexValue &v) {
    // The value itself only when it is small: str() of a huge int can itself fail (Python's
    // limit on int-to-decimal conversion), and the exception class must not depend on that.
    if (v.overflow > 0) {
        return "an integer above 2**63 - 1";
    }
    if (v.overflow < 0) {
        return "an integer below -2**63";
    }
    return std::to_string(v.value);
}

int64_t as_index(const char *func, const char *name, py::handle obj, int64_t minimum, int64_t maximum) {
    const IndexValue v = to_index(func, name, obj);
    if (v.overflow < 0 || (v.overflow == 0 && v.value < minimum)) {
        throw_python(PyExc_ValueError,
                     std::string(func) + ": " + name + " must be >= " + std::to_string(minimum) + ", got " + got(v));
    }
    if (v.overflow > 0 || v.value > maximum) {
        throw_python(PyExc_OverflowError,
                     std::string(func) + ": " + name + " must be <= " + std::to_string(maximum) + ", got " + got(v));
    }
    return static_cast<int64_t>(v.value);
}

// k of find_nearest_k, already converted (to_index, before the arrays are checked): below 0 and
// above n are both ValueError (there is no OverflowError case, as in the reference's
// contract.check_k).
int64_t check_k(const char *func, const IndexValue &v, int64_t n) {
    if (v.overflow < 0 || (v.overflow == 0 && v.value < 0)) {
        throw_python(PyExc_ValueError, std::string(func) + ": k must be >= 0, got " + got(v));
    }
    if (v.overflow > 0 || v.value > n) {
        throw_python(PyExc_ValueError, std::string(func) + ": k must be <= the number of points (" +
                                           std::to_string(n) + "), got " + got(v));
    }
    return static_cast<int64_t>(v.value);
}

// A real argument with PyFloat_AsDouble's rules, but the contract's classes: pybind11's double
// caster turns an int too large for a float into TypeError (the contract says OverflowError).
double as_real(const char *func, const char *name, py::handle obj) {
    PyObject *o = obj.ptr();
    if (PyFloat_CheckExact(o)) {
        return PyFloat_AS_DOUBLE(o);
    }
    // The reference accepts exactly the types with __float__ or __index__ and never calls
    // anything on the others (str, bytes, None, complex), so decide on the type's slots first.
    PyNumberMethods *nb = Py_TYPE(o)->tp_as_number;
    if (nb == nullptr || (nb->nb_float == nullptr && nb->nb_index == nullptr)) {
        throw_python(PyExc_TypeError,
                     std::string(func) + ": " + name + " must be a real number, got " + type_name(obj));
    }
    const double value = PyFloat_AsDouble(o);
    if (value == -1.0 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            throw_python(PyExc_OverflowError,
                         std::string(func) + ": " + name + " is too large to convert to float");
        }
        throw py::error_already_set();  // what __float__ / __index__ raised, as in Python
    }
    return value;
}

// NumPy's NPY_ARRAY_ALIGNED flag (ndarraytypes.h; part of NumPy's stable ABI), which pybind11's
// public py::array API does not name.
constexpr int kNpyArrayAligned = 0x0100;

// The checks common to every array argument, in the reference's order (type, dtype,
// contiguity, alignment, writability).  Returns the caller's array itself, never a copy.
py::array check_float64(const char *func, const char *name, py::handle obj, bool writable) {
    const char *what = writable ? " must be a writable C-contiguous float64 array, got "
                                : " must be a C-contiguous float64 array, got ";
    // isinstance<array_t<double>> is PyArray_Check (subclasses included) plus PyArray_EquivTypes
    // against native float64: float32, int64, complex, object, bool and '>f8' all fail it.
    if (!py::isinstance<py::array_t<double>>(obj)) {
        throw_python(PyExc_TypeError, std::string(func) + ": " + name + what + describe(obj));
    }
    auto arr = py::reinterpret_borrow<py::array>(obj);
    if (!(arr.flags() & py::array::c_style)) {
        throw_python(PyExc_ValueError, std::string(func) + ": " + name + what + "a non-contiguous array");
    }
    if (!(arr.flags() & kNpyArrayAligned)) {
        // A float64 view at an odd byte offset: reading it through double* is undefined
        // behaviour in C (and vectorised loops may fault on it), so the contract rejects it.
        throw_python(PyExc_ValueError, std::string(func) + ": " + name + what + "a misaligned array");
    }
    if (writable && !arr.writeable()) {
        throw_python(PyExc_ValueError, std::string(func) + ": " + name + what + "a read-only array");
    }
    return arr;
}

py::array check_array(const char *func, const char *name, py::handle obj, bool writable = false) {
    py::array arr = check_float64(func, name, obj, writable);
    if (arr.ndim() != 1) {
        throw_python(PyExc_ValueError, std::string(func) + ": " + name + " must be 1-D, got " + describe(obj));
    }
    return arr;
}

py::array check_points(const char *func, const char *name, py::handle obj) {
    py::array arr = check_float64(func, name, obj, false);
    if (arr.ndim() != 2 || arr.shape(1) != 2) {
        throw_python(PyExc_ValueError,
                     std::string(func) + ": " + name + " must have shape (n, 2), got " + describe(obj));
    }
    return arr;
}

void check_same_length(const char *func, const py::array &a, const py::array &b, const char *names) {
    if (a.shape(0) != b.shape(0)) {
        throw_python(PyExc_ValueError, std::string(func) + ": " + names + " must have the same length, got " +
                                           std::to_string(a.shape(0)) + " and " + std::to_string(b.shape(0)));
    }
}

const double *data_of(const py::array &arr) { return static_cast<const double *>(arr.data()); }

// ---------------------------------------------------------------------------------------------
// The kernels.

py::object sum_of_squares(py::handle n_obj) {
    const int64_t n = as_index("sum_of_squares", "n", n_obj, 0, FFL_SUM_OF_SQUARES_MAX_N);
    uint64_t hi = 0;
    uint64_t lo = 0;
    int status;
    {
        ReleaseGilIf release(n >= kReleaseGilMinWork);
        status = ffl_sum_of_squares(n, &hi, &lo);
    }
    check_status("sum_of_squares", status);
    if (hi == 0) {
        return py::int_(lo);
    }
    // No C integer type Python converts from holds 128 bits: join the halves with Python ints.
    return (py::int_(hi) << py::int_(64)) | py::int_(lo);
}

double circle_area(py::handle radius) { return ffl_circle_area(as_real("circle_area", "radius", radius)); }

void scale_array(py::handle arr_obj, py::handle factor_obj) {
    // The conversion first: factor's __float__ may run Python code that makes arr read-only or
    // resizes it, and a check made before it would no longer hold (contract: order of checks).
    const double factor = as_real("scale_array", "factor", factor_obj);
    py::array arr = check_array("scale_array", "arr", arr_obj, /*writable=*/true);
    // The caller's own buffer: checked writable and C-contiguous above, so the write lands there.
    auto *data = static_cast<double *>(arr.mutable_data());
    const int64_t n = arr.shape(0);
    int status;
    {
        ReleaseGilIf release(n >= kReleaseGilMinWork);
        status = ffl_scale_array(data, n, factor);
    }
    check_status("scale_array", status);
}

py::array_t<double> compute_distances(py::handle points_obj) {
    py::array points = check_points("compute_distances", "points", points_obj);
    const int64_t n = points.shape(0);
    double *raw;
    {
        ReleaseGilIf release(n >= kReleaseGilMinWork);
        raw = ffl_compute_distances(data_of(points), n);
    }
    if (raw == nullptr) {
        throw_python(PyExc_MemoryError, "compute_distances: the C core could not allocate the result");
    }
    // The core's malloc'ed buffer becomes the array's memory without a copy.  Until the capsule
    // owns it, unique_ptr frees it if anything throws; afterwards the capsule's destructor
    // calls ffl_free when the last array viewing the buffer dies.
    std::unique_ptr<double, CoreFree> owned(raw);
    py::capsule owner(raw, &ffl_free);
    owned.release();
    return py::array_t<double>({static_cast<py::ssize_t>(n)}, {static_cast<py::ssize_t>(sizeof(double))}, raw,
                               owner);
}

py::list primes(py::handle n_obj) {
    const int64_t n = as_index("primes", "n", n_obj, 0, FFL_PRIMES_MAX_N);
    int64_t *raw = nullptr;
    int64_t count = 0;
    int status;
    {
        ReleaseGilIf release(n >= kReleaseGilMinWork);
        status = ffl_primes(n, &raw, &count);
    }
    std::unique_ptr<int64_t, CoreFree> owned(raw);  // freed on every path, errors included
    check_status("primes", status);
    py::list out(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; i++) {
        // SET_ITEM steals the new reference; a failure leaves NULL slots, which list dealloc skips.
        PyList_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(i), py::int_(raw[i]).release().ptr());
    }
    return out;
}

double fast_sum(py::handle a_obj) {
    py::array a = check_array("fast_sum", "a", a_obj);
    const int64_t n = a.shape(0);
    ReleaseGilIf release(n >= kReleaseGilMinWork);
    return ffl_fast_sum(data_of(a), n);
}

double fast_dot(py::handle a_obj, py::handle b_obj) {
    py::array a = check_array("fast_dot", "a", a_obj);
    py::array b = check_array("fast_dot", "b", b_obj);
    check_same_length("fast_dot", a, b, "a and b");
    const int64_t n = a.shape(0);
    ReleaseGilIf release(n >= kReleaseGilMinWork);
    return ffl_fast_dot(data_of(a), data_of(b), n);
}

double fast_norm(py::handle a_obj) {
    py::array a = check_array("fast_norm", "a", a_obj);
    const int64_t n = a.shape(0);
    ReleaseGilIf release(n >= kReleaseGilMinWork);
    return ffl_fast_norm(data_of(a), n);
}

py::array_t<double> scale_and_shift(py::handle a_obj, py::handle scale_obj, py::handle shift_obj) {
    // The conversions first (they may run Python code that changes a), then the array.
    const double scale = as_real("scale_and_shift", "scale", scale_obj);
    const double shift = as_real("scale_and_shift", "shift", shift_obj);
    py::array a = check_array("scale_and_shift", "a", a_obj);
    const int64_t n = a.shape(0);
    py::array_t<double> out(static_cast<py::ssize_t>(n));
    double *out_data = out.mutable_data();
    int status;
    {
        ReleaseGilIf release(n >= kReleaseGilMinWork);
        status = ffl_scale_and_shift(data_of(a), out_data, n, scale, shift);
    }
    check_status("scale_and_shift", status);
    return out;
}

double haversine_distance(py::handle lat1, py::handle lon1, py::handle lat2, py::handle lon2) {
    const char *f = "haversine_distance";
    // Separate statements: the reference converts left to right, so the first bad argument wins.
    const double a = as_real(f, "lat1", lat1);
    const double b = as_real(f, "lon1", lon1);
    const double c = as_real(f, "lat2", lat2);
    const double d = as_real(f, "lon2", lon2);
    return ffl_haversine(a, b, c, d);
}

py::array_t<double> haversine_many(py::handle lat_obj, py::handle lon_obj, py::handle lats_obj,
                                   py::handle lons_obj) {
    const char *f = "haversine_many";
    const double lat = as_real(f, "lat", lat_obj);
    const double lon = as_real(f, "lon", lon_obj);
    py::array lats = check_array(f, "lats", lats_obj);
    py::array lons = check_array(f, "lons", lons_obj);
    check_same_length(f, lats, lons, "lats and lons");
    const int64_t n = lats.shape(0);
    py::array_t<double> out(static_cast<py::ssize_t>(n));
    double *out_data = out.mutable_data();
    int status;
    {
        ReleaseGilIf release(n >= kReleaseGilMinWork);
        status = ffl_haversine_many(lat, lon, data_of(lats), data_of(lons), n, out_data);
    }
    check_status(f, status);
    return out;
}

py::tuple find_nearest_k(py::handle lat_obj, py::handle lon_obj, py::handle lats_obj, py::handle lons_obj,
                         py::handle k_obj) {
    const char *f = "find_nearest_k";
    const double lat = as_real(f, "lat", lat_obj);
    const double lon = as_real(f, "lon", lon_obj);
    // k's __index__ may run Python code that changes the arrays: convert it before they are
    // checked, and check its range, which needs their length, after (contract.check_nearest).
    const IndexValue k_value = to_index(f, "k", k_obj);
    py::array lats = check_array(f, "lats", lats_obj);
    py::array lons = check_array(f, "lons", lons_obj);
    check_same_length(f, lats, lons, "lats and lons");
    const int64_t n = lats.shape(0);
    const int64_t k = check_k(f, k_value, n);
    py::array_t<int64_t> idx(static_cast<py::ssize_t>(k));
    py::array_t<double> dist(static_cast<py::ssize_t>(k));
    int64_t *idx_data = idx.mutable_data();
    double *dist_data = dist.mutable_data();
    int status;
    {
        ReleaseGilIf release(n >= kReleaseGilMinWork);
        status = ffl_find_nearest_k(lat, lon, data_of(lats), data_of(lons), n, k, idx_data, dist_data);
    }
    check_status(f, status);
    return py::make_tuple(idx, dist);
}

// tokenize_batch: the glue is shared with the nanobind route (csrc/ffilab_tokenize_py.h, plain C
// over PyObject*): Python's NFKC and casefold for non-ASCII text, the C core's scanner over the
// strings' own PEP 393 buffers, tokens built straight from the spans.  What is pybind11's here is
// the argument (a plain handle: pybind11's list<str> caster would copy every str into a
// std::string) and the GIL release, which runs the scan of every chunk of texts.
void release_gil_and_run(void (*work)(void *), void *arg) {
    py::gil_scoped_release release;
    work(arg);
}

py::list tokenize_batch(py::handle texts) {
    PyObject *out = ffl_tokpy_tokenize_batch("tokenize_batch", texts.ptr(), &release_gil_and_run);
    if (out == nullptr) {
        throw py::error_already_set();  // the TypeError, MemoryError, ... the glue set
    }
    return py::reinterpret_steal<py::list>(out);
}

// The Accumulator: a small RAII owner of the core's ffl_accumulator, so the C state lives
// exactly as long as the Python object (pybind11 holds it in a std::unique_ptr).  Copying would
// free the handle twice, so copies and moves are forbidden.
class Accumulator {
public:
    explicit Accumulator(double initial) : acc_(ffl_acc_new(initial)) {
        if (acc_ == nullptr) {
            throw std::bad_alloc();  // pybind11 raises MemoryError for it
        }
    }
    ~Accumulator() { ffl_acc_free(acc_); }
    Accumulator(const Accumulator &) = delete;
    Accumulator &operator=(const Accumulator &) = delete;

    // Accumulator.__new__(Accumulator) makes an instance whose __init__ never ran; pybind11 then
    // "lazily" allocates storage for it on the first method call, with this class's operator new,
    // and never constructs it.  Zeroed storage makes such an instance read as acc_ == nullptr,
    // which handle() rejects, where ::operator new's garbage would be dereferenced.
    static void *operator new(std::size_t size) {
        void *p = ::operator new(size);
        std::memset(p, 0, size);
        return p;
    }
    static void operator delete(void *p) noexcept { ::operator delete(p); }

    void add(double value) { check_status("Accumulator.add", ffl_acc_add(handle(), value)); }
    double mean() const { return ffl_acc_mean(handle()); }
    int64_t count() const { return ffl_acc_count(handle()); }
    double total() const { return ffl_acc_total(handle()); }

private:
    ffl_accumulator *handle() const {
        if (acc_ == nullptr) {
            // AttributeError, as the reference's slots raise on an instance that skipped __init__.
            throw_python(PyExc_AttributeError, "Accumulator: the object was never initialised (__init__ was not called)");
        }
        return acc_;
    }

    ffl_accumulator *acc_;
};

// ---------------------------------------------------------------------------------------------
// Docstrings.  Each starts with a CPython text signature ("name(args)\n--\n\n"), so that
// inspect.signature and help() show the real parameter names and defaults; pybind11's own
// generated signatures are switched off below because every parameter is a plain object here
// (the types are in _ext.pyi).

constexpr const char *kModuleDoc = R"doc(Route pybind11: the lesson's kernels bound from C++ with pybind11 over the shared C core.

Every argument is checked in C++ against ffilab's contract (ffilab.contract), raising the
reference's exception class; arrays are never converted or copied.)doc";

constexpr const char *kSumOfSquaresDoc = R"doc(sum_of_squares(n, /)
--

Return the exact sum of ``i * i`` for ``0 <= i < n``.

The loop runs in the C core with a 128-bit accumulator (never the closed form); the GIL is
released while it runs.

Parameters
----------
n : int
    Number of terms, ``0 <= n <= 2**32``; anything with ``__index__`` is accepted.

Returns
-------
int
    The exact sum (a Python int; never wraps around).

Raises
------
TypeError
    ``n`` is not an integer.
ValueError
    ``n < 0``.
OverflowError
    ``n > 2**32``.
)doc";

constexpr const char *kCircleAreaDoc = R"doc(circle_area(radius, /)
--

Return ``pi * radius * radius``, evaluated left to right.

Parameters
----------
radius : float
    Any real number (float, int, or an object with ``__float__`` or ``__index__``).

Returns
-------
float

Raises
------
TypeError
    ``radius`` is not a real number.
OverflowError
    ``radius`` is an int too large for a float.
)doc";

constexpr const char *kScaleArrayDoc = R"doc(scale_array(arr, factor)
--

Multiply every element of ``arr`` by ``factor``, in place.

Parameters
----------
arr : numpy.ndarray
    Writable, 1-D, C-contiguous, aligned, native float64.  Never copied: the caller's array is modified.
factor : float
    Any real number.

Returns
-------
None

Raises
------
TypeError
    ``arr`` is not a float64 ndarray, or ``factor`` is not a real number.
ValueError
    ``arr`` is not 1-D, not C-contiguous, misaligned, or read-only.
OverflowError
    ``factor`` is an int too large for a float.
)doc";

constexpr const char *kComputeDistancesDoc = R"doc(compute_distances(points, /)
--

Return the distance of each row of ``points`` from the origin.

The result buffer is allocated by the C core and handed to NumPy without a copy; it is freed
when the returned array (and every view of it) is gone.

Parameters
----------
points : numpy.ndarray
    Shape ``(n, 2)``, C-contiguous, aligned, native float64.

Returns
-------
numpy.ndarray
    A new float64 array of length ``n``.

Raises
------
TypeError
    ``points`` is not a float64 ndarray.
ValueError
    ``points`` is not ``(n, 2)``, not C-contiguous or misaligned.
MemoryError
    The C core could not allocate the result.
)doc";

constexpr const char *kPrimesDoc = R"doc(primes(n, /)
--

Return the primes below ``n`` by the lesson's trial division.

Each candidate is divided by every ``d`` in ``2 .. candidate - 1`` until the first divisor; the
GIL is released while the C core searches.

Parameters
----------
n : int
    Upper bound (exclusive), ``0 <= n <= 2**31 - 1``.

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
)doc";

constexpr const char *kFastSumDoc = R"doc(fast_sum(a, /)
--

Return the sum of ``a``, accumulated left to right.

Parameters
----------
a : numpy.ndarray
    1-D, C-contiguous, aligned, native float64.

Returns
-------
float
    ``0.0`` for an empty array.

Raises
------
TypeError
    ``a`` is not a float64 ndarray.
ValueError
    ``a`` is not 1-D, not C-contiguous or misaligned.
)doc";

constexpr const char *kFastDotDoc = R"doc(fast_dot(a, b)
--

Return the dot product of ``a`` and ``b``, accumulated left to right.

Parameters
----------
a, b : numpy.ndarray
    1-D, C-contiguous, aligned, native float64, of the same length.

Returns
-------
float

Raises
------
TypeError
    ``a`` or ``b`` is not a float64 ndarray.
ValueError
    Not 1-D, not C-contiguous, misaligned, or of different lengths.
)doc";

constexpr const char *kFastNormDoc = R"doc(fast_norm(a, /)
--

Return the L2 norm ``sqrt(sum(x * x))`` of ``a``.

No rescaling: the sum of squares overflows to ``inf`` exactly as the reference's does.

Parameters
----------
a : numpy.ndarray
    1-D, C-contiguous, aligned, native float64.

Returns
-------
float

Raises
------
TypeError
    ``a`` is not a float64 ndarray.
ValueError
    ``a`` is not 1-D, not C-contiguous or misaligned.
)doc";

constexpr const char *kScaleAndShiftDoc = R"doc(scale_and_shift(a, scale, shift=0.0)
--

Return a new array ``a * scale + shift``.

Parameters
----------
a : numpy.ndarray
    1-D, C-contiguous, aligned, native float64 (not modified).
scale : float
    Any real number.
shift : float, default 0.0
    Any real number.

Returns
-------
numpy.ndarray
    A new float64 array of the same length as ``a``.

Raises
------
TypeError
    ``a`` is not a float64 ndarray, or ``scale``/``shift`` is not a real number.
ValueError
    ``a`` is not 1-D, not C-contiguous or misaligned.
OverflowError
    ``scale`` or ``shift`` is an int too large for a float.
)doc";

constexpr const char *kHaversineDistanceDoc = R"doc(haversine_distance(lat1, lon1, lat2, lon2)
--

Return the great-circle distance in km between two points given in degrees (R = 6371).

Parameters
----------
lat1, lon1, lat2, lon2 : float
    Latitudes and longitudes in degrees; any real numbers.

Returns
-------
float

Raises
------
TypeError
    An argument is not a real number.
OverflowError
    An argument is an int too large for a float.
)doc";

constexpr const char *kHaversineManyDoc = R"doc(haversine_many(lat, lon, lats, lons)
--

Return the distance in km from ``(lat, lon)`` to every ``(lats[i], lons[i])``.

Parameters
----------
lat, lon : float
    The reference point, in degrees.
lats, lons : numpy.ndarray
    1-D, C-contiguous, aligned, native float64, of the same length.

Returns
-------
numpy.ndarray
    A new float64 array of distances in km.

Raises
------
TypeError
    ``lat``/``lon`` is not a real number, or ``lats``/``lons`` is not a float64 ndarray.
ValueError
    ``lats``/``lons`` not 1-D, not C-contiguous, misaligned, or of different
    lengths.
OverflowError
    ``lat`` or ``lon`` is an int too large for a float.
)doc";

constexpr const char *kFindNearestKDoc = R"doc(find_nearest_k(lat, lon, lats, lons, k)
--

Return the ``k`` points nearest to ``(lat, lon)``.

Parameters
----------
lat, lon : float
    The reference point, in degrees.
lats, lons : numpy.ndarray
    1-D, C-contiguous, aligned, native float64, of the same length ``n``.
k : int
    How many points to return, ``0 <= k <= n``.

Returns
-------
indices : numpy.ndarray of int64
distances : numpy.ndarray of float64
    Sorted by distance (km), ties broken by the smaller index, NaN distances last.

Raises
------
TypeError
    ``lat``/``lon`` is not a real number, ``lats``/``lons`` is not a float64 ndarray, or ``k``
    is not an integer.
ValueError
    ``lats``/``lons`` not 1-D, not C-contiguous, misaligned or of different lengths;
    ``k < 0`` or ``k > n``.
OverflowError
    ``lat`` or ``lon`` is an int too large for a float.
)doc";

constexpr const char *kTokenizeBatchDoc = R"doc(tokenize_batch(texts, /)
--

Return the tokens of every text: NFKC, then case folding, then words, exact on any Unicode.

Per text: ``str.casefold(unicodedata.normalize("NFKC", text))`` (an ASCII text skips both: they
are the identity and ASCII lowercasing there); tokens are maximal runs of word characters in
which an apostrophe, hyphen or zero-width (non-)joiner between two word characters joins; a
token of digits only becomes ``"<num>"``, one longer than ``TOKEN_MAX_CHARS`` (64) code points is
dropped (see ``ffilab.contract``).  The C core scans the strings' own buffers with the GIL
released.

Parameters
----------
texts : list of str
    The batch; a subclass of list or str is read as its raw data.

Returns
-------
list of list of str
    One list of tokens per text, in order.

Raises
------
TypeError
    ``texts`` is not a list, or one of its elements is not a str.
)doc";

constexpr const char *kAccumulatorDoc = R"doc(Running total and count of the values added to it.

The state lives in the C core's ``ffl_accumulator``, owned by a C++ RAII object and freed when
this object dies.

Parameters
----------
initial : float, default 0.0
    Starting total (the count starts at 0).

Raises
------
TypeError
    ``initial`` is not a real number.
OverflowError
    ``initial`` is an int too large for a float.
)doc";

constexpr const char *kAccumulatorInitDoc = R"doc(__init__(self, initial=0.0)
--

Start with total ``initial`` and count 0.
)doc";

constexpr const char *kAddDoc = R"doc(add(self, value, /)
--

Add ``value`` to the total and count it.

Parameters
----------
value : float
    Any real number.

Raises
------
TypeError
    ``value`` is not a real number.
OverflowError
    ``value`` is an int too large for a float.
)doc";

constexpr const char *kMeanDoc = R"doc(mean(self)
--

Return ``total / count``, or 0.0 when nothing was added.
)doc";

constexpr const char *kReprDoc = R"doc(__repr__(self)
--

Return ``<Accumulator count=N total=T>``, with ``T`` exactly ``repr(total)``.
)doc";

}  // namespace

PYBIND11_MODULE(_ext, m) {
    // Text signatures in the docstrings replace pybind11's generated ones (see above); the
    // options object restores the global defaults when it goes out of scope.
    py::options options;
    options.disable_function_signatures();

    m.doc() = kModuleDoc;

    m.def("sum_of_squares", &sum_of_squares, kSumOfSquaresDoc, py::arg("n"), py::pos_only());
    m.def("circle_area", &circle_area, kCircleAreaDoc, py::arg("radius"), py::pos_only());
    m.def("scale_array", &scale_array, kScaleArrayDoc, py::arg("arr"), py::arg("factor"));
    m.def("compute_distances", &compute_distances, kComputeDistancesDoc, py::arg("points"), py::pos_only());
    m.def("primes", &primes, kPrimesDoc, py::arg("n"), py::pos_only());
    m.def("fast_sum", &fast_sum, kFastSumDoc, py::arg("a"), py::pos_only());
    m.def("fast_dot", &fast_dot, kFastDotDoc, py::arg("a"), py::arg("b"));
    m.def("fast_norm", &fast_norm, kFastNormDoc, py::arg("a"), py::pos_only());
    m.def("scale_and_shift", &scale_and_shift, kScaleAndShiftDoc, py::arg("a"), py::arg("scale"),
          py::arg("shift") = 0.0);
    m.def("haversine_distance", &haversine_distance, kHaversineDistanceDoc, py::arg("lat1"), py::arg("lon1"),
          py::arg("lat2"), py::arg("lon2"));
    m.def("haversine_many", &haversine_many, kHaversineManyDoc, py::arg("lat"), py::arg("lon"), py::arg("lats"),
          py::arg("lons"));
    m.def("find_nearest_k", &find_nearest_k, kFindNearestKDoc, py::arg("lat"), py::arg("lon"), py::arg("lats"),
          py::arg("lons"), py::arg("k"));
    m.def("tokenize_batch", &tokenize_batch, kTokenizeBatchDoc, py::arg("texts"), py::pos_only());

    py::class_<Accumulator>(m, "Accumulator", kAccumulatorDoc)
        // A factory rather than py::init<double>: the argument goes through as_real, so a bad
        // initial raises the contract's class instead of pybind11's "incompatible arguments".
        .def(py::init([](py::handle initial) {
                 return std::make_unique<Accumulator>(as_real("Accumulator", "initial", initial));
             }),
             kAccumulatorInitDoc, py::arg("initial") = 0.0)
        .def(
            "add", [](Accumulator &self, py::handle value) { self.add(as_real("Accumulator.add", "value", value)); },
            kAddDoc, py::arg("value"), py::pos_only())
        .def("mean", &Accumulator::mean, kMeanDoc)
        .def_property_readonly("count", &Accumulator::count, "Number of values added (read-only).")
        .def_property_readonly("total", &Accumulator::total, "Current total (read-only).")
        .def(
            "__repr__",
            [](const Accumulator &self) {
                // repr(float), not std::to_string's "%f": 0.1 must read 0.1, 1e-300 must not read 0.000000.
                return "<Accumulator count=" + std::to_string(self.count()) +
                       " total=" + std::string(py::repr(py::float_(self.total()))) + ">";
            },
            kReprDoc);
}
