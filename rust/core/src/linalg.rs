//! Dense linear-algebra building blocks shared by every kernel: the GEMM entry point, dot
//! products and eps-guarded row normalisation with its backward pass.

use crate::reduce::LANES;
use crate::simd_dispatch;
use gemm::Parallelism;
use rayon::prelude::*;

use crate::error::{Result, TrainingError};
use crate::float::Float;

pub use crate::alloc::filled_vec;

/// Norm floor of the cosine normalisation `x / max(||x||, NORM_EPS)` (as `torch.nn.functional.normalize`).
pub const NORM_EPS: f64 = 1e-12;

/// A vector of `len` zeros from the allocator's zeroed memory (`calloc`: large blocks come
/// straight from the OS already zeroed, so no separate zero-filling pass runs), or
/// [`TrainingError::OutOfMemory`] naming `arg`.
pub fn zeroed_vec<T: Float>(arg: &'static str, len: usize) -> Result<Vec<T>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let out_of_memory = || TrainingError::OutOfMemory {
        arg,
        bytes: len.saturating_mul(T::BYTES),
    };
    let layout = std::alloc::Layout::array::<T>(len).map_err(|_| out_of_memory())?;
    // SAFETY: `layout` has non-zero size; a null return is handled. All-zero bits are 0.0 for
    // f32 and f64 (the only `Float` types), and the block was allocated by the global
    // allocator with exactly the layout `Vec<T>` uses for capacity `len`.
    unsafe {
        let ptr = std::alloc::alloc_zeroed(layout).cast::<T>();
        if ptr.is_null() {
            return Err(out_of_memory());
        }
        advise_huge_pages(ptr.cast::<u8>(), layout.size());
        Ok(Vec::from_raw_parts(ptr, len, len))
    }
}

/// Blocks at least this large are backed by transparent huge pages where the OS allows it.
const HUGE_PAGE_MIN_BYTES: usize = 8 << 20;

/// Asks Linux to back the 2 MiB-aligned interior of a fresh (untouched) block with huge pages
/// (`madvise(MADV_HUGEPAGE)`, as NumPy and PyTorch do for large arrays): streaming kernels
/// then take far fewer TLB misses. Best effort: a refusal changes nothing.
fn advise_huge_pages(ptr: *mut u8, bytes: usize) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        if bytes < HUGE_PAGE_MIN_BYTES {
            return;
        }
        let start = (ptr as usize).div_ceil(HUGE) * HUGE;
        let end = (ptr as usize + bytes) / HUGE * HUGE;
        if end > start {
            // SAFETY: the range lies inside the block just allocated; MADV_HUGEPAGE only
            // changes how the kernel backs these pages, never their contents.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, bytes, HUGE_PAGE_MIN_BYTES);
}

/// A borrowed row-major matrix: `rows x cols` elements, row `i` at `data[i*cols..(i+1)*cols]`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a, T> {
    /// Row-major elements, exactly `rows * cols` of them.
    pub data: &'a [T],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns (the row length).
    pub cols: usize,
}

impl<'a, T: Float> MatRef<'a, T> {
    /// Wraps `data` as a `rows x cols` matrix. Panics if the length disagrees (a caller bug,
    /// never user input: callers validate shapes first).
    pub fn new(data: &'a [T], rows: usize, cols: usize) -> Self {
        assert_eq!(
            data.len(),
            rows * cols,
            "MatRef: data length does not match shape"
        );
        Self { data, rows, cols }
    }

    /// Row `i` as a slice.
    #[inline]
    pub fn row(&self, i: usize) -> &'a [T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Rows `start..end` as a matrix.
    pub fn rows_range(&self, start: usize, end: usize) -> MatRef<'a, T> {
        MatRef::new(
            &self.data[start * self.cols..end * self.cols],
            end - start,
            self.cols,
        )
    }
}

