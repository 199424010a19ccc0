/* ffilab_core.c: the lesson's kernels in plain C, one copy shared by every C-ABI route.
 *
 * Every loop is the reference's loop (src/ffilab/routes/python): same order of floating-point
 * operations, so results agree bit for bit with the reference wherever both use this libm, and
 * are compiled with -ffp-contract=off so the compiler cannot fuse a*b+c into an FMA.
 */
#include "ffilab_core.h"

#include <math.h>
#include <stdlib.h>

/* Python's math.pi and math.radians: x * (pi / 180). */
static const double FFL_PI = 3.14159265358979323846;
static const double FFL_DEG_TO_RAD = 3.14159265358979323846 / 180.0;

/* The call marker (ffl_core_calls in the header): entries into the kernels made by this thread.
 * Why it exists: ffilab's guard (src/ffilab/_proof.py) checks that an FFI route's kernel call
 * really ran here, not in Python code that merely holds the library.  Thread-local, so that
 * threads calling the core at once never share (and bounce) a cache line; initial-exec TLS, so
 * the count is one add to an %fs-relative address, well under a nanosecond; the module's TLS
 * is 8 bytes per copy of the core, far within what glibc reserves for dlopen'ed libraries. */
#if defined(_MSC_VER)
static __declspec(thread) uint64_t ffl_calls;
#elif defined(__GNUC__)
static __thread __attribute__((tls_model("initial-exec"))) uint64_t ffl_calls;
#else
static _Thread_local uint64_t ffl_calls;
#endif
#define FFL_COUNT_CALL() (++ffl_calls)

uint64_t ffl_core_calls(void) { return ffl_calls; }

int ffl_sum_of_squares(int64_t n, uint64_t *hi, uint64_t *lo) {
    FFL_COUNT_CALL();
    if (hi == NULL || lo == NULL) return FFL_EINVAL;
    if (n < 0) return FFL_EINVAL;
    if (n > FFL_SUM_OF_SQUARES_MAX_N) return FFL_EOVERFLOW;
    /* i < 2**32 so i * i fits in uint64; the sum (< 2**95) needs the 128-bit accumulator. */
    unsigned __int128 total = 0;
    for (uint64_t i = 0; i < (uint64_t)n; i++) {
        total += (unsigned __int128)(i * i);
    }
    *hi = (uint64_t)(total >> 64);
    *lo = (uint64_t)total;
    return FFL_OK;
}

double ffl_circle_area(double radius) {
    FFL_COUNT_CALL();
    return FFL_PI * radius * radius;
}

int ffl_scale_array(double *arr, int64_t n, double factor) {
    FFL_COUNT_CALL();
    if (n < 0 || (arr == NULL && n > 0)) return FFL_EINVAL;
    for (int64_t i = 0; i < n; i++) arr[i] *= factor;
    return FFL_OK;
}

double *ffl_compute_distances(const double *points, int64_t n_points) {
    FFL_COUNT_CALL();
    if (n_points < 0 || (points == NULL && n_points > 0)) return NULL;
    if ((uint64_t)n_points > SIZE_MAX / (2 * sizeof(double))) return NULL;
    /* malloc(0) may return NULL, which would read as failure: always ask for at least one. */
    double *distances = (double *)malloc((n_points > 0 ? (size_t)n_points : 1) * sizeof(double));
    if (distances == NULL) return NULL;
    for (int64_t i = 0; i < n_points; i++) {
        double x = points[2 * i];
        double y = points[2 * i + 1];
        distances[i] = sqrt(x * x + y * y);
    }
    return distances;
}

void ffl_free(void *p) { free(p); }

int ffl_primes(int64_t n, int64_t **out, int64_t *count) {
    FFL_COUNT_CALL();
    if (out == NULL || count == NULL) return FFL_EINVAL;
    *out = NULL;
    *count = 0;
    if (n < 0) return FFL_EINVAL;
    if (n > FFL_PRIMES_MAX_N) return FFL_EOVERFLOW;
    int64_t cap = 64, len = 0;
    int64_t *buf = (int64_t *)malloc((size_t)cap * sizeof(int64_t));
    if (buf == NULL) return FFL_ENOMEM;
    for (int64_t candidate = 2; candidate < n; candidate++) {
        int is_prime = 1;
        for (int64_t divisor = 2; divisor < candidate; divisor++) {
            if (candidate % divisor == 0) {
                is_prime = 0;
                break;
            }
        }
        if (is_prime) {
            if (len == cap) {
                int64_t *grown = (int64_t *)realloc(buf, (size_t)(2 * cap) * sizeof(int64_t));
                if (grown == NULL) {
                    free(buf);
                    return FFL_ENOMEM;
                }
                buf = grown;
                cap *= 2;
            }
            buf[len++] = candidate;
        }
    }
    *out = buf;
    *count = len;
    return FFL_OK;
}

double ffl_fast_sum(const double *a, int64_t n) {
    FFL_COUNT_CALL();
    double total = 0.0;
    if (a == NULL) return total;
    for (int64_t i = 0; i < n; i++) total += a[i];
    return total;
}

