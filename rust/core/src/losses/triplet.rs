//! Triplet margin loss: `max(0, d(a, p) - d(a, n) + margin)` for every (anchor, positive,
//! negative) triplet, with Euclidean distance or cosine distance `1 - cos(a, x)`.

use rayon::prelude::*;

use super::{
    add_scaled_difference, cosine, ensure_non_empty, ensure_same_shape, euclidean_distance,
    unit_axpy, unit_backward, unit_copy,
};
use crate::error::{Result, TrainingError};
use crate::float::Float;
use crate::linalg::{filled_vec, MatRef, RowNorm};
use crate::reduce::ordered_sum;
use crate::types::{Distance, NegativesRef, Reduction};
use crate::validate::{ensure_finite, ensure_finite_output, ensure_non_negative, format_shape};

/// One batch of triplets: anchor `i` is paired with positive `i` and each of its K negatives.
#[derive(Debug, Clone, Copy)]
pub struct TripletBatch<'a, T> {
    /// `(B, D)` anchors.
    pub anchors: MatRef<'a, T>,
    /// `(B, D)` positives.
    pub positives: MatRef<'a, T>,
    /// `(B, K, D)` negatives (`K = 1` for a `(B, D)` array).
    pub negatives: NegativesRef<'a, T>,
}

/// Loss value and gradients of one forward pass.
#[derive(Debug, Clone)]
pub struct TripletOutput<T> {
    /// Per-triplet losses, `(B, K)` row-major.
    pub triplet_losses: Vec<f64>,
    /// The reduced loss (`mean` over all `B * K` triplets, or `sum`; for `none`, the sum).
    pub loss: f64,
    /// Gradient w.r.t. the anchors, `(B, D)`.
    pub grad_anchors: Vec<T>,
    /// Gradient w.r.t. the positives, `(B, D)`.
    pub grad_positives: Vec<T>,
    /// Gradient w.r.t. the negatives, `(B, K, D)`.
    pub grad_negatives: Vec<T>,
}

/// Triplet loss configuration. All fields may be changed between calls.
#[derive(Debug, Clone, PartialEq)]
pub struct TripletLoss {
    /// Margin `m >= 0`.
    pub margin: f64,
    /// Distance function.
    pub distance: Distance,
    /// How per-triplet losses are combined.
    pub reduction: Reduction,
}

impl Default for TripletLoss {
    fn default() -> Self {
        Self {
            margin: 1.0,
            distance: Distance::Euclidean,
            reduction: Reduction::Mean,
        }
    }
}

/// The three inputs, negatives as a `(B * K, D)` matrix.
struct Rows<'a, T> {
    anchors: MatRef<'a, T>,
    positives: MatRef<'a, T>,
    negatives: MatRef<'a, T>,
}

impl TripletLoss {
    /// Computes the loss and the gradient w.r.t. every input.
    pub fn forward<T: Float>(&self, batch: &TripletBatch<'_, T>) -> Result<TripletOutput<T>> {
        ensure_non_negative("margin", self.margin)?;
        self.validate(batch)?;
        ensure_finite("anchors", batch.anchors.data)?;
        ensure_finite("positives", batch.positives.data)?;
        ensure_finite("negatives", batch.negatives.data)?;
        let (b, d, k) = (
            batch.anchors.rows,
            batch.anchors.cols,
            batch.negatives.per_row,
        );
        let negatives = MatRef::new(batch.negatives.data, b * k, d);
        let weight = match self.reduction {
            Reduction::Mean => 1.0 / (b * k) as f64,
            Reduction::Sum | Reduction::None => 1.0,
        };
        let mut out = TripletOutput {
            triplet_losses: filled_vec("negatives", b * k, 0.0)?,
            loss: 0.0,
            grad_anchors: filled_vec("anchors", b * d, T::ZERO)?,
            grad_positives: filled_vec("positives", b * d, T::ZERO)?,
            grad_negatives: filled_vec("negatives", b * k * d, T::ZERO)?,
        };
        let rows = Rows {
            anchors: batch.anchors,
            positives: batch.positives,
            negatives,
        };
        self.run(&rows, k, weight, &mut out);
        let total = ordered_sum(&out.triplet_losses);
        out.loss = total
            * if self.reduction == Reduction::Mean {
                weight
            } else {
                1.0
            };
        // Finite inputs can still overflow: a margin near f64::MAX summed over triplets, or
        // Euclidean distances beyond the element type's range.
        let (arg, cause) = if self.margin * (b * k) as f64 >= f64::MAX / 4.0 {
            (
                "margin",
                "the margin summed over the triplets exceeds float64's range",
            )
        } else {
            (
                "anchors",
                "distances between such large embeddings; scale the inputs down",
            )
        };
        ensure_finite_output(
            arg,
            cause,
            out.loss,
            &[&out.grad_anchors, &out.grad_positives, &out.grad_negatives],
        )?;
        Ok(out)
    }

