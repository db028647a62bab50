//! InfoNCE with per-row negatives: anchor `i` sees only its positive and its own K negatives,
//! so each row is independent: `K + 1` dot products, a softmax, and rank-one gradient updates.

use rayon::prelude::*;

use super::KernelParams;
use crate::error::Result;
use crate::float::Float;
use crate::linalg::{axpy, dot, filled_vec, scaled_copy, zeroed_vec, MatRef};

/// Losses and gradients w.r.t. the (normalised) anchors, positives and negatives.
pub(super) struct PerRowOutput<T> {
    pub row_losses: Vec<f64>,
    pub grad_queries: Vec<T>,
    pub grad_positives: Vec<T>,
    pub grad_negatives: Vec<T>,
}

/// `queries (B, D)`, `positives (B, D)`, `negatives (B*K, D)` with rows `i*K..(i+1)*K` for anchor `i`.
pub(super) fn contrast_per_row<T: Float>(
    queries: MatRef<'_, T>,
    positives: MatRef<'_, T>,
    negatives: MatRef<'_, T>,
    per_row: usize,
    params: &KernelParams,
) -> Result<PerRowOutput<T>> {
    let (b, d) = (queries.rows, queries.cols);
    let mut out = PerRowOutput {
        row_losses: filled_vec("anchors", b, 0.0)?,
        grad_queries: zeroed_vec("anchors", b * d)?,
        grad_positives: zeroed_vec("positives", b * d)?,
        grad_negatives: zeroed_vec("negatives", b * per_row * d)?,
    };
    if per_row == 0 {
        // The positive is the only candidate: every loss is exactly 0 and so is every gradient.
        return Ok(out);
    }
    out.grad_queries
        .par_chunks_mut(d)
        .zip(out.grad_positives.par_chunks_mut(d))
        .zip(out.grad_negatives.par_chunks_mut(per_row * d))
        .zip(out.row_losses.par_iter_mut())
        .enumerate()
        .for_each_init(
            || Vec::with_capacity(per_row + 1),
            |weights, (i, (((grad_query, grad_positive), grad_negatives), loss))| {
                let rows = RowInputs {
                    query: queries.row(i),
                    positive: positives.row(i),
                    negatives: &negatives.data[i * per_row * d..(i + 1) * per_row * d],
                };
                *loss = contrast_row(
                    &rows,
                    params,
                    weights,
                    grad_query,
                    grad_positive,
                    grad_negatives,
                );
            },
        );
    Ok(out)
}

struct RowInputs<'a, T> {
    query: &'a [T],
    positive: &'a [T],
    negatives: &'a [T],
}

/// One anchor: fills its gradients and returns its loss. `weights` is scratch of length K+1.
fn contrast_row<T: Float>(
    rows: &RowInputs<'_, T>,
    params: &KernelParams,
    weights: &mut Vec<f64>,
    grad_query: &mut [T],
    grad_positive: &mut [T],
    grad_negatives: &mut [T],
) -> f64 {
    let d = rows.query.len();
    let tau_inv = params.inv_temperature;
    weights.clear();
    weights.push(dot(rows.query, rows.positive).to_f64() * tau_inv);
    weights.extend(
        rows.negatives
            .chunks_exact(d)
            .map(|n| dot(rows.query, n).to_f64() * tau_inv),
    );
    let max = weights.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = weights.iter().map(|&s| (s - max).exp()).sum();
    let lse = max + sum.ln();
    let loss = lse - weights[0];
    // d loss / d s_j = softmax_j - [j == 0], times the reduction weight and 1/tau.
    for (j, w) in weights.iter_mut().enumerate() {
        let indicator = if j == 0 { 1.0 } else { 0.0 };
        *w = ((*w - lse).exp() - indicator) * params.row_weight * tau_inv;
    }
    scaled_copy(T::from_f64(weights[0]), rows.positive, grad_query);
    scaled_copy(T::from_f64(weights[0]), rows.query, grad_positive);
    for ((negative, grad_negative), &w) in rows
        .negatives
        .chunks_exact(d)
        .zip(grad_negatives.chunks_exact_mut(d))
        .zip(&weights[1..])
    {
        axpy(T::from_f64(w), negative, grad_query);
        scaled_copy(T::from_f64(w), rows.query, grad_negative);
    }
    loss
}
