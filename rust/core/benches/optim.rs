//! Criterion benchmark of one optimizer step on 2^24 (16.7M) f32 parameters in one array.
//!
//! Run with `cargo bench -p ruvector-training-core --bench optim` (about a minute on 2 cores).
//! Throughput is reported in bytes with torch's accounting (28 bytes per parameter for AdamW:
//! read p, g, m, v and write p, m, v; 20 for SGD with momentum), so criterion's GiB/s is the
//! effective memory bandwidth. For the comparison against NumPy and PyTorch see
//! `benches/optimizers.py`.
//!
//! Cases:
//! - `adamw_f32/plain` and `adamw_f32/clipped` (`max_grad_norm` set, clipping fused).
//! - `sgd_momentum_f32/plain` (momentum 0.9, weight decay 1e-4).
//! - `grad_norm_f32`: the gradient pass alone (finiteness check + global norm), 4 bytes per
//!   parameter.

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::Lcg;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ruvector_training_core::optim::{
    grad_norm, Adam, AdamConfig, Dtype, Optimizer, ParamSpec, Sgd, SgdConfig,
};

const LEN: usize = 1 << 24;

/// Deterministic values in `[-1, 1)`.
fn values(len: usize, seed: u64) -> Vec<f32> {
    Lcg(seed).values(len)
}

/// Times `optimizer.step` on one array of `LEN` parameters.
fn bench_step(
    c: &mut Criterion,
    group_name: &str,
    case: &str,
    bytes: u64,
    mut optimizer: impl Optimizer,
) {
    let mut params = values(LEN, 1);
    let grads = values(LEN, 2);
    let mut group = c.benchmark_group(group_name);
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Bytes(bytes * LEN as u64));
    group.bench_function(case, |b| {
        b.iter(|| {
            let norm = optimizer.step(
                &mut [params.as_mut_slice().into()],
                &[grads.as_slice().into()],
            );
            black_box(norm.expect("the bench gradients are finite"))
        })
    });
    group.finish();
}

fn optimizers(c: &mut Criterion) {
    let layout = [ParamSpec::new(Dtype::F32, LEN)];
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
    bench_step(
        c,
        "adamw_f32",
        "plain",
        28,
        Adam::new(adamw, &layout).unwrap(),
    );
    bench_step(
        c,
        "adamw_f32",
        "clipped",
        28,
        Adam::new(clipped, &layout).unwrap(),
    );
    bench_step(
        c,
        "sgd_momentum_f32",
        "plain",
        20,
        Sgd::new(sgd, &layout).unwrap(),
    );

    let grads = values(LEN, 3);
    let mut group = c.benchmark_group("grad_norm_f32");
    group
        .sample_size(20)
        .throughput(Throughput::Bytes(4 * LEN as u64));
    group.bench_function("norm", |b| {
        b.iter(|| black_box(grad_norm(&[grads.as_slice().into()]).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, optimizers);
criterion_main!(benches);
