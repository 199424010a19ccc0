/* ffilab_tokenize_arrow_py.h: the kernel tokenize_arrow over PyObject*: tokens as a pyarrow array.
 *
 *     PyObject *ffl_tokarrow_py(const char *func, PyObject *texts);
 *
 * returns a pyarrow list<string> array holding the tokens of every text, exactly
 * pa.array(tokenize_batch(texts), type=pa.list_(pa.string())), or NULL with a Python exception
 * set.  `texts` is a list of str (the contract of tokenize_batch: TypeError naming the offender
 * otherwise) or an Arrow array of strings (anything with __arrow_c_array__ whose type is string or
 * large_string, read in place through the Arrow C Data Interface; a null is a TypeError, as None
 * in a list is).
 *
 * No Python object is made per token, and none per text unless Python's NFKC must run on it.
 * Per chunk of texts (as in ffilab_tokenize_py.h, whose cache of unicodedata.normalize, the class
 * table and the contract's constants it shares):
 *   1. GIL held: where each text's code units are (a str's PEP 393 buffer, or the UTF-8 of an
 *      Arrow record), and room to fold them;
 *   2. GIL released: an ASCII text is scanned as it is (lowercased as it is copied: that is its
 *      NFKC + casefold); any other text is folded in C when Unicode's NFKC quick check, over
 *      tables derived from the interpreter's unicodedata (ffilab.routes._text_glue.arrow_tables),
 *      proves it is already NFKC — its case folding is then each code point's str.casefold, from
 *      the same tables; if no text of the chunk is left over, the chunk is scanned and appended
 *      to the Arrow buffers (ffilab_tokenize_arrow.c) in the same release;
 *   3. GIL held, only for the texts left over: Python's own unicodedata.normalize("NFKC", text)
 *      (a UTF-8 record is decoded first) — Python's Unicode database stays the truth;
 *   4. GIL released: those are case-folded from the tables, and the chunk scanned and appended;
 * and at the end the buffers are handed to pyarrow through the C Data Interface's PyCapsules
 * (pyarrow.Array._import_from_c_capsule, what pa.array() calls for an __arrow_c_array__
 * object): no copy, and the core's release callback frees them when the array dies. */
#ifndef FFILAB_TOKENIZE_ARROW_PY_H
#define FFILAB_TOKENIZE_ARROW_PY_H

#include <Python.h>

#include <stdlib.h>
#include <string.h>

#include "ffilab_tokenize_arrow.h"
#include "ffilab_tokenize_py.h"

/* pyarrow.Array._import_from_c_capsule, fetched at the first call and kept for the process. */
static PyObject *ffl_tokarrow_importer;

static PyObject *ffl_tokarrow_get_importer(void) {
    if (ffl_tokarrow_importer != NULL) return ffl_tokarrow_importer;
    PyObject *pa = PyImport_ImportModule("pyarrow");
    if (pa == NULL) return NULL;
    PyObject *array_type = PyObject_GetAttrString(pa, "Array");
    Py_DECREF(pa);
    if (array_type == NULL) return NULL;
    PyObject *importer = PyObject_GetAttrString(array_type, "_import_from_c_capsule");
    Py_DECREF(array_type);
    if (importer == NULL) return NULL;
    if (ffl_tokarrow_importer == NULL) {
        ffl_tokarrow_importer = importer; /* two threads may both get here: the first one wins */
    } else {
        Py_DECREF(importer);
    }
    return ffl_tokarrow_importer;
}

/* The PyCapsule interface's destructors: release what the consumer did not move out. */
static void ffl_tokarrow_schema_capsule_free(PyObject *capsule) {
    struct ArrowSchema *s = (struct ArrowSchema *)PyCapsule_GetPointer(capsule, "arrow_schema");
    if (s == NULL) {
        PyErr_Clear();
        return;
    }
    if (s->release != NULL) s->release(s);
    free(s);
}

static void ffl_tokarrow_array_capsule_free(PyObject *capsule) {
    struct ArrowArray *a = (struct ArrowArray *)PyCapsule_GetPointer(capsule, "arrow_array");
    if (a == NULL) {
        PyErr_Clear();
        return;
    }
    if (a->release != NULL) a->release(a);
    free(a);
}

