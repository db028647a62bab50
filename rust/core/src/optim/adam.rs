//! Adam (L2 weight decay added to the gradient) and AdamW (decoupled weight decay), both with
//! optional AMSGrad: `torch.optim.Adam` and `torch.optim.AdamW`.

use crate::simd_dispatch;
use multiversion::target::target_cfg_f;
use rayon::prelude::*;

use super::arrays::{FloatSlice, FloatSliceMut, FloatVec, ParamSpec};
use super::stream::{for_each_block, ConstantDivisor};
use super::{check_max_grad_norm, check_state_specs, Optimizer, Progress, CHUNK};
use crate::error::{Result, TrainingError};
use crate::float::Float;
use crate::validate::ensure_non_negative;

/// Hyper-parameters of [`Adam`], with torch's names and meanings.
///
/// Per element at step `t`, with `g` the gradient times the clipping factor:
/// Adam adds `weight_decay * p` to `g`; AdamW instead multiplies `p` by `1 - lr * weight_decay`.
/// Then `m = lerp(m, g, 1 - beta1)`, `v = beta2 * v + (1 - beta2) * g * g`, with AMSGrad
/// `v_max = max(v_max, v)` (used instead of `v` below), and
/// `p += -(lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate, finite and >= 0.
    pub lr: f64,
    /// `(beta1, beta2)`, each in `[0, 1)`.
    pub betas: (f64, f64),
    /// Added to the denominator, finite and >= 0.
    pub eps: f64,
    /// Weight decay, finite and >= 0 (L2 for Adam, decoupled for AdamW).
    pub weight_decay: f64,
    /// Keep the running maximum of the second moment (AMSGrad).
    pub amsgrad: bool,
    /// `true` for AdamW: `p *= 1 - lr * weight_decay` instead of an L2 gradient term.
    pub decoupled_weight_decay: bool,
    /// Clip the global gradient norm to this value inside the step (`None`: no clipping).
    pub max_grad_norm: Option<f64>,
}

impl AdamConfig {
    /// `torch.optim.Adam` defaults with learning rate `lr`: betas (0.9, 0.999), eps 1e-8, no
    /// weight decay.
    pub fn adam(lr: f64) -> Self {
        Self {
            lr,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            decoupled_weight_decay: false,
            max_grad_norm: None,
        }
    }

    /// `torch.optim.AdamW` defaults with learning rate `lr`: as [`adam`](Self::adam) with
    /// decoupled weight decay 0.01.
    pub fn adamw(lr: f64) -> Self {
        Self {
            weight_decay: 0.01,
            decoupled_weight_decay: true,
            ..Self::adam(lr)
        }
    }

    /// `"AdamW"` with decoupled weight decay, `"Adam"` otherwise.
    pub fn name(&self) -> &'static str {
        if self.decoupled_weight_decay {
            "AdamW"
        } else {
            "Adam"
        }
    }

    /// Checks every field as `torch.optim.Adam` does (plus finiteness).
    pub fn validate(&self) -> Result<()> {
        ensure_non_negative("lr", self.lr)?;
        ensure_non_negative("eps", self.eps)?;
        ensure_non_negative("weight_decay", self.weight_decay)?;
        for (position, beta) in [self.betas.0, self.betas.1].into_iter().enumerate() {
            if !(0.0..1.0).contains(&beta) {
                let message = format!("must be in [0, 1), got {beta}");
                return Err(TrainingError::item("betas", position, message));
            }
        }
        check_max_grad_norm(self.max_grad_norm)
    }
}

/// The state of one parameter array: first and second moment estimates, and with AMSGrad the
/// running maximum of the second one. All have the parameter's type and length.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamMoments {
    /// Exponential moving average of the gradient (`m`).
    pub exp_avg: FloatVec,
    /// Exponential moving average of the squared gradient (`v`).
    pub exp_avg_sq: FloatVec,
    /// Running maximum of `v` (AMSGrad only).
    pub max_exp_avg_sq: Option<FloatVec>,
}

impl AdamMoments {
    /// Zero moments for one parameter.
    fn zeros(spec: ParamSpec, amsgrad: bool) -> Result<Self> {
        Ok(Self {
            exp_avg: FloatVec::zeros("exp_avg", spec)?,
            exp_avg_sq: FloatVec::zeros("exp_avg_sq", spec)?,
            max_exp_avg_sq: if amsgrad {
                Some(FloatVec::zeros("max_exp_avg_sq", spec)?)
            } else {
                None
            },
        })
    }
}

