//! Batch triplet losses from labels: what sentence-transformers 6.2's `BatchHardTripletLoss`,
//! `BatchHardSoftMarginTripletLoss`, `BatchSemiHardTripletLoss` and `BatchAllTripletLoss`
//! compute, streamed in panels of anchor rows so `B` may exceed what a `B x B` distance matrix
//! allows.
//!
//! Each panel's Gram rows come from the shared similarity kernel and become distance rows
//! (Euclidean from the Gram identity, clamped at 0; cosine `1 - u_i . u_j`). Every row is mined
//! on its own and turned in place into the coefficients `C_ij = d loss / d d_ij` (divided by
//! `d_ij` for Euclidean), and two GEMMs add their gradient: Euclidean
//! `grad = diag(rowsum W + colsum W) Z - (W + W^T) Z` with `W = C / d` (0 at distance 0),
//! cosine `grad_u = -(C + C^T) U` then back through the normalisation. Where the peers divide
//! by a count of triplets, the unnormalised gradient is scaled once at the end.

use rayon::prelude::*;

use super::supcon::{positive_counts, validate_labeled, LabeledOutput};
use crate::alloc::try_copy;
use crate::error::{Result, TrainingError};
use crate::float::Float;
use crate::linalg::{
    filled_vec, gemm_into, normalize_rows_backward, normalize_rows_into, zeroed_vec, Accumulate,
    MatRef, Product,
};
use crate::pool::check_cancelled;
use crate::reduce::ordered_sum;
use crate::similarity::{similarity_panel, PanelPlan};
use crate::types::Distance;
use crate::validate::{ensure_finite_output, ensure_non_negative};
use crate::DEFAULT_LOGITS_BUDGET_BYTES;

/// Which triplets of the batch are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TripletMining {
    /// Per anchor, its farthest positive and nearest negative (`BatchHardTripletLoss`).
    Hardest,
    /// Per (anchor, positive), the nearest negative farther than the positive, else the
    /// farthest negative (`BatchSemiHardTripletLoss`).
    SemiHard,
    /// Every valid triplet, averaged over the active ones (`BatchAllTripletLoss`).
    All,
}

impl TripletMining {
    /// Parses `"hardest"`, `"semi_hard"` or `"all"`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "hardest" => Ok(Self::Hardest),
            "semi_hard" => Ok(Self::SemiHard),
            "all" => Ok(Self::All),
            other => Err(TrainingError::value(
                "mining",
                format!("expected 'hardest', 'semi_hard' or 'all', got '{other}'"),
            )),
        }
    }

    /// The name as users spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hardest => "hardest",
            Self::SemiHard => "semi_hard",
            Self::All => "all",
        }
    }
}

/// Batch triplet loss configuration. All fields may be changed between calls.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchTripletLoss {
    /// Which triplets are used.
    pub mining: TripletMining,
    /// Margin (finite, >= 0; unused with `soft_margin`).
    pub margin: f64,
    /// Euclidean or cosine (`1 - cos`) distance.
    pub distance: Distance,
    /// `softplus(d_ap - d_an)` instead of the hinge (only with `Hardest`).
    pub soft_margin: bool,
    /// Largest distance panel kept whole, in bytes; above it the kernel streams panels.
    pub logits_budget_bytes: usize,
}

impl Default for BatchTripletLoss {
    fn default() -> Self {
        Self {
            mining: TripletMining::Hardest,
            margin: 5.0,
            distance: Distance::Euclidean,
            soft_margin: false,
            logits_budget_bytes: DEFAULT_LOGITS_BUDGET_BYTES,
        }
    }
}

/// What mining one row needs.
struct RowContext<'a> {
    labels: &'a [i64],
    positives: &'a [usize],
    margin: f64,
    mining: TripletMining,
    soft_margin: bool,
    euclidean: bool,
}

/// One row's result: its unnormalised loss and how many terms it counts.
#[derive(Default, Clone, Copy)]
struct RowResult {
    loss: f64,
    active: usize,
}

impl BatchTripletLoss {
    /// Checks the configuration.
    pub fn validate(&self) -> Result<()> {
        ensure_non_negative("margin", self.margin)?;
        if self.soft_margin && self.mining != TripletMining::Hardest {
            return Err(TrainingError::value(
                "soft_margin",
                format!(
                    "soft_margin=True needs mining='hardest', got mining='{}'",
                    self.mining.name()
                ),
            ));
        }
        Ok(())
    }

