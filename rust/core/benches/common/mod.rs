//! Deterministic data for the criterion benches (no `rand` dependency), and a FLOP/s-labelled
//! wall-clock measurement.

use criterion::measurement::{Measurement, ValueFormatter};

/// A tiny deterministic LCG (Knuth's MMIX constants).
pub struct Lcg(pub u64);

impl Lcg {
    /// Next raw 64-bit state.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0
    }

    /// Next value uniform in `[-1, 1)`.
    pub fn next_f32(&mut self) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        2.0 * unit - 1.0
    }

    /// `len` values uniform in `[-1, 1)`.
    pub fn values(&mut self, len: usize) -> Vec<f32> {
        (0..len).map(|_| self.next_f32()).collect()
    }
}

/// Wall-clock time whose `Throughput::Elements` count is floating-point operations, so that
/// criterion prints the throughput as `GFLOP/s` (its own `WallTime` would say `Gelem/s`).
/// Times, statistics and saved baselines are those of `WallTime`; only the unit label differs.
#[allow(dead_code)] // only the benches with a FLOP-counted group use it
pub struct FlopTime;

#[allow(dead_code)]
struct FlopFormatter;

impl ValueFormatter for FlopFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        criterion::measurement::WallTime
            .formatter()
            .scale_values(typical, values)
    }

    fn scale_throughputs(
        &self,
        typical: f64,
        throughput: &criterion::Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let criterion::Throughput::Elements(flops) = *throughput else {
            return criterion::measurement::WallTime
                .formatter()
                .scale_throughputs(typical, throughput, values);
        };
        // `values` are nanoseconds per iteration; `flops` operations per iteration.
        let per_second = flops as f64 * 1e9 / typical;
        let (denominator, unit) = [
            (1e12, "TFLOP/s"),
            (1e9, "GFLOP/s"),
            (1e6, "MFLOP/s"),
            (1e3, "KFLOP/s"),
        ]
        .into_iter()
        .find(|&(scale, _)| per_second >= scale)
        .unwrap_or((1.0, " FLOP/s"));
        for value in values {
            *value = flops as f64 * 1e9 / *value / denominator;
        }
        unit
    }

    fn scale_for_machines(&self, values: &mut [f64]) -> &'static str {
        criterion::measurement::WallTime
            .formatter()
            .scale_for_machines(values)
    }
}

impl Measurement for FlopTime {
    type Intermediate = std::time::Instant;
    type Value = std::time::Duration;

    fn start(&self) -> Self::Intermediate {
        criterion::measurement::WallTime.start()
    }
    fn end(&self, start: Self::Intermediate) -> Self::Value {
        criterion::measurement::WallTime.end(start)
    }
    fn add(&self, a: &Self::Value, b: &Self::Value) -> Self::Value {
        *a + *b
    }
    fn zero(&self) -> Self::Value {
        std::time::Duration::ZERO
    }
    fn to_f64(&self, value: &Self::Value) -> f64 {
        criterion::measurement::WallTime.to_f64(value)
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &FlopFormatter
    }
}
