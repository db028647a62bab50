//! Late interaction (ColBERT's MaxSim): scoring, exact top-k search and a contrastive loss with
//! exact gradients, all streaming over tiles so the `B x B x Lq x Ld` token-similarity tensor is
//! never materialised.
//!
//! A query and a document are padded `(L, D)` token arrays with a boolean mask (true = real
//! token). `s(q, d) = sum over real query tokens i of max over real document tokens j of
//! sim(q_i, d_j)`, where `sim` is the dot product or the cosine (each token normalised by
//! `max(||x||, 1e-12)`), optionally divided by the number of real query tokens
//! ([`Normalize::QueryLength`]). The max runs over real document tokens only (PyLate instead
//! multiplies the similarities by the mask before its max, so there a padding token counts as
//! a 0 similarity whenever every real one is negative). See `docs/maxsim.md`.
//!
//! [`MaxSimLoss`] is InfoNCE over these scores, with the layouts of [`crate::InfoNceLoss`].

mod engine;
mod loss;
mod search;
pub mod tokens;

pub use search::{maxsim_scores, maxsim_topk};
pub use tokens::{MaskRef, TokenArgs, TokensRef};

use crate::alloc::try_collect;
use crate::error::{Result, TrainingError};
use crate::infonce::{Layout, DEFAULT_LOGITS_BUDGET_BYTES};
use crate::types::{Reduction, Similarity};

/// Names the `queries` argument.
pub(crate) const QUERY_ARGS: TokenArgs = TokenArgs {
    array: "queries",
    mask: "query_mask",
    per_row: 0,
};

/// How a MaxSim score is scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalize {
    /// The plain sum over query tokens (ColBERT, PyLate).
    None,
    /// The sum divided by the number of real query tokens (a mean over query tokens).
    QueryLength,
}

impl Normalize {
    /// Parses `"none"` or `"query_length"`; anything else is a [`TrainingError::Value`] on
    /// `normalize`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "none" => Ok(Self::None),
            "query_length" => Ok(Self::QueryLength),
            other => Err(TrainingError::value(
                "normalize",
                format!("expected 'none' or 'query_length', got '{other}'"),
            )),
        }
    }

    /// The name as users spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::QueryLength => "query_length",
        }
    }
}

/// The factor each query's score is multiplied by: 1, or `1 / (real tokens)`.
pub(crate) fn query_factors(offsets: &[usize], normalize: Normalize) -> Result<Vec<f64>> {
    try_collect(
        "queries",
        offsets.len().saturating_sub(1),
        offsets.windows(2).map(|pair| match normalize {
            Normalize::None => 1.0,
            Normalize::QueryLength => 1.0 / (pair[1] - pair[0]) as f64,
        }),
    )
}

/// Explicit negatives: `(B, K, L, D)` tokens seen as `B*K` rows, with a `(B, K, L)` mask seen
/// as `(B*K, L)`.
#[derive(Debug, Clone, Copy)]
pub struct NegativeTokens<'a, T> {
    /// `B*K` rows of `L` tokens.
    pub tokens: TokensRef<'a, T>,
    /// Leading dimension B (must equal the queries').
    pub batch: usize,
    /// Negatives per query, K.
    pub per_row: usize,
}

/// One batch of MaxSim loss input.
#[derive(Debug, Clone, Copy)]
pub struct MaxSimBatch<'a, T> {
    /// `(B, Lq, D)` query tokens.
    pub queries: TokensRef<'a, T>,
    /// `(B, Ld, D)` document tokens: row `i` is the positive of query `i`.
    pub documents: TokensRef<'a, T>,
    /// Optional `(B, K, Ln, D)` negatives.
    pub negatives: Option<NegativeTokens<'a, T>>,
    /// As [`crate::InfoNceBatch::in_batch`]: `None` is in-batch exactly when there are no
    /// negatives; `Some(true)` with negatives is the shared layout.
    pub in_batch: Option<bool>,
}