double ffl_fast_dot(const double *a, const double *b, int64_t n) {
    FFL_COUNT_CALL();
    double total = 0.0;
    if (a == NULL || b == NULL) return total;
    for (int64_t i = 0; i < n; i++) total += a[i] * b[i];
    return total;
}

double ffl_fast_norm(const double *a, int64_t n) {
    FFL_COUNT_CALL();
    double sum_sq = 0.0;
    if (a == NULL) return sum_sq;
    for (int64_t i = 0; i < n; i++) sum_sq += a[i] * a[i];
    return sqrt(sum_sq);
}

int ffl_scale_and_shift(const double *in, double *out, int64_t n, double scale, double shift) {
    FFL_COUNT_CALL();
    if (n < 0 || ((in == NULL || out == NULL) && n > 0)) return FFL_EINVAL;
    for (int64_t i = 0; i < n; i++) out[i] = in[i] * scale + shift;
    return FFL_OK;
}

static inline double haversine_km(double lat1, double lon1, double lat2, double lon2) {
    double dlat = (lat2 - lat1) * FFL_DEG_TO_RAD;
    double dlon = (lon2 - lon1) * FFL_DEG_TO_RAD;
    double s_lat = sin(dlat / 2.0);
    double s_lon = sin(dlon / 2.0);
    double a = s_lat * s_lat + cos(lat1 * FFL_DEG_TO_RAD) * cos(lat2 * FFL_DEG_TO_RAD) * s_lon * s_lon;
    /* a is in [0, 1] for any real angles, but rounding can push it a hair outside, where
     * sqrt/asin give NaN: clamp (NaN compares false and stays NaN), as every route does. */
    if (a > 1.0) a = 1.0;
    else if (a < 0.0) a = 0.0;
    return FFL_EARTH_RADIUS_KM * (2.0 * asin(sqrt(a)));
}

double ffl_haversine(double lat1, double lon1, double lat2, double lon2) {
    FFL_COUNT_CALL();
    return haversine_km(lat1, lon1, lat2, lon2);
}

int ffl_haversine_many(double lat, double lon, const double *lats, const double *lons, int64_t n,
                       double *out) {
    FFL_COUNT_CALL();
    if (n < 0 || ((lats == NULL || lons == NULL || out == NULL) && n > 0)) return FFL_EINVAL;
    for (int64_t i = 0; i < n; i++) out[i] = haversine_km(lat, lon, lats[i], lons[i]);
    return FFL_OK;
}

/* Order of find_nearest_k: by distance, NaN after every number, then by index. */
static int nearer(const double *d, int64_t i, int64_t j) {
    int nan_i = isnan(d[i]), nan_j = isnan(d[j]);
    if (nan_i != nan_j) return nan_j;
    if (!nan_i && d[i] != d[j]) return d[i] < d[j];
    return i < j;
}

/* Sift down in a max-heap (the farthest of the kept points on top). */
static void sift_down(int64_t *heap, int64_t len, int64_t pos, const double *d) {
    for (;;) {
        int64_t child = 2 * pos + 1;
        if (child >= len) return;
        if (child + 1 < len && nearer(d, heap[child], heap[child + 1])) child++;
        if (!nearer(d, heap[pos], heap[child])) return;
        int64_t tmp = heap[pos];
        heap[pos] = heap[child];
        heap[child] = tmp;
        pos = child;
    }
}

int ffl_find_nearest_k(double lat, double lon, const double *lats, const double *lons, int64_t n,
                       int64_t k, int64_t *out_idx, double *out_dist) {
    FFL_COUNT_CALL();
    if (n < 0 || k < 0 || k > n) return FFL_EINVAL;
    if (n > 0 && (lats == NULL || lons == NULL)) return FFL_EINVAL;
    if (k > 0 && (out_idx == NULL || out_dist == NULL)) return FFL_EINVAL;
    if (k == 0) return FFL_OK;
    if ((uint64_t)n > SIZE_MAX / sizeof(double)) return FFL_ENOMEM;
    double *d = (double *)malloc((size_t)n * sizeof(double));
    if (d == NULL) return FFL_ENOMEM;
    for (int64_t i = 0; i < n; i++) d[i] = haversine_km(lat, lon, lats[i], lons[i]);

    /* Keep the k nearest in a bounded max-heap held in out_idx: O(n log k). */
    int64_t *heap = out_idx;
    for (int64_t i = 0; i < k; i++) heap[i] = i;
    for (int64_t pos = k / 2 - 1; pos >= 0; pos--) sift_down(heap, k, pos, d);
    for (int64_t i = k; i < n; i++) {
        if (nearer(d, i, heap[0])) {
            heap[0] = i;
            sift_down(heap, k, 0, d);
        }
    }
    /* Heap sort in place: repeatedly move the farthest to the end. */
    for (int64_t len = k - 1; len > 0; len--) {
        int64_t tmp = heap[0];
        heap[0] = heap[len];
        heap[len] = tmp;
        sift_down(heap, len, 0, d);
    }
    for (int64_t i = 0; i < k; i++) out_dist[i] = d[out_idx[i]];
    free(d);
    return FFL_OK;
}

struct ffl_accumulator {
    double total;
    int64_t count;
};

