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
// So every argument is taken as a plain py::handle and checked, in the reference's order, by the
// contract's one C implementation (csrc/ffilab_contract_py.h, shared with the capi and nanobind
// routes), raising exactly the reference's exception class.  There is no Python wrapper layer.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>

#include "ffilab_contract_py.h"
#include "ffilab_core.h"
#include "ffilab_docs.h"
#include "ffilab_tokenize_py.h"

namespace py = pybind11;

namespace {

// Work below this size keeps the GIL: the threshold every native binding of ffilab shares
// (ffilab_core.h says how it was measured).  ctypes and cffi release around every foreign call
// and cannot be told otherwise; that is part of what those routes cost.
constexpr int64_t kReleaseGilMinWork = FFL_RELEASE_GIL_MIN_WORK;

// Holds py::gil_scoped_release only when the work is long enough to repay it.  Every array the
// released code reads stays referenced by the caller's arguments, so nothing it points into can
// be freed while the GIL is down.
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

// The contract's checks (csrc/ffilab_contract_py.h, shared with the capi and nanobind routes) in
// pybind11's idiom: a failed check has set the Python exception, and py::error_already_set carries
// it to pybind11's dispatcher, which re-raises it unchanged.  Arrays are checked on their C struct
// with NumPy's C API, as contract.py reads them (pybind11's py::array_t caster converts instead).
using contract = ffl_contract::Checks<py::error_already_set>;
using ffl_contract::data_of;
using ffl_contract::length_of;

// Frees memory the C core allocated, for std::unique_ptr: every exit path releases it.
struct CoreFree {
    void operator()(void *p) const noexcept { ffl_free(p); }
};

// ---------------------------------------------------------------------------------------------
// The kernels.

py::object sum_of_squares(py::handle n_obj) {
    const int64_t n = contract::as_index("sum_of_squares", "n", n_obj.ptr(), FFL_SUM_OF_SQUARES_MAX_N);
    uint64_t hi = 0;
    uint64_t lo = 0;
    int status;
    {
        ReleaseGilIf release(n >= kReleaseGilMinWork);
        status = ffl_sum_of_squares(n, &hi, &lo);
    }
    contract::check_status("sum_of_squares", status);
    if (hi == 0) {
        return py::int_(lo);
    }
    // No C integer type Python converts from holds 128 bits: join the halves with Python ints.
    return (py::int_(hi) << py::int_(64)) | py::int_(lo);
}

double circle_area(py::handle radius) { return ffl_circle_area(contract::as_real("circle_area", "radius", radius.ptr())); }

void scale_array(py::handle arr_obj, py::handle factor_obj) {
    // The conversion first: factor's __float__ may run Python code that makes arr read-only or
    // resizes it, and a check made before it would no longer hold (contract: order of checks).
    const double factor = contract::as_real("scale_array", "factor", factor_obj.ptr());
    PyArrayObject *arr = contract::check_array("scale_array", "arr", arr_obj.ptr(), /*writable=*/true);
    // The caller's own buffer: checked writable and C-contiguous above, so the write lands there.
    auto *data = static_cast<double *>(PyArray_DATA(arr));
    const int64_t n = length_of(arr);
    int status;
    {
        ReleaseGilIf release(n >= kReleaseGilMinWork);
        status = ffl_scale_array(data, n, factor);
    }
    contract::check_status("scale_array", status);
}

py::array_t<double> compute_distances(py::handle points_obj) {
    PyArrayObject *points = contract::check_points("compute_distances", "points", points_obj.ptr());
    const int64_t n = length_of(points);
    double *raw;
    {
        ReleaseGilIf release(n >= kReleaseGilMinWork);
        raw = ffl_compute_distances(data_of(points), n);
    }
    if (raw == nullptr) {
        contract::fail(PyExc_MemoryError, "compute_distances: the C core could not allocate the result");
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
    const int64_t n = contract::as_index("primes", "n", n_obj.ptr(), FFL_PRIMES_MAX_N);
    int64_t *raw = nullptr;
    int64_t count = 0;
    int status;
    {
        ReleaseGilIf release(n >= kReleaseGilMinWork);
        status = ffl_primes(n, &raw, &count);
    }
    std::unique_ptr<int64_t, CoreFree> owned(raw);  // freed on every path, errors included
    contract::check_status("primes", status);
    py::list out(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; i++) {
        // SET_ITEM steals the new reference; a failure leaves NULL slots, which list dealloc skips.
        PyList_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(i), py::int_(raw[i]).release().ptr());
    }
    return out;
}

double fast_sum(py::handle a_obj) {
    PyArrayObject *a = contract::check_array("fast_sum", "a", a_obj.ptr());
    const int64_t n = length_of(a);
    ReleaseGilIf release(n >= kReleaseGilMinWork);
    return ffl_fast_sum(data_of(a), n);
}

double fast_dot(py::handle a_obj, py::handle b_obj) {
    PyArrayObject *a = contract::check_array("fast_dot", "a", a_obj.ptr());
    PyArrayObject *b = contract::check_array("fast_dot", "b", b_obj.ptr());
    contract::check_same_length("fast_dot", a, b, "a and b");
    const int64_t n = length_of(a);
    ReleaseGilIf release(n >= kReleaseGilMinWork);
    return ffl_fast_dot(data_of(a), data_of(b), n);
}

double fast_norm(py::handle a_obj) {
    PyArrayObject *a = contract::check_array("fast_norm", "a", a_obj.ptr());
    const int64_t n = length_of(a);
    ReleaseGilIf release(n >= kReleaseGilMinWork);
    return ffl_fast_norm(data_of(a), n);
}

py::array_t<double> scale_and_shift(py::handle a_obj, py::handle scale_obj, py::handle shift_obj) {
    // The conversions first (they may run Python code that changes a), then the array.
    const double scale = contract::as_real("scale_and_shift", "scale", scale_obj.ptr());
    const double shift = contract::as_real("scale_and_shift", "shift", shift_obj.ptr());
    PyArrayObject *a = contract::check_array("scale_and_shift", "a", a_obj.ptr());
    const int64_t n = length_of(a);
    py::array_t<double> out(static_cast<py::ssize_t>(n));
    double *out_data = out.mutable_data();
    int status;
    {
        ReleaseGilIf release(n >= kReleaseGilMinWork);
        status = ffl_scale_and_shift(data_of(a), out_data, n, scale, shift);
    }
    contract::check_status("scale_and_shift", status);
    return out;
}

double haversine_distance(py::handle lat1, py::handle lon1, py::handle lat2, py::handle lon2) {
    const char *f = "haversine_distance";
    // Separate statements: the reference converts left to right, so the first bad argument wins.
    const double a = contract::as_real(f, "lat1", lat1.ptr());
    const double b = contract::as_real(f, "lon1", lon1.ptr());
    const double c = contract::as_real(f, "lat2", lat2.ptr());
    const double d = contract::as_real(f, "lon2", lon2.ptr());
    return ffl_haversine(a, b, c, d);
}

py::array_t<double> haversine_many(py::handle lat_obj, py::handle lon_obj, py::handle lats_obj,
                                   py::handle lons_obj) {
    const char *f = "haversine_many";
    const ffl_contract_query q = contract::check_query(f, lat_obj.ptr(), lon_obj.ptr(), lats_obj.ptr(), lons_obj.ptr());
    const int64_t n = q.n;
    py::array_t<double> out(static_cast<py::ssize_t>(n));
    double *out_data = out.mutable_data();
    int status;
    {
        ReleaseGilIf release(n >= kReleaseGilMinWork);
        status = ffl_haversine_many(q.lat, q.lon, data_of(q.lats), data_of(q.lons), n, out_data);
    }
    contract::check_status(f, status);
    return out;
}

py::tuple find_nearest_k(py::handle lat_obj, py::handle lon_obj, py::handle lats_obj, py::handle lons_obj,
                         py::handle k_obj) {
    const char *f = "find_nearest_k";
    // lat, lon and k's conversions (which may run Python code that changes the arrays) come
    // before the arrays are checked; k's range, which needs their length, after.
    const ffl_contract_query q =
        contract::check_nearest(f, lat_obj.ptr(), lon_obj.ptr(), lats_obj.ptr(), lons_obj.ptr(), k_obj.ptr());
    const int64_t n = q.n;
    const int64_t k = q.k;
    py::array_t<int64_t> idx(static_cast<py::ssize_t>(k));
    py::array_t<double> dist(static_cast<py::ssize_t>(k));
    int64_t *idx_data = idx.mutable_data();
    double *dist_data = dist.mutable_data();
    int status;
    {
        ReleaseGilIf release(n >= kReleaseGilMinWork);
        status = ffl_find_nearest_k(q.lat, q.lon, data_of(q.lats), data_of(q.lons), n, k, idx_data, dist_data);
    }
    contract::check_status(f, status);
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

    void add(double value) { contract::check_status("Accumulator.add", ffl_acc_add(handle(), value)); }
    double mean() const { return ffl_acc_mean(handle()); }
    int64_t count() const { return ffl_acc_count(handle()); }
    double total() const { return ffl_acc_total(handle()); }

private:
    ffl_accumulator *handle() const {
        if (acc_ == nullptr) {
            // AttributeError, as the reference's slots raise on an instance that skipped __init__.
            contract::fail(PyExc_AttributeError, FFL_CONTRACT_MSG_UNINITIALISED);
        }
        return acc_;
    }

    ffl_accumulator *acc_;
};

// ---------------------------------------------------------------------------------------------
// Docstrings: the kernels' are written once, in src/ffilab/_docstrings.py, and compiled from
// csrc/ffilab_docs.h (generated from it).  The _SIG forms start with a CPython text signature
// ("name(args)\n--\n\n"), so that inspect.signature and help() show the real parameter names
// and defaults; pybind11's own generated signatures are switched off below because every
// parameter is a plain object here (the types are in _ext.pyi).

constexpr const char *kModuleDoc = R"doc(Route pybind11: the lesson's kernels bound from C++ with pybind11 over the shared C core.

Every argument is checked in C++ against ffilab's contract (ffilab.contract), raising the
reference's exception class; arrays are never converted or copied.)doc";

}  // namespace

