//! Route pyo3: the lesson's kernels written in Rust and bound to Python with PyO3.
//!
//! Unlike the C-ABI routes this is not a wrapper of the C core: the loops are Rust's own
//! (`kernels.rs`; the tokenizer, `tokenize_batch`, in `tokenize.rs`), written with the C core's
//! order of operations so that they give the reference's results bit for bit wherever the
//! reference expects exact ones.  What PyO3 adds is the glue below: `#[pyfunction]`s taking
//! every argument as a plain object, the contract's checks (`contract.rs`), the GIL released
//! around every loop with `Python::detach`, and results built as new NumPy arrays (the `numpy`
//! crate) or Python ints and lists.  There is no Python wrapper layer: `ffilab.routes.pyo3`
//! re-exports these objects unchanged.
//!
//! Pattern of every array kernel: convert the scalar arguments (whose `__float__`/`__index__` may
//! run Python code that changes an array), then check the arrays, in the reference's order, and
//! create the result while holding the GIL; turn the buffers into slices; then
//! `detach_if(py, size, || kernel(slices))`, which releases the GIL (`Python::detach`) once the
//! input is large enough to repay it.  Both paths demand a `Send` closure, so the compiler itself
//! proves that nothing Python-bound (a `Bound`, the `Python` token) can be touched while the GIL
//! is released; the slices stay valid because this call's arguments keep the arrays alive.

use std::mem::MaybeUninit;

use numpy::npyffi::{self, PY_ARRAY_API};
use numpy::{PyArray1, PyArrayDescrMethods, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::marker::Ungil;
use pyo3::prelude::*;

mod contract;
mod kernels;
mod tokenize;

use contract::{as_index, as_real, check_array, check_k, check_points, check_same_length, to_index};
use tokenize::{tokenize_arrow, tokenize_batch, ArrowTokens};

/// An optional real argument whose default is not `None`.
///
/// PyO3 maps an explicit `None` to Rust's `None` for an `Option` parameter, so `Option` cannot
/// tell `scale_and_shift(a, 1.0)` (shift defaults to 0.0) from `scale_and_shift(a, 1.0, None)`
/// (a TypeError in the reference).  This extractor keeps whatever object was passed, `None`
/// included, for `as_real` to judge; `Missing` is the signature's default.
pub enum Optional<'py> {
    Missing,
    Given(Bound<'py, PyAny>),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Optional<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(Optional::Given(obj.to_owned()))
    }
}

impl Optional<'_> {
    fn as_real_or(&self, func: &str, name: &str, default: f64) -> PyResult<f64> {
        match self {
            Optional::Missing => Ok(default),
            Optional::Given(obj) => as_real(func, name, obj),
        }
    }
}

/// A new, uninitialised 1-D NumPy array of `n` elements, for a kernel to fill.
///
/// The array is NumPy's own (`PyArray_NewFromDescr`, freed with the array), so the result needs
/// no copy and no owner object.  Called directly rather than through `PyArray1::new`, which
/// panics when NumPy cannot allocate: here that is the MemoryError it should be.
fn new_vector<T: numpy::Element>(py: Python<'_>, n: usize) -> PyResult<Bound<'_, PyArray1<T>>> {
    let mut dims = [n as npyffi::npy_intp];
    // SAFETY: the arguments follow PyArray_NewFromDescr's contract (a dtype reference it steals,
    // one dimension, NULL strides and data: NumPy allocates a C-contiguous buffer); the result
    // is a new reference to a 1-D array of T, or NULL with an exception set.  Its elements are
    // uninitialised: every caller has a kernel write each of them (through `buffer_of`) before
    // the array reaches Python.
    unsafe {
        let ptr = PY_ARRAY_API.PyArray_NewFromDescr(
            py,
            npyffi::get_type_object(py, npyffi::NpyTypes::PyArray_Type),
            T::get_dtype(py).into_dtype_ptr(),
            1,
            dims.as_mut_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
            std::ptr::null_mut(),
        );
        Ok(Bound::from_owned_ptr_or_err(py, ptr)?.cast_into_unchecked())
    }
}

/// The buffer of a fresh array from `new_vector`, as `MaybeUninit` because nothing in it has been
/// written yet.
///
/// # Safety
/// `array` must come from `new_vector` and not be visible to Python yet, so that this is the only
/// view of its buffer.
#[allow(clippy::mut_from_ref)]
unsafe fn buffer_of<'a, T: numpy::Element>(
    array: &'a Bound<'_, PyArray1<T>>,
) -> &'a mut [MaybeUninit<T>] {
    let n = array.len();
    if n == 0 {
        return &mut [];
    }
    // SAFETY: a C-contiguous, aligned buffer of n elements owned by the array; exclusive by the
    // caller's promise.
    unsafe { std::slice::from_raw_parts_mut(array.data().cast(), n) }
}

