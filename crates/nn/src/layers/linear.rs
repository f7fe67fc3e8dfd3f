//! Fully-connected layer `y = x·Wᵀ + b`, weight `[out, in]` and bias `[out]` as PyTorch lays
//! them out, so torchvision classifier weights load unchanged. `Linear::to(out)` takes its
//! input size from the graph (the flattened features before it) when the model is built.

use convnet_autograd::{NodeId, Shape};
use convnet_tensor::Element;

use crate::error::{NnError, Result};
use crate::init::Init;
use crate::module::{Ctx, InferredSize, LayerInfo, Module, ParamSpec, default_name, expect_input};
use crate::summary::fmt_count;

/// A dense layer on `[N, in]` inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    name: String,
    in_features: InferredSize,
    /// Output features (the rows of the weight).
    pub out_features: usize,
    /// Whether a learnable bias `[out]` is added (default true).
    pub bias: bool,
    /// Initialiser of the weight (default [`Init::TorchDefault`]).
    pub weight_init: Init,
    /// Initialiser of the bias, drawn with the weight's fans (default [`Init::TorchDefault`]).
    pub bias_init: Init,
}

impl Linear {
    /// `in → out` with bias and PyTorch's default initialisation.
    pub fn new(name: impl Into<String>, in_features: usize, out_features: usize) -> Self {
        Linear {
            name: name.into(),
            in_features: InferredSize::fixed(in_features),
            out_features,
            bias: true,
            weight_init: Init::TorchDefault,
            bias_init: Init::TorchDefault,
        }
    }
    /// An unnamed layer to `out` features whose input size comes from the graph when the
    /// model is built (named by its container: `classifier.2`).
    ///
    /// ```
    /// use convnet_nn::prelude::*;
    ///
    /// let net = Sequential::default().with(Flatten::new("")).with(Linear::to(10));
    /// let model = Model::<f32>::new(net, &[6, 14, 14]).unwrap();
    /// assert_eq!(model.param_specs()[0].shape, [10, 6 * 14 * 14]);
    /// ```
    pub fn to(out_features: usize) -> Self {
        Linear {
            in_features: InferredSize::open(),
            ..Linear::new("", 0, out_features)
        }
    }
    /// Input features: given, or taken from the first input it was built on (`None`
    /// before that).
    pub fn in_features(&self) -> Option<usize> {
        self.in_features.get()
    }
    /// Gives the layer its full path (`classifier.fc`) instead of a position in its container.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
    /// Whether to add a learnable bias (default true).
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }
    /// Initialiser of the weight (default [`Init::TorchDefault`]).
    pub fn weight_init(mut self, init: Init) -> Self {
        self.weight_init = init;
        self
    }
    /// Initialiser of the bias, drawn with the weight's fans (default [`Init::TorchDefault`]).
    pub fn bias_init(mut self, init: Init) -> Self {
        self.bias_init = init;
        self
    }
}

impl<T: Element> Module<T> for Linear {
    fn name(&self) -> &str {
        &self.name
    }
    fn assign_default_names(&mut self, path: &str) {
        default_name(&mut self.name, path);
    }
    fn kind(&self) -> &'static str {
        "Linear"
    }

    fn validate(&self) -> Result<()> {
        if self.in_features.get() == Some(0) || self.out_features == 0 {
            return Err(NnError::config(
                &self.name,
                "Linear",
                format!(
                    "feature counts must be positive, got in {} and out {}",
                    self.in_features, self.out_features
                ),
            ));
        }
        Ok(())
    }

    fn own_params(&self) -> Vec<ParamSpec> {
        let w = ParamSpec::new(
            &self.name,
            "weight",
            &[self.out_features, self.in_features.or_zero()],
            self.weight_init,
        );
        let fans = w.fans;
        let mut v = vec![w];
        if self.bias {
            v.push(
                ParamSpec::new(&self.name, "bias", &[self.out_features], self.bias_init)
                    .with_fans(fans),
            );
        }
        v
    }

    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        let s = ctx.shape(x)?;
        // An open size is settled by a rank-2 input with a positive fixed feature count; any
        // other input leaves it open and fails the check below (`usize::MAX` matches no axis).
        let seen = (s.rank() == 2)
            .then(|| s.dims()[1].fixed())
            .flatten()
            .filter(|&n| n > 0);
        let in_features = self.in_features.resolve(seen);
        expect_input(
            &self.name,
            "Linear",
            &s,
            &[2],
            Some((1, in_features.unwrap_or(usize::MAX))),
            || {
                let mut e = format!("[N, {}]", self.in_features);
                if s.rank() > 2 {
                    e.push_str(" (add a Flatten layer before it)");
                }
                e
            },
        )?;
        let w = ctx.param(
            &format!("{}.weight", self.name),
            &[self.out_features, self.in_features.or_zero()],
        )?;
        let b = if self.bias {
            Some(ctx.param(&format!("{}.bias", self.name), &[self.out_features])?)
        } else {
            None
        };
        Ok(ctx.graph().linear(x, w, b)?)
    }

    fn info(&self, _input: &Shape, _output: &Shape) -> LayerInfo {
        let (i, o) = (self.in_features.or_zero(), self.out_features);
        let n = (i + usize::from(self.bias)) * o;
        let params_formula = if self.bias {
            format!("({i} + 1)·{o} = {}", fmt_count(n as u64))
        } else {
            format!("{i}·{o} = {}", fmt_count(n as u64))
        };
        LayerInfo {
            arithmetic: String::new(),
            params_formula,
            macs: (i * o) as u64,
        }
    }
}