/// `torch.optim.Adam` / `torch.optim.AdamW` (by [`AdamConfig::decoupled_weight_decay`]) over a
/// fixed list of parameter arrays of `f32` and/or `f64`. The moments are allocated (zeroed)
/// at construction; one step counter is shared by all parameters.
#[derive(Debug, Clone)]
pub struct Adam {
    config: AdamConfig,
    progress: Progress,
    moments: Vec<AdamMoments>,
}

impl Adam {
    /// An optimizer for parameters of the given types and lengths (at least one array).
    pub fn new(config: AdamConfig, layout: &[ParamSpec]) -> Result<Self> {
        let moments = layout
            .iter()
            .map(|spec| AdamMoments::zeros(*spec, config.amsgrad))
            .collect::<Result<Vec<_>>>()?;
        Self::restore(config, layout, 0, moments)
    }

    /// An optimizer resumed from saved state: `steps` taken so far and the moments of every
    /// parameter (`max_exp_avg_sq` present exactly when `config.amsgrad`). Continuing from it
    /// gives bit-identical results to never having stopped.
    pub fn restore(
        config: AdamConfig,
        layout: &[ParamSpec],
        steps: u64,
        moments: Vec<AdamMoments>,
    ) -> Result<Self> {
        config.validate()?;
        check_state_specs("exp_avg", layout, moments.iter().map(|m| Some(&m.exp_avg)))?;
        check_state_specs(
            "exp_avg_sq",
            layout,
            moments.iter().map(|m| Some(&m.exp_avg_sq)),
        )?;
        check_state_specs(
            "max_exp_avg_sq",
            layout,
            moments.iter().map(|m| m.max_exp_avg_sq.as_ref()),
        )?;
        check_amsgrad_buffers(&config, &moments)?;
        Ok(Self {
            config,
            progress: Progress::new(layout, steps)?,
            moments,
        })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    /// Replaces the hyper-parameters (validated first; on error nothing changes). `amsgrad`
    /// and `decoupled_weight_decay` are fixed at construction.
    pub fn set_config(&mut self, config: AdamConfig) -> Result<()> {
        config.validate()?;
        if config.amsgrad != self.config.amsgrad {
            return Err(TrainingError::value(
                "amsgrad",
                "is fixed at construction (the AMSGrad buffers exist or not)",
            ));
        }
        if config.decoupled_weight_decay != self.config.decoupled_weight_decay {
            return Err(TrainingError::value(
                "decoupled_weight_decay",
                "is fixed at construction (Adam or AdamW)",
            ));
        }
        self.config = config;
        Ok(())
    }

    /// The moments of each parameter.
    pub fn moments(&self) -> &[AdamMoments] {
        &self.moments
    }
}

/// Fails unless every parameter has an AMSGrad buffer exactly when `config.amsgrad`.
fn check_amsgrad_buffers(config: &AdamConfig, moments: &[AdamMoments]) -> Result<()> {
    let mismatch = moments
        .iter()
        .position(|m| m.max_exp_avg_sq.is_some() != config.amsgrad);
    match mismatch {
        None => Ok(()),
        Some(position) => Err(TrainingError::item(
            "max_exp_avg_sq",
            position,
            format!(
                "must be present exactly when amsgrad is on (amsgrad={})",
                config.amsgrad
            ),
        )),
    }
}

impl Optimizer for Adam {
    fn step(&mut self, params: &mut [FloatSliceMut<'_>], grads: &[FloatSlice<'_>]) -> Result<f64> {
        let stats = self
            .progress
            .begin_step(params, grads, self.config.max_grad_norm)?;
        let step = self.progress.steps + 1;
        let config = self.config;
        let probe = self.progress.checks_during_update(config.max_grad_norm);
        let partials: Vec<Vec<f64>> = self
            .moments
            .par_iter_mut()
            .zip(params.par_iter_mut())
            .zip(grads.par_iter())
            .map(|((moments, param), grad)| {
                update_array(moments, param, *grad, &config, step, stats.scale, probe)
            })
            .collect();
        self.progress.end_step(stats, grads, &partials)
    }

