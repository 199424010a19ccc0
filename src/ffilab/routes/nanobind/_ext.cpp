// _ext.cpp: route nanobind, the lesson's kernels bound from C++ with nanobind over the shared C core.
//
// The kernels themselves are the C core's (csrc/ffilab_core.c), so this route runs the very same
// machine code as ctypes, cffi, the C API and pybind11: what differs is only the glue below.
//
// nanobind's automatic casters do not follow ffilab's contract (ffilab/contract.py):
//   * an int64_t or double parameter given a bad value (2**64, "3", None) makes the call fall
//     through every overload and raise TypeError ("incompatible function arguments"), where the
//     contract wants OverflowError for 2**64 and names the argument in its message;
//   * nb::ndarray<double, nb::c_contig> converts float32 or strided arrays into a temporary copy
//     (an in-place kernel would write into the copy and the caller's array would never change);
//     with .noconvert() a non-contiguous array is a TypeError where the contract says ValueError,
//     and every array argument is imported through DLPack or the buffer protocol on every call.
// So every argument is taken as a plain nb::handle and checked, in the reference's order, by the
// contract's one C implementation (csrc/ffilab_contract_py.h, shared with the capi and pybind11
// routes), raising exactly the reference's exception class.  Arrays are checked with NumPy's own
// flags (its C API), which are the very flags contract.py reads.  Results go out the nanobind way: a
// buffer plus an owner capsule wrapped in nb::ndarray<nb::numpy>, never copied.  There is no
// Python wrapper layer.

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <optional>
#include <string>

#include "ffilab_contract_py.h"
#include "ffilab_core.h"
#include "ffilab_docs.h"
#include "ffilab_tokenize_py.h"

namespace nb = nanobind;

