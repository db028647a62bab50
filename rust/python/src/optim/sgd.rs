//! The `SGD` Python class.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use ruvector_training_core::optim::{Optimizer, Sgd, SgdConfig};

use super::params::ParamList;
use super::state::{
    buffer_to_numpy, load_buffer, new_state_dict, require_buffer, LoadedState, Values,
};
use super::PyOptimizer;
use crate::arrays::to_py_err;

/// `torch.optim.SGD` on NumPy arrays updated in place (see the stub file).
#[pyclass(name = "SGD", extends = PyOptimizer, module = "ruvector_training._core")]
pub struct PySgd;

crate::args::real_args!(
    lr_arg => "lr",
    momentum_arg => "momentum",
    dampening_arg => "dampening",
    weight_decay_arg => "weight_decay",
);
crate::args::optional_real_args!(max_grad_norm_arg => "max_grad_norm");

super::optimizer_fields! {
    Sgd(SgdConfig) {
        lr: f64, inherited;
        /// Momentum factor (finite, >= 0).
        momentum: f64;
        /// Dampening of the momentum update (finite; 0 with Nesterov).
        dampening: f64;
        /// Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        nesterov: bool;
        /// L2 penalty (finite, >= 0).
        weight_decay: f64;
        max_grad_norm: Option<f64>, inherited;
    }

#[pymethods]
impl PySgd {
    #[new]
    #[pyo3(signature = (params, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=false, weight_decay=0.0, max_grad_norm=None, check_finite=true))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        params: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = lr_arg)] lr: f64,
        #[pyo3(from_py_with = momentum_arg)] momentum: f64,
        #[pyo3(from_py_with = dampening_arg)] dampening: f64,
        nesterov: bool,
        #[pyo3(from_py_with = weight_decay_arg)] weight_decay: f64,
        #[pyo3(from_py_with = max_grad_norm_arg)] max_grad_norm: Option<f64>,
        check_finite: bool,
    ) -> PyResult<PyClassInitializer<Self>> {
        let config = SgdConfig {
            lr,
            momentum,
            dampening,
            nesterov,
            weight_decay,
            max_grad_norm,
        };
        config.validate().map_err(to_py_err)?;
        let base = PyOptimizer::create(params, check_finite, |p| Sgd::new(config, p.layout()))?;
        Ok(PyClassInitializer::from(base).add_subclass(Self))
    }
}
}

/// `state_dict()` of an SGD optimizer: hyper-parameters, step count and NumPy copies of the
/// momentum buffers.
pub(super) fn save<'py>(
    sgd: &Sgd,
    py: Python<'py>,
    params: &ParamList,
) -> PyResult<Bound<'py, PyDict>> {
    let c = sgd.config();
    let dict = new_state_dict(py, "SGD", sgd.steps())?;
    dict.set_item("lr", c.lr)?;
    dict.set_item("momentum", c.momentum)?;
    dict.set_item("dampening", c.dampening)?;
    dict.set_item("nesterov", c.nesterov)?;
    dict.set_item("weight_decay", c.weight_decay)?;
    dict.set_item("max_grad_norm", c.max_grad_norm)?;
    let mut state = Vec::with_capacity(params.len());
    for (i, buffer) in sgd.momentum_buffers().iter().enumerate() {
        let entry = PyDict::new(py);
        let array = buffer
            .as_ref()
            .map(|b| buffer_to_numpy(py, b, params.shape(i)))
            .transpose()?;
        entry.set_item("momentum_buffer", array)?;
        state.push(entry);
    }
    dict.set_item("state", state)?;
    Ok(dict)
}

/// The SGD optimizer a `state_dict()` describes, checked completely.
pub(super) fn load(state_dict: &Bound<'_, PyAny>, params: &ParamList) -> PyResult<Sgd> {
    let loaded = LoadedState::open(state_dict, "SGD")?;
    let config = SgdConfig {
        lr: loaded.extract("lr", "a float")?,
        momentum: loaded.extract("momentum", "a float")?,
        dampening: loaded.extract("dampening", "a float")?,
        nesterov: loaded.extract("nesterov", "a bool")?,
        weight_decay: loaded.extract("weight_decay", "a float")?,
        max_grad_norm: loaded.extract("max_grad_norm", "a float or None")?,
    };
    let steps = loaded.steps()?;
    // After a step with momentum every parameter has a buffer; loading without one would
    // restart the momentum silently.
    let needs_buffer = config.momentum != 0.0 && steps > 0;
    let buffers = loaded
        .per_param(params)?
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let key = "momentum_buffer";
            if needs_buffer {
                require_buffer(entry, key, params, i, Values::Finite).map(Some)
            } else {
                load_buffer(entry, key, params, i, Values::Finite)
            }
        })
        .collect::<PyResult<Vec<_>>>()?;
    Sgd::restore(config, params.layout(), steps, buffers).map_err(to_py_err)
}
