/* _ext.c: route capi — the kernels as a hand-written CPython C API module over the C core.
 *
 * There is no Python wrapper layer: every argument is validated here, in C, with exactly the
 * exception classes of the argument contract (src/ffilab/contract.py), and only then handed to
 * the shared C core (csrc/ffilab_core.c), the same machine code the ctypes and cffi routes call.
 * Arrays are used in place through the NumPy C API and are never converted or copied; the GIL is
 * released around every loop while this call holds a reference to the arrays it reads.
 *
 * The argument checks themselves are the contract's one C implementation, shared with the
 * pybind11 and nanobind routes (csrc/ffilab_contract_py.h); what is this route's own is the
 * binding: METH_O / METH_FASTCALL, the keyword parser, the results built with the NumPy C API.
 *
 * Reference counting convention: every function owns the new references it creates and
 * releases them on every path; arguments and PyTuple_GET_ITEM results are borrowed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include "ffilab_contract_py.h"
#include "ffilab_core.h"
#include "ffilab_docs.h"
#include "ffilab_tokenize_py.h"
#include "ffilab_tokenize_arrow_py.h"

/* ------------------------------------------------------------------------------------------ */
/* Helpers shared by the kernels: the GIL release and argument parsing.                        */
/* ------------------------------------------------------------------------------------------ */

/* Runs `stmt` without the GIL when `work` reaches FFL_RELEASE_GIL_MIN_WORK (ffilab_core.h says
 * why), with it otherwise: for a one-element array the release would cost more than the loop. */
#define FFL_CALL_NOGIL_IF(work, stmt) \
    do {                                  \
        if ((work) >= FFL_RELEASE_GIL_MIN_WORK) { \
            Py_BEGIN_ALLOW_THREADS        \
            stmt;                         \
            Py_END_ALLOW_THREADS          \
        } else {                          \
            stmt;                         \
        }                                 \
    } while (0)

/* Bind the fast-call arguments (positional, then keywords) to the parameter names, like a Python
 * def with no default but the optional trailing ones.  Keyword support is hand-written because
 * the interpreter's own keyword parser for METH_FASTCALL (_PyArg_UnpackKeywords) is private.
 * out[i] receives a borrowed reference, or NULL for an optional parameter not given. */
static int parse_args(const char *func, const char *const names[], Py_ssize_t nreq, Py_ssize_t nmax,
                      PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, PyObject *out[]) {
    if (nargs > nmax) {
        PyErr_Format(PyExc_TypeError, "%s() takes %s %zd positional argument%s (%zd given)", func,
                     nreq == nmax ? "exactly" : "at most", nmax, nmax == 1 ? "" : "s", nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nmax; i++) out[i] = i < nargs ? args[i] : NULL;
    Py_ssize_t nkw = kwnames != NULL ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t j = 0; j < nkw; j++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, j);
        Py_ssize_t i = 0;
        /* The interpreter guarantees keyword names are str, so the comparison cannot fail. */
        while (i < nmax && PyUnicode_CompareWithASCIIString(key, names[i]) != 0) i++;
        if (i == nmax) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", func, key);
            return -1;
        }
        if (out[i] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", func, names[i]);
            return -1;
        }
        out[i] = args[nargs + j];
    }
    for (Py_ssize_t i = 0; i < nreq; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %zd)", func, names[i],
                         i + 1);
            return -1;
        }
    }
    return 0;
}

/* A new, uninitialised 1-D array of n elements of `type_num`, which the core then fills. */
static PyArrayObject *new_vector(npy_intp n, int type_num) {
    npy_intp dims[1] = {n};
    return (PyArrayObject *)PyArray_SimpleNew(1, dims, type_num);
}

/* ------------------------------------------------------------------------------------------ */
/* Kernels                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* The exact 128-bit sum (hi << 64) | lo as a Python int, built with public API only. */
static PyObject *pylong_from_u128(uint64_t hi, uint64_t lo) {
    if (hi == 0) return PyLong_FromUnsignedLongLong(lo);
    PyObject *result = NULL, *high = NULL, *shift = NULL, *shifted = NULL, *low = NULL;
    if ((high = PyLong_FromUnsignedLongLong(hi)) == NULL) goto done;
    if ((shift = PyLong_FromLong(64)) == NULL) goto done;
    if ((shifted = PyNumber_Lshift(high, shift)) == NULL) goto done;
    if ((low = PyLong_FromUnsignedLongLong(lo)) == NULL) goto done;
    result = PyNumber_Or(shifted, low);
done:
    Py_XDECREF(high);
    Py_XDECREF(shift);
    Py_XDECREF(shifted);
    Py_XDECREF(low);
    return result;
}

