//! scikit-learn's 8×8 handwritten digits (1,797 images, 10 classes; Alpaydin and Kaynak 1998),
//! compiled into the crate so that convnet trains with no network and no files at all.
//! Source, checksum and licence: `data/README.md`.
//!
//! Pixels are 0–16 in the file; they are scaled to 0–255 (`round(v · 255 / 16)`) so the data
//! set looks like the others. The first 1,437 rows are the training split, the last 360 the
//! test split.

use std::io::Read;

use flate2::read::GzDecoder;

use crate::catalog::DatasetKind;
use crate::dataset::{Dataset, Split};
use crate::error::{DatasetError, Result};

const CSV_GZ: &[u8] = include_bytes!("../data/digits.csv.gz");
/// What errors call the embedded file.
const NAME: &str = "digits.csv.gz (embedded)";
/// Rows in the file (one image each).
pub const ROWS: usize = 1797;
/// The last rows, kept as the test split.
pub const TEST_ROWS: usize = 360;
const PIXELS: usize = 64;

fn invalid(detail: String) -> DatasetError {
    DatasetError::Invalid(format!("{NAME}: {detail}"))
}

/// One split of the embedded digits.
pub(crate) fn load(split: Split) -> Result<Dataset> {
    let mut text = String::new();
    // The embedded file is 57 KB; 1 MiB bounds its decompression all the same.
    GzDecoder::new(CSV_GZ)
        .take(1 << 20)
        .read_to_string(&mut text)
        .map_err(|e| invalid(format!("gunzip: {e}")))?;
    let rows: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if rows.len() != ROWS {
        return Err(invalid(format!("{} rows, expected {ROWS}", rows.len())));
    }
    let range = match split {
        Split::Train => 0..ROWS - TEST_ROWS,
        Split::Test => ROWS - TEST_ROWS..ROWS,
    };
    let mut images = Vec::with_capacity(range.len() * PIXELS);
    let mut labels = Vec::with_capacity(range.len());
    for (i, row) in rows[range.clone()].iter().enumerate() {
        let at = range.start + i + 1;
        let fields: Vec<&str> = row.split(',').collect();
        if fields.len() != PIXELS + 1 {
            return Err(invalid(format!(
                "row {at} has {} fields, expected {}",
                fields.len(),
                PIXELS + 1
            )));
        }
        let value = |s: &str, max: f64| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.fract() == 0.0 && (0.0..=max).contains(v))
                .ok_or_else(|| invalid(format!("row {at}: `{s}` is not a whole number in 0–{max}")))
        };
        for f in &fields[..PIXELS] {
            images.push((value(f, 16.0)? * 255.0 / 16.0).round() as u8);
        }
        labels.push(value(fields[PIXELS], 9.0)? as u8);
    }
    Dataset::from_raw(DatasetKind::Digits, images, labels)
}