/* The finished buffers as a pyarrow array; b is emptied (its buffers belong to the array, or
 * are freed on failure). */
static PyObject *ffl_tokarrow_to_pyarrow(ffl_tokarrow *b) {
    PyObject *importer = ffl_tokarrow_get_importer();
    if (importer == NULL) return NULL;
    struct ArrowSchema *schema = (struct ArrowSchema *)calloc(1, sizeof *schema);
    struct ArrowArray *array = (struct ArrowArray *)calloc(1, sizeof *array);
    if (schema == NULL || array == NULL || ffl_tokarrow_export(b, schema, array) < 0) {
        free(schema);
        free(array);
        return PyErr_NoMemory();
    }
    /* From here each struct is owned by its capsule (or freed right here if one fails). */
    PyObject *schema_cap = PyCapsule_New(schema, "arrow_schema", ffl_tokarrow_schema_capsule_free);
    if (schema_cap == NULL) {
        schema->release(schema);
        free(schema);
        array->release(array);
        free(array);
        return NULL;
    }
    PyObject *array_cap = PyCapsule_New(array, "arrow_array", ffl_tokarrow_array_capsule_free);
    if (array_cap == NULL) {
        Py_DECREF(schema_cap);
        array->release(array);
        free(array);
        return NULL;
    }
    PyObject *args[2] = {schema_cap, array_cap};
    PyObject *result = PyObject_Vectorcall(importer, args, 2, NULL);
    Py_DECREF(schema_cap);
    Py_DECREF(array_cap);
    return result;
}

/* An Arrow string array read in place: its offsets (int32 or int64) and UTF-8 data. */
typedef struct {
    PyObject *capsules; /* the (schema, array) tuple __arrow_c_array__ returned: keeps it alive */
    const uint8_t *data;
    const int32_t *offsets32;
    const int64_t *offsets64;
    int64_t offset; /* the array's own offset into its buffers */
    int64_t length;
} ffl_tokarrow_input;

static int64_t ffl_tokarrow_input_start(const ffl_tokarrow_input *in, int64_t i) {
    return in->offsets32 != NULL ? (int64_t)in->offsets32[in->offset + i] : in->offsets64[in->offset + i];
}

/* Opens `texts` as an Arrow string array: 1 done, 0 not an Arrow object (no exception set), -1
 * with an exception (TypeError for another type or a null). */
static int ffl_tokarrow_open_arrow(const char *func, PyObject *texts, ffl_tokarrow_input *in) {
    memset(in, 0, sizeof *in);
    PyObject *method = PyObject_GetAttrString(texts, "__arrow_c_array__");
    if (method == NULL) {
        PyErr_Clear();
        return 0;
    }
    PyObject *caps = PyObject_CallNoArgs(method);
    Py_DECREF(method);
    if (caps == NULL) return -1;
    if (!PyTuple_Check(caps) || PyTuple_GET_SIZE(caps) != 2) {
        Py_DECREF(caps);
        PyErr_Format(PyExc_TypeError, "%s: __arrow_c_array__ must return a (schema, array) tuple of capsules", func);
        return -1;
    }
    struct ArrowSchema *schema = (struct ArrowSchema *)PyCapsule_GetPointer(PyTuple_GET_ITEM(caps, 0), "arrow_schema");
    struct ArrowArray *array =
        schema == NULL ? NULL : (struct ArrowArray *)PyCapsule_GetPointer(PyTuple_GET_ITEM(caps, 1), "arrow_array");
    if (array == NULL) {
        Py_DECREF(caps);
        return -1;
    }
    const int narrow = strcmp(schema->format, "u") == 0, wide = strcmp(schema->format, "U") == 0;
    if (!(narrow || wide) || array->n_buffers != 3) {
        PyErr_Format(PyExc_TypeError, "%s: texts must be a list of str or an Arrow array of strings, got Arrow format %s",
                     func, schema->format);
        Py_DECREF(caps);
        return -1;
    }
    in->capsules = caps;
    in->length = array->length;
    in->offset = array->offset;
    in->data = (const uint8_t *)array->buffers[2];
    if (narrow) in->offsets32 = (const int32_t *)array->buffers[1];
    else in->offsets64 = (const int64_t *)array->buffers[1];
    /* A null is refused as None in a list is: by its position, before any work. */
    const uint8_t *valid = (const uint8_t *)array->buffers[0];
    if (array->null_count != 0 && valid != NULL) {
        for (int64_t i = 0; i < array->length; i++) {
            const int64_t bit = array->offset + i;
            if (!((valid[bit >> 3] >> (bit & 7)) & 1)) {
                PyErr_Format(PyExc_TypeError, "%s: texts[%lld] must be str, got NoneType", func, (long long)i);
                Py_CLEAR(in->capsules);
                return -1;
            }
        }
    }
    if (in->length > 0 && in->offsets32 == NULL && in->offsets64 == NULL) {
        PyErr_Format(PyExc_TypeError, "%s: the Arrow array of texts has no offsets buffer", func);
        Py_CLEAR(in->capsules);
        return -1;
    }
    return 1;
}