PyDoc_STRVAR(sum_of_squares_doc, FFL_DOC_SUM_OF_SQUARES_CAPI);

static PyObject *capi_sum_of_squares(PyObject *Py_UNUSED(module), PyObject *arg) {
    int64_t n;
    if (ffl_contract_as_index("sum_of_squares", "n", arg, FFL_SUM_OF_SQUARES_MAX_N, &n) < 0)
        return NULL;
    uint64_t hi = 0, lo = 0;
    int status;
    FFL_CALL_NOGIL_IF(n, status = ffl_sum_of_squares(n, &hi, &lo));
    if (status != FFL_OK) return ffl_contract_raise_status("sum_of_squares", status);
    return pylong_from_u128(hi, lo);
}

PyDoc_STRVAR(circle_area_doc, FFL_DOC_CIRCLE_AREA_CAPI);

static PyObject *capi_circle_area(PyObject *Py_UNUSED(module), PyObject *arg) {
    double radius;
    if (ffl_contract_as_real("circle_area", "radius", arg, &radius) < 0) return NULL;
    return PyFloat_FromDouble(ffl_circle_area(radius));
}

PyDoc_STRVAR(scale_array_doc, FFL_DOC_SCALE_ARRAY_CAPI);

static PyObject *capi_scale_array(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames) {
    static const char *const names[] = {"arr", "factor"};
    PyObject *argv[2];
    if (parse_args("scale_array", names, 2, 2, args, nargs, kwnames, argv) < 0) return NULL;
    /* The conversion first: factor's __float__ may run Python code that makes arr read-only or
     * resizes it, and a check made before it would no longer hold (contract: order of checks). */
    double factor;
    if (ffl_contract_as_real("scale_array", "factor", argv[1], &factor) < 0) return NULL;
    PyArrayObject *arr = ffl_contract_check_array("scale_array", "arr", argv[0], 1, FFL_CONTRACT_VECTOR);
    if (arr == NULL) return NULL;
    double *data = (double *)PyArray_DATA(arr);
    int64_t n = (int64_t)PyArray_DIM(arr, 0);
    int status;
    FFL_CALL_NOGIL_IF(n, status = ffl_scale_array(data, n, factor));
    if (status != FFL_OK) return ffl_contract_raise_status("scale_array", status);
    Py_RETURN_NONE;
}

/* The capsule that owns a buffer malloc'ed by the C core; NumPy keeps it as the array's base
 * and its destructor returns the memory through the core's own allocator when the last view
 * of the array dies. */
static const char DISTANCES_CAPSULE[] = "ffilab.routes.capi._ext.distances";

static void free_core_buffer(PyObject *capsule) {
    void *buffer = PyCapsule_GetPointer(capsule, DISTANCES_CAPSULE);
    if (buffer != NULL) {
        ffl_free(buffer);
    } else {
        /* Cannot happen for our own capsules; a destructor must not leave an exception set. */
        PyErr_Clear();
    }
}

PyDoc_STRVAR(compute_distances_doc, FFL_DOC_COMPUTE_DISTANCES_CAPI);

