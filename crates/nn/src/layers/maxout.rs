//! Maxout units (Goodfellow et al., 2013): `out` units, each the maximum of `k` affine pieces,
//! `hᵢ(x) = max_j (x·Wᵢⱼ + bᵢⱼ)`. Implemented as one linear map to `out·k` features (rows
//! `i·k + j`), a reshape to `[N, out, k]` and a max over the pieces; the max's gradient goes
//! to the winning piece. Keys: `<path>.weight` `[out·k, in]`, `<path>.bias` `[out·k]`.

use convnet_autograd::{NodeId, Shape};
use convnet_tensor::Element;

use crate::error::{NnError, Result};
use crate::init::Init;
use crate::module::{Ctx, LayerInfo, Module, ParamSpec, default_name, expect_input};
use crate::summary::fmt_count;

/// A maxout layer on `[N, in]` inputs: `out` units, each the maximum of `pieces` affine maps
/// of the input, giving `[N, out]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Maxout {
    name: String,
    /// Input features (given at construction; not inferred from the graph).
    pub in_features: usize,
    /// Output units.
    pub out_features: usize,
    /// Affine pieces per unit, k.
    pub pieces: usize,
    /// Initialiser of the weight `[out·k, in]` (default [`Init::TorchDefault`]).
    pub weight_init: Init,
    /// Initialiser of the bias `[out·k]`, drawn with the weight's fans (default
    /// [`Init::TorchDefault`]).
    pub bias_init: Init,
}

impl Maxout {
    /// `in → out` units of `pieces` pieces each, with PyTorch's default initialisation;
    /// `name` is its path, or empty to be named by its container.
    pub fn new(
        name: impl Into<String>,
        in_features: usize,
        out_features: usize,
        pieces: usize,
    ) -> Self {
        Maxout {
            name: name.into(),
            in_features,
            out_features,
            pieces,
            weight_init: Init::TorchDefault,
            bias_init: Init::TorchDefault,
        }
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
    fn rows(&self) -> usize {
        self.out_features * self.pieces
    }
}

impl<T: Element> Module<T> for Maxout {
    fn name(&self) -> &str {
        &self.name
    }
    fn assign_default_names(&mut self, path: &str) {
        default_name(&mut self.name, path);
    }
    fn kind(&self) -> &'static str {
        "Maxout"
    }
    fn validate(&self) -> Result<()> {
        if self.in_features == 0 || self.out_features == 0 || self.pieces == 0 {
            return Err(NnError::config(
                &self.name,
                "Maxout",
                format!(
                    "in, out and pieces must be positive, got {}, {}, {}",
                    self.in_features, self.out_features, self.pieces
                ),
            ));
        }
        Ok(())
    }
    fn own_params(&self) -> Vec<ParamSpec> {
        let w = ParamSpec::new(
            &self.name,
            "weight",
            &[self.rows(), self.in_features],
            self.weight_init,
        );
        let fans = w.fans;
        vec![
            w,
            ParamSpec::new(&self.name, "bias", &[self.rows()], self.bias_init).with_fans(fans),
        ]
    }
    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        let s = ctx.shape(x)?;
        expect_input(
            &self.name,
            "Maxout",
            &s,
            &[2],
            Some((1, self.in_features)),
            || format!("[N, {}]", self.in_features),
        )?;
        let w = ctx.param(
            &format!("{}.weight", self.name),
            &[self.rows(), self.in_features],
        )?;
        let b = ctx.param(&format!("{}.bias", self.name), &[self.rows()])?;
        let g = ctx.graph();
        let z = g.linear(x, w, Some(b))?;
        let z = g.reshape(
            z,
            Shape::from(vec![
                s.dims()[0],
                self.out_features.into(),
                self.pieces.into(),
            ]),
        )?;
        Ok(g.max(z, &[2], false)?)
    }
    fn info(&self, _input: &Shape, _output: &Shape) -> LayerInfo {
        let (i, o, k) = (self.in_features, self.out_features, self.pieces);
        LayerInfo {
            arithmetic: format!("max of {k} pieces"),
            params_formula: format!(
                "({i} + 1)·{o}·{k} = {}",
                fmt_count(((i + 1) * o * k) as u64)
            ),
            macs: (i * o * k) as u64,
        }
    }
}