namespace {

// The contract's checks (csrc/ffilab_contract_py.h, shared with the capi and pybind11 routes) in
// nanobind's idiom: a failed check has set the Python exception, and nb::python_error carries
// it to nanobind's dispatcher, which restores it unchanged.  Arrays are checked with NumPy's own
// flags (its C API), which are the very flags contract.py reads.
using contract = ffl_contract::Checks<nb::python_error>;
using ffl_contract::data_of;
using ffl_contract::length_of;

// ---------------------------------------------------------------------------------------------
// Arrays out.

// Deleters for the two kinds of buffer this module hands to NumPy: the C core's (released with
// ffl_free, the core's own allocator) and the ones allocated here for the core to fill.
struct CoreFree {
    void operator()(void *p) const noexcept { ffl_free(p); }
};
struct StdFree {
    void operator()(void *p) const noexcept { std::free(p); }
};

template <typename T>
using Vector = nb::ndarray<nb::numpy, T, nb::ndim<1>, nb::c_contig>;

// A buffer of n values for the C core to fill; at least one element, because malloc(0) may
// return NULL, which would read as failure.  Allocated with the GIL held, before the core runs.
template <typename T>
std::unique_ptr<T, StdFree> allocate(const char *func, int64_t n) {
    const auto count = static_cast<size_t>(n > 0 ? n : 1);
    T *raw = count <= SIZE_MAX / sizeof(T) ? static_cast<T *>(std::malloc(count * sizeof(T))) : nullptr;
    if (raw == nullptr) {
        PyErr_Format(PyExc_MemoryError, "%s: could not allocate the result", func);
        throw nb::python_error();
    }
    return std::unique_ptr<T, StdFree>(raw);
}

// Hands a buffer to NumPy without a copy.  The capsule becomes its owner: nb::ndarray keeps a
// reference to it, the NumPy array NumPy builds from it keeps the ndarray, and the capsule's
// destructor frees the buffer when the last array viewing it dies.  Until the capsule exists
// unique_ptr owns the buffer, so a failure on the way frees it instead of leaking it.
// This is nanobind's documented way to return memory to NumPy, and its cost is part of the
// route: nanobind wraps the buffer in its own ndarray object and calls numpy.asarray on it,
// which NumPy reads through the buffer protocol; a few hundred ns more per array result than
// the PyArray_New that pybind11's py::array_t and the C API route use.
template <typename T, typename Free>
Vector<T> hand_to_numpy(std::unique_ptr<T, Free> &owned, int64_t n) {
    nb::capsule owner(owned.get(), [](void *p) noexcept { Free{}(p); });
    T *data = owned.release();
    return Vector<T>(data, {static_cast<size_t>(n)}, owner);
}

// Holds nb::gil_scoped_release only when the work reaches FFL_RELEASE_GIL_MIN_WORK, the threshold
// every native binding of ffilab shares (ffilab_core.h says how it was measured).  Every array
// the released code reads stays referenced by the caller's arguments, so nothing it points into
// can be freed while the GIL is down.
class ReleaseGilIf {
public:
    explicit ReleaseGilIf(int64_t work) {
        if (work >= FFL_RELEASE_GIL_MIN_WORK) {
            release_.emplace();
        }
    }

private:
    std::optional<nb::gil_scoped_release> release_;
};

// ---------------------------------------------------------------------------------------------
// The kernels.  Every C-core call that loops over its input runs with the GIL released once the
// input is large enough (ReleaseGilIf); ctypes and cffi release around every foreign call and
// cannot be told otherwise.  The scalar kernels (circle_area, haversine_distance, the
// Accumulator) keep it.

nb::object sum_of_squares(nb::handle n_obj) {
    const int64_t n = contract::as_index("sum_of_squares", "n", n_obj.ptr(), FFL_SUM_OF_SQUARES_MAX_N);
    uint64_t hi = 0;
    uint64_t lo = 0;
    int status;
    {
        ReleaseGilIf release(n);
        status = ffl_sum_of_squares(n, &hi, &lo);
    }
    contract::check_status("sum_of_squares", status);
    if (hi == 0) {
        return nb::int_(lo);
    }
    // No C integer type Python converts from holds 128 bits: join the halves with Python ints.
    return (nb::int_(hi) << nb::int_(64)) | nb::int_(lo);
}

double circle_area(nb::handle radius) { return ffl_circle_area(contract::as_real("circle_area", "radius", radius.ptr())); }

void scale_array(nb::handle arr_obj, nb::handle factor_obj) {
    // The conversion first: factor's __float__ may run Python code that makes arr read-only or
    // resizes it, and a check made before it would no longer hold (contract: order of checks).
    const double factor = contract::as_real("scale_array", "factor", factor_obj.ptr());
    PyArrayObject *arr = contract::check_array("scale_array", "arr", arr_obj.ptr(), /*writable=*/true);
    // The caller's own buffer: checked writable and C-contiguous above, so the write lands there.
    auto *data = static_cast<double *>(PyArray_DATA(arr));
    const int64_t n = length_of(arr);
    int status;
    {
        ReleaseGilIf release(n);
        status = ffl_scale_array(data, n, factor);
    }
    contract::check_status("scale_array", status);
}

Vector<double> compute_distances(nb::handle points_obj) {
    PyArrayObject *points = contract::check_points("compute_distances", "points", points_obj.ptr());
    const int64_t n = length_of(points);
    double *raw;
    {
        ReleaseGilIf release(n);
        raw = ffl_compute_distances(data_of(points), n);
    }
    if (raw == nullptr) {
        contract::fail(PyExc_MemoryError, "compute_distances: the C core could not allocate the result");
    }
    // The core's malloc'ed buffer becomes the array's memory, freed by the core's ffl_free.
    std::unique_ptr<double, CoreFree> owned(raw);
    return hand_to_numpy(owned, n);
}

nb::list primes(nb::handle n_obj) {
    const int64_t n = contract::as_index("primes", "n", n_obj.ptr(), FFL_PRIMES_MAX_N);
    int64_t *raw = nullptr;
    int64_t count = 0;
    int status;
    {
        ReleaseGilIf release(n);
        status = ffl_primes(n, &raw, &count);
    }
    std::unique_ptr<int64_t, CoreFree> owned(raw);  // freed on every path, errors included
    contract::check_status("primes", status);
    nb::list out = nb::steal<nb::list>(PyList_New(static_cast<Py_ssize_t>(count)));
    if (!out.is_valid()) {
        throw nb::python_error();
    }
    for (int64_t i = 0; i < count; i++) {
        PyObject *item = PyLong_FromLongLong(raw[i]);
        if (item == nullptr) {
            throw nb::python_error();  // the list's remaining NULL slots are skipped when it dies
        }
        PyList_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(i), item);  // steals the reference
    }
    return out;
}

