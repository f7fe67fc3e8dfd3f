//! Small building blocks the architectures share that nn does not provide: torchvision's
//! adaptive average pooling, the parameter-free "option A" residual shortcut of He et al.'s
//! CIFAR networks, and the size arithmetic used to size a classifier from the input.
//!
//! All are compositions of existing graph ops (pooling, narrow, mean, concat, pad), so they
//! need no gradient code of their own.

use convnet_nn::autograd::Pool2dParams;
use convnet_nn::{Ctx, Element, LayerInfo, Module, NnError, NodeId, Shape};

/// `n` divided by the width divisor, at least `multiple` and a multiple of it (grouped
/// convolutions need channel counts divisible by their groups).
pub(crate) fn scaled(n: usize, divisor: usize, multiple: usize) -> usize {
    let m = multiple.max(1);
    (n / divisor.max(1)).max(m).div_ceil(m) * m
}

/// Output size of a convolution or pooling window (floor rule), `None` when the window does
/// not fit.
pub(crate) fn window_out(n: usize, kernel: usize, stride: usize, pad: usize) -> Option<usize> {
    (n + 2 * pad).checked_sub(kernel).map(|r| r / stride + 1)
}

/// Output size by the ceil rule (pooling with `ceil_mode`, no padding).
pub(crate) fn window_out_ceil(n: usize, kernel: usize, stride: usize) -> Option<usize> {
    n.checked_sub(kernel).map(|r| r.div_ceil(stride) + 1)
}

fn fixed(layer: &str, kind: &'static str, s: &Shape, axis: usize) -> convnet_nn::Result<usize> {
    s.dims()
        .get(axis)
        .and_then(|d| d.fixed())
        .ok_or_else(|| NnError::input(layer, kind, "[N, C, H, W] with fixed C, H, W", s))
}

/// torchvision's `AdaptiveAvgPool2d((oh, ow))`: output bin `i` of an axis of size `n` averages
/// inputs `⌊i·n/o⌋ .. ⌈(i+1)·n/o⌉`. When `o` divides `n` this is one ordinary average pool; an
/// input smaller than the output repeats values (VGG at 32×32 feeds 1×1 maps to its 7×7 pool,
/// as in torchvision), so the classifier's size never depends on the input size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdaptiveAvgPool2d {
    name: String,
    out: [usize; 2],
}

impl AdaptiveAvgPool2d {
    /// Pools every map to `out` = `[height, width]`; `name` is the layer's path.
    pub fn new(name: impl Into<String>, out: [usize; 2]) -> Self {
        AdaptiveAvgPool2d {
            name: name.into(),
            out,
        }
    }
}

impl<T: Element> Module<T> for AdaptiveAvgPool2d {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "AdaptiveAvgPool2d"
    }
    fn validate(&self) -> convnet_nn::Result<()> {
        if self.out.contains(&0) {
            return Err(NnError::config(
                &self.name,
                "AdaptiveAvgPool2d",
                format!("output size must be positive, got {:?}", self.out),
            ));
        }
        Ok(())
    }
    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> convnet_nn::Result<NodeId> {
        let s = ctx.shape(x)?;
        if s.rank() != 4 {
            return Err(NnError::input(
                &self.name,
                "AdaptiveAvgPool2d",
                "[N, C, H, W]",
                &s,
            ));
        }
        let n = [
            fixed(&self.name, "AdaptiveAvgPool2d", &s, 2)?,
            fixed(&self.name, "AdaptiveAvgPool2d", &s, 3)?,
        ];
        if n[0] % self.out[0] == 0 && n[1] % self.out[1] == 0 {
            if n == self.out {
                return Ok(x);
            }
            let k = [n[0] / self.out[0], n[1] / self.out[1]];
            return Ok(ctx.graph().avg_pool2d(
                x,
                Pool2dParams {
                    kernel: k,
                    stride: k,
                    padding: [0, 0],
                    ceil_mode: false,
                    count_include_pad: true,
                },
            )?);
        }
        // General case, one axis at a time: a mean over each bin, concatenated.
        let mut y = x;
        for (i, axis) in [2usize, 3].into_iter().enumerate() {
            let (len, o) = (n[i], self.out[i]);
            if len == o {
                continue;
            }
            let g = ctx.graph();
            let mut bins = Vec::with_capacity(o);
            for b in 0..o {
                let start = b * len / o;
                let end = ((b + 1) * len).div_ceil(o);
                let part = g.narrow(y, axis, start, end - start)?;
                bins.push(g.mean(part, &[axis], true)?);
            }
            y = g.concat(&bins, axis)?;
        }
        Ok(y)
    }
    fn info(&self, input: &Shape, _output: &Shape) -> LayerInfo {
        LayerInfo {
            arithmetic: format!(
                "adaptive {}×{} → {}×{}",
                input
                    .dims()
                    .get(2)
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                input
                    .dims()
                    .get(3)
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                self.out[0],
                self.out[1]
            ),
            ..LayerInfo::default()
        }
    }
}

