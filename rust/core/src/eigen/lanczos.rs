//! Smallest non-zero eigenvalues of a connected component's Laplacian `L` by shift-invert
//! block Lanczos with thick restarts, or, for expander-like graphs whose Cholesky factor
//! would fill in, by Chebyshev-filtered subspace iteration (`chebyshev.rs`).
//!
//! - Operator: `T = P (L + sigma I)^-1 P`, with `P` the projector off the known null vector of
//!   `L` (exact deflation of the zero eigenvalue) and a sparse Cholesky factor of
//!   `L + sigma I` (faer, AMD ordering). The smallest eigenvalues `lambda` of `L` become the
//!   largest `1 / (lambda + sigma)` of `T`, well separated, so few Krylov steps are needed.
//!   The factor is skipped (products with `L` only, bounded memory) when a breadth-first level
//!   structure shows an expander (the fill-reducing ordering alone would take most of a
//!   minute, uninterruptibly, on a 200,000-node random graph) or when the symbolic analysis
//!   shows more than [`FILL_LIMIT`] times the entries of `L`.
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
use faer::sparse::linalg::cholesky::{
    factorize_symbolic_cholesky, CholeskySymbolicParams, LltRef, SymbolicCholesky,
    SymmetricOrdering,
};
use faer::sparse::{SparseColMatRef, SymbolicSparseColMatRef};
use faer::{get_global_parallelism, Accum, Conj, Mat, MatMut, MatRef, Par, Side};
use rayon::prelude::*;

use super::chebyshev;
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
/// Default cap on the iterations (one block of operator applications each) before giving up.
pub(super) const MAX_ITERATIONS: usize = 5000;

/// Block size and basis size for `want` eigenvalues on the shift-invert operator (the
/// smallest basis any sparse solve uses).
pub(super) fn sizes(want: usize) -> (usize, usize) {
    let block = want.clamp(1, MAX_BLOCK);
    (block, basis_size(want, block))
}

/// Largest basis (columns) before a thick restart.
fn basis_size(want: usize, block: usize) -> usize {
    want + 5 * block + 16
}

/// Columns kept at a thick restart: the wanted pairs and one block.
fn restart_size(want: usize, block: usize, capacity: usize) -> usize {
    let room = capacity.saturating_sub(block).max(1);
    (want + block).max(want + 1).min(room)
}

/// Bytes of working memory a sparse solve of a component with `n` nodes and `nnz` stored
/// off-diagonal entries needs for `want` eigenvalues (the larger of the two solvers, the
/// Cholesky factor excluded: it is only formed when it stays below [`FILL_LIMIT`] times
/// `nnz`), or `None` on overflow.
pub(super) fn workspace_bytes(n: usize, nnz: usize, want: usize) -> Option<usize> {
    // The cluster check can double the block up to `want`.
    let block = want.max(1);
    let capacity = basis_size(want, block);
    // basis (capacity + block), image (block), spare (capacity), a few vectors.
    let columns = capacity.checked_mul(2)?.checked_add(2 * block + 4)?;
    let vectors = n.checked_mul(columns)?.checked_mul(8)?;
    let projected = capacity.checked_mul(capacity + 2 * block)?.checked_mul(8)?;
    // The shifted lower triangle (structure and values) for the symbolic analysis.
    let structure = nnz.checked_add(n)?.checked_mul(24)?;
    let lanczos = vectors.checked_add(projected)?.checked_add(structure)?;
    Some(lanczos.max(chebyshev::workspace_bytes(n, want)?))
}

