//! Optimizers that update parameter arrays in place: [`Sgd`], [`Adam`] (and AdamW, the same
//! type with decoupled weight decay), plus [`clip_grad_norm`]. See `shared/spec.md` section 3.
//!
//! Update rules are those of `torch.optim`'s single-tensor implementations, operation for
//! operation: scalars are computed in `f64` as Python would, rounded once to the element type,
//! and every element-wise operation is done in the element type in torch's order (no fused
//! multiply-adds, so results do not depend on the CPU).
//!
//! A step is two passes over memory: one read of the gradients (finiteness check and global
//! L2 norm at once, so a NaN is rejected before anything is modified) and one fused update
//! pass that reads each parameter, gradient and state element once and writes each parameter
//! and state element once. Both passes run in parallel over 64K-element chunks of every array.
//! Gradient clipping (`max_grad_norm`) reuses the norm of the first pass and multiplies the
//! gradient inside the update pass, without writing it back.
//!
//! ```
//! use ruvector_training_core::optim::{Adam, AdamConfig, Dtype, Optimizer, ParamSpec};
//!
//! let mut weights = vec![1.0f32; 10];
//! let grads = vec![0.5f32; 10];
//! let mut adamw = Adam::new(AdamConfig::adamw(1e-3), &[ParamSpec::new(Dtype::F32, 10)])?;
//! adamw.step(&mut [weights.as_mut_slice().into()], &[grads.as_slice().into()])?;
//! assert!(weights[0] < 1.0);
//! # Ok::<(), ruvector_training_core::TrainingError>(())
//! ```

mod adam;
mod arrays;
mod clip;
mod sgd;
#[cfg(test)]
mod tests;

pub use adam::{Adam, AdamConfig, AdamMoments};
pub use arrays::{Dtype, FloatSlice, FloatSliceMut, FloatVec, ParamSpec};
pub use clip::{clip_coefficient, clip_grad_norm, grad_norm, validate_max_norm, CLIP_EPS};
pub use sgd::{Sgd, SgdConfig};

use crate::error::{Result, TrainingError};

/// Elements per parallel task of every optimizer pass.
pub(crate) const CHUNK: usize = 1 << 16;

/// What every optimizer offers: a step over matching parameter and gradient lists, its step
/// count, the norm of the last gradients, and a writable learning rate.
pub trait Optimizer: Send {
    /// Updates `params` in place from `grads` (one array each, in the order of
    /// [`layout`](Self::layout), same types and lengths) and returns the global L2 norm of
    /// `grads` before any clipping.
    ///
    /// Errors leave every parameter and all state unchanged: a count, type or length mismatch
    /// ([`TrainingError::Value`] / [`TrainingError::Item`] naming `params` or `grads[i]`), a
    /// NaN/Inf in a gradient, or a failed state allocation.
    fn step(&mut self, params: &mut [FloatSliceMut<'_>], grads: &[FloatSlice<'_>]) -> Result<f64>;

    /// The type and length of each parameter array, as given at construction.
    fn layout(&self) -> &[ParamSpec];

    /// Number of steps taken so far.
    fn steps(&self) -> u64;

    /// Global L2 norm of the last step's gradients before clipping (`None` before any step).
    fn last_grad_norm(&self) -> Option<f64>;

    /// The learning rate.
    fn lr(&self) -> f64;

    /// Sets the learning rate (finite and >= 0, as torch requires).
    fn set_lr(&mut self, lr: f64) -> Result<()>;
}

/// How a step treats its gradients, from the first pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GradStats {
    /// Global L2 norm before clipping.
    pub norm: f64,
    /// The factor every gradient element is multiplied by (1 without clipping).
    pub scale: f64,
}

/// Checks the step arguments against `layout`, then runs the gradient pass: finiteness, norm,
/// and the clipping factor for `max_grad_norm`.
pub(crate) fn prepare_step(
    layout: &[ParamSpec],
    params: &[FloatSliceMut<'_>],
    grads: &[FloatSlice<'_>],
    max_grad_norm: Option<f64>,
) -> Result<GradStats> {
    check_list("params", layout, params.iter().map(FloatSliceMut::spec))?;
    check_list("grads", layout, grads.iter().map(FloatSlice::spec))?;
    let norm = grad_norm(grads)?;
    let scale = max_grad_norm.map_or(1.0, |max_norm| clip_coefficient(norm, max_norm));
    Ok(GradStats { norm, scale })
}

/// Fails unless `specs` has one entry per `layout` entry, each of the same type and length.
fn check_list(
    arg: &'static str,
    layout: &[ParamSpec],
    specs: impl ExactSizeIterator<Item = ParamSpec>,
) -> Result<()> {
    if specs.len() != layout.len() {
        return Err(TrainingError::value(
            arg,
            format!(
                "expected {} arrays (one per parameter), got {}",
                layout.len(),
                specs.len()
            ),
        ));
    }
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

/// Fails unless the optimizer was given at least one parameter array.
pub(crate) fn check_layout(layout: &[ParamSpec]) -> Result<()> {
    if layout.is_empty() {
        return Err(TrainingError::value(
            "params",
            "expected at least one parameter array, got an empty list",
        ));
    }
    Ok(())
}

/// Fails unless `value` is finite and >= 0.
pub(crate) fn ensure_non_negative(arg: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(TrainingError::value(
            arg,
            format!("must be a finite number >= 0, got {value}"),
        ))
    }
}

/// Fails unless `max_grad_norm` is `None` or finite and > 0.
pub(crate) fn check_max_grad_norm(max_grad_norm: Option<f64>) -> Result<()> {
    max_grad_norm.map_or(Ok(()), |value| validate_max_norm("max_grad_norm", value))
}

/// Fails unless `state` has one entry per parameter, each with the parameter's type and length.
pub(crate) fn check_state_specs<'a>(
    arg: &'static str,
    layout: &[ParamSpec],
    state: impl ExactSizeIterator<Item = Option<&'a FloatVec>>,
) -> Result<()> {
    if state.len() != layout.len() {
        return Err(TrainingError::value(
            arg,
            format!(
                "expected {} buffers (one per parameter), got {}",
                layout.len(),
                state.len()
            ),
        ));
    }
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
