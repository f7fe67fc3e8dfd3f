//! # convnet-datasets
//!
//! Readers for MNIST and Fashion-MNIST (IDX, gzipped or not) and CIFAR-10 (binary records) in
//! their original formats, validated so that a truncated or corrupt file is an error naming
//! the file, the byte offset and what was expected; a [`DataLoader`] with seeded shuffling,
//! augmentation and prefetching; and a checksum-verifying downloader.
//!
//! Data is found in the directory named by `CONVNET_DATA` (folders `mnist/`,
//! `fashion-mnist/`, `cifar-10/`).

pub mod archive;
pub mod cache;
pub mod catalog;
pub mod cifar;
pub mod dataset;
pub mod digits;
pub mod download;
pub mod error;
pub mod fsutil;
pub mod idx;
pub mod loader;
mod prefetch;
pub mod resize;
mod source;

pub use catalog::DatasetKind;
pub use dataset::{DATA_ENV, Dataset, Split, data_dir};
pub use download::{Progress, download, download_files, download_with_progress};
pub use error::{DatasetError, Result};
pub use fsutil::write_atomically;
pub use loader::{Augment, Batch, DataLoader, LoaderConfig};
