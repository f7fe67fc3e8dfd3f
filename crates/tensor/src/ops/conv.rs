//! Tensor-level 2-D convolution: shape checks, then the kernels in [`crate::kernels::conv`].
//!
//! The three functions are the primitives autograd builds on; each is linear in each operand
//! and they are one another's adjoints, so they close under differentiation:
//! `conv2d(x, w)`, `conv2d_input_grad(gy, w)` (∂/∂x, a transposed convolution) and
//! `conv2d_weight_grad(x, gy)` (∂/∂w).

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::kernels::conv::{
    ConvOptions, conv2d_forward_opts, conv2d_input_grad_opts, conv2d_weight_grad_opts,
};
use crate::kernels::geometry::Conv2dGeometry;
use crate::precision::Precision;
use crate::tensor::Tensor;

/// Hyper-parameters of a 2-D convolution, as `[height, width]` pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2dParams {
    /// Step between consecutive windows, in input pixels (default `[1, 1]`).
    pub stride: [usize; 2],
    /// Zero rows/columns added on each side of the input (default `[0, 0]`).
    pub padding: [usize; 2],
    /// Spacing between kernel taps, in input pixels; `[1, 1]` (the default) is a dense
    /// kernel.
    pub dilation: [usize; 2],
    /// Channel groups, as in [`Conv2dGeometry::groups`]; 1 (the default) is an ordinary
    /// convolution.
    pub groups: usize,
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams {
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
        }
    }
}

impl Conv2dParams {
    /// Square stride and padding, no dilation, one group.
    pub fn new(stride: usize, padding: usize) -> Self {
        Conv2dParams {
            stride: [stride; 2],
            padding: [padding; 2],
            ..Default::default()
        }
    }

    /// The full geometry for an input `[N, C, H, W]` and weight `[K, C/groups, kh, kw]`,
    /// validated. Errors name `op` and both shapes.
    pub fn geometry(
        &self,
        op: &'static str,
        input: &[usize],
        weight: &[usize],
    ) -> Result<Conv2dGeometry> {
        if input.len() != 4 || weight.len() != 4 {
            return Err(TensorError::shape(
                op,
                format!(
                    "input {input:?} and weight {weight:?}: need [N, C, H, W] and [K, C/groups, kh, kw]"
                ),
            ));
        }
        let g = Conv2dGeometry {
            batch: input[0],
            in_channels: input[1],
            in_h: input[2],
            in_w: input[3],
            out_channels: weight[0],
            kernel_h: weight[2],
            kernel_w: weight[3],
            stride_h: self.stride[0],
            stride_w: self.stride[1],
            pad_h: self.padding[0],
            pad_w: self.padding[1],
            dilation_h: self.dilation[0],
            dilation_w: self.dilation[1],
            groups: self.groups,
        };
        g.validate().map_err(|e| {
            TensorError::shape(
                op,
                format!("input {input:?}, weight {weight:?}: {}", e.detail()),
            )
        })?;
        if self.groups == 0 || weight[1] * self.groups != input[1] {
            return Err(TensorError::shape(
                op,
                format!(
                    "input {input:?}, weight {weight:?}: weight expects {} input channels per group × {} groups, input has {}",
                    weight[1], self.groups, input[1]
                ),
            ));
        }
        Ok(g)
    }
}

impl Conv2dParams {
    /// Output `[oh, ow]` for input `[N, C, H, W]` and weight `[K, C/groups, kh, kw]` (floor
    /// rule), or an error naming `op` and both shapes. Used by symbolic shape inference, where
    /// the batch size may not be known yet.
    pub fn out_hw(
        &self,
        op: &'static str,
        input: &[usize],
        weight: &[usize],
    ) -> Result<[usize; 2]> {
        let mut fixed = input.to_vec();
        if let Some(b) = fixed.first_mut() {
            *b = 1;
        }
        let g = self.geometry(op, &fixed, weight)?;
        Ok([g.out_h(), g.out_w()])
    }
}

impl<T: Element> Tensor<T> {
    /// Cross-correlation of `self` `[N, C, H, W]` with `weight` `[K, C/groups, kh, kw]`,
    /// giving `[N, K, Ho, Wo]` with `Ho = (H + 2p − d(kh − 1) − 1)/s + 1` (floor).
    pub fn conv2d(&self, weight: &Tensor<T>, p: Conv2dParams) -> Result<Tensor<T>> {
        self.conv2d_at(weight, p, Precision::F32)
    }

