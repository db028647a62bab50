//! The block loop shared by every optimizer pass: arrays are walked in blocks of [`BLOCK`]
//! elements, with a software prefetch [`PREFETCH_BYTES`] ahead in every array (the hardware
//! prefetchers alone leave a multi-stream update about 12% short of the memory bandwidth), and
//! the gradient's sum of squares accumulated block by block ([`LaneSum`]: squares of `f32`
//! above about 1.8e19 overflow to infinity, and callers handle a non-finite total by
//! rescaling).

use std::ops::Range;

use crate::float::Float;
use crate::reduce::{LaneSum, Square, SUM_BLOCK};

/// Elements per block: the unit of prefetching and of the sum-of-squares partials.
const BLOCK: usize = SUM_BLOCK;

/// How far ahead of the block being updated each array is prefetched.
const PREFETCH_BYTES: usize = 4096;

/// Bytes per cache line (x86-64 and most ARM cores).
const CACHE_LINE: usize = 64;

/// Asks the CPU to start loading the block [`PREFETCH_BYTES`] after element `start` of each
/// array in `streams` (arrays of `len` elements). Nothing is fetched past the end of an array.
#[inline(always)]
fn prefetch_ahead<T>(streams: &[*const T], start: usize, len: usize) {
    let ahead = start + PREFETCH_BYTES / size_of::<T>();
    if ahead >= len {
        return;
    }
    let bytes = (len - ahead).min(BLOCK) * size_of::<T>();
    for &stream in streams {
        let first = stream.wrapping_add(ahead).cast::<i8>();
        for offset in (0..bytes).step_by(CACHE_LINE) {
            prefetch(first.wrapping_add(offset));
        }
    }
}

/// Walks a chunk of `grad.len()` elements in blocks: prefetches ahead in every array of
/// `streams` (the chunk's arrays, all of that length), adds the squares of the block of `grad`
/// to a [`LaneSum`] when `probe` is set, then calls `update` with the block's index range.
/// Returns the sum of squares (0 without `probe`).
#[inline(always)]
pub(crate) fn for_each_block<T: Float>(
    streams: &[*const T],
    grad: &[T],
    probe: bool,
    mut update: impl FnMut(Range<usize>),
) -> f64 {
    let len = grad.len();
    let mut norm = LaneSum::new();
    for start in (0..len).step_by(BLOCK) {
        let block = start..len.min(start + BLOCK);
        prefetch_ahead(streams, start, len);
        if probe {
            norm.add_block(&grad[block.clone()], Square);
        }
        update(block);
    }
    norm.total()
}

/// A prefetch hint for the line holding `address` (into every cache level). A no-op off x86-64.
#[inline(always)]
fn prefetch(address: *const i8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults and reads nothing into the program, so
    // any address is sound (and callers only pass addresses inside their arrays).
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(address);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

/// Division by a value that stays fixed for a whole pass, correctly rounded (bit-identical to
/// `x / divisor`) but, on CPUs with FMA, without a divide instruction: divides are the slowest
/// arithmetic of the Adam update, and a multiply by the rounded reciprocal followed by two
/// Markstein corrections (`r = x - q d` exactly by FMA, `q += r / d` approximated by
/// `r * (1 / d)`) returns the correctly rounded quotient. The first correction makes the
/// quotient faithful; from a faithful quotient and a reciprocal within half an ulp,
/// Markstein's theorem makes the second one exact.
///
/// Valid for divisors in `(0, 1]` (a bias correction) and dividends that are zero, infinite,
/// NaN, or normal with magnitude below `sqrt(MAX)` (square roots of the element type): no
/// residual underflows and no quotient overflows there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConstantDivisor<T> {
    divisor: T,
    reciprocal: T,
}

impl<T: Float> ConstantDivisor<T> {
    /// Divides by `divisor` (in `(0, 1]`).
    pub(crate) fn new(divisor: T) -> Self {
        Self {
            divisor,
            reciprocal: T::ONE / divisor,
        }
    }

    /// `x / divisor`, correctly rounded. `fma` says the calling code is compiled for a CPU with
    /// FMA; without it this is a plain division (the same value).
    #[inline(always)]
    pub(crate) fn divide(self, x: T, fma: bool) -> T {
        if !fma {
            return x / self.divisor;
        }
        let first = x * self.reciprocal;
        let refined = self.correct(x, self.correct(x, first));
        // An infinite dividend makes the residual NaN; its quotient is the first product.
        if first.is_finite() {
            refined
        } else {
            first
        }
    }

    /// One Markstein correction of the quotient `q` of `x`.
    #[inline(always)]
    fn correct(self, x: T, q: T) -> T {
        let residual = (-q).mul_add(self.divisor, x);
        residual.mul_add(self.reciprocal, q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stream of `u64` (an LCG).
    fn lcg(seed: u64) -> impl Iterator<Item = u64> {
        let mut state = seed;
        std::iter::repeat_with(move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state
        })
    }

    /// The divisors the optimizers use: `sqrt(1 - beta2^t)` for common betas, plus random
    /// values in `(0, 1]` and the extremes of a binade.
    fn divisors() -> Vec<f64> {
        let mut all = vec![1.0, 0.5, f64::from(f32::from_bits(0x3f7f_ffff))];
        for beta2 in [0.999, 0.99, 0.98, 0.95, 0.9, 0.9999, 0.5] {
            for step in [1, 2, 3, 7, 10, 100, 1000, 12345] {
                all.push((1.0 - f64::powf(beta2, f64::from(step))).sqrt());
            }
        }
        all.extend(
            lcg(7)
                .take(40)
                .map(|bits| (bits >> 11) as f64 / (1u64 << 53) as f64),
        );
        all.retain(|&d| d > 0.0);
        all
    }

    #[test]
    fn f32_quotients_equal_division() {
        for divisor in divisors() {
            let divisor = divisor as f32;
            let exact = ConstantDivisor::new(divisor);
            // Every 97th significand of [1, 2), at several scales.
            for bits in (0x3f80_0000u32..0x4000_0000).step_by(97) {
                for scale in [1.0f32, 3.0e-20, 1.5e19] {
                    let x = f32::from_bits(bits) * scale;
                    let got = exact.divide(x, true);
                    assert_eq!(got.to_bits(), (x / divisor).to_bits(), "{x} / {divisor}");
                }
            }
        }
    }

    #[test]
    fn f64_quotients_equal_division() {
        for divisor in divisors() {
            let exact = ConstantDivisor::new(divisor);
            for bits in lcg(11).take(20_000) {
                let x = f64::from_bits(0x3ff0_0000_0000_0000 | (bits >> 12));
                for scale in [1.0, 1e-150, 1e150] {
                    let x = x * scale;
                    let got = exact.divide(x, true);
                    assert_eq!(got.to_bits(), (x / divisor).to_bits(), "{x} / {divisor}");
                }
            }
        }
    }

    #[test]
    fn special_dividends_follow_division() {
        let exact = ConstantDivisor::new(0.03f32);
        for x in [0.0f32, f32::INFINITY, f32::MIN_POSITIVE, 1.8e19] {
            assert_eq!(exact.divide(x, true), x / 0.03, "{x}");
        }
        assert!(exact.divide(f32::NAN, true).is_nan());
        assert_eq!(exact.divide(2.0, false), 2.0 / 0.03);
    }
}
