//! The lesson's kernels in plain Rust: no Python objects, no GIL, nothing to trust.
//!
//! Each loop is the reference's loop (`src/ffilab/routes/python`) and the C core's
//! (`csrc/ffilab_core.c`) with the same order of floating-point operations, so the results agree
//! bit for bit with both wherever the same libm is used: `f64::sin`, `cos`, `asin` lower to calls
//! of the platform's libm (glibc on Linux, like Python's `math` and the C core), and `sqrt` is
//! IEEE-exact everywhere.  Rust never contracts `a * b + c` into a fused multiply-add unless asked
//! to (`f64::mul_add`), which is what `-ffp-contract=off` buys the C routes, and it never
//! reassociates a floating-point sum, so every reduction below adds strictly left to right.
//!
//! The functions take slices, never raw pointers: the binding (`lib.rs`) turns the checked NumPy
//! buffers into slices while it holds the GIL, and these run with the GIL released.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::mem::MaybeUninit;

/// `ffilab.contract.EARTH_RADIUS_KM`.
pub const EARTH_RADIUS_KM: f64 = 6371.0;
/// `ffilab.contract.SUM_OF_SQUARES_MAX_N`: every `i * i` with `i < n` fits in a u64.
pub const SUM_OF_SQUARES_MAX_N: i64 = 1 << 32;
/// `ffilab.contract.PRIMES_MAX_N` (the lesson's C `int`).
pub const PRIMES_MAX_N: i64 = 2_147_483_647;

/// Python's `math.radians` multiplies by this constant (`pi / 180`, rounded once), as the C core does.
const DEG_TO_RAD: f64 = std::f64::consts::PI / 180.0;

/// The exact sum of `i * i` for `0 <= i < n`.
///
/// `n <= 2**32` (checked by the caller, and again here: a larger `n` would wrap `i * i`), so each
/// square fits in a u64 and the sum (below 2**95) in the u128 accumulator.
pub fn sum_of_squares(n: u64) -> u128 {
    assert!(
        n <= SUM_OF_SQUARES_MAX_N as u64,
        "sum_of_squares: n beyond the contract"
    );
    let mut total: u128 = 0;
    for i in 0..n {
        total += u128::from(i * i);
    }
    total
}

/// `pi * radius * radius`, left to right as the reference evaluates it.
pub fn circle_area(radius: f64) -> f64 {
    std::f64::consts::PI * radius * radius
}

pub fn scale_array(arr: &mut [f64], factor: f64) {
    for x in arr.iter_mut() {
        *x *= factor;
    }
}

/// Fills `out[i]` with the distance of point `i` (`xy[2i]`, `xy[2i + 1]`) from the origin.
pub fn compute_distances(xy: &[f64], out: &mut [MaybeUninit<f64>]) {
    assert_eq!(
        xy.len(),
        2 * out.len(),
        "compute_distances: points and result disagree"
    );
    for (d, p) in out.iter_mut().zip(xy.chunks_exact(2)) {
        let (x, y) = (p[0], p[1]);
        d.write((x * x + y * y).sqrt());
    }
}

/// The primes below `n` by the lesson's trial division: every divisor `2 .. candidate - 1`
/// until the first that divides (deliberately quadratic: this is the loop being measured).
pub fn primes(n: i64) -> Vec<i64> {
    let mut found = Vec::new();
    for candidate in 2..n {
        let mut is_prime = true;
        for divisor in 2..candidate {
            if candidate % divisor == 0 {
                is_prime = false;
                break;
            }
        }
        if is_prime {
            found.push(candidate);
        }
    }
    found
}

pub fn fast_sum(a: &[f64]) -> f64 {
    let mut total = 0.0;
    for &x in a {
        total += x;
    }
    total
}

pub fn fast_dot(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "fast_dot: lengths differ");
    let mut total = 0.0;
    for (&x, &y) in a.iter().zip(b) {
        total += x * y;
    }
    total
}

