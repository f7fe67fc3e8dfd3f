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
    UnknownModel {
        /// The name as given.
        name: String,
        /// Every valid name, comma-separated.
        valid: String,
    },
    /// The input is too small for the model's downsampling.
    #[error("{model}: input {got} is too small; the smallest that works is {smallest}")]
    InputTooSmall {
        /// The model's registry name.
        model: String,
        /// The input asked for, as `C×H×W`.
        got: String,
        /// The smallest square input that builds, as `C×H×W`.
        smallest: String,
    },
    /// An option the model cannot honour (zero classes, a BatchNorm variant it lacks, …).
    #[error("{model}: {detail}")]
    Config {
        /// The model's registry name.
        model: String,
        /// What is wrong with the options.
        detail: String,
    },
    /// A weights file that does not fit the model.
    #[error("weights {source_name}: {detail}")]
    Weights {
        /// The name the caller gave the file (its path for the `*_file` loaders), or
        /// `(serialising)` when saving failed.
        source_name: String,
        /// What does not fit: every missing, unexpected or mismatched key, or why the file
        /// is unreadable.
        detail: String,
    },
    /// A weights file that could not be read.
    #[error("weights {}: {source}", path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// An error from building or running the model.
    #[error(transparent)]
    Nn(#[from] NnError),
}

/// The zoo's result type, with [`ZooError`] as the default error.
pub type Result<T, E = ZooError> = std::result::Result<T, E>;

impl ZooError {
    pub(crate) fn config(model: &str, detail: impl Into<String>) -> Self {
        ZooError::Config {
            model: model.to_string(),
            detail: detail.into(),
        }
    }
}
