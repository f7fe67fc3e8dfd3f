//! The per-epoch record of a run and its CSV log (one row per epoch, appended and flushed as
//! each epoch ends, so a crashed run keeps its curve).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Result, TrainError};

/// What one epoch produced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: u64,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub val_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
    pub val_top5: Option<f64>,
    pub learning_rate: f64,
    pub seconds: f64,
    pub images_per_second: f64,
}

pub const CSV_HEADER: &str = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_top5,learning_rate,seconds,images_per_second";

impl EpochRecord {
    pub fn csv_row(&self) -> String {
        let opt = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
        format!(
            "{},{:.6},{:.6},{},{},{},{:e},{:.3},{:.1}",
            self.epoch,
            self.train_loss,
            self.train_accuracy,
            opt(self.val_loss),
            opt(self.val_accuracy),
            opt(self.val_top5),
            self.learning_rate,
            self.seconds,
            self.images_per_second
        )
    }
}

/// Appends epoch rows to a CSV file.
#[derive(Debug)]
pub struct CsvLog {
    path: PathBuf,
    file: File,
}

impl CsvLog {
    /// Opens `path` for appending (a resumed run continues its log); writes the header if the
    /// file is new or empty.
    pub fn open(path: &Path) -> Result<CsvLog> {
        let err = |source| TrainError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(err)?;
        if file.metadata().map_err(err)?.len() == 0 {
            writeln!(file, "{CSV_HEADER}").map_err(err)?;
        }
        Ok(CsvLog {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn append(&mut self, record: &EpochRecord) -> Result<()> {
        writeln!(self.file, "{}", record.csv_row())
            .and_then(|_| self.file.flush())
            .map_err(|source| TrainError::Io {
                path: self.path.clone(),
                source,
            })
    }
}
