//! The MaxSim loss kernel: InfoNCE over MaxSim scores with exact gradients.
//!
//! Pass 1 scores every query against its candidates tile by tile (query groups in parallel),
//! recording for every (query token, candidate) the arg-max document token when the table fits
//! `argmax_budget_bytes`. The `B x C` scores give the losses and `W = d loss / d score` (times
//! the query's factor and `1/tau`). Pass 2 goes panel by panel (recomputing a panel's arg-max
//! table when it was not kept): `dq_r = sum_c W[i,c] d_{c, argmax(r, c)}` over each query's
//! tokens, and `dd_{c,a} += W[i,c] q_r` for every query token whose best token in `c` is `a`,
//! each in parallel over the owner (query or candidate), in a fixed order: the result does not
//! depend on the thread count.

use std::ops::Range;

use rayon::prelude::*;

use super::engine::{row_owners, token_groups, Tile, DOC_TILE_TOKENS, QUERY_TILE_TOKENS};
use super::tokens::{split_by_offsets, Packed, TokensRef};
use super::{query_factors, MaxSimBatch, MaxSimLoss, MaxSimOutput};
use crate::alloc::{checked_len, filled_vec, try_vec_with_capacity};
use crate::error::Result;
use crate::float::Float;
use crate::infonce::Layout;
use crate::linalg::{axpy, normalize_rows_backward, zeroed_vec};
use crate::pool::check_cancelled;
use crate::reduce::ordered_sum;
use crate::similarity::PanelPlan;
use crate::types::Reduction;

/// Packed inputs and the candidate structure of one call.
struct Problem<T> {
    layout: Layout,
    queries: Packed<T>,
    candidates: Packed<T>,
    /// Candidates per query (columns of the score matrix).
    columns: usize,
    /// Negatives per query (0 without negatives).
    per_row: usize,
    /// Doc blocks of the dense layouts (shared by every query).
    dense_blocks: Vec<Range<usize>>,
}

impl<T: Float> Problem<T> {
    /// The packed candidates of query `i`.
    fn candidates_of(&self, i: usize) -> Range<usize> {
        match self.layout {
            Layout::PerRow => i * self.columns..(i + 1) * self.columns,
            Layout::InBatch | Layout::Shared => 0..self.columns,
        }
    }

    /// The packed index of document row `row` (`source` 0) or negative row `row` (`source` 1).
    fn packed_index(&self, source: usize, row: usize) -> usize {
        let b = self.queries.sequences();
        match (self.layout, source) {
            (Layout::PerRow, 0) => row * self.columns,
            (Layout::PerRow, _) => (row / self.per_row) * self.columns + 1 + row % self.per_row,
            (_, 0) => row,
            (_, _) => b + row,
        }
    }

    /// Scores (when `scores`) and arg-max rows (when `ARGMAX`) of the queries `group`; `scores`
    /// holds `group.len()` rows and `argmax` the group's token rows, each `columns` wide.
    fn scan_group<const ARGMAX: bool>(
        &self,
        group: Range<usize>,
        mut scores: Option<&mut [f64]>,
        argmax: &mut [u32],
        tile: &mut Tile<T>,
    ) -> Result<()> {
        let q_offsets = &self.queries.offsets[group.start..=group.end];
        let rows = self
            .queries
            .matrix()
            .rows_range(q_offsets[0], q_offsets[group.len()]);
        let owners = row_owners(q_offsets);
        let columns = self.columns;
        let candidates = self.candidates_of(group.start);
        let own_blocks;
        let blocks = match self.layout {
            Layout::PerRow => {
                let offsets = &self.candidates.offsets[candidates.start..=candidates.end];
                own_blocks = token_groups(offsets, DOC_TILE_TOKENS)?;
                &own_blocks
            }
            Layout::InBatch | Layout::Shared => &self.dense_blocks,
        };
        let docs = self.candidates.matrix();
        for block in blocks {
            check_cancelled()?;
            let first = candidates.start + block.start;
            let offsets = &self.candidates.offsets[first..=candidates.start + block.end];
            let block_docs = docs.rows_range(offsets[0], offsets[block.len()]);
            let mut scores = scores.as_deref_mut();
            tile.max_reduce::<ARGMAX>(rows, block_docs, offsets, |r, j, m, a| {
                let col = block.start + j;
                if let Some(scores) = scores.as_deref_mut() {
                    scores[owners[r] * columns + col] += m.to_f64();
                }
                if ARGMAX {
                    argmax[r * columns + col] = a;
                }
            })?;
        }
        Ok(())
    }