/* The tables of ffilab.routes._text_glue.arrow_tables(), fetched at the first call and kept (the
 * tuple holds the bytes objects the pointers read). */
typedef struct {
    PyObject *owner;
    ffl_fold_tables t;
} ffl_tokarrow_tables;

static ffl_tokarrow_tables ffl_tokarrow_tables_state;

static const ffl_tokarrow_tables *ffl_tokarrow_tables_get(const uint8_t *classes) {
    if (ffl_tokarrow_tables_state.owner != NULL) return &ffl_tokarrow_tables_state;
    PyObject *glue = PyImport_ImportModule("ffilab.routes._text_glue");
    if (glue == NULL) return NULL;
    PyObject *t = PyObject_CallMethod(glue, "arrow_tables", NULL);
    Py_DECREF(glue);
    if (t == NULL) return NULL;
    int ok = PyTuple_Check(t) && PyTuple_GET_SIZE(t) == 6;
    for (Py_ssize_t i = 0; ok && i < 6; i++) ok = PyBytes_CheckExact(PyTuple_GET_ITEM(t, i));
    Py_ssize_t n_fold = 0, n_compat = 0;
    if (ok) {
        n_fold = PyBytes_GET_SIZE(PyTuple_GET_ITEM(t, 1)) / 4;
        n_compat = PyBytes_GET_SIZE(PyTuple_GET_ITEM(t, 3)) / 4;
        ok = PyBytes_GET_SIZE(PyTuple_GET_ITEM(t, 0)) == FFL_CHAR_TABLE_SIZE &&
             PyBytes_GET_SIZE(PyTuple_GET_ITEM(t, 1)) == 4 * n_fold &&
             PyBytes_GET_SIZE(PyTuple_GET_ITEM(t, 2)) == 16 * n_fold &&
             PyBytes_GET_SIZE(PyTuple_GET_ITEM(t, 3)) == 4 * n_compat &&
             PyBytes_GET_SIZE(PyTuple_GET_ITEM(t, 4)) == 4 * (n_compat + 1);
    }
    if (ok) { /* every replacement lies within the pool */
        const uint32_t *offs = (const uint32_t *)PyBytes_AS_STRING(PyTuple_GET_ITEM(t, 4));
        const Py_ssize_t pool = PyBytes_GET_SIZE(PyTuple_GET_ITEM(t, 5)) / 4;
        for (Py_ssize_t k = 0; ok && k < n_compat; k++) ok = offs[k] <= offs[k + 1] && (Py_ssize_t)offs[k + 1] <= pool;
    }
    if (!ok) {
        Py_DECREF(t);
        PyErr_SetString(PyExc_RuntimeError, "ffilab.routes._text_glue.arrow_tables() returned tables of the wrong shape");
        return NULL;
    }
    if (ffl_tokarrow_tables_state.owner != NULL) { /* another thread loaded them meanwhile */
        Py_DECREF(t);
        return &ffl_tokarrow_tables_state;
    }
    ffl_fold_tables *ft = &ffl_tokarrow_tables_state.t;
    ft->classes = classes;
    ft->inert = (const uint8_t *)PyBytes_AS_STRING(PyTuple_GET_ITEM(t, 0));
    ft->fold_keys = (const uint32_t *)PyBytes_AS_STRING(PyTuple_GET_ITEM(t, 1));
    ft->fold_values = (const uint32_t *)PyBytes_AS_STRING(PyTuple_GET_ITEM(t, 2));
    ft->n_fold = (int64_t)n_fold;
    ft->compat_keys = (const uint32_t *)PyBytes_AS_STRING(PyTuple_GET_ITEM(t, 3));
    ft->compat_offsets = (const uint32_t *)PyBytes_AS_STRING(PyTuple_GET_ITEM(t, 4));
    ft->compat_pool = (const uint32_t *)PyBytes_AS_STRING(PyTuple_GET_ITEM(t, 5));
    ft->n_compat = (int64_t)n_compat;
    ffl_tokarrow_tables_state.owner = t;
    return &ffl_tokarrow_tables_state;
}