double fast_sum(nb::handle a_obj) {
    PyArrayObject *a = contract::check_array("fast_sum", "a", a_obj.ptr());
    ReleaseGilIf release(length_of(a));
    return ffl_fast_sum(data_of(a), length_of(a));
}

double fast_dot(nb::handle a_obj, nb::handle b_obj) {
    PyArrayObject *a = contract::check_array("fast_dot", "a", a_obj.ptr());
    PyArrayObject *b = contract::check_array("fast_dot", "b", b_obj.ptr());
    contract::check_same_length("fast_dot", a, b, "a and b");
    ReleaseGilIf release(length_of(a));
    return ffl_fast_dot(data_of(a), data_of(b), length_of(a));
}

double fast_norm(nb::handle a_obj) {
    PyArrayObject *a = contract::check_array("fast_norm", "a", a_obj.ptr());
    ReleaseGilIf release(length_of(a));
    return ffl_fast_norm(data_of(a), length_of(a));
}

Vector<double> scale_and_shift(nb::handle a_obj, nb::handle scale_obj, nb::handle shift_obj) {
    // The conversions first (they may run Python code that changes a), then the array.
    const double scale = contract::as_real("scale_and_shift", "scale", scale_obj.ptr());
    const double shift = contract::as_real("scale_and_shift", "shift", shift_obj.ptr());
    PyArrayObject *a = contract::check_array("scale_and_shift", "a", a_obj.ptr());
    const int64_t n = length_of(a);
    auto out = allocate<double>("scale_and_shift", n);
    int status;
    {
        ReleaseGilIf release(n);
        status = ffl_scale_and_shift(data_of(a), out.get(), n, scale, shift);
    }
    contract::check_status("scale_and_shift", status);
    return hand_to_numpy(out, n);
}

double haversine_distance(nb::handle lat1, nb::handle lon1, nb::handle lat2, nb::handle lon2) {
    const char *f = "haversine_distance";
    // Separate statements: the reference converts left to right, so the first bad argument wins.
    const double a = contract::as_real(f, "lat1", lat1.ptr());
    const double b = contract::as_real(f, "lon1", lon1.ptr());
    const double c = contract::as_real(f, "lat2", lat2.ptr());
    const double d = contract::as_real(f, "lon2", lon2.ptr());
    return ffl_haversine(a, b, c, d);
}

Vector<double> haversine_many(nb::handle lat_obj, nb::handle lon_obj, nb::handle lats_obj, nb::handle lons_obj) {
    const char *f = "haversine_many";
    const ffl_contract_query q = contract::check_query(f, lat_obj.ptr(), lon_obj.ptr(), lats_obj.ptr(), lons_obj.ptr());
    const int64_t n = q.n;
    auto out = allocate<double>(f, n);
    int status;
    {
        ReleaseGilIf release(n);
        status = ffl_haversine_many(q.lat, q.lon, data_of(q.lats), data_of(q.lons), n, out.get());
    }
    contract::check_status(f, status);
    return hand_to_numpy(out, n);
}

