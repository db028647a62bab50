//! NumPy arguments in (type and dtype checks, zero-copy views, error mapping) and results out
//! (the loss object and the `(loss, grads)` tuple every loss returns).

use std::borrow::Cow;

use numpy::{
    dtype, Element, PyArray1, PyArrayDescrMethods, PyArrayMethods, PyReadonlyArrayDyn,
    PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{
    PyKeyboardInterrupt, PyMemoryError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyTuple};
use ruvector_training_core::linalg::StridedRef;
use ruvector_training_core::{Float, MatRef, Reduction, TrainingError};

/// The float element types the kernels accept: the core's [`Dtype`](ruvector_training_core::Dtype).
pub use ruvector_training_core::Dtype as FloatDtype;

/// Maps a core error to the Python exception the spec names: `MemoryError` for a failed
/// allocation, `RuntimeError` for a numerical method that failed on valid input,
/// `KeyboardInterrupt` for a cancelled call, `ValueError` for everything else.
pub fn to_py_err(error: TrainingError) -> PyErr {
    match error {
        TrainingError::OutOfMemory { .. } => PyMemoryError::new_err(error.to_string()),
        TrainingError::Numerical { .. } => PyRuntimeError::new_err(error.to_string()),
        TrainingError::Cancelled => PyKeyboardInterrupt::new_err(error.to_string()),
        _ => PyValueError::new_err(error.to_string()),
    }
}

/// The `MemoryError` raised when `len` elements of `T` for `arg` cannot be allocated (or their
/// byte size overflows): raised before the kernel starts, never an abort.
pub fn memory_error<T>(arg: &str, len: usize, what: &str) -> PyErr {
    let bytes = len
        .checked_mul(std::mem::size_of::<T>())
        .map_or_else(|| "more than 2**64".to_string(), |b| b.to_string());
    PyMemoryError::new_err(format!(
        "{arg}: could not allocate {bytes} bytes for {what}"
    ))
}

/// An empty vector with room for exactly `len` elements of `T`, or a `MemoryError` naming
/// `arg` (`what` says what the memory is for). Every buffer the bindings size by an input
/// comes from here.
pub fn try_vec<T>(arg: &str, len: usize, what: &str) -> PyResult<Vec<T>> {
    let fits = len
        .checked_mul(std::mem::size_of::<T>())
        .is_some_and(|bytes| bytes <= isize::MAX as usize);
    let mut out = Vec::new();
    if !fits || out.try_reserve_exact(len).is_err() {
        return Err(memory_error::<T>(arg, len, what));
    }
    Ok(out)
}

/// Collects exactly `len` items into a vector reserved fallibly (see [`try_vec`]).
pub fn try_collect<T>(
    arg: &str,
    len: usize,
    what: &str,
    items: impl IntoIterator<Item = T>,
) -> PyResult<Vec<T>> {
    let mut out = try_vec(arg, len, what)?;
    out.extend(items);
    Ok(out)
}

/// A `ValueError` with the `"{arg}: {message}"` convention.
pub fn value_error(arg: &str, message: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{arg}: {message}"))
}

/// Returns the array behind `obj` or a `TypeError` naming `arg` when it is not an ndarray.
pub fn as_ndarray<'a, 'py>(
    arg: &str,
    obj: &'a Bound<'py, PyAny>,
) -> PyResult<&'a Bound<'py, PyUntypedArray>> {
    ndarray_of(arg, obj, "float32 or float64")
}

/// As [`as_ndarray`], with `kind` (e.g. "an integer dtype") named in the error.
pub fn ndarray_of<'a, 'py>(
    arg: &str,
    obj: &'a Bound<'py, PyAny>,
    kind: &str,
) -> PyResult<&'a Bound<'py, PyUntypedArray>> {
    obj.cast::<PyUntypedArray>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{arg}: expected a numpy.ndarray of {kind}, got {}",
            crate::args::type_name(obj)
        ))
    })
}

