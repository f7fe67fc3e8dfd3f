//! Max and average pooling with their gradients as primitives.
//!
//! Average pooling is linear: `AvgPool2d` and `AvgPool2dGrad` are each other's adjoint, so
//! derivatives of any order stay in this pair. Max pooling's gradient `MaxPool2dGrad(x, gy)`
//! routes `gy` to each window's arg-max; it is linear in `gy`, and its adjoint is
//! `MaxPool2dSelect(x, v)`, which reads `v` at each window's arg-max (the two differentiate into
//! each other w.r.t. the routed value). W.r.t. `x` the arg-max is piecewise constant, so the
//! second derivative of max pooling w.r.t. its input is zero almost everywhere and no gradient
//! flows to `x` through these two ops. Global average pooling is `mean` over H and W.

pub use convnet_tensor::Pool2dParams;
use convnet_tensor::{Element, Tensor};
use smallvec::smallvec;

use crate::error::Result;
use crate::graph::{Graph, GraphOptions, NodeId};
use crate::ops::conv::{nchw, strict_axis};
use crate::rule::{EvalArgs, EvalError, GradCtx, Grads, OpRule, RuleError, arity};
use crate::shape::{Dim, Shape};

/// 2-D pooling over NCHW values and the primitives its gradients are written with.
#[derive(Debug, Clone)]
pub enum PoolOp {
    /// `x [N, C, H, W] → [N, C, oh, ow]`: the maximum of each window.
    MaxPool2d(Pool2dParams),
    /// `(x, gy) → x.shape`: `gy` routed to each window's arg-max in `x`.
    MaxPool2dGrad(Pool2dParams),
    /// `(x, v) → y.shape`: `v` read at each window's arg-max in `x` (adjoint of the above).
    MaxPool2dSelect(Pool2dParams),
    /// `x [N, C, H, W] → [N, C, oh, ow]`: the mean of each window.
    AvgPool2d(Pool2dParams),
    /// `gy → shape`: the adjoint of average pooling.
    AvgPool2dGrad {
        /// The parameters of the average pooling being differentiated.
        params: Pool2dParams,
        /// The shape of that pooling's input, which this op produces.
        shape: Shape,
    },
}

impl PoolOp {
    /// Short name used in node names and errors (`"max_pool2d"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            PoolOp::MaxPool2d(_) => "max_pool2d",
            PoolOp::MaxPool2dGrad(_) => "max_pool2d_grad",
            PoolOp::MaxPool2dSelect(_) => "max_pool2d_select",
            PoolOp::AvgPool2d(_) => "avg_pool2d",
            PoolOp::AvgPool2dGrad { .. } => "avg_pool2d_grad",
        }
    }

    fn params(&self) -> Pool2dParams {
        match self {
            PoolOp::MaxPool2d(p)
            | PoolOp::MaxPool2dGrad(p)
            | PoolOp::MaxPool2dSelect(p)
            | PoolOp::AvgPool2d(p)
            | PoolOp::AvgPool2dGrad { params: p, .. } => *p,
        }
    }

    /// The pooled shape of `x`, with the strict-geometry check when asked.
    fn pooled(&self, x: &Shape, strict: bool) -> Result<Shape, RuleError> {
        let p = self.params();
        let d = nchw(x, "input")?;
        let [oh, ow] = p
            .out_hw(self.name(), &d)
            .map_err(|e| RuleError::Geometry(e.to_string()))?;
        if strict {
            let msgs: Vec<String> = [
                strict_axis("height", d[2], p.kernel[0], p.padding[0], p.stride[0]),
                strict_axis("width", d[3], p.kernel[1], p.padding[1], p.stride[1]),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !msgs.is_empty() {
                return Err(RuleError::Geometry(msgs.join("; ")));
            }
        }
        Ok(Shape::from([
            x.dims()[0],
            x.dims()[1],
            Dim::Fixed(oh),
            Dim::Fixed(ow),
        ]))
    }
}

