//! Rebuilding a model for `eval` and `inspect`: from a checkpoint (whose recorded model and
//! data set are the defaults) or, without one, freshly initialised.

use std::path::Path;

use convnet_datasets::DatasetKind;
use convnet_nn::{Model, ParamStore};
use convnet_train::Checkpoint;

use crate::Failure;
use crate::commands::train::build_model;
use crate::commands::{dataset_kind, model_input};

/// A model with its parameters, and what it was built for.
pub struct Restored {
    pub model_name: String,
    pub dataset: DatasetKind,
    /// The model's input `[c, h, w]`; the data set's images are resized to it if they differ.
    pub input: [usize; 3],
    pub model: Model<f32>,
    pub params: ParamStore<f32>,
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
    let recorded = |key: &str| ck.as_ref().and_then(|(_, c)| c.info.get(key).cloned());
    let pick = |arg: Option<String>, key: &str, default: &str| match (arg, recorded(key)) {
        (Some(a), _) | (None, Some(a)) => Ok(a),
        (None, None) if ck.is_none() => Ok(default.to_string()),
        (None, None) => Err(Failure::usage(format!(
            "the checkpoint does not record its {key}; pass --{key}"
        ))),
    };
    let model_name = pick(model, "model", "lenet5")?;
    let kind = dataset_kind(&pick(dataset, "dataset", "mnist")?)?;
    // The input the run trained at (recorded since images could be resized), else the
    // model's rule for this data set.
    let input = match recorded("input") {
        Some(chw) => crate::commands::summary::parse_input(&chw)?,
        None => model_input(&model_name, kind)?,
    };
    let model = build_model(&model_name, Some(10), Some(input))?;
    let mut params = model.init_params(seed).map_err(Failure::run)?;
    if let Some((path, ck)) = &ck {
        ck.restore_params(&mut params, path).map_err(Failure::run)?;
    }
    Ok(Restored {
        model_name,
        dataset: kind,
        input,
        model,
        params,
    })
}
