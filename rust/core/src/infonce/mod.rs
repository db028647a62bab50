//! InfoNCE (NT-Xent / MultipleNegativesRankingLoss) with exact gradients for every input.
//!
//! For anchor `i` with candidate set `C_i` (its positive first), `s_ij = sim(a_i, c_j) / tau`
//! and `loss_i = logsumexp_j s_ij - s_i,pos`. Three candidate layouts are supported:
//! in-batch (every row's positive), per-row negatives (`(B, K, D)`, each anchor sees its own),
//! and shared negatives (in-batch plus every row's negatives). `symmetric` averages with the
//! positives-as-queries direction. See `shared/spec.md` section 2.

mod dense;
mod per_row;

use std::borrow::Cow;

use crate::error::{Result, TrainingError};
use crate::float::Float;
use crate::linalg::{filled_vec, normalize_rows, normalize_rows_backward, MatRef, Normalized};
use crate::validate::{ensure_finite, ensure_positive, format_shape};

/// Default memory budget for keeping the whole logits matrix (256 MiB).
pub const DEFAULT_LOGITS_BUDGET_BYTES: usize = 256 << 20;

/// How two embeddings are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Similarity {
    /// Inner product of the rows normalised by `max(||x||, 1e-12)`.
    Cosine,
    /// Raw inner product.
    Dot,
}

impl Similarity {
    /// Parses `"cosine"` or `"dot"`; anything else is a [`TrainingError::Value`] on `similarity`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "cosine" => Ok(Self::Cosine),
            "dot" => Ok(Self::Dot),
            other => Err(TrainingError::value(
                "similarity",
                format!("expected 'cosine' or 'dot', got '{other}'"),
            )),
        }
    }

    /// The name as users spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cosine => "cosine",
            Self::Dot => "dot",
        }
    }
}

/// How per-row losses are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduction {
    /// Average over rows.
    Mean,
    /// Sum over rows.
    Sum,
    /// Keep per-row losses (gradients are those of their sum).
    None,
}

impl Reduction {
    /// Parses `"mean"`, `"sum"` or `"none"`; anything else is a [`TrainingError::Value`] on `reduction`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "mean" => Ok(Self::Mean),
            "sum" => Ok(Self::Sum),
            "none" => Ok(Self::None),
            other => Err(TrainingError::value(
                "reduction",
                format!("expected 'mean', 'sum' or 'none', got '{other}'"),
            )),
        }
    }

    /// The name as users spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mean => "mean",
            Self::Sum => "sum",
            Self::None => "none",
        }
    }
}

/// Explicit negatives: a row-major `(batch, per_row, dim)` array.
#[derive(Debug, Clone, Copy)]
pub struct NegativesRef<'a, T> {
    /// `batch * per_row * dim` elements.
    pub data: &'a [T],
    /// Leading dimension (must equal the anchors' B).
    pub batch: usize,
    /// Negatives per anchor, K.
    pub per_row: usize,
    /// Embedding dimension (must equal the anchors' D).
    pub dim: usize,
}

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
enum Layout {
    InBatch,
    PerRow,
    Shared,
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
    /// Computes the loss and the gradient w.r.t. every array input.
    pub fn forward<T: Float>(&self, batch: &InfoNceBatch<'_, T>) -> Result<InfoNceOutput<T>> {
        ensure_positive("temperature", self.temperature)?;
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
            Layout::PerRow => self.run_per_row(batch, &params)?,
            Layout::InBatch | Layout::Shared => self.run_dense(batch, &params)?,
        };
        let total: f64 = output.row_losses.iter().sum();
        output.loss = if self.reduction == Reduction::Mean {
            total / b as f64
        } else {
            total
        };
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
        let layout = match (batch.negatives.is_some(), batch.in_batch) {
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
        if self.symmetric && layout == Layout::PerRow {
            return Err(TrainingError::value(
                "symmetric",
                "symmetric=True needs the in-batch layout; with per-row negatives pass in_batch=True (shared negatives) or symmetric=False",
            ));
        }
        Ok(layout)
    }

    /// Per-row negatives: each anchor against its positive and its own K negatives.
    fn run_per_row<T: Float>(
        &self,
        batch: &InfoNceBatch<'_, T>,
        params: &KernelParams,
    ) -> Result<InfoNceOutput<T>> {
        let negatives = batch.negatives.expect("per-row layout has negatives");
        let d = batch.anchors.cols;
        let negatives_mat = MatRef::new(negatives.data, negatives.batch * negatives.per_row, d);
        let (queries, positives, negs) = (
            self.prepare("anchors", batch.anchors)?,
            self.prepare("positives", batch.positives)?,
            self.prepare("negatives", negatives_mat)?,
        );
        let out = per_row::contrast_per_row(
            queries.view(batch.anchors),
            positives.view(batch.positives),
            negs.view(negatives_mat),
            negatives.per_row,
            params,
        )?;
        Ok(InfoNceOutput {
            row_losses: out.row_losses,
            loss: 0.0,
            grad_anchors: queries.backward(out.grad_queries, d),
            grad_positives: positives.backward(out.grad_positives, d),
            grad_negatives: Some(negs.backward(out.grad_negatives, d)),
        })
    }

    /// In-batch and shared layouts: one dense logits matrix against a candidate matrix.
    fn run_dense<T: Float>(
        &self,
        batch: &InfoNceBatch<'_, T>,
        params: &KernelParams,
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
        let queries = self.prepare("anchors", batch.anchors)?;
        let candidates = self.prepare("positives", candidates_mat)?;
        let out = dense::contrast_dense(
            queries.view(batch.anchors),
            candidates.view(candidates_mat),
            params,
        )?;
        let mut grad_candidates = candidates.backward(out.grad_candidates, d);
        let grad_negatives = batch.negatives.map(|_| grad_candidates.split_off(b * d));
        Ok(InfoNceOutput {
            row_losses: out.row_losses,
            loss: 0.0,
            grad_anchors: queries.backward(out.grad_queries, d),
            grad_positives: grad_candidates,
            grad_negatives,
        })
    }

    /// Normalises rows for cosine similarity; dot similarity uses the input as is.
    fn prepare<T: Float>(&self, arg: &'static str, x: MatRef<'_, T>) -> Result<Prepared<T>> {
        Ok(match self.similarity {
            Similarity::Cosine => Prepared::Normalized(normalize_rows(arg, x)?),
            Similarity::Dot => Prepared::Raw,
        })
    }
}

/// An input as the kernel sees it: normalised copy (cosine) or the raw rows (dot).
enum Prepared<T> {
    Normalized(Normalized<T>),
    Raw,
}

impl<T: Float> Prepared<T> {
    fn view<'a>(&'a self, raw: MatRef<'a, T>) -> MatRef<'a, T> {
        match self {
            Self::Normalized(n) => MatRef::new(&n.data, raw.rows, raw.cols),
            Self::Raw => raw,
        }
    }

    /// Maps a gradient w.r.t. the kernel's view back to the raw input.
    fn backward(&self, mut grad: Vec<T>, cols: usize) -> Vec<T> {
        if let Self::Normalized(n) = self {
            normalize_rows_backward(&mut grad, &n.data, &n.divisors, cols);
        }
        grad
    }
}

#[cfg(test)]
mod tests;
