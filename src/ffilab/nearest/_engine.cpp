/* _engine.cpp: the compiled engines of ffilab.nearest — a fused brute-force scan and a k-d tree —
 * both exact: they return what the reference (ffilab.routes.python.find_nearest_k) returns.
 *
 * Why it is fast.  The lesson's loop evaluates sin, sin, cos, cos, sqrt and asin for every point.
 * Distance is a monotone function of the haversine inner term a = sin^2(theta/2), and
 * a = |u - v|^2 / 4 for the unit vectors u, v of the two points (the squared chord).  So both
 * engines precompute each point's unit vector once and rank by the chord c = |u - v|^2: three
 * subtractions, three multiplications and two additions per point, no transcendental function,
 * in blocks the compiler vectorises.  Only the few points that can still be among the k nearest
 * are re-evaluated with the reference's own formula (two sin, and the point's cos(lat) cached),
 * and sqrt/asin are taken only for those: roughly k of them.
 *
 * Why it is exact.  The chord computed in floating point is not the reference's a: both carry
 * rounding errors.  In units of a (A = the exact sin^2(theta/2) between the stored points):
 *   |a_ref - A| <= 32 eps     the reference formula (the bound of ffilab/bounds.py);
 *   |c/4 - A|   <= 24 eps     each stored unit-vector component is within 4 eps of the exact one
 *                             (argument scaled by pi/180 with relative error eps, then one libm
 *                             call of < 1 ulp and one product), which moves |u - v| by at most
 *                             2*sqrt(3)*4 eps and |u - v|^2 <= 4 by at most 14 eps in a; the
 *                             subtractions, squares and sums add at most 5 roundings of values
 *                             <= 4, i.e. 5 eps in a; and a box's lower bound is computed the same
 *                             way (one fresh sum of three squares, never updated incrementally)
 *                             from a box rounded outwards to float32, which still contains every
 *                             point, so it undercuts every point in the box by no more;
 *   f(a) = 2R asin(sqrt(a)) is monotone and flat over at most a few ulps of a (<= 4 eps).
 * Keep the k smallest chords found so far; the k-th of them, c_k, bounds the answer: k points
 * have a_ref <= c_k/4 + 56 eps, so the k-th smallest distance is at most f(c_k/4 + 56 eps), so a
 * point of the true answer has a_ref <= c_k/4 + 60 eps and c/4 <= c_k/4 + 84 eps.  Every point (or
 * box) with c > c_k + MARGIN is therefore safely ignored as long as MARGIN >= 4 * 84 eps; we use
 * 8192 eps (a factor of 24 to spare, which costs nothing: it widens the candidate band by about
 * 4 cm at 1 km).  The candidates are then ranked by (the reference's distance, index) — the very
 * floating-point operations of csrc/ffilab_core.c, in the same order, with no FMA contraction
 * (-ffp-contract=off) — so the distances are bit for bit the reference's wherever the same libm
 * is used, and ties are broken by the smaller index, exactly as the reference sorts.
 *
 * The k-d tree.  Median splits on the widest axis of the unit vectors, leaves of ~16 points, two
 * levels of splits folded into one node of four children that holds all four children's boxes
 * (one read decides the order and the pruning; half as many dependent reads per search as a
 * binary tree).  A batch is searched along a Morton curve, and each search starts from a
 * threshold given by the previous query's answer (see answer()): both change only the amount of
 * work, never the answer.  Each candidate's record for the exact step is prefetched when it is
 * found (waiting for those records was a tenth of a batch's time), and each child's first lines
 * when it is pushed.
 *
 * Threads.  One query: the points are cut into chunks, each chunk's exact top k is found on its
 * own thread, and the chunks' answers are merged by (distance, index) — a strict total order, so
 * the answer cannot depend on the number of threads.  A batch: threads take queries from a shared
 * counter; each query is answered by the same single-threaded code.  The GIL is released while
 * the engine runs; it never touches Python objects then, and works on its own copies of the input.
 *
 * No Python here: the CPython binding (_core.cpp) checks every argument, releases the GIL and calls
 * the functions of _engine.hpp; this file knows nothing of Python objects.
 */
#include "_engine.hpp"

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <thread>
#include <utility>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(__GNUC__)
#define FFL_PREFETCH(address) __builtin_prefetch(address)
#else
#define FFL_PREFETCH(address) ((void)(address))
#endif

