//! Residual blocks (He et al., 2016): `y = relu(body(x) + shortcut(x))`, the shortcut being
//! the identity or a projection (1×1 convolution + BatchNorm when the shape changes).
//!
//! `Residual::basic` and `Residual::bottleneck` build torchvision's `BasicBlock` and
//! `Bottleneck` with torchvision's child names (`conv1`, `bn1`, …, `downsample.0`,
//! `downsample.1`), so ResNet weights load by key. An identity shortcut whose body changes the
//! shape is reported while the model is built, naming the block.

use convnet_autograd::{NodeId, Shape};
use convnet_tensor::Element;

use crate::error::{NnError, Result};
use crate::layers::{Activation, BatchNorm, Conv2d, Sequential};
use crate::module::{Ctx, LayerInfo, Module, default_name, join};

/// A residual block with a body, an optional projection shortcut and a final ReLU.
#[derive(Debug)]
pub struct Residual<T: Element = f32> {
    name: String,
    body: Vec<Box<dyn Module<T>>>,
    shortcut: Option<Box<dyn Module<T>>>,
    /// Whether a ReLU follows the addition (default true).
    pub final_relu: bool,
}

impl<T: Element> Residual<T> {
    /// An identity-shortcut block with an empty body (add children with [`Residual::push`]).
    pub fn new(name: impl Into<String>) -> Self {
        Residual {
            name: name.into(),
            body: Vec::new(),
            shortcut: None,
            final_relu: true,
        }
    }
    /// `<name>.<local>`.
    pub fn child_name(&self, local: &str) -> String {
        join(&self.name, local)
    }
    /// Appends a module to the body.
    pub fn push(mut self, m: impl Module<T> + 'static) -> Self {
        self.body.push(Box::new(m));
        self
    }
    /// Uses a projection shortcut instead of the identity.
    pub fn projection(mut self, m: impl Module<T> + 'static) -> Self {
        self.shortcut = Some(Box::new(m));
        self
    }
    /// Applies ReLU after the addition (default true).
    pub fn final_relu(mut self, on: bool) -> Self {
        self.final_relu = on;
        self
    }

    fn downsample(name: &str, inp: usize, out: usize, stride: usize) -> Sequential<T> {
        let ds = join(name, "downsample");
        Sequential::new(ds.clone())
            .with(
                Conv2d::new(join(&ds, "0"), inp, out, 1)
                    .stride(stride)
                    .bias(false),
            )
            .with(BatchNorm::new_2d(join(&ds, "1"), out))
    }

    /// torchvision's `BasicBlock`: 3×3 conv (stride) → BN → ReLU → 3×3 conv → BN, plus the
    /// shortcut (a 1×1 conv + BN projection when `stride ≠ 1` or `in ≠ out`), then ReLU.
    pub fn basic(
        name: impl Into<String>,
        in_channels: usize,
        out_channels: usize,
        stride: usize,
    ) -> Self {
        let name = name.into();
        let n = |l: &str| join(&name, l);
        let mut b = Residual::new(name.clone())
            .push(
                Conv2d::new(n("conv1"), in_channels, out_channels, 3)
                    .stride(stride)
                    .padding(1)
                    .bias(false),
            )
            .push(BatchNorm::new_2d(n("bn1"), out_channels))
            .push(Activation::relu(n("relu")))
            .push(
                Conv2d::new(n("conv2"), out_channels, out_channels, 3)
                    .padding(1)
                    .bias(false),
            )
            .push(BatchNorm::new_2d(n("bn2"), out_channels));
        if stride != 1 || in_channels != out_channels {
            b = b.projection(Self::downsample(&name, in_channels, out_channels, stride));
        }
        b
    }

    /// torchvision's `Bottleneck` (ResNet v1.5, stride on the 3×3 conv): 1×1 conv to `width`
    /// → BN → ReLU → 3×3 conv (stride) → BN → ReLU → 1×1 conv to `out` → BN, plus the
    /// shortcut (projection when `stride ≠ 1` or `in ≠ out`), then ReLU.
    pub fn bottleneck(
        name: impl Into<String>,
        in_channels: usize,
        width: usize,
        out_channels: usize,
        stride: usize,
    ) -> Self {
        let name = name.into();
        let n = |l: &str| join(&name, l);
        let mut b = Residual::new(name.clone())
            .push(Conv2d::new(n("conv1"), in_channels, width, 1).bias(false))
            .push(BatchNorm::new_2d(n("bn1"), width))
            .push(Activation::relu(n("relu1")))
            .push(
                Conv2d::new(n("conv2"), width, width, 3)
                    .stride(stride)
                    .padding(1)
                    .bias(false),
            )
            .push(BatchNorm::new_2d(n("bn2"), width))
            .push(Activation::relu(n("relu2")))
            .push(Conv2d::new(n("conv3"), width, out_channels, 1).bias(false))
            .push(BatchNorm::new_2d(n("bn3"), out_channels));
        if stride != 1 || in_channels != out_channels {
            b = b.projection(Self::downsample(&name, in_channels, out_channels, stride));
        }
        b
    }
}

impl<T: Element> Module<T> for Residual<T> {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "Residual"
    }
    /// Unnamed body modules become `<name>.<index>`, an unnamed shortcut `<name>.downsample`
    /// (torchvision's name for the projection).
    fn assign_default_names(&mut self, path: &str) {
        default_name(&mut self.name, path);
        for (i, m) in self.body.iter_mut().enumerate() {
            m.assign_default_names(&join(&self.name, &i.to_string()));
        }
        if let Some(s) = &mut self.shortcut {
            s.assign_default_names(&join(&self.name, "downsample"));
        }
    }
    fn children(&self) -> Vec<&dyn Module<T>> {
        let mut v: Vec<&dyn Module<T>> = self.body.iter().map(|c| c.as_ref()).collect();
        if let Some(s) = &self.shortcut {
            v.push(s.as_ref());
        }
        v
    }
    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        let mut y = x;
        for m in &self.body {
            y = ctx.call(m.as_ref(), y)?;
        }
        let short = match &self.shortcut {
            Some(s) => ctx.call(s.as_ref(), x)?,
            None => x,
        };
        let (ys, ss) = (ctx.shape(y)?, ctx.shape(short)?);
        if ys != ss {
            let what = if self.shortcut.is_some() {
                "projection shortcut"
            } else {
                "identity shortcut (use a projection when the body changes the shape)"
            };
            return Err(NnError::input(
                &self.name,
                "Residual",
                format!("a body output of the {what}'s shape {ss}"),
                ys,
            ));
        }
        let g = ctx.graph();
        let sum = g.add(y, short)?;
        Ok(if self.final_relu { g.relu(sum)? } else { sum })
    }
    fn info(&self, _input: &Shape, _output: &Shape) -> LayerInfo {
        LayerInfo {
            arithmetic: format!(
                "body + {}{}",
                if self.shortcut.is_some() {
                    "projection"
                } else {
                    "identity"
                },
                if self.final_relu { ", ReLU" } else { "" }
            ),
            ..LayerInfo::default()
        }
    }
}
