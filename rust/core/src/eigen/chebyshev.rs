//! Smallest non-zero eigenvalues of a connected component's Laplacian `L` by Chebyshev-filtered
//! subspace iteration with Rayleigh-Ritz and locking (Zhou and Saad's ChFSI, as in ChASE), for
//! graphs whose sparse Cholesky factor would fill in (expanders: uniform random graphs, many
//! social graphs).
//!
//! On an expander the wanted eigenvalues sit at the edge of a continuous bulk: they are close
//! together relative to the spectrum's width, so single-vector Krylov methods need long
//! polynomials per eigenvalue and restarts lose them. Here a block of `p = want + guard`
//! vectors is multiplied by a Chebyshev polynomial of `L` that is bounded by 1 on
//! `[a, b]` (`a` the block's largest Ritz value, `b` the Gershgorin bound on `||L||`) and grows
//! like `cosh(m acosh t)` below `a`: every wanted direction is amplified against everything
//! above the block, at a rate set by its distance to `a`, the guard vectors keeping that
//! distance from shrinking to the gaps between wanted values. Each iteration:
//!
//! 1. filter: `V <- p_m(L) V` (scaled three-term recurrence, `m` sparse block products with the
//!    block stored node-major so each edge reads one contiguous row of `p` values);
//! 2. orthonormalise against the null vector and the locked vectors (two passes), then within
//!    the block (SVQB: eigen-decomposition of the Gram matrix, twice; dependent columns are
//!    replaced by random ones);
//! 3. Rayleigh-Ritz: `H = V^T L V`, Ritz vectors `X = V Y`, residuals `||L x - theta x||` from
//!    `L X = (L V) Y` (exact products, not bounds);
//! 4. lock the leading Ritz pairs whose residual is within the tolerance (they leave the
//!    block; later blocks are kept orthogonal to them), then choose the next degree from the
//!    worst wanted residual and its growth rate, capped so that no direction (locked ones
//!    included) is amplified more than [`AMPLIFICATION`] times the wanted ones.
//!
//! The polynomial degree adapts, so the work is roughly `p` times the polynomial length the
//! gaps require: proportional to the number of wanted values, not to their square as in a
//! restarted Krylov basis that must hold them all.

use faer::linalg::matmul::matmul;
use faer::linalg::solvers::SelfAdjointEigen;
use faer::{Accum, Mat, MatMut, MatRef, Par, Side};
use rayon::prelude::*;

use super::lanczos::Lcg;
use super::laplacian::ComponentLaplacian;
use crate::error::{Result, TrainingError};
use crate::linalg::filled_vec;

/// Guard vectors beyond the wanted ones: at least this many, and at least half the wanted.
const MIN_GUARD: usize = 16;
/// Smallest and largest polynomial degree of one filter.
const MIN_DEGREE: usize = 4;
/// Largest degree: past it, a Rayleigh-Ritz step (which also locks converged pairs and moves
/// the cut `a` down) is cheaper than more products.
const MAX_DEGREE: usize = 40;
/// Largest amplification of any direction relative to the worst wanted one in one filter:
/// beyond it the weaker directions drown in the rounding errors of the stronger ones.
const AMPLIFICATION: f64 = 1e10;
/// Gram eigenvalues below this fraction of the largest mark dependent columns.
const DROP: f64 = 1e-13;
/// Components below this many nodes always try the sparse Cholesky factor: its symbolic
/// analysis stays cheap (well under a second) whatever the graph.
pub(super) const BFS_MIN_NODES: usize = 20_000;
/// A component whose widest breadth-first level (from a pseudo-peripheral node) holds more
/// than `1 / WIDE_LEVEL` of its nodes has no small separators: its factor fills in.
const WIDE_LEVEL: usize = 8;

/// Block size (wanted plus guard vectors) for `want` values in a component of `n` nodes.
pub(super) fn block_size(want: usize, n: usize) -> usize {
    (want + (want / 2).max(MIN_GUARD)).min(n.saturating_sub(1))
}