/// A borrowed matrix with arbitrary positive strides (in elements): element `(i, j)` at
/// `data[i * row_stride + j * col_stride]`. Lets the search read a Fortran-ordered or sliced
/// corpus tile by tile ([`StridedRef::rows_into`]) instead of copying it whole.
#[derive(Debug, Clone, Copy)]
pub struct StridedRef<'a, T> {
    data: &'a [T],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns (the row length).
    pub cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T: Float> StridedRef<'a, T> {
    /// Wraps `data` (element `(0, 0)` first) as a strided `rows x cols` matrix; `None` when a
    /// stride is zero or the last element lies outside `data`.
    pub fn new(
        data: &'a [T],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Option<Self> {
        let view = Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        };
        if rows == 0 || cols == 0 {
            return Some(view);
        }
        let last = (rows - 1)
            .checked_mul(row_stride)?
            .checked_add((cols - 1).checked_mul(col_stride)?)?;
        (row_stride > 0 && col_stride > 0 && last < data.len()).then_some(view)
    }

    /// The view as a row-major matrix when its rows are contiguous and packed.
    pub fn as_contiguous(&self) -> Option<MatRef<'a, T>> {
        let len = self.rows * self.cols;
        let packed = self.rows <= 1 || self.row_stride == self.cols;
        (packed && (self.cols <= 1 || self.col_stride == 1) && len <= self.data.len())
            .then(|| MatRef::new(&self.data[..len], self.rows, self.cols))
    }

    /// Rows `start..end` as a row-major matrix: borrowed when contiguous, otherwise packed into
    /// `buffer` (which must hold `(end - start) * cols` elements), reading in the order of
    /// the smaller stride so that a Fortran-ordered view is read sequentially.
    pub fn rows_into<'b>(&self, start: usize, end: usize, buffer: &'b mut [T]) -> MatRef<'b, T>
    where
        'a: 'b,
    {
        if let Some(whole) = self.as_contiguous() {
            return whole.rows_range(start, end);
        }
        let (rows, cols) = (end - start, self.cols);
        let out = &mut buffer[..rows * cols];
        if self.col_stride <= self.row_stride {
            for (i, row) in out.chunks_exact_mut(cols).enumerate() {
                let base = (start + i) * self.row_stride;
                for (j, value) in row.iter_mut().enumerate() {
                    *value = self.data[base + j * self.col_stride];
                }
            }
        } else {
            for j in 0..cols {
                let base = j * self.col_stride + start * self.row_stride;
                for i in 0..rows {
                    out[i * cols + j] = self.data[base + i * self.row_stride];
                }
            }
        }
        MatRef::new(out, rows, cols)
    }
}

impl<'a, T: Float> From<MatRef<'a, T>> for StridedRef<'a, T> {
    fn from(matrix: MatRef<'a, T>) -> Self {
        Self {
            data: matrix.data,
            rows: matrix.rows,
            cols: matrix.cols,
            row_stride: matrix.cols,
            col_stride: 1,
        }
    }
}

/// How a GEMM treats its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accumulate {
    /// `dst = scale * product`.
    Overwrite,
    /// `dst += scale * product`.
    Add,
}

/// Which operand layout a product uses (all matrices are row-major in memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    /// `dst (m x n) = lhs (m x k) * rhs (n x k)^T`: similarity tiles.
    NT,
    /// `dst (m x n) = lhs (m x k) * rhs (k x n)`.
    NN,
    /// `dst (m x n) = lhs (k x m)^T * rhs (k x n)`.
    TN,
}

/// Upper bound of the bytes one `gemm::gemm` call allocates for `dst (m x n) = lhs (m x k) *
/// rhs (k x n)` with a row-major `dst`, computed as gemm-common 0.19's `gemm_basic_generic`
/// sizes its packing buffer (packed rhs panel `kc x nc` plus, for short lhs, the pre-packed
/// lhs `kc x m`), for the larger of its two x86 kernels (AVX-512: 4 x 6 registers, FMA:
/// 2 x 6), plus one thread's L2 slab (a thread-local buffer gemm allocates on a thread's first
/// call) and alignment slack.
pub fn gemm_workspace_bytes<T: Float>(m: usize, n: usize, k: usize, parallel: bool) -> usize {
    use gemm_common::cache::{kernel_params, KernelParams, CACHE_INFO};
    // gemm transposes a row-major destination (its column stride is the smaller one).
    let (m, n) = (n, m);
    let size = T::BYTES;
    let l2 = CACHE_INFO[1].cache_bytes;
    let round_up = |x: usize, to: usize| x.div_ceil(to).saturating_mul(to);
    let packing = |mr: usize, nr: usize| -> usize {
        let KernelParams { kc, mc, nc } = if m <= 64 && n <= 64 {
            let kc = k.clamp(1, 512);
            let mc = (l2 / size / kc) / mr * mr;
            KernelParams {
                kc,
                mc,
                nc: round_up(n, nr),
            }
        } else {
            kernel_params(m, n, k, mr, nr, size)
        };
        let nc = match (nc, parallel) {
            (0, true) => round_up(n, nr),
            (0, false) => 128 * nr,
            (nc, _) => nc,
        };
        let rhs = kc.saturating_mul(nc);
        let lhs = if m <= 2 * mc {
            kc.saturating_mul(round_up(m, mr))
        } else {
            0
        };
        rhs.saturating_add(lhs).saturating_mul(size)
    };
    let lanes_512 = 64 / size;
    let widest = packing(4 * lanes_512, 6).max(packing(lanes_512, 6));
    widest.saturating_add(l2).saturating_add(4096)
}

