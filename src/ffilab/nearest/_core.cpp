/* _core.cpp: the CPython binding of ffilab.nearest's engines (_engine.hpp): the type
 * ffilab.nearest._core.Index, its argument checks, and the GIL released around every engine call.
 *
 * Trust.  Every argument is checked here even though the Python wrapper checks it first: this
 * module is importable on its own, and must raise, never crash, whoever calls it.  The engine
 * (_engine.cpp, which needs no Python) then runs on its own copies of the input.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "_engine.hpp"

namespace {

using namespace ffilab_nearest;

constexpr Py_ssize_t kMaxThreads = 1024;
constexpr Py_ssize_t kMaxLeafSize = 4096;

// ---------------------------------------------------------------------------------------------
// Python glue
// ---------------------------------------------------------------------------------------------

struct IndexObject {
    PyObject_HEAD Engine *engine;
};

// Check an argument against the contract of the Python wrapper: a 1-D, C-contiguous, aligned,
// native float64 ndarray.  Returns a borrowed pointer to it, or NULL with an exception set.
PyArrayObject *as_vector(const char *func, const char *name, PyObject *obj) {
    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be a float64 numpy.ndarray, got %s", func, name,
                     Py_TYPE(obj)->tp_name);
        return nullptr;
    }
    PyArrayObject *arr = reinterpret_cast<PyArrayObject *>(obj);
    if (PyArray_TYPE(arr) != NPY_DOUBLE || !PyArray_ISNOTSWAPPED(arr)) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be a native float64 array", func, name);
        return nullptr;
    }
    if (PyArray_NDIM(arr) != 1) {
        PyErr_Format(PyExc_ValueError, "%s: %s must be 1-D, got %d dimensions", func, name, PyArray_NDIM(arr));
        return nullptr;
    }
    if (!PyArray_IS_C_CONTIGUOUS(arr) || !PyArray_ISALIGNED(arr)) {
        PyErr_Format(PyExc_ValueError, "%s: %s must be C-contiguous and aligned", func, name);
        return nullptr;
    }
    return arr;
}

// Copy a checked vector (the engine then never reads memory another thread could change).
bool copy_vector(PyArrayObject *arr, std::vector<double> &out) {
    npy_intp n = PyArray_DIM(arr, 0);
    try {
        out.resize(static_cast<size_t>(n));
    } catch (const std::bad_alloc &) {
        PyErr_NoMemory();
        return false;
    }
    if (n > 0) std::memcpy(out.data(), PyArray_DATA(arr), static_cast<size_t>(n) * sizeof(double));
    return true;
}

void raise_coordinate(const char *func, const char *name, Py_ssize_t i, double v, const char *expected) {
    PyObject *val = PyFloat_FromDouble(v);
    if (val == nullptr) return;
    if (i < 0)
        PyErr_Format(PyExc_ValueError, "%s: %s must be %s, got %R", func, name, expected, val);
    else
        PyErr_Format(PyExc_ValueError, "%s: %s[%zd] must be %s, got %R", func, name, i, expected, val);
    Py_DECREF(val);
}

// Latitudes in [-90, 90], longitudes in [-360, 360], both finite; i < 0 names a scalar.
bool check_coordinates(const char *func, const char *lat_name, const char *lon_name, const double *lat,
                       const double *lon, Py_ssize_t n, bool scalar) {
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!(lat[i] >= -90.0 && lat[i] <= 90.0)) {  // false for NaN too
            raise_coordinate(func, lat_name, scalar ? -1 : i, lat[i], "a latitude in [-90, 90] degrees");
            return false;
        }
        if (!(lon[i] >= -kMaxAbsLon && lon[i] <= kMaxAbsLon)) {
            raise_coordinate(func, lon_name, scalar ? -1 : i, lon[i], "a longitude in [-360, 360] degrees");
            return false;
        }
    }
    return true;
}

bool parse_k(const char *func, PyObject *obj, int64_t n, size_t *k) {
    PyObject *idx = PyNumber_Index(obj);
    if (idx == nullptr) return false;
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(idx, &overflow);
    Py_DECREF(idx);
    if (v == -1 && PyErr_Occurred()) return false;
    if (overflow != 0 || v < 1 || v > n) {
        PyErr_Format(PyExc_ValueError, "%s: k must be between 1 and the number of points (%lld), got %S", func,
                     static_cast<long long>(n), obj);
        return false;
    }
    *k = static_cast<size_t>(v);
    return true;
}

bool parse_threads(const char *func, Py_ssize_t threads) {
    if (threads < 1 || threads > kMaxThreads) {
        PyErr_Format(PyExc_ValueError, "%s: threads must be between 1 and %zd, got %zd", func, kMaxThreads, threads);
        return false;
    }
    return true;
}

PyObject *pair(PyObject *a, PyObject *b) {
    if (a == nullptr || b == nullptr) {
        Py_XDECREF(a);
        Py_XDECREF(b);
        return nullptr;
    }
    return Py_BuildValue("(NN)", a, b);
}

PyObject *Index_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static const char *kwlist[] = {"lats", "lons", "tree", "leaf_size", "threads", nullptr};
    const char *f = "_core.Index";
    PyObject *lats_obj, *lons_obj;
    int tree = 0;
    Py_ssize_t leaf_size = 16, threads = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|$pnn:Index", const_cast<char **>(kwlist), &lats_obj,
                                     &lons_obj, &tree, &leaf_size, &threads))
        return nullptr;
    if (!parse_threads(f, threads)) return nullptr;
    PyArrayObject *la = as_vector(f, "lats", lats_obj);
    if (la == nullptr) return nullptr;
    PyArrayObject *lo = as_vector(f, "lons", lons_obj);
    if (lo == nullptr) return nullptr;
    if (PyArray_DIM(la, 0) != PyArray_DIM(lo, 0)) {
        PyErr_Format(PyExc_ValueError, "%s: lats and lons must have the same length, got %zd and %zd", f,
                     static_cast<Py_ssize_t>(PyArray_DIM(la, 0)), static_cast<Py_ssize_t>(PyArray_DIM(lo, 0)));
        return nullptr;
    }
    if (PyArray_DIM(la, 0) < 1) {
        PyErr_Format(PyExc_ValueError, "%s: lats and lons must hold at least one point", f);
        return nullptr;
    }
    if (leaf_size < 1 || leaf_size > kMaxLeafSize) {
        PyErr_Format(PyExc_ValueError, "%s: leaf_size must be between 1 and %zd, got %zd", f, kMaxLeafSize,
                     leaf_size);
        return nullptr;
    }
    std::vector<double> lat, lon;
    if (!copy_vector(la, lat) || !copy_vector(lo, lon)) return nullptr;
    if (!check_coordinates(f, "lats", "lons", lat.data(), lon.data(), static_cast<Py_ssize_t>(lat.size()), false))
        return nullptr;

    Engine *engine;
    Py_BEGIN_ALLOW_THREADS;
    engine = engine_build(lat, lon, tree != 0, leaf_size, static_cast<int>(threads));
    Py_END_ALLOW_THREADS;
    if (engine == nullptr) return PyErr_NoMemory();
    IndexObject *self = reinterpret_cast<IndexObject *>(type->tp_alloc(type, 0));
    if (self == nullptr) {
        engine_destroy(engine);
        return nullptr;
    }
    self->engine = engine;
    return reinterpret_cast<PyObject *>(self);
}

void Index_dealloc(PyObject *obj) {
    IndexObject *self = reinterpret_cast<IndexObject *>(obj);
    engine_destroy(self->engine);
    self->engine = nullptr;
    // A heap type: its instances hold a reference to it.
    PyTypeObject *tp = Py_TYPE(obj);
    tp->tp_free(obj);
    Py_DECREF(tp);
}

const Engine *engine_of(PyObject *obj) {
    const Engine *s = reinterpret_cast<IndexObject *>(obj)->engine;
    if (s == nullptr) PyErr_SetString(PyExc_RuntimeError, "_core.Index: not initialised");
    return s;
}

PyDoc_STRVAR(query_doc,
             "query(lat, lon, k, threads=1)\n"
             "--\n\n"
             "Return the ``k`` points nearest to one point, nearest first.\n\n"
             "Parameters\n----------\n"
             "lat, lon : float\n    The query point in degrees: lat in [-90, 90], lon in [-360, 360].\n"
             "k : int\n    How many points, 1 <= k <= n.\n"
             "threads : int\n    Threads over the points (brute force); the tree searches on one.\n\n"
             "Returns\n-------\n"
             "indices : numpy.ndarray of int64, shape (k,)\n"
             "distances : numpy.ndarray of float64, shape (k,)\n"
             "    Kilometres, sorted by (distance, index): the reference's answer.\n");

PyObject *Index_query(PyObject *obj, PyObject *args, PyObject *kwds) {
    static const char *kwlist[] = {"lat", "lon", "k", "threads", nullptr};
    const char *f = "query";
    double lat, lon;
    PyObject *k_obj;
    Py_ssize_t threads = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ddO|n:query", const_cast<char **>(kwlist), &lat, &lon, &k_obj,
                                     &threads))
        return nullptr;
    const Engine *s = engine_of(obj);
    size_t k;
    if (s == nullptr || !check_coordinates(f, "lat", "lon", &lat, &lon, 1, true) || !parse_k(f, k_obj, engine_size(*s), &k) ||
        !parse_threads(f, threads))
        return nullptr;
    npy_intp dims[1] = {static_cast<npy_intp>(k)};
    PyObject *idx = PyArray_SimpleNew(1, dims, NPY_INT64);
    PyObject *dist = PyArray_SimpleNew(1, dims, NPY_DOUBLE);
    if (idx == nullptr || dist == nullptr) return pair(idx, dist);
    int64_t *out_idx = static_cast<int64_t *>(PyArray_DATA(reinterpret_cast<PyArrayObject *>(idx)));
    double *out_dist = static_cast<double *>(PyArray_DATA(reinterpret_cast<PyArrayObject *>(dist)));

    bool ok;
    Py_BEGIN_ALLOW_THREADS;
    ok = engine_query(*s, lat, lon, k, static_cast<int>(threads), out_idx, out_dist);
    Py_END_ALLOW_THREADS;
    if (!ok) {
        Py_DECREF(idx);
        Py_DECREF(dist);
        return PyErr_NoMemory();
    }
    return pair(idx, dist);
}

PyDoc_STRVAR(query_many_doc,
             "query_many(lats, lons, k, threads=1)\n"
             "--\n\n"
             "Return the ``k`` nearest points of every query point.\n\n"
             "Parameters\n----------\n"
             "lats, lons : numpy.ndarray of float64\n    1-D, C-contiguous, equally long: the query points.\n"
             "k : int\n    How many points per query, 1 <= k <= n.\n"
             "threads : int\n    Threads over the queries; the answer does not depend on it.\n\n"
             "Returns\n-------\n"
             "indices : numpy.ndarray of int64, shape (m, k)\n"
             "distances : numpy.ndarray of float64, shape (m, k)\n");

PyObject *Index_query_many(PyObject *obj, PyObject *args, PyObject *kwds) {
    static const char *kwlist[] = {"lats", "lons", "k", "threads", nullptr};
    const char *f = "query_many";
    PyObject *lats_obj, *lons_obj, *k_obj;
    Py_ssize_t threads = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|n:query_many", const_cast<char **>(kwlist), &lats_obj,
                                     &lons_obj, &k_obj, &threads))
        return nullptr;
    const Engine *s = engine_of(obj);
    if (s == nullptr) return nullptr;
    PyArrayObject *la = as_vector(f, "lats", lats_obj);
    if (la == nullptr) return nullptr;
    PyArrayObject *lo = as_vector(f, "lons", lons_obj);
    if (lo == nullptr) return nullptr;
    if (PyArray_DIM(la, 0) != PyArray_DIM(lo, 0)) {
        PyErr_Format(PyExc_ValueError, "%s: lats and lons must have the same length, got %zd and %zd", f,
                     static_cast<Py_ssize_t>(PyArray_DIM(la, 0)), static_cast<Py_ssize_t>(PyArray_DIM(lo, 0)));
        return nullptr;
    }
    size_t k;
    if (!parse_k(f, k_obj, engine_size(*s), &k) || !parse_threads(f, threads)) return nullptr;
    std::vector<double> qlat, qlon;
    if (!copy_vector(la, qlat) || !copy_vector(lo, qlon)) return nullptr;
    const int64_t m = static_cast<int64_t>(qlat.size());
    if (!check_coordinates(f, "lats", "lons", qlat.data(), qlon.data(), static_cast<Py_ssize_t>(m), false))
        return nullptr;
    if (m > 0 && static_cast<uint64_t>(k) > static_cast<uint64_t>(NPY_MAX_INTP) / static_cast<uint64_t>(m))
        return PyErr_NoMemory();
    npy_intp dims[2] = {static_cast<npy_intp>(m), static_cast<npy_intp>(k)};
    PyObject *idx = PyArray_SimpleNew(2, dims, NPY_INT64);
    PyObject *dist = PyArray_SimpleNew(2, dims, NPY_DOUBLE);
    if (idx == nullptr || dist == nullptr) return pair(idx, dist);
    int64_t *out_idx = static_cast<int64_t *>(PyArray_DATA(reinterpret_cast<PyArrayObject *>(idx)));
    double *out_dist = static_cast<double *>(PyArray_DATA(reinterpret_cast<PyArrayObject *>(dist)));

    bool ok;
    Py_BEGIN_ALLOW_THREADS;
    ok = engine_query_many(*s, qlat.data(), qlon.data(), m, k, static_cast<int>(threads), out_idx, out_dist);
    Py_END_ALLOW_THREADS;
    if (!ok) {
        Py_DECREF(idx);
        Py_DECREF(dist);
        return PyErr_NoMemory();
    }
    return pair(idx, dist);
}

PyObject *Index_get_n(PyObject *obj, void *) {
    const Engine *s = engine_of(obj);
    return s == nullptr ? nullptr : PyLong_FromLongLong(engine_size(*s));
}

PyObject *Index_get_is_tree(PyObject *obj, void *) {
    const Engine *s = engine_of(obj);
    return s == nullptr ? nullptr : PyBool_FromLong(engine_is_tree(*s));
}

PyObject *Index_get_nodes(PyObject *obj, void *) {
    const Engine *s = engine_of(obj);
    return s == nullptr ? nullptr : PyLong_FromSize_t(engine_nodes(*s));
}

PyObject *Index_get_nbytes(PyObject *obj, void *) {
    const Engine *s = engine_of(obj);
    if (s == nullptr) return nullptr;
    return PyLong_FromSize_t(engine_nbytes(*s));
}

PyMethodDef Index_methods[] = {
    {"query", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(Index_query)),
     METH_VARARGS | METH_KEYWORDS, query_doc},
    {"query_many", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(Index_query_many)),
     METH_VARARGS | METH_KEYWORDS, query_many_doc},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef Index_getset[] = {
    {"n", Index_get_n, nullptr, PyDoc_STR("Number of points."), nullptr},
    {"is_tree", Index_get_is_tree, nullptr, PyDoc_STR("True for the k-d tree, False for the brute force."), nullptr},
    {"nodes", Index_get_nodes, nullptr, PyDoc_STR("Number of internal k-d tree nodes (0 for the brute force)."),
     nullptr},
    {"nbytes", Index_get_nbytes, nullptr, PyDoc_STR("Bytes held by the engine's arrays."), nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyDoc_STRVAR(Index_doc,
             "Index(lats, lons, *, tree=False, leaf_size=16, threads=1)\n"
             "--\n\n"
             "An exact nearest-places engine over a fixed set of points.\n\n"
             "Parameters\n----------\n"
             "lats, lons : numpy.ndarray of float64\n"
             "    1-D, C-contiguous, equally long, at least one point; lat in [-90, 90] and lon in\n"
             "    [-360, 360] degrees.  They are copied: later changes to them do not matter.\n"
             "tree : bool\n"
             "    False: the fused brute-force scan.  True: a k-d tree over the unit vectors.\n"
             "leaf_size : int\n"
             "    Points per k-d tree leaf (1..4096).\n"
             "threads : int\n"
             "    Threads that build the tree (its top levels); the tree does not depend on it.\n");

PyType_Slot Index_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void *>(Index_dealloc)},
    {Py_tp_doc, const_cast<char *>(Index_doc)},
    {Py_tp_methods, Index_methods},
    {Py_tp_getset, Index_getset},
    {Py_tp_new, reinterpret_cast<void *>(Index_new)},
    {0, nullptr},
};

PyType_Spec Index_spec = {"ffilab.nearest._core.Index", sizeof(IndexObject), 0, Py_TPFLAGS_DEFAULT, Index_slots};

PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    "_core",
    "Compiled exact nearest-places engines (fused brute force, k-d tree) for ffilab.nearest.",
    -1,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

}  // namespace

PyMODINIT_FUNC PyInit__core(void) {
    import_array();
    PyObject *m = PyModule_Create(&core_module);
    if (m == nullptr) return nullptr;
    // PyModule_AddObjectRef (3.10+) never steals, so every path releases what it created.
    PyObject *type = PyType_FromSpec(&Index_spec);
    PyObject *margin = PyFloat_FromDouble(kMargin);
    if (type == nullptr || margin == nullptr || PyModule_AddObjectRef(m, "Index", type) < 0 ||
        PyModule_AddObjectRef(m, "MARGIN", margin) < 0) {
        Py_XDECREF(type);
        Py_XDECREF(margin);
        Py_DECREF(m);
        return nullptr;
    }
    Py_DECREF(type);
    Py_DECREF(margin);
    return m;
}

