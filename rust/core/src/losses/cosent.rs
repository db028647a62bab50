//! Score-ranking regression: CoSENT and AnglE (sentence-transformers 6.2's `CoSENTLoss` and
//! `AnglELoss`).
//!
//! With `s_i = scale * sim(u_i, v_i)` and target scores `y_i`,
//! `loss = log(1 + sum over (i, j) with y_i < y_j of exp(s_i - s_j))`: every pair ranked the
//! wrong way by the model is penalised. CoSENT uses the cosine; AnglE uses
//! `|cos(u, v) + sin(u, v)|` with `sin = sum_k (u'_{h+k} v'_k - u'_k v'_{h+k})` over the unit
//! rows split in two halves of `h = ceil(D / 2)` (an odd `D` padded by a zero), the real
//! part of the complex division of the two halves as sentence-transformers computes it.
//!
//! The pair sum is never formed: sorting the pairs by target score turns it into prefix and
//! suffix log-sum-exps, `O(B log B)` time and `O(B)` memory. The gradient w.r.t. `s_k` is
//! `exp(A_k - L) - exp(R_k - L)` with `A_k = s_k + LSE_{y_j > y_k}(-s_j)`,
//! `R_k = -s_k + LSE_{y_j < y_k}(s_j)` and `L` the loss.

use rayon::prelude::*;

use super::{ensure_non_empty, ensure_same_shape, unit_backward, unit_copy};
use crate::alloc::try_collect;
use crate::error::{Result, TrainingError};
use crate::float::Float;
use crate::linalg::{cosine, filled_vec, MatRef, RowNorm};
use crate::validate::{ensure_finite, ensure_finite_output, ensure_positive, format_shape};

/// The pair similarity a score-ranking loss ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairSimilarity {
    /// Cosine of the eps-guarded unit rows (CoSENT).
    Cosine,
    /// `|cos + sin|` of the two halves of the unit rows (AnglE).
    Angle,
}

/// CoSENT loss configuration (`log(1 + sum exp(scale (cos_i - cos_j)))` over wrongly ranked
/// pairs). All fields may be changed between calls.
#[derive(Debug, Clone, PartialEq)]
pub struct CoSentLoss {
    /// Inverse temperature applied to the similarities (finite, > 0).
    pub scale: f64,
}

impl Default for CoSentLoss {
    fn default() -> Self {
        Self { scale: 20.0 }
    }
}

/// AnglE loss configuration: CoSENT on the angle similarity `|cos + sin|`.
#[derive(Debug, Clone, PartialEq)]
pub struct AnglELoss {
    /// Inverse temperature applied to the similarities (finite, > 0).
    pub scale: f64,
}

impl Default for AnglELoss {
    fn default() -> Self {
        Self { scale: 20.0 }
    }
}

/// Loss value and gradients of one score-ranking forward pass.
#[derive(Debug, Clone)]
pub struct ScoreRankingOutput<T> {
    /// The loss (one scalar over all pairs).
    pub loss: f64,
    /// Gradient w.r.t. `u`, `(B, D)`.
    pub grad_u: Vec<T>,
    /// Gradient w.r.t. `v`, `(B, D)`.
    pub grad_v: Vec<T>,
}

impl CoSentLoss {
    /// Computes the loss and the gradients w.r.t. `u` and `v` (`scores` are targets).
    pub fn forward<T: Float>(
        &self,
        u: MatRef<'_, T>,
        v: MatRef<'_, T>,
        scores: &[T],
    ) -> Result<ScoreRankingOutput<T>> {
        score_ranking(self.scale, PairSimilarity::Cosine, u, v, scores)
    }
}

impl AnglELoss {
    /// Computes the loss and the gradients w.r.t. `u` and `v` (`scores` are targets).
    pub fn forward<T: Float>(
        &self,
        u: MatRef<'_, T>,
        v: MatRef<'_, T>,
        scores: &[T],
    ) -> Result<ScoreRankingOutput<T>> {
        score_ranking(self.scale, PairSimilarity::Angle, u, v, scores)
    }
}

