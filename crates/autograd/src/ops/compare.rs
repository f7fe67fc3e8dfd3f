//! Comparisons and select.
//!
//! Comparisons produce 0/1 masks and have **no gradient** (they are piecewise constant):
//! `eq ne lt le gt ge`, like `sign` and `step` in `unary.rs`. `select(cond, a, b)` routes the
//! gradient to `a` where `cond ≠ 0` and to `b` elsewhere; `cond` gets none. Masks are how
//! max/min, ReLU-like and piecewise functions get their derivatives.

use convnet_tensor::Element;
use smallvec::smallvec;

use crate::error::Result;
use crate::graph::{Graph, NodeId};
use crate::op::{Grads, Op};

/// Comparisons, defined in [`convnet_tensor::scalar`].
pub use convnet_tensor::scalar::Compare as CmpOp;

/// Gradient of `select(cond, a, b)`: `(none, select(cond, g, 0), select(cond, 0, g))`.
pub(crate) fn select_grad<T: Element>(
    g: &mut Graph<T>,
    xs: &[NodeId],
    gy: NodeId,
) -> Result<Grads> {
    let shape = g.shape(gy)?.clone();
    let zero = g.fill(shape, 0.0);
    let ga = g.select(xs[0], gy, zero)?;
    let gb = g.select(xs[0], zero, gy)?;
    Ok(smallvec![None, Some(ga), Some(gb)])
}

impl<T: Element> Graph<T> {
    /// Adds a comparison (broadcasting); the result is a 0/1 mask without gradient.
    pub fn compare(&mut self, op: CmpOp, a: NodeId, b: NodeId) -> Result<NodeId> {
        let v = self.broadcast_operands(op.name(), &[a, b])?;
        self.push(Op::Compare(op), &v)
    }
    pub fn eq(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.compare(CmpOp::Eq, a, b)
    }
    pub fn ne(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.compare(CmpOp::Ne, a, b)
    }
    pub fn lt(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.compare(CmpOp::Lt, a, b)
    }
    pub fn le(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.compare(CmpOp::Le, a, b)
    }
    pub fn gt(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.compare(CmpOp::Gt, a, b)
    }
    pub fn ge(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.compare(CmpOp::Ge, a, b)
    }

    /// `a` where `cond ≠ 0`, else `b` (all three broadcast).
    pub fn select(&mut self, cond: NodeId, a: NodeId, b: NodeId) -> Result<NodeId> {
        let v = self.broadcast_operands("select", &[cond, a, b])?;
        self.push(Op::Select, &v)
    }
}