namespace {

using ffilab_nearest::kMargin;
using ffilab_nearest::kMaxAbsLon;

// The constants of csrc/ffilab_core.c, spelled the same way so that they round the same way.
constexpr double kDegToRad = 3.14159265358979323846 / 180.0;
constexpr double kEarthRadiusKm = 6371.0;
// Points per block of the brute-force scan: the chord buffer (4 KiB) stays in L1.
constexpr int64_t kBlock = 512;
// The search threshold before k points are known: above every chord (at most 4, for antipodes,
// plus rounding), so nothing real is excluded; but below the +inf lower bound of an unused node
// slot, so those are excluded without a test of their own.
constexpr double kNoBound = 16.0;
// Median splits halve the points at every level, so a tree over n < 2**63 points is at most
// 63 binary levels (32 levels of four-child nodes) deep; a depth-first search holds at most
// kFanout - 1 pending siblings per level.
constexpr int kMaxDepth = 64;

// ---------------------------------------------------------------------------------------------
// Geometry
// ---------------------------------------------------------------------------------------------

struct QueryPoint {
    double lat, lon, coslat;  // as the reference reads them
    double x, y, z;           // unit vector
};

inline void unit_vector(double lat, double lon, double *x, double *y, double *z) {
    double phi = lat * kDegToRad, lam = lon * kDegToRad;
    double cphi = std::cos(phi);
    *x = cphi * std::cos(lam);
    *y = cphi * std::sin(lam);
    *z = std::sin(phi);
}

// cos(lat * pi/180) exactly as the reference computes it.  Kept out of line so that the compiler
// cannot merge it with the sin of the same angle in unit_vector() into one sincos() call, whose
// result libm does not promise to be bit for bit that of cos().
#if defined(__GNUC__)
__attribute__((noinline))
#endif
double reference_cos_lat(double lat) {
    return std::cos(lat * kDegToRad);
}

inline QueryPoint make_query(double lat, double lon) {
    QueryPoint q;
    q.lat = lat;
    q.lon = lon;
    q.coslat = reference_cos_lat(lat);
    unit_vector(lat, lon, &q.x, &q.y, &q.z);
    return q;
}

// The reference's distance (csrc/ffilab_core.c: ffl_haversine) with the query as point 1 and the
// point's cos(lat2 * pi/180) read from the cache: the same operations in the same order.
inline double reference_distance(const QueryPoint &q, double lat2, double lon2, double coslat2) {
    double dlat = (lat2 - q.lat) * kDegToRad;
    double dlon = (lon2 - q.lon) * kDegToRad;
    double s_lat = std::sin(dlat / 2.0);
    double s_lon = std::sin(dlon / 2.0);
    double a = s_lat * s_lat + q.coslat * coslat2 * s_lon * s_lon;
    if (a > 1.0)
        a = 1.0;
    else if (a < 0.0)
        a = 0.0;
    return kEarthRadiusKm * (2.0 * std::asin(std::sqrt(a)));
}

// Squared chords from q to m consecutive points.  A plain loop over restrict pointers that GCC
// vectorises; on x86-64 with GCC it is also cloned for AVX2 and picked at load time, which
// changes nothing in the result (the same IEEE operations, no FMA: -ffp-contract=off).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("avx2", "default")))
#endif
void chord_block(const double *__restrict xs, const double *__restrict ys, const double *__restrict zs,
                 int64_t m, double qx, double qy, double qz, double *__restrict out) {
    for (int64_t j = 0; j < m; j++) {
        double dx = xs[j] - qx, dy = ys[j] - qy, dz = zs[j] - qz;
        out[j] = dx * dx + dy * dy + dz * dz;
    }
}

// ---------------------------------------------------------------------------------------------
// The point store and the k-d tree
// ---------------------------------------------------------------------------------------------

// An internal node of the k-d tree: two levels of median splits folded into one node of up to
// four children, with the bounding boxes of all four — so that one node read decides the order in
// which its children are searched and which are skipped, and a search walks half as many nodes in
// a row (each one a dependent memory access) as in a binary tree.  The boxes are float32, rounded
// outwards so that each still contains every point of its child, which is all the search needs.
// A child reference >= 0 is an internal node, < 0 the leaf ~ref.  An unused slot has the empty
// box lo = +inf, hi = -inf, whose lower bound is +inf: above every threshold (see kNoBound).
constexpr int kFanout = 4;
struct alignas(64) Node {
    float lo[3][kFanout], hi[3][kFanout];  // [axis][slot]
    int32_t child[kFanout];
};

inline float round_down(double v) {
    float f = static_cast<float>(v);
    return static_cast<double>(f) > v ? std::nextafter(f, -INFINITY) : f;
}

inline float round_up(double v) {
    float f = static_cast<float>(v);
    return static_cast<double>(f) < v ? std::nextafter(f, INFINITY) : f;
}

// The allocator of the index's arrays.  A search reads a few lines each from many places of
// arrays of megabytes, more pages than the TLB holds with 4 KiB pages (the gazetteer's index
// spans ~3,300 of them; measured: 2-3 % of a batch's time on it).  Arrays of 2 MiB and more
// are therefore aligned to 2 MiB and marked MADV_HUGEPAGE, which lets Linux back them with 2 MiB
// pages where transparent huge pages are enabled ("madvise" mode, the common default, serves
// only memory that asks) — as NumPy does for its own arrays of 4 MiB and more, among them
// cKDTree's copy of the points in the benchmarks.  Elsewhere, or when the kernel declines,
// nothing changes but speed.  Smaller arrays get their type's alignment.
template <class T>
struct BigAllocator {
    using value_type = T;
    BigAllocator() = default;
    template <class U>
    BigAllocator(const BigAllocator<U> &) {}

