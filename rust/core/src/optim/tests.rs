//! Unit tests of the optimizers: hand-computed first steps, error atomicity, clipping, restore.

use super::*;
use crate::types::Dtype;

/// Deterministic values in `[-1, 1)` (an LCG, so the tests need no `rand`).
fn values(len: usize, seed: u64) -> Vec<f64> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

fn f64_spec(len: usize) -> ParamSpec {
    ParamSpec::new(Dtype::F64, len)
}

/// Steps `optimizer` once on one f64 array.
fn step_one(optimizer: &mut dyn Optimizer, p: &mut [f64], g: &[f64]) -> Result<f64> {
    optimizer.step(&mut [p.into()], &[g.into()])
}

#[test]
fn adam_first_step_matches_the_formula() {
    let (lr, eps) = (0.1, 1e-8);
    let mut p = vec![1.0, -2.0];
    let g = [0.5, -0.25];
    let mut adam = Adam::new(AdamConfig::adam(lr), &[f64_spec(2)]).unwrap();
    step_one(&mut adam, &mut p, &g).unwrap();
    // m = 0.1 g, v = 0.001 g^2; m / (1 - 0.9) = g, sqrt(v / (1 - 0.999)) = |g|.
    for (got, (start, grad)) in p.iter().zip([(1.0f64, 0.5f64), (-2.0, -0.25)]) {
        let want = start - lr * grad / (grad.abs() + eps);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }
    assert_eq!(adam.steps(), 1);
    assert_eq!(adam.last_grad_norm(), Some((0.25f64 + 0.0625).sqrt()));
}

#[test]
fn adamw_decays_before_the_adam_step() {
    let config = AdamConfig {
        weight_decay: 0.5,
        ..AdamConfig::adamw(0.1)
    };
    let mut p = vec![2.0];
    let mut adamw = Adam::new(config, &[f64_spec(1)]).unwrap();
    step_one(&mut adamw, &mut p, &[0.0]).unwrap();
    // A zero gradient leaves only the decay: 2 * (1 - 0.1 * 0.5).
    assert_eq!(p[0], 2.0 * (1.0 - 0.1 * 0.5));
}

#[test]
fn sgd_momentum_buffer_starts_as_the_gradient() {
    let config = SgdConfig {
        momentum: 0.9,
        dampening: 0.5,
        ..SgdConfig::new(0.1)
    };
    let mut p = vec![1.0];
    let mut sgd = Sgd::new(config, &[f64_spec(1)]).unwrap();
    step_one(&mut sgd, &mut p, &[1.0]).unwrap();
    assert_eq!(p[0], 1.0 - 0.1, "no dampening on the first step");
    step_one(&mut sgd, &mut p, &[1.0]).unwrap();
    // buf = 0.9 * 1 + 0.5 * 1 = 1.4
    assert_eq!(p[0], 0.9 + -0.1 * 1.4);
    assert_eq!(sgd.momentum_buffers()[0], Some(FloatVec::F64(vec![1.4])));
}

#[test]
fn non_finite_gradient_changes_nothing() {
    let layout = [f64_spec(3), ParamSpec::new(Dtype::F32, 70_000)];
    let mut adam = Adam::new(AdamConfig::adamw(0.01), &layout).unwrap();
    let (mut p0, mut p1) = (values(3, 1), vec![0.5f32; 70_000]);
    let g0 = values(3, 2);
    let mut g1 = vec![0.25f32; 70_000];
    adam.step(
        &mut [p0.as_mut_slice().into(), p1.as_mut_slice().into()],
        &[g0.as_slice().into(), g1.as_slice().into()],
    )
    .unwrap();
    let before = (adam.clone(), p0.clone(), p1.clone());
    g1[69_999] = f32::NAN;
    let err = adam
        .step(
            &mut [p0.as_mut_slice().into(), p1.as_mut_slice().into()],
            &[g0.as_slice().into(), g1.as_slice().into()],
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "grads[1]: contains a non-finite value (NaN) at flat index 69999"
    );
    assert_eq!(adam.moments(), before.0.moments());
    assert_eq!(adam.steps(), 1);
    assert_eq!((p0, p1), (before.1, before.2));
}