/// He et al.'s option-A shortcut for CIFAR ResNets: subsample by the stride (every `s`-th row
/// and column, an average pool with a 1×1 window) and zero-pad the new channels, half before
/// and half after. Parameter-free, which is why the paper's CIFAR networks are so small.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PadShortcut {
    name: String,
    in_channels: usize,
    out_channels: usize,
    stride: usize,
}

impl PadShortcut {
    /// `in_channels → out_channels` (out ≥ in) at `stride` (≥ 1); `name` is the layer's path.
    pub fn new(
        name: impl Into<String>,
        in_channels: usize,
        out_channels: usize,
        stride: usize,
    ) -> Self {
        PadShortcut {
            name: name.into(),
            in_channels,
            out_channels,
            stride,
        }
    }
}

impl<T: Element> Module<T> for PadShortcut {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "PadShortcut"
    }
    fn validate(&self) -> convnet_nn::Result<()> {
        if self.stride == 0 || self.out_channels < self.in_channels {
            return Err(NnError::config(
                &self.name,
                "PadShortcut",
                format!(
                    "needs stride ≥ 1 and out ≥ in channels, got stride {}, {} → {}",
                    self.stride, self.in_channels, self.out_channels
                ),
            ));
        }
        Ok(())
    }
    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> convnet_nn::Result<NodeId> {
        let s = ctx.shape(x)?;
        if s.rank() != 4 || s.dims()[1].fixed() != Some(self.in_channels) {
            return Err(NnError::input(
                &self.name,
                "PadShortcut",
                format!("[N, {}, H, W]", self.in_channels),
                &s,
            ));
        }
        let g = ctx.graph();
        let mut y = x;
        if self.stride > 1 {
            y = g.avg_pool2d(
                y,
                Pool2dParams {
                    kernel: [1, 1],
                    stride: [self.stride; 2],
                    padding: [0, 0],
                    ceil_mode: false,
                    count_include_pad: true,
                },
            )?;
        }
        let extra = self.out_channels - self.in_channels;
        if extra > 0 {
            let before = extra / 2;
            y = g.pad(y, &[(0, 0), (before, extra - before), (0, 0), (0, 0)], 0.0)?;
        }
        Ok(y)
    }
    fn info(&self, _input: &Shape, _output: &Shape) -> LayerInfo {
        LayerInfo {
            arithmetic: format!(
                "subsample /{}, zero-pad channels {} → {}",
                self.stride, self.in_channels, self.out_channels
            ),
            ..LayerInfo::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_widths_and_window_arithmetic() {
        assert_eq!(scaled(96, 1, 2), 96);
        assert_eq!(scaled(96, 32, 2), 4);
        assert_eq!(scaled(16, 32, 1), 1);
        assert_eq!(window_out(227, 11, 4, 0), Some(55));
        assert_eq!(window_out(2, 3, 2, 0), None);
        assert_eq!(window_out_ceil(112, 3, 2), Some(56));
    }
}
