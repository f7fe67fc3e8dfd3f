//! Inverted dropout (Srivastava et al., 2014): in training each element is kept with
//! probability 1 − p and scaled by 1/(1 − p); in evaluation the layer is the identity.
//!
//! The mask is a graph placeholder (`<path>/mask`), not a random op: the training step fills it
//! from its own seeded generator before every run, so a run is reproducible from the step's
//! seed, a gradient check can feed a fixed mask, and an inference graph simply has no mask.

use convnet_autograd::NodeId;
use convnet_tensor::Element;

use crate::error::{NnError, Result};
use crate::module::{Ctx, Module, default_name};

/// Inverted dropout: in training, zeroes each element with probability `p` and scales the
/// rest by 1/(1 − p); in evaluation, the identity.
#[derive(Debug, Clone, PartialEq)]
pub struct Dropout {
    name: String,
    /// Drop probability, in [0, 1) (checked when the model is built); 0 adds no mask.
    pub p: f64,
}

impl Dropout {
    /// Drops each element with probability `p` ∈ [0, 1) in training.
    pub fn new(name: impl Into<String>, p: f64) -> Self {
        Dropout {
            name: name.into(),
            p,
        }
    }
}

impl<T: Element> Module<T> for Dropout {
    fn name(&self) -> &str {
        &self.name
    }
    fn assign_default_names(&mut self, path: &str) {
        default_name(&mut self.name, path);
    }
    fn kind(&self) -> &'static str {
        "Dropout"
    }
    fn validate(&self) -> Result<()> {
        if (0.0..1.0).contains(&self.p) {
            Ok(())
        } else {
            Err(NnError::config(
                &self.name,
                "Dropout",
                format!("p = {} must be in [0, 1)", self.p),
            ))
        }
    }
    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        if !ctx.is_train() || self.p == 0.0 {
            return Ok(x);
        }
        let shape = ctx.shape(x)?;
        let mask = ctx.random_mask(&format!("{}/mask", self.name), shape, 1.0 - self.p)?;
        Ok(ctx.graph().mul(x, mask)?)
    }
}
