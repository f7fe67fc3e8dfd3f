//! # convnet-train
//!
//! Training infrastructure for convnet models:
//! - [`fit`]: the training loop ([`Trainer::fit`]); [`evaluation`]: [`evaluate`] and
//!   [`predict`];
//! - [`data_parallel`]: `fit` over several ranks ([`Trainer::set_communicator`]);
//! - [`checkpoint`]: safetensors checkpoints (weights, optimizer and schedule state, position,
//!   seeds) with a checksum, written atomically and validated on load;
//! - [`metrics`]: loss averages, top-1/top-5 accuracy, confusion matrices;
//! - [`progress`]: a per-epoch progress bar that degrades to plain lines off a terminal;
//! - [`log`]: per-epoch records and their CSV log;
//! - [`callbacks`]: hooks into the loop, and early stopping;
//! - [`inspect`]: per-layer activation and gradient statistics;
//! - [`lr_find`]: the learning-rate range test;
//! - [`pictures`]: filter, feature-map and training-curve images (PNG).
//!
//! A linear classifier fitted for three epochs to scikit-learn's digits, which are compiled
//! into convnet-datasets (no files, no network):
//!
//! ```
//! use std::path::Path;
//!
//! use convnet_datasets::{DataLoader, Dataset, DatasetKind, LoaderConfig, Split};
//! use convnet_nn::layers::{Flatten, Linear, Sequential};
//! use convnet_nn::{CrossEntropyLoss, Model};
//! use convnet_optim::SgdConfig;
//! use convnet_train::{FitConfig, ProgressMode, Trainer};
//!
//! let digits = Dataset::load(DatasetKind::Digits, Split::Train, Path::new("unused"))?;
//! let (train, val) = digits.split_off(337)?;
//! let train = DataLoader::new(train, LoaderConfig::new(50, 1))?;
//! let val = DataLoader::new(val, LoaderConfig::evaluation(337))?;
//!
//! let mut net = Sequential::<f32>::new("");
//! net.push(Flatten::new(net.next_name()));
//! net.push(Linear::new(net.next_name(), 64, 10));
//! let model = Model::new(net, &[1, 8, 8])?;
//! let sgd = SgdConfig::new(0.1).momentum(0.9).build::<f32>()?;
//! let mut trainer = Trainer::new(&model, CrossEntropyLoss::new(), Box::new(sgd), None, 7)?;
//!
//! let mut config = FitConfig::new(3, 7);
//! config.progress = ProgressMode::Silent;
//! let report = trainer.fit(&train, Some(&val), &config)?;
//! assert_eq!(report.step_losses.len(), 3 * 22); // 1,100 examples in batches of 50
//! assert_eq!(report.position.epoch, 3);
//! let last = report.history.last().unwrap();
//! assert!(last.train_loss < report.history[0].train_loss);
//! assert!(last.val_accuracy.unwrap() > 0.9, "{last:?}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod callbacks;
pub mod checkpoint;
pub mod data_parallel;
pub mod error;
pub mod evaluation;
pub mod fit;
pub mod inspect;
pub mod log;
pub mod lr_find;
pub mod metrics;
pub mod pictures;
pub mod progress;

pub use callbacks::{Callback, Control, EarlyStopping, StepInfo};
pub use checkpoint::{Checkpoint, TrainPosition};
pub use data_parallel::{CommunicationReport, replicas};
pub use error::{Result, TrainError};
pub use evaluation::{evaluate, predict};
pub use fit::{EvalReport, FitConfig, FitReport, ScheduleUnit, Trainer};
pub use inspect::{LayerStats, TensorStats, format_layer_stats, layer_stats};
pub use log::{CsvLog, EpochRecord, StepLog, read_csv_log};
pub use lr_find::{LrPoint, LrRangeTest};
pub use metrics::Running;
pub use pictures::{Image, feature_maps, filter_grid, training_curves};
pub use progress::{EpochProgress, ProgressMode};
