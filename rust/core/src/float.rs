//! The floating-point element types the kernels run on (`f32` and `f64`).

use std::fmt::{Debug, Display};
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// A real scalar the kernels accept: implemented for `f32` and `f64`.
///
/// Besides arithmetic it carries the two things the kernels need per type: a vectorisable
/// `exp` and a conversion to and from `f64` (statistics such as log-sum-exp are accumulated in
/// `f64` whatever the element type, so that losses near zero keep their relative precision).
pub trait Float:
    Copy
    + Send
    + Sync
    + Debug
    + Display
    + Default
    + PartialOrd
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
{
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// Smallest positive normal value.
    const MIN_POSITIVE: Self;
    /// Largest finite value.
    const MAX: Self;
    /// Size of one element in bytes.
    const BYTES: usize;
    /// Name of the type as NumPy spells it.
    const NAME: &'static str;

    /// Converts from `f64`, rounding to nearest.
    fn from_f64(value: f64) -> Self;
    /// Widens to `f64` exactly.
    fn to_f64(self) -> f64;
    /// `e^self`, branch-free so that loops over slices vectorise; exact to about one ulp.
    fn exp_fast(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// True unless NaN or infinite.
    fn is_finite(self) -> bool;
    /// The larger of two values (NaN-free inputs assumed).
    fn max_of(self, other: Self) -> Self;
    /// `self * a + b` with a single rounding. Fast only where the CPU has FMA (otherwise a
    /// library call), so kernels use it only in code compiled for FMA.
    fn mul_add(self, a: Self, b: Self) -> Self;
}

impl Float for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const MIN_POSITIVE: Self = f32::MIN_POSITIVE;
    const MAX: Self = f32::MAX;
    const BYTES: usize = 4;
    const NAME: &'static str = "float32";

    #[inline(always)]
    fn from_f64(value: f64) -> Self {
        value as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn exp_fast(self) -> Self {
        exp_f32(self)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
    #[inline(always)]
    fn max_of(self, other: Self) -> Self {
        if self > other {
            self
        } else {
            other
        }
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        f32::mul_add(self, a, b)
    }
}

impl Float for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const MIN_POSITIVE: Self = f64::MIN_POSITIVE;
    const MAX: Self = f64::MAX;
    const BYTES: usize = 8;
    const NAME: &'static str = "float64";

    #[inline(always)]
    fn from_f64(value: f64) -> Self {
        value
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn exp_fast(self) -> Self {
        exp_f64(self)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
    #[inline(always)]
    fn max_of(self, other: Self) -> Self {
        if self > other {
            self
        } else {
            other
        }
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        f64::mul_add(self, a, b)
    }
}

/// Branch-free single-precision `exp`: Cody-Waite reduction `x = n ln2 + r`, `|r| <= ln2/2`,
/// a degree-7 Taylor polynomial for `e^r` (truncation error below 1e-8 relative), and `2^n`
/// built from the exponent bits. Inputs below the smallest normal result give 0.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding 1.5 * 2^23 rounds to the nearest integer and leaves it in the low mantissa bits,
    // so neither a rounding call nor a float-to-int conversion stops vectorisation.
    const ROUNDER: f32 = 12_582_912.0;
    let clamped = x.clamp(-87.0, 88.3);
    let shifted = clamped * LOG2_E + ROUNDER;
    let n = shifted - ROUNDER;
    let n_bits = shifted.to_bits().wrapping_sub(ROUNDER.to_bits());
    let r = (clamped - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    let scale = f32::from_bits(n_bits.wrapping_add(127) << 23);
    let value = p * scale;
    if x < -87.0 {
        0.0
    } else if x > 88.3 {
        f32::INFINITY
    } else {
        value
    }
}

/// Branch-free double-precision `exp`, same scheme as [`exp_f32`] with a degree-12 polynomial
/// (truncation error below 1e-16 relative).
#[inline(always)]
fn exp_f64(x: f64) -> f64 {
    const LOG2_E: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const ROUNDER: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52, see exp_f32
    let clamped = x.clamp(-708.0, 709.0);
    let shifted = clamped * LOG2_E + ROUNDER;
    let n = shifted - ROUNDER;
    let n_bits = shifted.to_bits().wrapping_sub(ROUNDER.to_bits());
    let r = (clamped - n * LN2_HI) - n * LN2_LO;
    const COEFFS: [f64; 13] = [
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ];
    let mut p = COEFFS[0];
    for &c in &COEFFS[1..] {
        p = p * r + c;
    }
    let scale = f64::from_bits(n_bits.wrapping_add(1023) << 52);
    let value = p * scale;
    if x < -708.0 {
        0.0
    } else if x > 709.0 {
        f64::INFINITY
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_f32_matches_std_to_two_ulp() {
        let mut x = -87.0f32;
        while x < 88.0 {
            let got = exp_f32(x);
            let want = (x as f64).exp();
            let rel = ((got as f64 - want) / want).abs();
            assert!(rel < 2.5e-7, "x={x} got={got} want={want} rel={rel}");
            x += 0.0137;
        }
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(-1000.0), 0.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
    }

    #[test]
    fn exp_f64_matches_std() {
        let mut x = -700.0f64;
        while x < 700.0 {
            let got = exp_f64(x);
            let want = x.exp();
            let rel = ((got - want) / want).abs();
            assert!(rel < 1e-15, "x={x} got={got} want={want} rel={rel}");
            x += 0.0731;
        }
        assert_eq!(exp_f64(0.0), 1.0);
        assert_eq!(exp_f64(-1e6), 0.0);
    }
}
