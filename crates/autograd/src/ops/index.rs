//! Gather along an axis, its adjoint (scatter), and one-hot.
//!
//! Index data (class labels) is best fed to an index input ([`Graph::index_input`]), whose
//! [`crate::Indices`] reach the kernels as they are. A float tensor of whole numbers works too
//! (computed indices), converted when the node runs; a label that is negative, fractional or
//! out of range is reported naming the node. Gradients flow to the gathered
//! values only, never to the indices: `take_along_axis` ↔ `put_along_axis` are each other's
//! adjoint, and `one_hot` has no gradient.

use convnet_tensor::{Element, Tensor};
use smallvec::smallvec;

use crate::error::Result;
use crate::graph::{Graph, GraphOptions, NodeId};
use crate::rule::{EvalArgs, EvalError, GradCtx, Grads, OpRule, RuleError, arity};
use crate::shape::{Dim, Shape};

/// Gather, scatter and one-hot; the index operand is listed by [`OpRule::index_operands`].
#[derive(Debug, Clone, PartialEq)]
pub enum IndexOp {
    /// `(x, idx) → x` with `axis` removed, picking `x[.., idx, ..]` at every other position.
    TakeAlongAxis {
        /// The axis indexed.
        axis: usize,
    },
    /// `(idx, v) →` zeros of `shape` with `v` placed at the indexed positions.
    PutAlongAxis {
        /// The axis of `shape` indexed.
        axis: usize,
        /// The output shape; `idx` and `v` have it with `axis` removed.
        shape: Shape,
    },
    /// `idx → idx.shape + [classes]` with a 1 at each index.
    OneHot {
        /// The length of the new last axis (indices must be below it).
        classes: usize,
    },
}

impl IndexOp {
    /// Short name used in node names and errors (`"take_along_axis"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            IndexOp::TakeAlongAxis { .. } => "take_along_axis",
            IndexOp::PutAlongAxis { .. } => "put_along_axis",
            IndexOp::OneHot { .. } => "one_hot",
        }
    }
}

impl<T: Element> OpRule<T> for IndexOp {
    fn name(&self) -> &'static str {
        IndexOp::name(self)
    }

    fn describe(&self) -> String {
        format!("{self:?}")
    }

    fn index_operands(&self) -> &[usize] {
        match self {
            IndexOp::TakeAlongAxis { .. } => &[1],
            IndexOp::PutAlongAxis { .. } | IndexOp::OneHot { .. } => &[0],
        }
    }

    fn shape(&self, inputs: &[&Shape], _: &GraphOptions) -> Result<Shape, RuleError> {
        match self {
            IndexOp::TakeAlongAxis { axis } => {
                arity(inputs, 2)?;
                let (x, idx) = (inputs[0], inputs[1]);
                if *axis >= x.rank() {
                    return Err(RuleError::Invalid(format!(
                        "axis {axis} is out of range for {x}"
                    )));
                }
                let want = x.without(*axis);
                if idx != &want {
                    return Err(RuleError::Shape(format!(
                        "indices {idx} for {x} along axis {axis}: expected {want}"
                    )));
                }
                Ok(want)
            }
            IndexOp::PutAlongAxis { axis, shape } => {
                arity(inputs, 2)?;
                if *axis >= shape.rank() {
                    return Err(RuleError::Invalid(format!(
                        "axis {axis} is out of range for {shape}"
                    )));
                }
                let want = shape.without(*axis);
                if inputs[0] != &want || inputs[1] != &want {
                    return Err(RuleError::Shape(format!(
                        "indices {} and values {} for {shape} along axis {axis}: expected {want}",
                        inputs[0], inputs[1]
                    )));
                }
                Ok(shape.clone())
            }
            IndexOp::OneHot { classes } => {
                arity(inputs, 1)?;
                let mut s = inputs[0].clone();
                s.0.push(Dim::Fixed(*classes));
                Ok(s)
            }
        }
    }

    fn eval(&self, args: &EvalArgs<'_, T>) -> Result<Tensor<T>, EvalError> {
        let out = args.out_shape();
        Ok(match self {
            IndexOp::TakeAlongAxis { axis } => {
                args.tensor(0)?.take_along_axis(*axis, &args.indices(1)?)?
            }
            IndexOp::PutAlongAxis { axis, .. } => {
                Tensor::put_along_axis(out, *axis, &args.indices(0)?, args.tensor(1)?)?
            }
            IndexOp::OneHot { classes } => {
                Tensor::<T>::one_hot(&args.indices(0)?, *classes)?.reshape(out)?
            }
        })
    }

    fn grad(&self, cx: &mut GradCtx<'_, T>) -> Result<Grads> {
        let (xs, gy) = (cx.inputs().to_vec(), cx.grad_output());
        let g = cx.graph();
        Ok(match self {
            IndexOp::TakeAlongAxis { axis } => {
                let shape = g.shape(xs[0])?.clone();
                smallvec![Some(g.put_along_axis(xs[1], gy, *axis, shape)?), None]
            }
            IndexOp::PutAlongAxis { axis, .. } => {
                smallvec![None, Some(g.take_along_axis(gy, xs[0], *axis)?)]
            }
            IndexOp::OneHot { .. } => smallvec![None],
        })
    }
}

impl<T: Element> Graph<T> {
    /// Picks `x[.., idx[..], ..]` along `axis` (for `[N, C]` log-probabilities and `[N]` labels,
    /// the log-probability of each true class). `idx` is an index input or whole-number floats.
    pub fn take_along_axis(&mut self, x: NodeId, idx: NodeId, axis: usize) -> Result<NodeId> {
        self.apply(IndexOp::TakeAlongAxis { axis }, &[x, idx])
    }

    /// Zeros of `shape` with `values` placed at `idx` along `axis` (adjoint of the above).
    pub fn put_along_axis(
        &mut self,
        idx: NodeId,
        values: NodeId,
        axis: usize,
        shape: impl Into<Shape>,
    ) -> Result<NodeId> {
        self.apply(
            IndexOp::PutAlongAxis {
                axis,
                shape: shape.into(),
            },
            &[idx, values],
        )
    }

    /// One-hot encoding of integer labels: `idx.shape + [classes]`. No gradient.
    pub fn one_hot(&mut self, idx: NodeId, classes: usize) -> Result<NodeId> {
        self.apply(IndexOp::OneHot { classes }, &[idx])
    }
}
