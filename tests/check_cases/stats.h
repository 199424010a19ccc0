/* stats.h: a second small C library for the checker's tests (read by the checker, never built). */
#ifndef STATS_H
#define STATS_H

#include <stddef.h>
#include <stdint.h>

#define STATS_API __attribute__((visibility("default")))

typedef struct stats_hist stats_hist;

STATS_API double stats_mean(const double *values, size_t n);
STATS_API float stats_mean_f(const float *values, int n);
STATS_API int64_t stats_count_above(const int32_t *values, size_t n, int32_t threshold);
STATS_API uint32_t stats_version(void);
STATS_API int stats_quantiles(const double *values, size_t n, double **out, size_t *n_out); /* release *out with stats_free */

/* A histogram of the n values in n_bins bins; release it with stats_hist_free. */
STATS_API stats_hist *stats_hist_new(const double *values, size_t n, int n_bins);
STATS_API void stats_hist_free(stats_hist *h);

/* The bin counts, in a new array: free it with stats_free. */
STATS_API int64_t *stats_hist_counts(const stats_hist *h);
STATS_API void stats_free(void *p);

#endif