/// Return the exact sum of ``i * i`` for ``0 <= i < n``.
///
/// The loop runs in Rust with a 128-bit accumulator (never the closed form), the GIL released.
///
/// Parameters
/// ----------
/// n : int
///     Number of terms, ``0 <= n <= 2**32``; anything with ``__index__`` is accepted.
///
/// Returns
/// -------
/// int
///     The exact sum (a Python int; never wraps around).
///
/// Raises
/// ------
/// TypeError
///     ``n`` is not an integer.
/// ValueError
///     ``n < 0``.
/// OverflowError
///     ``n > 2**32``.
/// `FFL_RELEASE_GIL_MIN_WORK` of `csrc/ffilab_core.h` (which says how it was measured; the native
/// bindings share it, and `tests/test_threads.py` checks that this copy agrees): the work from
/// which a loop runs without the GIL.  Releasing it around one element costs more than the loop.
const RELEASE_GIL_MIN_WORK: usize = 1024;

/// Runs `work` without the GIL when `size` reaches [`RELEASE_GIL_MIN_WORK`], holding it otherwise.
/// `detach`'s `Ungil` bound (`Send`) holds on both paths, so the closure is proven free of Python
/// objects either way.
fn detach_if<T: Ungil, F: Ungil + FnOnce() -> T>(py: Python<'_>, size: usize, work: F) -> T {
    if size >= RELEASE_GIL_MIN_WORK {
        py.detach(work)
    } else {
        work()
    }
}

#[pyfunction]
#[pyo3(signature = (n, /))]
fn sum_of_squares<'py>(py: Python<'py>, n: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let n = as_index("sum_of_squares", "n", n, kernels::SUM_OF_SQUARES_MAX_N)?;
    // as_index bounds n to 0..=2**32, so the cast is exact.
    let total = detach_if(py, n as usize, || kernels::sum_of_squares(n as u64));
    // A u128 becomes a Python int through _PyLong_FromByteArray (measured: the call took 51 ns
    // against 32 ns for fast_sum); every sum below n = 3,037,000 fits in 64 bits, which
    // PyLong_FromUnsignedLongLong converts directly, as the capi route does.
    match u64::try_from(total) {
        Ok(small) => Ok(small.into_pyobject(py)?.into_any()),
        Err(_) => Ok(total.into_pyobject(py)?.into_any()),
    }
}

/// Return ``pi * radius * radius``, evaluated left to right.
///
/// Parameters
/// ----------
/// radius : float
///     Any real number (float, int, or an object with ``__float__`` or ``__index__``).
///
/// Returns
/// -------
/// float
///
/// Raises
/// ------
/// TypeError
///     ``radius`` is not a real number.
/// OverflowError
///     ``radius`` is an int too large for a float.
#[pyfunction]
#[pyo3(signature = (radius, /))]
fn circle_area(radius: &Bound<'_, PyAny>) -> PyResult<f64> {
    // No GIL release: a scalar kernel, as in the C API route.
    Ok(kernels::circle_area(as_real(
        "circle_area",
        "radius",
        radius,
    )?))
}

