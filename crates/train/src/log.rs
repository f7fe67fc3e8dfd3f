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
    /// Mean training loss per example over the epoch's steps.
    pub train_loss: f64,
    /// Top-1 accuracy on the training batches as they were trained, as a fraction.
    pub train_accuracy: f64,
    /// Mean validation loss per example, when there was validation data.
    pub val_loss: Option<f64>,
    /// Validation top-1 accuracy, as a fraction.
    pub val_accuracy: Option<f64>,
    /// Validation top-5 accuracy, as a fraction.
    pub val_top5: Option<f64>,
    /// The optimizer's learning rate as the epoch ended (before a per-epoch schedule
    /// advances it).
    pub learning_rate: f64,
    /// Wall time of the epoch's training steps, validation excluded.
    pub seconds: f64,
    /// Training images per second over the epoch's steps (those before a resume excluded).
    pub images_per_second: f64,
}

/// The CSV log's first line: the columns of [`EpochRecord::csv_row`].
pub const CSV_HEADER: &str = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_top5,learning_rate,seconds,images_per_second";

impl EpochRecord {
    /// The record as one CSV line without its newline, columns as in [`CSV_HEADER`]; absent
    /// validation figures are empty fields.
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
        Ok(CsvLog {
            path: path.to_path_buf(),
            file: open_for_append(path, CSV_HEADER)?,
        })
    }

    /// Appends `record` as one row and flushes it to the file.
    pub fn append(&mut self, record: &EpochRecord) -> Result<()> {
        writeln!(self.file, "{}", record.csv_row())
            .and_then(|_| self.file.flush())
            .map_err(|source| TrainError::Io {
                path: self.path.clone(),
                source,
            })
    }
}

/// Opens `path` for appending, creating its folder, and writes `header` if the file is new
/// or empty.
fn open_for_append(path: &Path, header: &str) -> Result<File> {
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
        writeln!(file, "{header}").map_err(err)?;
    }
    Ok(file)
}

/// The step log's first line.
pub const STEP_CSV_HEADER: &str = "step,epoch,batch,loss,learning_rate";

/// Appends one row per optimizer step — the training curve at full resolution, the loss
/// written so that it reads back to the same f64 — flushed as each step ends.
#[derive(Debug)]
pub struct StepLog {
    path: PathBuf,
    file: File,
}

impl StepLog {
    /// Opens `path` for appending (a resumed run continues it); writes the header if the file
    /// is new or empty.
    pub fn open(path: &Path) -> Result<StepLog> {
        Ok(StepLog {
            path: path.to_path_buf(),
            file: open_for_append(path, STEP_CSV_HEADER)?,
        })
    }

    /// Appends step `step` (1-based, counting the whole run) of `epoch` (1-based), batch
    /// `batch` of the epoch (0-based).
    pub fn append(
        &mut self,
        step: u64,
        epoch: u64,
        batch: usize,
        loss: f64,
        learning_rate: f64,
    ) -> Result<()> {
        writeln!(
            self.file,
            "{step},{epoch},{batch},{loss:e},{learning_rate:e}"
        )
        .and_then(|_| self.file.flush())
        .map_err(|source| TrainError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// Reads a CSV log written by [`CsvLog`]. A resumed run appends to its log, so an epoch can
/// appear more than once; the last row for an epoch wins, and records come back in epoch
/// order. A malformed file is an error naming the file and line.
pub fn read_csv_log(path: &Path) -> Result<Vec<EpochRecord>> {
    let text = std::fs::read_to_string(path).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad =
        |line: usize, why: String| TrainError::Invalid(format!("{}:{line}: {why}", path.display()));
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.trim() == CSV_HEADER => {}
        Some((_, header)) => {
            return Err(bad(
                1,
                format!("expected the header `{CSV_HEADER}`, found `{header}`"),
            ));
        }
        None => return Err(bad(1, "the file is empty".into())),
    }
    let mut by_epoch = std::collections::BTreeMap::new();
    for (i, line) in lines.filter(|(_, l)| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 9 {
            return Err(bad(
                i + 1,
                format!("expected 9 fields, found {}", fields.len()),
            ));
        }
        let num = |k: usize| {
            fields[k].parse::<f64>().map_err(|_| {
                bad(
                    i + 1,
                    format!("field {} `{}` is not a number", k + 1, fields[k]),
                )
            })
        };
        let opt = |k: usize| {
            if fields[k].is_empty() {
                Ok(None)
            } else {
                num(k).map(Some)
            }
        };
        let epoch = fields[0].parse::<u64>().map_err(|_| {
            bad(
                i + 1,
                format!("epoch `{}` is not a whole number", fields[0]),
            )
        })?;
        let record = EpochRecord {
            epoch,
            train_loss: num(1)?,
            train_accuracy: num(2)?,
            val_loss: opt(3)?,
            val_accuracy: opt(4)?,
            val_top5: opt(5)?,
            learning_rate: num(6)?,
            seconds: num(7)?,
            images_per_second: num(8)?,
        };
        by_epoch.insert(epoch, record);
    }
    Ok(by_epoch.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: u64, train_loss: f64, val: Option<f64>) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss,
            train_accuracy: 0.75,
            val_loss: val,
            val_accuracy: val.map(|v| v / 2.0),
            val_top5: None,
            learning_rate: 0.01,
            seconds: 2.5,
            images_per_second: 1000.0,
        }
    }

    #[test]
    fn a_written_log_reads_back_with_the_last_row_per_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        let mut log = CsvLog::open(&path).unwrap();
        for r in [
            record(1, 2.0, Some(1.0)),
            record(2, 1.5, None),
            record(2, 1.25, Some(0.5)),
        ] {
            log.append(&r).unwrap();
        }
        let back = read_csv_log(&path).unwrap();
        assert_eq!(
            back,
            vec![record(1, 2.0, Some(1.0)), record(2, 1.25, Some(0.5))]
        );
    }

    #[test]
    fn a_malformed_log_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        std::fs::write(
            &path,
            format!("{CSV_HEADER}\n1,0.5,0.9,,,,1e-2,1.0,10.0\n2,oops\n"),
        )
        .unwrap();
        let msg = read_csv_log(&path).unwrap_err().to_string();
        assert!(
            msg.contains("log.csv:3") && msg.contains("expected 9 fields"),
            "{msg}"
        );
        std::fs::write(&path, "a,b\n").unwrap();
        let msg = read_csv_log(&path).unwrap_err().to_string();
        assert!(
            msg.contains("log.csv:1") && msg.contains("expected the header"),
            "{msg}"
        );
    }
}
