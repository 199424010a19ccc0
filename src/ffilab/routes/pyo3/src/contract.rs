//! The argument contract of `ffilab.contract`, enforced in Rust before any kernel runs.
//!
//! PyO3's own extractors are deliberately not used for kernel arguments: `i64` extraction raises
//! OverflowError for -2**70 (the contract says ValueError), and `numpy`'s typed `PyArray1<f64>`
//! cast fails with one TypeError for a wrong dtype and a wrong ndim alike (the contract says
//! ValueError for the latter), while its `PyArrayLike` would silently convert.  So every argument
//! arrives as a plain object and is checked here, in the reference's order, raising exactly the
//! reference's exception class, with a message that names the kernel and the argument.
//!
//! The checks read CPython and NumPy structures directly (`PyFloat_AS_DOUBLE`, `tp_as_number`,
//! the array's flags), which the version-specific ABI allows; see `Cargo.toml` on why not abi3.

use std::ffi::c_int;

use numpy::npyffi::{
    self, NPY_ARRAY_ALIGNED, NPY_ARRAY_C_CONTIGUOUS, NPY_ARRAY_WRITEABLE, NPY_TYPES,
};
use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use pyo3::{ffi, PyErr};

/// `type(obj).__name__`, as the reference's messages show it (no module prefix).
fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_owned())
}

/// An integer argument after `operator.index`: its value when it fits in an i64, else the side
/// it overflows on (the range is decided on the Python int, so 2**64 + 5 never wraps to 5), with
/// the int itself for the message.
pub enum Index<'py> {
    Value(i64),
    Below(Bound<'py, PyAny>),
    Above(Bound<'py, PyAny>),
}

impl Index<'_> {
    /// `contract._show_int`: the value up to 256 bits, its size beyond (str() of an int past
    /// 4300 digits raises ValueError in CPython, and the class must not depend on that).
    fn shown(&self) -> String {
        let big = match self {
            Index::Value(v) => return v.to_string(),
            Index::Below(big) | Index::Above(big) => big,
        };
        let bits: u64 = big
            .call_method0("bit_length")
            .and_then(|b| b.extract())
            .unwrap_or(u64::MAX);
        if bits <= 256 {
            if let Ok(text) = big.str() {
                return text.to_string();
            }
        }
        format!("an integer of {bits} bits")
    }
}

pub fn to_index<'py>(func: &str, name: &str, obj: &Bound<'py, PyAny>) -> PyResult<Index<'py>> {
    let py = obj.py();
    // PyNumber_Index is operator.index: int, bool, NumPy integers, anything with __index__.
    // SAFETY: obj is a live object and we hold the GIL; the result is a new reference or NULL.
    let index = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyNumber_Index(obj.as_ptr())) };
    let index = match index {
        Ok(index) => index,
        Err(err) if err.is_instance_of::<PyTypeError>(py) => {
            return Err(PyTypeError::new_err(format!(
                "{func}: {name} must be an integer, got {}",
                type_name(obj)
            )));
        }
        // Anything else an __index__ raised passes through, as it does through operator.index.
        Err(err) => return Err(err),
    };
    let mut overflow: c_int = 0;
    // SAFETY: index is an exact int (PyNumber_Index's guarantee); overflow is a valid out-pointer.
    let value = unsafe { ffi::PyLong_AsLongLongAndOverflow(index.as_ptr(), &mut overflow) };
    if value == -1 && overflow == 0 {
        if let Some(err) = PyErr::take(py) {
            return Err(err);
        }
    }
    Ok(match overflow {
        0 => Index::Value(value),
        o if o < 0 => Index::Below(index),
        _ => Index::Above(index),
    })
}

