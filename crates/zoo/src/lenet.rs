//! LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998, "Gradient-based learning applied to document
//! recognition").
//!
//! - `lenet5`, the common modern form: conv 6@5×5 (padding 2, so 28×28 MNIST keeps its size)
//!   → ReLU → max-pool 2 → conv 16@5×5 → ReLU → max-pool 2 → 120 → 84 → classes;
//!   61,706 parameters at 28×28 and 10 classes. Keys `features.N` / `classifier.N`.
//! - `lenet5-paper`, the paper's network on 32×32: C1 conv 6@5×5, S2 trainable subsampling
//!   (a per-map coefficient and bias on the 2×2 average), C3 conv 16@5×5 with the paper's
//!   Table I connection table (1,516 parameters instead of 2,416), S4, C5 conv 120@5×5, F6 84,
//!   and Euclidean RBF output units. Every layer up to F6 is followed by the paper's squashing
//!   function `f(a) = 1.7159·tanh(2a/3)`. Trainable parameters: exactly the paper's 60,000
//!   (156 + 12 + 1,516 + 32 + 48,120 + 10,164). The RBF centres are a non-trained buffer
//!   (the paper fixes them by hand as ±1 bitmaps of the characters; we draw them uniformly
//!   in [−1, 1], having no bitmaps), and the output is the negated squared distance
//!   `−Σⱼ(xⱼ − wᵢⱼ)²`, so that ordinary cross-entropy on it plays the role of the paper's
//!   MAP criterion. Keys are the paper's layer names (`c1.weight`, `c3.weight0`, …).
//!
//! The first fully-connected layer is sized from the input (16·h·w features), so any input
//! at least as large as the smallest works.

use convnet_nn::prelude::*;
use convnet_nn::{Ctx, Init, LayerInfo, NodeId, ParamSpec, Shape};

use crate::Spec;
use crate::error::Result;
use crate::layers::{scaled, window_out};

pub(crate) fn build<T: Element>(spec: &Spec) -> Result<Box<dyn Module<T>>> {
    Ok(if spec.name == "lenet5-paper" {
        Box::new(paper(spec))
    } else {
        Box::new(common(spec))
    })
}

/// Spatial size after two `conv k (pad p) → pool 2` stages, 1 when it does not fit (the
/// layers then report the problem and the registry finds the smallest input).
fn after_two_stages(n: usize, pad: usize) -> usize {
    window_out(n, 5, 1, pad)
        .and_then(|n| window_out(n, 2, 2, 0))
        .and_then(|n| window_out(n, 5, 1, 0))
        .and_then(|n| window_out(n, 2, 2, 0))
        .unwrap_or(1)
}

fn common<T: Element>(spec: &Spec) -> Sequential<T> {
    let [c, h, w] = spec.input;
    let d = spec.div;
    let (c1, c2) = (scaled(6, d, 1), scaled(16, d, 1));
    let (f1, f2) = (scaled(120, d, 1), scaled(84, d, 1));
    let mut f = Sequential::new("features");
    f.push(Conv2d::new(f.next_name(), c, c1, 5).padding(2));
    f.push(Activation::relu(f.next_name()));
    f.push(MaxPool2d::new(f.next_name(), 2));
    f.push(Conv2d::new(f.next_name(), c1, c2, 5));
    f.push(Activation::relu(f.next_name()));
    f.push(MaxPool2d::new(f.next_name(), 2));
    let flat = c2 * after_two_stages(h, 2) * after_two_stages(w, 2);
    let mut cl = Sequential::new("classifier");
    cl.push(Linear::new(cl.next_name(), flat, f1));
    cl.push(Activation::relu(cl.next_name()));
    cl.push(Linear::new(cl.next_name(), f1, f2));
    cl.push(Activation::relu(cl.next_name()));
    cl.push(Linear::new(cl.next_name(), f2, spec.classes));
    Sequential::new("")
        .with(f)
        .with(Flatten::new("flatten"))
        .with(cl)
}

