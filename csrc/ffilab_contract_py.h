/* ffilab_contract_py.h: the argument contract of ffilab.contract in C, shared by the native routes.
 *
 * One implementation of every check a compiled binding makes before it calls the C core, used by
 * the capi route directly and by pybind11 and nanobind through their own error-propagation idiom
 * (`if (ffl_contract_as_real(...) < 0) throw py::error_already_set();`), so that each binding file
 * holds only its binding.  Like the CPython C API, every function returns -1 (or NULL) with a
 * Python exception set, and 0 (or a borrowed pointer) on success.  The exception classes, the
 * order of the checks and the messages are those of src/ffilab/contract.py:
 *
 *   integer   ffl_contract_to_index      operator.index(x), TypeError naming the argument
 *             ffl_contract_as_index      ... bounded to [0, maximum]: ValueError / OverflowError
 *             ffl_contract_check_k       k of find_nearest_k, converted first, ranged on n last
 *   real      ffl_contract_as_real       PyFloat_AsDouble's rules (a float subclass is its stored
 *                                        value), TypeError / OverflowError naming the argument
 *   array     ffl_contract_check_array   native float64, C-contiguous, aligned, [writable], 1-D
 *                                        or (n, 2), checked on the array's C struct, never copied
 *             ffl_contract_check_same_length
 *   composite ffl_contract_check_query   contract.check_query / check_nearest, in their order
 *             ffl_contract_check_nearest
 *   status    ffl_contract_raise_status  a C core status code as the contract's exception
 *
 * Order, as in the contract: every conversion that can run Python code (__float__, __index__)
 * first, in argument order; then the arrays; last the ranges that need an array's length.  The
 * callers keep that order; these functions only check.
 *
 * Header-only with every function static inline, so that each module's compiler inlines the
 * checks into its kernels exactly as when they were written there.  Plain C that also compiles as
 * C++; for C++ bindings, ffl_contract::Checks<Error> (at the end) throws instead of returning -1.
 * The includer must have imported NumPy's C API table (import_array /
 * PyArray_ImportNumPyAPI) in its module init before any array check runs. */
#ifndef FFILAB_CONTRACT_PY_H
#define FFILAB_CONTRACT_PY_H

#ifndef PY_SSIZE_T_CLEAN
#define PY_SSIZE_T_CLEAN
#endif
#include <Python.h>

#ifndef NPY_NO_DEPRECATED_API
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#endif
#include <numpy/arrayobject.h>

#include <stdint.h>
#include <string.h>

#include "ffilab_core.h"

/* What an Accumulator whose __init__ never ran (Accumulator.__new__(Accumulator)) raises
 * AttributeError with, as the reference's unset slots do. */
#define FFL_CONTRACT_MSG_UNINITIALISED "Accumulator: the object was not initialised (__init__ was not called)"

/* The unqualified name of an object's type, as type(x).__name__ reads in the reference's messages
 * (tp_name of a static or extension type carries its module: "numpy.ndarray"). */
static inline const char *ffl_contract_type_name(PyObject *obj) {
    const char *name = Py_TYPE(obj)->tp_name;
    const char *dot = strrchr(name, '.');
    return dot != NULL ? dot + 1 : name;
}

/* Map a C core status code to the contract's exception; always returns NULL for the caller.  The
 * checks below run first, so a non-OK status means the core caught something they let through:
 * it is still reported, never ignored. */
static inline PyObject *ffl_contract_raise_status(const char *func, int status) {
    switch (status) {
    case FFL_EINVAL:
        PyErr_Format(PyExc_ValueError, "%s: the C core rejected an argument (status %d)", func, status);
        break;
    case FFL_EOVERFLOW:
        PyErr_Format(PyExc_OverflowError, "%s: the C core rejected a too large argument (status %d)", func,
                     status);
        break;
    case FFL_ENOMEM:
        PyErr_Format(PyExc_MemoryError, "%s: the C core could not allocate memory", func);
        break;
    default:
        PyErr_Format(PyExc_RuntimeError, "%s: the C core returned status %d", func, status);
        break;
    }
    return NULL;
}

/* contract._show_int: str(n) for a reasonable int, its size in bits past 256 bits, because str()
 * of an int past 4300 digits raises ValueError (CPython's limit), which would replace the
 * contract's exception by another.  Returns a new reference, or NULL with an exception set. */
static inline PyObject *ffl_contract_show_int(PyObject *n) {
    PyObject *bits = PyObject_CallMethod(n, "bit_length", NULL);
    if (bits == NULL) return NULL;
    long long nbits = PyLong_AsLongLong(bits);
    Py_DECREF(bits);
    if (nbits == -1 && PyErr_Occurred()) return NULL;
    if (nbits <= 256) return PyObject_Str(n);
    return PyUnicode_FromFormat("an integer of %lld bits", nbits);
}

