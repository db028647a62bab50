//! The graph behind a Laplacian: merged adjacency (duplicates summed, self-loops and zero
//! weights dropped), its connected components, and each component's Laplacian as a sparse
//! matrix (CSR, for products and the shifted Cholesky factor) or a dense one.

use rayon::prelude::*;

use crate::error::{Result, TrainingError};
use crate::linalg::filled_vec;

/// Symmetric adjacency in CSR form: row `i` lists each neighbour `j != i` once (sorted), with
/// the summed weight of every edge `{i, j}`; only positive weights are kept.
pub(super) struct Adjacency {
    offsets: Vec<usize>,
    neighbors: Vec<usize>,
    weights: Vec<f64>,
    /// Weighted degree `d_i = sum_j w_ij`.
    degrees: Vec<f64>,
}

impl Adjacency {
    /// Builds the merged adjacency of `num_nodes` nodes; `edges` and `weights` are validated.
    pub(super) fn build(
        num_nodes: usize,
        edges: &[[usize; 2]],
        weights: Option<&[f64]>,
    ) -> Result<Self> {
        let weight_of = |e: usize| weights.map_or(1.0, |w| w[e]);
        let kept = |e: usize| edges[e][0] != edges[e][1] && weight_of(e) > 0.0;
        let mut counts = filled_vec("edges", num_nodes + 1, 0usize)?;
        for (e, &[i, j]) in edges.iter().enumerate() {
            if kept(e) {
                counts[i + 1] += 1;
                counts[j + 1] += 1;
            }
        }
        for i in 0..num_nodes {
            counts[i + 1] += counts[i];
        }
        let mut entries = filled_vec("edges", counts[num_nodes], (0usize, 0.0f64))?;
        let mut cursor = filled_vec("edges", num_nodes, 0usize)?;
        cursor.copy_from_slice(&counts[..num_nodes]);
        for (e, &[i, j]) in edges.iter().enumerate() {
            if kept(e) {
                let w = weight_of(e);
                entries[cursor[i]] = (j, w);
                cursor[i] += 1;
                entries[cursor[j]] = (i, w);
                cursor[j] += 1;
            }
        }
        // Sort every row by neighbour (stable: duplicates are summed in edge order).
        let mut rows = Vec::new();
        rows.try_reserve_exact(num_nodes)
            .map_err(|_| TrainingError::OutOfMemory {
                arg: "edges",
                bytes: num_nodes.saturating_mul(16),
            })?;
        let mut rest = entries.as_mut_slice();
        for i in 0..num_nodes {
            let (row, tail) = rest.split_at_mut(counts[i + 1] - counts[i]);
            rows.push(row);
            rest = tail;
        }
        rows.par_iter_mut()
            .for_each(|row| row.sort_by_key(|&(j, _)| j));
        // Merge duplicates in place, then compact.
        let mut offsets = filled_vec("edges", num_nodes + 1, 0usize)?;
        let mut neighbors = Vec::new();
        let mut merged_weights = Vec::new();
        let total = entries.len();
        neighbors
            .try_reserve_exact(total)
            .and_then(|()| merged_weights.try_reserve_exact(total))
            .map_err(|_| TrainingError::OutOfMemory {
                arg: "edges",
                bytes: total.saturating_mul(16),
            })?;
        for i in 0..num_nodes {
            for &(j, w) in &entries[counts[i]..counts[i + 1]] {
                if neighbors.len() > offsets[i] && neighbors.last() == Some(&j) {
                    *merged_weights.last_mut().expect("a previous entry") += w;
                } else {
                    neighbors.push(j);
                    merged_weights.push(w);
                }
            }
            offsets[i + 1] = neighbors.len();
        }
        let mut degrees = filled_vec("edges", num_nodes, 0.0)?;
        degrees.par_iter_mut().enumerate().for_each(|(i, d)| {
            *d = merged_weights[offsets[i]..offsets[i + 1]].iter().sum();
        });
        if let Some(i) = degrees.iter().position(|d| !d.is_finite()) {
            return Err(TrainingError::value(
                "weights",
                format!("the weighted degree of node {i} overflows to infinity"),
            ));
        }
        Ok(Self {
            offsets,
            neighbors,
            weights: merged_weights,
            degrees,
        })
    }