#[test]
fn mismatched_arguments_are_named() {
    let mut sgd = Sgd::new(SgdConfig::new(0.1), &[f64_spec(2), f64_spec(3)]).unwrap();
    let (mut a, mut b) = (vec![0.0; 2], vec![0.0; 3]);
    let (ga, gb, short) = (vec![0.0; 2], vec![0.0f32; 3], vec![0.0; 2]);
    let err = sgd
        .step(&mut [a.as_mut_slice().into()], &[ga.as_slice().into()])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "params: expected 2 arrays (one per parameter), got 1"
    );
    let mut params = [a.as_mut_slice().into(), b.as_mut_slice().into()];
    let err = sgd
        .step(&mut params, &[ga.as_slice().into(), gb.as_slice().into()])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "grads[1]: expected dtype float64, got float32"
    );
    let err = sgd
        .step(
            &mut params,
            &[ga.as_slice().into(), short.as_slice().into()],
        )
        .unwrap_err();
    assert_eq!(err.to_string(), "grads[1]: expected 3 elements, got 2");
    assert_eq!(sgd.steps(), 0);
}

#[test]
fn configs_are_validated() {
    let bad_beta = AdamConfig {
        betas: (0.9, 1.0),
        ..AdamConfig::adam(1e-3)
    };
    assert_eq!(
        bad_beta.validate().unwrap_err().to_string(),
        "betas[1]: must be in [0, 1), got 1"
    );
    assert!(AdamConfig::adam(-1.0).validate().is_err());
    assert!(
        AdamConfig::adam(0.0).validate().is_ok(),
        "lr = 0 is allowed, as in torch"
    );
    let nesterov = SgdConfig {
        nesterov: true,
        ..SgdConfig::new(0.1)
    };
    assert!(nesterov.validate().is_err());
    let clipped = SgdConfig {
        max_grad_norm: Some(0.0),
        ..SgdConfig::new(0.1)
    };
    assert!(clipped.validate().is_err());
    assert!(Sgd::new(SgdConfig::new(0.1), &[]).is_err());
}

#[test]
fn clip_grad_norm_scales_like_torch() {
    let mut a = vec![3.0f32, 0.0];
    let mut b = vec![4.0f64];
    let norm =
        clip_grad_norm(&mut [a.as_mut_slice().into(), b.as_mut_slice().into()], 1.0).unwrap();
    assert_eq!(norm, 5.0);
    let coefficient = 1.0 / (5.0 + CLIP_EPS);
    assert_eq!(a, vec![3.0 * coefficient as f32, 0.0]);
    assert_eq!(b, vec![4.0 * coefficient]);
    // Below the threshold nothing changes.
    let norm = clip_grad_norm(&mut [b.as_mut_slice().into()], 10.0).unwrap();
    assert_eq!((norm, b[0]), (4.0 * coefficient, 4.0 * coefficient));
}

#[test]
fn huge_finite_gradients_have_a_finite_norm() {
    let grads = [1e200, -1e200, 0.0];
    let norm = grad_norm(&[grads.as_slice().into()]).unwrap();
    let want = 1e200 * 2f64.sqrt();
    assert!((norm - want).abs() <= 1e-15 * want, "{norm}");
}

#[test]
fn norm_does_not_depend_on_the_thread_count() {
    let grads = values(1_000_003, 7);
    let parallel = grad_norm(&[grads.as_slice().into()]).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let serial = pool.install(|| grad_norm(&[grads.as_slice().into()]).unwrap());
    assert_eq!(parallel.to_bits(), serial.to_bits());
}

#[test]
fn fused_clipping_equals_clipping_then_stepping() {
    let config = AdamConfig {
        amsgrad: true,
        ..AdamConfig::adamw(0.01)
    };
    let clipped = AdamConfig {
        max_grad_norm: Some(0.5),
        ..config
    };
    let layout = [ParamSpec::new(Dtype::F32, 100)];
    let (mut fused, mut separate) = (
        Adam::new(clipped, &layout).unwrap(),
        Adam::new(config, &layout).unwrap(),
    );
    let mut p_fused: Vec<f32> = values(100, 3).iter().map(|&x| x as f32).collect();
    let mut p_separate = p_fused.clone();
    for seed in 0..5 {
        let mut g: Vec<f32> = values(100, 10 + seed).iter().map(|&x| x as f32).collect();
        fused
            .step(&mut [p_fused.as_mut_slice().into()], &[g.as_slice().into()])
            .unwrap();
        clip_grad_norm(&mut [g.as_mut_slice().into()], 0.5).unwrap();
        separate
            .step(
                &mut [p_separate.as_mut_slice().into()],
                &[g.as_slice().into()],
            )
            .unwrap();
    }
    assert_eq!(p_fused, p_separate);
    assert_eq!(fused.moments(), separate.moments());
}