/* Room for the C folding of a text of n code units: a code point folds to at most 3, and a
 * replaced compatibility character may need more (a text that needs still more goes to Python). */
#define FFL_TOKARROW_FOLD_ROOM(n) (3 * (n) + 64)

/* One text of a chunk.  `kind` 0 is UTF-8 from an Arrow array (not yet known to be ASCII). */
typedef struct {
    const void *data;
    int64_t length;
    int kind;
    int lower;       /* ASCII still to be lowercased */
    int python;      /* set by phase 2: only Python can normalise it (phase 3) */
    int casefold;    /* set by phase 3: its NFKC still to be case-folded by phase 4 */
    int64_t scratch; /* where its folding goes in the chunk's scratch (code points) */
} ffl_tokarrow_text;

/* Phases 2 and 4's job, run with the GIL released. */
typedef struct {
    ffl_tokarrow *out;
    ffl_tokarrow_text *texts;
    int64_t n_texts;
    const uint8_t *classes;
    const ffl_tokarrow_tables *tables;
    uint32_t *scratch;  /* phase 2's foldings */
    uint32_t *scratch2; /* phase 4's foldings (of phase 3's NFKC) */
    int64_t max_chars;
    const uint8_t *num;
    int64_t num_len;
    int fold;        /* phase 2: fold what C can; and append everything if nothing is left to Python */
    int64_t python;  /* phase 2's count of texts left to Python */
    int status;
} ffl_tokarrow_job;

static void ffl_tokarrow_work(void *arg) {
    ffl_tokarrow_job *job = (ffl_tokarrow_job *)arg;
    job->status = 0;
    if (job->fold) {
        job->python = 0;
        for (int64_t k = 0; k < job->n_texts; k++) {
            ffl_tokarrow_text *t = &job->texts[k];
            if (t->lower) continue;
            if (t->kind == 0 && ffl_is_ascii((const uint8_t *)t->data, t->length)) {
                t->kind = 1;
                t->lower = 1;
                continue;
            }
            uint32_t *dst = job->scratch + t->scratch;
            int same = 0;
            const int64_t n = ffl_tokarrow_fold(t->data, t->kind, t->length, &job->tables->t, dst,
                                                FFL_TOKARROW_FOLD_ROOM(t->length), &same);
            if (n < 0) {
                t->python = 1;
                job->python++;
            } else if (same) {
                /* UTF-8 that is its own folding: scanned as it is (kind 0) */
            } else {
                t->data = dst;
                t->kind = 4;
                t->length = n;
            }
        }
        if (job->python > 0) return; /* phase 3 first */
    }
    for (int64_t k = 0; k < job->n_texts; k++) {
        ffl_tokarrow_text *t = &job->texts[k];
        if (!job->fold && t->casefold) {
            uint32_t *dst = job->scratch2 + t->scratch;
            const int64_t n = ffl_tokarrow_casefold(t->data, t->kind, t->length, &job->tables->t, dst, 3 * t->length);
            if (n < 0) {
                job->status = -FFL_EINVAL; /* the tables do not cover a code point: never expected */
                return;
            }
            t->data = dst;
            t->kind = 4;
            t->length = n;
            t->casefold = 0;
        }
        const int st = ffl_tokarrow_append(job->out, t->data, t->kind, t->length, t->lower, job->classes,
                                           job->max_chars, job->num, job->num_len);
        if (st < 0) {
            job->status = st;
            return;
        }
    }
}