/* operator.index(obj) as a new reference (an exact int), or NULL with the "not an integer"
 * TypeError named after the kernel and argument. */
static inline PyObject *ffl_contract_to_index(const char *func, const char *name, PyObject *obj) {
    PyObject *n = PyNumber_Index(obj);
    if (n == NULL && PyErr_ExceptionMatches(PyExc_TypeError)) {
        /* Only that TypeError is renamed; anything an __index__ raised itself propagates, as it
         * does through operator.index in the reference. */
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: %s must be an integer, got %s", func, name, ffl_contract_type_name(obj));
    }
    return n;
}

/* The int `n` (from ffl_contract_to_index) in [0, maximum], checked on the Python int *before*
 * any conversion to a C type so that 2**64 + 5 can never wrap around to 5.  Below 0 raises
 * ValueError; above `maximum` raises OverflowError, or, with `k_of_n`, the ValueError of
 * contract.check_k (k has no maximum of its own: any k > n, however large, is ValueError). */
static inline int ffl_contract_range(const char *func, const char *name, PyObject *n, long long maximum,
                                     int k_of_n, int64_t *out) {
    int overflow = 0;
    long long value = PyLong_AsLongLongAndOverflow(n, &overflow);
    if (value == -1 && overflow == 0 && PyErr_Occurred()) return -1;
    /* With overflow set, `value` is -1 and meaningless: decide on the sign of overflow alone. */
    int below = overflow < 0 || (overflow == 0 && value < 0);
    int above = overflow > 0 || (overflow == 0 && value > maximum);
    if (!below && !above) {
        *out = (int64_t)value;
        return 0;
    }
    PyObject *shown = ffl_contract_show_int(n);
    if (shown == NULL) return -1;
    if (below) {
        PyErr_Format(PyExc_ValueError, "%s: %s must be >= 0, got %U", func, name, shown);
    } else if (k_of_n) {
        PyErr_Format(PyExc_ValueError, "%s: %s must be <= the number of points (%lld), got %U", func, name, maximum,
                     shown);
    } else {
        PyErr_Format(PyExc_OverflowError, "%s: %s must be <= %lld, got %U", func, name, maximum, shown);
    }
    Py_DECREF(shown);
    return -1;
}

/* contract.as_index(func, name, obj, minimum=0, maximum=maximum) as an int64_t in *out. */
static inline int ffl_contract_as_index(const char *func, const char *name, PyObject *obj, long long maximum,
                                        int64_t *out) {
    PyObject *n = ffl_contract_to_index(func, name, obj);
    if (n == NULL) return -1;
    int status = ffl_contract_range(func, name, n, maximum, 0, out);
    Py_DECREF(n);
    return status;
}

/* contract.check_k: `k_int` is what ffl_contract_to_index returned for k *before* the arrays were
 * checked (its __index__ may run Python code that changes them); `n` is their length.  An exact
 * int: reading it again runs no Python code. */
static inline int ffl_contract_check_k(const char *func, PyObject *k_int, int64_t n, int64_t *out) {
    return ffl_contract_range(func, "k", k_int, (long long)n, 1, out);
}

/* contract.as_real: what PyFloat_AsDouble accepts (float, int, __float__, __index__; a float
 * subclass is read as its stored value, as PyFloat_AsDouble does).  Types with neither slot are
 * refused up front, before anything is called on them, so the message can name the kernel and the
 * argument; an int beyond the float range is PyFloat_AsDouble's OverflowError, renamed the same
 * way; anything __float__ / __index__ raised itself propagates. */
static inline int ffl_contract_as_real(const char *func, const char *name, PyObject *obj, double *out) {
    if (PyFloat_CheckExact(obj)) {
        *out = PyFloat_AS_DOUBLE(obj);
        return 0;
    }
    PyNumberMethods *nb = Py_TYPE(obj)->tp_as_number;
    if (!PyFloat_Check(obj) && (nb == NULL || (nb->nb_float == NULL && nb->nb_index == NULL))) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be a real number, got %s", func, name,
                     ffl_contract_type_name(obj));
        return -1;
    }
    double value = PyFloat_AsDouble(obj);
    if (value == -1.0 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_OverflowError, "%s: %s is too large to convert to float", func, name);
        }
        return -1;
    }
    *out = value;
    return 0;
}

/* Raise `exc` as "<func>: <name> must <expected>, got <what>", where what is the type's name, or
 * the dtype and shape of an ndarray as contract._describe writes them. */