/// Bytes of working memory [`smallest_nonzero`] needs for `want` values in a component of `n`
/// nodes (`None` on overflow): three node-major blocks, the locked vectors, the projected
/// matrices.
pub(super) fn workspace_bytes(n: usize, want: usize) -> Option<usize> {
    let p = want.checked_add((want / 2).max(MIN_GUARD))?;
    let columns = p.checked_mul(3)?.checked_add(want)?.checked_add(3)?;
    let vectors = n.checked_mul(columns)?.checked_mul(8)?;
    let small = p.checked_mul(p)?.checked_mul(6 * 8)?;
    vectors.checked_add(small)
}

/// Whether the component looks like an expander, whose sparse Cholesky factor would fill in
/// (and whose fill-reducing ordering alone can take most of a minute): at least
/// [`BFS_MIN_NODES`] nodes and a breadth-first level structure from a pseudo-peripheral node
/// with a level holding more than `1 / WIDE_LEVEL` of the nodes (grids, meshes, road networks
/// and other graphs with small separators have narrow levels). Two breadth-first searches,
/// `O(edges)`.
pub(super) fn is_expander(lap: &ComponentLaplacian) -> Result<bool> {
    let n = lap.n;
    if n < BFS_MIN_NODES {
        return Ok(false);
    }
    let (offsets, cols, _, _) = lap.rows();
    let mut level = filled_vec("edges", n, usize::MAX)?;
    let mut queue = filled_vec("edges", n, 0usize)?;
    let (far, _) = breadth_first(offsets, cols, 0, &mut level, &mut queue);
    level.fill(usize::MAX);
    let (_, widest) = breadth_first(offsets, cols, far, &mut level, &mut queue);
    Ok(widest.saturating_mul(WIDE_LEVEL) > n)
}

/// Breadth-first search from `start` (`level` all `usize::MAX` on entry): the last node
/// reached and the size of the widest level.
fn breadth_first(
    offsets: &[usize],
    cols: &[usize],
    start: usize,
    level: &mut [usize],
    queue: &mut [usize],
) -> (usize, usize) {
    level[start] = 0;
    queue[0] = start;
    let (mut head, mut tail) = (0, 1);
    let (mut widest, mut run_start) = (0, 0);
    while head < tail {
        let node = queue[head];
        if level[node] != level[queue[run_start]] {
            widest = widest.max(head - run_start);
            run_start = head;
        }
        head += 1;
        for &next in &cols[offsets[node]..offsets[node + 1]] {
            if level[next] == usize::MAX {
                level[next] = level[node] + 1;
                queue[tail] = next;
                tail += 1;
            }
        }
    }
    widest = widest.max(tail - run_start);
    (queue[tail - 1], widest)
}

/// The `want` smallest non-zero eigenvalues of `lap` (ascending), `1 <= want` and
/// [`block_size`]`(want, n) < n - 1`, each the Rayleigh quotient of a unit vector `x` with
/// `||L x - lambda x|| <= tol` (stored units), within `max_iterations` filter + Rayleigh-Ritz
/// iterations.
pub(super) fn smallest_nonzero(
    lap: &ComponentLaplacian,
    want: usize,
    seed: u64,
    tol: f64,
    max_iterations: usize,
) -> Result<Vec<f64>> {
    Subspace::new(lap, want, tol)?.run(seed, max_iterations)
}

/// State of one filtered subspace iteration. Blocks are `n x m` node-major (row `i` holds the
/// `m` values of node `i`), `m = p - locked` the active width.
struct Subspace<'a> {
    lap: &'a ComponentLaplacian,
    want: usize,
    p: usize,
    tol: f64,
    /// The active block `V`; after Rayleigh-Ritz, `L X`.
    v: Vec<f64>,
    /// `L V` and the filter's second vector.
    w: Vec<f64>,
    /// Ritz vectors `X`, orthonormalisation scratch.
    x: Vec<f64>,
    /// Column-major `n x (1 + want)`: the null vector, then the locked Ritz vectors.
    locked: Vec<f64>,
    /// Ritz values of the locked vectors.
    values: Vec<f64>,
}

