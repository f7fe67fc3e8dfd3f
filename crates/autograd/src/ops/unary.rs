//! Elementwise unary ops: the scalar function, its builder, and its derivative as graph nodes.
//!
//! Derivatives reuse the output where they can (`exp: g·y`, `sigmoid: g·y·(1 − y)`,
//! `tanh: g·(1 − y²)`), so the backward pass reads a value the forward pass already made.
//! `sign` and `step` (the 0/1 mask `x > 0`) are piecewise constant: no gradient flows through
//! them, which is also what makes ReLU's second derivative zero almost everywhere.

use convnet_tensor::ops::elementwise::sigmoid;
use convnet_tensor::{Element, Tensor};

use crate::error::Result;
use crate::graph::{Graph, NodeId};
use crate::op::Op;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UnaryOp {
    Neg,
    Abs,
    Exp,
    Ln,
    Sqrt,
    Rsqrt,
    Square,
    Recip,
    Relu,
    Sigmoid,
    Tanh,
    Softplus,
    Sin,
    Cos,
    /// `xᵖ`
    Powf(f64),
    /// `s·x`
    Scale(f64),
    /// `x + s`
    AddScalar(f64),
    /// `x` for x > 0, `αx` elsewhere.
    LeakyRelu(f64),
    /// `x` for x > 0, `α(eˣ − 1)` elsewhere.
    Elu(f64),
    /// −1, 0 or 1. No gradient.
    Sign,
    /// 1 where x > 0, else 0 (ReLU's derivative). No gradient.
    Step,
}

impl UnaryOp {
    pub fn name(self) -> &'static str {
        use UnaryOp::*;
        match self {
            Neg => "neg",
            Abs => "abs",
            Exp => "exp",
            Ln => "ln",
            Sqrt => "sqrt",
            Rsqrt => "rsqrt",
            Square => "square",
            Recip => "recip",
            Relu => "relu",
            Sigmoid => "sigmoid",
            Tanh => "tanh",
            Softplus => "softplus",
            Sin => "sin",
            Cos => "cos",
            Powf(_) => "powf",
            Scale(_) => "scale",
            AddScalar(_) => "add_scalar",
            LeakyRelu(_) => "leaky_relu",
            Elu(_) => "elu",
            Sign => "sign",
            Step => "step",
        }
    }

    /// The scalar function (shared by the allocating and the in-place evaluation).
    #[inline]
    pub fn apply<T: Element>(self, x: T) -> T {
        use UnaryOp::*;
        let z = T::zero();
        match self {
            Neg => -x,
            Abs => x.abs(),
            Exp => x.exp(),
            Ln => x.ln(),
            Sqrt => x.sqrt(),
            Rsqrt => x.sqrt().recip(),
            Square => x * x,
            Recip => x.recip(),
            Relu => {
                if x < z {
                    z
                } else {
                    x
                }
            }
            Sigmoid => sigmoid(x),
            Tanh => x.tanh(),
            Softplus => x.max(z) + (-x.abs()).exp().ln_1p(),
            Sin => x.sin(),
            Cos => x.cos(),
            Powf(p) => x.powf(T::of_f64(p)),
            Scale(s) => x * T::of_f64(s),
            AddScalar(s) => x + T::of_f64(s),
            LeakyRelu(a) => {
                if x < z {
                    T::of_f64(a) * x
                } else {
                    x
                }
            }
            Elu(a) => {
                if x < z {
                    T::of_f64(a) * x.exp_m1()
                } else {
                    x
                }
            }
            Sign => {
                if x > z {
                    T::one()
                } else if x < z {
                    -T::one()
                } else {
                    x
                }
            }
            Step => {
                if x > z {
                    T::one()
                } else {
                    z
                }
            }
        }
    }

    pub(crate) fn eval<T: Element>(self, x: &Tensor<T>) -> Tensor<T> {
        self.dispatch(super::dispatch::Map(x))
    }

    /// The gradient w.r.t. `x` of the node `y = self(x)`, given `gy`.
    pub(crate) fn grad<T: Element>(
        self,
        g: &mut Graph<T>,
        x: NodeId,
        y: NodeId,
        gy: NodeId,
    ) -> Result<Option<NodeId>> {
        use UnaryOp::*;
        let d = match self {
            Neg => return Ok(Some(g.neg(gy)?)),
            Scale(s) => return Ok(Some(g.scale(gy, s)?)),
            AddScalar(_) => return Ok(Some(gy)),
            Sign | Step => return Ok(None),
            Abs => g.sign(x)?,
            Exp => y,
            Ln => g.recip(x)?,
            Sqrt => {
                let r = g.recip(y)?;
                g.scale(r, 0.5)?
            }
            Rsqrt => {
                // d/dx x^(-1/2) = −½·y³
                let y2 = g.square(y)?;
                let y3 = g.mul(y2, y)?;
                g.scale(y3, -0.5)?
            }
            Square => g.scale(x, 2.0)?,
            Recip => {
                let y2 = g.square(y)?;
                g.neg(y2)?
            }
            Relu => g.step(x)?,
            Sigmoid => {
                let n = g.neg(y)?;
                let one_minus = g.add_scalar(n, 1.0)?;
                g.mul(y, one_minus)?
            }
            Tanh => {
                let y2 = g.square(y)?;
                let n = g.neg(y2)?;
                g.add_scalar(n, 1.0)?
            }
            Softplus => g.sigmoid(x)?,
            Sin => g.cos(x)?,
            Cos => {
                let s = g.sin(x)?;
                g.neg(s)?
            }
            Powf(p) => {
                let xp = g.powf(x, p - 1.0)?;
                g.scale(xp, p)?
            }
            LeakyRelu(a) => {
                // slope = a + (1 − a)·step(x)
                let s = g.step(x)?;
                let s = g.scale(s, 1.0 - a)?;
                g.add_scalar(s, a)?
            }
            Elu(a) => {
                // slope = step + (1 − step)·(y + a)
                let s = g.step(x)?;
                let ns = g.neg(s)?;
                let ns = g.add_scalar(ns, 1.0)?;
                let ya = g.add_scalar(y, a)?;
                let neg_part = g.mul(ns, ya)?;
                g.add(s, neg_part)?
            }
        };
        Ok(Some(g.mul(gy, d)?))
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
        self.push(Op::Unary(op), &[x])
    }
    pub fn powf(&mut self, x: NodeId, p: f64) -> Result<NodeId> {
        self.unary(UnaryOp::Powf(p), x)
    }
    pub fn scale(&mut self, x: NodeId, s: f64) -> Result<NodeId> {
        self.unary(UnaryOp::Scale(s), x)
    }
    pub fn add_scalar(&mut self, x: NodeId, s: f64) -> Result<NodeId> {
        self.unary(UnaryOp::AddScalar(s), x)
    }
    pub fn leaky_relu(&mut self, x: NodeId, alpha: f64) -> Result<NodeId> {
        self.unary(UnaryOp::LeakyRelu(alpha), x)
    }
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
            assert!(op.eval(&x).max_abs_diff(&want).unwrap() < 1e-15, "{op:?}");
        }
    }
}
