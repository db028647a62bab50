use super::*;

fn lcg(len: usize, seed: u64) -> Vec<f64> {
    let mut state = seed
        .wrapping_mul(2862933555777941757)
        .wrapping_add(3037000493);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

fn batch<'a>(
    a: &'a [f64],
    p: &'a [f64],
    n: Option<&'a [f64]>,
    b: usize,
    k: usize,
    d: usize,
    in_batch: Option<bool>,
) -> InfoNceBatch<'a, f64> {
    InfoNceBatch {
        anchors: MatRef::new(a, b, d),
        positives: MatRef::new(p, b, d),
        negatives: n.map(|data| NegativesRef {
            data,
            batch: b,
            per_row: k,
            dim: d,
        }),
        in_batch,
    }
}

#[test]
fn worked_in_batch_example() {
    let loss = InfoNceLoss {
        temperature: 0.2,
        ..Default::default()
    };
    let a = [1.0, 0.0, 0.0, 1.0];
    let p = [0.95, 0.05, 0.10, 0.90];
    let out = loss.forward(&batch(&a, &p, None, 2, 0, 2, None)).unwrap();
    assert!((out.loss - 0.0104).abs() < 5e-5, "loss {}", out.loss);
}

#[test]
fn extreme_logits_stay_finite_and_precise() {
    // logits [1000, 986] with the positive first: loss = ln(1 + e^-14) = 8.3e-7
    let loss = InfoNceLoss {
        temperature: 1.0,
        similarity: Similarity::Dot,
        ..Default::default()
    };
    let (a, p, n) = ([1.0f32], [1000.0f32], [986.0f32]);
    let input = InfoNceBatch {
        anchors: MatRef::new(&a, 1, 1),
        positives: MatRef::new(&p, 1, 1),
        negatives: Some(NegativesRef {
            data: &n,
            batch: 1,
            per_row: 1,
            dim: 1,
        }),
        in_batch: None,
    };
    let out = loss.forward(&input).unwrap();
    let want = (-14.0f64).exp().ln_1p();
    assert!(((out.loss - want) / want).abs() < 1e-3, "loss {}", out.loss);
    assert!(out.grad_anchors.iter().all(|g| g.is_finite()));
}

/// Central finite differences of the library's own loss against its gradients.
fn check_gradients(
    loss: &InfoNceLoss,
    b: usize,
    k: usize,
    d: usize,
    negatives: bool,
    in_batch: Option<bool>,
) {
    let a = lcg(b * d, 1);
    let p = lcg(b * d, 2);
    let n = lcg(b * k * d, 3);
    let neg = negatives.then_some(&n[..]);
    let out = loss
        .forward(&batch(&a, &p, neg, b, k, d, in_batch))
        .unwrap();
    let h = 1e-6;
    let mut inputs = vec![
        (a.clone(), out.grad_anchors.clone(), 0),
        (p.clone(), out.grad_positives.clone(), 1),
    ];
    if negatives {
        inputs.push((n.clone(), out.grad_negatives.clone().unwrap(), 2));
    }
    for (base, grad, which) in inputs {
        for idx in (0..base.len()).step_by(3) {
            let eval = |delta: f64| {
                let mut arrays = [a.clone(), p.clone(), n.clone()];
                arrays[which][idx] = base[idx] + delta;
                let neg = negatives.then_some(&arrays[2][..]);
                loss.forward(&batch(&arrays[0], &arrays[1], neg, b, k, d, in_batch))
                    .unwrap()
                    .loss
            };
            let numeric = (eval(h) - eval(-h)) / (2.0 * h);
            assert!(
                (numeric - grad[idx]).abs() < 1e-6 * (1.0 + numeric.abs()),
                "input {which} index {idx}: numeric {numeric} analytic {}",
                grad[idx]
            );
        }
    }
}

#[test]
fn gradients_match_finite_differences_for_every_layout() {
    for similarity in [Similarity::Cosine, Similarity::Dot] {
        for reduction in [Reduction::Mean, Reduction::Sum] {
            for symmetric in [false, true] {
                let loss = InfoNceLoss {
                    temperature: 0.5,
                    similarity,
                    symmetric,
                    reduction,
                    ..Default::default()
                };
                check_gradients(&loss, 5, 0, 4, false, None);
                check_gradients(&loss, 4, 2, 3, true, Some(true));
                if !symmetric {
                    check_gradients(&loss, 4, 3, 3, true, None);
                }
            }
        }
    }
}

#[test]
fn streaming_panels_match_the_kept_matrix() {
    let (b, k, d) = (37, 2, 8);
    let a = lcg(b * d, 4);
    let p = lcg(b * d, 5);
    let n = lcg(b * k * d, 6);
    for symmetric in [false, true] {
        for negatives in [false, true] {
            let kept = InfoNceLoss {
                symmetric,
                ..Default::default()
            };
            let streamed = InfoNceLoss {
                logits_budget_bytes: 700,
                ..kept.clone()
            };
            let neg = negatives.then_some(&n[..]);
            let input = batch(&a, &p, neg, b, k, d, Some(true));
            let x = kept.forward(&input).unwrap();
            let y = streamed.forward(&input).unwrap();
            assert!((x.loss - y.loss).abs() < 1e-12);
            for (u, v) in x
                .grad_anchors
                .iter()
                .zip(&y.grad_anchors)
                .chain(x.grad_positives.iter().zip(&y.grad_positives))
            {
                assert!((u - v).abs() < 1e-12);
            }
        }
    }
}