/// Ritz values (ascending) and residual norms of the active block after Rayleigh-Ritz.
struct Ritz {
    theta: Vec<f64>,
    residual: Vec<f64>,
}

impl<'a> Subspace<'a> {
    fn new(lap: &'a ComponentLaplacian, want: usize, tol: f64) -> Result<Self> {
        let n = lap.n;
        let p = block_size(want, n);
        let block = n.checked_mul(p).ok_or(TrainingError::OutOfMemory {
            arg: "num_nodes",
            bytes: usize::MAX,
        })?;
        let mut locked = filled_vec("num_nodes", n.saturating_mul(want + 1), 0.0)?;
        locked[..n].copy_from_slice(&lap.null);
        let mut values = Vec::new();
        values
            .try_reserve_exact(want)
            .map_err(|_| TrainingError::OutOfMemory {
                arg: "k",
                bytes: want.saturating_mul(8),
            })?;
        Ok(Self {
            lap,
            want,
            p,
            tol,
            v: filled_vec("num_nodes", block, 0.0)?,
            w: filled_vec("num_nodes", block, 0.0)?,
            x: filled_vec("num_nodes", block, 0.0)?,
            locked,
            values,
        })
    }

    fn run(mut self, seed: u64, max_iterations: usize) -> Result<Vec<f64>> {
        let n = self.lap.n;
        let b = self.lap.norm_bound;
        let mut rng = Lcg(seed ^ 0x51_7cc1_b727_220a);
        let mut m = self.p;
        self.v[..n * m].iter_mut().for_each(|v| *v = rng.next_f64());
        self.orthonormalize(m, &mut rng)?;
        let mut worst = f64::INFINITY;
        for _ in 0..max_iterations {
            crate::pool::check_cancelled()?;
            let ritz = self.rayleigh_ritz(m)?;
            let remaining = self.want - self.values.len();
            let converged = ritz
                .residual
                .iter()
                .take(remaining)
                .take_while(|&&r| r <= self.tol)
                .count();
            self.lock(m, &ritz.theta, converged);
            if self.values.len() == self.want {
                let mut values = self.values;
                values.iter_mut().for_each(|v| *v = v.max(0.0));
                values.sort_by(f64::total_cmp);
                return Ok(values);
            }
            // The unconverged Ritz vectors are the next block.
            let next = m - converged;
            if converged == 0 {
                std::mem::swap(&mut self.v, &mut self.x);
            } else {
                copy_columns(&self.x, m, converged, &mut self.v, next);
            }
            let theta = &ritz.theta[converged..];
            let residual = &ritz.residual[converged..];
            let wanted = self.want - self.values.len();
            worst = residual[..wanted].iter().copied().fold(0.0, f64::max);
            let a = theta[next - 1].min(b * (1.0 - 1e-9));
            let lo = theta[0];
            let floor = self.values.iter().copied().fold(lo, f64::min);
            let degree = degree(a, b, theta[wanted - 1], floor, worst / self.tol);
            m = next;
            self.filter(m, degree, a, lo, b)?;
            self.orthonormalize(m, &mut rng)?;
        }
        Err(TrainingError::Numerical {
            arg: "max_iterations",
            message: format!(
                "the sparse eigensolver did not converge in {max_iterations} iterations: the \
                 largest residual ||L x - lambda x|| of the wanted eigenpairs is {:.3e}, above \
                 tol = {:.3e} ({} of {} converged); raise max_iterations or tol, or use \
                 method=\"dense\"",
                worst * self.lap.scale,
                self.tol * self.lap.scale,
                self.values.len(),
                self.want,
            ),
        })
    }

