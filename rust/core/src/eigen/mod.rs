//! The k smallest eigenvalues of a graph Laplacian, `L = D - W` or
//! `L_sym = I - D^-1/2 W D^-1/2`, with the conventions of
//! [`SpectralRegularization`](crate::SpectralRegularization): self-loops ignored, duplicate
//! edges summed, isolated nodes (no edge of positive weight) with a zero row.
//!
//! The spectrum of `L` is the union of the spectra of its connected components, and each
//! component contributes exactly one zero eigenvalue (an isolated node is a component of its
//! own). So the solver counts the components exactly (their zeros need no computation), and
//! finds the smallest non-zero eigenvalues component by component:
//! - small components: a dense symmetric eigensolver (faer's self-adjoint EVD, all
//!   eigenvalues, `O(n^3)`);
//! - large ones: shift-invert block Lanczos on a sparse Cholesky factor (plain block Lanczos
//!   on `c I - L` when the factor would fill in), with the null vector deflated exactly (see
//!   `lanczos.rs`).
//!
//! The k smallest of the union are returned, ascending.

mod lanczos;
mod laplacian;

use rayon::prelude::*;

use crate::error::{Result, TrainingError};
use crate::losses::{validate_edges, validate_weights};
use faer::{MatRef, Side};
use laplacian::{Adjacency, ComponentLaplacian};

/// In [`EigenMethod::Auto`], components up to this many nodes are solved densely. Measured on
/// the project's 2-core machine, one thread, random graphs, k = 10: the dense EVD takes 6 ms at
/// 300 nodes, 25 ms at 500, 0.15 s at 1,000, 1.1 s at 2,000 and 4 s at 3,000; the sparse path
/// takes 5-50 ms at 300-500 nodes (more for dense-ish expanders, whose Cholesky factor fills
/// in), 0.1 s for Cora's 2,485-node component at k = 100 and ~1.5 s for the 22,470-node
/// Facebook graph at k = 10. Dense up to 1,000 nodes keeps every small case under ~0.15 s.
pub const DENSE_MAX_NODES: usize = 1000;

/// Which eigensolver handles each connected component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EigenMethod {
    /// Dense for components up to [`DENSE_MAX_NODES`] nodes (or where the Krylov basis would
    /// exceed an eighth of the component), sparse above.
    #[default]
    Auto,
    /// Dense for every component (`O(n^2)` memory and `O(n^3)` time in the largest one).
    Dense,
    /// Sparse shift-invert block Lanczos for every component larger than its Krylov basis;
    /// smaller components (whose whole spectrum is wanted anyway) are solved densely.
    Sparse,
}

impl EigenMethod {
    /// Parses `"auto"`, `"dense"` or `"sparse"`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "auto" => Ok(Self::Auto),
            "dense" => Ok(Self::Dense),
            "sparse" => Ok(Self::Sparse),
            _ => Err(TrainingError::value(
                "method",
                format!("expected 'auto', 'dense' or 'sparse', got {name:?}"),
            )),
        }
    }

    /// The name [`parse`](Self::parse) accepts.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Dense => "dense",
            Self::Sparse => "sparse",
        }
    }
}

/// The `k` smallest eigenvalues (ascending) of the Laplacian of the undirected graph with
/// `num_nodes` nodes and `edges` (optionally weighted, `weights[e] >= 0`), normalised
/// (`L_sym`) or not (`D - W`).
///
/// Fails with a [`TrainingError`] naming the argument for `num_nodes == 0`, `k == 0`,
/// `k > num_nodes`, an edge index `>= num_nodes`, or weights of the wrong length, negative or
/// not finite; with [`TrainingError::Numerical`] if the iterative solver does not converge.
pub fn laplacian_eigenvalues(
    num_nodes: usize,
    edges: &[[usize; 2]],
    weights: Option<&[f64]>,
    normalized: bool,
    k: usize,
    method: EigenMethod,
) -> Result<Vec<f64>> {
    if num_nodes == 0 {
        return Err(TrainingError::value("num_nodes", "must be >= 1, got 0"));
    }
    if k == 0 || k > num_nodes {
        return Err(TrainingError::value(
            "k",
            format!("must be in 1..=num_nodes ({num_nodes}), got {k}"),
        ));
    }
    validate_edges(edges, num_nodes, "nodes (num_nodes)")?;
    validate_weights(weights, edges.len())?;
    let adjacency = Adjacency::build(num_nodes, edges, weights)?;
    let (components, isolated) = adjacency.components()?;
    let zeros = isolated + components.len();
    let mut values = vec![0.0; zeros.min(k)];
    if zeros >= k {
        return Ok(values);
    }
    // Beyond the zeros, at most `k - zeros` non-zero eigenvalues are needed from any component.
    let needed = k - zeros;
    let mut local = crate::linalg::filled_vec("num_nodes", num_nodes, 0usize)?;
    for nodes in &components {
        for (a, &g) in nodes.iter().enumerate() {
            local[g] = a;
        }
    }
    let solve = |(c, nodes): (usize, &Vec<usize>)| -> Result<Vec<f64>> {
        crate::pool::check_cancelled()?;
        let lap = ComponentLaplacian::build(&adjacency, nodes, &local, normalized)?;
        let want = needed.min(lap.n - 1);
        let mut values = if use_sparse(method, lap.n, want) {
            lanczos::smallest_nonzero(&lap, want, c as u64)?
        } else {
            dense_smallest_nonzero(&lap, want)?
        };
        values.iter_mut().for_each(|v| *v *= lap.scale);
        Ok(values)
    };
    // Small dense components run in parallel; sparse ones one at a time (each is parallel).
    let (sparse, dense): (Vec<_>, Vec<_>) = components
        .iter()
        .enumerate()
        .partition(|(_, nodes)| use_sparse(method, nodes.len(), needed.min(nodes.len() - 1)));
    let dense_values: Vec<Vec<f64>> = dense.into_par_iter().map(solve).collect::<Result<_>>()?;
    for part in dense_values {
        values.extend(part);
    }
    for component in sparse {
        values.extend(solve(component)?);
    }
    values.sort_by(f64::total_cmp);
    values.truncate(k);
    Ok(values)
}

