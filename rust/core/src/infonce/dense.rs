//! In-batch / shared-negatives InfoNCE over a dense logits matrix, cut into panels of full rows.
//!
//! Each panel's logits come from one GEMM (the shared similarity kernel). A panel holds whole
//! rows, so its row log-sum-exp, per-row loss and softmax gradient are computed in one visit per
//! row while the row is in cache, and the panel's gradient GEMMs (`dQ = G C`, `dC += G^T Q`) run
//! right after: three matrix products in all. The symmetric loss also needs column log-sum-exp
//! over all rows, so when the logits do not fit the budget it makes one statistics pass first
//! and recomputes each panel afterwards (four matrix products); when they fit, the single panel
//! is kept and reused. Working memory is the inputs' size plus one panel.

use crate::simd_dispatch;
use rayon::prelude::*;

use super::exclude::{DenseExclusions, Excluded};
use super::{KernelOutput, KernelParams};
use crate::alloc::try_collect;
use crate::error::Result;
use crate::float::Float;
use crate::linalg::{filled_vec, gemm_into, zeroed_vec, Accumulate, MatRef, Product};
use crate::pool::check_cancelled;
use crate::reduce::{max_value, LaneSum, Term, Value, SUM_BLOCK};
use crate::similarity::{similarity_panel, PanelPlan};

/// Columns per task when column statistics are gathered.
const COLUMN_CHUNK: usize = 256;

/// Runs the dense kernel: `queries (B, D)` against `candidates (C, D)`, where candidate `i < B`
/// is the positive of query `i`.
pub(super) fn contrast_dense<T: Float>(
    queries: MatRef<'_, T>,
    candidates: MatRef<'_, T>,
    plan: &PanelPlan,
    logits: &mut [T],
    params: &KernelParams,
    exclusions: Option<&DenseExclusions<'_, T>>,
) -> Result<KernelOutput<T>> {
    let (b, nc, d) = (queries.rows, candidates.rows, queries.cols);
    let mut guide = Vec::new();
    if let Some(ex) = exclusions {
        guide = zeroed_vec("guide_anchors", ex.guide_panel_len(plan.panel_rows))?;
    }
    let guide_cols = exclusions.map_or(0, DenseExclusions::guide_cols);
    let scale = T::from_f64(params.inv_temperature);
    let mut output = KernelOutput {
        row_losses: filled_vec("anchors", b, 0.0)?,
        grad_queries: zeroed_vec("anchors", b * d)?,
        grad_candidates: zeroed_vec("positives", nc * d)?,
    };

    let column_lse = if params.symmetric {
        let masks = exclusions.map(|ex| (ex, &mut guide[..]));
        let lse = column_log_sum_exp(queries, candidates, plan, scale, logits, masks)?;
        Some(try_collect(
            "anchors",
            b,
            lse.iter().map(|&v| T::from_f64(v)),
        )?)
    } else {
        None
    };
    let logits_reusable = params.symmetric && plan.is_single_panel();

    for panel in plan.panels() {
        check_cancelled()?;
        let panel_logits = &mut logits[..panel.len() * nc];
        if !logits_reusable {
            similarity_panel(
                queries.rows_range(panel.start, panel.end),
                candidates,
                scale,
                panel_logits,
            )?;
        }
        let weights = GradientWeights::new(params);
        let losses = output.row_losses[panel.clone()].par_iter_mut();
        if let Some(ex) = exclusions {
            let guide_panel = &mut guide[..ex.guide_panel_len(panel.len())];
            if !logits_reusable {
                ex.guide_panel(panel.clone(), guide_panel)?;
            }
            let guide_panel = &*guide_panel;
            panel_logits
                .par_chunks_mut(nc)
                .zip(losses)
                .enumerate()
                .for_each_init(
                    || (Vec::new(), Vec::new()),
                    |(list, saved), (offset, (row, loss))| {
                        let i = panel.start + offset;
                        let guide_row =
                            guide_panel.get(offset * guide_cols..(offset + 1) * guide_cols);
                        ex.row(i, guide_row.unwrap_or(&[]), list);
                        *loss = masked_softmax_gradient_row(
                            row,
                            i,
                            column_lse.as_deref(),
                            &weights,
                            list,
                            saved,
                        );
                    },
                );
        } else {
            panel_logits
                .par_chunks_mut(nc)
                .zip(losses)
                .enumerate()
                .for_each(|(offset, (row, loss))| {
                    *loss = softmax_gradient_row(
                        row,
                        panel.start + offset,
                        column_lse.as_deref(),
                        &weights,
                    );
                });
        }
        check_cancelled()?;
        let gradient = MatRef::new(panel_logits, panel.len(), nc);
        gemm_into(
            "anchors",
            Product::NN,
            gradient,
            candidates,
            &mut output.grad_queries[panel.start * d..panel.end * d],
            scale,
            Accumulate::Overwrite,
            true,
        )?;
        check_cancelled()?;
        gemm_into(
            "positives",
            Product::TN,
            gradient,
            queries.rows_range(panel.start, panel.end),
            &mut output.grad_candidates,
            scale,
            // The first panel writes every element; later panels add to it.
            if panel.start == 0 {
                Accumulate::Overwrite
            } else {
                Accumulate::Add
            },
            true,
        )?;
    }
    Ok(output)
}

