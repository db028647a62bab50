//! Smallest non-zero eigenvalues of a connected component's Laplacian `L` by shift-invert
//! block Lanczos with thick restarts.
//!
//! - Operator: `T = P (L + sigma I)^-1 P`, with `P` the projector off the known null vector of
//!   `L` (exact deflation of the zero eigenvalue) and a sparse Cholesky factor of
//!   `L + sigma I` (faer, AMD ordering). The smallest eigenvalues `lambda` of `L` become the
//!   largest `1 / (lambda + sigma)` of `T`, well separated, so few Krylov steps are needed.
//!   When the symbolic analysis shows the factor would fill in (expander-like graphs, more
//!   than [`FILL_LIMIT`] times the entries of `L`), `T = P (c I - L) P` instead: products with
//!   `L` only, more iterations, bounded memory.
//! - Block Krylov space with block size `p >= ` the number of wanted eigenvalues (capped at
//!   [`MAX_BLOCK`]): from a random start block it holds `min(multiplicity, p)` independent
//!   copies of every eigenvalue, so repeated eigenvalues are all found. Above the cap, a
//!   cluster of `p` equal values triggers a rerun with a doubled block.
//! - Full reorthogonalisation (two classical Gram-Schmidt passes), Rayleigh-Ritz on the whole
//!   basis, expansion by the residuals of the unconverged Ritz pairs (in exact arithmetic the
//!   block Lanczos step), thick restart to the best Ritz vectors when the basis is full.
//! - Convergence is checked on `L` itself: every returned value is the Rayleigh quotient
//!   `rho = x^T L x` of a unit Ritz vector with `||L x - rho x|| <= tol`, which bounds its
//!   error by `tol` (and by `tol^2 / gap` once separated).

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::LltRegularization;
use faer::linalg::matmul::matmul;
use faer::linalg::solvers::SelfAdjointEigen;
use faer::reborrow::ReborrowMut;
use faer::sparse::linalg::cholesky::{
    factorize_symbolic_cholesky, CholeskySymbolicParams, LltRef, SymbolicCholesky,
    SymmetricOrdering,
};
use faer::sparse::{SparseColMatRef, SymbolicSparseColMatRef};
use faer::{get_global_parallelism, Accum, Conj, Mat, MatMut, MatRef, Par, Side};
use rayon::prelude::*;

use super::laplacian::ComponentLaplacian;
use crate::error::{Result, TrainingError};
use crate::linalg::filled_vec;

/// Largest block size; above it, multiplicities are handled by the cluster check.
pub(super) const MAX_BLOCK: usize = 32;
/// Shift `sigma = SHIFT * max diagonal entry`: small against the wanted eigenvalues (fast
/// convergence) yet far above rounding in the Cholesky factor of `L + sigma I`.
const SHIFT: f64 = 1e-6;
/// Residual tolerance relative to the Gershgorin bound on `||L||`.
const TOLERANCE: f64 = 1e-10;
/// A column whose norm falls below this fraction of its norm before reorthogonalisation is
/// linearly dependent on the basis and dropped.
const DROP: f64 = 1e-8;
/// A wanted Ritz pair is checked on `L` once the bound its `T`-residual gives on its
/// `L`-residual is below `CHECK * tol` (the bound is pessimistic by up to `||L|| / lambda`).
const CHECK: f64 = 1e3;
/// Largest ratio of Cholesky factor entries to entries of `L`'s lower triangle before the
/// solver falls back to products with `L` only. The Facebook page graph fills in by ~45x
/// (8.6M entries, factorised in ~0.4 s); a random graph of the same size by far more (1.7 GB,
/// over a minute), where plain products win.
const FILL_LIMIT: usize = 100;
/// Outer iterations (one block of operator applications each) before giving up.
const MAX_ITERATIONS: usize = 5000;

/// Block size and basis size for `want` eigenvalues.
pub(super) fn sizes(want: usize) -> (usize, usize) {
    let block = want.clamp(1, MAX_BLOCK);
    (block, basis_size(want, block))
}

/// Largest basis (columns) before a thick restart.
fn basis_size(want: usize, block: usize) -> usize {
    want + 5 * block + 16
}

