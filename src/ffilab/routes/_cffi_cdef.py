"""The C declarations of the core (``csrc/ffilab_core.h``) as cffi reads them, for both cffi routes.

One string serves ABI mode (parsed at import by ``cffi_abi``) and API mode (compiled at build time
by ``cffi_api/_build_cffi_api.py``), so the two routes call the very same declarations and differ
only in how the call is made.  ABI mode trusts them blindly; the API-mode build repeats them after
``#include "ffilab_core.h"``, so a declaration that differs from the header fails that build
("conflicting types") instead of corrupting calls at run time.

This module must stay importable on its own (no ``ffilab`` imports): the build script loads it by
file path, before the package is installed.
"""

from __future__ import annotations

__all__ = ["CDEF"]

#: ``ffilab_core.h`` without its macros: the status codes live in ``ffilab.routes._cstatus``.
CDEF = """
int ffl_sum_of_squares(int64_t n, uint64_t *hi, uint64_t *lo);

double ffl_circle_area(double radius);

int ffl_scale_array(double *arr, int64_t n, double factor);

double *ffl_compute_distances(const double *points, int64_t n_points);

int ffl_primes(int64_t n, int64_t **out, int64_t *count);

void ffl_free(void *p);

double ffl_fast_sum(const double *a, int64_t n);
double ffl_fast_dot(const double *a, const double *b, int64_t n);
double ffl_fast_norm(const double *a, int64_t n);
int ffl_scale_and_shift(const double *in, double *out, int64_t n, double scale, double shift);

double ffl_haversine(double lat1, double lon1, double lat2, double lon2);
int ffl_haversine_many(double lat, double lon, const double *lats, const double *lons,
                       int64_t n, double *out);
int ffl_find_nearest_k(double lat, double lon, const double *lats, const double *lons,
                       int64_t n, int64_t k, int64_t *out_idx, double *out_dist);

typedef struct ffl_accumulator ffl_accumulator;
ffl_accumulator *ffl_acc_new(double initial);
void ffl_acc_free(ffl_accumulator *acc);
int ffl_acc_add(ffl_accumulator *acc, double value);
double ffl_acc_mean(const ffl_accumulator *acc);
int64_t ffl_acc_count(const ffl_accumulator *acc);
double ffl_acc_total(const ffl_accumulator *acc);

int64_t ffl_tokenize_spans(const void *data, int kind, const int64_t *offsets,
                           int64_t n_texts, const uint8_t *classes, int64_t max_chars,
                           int64_t *spans, uint8_t *is_num, int64_t capacity,
                           int64_t *counts);
"""
