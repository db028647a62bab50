//! Input checks shared by every entry point: finiteness and shape agreement.

use crate::reduce::LANES;
use crate::simd_dispatch;
use rayon::prelude::*;

use crate::error::{Result, TrainingError};
use crate::float::Float;

/// Elements per parallel task of the finiteness scan.
const FINITE_CHUNK: usize = 1 << 16;

/// Fails with [`TrainingError::NonFinite`] naming `arg` if `data` holds NaN or infinity.
pub fn ensure_finite<T: Float>(arg: &'static str, data: &[T]) -> Result<()> {
    let bad_chunk = data
        .par_chunks(FINITE_CHUNK)
        .position_first(|chunk| !all_finite(chunk));
    let Some(chunk) = bad_chunk else {
        return Ok(());
    };
    let start = chunk * FINITE_CHUNK;
    let offset = data[start..]
        .iter()
        .position(|v| !v.is_finite())
        .unwrap_or(0);
    let index = start + offset;
    Err(TrainingError::NonFinite {
        arg,
        index,
        value: data[index].to_string(),
    })
}

/// True when no element is NaN or infinite: `x * 0` is NaN exactly for those, and NaN
/// survives a sum, so the check is one vectorised reduction.
#[simd_dispatch]
fn all_finite<T: Float>(chunk: &[T]) -> bool {
    let mut acc = [T::ZERO; LANES];
    let blocks = chunk.chunks_exact(LANES);
    let mut tail = T::ZERO;
    for &v in blocks.remainder() {
        tail += v * T::ZERO;
    }
    for block in blocks {
        for l in 0..LANES {
            acc[l] += block[l] * T::ZERO;
        }
    }
    acc.iter().fold(tail, |a, &b| a + b) == T::ZERO
}

/// Fails unless `value` is finite and strictly positive.
pub fn ensure_positive(arg: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(TrainingError::value(
            arg,
            format!("must be a finite number > 0, got {value}"),
        ))
    }
}

/// Fails unless `value` is finite and `>= 0`.
pub fn ensure_non_negative(arg: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(TrainingError::value(
            arg,
            format!("must be a finite number >= 0, got {value}"),
        ))
    }
}

/// Fails with a [`TrainingError::Value`] on `arg` unless the `loss` and every gradient are
/// finite: the last, cheap guard of kernels whose result can overflow the output type on finite
/// input (`cause` says what to change), so a NaN or Inf is never returned.
pub fn ensure_finite_output<T: Float>(
    arg: &'static str,
    cause: &str,
    loss: f64,
    grads: &[&[T]],
) -> Result<()> {
    let finite = loss.is_finite() && grads.iter().all(|g| ensure_finite("gradient", g).is_ok());
    if finite {
        Ok(())
    } else {
        Err(TrainingError::value(
            arg,
            format!("the loss or its gradient overflows {} ({cause})", T::NAME),
        ))
    }
}

/// The error for similarity scores of finite inputs that overflow the element type: dot
/// products (or squared distances) beyond its range, which would otherwise surface as `inf`
/// scores or a NaN loss. `args` names the inputs whose scores overflowed (`"queries, corpus"`).
pub fn scores_overflow<T: Float>(args: &'static str) -> TrainingError {
    TrainingError::value(
        args,
        format!(
            "the dot-product scores overflow {} (finite inputs whose inner products exceed its \
             range, about {:.1e}); use similarity=\"cosine\" or float64 inputs",
            T::NAME,
            T::MAX.to_f64()
        ),
    )
}

/// Fails with [`scores_overflow`] naming `args` unless every score is finite (the scores of
/// finite inputs: a non-finite one overflowed). Serial and vectorised: call it on one tile.
pub fn ensure_finite_scores<T: Float>(args: &'static str, scores: &[T]) -> Result<()> {
    if all_finite(scores) {
        Ok(())
    } else {
        Err(scores_overflow::<T>(args))
    }
}

/// Formats a number for a message the way Python's `repr` would, roughly: plain for moderate
/// magnitudes (`0.07`, `1000`), scientific otherwise (`1e200`, `2.9e-39`), never 200 digits.
pub fn format_number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude == 0.0 || !value.is_finite() || (1e-4..1e16).contains(&magnitude) {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

/// Formats a shape tuple the way NumPy prints it: `(32, 5, 64)`, `(7,)`.
pub fn format_shape(dims: &[usize]) -> String {
    match dims {
        [single] => format!("({single},)"),
        _ => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finite_scan_reports_the_first_bad_index() {
        let mut data = vec![1.0f32; 200_000];
        assert!(ensure_finite("x", &data).is_ok());
        data[150_001] = f32::INFINITY;
        data[170_000] = f32::NAN;
        let err = ensure_finite("x", &data).unwrap_err();
        assert_eq!(
            err,
            TrainingError::NonFinite {
                arg: "x",
                index: 150_001,
                value: "inf".into()
            }
        );
        assert_eq!(format_shape(&[7]), "(7,)");
        assert_eq!(format_number(0.07), "0.07");
        assert_eq!(format_number(1e200), "1e200");
        assert_eq!(format_number(2.5e-39), "2.5e-39");
        assert_eq!(format_shape(&[32, 5, 64]), "(32, 5, 64)");
    }
}
