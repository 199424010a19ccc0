/* ffilab_tokenize_py.h: the tokenize_batch kernel over PyObject*, shared by the C++ binding routes.
 *
 * The tokenizer is split the way the contract splits it (ffilab/contract.py): Python's own
 * unicodedata.normalize("NFKC") and str.casefold do the Unicode work (they are the truth), the C
 * core's ffl_tokenize_spans scans the result in place (PEP 393 buffers, no copy), and the tokens
 * are built straight from the spans.  pybind11 and nanobind bind the same glue, so the two routes
 * differ only in the binding itself; it is plain C over the CPython API, header-only (every
 * function static), and each module that includes it keeps its own cache.
 *
 *     PyObject *ffl_tokpy_tokenize_batch(const char *func, PyObject *texts,
 *                                         ffl_tokpy_release_fn release);
 *
 * returns a new list of lists of str, or NULL with a Python exception set: TypeError naming the
 * offender for a non-list or a non-str element, MemoryError, or whatever normalisation raised.
 * `release` runs the scan with the GIL released, the binding's way (pybind11's or nanobind's
 * gil_scoped_release); NULL means Py_BEGIN/END_ALLOW_THREADS.
 *
 * Per chunk of texts (at most FFL_TOKPY_CHUNK_TEXTS texts, about FFL_TOKPY_CHUNK_CHARS code points):
 *   1. GIL held: an ASCII text is kept as it is (NFKC is the identity on ASCII and casefold is
 *      ASCII lowercasing, applied when its tokens are built); any other text becomes
 *      str.casefold(unicodedata.normalize("NFKC", text)), held as a new reference.
 *   2. GIL released: every text of the chunk is scanned into one spans / is_num buffer.
 *   3. GIL held: one list per text; "<num>" is one shared str; an ASCII token is written
 *      lowercased straight into a new str, any other is a substring of the folded text.
 * Chunks keep the scratch buffers small (cache-resident) and bounded whatever the batch size,
 * where one buffer for the whole batch would need 8.5 bytes of capacity per code point. */
#ifndef FFILAB_TOKENIZE_PY_H
#define FFILAB_TOKENIZE_PY_H

#include <Python.h>

#include <stdint.h>
#include <string.h>

#include "ffilab_core.h"

/* Runs work(arg) with the GIL released and returns with it held again; work calls no Python API. */
typedef void (*ffl_tokpy_release_fn)(void (*work)(void *), void *arg);

#define FFL_TOKPY_CHUNK_TEXTS 4096
#define FFL_TOKPY_CHUNK_CHARS 65536

/* What every call needs, fetched once per process (per module) and never released: the class
 * table is ffilab.contract.char_classes() itself (its bytes object is kept alive, so the pointer
 * into it stays valid), NUM_TOKEN and TOKEN_MAX_CHARS come from the contract too, so there is one
 * source of truth for every route. */
typedef struct {
    PyObject *normalize; /* unicodedata.normalize */
    PyObject *nfkc;      /* "NFKC" */
    PyObject *casefold;  /* str.casefold, the unbound method: a str subclass is read raw */
    PyObject *num_token; /* contract.NUM_TOKEN, shared by every "<num>" token */
    PyObject *classes;   /* contract.char_classes(), bytes of length FFL_CHAR_TABLE_SIZE */
    int64_t max_chars;   /* contract.TOKEN_MAX_CHARS */
} ffl_tokpy_cache;

static ffl_tokpy_cache ffl_tokpy_state; /* all NULL until the first call succeeds */

static void ffl_tokpy_cache_clear(ffl_tokpy_cache *c) {
    Py_CLEAR(c->normalize);
    Py_CLEAR(c->nfkc);
    Py_CLEAR(c->casefold);
    Py_CLEAR(c->num_token);
    Py_CLEAR(c->classes);
}