/// Whether a component of `n` nodes, `want` non-zero eigenvalues wanted, goes to the sparse
/// solver.
fn use_sparse(method: EigenMethod, n: usize, want: usize) -> bool {
    let basis = lanczos::sizes(want).1;
    match method {
        EigenMethod::Dense => false,
        EigenMethod::Sparse => basis < n - 1,
        // A basis above n / 8 columns makes the Rayleigh-Ritz work rival the dense EVD.
        EigenMethod::Auto => n > DENSE_MAX_NODES && 8 * basis < n,
    }
}

/// The `want` smallest non-zero eigenvalues of a component from its full dense spectrum; the
/// smallest computed value is the component's zero eigenvalue (known exactly) and is dropped.
fn dense_smallest_nonzero(lap: &ComponentLaplacian, want: usize) -> Result<Vec<f64>> {
    let a = lap.dense()?;
    let matrix = MatRef::from_column_major_slice(&a, lap.n, lap.n);
    let all =
        matrix
            .self_adjoint_eigenvalues(Side::Lower)
            .map_err(|_| TrainingError::Numerical {
                arg: "edges",
                message: "the dense symmetric eigensolver did not converge".into(),
            })?;
    Ok(all[1..=want].iter().map(|v| v.max(0.0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn path(n: usize, offset: usize) -> Vec<[usize; 2]> {
        (0..n - 1).map(|i| [offset + i, offset + i + 1]).collect()
    }

    fn cycle(n: usize, offset: usize) -> Vec<[usize; 2]> {
        (0..n).map(|i| [offset + i, offset + (i + 1) % n]).collect()
    }

    /// Torus `a x b` (product of two cycles): 4-regular, eigenvalues of `D - W` are
    /// `4 - 2 cos(2 pi i / a) - 2 cos(2 pi j / b)`, with multiplicities up to 4.
    fn torus(a: usize, b: usize) -> Vec<[usize; 2]> {
        let id = |i: usize, j: usize| (i % a) * b + j % b;
        let mut edges = Vec::new();
        for i in 0..a {
            for j in 0..b {
                edges.push([id(i, j), id(i + 1, j)]);
                edges.push([id(i, j), id(i, j + 1)]);
            }
        }
        edges
    }

    fn sorted(mut values: Vec<f64>, k: usize) -> Vec<f64> {
        values.sort_by(f64::total_cmp);
        values.truncate(k);
        values
    }

    fn assert_close(got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= tol, "value {i}: got {g}, want {w}");
        }
    }

    #[test]
    fn path_spectrum_dense_and_sparse() {
        // P_n, unnormalised: 2 - 2 cos(pi j / n), j = 0..n.
        let n = 1500;
        let edges = path(n, 0);
        let exact = sorted(
            (0..n)
                .map(|j| 2.0 - 2.0 * (PI * j as f64 / n as f64).cos())
                .collect(),
            12,
        );
        for method in [EigenMethod::Auto, EigenMethod::Dense, EigenMethod::Sparse] {
            let got = laplacian_eigenvalues(n, &edges, None, false, 12, method).unwrap();
            assert_close(&got, &exact, 1e-9);
        }
    }

    #[test]
    fn torus_multiplicities_are_all_found() {
        // 4-regular, so L_sym = L / 4; multiplicities 1, 2 and 4 among the smallest.
        let (a, b) = (30, 40);
        let edges = torus(a, b);
        let mut all = Vec::new();
        for i in 0..a {
            for j in 0..b {
                let ci = (2.0 * PI * i as f64 / a as f64).cos();
                let cj = (2.0 * PI * j as f64 / b as f64).cos();
                all.push(4.0 - 2.0 * ci - 2.0 * cj);
            }
        }
        let k = 25;
        let exact = sorted(all, k);
        let unnormalized =
            laplacian_eigenvalues(a * b, &edges, None, false, k, EigenMethod::Sparse).unwrap();
        assert_close(&unnormalized, &exact, 1e-9);
        let normalized =
            laplacian_eigenvalues(a * b, &edges, None, true, k, EigenMethod::Sparse).unwrap();
        let quarter: Vec<f64> = exact.iter().map(|v| v / 4.0).collect();
        assert_close(&normalized, &quarter, 1e-9);
    }

    #[test]
    fn components_and_isolated_nodes_give_zeros() {
        // Two cycles (C_5, C_7), a weighted pair, a zero-weight edge, a self-loop, and
        // isolated nodes: 2 + 1 + 4 = 7 components.
        let mut edges = cycle(5, 0);
        edges.extend(cycle(7, 5));
        edges.extend([[12, 13], [14, 15], [16, 16]]);
        let mut weights = vec![1.0; edges.len()];
        let pair = edges.len() - 3;
        weights[pair] = 1.5;
        weights[pair + 1] = 0.0;
        let n = 18;
        let mut want = vec![0.0; 7];
        want.push(3.0); // the pair: 2 w
        for len in [5usize, 7] {
            want.extend((1..len).map(|j| 2.0 - 2.0 * (2.0 * PI * j as f64 / len as f64).cos()));
        }
        let want = sorted(want, n);
        for method in [EigenMethod::Auto, EigenMethod::Dense, EigenMethod::Sparse] {
            let got = laplacian_eigenvalues(n, &edges, Some(&weights), false, n, method).unwrap();
            assert_close(&got, &want, 1e-12);
            let zeros = laplacian_eigenvalues(n, &edges, Some(&weights), true, 7, method).unwrap();
            assert_eq!(zeros, vec![0.0; 7]);
        }
    }

    #[test]
    fn duplicates_add_weights() {
        let edges = [[0, 1], [1, 0], [1, 2]];
        let merged = [[0, 1], [1, 2]];
        let a = laplacian_eigenvalues(3, &edges, None, false, 3, EigenMethod::Auto).unwrap();
        let b = laplacian_eigenvalues(3, &merged, Some(&[2.0, 1.0]), false, 3, EigenMethod::Auto)
            .unwrap();
        assert_close(&a, &b, 1e-14);
        // D - W = [[2, -2, 0], [-2, 3, -1], [0, -1, 1]]: eigenvalues 0, 3 -+ sqrt(3).
        assert_close(&a, &[0.0, 3.0 - 3f64.sqrt(), 3.0 + 3f64.sqrt()], 1e-12);
    }

    #[test]
    fn sparse_matches_dense_on_a_random_weighted_graph() {
        // Deterministic pseudo-random graph: 1,200 nodes, a spanning path plus chords.
        let n = 1200;
        let mut state = 0x1234_5678_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        let mut edges = path(n, 0);
        for _ in 0..2 * n {
            edges.push([next() as usize % n, next() as usize % n]);
        }
        let weights: Vec<f64> = (0..edges.len())
            .map(|_| (next() % 1000) as f64 / 500.0)
            .collect();
        for normalized in [true, false] {
            let dense = laplacian_eigenvalues(
                n,
                &edges,
                Some(&weights),
                normalized,
                10,
                EigenMethod::Dense,
            )
            .unwrap();
            let sparse = laplacian_eigenvalues(
                n,
                &edges,
                Some(&weights),
                normalized,
                10,
                EigenMethod::Sparse,
            )
            .unwrap();
            assert_close(&sparse, &dense, 1e-9);
        }
    }

    #[test]
    fn bad_inputs_name_their_argument() {
        let edges = [[0, 1], [1, 2]];
        let run = |n, edges: &[[usize; 2]], k, weights: Option<&[f64]>| {
            laplacian_eigenvalues(n, edges, weights, true, k, EigenMethod::Auto)
                .unwrap_err()
                .arg()
        };
        assert_eq!(run(0, &[], 1, None), "num_nodes");
        assert_eq!(run(3, &edges, 0, None), "k");
        assert_eq!(run(3, &edges, 4, None), "k");
        assert_eq!(run(2, &edges, 1, None), "edges");
        assert_eq!(run(3, &edges, 1, Some(&[1.0])), "weights");
        assert_eq!(run(3, &edges, 1, Some(&[1.0, -1.0])), "weights");
        assert_eq!(run(3, &edges, 1, Some(&[1.0, f64::NAN])), "weights");
        assert_eq!(run(3, &edges, 1, Some(&[f64::MAX, f64::MAX])), "weights");
        assert_eq!(EigenMethod::parse("lobpcg").unwrap_err().arg(), "method");
        assert_eq!(EigenMethod::parse("sparse").unwrap().name(), "sparse");
    }
}