static inline void ffl_contract_raise_array(PyObject *exc, const char *func, const char *name, const char *expected,
                                            PyObject *obj) {
    if (!PyArray_Check(obj)) {
        PyErr_Format(exc, "%s: %s must %s, got %s", func, name, expected, ffl_contract_type_name(obj));
        return;
    }
    PyArrayObject *arr = (PyArrayObject *)obj;
    PyObject *shape = PyArray_IntTupleFromIntp(PyArray_NDIM(arr), PyArray_DIMS(arr));
    if (shape == NULL) return; /* the MemoryError it set is the better report */
    PyErr_Format(exc, "%s: %s must %s, got %S array of shape %S", func, name, expected,
                 (PyObject *)PyArray_DESCR(arr), shape);
    Py_DECREF(shape);
}

/* The shapes an array argument may be required to have. */
typedef enum { FFL_CONTRACT_VECTOR, FFL_CONTRACT_POINTS } ffl_contract_shape;

/* contract.check_array (shape FFL_CONTRACT_VECTOR, `writable` for in-place kernels) and
 * contract.check_points (FFL_CONTRACT_POINTS), in the contract's order (type, dtype, contiguity,
 * alignment, writability, shape) so that an argument breaking several rules raises the same class
 * as in the reference.  Read on the array's C struct, which a subclass's Python-level shape,
 * dtype or flags cannot fake.  Returns `obj` itself (borrowed), never a converted copy: an
 * in-place kernel writing into a temporary would silently lose its result. */
static inline PyArrayObject *ffl_contract_check_array(const char *func, const char *name, PyObject *obj,
                                                      int writable, ffl_contract_shape shape) {
    const char *expected = writable ? "be a writable C-contiguous float64 array" : "be a C-contiguous float64 array";
    /* PyArray_Check is isinstance(obj, numpy.ndarray), subclasses (masked arrays) included. */
    if (!PyArray_Check(obj)) {
        ffl_contract_raise_array(PyExc_TypeError, func, name, expected, obj);
        return NULL;
    }
    PyArrayObject *arr = (PyArrayObject *)obj;
    /* Native byte order too: '>f8' has type NPY_DOUBLE, and the core would read garbage from it. */
    if (PyArray_TYPE(arr) != NPY_DOUBLE || !PyArray_ISNOTSWAPPED(arr)) {
        ffl_contract_raise_array(PyExc_TypeError, func, name, expected, obj);
        return NULL;
    }
    if (!PyArray_IS_C_CONTIGUOUS(arr)) {
        PyErr_Format(PyExc_ValueError, "%s: %s must %s, got a non-contiguous array", func, name, expected);
        return NULL;
    }
    /* Reading a misaligned double through double* is undefined behaviour in C (offset=1 views). */
    if (!PyArray_ISALIGNED(arr)) {
        PyErr_Format(PyExc_ValueError, "%s: %s must %s, got a misaligned array", func, name, expected);
        return NULL;
    }
    if (writable && !PyArray_ISWRITEABLE(arr)) {
        PyErr_Format(PyExc_ValueError, "%s: %s must %s, got a read-only array", func, name, expected);
        return NULL;
    }
    if (shape == FFL_CONTRACT_VECTOR && PyArray_NDIM(arr) != 1) {
        ffl_contract_raise_array(PyExc_ValueError, func, name, "be 1-D", obj);
        return NULL;
    }
    if (shape == FFL_CONTRACT_POINTS && (PyArray_NDIM(arr) != 2 || PyArray_DIM(arr, 1) != 2)) {
        ffl_contract_raise_array(PyExc_ValueError, func, name, "have shape (n, 2)", obj);
        return NULL;
    }
    return arr;
}

/* contract.check_same_length: `names` is how the message names the pair ("lats and lons"). */
static inline int ffl_contract_check_same_length(const char *func, PyArrayObject *a, PyArrayObject *b,
                                                 const char *names) {
    if (PyArray_DIM(a, 0) != PyArray_DIM(b, 0)) {
        PyErr_Format(PyExc_ValueError, "%s: %s must have the same length, got %zd and %zd", func, names,
                     (Py_ssize_t)PyArray_DIM(a, 0), (Py_ssize_t)PyArray_DIM(b, 0));
        return -1;
    }
    return 0;
}

/* The checked arguments of the many-point haversine kernels (haversine_many, find_nearest_k). */
typedef struct {
    double lat, lon;            /* the query point */
    PyArrayObject *lats, *lons; /* borrowed: the caller's own arrays */
    int64_t n;                  /* their common length */
    int64_t k;                  /* find_nearest_k: 0 <= k <= n; 0 otherwise */
} ffl_contract_query;

static inline int ffl_contract_query_arrays(const char *func, PyObject *lats, PyObject *lons, ffl_contract_query *q) {
    q->lats = ffl_contract_check_array(func, "lats", lats, 0, FFL_CONTRACT_VECTOR);
    if (q->lats == NULL) return -1;
    q->lons = ffl_contract_check_array(func, "lons", lons, 0, FFL_CONTRACT_VECTOR);
    if (q->lons == NULL) return -1;
    if (ffl_contract_check_same_length(func, q->lats, q->lons, "lats and lons") < 0) return -1;
    q->n = (int64_t)PyArray_DIM(q->lats, 0);
    q->k = 0;
    return 0;
}