/// `sqrt(sum(x * x))` with no rescaling, so it overflows to inf exactly where the reference does.
pub fn fast_norm(a: &[f64]) -> f64 {
    let mut sum_sq = 0.0;
    for &x in a {
        sum_sq += x * x;
    }
    sum_sq.sqrt()
}

pub fn scale_and_shift(a: &[f64], scale: f64, shift: f64, out: &mut [MaybeUninit<f64>]) {
    assert_eq!(
        a.len(),
        out.len(),
        "scale_and_shift: input and result disagree"
    );
    for (o, &x) in out.iter_mut().zip(a) {
        o.write(x * scale + shift);
    }
}

/// Great-circle distance in km between two points in degrees, in the C core's order of operations.
pub fn haversine(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let dlat = (lat2 - lat1) * DEG_TO_RAD;
    let dlon = (lon2 - lon1) * DEG_TO_RAD;
    // sin/cos of an infinite angle is NaN here (libm), where Python's math.sin raises: the
    // reference maps that to NaN too, so a NaN or infinite coordinate gives a NaN distance.
    let s_lat = (dlat / 2.0).sin();
    let s_lon = (dlon / 2.0).sin();
    // s * s, not powi(2): the reference and the C core square by multiplication.
    let a = s_lat * s_lat + (lat1 * DEG_TO_RAD).cos() * (lat2 * DEG_TO_RAD).cos() * s_lon * s_lon;
    // a lies in [0, 1] for real angles, but rounding can push it a hair outside, where sqrt and
    // asin give NaN: clamp as every route does.  f64::clamp is the C core's `if (a > 1) a = 1;
    // else if (a < 0) a = 0;` exactly, NaN included (it stays NaN).
    let a = a.clamp(0.0, 1.0);
    EARTH_RADIUS_KM * (2.0 * a.sqrt().asin())
}

pub fn haversine_many(
    lat: f64,
    lon: f64,
    lats: &[f64],
    lons: &[f64],
    out: &mut [MaybeUninit<f64>],
) {
    assert!(
        lats.len() == lons.len() && lats.len() == out.len(),
        "haversine_many: lengths differ"
    );
    for ((o, &la), &lo) in out.iter_mut().zip(lats).zip(lons) {
        o.write(haversine(lat, lon, la, lo));
    }
}

/// A candidate of `find_nearest_k`, ordered as the reference's key `(isnan(d), d, index)`.
///
/// The order is total (the index breaks every tie and NaN sorts after every number), so the k
/// nearest are one well-defined set in one well-defined order whatever algorithm picks them.
#[derive(Clone, Copy)]
struct Candidate {
    distance: f64,
    index: usize,
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.distance, other.distance);
        match (a.is_nan(), b.is_nan()) {
            (false, true) => Ordering::Less,
            (true, false) => Ordering::Greater,
            // Plain < and > rather than total_cmp: -0.0 and 0.0 are the same distance, as in
            // the reference's tuple comparison, and fall through to the index.
            (false, false) if a < b => Ordering::Less,
            (false, false) if a > b => Ordering::Greater,
            _ => self.index.cmp(&other.index),
        }
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

