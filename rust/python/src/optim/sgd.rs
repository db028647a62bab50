//! The `SGD` Python class.

use numpy::PyUntypedArray;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use ruvector_training_core::optim::{Optimizer, Sgd, SgdConfig};

use super::params::ParamList;
use super::state::{buffer_to_numpy, load_buffer, new_state_dict, LoadedState};
use super::{repr_bool, repr_float, repr_option, step_with};
use crate::arrays::to_py_err;

/// `torch.optim.SGD` on NumPy arrays updated in place (see the stub file).
#[pyclass(name = "SGD", module = "ruvector_training._core")]
pub struct PySgd {
    params: ParamList,
    inner: Sgd,
}

#[pymethods]
impl PySgd {
    #[new]
    #[pyo3(signature = (params, lr, momentum=0.0, dampening=0.0, nesterov=false, weight_decay=0.0, max_grad_norm=None))]
    fn new(
        params: &Bound<'_, PyAny>,
        lr: f64,
        momentum: f64,
        dampening: f64,
        nesterov: bool,
        weight_decay: f64,
        max_grad_norm: Option<f64>,
    ) -> PyResult<Self> {
        let config = SgdConfig {
            lr,
            momentum,
            dampening,
            nesterov,
            weight_decay,
            max_grad_norm,
        };
        config.validate().map_err(to_py_err)?;
        let params = ParamList::new("params", params)?;
        let inner = Sgd::new(config, params.layout()).map_err(to_py_err)?;
        Ok(Self { params, inner })
    }

    /// Updates every parameter in place; returns the gradient norm before clipping.
    fn step(&mut self, grads: &Bound<'_, PyAny>) -> PyResult<f64> {
        step_with(&self.params, &mut self.inner, grads)
    }

    /// Learning rate (finite, >= 0).
    #[getter]
    fn lr(&self) -> f64 {
        self.inner.config().lr
    }

    #[setter]
    fn set_lr(&mut self, value: f64) -> PyResult<()> {
        self.configure(|c| c.lr = value)
    }

    /// Momentum factor (finite, >= 0).
    #[getter]
    fn momentum(&self) -> f64 {
        self.inner.config().momentum
    }

    #[setter]
    fn set_momentum(&mut self, value: f64) -> PyResult<()> {
        self.configure(|c| c.momentum = value)
    }

    /// Dampening of the momentum update.
    #[getter]
    fn dampening(&self) -> f64 {
        self.inner.config().dampening
    }

    #[setter]
    fn set_dampening(&mut self, value: f64) -> PyResult<()> {
        self.configure(|c| c.dampening = value)
    }

    /// Nesterov momentum.
    #[getter]
    fn nesterov(&self) -> bool {
        self.inner.config().nesterov
    }

    #[setter]
    fn set_nesterov(&mut self, value: bool) -> PyResult<()> {
        self.configure(|c| c.nesterov = value)
    }

    /// L2 penalty (finite, >= 0).
    #[getter]
    fn weight_decay(&self) -> f64 {
        self.inner.config().weight_decay
    }

    #[setter]
    fn set_weight_decay(&mut self, value: f64) -> PyResult<()> {
        self.configure(|c| c.weight_decay = value)
    }

    /// Gradient-norm clipping threshold applied inside `step` (None: off).
    #[getter]
    fn max_grad_norm(&self) -> Option<f64> {
        self.inner.config().max_grad_norm
    }

    #[setter]
    fn set_max_grad_norm(&mut self, value: Option<f64>) -> PyResult<()> {
        self.configure(|c| c.max_grad_norm = value)
    }

    /// Number of steps taken.
    #[getter]
    fn step_count(&self) -> u64 {
        self.inner.steps()
    }

    /// Global L2 norm of the last step's gradients before clipping (None before a step).
    #[getter]
    fn last_grad_norm(&self) -> Option<f64> {
        self.inner.last_grad_norm()
    }

    /// Total number of scalar parameters.
    #[getter]
    fn param_count(&self) -> usize {
        self.params.element_count()
    }

    /// The parameter arrays (the objects given at construction).
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyUntypedArray>> {
        self.params.arrays(py)
    }

    /// Hyper-parameters, step count and NumPy copies of the momentum buffers.
    fn state_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let config = self.inner.config();
        let dict = new_state_dict(py, "SGD", self.inner.steps())?;
        dict.set_item("lr", config.lr)?;
        dict.set_item("momentum", config.momentum)?;
        dict.set_item("dampening", config.dampening)?;
        dict.set_item("nesterov", config.nesterov)?;
        dict.set_item("weight_decay", config.weight_decay)?;
        dict.set_item("max_grad_norm", config.max_grad_norm)?;
        let mut state = Vec::with_capacity(self.params.len());
        for (i, buffer) in self.inner.momentum_buffers().iter().enumerate() {
            let entry = PyDict::new(py);
            let array = buffer
                .as_ref()
                .map(|b| buffer_to_numpy(py, b, self.params.shape(i)))
                .transpose()?;
            entry.set_item("momentum_buffer", array)?;
            state.push(entry);
        }
        dict.set_item("state", state)?;
        Ok(dict)
    }

    /// Restores a `state_dict()`; checked completely before anything changes.
    fn load_state_dict(&mut self, state_dict: &Bound<'_, PyAny>) -> PyResult<()> {
        let loaded = LoadedState::open(state_dict, "SGD")?;
        let config = SgdConfig {
            lr: loaded.extract("lr", "a float")?,
            momentum: loaded.extract("momentum", "a float")?,
            dampening: loaded.extract("dampening", "a float")?,
            nesterov: loaded.extract("nesterov", "a bool")?,
            weight_decay: loaded.extract("weight_decay", "a float")?,
            max_grad_norm: loaded.extract("max_grad_norm", "a float or None")?,
        };
        let buffers = loaded
            .per_param(&self.params)?
            .iter()
            .enumerate()
            .map(|(i, entry)| load_buffer(entry, "momentum_buffer", &self.params, i))
            .collect::<PyResult<Vec<_>>>()?;
        self.inner = Sgd::restore(config, self.params.layout(), loaded.steps()?, buffers)
            .map_err(to_py_err)?;
        Ok(())
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let c = self.inner.config();
        format!(
            "SGD({} arrays, {} parameters, lr={}, momentum={}, dampening={}, nesterov={}, weight_decay={}, max_grad_norm={})",
            self.params.len(),
            self.params.element_count(),
            repr_float(py, c.lr),
            repr_float(py, c.momentum),
            repr_float(py, c.dampening),
            repr_bool(c.nesterov),
            repr_float(py, c.weight_decay),
            repr_option(py, c.max_grad_norm),
        )
    }
}

impl PySgd {
    /// Applies `change` to a copy of the hyper-parameters and installs it if valid.
    fn configure(&mut self, change: impl FnOnce(&mut SgdConfig)) -> PyResult<()> {
        let mut config = *self.inner.config();
        change(&mut config);
        self.inner.set_config(config).map_err(to_py_err)
    }
}
