//! # convnet-datasets
//!
//! Readers for MNIST and Fashion-MNIST (IDX, gzipped or not) and CIFAR-10 (binary records) in
//! their original formats, validated so that a truncated or corrupt file is an error naming
//! the file, the byte offset and what was expected; a [`DataLoader`] with seeded shuffling,
//! augmentation and prefetching; and a checksum-verifying downloader.
//!
//! Your own pictures are a data set too: [`load_folder`] reads a folder of class sub-folders
//! (PNG and JPEG, any number of classes), and the loader's [`transform`]s crop, flip and
//! jitter them as training expects.
//!
//! Data is found in the directory named by `CONVNET_DATA` (folders `mnist/`,
//! `fashion-mnist/`, `cifar-10/`), else in the per-user cache, downloading into it.
//! scikit-learn's 8×8 [`digits`] are compiled in, so they need neither:
//!
//! ```
//! use std::path::Path;
//!
//! use convnet_datasets::{DataLoader, Dataset, DatasetKind, LoaderConfig, Split};
//!
//! // The embedded digits: no data directory is read, nothing is downloaded.
//! let train = Dataset::load(DatasetKind::Digits, Split::Train, Path::new("unused"))?;
//! assert_eq!(train.len(), 1437);
//! assert_eq!(train.image_shape, [1, 8, 8]);
//! assert_eq!(train.num_classes(), 10);
//!
//! // Shuffled, normalised batches of 100; the last of the 15 holds the remaining 37.
//! let loader = DataLoader::new(train, LoaderConfig::new(100, 42))?;
//! assert_eq!(loader.batches_per_epoch(), 15);
//! let batches = loader.epoch(0).collect::<Result<Vec<_>, _>>()?;
//! assert_eq!(batches[0].images.shape(), &[100, 1, 8, 8]);
//! assert_eq!(batches[14].labels.len(), 37);
//! # Ok::<(), convnet_datasets::DatasetError>(())
//! ```

#![warn(missing_docs)]

pub mod archive;
pub mod cache;
pub mod catalog;
pub mod cifar;
pub mod dataset;
pub mod digits;
pub mod download;
pub mod error;
pub mod folder;
pub mod fsutil;
pub mod idx;
pub mod loader;
mod prefetch;
pub mod resize;
mod source;
pub mod transform;

pub use catalog::DatasetKind;
pub use dataset::{DATA_ENV, Dataset, DatasetMeta, Split, data_dir};
pub use download::{Progress, download, download_files, download_with_progress};
pub use error::{DatasetError, Result};
pub use folder::{FolderOptions, FolderReport, Skipped, load_folder};
pub use fsutil::write_atomically;
pub use loader::{Batch, DataLoader, LoaderConfig, Shard};
pub use transform::{Augment, ColorJitter, ResizedCrop};
