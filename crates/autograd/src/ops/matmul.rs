//! Matrix product `[..., m, k] × [..., k, n] → [..., m, n]` with equal batch axes.
//!
//! Batch axes must agree exactly (expand first to broadcast), which keeps the gradient rule two
//! lines: `dA = g·Bᵀ`, `dB = Aᵀ·g`. The transposes are `Permute` views, and the GEMM kernel takes
//! strided operands, so no transpose is ever copied.

use convnet_tensor::{Element, Tensor};
use smallvec::smallvec;

use crate::error::Result;
use crate::graph::{Graph, GraphOptions, NodeId};
use crate::rule::{EvalArgs, EvalError, GradCtx, Grads, OpRule, RuleError, arity};
use crate::shape::Shape;

/// `a · b` over the last two axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatMulOp;

impl<T: Element> OpRule<T> for MatMulOp {
    fn name(&self) -> &'static str {
        "matmul"
    }

    fn shape(&self, inputs: &[&Shape], _: &GraphOptions) -> Result<Shape, RuleError> {
        arity(inputs, 2)?;
        let (a, b) = (inputs[0], inputs[1]);
        let bad = |why: &str| Err(RuleError::Shape(format!("{a} × {b}: {why}")));
        if a.rank() < 2 || b.rank() < 2 {
            return bad("both operands need at least 2 axes");
        }
        if a.rank() != b.rank() || a.dims()[..a.rank() - 2] != b.dims()[..b.rank() - 2] {
            return bad("batch axes differ (expand them to a common shape first)");
        }
        let (k, k2) = (a.dims()[a.rank() - 1], b.dims()[b.rank() - 2]);
        if k != k2 {
            return bad(&format!("inner dimensions {k} and {k2} differ"));
        }
        Ok(a.with_dim(a.rank() - 1, b.dims()[b.rank() - 1]))
    }

    fn eval(&self, args: &EvalArgs<'_, T>) -> Result<Tensor<T>, EvalError> {
        Ok(args
            .tensor(0)?
            .matmul_at(args.tensor(1)?, args.precision())?)
    }

    /// `dA = g·Bᵀ`, `dB = Aᵀ·g`.
    fn grad(&self, cx: &mut GradCtx<'_, T>) -> Result<Grads> {
        let (a, b, gy) = (cx.input(0), cx.input(1), cx.grad_output());
        let r = cx.shape(a)?.rank();
        let g = cx.graph();
        let bt = g.transpose(b, r - 2, r - 1)?;
        let at = g.transpose(a, r - 2, r - 1)?;
        Ok(smallvec![Some(g.matmul(gy, bt)?), Some(g.matmul(at, gy)?)])
    }
}

impl<T: Element> Graph<T> {
    /// Matrix product over the last two axes, `[..., m, k] × [..., k, n] → [..., m, n]`; the
    /// batch axes must be equal (expand first to broadcast).
    pub fn matmul(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.apply(MatMulOp, &[a, b])
    }

    /// `x·wᵀ + b` for `x: [.., in]`, `w: [out, in]`, `b: [out]` (a fully-connected layer).
    pub fn linear(&mut self, x: NodeId, w: NodeId, b: Option<NodeId>) -> Result<NodeId> {
        let wt = self.transpose(w, 0, 1)?;
        let y = self.matmul(x, wt)?;
        match b {
            Some(b) => self.add(y, b),
            None => Ok(y),
        }
    }
}