/// Multiply every element of ``arr`` by ``factor``, in place.
///
/// Parameters
/// ----------
/// arr : numpy.ndarray
///     Writable, 1-D, C-contiguous, aligned, native float64.  Never copied: the caller's array
///     is modified.
/// factor : float
///     Any real number.
///
/// Returns
/// -------
/// None
///
/// Raises
/// ------
/// TypeError
///     ``arr`` is not a float64 ndarray, or ``factor`` is not a real number.
/// ValueError
///     ``arr`` is not 1-D, not C-contiguous, misaligned, or read-only.
/// OverflowError
///     ``factor`` is an int too large for a float.
#[pyfunction]
#[pyo3(signature = (arr, factor))]
fn scale_array(arr: &Bound<'_, PyAny>, factor: &Bound<'_, PyAny>) -> PyResult<()> {
    // The conversion first: factor's __float__ may be Python code that changes arr.
    let factor = as_real("scale_array", "factor", factor)?;
    let array = check_array("scale_array", "arr", arr, true)?;
    // SAFETY: checked writable above, and this call forms no other view of the buffer.
    let data = unsafe { array.as_mut_slice() };
    detach_if(arr.py(), data.len(), || kernels::scale_array(data, factor));
    Ok(())
}

/// Return the distance of each row of ``points`` from the origin.
///
/// Parameters
/// ----------
/// points : numpy.ndarray
///     Shape ``(n, 2)``, C-contiguous, aligned, native float64.
///
/// Returns
/// -------
/// numpy.ndarray
///     A new float64 array of length ``n``, filled with the GIL released.
///
/// Raises
/// ------
/// TypeError
///     ``points`` is not a float64 ndarray.
/// ValueError
///     ``points`` is not ``(n, 2)``, not C-contiguous or misaligned.
/// MemoryError
///     NumPy could not allocate the result.
#[pyfunction]
#[pyo3(signature = (points, /))]
fn compute_distances<'py>(points: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let points = check_points("compute_distances", "points", points)?;
    let py = points.py();
    let out = new_vector::<f64>(py, points.rows)?;
    // SAFETY: out is fresh and still private to this call.
    let buffer = unsafe { buffer_of(&out) };
    let xy = points.as_slice();
    detach_if(py, xy.len() / 2, || kernels::compute_distances(xy, buffer));
    Ok(out)
}

/// Return the primes below ``n`` by the lesson's trial division.
///
/// Each candidate is divided by every ``d`` in ``2 .. candidate - 1`` until the first divisor;
/// the GIL is released while Rust searches, and the list is built afterwards.
///
/// Parameters
/// ----------
/// n : int
///     Upper bound (exclusive), ``0 <= n <= 2**31 - 1``.
///
/// Returns
/// -------
/// list of int
///
/// Raises
/// ------
/// TypeError
///     ``n`` is not an integer.
/// ValueError
///     ``n < 0``.
/// OverflowError
///     ``n > 2**31 - 1``.
#[pyfunction]
#[pyo3(signature = (n, /))]
fn primes(py: Python<'_>, n: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    let n = as_index("primes", "n", n, kernels::PRIMES_MAX_N)?;
    // The Vec is turned into a list of ints by PyO3 once the GIL is back.
    Ok(detach_if(py, n as usize, || kernels::primes(n)))
}

/// Return the sum of ``a``, accumulated left to right.
///
/// Parameters
/// ----------
/// a : numpy.ndarray
///     1-D, C-contiguous, aligned, native float64.
///
/// Returns
/// -------
/// float
///     ``0.0`` for an empty array.
///
/// Raises
/// ------
/// TypeError
///     ``a`` is not a float64 ndarray.
/// ValueError
///     ``a`` is not 1-D, not C-contiguous or misaligned.
#[pyfunction]
#[pyo3(signature = (a, /))]
fn fast_sum(a: &Bound<'_, PyAny>) -> PyResult<f64> {
    let data = check_array("fast_sum", "a", a, false)?.as_slice();
    Ok(detach_if(a.py(), data.len(), || kernels::fast_sum(data)))
}

