//! One module per subcommand.

pub mod bench;
pub mod catalog;
pub mod data;
pub mod eval;
pub mod inspect;
pub mod predict;
pub mod report;
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

/// Where `kind` is read from: the data directory, else the per-user cache, else a download
/// into the cache (with a progress bar) unless `--offline` or `CONVNET_OFFLINE` forbid it.
pub fn find_data(arg: &DataDirArg, kind: DatasetKind) -> Result<PathBuf, DatasetError> {
    let fetch = if arg.offline {
        convnet_datasets::cache::Fetch::Offline
    } else {
        convnet_datasets::cache::Fetch::from_env()
    };
    let mut bar = DownloadBar::default();
    convnet_datasets::cache::locate(kind, &data_dir(arg), &fetch, &mut |name, done, total| {
        bar.update(name, done, total)
    })
}

/// A progress bar per downloaded file, on stderr (hidden when it is not a terminal).
#[derive(Default)]
pub struct DownloadBar {
    current: Option<(String, indicatif::ProgressBar)>,
}

impl DownloadBar {
    pub fn update(&mut self, name: &str, done: u64, total: Option<u64>) {
        if self.current.as_ref().is_none_or(|(n, _)| n != name) {
            if let Some((_, old)) = self.current.take() {
                old.finish();
            }
            let bar = match total {
                Some(t) => indicatif::ProgressBar::new(t),
                None => indicatif::ProgressBar::no_length(),
            };
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_message(format!("downloading {name}"));
            self.current = Some((name.to_string(), bar));
        }
        if let Some((_, bar)) = &self.current {
            bar.set_position(done);
        }
    }
}

impl Drop for DownloadBar {
    fn drop(&mut self) {
        if let Some((_, bar)) = self.current.take() {
            bar.finish();
        }
    }
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
    let cfg = convnet_zoo::ZooConfig::default()
        .classes(kind.class_names().len())
        .input(native);
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