    /// Runs [`scan_group`](Self::scan_group) over the queries `panel` in parallel.
    fn scan_panel<const ARGMAX: bool>(
        &self,
        panel: Range<usize>,
        scores: Option<&mut [f64]>,
        argmax: &mut [u32],
    ) -> Result<()> {
        let offsets = &self.queries.offsets[panel.start..=panel.end];
        let groups = match self.layout {
            Layout::PerRow => token_groups(offsets, 1)?,
            Layout::InBatch | Layout::Shared => token_groups(offsets, QUERY_TILE_TOKENS)?,
        };
        let boundaries: Vec<usize> = std::iter::once(0)
            .chain(groups.iter().map(|g| g.end))
            .collect();
        let token_bounds: Vec<usize> = boundaries
            .iter()
            .map(|&q| offsets[q] - offsets[0])
            .collect();
        let argmax_width = if ARGMAX { self.columns } else { 0 };
        let argmax_parts =
            split_by_offsets("queries", &mut argmax[..], &token_bounds, argmax_width)?;
        let score_parts: Vec<Option<&mut [f64]>> = match scores {
            Some(scores) => split_by_offsets("queries", scores, &boundaries, self.columns)?
                .into_iter()
                .map(Some)
                .collect(),
            None => groups.iter().map(|_| None).collect(),
        };
        groups
            .into_par_iter()
            .zip(score_parts)
            .zip(argmax_parts)
            .try_for_each_init(Tile::default, |tile, ((group, scores), argmax)| {
                let group = panel.start + group.start..panel.start + group.end;
                self.scan_group::<ARGMAX>(group, scores, argmax, tile)
            })
    }
}

