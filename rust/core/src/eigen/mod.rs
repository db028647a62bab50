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
//! - large ones: shift-invert block Lanczos on a sparse Cholesky factor (`lanczos.rs`), or
//!   Chebyshev-filtered subspace iteration for expanders whose factor would fill in
//!   (`chebyshev.rs`), with the null vector deflated exactly.
//!
//! The k smallest of the union are returned, ascending.

mod chebyshev;
mod lanczos;
mod laplacian;
#[cfg(test)]
mod test_graphs;

use rayon::prelude::*;

use crate::alloc::ensure_memory;
use crate::error::{Result, TrainingError};
use crate::graph::{validate_edges, validate_weights, Graph};
use crate::linalg::filled_vec;
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

/// Options of [`laplacian_eigenvalues`] beyond the graph itself.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EigenOptions {
    /// Which solver handles each component.
    pub method: EigenMethod,
    /// Cap on the sparse solver's iterations (block Lanczos: one block of operator
    /// applications each; filtered subspace iteration: one polynomial filter and Rayleigh-Ritz
    /// step each); `None`: 5,000. Reaching it is a [`TrainingError::Numerical`] naming the
    /// largest residual reached.
    pub max_iterations: Option<usize>,
    /// Residual tolerance of the sparse solver: every returned value is the Rayleigh
    /// quotient of a unit vector `x` with `||L x - lambda x|| <= tol`, so it lies within
    /// `tol` of an eigenvalue of `L`. `None`: `1e-10` times the Gershgorin bound on `||L||`.
    pub tol: Option<f64>,
}

impl From<EigenMethod> for EigenOptions {
    fn from(method: EigenMethod) -> Self {
        Self {
            method,
            ..Self::default()
        }
    }
}

impl EigenOptions {
    /// Fails with a [`TrainingError::Value`] naming `max_iterations` (zero) or `tol` (not a
    /// positive finite number).
    pub fn validate(&self) -> Result<()> {
        if self.max_iterations == Some(0) {
            return Err(TrainingError::value(
                "max_iterations",
                "must be a positive integer, got 0",
            ));
        }
        if let Some(tol) = self.tol {
            if !(tol.is_finite() && tol > 0.0) {
                return Err(TrainingError::value(
                    "tol",
                    format!("must be a positive finite number, got {tol}"),
                ));
            }
        }
        Ok(())
    }
}

/// The `k` smallest eigenvalues (ascending) of the Laplacian of the undirected graph with
/// `num_nodes` nodes and `edges` (optionally weighted, `weights[e] >= 0`), normalised
/// (`L_sym`) or not (`D - W`).
///
/// Memory follows the edges, not `num_nodes`: nodes no edge touches are isolated and only
/// counted. The working memory of every solve is computed (with overflow checks) and
/// reserved before the solve starts.
///
/// Fails with a [`TrainingError`] naming the argument for `num_nodes == 0`, `k == 0`,
/// `k > num_nodes`, an edge index `>= num_nodes`, weights of the wrong length, negative or
/// not finite, or invalid `options`; with [`TrainingError::OutOfMemory`] naming `num_nodes`
/// when a component's solver needs more memory than the machine (or the address-space
/// limit) allows; with [`TrainingError::Numerical`] if the iterative solver does not
/// converge within `options.max_iterations`.
pub fn laplacian_eigenvalues(
    num_nodes: usize,
    edges: &[[usize; 2]],
    weights: Option<&[f64]>,
    normalized: bool,
    k: usize,
    options: EigenOptions,
) -> Result<Vec<f64>> {
    check_k(num_nodes, k)?;
    options.validate()?;
    validate_edges(edges, num_nodes, "nodes (num_nodes)")?;
    validate_weights(weights, edges.len())?;
    // Nodes that no edge touches are isolated: counted, never stored.
    let compacted = compact(num_nodes, edges)?;
    let (graph_nodes, graph_edges) = match &compacted {
        Some((touched, remapped)) => (touched.len(), remapped.as_slice()),
        None => (num_nodes, edges),
    };
    ensure_memory("edges", adjacency_bytes(graph_nodes, edges.len()))?;
    let adjacency = Adjacency::build(graph_nodes, graph_edges, weights)?;
    solve_laplacian(adjacency, num_nodes, normalized, k, options)
}

