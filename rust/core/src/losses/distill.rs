//! Distillation from a teacher's scores, as sentence-transformers defines it:
//! [`MarginMseLoss`] regresses the student's margin `sim(q, p) - sim(q, n)` on the teacher's,
//! [`DistillKlDivLoss`] is `KL(teacher || student)` over each query's candidates.
//!
//! Both are row-separable: one task per query computes its similarities, losses and gradients.

use rayon::prelude::*;

use super::{unit_axpy, unit_backward, unit_copy};
use crate::error::{Result, TrainingError};
use crate::float::Float;
use crate::linalg::{axpy, cosine, dot, filled_vec, scaled_copy, MatRef, RowNorm};
use crate::reduce::ordered_sum;
use crate::types::{NegativesRef, Reduction, Similarity};
use crate::validate::{ensure_finite, ensure_finite_output, ensure_positive, format_shape};

/// `MarginMSE` configuration. All fields may be changed between calls.
#[derive(Debug, Clone, PartialEq)]
pub struct MarginMseLoss {
    /// Similarity of the student (`Dot`: sentence-transformers' default for distillation).
    pub similarity: Similarity,
    /// `Mean` or `Sum` over the `(query, negative)` terms, or `None` (per term).
    pub reduction: Reduction,
}

impl Default for MarginMseLoss {
    fn default() -> Self {
        Self {
            similarity: Similarity::Dot,
            reduction: Reduction::Mean,
        }
    }
}

/// `DistillKLDiv` configuration. All fields may be changed between calls.
#[derive(Debug, Clone, PartialEq)]
pub struct DistillKlDivLoss {
    /// Temperature of both sides unless overridden (finite, > 0).
    pub temperature: f64,
    /// Student temperature (`None`: `temperature`).
    pub student_temperature: Option<f64>,
    /// Teacher temperature (`None`: `temperature`).
    pub teacher_temperature: Option<f64>,
    /// Similarity of the student.
    pub similarity: Similarity,
    /// `Mean` (the batch mean, `batchmean`), `Sum`, or `None` (per query).
    pub reduction: Reduction,
}

impl Default for DistillKlDivLoss {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            student_temperature: None,
            teacher_temperature: None,
            similarity: Similarity::Dot,
            reduction: Reduction::Mean,
        }
    }
}

/// Loss value and gradients of a distillation loss.
#[derive(Debug, Clone)]
pub struct DistillOutput<T> {
    /// Per-item losses (MarginMSE: `(B, K)` row-major; DistillKLDiv: `(B,)`).
    pub item_losses: Vec<f64>,
    /// The reduced loss (for `none`, the sum, whose gradient is returned).
    pub loss: f64,
    /// Gradient w.r.t. the queries, `(B, D)`.
    pub grad_queries: Vec<T>,
    /// MarginMSE: gradient w.r.t. the positives `(B, D)`; DistillKLDiv: w.r.t. the candidates
    /// `(B, C, D)`.
    pub grad_positives: Vec<T>,
    /// MarginMSE: gradient w.r.t. the negatives `(B, K, D)`; DistillKLDiv: empty.
    pub grad_negatives: Vec<T>,
}

/// A query row with its norm (cosine) for the similarity helpers.
struct Query<'a, T> {
    row: &'a [T],
    norm: RowNorm<T>,
}

impl<'a, T: Float> Query<'a, T> {
    fn new(row: &'a [T]) -> Self {
        Self {
            row,
            norm: RowNorm::of(row),
        }
    }

    fn similarity(&self, similarity: Similarity, x: &[T]) -> f64 {
        match similarity {
            Similarity::Dot => dot(self.row, x).to_f64(),
            Similarity::Cosine => cosine(self.row, self.norm, x, RowNorm::of(x)).to_f64(),
        }
    }

    /// `grad_x = coeff * d sim / d x` (overwrites) and `grad_q += coeff * d sim / d q` in the
    /// query's (unit, for cosine) space; [`Query::finish`] maps `grad_q` back.
    fn backward(
        &self,
        similarity: Similarity,
        x: &[T],
        coeff: f64,
        grad_x: &mut [T],
        grad_q: &mut [T],
    ) {
        let c = T::from_f64(coeff);
        match similarity {
            Similarity::Dot => {
                scaled_copy(c, self.row, grad_x);
                axpy(c, x, grad_q);
            }
            Similarity::Cosine => {
                let nx = RowNorm::of(x);
                unit_copy(c, self.row, self.norm, grad_x);
                unit_backward(grad_x, x, nx);
                unit_axpy(c, x, nx, grad_q);
            }
        }
    }

    fn finish(&self, similarity: Similarity, grad_q: &mut [T]) {
        if similarity == Similarity::Cosine {
            unit_backward(grad_q, self.row, self.norm);
        }
    }
}