/// The loss and gradients of one batch (validated by the caller).
pub(super) fn run<T: Float>(
    config: &MaxSimLoss,
    batch: &MaxSimBatch<'_, T>,
    layout: Layout,
) -> Result<MaxSimOutput<T>> {
    let b = batch.queries.rows;
    let per_row = batch.negatives.map_or(0, |n| n.per_row);
    let mut sources: Vec<TokensRef<'_, T>> = vec![batch.documents];
    sources.extend(batch.negatives.map(|n| n.tokens));
    let query_order: Vec<(usize, usize)> = (0..b).map(|i| (0, i)).collect();
    let mut order = try_vec_with_capacity("documents", b * (1 + per_row))?;
    match layout {
        Layout::PerRow => {
            for i in 0..b {
                order.push((0, i));
                order.extend((0..per_row).map(|k| (1, i * per_row + k)));
            }
        }
        Layout::InBatch => order.extend((0..b).map(|i| (0, i))),
        Layout::Shared => {
            order.extend((0..b).map(|i| (0, i)));
            order.extend((0..b * per_row).map(|r| (1, r)));
        }
    }
    let similarity = config.similarity;
    let queries = Packed::new("queries", &[batch.queries], &query_order, similarity)?;
    let candidates = Packed::new("documents", &sources, &order, similarity)?;
    let columns = match layout {
        Layout::PerRow => per_row + 1,
        Layout::InBatch => b,
        Layout::Shared => b + b * per_row,
    };
    let dense_blocks = match layout {
        Layout::PerRow => Vec::new(),
        _ => token_groups(&candidates.offsets, DOC_TILE_TOKENS)?,
    };
    let problem = Problem {
        layout,
        queries,
        candidates,
        columns,
        per_row,
        dense_blocks,
    };
    let factors = query_factors(&problem.queries.offsets, config.normalize)?;
    let longest = (0..b)
        .map(|i| problem.queries.offsets[i + 1] - problem.queries.offsets[i])
        .max()
        .unwrap_or(0);
    let plan = PanelPlan::new(b, columns * longest, 4, config.argmax_budget_bytes);
    let panel_tokens = plan
        .panels()
        .map(|p| problem.queries.offsets[p.end] - problem.queries.offsets[p.start])
        .max()
        .unwrap_or(0);
    let mut argmax = filled_vec(
        "documents",
        checked_len("documents", panel_tokens, columns)?,
        0u32,
    )?;
    let keep = plan.is_single_panel();

    // Pass 1: scores (and the arg-max table when it is kept).
    let mut scores = zeroed_vec::<f64>("documents", checked_len("documents", b, columns)?)?;
    for panel in plan.panels() {
        let rows = &mut scores[panel.start * columns..panel.end * columns];
        if keep {
            problem.scan_panel::<true>(panel, Some(rows), &mut argmax)?;
        } else {
            problem.scan_panel::<false>(panel, Some(rows), &mut [])?;
        }
    }
    for (row, &factor) in scores.chunks_exact_mut(columns).zip(&factors) {
        row.iter_mut().for_each(|s| *s *= factor);
    }

    // Losses and W = d loss / d (raw score sum).
    let row_weight = if config.reduction == Reduction::Mean {
        1.0 / b as f64
    } else {
        1.0
    };
    let (row_losses, mut weights) = softmax_weights(
        &scores,
        columns,
        layout,
        1.0 / config.temperature,
        config.symmetric,
    )?;
    for (row, &factor) in weights.chunks_exact_mut(columns).zip(&factors) {
        let scale = factor * row_weight / config.temperature;
        row.iter_mut().for_each(|w| *w *= scale);
    }

    // Pass 2: gradients w.r.t. the packed (normalised) tokens.
    let d = problem.queries.dim;
    let mut grad_q = zeroed_vec::<T>("queries", problem.queries.tokens.len())?;
    let mut grad_c = zeroed_vec::<T>("documents", problem.candidates.tokens.len())?;
    for panel in plan.panels() {
        check_cancelled()?;
        if !keep {
            problem.scan_panel::<true>(panel.clone(), None, &mut argmax)?;
        }
        check_cancelled()?;
        query_gradients(&problem, &panel, &argmax, &weights, &mut grad_q)?;
        check_cancelled()?;
        candidate_gradients(&problem, &panel, &argmax, &weights, &mut grad_c)?;
    }
    if let Some(norms) = &problem.queries.norms {
        normalize_rows_backward(&mut grad_q, &problem.queries.tokens, norms, d);
    }
    if let Some(norms) = &problem.candidates.norms {
        normalize_rows_backward(&mut grad_c, &problem.candidates.tokens, norms, d);
    }
    drop(scores);
    weights.clear();

    // Back to the padded inputs (masked tokens stay exactly zero).
    let grad_queries = unpack(&problem, &batch.queries, 0, &grad_q, |i| i)?;
    let grad_documents = unpack(&problem, &batch.documents, 1, &grad_c, |i| {
        problem.packed_index(0, i)
    })?;
    let grad_negatives = batch
        .negatives
        .map(|n| {
            unpack(&problem, &n.tokens, 1, &grad_c, |r| {
                problem.packed_index(1, r)
            })
        })
        .transpose()?;
    let total = ordered_sum(&row_losses);
    Ok(MaxSimOutput {
        loss: if config.reduction == Reduction::Mean {
            total / b as f64
        } else {
            total
        },
        row_losses,
        grad_queries,
        grad_documents,
        grad_negatives,
    })
}

/// Per-row losses and `d loss / d score` (before the reduction weight and `1/tau`): the
/// InfoNCE softmax over each row of `scores / tau`, plus (symmetric) the column softmax of the
/// first B columns.
fn softmax_weights(
    scores: &[f64],
    columns: usize,
    layout: Layout,
    inv_temperature: f64,
    symmetric: bool,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let b = scores.len() / columns;
    let positive = |i: usize| if layout == Layout::PerRow { 0 } else { i };
    let column_lse: Vec<f64> = if symmetric {
        let mut lse = filled_vec("documents", b, 0.0)?;
        lse.par_iter_mut().enumerate().for_each(|(j, out)| {
            *out = log_sum_exp((0..b).map(|i| scores[i * columns + j] * inv_temperature));
        });
        lse
    } else {
        Vec::new()
    };
    let (forward, reverse) = if symmetric { (0.5, 0.5) } else { (1.0, 0.0) };
    let mut losses = filled_vec("queries", b, 0.0)?;
    let mut weights = zeroed_vec::<f64>("documents", scores.len())?;
    weights
        .par_chunks_mut(columns)
        .zip(losses.par_iter_mut())
        .enumerate()
        .for_each(|(i, (w, loss))| {
            let row = &scores[i * columns..(i + 1) * columns];
            let lse = log_sum_exp(row.iter().map(|s| s * inv_temperature));
            let p = positive(i);
            let z_pos = row[p] * inv_temperature;
            for (j, (wj, &s)) in w.iter_mut().zip(row).enumerate() {
                let z = s * inv_temperature;
                *wj = forward * (z - lse).exp();
                if symmetric && j < b {
                    *wj += reverse * (z - column_lse[j]).exp();
                }
            }
            w[p] -= forward + reverse;
            *loss = if symmetric {
                0.5 * ((lse - z_pos) + (column_lse[i] - z_pos))
            } else {
                lse - z_pos
            };
        });
    Ok((losses, weights))
}