/// `contract.as_index(func, name, obj, minimum=0, maximum=maximum)`: below 0 is ValueError,
/// above `maximum` OverflowError, not an integer TypeError.
pub fn as_index(func: &str, name: &str, obj: &Bound<'_, PyAny>, maximum: i64) -> PyResult<i64> {
    let index = to_index(func, name, obj)?;
    match index {
        Index::Value(v) if (0..=maximum).contains(&v) => Ok(v),
        Index::Value(v) if v > maximum => Err(PyOverflowError::new_err(format!(
            "{func}: {name} must be <= {maximum}, got {v}"
        ))),
        Index::Above(_) => Err(PyOverflowError::new_err(format!(
            "{func}: {name} must be <= {maximum}, got {}",
            index.shown()
        ))),
        _ => Err(PyValueError::new_err(format!(
            "{func}: {name} must be >= 0, got {}",
            index.shown()
        ))),
    }
}

/// `contract.check_k`: `k` of `find_nearest_k` in `0..=n`; both sides are ValueError (k has no
/// contract maximum of its own, so even 2**64 is "more than the number of points").  `index` was
/// converted by [`to_index`] before the arrays were checked (`contract.check_nearest`'s order).
pub fn check_k(func: &str, index: Index<'_>, n: usize) -> PyResult<usize> {
    match index {
        Index::Value(v) if v >= 0 && (v as u64) <= n as u64 => Ok(v as usize),
        Index::Value(v) if v < 0 => Err(PyValueError::new_err(format!(
            "{func}: k must be >= 0, got {v}"
        ))),
        Index::Below(_) => Err(PyValueError::new_err(format!(
            "{func}: k must be >= 0, got {}",
            index.shown()
        ))),
        _ => Err(PyValueError::new_err(format!(
            "{func}: k must be <= the number of points ({n}), got {}",
            index.shown()
        ))),
    }
}

/// `contract.as_real`: what `PyFloat_AsDouble` accepts (float, int, `__float__`, `__index__`).
///
/// Types with neither slot are refused up front, as the reference refuses them without calling
/// anything, so the message can name the kernel and the argument; an int beyond the float range
/// is `PyFloat_AsDouble`'s OverflowError, renamed the same way.  Whatever a `__float__` or
/// `__index__` raises itself (or a DeprecationWarning turned error) passes through unchanged.
#[inline]
pub fn as_real(func: &str, name: &str, obj: &Bound<'_, PyAny>) -> PyResult<f64> {
    let ptr = obj.as_ptr();
    // SAFETY: ptr is a live object and we hold the GIL.
    unsafe {
        // The per-call fast path: an exact float is read straight from the object.
        if ffi::PyFloat_CheckExact(ptr) != 0 {
            return Ok(ffi::PyFloat_AS_DOUBLE(ptr));
        }
        let nb = (*ffi::Py_TYPE(ptr)).tp_as_number;
        let has_slot = !nb.is_null() && ((*nb).nb_float.is_some() || (*nb).nb_index.is_some());
        if ffi::PyFloat_Check(ptr) == 0 && !has_slot {
            return Err(PyTypeError::new_err(format!(
                "{func}: {name} must be a real number, got {}",
                type_name(obj)
            )));
        }
        let value = ffi::PyFloat_AsDouble(ptr);
        if value == -1.0 {
            if let Some(err) = PyErr::take(obj.py()) {
                if err.is_instance_of::<PyOverflowError>(obj.py()) {
                    return Err(PyOverflowError::new_err(format!(
                        "{func}: {name} is too large to convert to float"
                    )));
                }
                return Err(err);
            }
        }
        Ok(value)
    }
}

/// Which shape rule an array argument follows.
#[derive(Clone, Copy)]
enum Shape {
    /// `contract.check_array`: 1-D.
    Vector,
    /// `contract.check_points`: `(n, 2)`.
    Points,
}

