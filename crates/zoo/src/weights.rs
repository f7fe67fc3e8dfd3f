//! Loading pretrained weights from safetensors files by parameter name.
//!
//! Zoo models use torchvision's state-dict keys, so a torchvision model saved with
//! `safetensors.torch.save_file(model.state_dict(), path)` loads directly. The file must hold
//! exactly the model's parameters and buffers: every missing key, every unexpected key and
//! every shape mismatch is listed in one error, so one run tells the whole story. Keys ending
//! in `num_batches_tracked` (a counter torchvision's BatchNorm keeps and nn does not) are
//! skipped. F32 and F64 tensors convert to the model's element type, as do F16 and BF16
//! (widened exactly, then rounded to f32 if the model is f32); other dtypes are rejected
//! by name.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use convnet_nn::tensor::DType;
use convnet_nn::{Element, Model, ParamStore, Tensor};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use crate::error::{Result, ZooError};

/// What a load did besides filling the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeightsReport {
    /// Tensors loaded (parameters and buffers).
    pub loaded: usize,
    /// Keys present in the file and deliberately skipped (`num_batches_tracked`).
    pub skipped: Vec<String>,
    /// Stored dtypes and how many tensors had each, e.g. `{"F32": 62}`.
    pub dtypes: BTreeMap<String, usize>,
}

/// Reads `path` and loads it for `model` (see [`load_safetensors`]).
pub fn load_safetensors_file<T: Element>(
    model: &Model<T>,
    path: &Path,
) -> Result<(ParamStore<T>, WeightsReport)> {
    let bytes = std::fs::read(path).map_err(|source| ZooError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    load_safetensors(model, &bytes, &path.display().to_string())
}

/// Parses safetensors `bytes` and returns a parameter store for `model` (parameters and
/// buffers, in the model's order), or an error naming `source_name` and listing every key
/// that is missing, unexpected, of the wrong shape or of an unsupported dtype.
pub fn load_safetensors<T: Element>(
    model: &Model<T>,
    bytes: &[u8],
    source_name: &str,
) -> Result<(ParamStore<T>, WeightsReport)> {
    let fail = |detail: String| ZooError::Weights {
        source_name: source_name.to_string(),
        detail,
    };
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| fail(format!("not a readable safetensors file ({e})")))?;
    let specs = model.param_specs();
    let wanted: HashSet<&str> = specs.iter().map(|p| p.name.as_str()).collect();
    let mut report = WeightsReport::default();
    let mut unexpected = Vec::new();
    let mut file_names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    file_names.sort();
    for name in &file_names {
        if wanted.contains(name.as_str()) {
            continue;
        }
        if name.ends_with("num_batches_tracked") {
            report.skipped.push(name.clone());
        } else {
            unexpected.push(name.clone());
        }
    }
    let mut missing = Vec::new();
    let mut mismatched = Vec::new();
    let mut bad_dtype = Vec::new();
    let mut store = ParamStore::new();
    for p in specs {
        let view = match st.tensor(&p.name) {
            Ok(v) => v,
            Err(_) => {
                missing.push(format!("{} {:?}", p.name, p.shape));
                continue;
            }
        };
        if view.shape() != p.shape.as_slice() {
            mismatched.push(format!(
                "{}: file {:?}, model {:?}",
                p.name,
                view.shape(),
                p.shape
            ));
            continue;
        }
        let Some(values) = decode::<T>(&view) else {
            bad_dtype.push(format!("{} ({:?})", p.name, view.dtype()));
            continue;
        };
        *report
            .dtypes
            .entry(format!("{:?}", view.dtype()))
            .or_default() += 1;
        let t = Tensor::from_vec(values, &p.shape).map_err(|e| fail(e.to_string()))?;
        let inserted = if p.trainable {
            store.insert(p.name.clone(), t)
        } else {
            store.insert_buffer(p.name.clone(), t)
        };
        inserted.map_err(|e| fail(e.to_string()))?;
        report.loaded += 1;
    }
    let mut problems = Vec::new();
    for (what, list) in [
        ("missing", &missing),
        ("unexpected", &unexpected),
        ("shape mismatch", &mismatched),
        (
            "unsupported dtype (F32, F64, F16 and BF16 load)",
            &bad_dtype,
        ),
    ] {
        if !list.is_empty() {
            problems.push(format!("{what} ({}): {}", list.len(), abbreviate(list)));
        }
    }
    if problems.is_empty() {
        Ok((store, report))
    } else {
        Err(fail(format!(
            "does not fit the model ({} tensors expected); {}",
            specs.len(),
            problems.join("; ")
        )))
    }
}

/// Up to 12 entries, then a count of the rest.
pub(crate) fn abbreviate(list: &[String]) -> String {
    const SHOW: usize = 12;
    let mut s = list
        .iter()
        .take(SHOW)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if list.len() > SHOW {
        s.push_str(&format!(", … and {} more", list.len() - SHOW));
    }
    s
}

/// Little-endian values of a view converted to `T`; `None` for dtypes we do not read.
pub(crate) fn decode<T: Element>(view: &TensorView<'_>) -> Option<Vec<T>> {
    let d = view.data();
    let v: Vec<T> = match view.dtype() {
        Dtype::F32 => d
            .chunks_exact(4)
            .map(|b| T::of_f64(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64))
            .collect(),
        Dtype::F64 => d
            .chunks_exact(8)
            .map(|b| {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                T::of_f64(f64::from_le_bytes(a))
            })
            .collect(),
        Dtype::BF16 => d
            .chunks_exact(2)
            .map(|b| {
                let bits = u16::from_le_bytes([b[0], b[1]]);
                T::of_f64(f32::from_bits(u32::from(bits) << 16) as f64)
            })
            .collect(),
        Dtype::F16 => d
            .chunks_exact(2)
            .map(|b| T::of_f64(f16_to_f64(u16::from_le_bytes([b[0], b[1]]))))
            .collect(),
        _ => return None,
    };
    Some(v)
}

/// IEEE 754 binary16 to f64 (exact).
fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f64::from(bits & 0x3ff);
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

/// Serialises a parameter store as safetensors (little-endian, the store's element type),
/// keys as they are — the inverse of [`load_safetensors`], for exporting and tests.
pub fn save_safetensors<T: Element>(params: &ParamStore<T>) -> Result<Vec<u8>> {
    let fail = |e: safetensors::SafeTensorError| ZooError::Weights {
        source_name: "(serialising)".into(),
        detail: e.to_string(),
    };
    let dtype = match T::DTYPE {
        DType::F64 => Dtype::F64,
        DType::F32 => Dtype::F32,
    };
    let owned: Vec<(String, Vec<usize>, Vec<u8>)> = params
        .iter()
        .map(|(n, t)| {
            let bytes = t
                .to_f64_vec()
                .into_iter()
                .flat_map(|v| {
                    if dtype == Dtype::F64 {
                        v.to_le_bytes().to_vec()
                    } else {
                        (v as f32).to_le_bytes().to_vec()
                    }
                })
                .collect();
            (n.to_string(), t.shape().to_vec(), bytes)
        })
        .collect();
    let views = owned
        .iter()
        .map(|(n, s, b)| Ok((n.clone(), TensorView::new(dtype, s.clone(), b)?)))
        .collect::<std::result::Result<Vec<_>, safetensors::SafeTensorError>>()
        .map_err(fail)?;
    safetensors::serialize(views, None).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::f16_to_f64;

    #[test]
    fn half_precision_decodes_exactly() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x3555), 0.333_251_953_125);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert!(f16_to_f64(0x7c00).is_infinite());
    }
}