    /// `V <- p(L) V` for the degree-`degree` Chebyshev polynomial bounded by 1 on `[a, b]`,
    /// scaled to 1 at `lo` (Zhou's scaled recurrence: no overflow whatever the degree). The
    /// columns are independent, so the whole recurrence runs on one panel of [`PANEL`] columns
    /// at a time: the panel read at random (one row per edge) stays in the last-level cache
    /// while the matrix streams through.
    fn filter(&mut self, m: usize, degree: usize, a: f64, lo: f64, b: f64) -> Result<()> {
        let n = self.lap.n;
        let e = (b - a) / 2.0;
        let c = (b + a) / 2.0;
        let (px, py) = (&mut self.w[..n * PANEL], &mut self.x[..n * PANEL]);
        for first in (0..m).step_by(PANEL) {
            let width = PANEL.min(m - first);
            gather(&self.v, m, first, width, px);
            let mut sigma = e / (lo - c);
            let tau = 2.0 / sigma;
            // Y = (L X - c X) sigma / e.
            let scale = sigma / e;
            step(self.lap, px, py, |lx, x, y| *y = scale * (lx - c * x));
            let (mut x, mut y) = (&mut *px, &mut *py);
            for _ in 1..degree {
                crate::pool::check_cancelled()?;
                let next = 1.0 / (tau - sigma);
                let (alpha, beta) = (2.0 * next / e, sigma * next);
                // X <- (L Y - c Y) alpha - X beta, then the roles swap.
                step(self.lap, y, x, |ly, y, x| {
                    *x = alpha * (ly - c * y) - beta * *x
                });
                std::mem::swap(&mut x, &mut y);
                sigma = next;
            }
            scatter(y, &mut self.v, m, first, width);
        }
        Ok(())
    }

    /// Orthonormalises the active block (width `m`) against the null and locked vectors and
    /// within itself; dependent columns are replaced by random ones.
    fn orthonormalize(&mut self, m: usize, rng: &mut Lcg) -> Result<()> {
        let n = self.lap.n;
        for _ in 0..3 {
            for _ in 0..2 {
                self.project(m);
            }
            let kept = svqb(&mut self.v, &mut self.x, n, m)?;
            let kept = svqb(&mut self.v, &mut self.x, n, kept)?;
            if kept == m {
                return Ok(());
            }
            // Widen the kept columns back to m with random ones and try again.
            self.x[..n * kept].copy_from_slice(&self.v[..n * kept]);
            for (row, kept_row) in self.v[..n * m]
                .chunks_exact_mut(m)
                .zip(self.x.chunks_exact(kept))
            {
                row[..kept].copy_from_slice(kept_row);
                row[kept..].iter_mut().for_each(|v| *v = rng.next_f64());
            }
        }
        Err(TrainingError::Numerical {
            arg: "edges",
            message: "the sparse eigensolver could not orthonormalise its block".into(),
        })
    }

    /// `V <- V - Q (Q^T V)` for `Q` the null vector and the locked vectors.
    fn project(&mut self, m: usize) {
        let n = self.lap.n;
        let q = 1 + self.values.len();
        let basis = MatRef::from_column_major_slice(&self.locked[..n * q], n, q);
        let coefficients = self.v[..n * m]
            .par_chunks(ROWS * m)
            .enumerate()
            .map(|(c, rows)| {
                let count = rows.len() / m;
                let mut part = Mat::<f64>::zeros(q, m);
                matmul(
                    part.as_mut(),
                    Accum::Replace,
                    basis.subrows(c * ROWS, count).transpose(),
                    MatRef::from_row_major_slice(rows, count, m),
                    1.0,
                    Par::Seq,
                );
                part
            })
            .reduce(|| Mat::<f64>::zeros(q, m), |a, b| a + b);
        self.v[..n * m]
            .par_chunks_mut(ROWS * m)
            .enumerate()
            .for_each(|(c, rows)| {
                let count = rows.len() / m;
                matmul(
                    MatMut::from_row_major_slice_mut(rows, count, m),
                    Accum::Add,
                    basis.subrows(c * ROWS, count),
                    coefficients.as_ref(),
                    -1.0,
                    Par::Seq,
                );
            });
    }

