//! 2-D convolution as three primitives that close under differentiation.
//!
//! `Conv2d(x, w)` is bilinear. Its derivative w.r.t. `x` is `Conv2dInputGrad(gy, w)` (the
//! transposed convolution) and w.r.t. `w` is `Conv2dWeightGrad(x, gy)`. Each of those is again
//! linear in each argument, and their derivatives are expressed with the same three ops
//! (`⟨gz, CIG(gy, w)⟩ = ⟨conv(gz, w), gy⟩ = ⟨CWG(gz, gy), w⟩`, and likewise for CWG), so
//! derivatives of any order need no further kernels. Stride, zero padding, dilation and groups
//! are carried by every primitive.
//!
//! Geometry: by default the output size is `floor((N + 2P − D(F − 1) − 1)/S) + 1`, the rule of
//! every mainstream framework, silently ignoring rows/columns no window reaches. With
//! `GraphOptions::strict_geometry`, a layer where `(N − F + 2P)/S` is not whole is rejected,
//! naming it and suggesting a padding that fits.

pub use convnet_tensor::Conv2dParams;
use convnet_tensor::kernels::Conv2dGeometry;
use convnet_tensor::kernels::conv::{ConvAlgorithm, choose_kernel};
use convnet_tensor::kernels::direct::Pass;
use convnet_tensor::{Element, Tensor};
use smallvec::smallvec;

use crate::error::Result;
use crate::graph::{Graph, GraphOptions, NodeId};
use crate::rule::{EvalArgs, EvalError, GradCtx, Grads, OpRule, RuleError, arity};
use crate::shape::{Dim, Shape};

/// The three convolution primitives; each carries the forward convolution's parameters.
#[derive(Debug, Clone)]
pub enum ConvOp {
    /// `(x [N, C, H, W], w [K, C/groups, kh, kw]) → [N, K, oh, ow]`
    Conv2d(Conv2dParams),
    /// `(gy [N, K, oh, ow], w) → [N, C, H, W]`: the gradient w.r.t. `x`.
    Conv2dInputGrad {
        /// The parameters of the forward convolution.
        params: Conv2dParams,
        /// `[H, W]` of the forward input, which the output size alone does not determine.
        input_hw: [usize; 2],
    },
    /// `(x, gy) → [K, C/groups, kh, kw]`: the gradient w.r.t. `w`.
    Conv2dWeightGrad {
        /// The parameters of the forward convolution.
        params: Conv2dParams,
        /// `[kh, kw]` of the forward weight.
        kernel_hw: [usize; 2],
    },
}

/// `[n, c, h, w]` of an NCHW shape, with the batch dimension replaced by 1 (geometry does not
/// depend on it), or an error naming what is wrong.
pub(crate) fn nchw(shape: &Shape, what: &str) -> Result<[usize; 4], RuleError> {
    if shape.rank() != 4 {
        return Err(RuleError::Shape(format!(
            "{what} must be [N, C, H, W], got {shape}"
        )));
    }
    let d = shape.dims();
    let fixed = |i: usize| {
        d[i].fixed().ok_or_else(|| {
            RuleError::Shape(format!("{what} {shape}: only the batch axis may be open"))
        })
    };
    let n = match d[0] {
        Dim::Batch => 1,
        Dim::Fixed(n) => n,
    };
    Ok([n, fixed(1)?, fixed(2)?, fixed(3)?])
}

/// The strict-mode message for one spatial axis, or `None` when `(n − f + 2p)/s` is whole.
/// `f` is the effective (dilated) window size.
pub(crate) fn strict_axis(axis: &str, n: usize, f: usize, p: usize, s: usize) -> Option<String> {
    let num = (n + 2 * p) as i64 - f as i64;
    if s == 0 || num < 0 || num % s as i64 == 0 {
        return None;
    }
    let out = num as f64 / s as f64 + 1.0;
    let fit = (0..=s).find(|&q| {
        let m = (n + 2 * q) as i64 - f as i64;
        m >= 0 && m % s as i64 == 0
    });
    let hint = match fit {
        Some(q) => format!("padding {q} would fit"),
        None => format!("no padding fits stride {s}; change the stride or the window"),
    };
    Some(format!(
        "{axis}: (N − F + 2P)/S + 1 = ({n} − {f} + 2·{p})/{s} + 1 = {out:.2} is not a whole number; {hint} \
         (strict geometry is on; the default floor rule would give {})",
        num / s as i64 + 1
    ))
}

fn geometry_error(e: convnet_tensor::TensorError) -> RuleError {
    RuleError::Geometry(e.to_string())
}

