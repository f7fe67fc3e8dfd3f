//! Activation functions as layers: ReLU, Leaky ReLU (α), ELU (α), GELU, sigmoid, tanh,
//! softmax and log-softmax (over the class/channel axis 1 by default).
//!
//! Each is one autograd op except GELU, which has no primitive: it is the tanh approximation
//! `½x(1 + tanh(√(2/π)(x + 0.044715x³)))` (Hendrycks & Gimpel 2016; PyTorch's
//! `approximate='tanh'`), composed from primitives so it differentiates to any order.

use convnet_autograd::{Graph, NodeId};
use convnet_tensor::Element;

use crate::error::{NnError, Result};
use crate::module::{Ctx, Module, default_name};

/// Which activation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ActivationFn {
    /// `max(0, x)`.
    Relu,
    /// `x` for x > 0, `αx` elsewhere, with the given α.
    LeakyRelu(f64),
    /// `x` for x > 0, `α(eˣ − 1)` elsewhere, with the given α.
    Elu(f64),
    /// GELU, tanh approximation (see [`gelu`]).
    Gelu,
    /// `1 / (1 + e⁻ˣ)`.
    Sigmoid,
    /// `tanh x`.
    Tanh,
    /// Softmax along one axis: `exp(xᵢ) / Σⱼ exp(xⱼ)`.
    Softmax {
        /// The axis normalised over (1, the classes, in [`Activation::softmax`]).
        axis: usize,
    },
    /// Log-softmax along one axis, `xᵢ − log Σⱼ exp(xⱼ)` (computed directly, not as the log of
    /// a softmax).
    LogSoftmax {
        /// The axis normalised over (1, the classes, in [`Activation::log_softmax`]).
        axis: usize,
    },
}

impl ActivationFn {
    /// The layer type shown in summaries and errors, e.g. `LeakyReLU`.
    pub fn kind(self) -> &'static str {
        match self {
            ActivationFn::Relu => "ReLU",
            ActivationFn::LeakyRelu(_) => "LeakyReLU",
            ActivationFn::Elu(_) => "ELU",
            ActivationFn::Gelu => "GELU",
            ActivationFn::Sigmoid => "Sigmoid",
            ActivationFn::Tanh => "Tanh",
            ActivationFn::Softmax { .. } => "Softmax",
            ActivationFn::LogSoftmax { .. } => "LogSoftmax",
        }
    }

    /// Appends the activation of `x` to a graph.
    pub fn apply<T: Element>(self, g: &mut Graph<T>, x: NodeId) -> Result<NodeId> {
        Ok(match self {
            ActivationFn::Relu => g.relu(x)?,
            ActivationFn::LeakyRelu(a) => g.leaky_relu(x, a)?,
            ActivationFn::Elu(a) => g.elu(x, a)?,
            ActivationFn::Gelu => gelu(g, x)?,
            ActivationFn::Sigmoid => g.sigmoid(x)?,
            ActivationFn::Tanh => g.tanh(x)?,
            ActivationFn::Softmax { axis } => g.softmax(x, axis)?,
            ActivationFn::LogSoftmax { axis } => g.log_softmax(x, axis)?,
        })
    }
}

/// GELU, tanh approximation.
pub fn gelu<T: Element>(g: &mut Graph<T>, x: NodeId) -> Result<NodeId> {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    let x3 = g.powf(x, 3.0)?;
    let x3 = g.scale(x3, 0.044715)?;
    let inner = g.add(x, x3)?;
    let inner = g.scale(inner, c)?;
    let t = g.tanh(inner)?;
    let t1 = g.add_scalar(t, 1.0)?;
    let y = g.mul(x, t1)?;
    Ok(g.scale(y, 0.5)?)
}

/// An activation layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Activation {
    name: String,
    /// The function applied.
    pub f: ActivationFn,
}

impl Activation {
    /// A layer applying `f`; `name` is its path, or empty to be named by its container.
    pub fn new(name: impl Into<String>, f: ActivationFn) -> Self {
        Activation {
            name: name.into(),
            f,
        }
    }
    /// `max(0, x)`.
    pub fn relu(name: impl Into<String>) -> Self {
        Self::new(name, ActivationFn::Relu)
    }
    /// `x` for x > 0, `αx` elsewhere.
    pub fn leaky_relu(name: impl Into<String>, alpha: f64) -> Self {
        Self::new(name, ActivationFn::LeakyRelu(alpha))
    }
    /// `x` for x > 0, `α(eˣ − 1)` elsewhere.
    pub fn elu(name: impl Into<String>, alpha: f64) -> Self {
        Self::new(name, ActivationFn::Elu(alpha))
    }
    /// GELU, tanh approximation (see [`gelu`](fn@gelu)).
    pub fn gelu(name: impl Into<String>) -> Self {
        Self::new(name, ActivationFn::Gelu)
    }
    /// `1 / (1 + e⁻ˣ)`.
    pub fn sigmoid(name: impl Into<String>) -> Self {
        Self::new(name, ActivationFn::Sigmoid)
    }
    /// `tanh x`.
    pub fn tanh(name: impl Into<String>) -> Self {
        Self::new(name, ActivationFn::Tanh)
    }
    /// Softmax over axis 1.
    pub fn softmax(name: impl Into<String>) -> Self {
        Self::new(name, ActivationFn::Softmax { axis: 1 })
    }
    /// Log-softmax over axis 1.
    pub fn log_softmax(name: impl Into<String>) -> Self {
        Self::new(name, ActivationFn::LogSoftmax { axis: 1 })
    }
}

impl<T: Element> Module<T> for Activation {
    fn name(&self) -> &str {
        &self.name
    }
    fn assign_default_names(&mut self, path: &str) {
        default_name(&mut self.name, path);
    }
    fn kind(&self) -> &'static str {
        self.f.kind()
    }
    fn validate(&self) -> Result<()> {
        match self.f {
            ActivationFn::LeakyRelu(a) | ActivationFn::Elu(a) if !a.is_finite() => {
                Err(NnError::config(
                    &self.name,
                    self.f.kind(),
                    format!("α must be finite, got {a}"),
                ))
            }
            _ => Ok(()),
        }
    }
    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        if let ActivationFn::Softmax { axis } | ActivationFn::LogSoftmax { axis } = self.f {
            let s = ctx.shape(x)?;
            if axis >= s.rank() {
                return Err(NnError::input(
                    &self.name,
                    self.f.kind(),
                    format!("a tensor with an axis {axis}"),
                    &s,
                ));
            }
        }
        self.f.apply(ctx.graph(), x)
    }
}