/// The float dtype of `obj`, or a `TypeError` naming `arg`.
pub fn float_dtype(arg: &str, obj: &Bound<'_, PyAny>) -> PyResult<FloatDtype> {
    let array = as_ndarray(arg, obj)?;
    let py = obj.py();
    let descr = array.dtype();
    if descr.is_equiv_to(&dtype::<f32>(py)) {
        Ok(FloatDtype::F32)
    } else if descr.is_equiv_to(&dtype::<f64>(py)) {
        Ok(FloatDtype::F64)
    } else {
        Err(PyTypeError::new_err(format!(
            "{arg}: expected dtype float32 or float64, got {descr}"
        )))
    }
}

/// Checks that `obj` has the same float dtype as the reference argument.
pub fn ensure_same_dtype(
    arg: &str,
    obj: &Bound<'_, PyAny>,
    expected: FloatDtype,
    reference: &str,
) -> PyResult<()> {
    let found = float_dtype(arg, obj)?;
    if found == expected {
        Ok(())
    } else {
        Err(PyTypeError::new_err(format!(
            "{arg}: dtype {} does not match {reference} ({}); pass arrays of one dtype",
            found.name(),
            expected.name()
        )))
    }
}

/// A read-only float array: its shape and its elements in row-major order, borrowed when the
/// array is C-contiguous and copied (fallibly) otherwise.
pub struct FloatArray<'py, T: Element> {
    readonly: PyReadonlyArrayDyn<'py, T>,
    /// The array's shape.
    pub shape: Vec<usize>,
    /// The argument name, for errors.
    arg: String,
}

impl<'py, T: Element + Copy> FloatArray<'py, T> {
    /// Extracts `obj` (already checked to have dtype `T`) and checks its number of dimensions.
    pub fn extract(
        arg: &str,
        obj: &Bound<'py, PyAny>,
        ndim: usize,
        layout: &str,
    ) -> PyResult<Self> {
        let readonly: PyReadonlyArrayDyn<'py, T> = obj.extract()?;
        let shape = readonly.shape().to_vec();
        if shape.len() != ndim {
            return Err(value_error(
                arg,
                format!(
                    "expected a {ndim}-D array {layout}, got shape {}",
                    format_shape(&shape)
                ),
            ));
        }
        Ok(Self {
            readonly,
            shape,
            arg: arg.to_string(),
        })
    }

    /// The elements in row-major order: zero-copy when C-contiguous, copied otherwise
    /// (`as_slice` alone would also accept Fortran order, whose memory order is not row-major).
    ///
    /// The copy of a strided or broadcast (stride-0) view is reserved fallibly before anything
    /// is read: a view too large to copy is a `MemoryError` naming the argument.
    pub fn elements(&self) -> PyResult<Cow<'_, [T]>> {
        if self.readonly.is_c_contiguous() {
            if let Ok(slice) = self.readonly.as_slice() {
                return Ok(Cow::Borrowed(slice));
            }
        }
        let len = self.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        let len = len.ok_or_else(|| memory_error::<T>(&self.arg, usize::MAX, COPY))?;
        let mut out = try_vec(&self.arg, len, COPY)?;
        out.extend(self.readonly.as_array().iter().copied());
        Ok(Cow::Owned(out))
    }

    /// The elements as an owned row-major vector (a fallible copy, see [`Self::elements`]).
    pub fn to_owned_vec(&self) -> PyResult<Vec<T>> {
        match self.elements()? {
            Cow::Owned(values) => Ok(values),
            Cow::Borrowed(values) => {
                let mut out = try_vec(&self.arg, values.len(), "a copy of the array")?;
                out.extend_from_slice(values);
                Ok(out)
            }
        }
    }
}

