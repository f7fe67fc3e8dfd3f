//! The zoo's one error type.
//!
//! Every variant names the model (or the weights file) so that a message printed by the CLI
//! says what to change: an unknown name lists the valid ones, an input that is too small says
//! the smallest that works, a weights file lists every missing, unexpected and mismatched key.

use std::path::PathBuf;

use convnet_nn::NnError;
use thiserror::Error;

/// Errors from building zoo models and loading their weights.
#[derive(Debug, Error)]
pub enum ZooError {
    /// The name is not in the registry.
    #[error("unknown model `{name}`; valid names: {valid}")]
    UnknownModel { name: String, valid: String },
    /// The input is too small for the model's downsampling.
    #[error("{model}: input {got} is too small; the smallest that works is {smallest}")]
    InputTooSmall {
        model: String,
        got: String,
        smallest: String,
    },
    /// An option the model cannot honour (zero classes, a BatchNorm variant it lacks, …).
    #[error("{model}: {detail}")]
    Config { model: String, detail: String },
    /// A weights file that does not fit the model.
    #[error("weights {source_name}: {detail}")]
    Weights { source_name: String, detail: String },
    /// A weights file that could not be read.
    #[error("weights {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An error from building or running the model.
    #[error(transparent)]
    Nn(#[from] NnError),
}

pub type Result<T, E = ZooError> = std::result::Result<T, E>;

impl ZooError {
    pub(crate) fn config(model: &str, detail: impl Into<String>) -> Self {
        ZooError::Config {
            model: model.to_string(),
            detail: detail.into(),
        }
    }
}
