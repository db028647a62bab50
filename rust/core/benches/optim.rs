//! Criterion benchmark of one optimizer step on 2^24 (16.7M) f32 parameters, as one array and
//! as 256 arrays.
//!
//! Run with `cargo bench -p ruvector-training-core --bench optim` (about two minutes on 2 cores).
//! Throughput is reported in bytes with torch's accounting (28 bytes per parameter for AdamW:
//! read p, g, m, v and write p, m, v; 20 for SGD with momentum), so criterion's GB/s (decimal)
//! is the effective memory bandwidth. For the comparison against NumPy and PyTorch see
//! `benches/optimizers.py`.
//!
//! Cases:
//! - `adamw_f32/plain`, `adamw_f32/clipped` (`max_grad_norm` set, clipping fused) and
//!   `adamw_f32/unchecked` (`check_finite` off: the one fused pass).
//! - `sgd_momentum_f32/plain` (momentum 0.9, weight decay 1e-4).
//! - Each of these also as 256 arrays of 65,536 (`..._256_arrays`).
//! - `grad_norm_f32`: the gradient pass alone (finiteness check + global norm), 4 bytes per
//!   parameter.

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::Lcg;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ruvector_training_core::optim::{
    grad_norm, Adam, AdamConfig, Optimizer, ParamSpec, Sgd, SgdConfig,
};
use ruvector_training_core::types::Dtype;

const LEN: usize = 1 << 24;

/// Deterministic values in `[-1, 1)`.
fn values(len: usize, seed: u64) -> Vec<f32> {
    Lcg(seed).values(len)
}

/// Array counts of the two layouts: `LEN` parameters as one array, and as 256 arrays.
const LAYOUTS: [usize; 2] = [1, 256];

/// Times `optimizer.step` on `LEN` parameters split into `arrays` equal arrays, for an
/// optimizer `make` builds for that layout.
fn bench_step<O: Optimizer>(
    c: &mut Criterion,
    group_name: &str,
    case: &str,
    bytes: u64,
    arrays: usize,
    make: impl Fn(&[ParamSpec]) -> O,
) {
    let len = LEN / arrays;
    let layout = vec![ParamSpec::new(Dtype::F32, len); arrays];
    let mut optimizer = make(&layout);
    let mut params: Vec<Vec<f32>> = (0..arrays).map(|i| values(len, 2 * i as u64 + 1)).collect();
    let grads: Vec<Vec<f32>> = (0..arrays).map(|i| values(len, 2 * i as u64 + 2)).collect();
    let grad_views: Vec<_> = grads.iter().map(|g| g.as_slice().into()).collect();
    let mut group = c.benchmark_group(group_name);
    // Decimal GB/s, as the README's tables (criterion's `Bytes` would print GiB/s).
    group.throughput(Throughput::BytesDecimal(bytes * LEN as u64));
    let name = if arrays == 1 {
        case.to_string()
    } else {
        format!("{case}_{arrays}_arrays")
    };
    group.bench_function(name, |b| {
        b.iter(|| {
            let mut param_views: Vec<_> =
                params.iter_mut().map(|p| p.as_mut_slice().into()).collect();
            let norm = optimizer.step(&mut param_views, &grad_views);
            black_box(norm.expect("the bench gradients are finite"))
        })
    });
    group.finish();
}

fn optimizers(c: &mut Criterion) {
    let adamw = AdamConfig::adamw(1e-3);
    let clipped = AdamConfig {
        max_grad_norm: Some(1.0),
        ..adamw
    };
    let sgd = SgdConfig {
        momentum: 0.9,
        weight_decay: 1e-4,
        ..SgdConfig::new(1e-2)
    };
    for arrays in LAYOUTS {
        let adam =
            |config: AdamConfig| move |layout: &[ParamSpec]| Adam::new(config, layout).unwrap();
        bench_step(c, "adamw_f32", "plain", 28, arrays, adam(adamw));
        bench_step(c, "adamw_f32", "clipped", 28, arrays, adam(clipped));
        bench_step(
            c,
            "adamw_f32",
            "unchecked",
            28,
            arrays,
            |layout: &[ParamSpec]| {
                let mut optimizer = Adam::new(adamw, layout).unwrap();
                optimizer.set_check_finite(false);
                optimizer
            },
        );
        bench_step(
            c,
            "sgd_momentum_f32",
            "plain",
            20,
            arrays,
            |layout: &[ParamSpec]| Sgd::new(sgd, layout).unwrap(),
        );
    }

    let grads = values(LEN, 3);
    let mut group = c.benchmark_group("grad_norm_f32");
    group.throughput(Throughput::BytesDecimal(4 * LEN as u64));
    group.bench_function("norm", |b| {
        b.iter(|| black_box(grad_norm(&[grads.as_slice().into()]).unwrap()))
    });
    group.finish();
}

// Defaults go in the group's `config`: criterion_group! applies the command line after it
// (`configure_from_args`), so `--measurement-time`, `--warm-up-time` and `--sample-size`
// override them (a setting made on a `BenchmarkGroup` would override the command line).
criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    targets = optimizers
}
criterion_main!(benches);
