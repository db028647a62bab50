//! Optimizers that update parameter arrays in place: [`Sgd`], [`Adam`] (and AdamW, the same
//! type with decoupled weight decay), plus [`clip_grad_norm`]. See `docs/optimizers.md`.
//!
//! Update rules are those of `torch.optim`'s single-tensor implementations, operation for
//! operation: scalars are computed in `f64` as Python would, rounded once to the element type,
//! and every element-wise operation is done in the element type in torch's order (no fused
//! multiply-adds, so results do not depend on the CPU).
//!
//! A step is two passes over memory: one read of the gradients (finiteness check and global
//! L2 norm at once, so a NaN is rejected before anything is modified) and one fused update
//! pass that reads each parameter, gradient and state element once and writes each parameter
//! and state element once. Both passes run in parallel over 64K-element chunks of every array,
//! and walk each chunk in 64-element blocks with a software prefetch 4 KiB ahead in every array
//! (`stream.rs`). Gradient clipping (`max_grad_norm`) reuses the norm of the first pass and
//! multiplies the gradient inside the update pass, without writing it back. Adam's division by
//! `sqrt(1 - beta2^t)` is done by multiplication and two FMA corrections, which give the
//! correctly rounded quotient, so results stay bit-identical to torch's.
//!
//! ```
//! use ruvector_training_core::optim::{Adam, AdamConfig, Optimizer, ParamSpec};
//! use ruvector_training_core::types::Dtype;
//!
//! let mut weights = vec![1.0f32; 10];
//! let grads = vec![0.5f32; 10];
//! let mut adamw = Adam::new(AdamConfig::adamw(1e-3), &[ParamSpec::new(Dtype::F32, 10)])?;
//! adamw.step(&mut [weights.as_mut_slice().into()], &[grads.as_slice().into()])?;
//! assert!(weights[0] < 1.0);
//! # Ok::<(), ruvector_training_core::TrainingError>(())
//! ```

/// The [`Optimizer`] methods every optimizer implements the same way: its `progress` field,
/// and the `lr` / `max_grad_norm` fields of its `config` (of type `$config`), changed through
/// its validating `set_config`.
macro_rules! config_accessors {
    ($config:ident) => {
        fn progress(&self) -> &Progress {
            &self.progress
        }

        fn progress_mut(&mut self) -> &mut Progress {
            &mut self.progress
        }

        fn lr(&self) -> f64 {
            self.config.lr
        }

        fn set_lr(&mut self, lr: f64) -> Result<()> {
            self.set_config($config { lr, ..self.config })
        }

        fn max_grad_norm(&self) -> Option<f64> {
            self.config.max_grad_norm
        }

        fn set_max_grad_norm(&mut self, max_grad_norm: Option<f64>) -> Result<()> {
            self.set_config($config {
                max_grad_norm,
                ..self.config
            })
        }
    };
}

mod adam;
mod arrays;
mod clip;
mod sgd;
mod stream;
#[cfg(test)]
mod tests;

pub use adam::{Adam, AdamConfig, AdamMoments};
pub use arrays::{FloatSlice, FloatSliceMut, FloatVec, ParamSpec};
pub use clip::{clip_coefficient, clip_grad_norm, grad_norm, CLIP_EPS};
pub use sgd::{Sgd, SgdConfig};

use crate::error::{Result, TrainingError};
use crate::reduce::ordered_sum;
use crate::validate::ensure_positive;

/// Elements per parallel task of every optimizer pass.
pub(crate) const CHUNK: usize = 1 << 16;

/// What every optimizer offers: a step over matching parameter and gradient lists, its
/// [`Progress`], and writable learning rate and clipping threshold.
pub trait Optimizer: Send {
    /// Updates `params` in place from `grads` (one array each, in the order of
    /// [`layout`](Self::layout), same types and lengths) and returns the global L2 norm of
    /// `grads` before any clipping.
    ///
    /// Errors leave every parameter and all state unchanged: a count, type or length mismatch
    /// ([`TrainingError::Value`] / [`TrainingError::Item`] naming `params` or `grads[i]`), a
    /// NaN/Inf in a gradient, or a failed state allocation. The one exception is opt-in: with
    /// [`check_finite`](Self::check_finite) off (and no clipping) a NaN/Inf gradient is found
    /// during the update, so the error comes after the step was applied.
    fn step(&mut self, params: &mut [FloatSliceMut<'_>], grads: &[FloatSlice<'_>]) -> Result<f64>;

