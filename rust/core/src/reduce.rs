//! Reductions shared by the kernels: a running max or sum is a serial dependency chain that
//! does not vectorise (and an ordered float max cannot be reassociated by the compiler), so
//! these keep [`LANES`] independent accumulators and combine them at the end.

use crate::simd_dispatch;

use crate::float::Float;

/// Independent accumulators (one 512-bit register of `f32`).
pub const LANES: usize = 16;

/// Terms per full block of [`LaneSum`]: four per lane.
pub const SUM_BLOCK: usize = 4 * LANES;

/// `values` added left to right from +0. (`Iterator::sum` of floats starts from -0, so an empty
/// sum would be -0: a loss or norm over nothing would print as `-0.0`.)
pub fn ordered_sum(values: &[f64]) -> f64 {
    values.iter().fold(0.0, |sum, &value| sum + value)
}

/// The largest value of `values` (`-inf` for an empty slice; NaN-free input assumed).
#[simd_dispatch]
pub fn max_value<T: Float>(values: &[T]) -> T {
    let mut lanes = [T::from_f64(f64::NEG_INFINITY); LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, &value) in lanes.iter_mut().zip(chunk) {
            *lane = if value > *lane { value } else { *lane };
        }
    }
    let mut best = T::from_f64(f64::NEG_INFINITY);
    for &value in lanes.iter().chain(chunks.remainder()) {
        if value > best {
            best = value;
        }
    }
    best
}

/// The smallest value of `values` (`+inf` for an empty slice; NaN-free input assumed).
#[simd_dispatch]
pub fn min_value<T: Float>(values: &[T]) -> T {
    let mut lanes = [T::from_f64(f64::INFINITY); LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, &value) in lanes.iter_mut().zip(chunk) {
            *lane = if value < *lane { value } else { *lane };
        }
    }
    let mut best = T::from_f64(f64::INFINITY);
    for &value in lanes.iter().chain(chunks.remainder()) {
        if value < best {
            best = value;
        }
    }
    best
}

/// A term of a [`LaneSum`], computable in any float type: in the element type for full blocks,
/// in `f64` for a ragged block (so a ragged block of squares is summed exactly).
pub trait Term: Copy {
    /// The term of value `x`.
    fn of<F: Float>(self, x: F) -> F;
}

/// The term `x^2`.
#[derive(Debug, Clone, Copy)]
pub struct Square;

impl Term for Square {
    #[inline(always)]
    fn of<F: Float>(self, x: F) -> F {
        x * x
    }
}

/// The term `x` itself.
#[derive(Debug, Clone, Copy)]
pub struct Value;

impl Term for Value {
    #[inline(always)]
    fn of<F: Float>(self, x: F) -> F {
        x
    }
}

/// A sum of terms accumulated in `f64`, fed block by block. A full block of [`SUM_BLOCK`]
/// values has its terms summed in the element type, four per lane (a relative error below 3e-7
/// for `f32`, at a quarter of the conversions), then added to `f64` lane totals; a shorter block
/// is added term by term in `f64`. The result depends only on the values and the block
/// boundaries, never on the CPU (no FMA) or the thread count.
#[derive(Debug, Clone, Copy)]
pub struct LaneSum {
    lanes: [f64; LANES],
    tail: f64,
}

impl Default for LaneSum {
    fn default() -> Self {
        Self::new()
    }
}

impl LaneSum {
    /// An empty sum.
    #[inline(always)]
    pub fn new() -> Self {
        Self {
            lanes: [0.0; LANES],
            tail: 0.0,
        }
    }

    /// Adds `term.of(x)` for every `x` of one block (at most [`SUM_BLOCK`] values).
    #[inline(always)]
    pub fn add_block<T: Float>(&mut self, block: &[T], term: impl Term) {
        if block.len() == SUM_BLOCK {
            let mut partial = [T::ZERO; LANES];
            for row in block.chunks_exact(LANES) {
                for (sum, &x) in partial.iter_mut().zip(row) {
                    *sum += term.of(x);
                }
            }
            for (total, sum) in self.lanes.iter_mut().zip(partial) {
                *total += sum.to_f64();
            }
        } else {
            for &x in block {
                self.tail += term.of(x.to_f64());
            }
        }
    }

    /// The sum so far.
    #[inline(always)]
    pub fn total(&self) -> f64 {
        self.lanes.iter().fold(self.tail, |sum, &lane| sum + lane)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_and_sums_match_sequential_ones() {
        let values: Vec<f32> = (0..203).map(|i| ((i * 37) % 101) as f32 - 50.5).collect();
        assert_eq!(max_value(&values), 49.5);
        assert_eq!(min_value(&values), -50.5);
        assert_eq!(max_value::<f64>(&[]), f64::NEG_INFINITY);
        let mut sum = LaneSum::new();
        for block in values.chunks(SUM_BLOCK) {
            sum.add_block(block, Square);
        }
        let want: f64 = values.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
        assert!(
            (sum.total() - want).abs() <= want * 3e-7,
            "{} vs {want}",
            sum.total()
        );
        assert_eq!(ordered_sum(&[]).to_bits(), 0.0f64.to_bits());
    }
}
