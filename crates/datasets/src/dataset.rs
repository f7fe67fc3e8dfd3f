//! An in-memory labelled image data set, loaded from the `CONVNET_DATA` directory.
//!
//! Images stay as the original bytes (one quarter of the memory of f32); the loader converts
//! and normalises each batch as it is drawn.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::catalog::DatasetKind;
use crate::cifar::read_cifar_batch;
use crate::error::{DatasetError, Result};
use crate::idx::{read_idx, read_idx_shaped};

/// The environment variable naming the data directory.
pub const DATA_ENV: &str = "CONVNET_DATA";

/// The data directory: `$CONVNET_DATA` if set, else `./data`.
pub fn data_dir() -> PathBuf {
    std::env::var_os(DATA_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data"))
}

/// Which part of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training images (MNIST's `train-*` files, CIFAR-10's `data_batch_*.bin`).
    Train,
    /// The held-out test images (MNIST's `t10k-*` files, CIFAR-10's `test_batch.bin`).
    Test,
}

/// What a data set is, apart from its pixels: its name (for messages), its class names (any
/// number of classes; labels index this list) and the per-channel mean and standard deviation
/// (of pixels / 255) the loader normalises with.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetMeta {
    /// The data set's name, for messages.
    pub name: String,
    /// Class names, in label order.
    pub classes: Vec<String>,
    /// Per-channel mean of pixels / 255.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation of pixels / 255 (positive).
    pub std: Vec<f32>,
}

impl DatasetMeta {
    /// The built-in data set's name, classes and published statistics.
    pub fn of(kind: DatasetKind) -> DatasetMeta {
        let (mean, std) = kind.normalization();
        DatasetMeta {
            name: kind.name().to_string(),
            classes: kind.class_names().iter().map(|s| s.to_string()).collect(),
            mean: mean.to_vec(),
            std: std.to_vec(),
        }
    }
}

/// Labelled images: `len` images of `image_shape` bytes each, plus one label per image.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// `[channels, height, width]` of every image; each is stored as that many bytes, planar.
    pub image_shape: [usize; 3],
    meta: Arc<DatasetMeta>,
    images: Arc<Vec<u8>>,
    labels: Arc<Vec<u32>>,
    /// Indices into `images`/`labels` (a subset view without copying the pixels).
    indices: Arc<Vec<u32>>,
}

/// The most images one data set holds: indices are `u32`.
const MAX_IMAGES: usize = u32::MAX as usize;

impl Dataset {
    /// Builds one of the built-in data sets from raw bytes (labels as stored in its files).
    pub fn from_raw(kind: DatasetKind, images: Vec<u8>, labels: Vec<u8>) -> Result<Dataset> {
        Dataset::from_raw_shaped(kind, kind.image_shape(), images, labels)
    }

    /// Like [`Dataset::from_raw`] with images of `shape` (`[c, h, w]`) instead of the data
    /// set's own (e.g. after resizing).
    pub fn from_raw_shaped(
        kind: DatasetKind,
        shape: [usize; 3],
        images: Vec<u8>,
        labels: Vec<u8>,
    ) -> Result<Dataset> {
        let labels = labels.into_iter().map(u32::from).collect();
        Dataset::new(DatasetMeta::of(kind), shape, images, labels)
    }

    /// A data set of `labels.len()` images of `shape` (`[c, h, w]` bytes each, planar), with
    /// labels indexing `meta.classes`. Checks that the sizes agree, that every label names a
    /// class, and that the statistics have one entry per channel with positive deviations.
    pub fn new(
        meta: DatasetMeta,
        shape: [usize; 3],
        images: Vec<u8>,
        labels: Vec<u32>,
    ) -> Result<Dataset> {
        let name = &meta.name;
        let per = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if per.is_none_or(|per| labels.len().checked_mul(per) != Some(images.len())) {
            return Err(DatasetError::Invalid(format!(
                "{name}: {} image bytes do not hold {} images of {shape:?}",
                images.len(),
                labels.len()
            )));
        }
        if labels.len() > MAX_IMAGES {
            return Err(DatasetError::Invalid(format!(
                "{name}: {} images; at most {MAX_IMAGES} fit one data set",
                labels.len()
            )));
        }
        let classes = meta.classes.len();
        if let Some((i, l)) = labels
            .iter()
            .enumerate()
            .find(|(_, l)| **l as usize >= classes)
        {
            return Err(DatasetError::Invalid(format!(
                "{name}: label {l} at index {i} names no class (there are {classes})"
            )));
        }
        check_stats(name, shape[0], &meta.mean, &meta.std)?;
        let indices = (0..labels.len() as u32).collect();
        Ok(Dataset {
            image_shape: shape,
            meta: Arc::new(meta),
            images: Arc::new(images),
            labels: Arc::new(labels),
            indices: Arc::new(indices),
        })
    }

