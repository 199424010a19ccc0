/* ffilab_core.h: the plain C kernels shared by the C-ABI routes (ctypes, cffi_abi, cffi_api,
 * capi) and the C++ glue of the pybind11 and nanobind routes.
 *
 * The functions know nothing of Python.  They never trust their caller: a NULL pointer with a
 * positive length, a negative length or an out-of-contract integer is answered with a status
 * code (or an empty result), never undefined behaviour.  Argument *types* are the binding's
 * job; argument *values* are checked here as well as there.
 *
 * Status codes map onto Python exceptions in every binding:
 *   FFL_OK        0   success
 *   FFL_EINVAL    1   ValueError      (negative n, k > n, NULL with n > 0)
 *   FFL_EOVERFLOW 2   OverflowError   (n beyond the contract's maximum)
 *   FFL_ENOMEM    3   MemoryError
 */
#ifndef FFILAB_CORE_H
#define FFILAB_CORE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define FFL_API __declspec(dllexport)
#else
#define FFL_API __attribute__((visibility("default")))
#endif

#define FFL_OK 0
#define FFL_EINVAL 1
#define FFL_EOVERFLOW 2
#define FFL_ENOMEM 3

/* Contract limits, equal to ffilab.contract.SUM_OF_SQUARES_MAX_N and PRIMES_MAX_N. */
#define FFL_SUM_OF_SQUARES_MAX_N (((int64_t)1) << 32)
#define FFL_PRIMES_MAX_N ((int64_t)2147483647)
#define FFL_EARTH_RADIUS_KM 6371.0

/* Work (array elements; n for sum_of_squares and primes) from which the native bindings release
 * the GIL around a core call; below it they keep it, as NumPy does (NPY_BEGIN_THREADS_THRESHOLDED,
 * 500 elements).  Releasing and re-taking an uncontended GIL costs 30-60 ns here (measured on
 * the capi route, thread CPU time: fast_sum of 1 element 44 ns with the release, 16 ns without;
 * of 64 elements 79 ns and 42 ns; of 256, 237 ns and 177 ns); this value keeps it under 10 % of
 * the cheapest kernel's work (fast_sum, 0.83 ns an element: 870 ns at 1024) and is far below any
 * input that runs long enough for another thread to gain from it.  Used by capi,
 * pybind11, nanobind, cython (through this header) and pyo3 (its own copy, checked equal by
 * tests/test_threads.py).  ctypes and cffi release around every foreign call and cannot be told
 * otherwise: that cost is part of what they measure. */
#define FFL_RELEASE_GIL_MIN_WORK 1024

/* How many times this thread has entered the core's kernels (every ffl_* function below that
 * computes, not the free/getter helpers).  A call marker for ffilab's guard: an FFI route's
 * kernel must advance it, proving its work ran in this library (thread-local; costs one add). */
FFL_API uint64_t ffl_core_calls(void);

/* Sum of i*i for 0 <= i < n, exact: the 128-bit result is returned as (hi << 64) | lo. */
FFL_API int ffl_sum_of_squares(int64_t n, uint64_t *hi, uint64_t *lo);

FFL_API double ffl_circle_area(double radius);

/* arr[i] *= factor for 0 <= i < n. */
FFL_API int ffl_scale_array(double *arr, int64_t n, double factor);

/* A new malloc'ed array of n distances from the origin for the points (x0, y0, x1, y1, ...).
 * Returns NULL on bad arguments or when out of memory; release it with ffl_free. */
FFL_API double *ffl_compute_distances(const double *points, int64_t n_points);

/* The primes below n by trial division; *out is malloc'ed (release with ffl_free). */
FFL_API int ffl_primes(int64_t n, int64_t **out, int64_t *count);

FFL_API void ffl_free(void *p);

/* Left-to-right sums; an empty or NULL array sums to 0.0. */
FFL_API double ffl_fast_sum(const double *a, int64_t n);
FFL_API double ffl_fast_dot(const double *a, const double *b, int64_t n);
FFL_API double ffl_fast_norm(const double *a, int64_t n);
FFL_API int ffl_scale_and_shift(const double *in, double *out, int64_t n, double scale, double shift);

FFL_API double ffl_haversine(double lat1, double lon1, double lat2, double lon2);
FFL_API int ffl_haversine_many(double lat, double lon, const double *lats, const double *lons,
                               int64_t n, double *out);
/* The k nearest points, ordered by distance (NaN last), ties broken by index. */
FFL_API int ffl_find_nearest_k(double lat, double lon, const double *lats, const double *lons,
                               int64_t n, int64_t k, int64_t *out_idx, double *out_dist);

/* The Accumulator behind an opaque handle, for bindings without classes of their own. */
typedef struct ffl_accumulator ffl_accumulator;
FFL_API ffl_accumulator *ffl_acc_new(double initial);
FFL_API void ffl_acc_free(ffl_accumulator *acc);
FFL_API int ffl_acc_add(ffl_accumulator *acc, double value);
FFL_API double ffl_acc_mean(const ffl_accumulator *acc);
FFL_API int64_t ffl_acc_count(const ffl_accumulator *acc);
FFL_API double ffl_acc_total(const ffl_accumulator *acc);

/* --- Tokenizer (kernel tokenize_batch): the scanning half, over text already normalised. ---
 *
 * Python's Unicode work (NFKC, casefold) stays with Python, the truth of the contract; this
 * scans the result.  `data` holds the code points of n_texts texts one after another, each
 * `kind` bytes wide (1, 2 or 4: the PEP 393 kinds, so a str's own buffer can be scanned in
 * place); text i is data[offsets[i] .. offsets[i+1]).  `classes` has one byte per code point
 * 0..0x10FFFF (ffilab.contract.char_classes(): FFL_CHAR_WORD | FFL_CHAR_DIGIT | FFL_CHAR_JOINER,
 * and FFL_CHAR_FOLDED, which the scan ignores);
 * a code point above 0x10FFFF is treated as a non-word character.
 *
 * For token t it writes its start and end (positions in data) to spans[2t], spans[2t+1] and
 * whether it is all digits (to become "<num>") to is_num[t]; counts[i] = tokens of text i.
 * Tokens longer than max_chars are skipped.  Text i can hold at most (len_i + 1) / 2 tokens, so
 * FFL_TOKEN_CAPACITY(total_len, n_texts) is always enough.
 * Returns the number of tokens, or -FFL_EINVAL (bad kind, offsets not non-decreasing, NULL with
 * data, negative lengths) or -FFL_EOVERFLOW (capacity too small). */
#define FFL_CHAR_WORD 1
#define FFL_CHAR_DIGIT 2
#define FFL_CHAR_JOINER 4
#define FFL_CHAR_FOLDED 8 /* casefold(c) == c: a text of such characters is its own folding */
#define FFL_CHAR_TABLE_SIZE 0x110000
#define FFL_TOKEN_MAX_CHARS 64
#define FFL_TOKEN_CAPACITY(total_len, n_texts) (((total_len) + (n_texts)) / 2 + 1)
FFL_API int64_t ffl_tokenize_spans(const void *data, int kind, const int64_t *offsets,
                                   int64_t n_texts, const uint8_t *classes, int64_t max_chars,
                                   int64_t *spans, uint8_t *is_num, int64_t capacity,
                                   int64_t *counts);

#ifdef __cplusplus
}
#endif

#endif /* FFILAB_CORE_H */
