//! The op enum and its dispatch to the family files.
//!
//! Each family (`ops/*.rs`) owns its shape rule, evaluation and gradient rule; this file only
//! routes to them, so adding an op touches its family file and one arm here. Leaves (inputs,
//! parameters, constants, fills) are values the executor supplies rather than computes.

use convnet_tensor::{Element, Tensor, TensorError};
use smallvec::SmallVec;

use crate::error::{AutogradError, Result};
use crate::graph::{Graph, GraphOptions, NodeId};
use crate::ops::compare::CmpOp;
use crate::ops::conv::ConvOp;
use crate::ops::index::IndexOp;
use crate::ops::movement::MoveOp;
use crate::ops::pool::PoolOp;
use crate::ops::reduce::ReduceOp;
use crate::ops::softmax::SoftmaxOp;
use crate::ops::{binary::BinaryOp, unary::UnaryOp};
use crate::shape::Shape;

/// What a node computes.
#[derive(Debug, Clone)]
pub enum Op<T: Element> {
    /// A placeholder fed at run time (by its node name).
    Input,
    /// A parameter read from the store under this key.
    Param(String),
    /// A tensor held by the graph.
    Constant(Tensor<T>),
    /// Every element equal to this value (seeds and zero gradients; shape may mention `B`).
    Fill(f64),
    Unary(UnaryOp),
    Binary(BinaryOp),
    /// Comparisons give 0/1 masks and have no gradient.
    Compare(CmpOp),
    /// `select(cond, a, b)`: `a` where `cond ≠ 0`, else `b`. No gradient w.r.t. `cond`.
    Select,
    Reduce(ReduceOp),
    Movement(MoveOp),
    MatMul,
    Conv(ConvOp),
    Pool(PoolOp),
    Softmax(SoftmaxOp),
    Index(IndexOp),
}

/// A shape-rule failure before it knows its op and node name.
#[derive(Debug, Clone)]
pub enum RuleError {
    Shape(String),
    Invalid(String),
    Geometry(String),
}

impl RuleError {
    pub(crate) fn at(self, op: &'static str, node: &str) -> AutogradError {
        let node = node.to_string();
        match self {
            RuleError::Shape(detail) => AutogradError::Shape { op, node, detail },
            RuleError::Invalid(detail) => AutogradError::Invalid { op, node, detail },
            RuleError::Geometry(detail) => AutogradError::Geometry { op, node, detail },
        }
    }
}

pub(crate) type RuleResult<T> = std::result::Result<T, RuleError>;

/// An evaluation failure before it knows its node.
#[derive(Debug, Clone)]
pub enum EvalError {
    Tensor(TensorError),
    Index(String),
}

impl From<TensorError> for EvalError {
    fn from(e: TensorError) -> Self {
        EvalError::Tensor(e)
    }
}

impl EvalError {
    pub(crate) fn at(self, op: &'static str, node: &str) -> AutogradError {
        let node = node.to_string();
        match self {
            EvalError::Tensor(source) => AutogradError::Tensor { op, node, source },
            EvalError::Index(detail) => AutogradError::Index { op, node, detail },
        }
    }
}

pub(crate) type EvalResult<T> = std::result::Result<Tensor<T>, EvalError>;

/// Per-operand gradients of one node (`None`: no gradient flows to that operand).
pub type Grads = SmallVec<[Option<NodeId>; 4]>;

/// Requires exactly `n` operands.
pub(crate) fn arity(shapes: &[&Shape], n: usize) -> RuleResult<()> {
    if shapes.len() == n {
        Ok(())
    } else {
        Err(RuleError::Invalid(format!(
            "takes {n} operand(s), got {}",
            shapes.len()
        )))
    }
}