/// `log(sum exp(x))`, shifted by the max.
fn log_sum_exp(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let max = values.clone().fold(f64::NEG_INFINITY, f64::max);
    max + values.map(|v| (v - max).exp()).sum::<f64>().ln()
}

/// `dq_r += sum_c W[i,c] d_{c, argmax(r, c)}` for the query tokens of `panel`.
fn query_gradients<T: Float>(
    problem: &Problem<T>,
    panel: &Range<usize>,
    argmax: &[u32],
    weights: &[f64],
    grad: &mut [T],
) -> Result<()> {
    let (d, columns) = (problem.queries.dim, problem.columns);
    let offsets = &problem.queries.offsets[panel.start..=panel.end];
    let base = offsets[0];
    let rows = &mut grad[base * d..offsets[panel.len()] * d];
    let relative: Vec<usize> = offsets.iter().map(|o| o - base).collect();
    let parts = split_by_offsets("queries", rows, &relative, d)?;
    let docs = problem.candidates.matrix();
    parts.into_par_iter().enumerate().for_each(|(k, part)| {
        let i = panel.start + k;
        let candidates = problem.candidates_of(i);
        let w = &weights[i * columns..(i + 1) * columns];
        for (t, g) in part.chunks_exact_mut(d).enumerate() {
            let table = &argmax[(relative[k] + t) * columns..(relative[k] + t + 1) * columns];
            for (c, (&weight, &a)) in w.iter().zip(table).enumerate() {
                if weight != 0.0 {
                    let doc = problem.candidates.offsets[candidates.start + c] + a as usize;
                    axpy(T::from_f64(weight), docs.row(doc), g);
                }
            }
        }
    });
    Ok(())
}

/// `dd_{c,a} += W[i,c] q_r` for every query token `r` of `panel` whose best token in `c` is `a`.
fn candidate_gradients<T: Float>(
    problem: &Problem<T>,
    panel: &Range<usize>,
    argmax: &[u32],
    weights: &[f64],
    grad: &mut [T],
) -> Result<()> {
    let (d, columns) = (problem.queries.dim, problem.columns);
    let q_offsets = &problem.queries.offsets;
    let base = q_offsets[panel.start];
    let queries = problem.queries.matrix();
    let parts = split_by_offsets("documents", grad, &problem.candidates.offsets, d)?;
    parts.into_par_iter().enumerate().for_each(|(g, part)| {
        let owners = match problem.layout {
            Layout::PerRow => {
                let i = g / columns;
                if !panel.contains(&i) {
                    return;
                }
                i..i + 1
            }
            Layout::InBatch | Layout::Shared => panel.clone(),
        };
        for i in owners {
            let c = g - problem.candidates_of(i).start;
            let weight = weights[i * columns + c];
            if weight == 0.0 {
                continue;
            }
            let weight = T::from_f64(weight);
            for r in q_offsets[i]..q_offsets[i + 1] {
                let a = argmax[(r - base) * columns + c] as usize;
                axpy(weight, queries.row(r), &mut part[a * d..(a + 1) * d]);
            }
        }
    });
    Ok(())
}

/// Scatters packed gradient rows back into a zeroed padded `(rows, len, dim)` gradient of
/// `tokens`; `packed_of(row)` is the row's packed index in `grad` (queries when `source` is
/// 0, candidates otherwise).
fn unpack<T: Float>(
    problem: &Problem<T>,
    tokens: &TokensRef<'_, T>,
    source: usize,
    grad: &[T],
    packed_of: impl Fn(usize) -> usize + Sync,
) -> Result<Vec<T>> {
    let packed = if source == 0 {
        &problem.queries
    } else {
        &problem.candidates
    };
    let d = tokens.dim;
    let mut out = zeroed_vec::<T>("queries", tokens.data.len())?;
    out.par_chunks_mut((tokens.len * d).max(1))
        .enumerate()
        .for_each(|(row, padded)| {
            let p = packed_of(row);
            let rows = &grad[packed.offsets[p] * d..packed.offsets[p + 1] * d];
            tokens.unpack_row(row, rows, padded);
        });
    Ok(out)
}
