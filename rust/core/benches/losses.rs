//! Criterion benchmark of the graph losses and the triplet loss, forward + backward (one
//! `forward` call computes the loss and the gradient).
//!
//! Run with `cargo bench -p ruvector-training-core --bench losses`. The graph cases use a random
//! graph the size of the Facebook page-page graph (N = 22,470, E = 171,002, D = 128) so the bench
//! needs no data file; `benches/losses.py` times the real graph against NumPy and PyTorch.
//!
//! Cases (f32):
//! - `graph_losses/local_contrastive`: every edge similar.
//! - `graph_losses/spectral_normalized`: `L_sym`, unit weights.
//! - `triplet/{euclidean,cosine}`: B = 4096, K = 8, D = 128.
//! - `eigenvalues/{normalized,unnormalized}_k10`: the 10 smallest Laplacian eigenvalues of a
//!   150 x 150 torus (22,500 nodes, 45,000 edges, eigenvalues of multiplicity up to 4; a random
//!   graph would be an expander, the solver's slowest case, unlike real graphs);
//!   `benches/losses.py` times the real Facebook graph against scipy.

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::Lcg;
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use ruvector_training_core::{
    Distance, EigenMethod, Graph, LocalContrastiveLoss, MatRef, NegativesRef, Reduction,
    SpectralRegularization, TripletBatch, TripletLoss,
};

const NODES: usize = 22_470;
const EDGES: usize = 171_002;
const DIM: usize = 128;

fn graph_losses(c: &mut Criterion) {
    let mut rng = Lcg(0x5eed);
    let z = rng.values(NODES * DIM);
    let edges: Vec<[usize; 2]> = (0..EDGES)
        .map(|_| {
            let i = (rng.next_u64() >> 33) as usize % NODES;
            let j = (rng.next_u64() >> 33) as usize % NODES;
            [i, j]
        })
        .collect();
    let embeddings = MatRef::new(&z, NODES, DIM);
    // Built once, as a training loop holds it.
    let graph = Graph::new(NODES, edges, None).expect("valid edges");
    let local = LocalContrastiveLoss {
        margin: 1.0,
        reduction: Reduction::Mean,
    };
    let spectral = SpectralRegularization {
        lam: 0.01,
        normalized: true,
    };
    local
        .forward(embeddings, &graph, None)
        .expect("valid input");
    spectral.forward(embeddings, &graph).expect("valid input");

    let mut group = c.benchmark_group("graph_losses");
    // Throughput: edges per second (criterion's `elem/s`).
    group
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(EDGES as u64));
    group.bench_function("local_contrastive", |b| {
        b.iter(|| black_box(local.forward(embeddings, &graph, None).unwrap()))
    });
    group.bench_function("spectral_normalized", |b| {
        b.iter(|| black_box(spectral.forward(embeddings, &graph).unwrap()))
    });
    group.finish();
}

fn triplet(c: &mut Criterion) {
    const B: usize = 4096;
    const K: usize = 8;
    let mut rng = Lcg(0x7219);
    let (anchors, positives, negatives) = (
        rng.values(B * DIM),
        rng.values(B * DIM),
        rng.values(B * K * DIM),
    );
    let batch = TripletBatch {
        anchors: MatRef::new(&anchors, B, DIM),
        positives: MatRef::new(&positives, B, DIM),
        negatives: NegativesRef {
            data: &negatives,
            batch: B,
            per_row: K,
            dim: DIM,
        },
    };
    let mut group = c.benchmark_group("triplet");
    // Throughput: (anchor, negative) pairs per second (criterion's `elem/s`).
    group
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements((B * K) as u64));
    for distance in [Distance::Euclidean, Distance::Cosine] {
        let loss = TripletLoss {
            margin: 1.0,
            distance,
            reduction: Reduction::Mean,
        };
        loss.forward(&batch).expect("valid input");
        group.bench_function(distance.name(), |b| {
            b.iter(|| black_box(loss.forward(&batch).unwrap()))
        });
    }
    group.finish();
}

fn eigenvalues(c: &mut Criterion) {
    const SIDE: usize = 150;
    let id = |i: usize, j: usize| (i % SIDE) * SIDE + j % SIDE;
    let edges: Vec<[usize; 2]> = (0..SIDE * SIDE)
        .flat_map(|v| {
            let (i, j) = (v / SIDE, v % SIDE);
            [[v, id(i + 1, j)], [v, id(i, j + 1)]]
        })
        .collect();
    let mut group = c.benchmark_group("eigenvalues");
    group.sampling_mode(SamplingMode::Flat);
    for normalized in [true, false] {
        let spectral = SpectralRegularization {
            lam: 0.01,
            normalized,
        };
        let run = || {
            spectral
                .eigenvalues(SIDE * SIDE, &edges, 10, None, EigenMethod::Auto.into())
                .expect("valid input")
        };
        run();
        let name = if normalized {
            "normalized_k10"
        } else {
            "unnormalized_k10"
        };
        group.bench_function(name, |b| b.iter(|| black_box(run())));
    }
    group.finish();
}

// Defaults go in the group's `config`: criterion_group! applies the command line after it
// (`configure_from_args`), so `--measurement-time`, `--warm-up-time` and `--sample-size`
// override them (a setting made on a `BenchmarkGroup` would override the command line).
criterion_group! {
    name = losses;
    config = Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    targets = graph_losses, triplet
}
criterion_group! {
    name = eigen;
    config = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    targets = eigenvalues
}
criterion_main!(losses, eigen);
