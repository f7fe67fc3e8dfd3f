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
    Train,
    Test,
}

/// Labelled images: `len` images of `image_shape` bytes each, plus one label per image.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub kind: DatasetKind,
    pub image_shape: [usize; 3],
    images: Arc<Vec<u8>>,
    labels: Arc<Vec<u8>>,
    /// Indices into `images`/`labels` (a subset view without copying the pixels).
    indices: Arc<Vec<u32>>,
}

impl Dataset {
    /// Builds a data set from raw bytes; checks that sizes agree and labels are below 10.
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
        let per = shape.iter().product::<usize>();
        if images.len() != labels.len() * per {
            return Err(DatasetError::Invalid(format!(
                "{kind}: {} image bytes do not hold {} images of {shape:?}",
                images.len(),
                labels.len()
            )));
        }
        if let Some((i, l)) = labels.iter().enumerate().find(|(_, l)| **l >= 10) {
            return Err(DatasetError::Invalid(format!(
                "{kind}: label {l} at index {i} is not in 0–9"
            )));
        }
        let indices = (0..labels.len() as u32).collect();
        Ok(Dataset {
            kind,
            image_shape: shape,
            images: Arc::new(images),
            labels: Arc::new(labels),
            indices: Arc::new(indices),
        })
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

    pub fn len(&self) -> usize {
        self.indices.len()
    }

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

    pub fn label(&self, i: usize) -> usize {
        self.labels[self.indices[i] as usize] as usize
    }

    /// Images per class (10 classes).
    pub fn class_counts(&self) -> [usize; 10] {
        let mut counts = [0; 10];
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
                self.kind,
                self.len()
            )));
        }
        let cut = self.len() - n;
        Ok((self.select(0..cut), self.select(cut..self.len())))
    }

    fn select(&self, range: std::ops::Range<usize>) -> Dataset {
        Dataset {
            indices: Arc::new(self.indices[range].to_vec()),
            ..self.clone()
        }
    }
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
    if let Some((i, l)) = labels.data.iter().enumerate().find(|(_, l)| **l >= 10) {
        return Err(DatasetError::Format {
            path: labels_path,
            offset: 8 + i as u64,
            detail: format!("label {l} of example {i} is not in 0–9"),
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