/// d(reduced loss)/d(softmax term) for the forward and reverse directions.
struct GradientWeights {
    forward: f64,
    reverse: f64,
}

impl GradientWeights {
    fn new(params: &KernelParams) -> Self {
        if params.symmetric {
            Self {
                forward: 0.5 * params.row_weight,
                reverse: 0.5 * params.row_weight,
            }
        } else {
            Self {
                forward: params.row_weight,
                reverse: 0.0,
            }
        }
    }
}

/// Turns one row of logits (row `i` of the full matrix) into its gradient row in place and
/// returns the row's loss. `column_lse` (symmetric only) holds the reverse direction's
/// log-sum-exp for each of the first B columns (column `j` is positive `j` as a query).
fn softmax_gradient_row<T: Float>(
    row: &mut [T],
    i: usize,
    column_lse: Option<&[T]>,
    weights: &GradientWeights,
) -> f64 {
    let positive = row[i].to_f64();
    let forward = T::from_f64(weights.forward);
    let Some(column_lse) = column_lse else {
        // One exp per element: store exp(x - max), then scale by forward / sum.
        let max = max_value(row);
        let sum = exp_shifted_in_place(row, max);
        scale_in_place(row, T::from_f64(weights.forward / sum));
        row[i] -= forward;
        return max.to_f64() + sum.ln() - positive;
    };
    let (loss, _) = symmetric_gradient_row(row, i, column_lse, weights);
    loss
}

/// The symmetric case of [`softmax_gradient_row`]; also returns the row's log-sum-exp (as the
/// element type, the shift of its softmax).
fn symmetric_gradient_row<T: Float>(
    row: &mut [T],
    i: usize,
    column_lse: &[T],
    weights: &GradientWeights,
) -> (f64, T) {
    // Both softmaxes read the original logits, so the row is rewritten once at the end.
    let positive = row[i].to_f64();
    let (forward, reverse) = (T::from_f64(weights.forward), T::from_f64(weights.reverse));
    let max = max_value(row);
    let row_lse = max.to_f64() + sum_exp_shifted(row, max).ln();
    let shift = T::from_f64(row_lse);
    let (in_batch, negatives) = row.split_at_mut(column_lse.len());
    both_directions_softmax(in_batch, shift, forward, column_lse, reverse);
    scale_exp_shifted(negatives, shift, forward);
    row[i] -= forward + reverse;
    let loss = 0.5 * ((row_lse - positive) + (column_lse[i].to_f64() - positive));
    (loss, shift)
}

/// Logit standing for a removed candidate: `exp` of it minus any finite shift is exactly 0.
fn removed<T: Float>() -> T {
    T::from_f64(-T::MAX.to_f64())
}

/// [`softmax_gradient_row`] with the `excluded` columns left out of the row's softmax
/// (`forward`) and/or of their column's reverse softmax (`reverse`). `saved` is scratch.
fn masked_softmax_gradient_row<T: Float>(
    row: &mut [T],
    i: usize,
    column_lse: Option<&[T]>,
    weights: &GradientWeights,
    excluded: &[Excluded],
    saved: &mut Vec<T>,
) -> f64 {
    saved.clear();
    saved.extend(excluded.iter().map(|e| row[e.col]));
    for e in excluded.iter().filter(|e| e.forward) {
        row[e.col] = removed();
    }
    let Some(column_lse) = column_lse else {
        // Removed logits get weight exactly 0 (exp underflows to 0, the weight is flushed).
        return softmax_gradient_row(row, i, None, weights);
    };
    let (loss, shift) = symmetric_gradient_row(row, i, column_lse, weights);
    // Rewrite the excluded entries from their original logits, each direction only if kept.
    let (forward, reverse) = (T::from_f64(weights.forward), T::from_f64(weights.reverse));
    let (forward_floor, reverse_floor) = (subnormal_floor(forward), subnormal_floor(reverse));
    for (e, &x) in excluded.iter().zip(saved.iter()) {
        let mut value = T::ZERO;
        if !e.forward {
            value += weighted((x - shift).exp_fast(), forward, forward_floor);
        }
        if e.col < column_lse.len() && !e.reverse {
            value += weighted((x - column_lse[e.col]).exp_fast(), reverse, reverse_floor);
        }
        row[e.col] = value;
    }
    loss
}