/// Fails unless `x` is `(B, D)` like the queries.
fn ensure_rows<T: Float>(arg: &'static str, x: MatRef<'_, T>, b: usize, d: usize) -> Result<()> {
    if (x.rows, x.cols) != (b, d) {
        return Err(TrainingError::shape(
            arg,
            format!(
                "expected shape (B, D) = {} like queries, got {}",
                format_shape(&[b, d]),
                format_shape(&[x.rows, x.cols])
            ),
        ));
    }
    Ok(())
}

/// Fails unless `queries` is a non-empty `(B, D)` and `set` is `(B, K, D)` with `K >= min_k`.
fn ensure_set<T: Float>(
    arg: &'static str,
    queries: MatRef<'_, T>,
    set: &NegativesRef<'_, T>,
    min_k: usize,
) -> Result<()> {
    super::ensure_non_empty("queries", queries)?;
    if set.batch != queries.rows || set.dim != queries.cols || set.per_row < min_k {
        return Err(TrainingError::shape(
            arg,
            format!(
                "expected shape (B, K, D) with B={}, K>={min_k}, D={}, got {}",
                queries.rows,
                queries.cols,
                format_shape(&[set.batch, set.per_row, set.dim])
            ),
        ));
    }
    Ok(())
}

/// Fails unless the teacher's values have `len` elements.
fn ensure_targets<T: Float>(arg: &'static str, targets: &[T], shape: &[usize]) -> Result<()> {
    let len: usize = shape.iter().product();
    if targets.len() != len {
        return Err(TrainingError::shape(
            arg,
            format!(
                "expected {} values (shape {}), got {}",
                len,
                format_shape(shape),
                targets.len()
            ),
        ));
    }
    ensure_finite(arg, targets)
}

impl MarginMseLoss {
    /// Computes the loss and the gradients w.r.t. queries, positives and negatives
    /// (`teacher_margins`, `B * K` values row-major, get none).
    pub fn forward<T: Float>(
        &self,
        queries: MatRef<'_, T>,
        positives: MatRef<'_, T>,
        negatives: NegativesRef<'_, T>,
        teacher_margins: &[T],
    ) -> Result<DistillOutput<T>> {
        ensure_set("negatives", queries, &negatives, 1)?;
        let (b, d, k) = (queries.rows, queries.cols, negatives.per_row);
        ensure_rows("positives", positives, b, d)?;
        ensure_targets("teacher_margins", teacher_margins, &[b, k])?;
        ensure_finite("queries", queries.data)?;
        ensure_finite("positives", positives.data)?;
        ensure_finite("negatives", negatives.data)?;
        let weight = match self.reduction {
            Reduction::Mean => 1.0 / (b * k) as f64,
            Reduction::Sum | Reduction::None => 1.0,
        };
        let mut out = DistillOutput {
            item_losses: filled_vec("teacher_margins", b * k, 0.0)?,
            loss: 0.0,
            grad_queries: filled_vec("queries", b * d, T::ZERO)?,
            grad_positives: filled_vec("positives", b * d, T::ZERO)?,
            grad_negatives: filled_vec("negatives", b * k * d, T::ZERO)?,
        };
        let similarity = self.similarity;
        out.grad_queries
            .par_chunks_mut(d)
            .zip(out.grad_positives.par_chunks_mut(d))
            .zip(out.grad_negatives.par_chunks_mut(k * d))
            .zip(out.item_losses.par_chunks_mut(k))
            .enumerate()
            .for_each(|(i, (((gq, gp), gn), losses))| {
                let q = Query::new(queries.row(i));
                let p = positives.row(i);
                let sp = q.similarity(similarity, p);
                let mut positive_coeff = 0.0;
                for (j, (n, gn)) in negatives.data[i * k * d..(i + 1) * k * d]
                    .chunks_exact(d)
                    .zip(gn.chunks_exact_mut(d))
                    .enumerate()
                {
                    let residual =
                        sp - q.similarity(similarity, n) - teacher_margins[i * k + j].to_f64();
                    losses[j] = residual * residual;
                    let c = 2.0 * weight * residual;
                    positive_coeff += c;
                    q.backward(similarity, n, -c, gn, gq);
                }
                q.backward(similarity, p, positive_coeff, gp, gq);
                q.finish(similarity, gq);
            });
        out.loss = ordered_sum(&out.item_losses)
            * if self.reduction == Reduction::Mean {
                weight
            } else {
                1.0
            };
        ensure_finite_output(
            "teacher_margins",
            "the squared margin residuals exceed its range: scale the inputs down",
            out.loss,
            &[&out.grad_queries, &out.grad_positives, &out.grad_negatives],
        )?;
        Ok(out)
    }
}