nb::tuple find_nearest_k(nb::handle lat_obj, nb::handle lon_obj, nb::handle lats_obj, nb::handle lons_obj,
                         nb::handle k_obj) {
    const char *f = "find_nearest_k";
    // lat, lon and k's conversions (which may run Python code that changes the arrays) come
    // before the arrays are checked; k's range, which needs their length, after.
    const ffl_contract_query q =
        contract::check_nearest(f, lat_obj.ptr(), lon_obj.ptr(), lats_obj.ptr(), lons_obj.ptr(), k_obj.ptr());
    const int64_t n = q.n;
    const int64_t k = q.k;
    auto idx = allocate<int64_t>(f, k);
    auto dist = allocate<double>(f, k);
    int status;
    {
        ReleaseGilIf release(n);
        status = ffl_find_nearest_k(q.lat, q.lon, data_of(q.lats), data_of(q.lons), n, k, idx.get(), dist.get());
    }
    contract::check_status(f, status);
    // Both arrays are built before the tuple, so an exception in between frees what remains.
    Vector<int64_t> indices = hand_to_numpy(idx, k);
    Vector<double> distances = hand_to_numpy(dist, k);
    return nb::make_tuple(indices, distances);
}

// tokenize_batch: the glue is shared with the pybind11 route (csrc/ffilab_tokenize_py.h, plain C
// over PyObject*): Python's NFKC and casefold for non-ASCII text, the C core's scanner over the
// strings' own PEP 393 buffers, tokens built straight from the spans.  What is nanobind's here is
// the argument (a plain handle: nanobind's list<str> caster would copy every str into a
// std::string) and the GIL release, which runs the scan of every chunk of texts.
void release_gil_and_run(void (*work)(void *), void *arg) {
    nb::gil_scoped_release release;
    work(arg);
}

nb::list tokenize_batch(nb::handle texts) {
    PyObject *out = ffl_tokpy_tokenize_batch("tokenize_batch", texts.ptr(), &release_gil_and_run);
    if (out == nullptr) {
        throw nb::python_error();  // the TypeError, MemoryError, ... the glue set
    }
    return nb::steal<nb::list>(out);
}

// The Accumulator: a small RAII owner of the core's ffl_accumulator, so the C state lives
// exactly as long as the Python object (nanobind constructs it in place inside the instance
// and runs the destructor when the instance dies).  Copying would free the handle twice, so
// copies and moves are forbidden.
class Accumulator {
public:
    explicit Accumulator(double initial) : acc_(ffl_acc_new(initial)) {
        if (acc_ == nullptr) {
            throw std::bad_alloc();  // nanobind raises MemoryError for it
        }
    }
    ~Accumulator() { ffl_acc_free(acc_); }
    Accumulator(const Accumulator &) = delete;
    Accumulator &operator=(const Accumulator &) = delete;

    void add(double value) { contract::check_status("Accumulator.add", ffl_acc_add(acc_, value)); }
    double mean() const { return ffl_acc_mean(acc_); }
    int64_t count() const { return ffl_acc_count(acc_); }
    double total() const { return ffl_acc_total(acc_); }

private:
    ffl_accumulator *acc_;  // never NULL: only the constructor sets it
};

// The Accumulator behind a method's self.  The methods take self as a plain handle rather than
// Accumulator &: for an instance whose __init__ never ran (Accumulator.__new__(Accumulator)),
// nanobind's typed self would fail the call with TypeError ("incompatible function arguments")
// and a RuntimeWarning, where the reference's unset slots raise AttributeError.
Accumulator &accumulator_of(nb::handle self) {
    if (!nb::isinstance<Accumulator>(self)) {
        PyErr_Format(PyExc_TypeError, "Accumulator: a method was called on a %s, not an Accumulator",
                     ffl_contract_type_name(self.ptr()));
        throw nb::python_error();
    }
    if (!nb::inst_ready(self)) {
        contract::fail(PyExc_AttributeError, FFL_CONTRACT_MSG_UNINITIALISED);
    }
    return *nb::inst_ptr<Accumulator>(self);
}

