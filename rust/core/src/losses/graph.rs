//! Graph losses over an undirected edge list `(E, 2)`: local contrastive (neighbourhood
//! preservation) and spectral (Laplacian) regularisation.
//!
//! Both are sums of per-edge terms in `||y_i - y_j||`, so they share one scheme: a parallel pass
//! over edges computes each edge's loss and a scalar coefficient `c_e`, then a parallel pass over
//! nodes gathers `grad_i = s_i * sum_(e incident to i) c_e (y_i - y_other)` through a CSR
//! incidence list. Every gradient row is written by exactly one task: no float atomics, no
//! per-thread buffers, and the result does not depend on the thread count. Duplicate edges are
//! separate entries, so their terms add up.

use rayon::prelude::*;

use super::{add_scaled_difference, ensure_non_empty, euclidean_distance, squared_distance};
use crate::alloc::try_copy;
use crate::eigen::{laplacian_eigenvalues, EigenOptions};
use crate::error::{Result, TrainingError};
use crate::float::Float;
use crate::linalg::{filled_vec, scaled_copy, MatRef};
use crate::reduce::ordered_sum;
use crate::types::Reduction;
use crate::validate::{
    ensure_finite, ensure_finite_output, ensure_non_negative, format_number, format_shape,
};

/// Default `lam` of [`SpectralRegularization`].
pub const DEFAULT_SPECTRAL_LAMBDA: f64 = 0.01;

/// Loss value and gradient of a graph loss.
#[derive(Debug, Clone)]
pub struct GraphLossOutput<T> {
    /// Per-edge losses, `(E,)` (for spectral: `lam * w_e * ||y_i - y_j||^2`).
    pub edge_losses: Vec<f64>,
    /// The reduced loss.
    pub loss: f64,
    /// Gradient w.r.t. the embeddings, `(N, D)`.
    pub grad_embeddings: Vec<T>,
}

/// Local contrastive loss configuration: per edge `d^2` (similar) or `max(0, m - d)^2`
/// (dissimilar), `d` the Euclidean distance.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalContrastiveLoss {
    /// Margin `m >= 0` of dissimilar edges.
    pub margin: f64,
    /// How per-edge losses are combined.
    pub reduction: Reduction,
}

impl Default for LocalContrastiveLoss {
    fn default() -> Self {
        Self {
            margin: 1.0,
            reduction: Reduction::Mean,
        }
    }
}

impl LocalContrastiveLoss {
    /// Loss and gradient. `labels[e]` is true for a similar edge (the default without labels).
    pub fn forward<T: Float>(
        &self,
        embeddings: MatRef<'_, T>,
        edges: &[[usize; 2]],
        labels: Option<&[bool]>,
    ) -> Result<GraphLossOutput<T>> {
        ensure_non_negative("margin", self.margin)?;
        // A dissimilar edge contributes margin^2 to the (f64) loss and up to 2 * margin to the
        // gradient (type T): refuse margins for which either overflows.
        let largest_margin = f64::MAX.sqrt().min(T::MAX.to_f64() / 2.0);
        if self.margin > largest_margin {
            return Err(TrainingError::value(
                "margin",
                format!(
                    "{} is too large for {} embeddings: the loss margin^2 or the gradient \
                     2 * margin would overflow (must be at most {})",
                    format_number(self.margin),
                    T::NAME,
                    format_number(largest_margin)
                ),
            ));
        }
        ensure_non_empty("embeddings", embeddings)?;
        validate_edges(edges, embeddings.rows, "embeddings rows")?;
        if let Some(labels) = labels {
            ensure_edge_length("labels", labels.len(), edges.len())?;
        }
        if edges.is_empty() && self.reduction == Reduction::Mean {
            return Err(TrainingError::shape(
                "edges",
                "reduction 'mean' needs at least one edge, got shape (0, 2)",
            ));
        }
        ensure_finite("embeddings", embeddings.data)?;
        let weight = match self.reduction {
            Reduction::Mean => 1.0 / edges.len() as f64,
            Reduction::Sum | Reduction::None => 1.0,
        };
        let margin = self.margin;
        let (edge_losses, coefficients) = edge_terms(edges.len(), |e| {
            let [i, j] = edges[e];
            let (zi, zj) = (embeddings.row(i), embeddings.row(j));
            if labels.is_none_or(|labels| labels[e]) {
                return (squared_distance(zi, zj).to_f64(), 2.0 * weight);
            }
            let (d, inverse) = euclidean_distance(zi, zj);
            let gap = margin - d.to_f64();
            if gap > 0.0 {
                // d/dz_i (m - d)^2 = -2 (m - d) (z_i - z_j) / d; 0 at d = 0.
                (gap * gap, -2.0 * gap * inverse.to_f64() * weight)
            } else {
                (0.0, 0.0)
            }
        })?;
        let grad = gather_gradient(embeddings, edges, &coefficients)?;
        let total = ordered_sum(&edge_losses);
        let loss = total
            * if self.reduction == Reduction::Mean {
                weight
            } else {
                1.0
            };
        let (arg, cause) = if margin >= T::MAX.to_f64().sqrt() {
            ("margin", "the margin is too large for this graph")
        } else {
            (
                "embeddings",
                "distances between such large embeddings; scale them down",
            )
        };
        ensure_finite_output(arg, cause, loss, &[&grad])?;
        Ok(GraphLossOutput {
            edge_losses,
            loss,
            grad_embeddings: grad,
        })
    }
}

