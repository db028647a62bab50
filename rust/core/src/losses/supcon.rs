//! Supervised contrastive loss (Khosla et al. 2020, the "outside" average), as
//! pytorch-metric-learning's `SupConLoss` computes it.
//!
//! With `s_ij = sim(z_i, z_j) / temperature` and `P(i)` the other rows with anchor `i`'s label,
//! `loss_i = logsumexp_{j != i} s_ij - mean_{p in P(i)} s_ip`. Anchors without a positive
//! contribute 0 and are left out of the mean. Like pytorch-metric-learning, a batch without any
//! pair of equal labels or without any pair of different labels has loss 0 (zero gradients).
//!
//! The logits are computed panel by panel of anchor rows (the shared similarity kernel and the
//! same [`PanelPlan`] as InfoNCE): each panel's rows become their gradient rows in place, then
//! two GEMMs add `G Z` to the panel's rows and `G^T Z_panel` to every row. Memory is the inputs'
//! size plus one panel.
//!
//! Extension point for extra negatives (a queue): the kernel contrasts `queries` with
//! `candidates` whose first `B` rows are the queries themselves; rows after them would be
//! label-masked negatives without gradient (see [`row_gradient`]'s `in_batch`).

use rayon::prelude::*;

use crate::error::{Result, TrainingError};
use crate::float::Float;
use crate::infonce::{exp_shifted_in_place, scale_in_place};
use crate::linalg::{
    filled_vec, gemm_into, normalize_rows_backward, normalize_rows_into, zeroed_vec, Accumulate,
    MatRef, Product,
};
use crate::pool::check_cancelled;
use crate::reduce::{max_value, ordered_sum};
use crate::similarity::{similarity_panel, PanelPlan};
use crate::types::{Reduction, Similarity};
use crate::validate::{ensure_finite, ensure_finite_output, ensure_positive, format_shape};
use crate::DEFAULT_LOGITS_BUDGET_BYTES;

use super::ensure_non_empty;

/// Supervised contrastive loss configuration. All fields may be changed between calls.
#[derive(Debug, Clone, PartialEq)]
pub struct SupConLoss {
    /// Softmax temperature (finite, > 0).
    pub temperature: f64,
    /// Similarity function.
    pub similarity: Similarity,
    /// `Mean` over anchors with at least one positive, `Sum`, or `None` (per anchor).
    pub reduction: Reduction,
    /// Largest logits matrix kept whole, in bytes; above it the kernel streams panels.
    pub logits_budget_bytes: usize,
}

impl Default for SupConLoss {
    fn default() -> Self {
        Self {
            temperature: 0.1,
            similarity: Similarity::Cosine,
            reduction: Reduction::Mean,
            logits_budget_bytes: DEFAULT_LOGITS_BUDGET_BYTES,
        }
    }
}

/// Loss value and gradient of a labelled-batch loss.
#[derive(Debug, Clone)]
pub struct LabeledOutput<T> {
    /// Per-anchor losses, `(B,)` (0 for anchors that contribute nothing).
    pub row_losses: Vec<f64>,
    /// The reduced loss (for `none`, the sum, whose gradient is returned).
    pub loss: f64,
    /// Gradient w.r.t. the embeddings, `(B, D)`.
    pub grad_embeddings: Vec<T>,
}

/// Checks a labelled batch: non-empty, finite, one label per row.
pub(crate) fn validate_labeled<T: Float>(embeddings: MatRef<'_, T>, labels: &[i64]) -> Result<()> {
    ensure_non_empty("embeddings", embeddings)?;
    if labels.len() != embeddings.rows {
        return Err(TrainingError::shape(
            "labels",
            format!(
                "expected shape (B,) = {} like embeddings' rows, got {}",
                format_shape(&[embeddings.rows]),
                format_shape(&[labels.len()])
            ),
        ));
    }
    ensure_finite("embeddings", embeddings.data)
}

/// For every row, how many other rows share its label (by sorting, `O(B log B)`).
pub(crate) fn positive_counts(labels: &[i64]) -> Result<Vec<usize>> {
    let mut sorted = crate::alloc::try_copy("labels", labels)?;
    sorted.sort_unstable();
    crate::alloc::try_collect(
        "labels",
        labels.len(),
        labels.iter().map(|label| {
            let start = sorted.partition_point(|v| v < label);
            let end = sorted.partition_point(|v| v <= label);
            end - start - 1
        }),
    )
}