impl<T: Element> OpRule<T> for PoolOp {
    fn name(&self) -> &'static str {
        PoolOp::name(self)
    }

    fn describe(&self) -> String {
        format!("{self:?}")
    }

    fn shape(&self, inputs: &[&Shape], options: &GraphOptions) -> Result<Shape, RuleError> {
        let expect = |got: &Shape, want: &Shape, what: &str| {
            if got == want {
                Ok(())
            } else {
                Err(RuleError::Shape(format!(
                    "{what} {got} does not match the pooled shape {want}"
                )))
            }
        };
        match self {
            PoolOp::MaxPool2d(_) | PoolOp::AvgPool2d(_) => {
                arity(inputs, 1)?;
                self.pooled(inputs[0], options.strict_geometry)
            }
            PoolOp::MaxPool2dGrad(_) => {
                arity(inputs, 2)?;
                let y = self.pooled(inputs[0], false)?;
                expect(inputs[1], &y, "output gradient")?;
                Ok(inputs[0].clone())
            }
            PoolOp::MaxPool2dSelect(_) => {
                arity(inputs, 2)?;
                if inputs[1] != inputs[0] {
                    return Err(RuleError::Shape(format!(
                        "value {} differs from input {}",
                        inputs[1], inputs[0]
                    )));
                }
                self.pooled(inputs[0], false)
            }
            PoolOp::AvgPool2dGrad { shape, .. } => {
                arity(inputs, 1)?;
                let y = self.pooled(shape, false)?;
                expect(inputs[0], &y, "output gradient")?;
                Ok(shape.clone())
            }
        }
    }

    fn eval(&self, args: &EvalArgs<'_, T>) -> Result<Tensor<T>, EvalError> {
        let (x, out) = (args.tensors()?, args.out_shape());
        Ok(match self {
            PoolOp::MaxPool2d(p) => x[0].max_pool2d(*p)?,
            PoolOp::MaxPool2dGrad(p) => Tensor::max_pool2d_backward(x[0], x[1], *p)?,
            PoolOp::MaxPool2dSelect(p) => Tensor::max_pool2d_select(x[0], x[1], *p)?,
            PoolOp::AvgPool2d(p) => x[0].avg_pool2d(*p)?,
            PoolOp::AvgPool2dGrad { params, .. } => {
                Tensor::avg_pool2d_backward(x[0], out, *params)?
            }
        })
    }

    fn grad(&self, cx: &mut GradCtx<'_, T>) -> Result<Grads> {
        let (xs, gz) = (cx.inputs().to_vec(), cx.grad_output());
        let g = cx.graph();
        let p = self.params();
        Ok(match self {
            PoolOp::MaxPool2d(_) => {
                smallvec![Some(g.apply(PoolOp::MaxPool2dGrad(p), &[xs[0], gz])?)]
            }
            PoolOp::MaxPool2dGrad(_) => smallvec![
                None,
                Some(g.apply(PoolOp::MaxPool2dSelect(p), &[xs[0], gz])?)
            ],
            PoolOp::MaxPool2dSelect(_) => {
                smallvec![None, Some(g.apply(PoolOp::MaxPool2dGrad(p), &[xs[0], gz])?)]
            }
            PoolOp::AvgPool2d(_) => {
                let shape = g.shape(xs[0])?.clone();
                smallvec![Some(
                    g.apply(PoolOp::AvgPool2dGrad { params: p, shape }, &[gz])?
                )]
            }
            PoolOp::AvgPool2dGrad { .. } => smallvec![Some(g.avg_pool2d(gz, p)?)],
        })
    }
}

impl<T: Element> Graph<T> {
    /// Max pooling of `x [N, C, H, W]`; the gradient goes to each window's arg-max.
    pub fn max_pool2d(&mut self, x: NodeId, params: Pool2dParams) -> Result<NodeId> {
        self.apply(PoolOp::MaxPool2d(params), &[x])
    }
    /// Average pooling of `x [N, C, H, W]`.
    pub fn avg_pool2d(&mut self, x: NodeId, params: Pool2dParams) -> Result<NodeId> {
        self.apply(PoolOp::AvgPool2d(params), &[x])
    }
    /// `[N, C, H, W] → [N, C]`: the mean over H and W.
    pub fn global_avg_pool2d(&mut self, x: NodeId) -> Result<NodeId> {
        self.mean(x, &[2, 3], false)
    }
}