/// A checked float64 array argument: where its data is and how many elements it has.
///
/// Only ever built by the checks below, from an array that is C-contiguous, aligned and of
/// native float64, and used while the `Bound` it came from is alive in the caller's frame, so
/// the memory cannot be freed under it (the caller's reference keeps the array alive even with
/// the GIL released).
///
/// The data pointer and length are a snapshot, true until Python code runs.  An argument's
/// `__float__` or `__index__` is Python code and may resize, reshape or retype the array; so
/// every kernel converts all such arguments *before* it checks its arrays (the contract's order
/// of checks), and no Python code runs between the snapshot and the loop.  (Creating the result
/// arrays runs no Python code: ndarray is not a GC-tracked type, so its allocation cannot start
/// a collection and its finalizers.)
pub struct F64Array<'a, 'py> {
    obj: &'a Bound<'py, PyAny>,
    writable: bool,
    data: *mut f64,
    /// Length of the first axis (rows of points).
    pub rows: usize,
    /// Number of doubles in the buffer.
    len: usize,
}

impl<'a, 'py> F64Array<'a, 'py> {
    pub fn py(&self) -> Python<'py> {
        self.obj.py()
    }

    /// The buffer as a slice, for the GIL-released loop.
    ///
    /// As in every native route, nothing stops another Python thread from writing the array
    /// while the loop reads it (NumPy's own loops share that); the slice itself stays valid
    /// because the caller holds a reference to the array.
    pub fn as_slice(&self) -> &'a [f64] {
        if self.len == 0 {
            // An empty array's data pointer may be anything (even unaligned): never form a
            // slice from it.
            return &[];
        }
        // SAFETY: checked C-contiguous, aligned, native float64 with len elements, and no Python
        // code has run since the snapshot (the kernels' rule above); alive for 'a.
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }

    /// The buffer as a mutable slice, for an in-place kernel.
    ///
    /// # Safety
    /// No other slice of this call may view the same memory.
    pub unsafe fn as_mut_slice(&self) -> &'a mut [f64] {
        assert!(
            self.writable,
            "as_mut_slice of an array not checked writable"
        );
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: as as_slice, plus the writability check and the caller's promise of exclusivity.
        unsafe { std::slice::from_raw_parts_mut(self.data, self.len) }
    }
}

/// `contract._describe`: "float32 array of shape (6,)" for an ndarray, the type name otherwise.
fn describe(obj: &Bound<'_, PyAny>) -> String {
    if let Ok(arr) = obj.cast::<PyUntypedArray>() {
        let dtype = arr.dtype().str().map(|s| s.to_string()).unwrap_or_default();
        let shape = obj
            .getattr("shape")
            .and_then(|s| s.str())
            .map(|s| s.to_string())
            .unwrap_or_default();
        return format!("{dtype} array of shape {shape}");
    }
    type_name(obj)
}

