//! Gather along an axis, its adjoint (scatter), and one-hot.
//!
//! Index data (class labels) travels through the graph as ordinary float tensors, usually an
//! input placeholder, and is converted to indices when a node runs; a label that is negative,
//! fractional or out of range is reported naming the node. Gradients flow to the gathered
//! values only, never to the indices: `take_along_axis` ↔ `put_along_axis` are each other's
//! adjoint, and `one_hot` has no gradient.

use convnet_tensor::{Element, Tensor};
use smallvec::smallvec;

use crate::error::Result;
use crate::graph::{Graph, NodeId};
use crate::op::{EvalError, EvalResult, Grads, Op, RuleError, RuleResult, arity};
use crate::shape::{Dim, Shape};

#[derive(Debug, Clone, PartialEq)]
pub enum IndexOp {
    /// `(x, idx) → x` with `axis` removed, picking `x[.., idx, ..]` at every other position.
    TakeAlongAxis { axis: usize },
    /// `(idx, v) →` zeros of `shape` with `v` placed at the indexed positions.
    PutAlongAxis { axis: usize, shape: Shape },
    /// `idx → idx.shape + [classes]` with a 1 at each index.
    OneHot { classes: usize },
}

/// Float index data to `usize`, rejecting anything that is not a non-negative integer.
fn indices<T: Element>(t: &Tensor<T>) -> Result<Vec<usize>, EvalError> {
    t.data()
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let f = v.as_f64();
            if f >= 0.0 && f.fract() == 0.0 && f < usize::MAX as f64 {
                Ok(f as usize)
            } else {
                Err(EvalError::Index(format!(
                    "index value {f} at position {i} is not a non-negative integer"
                )))
            }
        })
        .collect()
}

impl IndexOp {
    pub fn name(&self) -> &'static str {
        match self {
            IndexOp::TakeAlongAxis { .. } => "take_along_axis",
            IndexOp::PutAlongAxis { .. } => "put_along_axis",
            IndexOp::OneHot { .. } => "one_hot",
        }
    }

    pub(crate) fn shape(&self, inputs: &[&Shape]) -> RuleResult<Shape> {
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

    pub(crate) fn eval<T: Element>(&self, x: &[&Tensor<T>], out: &[usize]) -> EvalResult<T> {
        Ok(match self {
            IndexOp::TakeAlongAxis { axis } => x[0].take_along_axis(*axis, &indices(x[1])?)?,
            IndexOp::PutAlongAxis { axis, .. } => {
                Tensor::put_along_axis(out, *axis, &indices(x[0])?, x[1])?
            }
            IndexOp::OneHot { classes } => {
                Tensor::<T>::one_hot(&indices(x[0])?, *classes)?.reshape(out)?
            }
        })
    }

    pub(crate) fn grad<T: Element>(
        &self,
        g: &mut Graph<T>,
        xs: &[NodeId],
        gy: NodeId,
    ) -> Result<Grads> {
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
    /// the log-probability of each true class). `idx` holds integers stored as floats.
    pub fn take_along_axis(&mut self, x: NodeId, idx: NodeId, axis: usize) -> Result<NodeId> {
        self.push(Op::Index(IndexOp::TakeAlongAxis { axis }), &[x, idx])
    }

    /// Zeros of `shape` with `values` placed at `idx` along `axis` (adjoint of the above).
    pub fn put_along_axis(
        &mut self,
        idx: NodeId,
        values: NodeId,
        axis: usize,
        shape: impl Into<Shape>,
    ) -> Result<NodeId> {
        self.push(
            Op::Index(IndexOp::PutAlongAxis {
                axis,
                shape: shape.into(),
            }),
            &[idx, values],
        )
    }

    /// One-hot encoding of integer labels: `idx.shape + [classes]`. No gradient.
    pub fn one_hot(&mut self, idx: NodeId, classes: usize) -> Result<NodeId> {
        self.push(Op::Index(IndexOp::OneHot { classes }), &[idx])
    }
}