static PyObject *capi_compute_distances(PyObject *Py_UNUSED(module), PyObject *arg) {
    PyArrayObject *points = ffl_contract_check_array("compute_distances", "points", arg, 0, FFL_CONTRACT_POINTS);
    if (points == NULL) return NULL;
    const double *data = (const double *)PyArray_DATA(points);
    npy_intp n = PyArray_DIM(points, 0);
    double *buffer;
    FFL_CALL_NOGIL_IF(n, buffer = ffl_compute_distances(data, (int64_t)n));
    if (buffer == NULL) return PyErr_Format(PyExc_MemoryError, "compute_distances: the C core could not allocate the result");

    /* Ownership of `buffer` moves step by step: to the capsule once it exists (its destructor
     * frees it), then with the capsule to the array.  Each failure path frees it exactly once. */
    PyObject *capsule = PyCapsule_New(buffer, DISTANCES_CAPSULE, free_core_buffer);
    if (capsule == NULL) {
        ffl_free(buffer);
        return NULL;
    }
    npy_intp dims[1] = {n};
    PyObject *result = PyArray_SimpleNewFromData(1, dims, NPY_DOUBLE, buffer);
    if (result == NULL) {
        Py_DECREF(capsule); /* frees the buffer */
        return NULL;
    }
    /* Steals the capsule reference even when it fails (NumPy then releases it, freeing the
     * buffer); the array does not own its data, so dropping it cannot free the buffer twice. */
    if (PyArray_SetBaseObject((PyArrayObject *)result, capsule) < 0) {
        Py_DECREF(result);
        return NULL;
    }
    return result;
}

PyDoc_STRVAR(primes_doc, FFL_DOC_PRIMES_CAPI);

static PyObject *capi_primes(PyObject *Py_UNUSED(module), PyObject *arg) {
    int64_t n;
    if (ffl_contract_as_index("primes", "n", arg, FFL_PRIMES_MAX_N, &n) < 0) return NULL;
    int64_t *found = NULL, count = 0;
    int status;
    FFL_CALL_NOGIL_IF(n, status = ffl_primes(n, &found, &count));
    if (status != FFL_OK) {
        ffl_free(found); /* NULL on failure per the core, freed anyway for safety */
        return ffl_contract_raise_status("primes", status);
    }
    PyObject *result = PyList_New((Py_ssize_t)count);
    if (result == NULL) {
        ffl_free(found);
        return NULL;
    }
    for (int64_t i = 0; i < count; i++) {
        PyObject *item = PyLong_FromLongLong(found[i]);
        if (item == NULL) {
            Py_DECREF(result); /* unset slots are NULL, which list dealloc skips */
            ffl_free(found);
            return NULL;
        }
        PyList_SET_ITEM(result, (Py_ssize_t)i, item); /* steals item */
    }
    ffl_free(found);
    return result;
}

PyDoc_STRVAR(fast_sum_doc, FFL_DOC_FAST_SUM_CAPI);

static PyObject *capi_fast_sum(PyObject *Py_UNUSED(module), PyObject *arg) {
    PyArrayObject *a = ffl_contract_check_array("fast_sum", "a", arg, 0, FFL_CONTRACT_VECTOR);
    if (a == NULL) return NULL;
    const double *data = (const double *)PyArray_DATA(a);
    int64_t n = (int64_t)PyArray_DIM(a, 0);
    double total;
    FFL_CALL_NOGIL_IF(n, total = ffl_fast_sum(data, n));
    return PyFloat_FromDouble(total);
}

PyDoc_STRVAR(fast_dot_doc, FFL_DOC_FAST_DOT_CAPI);

static PyObject *capi_fast_dot(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames) {
    static const char *const names[] = {"a", "b"};
    PyObject *argv[2];
    if (parse_args("fast_dot", names, 2, 2, args, nargs, kwnames, argv) < 0) return NULL;
    PyArrayObject *a = ffl_contract_check_array("fast_dot", "a", argv[0], 0, FFL_CONTRACT_VECTOR);
    if (a == NULL) return NULL;
    PyArrayObject *b = ffl_contract_check_array("fast_dot", "b", argv[1], 0, FFL_CONTRACT_VECTOR);
    if (b == NULL) return NULL;
    if (ffl_contract_check_same_length("fast_dot", a, b, "a and b") < 0) return NULL;
    const double *pa = (const double *)PyArray_DATA(a);
    const double *pb = (const double *)PyArray_DATA(b);
    int64_t n = (int64_t)PyArray_DIM(a, 0);
    double total;
    FFL_CALL_NOGIL_IF(n, total = ffl_fast_dot(pa, pb, n));
    return PyFloat_FromDouble(total);
}

PyDoc_STRVAR(fast_norm_doc, FFL_DOC_FAST_NORM_CAPI);

