//! Elementwise unary ops in the graph: their builders, and their derivatives — written once,
//! as expressions beside the scalar functions in [`convnet_tensor::scalar`] — turned into
//! graph nodes (so gradients of gradients work).
//!
//! `sign` and `step` (the 0/1 mask `x > 0`) are piecewise constant: no gradient flows through
//! them, which is also what makes ReLU's second derivative zero almost everywhere.

use convnet_tensor::ops::fused::Pointwise;
use convnet_tensor::scalar::Expr;
use convnet_tensor::{Element, Tensor};
use smallvec::smallvec;

use crate::error::{AutogradError, Result};
use crate::graph::{Graph, GraphOptions, NodeId};
use crate::rule::{EvalArgs, EvalError, GradCtx, Grads, OpRule, OutputBuffer, RuleError, arity};
use crate::shape::Shape;

/// The elementwise functions of one argument, defined (value and derivative) in
/// [`convnet_tensor::scalar`].
pub use convnet_tensor::scalar::Unary as UnaryOp;

/// The nodes a derivative expression refers to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Leaves {
    pub a: NodeId,
    pub b: Option<NodeId>,
    pub y: NodeId,
    pub g: NodeId,
}

/// Appends the nodes of a derivative expression from [`convnet_tensor::scalar`]; identical
/// sub-expressions become one node (Elu's slope reads `step(x)` twice).
pub(crate) fn build_expr<T: Element>(
    g: &mut Graph<T>,
    e: &Expr,
    leaves: Leaves,
    memo: &mut Vec<(Expr, NodeId)>,
) -> Result<NodeId> {
    if let Some((_, id)) = memo.iter().find(|(k, _)| k == e) {
        return Ok(*id);
    }
    let id = match e {
        Expr::A => return Ok(leaves.a),
        Expr::Y => return Ok(leaves.y),
        Expr::G => return Ok(leaves.g),
        Expr::B => {
            return leaves.b.ok_or_else(|| AutogradError::Invalid {
                op: "gradient",
                node: g.next_name("gradient"),
                detail: "a unary derivative refers to a second operand".into(),
            });
        }
        Expr::Unary(op, x) => {
            let x = build_expr(g, x, leaves, memo)?;
            g.unary(*op, x)?
        }
        Expr::Binary(op, l, r) => {
            let l = build_expr(g, l, leaves, memo)?;
            let r = build_expr(g, r, leaves, memo)?;
            g.binary(*op, l, r)?
        }
        Expr::Compare(op, l, r) => {
            let l = build_expr(g, l, leaves, memo)?;
            let r = build_expr(g, r, leaves, memo)?;
            g.compare(*op, l, r)?
        }
    };
    memo.push((e.clone(), id));
    Ok(id)
}

impl<T: Element> OpRule<T> for UnaryOp {
    fn name(&self) -> &'static str {
        UnaryOp::name(*self)
    }

    fn describe(&self) -> String {
        format!("{self:?}").to_lowercase()
    }

    fn shape(&self, inputs: &[&Shape], _: &GraphOptions) -> Result<Shape, RuleError> {
        arity(inputs, 1)?;
        Ok(inputs[0].clone())
    }

    fn output_buffer(&self) -> OutputBuffer {
        OutputBuffer::Elementwise
    }

    fn pointwise(&self) -> Option<Pointwise> {
        Some(Pointwise::Unary(*self))
    }

    fn eval(&self, args: &EvalArgs<'_, T>) -> Result<Tensor<T>, EvalError> {
        Ok(args.tensor(0)?.map_unary(*self))
    }

    fn eval_in_place(
        &self,
        target: &mut Tensor<T>,
        _pos: usize,
        _args: &EvalArgs<'_, T>,
    ) -> Result<(), EvalError> {
        target.map_unary_inplace(*self);
        Ok(())
    }

    /// The derivative expression beside the scalar function, as nodes (`None` for the
    /// piecewise-constant `sign` and `step`).
    fn grad(&self, cx: &mut GradCtx<'_, T>) -> Result<Grads> {
        let Some(d) = self.derivative() else {
            return Ok(cx.none());
        };
        let leaves = Leaves {
            a: cx.input(0),
            b: None,
            y: cx.output(),
            g: cx.grad_output(),
        };
        let dx = build_expr(cx.graph(), &d, leaves, &mut Vec::new())?;
        Ok(smallvec![Some(dx)])
    }
}

macro_rules! builders {
    ($($fn:ident => $op:ident;)*) => {
        impl<T: Element> Graph<T> {
            $(
                #[doc = concat!("Elementwise `", stringify!($fn), "`.")]
                pub fn $fn(&mut self, x: NodeId) -> Result<NodeId> {
                    self.unary(UnaryOp::$op, x)
                }
            )*
        }
    };
}

builders! {
    neg => Neg; abs => Abs; exp => Exp; ln => Ln; sqrt => Sqrt; rsqrt => Rsqrt; square => Square;
    recip => Recip; relu => Relu; sigmoid => Sigmoid; tanh => Tanh; softplus => Softplus;
    sin => Sin; cos => Cos; sign => Sign; step => Step;
}

impl<T: Element> Graph<T> {
    /// Adds any unary op.
    pub fn unary(&mut self, op: UnaryOp, x: NodeId) -> Result<NodeId> {
        self.apply(op, &[x])
    }
    /// Elementwise `xᵖ` for a constant exponent `p`.
    pub fn powf(&mut self, x: NodeId, p: f64) -> Result<NodeId> {
        self.unary(UnaryOp::Powf(p), x)
    }
    /// Elementwise `s·x` for a constant `s`.
    pub fn scale(&mut self, x: NodeId, s: f64) -> Result<NodeId> {
        self.unary(UnaryOp::Scale(s), x)
    }
    /// Elementwise `x + s` for a constant `s`.
    pub fn add_scalar(&mut self, x: NodeId, s: f64) -> Result<NodeId> {
        self.unary(UnaryOp::AddScalar(s), x)
    }
    /// Elementwise `x` for `x ≥ 0`, `alpha·x` elsewhere.
    pub fn leaky_relu(&mut self, x: NodeId, alpha: f64) -> Result<NodeId> {
        self.unary(UnaryOp::LeakyRelu(alpha), x)
    }
    /// Elementwise `x` for `x ≥ 0`, `alpha·(eˣ − 1)` elsewhere.
    pub fn elu(&mut self, x: NodeId, alpha: f64) -> Result<NodeId> {
        self.unary(UnaryOp::Elu(alpha), x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_functions_match_tensor_kernels() {
        let x = Tensor::<f64>::from_vec(vec![-2.0, -0.5, 0.0, 0.7, 3.0], &[5]).unwrap();
        let pairs: [(UnaryOp, Tensor<f64>); 6] = [
            (UnaryOp::Exp, x.exp()),
            (UnaryOp::Relu, x.relu()),
            (UnaryOp::Sigmoid, x.sigmoid()),
            (UnaryOp::Softplus, x.softplus()),
            (UnaryOp::Elu(0.5), x.elu(0.5)),
            (UnaryOp::Step, x.relu_mask()),
        ];
        for (op, want) in pairs {
            assert!(
                x.map_unary(op).max_abs_diff(&want).unwrap() < 1e-15,
                "{op:?}"
            );
        }
    }
}