static int ffl_tokpy_cache_load(ffl_tokpy_cache *c) {
    PyObject *unicodedata = NULL, *contract = NULL, *max_obj = NULL;
    memset(c, 0, sizeof *c);
    unicodedata = PyImport_ImportModule("unicodedata");
    if (unicodedata == NULL) goto fail;
    c->normalize = PyObject_GetAttrString(unicodedata, "normalize");
    if (c->normalize == NULL) goto fail;
    c->nfkc = PyUnicode_InternFromString("NFKC");
    if (c->nfkc == NULL) goto fail;
    c->casefold = PyObject_GetAttrString((PyObject *)&PyUnicode_Type, "casefold");
    if (c->casefold == NULL) goto fail;
    contract = PyImport_ImportModule("ffilab.contract");
    if (contract == NULL) goto fail;
    c->num_token = PyObject_GetAttrString(contract, "NUM_TOKEN");
    if (c->num_token == NULL) goto fail;
    if (!PyUnicode_CheckExact(c->num_token)) {
        PyErr_SetString(PyExc_RuntimeError, "ffilab.contract.NUM_TOKEN must be a str");
        goto fail;
    }
    max_obj = PyObject_GetAttrString(contract, "TOKEN_MAX_CHARS");
    if (max_obj == NULL) goto fail;
    c->max_chars = PyLong_AsLongLong(max_obj);
    if (c->max_chars == -1 && PyErr_Occurred()) goto fail;
    if (c->max_chars < 0) {
        PyErr_SetString(PyExc_RuntimeError, "ffilab.contract.TOKEN_MAX_CHARS must be >= 0");
        goto fail;
    }
    c->classes = PyObject_CallMethod(contract, "char_classes", NULL);
    if (c->classes == NULL) goto fail;
    /* The scanner indexes the table by code point without a bound check below 0x110000. */
    if (!PyBytes_CheckExact(c->classes) || PyBytes_GET_SIZE(c->classes) != FFL_CHAR_TABLE_SIZE) {
        PyErr_SetString(PyExc_RuntimeError,
                        "ffilab.contract.char_classes() must return bytes of length 0x110000");
        goto fail;
    }
    Py_DECREF(unicodedata);
    Py_DECREF(contract);
    Py_DECREF(max_obj);
    return 0;
fail:
    Py_XDECREF(unicodedata);
    Py_XDECREF(contract);
    Py_XDECREF(max_obj);
    ffl_tokpy_cache_clear(c);
    return -1;
}

/* The cache, loaded on first use.  Importing can release the GIL, so two threads may both load
 * it: the first to finish publishes its copy and the other drops its own. */
static const ffl_tokpy_cache *ffl_tokpy_cache_get(void) {
    ffl_tokpy_cache fresh;
    if (ffl_tokpy_state.classes != NULL) return &ffl_tokpy_state;
    if (ffl_tokpy_cache_load(&fresh) < 0) return NULL;
    if (ffl_tokpy_state.classes == NULL) {
        ffl_tokpy_state = fresh;
    } else {
        ffl_tokpy_cache_clear(&fresh);
    }
    return &ffl_tokpy_state;
}

/* type(obj).__name__, as the reference's messages name types ("tuple", not "builtins.tuple").
 * The attribute name is the interned "__name__": CPython's type attribute cache keeps a reference
 * to the name it was looked up with, which would otherwise keep a fresh copy alive per entry. */
static PyObject *ffl_tokpy_type_name(PyObject *obj) {
    PyObject *attr = PyUnicode_InternFromString("__name__");
    if (attr == NULL) return NULL;
    PyObject *name = PyObject_GetAttr((PyObject *)Py_TYPE(obj), attr);
    Py_DECREF(attr);
    return name;
}

/* One text of a chunk, as phase 2 reads it: the raw PEP 393 buffer, nothing Python. */
typedef struct {
    const void *data;
    int64_t length;
    int kind;
    int lower; /* an ASCII text read as it is: its tokens are lowercased when built */
} ffl_tokpy_text;

/* Phase 2's job: inputs, scratch buffers and the outcome. */
typedef struct {
    const ffl_tokpy_text *texts;
    int64_t n_texts;
    const uint8_t *classes;
    int64_t max_chars;
    int64_t *spans;
    uint8_t *is_num;
    int64_t capacity;
    int64_t *counts;
    int64_t status; /* 0, or the core's negative status */
} ffl_tokpy_job;

/* Phase 2, GIL released: the texts are separate str objects (of differing kinds), so each is one
 * call of the core, all writing into the one buffer; spans are positions within their own text. */
static void ffl_tokpy_scan(void *arg) {
    ffl_tokpy_job *job = (ffl_tokpy_job *)arg;
    int64_t used = 0;
    job->status = 0;
    for (int64_t k = 0; k < job->n_texts; k++) {
        const ffl_tokpy_text *t = &job->texts[k];
        const int64_t offsets[2] = {0, t->length};
        const int64_t got = ffl_tokenize_spans(t->data, t->kind, offsets, 1, job->classes, job->max_chars,
                                               job->spans + 2 * used, job->is_num + used,
                                               job->capacity - used, &job->counts[k]);
        if (got < 0) {
            job->status = got;
            return;
        }
        used += got;
    }
}

