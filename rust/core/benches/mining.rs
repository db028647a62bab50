//! Criterion benchmark of exact top-k and the pool miners (one streaming pass each).
//!
//! Run with `cargo bench -p ruvector-training-core --bench mining`. Sizes are the issue's:
//! Q = 4096 queries x M = 100,000 pool rows x D = 384, k = 10, f32, uniform data;
//! `benches/mining.py` times the same size against NumPy, FAISS and PyTorch.
//!
//! Cases: `topk/dot`, `topk/cosine`, `mine/hardest_labels` (100 classes), `mine/semi_hard`
//! (positives = anchor + 3 x noise), `mine/weighted` (alpha = 1).

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::Lcg;
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use ruvector_training_core::{topk, HardNegativeMiner, MatRef, MiningInputs, Similarity, Strategy};

const QUERIES: usize = 4096;
const POOL: usize = 100_000;
const DIM: usize = 384;
const K: usize = 10;

fn mining(c: &mut Criterion) {
    let mut rng = Lcg(0x5eed);
    let q = rng.values(QUERIES * DIM);
    let p = rng.values(POOL * DIM);
    let positives: Vec<f32> = q.iter().map(|&v| v + 3.0 * rng.next_f32()).collect();
    let anchor_labels: Vec<i64> = (0..QUERIES)
        .map(|_| (rng.next_u64() >> 33) as i64 % 100)
        .collect();
    let pool_labels: Vec<i64> = (0..POOL)
        .map(|_| (rng.next_u64() >> 33) as i64 % 100)
        .collect();
    let queries = MatRef::new(&q, QUERIES, DIM);
    let pool = MatRef::new(&p, POOL, DIM);

    let mut group = c.benchmark_group("mining");
    group.sampling_mode(SamplingMode::Flat);
    // Throughput: query-pool pairs scored per second (criterion's `elem/s`).
    group.throughput(Throughput::Elements((QUERIES * POOL) as u64));
    for (name, similarity) in [
        ("topk/dot", Similarity::Dot),
        ("topk/cosine", Similarity::Cosine),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| black_box(topk(queries, pool, K, similarity, None).unwrap()))
        });
    }
    let base = MiningInputs {
        anchors: queries,
        pool: pool.into(),
        positives: None,
        anchor_labels: None,
        pool_labels: None,
        exclude: None,
    };
    let cases = [
        (
            "mine/hardest_labels",
            Strategy::Hardest,
            MiningInputs {
                anchor_labels: Some(&anchor_labels),
                pool_labels: Some(&pool_labels),
                ..base
            },
        ),
        (
            "mine/semi_hard",
            Strategy::SemiHard,
            MiningInputs {
                positives: Some(MatRef::new(&positives, QUERIES, DIM)),
                ..base
            },
        ),
        ("mine/weighted", Strategy::Weighted, base),
    ];
    for (name, strategy, inputs) in cases {
        let miner = HardNegativeMiner {
            strategy,
            num_negatives: K,
            ..HardNegativeMiner::default()
        };
        group.bench_function(name, |b| b.iter(|| black_box(miner.mine(&inputs).unwrap())));
    }
    group.finish();
}

// Defaults go in the group's `config`: criterion_group! applies the command line after it
// (`configure_from_args`), so `--measurement-time`, `--warm-up-time` and `--sample-size`
// override them (a setting made on a `BenchmarkGroup` would override the command line).
criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(15));
    targets = mining
}
criterion_main!(benches);