    /// Layout, step count and last gradient norm.
    fn progress(&self) -> &Progress;

    /// Mutable access to the progress (for [`set_check_finite`](Self::set_check_finite)).
    fn progress_mut(&mut self) -> &mut Progress;

    /// Whether gradients are checked for NaN/Inf before anything is modified (the default).
    fn check_finite(&self) -> bool {
        self.progress().check_finite
    }

    /// `false` skips the checking pass over the gradients (one read of every gradient, about
    /// 1/8 of an AdamW step's memory traffic) when no clipping is set: each gradient chunk is
    /// then checked while it is in cache during the update, and a NaN/Inf is still reported as
    /// an error, but only after the step was applied (the parameters then hold non-finite
    /// values). With `max_grad_norm` set the check is free and always done first.
    fn set_check_finite(&mut self, check_finite: bool) {
        self.progress_mut().check_finite = check_finite;
    }

    /// The learning rate.
    fn lr(&self) -> f64;

    /// Sets the learning rate (finite and >= 0, as torch requires).
    fn set_lr(&mut self, lr: f64) -> Result<()>;

    /// The gradient-norm clipping threshold applied inside [`step`](Self::step).
    fn max_grad_norm(&self) -> Option<f64>;

    /// Sets the clipping threshold (`None`, or finite and > 0).
    fn set_max_grad_norm(&mut self, max_grad_norm: Option<f64>) -> Result<()>;

    /// The type and length of each parameter array, as given at construction.
    fn layout(&self) -> &[ParamSpec] {
        &self.progress().layout
    }

    /// Number of steps taken so far.
    fn steps(&self) -> u64 {
        self.progress().steps
    }

    /// Global L2 norm of the last step's gradients before clipping (`None` before any step).
    fn last_grad_norm(&self) -> Option<f64> {
        self.progress().last_grad_norm
    }
}

/// What every optimizer tracks besides its hyper-parameters and buffers: the parameter layout,
/// the step count and the last gradient norm. It also runs the checks and the gradient pass
/// that start every step.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    layout: Vec<ParamSpec>,
    steps: u64,
    last_grad_norm: Option<f64>,
    check_finite: bool,
}

/// How a step treats its gradients, from the first pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GradStats {
    /// Global L2 norm before clipping.
    pub norm: f64,
    /// The factor every gradient element is multiplied by (1 without clipping).
    pub scale: f64,
}

impl Progress {
    /// Progress after `steps` steps over parameters of `layout` (at least one array).
    pub(crate) fn new(layout: &[ParamSpec], steps: u64) -> Result<Self> {
        if layout.is_empty() {
            return Err(TrainingError::value(
                "params",
                "expected at least one parameter array, got an empty list",
            ));
        }
        Ok(Self {
            layout: layout.to_vec(),
            steps,
            last_grad_norm: None,
            check_finite: true,
        })
    }

    /// True when this step checks the gradients inside the update pass instead of before it
    /// (`check_finite` off and no clipping).
    pub(crate) fn checks_during_update(&self, max_grad_norm: Option<f64>) -> bool {
        !self.check_finite && max_grad_norm.is_none()
    }

