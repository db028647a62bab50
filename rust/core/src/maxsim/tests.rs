use super::*;
use crate::TrainingError;

/// Deterministic values in [-1, 1).
fn values(len: usize, seed: u64) -> Vec<f64> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

fn tokens<'a>(
    data: &'a [f64],
    mask: Option<&'a [bool]>,
    rows: usize,
    len: usize,
    dim: usize,
) -> TokensRef<'a, f64> {
    TokensRef {
        data,
        mask: mask.map(|data| MaskRef { data, rows, len }),
        rows,
        len,
        dim,
    }
}

/// Plain reference: score by loops over every token pair.
fn reference_score(
    q: &TokensRef<f64>,
    i: usize,
    d: &TokensRef<f64>,
    j: usize,
    cosine: bool,
) -> f64 {
    let unit = |x: &[f64]| -> Vec<f64> {
        let n = x.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
        x.iter().map(|v| if cosine { v / n } else { *v }).collect()
    };
    let mut total = 0.0;
    for t in (0..q.len).filter(|&t| q.is_real(i, t)) {
        let qt = unit(q.token(i, t));
        let best = (0..d.len)
            .filter(|&u| d.is_real(j, u))
            .map(|u| {
                unit(d.token(j, u))
                    .iter()
                    .zip(&qt)
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
            })
            .fold(f64::NEG_INFINITY, f64::max);
        total += best;
    }
    total
}

#[test]
fn scores_match_the_reference_with_ragged_masks() {
    let (nq, nd, lq, ld, dim) = (5, 7, 4, 6, 3);
    let q = values(nq * lq * dim, 1);
    let d = values(nd * ld * dim, 2);
    let qm: Vec<bool> = (0..nq * lq).map(|k| k % lq <= k / lq % lq).collect();
    let dm: Vec<bool> = (0..nd * ld)
        .map(|k| (k * 7) % 3 != 0 || k % ld == 0)
        .collect();
    for cosine in [false, true] {
        let similarity = if cosine {
            Similarity::Cosine
        } else {
            Similarity::Dot
        };
        let (qt, dt) = (
            tokens(&q, Some(&qm), nq, lq, dim),
            tokens(&d, Some(&dm), nd, ld, dim),
        );
        let got = maxsim_scores(qt, dt, similarity, Normalize::None).unwrap();
        for i in 0..nq {
            for j in 0..nd {
                let want = reference_score(&qt, i, &dt, j, cosine);
                assert!((got[i * nd + j] - want).abs() < 1e-12, "{i} {j}");
            }
        }
        let top = maxsim_topk(qt, dt, 3, similarity, Normalize::QueryLength).unwrap();
        let scaled = maxsim_scores(qt, dt, similarity, Normalize::QueryLength).unwrap();
        for i in 0..nq {
            let mut order: Vec<usize> = (0..nd).collect();
            order.sort_by(|&a, &b| {
                scaled[i * nd + b]
                    .total_cmp(&scaled[i * nd + a])
                    .then(a.cmp(&b))
            });
            let want: Vec<i64> = order[..3].iter().map(|&j| j as i64).collect();
            assert_eq!(&top.indices[i * 3..i * 3 + 3], &want[..]);
        }
    }
}

#[test]
fn the_chapter_example_scores_1_84() {
    // Query tokens "return", "tablet"; the document's best matches score 0.93 and 0.91.
    let q = [1.0, 0.0, 0.0, 1.0];
    let d = [0.93, 0.2, 0.1, 0.91, 0.5, 0.5];
    let s = maxsim_scores(
        tokens(&q, None, 1, 2, 2),
        tokens(&d, None, 1, 3, 2),
        Similarity::Dot,
        Normalize::None,
    )
    .unwrap();
    assert!((s[0] - 1.84).abs() < 1e-12);
}