ffl_accumulator *ffl_acc_new(double initial) {
    FFL_COUNT_CALL();
    ffl_accumulator *acc = (ffl_accumulator *)malloc(sizeof(ffl_accumulator));
    if (acc == NULL) return NULL;
    acc->total = initial;
    acc->count = 0;
    return acc;
}

void ffl_acc_free(ffl_accumulator *acc) { free(acc); }

int ffl_acc_add(ffl_accumulator *acc, double value) {
    FFL_COUNT_CALL();
    if (acc == NULL) return FFL_EINVAL;
    acc->total += value;
    acc->count += 1;
    return FFL_OK;
}

double ffl_acc_mean(const ffl_accumulator *acc) {
    FFL_COUNT_CALL();
    if (acc == NULL || acc->count == 0) return 0.0;
    return acc->total / (double)acc->count;
}

int64_t ffl_acc_count(const ffl_accumulator *acc) { return acc == NULL ? 0 : acc->count; }

double ffl_acc_total(const ffl_accumulator *acc) { return acc == NULL ? 0.0 : acc->total; }

/* ---------------------------------------------------------------- tokenizer scan */

static inline uint8_t tok_class(const uint8_t *classes, uint32_t cp) {
    return cp < FFL_CHAR_TABLE_SIZE ? classes[cp] : 0;
}

/* One scanner per PEP 393 kind, so the inner loop reads the buffer with a fixed width. */
#define FFL_TOKENIZE_KIND(NAME, CHAR_T)                                                          \
    static int64_t NAME(const CHAR_T *d, const int64_t *offsets, int64_t n_texts,               \
                        const uint8_t *cl, int64_t max_chars, int64_t *spans, uint8_t *is_num,  \
                        int64_t capacity, int64_t *counts) {                                    \
        int64_t t = 0;                                                                          \
        for (int64_t k = 0; k < n_texts; k++) {                                                 \
            int64_t i = offsets[k], end = offsets[k + 1], before = t;                           \
            while (i < end) {                                                                   \
                if (!(tok_class(cl, d[i]) & FFL_CHAR_WORD)) {                                   \
                    i++;                                                                        \
                    continue;                                                                   \
                }                                                                               \
                int64_t start = i;                                                              \
                int digits = 1;                                                                 \
                for (;;) {                                                                      \
                    uint8_t c;                                                                  \
                    while (i < end && ((c = tok_class(cl, d[i])) & FFL_CHAR_WORD)) {            \
                        digits &= (c & FFL_CHAR_DIGIT) != 0;                                    \
                        i++;                                                                    \
                    }                                                                           \
                    /* a joiner joins only when a word character follows it */                  \
                    if (i + 1 < end && (tok_class(cl, d[i]) & FFL_CHAR_JOINER) &&               \
                        (tok_class(cl, d[i + 1]) & FFL_CHAR_WORD)) {                            \
                        digits = 0;                                                             \
                        i++;                                                                    \
                        continue;                                                               \
                    }                                                                           \
                    break;                                                                      \
                }                                                                               \
                if (i - start > max_chars) continue;                                            \
                if (t >= capacity) return -FFL_EOVERFLOW;                                       \
                spans[2 * t] = start;                                                           \
                spans[2 * t + 1] = i;                                                           \
                is_num[t] = (uint8_t)digits;                                                    \
                t++;                                                                            \
            }                                                                                   \
            counts[k] = t - before;                                                             \
        }                                                                                       \
        return t;                                                                               \
    }

FFL_TOKENIZE_KIND(tokenize_ucs1, uint8_t)
FFL_TOKENIZE_KIND(tokenize_ucs2, uint16_t)
FFL_TOKENIZE_KIND(tokenize_ucs4, uint32_t)

int64_t ffl_tokenize_spans(const void *data, int kind, const int64_t *offsets, int64_t n_texts,
                           const uint8_t *classes, int64_t max_chars, int64_t *spans,
                           uint8_t *is_num, int64_t capacity, int64_t *counts) {
    FFL_COUNT_CALL();
    if (n_texts < 0 || capacity < 0 || max_chars < 0) return -FFL_EINVAL;
    if (n_texts == 0) return 0;
    if (!offsets || !classes || !counts || (capacity > 0 && (!spans || !is_num)))
        return -FFL_EINVAL;
    if (offsets[0] < 0) return -FFL_EINVAL;
    for (int64_t k = 0; k < n_texts; k++)
        if (offsets[k + 1] < offsets[k]) return -FFL_EINVAL;
    if (offsets[n_texts] > 0 && !data) return -FFL_EINVAL;
    switch (kind) {
        case 1: return tokenize_ucs1((const uint8_t *)data, offsets, n_texts, classes, max_chars,
                                     spans, is_num, capacity, counts);
        case 2: return tokenize_ucs2((const uint16_t *)data, offsets, n_texts, classes, max_chars,
                                     spans, is_num, capacity, counts);
        case 4: return tokenize_ucs4((const uint32_t *)data, offsets, n_texts, classes, max_chars,
                                     spans, is_num, capacity, counts);
        default: return -FFL_EINVAL;
    }
}