    static constexpr size_t kHuge = size_t{2} << 20;

    T *allocate(size_t n) {
        if (n > SIZE_MAX / sizeof(T) - kHuge) throw std::bad_alloc();
        const size_t bytes = n * sizeof(T);
        const size_t align = bytes >= kHuge ? kHuge : std::max<size_t>(alignof(T), 16);
        const size_t size = (bytes + align - 1) / align * align;  // aligned_alloc wants a multiple
        void *p = std::aligned_alloc(align, size == 0 ? align : size);
        if (p == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        if (bytes >= kHuge) madvise(p, size, MADV_HUGEPAGE);  // advice: its failure changes nothing
#endif
        return static_cast<T *>(p);
    }
    void deallocate(T *p, size_t) noexcept { std::free(p); }

    template <class U>
    bool operator==(const BigAllocator<U> &) const noexcept { return true; }
    template <class U>
    bool operator!=(const BigAllocator<U> &) const noexcept { return false; }
};
template <class T>
using BigVector = std::vector<T, BigAllocator<T>>;

// What the exact step reads of one candidate, together: one cache line per candidate.
struct Exact {
    double lat, lon, coslat;  // as given, and cos(lat*pi/180) as the reference computes it
    int64_t orig;             // index in the caller's arrays
};

// Points in storage order (tree order for the k-d tree, input order for the brute force), as
// structure-of-arrays so that the scan reads three dense streams.
struct Store {
    int64_t n = 0;
    BigVector<double> x, y, z;           // unit vectors (the ranking)
    BigVector<Exact> exact;              // the exact distance and the caller's index
    bool tree = false;                   // false: brute force
    int32_t root = -1;                   // the tree's root reference (see Node)
    BigVector<Node> nodes;               // internal nodes
    BigVector<int64_t> leaf_begin;       // leaf l holds positions [leaf_begin[l], leaf_begin[l + 1])
    int64_t leaf_size = 0;
};

// Squared distance from q to the box: a lower bound of every chord inside it.  Written as
// x > y ? x : y, the pattern x86 maxsd implements, so that the search does not branch here.
inline double gap(double lo, double hi, double v) {
    double below = lo - v, above = v - hi;
    double g = below > above ? below : above;
    return g > 0.0 ? g : 0.0;
}

// Squared distances from q to the child boxes of a node: lower bounds of every chord inside.
// The same operations as gap() in the same order, two slots per SSE2 instruction on x86-64 (SSE2
// is part of its baseline): (lo - v) and (v - hi), their maximum, the maximum with 0, then
// d0*d0 + d1*d1 + d2*d2 summed left to right.  maxpd(a, b) is a > b ? a : b, exactly gap()'s
// selections, so both versions give the same bits; the packed one has no data-dependent branch.
inline void child_bounds(const Node &nd, const QueryPoint &q, double out[kFanout]) {
    const double qv[3] = {q.x, q.y, q.z};
#if defined(__SSE2__)
    static_assert(kFanout == 4, "the packed version handles four slots as two pairs");
    __m128d acc01 = _mm_setzero_pd(), acc23 = _mm_setzero_pd();
    const __m128d zero = _mm_setzero_pd();
    for (int a = 0; a < 3; a++) {
        const __m128d v = _mm_set1_pd(qv[a]);
        const __m128 lo = _mm_load_ps(nd.lo[a]), hi = _mm_load_ps(nd.hi[a]);
        const __m128d lo01 = _mm_cvtps_pd(lo), lo23 = _mm_cvtps_pd(_mm_movehl_ps(lo, lo));
        const __m128d hi01 = _mm_cvtps_pd(hi), hi23 = _mm_cvtps_pd(_mm_movehl_ps(hi, hi));
        const __m128d g01 = _mm_max_pd(_mm_max_pd(_mm_sub_pd(lo01, v), _mm_sub_pd(v, hi01)), zero);
        const __m128d g23 = _mm_max_pd(_mm_max_pd(_mm_sub_pd(lo23, v), _mm_sub_pd(v, hi23)), zero);
        if (a == 0) {
            acc01 = _mm_mul_pd(g01, g01);
            acc23 = _mm_mul_pd(g23, g23);
        } else {
            acc01 = _mm_add_pd(acc01, _mm_mul_pd(g01, g01));
            acc23 = _mm_add_pd(acc23, _mm_mul_pd(g23, g23));
        }
    }
    _mm_storeu_pd(out, acc01);
    _mm_storeu_pd(out + 2, acc23);
#else
    for (int ch = 0; ch < kFanout; ch++) {
        double d0 = gap(nd.lo[0][ch], nd.hi[0][ch], qv[0]);
        double d1 = gap(nd.lo[1][ch], nd.hi[1][ch], qv[1]);
        double d2 = gap(nd.lo[2][ch], nd.hi[2][ch], qv[2]);
        out[ch] = d0 * d0 + d1 * d1 + d2 * d2;
    }
#endif
}

// A point while the tree is built: its unit vector and its index, together, so that the
// partitioning reads and moves contiguous memory (through an index array it would miss the cache
// at nearly every comparison: minutes instead of seconds for 10^7 points).
struct BuildPoint {
    double v[3];
    int64_t i;
};

// Phase 1: order the points so that every subtree is a contiguous range split at its middle
// along the widest axis of its bounding box.  Disjoint ranges are independent, so the top levels
// run on their own threads; the order of the comparisons (coordinate, then index) is strict, so
// the result is the same whatever the number of threads.
void partition(BuildPoint *pts, int64_t begin, int64_t end, int64_t leaf_size, int parallel_depth) {
    if (end - begin <= leaf_size) return;
    double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (int64_t i = begin; i < end; i++)
        for (int a = 0; a < 3; a++) {
            lo[a] = std::min(lo[a], pts[i].v[a]);
            hi[a] = std::max(hi[a], pts[i].v[a]);
        }
    int axis = 0;
    for (int a = 1; a < 3; a++)
        if (hi[a] - lo[a] > hi[axis] - lo[axis]) axis = a;
    const int64_t mid = begin + (end - begin) / 2;
    std::nth_element(pts + begin, pts + mid, pts + end, [axis](const BuildPoint &p, const BuildPoint &q) {
        return p.v[axis] < q.v[axis] || (p.v[axis] == q.v[axis] && p.i < q.i);
    });
    if (parallel_depth > 0) {
        std::thread left;
        try {
            left = std::thread(partition, pts, begin, mid, leaf_size, parallel_depth - 1);
        } catch (...) {
            partition(pts, begin, mid, leaf_size, 0);  // no thread to be had: do it here
        }
        partition(pts, mid, end, leaf_size, parallel_depth - 1);
        if (left.joinable()) left.join();
    } else {
        partition(pts, begin, mid, leaf_size, 0);
        partition(pts, mid, end, leaf_size, 0);
    }
}

// Phase 2: the nodes, depth first, over the partitioned points; each call returns its subtree's
// reference and bounding box (a union of its children's: every point is read once).
class TreeBuilder {
  public:
    TreeBuilder(Store &s, const BuildPoint *pts) : s_(s), pts_(pts) {}

