//! Flatten `[N, C, H, W]` (or any `[N, …]`) to `[N, C·H·W]`, the bridge from convolutional
//! features to fully-connected layers. A view: no copy.

use convnet_autograd::{NodeId, Shape};
use convnet_tensor::Element;

use crate::error::{NnError, Result};
use crate::module::{Ctx, LayerInfo, Module, default_name};

/// `[N, …] → [N, product of the rest]`, for inputs of rank ≥ 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flatten {
    name: String,
}

impl Flatten {
    /// A flatten layer; `name` is its path, or empty to be named by its container.
    pub fn new(name: impl Into<String>) -> Self {
        Flatten { name: name.into() }
    }
}

impl<T: Element> Module<T> for Flatten {
    fn name(&self) -> &str {
        &self.name
    }
    fn assign_default_names(&mut self, path: &str) {
        default_name(&mut self.name, path);
    }
    fn kind(&self) -> &'static str {
        "Flatten"
    }
    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        let s = ctx.shape(x)?;
        if s.rank() < 2 {
            return Err(NnError::input(
                &self.name,
                "Flatten",
                "[N, …] with rank ≥ 2",
                &s,
            ));
        }
        Ok(ctx.graph().flatten(x, 1)?)
    }
    fn info(&self, input: &Shape, output: &Shape) -> LayerInfo {
        let parts: Vec<String> = input.dims()[1..].iter().map(|d| d.to_string()).collect();
        let total = output
            .dims()
            .get(1)
            .map(|d| d.to_string())
            .unwrap_or_default();
        LayerInfo {
            arithmetic: if parts.len() > 1 {
                format!("{} = {total}", parts.join("·"))
            } else {
                String::new()
            },
            ..LayerInfo::default()
        }
    }
}

/// Passes its input through unchanged (a placeholder where an architecture has no layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    name: String,
}

impl Identity {
    /// An identity layer; `name` is its path, or empty to be named by its container.
    pub fn new(name: impl Into<String>) -> Self {
        Identity { name: name.into() }
    }
}

impl<T: Element> Module<T> for Identity {
    fn name(&self) -> &str {
        &self.name
    }
    fn assign_default_names(&mut self, path: &str) {
        default_name(&mut self.name, path);
    }
    fn kind(&self) -> &'static str {
        "Identity"
    }
    fn forward(&self, _ctx: &mut Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        Ok(x)
    }
}