static void ffl_tokpy_release_default(void (*work)(void *), void *arg) {
    Py_BEGIN_ALLOW_THREADS
    work(arg);
    Py_END_ALLOW_THREADS
}

/* A token of an ASCII text, lowercased while copied (casefold is ASCII lowercasing there). */
static PyObject *ffl_tokpy_ascii_lower(const Py_UCS1 *src, Py_ssize_t length) {
    PyObject *token = PyUnicode_New(length, 127);
    if (token == NULL) return NULL;
    Py_UCS1 *dst = PyUnicode_1BYTE_DATA(token);
    for (Py_ssize_t i = 0; i < length; i++) {
        const Py_UCS1 c = src[i];
        dst[i] = (Py_UCS1)(c + (((unsigned)(c - 'A') < 26u) << 5));
    }
    return token;
}

/* Repeated tokens of one call share one str.  Prose repeats its words (Zipf's law: "the" comes
 * thousands of times in a batch), and a new str costs an allocation now and a deallocation when
 * the caller drops the result, while finding the earlier one costs a hash and a compare of a few
 * code points.  A direct-mapped table, not a dictionary: a slot holds the latest token whose hash
 * picked it, so its size stays fixed however many distinct tokens a batch has, and the frequent
 * words, most of the tokens of prose, stay in it.  Its pointers are borrowed: every token it
 * holds is in the result list, alive until the call returns, when the table is freed.  The result
 * is == to the reference's (strs are immutable; only `is` could tell), as "<num>" is one shared
 * str already.  The pyo3 and cython routes share repeats the same way, with tables of the same
 * size: FFL_TOKPY_RECENT_MAX slots at most, fewer for a small batch (one per two code points). */
#define FFL_TOKPY_RECENT_MAX 16384

typedef struct {
    uint64_t hash;
    PyObject *token; /* borrowed from the result; NULL for an empty slot */
} ffl_tokpy_recent;

/* Code point i of a text as its token holds it: an ASCII text read as it is (lower) is folded to
 * lowercase here, as ffl_tokpy_ascii_lower folds it. */
static inline Py_UCS4 ffl_tokpy_folded_at(int kind, const void *data, Py_ssize_t i, int lower) {
    const Py_UCS4 c = PyUnicode_READ(kind, data, i);
    return lower ? c + (Py_UCS4)(((unsigned)(c - 'A') < 26u) << 5) : c;
}

/* FNV-1a over the folded code points of data[start:end). */
static uint64_t ffl_tokpy_hash(int kind, const void *data, Py_ssize_t start, Py_ssize_t end, int lower) {
    uint64_t h = 14695981039346656037ull;
    for (Py_ssize_t i = start; i < end; i++) h = (h ^ ffl_tokpy_folded_at(kind, data, i, lower)) * 1099511628211ull;
    return h;
}

/* Whether str token equals the folded code points of data[start:end). */
static int ffl_tokpy_same(PyObject *token, int kind, const void *data, Py_ssize_t start, Py_ssize_t end, int lower) {
    if (PyUnicode_GET_LENGTH(token) != end - start) return 0;
    const int tkind = (int)PyUnicode_KIND(token);
    const void *tdata = PyUnicode_DATA(token);
    for (Py_ssize_t i = start; i < end; i++)
        if (PyUnicode_READ(tkind, tdata, i - start) != ffl_tokpy_folded_at(kind, data, i, lower)) return 0;
    return 1;
}

/* Grows *buf to hold count elements of size bytes each (it never shrinks); -1 with MemoryError. */
static int ffl_tokpy_reserve(void **buf, int64_t *have, int64_t count, size_t size) {
    if (count <= *have) return 0;
    if ((uint64_t)count > (uint64_t)PY_SSIZE_T_MAX / size) {
        PyErr_NoMemory();
        return -1;
    }
    void *grown = PyMem_Realloc(*buf, (size_t)count * size);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *buf = grown;
    *have = count;
    return 0;
}

/* contract.check_texts on a snapshot of the batch (a plain list): every element is checked to be
 * a str before any work, as the reference does.  Returns the batch's total code points, or -1 with
 * TypeError set (the caller still owns the snapshot).  Shared by tokenize_batch and
 * tokenize_arrow (ffilab_tokenize_arrow_py.h). */
