//! The `Adam` and `AdamW` Python classes (`AdamW` subclasses `Adam`, as in torch).

use numpy::PyUntypedArray;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use ruvector_training_core::optim::{Adam, AdamConfig, AdamMoments, Optimizer};

use super::params::ParamList;
use super::state::{buffer_to_numpy, load_buffer, new_state_dict, require_buffer, LoadedState};
use super::{repr_bool, repr_float, repr_option, step_with};
use crate::arrays::to_py_err;

/// `torch.optim.Adam` (and, with decoupled weight decay, `AdamW`) on NumPy arrays updated in
/// place (see the stub file).
#[pyclass(name = "Adam", subclass, module = "ruvector_training._core")]
pub struct PyAdam {
    params: ParamList,
    inner: Adam,
}

/// `torch.optim.AdamW`: `Adam` with decoupled weight decay and `weight_decay=0.01`.
#[pyclass(name = "AdamW", extends = PyAdam, module = "ruvector_training._core")]
pub struct PyAdamW;

#[pymethods]
impl PyAdamW {
    #[new]
    #[pyo3(signature = (params, lr=1e-3, betas=None, eps=1e-8, weight_decay=0.01, amsgrad=false, max_grad_norm=None))]
    fn new(
        params: &Bound<'_, PyAny>,
        lr: f64,
        betas: Option<&Bound<'_, PyAny>>,
        eps: f64,
        weight_decay: f64,
        amsgrad: bool,
        max_grad_norm: Option<f64>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let config = AdamConfig {
            lr,
            betas: parse_betas(betas)?,
            eps,
            weight_decay,
            amsgrad,
            decoupled_weight_decay: true,
            max_grad_norm,
        };
        Ok(PyClassInitializer::from(PyAdam::build(params, config)?).add_subclass(Self))
    }
}

