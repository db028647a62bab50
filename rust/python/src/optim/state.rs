//! `state_dict()` / `load_state_dict()` plumbing shared by the optimizer classes: plain Python
//! values and NumPy copies of every buffer, checked against the parameters on load.

use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use ruvector_training_core::optim::FloatVec;

use super::params::{read_like, ParamList};
use crate::args::{integer, short_repr, type_name};

/// A NumPy copy of `buffer` with the parameter's shape.
pub fn buffer_to_numpy<'py>(
    py: Python<'py>,
    buffer: &FloatVec,
    shape: &[usize],
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match buffer {
        FloatVec::F32(values) => PyArray1::from_slice(py, values)
            .reshape(shape.to_vec())?
            .into_any(),
        FloatVec::F64(values) => PyArray1::from_slice(py, values)
            .reshape(shape.to_vec())?
            .into_any(),
    })
}

/// A new state dict holding the optimizer name and step count.
pub fn new_state_dict<'py>(
    py: Python<'py>,
    optimizer: &str,
    steps: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("optimizer", optimizer)?;
    dict.set_item("step", steps)?;
    Ok(dict)
}

/// A state dict being loaded: every accessor names the offending key in its error.
pub struct LoadedState<'py> {
    dict: Bound<'py, PyDict>,
}

impl<'py> LoadedState<'py> {
    /// Checks that `obj` is a dict saved by the optimizer called `optimizer`.
    pub fn open(obj: &Bound<'py, PyAny>, optimizer: &str) -> PyResult<Self> {
        let dict = obj.cast::<PyDict>().map_err(|_| {
            PyTypeError::new_err(format!(
                "state_dict: expected a dict from state_dict(), got {}",
                type_name(obj)
            ))
        })?;
        let this = Self { dict: dict.clone() };
        let saved: String = this.extract("optimizer", "a string")?;
        if saved != optimizer {
            return Err(PyValueError::new_err(format!(
                "state_dict['optimizer']: expected '{optimizer}', got '{saved}' (saved by another optimizer class)"
            )));
        }
        Ok(this)
    }

    /// The value under `key`, or a `ValueError` naming the missing key.
    fn item(&self, key: &str) -> PyResult<Bound<'py, PyAny>> {
        self.dict
            .get_item(key)?
            .ok_or_else(|| PyValueError::new_err(format!("state_dict: missing key '{key}'")))
    }

    /// The value under `key` converted to `V`, or a `TypeError` saying what was `expected`.
    pub fn extract<V>(&self, key: &str, expected: &str) -> PyResult<V>
    where
        V: FromPyObjectOwned<'py>,
    {
        let value = self.item(key)?;
        value.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "state_dict['{key}']: expected {expected}, got {}",
                type_name(&value)
            ))
        })
    }

    /// The step count: a non-negative integer (not a bool or a float).
    pub fn steps(&self) -> PyResult<u64> {
        let value = self.item("step")?;
        let steps = integer("state_dict['step']", &value)?;
        u64::try_from(steps).map_err(|_| {
            PyValueError::new_err(format!(
                "state_dict['step']: expected a non-negative integer step count, got {}",
                short_repr(&value)
            ))
        })
    }

    /// The per-parameter state dicts: one per parameter.
    pub fn per_param(&self, params: &ParamList) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let value = self.item("state")?;
        let list = value.cast::<PyList>().map_err(|_| {
            PyTypeError::new_err(format!(
                "state_dict['state']: expected a list of dicts, got {}",
                type_name(&value)
            ))
        })?;
        if list.len() != params.len() {
            return Err(PyValueError::new_err(format!(
                "state_dict['state']: expected {} entries (one per parameter), got {}",
                params.len(),
                list.len()
            )));
        }
        list.iter()
            .enumerate()
            .map(|(i, entry)| {
                entry.cast_into::<PyDict>().map_err(|err| {
                    PyTypeError::new_err(format!(
                        "state_dict['state'][{i}]: expected a dict, got {}",
                        type_name(&err.into_inner())
                    ))
                })
            })
            .collect()
    }
}

/// What a loaded buffer's values must satisfy besides being finite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// Any finite value (first moments, momentum buffers).
    Finite,
    /// Finite and `>= 0` (second moments).
    NonNegative,
}

/// Buffer `key` of parameter `i` from its state dict entry: `None` when absent or None,
/// otherwise a copy checked to have the parameter's dtype and shape and values allowed by
/// `values` (a NaN/Inf moment or a negative second moment would silently derail every later
/// step, so it is refused like a bad constructor argument).
pub fn load_buffer(
    entry: &Bound<'_, PyDict>,
    key: &str,
    params: &ParamList,
    i: usize,
    values: Values,
) -> PyResult<Option<FloatVec>> {
    let Some(value) = entry.get_item(key)? else {
        return Ok(None);
    };
    if value.is_none() {
        return Ok(None);
    }
    let name = format!("state_dict['state'][{i}]['{key}']");
    let array = read_like(
        &name,
        &value,
        params.dtype(i),
        params.shape(i),
        &format!("params[{i}]"),
    )?;
    let buffer = array.data()?.into_owned(&name)?;
    let bad = match &buffer {
        FloatVec::F32(v) => first_bad(v.iter().map(|&x| f64::from(x)), values),
        FloatVec::F64(v) => first_bad(v.iter().copied(), values),
    };
    if let Some((index, value)) = bad {
        let what = if value.is_finite() {
            "a negative value"
        } else {
            "a non-finite value"
        };
        return Err(PyValueError::new_err(format!(
            "{name}: contains {what} ({value}) at flat index {index}"
        )));
    }
    Ok(Some(buffer))
}

/// The first value `values` does not allow, with its flat index.
fn first_bad(data: impl Iterator<Item = f64>, values: Values) -> Option<(usize, f64)> {
    data.enumerate()
        .find(|&(_, x)| !x.is_finite() || (values == Values::NonNegative && x < 0.0))
}

/// Like [`load_buffer`], but the buffer must be present.
pub fn require_buffer(
    entry: &Bound<'_, PyDict>,
    key: &str,
    params: &ParamList,
    i: usize,
    values: Values,
) -> PyResult<FloatVec> {
    load_buffer(entry, key, params, i, values)?.ok_or_else(|| {
        PyValueError::new_err(format!("state_dict['state'][{i}]: missing buffer '{key}'"))
    })
}
