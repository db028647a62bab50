//! Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight
//! decay: `torch.optim.SGD`.

use crate::simd_dispatch;
use rayon::prelude::*;

use super::arrays::{FloatSlice, FloatSliceMut, FloatVec, ParamSpec};
use super::stream::for_each_block;
use super::{check_max_grad_norm, check_state_specs, Optimizer, Progress, CHUNK};
use crate::error::{Result, TrainingError};
use crate::float::Float;
use crate::validate::ensure_non_negative;

/// Hyper-parameters of [`Sgd`], with torch's names and meanings.
///
/// Per element, with `g` the gradient times the clipping factor:
/// `g += weight_decay * p`; with momentum, `buf = g` on the first step and
/// `buf = momentum * buf + (1 - dampening) * g` afterwards, then `g = g + momentum * buf`
/// (Nesterov) or `g = buf`; finally `p -= lr * g`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate, finite and >= 0.
    pub lr: f64,
    /// Momentum factor, finite and >= 0 (0 disables the momentum buffer).
    pub momentum: f64,
    /// Dampening of the gradient in the momentum update (finite; 0 with Nesterov).
    pub dampening: f64,
    /// Nesterov momentum (needs `momentum > 0` and `dampening == 0`).
    pub nesterov: bool,
    /// L2 penalty added to the gradient, finite and >= 0.
    pub weight_decay: f64,
    /// Clip the global gradient norm to this value inside the step (`None`: no clipping).
    pub max_grad_norm: Option<f64>,
}

impl SgdConfig {
    /// Plain SGD with learning rate `lr` (no momentum, no decay, no clipping).
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            max_grad_norm: None,
        }
    }

    /// Checks every field as `torch.optim.SGD` does (plus finiteness).
    pub fn validate(&self) -> Result<()> {
        ensure_non_negative("lr", self.lr)?;
        ensure_non_negative("momentum", self.momentum)?;
        ensure_non_negative("weight_decay", self.weight_decay)?;
        if !self.dampening.is_finite() {
            return Err(TrainingError::value(
                "dampening",
                format!("must be finite, got {}", self.dampening),
            ));
        }
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(TrainingError::value(
                "nesterov",
                format!(
                    "Nesterov momentum needs momentum > 0 and dampening == 0, got momentum={} and dampening={}",
                    self.momentum, self.dampening
                ),
            ));
        }
        check_max_grad_norm(self.max_grad_norm)
    }
}

/// `torch.optim.SGD` over a fixed list of parameter arrays of `f32` and/or `f64`.
///
/// Momentum buffers are created on the first step that uses momentum (holding that step's
/// gradient, as torch does) and kept from then on.
#[derive(Debug, Clone)]
pub struct Sgd {
    config: SgdConfig,
    progress: Progress,
    momentum_buffers: Vec<Option<FloatVec>>,
}

impl Sgd {
    /// An optimizer for parameters of the given types and lengths (at least one array).
    pub fn new(config: SgdConfig, layout: &[ParamSpec]) -> Result<Self> {
        Self::restore(config, layout, 0, vec![None; layout.len()])
    }

    /// An optimizer resumed from saved state: `steps` taken so far and one momentum buffer (or
    /// `None`, before the first momentum step) per parameter, each of the parameter's type and
    /// length. Continuing from it gives bit-identical results to never having stopped.
    pub fn restore(
        config: SgdConfig,
        layout: &[ParamSpec],
        steps: u64,
        momentum_buffers: Vec<Option<FloatVec>>,
    ) -> Result<Self> {
        config.validate()?;
        check_state_specs(
            "momentum_buffer",
            layout,
            momentum_buffers.iter().map(Option::as_ref),
        )?;
        Ok(Self {
            config,
            progress: Progress::new(layout, steps)?,
            momentum_buffers,
        })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }

    /// Replaces the hyper-parameters (validated first; on error nothing changes).
    pub fn set_config(&mut self, config: SgdConfig) -> Result<()> {
        config.validate()?;
        self.config = config;
        Ok(())
    }

    /// The momentum buffer of each parameter (`None` until a step with momentum).
    pub fn momentum_buffers(&self) -> &[Option<FloatVec>] {
        &self.momentum_buffers
    }

    /// Zero-filled buffers for the parameters that have none yet, allocated before anything is
    /// modified so that a failed allocation leaves the optimizer unchanged.
    fn missing_buffers(&self) -> Result<Vec<Option<FloatVec>>> {
        self.momentum_buffers
            .iter()
            .zip(&self.progress.layout)
            .map(|(buffer, spec)| match buffer {
                Some(_) => Ok(None),
                None => FloatVec::zeros("momentum_buffer", *spec).map(Some),
            })
            .collect()
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &mut [FloatSliceMut<'_>], grads: &[FloatSlice<'_>]) -> Result<f64> {
        let stats = self
            .progress
            .begin_step(params, grads, self.config.max_grad_norm)?;
        let use_momentum = self.config.momentum != 0.0;
        let mut first = vec![false; self.momentum_buffers.len()];
        if use_momentum {
            let fresh = self.missing_buffers()?;
            for ((slot, new), first) in self.momentum_buffers.iter_mut().zip(fresh).zip(&mut first)
            {
                if new.is_some() {
                    *slot = new;
                    *first = true;
                }
            }
        }
        let config = self.config;
        let probe = self.progress.checks_during_update(config.max_grad_norm);
        let buffers = self.momentum_buffers.par_iter_mut().map(|buffer| {
            if use_momentum {
                buffer.as_mut()
            } else {
                None
            }
        });
        let partials = buffers
            .zip(params.par_iter_mut())
            .zip(grads.par_iter())
            .zip(first.par_iter())
            .map(|(((buffer, param), grad), &first)| {
                update_array(buffer, first, param, *grad, &config, stats.scale, probe)
            })
            .collect::<Vec<Vec<f64>>>();
        self.progress.end_step(stats, grads, &partials)
    }