/// Table I of the paper: the S2 feature maps each C3 map reads.
pub const C3_TABLE: [&[usize]; 16] = [
    &[0, 1, 2],
    &[1, 2, 3],
    &[2, 3, 4],
    &[3, 4, 5],
    &[0, 4, 5],
    &[0, 1, 5],
    &[0, 1, 2, 3],
    &[1, 2, 3, 4],
    &[2, 3, 4, 5],
    &[0, 3, 4, 5],
    &[0, 1, 4, 5],
    &[0, 1, 2, 5],
    &[0, 1, 3, 4],
    &[1, 2, 4, 5],
    &[0, 2, 3, 5],
    &[0, 1, 2, 3, 4, 5],
];

fn paper<T: Element>(spec: &Spec) -> Sequential<T> {
    let [c, h, w] = spec.input;
    let d = spec.div;
    let (c1, c5, f6) = (scaled(6, d, 1), scaled(120, d, 1), scaled(84, d, 1));
    // The connection table needs S2's six maps; a reduced width keeps C3 fully connected.
    let table: Vec<Vec<usize>> = if c1 == 6 {
        C3_TABLE.iter().map(|s| s.to_vec()).collect()
    } else {
        vec![(0..c1).collect(); scaled(16, d, 1)]
    };
    let c3 = table.len();
    let side = |n: usize| window_out(after_two_stages(n, 0), 5, 1, 0).unwrap_or(1);
    Sequential::new("")
        .with(Conv2d::new("c1", c, c1, 5))
        .with(ScaledTanh::new("c1.act"))
        .with(Subsample::new("s2", c1))
        .with(ScaledTanh::new("s2.act"))
        .with(TableConv::new("c3", c1, table, 5))
        .with(ScaledTanh::new("c3.act"))
        .with(Subsample::new("s4", c3))
        .with(ScaledTanh::new("s4.act"))
        .with(Conv2d::new("c5", c3, c5, 5))
        .with(ScaledTanh::new("c5.act"))
        .with(Flatten::new("flatten"))
        .with(Linear::new("f6", c5 * side(h) * side(w), f6))
        .with(ScaledTanh::new("f6.act"))
        .with(EuclideanRbf::new("output", f6, spec.classes))
}

/// The paper's squashing function `1.7159·tanh(2a/3)` (Appendix A).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaledTanh {
    name: String,
}

impl ScaledTanh {
    /// The activation; `name` is the layer's path.
    pub fn new(name: impl Into<String>) -> Self {
        ScaledTanh { name: name.into() }
    }
}

impl<T: Element> Module<T> for ScaledTanh {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "ScaledTanh"
    }
    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> convnet_nn::Result<NodeId> {
        let g = ctx.graph();
        let a = g.scale(x, 2.0 / 3.0)?;
        let t = g.tanh(a)?;
        Ok(g.scale(t, 1.7159)?)
    }
}

/// The paper's subsampling layer: the 2×2 average of each map times a trainable per-map
/// coefficient, plus a trainable per-map bias (the paper sums the four inputs; averaging
/// only rescales the coefficient by 4). Two parameters per map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subsample {
    name: String,
    channels: usize,
}

impl Subsample {
    /// Subsampling of `channels` maps; `name` is the layer's path (its parameters are
    /// `{name}.weight` and `{name}.bias`).
    pub fn new(name: impl Into<String>, channels: usize) -> Self {
        Subsample {
            name: name.into(),
            channels,
        }
    }
}

