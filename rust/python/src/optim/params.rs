//! The parameter list an optimizer updates in place, and the gradient lists it is stepped with:
//! type, shape and layout checks, borrowing, and the zero-copy views handed to the core.

use std::borrow::Cow;

use numpy::{
    Element, PyArrayDyn, PyArrayMethods, PyReadwriteArrayDyn, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use ruvector_training_core::optim::{FloatSlice, FloatSliceMut, ParamSpec};

use crate::args::type_name;
use crate::arrays::{
    as_ndarray, float_dtype, format_shape, try_collect, value_error, FloatArray, FloatDtype,
};
use crate::kernel::run_kernel;

/// The arrays of a Python list argument (any iterable but a single array), each with its name
/// (`params[3]`) for error messages.
pub fn array_list<'py>(
    arg: &str,
    obj: &Bound<'py, PyAny>,
) -> PyResult<Vec<(String, Bound<'py, PyAny>)>> {
    if obj.cast::<PyUntypedArray>().is_ok() {
        return Err(PyTypeError::new_err(format!(
            "{arg}: expected a list of numpy arrays, got a single numpy.ndarray (wrap it: [array])"
        )));
    }
    let items = obj.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "{arg}: expected a list of numpy arrays, got {}",
            type_name(obj)
        ))
    })?;
    items
        .enumerate()
        .map(|(i, item)| Ok((format!("{arg}[{i}]"), item?)))
        .collect()
}

/// One parameter as given at construction.
struct Param {
    array: Py<PyUntypedArray>,
    dtype: FloatDtype,
    shape: Vec<usize>,
}

/// Arrays updated in place (an optimizer's parameters, or the gradients `clip_grad_norm`
/// rescales): held by reference, with their dtypes and shapes as given.
pub struct ParamList {
    arg: &'static str,
    params: Vec<Param>,
    layout: Vec<ParamSpec>,
}

impl ParamList {
    /// Checks and records the list argument `arg`: a non-empty list of distinct, writable,
    /// C-contiguous, aligned float32/float64 arrays that share no memory.
    pub fn new(arg: &'static str, params: &Bound<'_, PyAny>) -> PyResult<Self> {
        let items = array_list(arg, params)?;
        if items.is_empty() {
            return Err(value_error(
                arg,
                "expected at least one array, got an empty list",
            ));
        }
        let mut list = Vec::with_capacity(items.len());
        for (name, obj) in &items {
            let dtype = float_dtype(name, obj)?;
            let array = as_ndarray(name, obj)?;
            check_in_place_layout(name, array)?;
            list.push(Param {
                array: array.clone().unbind(),
                dtype,
                shape: array.shape().to_vec(),
            });
        }
        let layout = list
            .iter()
            .map(|p| ParamSpec::new(p.dtype, p.shape.iter().product()))
            .collect();
        let this = Self {
            arg,
            params: list,
            layout,
        };
        this.check_disjoint(params.py())?;
        Ok(this)
    }

    /// The type and length of every parameter, for the core optimizer.
    pub fn layout(&self) -> &[ParamSpec] {
        &self.layout
    }

    /// Number of parameter arrays.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// The shape of parameter `i`.
    pub fn shape(&self, i: usize) -> &[usize] {
        &self.params[i].shape
    }

    /// The dtype of parameter `i`.
    pub fn dtype(&self, i: usize) -> FloatDtype {
        self.params[i].dtype
    }

    /// The parameter arrays themselves (the objects given at construction).
    pub fn arrays<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyUntypedArray>> {
        self.params
            .iter()
            .map(|p| p.array.bind(py).clone())
            .collect()
    }

    /// Total number of scalar parameters.
    pub fn element_count(&self) -> usize {
        self.layout.iter().map(|s| s.len).sum()
    }

    /// Fails when two parameters are the same array or share memory: borrows all at once.
    fn check_disjoint(&self, py: Python<'_>) -> PyResult<()> {
        for (i, p) in self.params.iter().enumerate() {
            if let Some(j) = self.params[..i].iter().position(|q| q.array.is(&p.array)) {
                return Err(value_error(
                    &format!("{}[{i}]", self.arg),
                    format!(
                        "is the same array as {}[{j}]; pass each array once",
                        self.arg
                    ),
                ));
            }
        }
        self.borrow_all(py).map(drop)
    }

