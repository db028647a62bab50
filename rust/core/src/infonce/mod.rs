//! InfoNCE (NT-Xent / MultipleNegativesRankingLoss) with exact gradients for every input.
//!
//! For anchor `i` with candidate set `C_i` (its positive first), `s_ij = sim(a_i, c_j) / tau`
//! and `loss_i = logsumexp_j s_ij - s_i,pos`. Three candidate layouts are supported:
//! in-batch (every row's positive), per-row negatives (`(B, K, D)`, each anchor sees its own),
//! and shared negatives (in-batch plus every row's negatives). `symmetric` averages with the
//! positives-as-queries direction. See `docs/losses.md`.

mod dense;
mod per_row;

use std::borrow::Cow;

use crate::error::{Result, TrainingError};
use crate::float::Float;
use crate::linalg::{filled_vec, normalize_rows_backward, normalize_rows_into, MatRef, RowNorm};
use crate::reduce::ordered_sum;
use crate::similarity::PanelPlan;
use crate::types::{NegativesRef, Reduction, Similarity};
use crate::validate::{ensure_finite, ensure_positive, format_number, format_shape};
use crate::workspace::Workspace;

/// Default memory budget for keeping the whole logits matrix (256 MiB).
pub const DEFAULT_LOGITS_BUDGET_BYTES: usize = 256 << 20;

/// One batch of InfoNCE input.
#[derive(Debug, Clone, Copy)]
pub struct InfoNceBatch<'a, T> {
    /// `(B, D)` queries.
    pub anchors: MatRef<'a, T>,
    /// `(B, D)`: row `i` is the positive of anchor `i`.
    pub positives: MatRef<'a, T>,
    /// Optional `(B, K, D)` negatives.
    pub negatives: Option<NegativesRef<'a, T>>,
    /// `None`: in-batch exactly when there are no explicit negatives. `Some(true)` with negatives
    /// selects the shared layout; `Some(false)` without negatives is an error.
    pub in_batch: Option<bool>,
}

/// Loss value and gradients of one forward pass.
#[derive(Debug, Clone)]
pub struct InfoNceOutput<T> {
    /// Per-row losses (for `symmetric`, the average of both directions for that row).
    pub row_losses: Vec<f64>,
    /// The reduced loss (`mean` or `sum`; for `none`, the sum, whose gradient is returned).
    pub loss: f64,
    /// Gradient w.r.t. the anchors, `(B, D)` row-major.
    pub grad_anchors: Vec<T>,
    /// Gradient w.r.t. the positives, `(B, D)` row-major.
    pub grad_positives: Vec<T>,
    /// Gradient w.r.t. the negatives, `(B, K, D)` row-major, when negatives were given.
    pub grad_negatives: Option<Vec<T>>,
}

/// InfoNCE configuration. All fields may be changed between calls (schedulers do).
#[derive(Debug, Clone, PartialEq)]
pub struct InfoNceLoss {
    /// Softmax temperature `tau > 0`.
    pub temperature: f64,
    /// Similarity function.
    pub similarity: Similarity,
    /// Average with the positives-as-queries direction (in-batch layouts only).
    pub symmetric: bool,
    /// How per-row losses are combined.
    pub reduction: Reduction,
    /// Largest logits matrix kept whole, in bytes; above it the kernel streams panels.
    pub logits_budget_bytes: usize,
}

impl Default for InfoNceLoss {
    fn default() -> Self {
        Self {
            temperature: 0.07,
            similarity: Similarity::Cosine,
            symmetric: false,
            reduction: Reduction::Mean,
            logits_budget_bytes: DEFAULT_LOGITS_BUDGET_BYTES,
        }
    }
}

/// Which candidates each anchor is contrasted with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Every row's positive.
    InBatch,
    /// The row's positive and its own K negatives.
    PerRow,
    /// In-batch plus every row's negatives.
    Shared,
}

impl Layout {
    /// The layout selected by the presence of explicit negatives and `in_batch`, checked against
    /// `symmetric` (which needs an in-batch layout).
    pub(crate) fn resolve(
        has_negatives: bool,
        in_batch: Option<bool>,
        symmetric: bool,
    ) -> Result<Self> {
        let layout = match (has_negatives, in_batch) {
            (false, None | Some(true)) => Layout::InBatch,
            (false, Some(false)) => {
                return Err(TrainingError::value(
                    "in_batch",
                    "in_batch=False without negatives leaves no candidates to contrast; pass negatives or use in_batch=True",
                ))
            }
            (true, None | Some(false)) => Layout::PerRow,
            (true, Some(true)) => Layout::Shared,
        };
        if symmetric && layout == Layout::PerRow {
            return Err(TrainingError::value(
                "symmetric",
                "symmetric=True needs the in-batch layout; with per-row negatives pass in_batch=True (shared negatives) or symmetric=False",
            ));
        }
        Ok(layout)
    }
}