/* Phase 3 for one text: Python's unicodedata.normalize("NFKC", text) as a new reference, or
 * NULL with an exception.  Its case folding is left to C (ffl_tokarrow_casefold, in phase 4). */
static PyObject *ffl_tokarrow_nfkc(const ffl_tokpy_cache *cache, PyObject *text) {
    PyObject *args[2] = {cache->nfkc, text};
    PyObject *nfkc = PyObject_Vectorcall(cache->normalize, args, 2, NULL);
    if (nfkc != NULL && !PyUnicode_Check(nfkc)) {
        Py_DECREF(nfkc);
        PyErr_SetString(PyExc_RuntimeError, "unicodedata.normalize did not return a str");
        return NULL;
    }
    return nfkc;
}

/* Scratch buffers kept between calls: a batch of 65,536 records needs a few MB of them, and fresh
 * memory each call costs page faults (the kernel zeroes every page: measured, 6-10% of a call).
 * A few sets are kept in a pool, taken and given back with the GIL held (so no lock is needed,
 * and a thread that ends leaks nothing); a set over FFL_TOKARROW_KEEP_BYTES is freed instead, so
 * that one huge batch does not pin its memory for the life of the process. */
typedef struct {
    uint32_t *scratch, *scratch2;
    int64_t scratch_have, scratch2_have;
    uint64_t *masks;
    int64_t masks_cap;
    uint8_t *tmp;
    int64_t tmp_cap;
} ffl_tokarrow_scratch;

#define FFL_TOKARROW_POOL 4
#define FFL_TOKARROW_KEEP_BYTES ((int64_t)32 << 20)
static ffl_tokarrow_scratch ffl_tokarrow_pool[FFL_TOKARROW_POOL];
static int ffl_tokarrow_pooled;

static ffl_tokarrow_scratch ffl_tokarrow_scratch_take(void) {
    ffl_tokarrow_scratch s;
    if (ffl_tokarrow_pooled > 0) {
        s = ffl_tokarrow_pool[--ffl_tokarrow_pooled];
    } else {
        memset(&s, 0, sizeof s);
    }
    return s;
}

static void ffl_tokarrow_scratch_give(ffl_tokarrow_scratch *s) {
    const int64_t bytes = 4 * (s->scratch_have + s->scratch2_have) + 8 * s->masks_cap + s->tmp_cap;
    if (ffl_tokarrow_pooled < FFL_TOKARROW_POOL && bytes <= FFL_TOKARROW_KEEP_BYTES) {
        ffl_tokarrow_pool[ffl_tokarrow_pooled++] = *s;
    } else {
        PyMem_Free(s->scratch);
        PyMem_Free(s->scratch2);
        free(s->masks); /* the core's own allocations (ffilab_tokenize_arrow.c grows them with realloc) */
        free(s->tmp);
    }
    memset(s, 0, sizeof *s);
}

static int ffl_tokarrow_status_error(const char *func, int status) {
    if (status == -FFL_EOVERFLOW) {
        PyErr_Format(PyExc_OverflowError,
                     "%s: the batch's tokens could pass 2 GiB, the most a list<string> array holds: "
                     "split texts into smaller batches", func);
    } else if (status == -FFL_ENOMEM) {
        PyErr_NoMemory();
    } else {
        PyErr_Format(PyExc_RuntimeError, "%s: the C core returned status %d", func, -status);
    }
    return -1;
}