/// Spectral regularisation `lam * tr(Z^T L Z)`, `L = D - W` or `L_sym = I - D^-1/2 W D^-1/2`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralRegularization {
    /// Scale `lam >= 0`.
    pub lam: f64,
    /// Use the symmetric normalised Laplacian.
    pub normalized: bool,
}

impl Default for SpectralRegularization {
    fn default() -> Self {
        Self {
            lam: DEFAULT_SPECTRAL_LAMBDA,
            normalized: true,
        }
    }
}

impl SpectralRegularization {
    /// Loss `lam * sum_e w_e ||y_i - y_j||^2` (`y = Z` or `y_i = z_i / sqrt(d_i)`) and its
    /// gradient. Self-loops are ignored; `weights` default to 1.
    pub fn forward<T: Float>(
        &self,
        embeddings: MatRef<'_, T>,
        edges: &[[usize; 2]],
        weights: Option<&[f64]>,
    ) -> Result<GraphLossOutput<T>> {
        ensure_non_negative("lam", self.lam)?;
        ensure_non_empty("embeddings", embeddings)?;
        validate_edges(edges, embeddings.rows, "embeddings rows")?;
        validate_weights(weights, edges.len())?;
        ensure_finite("embeddings", embeddings.data)?;
        // L_sym does not change when every weight is multiplied by c (the degrees scale by c,
        // y by 1/sqrt(c)): bring the largest weight into [1, 4) by an even power of two, which
        // is exact, so tiny or huge weights cannot overflow y or the degrees.
        let weight_scale = match weights {
            Some(w) if self.normalized => even_power_of_two_scale(max_weight(w)),
            _ => 1.0,
        };
        let weight_of = |e: usize| weights.map_or(1.0, |w| w[e] * weight_scale);
        let largest_coefficient = 2.0 * self.lam * weights.map_or(1.0, max_weight) * weight_scale;
        if !T::from_f64(largest_coefficient).is_finite() {
            return Err(TrainingError::value(
                "lam",
                format!(
                    "{} is too large for {} embeddings: the gradient coefficient \
                     2 * lam * weight = {} overflows it",
                    format_number(self.lam),
                    T::NAME,
                    format_number(largest_coefficient)
                ),
            ));
        }
        let (n, d) = (embeddings.rows, embeddings.cols);
        let incidence = Incidence::build(n, edges)?;
        // Row scales s_i = 1/sqrt(d_i) (0 for isolated nodes) and the scaled rows y.
        let (scales, scaled) = if self.normalized {
            let mut scales = filled_vec("embeddings", n, 0.0)?;
            scales.par_iter_mut().enumerate().for_each(|(i, s)| {
                let degree: f64 = incidence
                    .entries(i)
                    .iter()
                    .map(|&(_, e)| weight_of(e))
                    .sum();
                *s = if degree > 0.0 {
                    1.0 / degree.sqrt()
                } else {
                    0.0
                };
            });
            let mut y = filled_vec("embeddings", n * d, T::ZERO)?;
            y.par_chunks_mut(d)
                .zip(embeddings.data.par_chunks(d))
                .zip(scales.par_iter())
                .for_each(|((y, z), &s)| scaled_copy(T::from_f64(s), z, y));
            (Some(scales), Some(y))
        } else {
            (None, None)
        };
        let y = scaled
            .as_deref()
            .map_or(embeddings, |y| MatRef::new(y, n, d));
        let lam = self.lam;
        let (edge_losses, coefficients) = edge_terms(edges.len(), |e| {
            let [i, j] = edges[e];
            if i == j {
                return (0.0, 0.0);
            }
            let w = lam * weight_of(e);
            (w * squared_distance(y.row(i), y.row(j)).to_f64(), 2.0 * w)
        })?;
        let mut grad = filled_vec("embeddings", n * d, T::ZERO)?;
        incidence.gather(y, &coefficients, scales.as_deref(), &mut grad);
        let loss = ordered_sum(&edge_losses);
        let (arg, cause) = if self.lam > 1.0 {
            ("lam", "lam scales the loss and gradient beyond the range")
        } else if weights.is_some() && !self.normalized {
            (
                "weights",
                "the weights scale the loss and gradient beyond the range",
            )
        } else {
            (
                "embeddings",
                "distances between such large embeddings; scale them down",
            )
        };
        ensure_finite_output(arg, cause, loss, &[&grad])?;
        Ok(GraphLossOutput {
            loss,
            edge_losses,
            grad_embeddings: grad,
        })
    }
}