impl<T: Element> Module<T> for Subsample {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "Subsample"
    }
    fn own_params(&self) -> Vec<ParamSpec> {
        let c = [self.channels];
        vec![
            ParamSpec::new(&self.name, "weight", &c, Init::ONES),
            ParamSpec::new(&self.name, "bias", &c, Init::ZEROS),
        ]
    }
    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> convnet_nn::Result<NodeId> {
        let c = self.channels;
        let pooled = ctx.call(&AvgPool2d::new(format!("{}.pool", self.name), 2), x)?;
        let wgt = ctx.param(&format!("{}.weight", self.name), &[c])?;
        let b = ctx.param(&format!("{}.bias", self.name), &[c])?;
        let g = ctx.graph();
        let wgt = g.reshape(wgt, [1, c, 1, 1])?;
        let b = g.reshape(b, [1, c, 1, 1])?;
        let y = g.mul(pooled, wgt)?;
        Ok(g.add(y, b)?)
    }
    fn info(&self, _input: &Shape, _output: &Shape) -> LayerInfo {
        LayerInfo {
            arithmetic: "2×2 average · coefficient + bias".into(),
            params_formula: format!("2·{} = {}", self.channels, 2 * self.channels),
            macs: 0,
        }
    }
}

/// A convolution whose output map `j` reads only the input maps `table[j]` (LeNet-5's C3).
/// Consecutive output maps with the same number of inputs form one grouped convolution over
/// the gathered input maps; parameter `weight{r}` holds run `r`'s kernels
/// `[maps, inputs, k, k]`, and `bias` all maps' biases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableConv {
    name: String,
    in_channels: usize,
    table: Vec<Vec<usize>>,
    kernel: usize,
}

impl TableConv {
    /// A `kernel`×`kernel` convolution of `in_channels` maps whose output map `j` reads the
    /// input maps `table[j]` (each < `in_channels`); `name` is the layer's path.
    pub fn new(
        name: impl Into<String>,
        in_channels: usize,
        table: Vec<Vec<usize>>,
        kernel: usize,
    ) -> Self {
        TableConv {
            name: name.into(),
            in_channels,
            table,
            kernel,
        }
    }

    /// `(first map, number of maps, inputs per map)` for each run.
    fn runs(&self) -> Vec<(usize, usize, usize)> {
        let mut runs: Vec<(usize, usize, usize)> = Vec::new();
        for (j, s) in self.table.iter().enumerate() {
            match runs.last_mut() {
                Some(r) if r.2 == s.len() => r.1 += 1,
                _ => runs.push((j, 1, s.len())),
            }
        }
        runs
    }
}

impl<T: Element> Module<T> for TableConv {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "TableConv"
    }
    fn validate(&self) -> convnet_nn::Result<()> {
        let ok = !self.table.is_empty()
            && self.kernel > 0
            && self
                .table
                .iter()
                .all(|s| !s.is_empty() && s.iter().all(|&i| i < self.in_channels));
        if ok {
            Ok(())
        } else {
            Err(NnError::config(
                &self.name,
                "TableConv",
                format!(
                    "every output map needs at least one input map below {}",
                    self.in_channels
                ),
            ))
        }
    }
    fn own_params(&self) -> Vec<ParamSpec> {
        let k = self.kernel;
        let mut v: Vec<ParamSpec> = self
            .runs()
            .iter()
            .enumerate()
            .map(|(r, &(_, maps, inputs))| {
                ParamSpec::new(
                    &self.name,
                    &format!("weight{r}"),
                    &[maps, inputs, k, k],
                    Init::TorchDefault,
                )
            })
            .collect();
        let fans = (self.in_channels * k * k, self.table.len() * k * k);
        v.push(
            ParamSpec::new(&self.name, "bias", &[self.table.len()], Init::TorchDefault)
                .with_fans(fans),
        );
        v
    }
    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> convnet_nn::Result<NodeId> {
        let s = ctx.shape(x)?;
        if s.rank() != 4 || s.dims()[1].fixed() != Some(self.in_channels) {
            return Err(NnError::input(
                &self.name,
                "TableConv",
                format!("[N, {}, H, W]", self.in_channels),
                &s,
            ));
        }
        let k = self.kernel;
        let mut channels = Vec::with_capacity(self.in_channels);
        for c in 0..self.in_channels {
            channels.push(ctx.graph().narrow(x, 1, c, 1)?);
        }
        let mut outs = Vec::new();
        for (r, &(first, maps, inputs)) in self.runs().iter().enumerate() {
            let gathered: Vec<NodeId> = self.table[first..first + maps]
                .iter()
                .flatten()
                .map(|&c| channels[c])
                .collect();
            let w = ctx.param(&format!("{}.weight{r}", self.name), &[maps, inputs, k, k])?;
            let g = ctx.graph();
            let xin = g.concat(&gathered, 1)?;
            let params = convnet_nn::autograd::Conv2dParams {
                groups: maps,
                ..Default::default()
            };
            outs.push(g.conv2d(xin, w, params)?);
        }
        let n = self.table.len();
        let b = ctx.param(&format!("{}.bias", self.name), &[n])?;
        let g = ctx.graph();
        let y = g.concat(&outs, 1)?;
        let b = g.reshape(b, [1, n, 1, 1])?;
        Ok(g.add(y, b)?)
    }
    fn info(&self, _input: &Shape, output: &Shape) -> LayerInfo {
        let kk = self.kernel * self.kernel;
        let links: usize = self.table.iter().map(Vec::len).sum();
        let n = links * kk + self.table.len();
        let d = |i: usize| output.dims().get(i).and_then(|d| d.fixed()).unwrap_or(0);
        LayerInfo {
            arithmetic: format!("{} maps over a connection table", self.table.len()),
            params_formula: format!("{kk}·{links} + {} = {n}", self.table.len()),
            macs: (links * kk * d(2) * d(3)) as u64,
        }
    }
}