    /// Borrows every parameter for writing, re-checking that none changed shape, dtype or
    /// layout since construction. A failed borrow means the memory is shared with an array
    /// already borrowed (another parameter, or a gradient borrowed first by [`Self::run`]).
    fn borrow_all<'py>(&self, py: Python<'py>) -> PyResult<Vec<ParamBorrow<'py>>> {
        self.params
            .iter()
            .enumerate()
            .map(|(i, p)| p.borrow(py, &format!("{}[{i}]", self.arg)))
            .collect()
    }

    /// Borrows every array for writing and runs `update` on the views with the GIL released.
    pub fn run_in_place<R: Send>(
        &self,
        py: Python<'_>,
        update: impl FnOnce(&mut [FloatSliceMut<'_>]) -> R + Send,
    ) -> PyResult<R> {
        let mut borrows = self.borrow_all(py)?;
        let mut views = self.views(&mut borrows)?;
        run_kernel(py, || update(&mut views))
    }

    /// The writable views of borrowed arrays.
    fn views<'a>(&self, borrows: &'a mut [ParamBorrow<'_>]) -> PyResult<Vec<FloatSliceMut<'a>>> {
        borrows
            .iter_mut()
            .enumerate()
            .map(|(i, b)| b.view(&format!("{}[{i}]", self.arg)))
            .collect()
    }

    /// Reads `grads` (checked against the parameters in count, dtype and shape), borrows the
    /// parameters for writing, and runs `update` on zero-copy views with the GIL released.
    /// Gradients that are not C-contiguous are copied; parameters never are.
    pub fn run<R: Send>(
        &self,
        grads: &Bound<'_, PyAny>,
        update: impl FnOnce(&mut [FloatSliceMut<'_>], &[FloatSlice<'_>]) -> R + Send,
    ) -> PyResult<R> {
        let py = grads.py();
        let grad_arrays = self.read_grads(grads)?;
        let grad_data = grad_arrays
            .iter()
            .map(GradArray::data)
            .collect::<PyResult<Vec<GradData<'_>>>>()?;
        let grad_views: Vec<FloatSlice<'_>> = grad_data.iter().map(GradData::view).collect();
        let mut borrows = self.borrow_all(py).map_err(|err| aliasing_hint(py, err))?;
        let mut param_views = self.views(&mut borrows)?;
        run_kernel(py, || update(&mut param_views, &grad_views))
    }

    /// Checks and borrows (read-only) one gradient per parameter.
    pub fn read_grads<'py>(&self, grads: &Bound<'py, PyAny>) -> PyResult<Vec<GradArray<'py>>> {
        let items = array_list("grads", grads)?;
        if items.len() != self.params.len() {
            return Err(value_error(
                "grads",
                format!(
                    "expected {} arrays (one per parameter), got {}",
                    self.params.len(),
                    items.len()
                ),
            ));
        }
        items
            .iter()
            .zip(&self.params)
            .enumerate()
            .map(|(i, ((name, obj), param))| {
                GradArray::read(name, obj, param, &format!("{}[{i}]", self.arg))
            })
            .collect()
    }
}

/// Refuses arrays the optimizer cannot update in place: not C-contiguous, or misaligned
/// (read-only arrays are refused when borrowed for writing).
fn check_in_place_layout(name: &str, array: &Bound<'_, PyUntypedArray>) -> PyResult<()> {
    if !array.is_c_contiguous() {
        return Err(value_error(
            name,
            "must be C-contiguous to be updated in place (got a strided or Fortran-ordered \
             view; pass np.ascontiguousarray(x) and keep that array as the parameter)",
        ));
    }
    if !array.is_aligned() {
        return Err(value_error(
            name,
            "must be aligned to its element size to be updated in place",
        ));
    }
    Ok(())
}

/// Rewords a failed parameter borrow during a step: the usual cause is a gradient that is the
/// parameter itself (or a view of it).
fn aliasing_hint(py: Python<'_>, err: PyErr) -> PyErr {
    let message = err.value(py).to_string();
    if message.contains("shares memory with another array") {
        let name = message.split(':').next().unwrap_or("params");
        PyValueError::new_err(format!(
            "{name}: shares memory with one of the gradients; a gradient must be a separate \
             array, not the parameter itself or a view of it"
        ))
    } else {
        err
    }
}

impl Param {
    /// Borrows this parameter for writing after re-checking it.
    fn borrow<'py>(&self, py: Python<'py>, name: &str) -> PyResult<ParamBorrow<'py>> {
        let array = self.array.bind(py);
        if array.shape() != self.shape.as_slice() {
            return Err(value_error(
                name,
                format!(
                    "changed shape from {} to {} since the optimizer was created",
                    format_shape(&self.shape),
                    format_shape(array.shape())
                ),
            ));
        }
        check_in_place_layout(name, array)?;
        let any = array.as_any();
        Ok(match float_dtype(name, any)? {
            FloatDtype::F32 if self.dtype == FloatDtype::F32 => {
                ParamBorrow::F32(borrow_typed(name, any)?)
            }
            FloatDtype::F64 if self.dtype == FloatDtype::F64 => {
                ParamBorrow::F64(borrow_typed(name, any)?)
            }
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "{name}: dtype changed since the optimizer was created"
                )))
            }
        })
    }
}

