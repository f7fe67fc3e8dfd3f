//! Softmax and log-softmax along one axis.
//!
//! Both gradients are written with the op's own output, so they are compositions of smooth
//! primitives and differentiate again: softmax `y·(g − Σ g·y)`, log-softmax
//! `g − exp(y)·Σ g`. Cross-entropy is `nn`'s business: `−take_along_axis(log_softmax(x), labels)`.

use convnet_tensor::{Element, Tensor};

use crate::error::Result;
use smallvec::smallvec;

use crate::graph::{Graph, GraphOptions, NodeId};
use crate::rule::{EvalArgs, EvalError, GradCtx, Grads, OpRule, RuleError, arity};
use crate::shape::Shape;

/// Softmax or log-softmax along one axis; the output has the operand's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoftmaxOp {
    /// `exp(x) / Σ exp(x)` along `axis`.
    Softmax {
        /// The axis normalised over.
        axis: usize,
    },
    /// `x − ln Σ exp(x)` along `axis`.
    LogSoftmax {
        /// The axis normalised over.
        axis: usize,
    },
}

impl SoftmaxOp {
    /// Short name used in node names and errors (`"softmax"` or `"log_softmax"`).
    pub fn name(self) -> &'static str {
        match self {
            SoftmaxOp::Softmax { .. } => "softmax",
            SoftmaxOp::LogSoftmax { .. } => "log_softmax",
        }
    }

    fn axis(self) -> usize {
        match self {
            SoftmaxOp::Softmax { axis } | SoftmaxOp::LogSoftmax { axis } => axis,
        }
    }
}

impl<T: Element> OpRule<T> for SoftmaxOp {
    fn name(&self) -> &'static str {
        SoftmaxOp::name(*self)
    }

    fn describe(&self) -> String {
        format!("{self:?}")
    }

    fn shape(&self, inputs: &[&Shape], _: &GraphOptions) -> Result<Shape, RuleError> {
        arity(inputs, 1)?;
        if self.axis() >= inputs[0].rank() {
            return Err(RuleError::Invalid(format!(
                "axis {} is out of range for {}",
                self.axis(),
                inputs[0]
            )));
        }
        Ok(inputs[0].clone())
    }

    fn eval(&self, args: &EvalArgs<'_, T>) -> Result<Tensor<T>, EvalError> {
        let x = args.tensor(0)?;
        Ok(match *self {
            SoftmaxOp::Softmax { axis } => x.softmax(axis)?,
            SoftmaxOp::LogSoftmax { axis } => x.log_softmax(axis)?,
        })
    }

    fn grad(&self, cx: &mut GradCtx<'_, T>) -> Result<Grads> {
        let (y, gy) = (cx.output(), cx.grad_output());
        let g = cx.graph();
        let axis = self.axis();
        let dx = match self {
            SoftmaxOp::Softmax { .. } => {
                let gyy = g.mul(gy, y)?;
                let s = g.sum_keep(gyy, &[axis])?;
                let d = g.sub(gy, s)?;
                g.mul(y, d)?
            }
            SoftmaxOp::LogSoftmax { .. } => {
                let p = g.exp(y)?;
                let s = g.sum_keep(gy, &[axis])?;
                let ps = g.mul(p, s)?;
                g.sub(gy, ps)?
            }
        };
        Ok(smallvec![Some(dx)])
    }
}

impl<T: Element> Graph<T> {
    /// Softmax of `x` along `axis`.
    pub fn softmax(&mut self, x: NodeId, axis: usize) -> Result<NodeId> {
        self.apply(SoftmaxOp::Softmax { axis }, &[x])
    }
    /// Log-softmax of `x` along `axis` (computed directly, not as `ln(softmax(x))`).
    pub fn log_softmax(&mut self, x: NodeId, axis: usize) -> Result<NodeId> {
        self.apply(SoftmaxOp::LogSoftmax { axis }, &[x])
    }
}
