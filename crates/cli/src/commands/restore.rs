//! Rebuilding a model for `eval`, `inspect` and `predict`: from a checkpoint (whose recorded
//! model, data set, classes and preprocessing are the defaults) or, without one, freshly
//! initialised.

use std::collections::BTreeMap;
use std::path::Path;

use convnet_datasets::{DataLoader, Dataset, LoaderConfig, Split};
use convnet_nn::{Model, ParamStore};
use convnet_train::Checkpoint;

use crate::Failure;
use crate::args::DataDirArg;
use crate::commands::data::{DataSource, HOLDOUT_FRACTION, Preprocess, read_folder};
use crate::commands::train::build_model;
use crate::commands::{dataset_failure, find_data, load_split, model_input};

/// A model with its parameters, and what it was built for.
pub struct Restored {
    pub model_name: String,
    /// The data set it was trained on (or the one named on the command line).
    pub source: DataSource,
    /// How pictures become its input (`pre.input` is the model's input).
    pub pre: Preprocess,
    pub model: Model<f32>,
    pub params: ParamStore<f32>,
    /// The checkpoint's info entries (empty without one).
    pub info: BTreeMap<String, String>,
}

/// Builds the model named by `model` (else the checkpoint's record, else LeNet-5) for the
/// data set `dataset` (likewise, else MNIST), with the checkpoint's weights if one is given
/// and fresh weights from `seed` otherwise.
pub fn restore(
    checkpoint: Option<&Path>,
    model: Option<String>,
    dataset: Option<String>,
    seed: u64,
) -> Result<Restored, Failure> {
    let ck = match checkpoint {
        Some(path) if !path.is_file() => {
            return Err(Failure::no_input(format!(
                "checkpoint {} not found",
                path.display()
            )));
        }
        Some(path) => Some((path, Checkpoint::<f32>::load(path).map_err(Failure::run)?)),
        None => None,
    };
    let info = ck.as_ref().map(|(_, c)| c.info.clone()).unwrap_or_default();
    let recorded = |key: &str| info.get(key).cloned();
    let pick = |arg: Option<String>, key: &str, default: &str| match (arg, recorded(key)) {
        (Some(a), _) | (None, Some(a)) => Ok(a),
        (None, None) if ck.is_none() => Ok(default.to_string()),
        (None, None) => Err(Failure::usage(format!(
            "the checkpoint does not record its {key}; pass --{key}"
        ))),
    };
    let model_name = pick(model, "model", "lenet5")?;
    // The recorded data set fixes classes and preprocessing; one named on the command line
    // is only what to read.
    let trained_on = match recorded("dataset") {
        Some(d) => trained_source(&d)?,
        None => DataSource::parse(&pick(dataset.clone(), "dataset", "mnist")?)?,
    };
    let source = match dataset {
        Some(d) => DataSource::parse(&d)?,
        None => trained_on.clone(),
    };
    // The input the run trained at (recorded since images could be resized), else the
    // model's rule for this data set.
    let input = match (recorded("input"), &trained_on) {
        (Some(chw), _) => crate::commands::summary::parse_input(&chw)?,
        (None, DataSource::Builtin(kind)) => model_input(&model_name, *kind)?,
        (None, DataSource::Folder(_)) => {
            return Err(Failure::run(
                "the checkpoint does not record its input size",
            ));
        }
    };
    let pre = Preprocess::from_info(&info, &trained_on, input)?;
    let model = build_model(&model_name, Some(pre.classes.len()), Some(input))?;
    let mut params = model.init_params(seed).map_err(Failure::run)?;
    if let Some((path, ck)) = &ck {
        ck.restore_params(&mut params, path).map_err(Failure::run)?;
    }
    Ok(Restored {
        model_name,
        source,
        pre,
        model,
        params,
        info,
    })
}

/// The recorded data set: a built-in name, or a folder that may since have moved (its
/// classes and preprocessing are in the checkpoint either way).
fn trained_source(recorded: &str) -> Result<DataSource, Failure> {
    match recorded.parse() {
        Ok(kind) => Ok(DataSource::Builtin(kind)),
        Err(_) => Ok(DataSource::Folder(recorded.into())),
    }
}

impl Restored {
    /// The images `eval` and `inspect` score: a built-in data set's test split; a folder
    /// named on the command line, all of it; for a folder run otherwise, its recorded
    /// validation folder or the same seeded hold-out it validated on.
    pub fn evaluation_set(&self, data: &DataDirArg) -> Result<Dataset, Failure> {
        let set = match &self.source {
            DataSource::Builtin(kind) => {
                if kind.class_names().len() != self.pre.classes.len() {
                    return Err(Failure::usage(format!(
                        "the model has {} classes, {kind} has {}",
                        self.pre.classes.len(),
                        kind.class_names().len()
                    )));
                }
                let dir = find_data(data, *kind).map_err(dataset_failure)?;
                load_split(*kind, Split::Test, &dir, self.pre.input).map_err(dataset_failure)?
            }
            DataSource::Folder(path) => {
                let rec = |k: &str| {
                    self.info
                        .get(&format!("run.{k}"))
                        .filter(|v| v.as_str() != "none")
                };
                let options = self.pre.folder_options(false);
                let named = self.info.get("dataset") != Some(&path.display().to_string());
                match rec("val-dir") {
                    Some(v) if !named => read_folder(Path::new(v), &options)?,
                    _ if named => read_folder(path, &options)?,
                    _ => {
                        let seed = rec("seed").and_then(|s| s.parse().ok()).unwrap_or(0);
                        read_folder(path, &options)?
                            .stratified_split(HOLDOUT_FRACTION, seed)
                            .map_err(Failure::run)?
                            .1
                    }
                }
            }
        };
        set.with_normalization(self.pre.mean.clone(), self.pre.std.clone())
            .map_err(Failure::run)
    }

    /// A loader over `set` that prepares images as evaluation in training did.
    pub fn evaluation_loader(&self, set: Dataset, batch: usize) -> Result<DataLoader, Failure> {
        DataLoader::new(
            set,
            LoaderConfig {
                output_size: self.pre.output_size(),
                ..LoaderConfig::evaluation(batch.max(1))
            },
        )
        .map_err(Failure::run)
    }
}
