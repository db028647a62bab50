//! InfoNCE with per-row negatives: anchor `i` sees only its positive and its own K negatives,
//! so each row is independent: `K + 1` dot products, a softmax, and rank-one gradient updates.

use rayon::prelude::*;

use super::exclude::Guide;
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

/// `(B,)` anchor ids, `(B, 1 + K)` candidate ids and one optional id per queue entry.
pub(super) type PerRowIds<'a> = (&'a [i64], &'a [i64], Option<&'a [Option<i64>]>);

/// What removes or adds candidates in the per-row layout.
pub(super) struct PerRowExtras<'a, T> {
    /// `(B,)` anchor ids and `(B, 1 + K)` candidate ids, with one optional id per queue entry.
    pub ids: Option<PerRowIds<'a>>,
    /// Guide queries `(B, Dg)` against candidates `[positives; negatives]` (`B + B*K` rows).
    pub guide: Option<Guide<T>>,
    /// `(Q, D)` queue entries (normalised for cosine), shared by every anchor, no gradient.
    pub queue: Option<MatRef<'a, T>>,
}

impl<T: Float> PerRowExtras<'_, T> {
    /// Whether candidate `j` of anchor `i` is removed: `1..=K` its negatives, `K+1..` the queue.
    fn removes(&self, i: usize, j: usize, b: usize, k: usize) -> bool {
        if let Some((anchor_ids, candidate_ids, queue_ids)) = self.ids {
            let row = &candidate_ids[i * (1 + k)..(i + 1) * (1 + k)];
            let id = if j <= k {
                Some(row[j])
            } else {
                queue_ids.and_then(|q| q[j - 1 - k])
            };
            if id.is_some_and(|id| id == row[0] || id == anchor_ids[i]) {
                return true;
            }
        }
        match &self.guide {
            Some(guide) if j <= k => {
                guide.removes(guide.score(i, b + i * k + j - 1), guide.score(i, i))
            }
            _ => false,
        }
    }
}

/// `queries (B, D)`, `positives (B, D)`, `negatives (B*K, D)` with rows `i*K..(i+1)*K` for anchor `i`.
pub(super) fn contrast_per_row<T: Float>(
    queries: MatRef<'_, T>,
    positives: MatRef<'_, T>,
    negatives: MatRef<'_, T>,
    per_row: usize,
    params: &KernelParams,
    extras: Option<&PerRowExtras<'_, T>>,
) -> Result<PerRowOutput<T>> {
    let (b, d) = (queries.rows, queries.cols);
    let mut out = PerRowOutput {
        row_losses: filled_vec("anchors", b, 0.0)?,
        grad_queries: zeroed_vec("anchors", b * d)?,
        grad_positives: zeroed_vec("positives", b * d)?,
        grad_negatives: zeroed_vec("negatives", b * per_row * d)?,
    };
    let queue_rows = extras.and_then(|e| e.queue).map_or(0, |q| q.rows);
    if per_row + queue_rows == 0 {
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
            || Vec::with_capacity(per_row + 1 + queue_rows),
            |weights, (i, (((grad_query, grad_positive), grad_negatives), loss))| {
                let rows = RowInputs {
                    query: queries.row(i),
                    positive: positives.row(i),
                    negatives: &negatives.data[i * per_row * d..(i + 1) * per_row * d],
                    queue: extras.and_then(|e| e.queue).map_or(&[], |q| q.data),
                    removed: extras.map(|e| move |j: usize| e.removes(i, j, queries.rows, per_row)),
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

struct RowInputs<'a, T, F> {
    query: &'a [T],
    positive: &'a [T],
    negatives: &'a [T],
    /// Queue entries: extra candidates after the negatives, without gradient.
    queue: &'a [T],
    /// Whether candidate `j` (1-based after the positive) is removed.
    removed: Option<F>,
}

/// One anchor: fills its gradients and returns its loss. `weights` is scratch of length K+1.
fn contrast_row<T: Float, F: Fn(usize) -> bool>(
    rows: &RowInputs<'_, T, F>,
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
    weights.extend(
        rows.queue
            .chunks_exact(d)
            .map(|n| dot(rows.query, n).to_f64() * tau_inv),
    );
    if let Some(removed) = &rows.removed {
        for (j, w) in weights.iter_mut().enumerate().skip(1) {
            if removed(j) {
                // exp(-inf) = 0: the candidate leaves the softmax and gets no gradient.
                *w = f64::NEG_INFINITY;
            }
        }
    }
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
    let queue_weights = &weights[1 + rows.negatives.len() / d..];
    for (entry, &w) in rows.queue.chunks_exact(d).zip(queue_weights) {
        axpy(T::from_f64(w), entry, grad_query);
    }
    loss
}
