//! # convnet-autograd
//!
//! A symbolic reverse-mode autodiff graph and a planned executor.
//!
//! - [`Graph`]: nodes (inputs, parameters, constants, ops) appended in topological order, each
//!   with an inferred [`Shape`] and a layer-path name. Shape errors are reported when a node is
//!   added, naming the op, the layer and both shapes. The batch dimension of inputs may be left
//!   open ([`Dim::Batch`]); a [`Plan`] fixes it.
//! - [`grad`]: appends gradient nodes, so gradients of gradients work and a training step
//!   (forward, loss, every gradient) is one graph.
//! - [`Plan`]: the needed nodes in order, with liveness-based buffer release, in-place
//!   elementwise writes, and its peak memory known before it runs; [`Plan::run`] checks feeds
//!   and names the node in every error.
//! - [`check_gradients`]: central finite differences in f64, first and second order, for our
//!   ops and for users' models.
//!
//! ```
//! use convnet_autograd::{Feeds, Graph, ParamStore, Shape, grad};
//! use convnet_tensor::Tensor;
//!
//! let mut g = Graph::<f64>::new();
//! let x = g.input("x", Shape::with_batch(&[3])).unwrap();
//! let w = g.param("w", &[3]).unwrap();
//! let y = g.mul(x, w).unwrap();
//! let loss = g.sum_all(y).unwrap();
//! let dw = grad(&mut g, loss, &[w]).unwrap()[0];
//!
//! let mut params = ParamStore::new();
//! params.insert("w", Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap()).unwrap();
//! let feeds = Feeds::new().with("x", Tensor::<f64>::ones(&[2, 3]));
//! let out = g.run(&[loss, dw], &feeds, &params).unwrap();
//! assert_eq!(out[0].item().unwrap(), 12.0);
//! assert_eq!(out[1].to_vec(), vec![2.0, 2.0, 2.0]);
//! ```

#![warn(missing_docs)]

pub mod check;
pub mod error;
mod exec;
pub mod feeds;
pub(crate) mod fuse;
mod grad;
mod graph;
pub mod op;
pub mod ops;
pub mod params;
mod plan;
mod plan_cache;
pub mod rule;
pub mod shape;

pub use check::{GradCheckConfig, GradCheckReport, check_gradients};
pub use error::{AutogradError, Result};
pub use exec::{FUSED_OP, NodeTiming, RunOptions, RunOutput};
pub use feeds::{FeedKey, Feeds, Indices, Value};
pub use grad::{grad, grad_with_seed};
pub use graph::{Graph, GraphOptions, Inputs, Node, NodeId};
pub use op::Op;
pub use ops::binary::BinaryOp;
pub use ops::compare::{CmpOp, SelectOp};
pub use ops::conv::{Conv2dParams, ConvOp};
pub use ops::index::IndexOp;
pub use ops::matmul::MatMulOp;
pub use ops::movement::MoveOp;
pub use ops::pool::{Pool2dParams, PoolOp};
pub use ops::reduce::ReduceOp;
pub use ops::replica::{ReplicaMeanOp, Replicas};
pub use ops::softmax::SoftmaxOp;
pub use ops::unary::UnaryOp;
pub use params::{ParamStore, path_under};
pub use plan::Plan;
pub use plan_cache::PlanCache;
pub use rule::{EvalArgs, EvalError, GradCtx, Grads, OpRule, OutputBuffer, RuleError};
pub use shape::{Dim, Shape};