    /// Computes the loss (one scalar) and the gradient w.r.t. the embeddings.
    pub fn forward<T: Float>(
        &self,
        embeddings: MatRef<'_, T>,
        labels: &[i64],
    ) -> Result<LabeledOutput<T>> {
        self.validate()?;
        validate_labeled(embeddings, labels)?;
        let (b, d) = (embeddings.rows, embeddings.cols);
        let positives = positive_counts(labels)?;
        let euclidean = self.distance == Distance::Euclidean;
        let mut unit_rows = if euclidean {
            Vec::new()
        } else {
            filled_vec("embeddings", b * d, T::ZERO)?
        };
        let norms = if euclidean {
            None
        } else {
            Some(normalize_rows_into(
                "embeddings",
                embeddings,
                &mut unit_rows,
            )?)
        };
        let z = if euclidean {
            embeddings
        } else {
            MatRef::new(&unit_rows, b, d)
        };
        let squared_norms: Vec<f64> = crate::alloc::try_collect(
            "embeddings",
            b,
            (0..b).map(|i| {
                let row = z.row(i);
                crate::linalg::dot(row, row).to_f64()
            }),
        )?;
        let mut out = LabeledOutput {
            row_losses: filled_vec("labels", b, 0.0)?,
            loss: 0.0,
            grad_embeddings: zeroed_vec("embeddings", b * d)?,
        };
        let mut actives = filled_vec("labels", b, 0usize)?;
        let mut diagonal = filled_vec("embeddings", b, T::ZERO)?;
        let ones = filled_vec("embeddings", b, T::ONE)?;
        let plan = PanelPlan::new(b, b, T::BYTES, self.logits_budget_bytes);
        let mut panel_buf = filled_vec("embeddings", plan.panel_rows * b, T::ZERO)?;
        let context = RowContext {
            labels,
            positives: &positives,
            margin: self.margin,
            mining: self.mining,
            soft_margin: self.soft_margin,
            euclidean,
        };
        for panel in plan.panels() {
            check_cancelled()?;
            let rows = &mut panel_buf[..panel.len() * b];
            similarity_panel(z.rows_range(panel.start, panel.end), z, T::ONE, rows)?;
            let results: Vec<Result<RowResult>> = rows
                .par_chunks_mut(b)
                .enumerate()
                .map(|(offset, row)| {
                    let i = panel.start + offset;
                    to_distances(row, i, &squared_norms, euclidean);
                    mine_row(row, i, &context)
                })
                .collect();
            for (offset, result) in results.into_iter().enumerate() {
                let result = result?;
                out.row_losses[panel.start + offset] = result.loss;
                actives[panel.start + offset] = result.active;
            }
            check_cancelled()?;
            let coefficients = MatRef::new(&*rows, panel.len(), b);
            if euclidean {
                // rowsum W for the panel rows and colsum W for every row: both GEMVs.
                gemm_into(
                    "embeddings",
                    Product::NT,
                    coefficients,
                    MatRef::new(&ones, 1, b),
                    &mut diagonal[panel.start..panel.end],
                    T::ONE,
                    Accumulate::Add,
                    true,
                )?;
                gemm_into(
                    "embeddings",
                    Product::TN,
                    coefficients,
                    MatRef::new(&ones[..panel.len()], panel.len(), 1),
                    &mut diagonal,
                    T::ONE,
                    Accumulate::Add,
                    true,
                )?;
            }
            gemm_into(
                "embeddings",
                Product::NN,
                coefficients,
                z,
                &mut out.grad_embeddings[panel.start * d..panel.end * d],
                -T::ONE,
                Accumulate::Add,
                true,
            )?;
            check_cancelled()?;
            gemm_into(
                "embeddings",
                Product::TN,
                coefficients,
                z.rows_range(panel.start, panel.end),
                &mut out.grad_embeddings,
                -T::ONE,
                Accumulate::Add,
                true,
            )?;
        }
        if euclidean {
            out.grad_embeddings
                .par_chunks_mut(d)
                .zip(diagonal.par_iter())
                .enumerate()
                .for_each(|(i, (g, &w))| crate::linalg::axpy(w, z.row(i), g));
        }
        let normaliser = match self.mining {
            TripletMining::Hardest => b as f64,
            TripletMining::SemiHard | TripletMining::All => actives.iter().sum::<usize>() as f64,
        };
        let total = ordered_sum(&out.row_losses);
        let factor = if normaliser > 0.0 {
            1.0 / normaliser
        } else {
            0.0
        };
        out.loss = total * factor;
        let factor = T::from_f64(factor);
        out.grad_embeddings
            .par_iter_mut()
            .for_each(|g| *g *= factor);
        if let Some(norms) = &norms {
            normalize_rows_backward(&mut out.grad_embeddings, &unit_rows, norms, d);
        }
        ensure_finite_output(
            "embeddings",
            "distances between such large embeddings; scale the inputs down",
            out.loss,
            &[&out.grad_embeddings],
        )?;
        Ok(out)
    }
}