static PyObject *capi_fast_norm(PyObject *Py_UNUSED(module), PyObject *arg) {
    PyArrayObject *a = ffl_contract_check_array("fast_norm", "a", arg, 0, FFL_CONTRACT_VECTOR);
    if (a == NULL) return NULL;
    const double *data = (const double *)PyArray_DATA(a);
    int64_t n = (int64_t)PyArray_DIM(a, 0);
    double norm;
    FFL_CALL_NOGIL_IF(n, norm = ffl_fast_norm(data, n));
    return PyFloat_FromDouble(norm);
}

PyDoc_STRVAR(scale_and_shift_doc, FFL_DOC_SCALE_AND_SHIFT_CAPI);

static PyObject *capi_scale_and_shift(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs,
                                      PyObject *kwnames) {
    static const char *const names[] = {"a", "scale", "shift"};
    PyObject *argv[3];
    if (parse_args("scale_and_shift", names, 2, 3, args, nargs, kwnames, argv) < 0) return NULL;
    /* The conversions first (they may run Python code that changes a), then the array. */
    double scale, shift = 0.0;
    if (ffl_contract_as_real("scale_and_shift", "scale", argv[1], &scale) < 0) return NULL;
    if (argv[2] != NULL && ffl_contract_as_real("scale_and_shift", "shift", argv[2], &shift) < 0) return NULL;
    PyArrayObject *a = ffl_contract_check_array("scale_and_shift", "a", argv[0], 0, FFL_CONTRACT_VECTOR);
    if (a == NULL) return NULL;
    npy_intp n = PyArray_DIM(a, 0);
    PyArrayObject *out = new_vector(n, NPY_DOUBLE);
    if (out == NULL) return NULL;
    const double *in = (const double *)PyArray_DATA(a);
    double *dst = (double *)PyArray_DATA(out);
    int status;
    FFL_CALL_NOGIL_IF(n, status = ffl_scale_and_shift(in, dst, (int64_t)n, scale, shift));
    if (status != FFL_OK) {
        Py_DECREF(out);
        return ffl_contract_raise_status("scale_and_shift", status);
    }
    return (PyObject *)out;
}

PyDoc_STRVAR(haversine_distance_doc, FFL_DOC_HAVERSINE_DISTANCE_CAPI);

static PyObject *capi_haversine_distance(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs,
                                         PyObject *kwnames) {
    static const char *const names[] = {"lat1", "lon1", "lat2", "lon2"};
    PyObject *argv[4];
    if (parse_args("haversine_distance", names, 4, 4, args, nargs, kwnames, argv) < 0) return NULL;
    double v[4];
    for (int i = 0; i < 4; i++) {
        if (ffl_contract_as_real("haversine_distance", names[i], argv[i], &v[i]) < 0) return NULL;
    }
    return PyFloat_FromDouble(ffl_haversine(v[0], v[1], v[2], v[3]));
}

PyDoc_STRVAR(haversine_many_doc, FFL_DOC_HAVERSINE_MANY_CAPI);

static PyObject *capi_haversine_many(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs,
                                     PyObject *kwnames) {
    static const char *const names[] = {"lat", "lon", "lats", "lons"};
    const char *f = "haversine_many";
    PyObject *argv[4];
    if (parse_args(f, names, 4, 4, args, nargs, kwnames, argv) < 0) return NULL;
    ffl_contract_query q;
    if (ffl_contract_check_query(f, argv[0], argv[1], argv[2], argv[3], &q) < 0) return NULL;
    PyArrayObject *out = new_vector((npy_intp)q.n, NPY_DOUBLE);
    if (out == NULL) return NULL;
    const double *pla = (const double *)PyArray_DATA(q.lats);
    const double *plo = (const double *)PyArray_DATA(q.lons);
    double *dst = (double *)PyArray_DATA(out);
    int status;
    FFL_CALL_NOGIL_IF(q.n, status = ffl_haversine_many(q.lat, q.lon, pla, plo, q.n, dst));
    if (status != FFL_OK) {
        Py_DECREF(out);
        return ffl_contract_raise_status(f, status);
    }
    return (PyObject *)out;
}

PyDoc_STRVAR(find_nearest_k_doc, FFL_DOC_FIND_NEAREST_K_CAPI);

