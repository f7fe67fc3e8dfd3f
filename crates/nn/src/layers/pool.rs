//! Max and average pooling (window, stride, padding, ceil mode) and global average pooling.
//!
//! Output size `W₂ = (W₁ − F + 2P)/S + 1` (floor, or ceil in ceil mode, where the last window
//! must start inside the input). Overlapping windows (F = 3, S = 2, as in AlexNet) train
//! correctly: the max-pool gradient routes each window's gradient to its own arg-max and sums
//! where windows share an element. Max pooling pads with −∞ (padding never wins); average
//! pooling counts padding in the divisor unless `count_include_pad(false)`.

use convnet_autograd::{NodeId, Pool2dParams, Shape};
use convnet_tensor::Element;

use crate::error::{NnError, Result};
use crate::module::{Ctx, LayerInfo, Module, default_name, expect_input, fixed_dim};
use crate::summary::out_size_arithmetic;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PoolKind {
    Max,
    Avg,
}

/// Shared configuration and forward pass of [`MaxPool2d`] and [`AvgPool2d`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pool2d {
    name: String,
    kind: PoolKind,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    ceil_mode: bool,
    count_include_pad: bool,
}

impl Pool2d {
    fn make(name: String, kind: PoolKind, kernel: usize) -> Self {
        Pool2d {
            name,
            kind,
            kernel: [kernel; 2],
            stride: [kernel; 2],
            padding: [0, 0],
            ceil_mode: false,
            count_include_pad: true,
        }
    }

    fn kind_name(&self) -> &'static str {
        match self.kind {
            PoolKind::Max => "MaxPool2d",
            PoolKind::Avg => "AvgPool2d",
        }
    }

    fn params(&self) -> Pool2dParams {
        Pool2dParams {
            kernel: self.kernel,
            stride: self.stride,
            padding: self.padding,
            ceil_mode: self.ceil_mode,
            count_include_pad: self.count_include_pad,
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |d: String| Err(NnError::config(&self.name, self.kind_name(), d));
        if self.kernel.contains(&0) {
            return bad(format!("window must be positive, got {:?}", self.kernel));
        }
        if self.stride.contains(&0) {
            return bad(format!("stride must be positive, got {:?}", self.stride));
        }
        if (0..2).any(|a| self.padding[a] > self.kernel[a] / 2) {
            return bad(format!(
                "padding {:?} must be at most half the window {:?}",
                self.padding, self.kernel
            ));
        }
        Ok(())
    }

    fn forward<T: Element>(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        let s = ctx.shape(x)?;
        let kind = self.kind_name();
        expect_input(&self.name, kind, &s, &[4], None, || "[N, C, H, W]".into())?;
        for a in [2, 3] {
            let n = fixed_dim(&self.name, kind, &s, a)?;
            let (k, p) = (self.kernel[a - 2], self.padding[a - 2]);
            if k > n + 2 * p {
                return Err(NnError::input(
                    &self.name,
                    kind,
                    format!(
                        "[N, C, H, W] with H and W at least {} (window {k}, padding {p})",
                        k - 2 * p
                    ),
                    &s,
                ));
            }
        }
        Ok(match self.kind {
            PoolKind::Max => ctx.graph().max_pool2d(x, self.params())?,
            PoolKind::Avg => ctx.graph().avg_pool2d(x, self.params())?,
        })
    }

    fn info(&self, input: &Shape, output: &Shape) -> LayerInfo {
        let d = |s: &Shape, i: usize| s.dims().get(i).and_then(|d| d.fixed()).unwrap_or(0);
        LayerInfo {
            arithmetic: out_size_arithmetic(
                [d(input, 2), d(input, 3)],
                self.kernel,
                [
                    (self.padding[0], self.padding[0]),
                    (self.padding[1], self.padding[1]),
                ],
                self.stride,
                [d(output, 2), d(output, 3)],
                self.ceil_mode,
            ),
            params_formula: String::new(),
            macs: 0,
        }
    }
}