    int32_t build(int64_t begin, int64_t end, double lo[3], double hi[3], int depth = 0) {
        if (depth > kMaxDepth) throw std::bad_alloc();  // cannot happen for n < 2**63 (see kMaxDepth)
        if (s_.nodes.size() >= static_cast<size_t>(INT32_MAX) || s_.leaf_begin.size() >= static_cast<size_t>(INT32_MAX))
            throw std::bad_alloc();
        if (end - begin <= s_.leaf_size) {
            for (int a = 0; a < 3; a++) {
                lo[a] = INFINITY;
                hi[a] = -INFINITY;
            }
            for (int64_t i = begin; i < end; i++)
                for (int a = 0; a < 3; a++) {
                    lo[a] = std::min(lo[a], pts_[i].v[a]);
                    hi[a] = std::max(hi[a], pts_[i].v[a]);
                }
            // Leaves are made in depth-first order, so their position ranges follow each other.
            int32_t leaf = static_cast<int32_t>(s_.leaf_begin.size());
            s_.leaf_begin.push_back(begin);
            return ~leaf;
        }
        // The up to four ranges of two levels of median splits: exactly the splits partition()
        // made, so that every range is a subtree's contiguous, already ordered points.
        int64_t rb[kFanout], re[kFanout];
        int nr = 0;
        const int64_t mid = begin + (end - begin) / 2;
        for (const auto &half : {std::make_pair(begin, mid), std::make_pair(mid, end)}) {
            const int64_t b = half.first, e = half.second;
            if (e - b <= s_.leaf_size) {
                rb[nr] = b;
                re[nr++] = e;
            } else {
                const int64_t m = b + (e - b) / 2;
                rb[nr] = b;
                re[nr++] = m;
                rb[nr] = m;
                re[nr++] = e;
            }
        }
        int32_t id = static_cast<int32_t>(s_.nodes.size());
        s_.nodes.push_back(Node());
        double clo[kFanout][3], chi[kFanout][3];
        int32_t refs[kFanout];
        for (int c = 0; c < nr; c++) refs[c] = build(rb[c], re[c], clo[c], chi[c], depth + 1);
        Node &nd = s_.nodes[static_cast<size_t>(id)];  // after the recursion: push_back moves nodes
        for (int a = 0; a < 3; a++) {
            lo[a] = INFINITY;
            hi[a] = -INFINITY;
        }
        for (int c = 0; c < kFanout; c++) {
            const bool used = c < nr;
            nd.child[c] = used ? refs[c] : -1;
            for (int a = 0; a < 3; a++) {
                nd.lo[a][c] = used ? round_down(clo[c][a]) : INFINITY;
                nd.hi[a][c] = used ? round_up(chi[c][a]) : -INFINITY;
                if (used) {
                    lo[a] = std::min(lo[a], clo[c][a]);
                    hi[a] = std::max(hi[a], chi[c][a]);
                }
            }
        }
        return id;
    }