fn borrow_typed<'py, T: Element>(
    name: &str,
    obj: &Bound<'py, PyAny>,
) -> PyResult<PyReadwriteArrayDyn<'py, T>> {
    let array = obj.cast::<PyArrayDyn<T>>()?;
    array.try_readwrite().map_err(|err| match err {
        numpy::BorrowError::NotWriteable => value_error(
            name,
            "is read-only (flags.writeable is False); it must be writable to be updated in place",
        ),
        _ => value_error(
            name,
            "shares memory with another array passed alongside it (the same array or a view)",
        ),
    })
}

/// A parameter borrowed for writing.
enum ParamBorrow<'py> {
    F32(PyReadwriteArrayDyn<'py, f32>),
    F64(PyReadwriteArrayDyn<'py, f64>),
}

impl ParamBorrow<'_> {
    /// The parameter's elements (C-contiguous and aligned, checked when borrowed).
    fn view(&mut self, name: &str) -> PyResult<FloatSliceMut<'_>> {
        let not_contiguous = |_| value_error(name, "must be C-contiguous and aligned");
        Ok(match self {
            Self::F32(a) => FloatSliceMut::F32(a.as_slice_mut().map_err(not_contiguous)?),
            Self::F64(a) => FloatSliceMut::F64(a.as_slice_mut().map_err(not_contiguous)?),
        })
    }
}

/// A gradient borrowed for reading.
pub enum GradArray<'py> {
    /// A float32 gradient.
    F32(FloatArray<'py, f32>),
    /// A float64 gradient.
    F64(FloatArray<'py, f64>),
}

impl<'py> GradArray<'py> {
    /// Reads `obj` as the gradient of `param` (named `param_name`): same dtype (else
    /// `TypeError`) and shape (else `ValueError`).
    fn read(
        name: &str,
        obj: &Bound<'py, PyAny>,
        param: &Param,
        param_name: &str,
    ) -> PyResult<Self> {
        read_like(name, obj, param.dtype, &param.shape, param_name)
    }

    /// Elements in row-major order (borrowed when C-contiguous, else a fallible copy).
    pub fn data(&self) -> PyResult<GradData<'_>> {
        Ok(match self {
            Self::F32(a) => GradData::F32(a.elements()?),
            Self::F64(a) => GradData::F64(a.elements()?),
        })
    }
}

/// Reads `obj` as an array of `dtype` and `shape`, like the array named `like`: a `TypeError`
/// for a non-array or another dtype, a `ValueError` for another shape.
pub fn read_like<'py>(
    name: &str,
    obj: &Bound<'py, PyAny>,
    dtype: FloatDtype,
    shape: &[usize],
    like: &str,
) -> PyResult<GradArray<'py>> {
    let found = float_dtype(name, obj)?;
    if found != dtype {
        return Err(PyTypeError::new_err(format!(
            "{name}: expected dtype {} like {like}, got {}",
            dtype.name(),
            found.name()
        )));
    }
    let expected = format!("like {like} {}", format_shape(shape));
    let array = match dtype {
        FloatDtype::F32 => GradArray::F32(FloatArray::extract(name, obj, shape.len(), &expected)?),
        FloatDtype::F64 => GradArray::F64(FloatArray::extract(name, obj, shape.len(), &expected)?),
    };
    let got = match &array {
        GradArray::F32(a) => &a.shape,
        GradArray::F64(a) => &a.shape,
    };
    if got.as_slice() != shape {
        return Err(value_error(
            name,
            format!("expected shape {expected}, got {}", format_shape(got)),
        ));
    }
    Ok(array)
}

/// A gradient's elements, borrowed or copied.
pub enum GradData<'a> {
    /// float32 elements.
    F32(Cow<'a, [f32]>),
    /// float64 elements.
    F64(Cow<'a, [f64]>),
}

impl GradData<'_> {
    /// The core's view of the elements.
    pub fn view(&self) -> FloatSlice<'_> {
        match self {
            Self::F32(data) => FloatSlice::F32(data),
            Self::F64(data) => FloatSlice::F64(data),
        }
    }

    /// The elements as an owned state buffer (a borrowed view is copied fallibly: a
    /// `MemoryError` naming `arg` when it does not fit).
    pub fn into_owned(self, arg: &str) -> PyResult<ruvector_training_core::optim::FloatVec> {
        fn owned<T: Clone>(arg: &str, data: Cow<'_, [T]>) -> PyResult<Vec<T>> {
            match data {
                Cow::Owned(values) => Ok(values),
                Cow::Borrowed(values) => try_collect(
                    arg,
                    values.len(),
                    "a copy of the buffer",
                    values.iter().cloned(),
                ),
            }
        }
        Ok(match self {
            Self::F32(data) => owned(arg, data)?.into(),
            Self::F64(data) => owned(arg, data)?.into(),
        })
    }
}