/// The one GEMM of the crate: `dst = [dst +] scale * op(lhs) * op(rhs)`, parallel over the
/// current rayon pool when `parallel`.
///
/// `lhs`, `rhs` and `dst` are row-major with the shapes given by `product`; `k` is inferred.
///
/// gemm allocates its packing buffers with an infallible allocation (an abort when memory is
/// short); the call is therefore preceded by a probe allocation of their size
/// ([`gemm_workspace_bytes`]) so that a shortage is [`TrainingError::OutOfMemory`] naming `arg`
/// instead. The probe is freed just before the call, whose allocation then reuses the space.
#[allow(clippy::too_many_arguments)]
pub fn gemm_into<T: Float>(
    arg: &'static str,
    product: Product,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    dst: &mut [T],
    scale: T,
    accumulate: Accumulate,
    parallel: bool,
) -> Result<()> {
    let (m, k, lhs_rs, lhs_cs) = match product {
        Product::NT | Product::NN => (lhs.rows, lhs.cols, lhs.cols as isize, 1isize),
        Product::TN => (lhs.cols, lhs.rows, 1isize, lhs.cols as isize),
    };
    let (n, rhs_k, rhs_rs, rhs_cs) = match product {
        // rhs^T is k x n with element (p, j) = rhs[j, p]
        Product::NT => (rhs.rows, rhs.cols, 1isize, rhs.cols as isize),
        Product::NN | Product::TN => (rhs.cols, rhs.rows, rhs.cols as isize, 1isize),
    };
    assert_eq!(k, rhs_k, "gemm_into: inner dimensions differ");
    assert_eq!(
        dst.len(),
        m * n,
        "gemm_into: destination has the wrong size"
    );
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if accumulate == Accumulate::Overwrite {
            dst.fill(T::ZERO);
        }
        return Ok(());
    }
    crate::alloc::probe(arg, gemm_workspace_bytes::<T>(m, n, k, parallel))?;
    let parallelism = if parallel && rayon::current_num_threads() > 1 {
        Parallelism::Rayon(0)
    } else {
        Parallelism::None
    };
    let read_dst = accumulate == Accumulate::Add;
    // SAFETY: every pointer/stride pair describes memory inside the slices checked above
    // (lhs is m x k, rhs is k x n, dst is m x n, all row-major per the strides chosen).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            read_dst,
            lhs.data.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.data.as_ptr(),
            rhs_cs,
            rhs_rs,
            T::ONE,
            scale,
            false,
            false,
            false,
            parallelism,
        );
    }
    Ok(())
}

/// Dot product of two equal-length slices, with several accumulators so it vectorises.
#[simd_dispatch]
pub fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::ZERO; LANES];
    let chunks = a.len() / LANES;
    for c in 0..chunks {
        let (ca, cb) = (
            &a[c * LANES..(c + 1) * LANES],
            &b[c * LANES..(c + 1) * LANES],
        );
        for l in 0..LANES {
            acc[l] += ca[l] * cb[l];
        }
    }
    let mut tail = T::ZERO;
    for i in chunks * LANES..a.len() {
        tail += a[i] * b[i];
    }
    let mut total = tail;
    for value in acc {
        total += value;
    }
    total
}

/// `y += alpha * x`.
#[simd_dispatch]
pub fn axpy<T: Float>(alpha: T, x: &[T], y: &mut [T]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// `y = alpha * x`.
#[simd_dispatch]
pub fn scaled_copy<T: Float>(alpha: T, x: &[T], y: &mut [T]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = alpha * xi;
    }
}

/// `y = x / divisor` (a true division, as `torch.nn.functional.normalize` does).
#[simd_dispatch]
fn divided_copy<T: Float>(x: &[T], divisor: T, y: &mut [T]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = xi / divisor;
    }
}