static PyObject *capi_find_nearest_k(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs,
                                     PyObject *kwnames) {
    static const char *const names[] = {"lat", "lon", "lats", "lons", "k"};
    const char *f = "find_nearest_k";
    PyObject *argv[5];
    if (parse_args(f, names, 5, 5, args, nargs, kwnames, argv) < 0) return NULL;
    /* lat, lon and k's conversions (which may run Python code that changes the arrays) come
     * before the arrays are checked; k's range, which needs their length, after. */
    ffl_contract_query q;
    if (ffl_contract_check_nearest(f, argv[0], argv[1], argv[2], argv[3], argv[4], &q) < 0) return NULL;

    PyObject *result = NULL;
    PyArrayObject *idx = new_vector((npy_intp)q.k, NPY_INT64);
    PyArrayObject *dist = idx != NULL ? new_vector((npy_intp)q.k, NPY_DOUBLE) : NULL;
    if (dist == NULL) goto done;
    const double *pla = (const double *)PyArray_DATA(q.lats);
    const double *plo = (const double *)PyArray_DATA(q.lons);
    int64_t *pidx = (int64_t *)PyArray_DATA(idx);
    double *pdist = (double *)PyArray_DATA(dist);
    int status;
    FFL_CALL_NOGIL_IF(q.n, status = ffl_find_nearest_k(q.lat, q.lon, pla, plo, q.n, q.k, pidx, pdist));
    if (status != FFL_OK) {
        ffl_contract_raise_status(f, status);
        goto done;
    }
    result = PyTuple_Pack(2, (PyObject *)idx, (PyObject *)dist); /* takes its own references */
done:
    Py_XDECREF(idx);
    Py_XDECREF(dist);
    return result;
}

/* ------------------------------------------------------------------------------------------ */
/* Accumulator: a real extension type holding the core's ffl_accumulator.                      */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    /* NULL until __init__ has run: Accumulator.__new__(Accumulator) gives such an object. */
    ffl_accumulator *acc;
} AccumulatorObject;

/* The C state, or NULL with AttributeError set: the reference raises AttributeError (its slots
 * are unset) when __init__ was never run, and so does this type instead of crashing. */
static ffl_accumulator *acc_state(AccumulatorObject *self) {
    if (self->acc == NULL) {
        PyErr_SetString(PyExc_AttributeError, FFL_CONTRACT_MSG_UNINITIALISED);
    }
    return self->acc;
}

static int Accumulator_init(AccumulatorObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"initial", NULL};
    PyObject *initial_obj = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:Accumulator", kwlist, &initial_obj)) return -1;
    double initial = 0.0;
    if (initial_obj != NULL && ffl_contract_as_real("Accumulator", "initial", initial_obj, &initial) < 0) return -1;
    ffl_accumulator *fresh = ffl_acc_new(initial);
    if (fresh == NULL) {
        PyErr_SetString(PyExc_MemoryError, "Accumulator: the C core could not allocate an accumulator");
        return -1;
    }
    /* Calling __init__ again restarts the accumulator, as it resets the reference's fields. */
    ffl_accumulator *old = self->acc;
    self->acc = fresh;
    ffl_acc_free(old);
    return 0;
}