/// Return the dot product of ``a`` and ``b``, accumulated left to right.
///
/// Parameters
/// ----------
/// a, b : numpy.ndarray
///     1-D, C-contiguous, aligned, native float64, of the same length.
///
/// Returns
/// -------
/// float
///
/// Raises
/// ------
/// TypeError
///     ``a`` or ``b`` is not a float64 ndarray.
/// ValueError
///     Not 1-D, not C-contiguous, misaligned, or of different lengths.
#[pyfunction]
#[pyo3(signature = (a, b))]
fn fast_dot(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<f64> {
    let (xa, xb) = (
        check_array("fast_dot", "a", a, false)?,
        check_array("fast_dot", "b", b, false)?,
    );
    check_same_length("fast_dot", &xa, &xb, "a and b")?;
    let (sa, sb) = (xa.as_slice(), xb.as_slice());
    Ok(detach_if(a.py(), sa.len(), || kernels::fast_dot(sa, sb)))
}

/// Return the L2 norm ``sqrt(sum(x * x))`` of ``a``.
///
/// No rescaling: the sum of squares overflows to ``inf`` exactly as the reference's does.
///
/// Parameters
/// ----------
/// a : numpy.ndarray
///     1-D, C-contiguous, aligned, native float64.
///
/// Returns
/// -------
/// float
///
/// Raises
/// ------
/// TypeError
///     ``a`` is not a float64 ndarray.
/// ValueError
///     ``a`` is not 1-D, not C-contiguous or misaligned.
#[pyfunction]
#[pyo3(signature = (a, /))]
fn fast_norm(a: &Bound<'_, PyAny>) -> PyResult<f64> {
    let data = check_array("fast_norm", "a", a, false)?.as_slice();
    Ok(detach_if(a.py(), data.len(), || kernels::fast_norm(data)))
}

/// Return a new array ``a * scale + shift``.
///
/// Parameters
/// ----------
/// a : numpy.ndarray
///     1-D, C-contiguous, aligned, native float64 (not modified).
/// scale : float
///     Any real number.
/// shift : float, default 0.0
///     Any real number.
///
/// Returns
/// -------
/// numpy.ndarray
///     A new float64 array of the same length as ``a``.
///
/// Raises
/// ------
/// TypeError
///     ``a`` is not a float64 ndarray, or ``scale``/``shift`` is not a real number.
/// ValueError
///     ``a`` is not 1-D, not C-contiguous or misaligned.
/// OverflowError
///     ``scale`` or ``shift`` is an int too large for a float.
#[pyfunction]
#[pyo3(signature = (a, scale, shift = Optional::Missing), text_signature = "(a, scale, shift=0.0)")]
fn scale_and_shift<'py>(
    a: &Bound<'py, PyAny>,
    scale: &Bound<'py, PyAny>,
    shift: Optional<'py>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let f = "scale_and_shift";
    // The conversions first: __float__ of scale or shift may be Python code that changes a.
    let scale = as_real(f, "scale", scale)?;
    let shift = shift.as_real_or(f, "shift", 0.0)?;
    let input = check_array(f, "a", a, false)?;
    let out = new_vector::<f64>(a.py(), input.rows)?;
    // SAFETY: out is fresh and still private to this call.
    let buffer = unsafe { buffer_of(&out) };
    let data = input.as_slice();
    detach_if(a.py(), data.len(), || kernels::scale_and_shift(data, scale, shift, buffer));
    Ok(out)
}

/// Return the great-circle distance in km between two points given in degrees (R = 6371).
///
/// Parameters
/// ----------
/// lat1, lon1, lat2, lon2 : float
///     Latitudes and longitudes in degrees; any real numbers.
///
/// Returns
/// -------
/// float
///
/// Raises
/// ------
/// TypeError
///     An argument is not a real number.
/// OverflowError
///     An argument is an int too large for a float.
#[pyfunction]
#[pyo3(signature = (lat1, lon1, lat2, lon2))]
fn haversine_distance(
    lat1: &Bound<'_, PyAny>,
    lon1: &Bound<'_, PyAny>,
    lat2: &Bound<'_, PyAny>,
    lon2: &Bound<'_, PyAny>,
) -> PyResult<f64> {
    let f = "haversine_distance";
    // One statement each, left to right: the first bad argument is the one reported, as in the reference.
    let lat1 = as_real(f, "lat1", lat1)?;
    let lon1 = as_real(f, "lon1", lon1)?;
    let lat2 = as_real(f, "lat2", lat2)?;
    let lon2 = as_real(f, "lon2", lon2)?;
    Ok(kernels::haversine(lat1, lon1, lat2, lon2))
}