/// Euclidean RBF output units: `yᵢ = −Σⱼ (xⱼ − wᵢⱼ)²`, with the centres `w` a non-trained
/// buffer `[classes, in]` (negated so that larger means more likely, ready for softmax).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EuclideanRbf {
    name: String,
    in_features: usize,
    classes: usize,
}

impl EuclideanRbf {
    /// `classes` RBF units over `in_features` inputs; `name` is the layer's path (the centres
    /// are the buffer `{name}.centres`).
    pub fn new(name: impl Into<String>, in_features: usize, classes: usize) -> Self {
        EuclideanRbf {
            name: name.into(),
            in_features,
            classes,
        }
    }
}

impl<T: Element> Module<T> for EuclideanRbf {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "EuclideanRbf"
    }
    fn own_params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::new(
                &self.name,
                "centres",
                &[self.classes, self.in_features],
                Init::Uniform {
                    low: -1.0,
                    high: 1.0,
                },
            )
            .buffer(),
        ]
    }
    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> convnet_nn::Result<NodeId> {
        let s = ctx.shape(x)?;
        if s.rank() != 2 || s.dims()[1].fixed() != Some(self.in_features) {
            return Err(NnError::input(
                &self.name,
                "EuclideanRbf",
                format!("[N, {}]", self.in_features),
                &s,
            ));
        }
        let (k, n) = (self.classes, self.in_features);
        let w = ctx.param(&format!("{}.centres", self.name), &[k, n])?;
        let g = ctx.graph();
        // −|x − w|² = 2·x·w − |x|² − |w|²
        let xw = g.linear(x, w, None)?;
        let xw2 = g.scale(xw, 2.0)?;
        let x2 = g.square(x)?;
        let xx = g.sum(x2, &[1], true)?;
        let w2 = g.square(w)?;
        let ww = g.sum(w2, &[1], false)?;
        let ww = g.reshape(ww, [1, k])?;
        let y = g.sub(xw2, xx)?;
        Ok(g.sub(y, ww)?)
    }
    fn info(&self, _input: &Shape, _output: &Shape) -> LayerInfo {
        LayerInfo {
            arithmetic: "−‖x − centre‖²".into(),
            params_formula: format!(
                "{}·{} fixed centres (not trained)",
                self.classes, self.in_features
            ),
            macs: (self.classes * self.in_features) as u64,
        }
    }
}
