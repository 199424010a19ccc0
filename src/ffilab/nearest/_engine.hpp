/* _engine.hpp: the Python-free interface of ffilab.nearest's engines (fused brute force, k-d tree).
 *
 * _engine.cpp implements it (the design and the proof of exactness are told there); _core.cpp, the
 * CPython binding, is its only user.  Every function expects checked arguments: coordinates finite,
 * lat in [-90, 90], lon in [-kMaxAbsLon, kMaxAbsLon], 1 <= k <= engine_size(), threads >= 1.  None
 * throws: running out of memory is a nullptr or false.
 */
#ifndef FFILAB_NEAREST_ENGINE_HPP
#define FFILAB_NEAREST_ENGINE_HPP

#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ffilab_nearest {

// The chord band that provably holds every point of the answer (see _engine.cpp's header comment).
constexpr double kMargin = 8192.0 * DBL_EPSILON;
// Longitudes are accepted in [-360, 360]: both the [-180, 180] and [0, 360] conventions, and a
// range in which the error analysis of _engine.cpp holds (the scaled angle stays below 2*pi).
constexpr double kMaxAbsLon = 360.0;

// An index over a fixed set of points: their unit vectors, exact records and (for the tree) nodes.
struct Engine;

// Builds an index from copies of the coordinates; nullptr when memory runs out.
Engine *engine_build(const std::vector<double> &lat, const std::vector<double> &lon, bool tree, int64_t leaf_size,
                     int threads);
void engine_destroy(Engine *engine);

int64_t engine_size(const Engine &engine);   // points
bool engine_is_tree(const Engine &engine);   // k-d tree (true) or brute force (false)
size_t engine_nodes(const Engine &engine);   // internal k-d tree nodes (0 for the brute force)
size_t engine_nbytes(const Engine &engine);  // bytes held by its arrays

// The k nearest points of one point into out_idx/out_dist (k each), sorted by (distance, index):
// the reference's answer.  `threads` cut the brute force's points; the tree searches on one.
// False when memory runs out.
bool engine_query(const Engine &engine, double lat, double lon, size_t k, int threads, int64_t *out_idx,
                  double *out_dist);

// The k nearest points of each of m points into out_idx/out_dist (m rows of k, in the queries'
// order), threads over the queries; the answer does not depend on `threads`.  False when memory
// runs out.
bool engine_query_many(const Engine &engine, const double *lats, const double *lons, int64_t m, size_t k, int threads,
                       int64_t *out_idx, double *out_dist);

}  // namespace ffilab_nearest

#endif