/// The `k` smallest eigenvalues (ascending) of the Laplacian of a built [`Graph`] (its merged
/// adjacency is reused), normalised (`L_sym`) or not (`D - W`). Errors as
/// [`laplacian_eigenvalues`]; the graph's own memory is already paid for, so nodes no edge
/// touches are stored (as isolated rows) rather than compacted away.
pub fn graph_laplacian_eigenvalues(
    graph: &Graph,
    normalized: bool,
    k: usize,
    options: EigenOptions,
) -> Result<Vec<f64>> {
    let num_nodes = graph.num_nodes();
    check_k(num_nodes, k)?;
    options.validate()?;
    solve_laplacian(Adjacency::new(graph)?, num_nodes, normalized, k, options)
}

/// Fails unless `1 <= k <= num_nodes`.
fn check_k(num_nodes: usize, k: usize) -> Result<()> {
    if num_nodes == 0 {
        return Err(TrainingError::value("num_nodes", "must be >= 1, got 0"));
    }
    if k == 0 || k > num_nodes {
        return Err(TrainingError::value(
            "k",
            format!("must be in 1..=num_nodes ({num_nodes}), got {k}"),
        ));
    }
    Ok(())
}

/// The solve behind both entry points: `adjacency` holds the nodes some edge touches (all
/// `num_nodes` of them, or the compacted ones); the other nodes are isolated and contribute
/// zeros.
fn solve_laplacian(
    adjacency: Adjacency<'_>,
    num_nodes: usize,
    normalized: bool,
    k: usize,
    options: EigenOptions,
) -> Result<Vec<f64>> {
    let method = options.method;
    let graph_nodes = adjacency.num_nodes();
    let (components, isolated) = adjacency.components()?;
    let zeros = (num_nodes - graph_nodes) + isolated + components.len();
    let mut values = filled_vec("k", zeros.min(k), 0.0)?;
    if zeros >= k {
        return Ok(values);
    }
    // Beyond the zeros, at most `k - zeros` non-zero eigenvalues are needed from any component.
    let needed = k - zeros;
    values
        .try_reserve_exact(k - values.len())
        .map_err(|_| TrainingError::OutOfMemory {
            arg: "k",
            bytes: k.saturating_mul(8),
        })?;
    // Every solve's memory, checked before any starts (small dense ones run in parallel).
    let mut dense_need = Some(0usize);
    let mut sparse_need = Some(0usize);
    for nodes in &components {
        let n = nodes.len();
        let want = needed.min(n - 1);
        let nnz = adjacency.entries(nodes);
        let laplacian = n
            .checked_mul(48)
            .and_then(|b| b.checked_add(nnz.checked_mul(16)?));
        if use_sparse(method, n, want) {
            let need =
                lanczos::workspace_bytes(n, nnz, want).and_then(|b| b.checked_add(laplacian?));
            sparse_need = sparse_need.zip(need).map(|(a, b)| a.max(b));
        } else {
            // Our dense matrix, the eigensolver's copy of it and its workspace.
            let need = n
                .checked_mul(n)
                .and_then(|b| b.checked_mul(3 * 8))
                .and_then(|b| b.checked_add(laplacian?));
            dense_need = dense_need.zip(need).map(|(a, b)| a.max(b));
        }
    }
    let threads = rayon::current_num_threads();
    let need = dense_need
        .and_then(|b| b.checked_mul(threads))
        .zip(sparse_need)
        .map(|(a, b)| a.max(b));
    ensure_memory("num_nodes", need)?;
    let mut local = filled_vec("num_nodes", graph_nodes, 0usize)?;
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
            lanczos::smallest_nonzero(&lap, want, c as u64, options.tol, options.max_iterations)?
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
    // Keep only the k smallest as components come in (bounded memory for many components).
    let add = |values: &mut Vec<f64>, part: Vec<f64>| -> Result<()> {
        if values.len() + part.len() > values.capacity() {
            values.sort_by(f64::total_cmp);
            values.truncate(k);
        }
        values
            .try_reserve(part.len())
            .map_err(|_| TrainingError::OutOfMemory {
                arg: "k",
                bytes: k.saturating_mul(16),
            })?;
        values.extend(part);
        Ok(())
    };
    for part in dense_values {
        add(&mut values, part)?;
    }
    for component in sparse {
        let part = solve(component)?;
        add(&mut values, part)?;
    }
    values.sort_by(f64::total_cmp);
    values.truncate(k);
    Ok(values)
}

