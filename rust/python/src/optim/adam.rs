//! The `Adam` and `AdamW` Python classes (`AdamW` subclasses `Adam`, as in torch).

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use ruvector_training_core::optim::{Adam, AdamConfig, AdamMoments, FloatVec, Optimizer};

use super::params::ParamList;
use super::state::{
    buffer_to_numpy, load_buffer, new_state_dict, require_buffer, LoadedState, Values,
};
use super::PyOptimizer;
use crate::arrays::to_py_err;

/// `torch.optim.Adam` (and, with decoupled weight decay, `AdamW`) on NumPy arrays updated in
/// place (see the stub file).
#[pyclass(name = "Adam", extends = PyOptimizer, subclass, module = "ruvector_training._core")]
pub struct PyAdam;

/// `torch.optim.AdamW`: `Adam` with decoupled weight decay and `weight_decay=0.01`.
#[pyclass(name = "AdamW", extends = PyAdam, module = "ruvector_training._core")]
pub struct PyAdamW;

crate::args::real_args!(lr_arg => "lr", eps_arg => "eps", weight_decay_arg => "weight_decay");
crate::args::optional_real_args!(max_grad_norm_arg => "max_grad_norm");

/// AMSGrad keeps `max_exp_avg_sq = max over steps of exp_avg_sq`, so it is never below
/// `exp_avg_sq`; a loaded pair that breaks this could not come from any run.
fn check_running_max(moments: &AdamMoments, i: usize) -> PyResult<()> {
    let Some(max) = &moments.max_exp_avg_sq else {
        return Ok(());
    };
    let below = match (max, &moments.exp_avg_sq) {
        (FloatVec::F32(m), FloatVec::F32(v)) => m.iter().zip(v).position(|(m, v)| m < v),
        (FloatVec::F64(m), FloatVec::F64(v)) => m.iter().zip(v).position(|(m, v)| m < v),
        _ => None,
    };
    match below {
        None => Ok(()),
        Some(index) => Err(PyValueError::new_err(format!(
            "state_dict['state'][{i}]['max_exp_avg_sq']: below exp_avg_sq at flat index {index} \
             (AMSGrad's running maximum can never be)"
        ))),
    }
}

/// The base part of a new `Adam`/`AdamW` object.
fn create(
    params: &Bound<'_, PyAny>,
    config: AdamConfig,
    check_finite: bool,
) -> PyResult<PyOptimizer> {
    config.validate().map_err(to_py_err)?;
    PyOptimizer::create(params, check_finite, |p| Adam::new(config, p.layout()))
}

#[pymethods]
impl PyAdamW {
    #[new]
    #[pyo3(signature = (params, lr=1e-3, betas=None, eps=1e-8, weight_decay=0.01, amsgrad=false, max_grad_norm=None, check_finite=true))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        params: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = lr_arg)] lr: f64,
        betas: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = eps_arg)] eps: f64,
        #[pyo3(from_py_with = weight_decay_arg)] weight_decay: f64,
        amsgrad: bool,
        #[pyo3(from_py_with = max_grad_norm_arg)] max_grad_norm: Option<f64>,
        check_finite: bool,
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
        Ok(
            PyClassInitializer::from(create(params, config, check_finite)?)
                .add_subclass(PyAdam)
                .add_subclass(Self),
        )
    }
}

super::optimizer_fields! {
    Adam(AdamConfig) {
        lr: f64, inherited;
        /// ``(beta1, beta2)``, each in [0, 1).
        betas: (f64, f64);
        /// Term added to the denominator (finite, >= 0).
        eps: f64;
        /// Weight decay (finite, >= 0): L2 for Adam, decoupled for AdamW.
        weight_decay: f64;
        /// Whether AMSGrad is on (fixed at construction).
        amsgrad: bool, read_only;
        max_grad_norm: Option<f64>, inherited;
    }

#[pymethods]
impl PyAdam {
    #[new]
    #[pyo3(signature = (params, lr=1e-3, betas=None, eps=1e-8, weight_decay=0.0, amsgrad=false, max_grad_norm=None, check_finite=true))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        params: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = lr_arg)] lr: f64,
        betas: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = eps_arg)] eps: f64,
        #[pyo3(from_py_with = weight_decay_arg)] weight_decay: f64,
        amsgrad: bool,
        #[pyo3(from_py_with = max_grad_norm_arg)] max_grad_norm: Option<f64>,
        check_finite: bool,
    ) -> PyResult<PyClassInitializer<Self>> {
        let config = AdamConfig {
            lr,
            betas: parse_betas(betas)?,
            eps,
            weight_decay,
            amsgrad,
            decoupled_weight_decay: false,
            max_grad_norm,
        };
        Ok(PyClassInitializer::from(create(params, config, check_finite)?).add_subclass(Self))
    }
}
}

/// `state_dict()` of an Adam/AdamW optimizer: hyper-parameters, step count and NumPy copies
/// of every moment buffer.
pub(super) fn save<'py>(
    adam: &Adam,
    py: Python<'py>,
    params: &ParamList,
) -> PyResult<Bound<'py, PyDict>> {
    let c = adam.config();
    let dict = new_state_dict(py, c.name(), adam.steps())?;
    dict.set_item("lr", c.lr)?;
    dict.set_item("betas", c.betas)?;
    dict.set_item("eps", c.eps)?;
    dict.set_item("weight_decay", c.weight_decay)?;
    dict.set_item("amsgrad", c.amsgrad)?;
    dict.set_item("max_grad_norm", c.max_grad_norm)?;
    let mut state = Vec::with_capacity(params.len());
    for (i, moments) in adam.moments().iter().enumerate() {
        let shape = params.shape(i);
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

/// The Adam/AdamW optimizer (the class of `current`) a `state_dict()` describes, checked
/// completely.
pub(super) fn load(
    current: &Adam,
    state_dict: &Bound<'_, PyAny>,
    params: &ParamList,
) -> PyResult<Adam> {
    let current = *current.config();
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
        .per_param(params)?
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let moments = AdamMoments {
                exp_avg: require_buffer(entry, "exp_avg", params, i, Values::Finite)?,
                exp_avg_sq: require_buffer(entry, "exp_avg_sq", params, i, Values::NonNegative)?,
                max_exp_avg_sq: if config.amsgrad {
                    Some(require_buffer(
                        entry,
                        "max_exp_avg_sq",
                        params,
                        i,
                        Values::NonNegative,
                    )?)
                } else {
                    load_buffer(entry, "max_exp_avg_sq", params, i, Values::NonNegative)?
                },
            };
            check_running_max(&moments, i)?;
            Ok(moments)
        })
        .collect::<PyResult<Vec<_>>>()?;
    Adam::restore(config, params.layout(), loaded.steps()?, moments).map_err(to_py_err)
}

/// `betas` as a pair of floats: `None` gives torch's default (0.9, 0.999); any sequence of two
/// numbers is accepted.
fn parse_betas(betas: Option<&Bound<'_, PyAny>>) -> PyResult<(f64, f64)> {
    let Some(betas) = betas else {
        return Ok(AdamConfig::adam(0.0).betas);
    };
    let values: Vec<f64> = betas
        .extract()
        .map_err(|_| PyTypeError::new_err("betas: expected a pair of floats (beta1, beta2)"))?;
    match values.as_slice() {
        [beta1, beta2] => Ok((*beta1, *beta2)),
        _ => Err(PyValueError::new_err(format!(
            "betas: expected two values (beta1, beta2), got {}",
            values.len()
        ))),
    }
}