/// The `want` smallest non-zero eigenvalues of `lap` (ascending), `1 <= want` and
/// [`sizes`]`(want).1 < lap.n - 1`.
pub(super) fn smallest_nonzero(
    lap: &ComponentLaplacian,
    want: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    let op = match ShiftInvert::new(lap, FILL_LIMIT)? {
        Some(factor) => Operator::ShiftInvert(Box::new(factor)),
        None => Operator::Reflected(lap),
    };
    let (mut block, _) = sizes(want);
    loop {
        let values = BlockLanczos::new(lap, &op, want, block)?.run(seed)?;
        if block >= want || largest_cluster(&values, lap) < block {
            return Ok(values);
        }
        block = (2 * block).min(want);
    }
}

/// Size of the largest group of values closer than the convergence tolerance allows.
fn largest_cluster(sorted: &[f64], lap: &ComponentLaplacian) -> usize {
    let gap = 1e3 * TOLERANCE * lap.norm_bound;
    let mut best = 0;
    let mut start = 0;
    for i in 0..sorted.len() {
        if sorted[i] - sorted[start] > gap {
            start = i;
        }
        best = best.max(i - start + 1);
    }
    best
}

/// The operator whose largest eigenvalues the block Lanczos finds.
enum Operator<'a> {
    /// `P (L + sigma I)^-1 P` through a sparse Cholesky factor: fast convergence.
    ShiftInvert(Box<ShiftInvert<'a>>),
    /// `P (c I - L) P` with `c` the Gershgorin bound on `||L||`: sparse products only, for
    /// graphs whose Cholesky factor would fill in (expanders); more iterations.
    Reflected(&'a ComponentLaplacian),
}

impl Operator<'_> {
    /// Applies the operator to the `columns` columns of `x` in place.
    fn apply(&self, x: &mut [f64], columns: usize) -> Result<()> {
        match self {
            Self::ShiftInvert(factor) => factor.apply(x, columns),
            Self::Reflected(lap) => {
                let n = lap.n;
                let c = lap.norm_bound;
                x.par_chunks_mut(n).try_for_each(|column| -> Result<()> {
                    deflate(&lap.null, column);
                    let mut product = filled_vec("edges", n, 0.0)?;
                    lap.apply_sequential(column, &mut product);
                    column
                        .iter_mut()
                        .zip(&product)
                        .for_each(|(v, &p)| *v = c * *v - p);
                    deflate(&lap.null, column);
                    Ok(())
                })
            }
        }
    }

    /// Upper bound on `||L x - lambda x||` for a unit Ritz vector `x` with Ritz value `theta`
    /// and residual `||T x - theta x|| = residual`.
    fn residual_bound(&self, lap: &ComponentLaplacian, theta: f64, residual: f64) -> f64 {
        match self {
            // With T x = theta x + e, L x - (1/theta - sigma) x = -(L + sigma I) e / theta.
            Self::ShiftInvert(factor) => (lap.norm_bound + factor.shift) * residual / theta,
            // L x - (c - theta) x = -e.
            Self::Reflected(_) => residual,
        }
    }

    /// Basis size before a thick restart: without shift-invert, the wanted eigenvalues are
    /// not well separated and a larger basis pays for itself.
    fn basis_size(&self, want: usize, block: usize) -> usize {
        match self {
            Self::ShiftInvert(_) => basis_size(want, block),
            Self::Reflected(_) => want + 12 * block + 32,
        }
    }
}

/// `x -> P (L + sigma I)^-1 P x` through a sparse Cholesky factor.
struct ShiftInvert<'a> {
    lap: &'a ComponentLaplacian,
    symbolic: SymbolicCholesky<usize>,
    factor: Vec<f64>,
    /// The shift `sigma`.
    shift: f64,
}

