//! The optimizer classes (`Optimizer`, its subclasses `SGD` and `Adam`, and `AdamW(Adam)`) and
//! `clip_grad_norm`: parameters are NumPy arrays updated in place, the state lives in the core
//! optimizer (see the stub file).

mod adam;
mod params;
mod sgd;
mod state;

use std::any::Any;
use std::sync::{Mutex, MutexGuard, TryLockError};

use numpy::PyUntypedArray;
use pyo3::prelude::*;
use ruvector_training_core::optim::{self, Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
use ruvector_training_core::validate::ensure_positive;
use ruvector_training_core::Result as CoreResult;

pub use adam::{PyAdam, PyAdamW};
pub use sgd::PySgd;

use crate::args::{optional_real, real};
use crate::arrays::to_py_err;
use params::ParamList;

/// Clips the global L2 norm of `grads` in place and returns the norm before clipping.
#[pyfunction]
#[pyo3(signature = (grads, max_norm))]
pub fn clip_grad_norm(
    grads: &Bound<'_, PyAny>,
    #[pyo3(from_py_with = max_norm_arg)] max_norm: f64,
) -> PyResult<f64> {
    ensure_positive("max_norm", max_norm).map_err(to_py_err)?;
    let arrays = ParamList::new("grads", grads)?;
    arrays
        .run_in_place(grads.py(), |views| optim::clip_grad_norm(views, max_norm))?
        .map_err(to_py_err)
}

/// A core optimizer with typed hyper-parameters, held by the Python base class.
trait Held: Optimizer + Sync + Any {
    /// The hyper-parameter struct.
    type Config: Copy;

    /// The current hyper-parameters.
    fn current(&self) -> Self::Config;

    /// Replaces the hyper-parameters if valid.
    fn install(&mut self, config: Self::Config) -> CoreResult<()>;
}

impl Held for Sgd {
    type Config = SgdConfig;

    fn current(&self) -> SgdConfig {
        *self.config()
    }

    fn install(&mut self, config: SgdConfig) -> CoreResult<()> {
        self.set_config(config)
    }
}

impl Held for Adam {
    type Config = AdamConfig;

    fn current(&self) -> AdamConfig {
        *self.config()
    }

    fn install(&mut self, config: AdamConfig) -> CoreResult<()> {
        self.set_config(config)
    }
}

/// The object-safe view of a [`Held`] optimizer, with downcasting for the subclasses.
trait AnyOptimizer: Optimizer + Sync + Send {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<O: Held> AnyOptimizer for O {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// The base class: the parameter list, the core optimizer, and what all optimizers share.
///
/// Thread safety: the core optimizer sits behind a mutex. `step`, `load_state_dict` and the
/// attribute setters take it, waiting for a running step with the GIL released, so concurrent
/// calls on one optimizer serialise (each step is applied whole, in some order) instead of
/// failing with "Already borrowed"; no method ever holds Python's `&mut` borrow of the object.
#[pyclass(name = "Optimizer", subclass, module = "ruvector_training._core")]
pub struct PyOptimizer {
    params: ParamList,
    inner: Mutex<Box<dyn AnyOptimizer>>,
}

crate::args::real_args!(max_norm_arg => "max_norm");

#[pymethods]
impl PyOptimizer {
    /// Updates every parameter in place; returns the gradient norm before clipping.
    fn step(&self, grads: &Bound<'_, PyAny>) -> PyResult<f64> {
        // Taken before the parameters are borrowed, so a second thread's step waits here
        // (GIL released) instead of failing on the parameters' borrow.
        let mut guard = self.lock(grads.py());
        let inner = &mut **guard;
        self.params
            .run(grads, |p, g| inner.step(p, g))?
            .map_err(to_py_err)
    }

    /// Learning rate (finite, >= 0).
    #[getter]
    fn lr(&self, py: Python<'_>) -> f64 {
        self.lock(py).lr()
    }

    #[setter]
    fn set_lr(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = value.py();
        let value = real("lr", value)?;
        self.lock(py).set_lr(value).map_err(to_py_err)
    }

    /// Gradient-norm clipping threshold applied inside `step` (None: off).
    #[getter]
    fn max_grad_norm(&self, py: Python<'_>) -> Option<f64> {
        self.lock(py).max_grad_norm()
    }

    #[setter]
    fn set_max_grad_norm(&self, py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let value = optional_real("max_grad_norm", value)?;
        self.lock(py).set_max_grad_norm(value).map_err(to_py_err)
    }

    /// Check gradients for NaN/Inf before modifying anything (True, the default). False saves
    /// one read of every gradient when no clipping is set; a NaN/Inf is then reported only
    /// after the step was applied.
    #[getter]
    fn check_finite(&self, py: Python<'_>) -> bool {
        self.lock(py).check_finite()
    }

    #[setter]
    fn set_check_finite(&self, py: Python<'_>, value: bool) {
        self.lock(py).set_check_finite(value);
    }

    /// Number of steps taken.
    #[getter]
    fn step_count(&self, py: Python<'_>) -> u64 {
        self.lock(py).steps()
    }

    /// Global L2 norm of the last step's gradients before clipping (None before a step).
    #[getter]
    fn last_grad_norm(&self, py: Python<'_>) -> Option<f64> {
        self.lock(py).last_grad_norm()
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
}

impl PyOptimizer {
    /// The base part of a new optimizer object: records `params`, then builds the core
    /// optimizer for their layout with `build`.
    fn create<O: Held>(
        params: &Bound<'_, PyAny>,
        check_finite: bool,
        build: impl FnOnce(&ParamList) -> CoreResult<O>,
    ) -> PyResult<Self> {
        let params = ParamList::new("params", params)?;
        let mut inner = build(&params).map_err(to_py_err)?;
        inner.set_check_finite(check_finite);
        Ok(Self {
            params,
            inner: Mutex::new(Box::new(inner)),
        })
    }

    /// The core optimizer, locked: waits for a running step with the GIL released (see the
    /// class's thread-safety note).
    fn lock(&self, py: Python<'_>) -> MutexGuard<'_, Box<dyn AnyOptimizer>> {
        loop {
            match self.inner.try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                // Not a kernel: only waits, GIL released, for another thread's step to end.
                #[allow(clippy::disallowed_methods)]
                Err(TryLockError::WouldBlock) => py.detach(|| drop(self.inner.lock())),
            }
        }
    }

    /// Runs `read` on the core optimizer, as the subclass's type.
    fn with<O: Held, R>(&self, py: Python<'_>, read: impl FnOnce(&O) -> R) -> R {
        let guard = self.lock(py);
        read(
            guard
                .as_any()
                .downcast_ref()
                .expect("each class holds the core optimizer it was built with"),
        )
    }

    /// Applies `change` to a copy of the hyper-parameters and installs it if valid.
    fn configure<O: Held>(
        &self,
        py: Python<'_>,
        change: impl FnOnce(&mut O::Config),
    ) -> PyResult<()> {
        let mut guard = self.lock(py);
        let optimizer: &mut O = guard
            .as_any_mut()
            .downcast_mut()
            .expect("each class holds the core optimizer it was built with");
        let mut config = optimizer.current();
        change(&mut config);
        optimizer.install(config).map_err(to_py_err)
    }

    /// `"Name(3 arrays, 1000 parameters, lr=0.001, {details}, max_grad_norm=None)"`.
    fn describe(&self, py: Python<'_>, name: &str, details: &str) -> String {
        let arrays = self.params.len();
        let plural = if arrays == 1 { "" } else { "s" };
        let (lr, max_grad_norm) = {
            let inner = self.lock(py);
            (inner.lr(), inner.max_grad_norm())
        };
        format!(
            "{name}({arrays} array{plural}, {} parameters, lr={}, {details}, max_grad_norm={})",
            self.params.element_count(),
            repr_float(py, lr),
            repr_option(py, max_grad_norm),
        )
    }

    /// Replaces the core optimizer (after a successful `load_state_dict`).
    fn replace<O: Held>(&self, py: Python<'_>, restored: CoreResult<O>) -> PyResult<()> {
        let restored: Box<dyn AnyOptimizer> = Box::new(restored.map_err(to_py_err)?);
        *self.lock(py) = restored;
        Ok(())
    }
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