/// `log(exp(a) + exp(b))` for `a, b` possibly `-inf`.
fn log_add_exp(a: f64, b: f64) -> f64 {
    let max = a.max(b);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + ((a - max).exp() + (b - max).exp()).ln()
}

/// The shared kernel of [`CoSentLoss`] and [`AnglELoss`].
fn score_ranking<T: Float>(
    scale: f64,
    kind: PairSimilarity,
    u: MatRef<'_, T>,
    v: MatRef<'_, T>,
    scores: &[T],
) -> Result<ScoreRankingOutput<T>> {
    ensure_positive("scale", scale)?;
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

    // Scaled similarities, f64.
    let mut logits = filled_vec("scores", b, 0.0f64)?;
    logits.par_iter_mut().enumerate().for_each(|(i, s)| {
        *s = scale * pair_similarity(kind, u.row(i), v.row(i)).0;
    });
    let mut order = try_collect("scores", b, 0..b)?;
    order.sort_by(|&i, &j| scores[i].partial_cmp(&scores[j]).expect("finite scores"));
    // Group starts in sorted order: [start, end) ranges of equal target scores.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for k in 1..=b {
        if k == b || scores[order[k]] != scores[order[start]] {
            groups.push((start, k));
            start = k;
        }
    }
    // above[k]: LSE of -s_j over pairs with a strictly higher target than sorted position k.
    let mut above = filled_vec("scores", b, f64::NEG_INFINITY)?;
    let mut running = f64::NEG_INFINITY;
    for &(start, end) in groups.iter().rev() {
        above[start..end].fill(running);
        for &j in &order[start..end] {
            running = log_add_exp(running, -logits[j]);
        }
    }
    let mut below = filled_vec("scores", b, f64::NEG_INFINITY)?;
    let mut running = f64::NEG_INFINITY;
    for &(start, end) in &groups {
        below[start..end].fill(running);
        for &j in &order[start..end] {
            running = log_add_exp(running, logits[j]);
        }
    }
    let mut loss = 0.0f64; // log(1) for the appended zero
    for (k, &i) in order.iter().enumerate() {
        loss = log_add_exp(loss, logits[i] + above[k]);
    }
    // d loss / d sim_i, indexed by pair.
    let mut weights = filled_vec("scores", b, 0.0f64)?;
    for (k, &i) in order.iter().enumerate() {
        let s = logits[i];
        weights[i] = scale * ((s + above[k] - loss).exp() - (-s + below[k] - loss).exp());
    }

    let mut grad_u = filled_vec("u", b * d, T::ZERO)?;
    let mut grad_v = filled_vec("v", b * d, T::ZERO)?;
    grad_u
        .par_chunks_mut(d)
        .zip(grad_v.par_chunks_mut(d))
        .enumerate()
        .for_each(|(i, (gu, gv))| {
            if weights[i] != 0.0 {
                pair_similarity_backward(kind, u.row(i), v.row(i), weights[i], gu, gv);
            }
        });
    ensure_finite_output(
        "scale",
        "the scaled similarities exceed its range: lower the scale",
        loss,
        &[&grad_u, &grad_v],
    )?;
    Ok(ScoreRankingOutput {
        loss,
        grad_u,
        grad_v,
    })
}

/// Half length `h = ceil(D / 2)` of the AnglE split (an odd `D` is padded by a zero).
fn half(d: usize) -> usize {
    d.div_ceil(2)
}