/// Turns Gram row `i` into distances in place: Euclidean `sqrt(max(n_i + n_j - 2 g_ij, 0))`
/// (exactly 0 at `j = i`), cosine `1 - g_ij`.
fn to_distances<T: Float>(row: &mut [T], i: usize, squared_norms: &[f64], euclidean: bool) {
    if euclidean {
        let ni = squared_norms[i];
        for (v, &nj) in row.iter_mut().zip(squared_norms) {
            let squared = ni + nj - 2.0 * v.to_f64();
            *v = T::from_f64(squared.max(0.0).sqrt());
        }
        row[i] = T::ZERO;
    } else {
        for v in row.iter_mut() {
            *v = T::ONE - *v;
        }
    }
}

/// Mines distance row `i` and rewrites it as the gradient coefficients (`d loss / d d_ij`,
/// divided by `d_ij` for Euclidean), returning the row's unnormalised loss and active count.
fn mine_row<T: Float>(row: &mut [T], i: usize, context: &RowContext<'_>) -> Result<RowResult> {
    let distances = try_copy("embeddings", row)?;
    row.fill(T::ZERO);
    let dist = |j: usize| distances[j].to_f64();
    let label = context.labels[i];
    let mut add = |j: usize, coeff: f64| {
        let value = if context.euclidean {
            let dj = dist(j);
            if dj > 0.0 {
                coeff / dj
            } else {
                0.0
            }
        } else {
            coeff
        };
        row[j] += T::from_f64(value);
    };
    let b = distances.len();
    let is_negative = |j: usize| context.labels[j] != label;
    let is_positive = |j: usize| j != i && context.labels[j] == label;
    match context.mining {
        TripletMining::Hardest => {
            let hardest_positive = (0..b).filter(|&j| is_positive(j)).fold(
                None,
                |best: Option<usize>, j| match best {
                    Some(k) if dist(k) >= dist(j) => Some(k),
                    _ => Some(j),
                },
            );
            let positive_distance = hardest_positive.map_or(0.0, |j| dist(j).max(0.0));
            let farthest = argmax(&distances, |_| true).expect("row is not empty");
            let (negative_distance, negative_terms) = match argmin(&distances, is_negative) {
                Some(n) => (dist(n), [Some(n), None]),
                None => {
                    let nearest = argmin(&distances, |_| true).expect("row is not empty");
                    (
                        dist(farthest) + dist(nearest),
                        [Some(farthest), Some(nearest)],
                    )
                }
            };
            let gap = positive_distance - negative_distance;
            let (loss, slope) = if context.soft_margin {
                let softplus = if gap > 0.0 {
                    gap + (-gap).exp().ln_1p()
                } else {
                    gap.exp().ln_1p()
                };
                (softplus, 1.0 / (1.0 + (-gap).exp()))
            } else if gap + context.margin >= 0.0 {
                (gap + context.margin, 1.0)
            } else {
                (0.0, 0.0)
            };
            if slope != 0.0 {
                if let Some(p) = hardest_positive {
                    add(p, slope);
                }
                for n in negative_terms.into_iter().flatten() {
                    add(n, -slope);
                }
            }
            Ok(RowResult { loss, active: 1 })
        }
        TripletMining::SemiHard => {
            let mut negatives: Vec<(f64, usize)> = crate::alloc::try_collect(
                "embeddings",
                b - context.positives[i] - 1,
                (0..b).filter(|&j| is_negative(j)).map(|j| (dist(j), j)),
            )?;
            negatives.sort_by(|x, y| x.0.total_cmp(&y.0));
            let inside = match negatives.last() {
                Some(&(_, n)) => n,
                None => argmin(&distances, |_| true).expect("row is not empty"),
            };
            let mut result = RowResult::default();
            for p in (0..b).filter(|&j| is_positive(j)) {
                result.active += 1;
                let dp = dist(p);
                let position = negatives.partition_point(|&(v, _)| v <= dp);
                let n = negatives.get(position).map_or(inside, |&(_, n)| n);
                let hinge = dp - dist(n) + context.margin;
                if hinge > 0.0 {
                    result.loss += hinge;
                    add(p, 1.0);
                    add(n, -1.0);
                }
            }
            Ok(result)
        }
        TripletMining::All => {
            let mut positive_distances: Vec<f64> = crate::alloc::try_collect(
                "embeddings",
                context.positives[i],
                (0..b).filter(|&j| is_positive(j)).map(dist),
            )?;
            positive_distances.sort_by(f64::total_cmp);
            let mut negative_distances: Vec<f64> = crate::alloc::try_collect(
                "embeddings",
                b - context.positives[i] - 1,
                (0..b).filter(|&j| is_negative(j)).map(dist),
            )?;
            negative_distances.sort_by(f64::total_cmp);
            // suffix[k]: sum of the positive distances from rank k on.
            let mut suffix = filled_vec("embeddings", positive_distances.len() + 1, 0.0)?;
            for k in (0..positive_distances.len()).rev() {
                suffix[k] = suffix[k + 1] + positive_distances[k];
            }
            let mut result = RowResult::default();
            let margin = context.margin;
            for n in (0..b).filter(|&j| is_negative(j)) {
                // Active positives: d_p - d_n + margin > 0.
                let threshold = dist(n) - margin;
                let k = positive_distances.partition_point(|&v| v <= threshold);
                let count = positive_distances.len() - k;
                if count > 0 {
                    result.active += count;
                    result.loss += suffix[k] + count as f64 * (margin - dist(n));
                    add(n, -(count as f64));
                }
            }
            for p in (0..b).filter(|&j| is_positive(j)) {
                let threshold = dist(p) + margin;
                let count = negative_distances.partition_point(|&v| v < threshold);
                if count > 0 {
                    add(p, count as f64);
                }
            }
            Ok(result)
        }
    }
}