impl<'a> ShiftInvert<'a> {
    /// The factor of `L + sigma I`, or `None` when it would hold more than `fill_limit` times
    /// the entries of `L`'s lower triangle.
    fn new(lap: &'a ComponentLaplacian, fill_limit: usize) -> Result<Option<Self>> {
        let n = lap.n;
        let par = get_global_parallelism();
        let mut shift = SHIFT * lap.diag_max;
        let (col_ptr, rows, _) = lap.shifted_lower_csc(0.0)?;
        let structure = SymbolicSparseColMatRef::new_checked(n, n, &col_ptr, None, &rows);
        let symbolic = factorize_symbolic_cholesky(
            structure,
            Side::Lower,
            SymmetricOrdering::Amd,
            CholeskySymbolicParams::default(),
        )
        .map_err(|_| oom(n))?;
        if symbolic.len_val() > fill_limit.saturating_mul(rows.len()) {
            return Ok(None);
        }
        let mut factor = filled_vec("edges", symbolic.len_val(), 0.0)?;
        let scratch = symbolic.factorize_numeric_llt_scratch::<f64>(par, Default::default());
        let mut buffer = MemBuffer::try_new(scratch).map_err(|_| oom(n))?;
        for _ in 0..4 {
            let (_, _, vals) = lap.shifted_lower_csc(shift)?;
            let matrix = SparseColMatRef::new(structure, &vals);
            let outcome = symbolic.factorize_numeric_llt(
                &mut factor,
                matrix,
                Side::Lower,
                LltRegularization::default(),
                par,
                MemStack::new(&mut buffer),
                Default::default(),
            );
            // L + sigma I is positive definite; a non-positive pivot means rounding beat the
            // shift: retry with a larger one.
            if outcome.is_ok() {
                return Ok(Some(Self {
                    lap,
                    symbolic,
                    factor,
                    shift,
                }));
            }
            shift *= 100.0;
        }
        Err(TrainingError::Numerical {
            arg: "edges",
            message: "the sparse Cholesky factorisation of the shifted Laplacian failed".into(),
        })
    }

    /// Applies the operator to the `columns` columns of `x` (`n x columns`, column-major) in
    /// place. The columns are split among the threads, each solving its share sequentially
    /// (faster than one parallel solve: the supernodal triangular solves are too fine-grained).
    fn apply(&self, x: &mut [f64], columns: usize) -> Result<()> {
        let n = self.lap.n;
        let threads = rayon::current_num_threads().clamp(1, columns.max(1));
        let per = columns.div_ceil(threads);
        x.par_chunks_mut(per * n)
            .try_for_each(|chunk| -> Result<()> {
                let count = chunk.len() / n;
                for column in chunk.chunks_exact_mut(n) {
                    deflate(&self.lap.null, column);
                }
                let scratch = self.symbolic.solve_in_place_scratch::<f64>(count, Par::Seq);
                let mut buffer = MemBuffer::try_new(scratch).map_err(|_| oom(n))?;
                LltRef::new(&self.symbolic, &self.factor).solve_in_place_with_conj(
                    Conj::No,
                    MatMut::from_column_major_slice_mut(chunk, n, count),
                    Par::Seq,
                    MemStack::new(&mut buffer),
                );
                for column in chunk.chunks_exact_mut(n) {
                    deflate(&self.lap.null, column);
                }
                Ok(())
            })?;
        Ok(())
    }
}

fn oom(n: usize) -> TrainingError {
    TrainingError::OutOfMemory {
        arg: "edges",
        bytes: n.saturating_mul(std::mem::size_of::<f64>()),
    }
}

/// `x -= u (u . x)` for a unit vector `u`.
fn deflate(u: &[f64], x: &mut [f64]) {
    let c: f64 = u.iter().zip(x.iter()).map(|(a, b)| a * b).sum();
    x.iter_mut().zip(u).for_each(|(v, &a)| *v -= c * a);
}

fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// State of one block Lanczos run: basis `V` (`n x m`, orthonormal, orthogonal to the null
/// vector), `AV = T V`, and the projected matrix `H = V^T T V`.
struct BlockLanczos<'a> {
    lap: &'a ComponentLaplacian,
    op: &'a Operator<'a>,
    want: usize,
    block: usize,
    capacity: usize,
    basis: Vec<f64>,
    image: Vec<f64>,
    projected: Mat<f64>,
    size: usize,
    tol: f64,
}