static Py_ssize_t ffl_tokpy_check_items(const char *func, PyObject *snapshot) {
    const Py_ssize_t n = PyList_GET_SIZE(snapshot);
    Py_ssize_t units = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(snapshot, i);
        if (!PyUnicode_Check(item)) {
            PyObject *name = ffl_tokpy_type_name(item);
            if (name != NULL) {
                PyErr_Format(PyExc_TypeError, "%s: texts[%zd] must be str, got %S", func, i, name);
                Py_DECREF(name);
            }
            return -1;
        }
#if PY_VERSION_HEX < 0x030C0000
        /* A legacy (wstr) string gets its PEP 393 buffer; a no-op for every modern one. */
        if (PyUnicode_READY(item) < 0) return -1;
#endif
        units += PyUnicode_GET_LENGTH(item);
    }
    return units;
}

static PyObject *ffl_tokpy_tokenize_batch(const char *func, PyObject *texts, ffl_tokpy_release_fn release) {
    if (!PyList_Check(texts)) {
        PyObject *name = ffl_tokpy_type_name(texts);
        if (name != NULL) {
            PyErr_Format(PyExc_TypeError, "%s: texts must be a list of str, got %S", func, name);
            Py_DECREF(name);
        }
        return NULL;
    }
    const ffl_tokpy_cache *cache = ffl_tokpy_cache_get();
    if (cache == NULL) return NULL;
    if (release == NULL) release = ffl_tokpy_release_default;

    /* A snapshot holds a reference to every text for the whole call: whatever Python code runs
     * meanwhile (a finalizer during an allocation, another thread while the GIL is released)
     * can change the caller's list but never free a buffer that is being scanned.  PyList_GetSlice
     * reads a list subclass's items directly, never through an overridden method. */
    PyObject *snapshot = PyList_GetSlice(texts, 0, PY_SSIZE_T_MAX);
    if (snapshot == NULL) return NULL;
    const Py_ssize_t n = PyList_GET_SIZE(snapshot);
    /* code points of the batch, to size the table of recent tokens */
    const Py_ssize_t units = ffl_tokpy_check_items(func, snapshot);
    if (units < 0) {
        Py_DECREF(snapshot);
        return NULL;
    }
    Py_ssize_t recent_slots = 16;
    while (recent_slots < FFL_TOKPY_RECENT_MAX && recent_slots < units / 2) recent_slots *= 2;

    const Py_ssize_t chunk_max = n < FFL_TOKPY_CHUNK_TEXTS ? n : FFL_TOKPY_CHUNK_TEXTS;
    PyObject *out = PyList_New(n);
    PyObject *result = NULL; /* out, once every text is tokenized */
    /* folded[k]: the new reference to text k's normalised and case-folded form (NULL for ASCII). */
    PyObject **folded = (PyObject **)PyMem_Calloc((size_t)(chunk_max > 0 ? chunk_max : 1), sizeof(PyObject *));
    ffl_tokpy_text *chunk = (ffl_tokpy_text *)PyMem_Malloc((size_t)(chunk_max > 0 ? chunk_max : 1) * sizeof *chunk);
    int64_t *counts = (int64_t *)PyMem_Malloc((size_t)(chunk_max > 0 ? chunk_max : 1) * sizeof(int64_t));
    ffl_tokpy_recent *recent = (ffl_tokpy_recent *)PyMem_Calloc((size_t)recent_slots, sizeof *recent);
    int64_t *spans = NULL;
    uint8_t *is_num = NULL;
    int64_t spans_have = 0, is_num_have = 0;
    Py_ssize_t chunk_len = 0; /* texts of the current chunk holding a folded reference */
    if (out == NULL || folded == NULL || chunk == NULL || counts == NULL || recent == NULL) {
        if (out != NULL) PyErr_NoMemory();
        goto done;
    }

    for (Py_ssize_t first = 0; first < n; first += chunk_len) {
        /* Phase 1, GIL held: the chunk's texts as the scanner reads them. */
        int64_t chars = 0, capacity = 1;
        chunk_len = 0;
        while (first + chunk_len < n && chunk_len < chunk_max && (chunk_len == 0 || chars < FFL_TOKPY_CHUNK_CHARS)) {
            PyObject *text = PyList_GET_ITEM(snapshot, first + chunk_len);
            ffl_tokpy_text *t = &chunk[chunk_len];
            folded[chunk_len] = NULL;
            if (PyUnicode_IS_ASCII(text)) {
                t->lower = 1;
            } else {
                PyObject *args[2] = {cache->nfkc, text};
                PyObject *nfkc = PyObject_Vectorcall(cache->normalize, args, 2, NULL);
                if (nfkc == NULL) goto done;
                PyObject *fold = PyObject_Vectorcall(cache->casefold, &nfkc, 1, NULL);
                Py_DECREF(nfkc);
                if (fold == NULL) goto done;
                if (!PyUnicode_Check(fold)) { /* str.casefold returns str; guard the buffer read */
                    Py_DECREF(fold);
                    PyErr_SetString(PyExc_RuntimeError, "str.casefold did not return a str");
                    goto done;
                }
                folded[chunk_len] = fold;
                text = fold;
                t->lower = 0;
            }
            t->data = PyUnicode_DATA(text);
            t->kind = (int)PyUnicode_KIND(text);
            t->length = (int64_t)PyUnicode_GET_LENGTH(text);
            chars += t->length;
            /* A text of length L holds at most (L + 1) / 2 tokens (ffilab_core.h). */
            capacity += (t->length + 1) / 2;
            chunk_len++;
        }
        if (ffl_tokpy_reserve((void **)&spans, &spans_have, 2 * capacity, sizeof(int64_t)) < 0 ||
            ffl_tokpy_reserve((void **)&is_num, &is_num_have, capacity, sizeof(uint8_t)) < 0)
            goto done;

        /* Phase 2, GIL released: every buffer read is held by snapshot or folded. */
        ffl_tokpy_job job = {chunk, (int64_t)chunk_len, (const uint8_t *)PyBytes_AS_STRING(cache->classes),
                             cache->max_chars, spans, is_num, capacity, counts, 0};
        release(ffl_tokpy_scan, &job);
        if (job.status < 0) {
            PyErr_Format(PyExc_RuntimeError, "%s: the C core returned status %lld", func, (long long)-job.status);
            goto done;
        }

        /* Phase 3, GIL held: the lists of tokens. */
        int64_t t = 0;
        for (Py_ssize_t k = 0; k < chunk_len; k++) {
            const ffl_tokpy_text *text = &chunk[k];
            const Py_ssize_t count = (Py_ssize_t)counts[k];
            PyObject *tokens = PyList_New(count);
            if (tokens == NULL) goto done;
            /* Owned by out from here on: an error below frees it with out (NULL slots are skipped). */
            PyList_SET_ITEM(out, first + k, tokens);
            for (Py_ssize_t j = 0; j < count; j++, t++) {
                const Py_ssize_t start = (Py_ssize_t)spans[2 * t], end = (Py_ssize_t)spans[2 * t + 1];
                PyObject *token;
                if (is_num[t]) {
                    token = cache->num_token;
                    Py_INCREF(token);
                } else {
                    const uint64_t h = ffl_tokpy_hash(text->kind, text->data, start, end, text->lower);
                    ffl_tokpy_recent *slot = &recent[h & (uint64_t)(recent_slots - 1)];
                    if (slot->token != NULL && slot->hash == h &&
                        ffl_tokpy_same(slot->token, text->kind, text->data, start, end, text->lower)) {
                        token = slot->token;
                        Py_INCREF(token);
                    } else {
                        if (text->lower) {
                            token = ffl_tokpy_ascii_lower((const Py_UCS1 *)text->data + start, end - start);
                        } else {
                            token = PyUnicode_Substring(folded[k], start, end);
                        }
                        if (token == NULL) goto done;
                        slot->hash = h;
                        slot->token = token; /* borrowed: the list below owns it */
                    }
                }
                PyList_SET_ITEM(tokens, j, token);
            }
        }
        for (Py_ssize_t k = 0; k < chunk_len; k++) Py_CLEAR(folded[k]);
    }
    result = out; /* complete: the caller's now */
    out = NULL;

done: /* one exit for success and failure, so that every buffer is freed on both */
    if (folded != NULL) { /* the entries outside the current chunk (all, after success) are NULL */
        for (Py_ssize_t k = 0; k < chunk_max; k++) Py_CLEAR(folded[k]);
    }
    PyMem_Free(recent);
    PyMem_Free(spans);
    PyMem_Free(is_num);
    PyMem_Free(counts);
    PyMem_Free(chunk);
    PyMem_Free(folded);
    Py_XDECREF(out);
    Py_DECREF(snapshot);
    return result;
}

#endif /* FFILAB_TOKENIZE_PY_H */
