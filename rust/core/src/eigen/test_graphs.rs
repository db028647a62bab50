//! Test fixtures shared by the iterative solvers' unit tests (`lanczos`, `chebyshev`).

use faer::{MatRef, Side};

use super::laplacian::{Adjacency, ComponentLaplacian};

/// A random graph's Laplacian: `n` nodes on a spanning path plus `chords` random edges.
pub(super) fn random_laplacian(n: usize, chords: usize, normalized: bool) -> ComponentLaplacian {
    let mut state = 0x5eed_u64;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize % n
    };
    let mut edges: Vec<[usize; 2]> = (0..n - 1).map(|i| [i, i + 1]).collect();
    edges.extend((0..chords).map(|_| [next(), next()]));
    let adjacency = Adjacency::build(n, &edges, None).unwrap();
    let nodes: Vec<usize> = (0..n).collect();
    ComponentLaplacian::build(&adjacency, &nodes, &nodes, normalized).unwrap()
}

/// The `want` smallest non-zero eigenvalues of a connected Laplacian, from the dense solver.
pub(super) fn dense_smallest(lap: &ComponentLaplacian, want: usize) -> Vec<f64> {
    let a = lap.dense().unwrap();
    let all = MatRef::from_column_major_slice(&a, lap.n, lap.n)
        .self_adjoint_eigenvalues(Side::Lower)
        .unwrap();
    all[1..=want].to_vec()
}