    /// Rayleigh-Ritz on the orthonormal active block: Ritz vectors into `x`, `L X` into `v`,
    /// Ritz values ascending with their residual norms.
    fn rayleigh_ritz(&mut self, m: usize) -> Result<Ritz> {
        let n = self.lap.n;
        for first in (0..m).step_by(PANEL) {
            let width = PANEL.min(m - first);
            gather(&self.v, m, first, width, &mut self.x[..n * PANEL]);
            let (panel, product) = self.x.split_at_mut(n * PANEL);
            step(self.lap, panel, &mut product[..n * PANEL], |lx, _, y| {
                *y = lx
            });
            scatter(&product[..n * PANEL], &mut self.w, m, first, width);
        }
        let h = inner(&self.v[..n * m], &self.w[..n * m], m, m);
        let h = Mat::<f64>::from_fn(m, m, |i, j| 0.5 * (h[(i, j)] + h[(j, i)]));
        let eigen = SelfAdjointEigen::new(h.as_ref(), Side::Lower).map_err(|_| {
            TrainingError::Numerical {
                arg: "edges",
                message: "the projected eigenproblem did not converge".into(),
            }
        })?;
        let theta: Vec<f64> = (0..m).map(|j| eigen.S().column_vector()[j]).collect();
        let y = eigen.U();
        times(&self.v[..n * m], m, y, &mut self.x[..n * m]);
        times(&self.w[..n * m], m, y, &mut self.v[..n * m]);
        let squares = self.v[..n * m]
            .par_chunks(m * 256)
            .zip(self.x[..n * m].par_chunks(m * 256))
            .map(|(lx, x)| {
                let mut sums = vec![0.0; m];
                for (lx_row, x_row) in lx.chunks_exact(m).zip(x.chunks_exact(m)) {
                    for (j, sum) in sums.iter_mut().enumerate() {
                        let r = lx_row[j] - theta[j] * x_row[j];
                        *sum += r * r;
                    }
                }
                sums
            })
            .reduce(
                || vec![0.0; m],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                    a
                },
            );
        let residual = squares.into_iter().map(f64::sqrt).collect();
        Ok(Ritz { theta, residual })
    }

    /// Moves the first `count` Ritz vectors of `x` (width `m`) to the locked columns.
    fn lock(&mut self, m: usize, theta: &[f64], count: usize) {
        let n = self.lap.n;
        for (j, &value) in theta.iter().enumerate().take(count) {
            let column = 1 + self.values.len();
            let target = &mut self.locked[column * n..(column + 1) * n];
            for (t, row) in target.iter_mut().zip(self.x.chunks_exact(m)) {
                *t = row[j];
            }
            self.values.push(value);
        }
    }
}

/// Degree of the next filter: enough to reduce the worst wanted residual by `reduction`
/// (at the growth rate of the worst wanted Ritz value `worst_theta` below the cut `a`), within
/// [`MIN_DEGREE`]..=[`MAX_DEGREE`] and without amplifying the smallest known value `floor`
/// more than [`AMPLIFICATION`] times the cut.
fn degree(a: f64, b: f64, worst_theta: f64, floor: f64, reduction: f64) -> usize {
    let (c, e) = ((b + a) / 2.0, (b - a) / 2.0);
    let growth = |x: f64| ((c - x) / e).max(1.0).acosh();
    let rate = growth(worst_theta).max(1e-12);
    let need = reduction.max(2.0).ln() / rate;
    let cap = AMPLIFICATION.ln() / growth(floor).max(1e-12);
    let chosen = need.min(cap).min(MAX_DEGREE as f64).ceil();
    (chosen as usize).max(MIN_DEGREE)
}

/// Columns per panel of the filter's sparse products: a `n x PANEL` panel (12.8 MB at
/// 200,000 nodes) fits the last-level cache.
const PANEL: usize = 8;

/// One sparse product on a panel combined row by row: `f((L Y)_ij, Y_ij, &mut out_ij)` for
/// the node-major `n x PANEL` panels `y` and `out`.
fn step<F>(lap: &ComponentLaplacian, y: &[f64], out: &mut [f64], f: F)
where
    F: Fn(f64, f64, &mut f64) + Sync,
{
    let (offsets, cols, values, diag) = lap.rows();
    out.par_chunks_mut(PANEL)
        .with_min_len(256)
        .enumerate()
        .for_each(|(i, out_row)| {
            let own = &y[i * PANEL..(i + 1) * PANEL];
            let mut product = [0.0; PANEL];
            let d = diag[i];
            product.iter_mut().zip(own).for_each(|(p, &v)| *p = d * v);
            let range = offsets[i]..offsets[i + 1];
            for (&j, &a) in cols[range.clone()].iter().zip(&values[range]) {
                let row = &y[j * PANEL..(j + 1) * PANEL];
                product.iter_mut().zip(row).for_each(|(p, &v)| *p += a * v);
            }
            for ((o, &p), &v) in out_row.iter_mut().zip(&product).zip(own) {
                f(p, v, o);
            }
        });
}

