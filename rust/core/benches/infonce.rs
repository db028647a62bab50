//! Criterion benchmark of InfoNCE forward + backward (one `forward` call computes the loss and
//! every gradient): in-batch cosine, f32, D = 768, B in {1024, 4096}.
//!
//! Run with `cargo bench -p ruvector-training-core --bench infonce` (under a minute on 2 idle
//! cores). Sample sizes are kept small on purpose, and criterion's `--measurement-time`,
//! `--warm-up-time` and `--sample-size` override the defaults below; for the comparison against
//! NumPy and PyTorch see `benches/infonce.py`.
//!
//! Cases:
//! - `infonce_in_batch_cosine_f32/kept/B`: default logits budget (256 MiB), so the whole B x B
//!   logits matrix is kept between the forward and backward passes. Throughput is in anchor
//!   rows per second (criterion's `elem/s`).
//! - `infonce_in_batch_cosine_f32/streamed/4096`: an 8 MiB budget forces the panel-streaming
//!   path (the one large batches take) at a size where it can be compared with the kept one.
//! - `gemm_f32/nt_4096x768x4096`: the similarity GEMM alone, throughput in `GFLOP/s`
//!   (2 B^2 D floating-point operations per product), printed through [`common::FlopTime`].

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::{FlopTime, Lcg};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode,
    Throughput,
};
use ruvector_training_core::linalg::{gemm_into, Accumulate, Product};
use ruvector_training_core::{InfoNceBatch, InfoNceLoss, MatRef, Reduction, Similarity, Workspace};

const DIM: usize = 768;
const TEMPERATURE: f64 = 0.07;
const STREAMED_BUDGET_BYTES: usize = 8 << 20;

/// `(anchors, positives)`, each `b x DIM` row-major; positives are noisy copies of the anchors
/// so the loss is in a realistic range.
fn make_batch(b: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Lcg(seed);
    let anchors = rng.values(b * DIM);
    let positives: Vec<f32> = anchors.iter().map(|&x| x + 0.5 * rng.next_f32()).collect();
    (anchors, positives)
}

fn run_case(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, b: usize, loss: &InfoNceLoss) {
    let (anchors, positives) = make_batch(b, 0x5eed_0000 + b as u64);
    // Fail loudly (outside the timed loop) if the kernel rejects the input.
    let check = {
        let batch = InfoNceBatch {
            anchors: MatRef::new(&anchors, b, DIM),
            positives: MatRef::new(&positives, b, DIM),
            negatives: None,
            in_batch: None,
        };
        loss.forward(&batch).expect("InfoNCE forward failed")
    };
    assert!(check.loss.is_finite(), "non-finite loss {}", check.loss);
    assert_eq!(check.grad_anchors.len(), b * DIM);

    // Scratch is reused across iterations, as the Python `InfoNCELoss` object does.
    let mut workspace = Workspace::new();
    group.throughput(Throughput::Elements(b as u64));
    group.bench_with_input(BenchmarkId::new(name, b), &b, |bencher, &b| {
        bencher.iter(|| {
            let batch = InfoNceBatch {
                anchors: MatRef::new(black_box(&anchors), b, DIM),
                positives: MatRef::new(black_box(&positives), b, DIM),
                negatives: None,
                in_batch: None,
            };
            black_box(
                loss.forward_with(&batch, &mut workspace)
                    .expect("InfoNCE forward failed"),
            )
        });
    });
}

fn bench_infonce(c: &mut Criterion) {
    let kept = InfoNceLoss {
        temperature: TEMPERATURE,
        similarity: Similarity::Cosine,
        symmetric: false,
        reduction: Reduction::Mean,
        ..Default::default()
    };
    let streamed = InfoNceLoss {
        logits_budget_bytes: STREAMED_BUDGET_BYTES,
        ..kept.clone()
    };

    let mut group = c.benchmark_group("infonce_in_batch_cosine_f32");
    group.sampling_mode(SamplingMode::Flat);
    for b in [1024, 4096] {
        run_case(&mut group, "kept", b, &kept);
    }
    run_case(&mut group, "streamed", 4096, &streamed);
    group.finish();
}

/// The similarity GEMM alone, `(B, D) x (B, D)^T` at B=4096, D=768, reported in FLOP/s so it
/// can be set against NumPy's float32 matmul rate (`benches/infonce.py` prints its time).
fn bench_gemm(c: &mut Criterion<FlopTime>) {
    let b = 4096;
    let (anchors, positives) = make_batch(b, 7);
    let mut logits = vec![0.0f32; b * b];
    let mut group = c.benchmark_group("gemm_f32");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements((2 * b * b * DIM) as u64));
    group.bench_function("nt_4096x768x4096", |bencher| {
        bencher.iter(|| {
            let (lhs, rhs) = (
                MatRef::new(&anchors, b, DIM),
                MatRef::new(&positives, b, DIM),
            );
            gemm_into(
                "anchors",
                Product::NT,
                lhs,
                rhs,
                &mut logits,
                1.0,
                Accumulate::Overwrite,
                true,
            )
            .unwrap();
            black_box(logits[0])
        });
    });
    group.finish();
}

// Defaults go in each group's `config`: criterion_group! applies the command line after it
// (`configure_from_args`), so `--measurement-time` etc. override them. A setting made on a
// `BenchmarkGroup` would override the command line instead.
criterion_group! {
    name = infonce;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = bench_infonce
}
criterion_group! {
    name = gemm;
    config = Criterion::default()
        .with_measurement(FlopTime)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_gemm
}
criterion_main!(infonce, gemm);
