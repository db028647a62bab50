//! The optimizer classes (`SGD`, `Adam`, `AdamW`) and `clip_grad_norm`: parameters are NumPy
//! arrays updated in place, the state lives in the core optimizer (see the stub file).

mod adam;
mod params;
mod sgd;
mod state;

use pyo3::prelude::*;
use ruvector_training_core::optim::{self, validate_max_norm, Optimizer};

pub use adam::{PyAdam, PyAdamW};
pub use sgd::PySgd;

use crate::arrays::to_py_err;
use params::ParamList;

/// Clips the global L2 norm of `grads` in place and returns the norm before clipping.
#[pyfunction]
#[pyo3(signature = (grads, max_norm))]
pub fn clip_grad_norm(grads: &Bound<'_, PyAny>, max_norm: f64) -> PyResult<f64> {
    validate_max_norm("max_norm", max_norm).map_err(to_py_err)?;
    let arrays = ParamList::new("grads", grads)?;
    arrays
        .run_in_place(grads.py(), |views| optim::clip_grad_norm(views, max_norm))?
        .map_err(to_py_err)
}

/// One step of `optimizer` over `params` with `grads`, the GIL released; returns the gradient
/// norm before clipping.
fn step_with(
    params: &ParamList,
    optimizer: &mut impl Optimizer,
    grads: &Bound<'_, PyAny>,
) -> PyResult<f64> {
    params
        .run(grads, |p, g| optimizer.step(p, g))?
        .map_err(to_py_err)
}

/// `repr` of an optional float as Python prints it.
fn repr_option(py: Python<'_>, value: Option<f64>) -> String {
    value.map_or_else(|| "None".to_string(), |v| repr_float(py, v))
}

/// `repr` of a float as Python prints it (`0.001`, `1e-08`, `1.0`).
fn repr_float(py: Python<'_>, value: f64) -> String {
    pyo3::types::PyFloat::new(py, value)
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| value.to_string())
}

/// `True` / `False`.
fn repr_bool(value: bool) -> &'static str {
    if value {
        "True"
    } else {
        "False"
    }
}