    config_accessors!(SgdConfig);
}

/// The per-step scalars of one array, rounded to its element type.
#[derive(Debug, Clone, Copy)]
struct SgdScalars<T> {
    grad_scale: T,
    use_weight_decay: bool,
    weight_decay: T,
    momentum: T,
    /// `1 - dampening`.
    gradient_weight: T,
    nesterov: bool,
    /// `-lr`.
    neg_lr: T,
}

impl<T: Float> SgdScalars<T> {
    fn new(config: &SgdConfig, grad_scale: f64) -> Self {
        Self {
            grad_scale: T::from_f64(grad_scale),
            use_weight_decay: config.weight_decay != 0.0,
            weight_decay: T::from_f64(config.weight_decay),
            momentum: T::from_f64(config.momentum),
            gradient_weight: T::from_f64(1.0 - config.dampening),
            nesterov: config.nesterov,
            neg_lr: T::from_f64(-config.lr),
        }
    }

    /// The clipped gradient plus the L2 term.
    #[inline(always)]
    fn gradient(&self, p: T, g: T) -> T {
        let scaled = g * self.grad_scale;
        if self.use_weight_decay {
            scaled + self.weight_decay * p
        } else {
            scaled
        }
    }
}

/// Updates one parameter array (and its momentum buffer, when momentum is on); with `probe`,
/// also returns the gradient's per-chunk sums of squares (empty otherwise).
fn update_array(
    buffer: Option<&mut FloatVec>,
    first: bool,
    param: &mut FloatSliceMut<'_>,
    grad: FloatSlice<'_>,
    config: &SgdConfig,
    grad_scale: f64,
    probe: bool,
) -> Vec<f64> {
    match (buffer, param, grad) {
        (None, FloatSliceMut::F32(p), FloatSlice::F32(g)) => {
            plain_update(p, g, SgdScalars::new(config, grad_scale), probe)
        }
        (None, FloatSliceMut::F64(p), FloatSlice::F64(g)) => {
            plain_update(p, g, SgdScalars::new(config, grad_scale), probe)
        }
        (Some(FloatVec::F32(b)), FloatSliceMut::F32(p), FloatSlice::F32(g)) => {
            momentum_update(p, g, b, first, SgdScalars::new(config, grad_scale), probe)
        }
        (Some(FloatVec::F64(b)), FloatSliceMut::F64(p), FloatSlice::F64(g)) => {
            momentum_update(p, g, b, first, SgdScalars::new(config, grad_scale), probe)
        }
        _ => unreachable!("begin_step and restore check that all dtypes agree"),
    }
}

/// `p += -lr * g` over one array, in parallel over chunks (see [`update_array`] for `probe`).
fn plain_update<T: Float>(p: &mut [T], g: &[T], s: SgdScalars<T>, probe: bool) -> Vec<f64> {
    p.par_chunks_mut(CHUNK)
        .zip(g.par_chunks(CHUNK))
        .map(|(p, g)| plain_chunk(p, g, s, probe))
        .collect()
}

/// The momentum (or Nesterov) update of one array, in parallel over chunks.
fn momentum_update<T: Float>(
    p: &mut [T],
    g: &[T],
    b: &mut [T],
    first: bool,
    s: SgdScalars<T>,
    probe: bool,
) -> Vec<f64> {
    p.par_chunks_mut(CHUNK)
        .zip(g.par_chunks(CHUNK))
        .zip(b.par_chunks_mut(CHUNK))
        .map(|((p, g), b)| momentum_chunk(p, g, b, first, s, probe))
        .collect()
}

/// `p += -lr * g` over one chunk, block by block; with `probe`, returns the gradient's sum of
/// squares (0 otherwise).
#[simd_dispatch]
fn plain_chunk<T: Float>(p: &mut [T], g: &[T], s: SgdScalars<T>, probe: bool) -> f64 {
    let streams = [p.as_ptr(), g.as_ptr()];
    for_each_block(&streams, g, probe, |block| {
        for (p, &g) in p[block.clone()].iter_mut().zip(&g[block]) {
            let d = s.gradient(*p, g);
            *p += s.neg_lr * d;
        }
    })
}

/// Momentum (or Nesterov) update of one chunk, block by block; `first` copies the gradient into
/// the buffer. With `probe`, returns the gradient's sum of squares (0 otherwise).
#[simd_dispatch]
fn momentum_chunk<T: Float>(
    p: &mut [T],
    g: &[T],
    b: &mut [T],
    first: bool,
    s: SgdScalars<T>,
    probe: bool,
) -> f64 {
    let streams = [p.as_ptr(), g.as_ptr(), b.as_ptr()];
    for_each_block(&streams, g, probe, |block| {
        let elements = p[block.clone()].iter_mut().zip(&g[block.clone()]);
        for ((p, &g), b) in elements.zip(&mut b[block]) {
            let d = s.gradient(*p, g);
            let buf = if first {
                d
            } else {
                *b * s.momentum + s.gradient_weight * d
            };
            *b = buf;
            let direction = if s.nesterov {
                d + s.momentum * buf
            } else {
                buf
            };
            *p += s.neg_lr * direction;
        }
    })
}
