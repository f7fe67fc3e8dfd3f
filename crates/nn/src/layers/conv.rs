//! 2-D convolution: stride, zero padding (explicit, "same" or "valid"), dilation, groups,
//! optional bias. Weight layout as PyTorch: `[out, in/groups, kh, kw]`, bias `[out]`.
//!
//! "same" padding keeps `ceil(N/S)` outputs, as TensorFlow defines it. When the total padding
//! `(⌈N/S⌉ − 1)·S + F − N` is even it is split evenly and handed to the convolution; when it
//! is odd (even kernels, some strides) a separate zero-pad node adds the extra row/column at
//! the bottom/right (TensorFlow's and PyTorch's choice), and the convolution runs unpadded.
//!
//! `Conv2d::to(out, kernel)` takes its input channels from the graph when the model is built.

use convnet_autograd::{Conv2dParams, NodeId, Shape};
use convnet_tensor::Element;

use crate::error::{NnError, Result};
use crate::init::Init;
use crate::module::{
    Ctx, InferredSize, LayerInfo, Module, ParamSpec, default_name, describe_nchw, expect_input,
    fixed_dim,
};
use crate::summary::{fmt_count, out_size_arithmetic};

/// How a convolution pads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// Zero padding of `[top/bottom, left/right]` on each side.
    Explicit([usize; 2]),
    /// Output size `ceil(N/S)`; may pad one more row/column at the bottom/right.
    Same,
    /// No padding.
    Valid,
}

impl From<usize> for Padding {
    fn from(p: usize) -> Self {
        Padding::Explicit([p, p])
    }
}

impl From<[usize; 2]> for Padding {
    fn from(p: [usize; 2]) -> Self {
        Padding::Explicit(p)
    }
}

/// A 2-D convolution layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2d {
    name: String,
    in_channels: InferredSize,
    /// Output channels K (the number of filters).
    pub out_channels: usize,
    /// Kernel size `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Stride `[sh, sw]` (default 1).
    pub stride: [usize; 2],
    /// How the input is padded (default [`Padding::Valid`]: not at all).
    pub padding: Padding,
    /// Dilation `[dh, dw]`: the spacing between kernel taps (default 1, a dense kernel).
    pub dilation: [usize; 2],
    /// Channel groups (default 1); must divide both channel counts.
    pub groups: usize,
    /// Whether a learnable bias `[out]` is added (default true).
    pub bias: bool,
    /// Initialiser of the weight (default [`Init::TorchDefault`]).
    pub weight_init: Init,
    /// Initialiser of the bias, drawn with the weight's fans (default [`Init::TorchDefault`]).
    pub bias_init: Init,
}

impl Conv2d {
    /// A square-kernel convolution `in → out` with stride 1, no padding, bias, and PyTorch's
    /// default initialisation.
    pub fn new(
        name: impl Into<String>,
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
    ) -> Self {
        Conv2d {
            name: name.into(),
            in_channels: InferredSize::fixed(in_channels),
            out_channels,
            kernel: [kernel; 2],
            stride: [1, 1],
            padding: Padding::Valid,
            dilation: [1, 1],
            groups: 1,
            bias: true,
            weight_init: Init::TorchDefault,
            bias_init: Init::TorchDefault,
        }
    }
    /// An unnamed `kernel`×`kernel` convolution to `out_channels` whose input channels come
    /// from the graph when the model is built (named by its container: `features.0`).
    ///
    /// ```
    /// use convnet_nn::prelude::*;
    ///
    /// let net = Sequential::default().with(Conv2d::to(6, 5).padding(2));
    /// let model = Model::<f32>::new(net, &[3, 32, 32]).unwrap();
    /// assert_eq!(model.param_specs()[0].shape, [6, 3, 5, 5]);
    /// assert_eq!(model.num_params(), (5 * 5 * 3 + 1) * 6);
    /// ```
    pub fn to(out_channels: usize, kernel: usize) -> Self {
        Conv2d {
            in_channels: InferredSize::open(),
            ..Conv2d::new("", 0, out_channels, kernel)
        }
    }
    /// Input channels: given, or taken from the first input it was built on (`None` before
    /// that).
    pub fn in_channels(&self) -> Option<usize> {
        self.in_channels.get()
    }
    /// Gives the layer its full path (`classifier.fc`) instead of a position in its container.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
    /// A `kh`×`kw` kernel instead of the square one given at construction.
    pub fn kernel_hw(mut self, kh: usize, kw: usize) -> Self {
        self.kernel = [kh, kw];
        self
    }
    /// Stride `s` on both axes (default 1).
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = [s, s];
        self
    }
    /// Stride `sh` down and `sw` across (default 1, 1).
    pub fn stride_hw(mut self, sh: usize, sw: usize) -> Self {
        self.stride = [sh, sw];
        self
    }
    /// `2` or `[1, 2]` for explicit padding, or [`Padding::Same`] / [`Padding::Valid`].
    pub fn padding(mut self, p: impl Into<Padding>) -> Self {
        self.padding = p.into();
        self
    }
    /// Dilation `d` on both axes (default 1): taps `d` apart, so a kernel of size F spans
    /// `d·(F − 1) + 1` input positions.
    pub fn dilation(mut self, d: usize) -> Self {
        self.dilation = [d, d];
        self
    }
    /// Splits the channels into `g` groups convolved separately (default 1); `g` must divide
    /// both channel counts, and `g` = in = out is a depthwise convolution. The weight becomes
    /// `[out, in/g, kh, kw]`.
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }
    /// Whether to add a learnable bias (default true; a convolution followed by BatchNorm
    /// usually has none, since BatchNorm's shift takes its place).
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

    fn weight_shape(&self) -> [usize; 4] {
        [
            self.out_channels,
            self.in_channels.or_zero() / self.groups.max(1),
            self.kernel[0],
            self.kernel[1],
        ]
    }

    fn span(&self, axis: usize) -> usize {
        self.dilation[axis] * (self.kernel[axis].max(1) - 1) + 1
    }

    /// `(before, after)` padding on each spatial axis for input size `hw`.
    pub fn pads(&self, hw: [usize; 2]) -> [(usize, usize); 2] {
        let mut out = [(0, 0); 2];
        for a in 0..2 {
            out[a] = match self.padding {
                Padding::Explicit(p) => (p[a], p[a]),
                Padding::Valid => (0, 0),
                Padding::Same => {
                    let o = hw[a].div_ceil(self.stride[a].max(1));
                    let total =
                        ((o.max(1) - 1) * self.stride[a] + self.span(a)).saturating_sub(hw[a]);
                    (total / 2, total - total / 2)
                }
            };
        }
        out
    }
}