static PyObject *ffl_tokarrow_py(const char *func, PyObject *texts) {
    const ffl_tokpy_cache *cache = ffl_tokpy_cache_get();
    if (cache == NULL) return NULL;
    const ffl_tokarrow_tables *tables = ffl_tokarrow_tables_get((const uint8_t *)PyBytes_AS_STRING(cache->classes));
    if (tables == NULL) return NULL;
    PyObject *snapshot = NULL; /* a list's items, held for the whole call (ffilab_tokenize_py.h) */
    ffl_tokarrow_input arrow;
    memset(&arrow, 0, sizeof arrow);
    Py_ssize_t n;
    if (PyList_Check(texts)) {
        snapshot = PyList_GetSlice(texts, 0, PY_SSIZE_T_MAX);
        if (snapshot == NULL) return NULL;
        n = PyList_GET_SIZE(snapshot);
        if (ffl_tokpy_check_items(func, snapshot) < 0) { /* as the reference's check_texts */
            Py_DECREF(snapshot);
            return NULL;
        }
    } else {
        const int opened = ffl_tokarrow_open_arrow(func, texts, &arrow);
        if (opened < 0) return NULL;
        if (opened == 0) {
            PyObject *name = ffl_tokpy_type_name(texts);
            if (name != NULL) {
                PyErr_Format(PyExc_TypeError, "%s: texts must be a list of str, got %S", func, name);
                Py_DECREF(name);
            }
            return NULL;
        }
        n = (Py_ssize_t)arrow.length;
    }

    const Py_ssize_t chunk_max = n < FFL_TOKPY_CHUNK_TEXTS ? n : FFL_TOKPY_CHUNK_TEXTS;
    const size_t slots = (size_t)(chunk_max > 0 ? chunk_max : 1);
    /* folded[k]: the new reference to text k's Python folding (phase 3), else NULL. */
    PyObject **folded = (PyObject **)PyMem_Calloc(slots, sizeof(PyObject *));
    ffl_tokarrow_text *chunk = (ffl_tokarrow_text *)PyMem_Malloc(slots * sizeof *chunk);
    ffl_tokarrow_scratch kept = ffl_tokarrow_scratch_take();
    uint32_t *scratch = kept.scratch, *scratch2 = kept.scratch2;
    int64_t scratch_have = kept.scratch_have, scratch2_have = kept.scratch2_have;
    const uint8_t *classes = (const uint8_t *)PyBytes_AS_STRING(cache->classes);
    Py_ssize_t num_len = 0;
    const char *num = PyUnicode_AsUTF8AndSize(cache->num_token, &num_len);
    ffl_tokarrow out;
    ffl_tokarrow_init(&out);
    out.masks = kept.masks; /* the core's scan scratch, kept from an earlier call */
    out.masks_cap = kept.masks_cap;
    out.tmp = kept.tmp;
    out.tmp_cap = kept.tmp_cap;
    PyObject *result = NULL;
    Py_ssize_t chunk_len = 0;
    if (folded == NULL || chunk == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (num == NULL) goto done;
    {
        /* Room for about the tokens of prose: as many bytes as the texts' code units, and one
         * eighth more (numbers grow to "<num>", non-ASCII to several bytes); the buffers grow if
         * a batch needs more.  One allocation up front saves the copies of growing by doubling. */
        int64_t units = 0;
        if (snapshot != NULL) {
            for (Py_ssize_t i = 0; i < n; i++) units += (int64_t)PyUnicode_GET_LENGTH(PyList_GET_ITEM(snapshot, i));
        } else if (n > 0) {
            units = ffl_tokarrow_input_start(&arrow, n) - ffl_tokarrow_input_start(&arrow, 0);
        }
        if (units < 0) units = 0;
        if (ffl_tokarrow_reserve(&out, (int64_t)n, units + units / 8 + 64) < 0) {
            PyErr_NoMemory();
            goto done;
        }
    }

    for (Py_ssize_t first = 0; first < n; first += chunk_len) {
        /* Phase 1, GIL held: where each text's code units are; room to fold the others in C. */
        int64_t chars = 0, need = 1;
        chunk_len = 0;
        while (first + chunk_len < n && chunk_len < chunk_max && (chunk_len == 0 || chars < FFL_TOKPY_CHUNK_CHARS)) {
            const Py_ssize_t i = first + chunk_len;
            ffl_tokarrow_text *t = &chunk[chunk_len];
            folded[chunk_len] = NULL;
            t->python = 0;
            t->casefold = 0;
            if (snapshot != NULL) {
                PyObject *text = PyList_GET_ITEM(snapshot, i);
                t->data = PyUnicode_DATA(text);
                t->kind = (int)PyUnicode_KIND(text);
                t->length = (int64_t)PyUnicode_GET_LENGTH(text);
                t->lower = PyUnicode_IS_ASCII(text) ? 1 : 0;
            } else {
                const int64_t a = ffl_tokarrow_input_start(&arrow, i), z = ffl_tokarrow_input_start(&arrow, i + 1);
                if (z < a || (z > a && arrow.data == NULL)) {
                    PyErr_Format(PyExc_ValueError, "%s: the Arrow array of texts has bad offsets at %zd", func, i);
                    goto done;
                }
                t->data = arrow.data + a;
                t->kind = 0;
                t->length = z - a;
                t->lower = 0;
            }
            t->scratch = need;
            if (!t->lower) need += FFL_TOKARROW_FOLD_ROOM(t->length);
            chars += t->length;
            chunk_len++;
        }
        if (ffl_tokpy_reserve((void **)&scratch, &scratch_have, need, sizeof(uint32_t)) < 0) goto done;

        /* Phase 2, GIL released: fold what C can prove (and append the chunk if that is all). */
        ffl_tokarrow_job job = {&out, chunk, (int64_t)chunk_len, classes, tables, scratch, NULL, cache->max_chars,
                                (const uint8_t *)num, (int64_t)num_len, 1, 0, 0};
        Py_BEGIN_ALLOW_THREADS
        ffl_tokarrow_work(&job);
        Py_END_ALLOW_THREADS
        if (job.status < 0) {
            ffl_tokarrow_status_error(func, job.status);
            goto done;
        }
        if (job.python > 0) {
            /* Phase 3, GIL held: Python's NFKC for the texts C could not prove normalised. */
            int64_t need2 = 1;
            for (Py_ssize_t k = 0; k < chunk_len; k++) {
                ffl_tokarrow_text *t = &chunk[k];
                t->casefold = 0;
                if (!t->python) continue;
                PyObject *text;
                if (snapshot != NULL) {
                    text = PyList_GET_ITEM(snapshot, first + k);
                    Py_INCREF(text);
                } else {
                    text = PyUnicode_DecodeUTF8((const char *)t->data, (Py_ssize_t)t->length, "strict");
                    if (text == NULL) goto done;
                }
                PyObject *nfkc = ffl_tokarrow_nfkc(cache, text);
                Py_DECREF(text);
                if (nfkc == NULL) goto done;
                folded[k] = nfkc;
                t->data = PyUnicode_DATA(nfkc);
                t->kind = (int)PyUnicode_KIND(nfkc);
                t->length = (int64_t)PyUnicode_GET_LENGTH(nfkc);
                /* NFKC made it ASCII ("ﬁ" -> "fi"): lowercasing is its case folding. */
                t->lower = PyUnicode_IS_ASCII(nfkc) ? 1 : 0;
                if (!t->lower) {
                    t->casefold = 1;
                    t->scratch = need2;
                    need2 += 3 * t->length;
                }
            }
            if (ffl_tokpy_reserve((void **)&scratch2, &scratch2_have, need2, sizeof(uint32_t)) < 0) goto done;
            job.scratch2 = scratch2;
            /* Phase 4, GIL released: append the chunk. */
            job.fold = 0;
            Py_BEGIN_ALLOW_THREADS
            ffl_tokarrow_work(&job);
            Py_END_ALLOW_THREADS
            if (job.status < 0) {
                ffl_tokarrow_status_error(func, job.status);
                goto done;
            }
            for (Py_ssize_t k = 0; k < chunk_len; k++) Py_CLEAR(folded[k]);
        }
    }
    result = ffl_tokarrow_to_pyarrow(&out);

done: /* one exit for success and failure */
    if (folded != NULL) {
        for (Py_ssize_t k = 0; k < chunk_max; k++) Py_CLEAR(folded[k]);
    }
    PyMem_Free(folded);
    PyMem_Free(chunk);
    kept.scratch = scratch;
    kept.scratch2 = scratch2;
    kept.scratch_have = scratch_have;
    kept.scratch2_have = scratch2_have;
    kept.masks = out.masks;
    kept.masks_cap = out.masks_cap;
    kept.tmp = out.tmp;
    kept.tmp_cap = out.tmp_cap;
    out.masks = NULL;
    out.tmp = NULL;
    out.masks_cap = out.tmp_cap = 0;
    ffl_tokarrow_scratch_give(&kept);
    ffl_tokarrow_free(&out); /* empty after a successful export */
    Py_XDECREF(snapshot);
    Py_XDECREF(arrow.capsules);
    return result;
}

#endif /* FFILAB_TOKENIZE_ARROW_PY_H */