/// The `want` smallest non-zero eigenvalues of `lap` (ascending), `1 <= want` and
/// [`sizes`]`(want).1 < lap.n - 1`, each with a residual `||L x - lambda x|| <= tol`
/// (`tol` in the units of the unscaled Laplacian; `None`: [`TOLERANCE`] times the Gershgorin
/// bound on `||L||`), within `max_iterations` iterations (`None`: [`MAX_ITERATIONS`]).
pub(super) fn smallest_nonzero(
    lap: &ComponentLaplacian,
    want: usize,
    seed: u64,
    tol: Option<f64>,
    max_iterations: Option<usize>,
) -> Result<Vec<f64>> {
    let tol = tol.map_or(TOLERANCE * lap.norm_bound, |t| t / lap.scale);
    let max_iterations = max_iterations.unwrap_or(MAX_ITERATIONS);
    let factor = if chebyshev::is_expander(lap)? {
        None
    } else {
        crate::pool::check_cancelled()?;
        ShiftInvert::new(lap, FILL_LIMIT)?
    };
    let Some(op) = factor else {
        return chebyshev::smallest_nonzero(lap, want, seed, tol, max_iterations);
    };
    let mut block = want.clamp(1, MAX_BLOCK);
    loop {
        let values = BlockLanczos::new(lap, &op, want, block, tol)?.run(seed, max_iterations)?;
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

    /// Upper bound on `||L x - lambda x||` for a unit Ritz vector `x` with Ritz value `theta`
    /// and residual `||T x - theta x|| = residual`: with `T x = theta x + e`,
    /// `L x - (1/theta - sigma) x = -(L + sigma I) e / theta`.
    fn residual_bound(&self, theta: f64, residual: f64) -> f64 {
        (self.lap.norm_bound + self.shift) * residual / theta
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

/// Ritz pairs of the active (unlocked) part of the basis, by decreasing Ritz value.
struct Ritz {
    /// Ritz values `theta` of `T`, decreasing.
    theta: Vec<f64>,
    /// Their coordinates in the active basis columns (`active x active`, column `r` for
    /// `theta[r]`).
    coordinates: Mat<f64>,
    /// Upper bounds on `||L x - lambda x||` of the unit Ritz vectors (from the Krylov-Schur
    /// relation, no product with `L`).
    bound: Vec<f64>,
}

/// Which Ritz pair a wanted value comes from.
#[derive(Clone, Copy)]
enum Pair {
    /// A locked basis column.
    Locked(usize),
    /// An active Ritz pair (index into [`Ritz`]).
    Active(usize),
}

/// State of one thick-restart block Lanczos (Krylov-Schur) run on `T`:
/// `T V = V H + P C` with `V` (`n x size`, orthonormal, orthogonal to the null vector), the
/// pending block `P` (`n x pending`, orthonormal to `V`, stored just past `V`), the symmetric
/// projection `H = V^T T V` and the coupling `C = P^T T V`.
///
/// The first `locked` columns of `V` are converged Ritz vectors: their rows of `H` and
/// columns of `C` are zero except the diagonal (deflation: their true coupling is at most the
/// tolerance), new blocks are still orthogonalised against them.
struct BlockLanczos<'a> {
    lap: &'a ComponentLaplacian,
    op: &'a ShiftInvert<'a>,
    want: usize,
    block: usize,
    capacity: usize,
    /// Residual tolerance on `L` (stored units).
    tol: f64,
    /// `V` then `P`: `n x (capacity + block)`.
    basis: Vec<f64>,
    /// `T P`, `n x block`.
    image: Vec<f64>,
    /// Ritz vectors being formed (restart and the final check), `n x capacity`.
    spare: Vec<f64>,
    /// `H`, `capacity x capacity`.
    projected: Mat<f64>,
    /// `C`, `block x capacity`.
    coupling: Mat<f64>,
    size: usize,
    locked: usize,
    pending: usize,
    /// `L x` scratch for the residual checks.
    product: Vec<f64>,
}

impl<'a> BlockLanczos<'a> {
    fn new(
        lap: &'a ComponentLaplacian,
        op: &'a ShiftInvert<'a>,
        want: usize,
        block: usize,
        tol: f64,
    ) -> Result<Self> {
        let n = lap.n;
        // The basis lives in the (n - 1)-dimensional complement of the null vector.
        let capacity = basis_size(want, block).min(n - 1);
        let block = block.min(capacity);
        let columns = |c: usize| {
            n.checked_mul(c).ok_or(TrainingError::OutOfMemory {
                arg: "num_nodes",
                bytes: usize::MAX,
            })
        };
        Ok(Self {
            lap,
            op,
            want,
            block,
            capacity,
            tol,
            basis: filled_vec("num_nodes", columns(capacity + block)?, 0.0)?,
            image: filled_vec("num_nodes", columns(block)?, 0.0)?,
            spare: filled_vec("num_nodes", columns(capacity)?, 0.0)?,
            projected: Mat::zeros(capacity, capacity),
            coupling: Mat::zeros(block, capacity),
            size: 0,
            locked: 0,
            pending: 0,
            product: filled_vec("num_nodes", n, 0.0)?,
        })
    }

    /// Iterates until the `want` largest Ritz values of `T` have converged on `L`; returns
    /// their Rayleigh quotients on `L`, ascending. One iteration applies `T` to one block.
    fn run(mut self, seed: u64, max_iterations: usize) -> Result<Vec<f64>> {
        let mut rng = Lcg(seed ^ 0x9e37_79b9_7f4a_7c15);
        self.pending = self.fill_pending(0, &mut rng);
        let mut worst = f64::INFINITY;
        for _ in 0..max_iterations {
            crate::pool::check_cancelled()?;
            self.expand(&mut rng)?;
            let ritz = self.rayleigh_ritz()?;
            let (wanted, largest) = self.wanted(&ritz);
            worst = largest;
            if let Some(values) = self.finish(&ritz, &wanted)? {
                return Ok(values);
            }
            if self.size + self.block > self.capacity {
                self.restart(&ritz)?;
            }
        }
        Err(TrainingError::Numerical {
            arg: "max_iterations",
            message: format!(
                "the sparse eigensolver did not converge in {max_iterations} iterations: the \
                 largest residual ||L x - lambda x|| of the wanted eigenpairs is {:.3e}, above \
                 tol = {:.3e}; raise max_iterations or tol, or use method=\"dense\"",
                worst * self.lap.scale,
                self.tol * self.lap.scale
            ),
        })
    }

    /// `P` joins the basis: applies `T` to it, records `H`'s new columns, and orthogonalises
    /// `T P` against the basis into the next pending block (whose triangular factor is the
    /// new coupling), topped up with random directions when `T P` is rank-deficient.
    fn expand(&mut self, rng: &mut Lcg) -> Result<()> {
        let n = self.lap.n;
        let (m, count) = (self.size, self.pending);
        if count == 0 {
            return Ok(());
        }
        let end = m + count;
        let image = &mut self.image[..count * n];
        image.copy_from_slice(&self.basis[m * n..end * n]);
        self.op.apply(image, count)?;
        // Two passes of block classical Gram-Schmidt against V and P; the coefficients are
        // H's new columns.
        let par = get_global_parallelism();
        let all = MatRef::from_column_major_slice(&self.basis[..end * n], n, end);
        let mut coefficients = Mat::<f64>::zeros(end, count);
        let mut pass = Mat::<f64>::zeros(end, count);
        for round in 0..2 {
            let w = MatRef::from_column_major_slice(&self.image[..count * n], n, count);
            let target = if round == 0 {
                coefficients.as_mut()
            } else {
                pass.as_mut()
            };
            matmul(target, Accum::Replace, all.transpose(), w, 1.0, par);
            let source = if round == 0 {
                coefficients.as_ref()
            } else {
                pass.as_ref()
            };
            let w = MatMut::from_column_major_slice_mut(&mut self.image[..count * n], n, count);
            matmul(w, Accum::Add, all, source, -1.0, par);
        }
        coefficients += &pass;
        for j in 0..count {
            for i in self.locked..end {
                // Symmetric: average the two computed copies inside the new block.
                let value = if i >= m {
                    0.5 * (coefficients[(i, j)] + coefficients[(j + m, i - m)])
                } else {
                    coefficients[(i, j)]
                };
                self.projected[(i, m + j)] = value;
                self.projected[(m + j, i)] = value;
            }
        }
        self.size = end;
        // The next pending block: T P = P' R, so C = [0 ... 0 R].
        let (basis, fresh) = self.basis.split_at_mut(end * n);
        let fresh = &mut fresh[..count * n];
        fresh.copy_from_slice(&self.image[..count * n]);
        let (kept, triangle) = orthonormalize(&self.lap.null, basis, fresh, n, false);
        self.coupling.fill(0.0);
        for (row, coefficients) in triangle.iter().enumerate() {
            for (j, &c) in coefficients.iter().enumerate() {
                self.coupling[(row, m + j)] = c;
            }
        }
        // Directions T did not produce are random, with no coupling.
        self.pending = self.fill_pending(kept, rng);
        Ok(())
    }

    /// Completes the pending block (its first `kept` columns are set) with random columns
    /// orthonormalised against the basis; returns the new pending count.
    fn fill_pending(&mut self, kept: usize, rng: &mut Lcg) -> usize {
        let n = self.lap.n;
        let end = self.size;
        let count = self
            .block
            .min(self.capacity + self.block - end)
            .min((n - 1).saturating_sub(end));
        if kept >= count {
            return kept;
        }
        let (basis, fresh) = self.basis.split_at_mut((end + kept) * n);
        let fresh = &mut fresh[..(count - kept) * n];
        fresh.iter_mut().for_each(|v| *v = rng.next_f64());
        kept + orthonormalize(&self.lap.null, basis, fresh, n, true).0
    }

    /// Ritz pairs of `H` restricted to the active columns, with their residual bounds.
    fn rayleigh_ritz(&self) -> Result<Ritz> {
        let (start, active) = (self.locked, self.size - self.locked);
        let h = self
            .projected
            .as_ref()
            .submatrix(start, start, active, active);
        let eigen =
            SelfAdjointEigen::new(h, Side::Lower).map_err(|_| TrainingError::Numerical {
                arg: "edges",
                message: "the projected eigenproblem did not converge".into(),
            })?;
        let mut coordinates = Mat::<f64>::zeros(active, active);
        let mut theta = vec![0.0; active];
        for (r, t) in theta.iter_mut().enumerate() {
            let source = active - 1 - r;
            *t = eigen.S().column_vector()[source];
            coordinates.col_mut(r).copy_from(eigen.U().col(source));
        }
        // ||T x - theta x|| = ||C y|| for x = V y.
        let c = self
            .coupling
            .as_ref()
            .submatrix(0, start, self.pending, active);
        let cy = c * coordinates.as_ref();
        let bound = theta
            .iter()
            .enumerate()
            .map(|(r, &t)| {
                let residual = cy.col(r).norm_l2();
                self.op.residual_bound(t, residual)
            })
            .collect();
        Ok(Ritz {
            theta,
            coordinates,
            bound,
        })
    }

    /// The `want` largest Ritz values among the locked and active pairs, and the largest
    /// residual bound among them (0 for locked pairs).
    fn wanted(&self, ritz: &Ritz) -> (Vec<Pair>, f64) {
        let mut all: Vec<(f64, Pair)> = (0..self.locked)
            .map(|i| (self.projected[(i, i)], Pair::Locked(i)))
            .chain(
                ritz.theta
                    .iter()
                    .enumerate()
                    .map(|(r, &t)| (t, Pair::Active(r))),
            )
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0));
        all.truncate(self.want);
        let largest = all
            .iter()
            .map(|&(_, pair)| match pair {
                Pair::Locked(_) => 0.0,
                Pair::Active(r) => ritz.bound[r],
            })
            .fold(0.0, f64::max);
        (all.into_iter().map(|(_, pair)| pair).collect(), largest)
    }

    /// When every wanted pair's bound says it may have converged, checks each on `L` and
    /// returns their Rayleigh quotients (ascending); `None` to keep iterating.
    fn finish(&mut self, ritz: &Ritz, wanted: &[Pair]) -> Result<Option<Vec<f64>>> {
        if wanted.len() < self.want {
            return Ok(None);
        }
        let check = CHECK * self.tol;
        let ready = wanted.iter().all(|&pair| match pair {
            Pair::Locked(_) => true,
            Pair::Active(r) => ritz.bound[r] <= check,
        });
        if !ready {
            return Ok(None);
        }
        let n = self.lap.n;
        let active: Vec<usize> = wanted
            .iter()
            .filter_map(|&pair| match pair {
                Pair::Active(r) => Some(r),
                Pair::Locked(_) => None,
            })
            .collect();
        self.ritz_vectors(ritz, &active);
        let mut values = Vec::new();
        values
            .try_reserve_exact(self.want)
            .map_err(|_| oom(self.want))?;
        let mut next_active = 0;
        for &pair in wanted {
            let x = match pair {
                Pair::Locked(i) => &self.basis[i * n..(i + 1) * n],
                Pair::Active(_) => {
                    next_active += 1;
                    &self.spare[(next_active - 1) * n..next_active * n]
                }
            };
            let (rho, residual) = rayleigh(self.lap, x, &mut self.product);
            if residual > self.tol {
                return Ok(None);
            }
            values.push(rho.max(0.0));
        }
        values.sort_by(f64::total_cmp);
        Ok(Some(values))
    }

    /// Writes the Ritz vectors `V_active y_r` of the active pairs `which` into `spare`.
    fn ritz_vectors(&mut self, ritz: &Ritz, which: &[usize]) {
        let n = self.lap.n;
        let (start, active) = (self.locked, self.size - self.locked);
        let mut y = Mat::<f64>::zeros(active, which.len());
        for (c, &r) in which.iter().enumerate() {
            y.col_mut(c).copy_from(ritz.coordinates.col(r));
        }
        let v = MatRef::from_column_major_slice(&self.basis[start * n..self.size * n], n, active);
        let x =
            MatMut::from_column_major_slice_mut(&mut self.spare[..which.len() * n], n, which.len());
        matmul(
            x,
            Accum::Replace,
            v,
            y.as_ref(),
            1.0,
            get_global_parallelism(),
        );
    }

    /// Thick restart: the active basis becomes its best Ritz vectors (`H` their Ritz values,
    /// `C` their coupling `C y`); those among the wanted whose residual on `L` is within the
    /// tolerance are locked.
    fn restart(&mut self, ritz: &Ritz) -> Result<()> {
        let n = self.lap.n;
        let start = self.locked;
        let active = self.size - start;
        let target = restart_size(self.want, self.block, self.capacity);
        let keep = target.saturating_sub(start).clamp(1, active);
        let order: Vec<usize> = (0..keep).collect();
        self.ritz_vectors(ritz, &order);
        // Lock converged wanted pairs (verified on L), in front of the others.
        let wanted_active = self.want.saturating_sub(start).min(keep);
        let mut lock = vec![false; keep];
        for (r, lock) in lock.iter_mut().enumerate().take(wanted_active) {
            if ritz.bound[r] <= CHECK * self.tol {
                let x = &self.spare[r * n..(r + 1) * n];
                *lock = rayleigh(self.lap, x, &mut self.product).1 <= self.tol;
            }
        }
        let placement: Vec<usize> = (0..keep)
            .filter(|&r| lock[r])
            .chain((0..keep).filter(|&r| !lock[r]))
            .collect();
        let cy = self
            .coupling
            .as_ref()
            .submatrix(0, start, self.pending, active)
            * ritz.coordinates.as_ref();
        let pending_range = self.size * n..(self.size + self.pending) * n;
        for (slot, &r) in placement.iter().enumerate() {
            let column = start + slot;
            self.basis[column * n..(column + 1) * n]
                .copy_from_slice(&self.spare[r * n..(r + 1) * n]);
        }
        let size = start + keep;
        self.basis.copy_within(pending_range, size * n);
        let rows = start..self.size;
        for i in rows.clone() {
            for j in rows.clone() {
                self.projected[(i, j)] = 0.0;
            }
        }
        self.coupling.fill(0.0);
        for (slot, &r) in placement.iter().enumerate() {
            let column = start + slot;
            self.projected[(column, column)] = ritz.theta[r];
            if !lock[r] {
                for p in 0..self.pending {
                    self.coupling[(p, column)] = cy[(p, r)];
                }
            }
        }
        self.locked = start + lock.iter().filter(|&&l| l).count();
        self.size = size;
        Ok(())
    }
}