impl SpectralRegularization {
    /// The `k` smallest eigenvalues (ascending) of the Laplacian this regulariser uses
    /// (`L_sym` or `D - W` per [`normalized`](Self::normalized)) for a graph of `num_nodes`
    /// nodes: see [`laplacian_eigenvalues`].
    pub fn eigenvalues(
        &self,
        num_nodes: usize,
        edges: &[[usize; 2]],
        k: usize,
        weights: Option<&[f64]>,
        options: EigenOptions,
    ) -> Result<Vec<f64>> {
        laplacian_eigenvalues(num_nodes, edges, weights, self.normalized, k, options)
    }
}

/// The largest edge weight (0 for none).
fn max_weight(weights: &[f64]) -> f64 {
    weights.iter().fold(0.0, |m: f64, &w| m.max(w))
}

/// `4^-k` such that `largest * 4^-k` lies in about `[1, 4)` (1 for `largest` 0): an exact
/// rescaling of weights (a power of four) that leaves `sqrt` of their sums exactly rescaled.
fn even_power_of_two_scale(largest: f64) -> f64 {
    if largest <= 0.0 || !largest.is_finite() {
        return 1.0;
    }
    let exponent = (largest.log2().floor() as i32).clamp(-1020, 1020);
    2f64.powi(-exponent.div_euclid(2) * 2)
}

/// Per-edge `(loss, coefficient)` pairs computed in parallel by `term(edge index)`.
fn edge_terms(
    num_edges: usize,
    term: impl Fn(usize) -> (f64, f64) + Sync,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let mut losses = filled_vec("edges", num_edges, 0.0)?;
    let mut coefficients = filled_vec("edges", num_edges, 0.0)?;
    losses
        .par_iter_mut()
        .zip(coefficients.par_iter_mut())
        .enumerate()
        .for_each(|(e, (loss, coefficient))| (*loss, *coefficient) = term(e));
    Ok((losses, coefficients))
}

/// The gradient `grad_i = sum_e c_e (z_i - z_other)` of an unscaled edge loss.
fn gather_gradient<T: Float>(
    embeddings: MatRef<'_, T>,
    edges: &[[usize; 2]],
    coefficients: &[f64],
) -> Result<Vec<T>> {
    let incidence = Incidence::build(embeddings.rows, edges)?;
    let mut grad = filled_vec("embeddings", embeddings.data.len(), T::ZERO)?;
    incidence.gather(embeddings, coefficients, None, &mut grad);
    Ok(grad)
}

/// Fails unless every edge index is below `num_nodes`; `nodes` names what the bound counts
/// (e.g. `"embeddings rows"`) in the message.
pub(crate) fn validate_edges(edges: &[[usize; 2]], num_nodes: usize, nodes: &str) -> Result<()> {
    if let Some((row, pair)) = edges
        .par_iter()
        .enumerate()
        .find_first(|(_, pair)| pair[0] >= num_nodes || pair[1] >= num_nodes)
    {
        let index = if pair[0] >= num_nodes {
            pair[0]
        } else {
            pair[1]
        };
        return Err(TrainingError::value(
            "edges",
            format!("node index {index} in row {row} is out of range for {num_nodes} {nodes}"),
        ));
    }
    Ok(())
}

/// Fails unless optional edge `weights` have one entry per edge, all finite and `>= 0`.
pub(crate) fn validate_weights(weights: Option<&[f64]>, num_edges: usize) -> Result<()> {
    let Some(weights) = weights else {
        return Ok(());
    };
    ensure_edge_length("weights", weights.len(), num_edges)?;
    ensure_finite("weights", weights)?;
    if let Some(e) = weights.iter().position(|&w| w < 0.0) {
        return Err(TrainingError::value(
            "weights",
            format!("must be >= 0, got {} at index {e}", weights[e]),
        ));
    }
    Ok(())
}

