//! The one read pass over the gradients that every step starts with (it rejects NaN/Inf and
//! accumulates the global L2 norm at once), and gradient-norm clipping.

use crate::simd_dispatch;
use rayon::prelude::*;

use super::arrays::{FloatSlice, FloatSliceMut};
use super::stream::for_each_block;
use super::CHUNK;
use crate::error::{Result, TrainingError};
use crate::float::Float;
use crate::pool::check_cancelled;
use crate::reduce::{ordered_sum, LaneSum, Square, SUM_BLOCK};
use crate::validate::{ensure_finite, ensure_positive};

/// Added to the norm before dividing, as `torch.nn.utils.clip_grad_norm_` does.
pub const CLIP_EPS: f64 = 1e-6;

/// Global L2 norm of `grads` taken as one vector: `sqrt(sum_i sum_j g_ij^2)`, accumulated in
/// `f64` whatever the element type.
///
/// The same pass checks finiteness: a NaN or infinity fails with [`TrainingError::Item`] naming
/// `grads[i]` and the flat index. The result does not depend on the thread count (partial sums
/// over fixed 64K-element chunks are added in order). Finite `f64` gradients whose squares
/// overflow (|g| > 1e154) are handled by a rescaled second pass, so the norm is only infinite
/// when it truly exceeds `f64::MAX`. A cancelled call (see [`crate::pool`]) fails with
/// [`TrainingError::Cancelled`] after this read pass.
pub fn grad_norm(grads: &[FloatSlice<'_>]) -> Result<f64> {
    let sums: Vec<f64> = grads.par_iter().map(|grad| sum_of_squares(*grad)).collect();
    // The last point where a step or a clip can stop: nothing has been written yet.
    check_cancelled()?;
    let total = ordered_sum(&sums);
    if total.is_finite() {
        return Ok(total.sqrt());
    }
    for (position, (grad, sum)) in grads.iter().zip(&sums).enumerate() {
        if !sum.is_finite() {
            ensure_finite_item("grads", position, *grad)?;
        }
    }
    Ok(rescaled_norm(grads))
}

/// The factor torch multiplies the gradients by: `min(max_norm / (total_norm + 1e-6), 1)`.
pub fn clip_coefficient(total_norm: f64, max_norm: f64) -> f64 {
    (max_norm / (total_norm + CLIP_EPS)).min(1.0)
}

/// Clips the global L2 norm of `grads` in place, as `torch.nn.utils.clip_grad_norm_`: computes
/// [`grad_norm`], and when [`clip_coefficient`] is below 1 multiplies every element by it
/// (rounded to the array's type). Returns the norm before clipping.
///
/// Errors (nothing is modified): `max_norm` not finite and > 0, or a NaN/Inf in `grads[i]`.
pub fn clip_grad_norm(grads: &mut [FloatSliceMut<'_>], max_norm: f64) -> Result<f64> {
    ensure_positive("max_norm", max_norm)?;
    let views: Vec<FloatSlice<'_>> = grads.iter().map(FloatSliceMut::as_slice).collect();
    let total = grad_norm(&views)?;
    let coefficient = clip_coefficient(total, max_norm);
    if coefficient < 1.0 {
        grads.par_iter_mut().for_each(|grad| match grad {
            FloatSliceMut::F32(g) => scale_in_place(g, coefficient as f32),
            FloatSliceMut::F64(g) => scale_in_place(g, coefficient),
        });
    }
    Ok(total)
}

/// [`ensure_finite`] on one array of a list, reported as `arg[position]`.
pub(crate) fn ensure_finite_item(
    arg: &'static str,
    position: usize,
    data: FloatSlice<'_>,
) -> Result<()> {
    let checked = match data {
        FloatSlice::F32(values) => ensure_finite(arg, values),
        FloatSlice::F64(values) => ensure_finite(arg, values),
    };
    checked.map_err(|error| match error {
        TrainingError::NonFinite { index, value, .. } => TrainingError::item(
            arg,
            position,
            format!("contains a non-finite value ({value}) at flat index {index}"),
        ),
        other => other,
    })
}

/// `sum g^2` over one array, deterministic for any thread count: per-chunk
/// [`chunk_sum_of_squares`] added in chunk order (the partials an update pass that checks the
/// gradients itself computes, so its norm is identical).
fn sum_of_squares(grad: FloatSlice<'_>) -> f64 {
    match grad {
        FloatSlice::F32(g) => chunked(g, chunk_sum_of_squares),
        FloatSlice::F64(g) => chunked(g, chunk_sum_of_squares),
    }
}

/// `sum (g * scale)^2` over one array, squaring in `f64` (the rescaled pass for gradients
/// whose squares overflow).
fn scaled_sum_of_squares(grad: FloatSlice<'_>, scale: f64) -> f64 {
    match grad {
        FloatSlice::F32(g) => chunked(g, |chunk| scaled_chunk_sum(chunk, scale)),
        FloatSlice::F64(g) => chunked(g, |chunk| scaled_chunk_sum(chunk, scale)),
    }
}

/// Per-chunk partial sums in parallel, added in chunk order.
fn chunked<T: Float>(data: &[T], chunk_sum: impl Fn(&[T]) -> f64 + Sync + Send) -> f64 {
    let partials: Vec<f64> = data.par_chunks(CHUNK).map(chunk_sum).collect();
    ordered_sum(&partials)
}

/// `sum x^2` over one chunk, block by block with prefetching (the update passes' sums).
#[simd_dispatch]
fn chunk_sum_of_squares<T: Float>(chunk: &[T]) -> f64 {
    for_each_block(&[chunk.as_ptr()], chunk, true, |_| {})
}

/// `sum (x * scale)^2` over one chunk, scaling and squaring in `f64`.
#[simd_dispatch]
fn scaled_chunk_sum<T: Float>(chunk: &[T], scale: f64) -> f64 {
    let mut sum = LaneSum::new();
    let mut scaled = [0.0f64; SUM_BLOCK];
    for block in chunk.chunks(SUM_BLOCK) {
        let scaled = &mut scaled[..block.len()];
        for (y, &x) in scaled.iter_mut().zip(block) {
            *y = x.to_f64() * scale;
        }
        sum.add_block(scaled, Square);
    }
    sum.total()
}

/// The norm of finite arrays whose squares overflow: `m * sqrt(sum (g / m)^2)` with `m` the
/// largest magnitude.
pub(crate) fn rescaled_norm(grads: &[FloatSlice<'_>]) -> f64 {
    let largest = grads
        .iter()
        .map(|grad| max_abs(*grad))
        .fold(0.0f64, f64::max);
    if largest == 0.0 {
        return 0.0;
    }
    let sum: f64 = grads
        .iter()
        .map(|grad| scaled_sum_of_squares(*grad, 1.0 / largest))
        .sum();
    largest * sum.sqrt()
}

/// Largest `|g|` of one array.
fn max_abs(grad: FloatSlice<'_>) -> f64 {
    match grad {
        FloatSlice::F32(g) => g
            .par_iter()
            .map(|x| x.abs() as f64)
            .reduce(|| 0.0, f64::max),
        FloatSlice::F64(g) => g.par_iter().map(|x| x.abs()).reduce(|| 0.0, f64::max),
    }
}

/// `data *= factor`, in parallel chunks.
fn scale_in_place<T: Float>(data: &mut [T], factor: T) {
    data.par_chunks_mut(CHUNK)
        .for_each(|chunk| scale_chunk(chunk, factor));
}

#[simd_dispatch]
fn scale_chunk<T: Float>(chunk: &mut [T], factor: T) {
    for x in chunk {
        *x *= factor;
    }
}
