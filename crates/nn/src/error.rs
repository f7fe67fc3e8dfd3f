//! The nn crate's one error type.
//!
//! Mistakes in a model definition are reported while the model is built (never mid-training),
//! and every variant that comes from a layer names its path (`features.0`), its type, what it
//! expected and what it got, so the message points at the line of the model definition to fix.

use convnet_autograd::AutogradError;
use convnet_tensor::TensorError;
use thiserror::Error;

/// Errors from defining, building and running models.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum NnError {
    /// A layer was given an input of the wrong rank, channel count or feature count, e.g.
    /// ``layer `features.3` (Conv2d): expected input [N, 6, H, W], got [B, 16, 14, 14]``.
    #[error("layer `{layer}` ({kind}): expected input {expected}, got {got}")]
    Input {
        /// The layer's path, e.g. `features.3`.
        layer: String,
        /// The layer's type, e.g. `Conv2d`.
        kind: &'static str,
        /// The input it takes, e.g. `[N, 6, H, W]`.
        expected: String,
        /// What it was given: the input's shape (for a concat, each branch's output shape).
        got: String,
    },
    /// A hyper-parameter is invalid (zero stride, dropout p outside [0, 1), ...).
    #[error("layer `{layer}` ({kind}): {detail}")]
    Config {
        /// The layer's path.
        layer: String,
        /// The layer's type.
        kind: &'static str,
        /// What is wrong, e.g. `stride must be positive, got [0, 1]`.
        detail: String,
    },
    /// Two layers declare the same parameter name (names are checkpoint keys, so must be
    /// unique).
    #[error("parameter `{name}` is declared twice (by `{first}` and by `{second}`)")]
    DuplicateParameter {
        /// The parameter's key, e.g. `features.0.weight`.
        name: String,
        /// The path of the layer that declared it first.
        first: String,
        /// The path of the layer that declared it again.
        second: String,
    },
    /// A loss was given outputs or targets it cannot use, or an invalid setting.
    #[error("{loss}: {detail}")]
    Loss {
        /// The loss's name, e.g. `cross_entropy` (see [`crate::Loss::name`]).
        loss: &'static str,
        /// What is wrong with the outputs, targets or setting.
        detail: String,
    },
    /// A run was asked for something the model does not have (unknown layer name, ...).
    #[error("{0}")]
    Usage(String),
    /// An error from the autograd graph (its message names the op, node and shapes).
    #[error(transparent)]
    Autograd(#[from] AutogradError),
    /// An error from a tensor operation.
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

/// `std::result::Result` with [`NnError`] as the default error type.
pub type Result<T, E = NnError> = std::result::Result<T, E>;

impl NnError {
    /// A hyper-parameter error for a layer.
    pub fn config(layer: &str, kind: &'static str, detail: impl Into<String>) -> Self {
        NnError::Config {
            layer: layer.to_string(),
            kind,
            detail: detail.into(),
        }
    }

    /// A wrong-input error for a layer.
    pub fn input(
        layer: &str,
        kind: &'static str,
        expected: impl Into<String>,
        got: impl std::fmt::Display,
    ) -> Self {
        NnError::Input {
            layer: layer.to_string(),
            kind,
            expected: expected.into(),
            got: got.to_string(),
        }
    }
}