    fn validate<T: Float>(&self, batch: &TripletBatch<'_, T>) -> Result<()> {
        ensure_non_empty("anchors", batch.anchors)?;
        ensure_same_shape("positives", batch.positives, "anchors", batch.anchors)?;
        let (b, d) = (batch.anchors.rows, batch.anchors.cols);
        let negatives = &batch.negatives;
        if negatives.batch != b || negatives.dim != d || negatives.per_row == 0 {
            return Err(TrainingError::shape(
                "negatives",
                format!(
                    "expected shape (B, D) or (B, K, D) with B={b}, K>=1, D={d}, got {}",
                    format_shape(&[negatives.batch, negatives.per_row, negatives.dim])
                ),
            ));
        }
        Ok(())
    }

    /// Fills losses and gradients one anchor per task.
    fn run<T: Float>(&self, rows: &Rows<'_, T>, k: usize, weight: f64, out: &mut TripletOutput<T>) {
        let d = rows.anchors.cols;
        let (margin, distance) = (self.margin, self.distance);
        out.grad_anchors
            .par_chunks_mut(d)
            .zip(out.grad_positives.par_chunks_mut(d))
            .zip(out.grad_negatives.par_chunks_mut(k * d))
            .zip(out.triplet_losses.par_chunks_mut(k))
            .enumerate()
            .for_each(|(i, (((grad_a, grad_p), grad_n), losses))| {
                let row = RowInputs {
                    a: rows.anchors.row(i),
                    p: rows.positives.row(i),
                    negatives: &rows.negatives.data[i * k * d..(i + 1) * k * d],
                    margin,
                    weight,
                };
                let grads = RowGrads {
                    a: grad_a,
                    p: grad_p,
                    negatives: grad_n,
                };
                match distance {
                    Distance::Euclidean => euclidean_row(&row, grads, losses),
                    Distance::Cosine => cosine_row(&row, grads, losses),
                }
            });
    }
}

/// One anchor's inputs and the scalars its triplets need.
struct RowInputs<'a, T> {
    a: &'a [T],
    p: &'a [T],
    /// `K * D`: the anchor's negatives.
    negatives: &'a [T],
    margin: f64,
    /// d(reduced loss) / d(triplet loss).
    weight: f64,
}

/// One anchor's gradient rows (zero on entry).
struct RowGrads<'a, T> {
    a: &'a mut [T],
    p: &'a mut [T],
    negatives: &'a mut [T],
}

/// `d = ||x - y||`: `dd/dx = (x - y) / d` (0 at `d = 0`), `dd/dy = -dd/dx`.
fn euclidean_row<T: Float>(row: &RowInputs<'_, T>, grads: RowGrads<'_, T>, losses: &mut [f64]) {
    let (a, p, d) = (row.a, row.p, row.a.len());
    let (d_ap, inv_ap) = euclidean_distance(a, p);
    // Sum of the weights of the active triplets: the coefficient of d(a, p).
    let mut active = 0.0;
    for ((n, grad_n), loss) in row
        .negatives
        .chunks_exact(d)
        .zip(grads.negatives.chunks_exact_mut(d))
        .zip(losses.iter_mut())
    {
        let (d_an, inv_an) = euclidean_distance(a, n);
        let hinge = (d_ap - d_an).to_f64() + row.margin;
        if hinge > 0.0 {
            *loss = hinge;
            active += row.weight;
            let w = T::from_f64(row.weight);
            add_scaled_difference(-w * inv_an, a, n, grads.a);
            add_scaled_difference(w * inv_an, a, n, grad_n);
        }
    }
    if active > 0.0 {
        let c = T::from_f64(active);
        add_scaled_difference(c * inv_ap, a, p, grads.a);
        add_scaled_difference(-c * inv_ap, a, p, grads.p);
    }
}