impl<T: Element> Op<T> {
    /// Short op name used in node names and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::Param(_) => "param",
            Op::Constant(_) => "constant",
            Op::Fill(_) => "fill",
            Op::Unary(u) => u.name(),
            Op::Binary(b) => b.name(),
            Op::Compare(c) => c.name(),
            Op::Select => "select",
            Op::Reduce(r) => r.name(),
            Op::Movement(m) => m.name(),
            Op::MatMul => "matmul",
            Op::Conv(c) => c.name(),
            Op::Pool(p) => p.name(),
            Op::Softmax(s) => s.name(),
            Op::Index(i) => i.name(),
        }
    }

    /// The op with its attributes, for dumps.
    pub fn describe(&self) -> String {
        match self {
            Op::Param(k) => format!("param {k}"),
            Op::Fill(v) => format!("fill {v}"),
            Op::Unary(u) => format!("{u:?}").to_lowercase(),
            Op::Reduce(r) => format!("{r:?}"),
            Op::Movement(m) => format!("{m:?}"),
            Op::Conv(c) => format!("{c:?}"),
            Op::Pool(p) => format!("{p:?}"),
            Op::Softmax(s) => format!("{s:?}"),
            Op::Index(i) => format!("{i:?}"),
            other => other.name().to_string(),
        }
    }

    /// True for ops whose output is a value supplied by the executor, not computed.
    pub fn is_leaf(&self) -> bool {
        matches!(
            self,
            Op::Input | Op::Param(_) | Op::Constant(_) | Op::Fill(_)
        )
    }

    /// The shape rule.
    pub(crate) fn infer_shape(
        &self,
        inputs: &[&Shape],
        options: &GraphOptions,
    ) -> RuleResult<Shape> {
        match self {
            Op::Input | Op::Param(_) | Op::Constant(_) | Op::Fill(_) => Err(RuleError::Invalid(
                "leaves are added with input/param/constant/fill".into(),
            )),
            Op::Unary(_) => {
                arity(inputs, 1)?;
                Ok(inputs[0].clone())
            }
            Op::Binary(_) | Op::Compare(_) => crate::ops::binary::same_shapes(inputs, 2),
            Op::Select => crate::ops::binary::same_shapes(inputs, 3),
            Op::Reduce(r) => r.shape(inputs),
            Op::Movement(m) => m.shape(inputs),
            Op::MatMul => crate::ops::matmul::shape(inputs),
            Op::Conv(c) => c.shape(inputs, options),
            Op::Pool(p) => p.shape(inputs, options),
            Op::Softmax(s) => s.shape(inputs),
            Op::Index(i) => i.shape(inputs),
        }
    }

    /// Evaluates a non-leaf op; `out` is the node's concrete output shape.
    pub(crate) fn eval(&self, x: &[&Tensor<T>], out: &[usize]) -> EvalResult<T> {
        match self {
            Op::Input | Op::Param(_) | Op::Constant(_) | Op::Fill(_) => Err(EvalError::Index(
                "leaves are supplied by the executor".into(),
            )),
            Op::Unary(u) => Ok(x[0].map_unary(*u)),
            Op::Binary(b) => Ok(x[0].zip_binary(*b, x[1])?),
            Op::Compare(c) => Ok(x[0].compare(*c, x[1])?),
            Op::Select => Ok(Tensor::select(x[0], x[1], x[2])?),
            Op::Reduce(r) => r.eval(x[0], out),
            Op::Movement(m) => m.eval(x, out),
            Op::MatMul => Ok(x[0].matmul(x[1])?),
            Op::Conv(c) => c.eval(x[0], x[1]),
            Op::Pool(p) => p.eval(x, out),
            Op::Softmax(s) => s.eval(x[0]),
            Op::Index(i) => i.eval(x, out),
        }
    }
}

/// Appends the nodes of one node's vector-Jacobian product: given `gy` (the gradient of the
/// output), returns the gradient for each operand.
pub(crate) fn vjp<T: Element>(g: &mut Graph<T>, node: NodeId, gy: NodeId) -> Result<Grads> {
    let op = g.node_unchecked(node).op.clone();
    let xs = g.inputs_unchecked(node);
    let none = || Grads::from_elem(None, xs.len());
    Ok(match op {
        Op::Input | Op::Param(_) | Op::Constant(_) | Op::Fill(_) | Op::Compare(_) => none(),
        Op::Unary(u) => smallvec::smallvec![crate::ops::unary::grad(u, g, xs[0], node, gy)?],
        Op::Binary(b) => crate::ops::binary::grad(b, g, xs[0], xs[1], node, gy)?,
        Op::Select => crate::ops::compare::select_grad(g, &xs, gy)?,
        Op::Reduce(r) => smallvec::smallvec![r.grad(g, xs[0], node, gy)?],
        Op::Movement(m) => m.grad(g, &xs, gy)?,
        Op::MatMul => crate::ops::matmul::grad(g, xs[0], xs[1], gy)?,
        Op::Conv(c) => c.grad(g, xs[0], xs[1], gy)?,
        Op::Pool(p) => p.grad(g, &xs, gy)?,
        Op::Softmax(s) => smallvec::smallvec![Some(s.grad(g, node, gy)?)],
        Op::Index(i) => i.grad(g, &xs, gy)?,
    })
}
