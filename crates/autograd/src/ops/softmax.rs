//! Softmax and log-softmax along one axis.
//!
//! Both gradients are written with the op's own output, so they are compositions of smooth
//! primitives and differentiate again: softmax `y·(g − Σ g·y)`, log-softmax
//! `g − exp(y)·Σ g`. Cross-entropy is `nn`'s business: `−take_along_axis(log_softmax(x), labels)`.

use convnet_tensor::{Element, Tensor};

use crate::error::Result;
use crate::graph::{Graph, NodeId};
use crate::op::{EvalResult, Op, RuleError, RuleResult, arity};
use crate::shape::Shape;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoftmaxOp {
    Softmax { axis: usize },
    LogSoftmax { axis: usize },
}

impl SoftmaxOp {
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

    pub(crate) fn shape(self, inputs: &[&Shape]) -> RuleResult<Shape> {
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

    pub(crate) fn eval<T: Element>(self, x: &Tensor<T>) -> EvalResult<T> {
        Ok(match self {
            SoftmaxOp::Softmax { axis } => x.softmax(axis)?,
            SoftmaxOp::LogSoftmax { axis } => x.log_softmax(axis)?,
        })
    }

    pub(crate) fn grad<T: Element>(
        self,
        g: &mut Graph<T>,
        y: NodeId,
        gy: NodeId,
    ) -> Result<NodeId> {
        let axis = self.axis();
        match self {
            SoftmaxOp::Softmax { .. } => {
                let gyy = g.mul(gy, y)?;
                let s = g.sum_keep(gyy, &[axis])?;
                let d = g.sub(gy, s)?;
                g.mul(y, d)
            }
            SoftmaxOp::LogSoftmax { .. } => {
                let p = g.exp(y)?;
                let s = g.sum_keep(gy, &[axis])?;
                let ps = g.mul(p, s)?;
                g.sub(gy, ps)
            }
        }
    }
}

impl<T: Element> Graph<T> {
    pub fn softmax(&mut self, x: NodeId, axis: usize) -> Result<NodeId> {
        self.push(Op::Softmax(SoftmaxOp::Softmax { axis }), &[x])
    }
    pub fn log_softmax(&mut self, x: NodeId, axis: usize) -> Result<NodeId> {
        self.push(Op::Softmax(SoftmaxOp::LogSoftmax { axis }), &[x])
    }
}