/// The L2 norm of one row, computed without overflow: the one norm every cosine path uses.
///
/// `||x|| = divisor / scale`. When the sum of squares is finite in `T` (every row whose norm is
/// below `sqrt(T::MAX)`, about 1.8e19 for `f32`), `scale` is 1 and `divisor` is
/// `max(sqrt(x . x), NORM_EPS)`, exactly as before. Otherwise `scale` is the power of two that
/// brings the largest `|x_i|` into `[1, 2)`, and `divisor = ||x * scale||` (at most
/// `2 sqrt(D)`): multiplying by a power of two is exact, so `x * scale / divisor` is the unit
/// row to rounding. Underflow of the squares needs no such care: it only matters for norms
/// far below the `NORM_EPS` floor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowNorm<T> {
    /// A power of two the row is multiplied by before use (1 unless its squares overflow).
    pub scale: T,
    /// `max(||x||, NORM_EPS)` when `scale` is 1, `||x * scale||` otherwise.
    pub divisor: T,
}

impl<T: Float> RowNorm<T> {
    /// The norm of `x` (finite input assumed).
    pub fn of(x: &[T]) -> Self {
        let squares = dot(x, x);
        if squares.is_finite() {
            return Self {
                scale: T::ONE,
                divisor: squares.sqrt().max_of(T::from_f64(NORM_EPS)),
            };
        }
        let largest = x.iter().fold(0.0f64, |m, &v| m.max(v.to_f64().abs()));
        let scale = T::from_f64(power_of_two(-binary_exponent(largest)));
        Self {
            scale,
            divisor: scaled_dot(x, scale, x, scale).sqrt(),
        }
    }

    /// `1 / divisor`: the factor that turns `x * scale` into the unit row.
    #[inline(always)]
    pub fn scaled_inverse(self) -> T {
        T::ONE / self.divisor
    }

    /// `1 / max(||x||, NORM_EPS)` rounded to `T` (subnormal for norms near `T::MAX`).
    #[inline(always)]
    pub fn inverse(self) -> T {
        if self.scale == T::ONE {
            T::ONE / self.divisor
        } else {
            self.scale * (T::ONE / self.divisor)
        }
    }

    /// True when the norm is above the `NORM_EPS` floor (the normalisation is differentiated
    /// as `x / ||x||`, not as `x / eps`).
    #[inline(always)]
    pub fn above_floor(self) -> bool {
        self.scale != T::ONE || self.divisor > T::from_f64(NORM_EPS)
    }

    /// `max(||x||, NORM_EPS)` in `f64` (exact for `f32` rows; infinite only for `f64` rows whose
    /// norm exceeds `f64::MAX`).
    pub fn value(self) -> f64 {
        self.divisor.to_f64() / self.scale.to_f64()
    }

    /// True when `||x||` itself is a finite `T`: inner products of the raw row with a unit
    /// vector then cannot overflow.
    pub fn is_representable(self) -> bool {
        self.value() <= T::MAX.to_f64()
    }
}

/// The exponent `e` of a positive normal `f64`: `2^e <= value < 2^(e+1)`.
fn binary_exponent(value: f64) -> i32 {
    ((value.to_bits() >> 52) & 0x7ff) as i32 - 1023
}

/// `2^e` for `-1074 <= e <= 1023`, exactly.
fn power_of_two(e: i32) -> f64 {
    if e >= -1022 {
        f64::from_bits(((e + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (e + 1074))
    }
}

/// `sum_i (a_i * sa) (b_i * sb)`: an inner product of two rows scaled by powers of two (see
/// [`RowNorm`]); equal to [`dot`] when both scales are 1.
pub fn scaled_dot<T: Float>(a: &[T], sa: T, b: &[T], sb: T) -> T {
    if sa == T::ONE && sb == T::ONE {
        return dot(a, b);
    }
    scaled_dot_kernel(a, sa, b, sb)
}

#[simd_dispatch]
fn scaled_dot_kernel<T: Float>(a: &[T], sa: T, b: &[T], sb: T) -> T {
    let mut acc = [T::ZERO; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let mut tail = T::ZERO;
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += (x * sa) * (y * sb);
    }
    for (ra, rb) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] += (ra[l] * sa) * (rb[l] * sb);
        }
    }
    acc.iter().fold(tail, |sum, &v| sum + v)
}