#[pymethods]
impl PyAdam {
    #[new]
    #[pyo3(signature = (params, lr=1e-3, betas=None, eps=1e-8, weight_decay=0.0, amsgrad=false, max_grad_norm=None))]
    fn new(
        params: &Bound<'_, PyAny>,
        lr: f64,
        betas: Option<&Bound<'_, PyAny>>,
        eps: f64,
        weight_decay: f64,
        amsgrad: bool,
        max_grad_norm: Option<f64>,
    ) -> PyResult<Self> {
        let config = AdamConfig {
            lr,
            betas: parse_betas(betas)?,
            eps,
            weight_decay,
            amsgrad,
            decoupled_weight_decay: false,
            max_grad_norm,
        };
        Self::build(params, config)
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

    /// `(beta1, beta2)`, each in [0, 1).
    #[getter]
    fn betas(&self) -> (f64, f64) {
        self.inner.config().betas
    }

    #[setter]
    fn set_betas(&mut self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let betas = parse_betas(Some(value))?;
        self.configure(|c| c.betas = betas)
    }

    /// Term added to the denominator (finite, >= 0).
    #[getter]
    fn eps(&self) -> f64 {
        self.inner.config().eps
    }

    #[setter]
    fn set_eps(&mut self, value: f64) -> PyResult<()> {
        self.configure(|c| c.eps = value)
    }

    /// Weight decay (finite, >= 0): L2 for Adam, decoupled for AdamW.
    #[getter]
    fn weight_decay(&self) -> f64 {
        self.inner.config().weight_decay
    }

    #[setter]
    fn set_weight_decay(&mut self, value: f64) -> PyResult<()> {
        self.configure(|c| c.weight_decay = value)
    }

    /// Whether AMSGrad is on (fixed at construction).
    #[getter]
    fn amsgrad(&self) -> bool {
        self.inner.config().amsgrad
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

    /// Hyper-parameters, step count and NumPy copies of every moment buffer.
    fn state_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let config = self.inner.config();
        let dict = new_state_dict(py, config.name(), self.inner.steps())?;
        dict.set_item("lr", config.lr)?;
        dict.set_item("betas", config.betas)?;
        dict.set_item("eps", config.eps)?;
        dict.set_item("weight_decay", config.weight_decay)?;
        dict.set_item("amsgrad", config.amsgrad)?;
        dict.set_item("max_grad_norm", config.max_grad_norm)?;
        let mut state = Vec::with_capacity(self.params.len());
        for (i, moments) in self.inner.moments().iter().enumerate() {
            let shape = self.params.shape(i);
            let entry = PyDict::new(py);
            entry.set_item("exp_avg", buffer_to_numpy(py, &moments.exp_avg, shape)?)?;
            entry.set_item(
                "exp_avg_sq",
                buffer_to_numpy(py, &moments.exp_avg_sq, shape)?,
            )?;
            if let Some(max) = &moments.max_exp_avg_sq {
                entry.set_item("max_exp_avg_sq", buffer_to_numpy(py, max, shape)?)?;
            }
            state.push(entry);
        }
        dict.set_item("state", state)?;
        Ok(dict)
    }

    /// Restores a `state_dict()`; checked completely before anything changes.
    fn load_state_dict(&mut self, state_dict: &Bound<'_, PyAny>) -> PyResult<()> {
        let current = *self.inner.config();
        let loaded = LoadedState::open(state_dict, current.name())?;
        let betas: Bound<'_, PyAny> = loaded.extract("betas", "a (beta1, beta2) pair")?;
        let config = AdamConfig {
            lr: loaded.extract("lr", "a float")?,
            betas: parse_betas(Some(&betas))?,
            eps: loaded.extract("eps", "a float")?,
            weight_decay: loaded.extract("weight_decay", "a float")?,
            amsgrad: loaded.extract("amsgrad", "a bool")?,
            max_grad_norm: loaded.extract("max_grad_norm", "a float or None")?,
            ..current
        };
        let moments = loaded
            .per_param(&self.params)?
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                Ok(AdamMoments {
                    exp_avg: require_buffer(entry, "exp_avg", &self.params, i)?,
                    exp_avg_sq: require_buffer(entry, "exp_avg_sq", &self.params, i)?,
                    max_exp_avg_sq: load_buffer(entry, "max_exp_avg_sq", &self.params, i)?,
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        self.inner = Adam::restore(config, self.params.layout(), loaded.steps()?, moments)
            .map_err(to_py_err)?;
        Ok(())
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let c = self.inner.config();
        format!(
            "{}({} arrays, {} parameters, lr={}, betas=({}, {}), eps={}, weight_decay={}, amsgrad={}, max_grad_norm={})",
            c.name(),
            self.params.len(),
            self.params.element_count(),
            repr_float(py, c.lr),
            repr_float(py, c.betas.0),
            repr_float(py, c.betas.1),
            repr_float(py, c.eps),
            repr_float(py, c.weight_decay),
            repr_bool(c.amsgrad),
            repr_option(py, c.max_grad_norm),
        )
    }
}

impl PyAdam {
    /// Validates `config`, records the parameters and allocates the moments.
    fn build(params: &Bound<'_, PyAny>, config: AdamConfig) -> PyResult<Self> {
        config.validate().map_err(to_py_err)?;
        let params = ParamList::new("params", params)?;
        let inner = Adam::new(config, params.layout()).map_err(to_py_err)?;
        Ok(Self { params, inner })
    }

    /// Applies `change` to a copy of the hyper-parameters and installs it if valid.
    fn configure(&mut self, change: impl FnOnce(&mut AdamConfig)) -> PyResult<()> {
        let mut config = *self.inner.config();
        change(&mut config);
        self.inner.set_config(config).map_err(to_py_err)
    }
}

/// `betas` as a pair of floats: `None` gives torch's default (0.9, 0.999); any sequence of two
/// numbers is accepted.
fn parse_betas(betas: Option<&Bound<'_, PyAny>>) -> PyResult<(f64, f64)> {
    let Some(betas) = betas else {
        return Ok(AdamConfig::adam(0.0).betas);
    };
    let values: Vec<f64> = betas.extract().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err("betas: expected a pair of floats (beta1, beta2)")
    })?;
    match values.as_slice() {
        [beta1, beta2] => Ok((*beta1, *beta2)),
        _ => Err(PyValueError::new_err(format!(
            "betas: expected two values (beta1, beta2), got {}",
            values.len()
        ))),
    }
}