// ---------------------------------------------------------------------------------------------
// Signatures and docstrings.  Every parameter is a plain object here, so nanobind's generated
// signatures would read "object"; nb::sig gives the real ones (the same as _ext.pyi), which
// nanobind puts on the first line of each __doc__, above the kernel's docstring, written once in
// src/ffilab/_docstrings.py and compiled from csrc/ffilab_docs.h (generated from it).
//
// Single arguments are positional-only because they carry no nb::arg at all: nanobind then
// dispatches the call through its cheapest path (positional arguments only, no defaults), where
// a keyword call matches nothing and is a TypeError.  That path also turns None away before the
// function runs, with nanobind's own TypeError ("incompatible function arguments", listing the
// signature): the contract's class, so these arguments do not opt into None with .none(), which
// would cost every call the general dispatcher (about 13 ns, a sixth of circle_area's call).
// Named arguments use the general dispatcher anyway, so there .none() is free and None reaches
// the checks below, which name the argument.

#define FFL_REAL "typing.SupportsFloat | typing.SupportsIndex"
#define FFL_F64 "numpy.typing.NDArray[numpy.float64]"

constexpr const char *kModuleDoc = R"doc(Route nanobind: the lesson's kernels bound from C++ with nanobind over the shared C core.

Every argument is checked in C++ against ffilab's contract (ffilab.contract), raising the
reference's exception class; arrays are never converted or copied.)doc";

}  // namespace