  private:
    Store &s_;
    const BuildPoint *pts_;
};

// Builds the store from validated coordinates; throws std::bad_alloc when memory runs out.
void build_store(Store &s, const std::vector<double> &lat, const std::vector<double> &lon, bool tree,
                 int64_t leaf_size, int threads) {
    const int64_t n = static_cast<int64_t>(lat.size());
    s.n = n;
    s.leaf_size = leaf_size;
    std::vector<BuildPoint> pts(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; i++) {
        BuildPoint &p = pts[static_cast<size_t>(i)];
        unit_vector(lat[i], lon[i], &p.v[0], &p.v[1], &p.v[2]);
        p.i = i;
    }
    if (tree) {
        s.tree = true;
        int parallel_depth = 0;  // 2**depth subtrees at the first level run serially
        while ((2 << parallel_depth) <= threads && parallel_depth < 10) parallel_depth++;
        partition(pts.data(), 0, n, leaf_size, parallel_depth);
        s.nodes.reserve(static_cast<size_t>(2 * (n / std::max<int64_t>(leaf_size, 1)) + 4));
        s.leaf_begin.reserve(static_cast<size_t>(2 * (n / std::max<int64_t>(leaf_size, 1)) + 4));
        double lo[3], hi[3];
        s.root = TreeBuilder(s, pts.data()).build(0, n, lo, hi);
        s.leaf_begin.push_back(n);
    }
    s.x.resize(n);
    s.y.resize(n);
    s.z.resize(n);
    s.exact.resize(n);
    for (int64_t j = 0; j < n; j++) {
        const BuildPoint &p = pts[static_cast<size_t>(j)];
        s.x[j] = p.v[0];
        s.y[j] = p.v[1];
        s.z[j] = p.v[2];
        s.exact[j] = {lat[p.i], lon[p.i], reference_cos_lat(lat[p.i]), p.i};
    }
}

// ---------------------------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------------------------

struct Cand {
    double c;     // squared chord, as computed
    int64_t pos;  // position in the store
};

struct Hit {
    double d;      // the reference's distance
    int64_t orig;  // index in the caller's arrays
    int64_t pos;   // position in the store
};

// The reference's order: by distance, ties by the smaller index (a strict total order: the
// engines never see NaN).  A lambda, so that the sorts inline it.
constexpr auto hit_before = [](const Hit &a, const Hit &b) { return a.d < b.d || (a.d == b.d && a.orig < b.orig); };

// The k smallest chords seen so far (a max-heap) plus every other point seen within MARGIN of
// the k-th: together a superset of the exact answer (see the header comment).
class Collector {
  public:
    // `bound`: a chord threshold already known to be safe (see answer()), or kNoBound.
    void reset(size_t k, double bound = kNoBound) {
        k_ = k;
        n_ = 0;
        sorted_ = k <= kSortedMax;
        if (best_.size() < k) best_.resize(k);
        extra_.clear();
        compact_at_ = 64 + 2 * k;
        bound_ = thr_ = bound;
    }
    // A point or box with chord above this cannot be in the answer.
    double threshold() const { return thr_; }

    void offer(double c, int64_t pos) {  // the caller has checked c <= threshold()
        Cand *b = best_.data();
        if (n_ < k_) {
            insert(b, {c, pos});
            if (n_ == k_) thr_ = std::min(bound_, worst(b) + kMargin);
            return;
        }
        if (c < worst(b)) {
            Cand out = replace_worst(b, {c, pos});
            thr_ = std::min(bound_, worst(b) + kMargin);
            // The evicted point stays a candidate only while it is within the band.
            if (out.c <= thr_) extra_.push_back(out);
        } else {
            extra_.push_back({c, pos});  // a near-tie of the k-th: within the band
        }
        if (extra_.size() >= compact_at_) {
            double t = thr_;
            extra_.erase(std::remove_if(extra_.begin(), extra_.end(), [t](const Cand &e) { return e.c > t; }),
                         extra_.end());
            compact_at_ = std::max<size_t>(64 + 2 * k_, 2 * extra_.size());
        }
    }

    // The exact answer among the candidates: the k first by (reference distance, index).
    void finish(const Store &s, const QueryPoint &q, std::vector<Hit> &hits) const {
        hits.clear();
        for (size_t j = 0; j < n_; j++) add_hit(s, q, best_[j], hits);
        for (const Cand &e : extra_)
            if (e.c <= thr_) add_hit(s, q, e, hits);
        // Usually about k candidates: a plain sort of them all is the cheapest.
        std::sort(hits.begin(), hits.end(), hit_before);
        hits.resize(std::min(k_, hits.size()));
    }

  private:
    // Up to this k the kept points are an array sorted by chord (insertion: a short, predictable
    // shift); above it, a binary max-heap (O(log k) per point, whatever k).
    static constexpr size_t kSortedMax = 32;

    static bool by_c(const Cand &a, const Cand &b) { return a.c < b.c; }

    double worst(const Cand *b) const { return sorted_ ? b[n_ - 1].c : b[0].c; }