impl<'py, T: Element + Float> FloatArray<'py, T> {
    /// A 2-D array as the search reads it: in place when C-contiguous or when its strides are
    /// positive, element-aligned and non-overlapping (Fortran order, row or column slices),
    /// so a large strided corpus is read tile by tile instead of copied; otherwise (broadcast
    /// or otherwise overlapping views, negative strides) the fallible copy of
    /// [`Self::elements`], whose size is that of the view.
    pub fn matrix(&self) -> PyResult<Matrix<'_, T>> {
        if let Some(view) = self.strided_view() {
            return Ok(Matrix::View(view));
        }
        Ok(Matrix::Copy(self.elements()?, self.shape[0], self.shape[1]))
    }

    fn strided_view(&self) -> Option<StridedRef<'_, T>> {
        let &[rows, cols] = &self.shape[..] else {
            return None;
        };
        if rows < 2 || cols < 2 || self.readonly.is_c_contiguous() {
            return None;
        }
        let item = std::mem::size_of::<T>() as isize;
        let strides = self.readonly.strides();
        let (rs, cs) = (strides[0], strides[1]);
        if rs <= 0 || cs <= 0 || rs % item != 0 || cs % item != 0 {
            return None;
        }
        let (rs, cs) = ((rs / item) as usize, (cs / item) as usize);
        // Non-overlapping: the inner axis's extent fits within one step of the outer axis.
        let disjoint = if cs <= rs {
            cs.checked_mul(cols)? <= rs
        } else {
            rs.checked_mul(rows)? <= cs
        };
        let ptr = self.readonly.data() as *const T;
        if !disjoint || (ptr as usize) % std::mem::align_of::<T>() != 0 {
            return None;
        }
        let len = (rows - 1) * rs + (cols - 1) * cs + 1;
        // SAFETY: NumPy guarantees every element `(i, j)` at `ptr + i*rs + j*cs` (checked
        // positive and element-aligned above) lies in the array's buffer, so the `len`
        // elements up to the last one are readable; the read-only borrow held by `self`
        // keeps the buffer alive and unmodified by Rust for the slice's lifetime. Elements in
        // the span that belong to no array element (gaps of a slice) are never read.
        let data = unsafe { std::slice::from_raw_parts(ptr, len) };
        StridedRef::new(data, rows, cols, rs, cs)
    }
}

/// A 2-D float argument ready for a kernel: read in place (strided) or a row-major copy.
pub enum Matrix<'a, T: Clone> {
    /// Read in place with its own strides.
    View(StridedRef<'a, T>),
    /// Row-major elements (borrowed when C-contiguous) and the shape.
    Copy(Cow<'a, [T]>, usize, usize),
}

impl<T: Float> Matrix<'_, T> {
    /// The kernels' view of it.
    pub fn view(&self) -> StridedRef<'_, T> {
        match self {
            Self::View(view) => *view,
            Self::Copy(data, rows, cols) => MatRef::new(data, *rows, *cols).into(),
        }
    }
}

/// What a copy of a non-contiguous argument is for (in `MemoryError` messages).
const COPY: &str = "a contiguous copy of this non-C-contiguous (strided or broadcast) array";

/// Formats a shape as NumPy prints it.
pub fn format_shape(shape: &[usize]) -> String {
    ruvector_training_core::validate::format_shape(shape)
}

/// The loss as Python returns it: a float for `mean`/`sum`, an array shaped `shape` for `none`.
pub fn loss_object<'py, T: Float + Element>(
    py: Python<'py>,
    reduction: Reduction,
    loss: f64,
    items: &[f64],
    shape: Vec<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    if reduction == Reduction::None {
        let values = try_collect(
            "reduction",
            items.len(),
            "the per-item losses",
            items.iter().map(|&v| T::from_f64(v)),
        )?;
        // A finite per-item loss beyond the input dtype's range would come back as inf.
        if let Some(index) = values.iter().position(|v| !v.to_f64().is_finite()) {
            return Err(value_error(
                "reduction",
                format!(
                    "the per-item loss {} at index {index} is beyond the {} range of the inputs; \
                     pass float64 inputs, reduce the margin/scale, or use reduction='mean' or 'sum'",
                    items[index],
                    T::NAME
                ),
            ));
        }
        Ok(PyArray1::from_vec(py, values).reshape(shape)?.into_any())
    } else {
        Ok(PyFloat::new(py, loss).into_any())
    }
}

/// `(loss, grads)` with `None` in place of every missing gradient.
pub fn result_tuple<'py, T: Element>(
    py: Python<'py>,
    loss: Bound<'py, PyAny>,
    grads: Vec<Option<(Vec<T>, Vec<usize>)>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let items = grads
        .into_iter()
        .map(|grad| match grad {
            Some((data, shape)) => Ok(PyArray1::from_vec(py, data).reshape(shape)?.into_any()),
            None => Ok(py.None().into_bound(py)),
        })
        .collect::<PyResult<Vec<_>>>()?;
    let grads = PyTuple::new(py, items)?;
    PyTuple::new(py, [loss, grads.into_any()])
}