/// The `k` points nearest to `(lat, lon)`, sorted by distance (NaN last), ties by index.
///
/// A max-heap of the `k` nearest seen so far (the farthest of them on top) is streamed over the
/// points: O(n log k) time and O(k) memory, where a full sort would be O(n log n) and O(n).
/// The C core keeps the same heap but first stores all n distances; here each distance is
/// computed once, compared, and kept only if it makes the cut.
pub fn find_nearest_k(
    lat: f64,
    lon: f64,
    lats: &[f64],
    lons: &[f64],
    out_idx: &mut [MaybeUninit<i64>],
    out_dist: &mut [MaybeUninit<f64>],
) {
    let k = out_idx.len();
    assert!(
        lats.len() == lons.len() && out_dist.len() == k && k <= lats.len(),
        "find_nearest_k: bad sizes"
    );
    if k == 0 {
        return;
    }
    let mut heap = BinaryHeap::with_capacity(k);
    for (index, (&la, &lo)) in lats.iter().zip(lons).enumerate() {
        let candidate = Candidate {
            distance: haversine(lat, lon, la, lo),
            index,
        };
        if heap.len() < k {
            heap.push(candidate);
        } else if let Some(mut farthest) = heap.peek_mut() {
            if candidate < *farthest {
                *farthest = candidate; // PeekMut sifts the new top down when dropped
            }
        }
    }
    for ((i, d), c) in out_idx
        .iter_mut()
        .zip(out_dist.iter_mut())
        .zip(heap.into_sorted_vec())
    {
        // index < n <= isize::MAX, so it fits in an i64.
        i.write(c.index as i64);
        d.write(c.distance);
    }
}

/// The running total and count behind `Accumulator`: the reference's `_total += value; _count += 1`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Accumulation {
    pub total: f64,
    pub count: u64,
}

impl Accumulation {
    pub fn add(&mut self, value: f64) {
        self.total += value;
        self.count += 1;
    }

    /// `total / count`, or 0.0 when nothing was added (Python's float / int rounds the count to
    /// a float first, as `as f64` does).
    pub fn mean(&self) -> f64 {
        if self.count > 0 {
            self.total / self.count as f64
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled<T: Copy>(buf: &[MaybeUninit<T>]) -> Vec<T> {
        buf.iter().map(|x| unsafe { x.assume_init() }).collect()
    }

    #[test]
    fn sum_of_squares_is_exact_past_u64() {
        assert_eq!(sum_of_squares(0), 0);
        assert_eq!(sum_of_squares(3), 5);
        let n: u128 = 10_000_000;
        assert_eq!(sum_of_squares(n as u64), n * (n - 1) * (2 * n - 1) / 6);
    }

    #[test]
    fn primes_by_trial_division() {
        assert_eq!(primes(0), Vec::<i64>::new());
        assert_eq!(primes(30), vec![2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
    }

    #[test]
    fn haversine_clamps_and_propagates_nan() {
        assert_eq!(haversine(0.0, 0.0, 0.0, 0.0), 0.0);
        assert!(haversine(f64::NAN, 0.0, 1.0, 1.0).is_nan());
        assert!(haversine(f64::INFINITY, 0.0, 1.0, 1.0).is_nan());
        assert!(
            (haversine(0.0, 0.0, 0.0, 180.0) - EARTH_RADIUS_KM * std::f64::consts::PI).abs() < 1e-9
        );
    }

    #[test]
    fn nearest_orders_by_distance_then_index_nan_last() {
        let lats = [1.0, 0.0, f64::NAN, 0.0, 2.0, 1.0];
        let lons = [0.0; 6];
        let mut idx = [MaybeUninit::uninit(); 6];
        let mut dist = [MaybeUninit::uninit(); 6];
        find_nearest_k(0.0, 0.0, &lats, &lons, &mut idx, &mut dist);
        assert_eq!(filled(&idx), vec![1, 3, 0, 5, 4, 2]);
        assert!(filled(&dist)[5].is_nan());
        let mut idx2 = [MaybeUninit::uninit(); 3];
        let mut dist2 = [MaybeUninit::uninit(); 3];
        find_nearest_k(0.0, 0.0, &lats, &lons, &mut idx2, &mut dist2);
        assert_eq!(filled(&idx2), vec![1, 3, 0]);
    }

    #[test]
    fn accumulation_mean() {
        let mut acc = Accumulation::default();
        assert_eq!(acc.mean(), 0.0);
        acc.add(1.0);
        acc.add(2.0);
        assert_eq!((acc.count, acc.total, acc.mean()), (2, 3.0, 1.5));
    }
}