    /// The data set's name, for messages.
    pub fn name(&self) -> &str {
        &self.meta.name
    }

    /// Name, class names and normalisation statistics.
    pub fn meta(&self) -> &DatasetMeta {
        &self.meta
    }

    /// Class names, in label order.
    pub fn class_names(&self) -> &[String] {
        &self.meta.classes
    }

    /// Number of classes (labels are `0..num_classes()`).
    pub fn num_classes(&self) -> usize {
        self.meta.classes.len()
    }

    /// Per-channel mean and standard deviation the loader normalises with.
    pub fn normalization(&self) -> (&[f32], &[f32]) {
        (&self.meta.mean, &self.meta.std)
    }

    /// The same examples, normalised with other statistics (e.g. ImageNet's for pretrained
    /// weights, or those of the training split for its validation split).
    pub fn with_normalization(&self, mean: Vec<f32>, std: Vec<f32>) -> Result<Dataset> {
        check_stats(self.name(), self.image_shape[0], &mean, &std)?;
        let meta = DatasetMeta {
            mean,
            std,
            ..(*self.meta).clone()
        };
        Ok(Dataset {
            meta: Arc::new(meta),
            ..self.clone()
        })
    }

    /// Per-channel mean and standard deviation of these examples' pixels / 255 (computed in
    /// f64; a constant channel gets deviation 1 so that normalising never divides by 0).
    pub fn channel_stats(&self) -> (Vec<f32>, Vec<f32>) {
        let [c, h, w] = self.image_shape;
        let plane = h * w;
        let mut sum = vec![0f64; c];
        let mut sq = vec![0f64; c];
        for i in 0..self.len() {
            for (ch, px) in self.image(i).chunks_exact(plane.max(1)).enumerate() {
                let (s, q) = px.iter().fold((0u64, 0u64), |(s, q), &p| {
                    (s + u64::from(p), q + u64::from(p) * u64::from(p))
                });
                sum[ch] += s as f64;
                sq[ch] += q as f64;
            }
        }
        let n = (self.len() * plane).max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n / 255.0).collect();
        let std = sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| {
                let var = (q / n / (255.0 * 255.0) - m * m).max(0.0);
                if var > 1e-12 { var.sqrt() as f32 } else { 1.0 }
            })
            .collect();
        (mean.iter().map(|&m| m as f32).collect(), std)
    }

    /// Loads a split of a data set from `dir/<folder>/`.
    pub fn load(kind: DatasetKind, split: Split, dir: &Path) -> Result<Dataset> {
        let folder = dir.join(kind.folder());
        match kind {
            DatasetKind::Mnist | DatasetKind::FashionMnist => load_idx_pair(kind, split, &folder),
            DatasetKind::Cifar10 => load_cifar(split, &folder),
            DatasetKind::Digits => crate::digits::load(split),
        }
    }

    /// Number of examples (of this view, after [`take`](Self::take) or a split).
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Bytes of one image.
    pub fn image_len(&self) -> usize {
        self.image_shape.iter().product()
    }

    /// The raw bytes of image `i` (CHW order).
    pub fn image(&self, i: usize) -> &[u8] {
        let at = self.indices[i] as usize * self.image_len();
        &self.images[at..at + self.image_len()]
    }

    /// The label (class index) of example `i`.
    pub fn label(&self, i: usize) -> usize {
        self.labels[self.indices[i] as usize] as usize
    }

    /// Images per class, in label order.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes()];
        for i in 0..self.len() {
            counts[self.label(i)] += 1;
        }
        counts
    }

    /// The first `n` examples (or all, if fewer), sharing the pixel buffer.
    pub fn take(&self, n: usize) -> Dataset {
        self.select(0..n.min(self.len()))
    }

    /// Splits off the last `n` examples, e.g. as a validation set: `(first, last n)`.
    pub fn split_off(&self, n: usize) -> Result<(Dataset, Dataset)> {
        if n >= self.len() {
            return Err(DatasetError::Invalid(format!(
                "{}: cannot hold out {n} of {} examples",
                self.name(),
                self.len()
            )));
        }
        let cut = self.len() - n;
        Ok((self.select(0..cut), self.select(cut..self.len())))
    }

    /// A seeded, stratified hold-out: from every class, `fraction` of its examples (rounded,
    /// at least one when the class has two or more) go to the second set, drawn at random
    /// with `seed`; both keep the data set's order otherwise. `(train, held out)`.
    pub fn stratified_split(&self, fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(DatasetError::Invalid(format!(
                "{}: a hold-out fraction must be between 0 and 1, got {fraction}",
                self.name()
            )));
        }
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); self.num_classes()];
        for i in 0..self.len() {
            by_class[self.label(i)].push(i);
        }
        let mut held = vec![false; self.len()];
        let mut rng = convnet_tensor::rng_from_seed(convnet_tensor::mix_seed(seed ^ 0x5715));
        for members in &mut by_class {
            let n = members.len();
            let take = if n < 2 {
                0
            } else {
                ((n as f64 * fraction).round() as usize).clamp(1, n - 1)
            };
            rand::seq::SliceRandom::shuffle(members.as_mut_slice(), &mut rng);
            for &i in &members[..take] {
                held[i] = true;
            }
        }
        if !held.contains(&true) {
            return Err(DatasetError::Invalid(format!(
                "{}: too few examples ({}) to hold out a validation split",
                self.name(),
                self.len()
            )));
        }
        let pick = |want: bool| -> Vec<u32> {
            (0..self.len())
                .filter(|&i| held[i] == want)
                .map(|i| self.indices[i])
                .collect()
        };
        let (keep, out) = (pick(false), pick(true));
        Ok((self.with_indices(keep), self.with_indices(out)))
    }

    fn select(&self, range: std::ops::Range<usize>) -> Dataset {
        self.with_indices(self.indices[range].to_vec())
    }

    fn with_indices(&self, indices: Vec<u32>) -> Dataset {
        Dataset {
            indices: Arc::new(indices),
            ..self.clone()
        }
    }
}