#[test]
fn restored_optimizers_continue_bit_identically() {
    let config = SgdConfig {
        momentum: 0.9,
        nesterov: true,
        weight_decay: 0.01,
        ..SgdConfig::new(0.05)
    };
    let layout = [f64_spec(50)];
    let mut whole = Sgd::new(config, &layout).unwrap();
    let mut p_whole = values(50, 1);
    let mut p_resumed = p_whole.clone();
    let mut first_half = Sgd::new(config, &layout).unwrap();
    for seed in 0..4 {
        let g = values(50, 100 + seed);
        step_one(&mut whole, &mut p_whole, &g).unwrap();
        if seed < 2 {
            step_one(&mut first_half, &mut p_resumed, &g).unwrap();
        } else if seed == 2 {
            let saved = first_half.momentum_buffers().to_vec();
            let mut resumed = Sgd::restore(config, &layout, 2, saved).unwrap();
            step_one(&mut resumed, &mut p_resumed, &g).unwrap();
            first_half = resumed;
        } else {
            step_one(&mut first_half, &mut p_resumed, &g).unwrap();
        }
    }
    assert_eq!(p_whole, p_resumed);
}

#[test]
fn restore_rejects_inconsistent_state() {
    let layout = [f64_spec(4)];
    let moments = vec![AdamMoments {
        exp_avg: FloatVec::F64(vec![0.0; 4]),
        exp_avg_sq: FloatVec::F32(vec![0.0; 4]),
        max_exp_avg_sq: None,
    }];
    let err = Adam::restore(AdamConfig::adam(0.1), &layout, 3, moments).unwrap_err();
    assert_eq!(
        err.to_string(),
        "exp_avg_sq[0]: expected 4 elements of float64, got 4 of float32"
    );
    let moments = vec![AdamMoments {
        exp_avg: FloatVec::F64(vec![0.0; 4]),
        exp_avg_sq: FloatVec::F64(vec![0.0; 4]),
        max_exp_avg_sq: None,
    }];
    let amsgrad = AdamConfig {
        amsgrad: true,
        ..AdamConfig::adam(0.1)
    };
    assert!(Adam::restore(amsgrad, &layout, 3, moments).is_err());
}

#[test]
fn mixed_dtypes_share_one_optimizer() {
    let layout = [ParamSpec::new(Dtype::F32, 5), f64_spec(5)];
    let config = SgdConfig {
        momentum: 0.5,
        ..SgdConfig::new(0.1)
    };
    let mut sgd = Sgd::new(config, &layout).unwrap();
    let (mut a, mut b) = (vec![1.0f32; 5], vec![1.0f64; 5]);
    let (ga, gb) = (vec![1.0f32; 5], vec![1.0f64; 5]);
    let norm = sgd
        .step(
            &mut [a.as_mut_slice().into(), b.as_mut_slice().into()],
            &[ga.as_slice().into(), gb.as_slice().into()],
        )
        .unwrap();
    assert_eq!(norm, 10f64.sqrt());
    assert_eq!((a[0], b[0]), (0.9f32, 0.9f64));
}

#[test]
fn empty_gradients_have_a_positive_zero_norm() {
    let empty: [f32; 0] = [];
    let norm = grad_norm(&[empty.as_slice().into()]).unwrap();
    assert!(norm == 0.0 && norm.is_sign_positive(), "{norm}");
    let mut adam = Adam::new(AdamConfig::adamw(0.1), &[ParamSpec::new(Dtype::F32, 0)]).unwrap();
    adam.set_check_finite(false);
    let mut params: [f32; 0] = [];
    let norm = adam
        .step(
            &mut [params.as_mut_slice().into()],
            &[empty.as_slice().into()],
        )
        .unwrap();
    assert!(norm == 0.0 && norm.is_sign_positive(), "{norm}");
}