/// Fails unless a per-edge array has one entry per edge.
fn ensure_edge_length(arg: &'static str, len: usize, num_edges: usize) -> Result<()> {
    if len == num_edges {
        Ok(())
    } else {
        Err(TrainingError::shape(
            arg,
            format!(
                "expected shape (E,) = {} with one entry per edge, got {}",
                format_shape(&[num_edges]),
                format_shape(&[len])
            ),
        ))
    }
}

/// CSR incidence list: for node `i`, `(other endpoint, edge index)` of every edge touching it,
/// in edge order. Self-loops are left out (their gradient is 0 in both losses).
struct Incidence {
    offsets: Vec<usize>,
    entries: Vec<(usize, usize)>,
}

impl Incidence {
    fn build(num_nodes: usize, edges: &[[usize; 2]]) -> Result<Self> {
        let mut offsets = filled_vec("edges", num_nodes + 1, 0usize)?;
        for &[i, j] in edges {
            if i != j {
                offsets[i + 1] += 1;
                offsets[j + 1] += 1;
            }
        }
        for i in 0..num_nodes {
            offsets[i + 1] += offsets[i];
        }
        let mut entries = filled_vec("edges", offsets[num_nodes], (0usize, 0usize))?;
        let mut cursor = try_copy("edges", &offsets[..num_nodes])?;
        for (e, &[i, j]) in edges.iter().enumerate() {
            if i != j {
                entries[cursor[i]] = (j, e);
                cursor[i] += 1;
                entries[cursor[j]] = (i, e);
                cursor[j] += 1;
            }
        }
        Ok(Self { offsets, entries })
    }

    fn entries(&self, node: usize) -> &[(usize, usize)] {
        &self.entries[self.offsets[node]..self.offsets[node + 1]]
    }

    /// `grad_i = s_i * sum_e c_e (y_i - y_other)` (`s_i = 1` without `scales`), one row per task.
    fn gather<T: Float>(
        &self,
        y: MatRef<'_, T>,
        coefficients: &[f64],
        scales: Option<&[f64]>,
        grad: &mut [T],
    ) {
        grad.par_chunks_mut(y.cols).enumerate().for_each(|(i, g)| {
            let yi = y.row(i);
            for &(j, e) in self.entries(i) {
                let c = coefficients[e];
                if c != 0.0 {
                    add_scaled_difference(T::from_f64(c), yi, y.row(j), g);
                }
            }
            if let Some(scales) = scales {
                let s = T::from_f64(scales[i]);
                g.iter_mut().for_each(|v| *v *= s);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_graph_matches_hand_computation() {
        // Path 0 - 1 - 2 plus a self-loop on 2, D = 1, z = (0, 1, 3).
        let z = [0.0f64, 1.0, 3.0];
        let edges = [[0, 1], [1, 2], [2, 2]];
        let local = LocalContrastiveLoss {
            reduction: Reduction::Sum,
            ..LocalContrastiveLoss::default()
        };
        let out = local.forward(MatRef::new(&z, 3, 1), &edges, None).unwrap();
        assert_eq!(out.loss, 1.0 + 4.0);
        assert_eq!(out.grad_embeddings, vec![-2.0, 2.0 - 4.0, 4.0]);
        let spectral = SpectralRegularization {
            lam: 1.0,
            normalized: false,
        };
        let out = spectral
            .forward(MatRef::new(&z, 3, 1), &edges, None)
            .unwrap();
        assert_eq!(out.loss, 5.0);
        assert_eq!(out.grad_embeddings, vec![-2.0, -2.0, 4.0]);
    }

    #[test]
    fn dissimilar_self_loop_has_zero_gradient() {
        let z = [0.5f32, 0.5];
        let local = LocalContrastiveLoss::default();
        let out = local
            .forward(MatRef::new(&z, 1, 2), &[[0, 0]], Some(&[false]))
            .unwrap();
        assert_eq!(out.loss, 1.0);
        assert_eq!(out.grad_embeddings, vec![0.0, 0.0]);
    }

    #[test]
    fn bad_edges_are_rejected() {
        let z = [0.0f64; 4];
        let m = MatRef::new(&z, 2, 2);
        let local = LocalContrastiveLoss::default();
        assert_eq!(
            local.forward(m, &[[0, 2]], None).unwrap_err().arg(),
            "edges"
        );
        assert_eq!(local.forward(m, &[], None).unwrap_err().arg(), "edges");
        assert_eq!(
            local.forward(m, &[[0, 1]], Some(&[])).unwrap_err().arg(),
            "labels"
        );
        let spectral = SpectralRegularization::default();
        assert_eq!(
            spectral
                .forward(m, &[[0, 1]], Some(&[-1.0]))
                .unwrap_err()
                .arg(),
            "weights"
        );
    }
}