macro_rules! pool_layer {
    ($(#[$doc:meta])* $ty:ident, $kind:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $ty(Pool2d);

        impl $ty {
            /// A square window; the stride defaults to the window (as in PyTorch).
            pub fn new(name: impl Into<String>, kernel: usize) -> Self {
                $ty(Pool2d::make(name.into(), PoolKind::$kind, kernel))
            }
            /// A `kh`×`kw` window instead of the square one given at construction; the
            /// stride is left as it was (set it with `stride_hw`).
            pub fn kernel_hw(mut self, kh: usize, kw: usize) -> Self {
                self.0.kernel = [kh, kw];
                self
            }
            /// Stride `s` on both axes (default: the window size given at construction).
            pub fn stride(mut self, s: usize) -> Self {
                self.0.stride = [s, s];
                self
            }
            /// Stride `sh` down and `sw` across.
            pub fn stride_hw(mut self, sh: usize, sw: usize) -> Self {
                self.0.stride = [sh, sw];
                self
            }
            /// Padding `p` on every side (default 0; at most half the window).
            pub fn padding(mut self, p: usize) -> Self {
                self.0.padding = [p, p];
                self
            }
            /// Padding `ph` at the top and bottom, `pw` at the left and right (default 0;
            /// at most half the window on that axis).
            pub fn padding_hw(mut self, ph: usize, pw: usize) -> Self {
                self.0.padding = [ph, pw];
                self
            }
            /// Output size by ceil instead of floor (the last window must start inside the
            /// input or its left padding).
            pub fn ceil_mode(mut self, on: bool) -> Self {
                self.0.ceil_mode = on;
                self
            }
            /// The window `[kh, kw]`.
            pub fn kernel(&self) -> [usize; 2] {
                self.0.kernel
            }
            /// The stride `[sh, sw]` (`stride` is the builder method).
            pub fn stride_of(&self) -> [usize; 2] {
                self.0.stride
            }
        }

        impl<T: Element> Module<T> for $ty {
            fn name(&self) -> &str {
                &self.0.name
            }
            fn assign_default_names(&mut self, path: &str) {
                default_name(&mut self.0.name, path);
            }
            fn kind(&self) -> &'static str {
                self.0.kind_name()
            }
            fn validate(&self) -> Result<()> {
                self.0.validate()
            }
            fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
                self.0.forward(ctx, x)
            }
            fn info(&self, input: &Shape, output: &Shape) -> LayerInfo {
                self.0.info(input, output)
            }
        }
    };
}

pool_layer!(
    /// Max pooling (padding counts as −∞).
    MaxPool2d,
    Max
);
pool_layer!(
    /// Average pooling.
    AvgPool2d,
    Avg
);

impl AvgPool2d {
    /// Divide by the whole window, padding included (true, the default), or by the number of
    /// real input elements in it.
    pub fn count_include_pad(mut self, on: bool) -> Self {
        self.0.count_include_pad = on;
        self
    }
}

/// `[N, C, H, W] → [N, C]` (or `[N, C, 1, 1]` with `keep_dims`): the mean over H and W.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalAvgPool2d {
    name: String,
    /// Whether H and W stay as size-1 axes, `[N, C, 1, 1]` (default false: `[N, C]`).
    pub keep_dims: bool,
}

impl GlobalAvgPool2d {
    /// Global average pooling to `[N, C]`; `name` is its path, or empty to be named by its
    /// container.
    pub fn new(name: impl Into<String>) -> Self {
        GlobalAvgPool2d {
            name: name.into(),
            keep_dims: false,
        }
    }
    /// Keep H and W as size 1 (torchvision's `AdaptiveAvgPool2d((1, 1))`).
    pub fn keep_dims(mut self, on: bool) -> Self {
        self.keep_dims = on;
        self
    }
}

impl<T: Element> Module<T> for GlobalAvgPool2d {
    fn name(&self) -> &str {
        &self.name
    }
    fn assign_default_names(&mut self, path: &str) {
        default_name(&mut self.name, path);
    }
    fn kind(&self) -> &'static str {
        "GlobalAvgPool2d"
    }
    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        let s = ctx.shape(x)?;
        expect_input(&self.name, "GlobalAvgPool2d", &s, &[4], None, || {
            "[N, C, H, W]".into()
        })?;
        Ok(ctx.graph().mean(x, &[2, 3], self.keep_dims)?)
    }
    fn info(&self, input: &Shape, _output: &Shape) -> LayerInfo {
        LayerInfo {
            arithmetic: format!("mean over {}×{}", input.dims()[2], input.dims()[3]),
            ..LayerInfo::default()
        }
    }
}
