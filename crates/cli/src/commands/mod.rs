//! One module per subcommand.

pub mod catalog;
pub mod eval;
pub mod inspect;
pub mod restore;
pub mod run_config;
pub mod summary;
pub mod train;

use std::path::{Path, PathBuf};

use convnet_datasets::{Dataset, DatasetError, DatasetKind, Split};

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

/// The input a model takes on a data set: the images' own size when the model accepts it,
/// else the model's default size with the images' channels (LeNet-5 on the 8×8 digits reads
/// them resized to 28×28) — so any zoo model trains on any data set instead of failing.
pub fn model_input(model: &str, kind: DatasetKind) -> Result<[usize; 3], Failure> {
    let native = kind.image_shape();
    let cfg = convnet_zoo::ZooConfig::default().classes(10).input(native);
    let smallest = convnet_zoo::smallest_input(model, &cfg).map_err(|e| match e {
        convnet_zoo::ZooError::UnknownModel { .. } => Failure::usage(e.to_string()),
        other => Failure::run(other),
    })?;
    if native[1] >= smallest[1] && native[2] >= smallest[2] {
        return Ok(native);
    }
    let default = convnet_zoo::info(model)
        .map_err(Failure::run)?
        .default_input;
    Ok([
        native[0],
        default[1].max(smallest[1]),
        default[2].max(smallest[2]),
    ])
}

/// A split of `kind` from `dir`, resized to `input`'s height and width when they differ from
/// the images' own.
pub fn load_split(
    kind: DatasetKind,
    split: Split,
    dir: &Path,
    input: [usize; 3],
) -> Result<Dataset, DatasetError> {
    let d = Dataset::load(kind, split, dir)?;
    if d.image_shape == input {
        Ok(d)
    } else {
        d.resized(input[1], input[2])
    }
}
