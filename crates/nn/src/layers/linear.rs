//! Fully-connected layer `y = x·Wᵀ + b`, weight `[out, in]` and bias `[out]` as PyTorch lays
//! them out, so torchvision classifier weights load unchanged.

use convnet_autograd::{NodeId, Shape};
use convnet_tensor::Element;

use crate::error::{NnError, Result};
use crate::init::Init;
use crate::module::{Ctx, LayerInfo, Module, ParamSpec, expect_input};
use crate::summary::fmt_count;

/// A dense layer on `[N, in]` inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    name: String,
    pub in_features: usize,
    pub out_features: usize,
    pub bias: bool,
    pub weight_init: Init,
    pub bias_init: Init,
}

impl Linear {
    /// `in → out` with bias and PyTorch's default initialisation.
    pub fn new(name: impl Into<String>, in_features: usize, out_features: usize) -> Self {
        Linear {
            name: name.into(),
            in_features,
            out_features,
            bias: true,
            weight_init: Init::TorchDefault,
            bias_init: Init::TorchDefault,
        }
    }
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }
    pub fn weight_init(mut self, init: Init) -> Self {
        self.weight_init = init;
        self
    }
    pub fn bias_init(mut self, init: Init) -> Self {
        self.bias_init = init;
        self
    }
}

impl<T: Element> Module<T> for Linear {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "Linear"
    }

    fn validate(&self) -> Result<()> {
        if self.in_features == 0 || self.out_features == 0 {
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
            &[self.out_features, self.in_features],
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
        expect_input(
            &self.name,
            "Linear",
            &s,
            &[2],
            Some((1, self.in_features)),
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
            &[self.out_features, self.in_features],
        )?;
        let b = if self.bias {
            Some(ctx.param(&format!("{}.bias", self.name), &[self.out_features])?)
        } else {
            None
        };
        Ok(ctx.graph().linear(x, w, b)?)
    }

    fn info(&self, _input: &Shape, _output: &Shape) -> LayerInfo {
        let (i, o) = (self.in_features, self.out_features);
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
