/* mathlib.h: the small C library of the lesson's Level 2 debug challenge (ffilab's re-telling).
 *
 * Build it beside this file with:  cc -shared -fPIC -O2 -o libmathlib.so mathlib.c -lm
 */
#ifndef MATHLIB_H
#define MATHLIB_H

#include <stddef.h>

/* The area of a circle of the given radius. */
double circle_area(double radius);

/* arr[i] *= factor for the n values of arr, in place. */
void scale_array(double *arr, size_t n, double factor);

/* The distance from the origin of each of the n_points points (x0, y0, x1, y1, ...), in a new
 * malloc'ed array of n_points doubles; NULL when out of memory.  Release it with free_array. */
double *compute_distances(const double *points, size_t n_points);

/* Release an array returned by compute_distances. */
void free_array(double *arr);

#endif /* MATHLIB_H */