/* contract.check_query: the query point first (its __float__ may run Python code that changes
 * the arrays), then the arrays and their lengths. */
static inline int ffl_contract_check_query(const char *func, PyObject *lat, PyObject *lon, PyObject *lats,
                                           PyObject *lons, ffl_contract_query *q) {
    if (ffl_contract_as_real(func, "lat", lat, &q->lat) < 0) return -1;
    if (ffl_contract_as_real(func, "lon", lon, &q->lon) < 0) return -1;
    return ffl_contract_query_arrays(func, lats, lons, q);
}

/* contract.check_nearest: lat, lon, then k's conversion (its __index__ may run Python code too),
 * then the arrays, last k's range, which needs their length. */
static inline int ffl_contract_check_nearest(const char *func, PyObject *lat, PyObject *lon, PyObject *lats,
                                             PyObject *lons, PyObject *k, ffl_contract_query *q) {
    if (ffl_contract_as_real(func, "lat", lat, &q->lat) < 0) return -1;
    if (ffl_contract_as_real(func, "lon", lon, &q->lon) < 0) return -1;
    PyObject *k_int = ffl_contract_to_index(func, "k", k);
    if (k_int == NULL) return -1;
    int status = ffl_contract_query_arrays(func, lats, lons, q);
    if (status == 0) status = ffl_contract_check_k(func, k_int, q->n, &q->k);
    Py_DECREF(k_int);
    return status;
}

#ifdef __cplusplus
/* The same checks in a C++ binding's idiom: each throws the binding's exception type, which
 * carries the Python error the check has set to the binding's dispatcher (pybind11's
 * py::error_already_set, nanobind's nb::python_error; both capture the error when constructed
 * with no argument).  A binding names its instance once:
 *     using contract = ffl_contract::Checks<py::error_already_set>;
 * and calls contract::as_real(func, name, obj.ptr()) and so on. */
namespace ffl_contract {

template <class Error>
struct Checks {
    /* Sets `type` with `message` and unwinds to the binding, which re-raises it unchanged. */
    [[noreturn]] static void fail(PyObject *type, const char *message) {
        PyErr_SetString(type, message);
        throw Error();
    }
    static double as_real(const char *func, const char *name, PyObject *obj) {
        double value;
        if (ffl_contract_as_real(func, name, obj, &value) < 0) throw Error();
        return value;
    }
    static int64_t as_index(const char *func, const char *name, PyObject *obj, long long maximum) {
        int64_t value;
        if (ffl_contract_as_index(func, name, obj, maximum, &value) < 0) throw Error();
        return value;
    }
    static PyArrayObject *check_array(const char *func, const char *name, PyObject *obj, bool writable = false) {
        PyArrayObject *arr = ffl_contract_check_array(func, name, obj, writable ? 1 : 0, FFL_CONTRACT_VECTOR);
        if (arr == nullptr) throw Error();
        return arr;
    }
    static PyArrayObject *check_points(const char *func, const char *name, PyObject *obj) {
        PyArrayObject *arr = ffl_contract_check_array(func, name, obj, 0, FFL_CONTRACT_POINTS);
        if (arr == nullptr) throw Error();
        return arr;
    }
    static void check_same_length(const char *func, PyArrayObject *a, PyArrayObject *b, const char *names) {
        if (ffl_contract_check_same_length(func, a, b, names) < 0) throw Error();
    }
    static ffl_contract_query check_query(const char *func, PyObject *lat, PyObject *lon, PyObject *lats,
                                          PyObject *lons) {
        ffl_contract_query q;
        if (ffl_contract_check_query(func, lat, lon, lats, lons, &q) < 0) throw Error();
        return q;
    }
    static ffl_contract_query check_nearest(const char *func, PyObject *lat, PyObject *lon, PyObject *lats,
                                            PyObject *lons, PyObject *k) {
        ffl_contract_query q;
        if (ffl_contract_check_nearest(func, lat, lon, lats, lons, k, &q) < 0) throw Error();
        return q;
    }
    static void check_status(const char *func, int status) {
        if (status != FFL_OK) {
            ffl_contract_raise_status(func, status);
            throw Error();
        }
    }
};

/* The data and the length of an array the checks above accepted (1-D, or the rows of (n, 2)). */
inline const double *data_of(PyArrayObject *arr) { return static_cast<const double *>(PyArray_DATA(arr)); }
inline int64_t length_of(PyArrayObject *arr) { return static_cast<int64_t>(PyArray_DIM(arr, 0)); }

}  // namespace ffl_contract
#endif /* __cplusplus */

#endif /* FFILAB_CONTRACT_PY_H */