/// `d = 1 - u_x . u_y` with `u = x / max(||x||, eps)`: `dd/du_x = -u_y`, then back through each
/// row's normalisation, in one pass that never stores the unit rows.
fn cosine_row<T: Float>(row: &RowInputs<'_, T>, grads: RowGrads<'_, T>, losses: &mut [f64]) {
    let (a, p, d) = (row.a, row.p, row.a.len());
    let (norm_a, norm_p) = (RowNorm::of(a), RowNorm::of(p));
    let d_ap = T::ONE - cosine(a, norm_a, p, norm_p);
    let mut active = 0.0;
    for ((n, grad_n), loss) in row
        .negatives
        .chunks_exact(d)
        .zip(grads.negatives.chunks_exact_mut(d))
        .zip(losses.iter_mut())
    {
        let norm_n = RowNorm::of(n);
        let d_an = T::ONE - cosine(a, norm_a, n, norm_n);
        let hinge = (d_ap - d_an).to_f64() + row.margin;
        if hinge > 0.0 {
            *loss = hinge;
            active += row.weight;
            let w = T::from_f64(row.weight);
            // The -d(a, n) term: d/du_a += w u_n, d/du_n = w u_a.
            unit_axpy(w, n, norm_n, grads.a);
            unit_copy(w, a, norm_a, grad_n);
            unit_backward(grad_n, n, norm_n);
        }
    }
    if active > 0.0 {
        let c = T::from_f64(active);
        unit_axpy(-c, p, norm_p, grads.a);
        unit_copy(-c, a, norm_a, grads.p);
        unit_backward(grads.p, p, norm_p);
        unit_backward(grads.a, a, norm_a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch<'a>(a: &'a [f64], p: &'a [f64], n: &'a [f64], k: usize) -> TripletBatch<'a, f64> {
        let d = 2;
        let b = a.len() / d;
        TripletBatch {
            anchors: MatRef::new(a, b, d),
            positives: MatRef::new(p, b, d),
            negatives: NegativesRef {
                data: n,
                batch: b,
                per_row: k,
                dim: d,
            },
        }
    }

    #[test]
    fn spec_worked_values() {
        // d(a, p) = 0.3, d(a, n) = 0.7
        let (a, p, n) = ([0.0, 0.0], [0.3, 0.0], [0.0, 0.7]);
        let mut loss = TripletLoss {
            margin: 0.1,
            ..TripletLoss::default()
        };
        let out = loss.forward(&batch(&a, &p, &n, 1)).unwrap();
        assert_eq!(out.loss, 0.0);
        assert!(out.grad_anchors.iter().all(|&g| g == 0.0));
        loss.margin = 0.5;
        let out = loss.forward(&batch(&a, &p, &n, 1)).unwrap();
        assert!((out.loss - 0.1).abs() < 1e-12);
        assert_eq!(out.grad_positives, vec![1.0, 0.0]);
        assert_eq!(out.grad_negatives, vec![0.0, -1.0]);
    }

    #[test]
    fn identical_anchor_and_positive_give_finite_gradients() {
        let (a, n) = ([1.0, 2.0], [1.0, 2.5]);
        let out = TripletLoss::default()
            .forward(&batch(&a, &a, &n, 1))
            .unwrap();
        assert!((out.loss - 0.5).abs() < 1e-12);
        assert!(out.grad_anchors.iter().all(|g| g.is_finite()));
        assert_eq!(out.grad_positives, vec![0.0, 0.0]);
    }

    #[test]
    fn bad_inputs_name_their_argument() {
        let (a, n) = ([1.0, 2.0], [1.0, 2.5]);
        let err = TripletLoss::default()
            .forward(&batch(&a, &a, &n[..0], 0))
            .unwrap_err();
        assert_eq!(err.arg(), "negatives");
        let loss = TripletLoss {
            margin: -1.0,
            ..TripletLoss::default()
        };
        assert_eq!(
            loss.forward(&batch(&a, &a, &n, 1)).unwrap_err().arg(),
            "margin"
        );
        assert_eq!(Distance::parse("l1").unwrap_err().arg(), "distance");
    }
}