    config_accessors!(AdamConfig);
}

/// The per-step scalars of one array: computed in `f64` as torch computes them in Python,
/// rounded once to the element type.
#[derive(Debug, Clone, Copy)]
struct AdamScalars<T> {
    grad_scale: T,
    use_l2: bool,
    weight_decay: T,
    /// `1 - lr * weight_decay` for AdamW, 1 for Adam.
    decay: T,
    /// torch's `lerp` takes `m + w (g - m)` when `|w| < 0.5` and `g - (1 - w)(g - m)` otherwise.
    lerp_small: bool,
    /// `w = 1 - beta1`.
    lerp_weight: T,
    /// `w - 1`.
    lerp_weight_minus_one: T,
    beta2: T,
    one_minus_beta2: T,
    /// `sqrt(1 - beta2^t)`, in `(0, 1]`.
    bias_correction2_sqrt: ConstantDivisor<T>,
    eps: T,
    /// `-lr / (1 - beta1^t)`.
    neg_step_size: T,
}

impl<T: Float> AdamScalars<T> {
    fn new(config: &AdamConfig, step: u64, grad_scale: f64) -> Self {
        let (beta1, beta2) = config.betas;
        // torch keeps the step as a float and uses Python's `**` (C `pow`).
        let t = step as f64;
        let bias_correction1 = 1.0 - beta1.powf(t);
        let bias_correction2 = 1.0 - beta2.powf(t);
        let decay = if config.decoupled_weight_decay {
            1.0 - config.lr * config.weight_decay
        } else {
            1.0
        };
        let lerp_weight = T::from_f64(1.0 - beta1);
        Self {
            grad_scale: T::from_f64(grad_scale),
            use_l2: !config.decoupled_weight_decay && config.weight_decay != 0.0,
            weight_decay: T::from_f64(config.weight_decay),
            decay: T::from_f64(decay),
            lerp_small: lerp_weight < T::from_f64(0.5),
            lerp_weight,
            lerp_weight_minus_one: lerp_weight - T::ONE,
            beta2: T::from_f64(beta2),
            one_minus_beta2: T::from_f64(1.0 - beta2),
            bias_correction2_sqrt: ConstantDivisor::new(T::from_f64(bias_correction2.powf(0.5))),
            eps: T::from_f64(config.eps),
            neg_step_size: T::from_f64(-(config.lr / bias_correction1)),
        }
    }

    /// `(p after decoupled decay, new m, new v)` for one element.
    #[inline(always)]
    fn moments(&self, p: T, g: T, m: T, v: T) -> (T, T, T) {
        let scaled = g * self.grad_scale;
        let grad = if self.use_l2 {
            scaled + self.weight_decay * p
        } else {
            scaled
        };
        let diff = grad - m;
        let m = if self.lerp_small {
            m + self.lerp_weight * diff
        } else {
            grad + self.lerp_weight_minus_one * diff
        };
        let v = v * self.beta2 + self.one_minus_beta2 * grad * grad;
        (p * self.decay, m, v)
    }

