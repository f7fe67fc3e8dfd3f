//! Checkpoints in the safetensors format.
//!
//! One file holds the model's parameters and buffers (`param.<name>`), the optimizer's slot
//! tensors (`optim.<slot>/<param>`), and as string metadata the optimizer's step counts and
//! hyper-parameters, the schedule's state, the training position (epoch, step, batch) and the
//! run's seeds. Floats in metadata are stored as the hex of their bits so they round-trip
//! exactly — resuming must reproduce an uninterrupted run bit for bit.
//!
//! A SHA-256 over every tensor (name, dtype, shape, bytes) and every metadata entry is stored
//! as `convnet.checksum`; loading recomputes it, so a corrupt file is reported, never loaded.
//! Files are written atomically (temporary file, fsync, rename): a crash mid-save leaves the
//! previous checkpoint intact.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use convnet_autograd::ParamStore;
use convnet_optim::OptimizerState;
use convnet_tensor::{DType, Element, Tensor};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use sha2::{Digest, Sha256};

use crate::error::{Result, TrainError};

const FORMAT: &str = "convnet-checkpoint-1";

/// Largest step or epoch counter a checkpoint may hold: 2⁵³, a million steps a second for
/// 285 years, and exactly representable as an f64 (schedules compute with the step count).
const MAX_COUNTER: u64 = 1 << 53;

/// Where a run stands: what resuming needs besides tensors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrainPosition {
    /// Epochs completed.
    pub epoch: u64,
    /// Optimizer steps taken in total.
    pub step: u64,
    /// Batches done in the current (incomplete) epoch; 0 at an epoch boundary.
    pub batch_in_epoch: u64,
}

/// Everything a run saves.
#[derive(Debug, Clone, Default)]
pub struct Checkpoint<T: Element = f32> {
    /// Parameters and buffers in store order.
    pub params: Vec<(String, Tensor<T>)>,
    /// The optimizer's state (slot tensors, step counts, hyper-parameters), when saved.
    pub optimizer: Option<OptimizerState<T>>,
    /// The learning-rate schedule's state (empty without a schedule).
    pub scheduler: BTreeMap<String, f64>,
    /// Where the run stood when it was saved.
    pub position: TrainPosition,
    /// Seeds and RNG counters of the run (data order, dropout, …).
    pub rng: BTreeMap<String, u64>,
    /// Free-form descriptive entries (model, dataset, …).
    pub info: BTreeMap<String, String>,
    /// The fit loop's own state (best validation accuracy so far, the current epoch's running
    /// metrics, callbacks' counters) and the shape of the run it belongs to (batch size,
    /// batches per epoch, …), so a resumed run continues exactly or is refused.
    pub fit: BTreeMap<String, f64>,
}

fn bits(v: f64) -> String {
    format!("{:016x}", v.to_bits())
}

fn unbits(s: &str) -> Option<f64> {
    u64::from_str_radix(s, 16).ok().map(f64::from_bits)
}

fn dtype_of<T: Element>() -> Dtype {
    match T::DTYPE {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
    }
}

fn to_le_bytes<T: Element>(t: &Tensor<T>) -> Vec<u8> {
    let data = t.data();
    let mut out = Vec::with_capacity(data.len() * std::mem::size_of::<T>());
    for v in data.iter() {
        match T::DTYPE {
            DType::F32 => out.extend_from_slice(&(v.as_f64() as f32).to_le_bytes()),
            DType::F64 => out.extend_from_slice(&v.as_f64().to_le_bytes()),
        }
    }
    out
}

fn from_le_bytes<T: Element>(bytes: &[u8], shape: &[usize]) -> Result<Tensor<T>, String> {
    let values: Vec<T> = match T::DTYPE {
        DType::F32 => bytes
            .chunks_exact(4)
            .map(|c| T::of_f64(f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64))
            .collect(),
        DType::F64 => bytes
            .chunks_exact(8)
            .map(|c| T::of_f64(f64::from_le_bytes(c.try_into().expect("chunk of 8"))))
            .collect(),
    };
    Tensor::from_vec(values, shape).map_err(|e| e.to_string())
}