static void Accumulator_dealloc(AccumulatorObject *self) {
    ffl_acc_free(self->acc);
    self->acc = NULL;
    /* tp_free of the actual type, so subclasses (which may be GC types) are freed correctly. */
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyDoc_STRVAR(Accumulator_add_doc, FFL_DOC_ACCUMULATOR_ADD_CAPI);

static PyObject *Accumulator_add(AccumulatorObject *self, PyObject *arg) {
    ffl_accumulator *acc = acc_state(self);
    if (acc == NULL) return NULL;
    double value;
    if (ffl_contract_as_real("Accumulator.add", "value", arg, &value) < 0) return NULL;
    int status = ffl_acc_add(acc, value);
    if (status != FFL_OK) return ffl_contract_raise_status("Accumulator.add", status);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Accumulator_mean_doc, FFL_DOC_ACCUMULATOR_MEAN_CAPI);

static PyObject *Accumulator_mean(AccumulatorObject *self, PyObject *Py_UNUSED(ignored)) {
    ffl_accumulator *acc = acc_state(self);
    if (acc == NULL) return NULL;
    return PyFloat_FromDouble(ffl_acc_mean(acc));
}

static PyObject *Accumulator_get_count(AccumulatorObject *self, void *Py_UNUSED(closure)) {
    ffl_accumulator *acc = acc_state(self);
    if (acc == NULL) return NULL;
    return PyLong_FromLongLong(ffl_acc_count(acc));
}

static PyObject *Accumulator_get_total(AccumulatorObject *self, void *Py_UNUSED(closure)) {
    ffl_accumulator *acc = acc_state(self);
    if (acc == NULL) return NULL;
    return PyFloat_FromDouble(ffl_acc_total(acc));
}

static PyObject *Accumulator_repr(AccumulatorObject *self) {
    ffl_accumulator *acc = acc_state(self);
    if (acc == NULL) return NULL;
    /* Exactly repr(float): shortest round-trip digits, ".0" added to integral values. */
    char *total = PyOS_double_to_string(ffl_acc_total(acc), 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (total == NULL) return NULL;
    PyObject *result = PyUnicode_FromFormat("<Accumulator count=%lld total=%s>",
                                            (long long)ffl_acc_count(acc), total);
    PyMem_Free(total);
    return result;
}

static PyMethodDef Accumulator_methods[] = {
    {"add", (PyCFunction)Accumulator_add, METH_O, Accumulator_add_doc},
    {"mean", (PyCFunction)Accumulator_mean, METH_NOARGS, Accumulator_mean_doc},
    {NULL, NULL, 0, NULL},
};

/* No setters: assigning or deleting count/total raises AttributeError, like a read-only property. */
static PyGetSetDef Accumulator_getset[] = {
    {"count", (getter)Accumulator_get_count, NULL, FFL_DOC_ACCUMULATOR_COUNT, NULL},
    {"total", (getter)Accumulator_get_total, NULL, FFL_DOC_ACCUMULATOR_TOTAL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(Accumulator_doc, FFL_DOC_ACCUMULATOR_CAPI);

/* A static type: this module uses single-phase initialisation (NumPy's C API is process-wide
 * anyway), so one type object per process is all it needs. */
static PyTypeObject AccumulatorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ffilab.routes.capi._ext.Accumulator",
    .tp_basicsize = sizeof(AccumulatorObject),
    .tp_itemsize = 0,
    .tp_dealloc = (destructor)Accumulator_dealloc,
    .tp_repr = (reprfunc)Accumulator_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = Accumulator_doc,
    .tp_methods = Accumulator_methods,
    .tp_getset = Accumulator_getset,
    .tp_init = (initproc)Accumulator_init,
    /* tp_alloc zero-fills, so a fresh object has acc == NULL until __init__ runs. */
    .tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------------------------------------ */
/* tokenize_batch                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* The glue over PyObject* is shared with the pybind11 and nanobind routes
 * (csrc/ffilab_tokenize_py.h): ASCII texts are tokenized in C alone, every other text is
 * normalised by Python's own unicodedata.normalize("NFKC") and str.casefold first, the C core
 * scans every text in place with the GIL released (Py_BEGIN/END_ALLOW_THREADS: the NULL
 * release function), and the tokens are built from the spans.  The three routes differ only in
 * how the function is bound. */

PyDoc_STRVAR(tokenize_batch_doc, FFL_DOC_TOKENIZE_BATCH_CAPI);

static PyObject *capi_tokenize_batch(PyObject *Py_UNUSED(module), PyObject *arg) {
    return ffl_tokpy_tokenize_batch("tokenize_batch", arg, NULL);
}

/* tokenize_arrow: the same tokens as a pyarrow list<string> array built from the C core's
 * buffers (csrc/ffilab_tokenize_arrow_py.h): no Python object per token. */
PyDoc_STRVAR(tokenize_arrow_doc,
"tokenize_arrow($module, texts, /)\n"
"--\n"
"\n"
"Return the tokens of every text as a pyarrow ``list<string>`` array (the tokens of tokenize_batch).\n"
"\n"
"The C core writes every token's UTF-8 straight into Arrow buffers, handed to pyarrow without a\n"
"copy (Arrow C Data Interface) and freed when the array dies.  A text enters Python\n"
"(``unicodedata.normalize('NFKC', ...)``) only when the NFKC quick check over tables derived from\n"
"``unicodedata`` cannot prove it normalised; case folding uses a table of ``str.casefold``'s\n"
"per-character answers.  Everything but that call runs with the GIL released.\n"
"\n"
"Parameters\n"
"----------\n"
"texts : list of str, or a pyarrow string / large_string array without nulls\n"
"\n"
"Returns\n"
"-------\n"
"pyarrow.ListArray\n"
"    ``pa.array(tokenize_batch(texts), type=pa.list_(pa.string()))``.\n"
"\n"
"Raises\n"
"------\n"
"TypeError\n"
"    ``texts`` is neither, or an element is not a str (a null).\n"
"OverflowError\n"
"    The batch's tokens could pass the 2 GiB a list<string> array holds.\n");

static PyObject *capi_tokenize_arrow(PyObject *Py_UNUSED(module), PyObject *arg) {
    return ffl_tokarrow_py("tokenize_arrow", arg);
}

/* ------------------------------------------------------------------------------------------ */
/* Module                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* METH_FASTCALL | METH_KEYWORDS functions have a different C signature than PyCFunction; the
 * cast through void(*)(void) is the documented way to store them in PyMethodDef without a
 * -Wcast-function-type warning. */
#define FASTCALL_KW(fn) ((PyCFunction)(void (*)(void))(fn))

static PyMethodDef capi_methods[] = {
    {"sum_of_squares", capi_sum_of_squares, METH_O, sum_of_squares_doc},
    {"circle_area", capi_circle_area, METH_O, circle_area_doc},
    {"scale_array", FASTCALL_KW(capi_scale_array), METH_FASTCALL | METH_KEYWORDS, scale_array_doc},
    {"compute_distances", capi_compute_distances, METH_O, compute_distances_doc},
    {"primes", capi_primes, METH_O, primes_doc},
    {"fast_sum", capi_fast_sum, METH_O, fast_sum_doc},
    {"fast_dot", FASTCALL_KW(capi_fast_dot), METH_FASTCALL | METH_KEYWORDS, fast_dot_doc},
    {"fast_norm", capi_fast_norm, METH_O, fast_norm_doc},
    {"scale_and_shift", FASTCALL_KW(capi_scale_and_shift), METH_FASTCALL | METH_KEYWORDS, scale_and_shift_doc},
    {"haversine_distance", FASTCALL_KW(capi_haversine_distance), METH_FASTCALL | METH_KEYWORDS,
     haversine_distance_doc},
    {"haversine_many", FASTCALL_KW(capi_haversine_many), METH_FASTCALL | METH_KEYWORDS, haversine_many_doc},
    {"find_nearest_k", FASTCALL_KW(capi_find_nearest_k), METH_FASTCALL | METH_KEYWORDS, find_nearest_k_doc},
    {"tokenize_batch", capi_tokenize_batch, METH_O, tokenize_batch_doc},
    {"tokenize_arrow", capi_tokenize_arrow, METH_O, tokenize_arrow_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(module_doc,
"Route capi: the kernels as a hand-written CPython C API module over the C core.\n"
"\n"
"Every argument is validated in C with the exception classes of ``ffilab.contract``; arrays\n"
"are used in place through the NumPy C API (never converted or copied) and the GIL is released\n"
"around every loop.\n");

static struct PyModuleDef capi_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ffilab.routes.capi._ext",
    .m_doc = module_doc,
    .m_size = -1, /* single-phase: module state lives in statics (the Accumulator type) */
    .m_methods = capi_methods,
};

PyMODINIT_FUNC PyInit__ext(void) {
    /* Fills NumPy's C API table; on failure it sets ImportError and returns NULL from here. */
    import_array();
    if (PyType_Ready(&AccumulatorType) < 0) return NULL;
    PyObject *module = PyModule_Create(&capi_module);
    if (module == NULL) return NULL;
    if (PyModule_AddObjectRef(module, "Accumulator", (PyObject *)&AccumulatorType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
