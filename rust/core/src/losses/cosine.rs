//! Cosine-similarity regression: `(cos(u_i, v_i) - score_i)^2` per pair (sentence-transformers'
//! CosineSimilarityLoss), with gradients through the eps-guarded normalisation.

use rayon::prelude::*;

use super::{cosine, ensure_non_empty, ensure_same_shape, unit_backward, unit_copy};
use crate::error::{Result, TrainingError};
use crate::float::Float;
use crate::linalg::{filled_vec, MatRef, RowNorm};
use crate::reduce::ordered_sum;
use crate::types::Reduction;
use crate::validate::{ensure_finite, ensure_finite_output, format_shape};

/// Loss value and gradients of one forward pass.
#[derive(Debug, Clone)]
pub struct CosineSimilarityOutput<T> {
    /// Per-pair losses, `(B,)`.
    pub pair_losses: Vec<f64>,
    /// The reduced loss (`mean` or `sum`; for `none`, the sum).
    pub loss: f64,
    /// Gradient w.r.t. `u`, `(B, D)`.
    pub grad_u: Vec<T>,
    /// Gradient w.r.t. `v`, `(B, D)`.
    pub grad_v: Vec<T>,
}

/// Cosine-similarity loss configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct CosineSimilarityLoss {
    /// How per-pair losses are combined.
    pub reduction: Reduction,
}

impl Default for CosineSimilarityLoss {
    fn default() -> Self {
        Self {
            reduction: Reduction::Mean,
        }
    }
}

impl CosineSimilarityLoss {
    /// Computes the loss and the gradients w.r.t. `u` and `v` (`scores` are targets, no gradient).
    pub fn forward<T: Float>(
        &self,
        u: MatRef<'_, T>,
        v: MatRef<'_, T>,
        scores: &[T],
    ) -> Result<CosineSimilarityOutput<T>> {
        ensure_non_empty("u", u)?;
        ensure_same_shape("v", v, "u", u)?;
        let (b, d) = (u.rows, u.cols);
        if scores.len() != b {
            return Err(TrainingError::shape(
                "scores",
                format!(
                    "expected shape (B,) = {} like u's rows, got {}",
                    format_shape(&[b]),
                    format_shape(&[scores.len()])
                ),
            ));
        }
        ensure_finite("u", u.data)?;
        ensure_finite("v", v.data)?;
        ensure_finite("scores", scores)?;
        let weight = match self.reduction {
            Reduction::Mean => 1.0 / b as f64,
            Reduction::Sum | Reduction::None => 1.0,
        };
        let mut out = CosineSimilarityOutput {
            pair_losses: filled_vec("scores", b, 0.0)?,
            loss: 0.0,
            grad_u: filled_vec("u", b * d, T::ZERO)?,
            grad_v: filled_vec("v", b * d, T::ZERO)?,
        };
        out.grad_u
            .par_chunks_mut(d)
            .zip(out.grad_v.par_chunks_mut(d))
            .zip(out.pair_losses.par_iter_mut())
            .enumerate()
            .for_each(|(i, ((grad_u, grad_v), loss))| {
                let (ui, vi) = (u.row(i), v.row(i));
                let (norm_u, norm_v) = (RowNorm::of(ui), RowNorm::of(vi));
                let cosine = cosine(ui, norm_u, vi, norm_v);
                let residual = cosine.to_f64() - scores[i].to_f64();
                *loss = residual * residual;
                // d/d(unit u) = c * unit v and vice versa, then back through each normalisation.
                let c = T::from_f64(2.0 * residual * weight);
                unit_copy(c, vi, norm_v, grad_u);
                unit_copy(c, ui, norm_u, grad_v);
                unit_backward(grad_u, ui, norm_u);
                unit_backward(grad_v, vi, norm_v);
            });
        let total = ordered_sum(&out.pair_losses);
        out.loss = total
            * if self.reduction == Reduction::Mean {
                weight
            } else {
                1.0
            };
        ensure_finite_output(
            "scores",
            "scores far outside [-1, 1] square beyond the output range",
            out.loss,
            &[&out.grad_u, &out.grad_v],
        )?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perpendicular_pair_against_score_one() {
        let (u, v) = ([2.0f64, 0.0], [0.0, 3.0]);
        let out = CosineSimilarityLoss::default()
            .forward(MatRef::new(&u, 1, 2), MatRef::new(&v, 1, 2), &[1.0])
            .unwrap();
        assert_eq!(out.loss, 1.0);
        // d/du (cos - 1)^2 = -2 (I - uu^T) v_unit / |u| = -2 (0, 1) / 2
        assert_eq!(out.grad_u, vec![0.0, -1.0]);
        let err = CosineSimilarityLoss::default()
            .forward(MatRef::new(&u, 1, 2), MatRef::new(&v, 1, 2), &[])
            .unwrap_err();
        assert_eq!(err.arg(), "scores");
    }
}