/// Copies columns `first..first + width` of the node-major block `v` (width `m`) into the
/// panel (zeros past `width`).
fn gather(v: &[f64], m: usize, first: usize, width: usize, panel: &mut [f64]) {
    panel
        .par_chunks_mut(PANEL)
        .zip(v.par_chunks(m))
        .for_each(|(target, row)| {
            target[..width].copy_from_slice(&row[first..first + width]);
            target[width..].fill(0.0);
        });
}

/// Copies the panel's first `width` columns back into columns `first..first + width` of `v`.
fn scatter(panel: &[f64], v: &mut [f64], m: usize, first: usize, width: usize) {
    v.par_chunks_mut(m)
        .zip(panel.par_chunks(PANEL))
        .for_each(|(row, source)| row[first..first + width].copy_from_slice(&source[..width]));
}

/// Rows per task of the block products: the tall-skinny products are split into row blocks
/// on the library's pool (each a sequential GEMM), so no second thread pool spins beside it.
const ROWS: usize = 2048;

/// `A^T B` for node-major blocks `a` (`n x m`) and `b` (`n x c`).
fn inner(a: &[f64], b: &[f64], m: usize, c: usize) -> Mat<f64> {
    a.par_chunks(ROWS * m)
        .zip(b.par_chunks(ROWS * c))
        .map(|(a, b)| {
            let count = a.len() / m;
            let mut part = Mat::<f64>::zeros(m, c);
            matmul(
                part.as_mut(),
                Accum::Replace,
                MatRef::from_row_major_slice(a, count, m).transpose(),
                MatRef::from_row_major_slice(b, count, c),
                1.0,
                Par::Seq,
            );
            part
        })
        .reduce(|| Mat::<f64>::zeros(m, c), |a, b| a + b)
}

/// `out = A Y` for the node-major block `a` (`n x m`) and a small `m x c` matrix `y`, `out`
/// node-major `n x c`.
fn times(a: &[f64], m: usize, y: MatRef<'_, f64>, out: &mut [f64]) {
    let c = y.ncols();
    out.par_chunks_mut(ROWS * c)
        .zip(a.par_chunks(ROWS * m))
        .for_each(|(out, a)| {
            let count = a.len() / m;
            matmul(
                MatMut::from_row_major_slice_mut(out, count, c),
                Accum::Replace,
                MatRef::from_row_major_slice(a, count, m),
                y,
                1.0,
                Par::Seq,
            );
        });
}

/// Copies columns `first..first + width` of the node-major block `from` (width `m`) into
/// `to` (width `width`).
fn copy_columns(from: &[f64], m: usize, first: usize, to: &mut [f64], width: usize) {
    to[..from.len() / m * width]
        .par_chunks_mut(width)
        .zip(from.par_chunks(m))
        .for_each(|(target, row)| target.copy_from_slice(&row[first..first + width]));
}