/// The cosine similarity `u_x . u_y` of two raw rows with their norms (see [`RowNorm`]), without
/// overflow; for rows of ordinary size it is `(x . y) / |x| / |y|` as before.
#[inline]
pub fn cosine<T: Float>(x: &[T], nx: RowNorm<T>, y: &[T], ny: RowNorm<T>) -> T {
    scaled_dot(x, nx.scale, y, ny.scale) * nx.scaled_inverse() * ny.scaled_inverse()
}

/// `y = x * scale / divisor` (a true division, as `torch.nn.functional.normalize` does).
#[simd_dispatch]
fn scaled_divided_copy<T: Float>(x: &[T], scale: T, divisor: T, y: &mut [T]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = (xi * scale) / divisor;
    }
}

/// Normalises one row in place, `x / max(||x||, NORM_EPS)` without overflow (see [`RowNorm`]),
/// returning its norm for [`normalize_rows_backward`].
pub fn normalize_row_in_place<T: Float>(x: &mut [T]) -> RowNorm<T> {
    let norm = RowNorm::of(x);
    divide_in_place(x, norm.scale, norm.divisor);
    norm
}

/// `x = x * scale / divisor` (a true division, as `torch.nn.functional.normalize` does).
#[simd_dispatch]
fn divide_in_place<T: Float>(x: &mut [T], scale: T, divisor: T) {
    if scale == T::ONE {
        x.iter_mut().for_each(|v| *v = *v / divisor);
    } else {
        x.iter_mut().for_each(|v| *v = (*v * scale) / divisor);
    }
}

/// Normalises every row of `x` to unit L2 norm, `x_i / max(||x_i||, NORM_EPS)`, into `out`
/// (`rows * cols` elements), in parallel, without overflow (see [`RowNorm`]). Returns each
/// row's norm, for [`normalize_rows_backward`].
pub fn normalize_rows_into<T: Float>(
    arg: &'static str,
    x: MatRef<'_, T>,
    out: &mut [T],
) -> Result<Vec<RowNorm<T>>> {
    assert_eq!(
        out.len(),
        x.data.len(),
        "normalize_rows_into: output has the wrong size"
    );
    let unit_norm = RowNorm {
        scale: T::ONE,
        divisor: T::ONE,
    };
    let mut norms = filled_vec(arg, x.rows, unit_norm)?;
    if x.cols == 0 {
        return Ok(norms);
    }
    let cols = x.cols;
    out.par_chunks_mut(cols)
        .zip(norms.par_iter_mut())
        .zip(x.data.par_chunks(cols))
        .for_each(|((out, norm), row)| {
            *norm = RowNorm::of(row);
            if norm.scale == T::ONE {
                divided_copy(row, norm.divisor, out);
            } else {
                scaled_divided_copy(row, norm.scale, norm.divisor, out);
            }
        });
    Ok(norms)
}

/// Back-propagates `grad` (w.r.t. the normalised rows `unit`) through `x -> x / max(||x||, eps)`,
/// in place: `g <- (g - u (u . g)) / ||x||` for rows above the floor, `g / eps` otherwise.
pub fn normalize_rows_backward<T: Float>(
    grad: &mut [T],
    unit: &[T],
    norms: &[RowNorm<T>],
    cols: usize,
) {
    if cols == 0 {
        return;
    }
    grad.par_chunks_mut(cols)
        .zip(unit.par_chunks(cols))
        .zip(norms.par_iter())
        .for_each(|((g, u), &norm)| {
            let inv = norm.inverse();
            if norm.above_floor() {
                let projection = dot(u, g);
                normalize_backward_row(g, u, projection, inv);
            } else {
                g.iter_mut().for_each(|v| *v *= inv);
            }
        });
}