/// The loss by the definition, from reference scores.
fn reference_loss(loss: &MaxSimLoss, batch: &MaxSimBatch<f64>) -> f64 {
    let b = batch.queries.rows;
    let cosine = loss.similarity == Similarity::Cosine;
    let score = |i: usize, d: &TokensRef<f64>, j: usize| {
        let s = reference_score(&batch.queries, i, d, j, cosine);
        match loss.normalize {
            Normalize::None => s,
            Normalize::QueryLength => s / batch.queries.real_count(i) as f64,
        }
    };
    let per_row = batch.negatives.map_or(0, |n| n.per_row);
    let shared = batch.in_batch == Some(true) && batch.negatives.is_some();
    let mut rows = vec![vec![]; b];
    for (i, row) in rows.iter_mut().enumerate() {
        if let (Some(negatives), false) = (batch.negatives, shared) {
            row.push(score(i, &batch.documents, i));
            for k in 0..per_row {
                row.push(score(i, &negatives.tokens, i * per_row + k));
            }
        } else {
            for j in 0..b {
                row.push(score(i, &batch.documents, j));
            }
            if shared {
                for r in 0..b * per_row {
                    row.push(score(i, &batch.negatives.unwrap().tokens, r));
                }
            }
        }
    }
    let lse = |v: &[f64]| {
        let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
    };
    let tau = loss.temperature;
    let mut total = 0.0;
    for (i, row) in rows.iter().enumerate() {
        let z: Vec<f64> = row.iter().map(|s| s / tau).collect();
        let p = if batch.negatives.is_some() && !shared {
            0
        } else {
            i
        };
        let forward = lse(&z) - z[p];
        total += if loss.symmetric {
            let column: Vec<f64> = (0..b).map(|r| rows[r][i] / tau).collect();
            0.5 * (forward + lse(&column) - z[p])
        } else {
            forward
        };
    }
    if loss.reduction == Reduction::Mean {
        total / b as f64
    } else {
        total
    }
}

