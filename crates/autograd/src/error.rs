//! The autograd crate's one error type.
//!
//! Every variant that can arise from a particular node names it (its layer path), so a shape
//! mistake made while building a model, or a bad feed at run time, points at the layer that
//! caused it rather than at a kernel deep inside the executor.

use convnet_tensor::TensorError;
use thiserror::Error;

/// Errors from building, differentiating and running a graph.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AutogradError {
    /// Operand shapes do not fit the op, e.g.
    /// `add at `fc1/add`: shapes [B, 120] and [84] differ`.
    #[error("{op} at `{node}`: {detail}")]
    Shape {
        op: &'static str,
        node: String,
        detail: String,
    },
    /// Convolution or pooling geometry rejected by strict mode (or impossible in any mode).
    #[error("{op} at `{node}`: {detail}")]
    Geometry {
        op: &'static str,
        node: String,
        detail: String,
    },
    /// A hyper-parameter or argument is invalid (axis out of range, zero stride, ...).
    #[error("{op} at `{node}`: {detail}")]
    Invalid {
        op: &'static str,
        node: String,
        detail: String,
    },
    /// A `NodeId` that does not belong to this graph.
    #[error("node #{id} does not exist in this graph ({len} nodes)")]
    UnknownNode { id: usize, len: usize },
    /// `grad` was asked for something it cannot do (non-scalar output without a seed, ...).
    #[error("grad of `{node}`: {detail}")]
    Grad { node: String, detail: String },
    /// A placeholder the plan needs was not fed.
    #[error("input `{node}` was not fed")]
    MissingFeed { node: String },
    /// A feed names something that is not an input placeholder of the graph.
    #[error("feed `{name}` does not name an input placeholder of the graph")]
    UnknownFeed { name: String },
    /// A feed has the wrong shape for its placeholder.
    #[error("input `{node}`: fed shape {got:?}, expected {expected}")]
    FeedShape {
        node: String,
        expected: String,
        got: Vec<usize>,
    },
    /// A tensor fed to an index input, or indices to a tensor input.
    #[error("input `{node}`: fed {got}, expected {expected}")]
    FeedKind {
        node: String,
        expected: &'static str,
        got: &'static str,
    },
    /// The plan's batch size could not be determined or disagrees with a feed.
    #[error("batch size: {detail}")]
    BatchSize { detail: String },
    /// Check mode found NaN or infinity in a node's value.
    #[error(
        "{op} at `{node}` produced {count} non-finite value(s) (first at flat index {first}) \
         from inputs {inputs}"
    )]
    NonFinite {
        op: &'static str,
        node: String,
        count: usize,
        first: usize,
        /// Each input's node, shape and statistics, so the cause can be seen.
        inputs: String,
    },
    /// Index data (labels) fed to gather / one-hot is not a valid index.
    #[error("{op} at `{node}`: {detail}")]
    Index {
        op: &'static str,
        node: String,
        detail: String,
    },
    /// A tensor kernel failed while evaluating a node.
    #[error("{op} at `{node}`: {source}")]
    Tensor {
        op: &'static str,
        node: String,
        source: TensorError,
    },
    /// A plan was run with a graph other than the one it was compiled from.
    #[error("plan was compiled for a graph of {expected} nodes, run with one of {got}")]
    PlanMismatch { expected: usize, got: usize },
    /// A gradient check found an error above tolerance (returned by `GradCheckReport::ensure`).
    #[error("gradient check failed: {detail}")]
    GradCheck { detail: String },
    #[error("parameter `{name}` already exists")]
    DuplicateParameter { name: String },
    #[error("parameter `{name}` does not exist")]
    UnknownParameter { name: String },
    #[error("parameter `{name}`: shape {got:?} does not match the stored {expected:?}")]
    ParameterShape {
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
}

pub type Result<T, E = AutogradError> = std::result::Result<T, E>;
