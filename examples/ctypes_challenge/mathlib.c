/* mathlib.c: the C side of the lesson's Level 2 debug challenge (see mathlib.h). */
#include <math.h>
#include <stdlib.h>

#include "mathlib.h"

double circle_area(double radius) { return M_PI * radius * radius; }

void scale_array(double *arr, size_t n, double factor) {
    for (size_t i = 0; i < n; i++) {
        arr[i] *= factor;
    }
}

double *compute_distances(const double *points, size_t n_points) {
    /* n_points may be 0: malloc(0) may return NULL, which the caller sees as "nothing". */
    double *distances = malloc(n_points * sizeof(double));
    if (distances == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n_points; i++) {
        double x = points[2 * i];
        double y = points[2 * i + 1];
        distances[i] = sqrt(x * x + y * y);
    }
    return distances;
}

void free_array(double *arr) { free(arr); }