fn check_stats(name: &str, channels: usize, mean: &[f32], std: &[f32]) -> Result<()> {
    if mean.len() != channels || std.len() != channels {
        return Err(DatasetError::Invalid(format!(
            "{name}: normalisation has {} means and {} deviations for {channels} channels",
            mean.len(),
            std.len()
        )));
    }
    if let Some(s) = std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(DatasetError::Invalid(format!(
            "{name}: normalisation deviation {s} is not a positive number"
        )));
    }
    if let Some(m) = mean.iter().find(|m| !m.is_finite()) {
        return Err(DatasetError::Invalid(format!(
            "{name}: normalisation mean {m} is not a number"
        )));
    }
    Ok(())
}

fn find_file(folder: &Path, stem: &str) -> Option<PathBuf> {
    [format!("{stem}.gz"), stem.to_string()]
        .into_iter()
        .map(|n| folder.join(n))
        .find(|p| p.is_file())
}

fn missing(kind: DatasetKind, path: PathBuf) -> DatasetError {
    DatasetError::Missing {
        dataset: kind.name(),
        path,
        hint: kind.how_to_get(),
    }
}

fn load_idx_pair(kind: DatasetKind, split: Split, folder: &Path) -> Result<Dataset> {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let image_stem = format!("{prefix}-images-idx3-ubyte");
    let label_stem = format!("{prefix}-labels-idx1-ubyte");
    let images_path = find_file(folder, &image_stem)
        .ok_or_else(|| missing(kind, folder.join(format!("{image_stem}.gz"))))?;
    let labels_path = find_file(folder, &label_stem)
        .ok_or_else(|| missing(kind, folder.join(format!("{label_stem}.gz"))))?;
    let [_, h, w] = kind.image_shape();
    let images = read_idx_shaped(&images_path, &[None, Some(h), Some(w)], "images")?;
    let labels = read_idx(&labels_path, 1)?;
    if images.dims[0] != labels.dims[0] {
        return Err(DatasetError::CountMismatch {
            images: images_path,
            n_images: images.dims[0],
            labels: labels_path,
            n_labels: labels.dims[0],
        });
    }
    let classes = kind.class_names().len();
    if let Some((i, l)) = labels
        .data
        .iter()
        .enumerate()
        .find(|(_, l)| usize::from(**l) >= classes)
    {
        return Err(DatasetError::Format {
            path: labels_path,
            offset: 8 + i as u64,
            detail: format!("label {l} of example {i} is not in 0–{}", classes - 1),
        });
    }
    Dataset::from_raw(kind, images.data, labels.data)
}

fn load_cifar(split: Split, folder: &Path) -> Result<Dataset> {
    let kind = DatasetKind::Cifar10;
    let files: Vec<PathBuf> = match split {
        Split::Test => vec![folder.join("test_batch.bin")],
        Split::Train => {
            let mut found: Vec<PathBuf> = std::fs::read_dir(folder)
                .map_err(|_| missing(kind, folder.join("data_batch_1.bin")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("data_batch_") && n.ends_with(".bin"))
                })
                .collect();
            found.sort();
            found
        }
    };
    if files.is_empty() || !files[0].is_file() {
        let want = files
            .first()
            .cloned()
            .unwrap_or_else(|| folder.join("data_batch_1.bin"));
        return Err(missing(kind, want));
    }
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    for f in &files {
        let (i, l) = read_cifar_batch(f)?;
        images.extend_from_slice(&i);
        labels.extend_from_slice(&l);
    }
    Dataset::from_raw(kind, images, labels)
}