    /// Checks the step arguments against the layout, then runs the gradient pass: finiteness,
    /// norm, and the clipping factor for `max_grad_norm`.
    pub(crate) fn begin_step(
        &self,
        params: &[FloatSliceMut<'_>],
        grads: &[FloatSlice<'_>],
        max_grad_norm: Option<f64>,
    ) -> Result<GradStats> {
        self.check_arguments(params, grads)?;
        if self.checks_during_update(max_grad_norm) {
            return Ok(GradStats {
                norm: f64::NAN,
                scale: 1.0,
            });
        }
        let norm = grad_norm(grads)?;
        let scale = max_grad_norm.map_or(1.0, |max_norm| clip_coefficient(norm, max_norm));
        Ok(GradStats { norm, scale })
    }

    /// Checks the count, types and lengths of both lists against the layout.
    fn check_arguments(
        &self,
        params: &[FloatSliceMut<'_>],
        grads: &[FloatSlice<'_>],
    ) -> Result<()> {
        check_list(
            "params",
            &self.layout,
            params.iter().map(FloatSliceMut::spec),
        )?;
        check_list("grads", &self.layout, grads.iter().map(FloatSlice::spec))
    }

    /// Records a completed step and returns its gradient norm. `partials` are the per-array,
    /// per-chunk sums of squares the update pass computed when it checked the gradients itself
    /// (empty otherwise); they give the same norm as the checking pass would have. A
    /// non-finite gradient found that way is an error naming it, after the step was applied.
    pub(crate) fn end_step(
        &mut self,
        stats: GradStats,
        grads: &[FloatSlice<'_>],
        partials: &[Vec<f64>],
    ) -> Result<f64> {
        self.steps += 1;
        let norm = if stats.norm.is_nan() {
            fused_norm(grads, partials)
        } else {
            Ok(stats.norm)
        };
        self.last_grad_norm = norm.as_ref().ok().copied();
        norm
    }
}

/// The global norm from the update pass's per-chunk sums (added in the order `grad_norm`
/// uses, so the value is identical), or the error for the first non-finite gradient.
fn fused_norm(grads: &[FloatSlice<'_>], partials: &[Vec<f64>]) -> Result<f64> {
    let total: f64 = partials
        .iter()
        .map(|chunks| ordered_sum(chunks))
        .fold(0.0, |sum, array| sum + array);
    if total.is_finite() {
        return Ok(total.sqrt());
    }
    for (position, grad) in grads.iter().enumerate() {
        clip::ensure_finite_item("grads", position, *grad).map_err(|error| match error {
            TrainingError::Item { message, .. } => TrainingError::item(
                "grads",
                position,
                format!(
                    "{message}; check_finite=False, so the step was applied and the \
                     parameters now hold non-finite values"
                ),
            ),
            other => other,
        })?;
    }
    Ok(clip::rescaled_norm(grads))
}

/// Fails unless `got` arrays were given for `expected` parameters.
fn check_count(arg: &'static str, what: &str, expected: usize, got: usize) -> Result<()> {
    if got == expected {
        return Ok(());
    }
    Err(TrainingError::value(
        arg,
        format!("expected {expected} {what} (one per parameter), got {got}"),
    ))
}

/// Fails unless `specs` has one entry per `layout` entry, each of the same type and length.
fn check_list(
    arg: &'static str,
    layout: &[ParamSpec],
    specs: impl ExactSizeIterator<Item = ParamSpec>,
) -> Result<()> {
    check_count(arg, "arrays", layout.len(), specs.len())?;
    for (position, (want, got)) in layout.iter().zip(specs).enumerate() {
        if got.dtype != want.dtype {
            let message = format!(
                "expected dtype {}, got {}",
                want.dtype.name(),
                got.dtype.name()
            );
            return Err(TrainingError::item(arg, position, message));
        }
        if got.len != want.len {
            let message = format!("expected {} elements, got {}", want.len, got.len);
            return Err(TrainingError::item(arg, position, message));
        }
    }
    Ok(())
}

/// Fails unless `max_grad_norm` is `None` or finite and > 0.
pub(crate) fn check_max_grad_norm(max_grad_norm: Option<f64>) -> Result<()> {
    max_grad_norm.map_or(Ok(()), |value| ensure_positive("max_grad_norm", value))
}

/// Fails unless `state` has one entry per parameter, each with the parameter's type and length.
pub(crate) fn check_state_specs<'a>(
    arg: &'static str,
    layout: &[ParamSpec],
    state: impl ExactSizeIterator<Item = Option<&'a FloatVec>>,
) -> Result<()> {
    check_count(arg, "buffers", layout.len(), state.len())?;
    for (position, (want, buffer)) in layout.iter().zip(state).enumerate() {
        if let Some(buffer) = buffer {
            let got = buffer.spec();
            if got != *want {
                let message = format!(
                    "expected {} elements of {}, got {} of {}",
                    want.len,
                    want.dtype.name(),
                    got.len,
                    got.dtype.name()
                );
                return Err(TrainingError::item(arg, position, message));
            }
        }
    }
    Ok(())
}