/// One SVQB pass on the node-major block `v` (width `m`), scratch `x`: `V <- V D U S^-1/2`
/// for `D^-1/2 V^T V D^-1/2 = U S U^T` (`D` the Gram diagonal), dropping the directions with
/// `S` below [`DROP`] times its largest. The `kept` orthonormal columns are written to `v`
/// with width `kept`; returns `kept`.
fn svqb(v: &mut [f64], x: &mut [f64], n: usize, m: usize) -> Result<usize> {
    let gram = inner(&v[..n * m], &v[..n * m], m, m);
    let scale: Vec<f64> = (0..m)
        .map(|j| {
            let d = gram[(j, j)];
            if d > 0.0 && d.is_finite() {
                1.0 / d.sqrt()
            } else {
                0.0
            }
        })
        .collect();
    let scaled = Mat::<f64>::from_fn(m, m, |i, j| {
        0.5 * (gram[(i, j)] + gram[(j, i)]) * scale[i] * scale[j]
    });
    let eigen = SelfAdjointEigen::new(scaled.as_ref(), Side::Lower).map_err(|_| {
        TrainingError::Numerical {
            arg: "edges",
            message: "the Gram eigenproblem did not converge".into(),
        }
    })?;
    let s = eigen.S().column_vector();
    let largest = (0..m).map(|j| s[j]).fold(0.0, f64::max);
    let keep: Vec<usize> = (0..m)
        .filter(|&j| s[j] > DROP * largest && s[j].is_finite())
        .collect();
    let kept = keep.len();
    let u = eigen.U();
    let transform = Mat::<f64>::from_fn(m, kept, |i, c| {
        let j = keep[c];
        scale[i] * u[(i, j)] / s[j].sqrt()
    });
    times(&v[..n * m], m, transform.as_ref(), &mut x[..n * kept]);
    v[..n * kept].copy_from_slice(&x[..n * kept]);
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::super::laplacian::Adjacency;
    use super::super::test_graphs::{dense_smallest, random_laplacian};
    use super::*;

    #[test]
    fn matches_the_dense_spectrum_on_expanders() {
        for (n, chords, normalized, want) in [
            (1500, 6000, true, 12),
            (1200, 4000, false, 30),
            (800, 400, true, 5),
        ] {
            let lap = random_laplacian(n, chords, normalized);
            let exact = dense_smallest(&lap, want);
            let tol = 1e-10 * lap.norm_bound;
            let got = smallest_nonzero(&lap, want, 7, tol, 1000).unwrap();
            for (g, w) in got.iter().zip(&exact) {
                assert!((g - w).abs() < 1e-9, "n {n}: got {g}, want {w}");
            }
        }
    }

    #[test]
    fn non_convergence_names_max_iterations_and_the_residual() {
        let lap = random_laplacian(2000, 8000, true);
        let error = smallest_nonzero(&lap, 10, 1, 1e-12, 1).unwrap_err();
        assert_eq!(error.arg(), "max_iterations");
        let message = error.to_string();
        assert!(
            message.contains("did not converge in 1 iterations"),
            "{message}"
        );
        assert!(message.contains("largest residual"), "{message}");
    }

    #[test]
    fn degree_grows_with_the_reduction_and_respects_the_caps() {
        let low = degree(0.5, 2.0, 0.45, 0.4, 1e2);
        let high = degree(0.5, 2.0, 0.45, 0.4, 1e10);
        assert!(MIN_DEGREE <= low && low < high && high <= MAX_DEGREE);
        // A value far below the cut caps the degree (amplification).
        // a = 1, b = 2, floor 0: t = 3, ln(1e10) / acosh(3) = 13.06.
        assert_eq!(degree(1.0, 2.0, 0.99, 0.0, 1e10), 14);
    }

    #[test]
    fn breadth_first_levels_tell_expanders_from_grids() {
        let expander = random_laplacian(30_000, 150_000, true);
        assert!(is_expander(&expander).unwrap());
        // A 200 x 200 grid: levels of at most 200 nodes.
        let side = 200;
        let mut edges = Vec::new();
        for i in 0..side {
            for j in 0..side {
                if i + 1 < side {
                    edges.push([i * side + j, (i + 1) * side + j]);
                }
                if j + 1 < side {
                    edges.push([i * side + j, i * side + j + 1]);
                }
            }
        }
        let n = side * side;
        let adjacency = Adjacency::build(n, &edges, None).unwrap();
        let nodes: Vec<usize> = (0..n).collect();
        let grid = ComponentLaplacian::build(&adjacency, &nodes, &nodes, true).unwrap();
        assert!(!is_expander(&grid).unwrap());
        assert!(!is_expander(&random_laplacian(5000, 25_000, true)).unwrap());
    }
}
