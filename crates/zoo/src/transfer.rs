//! Fine-tuning's weight load: pretrained weights into a model whose classifier may have a
//! different number of classes.
//!
//! Every parameter and buffer of the model must be in the file with its shape, except the
//! classifier head's: a parameter whose first dimension is the model's class count, whose
//! file version has another first dimension and the same remaining ones (`fc.weight`
//! `[1000, 512]` in the file, `[3, 512]` in a 3-class model) keeps its fresh initialisation,
//! and its layer is reported as replaced. Anything else that does not fit — a missing key, an
//! unexpected one, another shape — is an error listing all of them, as for a plain load.
//!
//! The file is either torchvision's layout (`safetensors.torch.save_file(model.state_dict(),
//! path)`) or a convnet checkpoint (its `param.*` tensors; optimizer state is ignored).

use std::collections::BTreeSet;
use std::path::Path;

use convnet_nn::{Element, Model, ParamStore, Tensor};
use safetensors::SafeTensors;

use crate::error::{Result, ZooError};
use crate::weights::{abbreviate, decode};

/// The key prefix of parameters in a convnet checkpoint.
const CHECKPOINT_PREFIX: &str = "param.";

/// What [`load_pretrained`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferReport {
    /// Tensors taken from the file.
    pub loaded: usize,
    /// Layers whose parameters kept their fresh initialisation (the new head), with the
    /// file's and the model's class counts.
    pub replaced: Vec<(String, usize, usize)>,
    /// Whether the file was a convnet checkpoint (else torchvision's layout).
    pub from_checkpoint: bool,
}

/// Reads `path` and loads it into `params` (see the module documentation).
pub fn load_pretrained_file<T: Element>(
    model: &Model<T>,
    path: &Path,
    params: &mut ParamStore<T>,
) -> Result<TransferReport> {
    let bytes = std::fs::read(path).map_err(|source| ZooError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    load_pretrained(model, &bytes, &path.display().to_string(), params)
}

/// Loads `bytes` into `params` (which must hold the model's freshly initialised parameters);
/// on error `params` is unchanged.
pub fn load_pretrained<T: Element>(
    model: &Model<T>,
    bytes: &[u8],
    source_name: &str,
    params: &mut ParamStore<T>,
) -> Result<TransferReport> {
    let fail = |detail: String| ZooError::Weights {
        source_name: source_name.to_string(),
        detail,
    };
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| fail(format!("not a readable safetensors file ({e})")))?;
    let names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    let from_checkpoint = names.iter().any(|n| n.starts_with(CHECKPOINT_PREFIX));
    // Model key → file key.
    let file_key = |name: &str| {
        if from_checkpoint {
            format!("{CHECKPOINT_PREFIX}{name}")
        } else {
            name.to_string()
        }
    };
    let classes = model.num_classes().unwrap_or(0);
    let specs = model.param_specs();
    let wanted: BTreeSet<String> = specs.iter().map(|p| file_key(&p.name)).collect();
    let mut unexpected: Vec<String> = names
        .iter()
        .filter(|n| !wanted.contains(*n))
        .filter(|n| !n.ends_with("num_batches_tracked"))
        .filter(|n| !from_checkpoint || n.starts_with(CHECKPOINT_PREFIX))
        .cloned()
        .collect();
    unexpected.sort();
    let (mut missing, mut mismatched, mut bad_dtype) = (Vec::new(), Vec::new(), Vec::new());
    let mut report = TransferReport {
        from_checkpoint,
        ..TransferReport::default()
    };
    let mut values: Vec<(String, Tensor<T>)> = Vec::new();
    for p in specs {
        let Ok(view) = st.tensor(&file_key(&p.name)) else {
            missing.push(format!("{} {:?}", p.name, p.shape));
            continue;
        };
        let file = view.shape();
        if file != p.shape.as_slice() {
            let head = !p.shape.is_empty()
                && p.shape[0] == classes
                && file.len() == p.shape.len()
                && file[0] != classes
                && file[1..] == p.shape[1..];
            if head {
                let layer = p.owner.clone();
                if !report.replaced.iter().any(|(l, _, _)| *l == layer) {
                    report.replaced.push((layer, file[0], classes));
                }
            } else {
                mismatched.push(format!("{}: file {file:?}, model {:?}", p.name, p.shape));
            }
            continue;
        }
        let Some(v) = decode::<T>(&view) else {
            bad_dtype.push(format!("{} ({:?})", p.name, view.dtype()));
            continue;
        };
        let t = Tensor::from_vec(v, &p.shape).map_err(|e| fail(e.to_string()))?;
        values.push((p.name.clone(), t));
    }
    let mut problems = Vec::new();
    for (what, list) in [
        ("missing", &missing),
        ("unexpected", &unexpected),
        ("shape mismatch", &mismatched),
        ("unsupported dtype", &bad_dtype),
    ] {
        if !list.is_empty() {
            problems.push(format!("{what} ({}): {}", list.len(), abbreviate(list)));
        }
    }
    if !problems.is_empty() {
        return Err(fail(format!(
            "does not fit the model, even with a new classifier head; {}",
            problems.join("; ")
        )));
    }
    if values.is_empty() {
        return Err(fail("no tensor of the file fits the model".into()));
    }
    if let Some((name, _)) = values.iter().find(|(n, _)| !params.contains(n)) {
        return Err(fail(format!(
            "the parameter store to load into has no {name}; pass the model's fresh parameters"
        )));
    }
    for (name, t) in values {
        params.set(&name, t).map_err(|e| fail(e.to_string()))?;
        report.loaded += 1;
    }
    Ok(report)
}
