//! What a node computes: a leaf the executor supplies, or an op applied to operands.
//!
//! Leaves (inputs, parameters, constants, fills) are values, not computations. Every other node
//! holds an [`OpRule`] — a built-in family from `ops/*.rs` or a user's op — which alone knows
//! its shape rule, evaluation, buffer use and gradient; nothing here matches on families.

use std::sync::Arc;

use convnet_tensor::{Element, Tensor};

use crate::rule::OpRule;

/// What a node computes.
#[derive(Debug, Clone)]
pub enum Op<T: Element> {
    /// A placeholder fed a tensor at run time (by its node name or id).
    Input,
    /// A placeholder fed [`crate::Indices`] (class labels) at run time.
    IndexInput,
    /// A parameter read from the store under this key.
    Param(String),
    /// A tensor held by the graph.
    Constant(Tensor<T>),
    /// Every element equal to this value (seeds and zero gradients; shape may mention `B`).
    Fill(f64),
    /// An op applied to the node's operands.
    Apply(Arc<dyn OpRule<T>>),
}

impl<T: Element> Op<T> {
    /// Short op name used in node names and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::IndexInput => "index_input",
            Op::Param(_) => "param",
            Op::Constant(_) => "constant",
            Op::Fill(_) => "fill",
            Op::Apply(rule) => rule.name(),
        }
    }

    /// The op with its attributes, for dumps.
    pub fn describe(&self) -> String {
        match self {
            Op::Param(k) => format!("param {k}"),
            Op::Fill(v) => format!("fill {v}"),
            Op::Apply(rule) => rule.describe(),
            other => other.name().to_string(),
        }
    }

    /// True for ops whose output is a value supplied by the executor, not computed.
    pub fn is_leaf(&self) -> bool {
        !matches!(self, Op::Apply(_))
    }

    /// True for placeholders fed at run time (tensor or index inputs).
    pub fn is_input(&self) -> bool {
        matches!(self, Op::Input | Op::IndexInput)
    }

    /// The rule of an applied op.
    pub fn rule(&self) -> Option<&dyn OpRule<T>> {
        match self {
            Op::Apply(rule) => Some(rule.as_ref()),
            _ => None,
        }
    }

    /// The applied op as its concrete type, e.g. `node.op.rule_as::<ConvOp>()` (for passes and
    /// tools that look for one op, such as the kernel summary).
    pub fn rule_as<R: OpRule<T>>(&self) -> Option<&R> {
        let rule: &dyn std::any::Any = self.rule()?;
        rule.downcast_ref::<R>()
    }
}
