//! The CIFAR-10 binary format (Krizhevsky 2009): records of 3,073 bytes, one label byte (0–9)
//! then 1,024 red, 1,024 green and 1,024 blue bytes, each plane 32×32 row-major. Files hold
//! any whole number of records (the shared subset holds 4,000).

use std::path::Path;

use crate::error::Result;
use crate::source::Source;

/// Bytes of one record: the label byte and the three 32×32 planes.
pub const RECORD_BYTES: usize = 1 + 3 * 32 * 32;
const IMAGE_BYTES: usize = RECORD_BYTES - 1;

/// Most records one file may hold: all 60,000 images of CIFAR-10 (184 MB), six times the
/// 10,000 of a real batch. The format has no header, so this is what bounds the memory a
/// (gzipped) file can make the reader take, together with the deflate bound of `Source`.
pub const MAX_RECORDS: usize = 60_000;

/// Reads one CIFAR-10 binary batch file: `(images [N·3·32·32], labels [N])`.
pub fn read_cifar_batch(path: &Path) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut src = Source::open(path)?;
    if let Some(len) = src.remaining_hint()
        && (len == 0 || len % RECORD_BYTES as u64 != 0)
    {
        return Err(src.format_error(
            len - len % RECORD_BYTES as u64,
            format!(
                "file size {len} is not a positive multiple of the {RECORD_BYTES}-byte record \
                 ({} whole records, {} bytes left over)",
                len / RECORD_BYTES as u64,
                len % RECORD_BYTES as u64
            ),
        ));
    }
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    let mut record = vec![0u8; RECORD_BYTES];
    loop {
        let start = src.offset();
        let got = src.read_some(&mut record)?;
        if got == 0 {
            break;
        }
        if labels.len() == MAX_RECORDS {
            return Err(src.format_error(
                start,
                format!("more than {MAX_RECORDS} records: not a CIFAR-10 batch file"),
            ));
        }
        if got < RECORD_BYTES {
            return Err(src.format_error(
                start + got as u64,
                format!(
                    "file ends inside record {}: expected {RECORD_BYTES} bytes, found {got}",
                    labels.len()
                ),
            ));
        }
        if record[0] > 9 {
            return Err(src.format_error(
                start,
                format!(
                    "record {} has label {}, expected 0–9",
                    labels.len(),
                    record[0]
                ),
            ));
        }
        labels.push(record[0]);
        images.extend_from_slice(&record[1..]);
    }
    if labels.is_empty() {
        return Err(src.format_error(0, "no records"));
    }
    debug_assert_eq!(images.len(), labels.len() * IMAGE_BYTES);
    Ok((images, labels))
}