    /// [`Tensor::conv2d`] with its products at `precision` (see [`Precision`]).
    pub fn conv2d_at(
        &self,
        weight: &Tensor<T>,
        p: Conv2dParams,
        precision: Precision,
    ) -> Result<Tensor<T>> {
        let g = p.geometry("conv2d", self.shape(), weight.shape())?;
        let mut y = crate::buffers::zeroed(g.output_len());
        conv2d_forward_opts(
            ConvOptions::at(precision),
            &g,
            &self.data(),
            &weight.data(),
            &mut y,
        )?;
        Ok(Tensor::from_kernel(
            y,
            &[g.batch, g.out_channels, g.out_h(), g.out_w()],
        ))
    }

    /// Gradient of `conv2d` with respect to its input: `gy` `[N, K, Ho, Wo]`, `weight`, and
    /// the input's spatial size (which the floor rule does not determine) → `[N, C, H, W]`.
    pub fn conv2d_input_grad(
        gy: &Tensor<T>,
        weight: &Tensor<T>,
        input_hw: [usize; 2],
        p: Conv2dParams,
    ) -> Result<Tensor<T>> {
        Self::conv2d_input_grad_at(gy, weight, input_hw, p, Precision::F32)
    }

    /// [`Tensor::conv2d_input_grad`] with its products at `precision`.
    pub fn conv2d_input_grad_at(
        gy: &Tensor<T>,
        weight: &Tensor<T>,
        input_hw: [usize; 2],
        p: Conv2dParams,
        precision: Precision,
    ) -> Result<Tensor<T>> {
        let (gs, ws) = (gy.shape(), weight.shape());
        if gs.len() != 4 || ws.len() != 4 {
            return Err(TensorError::shape(
                "conv2d_input_grad",
                format!("grad {gs:?} and weight {ws:?}: need rank-4 tensors"),
            ));
        }
        let input = [gs[0], ws[1] * p.groups, input_hw[0], input_hw[1]];
        let g = p.geometry("conv2d_input_grad", &input, ws)?;
        check_output("conv2d_input_grad", &g, gs)?;
        let mut gx = crate::buffers::zeroed(g.input_len());
        conv2d_input_grad_opts(
            ConvOptions::at(precision),
            &g,
            &gy.data(),
            &weight.data(),
            &mut gx,
        )?;
        Ok(Tensor::from_kernel(gx, &input))
    }

    /// Gradient of `conv2d` with respect to its weight: input `x`, `gy`, and the kernel size →
    /// `[K, C/groups, kh, kw]`.
    pub fn conv2d_weight_grad(
        x: &Tensor<T>,
        gy: &Tensor<T>,
        kernel_hw: [usize; 2],
        p: Conv2dParams,
    ) -> Result<Tensor<T>> {
        Self::conv2d_weight_grad_at(x, gy, kernel_hw, p, Precision::F32)
    }

    /// [`Tensor::conv2d_weight_grad`] with its products at `precision`.
    pub fn conv2d_weight_grad_at(
        x: &Tensor<T>,
        gy: &Tensor<T>,
        kernel_hw: [usize; 2],
        p: Conv2dParams,
        precision: Precision,
    ) -> Result<Tensor<T>> {
        let (xs, gs) = (x.shape(), gy.shape());
        if xs.len() != 4 || gs.len() != 4 || p.groups == 0 {
            return Err(TensorError::shape(
                "conv2d_weight_grad",
                format!("input {xs:?} and grad {gs:?}: need rank-4 tensors"),
            ));
        }
        let wshape = [gs[1], xs[1] / p.groups, kernel_hw[0], kernel_hw[1]];
        let g = p.geometry("conv2d_weight_grad", xs, &wshape)?;
        check_output("conv2d_weight_grad", &g, gs)?;
        let mut gw = crate::buffers::zeroed(g.weight_len());
        conv2d_weight_grad_opts(
            ConvOptions::at(precision),
            &g,
            &x.data(),
            &gy.data(),
            &mut gw,
        )?;
        Ok(Tensor::from_kernel(gw, &wshape))
    }
}

fn check_output(op: &'static str, g: &Conv2dGeometry, gy: &[usize]) -> Result<()> {
    let want = [g.batch, g.out_channels, g.out_h(), g.out_w()];
    if gy != want {
        return Err(TensorError::shape(
            op,
            format!("grad has shape {gy:?}, the convolution produces {want:?}"),
        ));
    }
    Ok(())
}