/// Scalars every kernel needs.
#[derive(Debug, Clone, Copy)]
struct KernelParams {
    inv_temperature: f64,
    /// d(reduced loss) / d(loss_i): `1/B` for mean, 1 otherwise.
    row_weight: f64,
    symmetric: bool,
    logits_budget_bytes: usize,
}

/// Gradients of the candidate-side kernels: losses plus gradients w.r.t. the (normalised)
/// queries and candidates.
struct KernelOutput<T> {
    row_losses: Vec<f64>,
    grad_queries: Vec<T>,
    grad_candidates: Vec<T>,
}

impl InfoNceLoss {
    /// Computes the loss and the gradient w.r.t. every array input, with fresh scratch memory.
    pub fn forward<T: Float>(&self, batch: &InfoNceBatch<'_, T>) -> Result<InfoNceOutput<T>> {
        self.forward_with(batch, &mut Workspace::new())
    }

    /// Like [`forward`](Self::forward), taking scratch memory from `workspace` (kept between
    /// calls so that repeated calls of one shape do not re-fault their scratch pages).
    pub fn forward_with<T: Float>(
        &self,
        batch: &InfoNceBatch<'_, T>,
        workspace: &mut Workspace<T>,
    ) -> Result<InfoNceOutput<T>> {
        ensure_positive("temperature", self.temperature)?;
        if !T::from_f64(1.0 / self.temperature).is_finite() {
            return Err(TrainingError::value(
                "temperature",
                format!(
                    "{} is too small for {}: 1/temperature overflows it (must be at least {})",
                    format_number(self.temperature),
                    T::NAME,
                    format_number(1.0 / T::MAX.to_f64())
                ),
            ));
        }
        let layout = self.validate(batch)?;
        ensure_finite("anchors", batch.anchors.data)?;
        ensure_finite("positives", batch.positives.data)?;
        if let Some(negatives) = &batch.negatives {
            ensure_finite("negatives", negatives.data)?;
        }
        let b = batch.anchors.rows;
        let params = KernelParams {
            inv_temperature: 1.0 / self.temperature,
            row_weight: if self.reduction == Reduction::Mean {
                1.0 / b as f64
            } else {
                1.0
            },
            symmetric: self.symmetric,
            logits_budget_bytes: self.logits_budget_bytes,
        };
        let mut output = match layout {
            Layout::PerRow => self.run_per_row(batch, &params, workspace)?,
            Layout::InBatch | Layout::Shared => self.run_dense(batch, &params, workspace)?,
        };
        let total = ordered_sum(&output.row_losses);
        output.loss = if self.reduction == Reduction::Mean {
            total / b as f64
        } else {
            total
        };
        let mut grads: Vec<&[T]> = vec![&output.grad_anchors, &output.grad_positives];
        grads.extend(output.grad_negatives.as_deref());
        crate::validate::ensure_finite_output(
            "temperature",
            "the logits similarity / temperature exceed its range: raise the temperature or, \
             with dot similarity, scale the inputs down",
            output.loss,
            &grads,
        )?;
        Ok(output)
    }

    /// Checks shapes and option combinations, returning the candidate layout.
    fn validate<T: Float>(&self, batch: &InfoNceBatch<'_, T>) -> Result<Layout> {
        let (b, d) = (batch.anchors.rows, batch.anchors.cols);
        if b == 0 {
            return Err(TrainingError::shape(
                "anchors",
                "empty batch: expected at least one row, got B=0",
            ));
        }
        if d == 0 {
            return Err(TrainingError::shape(
                "anchors",
                "embedding dimension D must be at least 1, got D=0",
            ));
        }
        let positives = (batch.positives.rows, batch.positives.cols);
        if positives != (b, d) {
            return Err(TrainingError::shape(
                "positives",
                format!(
                    "expected shape (B, D) = {} like anchors, got {}",
                    format_shape(&[b, d]),
                    format_shape(&[positives.0, positives.1])
                ),
            ));
        }
        if let Some(negatives) = &batch.negatives {
            if negatives.batch != b || negatives.dim != d {
                return Err(TrainingError::shape(
                    "negatives",
                    format!(
                        "expected shape (B, K, {d}) with B={b}, got {}",
                        format_shape(&[negatives.batch, negatives.per_row, negatives.dim])
                    ),
                ));
            }
        }
        Layout::resolve(batch.negatives.is_some(), batch.in_batch, self.symmetric)
    }

