//! The `SGD` Python class.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use ruvector_training_core::optim::{Optimizer, Sgd, SgdConfig};

use super::state::{
    buffer_to_numpy, load_buffer, new_state_dict, require_buffer, LoadedState, Values,
};
use super::{repr_bool, repr_float, Held, PyOptimizer};
use crate::args::real;

/// `torch.optim.SGD` on NumPy arrays updated in place (see the stub file).
#[pyclass(name = "SGD", extends = PyOptimizer, module = "ruvector_training._core")]
pub struct PySgd;

/// The hyper-parameters of the `SGD` object `slf`.
fn config(slf: &PyRef<'_, PySgd>) -> SgdConfig {
    slf.as_super().with::<Sgd, _>(slf.py(), |o| o.current())
}

/// Applies `change` to the hyper-parameters of `slf` if the result is valid.
fn configure(slf: PyRef<'_, PySgd>, change: impl FnOnce(&mut SgdConfig)) -> PyResult<()> {
    slf.as_super().configure::<Sgd>(slf.py(), change)
}

crate::args::real_args!(
    lr_arg => "lr",
    momentum_arg => "momentum",
    dampening_arg => "dampening",
    weight_decay_arg => "weight_decay",
);
crate::args::optional_real_args!(max_grad_norm_arg => "max_grad_norm");

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
        config.validate().map_err(crate::arrays::to_py_err)?;
        let base = PyOptimizer::create(params, check_finite, |p| Sgd::new(config, p.layout()))?;
        Ok(PyClassInitializer::from(base).add_subclass(Self))
    }

    /// Momentum factor (finite, >= 0).
    #[getter]
    fn momentum(slf: PyRef<'_, Self>) -> f64 {
        config(&slf).momentum
    }

    #[setter]
    fn set_momentum(slf: PyRef<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = real("momentum", value)?;
        configure(slf, |c| c.momentum = value)
    }

    /// Dampening of the momentum update.
    #[getter]
    fn dampening(slf: PyRef<'_, Self>) -> f64 {
        config(&slf).dampening
    }

    #[setter]
    fn set_dampening(slf: PyRef<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = real("dampening", value)?;
        configure(slf, |c| c.dampening = value)
    }

    /// Nesterov momentum.
    #[getter]
    fn nesterov(slf: PyRef<'_, Self>) -> bool {
        config(&slf).nesterov
    }

    #[setter]
    fn set_nesterov(slf: PyRef<'_, Self>, value: bool) -> PyResult<()> {
        configure(slf, |c| c.nesterov = value)
    }

    /// L2 penalty (finite, >= 0).
    #[getter]
    fn weight_decay(slf: PyRef<'_, Self>) -> f64 {
        config(&slf).weight_decay
    }

    #[setter]
    fn set_weight_decay(slf: PyRef<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = real("weight_decay", value)?;
        configure(slf, |c| c.weight_decay = value)
    }

    /// Hyper-parameters, step count and NumPy copies of the momentum buffers.
    fn state_dict<'py>(slf: PyRef<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        let py = slf.py();
        let base = slf.as_super();
        base.with::<Sgd, _>(py, |sgd| -> PyResult<Bound<'py, PyDict>> {
            let c = sgd.config();
            let dict = new_state_dict(py, "SGD", sgd.steps())?;
            dict.set_item("lr", c.lr)?;
            dict.set_item("momentum", c.momentum)?;
            dict.set_item("dampening", c.dampening)?;
            dict.set_item("nesterov", c.nesterov)?;
            dict.set_item("weight_decay", c.weight_decay)?;
            dict.set_item("max_grad_norm", c.max_grad_norm)?;
            let mut state = Vec::with_capacity(base.params.len());
            for (i, buffer) in sgd.momentum_buffers().iter().enumerate() {
                let entry = PyDict::new(py);
                let array = buffer
                    .as_ref()
                    .map(|b| buffer_to_numpy(py, b, base.params.shape(i)))
                    .transpose()?;
                entry.set_item("momentum_buffer", array)?;
                state.push(entry);
            }
            dict.set_item("state", state)?;
            Ok(dict)
        })
    }

    /// Restores a `state_dict()`; checked completely before anything changes.
    fn load_state_dict(slf: PyRef<'_, Self>, state_dict: &Bound<'_, PyAny>) -> PyResult<()> {
        let base = slf.as_super();
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
            .per_param(&base.params)?
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let (params, key) = (&base.params, "momentum_buffer");
                if needs_buffer {
                    require_buffer(entry, key, params, i, Values::Finite).map(Some)
                } else {
                    load_buffer(entry, key, params, i, Values::Finite)
                }
            })
            .collect::<PyResult<Vec<_>>>()?;
        let restored = Sgd::restore(config, base.params.layout(), steps, buffers);
        base.replace(slf.py(), restored)
    }

    fn __repr__(slf: PyRef<'_, Self>) -> String {
        let py = slf.py();
        let c = config(&slf);
        let details = format!(
            "momentum={}, dampening={}, nesterov={}, weight_decay={}",
            repr_float(py, c.momentum),
            repr_float(py, c.dampening),
            repr_bool(c.nesterov),
            repr_float(py, c.weight_decay),
        );
        slf.as_super().describe(py, "SGD", &details)
    }
}