/// Orthonormalises the `count = fresh.len() / n` columns of `fresh` against the null vector
/// `null`, the columns of `basis` (two passes of block classical Gram-Schmidt, skipped when
/// `against_basis` is false because the caller did it) and each other (modified
/// Gram-Schmidt, twice). Columns that (nearly) vanish are dependent and dropped, the others
/// compacted to the front. Returns how many were kept and, for each kept column, its row of
/// the triangular factor `R` (`fresh = Q R` over the kept columns, before projection
/// against the basis).
fn orthonormalize(
    null: &[f64],
    basis: &[f64],
    fresh: &mut [f64],
    n: usize,
    against_basis: bool,
) -> (usize, Vec<Vec<f64>>) {
    let count = fresh.len() / n;
    let m = basis.len() / n;
    let par = get_global_parallelism();
    let mut alive: Vec<bool> = fresh.chunks_exact(n).map(|c| norm(c) > 0.0).collect();
    let mut triangle = vec![vec![0.0; count]; count];
    let mut coefficients = Mat::<f64>::zeros(m, count);
    for round in 0..2 {
        for column in fresh.chunks_exact_mut(n) {
            deflate(null, column);
        }
        if against_basis && m > 0 {
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
            let before = if round == 0 { norm(column) } else { 1.0 };
            let scale = if round == 0 { 1.0 } else { triangle[j][j] };
            for (i, previous) in done.chunks_exact(n).enumerate() {
                if alive[i] {
                    let c: f64 = previous.iter().zip(column.iter()).map(|(a, b)| a * b).sum();
                    triangle[i][j] += c * scale;
                    column
                        .iter_mut()
                        .zip(previous)
                        .for_each(|(v, &a)| *v -= c * a);
                }
            }
            let after = norm(column);
            if !(after > DROP * before && after.is_finite()) {
                alive[j] = false;
                column.fill(0.0);
            } else {
                triangle[j][j] = if round == 0 { after } else { scale * after };
                column.iter_mut().for_each(|v| *v /= after);
            }
        }
    }
    let mut kept = 0;
    let mut rows = Vec::new();
    for (j, &live) in alive.iter().enumerate() {
        if live {
            if j != kept {
                let (target, source) = fresh.split_at_mut(j * n);
                target[kept * n..(kept + 1) * n].copy_from_slice(&source[..n]);
            }
            rows.push(std::mem::take(&mut triangle[j]));
            kept += 1;
        }
    }
    (kept, rows)
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

/// A tiny deterministic generator (Knuth's MMIX LCG) for the random start block.
pub(super) struct Lcg(pub(super) u64);

impl Lcg {
    /// Next value uniform in `[-1, 1)`.
    pub(super) fn next_f64(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_graphs::{dense_smallest, random_laplacian};
    use super::*;

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
    fn both_solvers_match_the_dense_spectrum() {
        for (chords, normalized) in [(9000, true), (300, false)] {
            let lap = random_laplacian(1500, chords, normalized);
            let want = dense_smallest(&lap, 12);
            let tol = TOLERANCE * lap.norm_bound;
            let factor = ShiftInvert::new(&lap, usize::MAX).unwrap().unwrap();
            let got = BlockLanczos::new(&lap, &factor, 12, 12, tol)
                .unwrap()
                .run(3, MAX_ITERATIONS)
                .unwrap();
            assert_close(&got, &want);
            let got = chebyshev::smallest_nonzero(&lap, 12, 3, tol, MAX_ITERATIONS).unwrap();
            assert_close(&got, &want);
        }
    }

    #[test]
    fn clusters_are_measured_against_the_tolerance() {
        let lap = random_laplacian(50, 10, false);
        assert_eq!(largest_cluster(&[0.1, 0.2, 0.2, 0.2, 0.3], &lap), 3);
        assert_eq!(largest_cluster(&[0.1, 0.2, 0.3], &lap), 1);
    }
}