    /// Per-row negatives: each anchor against its positive and its own K negatives.
    fn run_per_row<T: Float>(
        &self,
        batch: &InfoNceBatch<'_, T>,
        params: &KernelParams,
        workspace: &mut Workspace<T>,
    ) -> Result<InfoNceOutput<T>> {
        let negatives = batch.negatives.expect("per-row layout has negatives");
        let d = batch.anchors.cols;
        let negatives_mat = MatRef::new(negatives.data, negatives.batch * negatives.per_row, d);
        let lengths = self.scratch_lengths([
            batch.anchors.data.len(),
            batch.positives.data.len(),
            negatives.data.len(),
        ]);
        let [query_buf, positive_buf, negative_buf] = workspace.slices("negatives", lengths)?;
        let queries = self.prepare("anchors", batch.anchors, query_buf)?;
        let positives = self.prepare("positives", batch.positives, positive_buf)?;
        let negs = self.prepare("negatives", negatives_mat, negative_buf)?;
        let out = per_row::contrast_per_row(
            queries.matrix,
            positives.matrix,
            negs.matrix,
            negatives.per_row,
            params,
        )?;
        Ok(InfoNceOutput {
            row_losses: out.row_losses,
            loss: 0.0,
            grad_anchors: queries.backward(out.grad_queries),
            grad_positives: positives.backward(out.grad_positives),
            grad_negatives: Some(negs.backward(out.grad_negatives)),
        })
    }

    /// In-batch and shared layouts: one dense logits matrix against a candidate matrix.
    fn run_dense<T: Float>(
        &self,
        batch: &InfoNceBatch<'_, T>,
        params: &KernelParams,
        workspace: &mut Workspace<T>,
    ) -> Result<InfoNceOutput<T>> {
        let (b, d) = (batch.anchors.rows, batch.anchors.cols);
        let candidates_raw: Cow<'_, [T]> = match &batch.negatives {
            None => Cow::Borrowed(batch.positives.data),
            Some(negatives) => {
                let mut all = filled_vec("negatives", b * d + negatives.data.len(), T::ZERO)?;
                let (head, tail) = all.split_at_mut(b * d);
                head.copy_from_slice(batch.positives.data);
                tail.copy_from_slice(negatives.data);
                Cow::Owned(all)
            }
        };
        let candidates_mat = MatRef::new(&candidates_raw, candidates_raw.len() / d, d);
        let plan = PanelPlan::new(b, candidates_mat.rows, T::BYTES, params.logits_budget_bytes);
        let [normalized_lengths @ .., _] = self.scratch_lengths([b * d, candidates_raw.len(), 0]);
        let logits_length = plan.panel_rows * candidates_mat.rows;
        let lengths = [normalized_lengths[0], normalized_lengths[1], logits_length];
        let [query_buf, candidate_buf, logits] = workspace.slices("anchors", lengths)?;
        let queries = self.prepare("anchors", batch.anchors, query_buf)?;
        let candidates = self.prepare("positives", candidates_mat, candidate_buf)?;
        let out = dense::contrast_dense(queries.matrix, candidates.matrix, &plan, logits, params)?;
        let mut grad_candidates = candidates.backward(out.grad_candidates);
        let grad_negatives = batch.negatives.map(|_| grad_candidates.split_off(b * d));
        Ok(InfoNceOutput {
            row_losses: out.row_losses,
            loss: 0.0,
            grad_anchors: queries.backward(out.grad_queries),
            grad_positives: grad_candidates,
            grad_negatives,
        })
    }

    /// Scratch needed to normalise inputs of the given sizes: all of it for cosine, none for dot.
    fn scratch_lengths(&self, input_lengths: [usize; 3]) -> [usize; 3] {
        match self.similarity {
            Similarity::Cosine => input_lengths,
            Similarity::Dot => [0; 3],
        }
    }

    /// Normalises rows into `scratch` for cosine similarity; dot similarity uses `x` as is.
    fn prepare<'a, T: Float>(
        &self,
        arg: &'static str,
        x: MatRef<'a, T>,
        scratch: &'a mut [T],
    ) -> Result<Prepared<'a, T>> {
        Ok(match self.similarity {
            Similarity::Cosine => {
                let norms = normalize_rows_into(arg, x, scratch)?;
                let matrix = MatRef::new(&*scratch, x.rows, x.cols);
                Prepared {
                    matrix,
                    norms: Some(norms),
                }
            }
            Similarity::Dot => Prepared {
                matrix: x,
                norms: None,
            },
        })
    }
}

/// An input as the kernel sees it: its normalised rows (cosine, with the row norms used) or the
/// raw rows (dot).
struct Prepared<'a, T> {
    matrix: MatRef<'a, T>,
    norms: Option<Vec<RowNorm<T>>>,
}

impl<T: Float> Prepared<'_, T> {
    /// Maps a gradient w.r.t. the kernel's view back to the raw input.
    fn backward(&self, mut grad: Vec<T>) -> Vec<T> {
        if let Some(norms) = &self.norms {
            normalize_rows_backward(&mut grad, self.matrix.data, norms, self.matrix.cols);
        }
        grad
    }
}

#[cfg(test)]
mod tests;