    /// Stored off-diagonal entries in the rows of `nodes`.
    pub(super) fn entries(&self, nodes: &[usize]) -> usize {
        nodes
            .iter()
            .map(|&i| self.offsets[i + 1] - self.offsets[i])
            .sum()
    }

    fn num_nodes(&self) -> usize {
        self.degrees.len()
    }

    fn row(&self, i: usize) -> (&[usize], &[f64]) {
        let range = self.offsets[i]..self.offsets[i + 1];
        (&self.neighbors[range.clone()], &self.weights[range])
    }

    /// Connected components with at least two nodes (each sorted ascending, in order of their
    /// smallest node) and the number of isolated nodes (no edge of positive weight).
    pub(super) fn components(&self) -> Result<(Vec<Vec<usize>>, usize)> {
        let n = self.num_nodes();
        let mut seen = filled_vec("num_nodes", n, false)?;
        let mut components = Vec::new();
        let mut isolated = 0;
        // Every node is pushed at most once on the stack and into one component.
        let mut stack = Vec::new();
        stack
            .try_reserve_exact(n)
            .map_err(|_| TrainingError::OutOfMemory {
                arg: "num_nodes",
                bytes: n.saturating_mul(8),
            })?;
        for start in 0..n {
            if seen[start] {
                continue;
            }
            seen[start] = true;
            if self.offsets[start] == self.offsets[start + 1] {
                isolated += 1;
                continue;
            }
            stack.push(start);
            let mut size = 0;
            let first = stack.len() - 1;
            while size < stack.len() - first {
                let i = stack[first + size];
                size += 1;
                for &j in self.row(i).0 {
                    if !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
            let mut nodes = Vec::new();
            nodes
                .try_reserve_exact(size)
                .map_err(|_| TrainingError::OutOfMemory {
                    arg: "num_nodes",
                    bytes: size.saturating_mul(8),
                })?;
            nodes.extend(stack.drain(first..));
            nodes.sort_unstable();
            components
                .try_reserve(1)
                .map_err(|_| TrainingError::OutOfMemory {
                    arg: "num_nodes",
                    bytes: n.saturating_mul(8),
                })?;
            components.push(nodes);
        }
        Ok((components, isolated))
    }
}

/// The Laplacian of one connected component (local node ids `0..n`): `L = D - W` or
/// `L_sym = I - D^-1/2 W D^-1/2`. Its null space is one-dimensional and known exactly.
///
/// Stored divided by [`scale`](Self::scale) (the largest degree for `D - W`, 1 for `L_sym`) so
/// the solvers see entries of order 1 whatever the weights' magnitude (1e-200 or 1e200 would
/// under/overflow in squared norms); eigenvalues are multiplied back by `scale`.
pub(super) struct ComponentLaplacian {
    /// Number of nodes.
    pub(super) n: usize,
    /// The stored matrix is `L / scale`.
    pub(super) scale: f64,
    offsets: Vec<usize>,
    cols: Vec<usize>,
    /// Off-diagonal entries `L_ij` (negative), row by row, columns sorted.
    values: Vec<f64>,
    diag: Vec<f64>,
    /// Unit vector spanning the null space: `1 / sqrt(n)`, or `sqrt(d_i / sum d)` normalised.
    pub(super) null: Vec<f64>,
    /// Largest stored diagonal entry (1 for both Laplacians once scaled).
    pub(super) diag_max: f64,
    /// Gershgorin bound on the spectral norm (`max_i L_ii + sum_j |L_ij|`).
    pub(super) norm_bound: f64,
}

impl ComponentLaplacian {
    /// The Laplacian of the component `nodes` (global ids, sorted); `local[g]` is the position
    /// of global node `g` in its component.
    pub(super) fn build(
        adjacency: &Adjacency,
        nodes: &[usize],
        local: &[usize],
        normalized: bool,
    ) -> Result<Self> {
        let n = nodes.len();
        let mut offsets = filled_vec("edges", n + 1, 0usize)?;
        for (a, &g) in nodes.iter().enumerate() {
            offsets[a + 1] = offsets[a] + adjacency.row(g).0.len();
        }
        let nnz = offsets[n];
        let mut cols = filled_vec("edges", nnz, 0usize)?;
        let mut values = filled_vec("edges", nnz, 0.0)?;
        let degree = |g: usize| adjacency.degrees[g];
        let max_degree = nodes.iter().map(|&g| degree(g)).fold(0.0, f64::max);
        let scale = if normalized { 1.0 } else { max_degree };
        for (a, &g) in nodes.iter().enumerate() {
            let (neighbors, weights) = adjacency.row(g);
            let range = offsets[a]..offsets[a + 1];
            // Local ids keep the global order inside a component, so rows stay sorted.
            for ((c, v), (&h, &w)) in cols[range.clone()]
                .iter_mut()
                .zip(&mut values[range])
                .zip(neighbors.iter().zip(weights))
            {
                *c = local[h];
                *v = if normalized {
                    -w / (degree(g).sqrt() * degree(h).sqrt())
                } else {
                    -w / scale
                };
            }
        }
        let mut diag = filled_vec("edges", n, 1.0)?;
        let mut null = filled_vec("edges", n, 1.0)?;
        for ((d, u), &g) in diag.iter_mut().zip(null.iter_mut()).zip(nodes) {
            if normalized {
                *u = (degree(g) / max_degree).sqrt();
            } else {
                *d = degree(g) / scale;
            }
        }
        let norm = null.iter().map(|v| v * v).sum::<f64>().sqrt();
        null.iter_mut().for_each(|v| *v /= norm);
        let diag_max = diag.iter().copied().fold(0.0, f64::max);
        let norm_bound = (0..n)
            .map(|a| {
                diag[a]
                    + values[offsets[a]..offsets[a + 1]]
                        .iter()
                        .map(|v| v.abs())
                        .sum::<f64>()
            })
            .fold(0.0, f64::max);
        Ok(Self {
            n,
            scale,
            offsets,
            cols,
            values,
            diag,
            null,
            diag_max,
            norm_bound,
        })
    }

    /// The stored matrix in compressed-row form: `(row offsets, column indices, off-diagonal
    /// values, diagonal)`, columns sorted within each row.
    pub(super) fn rows(&self) -> (&[usize], &[usize], &[f64], &[f64]) {
        (&self.offsets, &self.cols, &self.values, &self.diag)
    }

    /// `y = L x`.
    pub(super) fn apply(&self, x: &[f64], y: &mut [f64]) {
        y.par_iter_mut()
            .enumerate()
            .for_each(|(a, ya)| *ya = self.row_product(a, x));
    }

    fn row_product(&self, a: usize, x: &[f64]) -> f64 {
        let range = self.offsets[a]..self.offsets[a + 1];
        let off: f64 = self.cols[range.clone()]
            .iter()
            .zip(&self.values[range])
            .map(|(&c, &v)| v * x[c])
            .sum();
        self.diag[a] * x[a] + off
    }

    /// The dense `n x n` matrix, column-major (it is symmetric).
    pub(super) fn dense(&self) -> Result<Vec<f64>> {
        let n = self.n;
        let len = n.checked_mul(n).ok_or(TrainingError::OutOfMemory {
            arg: "num_nodes",
            bytes: usize::MAX,
        })?;
        let mut a = filled_vec("num_nodes", len, 0.0)?;
        a.par_chunks_mut(n).enumerate().for_each(|(j, column)| {
            column[j] = self.diag[j];
            let range = self.offsets[j]..self.offsets[j + 1];
            for (&i, &v) in self.cols[range.clone()].iter().zip(&self.values[range]) {
                column[i] = v;
            }
        });
        Ok(a)
    }

    /// The lower triangle of `L + shift * I` in compressed-column form:
    /// `(column pointers, row indices, values)`, row indices sorted within each column.
    pub(super) fn shifted_lower_csc(
        &self,
        shift: f64,
    ) -> Result<(Vec<usize>, Vec<usize>, Vec<f64>)> {
        let n = self.n;
        // Column j of the lower triangle holds rows i >= j: by symmetry, row j's entries past
        // the diagonal, plus the diagonal itself.
        let mut col_ptr = filled_vec("edges", n + 1, 0usize)?;
        for j in 0..n {
            let upper = self.cols[self.offsets[j]..self.offsets[j + 1]]
                .iter()
                .filter(|&&i| i > j)
                .count();
            col_ptr[j + 1] = col_ptr[j] + 1 + upper;
        }
        let nnz = col_ptr[n];
        let mut rows = filled_vec("edges", nnz, 0usize)?;
        let mut vals = filled_vec("edges", nnz, 0.0)?;
        for (j, &start) in col_ptr[..n].iter().enumerate() {
            let mut at = start;
            rows[at] = j;
            vals[at] = self.diag[j] + shift;
            at += 1;
            let range = self.offsets[j]..self.offsets[j + 1];
            for (&i, &v) in self.cols[range.clone()].iter().zip(&self.values[range]) {
                if i > j {
                    rows[at] = i;
                    vals[at] = v;
                    at += 1;
                }
            }
        }
        Ok((col_ptr, rows, vals))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_merge_and_loops_and_zero_weights_drop() {
        // 0-1 twice (weights 1 + 2), 1-1 loop, 2-3 with weight 0, node 4 alone.
        let edges = [[0, 1], [1, 0], [1, 1], [2, 3]];
        let weights = [1.0, 2.0, 5.0, 0.0];
        let adjacency = Adjacency::build(5, &edges, Some(&weights)).unwrap();
        assert_eq!(adjacency.row(0), (&[1usize][..], &[3.0][..]));
        assert_eq!(adjacency.row(1), (&[0usize][..], &[3.0][..]));
        assert_eq!(adjacency.degrees, vec![3.0, 3.0, 0.0, 0.0, 0.0]);
        let (components, isolated) = adjacency.components().unwrap();
        assert_eq!(components, vec![vec![0, 1]]);
        assert_eq!(isolated, 3);
    }

    #[test]
    fn component_laplacian_matches_hand_computation() {
        // Path 0 - 1 - 2 with weights 1 and 3: degrees 1, 4, 3.
        let adjacency = Adjacency::build(3, &[[0, 1], [2, 1]], Some(&[1.0, 3.0])).unwrap();
        let local = [0, 1, 2];
        let lap = ComponentLaplacian::build(&adjacency, &[0, 1, 2], &local, false).unwrap();
        assert_eq!(lap.scale, 4.0);
        let dense: Vec<f64> = lap.dense().unwrap().iter().map(|v| v * 4.0).collect();
        assert_eq!(dense, vec![1.0, -1.0, 0.0, -1.0, 4.0, -3.0, 0.0, -3.0, 3.0]);
        let mut y = [0.0; 3];
        lap.apply(&lap.null, &mut y);
        assert!(y.iter().all(|v| v.abs() < 1e-15));
        let (col_ptr, rows, vals) = lap.shifted_lower_csc(0.5).unwrap();
        assert_eq!(col_ptr, vec![0, 2, 4, 5]);
        assert_eq!(rows, vec![0, 1, 1, 2, 2]);
        assert_eq!(vals, vec![0.75, -0.25, 1.5, -0.75, 1.25]);
        let sym = ComponentLaplacian::build(&adjacency, &[0, 1, 2], &local, true).unwrap();
        sym.apply(&sym.null, &mut y);
        assert!(y.iter().all(|v| v.abs() < 1e-15));
        assert_eq!(sym.diag_max, 1.0);
        assert!((sym.dense().unwrap()[1] + 0.5).abs() < 1e-15);
    }
}
