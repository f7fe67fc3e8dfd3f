//! Cross-replica means: the one op that makes data-parallel ranks' graphs talk to each other,
//! used by synchronised BatchNorm to compute batch statistics over the global batch.
//!
//! `replica_mean(x)` is, on every rank, the mean of `x` over the ranks. Its gradient is again
//! a replica mean of the incoming gradient. Why, for a loop that averages parameter gradients
//! over R ranks with equal shards: the global objective is L = (1/R) Σ_s L_s, and
//! y = (1/R) Σ_r x_r, so ∂L/∂x_r = (1/R) Σ_s ∂L_s/∂y · (1/R). Rank r back-propagates only its
//! own L_s (seed 1, not 1/R — the loop divides by R when it averages), so what it must pass
//! back is R times that: (1/R) Σ_s ∂L_s/∂y = replica_mean(gy). The op is therefore its own
//! adjoint, and gradients of gradients work as for any other op.
//!
//! The op holds the [`Replicas`] it reduces over; every rank runs the same graph, so the
//! reductions happen in the same order everywhere. It reduces in f64: the statistics are a
//! handful of values per channel.

use std::fmt;
use std::sync::Arc;

use convnet_tensor::{Element, Tensor};
use smallvec::smallvec;

use crate::error::Result;
use crate::graph::{Graph, GraphOptions, NodeId};
use crate::rule::{EvalArgs, EvalError, GradCtx, Grads, OpRule, RuleError, arity};
use crate::shape::Shape;

/// A group of data-parallel replicas that can average values (implemented over a
/// communicator by `convnet-train`; one replica alone leaves values as they are).
pub trait Replicas: Send + Sync + fmt::Debug {
    /// Number of replicas.
    fn count(&self) -> usize;
    /// Replaces `values` by their mean over the replicas (every replica passes the same
    /// length); the error says why the reduction failed.
    fn mean(&self, values: &mut [f64]) -> std::result::Result<(), String>;
}

/// The mean of its operand over a group of replicas (see the module documentation).
#[derive(Debug, Clone)]
pub struct ReplicaMeanOp {
    replicas: Arc<dyn Replicas>,
}

impl ReplicaMeanOp {
    /// The op over `replicas`.
    pub fn new(replicas: Arc<dyn Replicas>) -> Self {
        ReplicaMeanOp { replicas }
    }
}

impl<T: Element> OpRule<T> for ReplicaMeanOp {
    fn name(&self) -> &'static str {
        "replica_mean"
    }

    fn describe(&self) -> String {
        format!("replica_mean over {}", self.replicas.count())
    }

    fn shape(&self, x: &[&Shape], _: &GraphOptions) -> Result<Shape, RuleError> {
        arity(x, 1)?;
        Ok(x[0].clone())
    }

    fn eval(&self, args: &EvalArgs<'_, T>) -> Result<Tensor<T>, EvalError> {
        let x = args.tensor(0)?;
        let mut v: Vec<f64> = x.to_vec().into_iter().map(T::as_f64).collect();
        self.replicas.mean(&mut v).map_err(EvalError::Collective)?;
        Ok(Tensor::from_vec(
            v.into_iter().map(T::of_f64).collect(),
            x.shape(),
        )?)
    }

    fn grad(&self, cx: &mut GradCtx<'_, T>) -> Result<Grads> {
        let gy = cx.grad_output();
        let g = cx.graph();
        Ok(smallvec![Some(g.apply(self.clone(), &[gy])?)])
    }
}

impl<T: Element> Graph<T> {
    /// The mean of `x` over `replicas` (see [`ReplicaMeanOp`]).
    pub fn replica_mean(&mut self, x: NodeId, replicas: Arc<dyn Replicas>) -> Result<NodeId> {
        self.apply(ReplicaMeanOp::new(replicas), &[x])
    }
}