impl<'a> BlockLanczos<'a> {
    fn new(
        lap: &'a ComponentLaplacian,
        op: &'a Operator<'a>,
        want: usize,
        block: usize,
    ) -> Result<Self> {
        let capacity = op.basis_size(want, block);
        let len = lap.n.saturating_mul(capacity);
        Ok(Self {
            lap,
            op,
            want,
            block,
            capacity,
            basis: filled_vec("edges", len, 0.0)?,
            image: filled_vec("edges", len, 0.0)?,
            projected: Mat::zeros(capacity, capacity),
            size: 0,
            tol: TOLERANCE * lap.norm_bound,
        })
    }

    /// Iterates until the `want` largest Ritz pairs of `T` have converged on `L`; returns their
    /// Rayleigh quotients on `L`, ascending.
    fn run(mut self, seed: u64) -> Result<Vec<f64>> {
        let n = self.lap.n;
        let keep = self.want + self.block;
        let mut rng = Lcg(seed ^ 0x9e37_79b9_7f4a_7c15);
        // Ritz vectors X and their residuals R = T X - X Theta.
        let mut ritz = filled_vec("edges", n * keep, 0.0)?;
        let mut residuals = filled_vec("edges", n * keep, 0.0)?;
        let mut product = filled_vec("edges", n, 0.0)?;
        let mut values = vec![0.0; self.want];
        let mut converged = vec![false; keep];
        self.fill_random(self.block, &mut rng);
        let added = self.orthonormalize(self.block);
        self.apply_new(added)?;
        let par = get_global_parallelism();
        for _ in 0..MAX_ITERATIONS {
            crate::pool::check_cancelled()?;
            let m = self.size;
            let h = self.projected.as_ref().submatrix(0, 0, m, m);
            let eigen = SelfAdjointEigen::new(h, Side::Lower).map_err(|_| no_convergence())?;
            // Ritz pairs by decreasing theta, i.e. increasing lambda = 1 / theta - sigma.
            let q = keep.min(m);
            let mut y = Mat::<f64>::zeros(m, q);
            let mut theta = vec![0.0; q];
            for (r, t) in theta.iter_mut().enumerate() {
                let source = m - 1 - r;
                *t = eigen.S().column_vector()[source];
                y.col_mut(r).copy_from(eigen.U().col(source));
            }
            let v = MatRef::from_column_major_slice(&self.basis[..n * m], n, m);
            let av = MatRef::from_column_major_slice(&self.image[..n * m], n, m);
            let mut x = MatMut::from_column_major_slice_mut(&mut ritz[..n * q], n, q);
            matmul(x.rb_mut(), Accum::Replace, v, y.as_ref(), 1.0, par);
            let mut r = MatMut::from_column_major_slice_mut(&mut residuals[..n * q], n, q);
            matmul(r.rb_mut(), Accum::Replace, av, y.as_ref(), 1.0, par);
            converged[..q].fill(false);
            for (j, &t) in theta.iter().enumerate() {
                let (xj, rj) = (
                    &ritz[j * n..(j + 1) * n],
                    &mut residuals[j * n..(j + 1) * n],
                );
                rj.iter_mut().zip(xj).for_each(|(a, &b)| *a -= t * b);
                if j >= self.want {
                    continue;
                }
                // Only pairs whose bound says they may have converged are checked on L.
                let bound = self.op.residual_bound(self.lap, t, norm(rj));
                if bound <= CHECK * self.tol {
                    let (rho, residual) = rayleigh(self.lap, xj, &mut product);
                    converged[j] = residual <= self.tol;
                    values[j] = rho.max(0.0);
                }
            }
            if q >= self.want && converged[..self.want].iter().all(|&c| c) {
                values.sort_by(f64::total_cmp);
                return Ok(values);
            }
            let candidates: Vec<usize> =
                (0..q).filter(|&j| !converged[j]).take(self.block).collect();
            if m + candidates.len() > self.capacity {
                self.restart(&ritz, &residuals, &theta);
            }
            let m = self.size;
            for (c, &j) in candidates.iter().enumerate() {
                self.basis[(m + c) * n..(m + c + 1) * n]
                    .copy_from_slice(&residuals[j * n..(j + 1) * n]);
            }
            let mut added = self.orthonormalize(candidates.len());
            if added == 0 {
                // The residuals lie in the basis: continue from fresh random directions.
                let count = self.block.min(self.capacity - m);
                self.fill_random(count, &mut rng);
                added = self.orthonormalize(count);
            }
            if added == 0 {
                break;
            }
            self.apply_new(added)?;
        }
        Err(no_convergence())
    }