#[simd_dispatch]
fn normalize_backward_row<T: Float>(g: &mut [T], u: &[T], projection: T, inv: T) {
    for (gi, &ui) in g.iter_mut().zip(u) {
        *gi = (*gi - ui * projection) * inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(product: Product, lhs: &MatRef<f64>, rhs: &MatRef<f64>) -> Vec<f64> {
        let (m, n, k) = match product {
            Product::NT => (lhs.rows, rhs.rows, lhs.cols),
            Product::NN => (lhs.rows, rhs.cols, lhs.cols),
            Product::TN => (lhs.cols, rhs.cols, lhs.rows),
        };
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for p in 0..k {
                    let a = match product {
                        Product::TN => lhs.data[p * lhs.cols + i],
                        _ => lhs.data[i * lhs.cols + p],
                    };
                    let b = match product {
                        Product::NT => rhs.data[j * rhs.cols + p],
                        _ => rhs.data[p * rhs.cols + j],
                    };
                    s += a * b;
                }
                out[i * n + j] = s;
            }
        }
        out
    }

    fn filled(len: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.5
            })
            .collect()
    }

    #[test]
    fn gemm_layouts_match_naive_products() {
        let (m, n, k) = (37, 29, 53);
        let a = filled(m * k, 1);
        let b_nt = filled(n * k, 2);
        let b_nn = filled(k * n, 3);
        let a_t = filled(k * m, 4);
        for (product, lhs, rhs) in [
            (Product::NT, MatRef::new(&a, m, k), MatRef::new(&b_nt, n, k)),
            (Product::NN, MatRef::new(&a, m, k), MatRef::new(&b_nn, k, n)),
            (
                Product::TN,
                MatRef::new(&a_t, k, m),
                MatRef::new(&b_nn, k, n),
            ),
        ] {
            let want = naive(product, &lhs, &rhs);
            let mut got = vec![1.0; m * n];
            gemm_into(
                "lhs",
                product,
                lhs,
                rhs,
                &mut got,
                0.5,
                Accumulate::Overwrite,
                true,
            )
            .unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!((g - 0.5 * w).abs() < 1e-12);
            }
            gemm_into(
                "lhs",
                product,
                lhs,
                rhs,
                &mut got,
                1.0,
                Accumulate::Add,
                false,
            )
            .unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!((g - 1.5 * w).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn normalize_handles_zero_rows_and_matches_definition() {
        let x = [3.0f64, 4.0, 0.0, 0.0];
        let mut unit = [0.0; 4];
        let norms = normalize_rows_into("x", MatRef::new(&x, 2, 2), &mut unit).unwrap();
        assert_eq!(unit, [0.6, 0.8, 0.0, 0.0]);
        let divisors: Vec<f64> = norms.iter().map(|n| n.divisor).collect();
        assert_eq!(divisors, vec![5.0, NORM_EPS]);
        let mut g = vec![1.0, 0.0, 2.0, 0.0];
        normalize_rows_backward(&mut g, &unit, &norms, 2);
        // d(x/|x|)/dx applied to (1, 0) at (3, 4): (I - u u^T)/5 * (1, 0) = (0.64, -0.48)/5
        assert!((g[0] - 0.128).abs() < 1e-15 && (g[1] + 0.096).abs() < 1e-15);
        assert_eq!(g[2], 2.0 / NORM_EPS);
    }

    #[test]
    fn norms_of_huge_rows_do_not_overflow() {
        for scale in [1.0f32, 1e19, 1e30, 1e38] {
            let x: Vec<f32> = (0..37).map(|i| (i as f32 - 18.0) / 7.0 * scale).collect();
            let want = x
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
                .sqrt();
            let norm = RowNorm::of(&x);
            assert!((norm.value() - want).abs() <= 1e-6 * want, "{scale}");
            assert_eq!(norm.scale == 1.0, scale < 1e19, "{scale}");
            assert_eq!(norm.is_representable(), want <= f64::from(f32::MAX));
            let mut unit = vec![0.0f32; 37];
            let norms = normalize_rows_into("x", MatRef::new(&x, 1, 37), &mut unit).unwrap();
            let reference: Vec<f32> = x.iter().map(|&v| (f64::from(v) / want) as f32).collect();
            for (u, r) in unit.iter().zip(&reference) {
                assert!((u - r).abs() <= 1e-6, "{scale}: {u} vs {r}");
            }
            assert_eq!(norms[0], norm);
            let inverse = f64::from(norm.inverse());
            assert!((inverse * want - 1.0).abs() < 1e-5, "{scale}: {inverse}");
        }
        let big = [f64::MAX, f64::MAX];
        let norm = RowNorm::of(&big);
        assert_eq!(norm.scale, 2f64.powi(-1023));
        assert!(norm.value().is_infinite() && !norm.is_representable());
        assert!((norm.divisor - 2f64.sqrt() * (f64::MAX * 2f64.powi(-1023))).abs() < 1e-15);
    }

    #[test]
    fn dot_matches_naive_for_awkward_lengths() {
        for len in [0usize, 1, 15, 16, 17, 100] {
            let a = filled(len, 5);
            let b = filled(len, 6);
            let want: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - want).abs() < 1e-12);
        }
    }
}