/// Return the distance in km from ``(lat, lon)`` to every ``(lats[i], lons[i])``.
///
/// Parameters
/// ----------
/// lat, lon : float
///     The reference point, in degrees.
/// lats, lons : numpy.ndarray
///     1-D, C-contiguous, aligned, native float64, of the same length.
///
/// Returns
/// -------
/// numpy.ndarray
///     A new float64 array of distances in km.
///
/// Raises
/// ------
/// TypeError
///     ``lat``/``lon`` is not a real number, or ``lats``/``lons`` is not a float64 ndarray.
/// ValueError
///     ``lats``/``lons`` not 1-D, not C-contiguous, misaligned, or of different lengths.
/// OverflowError
///     ``lat`` or ``lon`` is an int too large for a float.
#[pyfunction]
#[pyo3(signature = (lat, lon, lats, lons))]
fn haversine_many<'py>(
    lat: &Bound<'py, PyAny>,
    lon: &Bound<'py, PyAny>,
    lats: &Bound<'py, PyAny>,
    lons: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let f = "haversine_many";
    // contract.check_query's order: the two reals, then the two arrays, then their lengths.
    let lat = as_real(f, "lat", lat)?;
    let lon = as_real(f, "lon", lon)?;
    let (xlats, xlons) = (
        check_array(f, "lats", lats, false)?,
        check_array(f, "lons", lons, false)?,
    );
    check_same_length(f, &xlats, &xlons, "lats and lons")?;
    let out = new_vector::<f64>(lats.py(), xlats.rows)?;
    // SAFETY: out is fresh and still private to this call.
    let buffer = unsafe { buffer_of(&out) };
    let (la, lo) = (xlats.as_slice(), xlons.as_slice());
    detach_if(lats.py(), la.len(), || kernels::haversine_many(lat, lon, la, lo, buffer));
    Ok(out)
}

/// Return the ``k`` points nearest to ``(lat, lon)``.
///
/// Parameters
/// ----------
/// lat, lon : float
///     The reference point, in degrees.
/// lats, lons : numpy.ndarray
///     1-D, C-contiguous, aligned, native float64, of the same length ``n``.
/// k : int
///     How many points to return, ``0 <= k <= n``.
///
/// Returns
/// -------
/// indices : numpy.ndarray of int64
/// distances : numpy.ndarray of float64
///     Sorted by distance (km), ties broken by the smaller index, NaN distances last.
///
/// Raises
/// ------
/// TypeError
///     ``lat``/``lon`` is not a real number, ``lats``/``lons`` is not a float64 ndarray, or
///     ``k`` is not an integer.
/// ValueError
///     ``lats``/``lons`` not 1-D, not C-contiguous, misaligned or of different lengths;
///     ``k < 0`` or ``k > n``.
/// OverflowError
///     ``lat`` or ``lon`` is an int too large for a float.
#[pyfunction]
#[pyo3(signature = (lat, lon, lats, lons, k))]
#[allow(clippy::type_complexity)]
fn find_nearest_k<'py>(
    lat: &Bound<'py, PyAny>,
    lon: &Bound<'py, PyAny>,
    lats: &Bound<'py, PyAny>,
    lons: &Bound<'py, PyAny>,
    k: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<f64>>)> {
    let f = "find_nearest_k";
    let lat = as_real(f, "lat", lat)?;
    let lon = as_real(f, "lon", lon)?;
    // k's __index__ may be Python code that changes the arrays: convert it before they are
    // checked, and check its range, which needs their length, after (contract.check_nearest).
    let k = to_index(f, "k", k)?;
    let (xlats, xlons) = (
        check_array(f, "lats", lats, false)?,
        check_array(f, "lons", lons, false)?,
    );
    check_same_length(f, &xlats, &xlons, "lats and lons")?;
    let k = check_k(f, k, xlats.rows)?;
    let py = lats.py();
    let idx = new_vector::<i64>(py, k)?;
    let dist = new_vector::<f64>(py, k)?;
    // SAFETY: both arrays are fresh, distinct and still private to this call.
    let (idx_buffer, dist_buffer) = unsafe { (buffer_of(&idx), buffer_of(&dist)) };
    let (la, lo) = (xlats.as_slice(), xlons.as_slice());
    detach_if(py, la.len(), || kernels::find_nearest_k(lat, lon, la, lo, idx_buffer, dist_buffer));
    Ok((idx, dist))
}