impl ConvOp {
    /// Short name used in node names, errors and profiles (`"conv2d"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            ConvOp::Conv2d(_) => "conv2d",
            ConvOp::Conv2dInputGrad { .. } => "conv2d_input_grad",
            ConvOp::Conv2dWeightGrad { .. } => "conv2d_weight_grad",
        }
    }

    fn params(&self) -> Conv2dParams {
        match self {
            ConvOp::Conv2d(p)
            | ConvOp::Conv2dInputGrad { params: p, .. }
            | ConvOp::Conv2dWeightGrad { params: p, .. } => *p,
        }
    }

    /// Output `[K, oh, ow]` of a forward convolution of `x` (NCHW, batch as 1) with `w`.
    fn forward_dims(
        p: &Conv2dParams,
        x: [usize; 4],
        w: &[usize],
        strict: bool,
    ) -> Result<(usize, usize, usize), RuleError> {
        let [oh, ow] = p.out_hw("conv2d", &x, w).map_err(geometry_error)?;
        if strict {
            let fh = p.dilation[0] * (w[2].max(1) - 1) + 1;
            let fw = p.dilation[1] * (w[3].max(1) - 1) + 1;
            let msgs: Vec<String> = [
                strict_axis("height", x[2], fh, p.padding[0], p.stride[0]),
                strict_axis("width", x[3], fw, p.padding[1], p.stride[1]),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !msgs.is_empty() {
                return Err(RuleError::Geometry(msgs.join("; ")));
            }
        }
        Ok((w[0], oh, ow))
    }

    /// The forward convolution a node's pass belongs to, from its concrete operand shapes.
    pub fn pass_geometry(&self, inputs: &[&[usize]]) -> Option<(Pass, Conv2dGeometry)> {
        let p = self.params();
        let (a, b) = (*inputs.first()?, *inputs.get(1)?);
        let (pass, x, w) = match self {
            ConvOp::Conv2d(_) => (Pass::Forward, a.to_vec(), b.to_vec()),
            ConvOp::Conv2dInputGrad { input_hw, .. } => {
                let x = vec![*a.first()?, b.get(1)? * p.groups, input_hw[0], input_hw[1]];
                (Pass::InputGrad, x, b.to_vec())
            }
            ConvOp::Conv2dWeightGrad { kernel_hw, .. } => {
                let w = vec![
                    *b.get(1)?,
                    a.get(1)? / p.groups.max(1),
                    kernel_hw[0],
                    kernel_hw[1],
                ];
                (Pass::WeightGrad, a.to_vec(), w)
            }
        };
        Some((pass, p.geometry(self.name(), &x, &w).ok()?))
    }
}