/// The sorted nodes some edge touches and the edges renumbered into them.
type Compacted = (Vec<usize>, Vec<[usize; 2]>);

/// When more than half of the `num_nodes` nodes cannot be touched by `edges` (`num_nodes >
/// 2 E`), the sorted touched nodes and the edges renumbered into them; `None` otherwise (the
/// graph is stored as is).
fn compact(num_nodes: usize, edges: &[[usize; 2]]) -> Result<Option<Compacted>> {
    if num_nodes / 2 <= edges.len() {
        return Ok(None);
    }
    let oom = |bytes: usize| TrainingError::OutOfMemory {
        arg: "edges",
        bytes,
    };
    let mut touched = Vec::new();
    touched
        .try_reserve_exact(2 * edges.len())
        .map_err(|_| oom(edges.len().saturating_mul(16)))?;
    touched.extend(edges.iter().flatten().copied());
    touched.par_sort_unstable();
    touched.dedup();
    let mut remapped = Vec::new();
    remapped
        .try_reserve_exact(edges.len())
        .map_err(|_| oom(edges.len().saturating_mul(16)))?;
    let position = |g: usize| touched.binary_search(&g).unwrap_or(0);
    remapped.extend(edges.iter().map(|&[i, j]| [position(i), position(j)]));
    Ok(Some((touched, remapped)))
}

/// Bytes [`Adjacency::build`] and the component search need for `nodes` nodes and `edges`
/// edges (`None` on overflow).
fn adjacency_bytes(nodes: usize, edges: usize) -> Option<usize> {
    // counts, cursor, row slices (2 words), offsets, degrees, component lists, local ids,
    // the seen flags; entries, neighbours and weights (two per edge).
    let per_node = 8 * 8 + 1;
    let per_edge = 2 * (16 + 8 + 8);
    nodes
        .checked_add(1)?
        .checked_mul(per_node)?
        .checked_add(edges.checked_mul(per_edge)?)
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
            let got = laplacian_eigenvalues(n, &edges, None, false, 12, method.into()).unwrap();
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
            laplacian_eigenvalues(a * b, &edges, None, false, k, EigenMethod::Sparse.into())
                .unwrap();
        assert_close(&unnormalized, &exact, 1e-9);
        let normalized =
            laplacian_eigenvalues(a * b, &edges, None, true, k, EigenMethod::Sparse.into())
                .unwrap();
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
            let got =
                laplacian_eigenvalues(n, &edges, Some(&weights), false, n, method.into()).unwrap();
            assert_close(&got, &want, 1e-12);
            let zeros =
                laplacian_eigenvalues(n, &edges, Some(&weights), true, 7, method.into()).unwrap();
            assert_eq!(zeros, vec![0.0; 7]);
        }
    }

    #[test]
    fn duplicates_add_weights() {
        let edges = [[0, 1], [1, 0], [1, 2]];
        let merged = [[0, 1], [1, 2]];
        let a = laplacian_eigenvalues(3, &edges, None, false, 3, EigenMethod::Auto.into()).unwrap();
        let b = laplacian_eigenvalues(
            3,
            &merged,
            Some(&[2.0, 1.0]),
            false,
            3,
            EigenMethod::Auto.into(),
        )
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
                EigenMethod::Dense.into(),
            )
            .unwrap();
            let sparse = laplacian_eigenvalues(
                n,
                &edges,
                Some(&weights),
                normalized,
                10,
                EigenMethod::Sparse.into(),
            )
            .unwrap();
            assert_close(&sparse, &dense, 1e-9);
        }
    }

    #[test]
    fn bad_inputs_name_their_argument() {
        let edges = [[0, 1], [1, 2]];
        let run = |n, edges: &[[usize; 2]], k, weights: Option<&[f64]>| {
            laplacian_eigenvalues(n, edges, weights, true, k, EigenMethod::Auto.into())
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