    void insert(Cand *b, Cand e) {  // n_ < k_
        if (!sorted_) {
            b[n_++] = e;
            std::push_heap(b, b + n_, by_c);
            return;
        }
        size_t j = n_++;
        while (j > 0 && b[j - 1].c > e.c) {
            b[j] = b[j - 1];
            j--;
        }
        b[j] = e;
    }

    Cand replace_worst(Cand *b, Cand e) {  // n_ == k_; returns the kept point with the largest chord
        if (!sorted_) {
            std::pop_heap(b, b + n_, by_c);
            Cand out = b[n_ - 1];
            b[n_ - 1] = e;
            std::push_heap(b, b + n_, by_c);
            return out;
        }
        size_t j = n_ - 1;
        Cand out = b[j];
        while (j > 0 && b[j - 1].c > e.c) {
            b[j] = b[j - 1];
            j--;
        }
        b[j] = e;
        return out;
    }

    static void add_hit(const Store &s, const QueryPoint &q, const Cand &e, std::vector<Hit> &hits) {
        const Exact &x = s.exact[e.pos];
        hits.push_back({reference_distance(q, x.lat, x.lon, x.coslat), x.orig, e.pos});
    }

    size_t k_ = 0, n_ = 0;
    bool sorted_ = true;
    std::vector<Cand> best_, extra_;  // best_[0, n_): the kept points
    size_t compact_at_ = 64;
    double thr_ = kNoBound, bound_ = kNoBound;
};

void scan_range(const Store &s, const QueryPoint &q, int64_t begin, int64_t end, Collector &col) {
    double chords[kBlock];
    for (int64_t b = begin; b < end; b += kBlock) {
        int64_t m = std::min(kBlock, end - b);
        chord_block(s.x.data() + b, s.y.data() + b, s.z.data() + b, m, q.x, q.y, q.z, chords);
        double thr = col.threshold();
        for (int64_t j = 0; j < m; j++) {
            if (chords[j] <= thr) {
                col.offer(chords[j], b + j);
                thr = col.threshold();
            }
        }
    }
}

struct StackItem {
    int32_t node;
    double bound;
};

// Asks the memory system for a child's first cache lines ahead of its visit: a child pushed now
// is visited a few steps later, if at all.
inline void prefetch_child(const Store &s, int32_t ref) {
    if (ref >= 0) {
        const char *node = reinterpret_cast<const char *>(s.nodes.data() + ref);
        FFL_PREFETCH(node);
        FFL_PREFETCH(node + 64);
    } else {
        const int64_t b = s.leaf_begin[static_cast<size_t>(~ref)];
        FFL_PREFETCH(s.x.data() + b);
        FFL_PREFETCH(s.y.data() + b);
        FFL_PREFETCH(s.z.data() + b);
    }
}

void search_tree(const Store &s, const QueryPoint &q, Collector &col) {
    // Depth first: at most kFanout - 1 pending siblings per level (see kMaxDepth), plus the root.
    StackItem stack[(kFanout - 1) * (kMaxDepth + 1) + 1];
    int top = 0;
    const Node *nodes = s.nodes.data();
    const int64_t *leaf_begin = s.leaf_begin.data();
    const double *xs = s.x.data(), *ys = s.y.data(), *zs = s.z.data();
    stack[top++] = {s.root, 0.0};
    while (top > 0) {
        const StackItem it = stack[--top];
        double thr = col.threshold();
        if (it.bound > thr) continue;
        if (it.node < 0) {
            // A leaf holds a handful of points: one fused loop, no block buffer.
            const int32_t leaf = ~it.node;
            for (int64_t p = leaf_begin[leaf], end = leaf_begin[leaf + 1]; p < end; p++) {
                double dx = xs[p] - q.x, dy = ys[p] - q.y, dz = zs[p] - q.z;
                double c = dx * dx + dy * dy + dz * dz;
                if (c <= thr) {
                    // The exact step will read this point's record: fetch it while the search goes on.
                    FFL_PREFETCH(s.exact.data() + p);
                    col.offer(c, p);
                    thr = col.threshold();
                }
            }
            continue;
        }
        const Node &nd = nodes[it.node];
        double b[kFanout];
        child_bounds(nd, q, b);
        // The children within the threshold, by falling bound: pushed in that order, the nearest
        // is searched first, and its answer lets the farther ones be skipped when they come up.
        int order[kFanout];
        int m = 0;
        for (int c = 0; c < kFanout; c++) {
            if (b[c] <= thr) {
                int j = m++;
                while (j > 0 && b[order[j - 1]] < b[c]) {
                    order[j] = order[j - 1];
                    j--;
                }
                order[j] = c;
            }
        }
        for (int j = 0; j < m; j++) {
            const int32_t ref = nd.child[order[j]];
            prefetch_child(s, ref);
            stack[top++] = {ref, b[order[j]]};
        }
    }
}

// Per-thread scratch, reused across the queries one thread answers.
struct Scratch {
    Collector col;
    std::vector<Hit> hits;  // also the previous answer, which seeds the next search
};

// Answers one query into out_idx/out_dist (k each).
//
// `seeded`: the previous query this thread answered (w.hits) is a set of k real points, so the
// k-th smallest of their chords to this query, plus MARGIN, is a safe threshold from the start:
// the search will meet those k points (each lies within it), so the final k-th chord is no larger,
// and everything the threshold excludes lies beyond the final k-th chord plus MARGIN too.  In a
// batch sorted along a space-filling curve, consecutive queries are close, the threshold is
// nearly the final one, and the tree search prunes from its first step.  Only the work changes:
// the candidates still hold the whole answer, so the result is the same with or without it.
void answer(const Store &s, const QueryPoint &q, size_t k, Scratch &w, bool seeded, int64_t *out_idx,
            double *out_dist) {
    double bound = kNoBound;
    if (seeded && w.hits.size() == k) {
        double worst = 0.0;
        for (const Hit &h : w.hits) {
            int64_t p = h.pos;
            double dx = s.x[p] - q.x, dy = s.y[p] - q.y, dz = s.z[p] - q.z;
            worst = std::max(worst, dx * dx + dy * dy + dz * dz);
        }
        bound = worst + kMargin;
    }
    w.col.reset(k, bound);
    if (!s.tree)
        scan_range(s, q, 0, s.n, w.col);
    else
        search_tree(s, q, w.col);
    w.col.finish(s, q, w.hits);
    for (size_t j = 0; j < k; j++) {
        out_idx[j] = w.hits[j].orig;
        out_dist[j] = w.hits[j].d;
    }
}

// Spreads the low 22 bits of v so that a zero bit separates each (for a 2-D Morton code).
inline uint64_t spread2(uint64_t v) {
    v &= 0x3fffff;
    v = (v | v << 16) & 0x0000ffff0000ffffULL;
    v = (v | v << 8) & 0x00ff00ff00ff00ffULL;
    v = (v | v << 4) & 0x0f0f0f0f0f0f0f0fULL;
    v = (v | v << 2) & 0x3333333333333333ULL;
    v = (v | v << 1) & 0x5555555555555555ULL;
    return v;
}

// A query's place on a Morton (Z-order) curve over (latitude, longitude), 22 bits each (cells of
// about 5 m by 19 m at the equator).  Only the order in which a batch is searched depends on it,
// never an answer, so it may be cheap — no trigonometry — and need not be a distance: places on
// either side of the antimeridian or close to a pole may be far apart on it, which costs some
// cache reuse there and nothing else.  The coordinates have been checked: lat in [-90, 90], lon
// in [-360, 360].
inline uint64_t curve_key(double lat, double lon) {
    const double cells = 4194303.0;  // 2**22 - 1
    const uint64_t a = static_cast<uint64_t>((lat + 90.0) / 180.0 * cells);
    const uint64_t b = static_cast<uint64_t>((lon + kMaxAbsLon) / (2.0 * kMaxAbsLon) * cells);
    return spread2(a) << 1 | spread2(b);
}

// Orders (key, query) pairs by their 44-bit curve_key: a stable least-significant-digit radix
// sort in four passes of 11 bits, linear in the batch (std::sort of 10^5 pairs took 7 ms, a
// twentieth of the searches, alone on one thread).  `tmp` is scratch of the same size.  Stable, so
// equal keys keep the queries' own order: the order is deterministic.
void sort_by_curve(std::vector<std::pair<uint64_t, int64_t>> &order, std::vector<std::pair<uint64_t, int64_t>> &tmp) {
    constexpr int kBits = 11, kPasses = 4;
    constexpr size_t kBuckets = size_t{1} << kBits;
    std::vector<size_t> count(kBuckets);
    for (int pass = 0; pass < kPasses; pass++) {
        const int shift = pass * kBits;
        std::fill(count.begin(), count.end(), 0);
        for (const auto &e : order) count[(e.first >> shift) & (kBuckets - 1)]++;
        size_t sum = 0;
        for (size_t &c : count) {
            const size_t here = c;
            c = sum;
            sum += here;
        }
        for (const auto &e : order) tmp[count[(e.first >> shift) & (kBuckets - 1)]++] = e;
        order.swap(tmp);
    }
}

// Runs work(thread_number) on `threads` threads (the calling one included) and joins them.
// Work is always pulled from shared counters, so if the system refuses a thread the others
// still do all of it: the answer never depends on how many threads actually ran.
// Returns false if any worker ran out of memory.
template <class Work>
bool run_threads(int threads, Work work) {
    std::atomic<bool> ok{true};
    auto guarded = [&ok, &work](int t) {
        try {
            work(t);
        } catch (...) {  // std::bad_alloc from a vector: reported as MemoryError
            ok.store(false);
        }
    };
    std::vector<std::thread> pool;
    try {
        pool.reserve(static_cast<size_t>(threads > 0 ? threads - 1 : 0));
        for (int t = 1; t < threads; t++) pool.emplace_back(guarded, t);
    } catch (...) {
        // Fewer threads than asked: the counters hand every piece of work to those that run.
    }
    guarded(0);
    for (std::thread &th : pool) th.join();
    return ok.load();
}
}  // namespace

namespace ffilab_nearest {

struct Engine {
    Store store;
};

Engine *engine_build(const std::vector<double> &lat, const std::vector<double> &lon, bool tree, int64_t leaf_size,
                     int threads) {
    Engine *engine = new (std::nothrow) Engine();
    if (engine == nullptr) return nullptr;
    try {
        build_store(engine->store, lat, lon, tree, leaf_size, threads);
    } catch (...) {
        delete engine;
        return nullptr;
    }
    return engine;
}

void engine_destroy(Engine *engine) { delete engine; }

int64_t engine_size(const Engine &engine) { return engine.store.n; }

bool engine_is_tree(const Engine &engine) { return engine.store.tree; }

size_t engine_nodes(const Engine &engine) { return engine.store.nodes.size(); }

size_t engine_nbytes(const Engine &engine) {
    const Store &s = engine.store;
    return static_cast<size_t>(s.n) * (3 * sizeof(double) + sizeof(Exact)) + s.nodes.size() * sizeof(Node) +
           s.leaf_begin.size() * sizeof(int64_t);
}

bool engine_query(const Engine &engine, double lat, double lon, size_t k, int threads, int64_t *out_idx,
                  double *out_dist) {
    const Store &s = engine.store;
    bool ok = true;
    const QueryPoint q = make_query(lat, lon);
    if (s.tree || threads == 1) {
        try {
            Scratch w;
            answer(s, q, k, w, false, out_idx, out_dist);
        } catch (...) {
            ok = false;
        }
    } else {
        // Chunks of points, each answered exactly on its own, then merged: the merge of the
        // chunks' top k by the strict order (distance, index) is the overall top k.
        const int64_t chunks = std::min<int64_t>(threads, s.n);
        std::vector<std::vector<Hit>> parts;
        std::atomic<int64_t> next{0};
        try {
            parts.resize(static_cast<size_t>(chunks));
            ok = run_threads(threads, [&](int) {
                Scratch w;
                for (int64_t c = next.fetch_add(1); c < chunks; c = next.fetch_add(1)) {
                    int64_t b = s.n * c / chunks, e = s.n * (c + 1) / chunks;
                    w.col.reset(std::min<size_t>(k, static_cast<size_t>(e - b)));
                    scan_range(s, q, b, e, w.col);
                    w.col.finish(s, q, w.hits);
                    parts[static_cast<size_t>(c)] = w.hits;
                }
            });
            if (ok) {
                std::vector<Hit> all;
                for (const auto &p : parts) all.insert(all.end(), p.begin(), p.end());
                std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(), hit_before);
                for (size_t j = 0; j < k; j++) {
                    out_idx[j] = all[j].orig;
                    out_dist[j] = all[j].d;
                }
            }
        } catch (...) {
            ok = false;
        }
    }
    return ok;
}

bool engine_query_many(const Engine &engine, const double *lats, const double *lons, int64_t m, size_t k, int threads,
                       int64_t *out_idx, double *out_dist) {
    const Store &s = engine.store;
    bool ok = true;
    // Threads take queries in small batches from a shared counter: enough to balance them,
    // few enough counter updates not to matter.
    const int64_t batch = 64;
    const int workers = static_cast<int>(std::min<int64_t>(threads, std::max<int64_t>(1, (m + batch - 1) / batch)));
    std::vector<std::pair<uint64_t, int64_t>> order, scratch;
    try {
        order.resize(static_cast<size_t>(m));
        if (s.tree) scratch.resize(static_cast<size_t>(m));
    } catch (...) {
        ok = false;
    }
    if (ok) {
        // 1. The order of the searches.  The tree searches the batch along a curve, so that
        // consecutive searches walk the same part of the tree while it is in cache, and each
        // one's threshold starts from its predecessor's answer (see answer()).  Only the order
        // of work changes: every query's answer is computed by the same code either way.  Cheap
        // enough (a few ns a query, then a linear sort) to be left to one thread.
        for (int64_t i = 0; i < m; i++)
            order[static_cast<size_t>(i)] = {s.tree ? curve_key(lats[static_cast<size_t>(i)], lons[static_cast<size_t>(i)]) : 0, i};
        if (s.tree) {
            try {
                sort_by_curve(order, scratch);
            } catch (...) {
                ok = false;
            }
        }
    }
    if (ok) {
        // 2. The searches, in that order, each query's point made where it is answered.
        std::atomic<int64_t> next{0};
        ok = run_threads(workers, [&](int) {
            Scratch w;
            for (int64_t b = next.fetch_add(batch); b < m; b = next.fetch_add(batch)) {
                for (int64_t j = b, e = std::min(m, b + batch); j < e; j++) {
                    const size_t i = static_cast<size_t>(order[static_cast<size_t>(j)].second);
                    const QueryPoint q = make_query(lats[i], lons[i]);
                    const int64_t row = static_cast<int64_t>(i) * static_cast<int64_t>(k);
                    answer(s, q, k, w, true, out_idx + row, out_dist + row);
                }
            }
        });
    }
    return ok;
}

}  // namespace ffilab_nearest