PYBIND11_MODULE(_ext, m) {
    // NumPy's C API table, for the contract's array checks.  A failure is an ImportError of this
    // module, which the registry reports as the route's reason: never a fallback.
    if (PyArray_ImportNumPyAPI() < 0) {
        throw py::error_already_set();
    }
    // Text signatures in the docstrings replace pybind11's generated ones (see above); the
    // options object restores the global defaults when it goes out of scope.
    py::options options;
    options.disable_function_signatures();

    m.doc() = kModuleDoc;

    m.def("sum_of_squares", &sum_of_squares, FFL_DOC_SUM_OF_SQUARES_SIG, py::arg("n"), py::pos_only());
    m.def("circle_area", &circle_area, FFL_DOC_CIRCLE_AREA_SIG, py::arg("radius"), py::pos_only());
    m.def("scale_array", &scale_array, FFL_DOC_SCALE_ARRAY_SIG, py::arg("arr"), py::arg("factor"));
    m.def("compute_distances", &compute_distances, FFL_DOC_COMPUTE_DISTANCES_SIG, py::arg("points"), py::pos_only());
    m.def("primes", &primes, FFL_DOC_PRIMES_SIG, py::arg("n"), py::pos_only());
    m.def("fast_sum", &fast_sum, FFL_DOC_FAST_SUM_SIG, py::arg("a"), py::pos_only());
    m.def("fast_dot", &fast_dot, FFL_DOC_FAST_DOT_SIG, py::arg("a"), py::arg("b"));
    m.def("fast_norm", &fast_norm, FFL_DOC_FAST_NORM_SIG, py::arg("a"), py::pos_only());
    m.def("scale_and_shift", &scale_and_shift, FFL_DOC_SCALE_AND_SHIFT_SIG, py::arg("a"), py::arg("scale"),
          py::arg("shift") = 0.0);
    m.def("haversine_distance", &haversine_distance, FFL_DOC_HAVERSINE_DISTANCE_SIG, py::arg("lat1"), py::arg("lon1"),
          py::arg("lat2"), py::arg("lon2"));
    m.def("haversine_many", &haversine_many, FFL_DOC_HAVERSINE_MANY_SIG, py::arg("lat"), py::arg("lon"), py::arg("lats"),
          py::arg("lons"));
    m.def("find_nearest_k", &find_nearest_k, FFL_DOC_FIND_NEAREST_K_SIG, py::arg("lat"), py::arg("lon"), py::arg("lats"),
          py::arg("lons"), py::arg("k"));
    m.def("tokenize_batch", &tokenize_batch, FFL_DOC_TOKENIZE_BATCH_SIG, py::arg("texts"), py::pos_only());

    py::class_<Accumulator>(m, "Accumulator", FFL_DOC_ACCUMULATOR)
        // A factory rather than py::init<double>: the argument goes through as_real, so a bad
        // initial raises the contract's class instead of pybind11's "incompatible arguments".
        .def(py::init([](py::handle initial) {
                 return std::make_unique<Accumulator>(contract::as_real("Accumulator", "initial", initial.ptr()));
             }),
             FFL_DOC_ACCUMULATOR_INIT_SIG, py::arg("initial") = 0.0)
        .def(
            "add", [](Accumulator &self, py::handle value) { self.add(contract::as_real("Accumulator.add", "value", value.ptr())); },
            FFL_DOC_ACCUMULATOR_ADD_SIG, py::arg("value"), py::pos_only())
        .def("mean", &Accumulator::mean, FFL_DOC_ACCUMULATOR_MEAN_SIG)
        .def_property_readonly("count", &Accumulator::count, FFL_DOC_ACCUMULATOR_COUNT)
        .def_property_readonly("total", &Accumulator::total, FFL_DOC_ACCUMULATOR_TOTAL)
        .def(
            "__repr__",
            [](const Accumulator &self) {
                // repr(float), not std::to_string's "%f": 0.1 must read 0.1, 1e-300 must not read 0.000000.
                return "<Accumulator count=" + std::to_string(self.count()) +
                       " total=" + std::string(py::repr(py::float_(self.total()))) + ">";
            },
            FFL_DOC_ACCUMULATOR_REPR_SIG);
}
