//! The training crate's error type. Checkpoint errors name the file and exactly what is wrong
//! (a missing or unexpected tensor, a shape, a checksum).

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum TrainError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint file is unreadable, corrupt or does not fit the model.
    #[error("checkpoint {path}: {detail}")]
    Checkpoint { path: PathBuf, detail: String },
    #[error(transparent)]
    Autograd(#[from] convnet_autograd::AutogradError),
    #[error(transparent)]
    Optim(#[from] convnet_optim::OptimError),
    #[error(transparent)]
    Dataset(#[from] convnet_datasets::DatasetError),
    #[error(transparent)]
    Tensor(#[from] convnet_tensor::TensorError),
    /// Building or running the model failed (the message names the layer and shapes).
    #[error(transparent)]
    Model(#[from] convnet_nn::NnError),
    /// A non-finite loss or another condition that stops training.
    #[error("{0}")]
    Training(String),
    /// A checkpoint belongs to a run this `fit` would not continue exactly.
    #[error("cannot resume exactly: {0}")]
    Resume(String),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;
