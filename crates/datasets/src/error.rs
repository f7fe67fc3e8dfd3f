//! Errors of the dataset readers and the downloader. Every variant names the file, and format
//! errors also give the byte offset and what was expected there.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum DatasetError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not in the expected format (bad magic, sizes that disagree, bad label, …).
    #[error("{path}: at byte {offset}: {detail}")]
    Format {
        path: PathBuf,
        offset: u64,
        detail: String,
    },
    /// The gzip stream is corrupt.
    #[error("{path}: gzip error: {detail}")]
    Gzip { path: PathBuf, detail: String },
    /// Images and labels files disagree.
    #[error("{images} has {n_images} images but {labels} has {n_labels} labels")]
    CountMismatch {
        images: PathBuf,
        n_images: usize,
        labels: PathBuf,
        n_labels: usize,
    },
    /// The data set's files are not in the data directory.
    #[error("{dataset}: {path} not found. {hint}")]
    Missing {
        dataset: &'static str,
        path: PathBuf,
        hint: String,
    },
    #[error("{name}: downloaded file has sha256 {got}, expected {expected}; nothing was written")]
    Checksum {
        name: String,
        expected: String,
        got: String,
    },
    #[error("download of {url} failed: {detail}")]
    Download { url: String, detail: String },
    /// The loader's background thread failed while preparing a batch.
    #[error("data loader: batch {batch} of epoch {epoch} could not be prepared: {detail}")]
    Loader {
        epoch: u64,
        batch: usize,
        detail: String,
    },
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = DatasetError> = std::result::Result<T, E>;

/// Attaches a path to an I/O error.
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DatasetError {
    let path = path.into();
    move |source| DatasetError::Io { path, source }
}