/// `contract._check_float64` then the shape rule, in the contract's order (type, dtype,
/// contiguity, alignment, writability, shape) so an argument breaking several rules raises the
/// same class as in the reference.  The caller's own array is used, never a converted copy: an
/// in-place kernel writing into a temporary would silently lose its result.
fn check<'a, 'py>(
    func: &'static str,
    name: &'static str,
    obj: &'a Bound<'py, PyAny>,
    writable: bool,
    shape: Shape,
) -> PyResult<F64Array<'a, 'py>> {
    let what = if writable {
        "a writable C-contiguous float64 array"
    } else {
        "a C-contiguous float64 array"
    };
    // PyArray_Check: ndarray and its subclasses (matrix, masked arrays: read as raw data).
    let Ok(array) = obj.cast::<PyUntypedArray>() else {
        return Err(PyTypeError::new_err(format!(
            "{func}: {name} must be {what}, got {}",
            describe(obj)
        )));
    };
    // SAFETY: array is an ndarray (checked above); the fields are copied out while we hold the GIL.
    let fields = unsafe { std::ptr::read(npyffi::_PyArray_GET_ITEM_DATA(array.as_array_ptr())) };
    // Native byte order too: a '>f8' array would read as garbage through an f64 slice.
    let descr = array.dtype();
    if descr.num() != NPY_TYPES::NPY_DOUBLE as c_int || descr.is_native_byteorder() == Some(false) {
        return Err(PyTypeError::new_err(format!(
            "{func}: {name} must be {what}, got {}",
            describe(obj)
        )));
    }
    if fields.flags & NPY_ARRAY_C_CONTIGUOUS == 0 {
        return Err(PyValueError::new_err(format!(
            "{func}: {name} must be {what}, got a non-contiguous array"
        )));
    }
    // A float64 view at an odd byte offset: an &[f64] over it would be undefined behaviour.
    if fields.flags & NPY_ARRAY_ALIGNED == 0 {
        return Err(PyValueError::new_err(format!(
            "{func}: {name} must be {what}, got a misaligned array"
        )));
    }
    if writable && fields.flags & NPY_ARRAY_WRITEABLE == 0 {
        return Err(PyValueError::new_err(format!(
            "{func}: {name} must be {what}, got a read-only array"
        )));
    }
    // ndim before any dimension is read: a 0-D array's dimensions pointer may be NULL.
    // SAFETY (the dimension reads): dimensions holds nd entries, and nd is checked first;
    // NumPy never has negative dimensions.
    let (rows, len) = match shape {
        Shape::Vector if fields.nd == 1 => {
            let n = unsafe { *fields.dimensions } as usize;
            (n, n)
        }
        Shape::Vector => {
            return Err(PyValueError::new_err(format!(
                "{func}: {name} must be 1-D, got {}",
                describe(obj)
            )));
        }
        Shape::Points if fields.nd == 2 && unsafe { *fields.dimensions.add(1) } == 2 => {
            let n = unsafe { *fields.dimensions } as usize;
            (n, 2 * n)
        }
        Shape::Points => {
            return Err(PyValueError::new_err(format!(
                "{func}: {name} must have shape (n, 2), got {}",
                describe(obj)
            )));
        }
    };
    Ok(F64Array {
        obj,
        writable,
        data: fields.data.cast(),
        rows,
        len,
    })
}

/// `contract.check_array`: a 1-D, C-contiguous, aligned, native float64 ndarray (and writable
/// for an in-place kernel).
pub fn check_array<'a, 'py>(
    func: &'static str,
    name: &'static str,
    obj: &'a Bound<'py, PyAny>,
    writable: bool,
) -> PyResult<F64Array<'a, 'py>> {
    check(func, name, obj, writable, Shape::Vector)
}

/// `contract.check_points`: an `(n, 2)`, C-contiguous, aligned, native float64 ndarray.
pub fn check_points<'a, 'py>(
    func: &'static str,
    name: &'static str,
    obj: &'a Bound<'py, PyAny>,
) -> PyResult<F64Array<'a, 'py>> {
    check(func, name, obj, false, Shape::Points)
}

/// `contract.check_same_length`.
pub fn check_same_length(
    func: &str,
    a: &F64Array<'_, '_>,
    b: &F64Array<'_, '_>,
    names: &str,
) -> PyResult<()> {
    if a.rows != b.rows {
        return Err(PyValueError::new_err(format!(
            "{func}: {names} must have the same length, got {} and {}",
            a.rows, b.rows
        )));
    }
    Ok(())
}

/// `contract.check_texts`: `texts` must be a list (or a subclass) whose every element is a str
/// (or a subclass); TypeError naming the first offender otherwise, before any text is read.
///
/// Returns new references to the elements, so the batch stays alive and fixed even if the list
/// is changed later in the call (nothing here runs Python code, but the tokenizer calls
/// `unicodedata` afterwards, and a garbage collection there may run arbitrary finalizers).  Only
/// the raw list and the raw strings are read: overridden methods of subclasses are never called.
pub fn check_texts<'py>(
    func: &str,
    texts: &Bound<'py, PyAny>,
) -> PyResult<Vec<Bound<'py, PyString>>> {
    let list = texts.cast::<PyList>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{func}: texts must be a list of str, got {}",
            type_name(texts)
        ))
    })?;
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        match item.cast_into::<PyString>() {
            Ok(text) => out.push(text),
            Err(err) => {
                return Err(PyTypeError::new_err(format!(
                    "{func}: texts[{i}] must be str, got {}",
                    type_name(&err.into_inner())
                )))
            }
        }
    }
    Ok(out)
}
