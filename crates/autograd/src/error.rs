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
        /// The op's short name (e.g. `"add"`).
        op: &'static str,
        /// The layer-path name of the node being added (for a re-declared parameter, its key).
        node: String,
        /// What is wrong, with the shapes involved.
        detail: String,
    },
    /// Convolution or pooling geometry rejected by strict mode (or impossible in any mode).
    #[error("{op} at `{node}`: {detail}")]
    Geometry {
        /// The op's short name (e.g. `"conv2d"`).
        op: &'static str,
        /// The layer-path name of the node being added.
        node: String,
        /// What does not fit (in strict mode, with a padding that would).
        detail: String,
    },
    /// A hyper-parameter or argument is invalid (axis out of range, a repeated input name, ...).
    #[error("{op} at `{node}`: {detail}")]
    Invalid {
        /// The op or operation that rejected the argument.
        op: &'static str,
        /// The layer-path name of the node concerned (empty where no node is involved).
        node: String,
        /// Which argument is wrong and why.
        detail: String,
    },
    /// A [`NodeId`](crate::NodeId) that does not belong to this graph (its index is past the
    /// last node, e.g. an id taken from a larger graph).
    #[error("node #{id} does not exist in this graph ({len} nodes)")]
    UnknownNode {
        /// The index of the unknown id.
        id: usize,
        /// The number of nodes in the graph it was used with.
        len: usize,
    },
    /// `grad` was asked for something it cannot do (non-scalar output without a seed, ...).
    #[error("grad of `{node}`: {detail}")]
    Grad {
        /// The node concerned: the output being differentiated, the node whose gradient rule
        /// returned the wrong number or shapes of gradients, or a variable that cannot be
        /// perturbed by [`check_gradients`](crate::check_gradients).
        node: String,
        /// What could not be done.
        detail: String,
    },
    /// A placeholder the plan needs was not fed.
    #[error("input `{node}` was not fed")]
    MissingFeed {
        /// The placeholder's name.
        node: String,
    },
    /// A feed names something that is not an input placeholder of the graph.
    #[error("feed `{name}` does not name an input placeholder of the graph")]
    UnknownFeed {
        /// The name the feed was keyed by.
        name: String,
    },
    /// A feed has the wrong shape for its placeholder.
    #[error("input `{node}`: fed shape {got:?}, expected {expected}")]
    FeedShape {
        /// The placeholder's name.
        node: String,
        /// The placeholder's shape at the plan's batch size, as text.
        expected: String,
        /// The shape of the value fed.
        got: Vec<usize>,
    },
    /// A tensor fed to an index input, or indices to a tensor input.
    #[error("input `{node}`: fed {got}, expected {expected}")]
    FeedKind {
        /// The placeholder's name.
        node: String,
        /// What the placeholder takes: `"a tensor"` or `"indices"`.
        expected: &'static str,
        /// What it was fed: `"a tensor"` or `"indices"`.
        got: &'static str,
    },
    /// The plan's batch size could not be determined or disagrees with a feed.
    #[error("batch size: {detail}")]
    BatchSize {
        /// The node whose shape needs the batch size, and why none was known.
        detail: String,
    },
    /// Check mode found NaN or infinity in a node's value.
    #[error(
        "{op} at `{node}` produced {count} non-finite value(s) (first at flat index {first}) \
         from inputs {inputs}"
    )]
    NonFinite {
        /// The op of the node that produced the value.
        op: &'static str,
        /// The layer-path name of that node.
        node: String,
        /// How many of its elements are NaN or infinite.
        count: usize,
        /// The flat (row-major) index of the first of them.
        first: usize,
        /// Each input's node, shape and statistics, so the cause can be seen.
        inputs: String,
    },
    /// Index data (labels) fed to gather / one-hot is not a valid index.
    #[error("{op} at `{node}`: {detail}")]
    Index {
        /// The op of the node being evaluated.
        op: &'static str,
        /// The layer-path name of the node being evaluated.
        node: String,
        /// The offending value and its position, or what else is wrong with the operand.
        detail: String,
    },
    /// A reduction across data-parallel replicas failed while evaluating a node.
    #[error("{op} at `{node}`: {detail}")]
    Collective {
        /// The op of the node being evaluated.
        op: &'static str,
        /// The layer-path name of the node being evaluated.
        node: String,
        /// What the communicator reported.
        detail: String,
    },
    /// A tensor kernel failed while evaluating a node.
    #[error("{op} at `{node}`: {source}")]
    Tensor {
        /// The op of the node being evaluated.
        op: &'static str,
        /// The layer-path name of the node (empty for failures outside any node, such as
        /// building a perturbation in a gradient check).
        node: String,
        /// The kernel's error.
        source: TensorError,
    },
    /// A plan was run with a graph other than the one it was compiled from.
    #[error("plan was compiled for a graph of {expected} nodes, run with one of {got}")]
    PlanMismatch {
        /// The node count of the graph the plan was compiled from.
        expected: usize,
        /// The node count of the graph it was run with.
        got: usize,
    },
    /// A gradient check found an error above tolerance (returned by
    /// [`GradCheckReport::ensure`](crate::GradCheckReport::ensure)).
    #[error("gradient check failed: {detail}")]
    GradCheck {
        /// The worst comparison (where, both values, the error) and the number made.
        detail: String,
    },
    /// A parameter was added to a [`ParamStore`](crate::ParamStore) under a name it already
    /// holds.
    #[error("parameter `{name}` already exists")]
    DuplicateParameter {
        /// The parameter's name.
        name: String,
    },
    /// A parameter was read or set under a name the store does not hold (a graph's parameter
    /// node included, when a plan runs).
    #[error("parameter `{name}` does not exist")]
    UnknownParameter {
        /// The parameter's name.
        name: String,
    },
    /// A parameter's value has a different shape from the one stored (when set) or from the
    /// one its graph node declares (when a plan runs).
    #[error("parameter `{name}`: shape {got:?} does not match the stored {expected:?}")]
    ParameterShape {
        /// The parameter's name.
        name: String,
        /// The shape the store or the graph expects.
        expected: Vec<usize>,
        /// The shape of the value given.
        got: Vec<usize>,
    },
}

/// `Result` with [`AutogradError`] as the default error type.
pub type Result<T, E = AutogradError> = std::result::Result<T, E>;
