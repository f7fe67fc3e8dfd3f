//! # convnet-train
//!
//! Training infrastructure for convnet models:
//! - [`fit`]: the training loop ([`Trainer::fit`]), [`evaluate`] and [`predict`];
//! - [`checkpoint`]: safetensors checkpoints (weights, optimizer and schedule state, position,
//!   seeds) with a checksum, written atomically and validated on load;
//! - [`metrics`]: loss averages, top-1/top-5 accuracy, confusion matrices;
//! - [`progress`]: a per-epoch progress bar that degrades to plain lines off a terminal;
//! - [`log`]: per-epoch records and their CSV log;
//! - [`callbacks`]: hooks into the loop, and early stopping;
//! - [`inspect`]: per-layer activation and gradient statistics;
//! - [`pictures`]: filter, feature-map and training-curve images (PNG).

pub mod callbacks;
pub mod checkpoint;
pub mod error;
pub mod fit;
pub mod inspect;
pub mod log;
pub mod metrics;
pub mod pictures;
pub mod progress;

pub use callbacks::{Callback, Control, EarlyStopping};
pub use checkpoint::{Checkpoint, TrainPosition};
pub use error::{Result, TrainError};
pub use fit::{EvalReport, FitConfig, FitReport, ScheduleUnit, Trainer, evaluate, predict};
pub use inspect::{LayerStats, TensorStats, format_layer_stats, layer_stats};
pub use log::{CsvLog, EpochRecord, read_csv_log};
pub use metrics::Running;
pub use pictures::{Image, feature_maps, filter_grid, training_curves};
pub use progress::{EpochProgress, ProgressMode};
