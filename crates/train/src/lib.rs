//! # convnet-train
//!
//! Training infrastructure for convnet models:
//! - [`fit`]: the training loop ([`Trainer::fit`]), [`evaluate`] and [`predict`];
//! - [`checkpoint`]: safetensors checkpoints (weights, optimizer and schedule state, position,
//!   seeds) with a checksum, written atomically and validated on load;
//! - [`metrics`]: loss averages, top-1/top-5 accuracy, confusion matrices;
//! - [`progress`]: a per-epoch progress bar that degrades to plain lines off a terminal;
//! - [`log`]: per-epoch records and their CSV log;
//! - [`callbacks`]: hooks into the loop, and early stopping.

pub mod callbacks;
pub mod checkpoint;
pub mod error;
pub mod fit;
pub mod log;
pub mod metrics;
pub mod progress;

pub use callbacks::{Callback, Control, EarlyStopping};
pub use checkpoint::{Checkpoint, TrainPosition};
pub use error::{Result, TrainError};
pub use fit::{EvalReport, FitConfig, FitReport, ScheduleUnit, Trainer, evaluate, predict};
pub use log::{CsvLog, EpochRecord};
pub use metrics::Running;
pub use progress::{EpochProgress, ProgressMode};