/// Index of the first largest value among `keep`ers.
fn argmax<T: Float>(values: &[T], keep: impl Fn(usize) -> bool) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (j, v) in values.iter().enumerate() {
        if keep(j) && best.is_none_or(|k| *v > values[k]) {
            best = Some(j);
        }
    }
    best
}

/// Index of the first smallest value among `keep`ers.
fn argmin<T: Float>(values: &[T], keep: impl Fn(usize) -> bool) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (j, v) in values.iter().enumerate() {
        if keep(j) && best.is_none_or(|k| *v < values[k]) {
            best = Some(j);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardest_worked_value() {
        // Points 0, 1, 3 on a line, labels (0, 0, 1), margin 1: anchor 0: d_ap 1, d_an 3,
        // hinge max(0, 1 - 3 + 1) = 0; anchor 1: 1 - 2 + 1 = 0 (active at 0); anchor 2: no
        // positive (d_ap 0), nearest negative 2: max(0, 0 - 2 + 1) = 0. Mean 0.
        let z = [0.0f64, 1.0, 3.0];
        let loss = BatchTripletLoss {
            margin: 2.0,
            ..BatchTripletLoss::default()
        };
        // margin 2: anchor 0: 1 - 3 + 2 = 0, anchor 1: 1 - 2 + 2 = 1, anchor 2: 0 - 2 + 2 = 0.
        let out = loss.forward(MatRef::new(&z, 3, 1), &[0, 0, 1]).unwrap();
        assert!((out.loss - 1.0 / 3.0).abs() < 1e-12);
        let bad = BatchTripletLoss {
            soft_margin: true,
            mining: TripletMining::All,
            ..BatchTripletLoss::default()
        };
        assert_eq!(
            bad.forward(MatRef::new(&z, 3, 1), &[0, 0, 1])
                .unwrap_err()
                .arg(),
            "soft_margin"
        );
    }
}
