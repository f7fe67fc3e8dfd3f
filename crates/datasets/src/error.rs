//! Errors of the dataset readers and the downloader. Every variant names the file, and format
//! errors also give the byte offset and what was expected there.

use std::path::PathBuf;

use thiserror::Error;

/// Errors of the readers, the loader and the downloader.
#[derive(Debug, Error)]
pub enum DatasetError {
    /// A file or folder could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not in the expected format (bad magic, sizes that disagree, bad label, …).
    #[error("{path}: at byte {offset}: {detail}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Byte offset of the problem in the file's content (after gunzipping).
        offset: u64,
        /// What was found and what was expected there.
        detail: String,
    },
    /// The gzip stream is corrupt.
    #[error("{path}: gzip error: {detail}")]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decompressor's message, or the bound the stream crossed.
        detail: String,
    },
    /// Images and labels files disagree.
    #[error("{images} has {n_images} images but {labels} has {n_labels} labels")]
    CountMismatch {
        /// The images file.
        images: PathBuf,
        /// Images its header declares.
        n_images: usize,
        /// The labels file.
        labels: PathBuf,
        /// Labels its header declares.
        n_labels: usize,
    },
    /// The data set's files are not in the data directory.
    #[error("{dataset}: {path} not found. {hint}")]
    Missing {
        /// The data set's name (`image folder` for [`load_folder`](crate::load_folder)).
        dataset: &'static str,
        /// The file or folder that was looked for.
        path: PathBuf,
        /// How to get the data (see [`DatasetKind::how_to_get`](crate::DatasetKind::how_to_get)).
        hint: String,
    },
    /// A downloaded file's SHA-256 is not the published one.
    #[error("{name}: downloaded file has sha256 {got}, expected {expected}; nothing was written")]
    Checksum {
        /// The file's name.
        name: String,
        /// The published SHA-256, in hex.
        expected: String,
        /// The SHA-256 of what arrived, in hex.
        got: String,
    },
    /// A download failed: the request, a transfer cut short, or a file over the size limit.
    #[error("download of {url} failed: {detail}")]
    Download {
        /// The URL fetched.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The loader's background thread failed while preparing a batch.
    #[error("data loader: batch {batch} of epoch {epoch} could not be prepared: {detail}")]
    Loader {
        /// The epoch being drawn.
        epoch: u64,
        /// The batch's index within its epoch.
        batch: usize,
        /// Why (the thread's panic message).
        detail: String,
    },
    /// An argument, setting or value that cannot be used (an unknown data set name, a bad
    /// loader or augmentation setting, sizes that disagree, …); the message says which.
    #[error("{0}")]
    Invalid(String),
}

/// The crate's result type, with [`DatasetError`] as the default error.
pub type Result<T, E = DatasetError> = std::result::Result<T, E>;

/// Attaches a path to an I/O error.
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DatasetError {
    let path = path.into();
    move |source| DatasetError::Io { path, source }
}