impl<T: Element> Module<T> for Conv2d {
    fn name(&self) -> &str {
        &self.name
    }
    fn assign_default_names(&mut self, path: &str) {
        default_name(&mut self.name, path);
    }
    fn kind(&self) -> &'static str {
        "Conv2d"
    }

    fn validate(&self) -> Result<()> {
        let bad = |d: String| Err(NnError::config(&self.name, "Conv2d", d));
        if self.in_channels.get() == Some(0) || self.out_channels == 0 {
            return bad(format!(
                "channels must be positive, got in {} and out {}",
                self.in_channels, self.out_channels
            ));
        }
        if self.kernel.contains(&0) {
            return bad(format!(
                "kernel size must be positive, got {:?}",
                self.kernel
            ));
        }
        if self.stride.contains(&0) {
            return bad(format!("stride must be positive, got {:?}", self.stride));
        }
        if self.dilation.contains(&0) {
            return bad(format!(
                "dilation must be positive, got {:?}",
                self.dilation
            ));
        }
        if self.groups == 0
            || !self.in_channels.or_zero().is_multiple_of(self.groups)
            || !self.out_channels.is_multiple_of(self.groups)
        {
            return bad(format!(
                "groups {} must divide both in_channels {} and out_channels {}",
                self.groups, self.in_channels, self.out_channels
            ));
        }
        Ok(())
    }

    fn own_params(&self) -> Vec<ParamSpec> {
        let w = ParamSpec::new(&self.name, "weight", &self.weight_shape(), self.weight_init);
        let fans = w.fans;
        let mut v = vec![w];
        if self.bias {
            v.push(
                ParamSpec::new(&self.name, "bias", &[self.out_channels], self.bias_init)
                    .with_fans(fans),
            );
        }
        v
    }

    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        let s = ctx.shape(x)?;
        // As in `Linear`: an open size is settled by a rank-4 input with fixed positive
        // channels, then checked like a given one (the groups too, which `validate` could not).
        let seen = (s.rank() == 4)
            .then(|| s.dims()[1].fixed())
            .flatten()
            .filter(|&n| n > 0);
        let in_channels = self.in_channels.resolve(seen);
        expect_input(
            &self.name,
            "Conv2d",
            &s,
            &[4],
            Some((1, in_channels.unwrap_or(usize::MAX))),
            || match in_channels {
                Some(c) => describe_nchw(c),
                None => "[N, C, H, W]".into(),
            },
        )?;
        <Self as Module<T>>::validate(self)?;
        let hw = [
            fixed_dim(&self.name, "Conv2d", &s, 2)?,
            fixed_dim(&self.name, "Conv2d", &s, 3)?,
        ];
        let pads = self.pads(hw);
        let symmetric = pads.iter().all(|&(b, a)| b == a);
        let mut input = x;
        let mut conv_pad = [pads[0].0, pads[1].0];
        if !symmetric {
            input = ctx
                .graph()
                .pad(x, &[(0, 0), (0, 0), pads[0], pads[1]], 0.0)?;
            conv_pad = [0, 0];
        }
        let w = ctx.param(&format!("{}.weight", self.name), &self.weight_shape())?;
        let params = Conv2dParams {
            stride: self.stride,
            padding: conv_pad,
            dilation: self.dilation,
            groups: self.groups,
        };
        let y = ctx.graph().conv2d(input, w, params)?;
        if !self.bias {
            return Ok(y);
        }
        let b = ctx.param(&format!("{}.bias", self.name), &[self.out_channels])?;
        let b = ctx.graph().reshape(b, [1, self.out_channels, 1, 1])?;
        Ok(ctx.graph().add(y, b)?)
    }

    fn info(&self, input: &Shape, output: &Shape) -> LayerInfo {
        let d = |s: &Shape, i: usize| s.dims().get(i).and_then(|d| d.fixed()).unwrap_or(0);
        let hw = [d(input, 2), d(input, 3)];
        let pads = self.pads(hw);
        let arithmetic = out_size_arithmetic(
            hw,
            [self.span(0), self.span(1)],
            pads,
            self.stride,
            [d(output, 2), d(output, 3)],
            false,
        );
        let [k, c, kh, kw] = self.weight_shape();
        let n = (kh * kw * c + usize::from(self.bias)) * k;
        let params_formula = if self.bias {
            format!("({kh}·{kw}·{c} + 1)·{k} = {}", fmt_count(n as u64))
        } else {
            format!("{kh}·{kw}·{c}·{k} = {}", fmt_count(n as u64))
        };
        let macs = (k * c * kh * kw * d(output, 2) * d(output, 3)) as u64;
        LayerInfo {
            arithmetic,
            params_formula,
            macs,
        }
    }
}