impl<T: Element> OpRule<T> for ConvOp {
    fn name(&self) -> &'static str {
        ConvOp::name(self)
    }

    fn describe(&self) -> String {
        format!("{self:?}")
    }

    fn shape(&self, inputs: &[&Shape], options: &GraphOptions) -> Result<Shape, RuleError> {
        arity(inputs, 2)?;
        let p = self.params();
        let batch = |s: &Shape| s.dims().first().copied().unwrap_or(Dim::Fixed(1));
        let fixed4 = |s: &Shape, what: &str| -> Result<Vec<usize>, RuleError> {
            s.to_fixed().filter(|v| v.len() == 4).ok_or_else(|| {
                RuleError::Shape(format!(
                    "{what} must be a fixed [K, C/groups, kh, kw], got {s}"
                ))
            })
        };
        match self {
            ConvOp::Conv2d(_) => {
                let x = nchw(inputs[0], "input")?;
                let w = fixed4(inputs[1], "weight")?;
                let (k, oh, ow) = Self::forward_dims(&p, x, &w, options.strict_geometry)?;
                Ok(Shape::from([
                    batch(inputs[0]),
                    Dim::Fixed(k),
                    Dim::Fixed(oh),
                    Dim::Fixed(ow),
                ]))
            }
            ConvOp::Conv2dInputGrad { input_hw, .. } => {
                let gy = nchw(inputs[0], "output gradient")?;
                let w = fixed4(inputs[1], "weight")?;
                let x = [gy[0], w[1] * p.groups, input_hw[0], input_hw[1]];
                let (k, oh, ow) = Self::forward_dims(&p, x, &w, false)?;
                if [k, oh, ow] != gy[1..] {
                    return Err(RuleError::Shape(format!(
                        "output gradient {} does not match a convolution of [N, {}, {}, {}] by {:?} (gives [N, {k}, {oh}, {ow}])",
                        inputs[0], x[1], x[2], x[3], w
                    )));
                }
                Ok(Shape::from([
                    batch(inputs[0]),
                    Dim::Fixed(x[1]),
                    Dim::Fixed(x[2]),
                    Dim::Fixed(x[3]),
                ]))
            }
            ConvOp::Conv2dWeightGrad { kernel_hw, .. } => {
                let x = nchw(inputs[0], "input")?;
                let gy = nchw(inputs[1], "output gradient")?;
                if batch(inputs[0]) != batch(inputs[1]) || x[0] != gy[0] {
                    return Err(RuleError::Shape(format!(
                        "input {} and output gradient {} differ in batch",
                        inputs[0], inputs[1]
                    )));
                }
                if p.groups == 0 || x[1] % p.groups != 0 {
                    return Err(RuleError::Geometry(format!(
                        "{} input channels are not divisible by {} groups",
                        x[1], p.groups
                    )));
                }
                let w = [gy[1], x[1] / p.groups, kernel_hw[0], kernel_hw[1]];
                let (k, oh, ow) = Self::forward_dims(&p, x, &w, false)?;
                if [k, oh, ow] != gy[1..] {
                    return Err(RuleError::Shape(format!(
                        "output gradient {} does not match a convolution of {} by {w:?} (gives [N, {k}, {oh}, {ow}])",
                        inputs[1], inputs[0]
                    )));
                }
                Ok(Shape::fixed(&w))
            }
        }
    }

    fn eval(&self, args: &EvalArgs<'_, T>) -> Result<Tensor<T>, EvalError> {
        let (a, b) = (args.tensor(0)?, args.tensor(1)?);
        Ok(match self {
            ConvOp::Conv2d(p) => a.conv2d_at(b, *p, args.precision())?,
            ConvOp::Conv2dInputGrad { params, input_hw } => {
                Tensor::conv2d_input_grad_at(a, b, *input_hw, *params, args.precision())?
            }
            ConvOp::Conv2dWeightGrad { params, kernel_hw } => {
                Tensor::conv2d_weight_grad_at(a, b, *kernel_hw, *params, args.precision())?
            }
        })
    }

    /// Each primitive is bilinear, and the derivatives of all three are the same three ops.
    fn grad(&self, cx: &mut GradCtx<'_, T>) -> Result<Grads> {
        let p = self.params();
        let (first, second, grad_out) = (cx.input(0), cx.input(1), cx.grad_output());
        let g = cx.graph();
        let hw = |g: &Graph<T>, n: NodeId| -> Result<[usize; 2]> {
            let s = g.shape(n)?;
            Ok([s.dims()[2].resolve(0), s.dims()[3].resolve(0)])
        };
        Ok(match self {
            ConvOp::Conv2d(_) => {
                let (x, w) = (first, second);
                let (x_hw, w_hw) = (hw(g, x)?, hw(g, w)?);
                smallvec![
                    Some(g.conv2d_input_grad(grad_out, w, x_hw, p)?),
                    Some(g.conv2d_weight_grad(x, grad_out, w_hw, p)?)
                ]
            }
            ConvOp::Conv2dInputGrad { .. } => {
                let (gy, w) = (first, second);
                let w_hw = hw(g, w)?;
                smallvec![
                    Some(g.conv2d(grad_out, w, p)?),
                    Some(g.conv2d_weight_grad(grad_out, gy, w_hw, p)?)
                ]
            }
            ConvOp::Conv2dWeightGrad { .. } => {
                let (x, gy) = (first, second);
                let x_hw = hw(g, x)?;
                smallvec![
                    Some(g.conv2d_input_grad(gy, grad_out, x_hw, p)?),
                    Some(g.conv2d(x, grad_out, p)?)
                ]
            }
        })
    }

    /// The kernel [`choose_kernel`] picks for this pass at these shapes on this machine.
    fn kernel(&self, inputs: &[&[usize]]) -> Option<String> {
        let (pass, geometry) = self.pass_geometry(inputs)?;
        choose_kernel::<T>(pass, &geometry, ConvAlgorithm::Auto)
            .ok()
            .map(|k| k.to_string())
    }
}

impl<T: Element> Graph<T> {
    /// 2-D convolution of `x [N, C, H, W]` with `w [K, C/groups, kh, kw]`.
    pub fn conv2d(&mut self, x: NodeId, w: NodeId, params: Conv2dParams) -> Result<NodeId> {
        self.apply(ConvOp::Conv2d(params), &[x, w])
    }

    /// The gradient of `conv2d` w.r.t. its input (a transposed convolution).
    pub fn conv2d_input_grad(
        &mut self,
        gy: NodeId,
        w: NodeId,
        input_hw: [usize; 2],
        params: Conv2dParams,
    ) -> Result<NodeId> {
        self.apply(ConvOp::Conv2dInputGrad { params, input_hw }, &[gy, w])
    }

    /// The gradient of `conv2d` w.r.t. its weight.
    pub fn conv2d_weight_grad(
        &mut self,
        x: NodeId,
        gy: NodeId,
        kernel_hw: [usize; 2],
        params: Conv2dParams,
    ) -> Result<NodeId> {
        self.apply(ConvOp::Conv2dWeightGrad { params, kernel_hw }, &[x, gy])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_message_names_fraction_and_fitting_padding() {
        let m = strict_axis("height", 7, 3, 0, 3).unwrap();
        assert!(m.contains("2.33"), "{m}");
        assert!(m.contains("padding 1 would fit"), "{m}");
        assert!(strict_axis("height", 7, 3, 1, 2).is_none());
        assert!(
            strict_axis("width", 6, 3, 0, 2)
                .unwrap()
                .contains("no padding fits")
        );
    }
}