NB_MODULE(_ext, m) {
    // NumPy's C API table (PyArray_Check and the flags above).  A failure is an ImportError of
    // this module, which the registry reports as the route's reason: never a fallback.
    if (PyArray_ImportNumPyAPI() < 0) {
        throw nb::python_error();
    }

    m.doc() = kModuleDoc;

    m.def("sum_of_squares", &sum_of_squares,
          nb::sig("def sum_of_squares(n: typing.SupportsIndex, /) -> int"), FFL_DOC_SUM_OF_SQUARES);
    m.def("circle_area", &circle_area,
          nb::sig("def circle_area(radius: " FFL_REAL ", /) -> float"), FFL_DOC_CIRCLE_AREA);
    m.def("scale_array", &scale_array, nb::arg("arr").none(), nb::arg("factor").none(),
          nb::sig("def scale_array(arr: " FFL_F64 ", factor: " FFL_REAL ") -> None"), FFL_DOC_SCALE_ARRAY);
    m.def("compute_distances", &compute_distances,
          nb::sig("def compute_distances(points: " FFL_F64 ", /) -> " FFL_F64), FFL_DOC_COMPUTE_DISTANCES);
    m.def("primes", &primes, nb::sig("def primes(n: typing.SupportsIndex, /) -> list[int]"),
          FFL_DOC_PRIMES);
    m.def("fast_sum", &fast_sum, nb::sig("def fast_sum(a: " FFL_F64 ", /) -> float"),
          FFL_DOC_FAST_SUM);
    m.def("fast_dot", &fast_dot, nb::arg("a").none(), nb::arg("b").none(),
          nb::sig("def fast_dot(a: " FFL_F64 ", b: " FFL_F64 ") -> float"), FFL_DOC_FAST_DOT);
    m.def("fast_norm", &fast_norm, nb::sig("def fast_norm(a: " FFL_F64 ", /) -> float"),
          FFL_DOC_FAST_NORM);
    m.def("scale_and_shift", &scale_and_shift, nb::arg("a").none(), nb::arg("scale").none(),
          nb::arg("shift").none() = 0.0,
          nb::sig("def scale_and_shift(a: " FFL_F64 ", scale: " FFL_REAL ", shift: " FFL_REAL " = 0.0) -> " FFL_F64),
          FFL_DOC_SCALE_AND_SHIFT);
    m.def("haversine_distance", &haversine_distance, nb::arg("lat1").none(), nb::arg("lon1").none(),
          nb::arg("lat2").none(), nb::arg("lon2").none(),
          nb::sig("def haversine_distance(lat1: " FFL_REAL ", lon1: " FFL_REAL ", lat2: " FFL_REAL ", lon2: " FFL_REAL
                  ") -> float"),
          FFL_DOC_HAVERSINE_DISTANCE);
    m.def("haversine_many", &haversine_many, nb::arg("lat").none(), nb::arg("lon").none(), nb::arg("lats").none(),
          nb::arg("lons").none(),
          nb::sig("def haversine_many(lat: " FFL_REAL ", lon: " FFL_REAL ", lats: " FFL_F64 ", lons: " FFL_F64
                  ") -> " FFL_F64),
          FFL_DOC_HAVERSINE_MANY);
    m.def("find_nearest_k", &find_nearest_k, nb::arg("lat").none(), nb::arg("lon").none(), nb::arg("lats").none(),
          nb::arg("lons").none(), nb::arg("k").none(),
          nb::sig("def find_nearest_k(lat: " FFL_REAL ", lon: " FFL_REAL ", lats: " FFL_F64 ", lons: " FFL_F64
                  ", k: typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.int64], " FFL_F64 "]"),
          FFL_DOC_FIND_NEAREST_K);
    // An unnamed argument is positional-only; .none() lets None reach the check, which names
    // the argument as the reference does (a batch kernel does not feel the general dispatcher).
    m.def("tokenize_batch", &tokenize_batch, nb::arg().none(),
          nb::sig("def tokenize_batch(texts: list[str], /) -> list[list[str]]"), FFL_DOC_TOKENIZE_BATCH);

    nb::class_<Accumulator>(m, "Accumulator", FFL_DOC_ACCUMULATOR)
        // A custom __init__ rather than nb::init<double>: the argument goes through as_real, so a
        // bad initial raises the contract's class instead of nanobind's "incompatible arguments".
        // If as_real throws, nothing was constructed and nanobind never runs the destructor.
        .def(
            "__init__",
            [](Accumulator *self, nb::handle initial) {
                new (self) Accumulator(contract::as_real("Accumulator", "initial", initial.ptr()));
            },
            nb::arg("initial").none() = 0.0,
            nb::sig("def __init__(self, initial: " FFL_REAL " = 0.0) -> None"), FFL_DOC_ACCUMULATOR_INIT)
        .def(
            "add",
            [](nb::handle self, nb::handle value) {
                Accumulator &acc = accumulator_of(self);
                acc.add(contract::as_real("Accumulator.add", "value", value.ptr()));
            },
            nb::sig("def add(self, value: " FFL_REAL ", /) -> None"), FFL_DOC_ACCUMULATOR_ADD)
        .def(
            "mean", [](nb::handle self) { return accumulator_of(self).mean(); }, nb::sig("def mean(self) -> float"),
            FFL_DOC_ACCUMULATOR_MEAN)
        // def_prop_ro: a property without a setter, so assigning count or total is an
        // AttributeError, as for the reference's read-only properties.
        .def_prop_ro(
            "count", [](nb::handle self) { return accumulator_of(self).count(); },
            nb::sig("def count(self) -> int"), FFL_DOC_ACCUMULATOR_COUNT)
        .def_prop_ro(
            "total", [](nb::handle self) { return accumulator_of(self).total(); },
            nb::sig("def total(self) -> float"), FFL_DOC_ACCUMULATOR_TOTAL)
        .def(
            "__repr__",
            [](nb::handle self) {
                const Accumulator &acc = accumulator_of(self);
                // repr(float), not std::to_string's "%f": 0.1 must read 0.1, 1e-300 must not read 0.000000.
                return nb::str("<Accumulator count={} total={!r}>").format(acc.count(), acc.total());
            },
            nb::sig("def __repr__(self) -> str"), FFL_DOC_ACCUMULATOR_REPR);
}
