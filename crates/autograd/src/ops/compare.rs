//! Comparisons and select.
//!
//! Comparisons produce 0/1 masks and have **no gradient** (they are piecewise constant):
//! `eq ne lt le gt ge`, like `sign` and `step` in `unary.rs`. `select(cond, a, b)` routes the
//! gradient to `a` where `cond ≠ 0` and to `b` elsewhere; `cond` gets none. Masks are how
//! max/min, ReLU-like and piecewise functions get their derivatives.

use convnet_tensor::ops::fused::Pointwise;
use convnet_tensor::{Element, Tensor};
use smallvec::smallvec;

use crate::error::Result;
use crate::graph::{Graph, GraphOptions, NodeId};
use crate::ops::binary::same_shapes;
use crate::rule::{EvalArgs, EvalError, GradCtx, Grads, OpRule, RuleError};
use crate::shape::Shape;

/// Comparisons, defined in [`convnet_tensor::scalar`].
pub use convnet_tensor::scalar::Compare as CmpOp;

impl<T: Element> OpRule<T> for CmpOp {
    fn name(&self) -> &'static str {
        CmpOp::name(*self)
    }

    fn shape(&self, inputs: &[&Shape], _: &GraphOptions) -> Result<Shape, RuleError> {
        same_shapes(inputs, 2)
    }

    fn pointwise(&self) -> Option<Pointwise> {
        Some(Pointwise::Compare(*self))
    }

    fn eval(&self, args: &EvalArgs<'_, T>) -> Result<Tensor<T>, EvalError> {
        Ok(args.tensor(0)?.compare(*self, args.tensor(1)?)?)
    }

    /// Piecewise constant: no gradient.
    fn grad(&self, cx: &mut GradCtx<'_, T>) -> Result<Grads> {
        Ok(cx.none())
    }
}

/// `select(cond, a, b)`: `a` where `cond ≠ 0`, else `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectOp;

impl<T: Element> OpRule<T> for SelectOp {
    fn name(&self) -> &'static str {
        "select"
    }

    fn shape(&self, inputs: &[&Shape], _: &GraphOptions) -> Result<Shape, RuleError> {
        same_shapes(inputs, 3)
    }

    fn pointwise(&self) -> Option<Pointwise> {
        Some(Pointwise::Select)
    }

    fn eval(&self, args: &EvalArgs<'_, T>) -> Result<Tensor<T>, EvalError> {
        Ok(Tensor::select(
            args.tensor(0)?,
            args.tensor(1)?,
            args.tensor(2)?,
        )?)
    }

    /// `(none, select(cond, g, 0), select(cond, 0, g))`.
    fn grad(&self, cx: &mut GradCtx<'_, T>) -> Result<Grads> {
        let (cond, gy) = (cx.input(0), cx.grad_output());
        let shape = cx.shape(gy)?;
        let g = cx.graph();
        let zero = g.fill(shape, 0.0);
        let ga = g.select(cond, gy, zero)?;
        let gb = g.select(cond, zero, gy)?;
        Ok(smallvec![None, Some(ga), Some(gb)])
    }
}

impl<T: Element> Graph<T> {
    /// Adds a comparison (broadcasting); the result is a 0/1 mask without gradient.
    pub fn compare(&mut self, op: CmpOp, a: NodeId, b: NodeId) -> Result<NodeId> {
        let v = self.broadcast_operands(op.name(), &[a, b])?;
        self.apply(op, &v)
    }
    /// 1 where `a == b`, else 0 (broadcasting; no gradient).
    pub fn eq(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.compare(CmpOp::Eq, a, b)
    }
    /// 1 where `a != b`, else 0 (broadcasting; no gradient).
    pub fn ne(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.compare(CmpOp::Ne, a, b)
    }
    /// 1 where `a < b`, else 0 (broadcasting; no gradient).
    pub fn lt(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.compare(CmpOp::Lt, a, b)
    }
    /// 1 where `a <= b`, else 0 (broadcasting; no gradient).
    pub fn le(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.compare(CmpOp::Le, a, b)
    }
    /// 1 where `a > b`, else 0 (broadcasting; no gradient).
    pub fn gt(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.compare(CmpOp::Gt, a, b)
    }
    /// 1 where `a >= b`, else 0 (broadcasting; no gradient).
    pub fn ge(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.compare(CmpOp::Ge, a, b)
    }

    /// `a` where `cond ≠ 0`, else `b` (all three broadcast).
    pub fn select(&mut self, cond: NodeId, a: NodeId, b: NodeId) -> Result<NodeId> {
        let v = self.broadcast_operands("select", &[cond, a, b])?;
        self.apply(SelectOp, &v)
    }
}
