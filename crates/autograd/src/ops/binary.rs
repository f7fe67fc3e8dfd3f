//! Elementwise binary ops on operands of equal shape.
//!
//! The primitives require equal shapes; broadcasting is explicit. The builders (`add`, `mul`,
//! ...) insert an `Expand` node for an operand that needs broadcasting, so the gradient rules
//! below never deal with it: the `Expand` node's own gradient (a sum over the expanded axes)
//! takes care of it, and that logic exists once, in `movement.rs`.

use convnet_tensor::ops::fused::Pointwise;
use convnet_tensor::{Element, Tensor};
use smallvec::smallvec;

use crate::error::{AutogradError, Result};
use crate::graph::{Graph, GraphOptions, NodeId};
use crate::ops::unary::{Leaves, build_expr};
use crate::rule::{EvalArgs, EvalError, GradCtx, Grads, OpRule, OutputBuffer, RuleError, arity};
use crate::shape::{Shape, broadcast};

/// The elementwise functions of two arguments, defined (value and derivative) in
/// [`convnet_tensor::scalar`].
pub use convnet_tensor::scalar::Binary as BinaryOp;

impl<T: Element> OpRule<T> for BinaryOp {
    fn name(&self) -> &'static str {
        BinaryOp::name(*self)
    }

    fn shape(&self, inputs: &[&Shape], _: &GraphOptions) -> Result<Shape, RuleError> {
        same_shapes(inputs, 2)
    }

    fn output_buffer(&self) -> OutputBuffer {
        OutputBuffer::Elementwise
    }

    fn pointwise(&self) -> Option<Pointwise> {
        Some(Pointwise::Binary(*self))
    }

    fn eval(&self, args: &EvalArgs<'_, T>) -> Result<Tensor<T>, EvalError> {
        Ok(args.tensor(0)?.zip_binary(*self, args.tensor(1)?)?)
    }

    /// `target` holds operand `pos`; the other operand is read from `args`.
    fn eval_in_place(
        &self,
        target: &mut Tensor<T>,
        pos: usize,
        args: &EvalArgs<'_, T>,
    ) -> Result<(), EvalError> {
        let other = args.tensor(1 - pos)?;
        Ok(target.zip_binary_inplace(*self, other, pos == 1)?)
    }

    /// Both derivative expressions beside the scalar function, as nodes.
    fn grad(&self, cx: &mut GradCtx<'_, T>) -> Result<Grads> {
        let leaves = Leaves {
            a: cx.input(0),
            b: Some(cx.input(1)),
            y: cx.output(),
            g: cx.grad_output(),
        };
        // One memo for both rules: Div's and Maximum's share their first part.
        let mut memo = Vec::new();
        let [da, db] = self.derivative();
        let ga = build_expr(cx.graph(), &da, leaves, &mut memo)?;
        let gb = build_expr(cx.graph(), &db, leaves, &mut memo)?;
        Ok(smallvec![Some(ga), Some(gb)])
    }
}

/// The shape rule shared by binary ops, comparisons and select: all operands equal.
pub(crate) fn same_shapes(inputs: &[&Shape], n: usize) -> Result<Shape, RuleError> {
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
        self.apply(op, &v)
    }

    /// `a + b`, broadcasting.
    pub fn add(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryOp::Add, a, b)
    }
    /// `a − b`, broadcasting.
    pub fn sub(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryOp::Sub, a, b)
    }
    /// `a · b` elementwise, broadcasting.
    pub fn mul(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryOp::Mul, a, b)
    }
    /// `a / b`, broadcasting.
    pub fn div(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryOp::Div, a, b)
    }
    /// The elementwise larger of `a` and `b`, broadcasting (ties take `a`, value and gradient).
    pub fn maximum(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryOp::Maximum, a, b)
    }
    /// The elementwise smaller of `a` and `b`, broadcasting (ties take `a`, value and gradient).
    pub fn minimum(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryOp::Minimum, a, b)
    }
    /// `aᵇ` elementwise, broadcasting (the gradient w.r.t. `b` needs `a > 0`).
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
