//! The losses besides InfoNCE: triplet, cosine-similarity regression and the graph losses
//! (local contrastive, spectral regularisation). See `docs/losses.md`.
//!
//! They share a few small kernels kept here: the Euclidean distance (with a gradient that is 0,
//! never NaN, at distance 0) and the common input checks.

mod cosine;
mod graph;
mod triplet;

pub use cosine::{CosineSimilarityLoss, CosineSimilarityOutput};
pub(crate) use graph::{validate_edges, validate_weights};
pub use graph::{
    GraphLossOutput, LocalContrastiveLoss, SpectralRegularization, DEFAULT_SPECTRAL_LAMBDA,
};
pub use triplet::{TripletBatch, TripletLoss, TripletOutput};

use multiversion::multiversion;

use crate::error::{Result, TrainingError};
use crate::float::Float;
pub(crate) use crate::linalg::cosine;
use crate::linalg::{axpy, dot, scaled_copy, scaled_dot, MatRef, RowNorm};
use crate::validate::format_shape;

/// `||x - y||^2`, with several accumulators so it vectorises.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(crate) fn squared_distance<T: Float>(x: &[T], y: &[T]) -> T {
    const LANES: usize = 16;
    let mut acc = [T::ZERO; LANES];
    let chunks = x.len() / LANES;
    for c in 0..chunks {
        let (cx, cy) = (
            &x[c * LANES..(c + 1) * LANES],
            &y[c * LANES..(c + 1) * LANES],
        );
        for l in 0..LANES {
            let diff = cx[l] - cy[l];
            acc[l] += diff * diff;
        }
    }
    let mut total = T::ZERO;
    for i in chunks * LANES..x.len() {
        let diff = x[i] - y[i];
        total += diff * diff;
    }
    for value in acc {
        total += value;
    }
    total
}

/// `g += scale * (x - y)`: the gradient of `scale * ||x - y||^2 / 2` w.r.t. `x`.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(crate) fn add_scaled_difference<T: Float>(scale: T, x: &[T], y: &[T], g: &mut [T]) {
    for ((gi, &xi), &yi) in g.iter_mut().zip(x).zip(y) {
        *gi += scale * (xi - yi);
    }
}

/// Euclidean distance `||x - y||` and the factor `1 / ||x - y||` that turns `x - y` into its
/// gradient w.r.t. `x`; the factor is 0 at distance 0 (the subgradient chosen there), so
/// identical rows and self-loops get a zero gradient, never NaN.
#[inline]
pub(crate) fn euclidean_distance<T: Float>(x: &[T], y: &[T]) -> (T, T) {
    let distance = squared_distance(x, y).sqrt();
    let inverse = if distance > T::ZERO {
        T::ONE / distance
    } else {
        T::ZERO
    };
    (distance, inverse)
}

/// `y = alpha * u_x` with `u_x` the normalised row `x` (norm `nx`).
#[inline]
pub(crate) fn unit_copy<T: Float>(alpha: T, x: &[T], nx: RowNorm<T>, y: &mut [T]) {
    let factor = alpha * nx.scaled_inverse();
    if nx.scale == T::ONE {
        scaled_copy(factor, x, y);
    } else {
        for (yi, &xi) in y.iter_mut().zip(x) {
            *yi = factor * (xi * nx.scale);
        }
    }
}

/// `y += alpha * u_x` with `u_x` the normalised row `x` (norm `nx`).
#[inline]
pub(crate) fn unit_axpy<T: Float>(alpha: T, x: &[T], nx: RowNorm<T>, y: &mut [T]) {
    let factor = alpha * nx.scaled_inverse();
    if nx.scale == T::ONE {
        axpy(factor, x, y);
    } else {
        for (yi, &xi) in y.iter_mut().zip(x) {
            *yi += factor * (xi * nx.scale);
        }
    }
}

/// Maps `g`, a gradient w.r.t. `u = x / max(||x||, eps)` (`norm` from [`RowNorm::of`]), to the
/// gradient w.r.t. `x`, in place: `(g - u (u . g)) / ||x||` above the floor, `g / eps` at it.
/// The row form of [`crate::linalg::normalize_rows_backward`], for kernels that never store `u`.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(crate) fn unit_backward<T: Float>(g: &mut [T], x: &[T], norm: RowNorm<T>) {
    let inv = norm.scaled_inverse();
    if norm.scale != T::ONE {
        // x * scale is the row brought to unit size; 1 / ||x|| = scale * inv.
        let s = norm.scale;
        let projection = scaled_dot(x, s, g, T::ONE) * inv * inv;
        let outer = s * inv;
        for (gi, &xi) in g.iter_mut().zip(x) {
            *gi = (*gi - (xi * s) * projection) * outer;
        }
    } else if norm.above_floor() {
        let projection = dot(x, g) * inv * inv;
        for (gi, &xi) in g.iter_mut().zip(x) {
            *gi = (*gi - xi * projection) * inv;
        }
    } else {
        g.iter_mut().for_each(|v| *v *= inv);
    }
}

/// Fails unless `x` has at least one row and one column.
pub(crate) fn ensure_non_empty<T: Float>(arg: &'static str, x: MatRef<'_, T>) -> Result<()> {
    if x.rows == 0 {
        return Err(TrainingError::shape(
            arg,
            "empty batch: expected at least one row, got 0",
        ));
    }
    if x.cols == 0 {
        return Err(TrainingError::shape(
            arg,
            "embedding dimension D must be at least 1, got D=0",
        ));
    }
    Ok(())
}

/// Fails unless `x` has the shape of `reference` (named `reference_arg`).
pub(crate) fn ensure_same_shape<T: Float>(
    arg: &'static str,
    x: MatRef<'_, T>,
    reference_arg: &str,
    reference: MatRef<'_, T>,
) -> Result<()> {
    if (x.rows, x.cols) == (reference.rows, reference.cols) {
        Ok(())
    } else {
        Err(TrainingError::shape(
            arg,
            format!(
                "expected shape (B, D) = {} like {reference_arg}, got {}",
                format_shape(&[reference.rows, reference.cols]),
                format_shape(&[x.rows, x.cols])
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euclidean_distance_is_safe_at_zero() {
        let x = [1.0f64, 2.0, 3.0];
        assert_eq!(euclidean_distance(&x, &x), (0.0, 0.0));
        let y = [1.0f64, 5.0, 7.0];
        assert_eq!(euclidean_distance(&x, &y), (5.0, 0.2));
        let long: Vec<f32> = (0..37).map(|i| i as f32).collect();
        let zero = vec![0.0f32; 37];
        let want: f32 = long.iter().map(|v| v * v).sum();
        assert_eq!(squared_distance(&long, &zero), want);
    }
}