/// SHA-256 over sorted tensors (name, dtype, shape, bytes) and sorted metadata.
fn checksum<'a>(
    tensors: impl Iterator<Item = (&'a str, &'a str, &'a [usize], &'a [u8])>,
    meta: &BTreeMap<String, String>,
) -> String {
    let mut sorted: Vec<_> = tensors.collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut h = Sha256::new();
    for (name, dtype, shape, data) in sorted {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(dtype.as_bytes());
        for d in shape {
            h.update((*d as u64).to_le_bytes());
        }
        h.update((data.len() as u64).to_le_bytes());
        h.update(data);
    }
    for (k, v) in meta {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl<T: Element> Checkpoint<T> {
    /// The parameters and buffers of a store, in order.
    pub fn params_from(store: &ParamStore<T>) -> Vec<(String, Tensor<T>)> {
        store
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect()
    }

    fn metadata(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("convnet.format".into(), FORMAT.into());
        m.insert("convnet.dtype".into(), T::DTYPE.to_string());
        m.insert(
            "convnet.param_order".into(),
            self.params
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        );
        m.insert("position.epoch".into(), self.position.epoch.to_string());
        m.insert("position.step".into(), self.position.step.to_string());
        m.insert(
            "position.batch_in_epoch".into(),
            self.position.batch_in_epoch.to_string(),
        );
        if let Some(o) = &self.optimizer {
            m.insert("optim.kind".into(), o.kind.clone());
            m.insert("optim.step".into(), o.step.to_string());
            for (k, v) in &o.hyper {
                m.insert(format!("optim.hyper.{k}"), bits(*v));
            }
            for (k, v) in &o.param_steps {
                m.insert(format!("optim.param_steps.{k}"), v.to_string());
            }
        }
        for (k, v) in &self.scheduler {
            m.insert(format!("sched.{k}"), bits(*v));
        }
        for (k, v) in &self.rng {
            m.insert(format!("rng.{k}"), v.to_string());
        }
        for (k, v) in &self.info {
            m.insert(format!("info.{k}"), v.clone());
        }
        for (k, v) in &self.fit {
            m.insert(format!("fit.{k}"), bits(*v));
        }
        m
    }

    /// Serialises to bytes (what [`Checkpoint::save`] writes).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (name, t) in &self.params {
            owned.push((format!("param.{name}"), t.shape().to_vec(), to_le_bytes(t)));
        }
        if let Some(o) = &self.optimizer {
            for (slot, t) in &o.slots {
                owned.push((format!("optim.{slot}"), t.shape().to_vec(), to_le_bytes(t)));
            }
        }
        let dtype = T::DTYPE.to_string();
        let mut meta = self.metadata();
        let sum = checksum(
            owned
                .iter()
                .map(|(n, s, d)| (n.as_str(), dtype.as_str(), s.as_slice(), d.as_slice())),
            &meta,
        );
        meta.insert("convnet.checksum".into(), sum);
        let views = owned
            .iter()
            .map(|(n, s, d)| Ok((n.clone(), TensorView::new(dtype_of::<T>(), s.clone(), d)?)))
            .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()
            .map_err(|e| TrainError::Invalid(format!("checkpoint: {e}")))?;
        safetensors::serialize(views, Some(meta.into_iter().collect::<HashMap<_, _>>()))
            .map_err(|e| TrainError::Invalid(format!("checkpoint: {e}")))
    }

    /// Writes the checkpoint atomically: the previous file stays loadable until the new one is
    /// complete on disk.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| TrainError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        convnet_datasets::write_atomically(path, &bytes).map_err(|e| TrainError::Checkpoint {
            path: path.to_path_buf(),
            detail: format!("could not write: {e}"),
        })
    }

    /// Reads and verifies a checkpoint file.
    pub fn load(path: &Path) -> Result<Checkpoint<T>> {
        let bytes = std::fs::read(path).map_err(|source| TrainError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes).map_err(|detail| TrainError::Checkpoint {
            path: path.to_path_buf(),
            detail,
        })
    }

    /// Parses and verifies checkpoint bytes; the error says what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<Checkpoint<T>, String> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| format!("not a readable safetensors file ({e})"))?;
        let (_, header) =
            SafeTensors::read_metadata(bytes).map_err(|e| format!("unreadable header ({e})"))?;
        let mut meta: BTreeMap<String, String> = header
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        if meta.get("convnet.format").map(String::as_str) != Some(FORMAT) {
            return Err(format!(
                "not a convnet checkpoint (format {:?}, expected {FORMAT})",
                meta.get("convnet.format")
            ));
        }
        let dtype = meta.get("convnet.dtype").cloned().unwrap_or_default();
        if dtype != T::DTYPE.to_string() {
            return Err(format!("holds {dtype} tensors, expected {}", T::DTYPE));
        }
        let stored = meta.remove("convnet.checksum").ok_or("has no checksum")?;
        let tensors = st.tensors();
        let computed = checksum(
            tensors
                .iter()
                .map(|(n, v)| (n.as_str(), dtype.as_str(), v.shape(), v.data())),
            &meta,
        );
        if computed != stored {
            return Err(format!(
                "checksum mismatch: the file is corrupt (stored {stored}, computed {computed})"
            ));
        }
        let get = |k: &str| {
            meta.get(k)
                .cloned()
                .ok_or_else(|| format!("metadata entry {k} is missing"))
        };
        // Counters (steps, epochs) only ever grow by one per step, so anything near u64::MAX
        // is a crafted or corrupt file; refusing it here keeps every later `+= 1` exact.
        let num = |k: &str| -> Result<u64, String> {
            let v: u64 = get(k)?
                .parse()
                .map_err(|_| format!("metadata entry {k} is not a number"))?;
            if v > MAX_COUNTER {
                return Err(format!(
                    "metadata entry {k} = {v} is implausibly large (more than {MAX_COUNTER})"
                ));
            }
            Ok(v)
        };
        let mut by_name: HashMap<String, Tensor<T>> = HashMap::new();
        for (name, view) in &tensors {
            if view.dtype() != dtype_of::<T>() {
                return Err(format!(
                    "tensor {name} has dtype {:?}, expected {}",
                    view.dtype(),
                    T::DTYPE
                ));
            }
            by_name.insert(
                name.clone(),
                from_le_bytes(view.data(), view.shape())
                    .map_err(|e| format!("tensor {name}: {e}"))?,
            );
        }
        let order = get("convnet.param_order")?;
        let mut params = Vec::new();
        for name in order.split('\n').filter(|n| !n.is_empty()) {
            let t = by_name
                .remove(&format!("param.{name}"))
                .ok_or_else(|| format!("tensor param.{name} is missing"))?;
            params.push((name.to_string(), t));
        }
        let optimizer = match meta.get("optim.kind") {
            None => None,
            Some(kind) => {
                let prefixed = |p: &'static str| {
                    meta.iter().filter_map(move |(k, v)| {
                        k.strip_prefix(p).map(|s| (s.to_string(), v.clone()))
                    })
                };
                let mut hyper = BTreeMap::new();
                for (k, v) in prefixed("optim.hyper.") {
                    hyper.insert(
                        k.clone(),
                        unbits(&v)
                            .ok_or_else(|| format!("optimizer hyper-parameter {k} is malformed"))?,
                    );
                }
                let mut param_steps = BTreeMap::new();
                for (k, v) in prefixed("optim.param_steps.") {
                    let steps: u64 = v
                        .parse()
                        .ok()
                        .filter(|&n| n <= MAX_COUNTER)
                        .ok_or_else(|| format!("optimizer step count for {k} is malformed"))?;
                    param_steps.insert(k.clone(), steps);
                }
                let slots = by_name
                    .iter()
                    .filter_map(|(n, t)| {
                        n.strip_prefix("optim.").map(|s| (s.to_string(), t.clone()))
                    })
                    .collect();
                Some(OptimizerState {
                    kind: kind.clone(),
                    step: num("optim.step")?,
                    hyper,
                    param_steps,
                    slots,
                })
            }
        };
        by_name.retain(|n, _| !n.starts_with("optim."));
        if let Some(extra) = by_name.keys().next() {
            return Err(format!("unexpected tensor {extra}"));
        }
        let mut scheduler = BTreeMap::new();
        let mut rng = BTreeMap::new();
        let mut info = BTreeMap::new();
        let mut fit = BTreeMap::new();
        for (k, v) in &meta {
            if let Some(s) = k.strip_prefix("sched.") {
                scheduler.insert(
                    s.to_string(),
                    unbits(v).ok_or_else(|| format!("schedule entry {s} is malformed"))?,
                );
            } else if let Some(s) = k.strip_prefix("rng.") {
                rng.insert(
                    s.to_string(),
                    v.parse()
                        .map_err(|_| format!("rng entry {s} is malformed"))?,
                );
            } else if let Some(s) = k.strip_prefix("info.") {
                info.insert(s.to_string(), v.clone());
            } else if let Some(s) = k.strip_prefix("fit.") {
                fit.insert(
                    s.to_string(),
                    unbits(v).ok_or_else(|| format!("fit entry {s} is malformed"))?,
                );
            }
        }
        let position = TrainPosition {
            epoch: num("position.epoch")?,
            step: num("position.step")?,
            batch_in_epoch: num("position.batch_in_epoch")?,
        };
        Ok(Checkpoint {
            params,
            optimizer,
            scheduler,
            position,
            rng,
            info,
            fit,
        })
    }

    /// Copies the saved parameters into `store`, which must hold exactly the same names and
    /// shapes; otherwise nothing is changed and the error lists every difference.
    pub fn restore_params(&self, store: &mut ParamStore<T>, path: &Path) -> Result<()> {
        let mut problems = Vec::new();
        let saved: HashMap<&str, &Tensor<T>> =
            self.params.iter().map(|(n, t)| (n.as_str(), t)).collect();
        for (name, current) in store.iter() {
            match saved.get(name) {
                None => problems.push(format!("missing parameter {name} {:?}", current.shape())),
                Some(t) if t.shape() != current.shape() => problems.push(format!(
                    "parameter {name} has shape {:?} in the checkpoint but {:?} in the model",
                    t.shape(),
                    current.shape()
                )),
                Some(_) => {}
            }
        }
        for (name, t) in &self.params {
            if !store.contains(name) {
                problems.push(format!(
                    "unexpected parameter {name} {:?} (not in the model)",
                    t.shape()
                ));
            }
        }
        if !problems.is_empty() {
            return Err(TrainError::Checkpoint {
                path: PathBuf::from(path),
                detail: problems.join("; "),
            });
        }
        for (name, t) in &self.params {
            store.set(name, t.clone())?;
        }
        Ok(())
    }
}