    /// Writes `count` random columns just past the basis.
    fn fill_random(&mut self, count: usize, rng: &mut Lcg) {
        let n = self.lap.n;
        let m = self.size;
        self.basis[m * n..(m + count) * n]
            .iter_mut()
            .for_each(|v| *v = rng.next_f64());
    }

    /// Orthonormalises the `count` columns just past the basis against the null vector, the
    /// basis and each other: two rounds of block classical Gram-Schmidt against the basis
    /// followed by modified Gram-Schmidt inside the block. Columns that (nearly) vanish are
    /// dependent and dropped, the others compacted to the front. Returns how many were kept;
    /// they are not yet part of the basis.
    fn orthonormalize(&mut self, count: usize) -> usize {
        let n = self.lap.n;
        let m = self.size;
        let par = get_global_parallelism();
        let (basis, fresh) = self.basis.split_at_mut(m * n);
        let fresh = &mut fresh[..count * n];
        let mut alive: Vec<bool> = fresh.chunks_exact(n).map(|c| norm(c) > 0.0).collect();
        let mut coefficients = Mat::<f64>::zeros(m, count);
        for round in 0..2 {
            for column in fresh.chunks_exact_mut(n) {
                deflate(&self.lap.null, column);
            }
            if m > 0 {
                let v = MatRef::from_column_major_slice(basis, n, m);
                let w = MatRef::from_column_major_slice(fresh, n, count);
                matmul(
                    coefficients.as_mut(),
                    Accum::Replace,
                    v.transpose(),
                    w,
                    1.0,
                    par,
                );
                let w = MatMut::from_column_major_slice_mut(fresh, n, count);
                matmul(w, Accum::Add, v, coefficients.as_ref(), -1.0, par);
            }
            for j in 0..count {
                if !alive[j] {
                    continue;
                }
                let (done, rest) = fresh.split_at_mut(j * n);
                let column = &mut rest[..n];
                let before = norm(column);
                for (i, previous) in done.chunks_exact(n).enumerate() {
                    if alive[i] {
                        let c: f64 = previous.iter().zip(column.iter()).map(|(a, b)| a * b).sum();
                        column
                            .iter_mut()
                            .zip(previous)
                            .for_each(|(v, &a)| *v -= c * a);
                    }
                }
                let after = norm(column);
                // Round 0 starts from any scale, round 1 from unit columns.
                let reference = if round == 0 { before } else { 1.0 };
                if !(after > DROP * reference && after.is_finite()) {
                    alive[j] = false;
                    column.fill(0.0);
                } else {
                    column.iter_mut().for_each(|v| *v /= after);
                }
            }
        }
        let mut kept = 0;
        for (j, &live) in alive.iter().enumerate() {
            if live {
                if j != kept {
                    let (target, source) = fresh.split_at_mut(j * n);
                    target[kept * n..(kept + 1) * n].copy_from_slice(&source[..n]);
                }
                kept += 1;
            }
        }
        kept
    }

    /// Applies the operator to the `count` orthonormalised columns just past the basis and
    /// adds them to the basis and to `H`.
    fn apply_new(&mut self, count: usize) -> Result<()> {
        if count == 0 {
            return Ok(());
        }
        let n = self.lap.n;
        let m = self.size;
        let end = m + count;
        self.image[m * n..end * n].copy_from_slice(&self.basis[m * n..end * n]);
        self.op.apply(&mut self.image[m * n..end * n], count)?;
        let par = get_global_parallelism();
        let v = MatRef::from_column_major_slice(&self.basis[..end * n], n, end);
        let av = MatRef::from_column_major_slice(&self.image[m * n..end * n], n, count);
        let mut block = Mat::<f64>::zeros(end, count);
        matmul(block.as_mut(), Accum::Replace, v.transpose(), av, 1.0, par);
        for j in 0..count {
            for i in 0..end {
                // Symmetric: average the two computed copies inside the new block.
                let value = if i >= m {
                    0.5 * (block[(i, j)] + block[(j + m, i - m)])
                } else {
                    block[(i, j)]
                };
                self.projected[(i, m + j)] = value;
                self.projected[(m + j, i)] = value;
            }
        }
        self.size = end;
        Ok(())
    }