impl DistillKlDivLoss {
    /// The student and teacher temperatures in effect.
    pub fn temperatures(&self) -> (f64, f64) {
        (
            self.student_temperature.unwrap_or(self.temperature),
            self.teacher_temperature.unwrap_or(self.temperature),
        )
    }

    /// Computes the loss and the gradients w.r.t. queries and candidates (`teacher_scores`,
    /// `B * C` values row-major, get none).
    pub fn forward<T: Float>(
        &self,
        queries: MatRef<'_, T>,
        candidates: NegativesRef<'_, T>,
        teacher_scores: &[T],
    ) -> Result<DistillOutput<T>> {
        ensure_positive("temperature", self.temperature)?;
        let (student_t, teacher_t) = self.temperatures();
        ensure_positive("student_temperature", student_t)?;
        ensure_positive("teacher_temperature", teacher_t)?;
        ensure_set("candidates", queries, &candidates, 2)?;
        let (b, d, c) = (queries.rows, queries.cols, candidates.per_row);
        ensure_targets("teacher_scores", teacher_scores, &[b, c])?;
        ensure_finite("queries", queries.data)?;
        ensure_finite("candidates", candidates.data)?;
        let weight = match self.reduction {
            Reduction::Mean => 1.0 / b as f64,
            Reduction::Sum | Reduction::None => 1.0,
        };
        let mut out = DistillOutput {
            item_losses: filled_vec("teacher_scores", b, 0.0)?,
            loss: 0.0,
            grad_queries: filled_vec("queries", b * d, T::ZERO)?,
            grad_positives: filled_vec("candidates", b * c * d, T::ZERO)?,
            grad_negatives: Vec::new(),
        };
        let similarity = self.similarity;
        out.grad_queries
            .par_chunks_mut(d)
            .zip(out.grad_positives.par_chunks_mut(c * d))
            .zip(out.item_losses.par_iter_mut())
            .enumerate()
            .for_each(|(i, ((gq, gc), loss))| {
                let q = Query::new(queries.row(i));
                let rows = &candidates.data[i * c * d..(i + 1) * c * d];
                let student: Vec<f64> = rows
                    .chunks_exact(d)
                    .map(|x| q.similarity(similarity, x) / student_t)
                    .collect();
                let teacher: Vec<f64> = teacher_scores[i * c..(i + 1) * c]
                    .iter()
                    .map(|t| t.to_f64() / teacher_t)
                    .collect();
                let (log_q, log_p) = (log_softmax(&student), log_softmax(&teacher));
                let mut kl = 0.0;
                for (j, (x, gx)) in rows.chunks_exact(d).zip(gc.chunks_exact_mut(d)).enumerate() {
                    let p = log_p[j].exp();
                    if p > 0.0 {
                        kl += p * (log_p[j] - log_q[j]);
                    }
                    // d(T_s^2 KL) / d sim_j = T_s (q_j - p_j).
                    let coeff = weight * student_t * (log_q[j].exp() - p);
                    q.backward(similarity, x, coeff, gx, gq);
                }
                q.finish(similarity, gq);
                *loss = kl * student_t * student_t;
            });
        out.loss = ordered_sum(&out.item_losses)
            * if self.reduction == Reduction::Mean {
                weight
            } else {
                1.0
            };
        ensure_finite_output(
            "student_temperature",
            "the scaled similarities exceed its range: raise the temperature",
            out.loss,
            &[&out.grad_queries, &out.grad_positives],
        )?;
        Ok(out)
    }
}

/// `x_j - logsumexp(x)`.
fn log_softmax(x: &[f64]) -> Vec<f64> {
    let max = x.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let lse = max + x.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
    x.iter().map(|v| v - lse).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_values() {
        // q = (1, 0), p = (2, 0), n = (0, 1): dot margin 2, teacher 1: (2 - 1)^2 = 1.
        let (q, p, n) = ([1.0f64, 0.0], [2.0, 0.0], [0.0, 1.0]);
        let negatives = NegativesRef {
            data: &n,
            batch: 1,
            per_row: 1,
            dim: 2,
        };
        let out = MarginMseLoss::default()
            .forward(
                MatRef::new(&q, 1, 2),
                MatRef::new(&p, 1, 2),
                negatives,
                &[1.0],
            )
            .unwrap();
        assert_eq!(out.loss, 1.0);
        assert_eq!(out.grad_positives, vec![2.0, 0.0]);
        // Student and teacher agree: KL 0.
        let c = [1.0f64, 0.0, 0.0, 1.0];
        let candidates = NegativesRef {
            data: &c,
            batch: 1,
            per_row: 2,
            dim: 2,
        };
        let out = DistillKlDivLoss::default()
            .forward(MatRef::new(&q, 1, 2), candidates, &[1.0, 0.0])
            .unwrap();
        assert!(out.loss.abs() < 1e-15);
    }
}
