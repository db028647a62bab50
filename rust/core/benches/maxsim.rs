//! Criterion benchmark of late interaction (issue 15's three cases, ours only; the PyTorch
//! comparison and the peak-memory case are in `benches/maxsim.py`).
//!
//! Run with `cargo bench -p ruvector-training-core --bench maxsim`. Cases (f32, dot, all tokens
//! real):
//! - `maxsim/loss_b64`: in-batch `MaxSimLoss` forward + backward, B=64, Lq=32, Ld=256, D=128.
//! - `maxsim/loss_b512`: the same at B=512 (arg-max table kept: 32 MiB).
//! - `maxsim/topk_100x20000`: `maxsim_topk`, 100 queries x 20,000 documents, Lq=32, Ld=128,
//!   D=128, k=10.
//!
//! Throughput is in token-pair similarities per second (`elem/s`): `Q * M * Lq * Ld`.

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::Lcg;
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use ruvector_training_core::{
    maxsim_topk, MaxSimBatch, MaxSimLoss, Normalize, Similarity, TokensRef,
};

const LQ: usize = 32;
const DIM: usize = 128;

fn tokens(data: &[f32], rows: usize, len: usize) -> TokensRef<'_, f32> {
    TokensRef {
        data,
        mask: None,
        rows,
        len,
        dim: DIM,
    }
}

fn loss(c: &mut Criterion) {
    let mut group = c.benchmark_group("maxsim");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    let loss = MaxSimLoss {
        temperature: 0.05,
        ..MaxSimLoss::default()
    };
    for b in [64usize, 512] {
        let ld = 256;
        let mut rng = Lcg(0x5eed + b as u64);
        let q = rng.values(b * LQ * DIM);
        let d = rng.values(b * ld * DIM);
        let batch = MaxSimBatch {
            queries: tokens(&q, b, LQ),
            documents: tokens(&d, b, ld),
            negatives: None,
            in_batch: None,
        };
        group.throughput(Throughput::Elements((b * b * LQ * ld) as u64));
        group.bench_function(format!("loss_b{b}"), |bench| {
            bench.iter(|| black_box(loss.forward(&batch).expect("valid input").loss))
        });
    }
    let (queries, documents, ld) = (100usize, 20_000usize, 128usize);
    let mut rng = Lcg(0x70b);
    let q = rng.values(queries * LQ * DIM);
    let d = rng.values(documents * ld * DIM);
    group.throughput(Throughput::Elements((queries * documents * LQ * ld) as u64));
    group.bench_function("topk_100x20000", |bench| {
        bench.iter(|| {
            let top = maxsim_topk(
                tokens(&q, queries, LQ),
                tokens(&d, documents, ld),
                10,
                Similarity::Dot,
                Normalize::None,
            )
            .expect("valid input");
            black_box(top.indices[0])
        })
    });
    group.finish();
}

criterion_group!(benches, loss);
criterion_main!(benches);