/// `sum_j exp(x_j - shift)` in `f64` (through [`LaneSum`]), storing the exponentials back
/// into `row` when `store`.
#[inline(always)]
fn exp_sum<T: Float>(row: &mut [T], shift: T, store: bool) -> f64 {
    let mut sum = LaneSum::new();
    for block in row.chunks_mut(SUM_BLOCK) {
        if store {
            // The block is in L1: storing first and summing the stored values is nearly free.
            for v in block.iter_mut() {
                *v = (*v - shift).exp_fast();
            }
            sum.add_block(block, Value);
        } else {
            sum.add_block(block, ExpShifted(shift.to_f64()));
        }
    }
    sum.total()
}

/// The term `exp(x - shift)` (`shift` is a value of the element type, so converting it back is
/// exact).
#[derive(Clone, Copy)]
struct ExpShifted(f64);

impl Term for ExpShifted {
    #[inline(always)]
    fn of<F: Float>(self, x: F) -> F {
        (x - F::from_f64(self.0)).exp_fast()
    }
}

/// `x_j <- exp(x_j - shift)`, returning the sum of the new values (accumulated in f64).
#[simd_dispatch]
pub(crate) fn exp_shifted_in_place<T: Float>(row: &mut [T], shift: T) -> f64 {
    exp_sum(row, shift, true)
}

/// `sum_j exp(x_j - shift)` accumulated in f64 (the row is left unchanged).
#[simd_dispatch]
fn sum_exp_shifted<T: Float>(row: &mut [T], shift: T) -> f64 {
    exp_sum(row, shift, false)
}

/// `x_j <- factor * x_j` for `x_j >= 0`, flushing would-be subnormals (see [`weighted`]).
#[simd_dispatch]
pub(crate) fn scale_in_place<T: Float>(row: &mut [T], factor: T) {
    let floor = subnormal_floor(factor);
    row.iter_mut()
        .for_each(|v| *v = weighted(*v, factor, floor));
}

/// `x_j <- weight * exp(x_j - shift)`.
#[simd_dispatch]
fn scale_exp_shifted<T: Float>(row: &mut [T], shift: T, weight: T) {
    let floor = subnormal_floor(weight);
    for v in row.iter_mut() {
        *v = weighted((*v - shift).exp_fast(), weight, floor);
    }
}

/// `x_j <- forward * exp(x_j - shift) + reverse * exp(x_j - column_shift_j)`.
#[simd_dispatch]
fn both_directions_softmax<T: Float>(
    row: &mut [T],
    shift: T,
    forward: T,
    column_shift: &[T],
    reverse: T,
) {
    let (forward_floor, reverse_floor) = (subnormal_floor(forward), subnormal_floor(reverse));
    for (v, &c) in row.iter_mut().zip(column_shift) {
        let x = *v;
        *v = weighted((x - shift).exp_fast(), forward, forward_floor)
            + weighted((x - c).exp_fast(), reverse, reverse_floor);
    }
}