#[test]
fn bad_inputs_are_errors_naming_the_argument() {
    let a = lcg(8, 1);
    let good = InfoNceLoss::default();
    let mismatched = InfoNceBatch {
        anchors: MatRef::new(&a, 2, 4),
        positives: MatRef::new(&a[..6], 2, 3),
        negatives: None,
        in_batch: None,
    };
    assert_eq!(good.forward(&mismatched).unwrap_err().arg(), "positives");
    let bad_tau = InfoNceLoss {
        temperature: 0.0,
        ..Default::default()
    };
    assert_eq!(
        bad_tau
            .forward(&batch(&a, &a, None, 2, 0, 4, None))
            .unwrap_err()
            .arg(),
        "temperature"
    );
    assert_eq!(
        good.forward(&batch(&a, &a, None, 2, 0, 4, Some(false)))
            .unwrap_err()
            .arg(),
        "in_batch"
    );
    let symmetric = InfoNceLoss {
        symmetric: true,
        ..Default::default()
    };
    let n = lcg(8, 2);
    assert_eq!(
        symmetric
            .forward(&batch(&a, &a, Some(&n), 2, 1, 4, None))
            .unwrap_err()
            .arg(),
        "symmetric"
    );
    let mut nan = a.clone();
    nan[5] = f64::NAN;
    let err = good
        .forward(&batch(&a, &nan, None, 2, 0, 4, None))
        .unwrap_err();
    assert_eq!(
        err,
        TrainingError::NonFinite {
            arg: "positives",
            index: 5,
            value: "NaN".into()
        }
    );
}

#[test]
fn ids_remove_repeated_items_and_nothing_else() {
    // Dot, tau 1: anchors 0 and 2 are the same text, and so are their positives (see
    // docs/losses.md): row 0's logits [2, 0, 2] lose column 2, so loss_0 = ln(1 + e^-2).
    let loss = InfoNceLoss {
        temperature: 1.0,
        similarity: Similarity::Dot,
        reduction: Reduction::None,
        ..Default::default()
    };
    let a = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0];
    let p = [2.0, 0.0, 0.0, 1.0, 2.0, 0.0];
    let input = batch(&a, &p, None, 3, 0, 2, None);
    let shape = [3];
    let extras = InfoNceExtras {
        ids: Some(InfoNceIds {
            anchor_ids: &[0, 1, 0],
            candidate_ids: &[10, 11, 10],
            candidate_shape: &shape,
        }),
        ..Default::default()
    };
    let for_streamed = [usize::MAX, 0];
    for budget in for_streamed {
        let config = InfoNceLoss {
            logits_budget_bytes: budget,
            ..loss.clone()
        };
        let out = config
            .forward_extras(&input, &extras, &mut Workspace::new())
            .unwrap();
        let row0 = (1.0 + (-2.0f64).exp()).ln();
        let row1 = (2.0 + std::f64::consts::E).ln() - 1.0;
        for (got, want) in out.row_losses.iter().zip([row0, row1, row0]) {
            assert!((got - want).abs() < 1e-14, "{got} vs {want}");
        }
    }
}

#[test]
fn no_extras_and_distinct_ids_are_bit_identical() {
    let (b, k, d) = (9, 2, 5);
    let a = lcg(b * d, 14);
    let p = lcg(b * d, 15);
    let n = lcg(b * k * d, 16);
    let candidate_ids: Vec<i64> = (0..(b + b * k) as i64).collect();
    let anchor_ids: Vec<i64> = (100..100 + b as i64).collect();
    for symmetric in [false, true] {
        for budget in [usize::MAX, 0] {
            let loss = InfoNceLoss {
                symmetric,
                logits_budget_bytes: budget,
                ..Default::default()
            };
            let input = batch(&a, &p, Some(&n), b, k, d, Some(true));
            let plain = loss.forward(&input).unwrap();
            let shape = [b + b * k];
            let extras = InfoNceExtras {
                ids: Some(InfoNceIds {
                    anchor_ids: &anchor_ids,
                    candidate_ids: &candidate_ids,
                    candidate_shape: &shape,
                }),
                ..Default::default()
            };
            let masked = loss
                .forward_extras(&input, &extras, &mut Workspace::new())
                .unwrap();
            assert_eq!(plain.loss.to_bits(), masked.loss.to_bits());
            assert_eq!(plain.grad_anchors, masked.grad_anchors);
            assert_eq!(plain.grad_positives, masked.grad_positives);
            assert_eq!(plain.grad_negatives, masked.grad_negatives);
        }
    }
}

#[test]
fn bad_extras_name_the_argument() {
    let (a, p) = (lcg(6, 1), lcg(6, 2));
    let input = batch(&a, &p, None, 3, 0, 2, None);
    let shape = [2];
    let extras = InfoNceExtras {
        ids: Some(InfoNceIds {
            anchor_ids: &[0, 1, 2],
            candidate_ids: &[0, 1],
            candidate_shape: &shape,
        }),
        ..Default::default()
    };
    let loss = InfoNceLoss::default();
    let err = loss
        .forward_extras(&input, &extras, &mut Workspace::new())
        .unwrap_err();
    assert!(err.to_string().starts_with("candidate_ids"), "{err}");
    let bad_margin = InfoNceLoss {
        guide_margin: -1.0,
        ..Default::default()
    };
    let err = bad_margin.forward(&input).unwrap_err();
    assert!(err.to_string().starts_with("guide_margin"), "{err}");
}
