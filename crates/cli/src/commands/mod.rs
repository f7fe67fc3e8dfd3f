//! One module per subcommand.

pub mod catalog;
pub mod eval;
pub mod inspect;
pub mod restore;
pub mod run_config;
pub mod summary;
pub mod train;

use std::path::PathBuf;

use convnet_datasets::{DatasetError, DatasetKind};

use crate::Failure;
use crate::args::DataDirArg;

/// The data directory chosen by `--data-dir`, `$CONVNET_DATA` or the default.
pub fn data_dir(arg: &DataDirArg) -> PathBuf {
    arg.data_dir
        .clone()
        .unwrap_or_else(convnet_datasets::data_dir)
}

/// Parses a data set name; an unknown one is a usage error listing the valid names.
pub fn dataset_kind(name: &str) -> Result<DatasetKind, Failure> {
    name.parse()
        .map_err(|e: DatasetError| Failure::usage(e.to_string()))
}

/// Maps a data set error to the right exit code (66 when files are missing).
pub fn dataset_failure(e: DatasetError) -> Failure {
    match e {
        DatasetError::Missing { .. } => Failure::no_input(e),
        other => Failure::run(other),
    }
}
