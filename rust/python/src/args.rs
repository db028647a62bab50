//! Scalar configuration arguments and shared configuration state.
//!
//! Every float or integer configuration argument (constructor keywords and attribute setters)
//! is converted by [`real`] or [`integer`], so a Python value that does not convert (a string,
//! `10**400`) is a `TypeError` / `ValueError` whose message names the argument, never an
//! anonymous `OverflowError`. [`type_name`] is the one "type of this object" used in messages.
//!
//! [`Shared`] holds a class's configuration so that attribute writes never wait on a kernel:
//! a call copies the configuration at its start and runs on the copy.

use std::sync::Mutex;

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;

/// The Python type name of `obj` (`"str"`, `"list"`, `"numpy.ndarray"` prints as `"ndarray"`).
pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// A real-number argument (Python or NumPy int/float, anything with `__float__`) as `f64`.
/// A non-number or a bool is a `TypeError`, a value beyond the float64 range (`10**400`) a
/// `ValueError`, both naming `arg`. Range checks (finite, > 0, ...) are the caller's.
pub fn real(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<f64> {
    if value.is_instance_of::<pyo3::types::PyBool>()
        || value.is_instance_of::<pyo3::types::PyString>()
    {
        return Err(PyTypeError::new_err(format!(
            "{arg}: expected a real number, got {}",
            type_name(value)
        )));
    }
    value.extract::<f64>().map_err(|error| {
        let py = value.py();
        if error.is_instance_of::<PyOverflowError>(py) {
            PyValueError::new_err(format!(
                "{arg}: {} is out of the float64 range (about 1.8e308)",
                short_repr(value)
            ))
        } else {
            PyTypeError::new_err(format!(
                "{arg}: expected a real number, got {}",
                type_name(value)
            ))
        }
    })
}

/// An optional real-number argument: `None` stays `None`, anything else goes through [`real`].
pub fn optional_real(arg: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<f64>> {
    match value {
        Some(v) if !v.is_none() => real(arg, v).map(Some),
        _ => Ok(None),
    }
}

/// An integer argument of any size (Python int or NumPy integer, not bool), or a `TypeError`
/// naming it. Values beyond 128 bits saturate, which every range check then rejects.
pub fn integer(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<i128> {
    if value.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{arg}: expected an integer, got bool"
        )));
    }
    value.extract::<i128>().or_else(|_| {
        let index = value.call_method0("__index__").map_err(|_| {
            PyTypeError::new_err(format!(
                "{arg}: expected an integer, got {}",
                type_name(value)
            ))
        })?;
        Ok(if index.lt(0)? { i128::MIN } else { i128::MAX })
    })
}

/// `repr(value)` cut to 40 characters (a 400-digit integer is not worth printing whole).
pub fn short_repr(value: &Bound<'_, PyAny>) -> String {
    let text = value
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "?".into());
    if text.chars().count() <= 40 {
        text
    } else {
        let head: String = text.chars().take(20).collect();
        format!("{head}... ({} characters)", text.chars().count())
    }
}

/// Defines `fn name(value) -> PyResult<f64>` for each `name => "arg"`, converting through
/// [`real`] with `arg` named: for `#[pyo3(from_py_with = name)]` on a constructor argument
/// (defaults do not go through it).
macro_rules! real_args {
    ($($name:ident => $arg:literal),* $(,)?) => {
        $(
            fn $name(value: &pyo3::Bound<'_, pyo3::PyAny>) -> pyo3::PyResult<f64> {
                $crate::args::real($arg, value)
            }
        )*
    };
}
pub(crate) use real_args;

/// As [`real_args`] for `Option<f64>` arguments (`None` stays `None`).
macro_rules! optional_real_args {
    ($($name:ident => $arg:literal),* $(,)?) => {
        $(
            fn $name(value: &pyo3::Bound<'_, pyo3::PyAny>) -> pyo3::PyResult<Option<f64>> {
                $crate::args::optional_real($arg, Some(value))
            }
        )*
    };
}
pub(crate) use optional_real_args;

/// As [`real_args`] for integer arguments, through [`integer`] (as `i128`; range checks are
/// the caller's).
macro_rules! integer_args {
    ($($name:ident => $arg:literal),* $(,)?) => {
        $(
            fn $name(value: &pyo3::Bound<'_, pyo3::PyAny>) -> pyo3::PyResult<i128> {
                $crate::args::integer($arg, value)
            }
        )*
    };
}
pub(crate) use integer_args;

/// A class's configuration, shared between attribute writes and running calls.
///
/// Calls take a copy with [`get`](Self::get) (the lock is held only for the clone, never
/// across a kernel), so setting an attribute from one thread while another thread is inside a
/// call on the same object neither blocks nor fails: the running call keeps the values it
/// started with and the next call sees the new ones.
#[derive(Debug, Default)]
pub struct Shared<C: Clone> {
    config: Mutex<C>,
}

impl<C: Clone> Shared<C> {
    /// Wraps `config`.
    pub fn new(config: C) -> Self {
        Self {
            config: Mutex::new(config),
        }
    }

    /// A copy of the current configuration.
    pub fn get(&self) -> C {
        self.config
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Applies `change` to a copy and installs it if `validate` accepts it (nothing changes
    /// otherwise). Returns what `change` returned.
    pub fn update<R>(
        &self,
        change: impl FnOnce(&mut C) -> R,
        validate: impl FnOnce(&C) -> PyResult<()>,
    ) -> PyResult<R> {
        let mut guard = self
            .config
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut next = guard.clone();
        let out = change(&mut next);
        validate(&next)?;
        *guard = next;
        Ok(out)
    }
}