/// Column log-sum-exp of the first B columns of the logits, over all B rows, computed panel by
/// panel with an online (max, sum) merge. Leaves the last panel's logits in `logits` (and,
/// with `masks`, the last guide panel in its buffer). `masks` leaves the reverse-excluded
/// entries out of the statistics.
fn column_log_sum_exp<T: Float>(
    queries: MatRef<'_, T>,
    candidates: MatRef<'_, T>,
    plan: &PanelPlan,
    scale: T,
    logits: &mut [T],
    mut masks: Option<(&DenseExclusions<'_, T>, &mut [T])>,
) -> Result<Vec<f64>> {
    let (b, nc) = (queries.rows, candidates.rows);
    let mut max = filled_vec("anchors", b, f64::NEG_INFINITY)?;
    let mut sum = filled_vec("anchors", b, 0.0f64)?;
    for panel in plan.panels() {
        check_cancelled()?;
        let panel_logits = &mut logits[..panel.len() * nc];
        similarity_panel(
            queries.rows_range(panel.start, panel.end),
            candidates,
            scale,
            panel_logits,
        )?;
        let saved = match masks.as_mut() {
            Some((ex, guide)) => remove_reverse(ex, guide, panel.clone(), panel_logits, nc)?,
            None => Vec::new(),
        };
        let panel_logits_view = &*panel_logits;
        max.par_chunks_mut(COLUMN_CHUNK)
            .zip(sum.par_chunks_mut(COLUMN_CHUNK))
            .enumerate()
            .for_each(|(chunk, (max, sum))| {
                let columns = chunk * COLUMN_CHUNK..chunk * COLUMN_CHUNK + max.len();
                let rows = panel_logits_view
                    .chunks_exact(nc)
                    .map(move |row| &row[columns.clone()]);
                merge_column_stats(rows, max, sum);
            });
        for (index, value) in saved {
            panel_logits[index] = value;
        }
    }
    for (m, s) in max.iter_mut().zip(&sum) {
        *m += s.ln();
    }
    Ok(max)
}

/// Sets the reverse-excluded entries of a logits panel (rows `rows`) to [`removed`] and
/// returns their (index in the panel, original value) to restore afterwards.
fn remove_reverse<T: Float>(
    ex: &DenseExclusions<'_, T>,
    guide: &mut [T],
    rows: std::ops::Range<usize>,
    panel_logits: &mut [T],
    nc: usize,
) -> Result<Vec<(usize, T)>> {
    let guide_cols = ex.guide_cols();
    let guide = &mut guide[..ex.guide_panel_len(rows.len())];
    ex.guide_panel(rows.clone(), guide)?;
    let guide = &*guide;
    let saved: Vec<Vec<(usize, T)>> = panel_logits
        .par_chunks_mut(nc)
        .enumerate()
        .map_init(Vec::new, |list, (offset, row)| {
            let guide_row = guide.get(offset * guide_cols..(offset + 1) * guide_cols);
            ex.row(rows.start + offset, guide_row.unwrap_or(&[]), list);
            list.iter()
                .filter(|e| e.reverse)
                .map(|e| {
                    let value = std::mem::replace(&mut row[e.col], removed());
                    (offset * nc + e.col, value)
                })
                .collect()
        })
        .collect();
    Ok(saved.into_iter().flatten().collect())
}

/// Folds a block of rows (each a slice of the same columns) into running column (max, sum).
fn merge_column_stats<'a, T: Float>(
    rows: impl Iterator<Item = &'a [T]> + Clone,
    max: &mut [f64],
    sum: &mut [f64],
) {
    let mut block_max: Vec<T> = rows.clone().next().map(<[T]>::to_vec).unwrap_or_default();
    for row in rows.clone() {
        elementwise_max(&mut block_max, row);
    }
    let mut shift = Vec::with_capacity(max.len());
    for ((m, s), bm) in max.iter_mut().zip(sum.iter_mut()).zip(&block_max) {
        let merged = m.max(bm.to_f64());
        *s *= (*m - merged).exp();
        *m = merged;
        shift.push(T::from_f64(merged));
    }
    for row in rows {
        accumulate_exp_shifted(row, &shift, sum);
    }
}

/// `acc_j = max(acc_j, x_j)`.
#[simd_dispatch]
fn elementwise_max<T: Float>(acc: &mut [T], x: &[T]) {
    for (a, &v) in acc.iter_mut().zip(x) {
        *a = a.max_of(v);
    }
}

/// `acc_j += exp(x_j - shift_j)` with f64 accumulators.
#[simd_dispatch]
fn accumulate_exp_shifted<T: Float>(x: &[T], shift: &[T], acc: &mut [f64]) {
    for ((a, &v), &s) in acc.iter_mut().zip(x).zip(shift) {
        *a += (v - s).exp_fast().to_f64();
    }
}

/// `value * weight` for `value >= 0`, or 0 when `value < floor` (the product is below
/// [`gradient_floor`]). Tiny softmax weights are common at small temperatures; left in, they
/// and their products inside the gradient GEMMs become subnormal, which x86 handles 20-30x
/// slower. Flushing them changes a gradient entry by less than `2^24` times the smallest normal
/// float (about 2e-31 in float32, 4e-300 in float64).
#[inline(always)]
fn weighted<T: Float>(value: T, weight: T, floor: T) -> T {
    if value < floor {
        T::ZERO
    } else {
        value * weight
    }
}

/// Smallest gradient weight kept: `2^24` times the smallest normal float, so that its products
/// with embedding entries down to `2^-24` stay normal.
fn gradient_floor<T: Float>() -> T {
    T::MIN_POSITIVE * T::from_f64(16_777_216.0)
}

/// The `floor` of [`weighted`] for a non-negative `weight` (infinite when `weight` is 0).
fn subnormal_floor<T: Float>(weight: T) -> T {
    if weight > T::ZERO {
        gradient_floor::<T>() / weight
    } else {
        T::from_f64(f64::INFINITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_weights_are_flushed_and_others_kept() {
        let weight = 0.25f32;
        let floor = subnormal_floor(weight);
        assert_eq!(weighted(1e-31f32, weight, floor), 0.0);
        assert_eq!(weighted(0.5f32, weight, floor), 0.125);
        assert!(weighted(floor, weight, floor) >= gradient_floor::<f32>());
        assert_eq!(subnormal_floor(0.0f64), f64::INFINITY);
        let mut row = [0.0f32, -200.0, -5.0];
        scale_exp_shifted(&mut row, 0.0, 0.5);
        assert_eq!(row[0], 0.5);
        assert_eq!(row[1], 0.0);
        assert!((row[2] - 0.5 * (-5.0f32).exp()).abs() < 1e-9);
    }
}