/// The pair's similarity in `f64` and, for AnglE, the signed value `cos + sin` inside the
/// absolute value.
fn pair_similarity<T: Float>(kind: PairSimilarity, x: &[T], y: &[T]) -> (f64, f64) {
    let (nx, ny) = (RowNorm::of(x), RowNorm::of(y));
    let cos = cosine(x, nx, y, ny).to_f64();
    match kind {
        PairSimilarity::Cosine => (cos, cos),
        PairSimilarity::Angle => {
            let (ix, iy) = (unit_factor(nx), unit_factor(ny));
            let h = half(x.len());
            let mut sin = 0.0f64;
            for k in 0..x.len() - h {
                let (x_first, x_last) = (x[k].to_f64() * ix, x[h + k].to_f64() * ix);
                let (y_first, y_last) = (y[k].to_f64() * iy, y[h + k].to_f64() * iy);
                sin += x_last * y_first - x_first * y_last;
            }
            let signed = cos + sin;
            (signed.abs(), signed)
        }
    }
}

/// The `f64` factor turning a raw row into its unit row.
fn unit_factor<T: Float>(norm: RowNorm<T>) -> f64 {
    norm.scale.to_f64() / norm.divisor.to_f64()
}

/// Writes `weight * d sim / d x` into `gx` and `weight * d sim / d y` into `gy` (both zero on
/// entry). The absolute value's subgradient is 0 at its kink.
fn pair_similarity_backward<T: Float>(
    kind: PairSimilarity,
    x: &[T],
    y: &[T],
    weight: f64,
    gx: &mut [T],
    gy: &mut [T],
) {
    let (nx, ny) = (RowNorm::of(x), RowNorm::of(y));
    let coefficient = match kind {
        PairSimilarity::Cosine => weight,
        PairSimilarity::Angle => {
            let signed = pair_similarity(kind, x, y).1;
            if signed == 0.0 {
                return;
            }
            weight * signed.signum()
        }
    };
    // d cos / d unit x = unit y (and vice versa).
    let c = T::from_f64(coefficient);
    unit_copy(c, y, ny, gx);
    unit_copy(c, x, nx, gy);
    if kind == PairSimilarity::Angle {
        // d sin / d x'_k = -y'_{h+k}, d sin / d x'_{h+k} = y'_k; d sin / d y'_k = x'_{h+k},
        // d sin / d y'_{h+k} = -x'_k.
        let (ix, iy) = (unit_factor(nx), unit_factor(ny));
        let h = half(x.len());
        for k in 0..x.len() - h {
            let (x_first, x_last) = (x[k].to_f64() * ix, x[h + k].to_f64() * ix);
            let (y_first, y_last) = (y[k].to_f64() * iy, y[h + k].to_f64() * iy);
            gx[k] -= T::from_f64(coefficient * y_last);
            gx[h + k] += T::from_f64(coefficient * y_first);
            gy[k] += T::from_f64(coefficient * x_last);
            gy[h + k] -= T::from_f64(coefficient * x_first);
        }
    }
    unit_backward(gx, x, nx);
    unit_backward(gy, y, ny);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_pairs_worked_value() {
        // cos = (1, 0) for targets (0, 1): one wrongly ranked pair, exp(20 (1 - 0)).
        let u = [1.0f64, 0.0, 1.0, 0.0];
        let v = [1.0f64, 0.0, 0.0, 1.0];
        let out = CoSentLoss::default()
            .forward(MatRef::new(&u, 2, 2), MatRef::new(&v, 2, 2), &[0.0, 1.0])
            .unwrap();
        let want = (1.0f64 + 20.0f64.exp()).ln();
        assert!((out.loss - want).abs() < 1e-12);
        // Equal targets: no pair, loss log(1) = 0 and no gradient.
        let out = CoSentLoss::default()
            .forward(MatRef::new(&u, 2, 2), MatRef::new(&v, 2, 2), &[1.0, 1.0])
            .unwrap();
        assert_eq!(out.loss, 0.0);
        assert!(out.grad_u.iter().all(|&g| g == 0.0));
        let err = AnglELoss { scale: 0.0 }
            .forward(MatRef::new(&u, 2, 2), MatRef::new(&v, 2, 2), &[1.0, 1.0])
            .unwrap_err();
        assert_eq!(err.arg(), "scale");
    }
}