/// Running total and count of the values added to it.
///
/// The state is a Rust struct stored inside the Python object (no separate allocation), freed
/// with it.
///
/// Parameters
/// ----------
/// initial : float, default 0.0
///     Starting total (the count starts at 0).
///
/// Raises
/// ------
/// TypeError
///     ``initial`` is not a real number.
/// OverflowError
///     ``initial`` is an int too large for a float.
#[pyclass(module = "ffilab.routes.pyo3._ext", name = "Accumulator", subclass)]
pub struct Accumulator {
    state: kernels::Accumulation,
}

#[pymethods]
impl Accumulator {
    #[new]
    #[pyo3(signature = (initial = Optional::Missing), text_signature = "(initial=0.0)")]
    fn new(initial: Optional<'_>) -> PyResult<Self> {
        let total = initial.as_real_or("Accumulator", "initial", 0.0)?;
        Ok(Accumulator {
            state: kernels::Accumulation { total, count: 0 },
        })
    }

    /// Add ``value`` to the total and count it.
    ///
    /// Parameters
    /// ----------
    /// value : float
    ///     Any real number.
    ///
    /// Raises
    /// ------
    /// TypeError
    ///     ``value`` is not a real number.
    /// OverflowError
    ///     ``value`` is an int too large for a float.
    #[pyo3(signature = (value, /))]
    fn add(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        // Convert before borrowing the state: a rejected value leaves count and total unchanged,
        // and a __float__ that itself calls add on this object finds it not borrowed (a `&mut
        // self` receiver would hold the borrow across the conversion and fail such a call).
        let value = as_real("Accumulator.add", "value", value)?;
        slf.borrow_mut().state.add(value);
        Ok(())
    }

    /// Return ``total / count``, or 0.0 when nothing was added.
    fn mean(&self) -> f64 {
        self.state.mean()
    }

    /// Number of values added (read-only).
    #[getter]
    fn count(&self) -> u64 {
        self.state.count
    }

    /// Current total (read-only).
    #[getter]
    fn total(&self) -> f64 {
        self.state.total
    }

    /// Return ``<Accumulator count=N total=T>``, with ``T`` exactly ``repr(total)``.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        // Python's float repr (shortest round trip, "1.0", "1e-300", "nan"), not Rust's Display,
        // which writes "1", "0.000…1" and "NaN".
        let total = pyo3::types::PyFloat::new(py, self.state.total).repr()?;
        Ok(format!(
            "<Accumulator count={} total={}>",
            self.state.count, total
        ))
    }
}

/// Route pyo3: the lesson's kernels written in Rust, bound with PyO3.
///
/// Every argument is checked in Rust against ffilab's contract (ffilab.contract), raising the
/// reference's exception class; arrays are never converted or copied, and the GIL is released
/// around every loop.
#[pymodule]
mod _ext {
    #[pymodule_export]
    use super::{
        circle_area, compute_distances, fast_dot, fast_norm, fast_sum, find_nearest_k,
        haversine_distance, haversine_many, primes, scale_and_shift, scale_array, sum_of_squares,
        tokenize_arrow, tokenize_batch, Accumulator, ArrowTokens,
    };
}