/// Loss value and gradients of one forward pass.
#[derive(Debug, Clone)]
pub struct MaxSimOutput<T> {
    /// Per-query losses (for `symmetric`, the average of both directions for that row).
    pub row_losses: Vec<f64>,
    /// The reduced loss (`mean` or `sum`; for `none`, the sum, whose gradient is returned).
    pub loss: f64,
    /// Gradient w.r.t. the queries, `(B, Lq, D)`; zero at masked tokens.
    pub grad_queries: Vec<T>,
    /// Gradient w.r.t. the documents, `(B, Ld, D)`; zero at masked tokens.
    pub grad_documents: Vec<T>,
    /// Gradient w.r.t. the negatives, `(B, K, Ln, D)`, when negatives were given.
    pub grad_negatives: Option<Vec<T>>,
}

/// MaxSim contrastive loss configuration. Every field may be changed between calls.
#[derive(Debug, Clone, PartialEq)]
pub struct MaxSimLoss {
    /// Softmax temperature `tau > 0`.
    pub temperature: f64,
    /// Token similarity (`Dot` by default: late-interaction models normalise their tokens).
    pub similarity: Similarity,
    /// Score scaling.
    pub normalize: Normalize,
    /// Adds the documents-as-queries direction over the same score matrix (in-batch layouts).
    pub symmetric: bool,
    /// How per-query losses are combined.
    pub reduction: Reduction,
    /// Largest arg-max table (4 bytes per query token and candidate) kept between the forward
    /// and backward passes; above it the backward pass recomputes the tiles panel by panel.
    pub argmax_budget_bytes: usize,
}

impl Default for MaxSimLoss {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            similarity: Similarity::Dot,
            normalize: Normalize::None,
            symmetric: false,
            reduction: Reduction::Mean,
            argmax_budget_bytes: DEFAULT_LOGITS_BUDGET_BYTES,
        }
    }
}

impl MaxSimLoss {
    /// Computes the loss and the gradient w.r.t. every array input.
    pub fn forward<T: crate::Float>(&self, batch: &MaxSimBatch<'_, T>) -> Result<MaxSimOutput<T>> {
        crate::validate::ensure_positive("temperature", self.temperature)?;
        let layout = self.validate(batch)?;
        let output = loss::run(self, batch, layout)?;
        let mut grads: Vec<&[T]> = vec![&output.grad_queries, &output.grad_documents];
        grads.extend(output.grad_negatives.as_deref());
        crate::validate::ensure_finite_output(
            "temperature",
            "the scores / temperature exceed its range: raise the temperature or scale the \
             inputs down",
            output.loss,
            &grads,
        )?;
        Ok(output)
    }

    /// Checks shapes, masks and option combinations, returning the candidate layout.
    fn validate<T: crate::Float>(&self, batch: &MaxSimBatch<'_, T>) -> Result<Layout> {
        let queries = batch.queries;
        if queries.rows == 0 {
            return Err(TrainingError::shape(
                "queries",
                "empty batch: expected at least one row, got B=0",
            ));
        }
        queries.validate(QUERY_ARGS, None)?;
        let documents = TokenArgs {
            array: "documents",
            mask: "document_mask",
            per_row: 0,
        };
        if batch.documents.rows != queries.rows {
            return Err(TrainingError::shape(
                "documents",
                format!(
                    "expected {} rows (one positive per query), got {}",
                    queries.rows, batch.documents.rows
                ),
            ));
        }
        batch.documents.validate(documents, Some(queries.dim))?;
        if let Some(negatives) = &batch.negatives {
            if negatives.batch != queries.rows {
                return Err(TrainingError::shape(
                    "negatives",
                    format!(
                        "expected shape (B, K, L, D) with B={}, got B={}",
                        queries.rows, negatives.batch
                    ),
                ));
            }
            let args = TokenArgs {
                array: "negatives",
                mask: "negative_mask",
                per_row: negatives.per_row,
            };
            negatives.tokens.validate(args, Some(queries.dim))?;
        }
        Layout::resolve(batch.negatives.is_some(), batch.in_batch, self.symmetric)
    }
}

#[cfg(test)]
mod tests;
