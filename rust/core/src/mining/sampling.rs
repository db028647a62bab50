//! Randomness for the sampling strategies: counter-based, so the random number attached to
//! `(seed, anchor, pool item)` is a pure function of the three (identical on any thread count
//! and any tiling), and exact weighted sampling without replacement by Gumbel-top-k keys.

/// SplitMix64's output function (Steele, Lea & Flood 2014): a bijective 64-bit mixer.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// The SplitMix64 stream of one anchor: element `j` is `mix64(state + (j + 1) * gamma)`.
#[derive(Debug, Clone, Copy)]
pub struct AnchorStream {
    state: u64,
}

impl AnchorStream {
    /// The stream for `anchor` under `seed` (`salt` separates independent streams).
    pub fn new(seed: u64, anchor: usize, salt: u64) -> Self {
        let state = mix64(mix64(seed ^ salt.wrapping_mul(GOLDEN_GAMMA)) ^ anchor as u64);
        Self { state }
    }

    /// The 53 random bits attached to pool item `index`.
    #[inline]
    pub fn bits(&self, index: usize) -> u64 {
        mix64(
            self.state
                .wrapping_add((index as u64).wrapping_add(1).wrapping_mul(GOLDEN_GAMMA)),
        ) >> 11
    }
}

/// `2^-53`: the spacing of the uniform variates.
const UNIT: f64 = 1.0 / (1u64 << 53) as f64;

/// A uniform variate in the open interval (0, 1) from 53 random bits.
#[inline]
pub fn uniform(bits: u64) -> f64 {
    (bits as f64 + 0.5) * UNIT
}

/// A standard Gumbel variate `-ln(-ln U)` from 53 random bits.
#[inline]
pub fn gumbel(bits: u64) -> f64 {
    -(-uniform(bits).ln()).ln()
}

/// The largest 53-bit value whose Gumbel variate is surely at most `limit`: a candidate whose
/// bits are `<=` this cannot reach a key above `log_weight_max + limit`. Errs low (keeps more
/// candidates) by a margin far above rounding, so skipping never changes the selection.
pub fn gumbel_bits_floor(limit: f64) -> Option<u64> {
    // G(U) <= limit  <=>  U <= exp(-exp(-limit)).
    let bound = (-(-limit).exp()).exp() - 1e-9;
    if bound.is_nan() || bound <= 0.0 {
        return None;
    }
    let scaled = bound / UNIT - 0.5;
    Some(scaled.floor().min(((1u64 << 53) - 1) as f64) as u64)
}

/// Log-weight of Wu et al. (2017)'s distance-weighted sampling: `-log q(d)` for unit vectors
/// in `dim` dimensions, `q(d) ∝ d^(n-2) (1 - d^2/4)^((n-3)/2)`, with `d` clipped below at `cutoff`.
pub fn distance_log_weight(similarity: f64, dim: usize, cutoff: f64) -> f64 {
    let distance = (2.0 - 2.0 * similarity).max(0.0).sqrt().max(cutoff);
    let n = dim as f64;
    -(n - 2.0) * distance.ln() - 0.5 * (n - 3.0) * (1.0 - 0.25 * distance * distance).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_per_anchor_and_salt_and_are_reproducible() {
        let a = AnchorStream::new(7, 0, 0);
        let b = AnchorStream::new(7, 1, 0);
        let c = AnchorStream::new(7, 0, 1);
        assert_eq!(a.bits(5), AnchorStream::new(7, 0, 0).bits(5));
        assert_ne!(a.bits(5), b.bits(5));
        assert_ne!(a.bits(5), c.bits(5));
        assert!(a.bits(5) < 1 << 53);
    }

    #[test]
    fn uniform_bits_have_mean_one_half() {
        let stream = AnchorStream::new(1, 2, 3);
        let mean: f64 = (0..100_000).map(|j| uniform(stream.bits(j))).sum::<f64>() / 1e5;
        assert!((mean - 0.5).abs() < 0.005, "{mean}");
    }

    #[test]
    fn bits_floor_is_conservative() {
        for limit in [-3.0, 0.0, 2.5, 9.0, 30.0] {
            let floor = gumbel_bits_floor(limit).unwrap();
            assert!(gumbel(floor) <= limit);
            assert!(gumbel(floor + 1) < limit + 1e-3);
        }
        assert_eq!(gumbel_bits_floor(-40.0), None);
    }

    #[test]
    fn distance_weight_decreases_with_distance_in_high_dimension() {
        let near = distance_log_weight(0.8, 128, 0.5);
        let far = distance_log_weight(0.1, 128, 0.5);
        assert!(near > far);
        // Clipping: every distance below the cutoff weighs like the cutoff.
        assert_eq!(
            distance_log_weight(0.99, 128, 0.5),
            distance_log_weight(0.98, 128, 0.5)
        );
    }
}