#[test]
fn loss_and_gradients_match_the_reference_and_finite_differences() {
    let (b, k, lq, ld, ln, dim) = (3, 2, 3, 4, 2, 3);
    let q = values(b * lq * dim, 3);
    let d = values(b * ld * dim, 4);
    let n = values(b * k * ln * dim, 5);
    let qm = [true, false, true, true, true, true, false, true, false];
    let dm: Vec<bool> = (0..b * ld).map(|x| x % 3 != 1).collect();
    let nm: Vec<bool> = (0..b * k * ln).map(|x| x % 4 != 3).collect();
    for (layout, cosine, symmetric, normalize, budget) in [
        (0, false, false, Normalize::None, 1 << 20),
        (0, true, true, Normalize::QueryLength, 0),
        (1, false, false, Normalize::QueryLength, 0),
        (1, true, false, Normalize::None, 1 << 20),
        (2, false, true, Normalize::None, 0),
        (2, true, false, Normalize::QueryLength, 1 << 20),
    ] {
        let loss = MaxSimLoss {
            temperature: 0.5,
            similarity: if cosine {
                Similarity::Cosine
            } else {
                Similarity::Dot
            },
            normalize,
            symmetric,
            reduction: if layout == 1 {
                Reduction::Sum
            } else {
                Reduction::Mean
            },
            argmax_budget_bytes: budget,
        };
        let make = |q: &[f64], d: &[f64], n: &[f64]| -> f64 {
            let batch = batch_of(q, d, n, &qm, &dm, &nm, layout, (b, k, lq, ld, ln, dim));
            reference_loss(&loss, &batch)
        };
        let batch = batch_of(&q, &d, &n, &qm, &dm, &nm, layout, (b, k, lq, ld, ln, dim));
        let out = loss.forward(&batch).unwrap();
        assert!(
            (out.loss - make(&q, &d, &n)).abs() < 1e-12,
            "layout {layout}"
        );
        let h = 1e-6;
        let inputs = [q.clone(), d.clone(), n.clone()];
        let grads = [
            Some(&out.grad_queries),
            Some(&out.grad_documents),
            out.grad_negatives.as_ref(),
        ];
        for (which, grad) in grads.iter().enumerate() {
            let Some(grad) = grad else { continue };
            for e in 0..inputs[which].len() {
                let mut plus = inputs.clone();
                let mut minus = inputs.clone();
                plus[which][e] += h;
                minus[which][e] -= h;
                let numeric = (make(&plus[0], &plus[1], &plus[2])
                    - make(&minus[0], &minus[1], &minus[2]))
                    / (2.0 * h);
                assert!(
                    (grad[e] - numeric).abs() < 1e-6,
                    "layout {layout} input {which} element {e}: {} vs {numeric}",
                    grad[e]
                );
            }
        }
        // Masked tokens get exactly zero.
        for (t, &real) in qm.iter().enumerate() {
            if !real {
                assert!(out.grad_queries[t * dim..(t + 1) * dim]
                    .iter()
                    .all(|&g| g == 0.0));
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn batch_of<'a>(
    q: &'a [f64],
    d: &'a [f64],
    n: &'a [f64],
    qm: &'a [bool],
    dm: &'a [bool],
    nm: &'a [bool],
    layout: usize,
    (b, k, lq, ld, ln, dim): (usize, usize, usize, usize, usize, usize),
) -> MaxSimBatch<'a, f64> {
    MaxSimBatch {
        queries: tokens(q, Some(qm), b, lq, dim),
        documents: tokens(d, Some(dm), b, ld, dim),
        negatives: (layout > 0).then(|| NegativeTokens {
            tokens: tokens(n, Some(nm), b * k, ln, dim),
            batch: b,
            per_row: k,
        }),
        in_batch: (layout == 2).then_some(true),
    }
}

#[test]
fn ties_send_the_gradient_to_the_first_best_token() {
    // Document 0's tokens 0 and 2 tie for query token 0.
    let q = [1.0, 0.0, 0.0, 1.0];
    let d = [0.5, 0.1, 0.2, 0.3, 0.5, 0.1, 0.1, 0.2, 0.0, 0.0, 0.3, 0.0];
    let batch = MaxSimBatch {
        queries: tokens(&q, None, 2, 1, 2),
        documents: tokens(&d, None, 2, 3, 2),
        negatives: None,
        in_batch: None,
    };
    let out = MaxSimLoss::default().forward(&batch).unwrap();
    assert_ne!(out.grad_documents[0], 0.0);
    assert_eq!(out.grad_documents[4], 0.0);
}

#[test]
fn bad_inputs_name_the_argument() {
    let q = values(2 * 2 * 3, 1);
    let mask = [true, true, false, false];
    let err = maxsim_scores(
        tokens(&q, Some(&mask), 2, 2, 3),
        tokens(&q, None, 2, 2, 3),
        Similarity::Dot,
        Normalize::None,
    )
    .unwrap_err();
    assert_eq!(
        err,
        TrainingError::value(
            "query_mask",
            "row 1 has no real token (every entry is False)"
        )
    );
    let err = maxsim_scores(
        tokens(&q, None, 2, 2, 3),
        tokens(&q, Some(&mask[..3]), 1, 3, 4),
        Similarity::Dot,
        Normalize::None,
    )
    .unwrap_err();
    assert_eq!(err.arg(), "documents");
    let mut bad = q.clone();
    bad[5] = f64::NAN;
    let err = maxsim_scores(
        tokens(&q, None, 2, 2, 3),
        tokens(&bad, None, 2, 2, 3),
        Similarity::Dot,
        Normalize::None,
    )
    .unwrap_err();
    assert_eq!(err.arg(), "documents");
    assert_eq!(Normalize::parse("mean").unwrap_err().arg(), "normalize");
    let err = maxsim_topk(
        tokens(&q, None, 2, 2, 3),
        tokens(&q, None, 2, 2, 3),
        0,
        Similarity::Dot,
        Normalize::None,
    )
    .unwrap_err();
    assert_eq!(err.arg(), "k");
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let (b, l, dim) = (40, 9, 8);
    let q = values(b * l * dim, 7);
    let d = values(b * l * dim, 8);
    let batch = MaxSimBatch {
        queries: tokens(&q, None, b, l, dim),
        documents: tokens(&d, None, b, l, dim),
        negatives: None,
        in_batch: None,
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let out = MaxSimLoss::default().forward(&batch).unwrap();
            let scores = maxsim_scores(
                batch.queries,
                batch.documents,
                Similarity::Cosine,
                Normalize::None,
            )
            .unwrap();
            (out.loss, out.grad_queries, out.grad_documents, scores)
        })
    };
    assert_eq!(run(1), run(2));
}
