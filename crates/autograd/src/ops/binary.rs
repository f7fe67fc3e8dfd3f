//! Elementwise binary ops on operands of equal shape.
//!
//! The primitives require equal shapes; broadcasting is explicit. The builders (`add`, `mul`,
//! ...) insert an `Expand` node for an operand that needs broadcasting, so the gradient rules
//! below never deal with it: the `Expand` node's own gradient (a sum over the expanded axes)
//! takes care of it, and that logic exists once, in `movement.rs`.

use convnet_tensor::{Element, Tensor};
use smallvec::smallvec;

use crate::error::{AutogradError, Result};
use crate::graph::{Graph, NodeId};
use crate::op::{EvalResult, Grads, Op, RuleError, RuleResult, arity};
use crate::shape::{Shape, broadcast};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    /// Elementwise maximum; on ties the gradient goes to the first operand.
    Maximum,
    /// Elementwise minimum; on ties the gradient goes to the first operand.
    Minimum,
    /// `aᵇ` (the gradient w.r.t. `b` needs `a > 0`).
    Pow,
}

impl BinaryOp {
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Maximum => "maximum",
            BinaryOp::Minimum => "minimum",
            BinaryOp::Pow => "pow",
        }
    }

    /// The scalar function (shared by the allocating and the in-place evaluation).
    #[inline]
    pub fn apply<T: Element>(self, a: T, b: T) -> T {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Maximum => {
                if a.is_nan() || a >= b {
                    a
                } else {
                    b
                }
            }
            BinaryOp::Minimum => {
                if a.is_nan() || a <= b {
                    a
                } else {
                    b
                }
            }
            BinaryOp::Pow => a.powf(b),
        }
    }

    /// True when `a ∘ b == b ∘ a` (lets the executor write into either operand).
    pub fn commutes(self) -> bool {
        matches!(
            self,
            BinaryOp::Add | BinaryOp::Mul | BinaryOp::Maximum | BinaryOp::Minimum
        )
    }

    pub(crate) fn eval<T: Element>(self, a: &Tensor<T>, b: &Tensor<T>) -> EvalResult<T> {
        Ok(self.dispatch(super::dispatch::Zip {
            a,
            b,
            name: self.name(),
        })?)
    }

    pub(crate) fn grad<T: Element>(
        self,
        g: &mut Graph<T>,
        a: NodeId,
        b: NodeId,
        y: NodeId,
        gy: NodeId,
    ) -> Result<Grads> {
        Ok(match self {
            BinaryOp::Add => smallvec![Some(gy), Some(gy)],
            BinaryOp::Sub => smallvec![Some(gy), Some(g.neg(gy)?)],
            BinaryOp::Mul => smallvec![Some(g.mul(gy, b)?), Some(g.mul(gy, a)?)],
            BinaryOp::Div => {
                // d/da = g/b, d/db = −g·y/b
                let ga = g.div(gy, b)?;
                let gy_y = g.mul(ga, y)?;
                smallvec![Some(ga), Some(g.neg(gy_y)?)]
            }
            BinaryOp::Maximum | BinaryOp::Minimum => {
                let mask = if self == BinaryOp::Maximum {
                    g.ge(a, b)?
                } else {
                    g.le(a, b)?
                };
                let ga = g.mul(gy, mask)?;
                smallvec![Some(ga), Some(g.sub(gy, ga)?)]
            }
            BinaryOp::Pow => {
                // d/da = g·b·a^(b−1), d/db = g·y·ln a
                let bm1 = g.add_scalar(b, -1.0)?;
                let p = g.push(Op::Binary(BinaryOp::Pow), &[a, bm1])?;
                let da = g.mul(b, p)?;
                let ln_a = g.ln(a)?;
                let db = g.mul(y, ln_a)?;
                smallvec![Some(g.mul(gy, da)?), Some(g.mul(gy, db)?)]
            }
        })
    }
}

/// The shape rule shared by binary ops, comparisons and select: all operands equal.
pub(crate) fn same_shapes(inputs: &[&Shape], n: usize) -> RuleResult<Shape> {
    arity(inputs, n)?;
    if inputs.iter().all(|s| *s == inputs[0]) {
        Ok(inputs[0].clone())
    } else {
        let list: Vec<String> = inputs.iter().map(|s| s.to_string()).collect();
        Err(RuleError::Shape(format!(
            "operand shapes {} differ (primitives need equal shapes; use the broadcasting builder)",
            list.join(" and ")
        )))
    }
}

impl<T: Element> Graph<T> {
    /// Broadcasts operands to a common shape with explicit `Expand` nodes (NumPy rules, with
    /// the batch size `B` only matching itself or 1). The error names the op being built.
    pub fn broadcast_operands(&mut self, op: &'static str, xs: &[NodeId]) -> Result<Vec<NodeId>> {
        let mut target = self.shape(xs[0])?.clone();
        for &x in &xs[1..] {
            let s = self.shape(x)?;
            target = broadcast(&target, s).ok_or_else(|| {
                let shapes: Vec<String> = xs
                    .iter()
                    .filter_map(|&x| self.shape(x).ok())
                    .map(|s| s.to_string())
                    .collect();
                AutogradError::Shape {
                    op,
                    node: self.next_name(op),
                    detail: format!("shapes {} cannot be broadcast", shapes.join(" and ")),
                }
            })?;
        }
        xs.iter().map(|&x| self.expand(x, target.clone())).collect()
    }

    /// Adds a binary op, broadcasting the operands first.
    pub fn binary(&mut self, op: BinaryOp, a: NodeId, b: NodeId) -> Result<NodeId> {
        let v = self.broadcast_operands(op.name(), &[a, b])?;
        self.push(Op::Binary(op), &v)
    }

    pub fn add(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryOp::Add, a, b)
    }
    pub fn sub(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryOp::Sub, a, b)
    }
    pub fn mul(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryOp::Mul, a, b)
    }
    pub fn div(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryOp::Div, a, b)
    }
    pub fn maximum(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryOp::Maximum, a, b)
    }
    pub fn minimum(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryOp::Minimum, a, b)
    }
    pub fn pow(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryOp::Pow, a, b)
    }

    /// Sums several nodes of one shape (gradient accumulation); `None` for an empty list.
    pub fn add_n(&mut self, xs: &[NodeId]) -> Result<Option<NodeId>> {
        let Some((&first, rest)) = xs.split_first() else {
            return Ok(None);
        };
        let mut acc = first;
        for &x in rest {
            acc = self.add(acc, x)?;
        }
        Ok(Some(acc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_broadcasts_with_expand_and_reports_mismatch() {
        let mut g = Graph::<f32>::new();
        let x = g.input("x", Shape::with_batch(&[3])).unwrap();
        let b = g.param("bias", &[3]).unwrap();
        let y = g.add(x, b).unwrap();
        assert_eq!(g.shape(y).unwrap().to_string(), "[B, 3]");
        let w = g.param("w", &[4]).unwrap();
        let e = g.scope("fc1", |g| g.mul(x, w)).unwrap_err().to_string();
        assert!(e.contains("mul at `fc1/mul`"), "{e}");
        assert!(e.contains("[B, 3]") && e.contains("[4]"), "{e}");
    }
}
