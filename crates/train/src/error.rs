//! The training crate's error type. Checkpoint errors name the file and exactly what is wrong
//! (a missing or unexpected tensor, a shape, a checksum).

use std::path::PathBuf;

use thiserror::Error;

/// Errors of training, evaluation, checkpoints, logs and pictures.
#[derive(Debug, Error)]
pub enum TrainError {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint file is unreadable, corrupt or does not fit the model.
    #[error("checkpoint {path}: {detail}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong: the tensor, entry or checksum concerned.
        detail: String,
    },
    /// An error from the autograd graph or its executor.
    #[error(transparent)]
    Autograd(#[from] convnet_autograd::AutogradError),
    /// An error from the optimizer, gradient clipping or the learning-rate schedule.
    #[error(transparent)]
    Optim(#[from] convnet_optim::OptimError),
    /// An error from reading the data or drawing its batches.
    #[error(transparent)]
    Dataset(#[from] convnet_datasets::DatasetError),
    /// An error from a tensor operation.
    #[error(transparent)]
    Tensor(#[from] convnet_tensor::TensorError),
    /// Building or running the model failed (the message names the layer and shapes).
    #[error(transparent)]
    Model(#[from] convnet_nn::NnError),
    /// A non-finite loss or another condition that stops training.
    #[error("{0}")]
    Training(String),
    /// Data-parallel training cannot go on: the ranks disagree, a shard would be empty, or a
    /// collective failed (the message names the rank).
    #[error("data-parallel training: {0}")]
    Distributed(String),
    /// A checkpoint belongs to a run this `fit` would not continue exactly.
    #[error("cannot resume exactly: {0}")]
    Resume(String),
    /// Anything else that cannot be used or done: a malformed CSV log, a picture that cannot
    /// be drawn or encoded, …; the message says which.
    #[error("{0}")]
    Invalid(String),
}

/// The crate's result type, with [`TrainError`] as the default error.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;