    /// The updated parameter from the decayed one, `m`, and the second moment in use (`fma`:
    /// the code is compiled for FMA, see [`ConstantDivisor::divide`]).
    #[inline(always)]
    fn parameter(&self, decayed: T, m: T, second: T, fma: bool) -> T {
        let denom = self.bias_correction2_sqrt.divide(second.sqrt(), fma) + self.eps;
        decayed + self.neg_step_size * m / denom
    }
}

/// Updates one parameter array and its moments; with `probe`, also returns the gradient's
/// per-chunk sums of squares, computed while each chunk is in cache (empty otherwise).
fn update_array(
    moments: &mut AdamMoments,
    param: &mut FloatSliceMut<'_>,
    grad: FloatSlice<'_>,
    config: &AdamConfig,
    step: u64,
    grad_scale: f64,
    probe: bool,
) -> Vec<f64> {
    let AdamMoments {
        exp_avg,
        exp_avg_sq,
        max_exp_avg_sq,
    } = moments;
    match (param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq) {
        (FloatSliceMut::F32(p), FloatSlice::F32(g), FloatVec::F32(m), FloatVec::F32(v), None) => {
            update_typed(
                p,
                g,
                m,
                v,
                None,
                AdamScalars::new(config, step, grad_scale),
                probe,
            )
        }
        (
            FloatSliceMut::F32(p),
            FloatSlice::F32(g),
            FloatVec::F32(m),
            FloatVec::F32(v),
            Some(FloatVec::F32(vmax)),
        ) => update_typed(
            p,
            g,
            m,
            v,
            Some(vmax),
            AdamScalars::new(config, step, grad_scale),
            probe,
        ),
        (FloatSliceMut::F64(p), FloatSlice::F64(g), FloatVec::F64(m), FloatVec::F64(v), None) => {
            update_typed(
                p,
                g,
                m,
                v,
                None,
                AdamScalars::new(config, step, grad_scale),
                probe,
            )
        }
        (
            FloatSliceMut::F64(p),
            FloatSlice::F64(g),
            FloatVec::F64(m),
            FloatVec::F64(v),
            Some(FloatVec::F64(vmax)),
        ) => update_typed(
            p,
            g,
            m,
            v,
            Some(vmax),
            AdamScalars::new(config, step, grad_scale),
            probe,
        ),
        _ => unreachable!("begin_step and restore check that all dtypes agree"),
    }
}

/// The fused update of one array, in parallel over chunks (see [`update_array`] for `probe`).
fn update_typed<T: Float>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    vmax: Option<&mut Vec<T>>,
    s: AdamScalars<T>,
    probe: bool,
) -> Vec<f64> {
    let chunks = p
        .par_chunks_mut(CHUNK)
        .zip(g.par_chunks(CHUNK))
        .zip(m.par_chunks_mut(CHUNK))
        .zip(v.par_chunks_mut(CHUNK));
    match vmax {
        None => chunks
            .map(|(((p, g), m), v)| adam_chunk(p, g, m, v, s, probe))
            .collect(),
        Some(vmax) => chunks
            .zip(vmax.par_chunks_mut(CHUNK))
            .map(|((((p, g), m), v), vmax)| amsgrad_chunk(p, g, m, v, vmax, s, probe))
            .collect(),
    }
}

/// One chunk of Adam/AdamW, block by block: reads `p, g, m, v` once and writes `p, m, v` once.
/// With `probe`, returns the gradient's sum of squares (0 otherwise).
#[simd_dispatch]
fn adam_chunk<T: Float>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    s: AdamScalars<T>,
    probe: bool,
) -> f64 {
    let fma = target_cfg_f!(target_feature = "fma");
    let streams = [p.as_ptr(), g.as_ptr(), m.as_ptr(), v.as_ptr()];
    for_each_block(&streams, g, probe, |block| {
        let (m, v) = (&mut m[block.clone()], &mut v[block.clone()]);
        for (((p, &g), m), v) in p[block.clone()].iter_mut().zip(&g[block]).zip(m).zip(v) {
            let (decayed, m_new, v_new) = s.moments(*p, g, *m, *v);
            *m = m_new;
            *v = v_new;
            *p = s.parameter(decayed, m_new, v_new, fma);
        }
    })
}

/// One chunk of Adam/AdamW with AMSGrad (also reads and writes the running maximum).
#[simd_dispatch]
fn amsgrad_chunk<T: Float>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    vmax: &mut [T],
    s: AdamScalars<T>,
    probe: bool,
) -> f64 {
    let fma = target_cfg_f!(target_feature = "fma");
    let streams = [
        p.as_ptr(),
        g.as_ptr(),
        m.as_ptr(),
        v.as_ptr(),
        vmax.as_ptr(),
    ];
    for_each_block(&streams, g, probe, |block| {
        let (m, v) = (&mut m[block.clone()], &mut v[block.clone()]);
        let elements = p[block.clone()]
            .iter_mut()
            .zip(&g[block.clone()])
            .zip(m)
            .zip(v);
        for ((((p, &g), m), v), vmax) in elements.zip(&mut vmax[block]) {
            let (decayed, m_new, v_new) = s.moments(*p, g, *m, *v);
            let max_new = vmax.max_of(v_new);
            *m = m_new;
            *v = v_new;
            *vmax = max_new;
            *p = s.parameter(decayed, m_new, max_new, fma);
        }
    })
}
