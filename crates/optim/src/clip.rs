//! Gradient clipping, applied to the gradients between the backward pass and the step.
//!
//! Clipping by global norm is Pascanu, Mikolov & Bengio (2013), "On the difficulty of
//! training recurrent neural networks", Algorithm 1: if ‖g‖ > c then g ← c g / ‖g‖, with ‖g‖
//! the L2 norm over all parameters together, so the direction of the update is kept and only
//! its length is bounded. Clipping by value bounds each component independently, which can
//! change the direction but is cheap and common for stabilising early training.

use convnet_tensor::Element;

use crate::error::{OptimError, Result};
use crate::optimizer::{Gradients, non_negative};

/// The L2 norm of all gradients taken together, accumulated in f64.
pub fn global_norm<T: Element>(grads: &Gradients<T>) -> f64 {
    grads
        .values()
        .map(|g| {
            g.data()
                .iter()
                .map(|v| v.as_f64() * v.as_f64())
                .sum::<f64>()
        })
        .sum::<f64>()
        .sqrt()
}

/// Rescales all gradients together so their global L2 norm is at most `max_norm`, and returns
/// the norm before clipping (worth logging: it is the usual early sign of divergence).
///
/// Like PyTorch the scale is `max_norm / (norm + 1e-6)`, applied only when below 1. A NaN or
/// infinite norm is an error and leaves the gradients unchanged, so a training loop can skip
/// the step instead of writing NaN into every parameter.
pub fn clip_grad_norm<T: Element>(grads: &mut Gradients<T>, max_norm: f64) -> Result<f64> {
    non_negative("clip_grad_norm", "max_norm", max_norm)?;
    let norm = global_norm(grads);
    if !norm.is_finite() {
        return Err(OptimError::NonFiniteNorm { norm });
    }
    let scale = max_norm / (norm + 1e-6);
    if scale < 1.0 {
        let s = T::of_f64(scale);
        for g in grads.values_mut() {
            g.data_mut().iter_mut().for_each(|v| *v *= s);
        }
    }
    Ok(norm)
}

/// Clamps every gradient component into `[-clip_value, clip_value]` (NaN stays NaN).
pub fn clip_grad_value<T: Element>(grads: &mut Gradients<T>, clip_value: f64) -> Result<()> {
    non_negative("clip_grad_value", "clip_value", clip_value)?;
    let (lo, hi) = (T::of_f64(-clip_value), T::of_f64(clip_value));
    for g in grads.values_mut() {
        for v in g.data_mut() {
            if *v > hi {
                *v = hi;
            } else if *v < lo {
                *v = lo;
            }
        }
    }
    Ok(())
}