    /// Thick restart: the basis becomes the best Ritz vectors, their images
    /// `T x = theta x + r`, and `H` the diagonal of their Ritz values.
    fn restart(&mut self, ritz: &[f64], residuals: &[f64], theta: &[f64]) {
        let n = self.lap.n;
        let keep = theta.len().min(self.capacity - self.block);
        self.basis[..keep * n].copy_from_slice(&ritz[..keep * n]);
        for (j, &t) in theta.iter().take(keep).enumerate() {
            let range = j * n..(j + 1) * n;
            for ((a, &x), &r) in self.image[range.clone()]
                .iter_mut()
                .zip(&ritz[range.clone()])
                .zip(&residuals[range])
            {
                *a = t * x + r;
            }
        }
        self.projected.fill(0.0);
        for (j, &t) in theta.iter().take(keep).enumerate() {
            self.projected[(j, j)] = t;
        }
        self.size = keep;
    }
}

/// Rayleigh quotient `rho = x^T L x / x^T x` and residual norm `||L x - rho x|| / ||x||`.
fn rayleigh(lap: &ComponentLaplacian, x: &[f64], product: &mut [f64]) -> (f64, f64) {
    let scale = 1.0 / norm(x);
    lap.apply(x, product);
    let rho = scale
        * scale
        * x.iter()
            .zip(product.iter())
            .map(|(a, b)| a * b)
            .sum::<f64>();
    let residual = scale
        * x.iter()
            .zip(product.iter())
            .map(|(&a, &b)| (b - rho * a) * (b - rho * a))
            .sum::<f64>()
            .sqrt();
    (rho, residual)
}

fn no_convergence() -> TrainingError {
    TrainingError::Numerical {
        arg: "edges",
        message: "the sparse eigensolver did not converge; retry with method=\"dense\"".into(),
    }
}

/// A tiny deterministic generator (Knuth's MMIX LCG) for the random start block.
struct Lcg(u64);

impl Lcg {
    /// Next value uniform in `[-1, 1)`.
    fn next_f64(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::super::laplacian::Adjacency;
    use super::*;

    /// A random graph (n nodes on a spanning path plus `chords` random edges).
    fn random_laplacian(n: usize, chords: usize, normalized: bool) -> ComponentLaplacian {
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

    fn dense_smallest(lap: &ComponentLaplacian, want: usize) -> Vec<f64> {
        let a = lap.dense().unwrap();
        let all = MatRef::from_column_major_slice(&a, lap.n, lap.n)
            .self_adjoint_eigenvalues(Side::Lower)
            .unwrap();
        all[1..=want].to_vec()
    }

    fn assert_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-9, "got {g}, want {w}");
        }
    }

    #[test]
    fn expanders_skip_the_factor() {
        // Average degree ~11 on 4,000 nodes: no small separators, the factor would fill in.
        let lap = random_laplacian(4000, 20_000, true);
        assert!(ShiftInvert::new(&lap, FILL_LIMIT).unwrap().is_none());
        let sparse = random_laplacian(4000, 1000, true);
        assert!(ShiftInvert::new(&sparse, FILL_LIMIT).unwrap().is_some());
    }

    #[test]
    fn both_operators_match_the_dense_spectrum() {
        for (chords, normalized) in [(9000, true), (300, false)] {
            let lap = random_laplacian(1500, chords, normalized);
            let want = dense_smallest(&lap, 12);
            let factor = ShiftInvert::new(&lap, usize::MAX).unwrap().unwrap();
            for op in [
                Operator::ShiftInvert(Box::new(factor)),
                Operator::Reflected(&lap),
            ] {
                let got = BlockLanczos::new(&lap, &op, 12, 12)
                    .unwrap()
                    .run(3)
                    .unwrap();
                assert_close(&got, &want);
            }
        }
    }

    #[test]
    fn clusters_are_measured_against_the_tolerance() {
        let lap = random_laplacian(50, 10, false);
        assert_eq!(largest_cluster(&[0.1, 0.2, 0.2, 0.2, 0.3], &lap), 3);
        assert_eq!(largest_cluster(&[0.1, 0.2, 0.3], &lap), 1);
    }
}