impl SupConLoss {
    /// Computes the loss and the gradient w.r.t. the embeddings (`labels` get none).
    pub fn forward<T: Float>(
        &self,
        embeddings: MatRef<'_, T>,
        labels: &[i64],
    ) -> Result<LabeledOutput<T>> {
        ensure_positive("temperature", self.temperature)?;
        validate_labeled(embeddings, labels)?;
        let (b, d) = (embeddings.rows, embeddings.cols);
        let positives = positive_counts(labels)?;
        let with_positive = positives.iter().filter(|&&p| p > 0).count();
        let any_negative = positives.iter().any(|&p| p + 1 < b);
        let mut out = LabeledOutput {
            row_losses: filled_vec("labels", b, 0.0)?,
            loss: 0.0,
            grad_embeddings: zeroed_vec("embeddings", b * d)?,
        };
        if with_positive == 0 || !any_negative {
            return Ok(out);
        }
        let row_weight = match self.reduction {
            Reduction::Mean => 1.0 / with_positive as f64,
            Reduction::Sum | Reduction::None => 1.0,
        };
        let mut unit_rows = match self.similarity {
            Similarity::Cosine => filled_vec("embeddings", b * d, T::ZERO)?,
            Similarity::Dot => Vec::new(),
        };
        let norms = match self.similarity {
            Similarity::Cosine => Some(normalize_rows_into(
                "embeddings",
                embeddings,
                &mut unit_rows,
            )?),
            Similarity::Dot => None,
        };
        let z = match self.similarity {
            Similarity::Cosine => MatRef::new(&unit_rows, b, d),
            Similarity::Dot => embeddings,
        };
        let plan = PanelPlan::new(b, b, T::BYTES, self.logits_budget_bytes);
        let mut logits = filled_vec("embeddings", plan.panel_rows * b, T::ZERO)?;
        let scale = T::from_f64(1.0 / self.temperature);
        let rows = RowContext {
            labels,
            positives: &positives,
            row_weight,
            in_batch: b,
        };
        for panel in plan.panels() {
            check_cancelled()?;
            let panel_logits = &mut logits[..panel.len() * b];
            similarity_panel(z.rows_range(panel.start, panel.end), z, scale, panel_logits)?;
            panel_logits
                .par_chunks_mut(b)
                .zip(out.row_losses[panel.clone()].par_iter_mut())
                .enumerate()
                .for_each(|(offset, (row, loss))| {
                    *loss = row_gradient(row, panel.start + offset, &rows);
                });
            check_cancelled()?;
            let gradient = MatRef::new(&*panel_logits, panel.len(), b);
            gemm_into(
                "embeddings",
                Product::NN,
                gradient,
                z,
                &mut out.grad_embeddings[panel.start * d..panel.end * d],
                scale,
                Accumulate::Add,
                true,
            )?;
            check_cancelled()?;
            gemm_into(
                "embeddings",
                Product::TN,
                gradient,
                z.rows_range(panel.start, panel.end),
                &mut out.grad_embeddings,
                scale,
                Accumulate::Add,
                true,
            )?;
        }
        if let Some(norms) = &norms {
            normalize_rows_backward(&mut out.grad_embeddings, &unit_rows, norms, d);
        }
        let total = ordered_sum(&out.row_losses);
        out.loss = if self.reduction == Reduction::Mean {
            total * row_weight
        } else {
            total
        };
        ensure_finite_output(
            "temperature",
            "the logits similarity / temperature exceed its range: raise the temperature or, \
             with dot similarity, scale the inputs down",
            out.loss,
            &[&out.grad_embeddings],
        )?;
        Ok(out)
    }
}

/// What every row's gradient step needs.
struct RowContext<'a> {
    labels: &'a [i64],
    positives: &'a [usize],
    /// d(reduced loss) / d(loss_i) for anchors with a positive.
    row_weight: f64,
    /// Columns `0..in_batch` are the batch itself (positives possible, the anchor's own column
    /// excluded); columns after them would be extra negatives.
    in_batch: usize,
}

/// Turns logits row `i` into its gradient row `w (softmax_j - [j in P(i)] / |P(i)|)` (0 at
/// `j = i`) and returns `loss_i`; a row without positive becomes zeros and returns 0.
fn row_gradient<T: Float>(row: &mut [T], i: usize, context: &RowContext<'_>) -> f64 {
    let count = context.positives[i];
    if count == 0 {
        row.fill(T::ZERO);
        return 0.0;
    }
    let label = context.labels[i];
    let is_positive = |j: usize| j != i && j < context.in_batch && context.labels[j] == label;
    let positive_sum: f64 = row
        .iter()
        .enumerate()
        .filter(|&(j, _)| is_positive(j))
        .map(|(_, v)| v.to_f64())
        .sum();
    row[i] = T::from_f64(f64::NEG_INFINITY);
    let max = max_value(row);
    let sum = exp_shifted_in_place(row, max);
    let weight = context.row_weight;
    scale_in_place(row, T::from_f64(weight / sum));
    row[i] = T::ZERO;
    let positive_weight = T::from_f64(weight / count as f64);
    for (j, v) in row.iter_mut().enumerate() {
        if is_positive(j) {
            *v -= positive_weight;
        }
    }
    max.to_f64() + sum.ln() - positive_sum / count as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_rows_worked_value() {
        // Unit rows e0, e0, e1 with labels (0, 0, 1), temperature 1: anchor 0 sees s = (1, 0)
        // for rows 1, 2, loss_0 = log(e + 1) - 1 = loss_1; anchor 2 has no positive.
        let z = [1.0f64, 0.0, 1.0, 0.0, 0.0, 1.0];
        let loss = SupConLoss {
            temperature: 1.0,
            ..SupConLoss::default()
        };
        let out = loss.forward(MatRef::new(&z, 3, 2), &[0, 0, 1]).unwrap();
        let want = (1.0f64.exp() + 1.0).ln() - 1.0;
        assert!((out.loss - want).abs() < 1e-12);
        assert_eq!(out.row_losses[2], 0.0);
        // All labels equal: no negative pair, loss 0 (pytorch-metric-learning's rule).
        let out = loss.forward(MatRef::new(&z, 3, 2), &[4, 4, 4]).unwrap();
        assert_eq!(out.loss, 0.0);
        assert_eq!(
            loss.forward(MatRef::new(&z, 3, 2), &[0, 1])
                .unwrap_err()
                .arg(),
            "labels"
        );
    }
}
