//! Input checks shared by every entry point: finiteness and shape agreement.

use rayon::prelude::*;

use crate::error::{Result, TrainingError};
use crate::float::Float;

/// Fails with [`TrainingError::NonFinite`] naming `arg` if `data` holds NaN or infinity.
pub fn ensure_finite<T: Float>(arg: &'static str, data: &[T]) -> Result<()> {
    match data.par_iter().position_first(|v| !v.is_finite()) {
        None => Ok(()),
        Some(index) => Err(TrainingError::NonFinite { arg, index, value: data[index].to_string() }),
    }
}

/// Fails unless `value` is finite and strictly positive.
pub fn ensure_positive(arg: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(TrainingError::value(arg, format!("must be a finite number > 0, got {value}")))
    }
}

/// Formats a shape tuple the way NumPy prints it: `(32, 5, 64)`, `(7,)`.
pub fn format_shape(dims: &[usize]) -> String {
    match dims {
        [single] => format!("({single},)"),
        _ => format!("({})", dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    }
}
