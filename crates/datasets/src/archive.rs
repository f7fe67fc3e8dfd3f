//! Unpacking CIFAR-10's official `cifar-10-binary.tar.gz` without trusting it: the archive is
//! read entry by entry and nothing is written where an entry's path says. Only the seven
//! files convnet reads are taken, by name, into `folder`; each must be a regular file of a
//! checked size (a batch: whole 3,073-byte records, at most 10,000 of them as in the official
//! archive; the class names: at most 4 KiB), and an entry whose path is absolute or climbs
//! out with `..` makes the whole archive refused — a well-formed official archive has none.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;

use crate::cifar::RECORD_BYTES;
use crate::error::{DatasetError, Result, io};
use crate::fsutil::write_atomically;

/// The files taken from the archive and the most bytes each may have (`None`: small text).
const MEMBERS: [(&str, Option<u64>); 7] = [
    ("data_batch_1.bin", Some(BATCH_BYTES)),
    ("data_batch_2.bin", Some(BATCH_BYTES)),
    ("data_batch_3.bin", Some(BATCH_BYTES)),
    ("data_batch_4.bin", Some(BATCH_BYTES)),
    ("data_batch_5.bin", Some(BATCH_BYTES)),
    ("test_batch.bin", Some(BATCH_BYTES)),
    ("batches.meta.txt", None),
];
const BATCH_BYTES: u64 = 10_000 * RECORD_BYTES as u64;
const MAX_TEXT_BYTES: u64 = 4096;

/// Unpacks the batches of the CIFAR-10 binary archive at `archive` into `folder`. Returns the
/// files written. On any error nothing is left in `folder`, and the error names the archive
/// and the entry.
pub fn unpack_cifar_archive(archive: &Path, folder: &Path) -> Result<Vec<PathBuf>> {
    let fail = |detail: String| DatasetError::Format {
        path: archive.to_path_buf(),
        offset: 0,
        detail,
    };
    let file = std::fs::File::open(archive).map_err(io(archive))?;
    let mut tar = tar::Archive::new(GzDecoder::new(std::io::BufReader::new(file)));
    // Members are staged and moved into `folder` only once the whole archive has passed, so
    // a refused archive leaves nothing behind.
    let staging = folder.join(format!(".unpack-{}", std::process::id()));
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    let result = unpack_into(&mut tar, &staging, &fail).and_then(|names| {
        let mut placed = Vec::new();
        for name in names {
            let target = folder.join(name);
            std::fs::rename(staging.join(name), &target).map_err(io(&target))?;
            placed.push(target);
        }
        Ok(placed)
    });
    let _ = std::fs::remove_dir_all(&staging);
    result
}

fn unpack_into<R: Read>(
    tar: &mut tar::Archive<R>,
    staging: &Path,
    fail: &dyn Fn(String) -> DatasetError,
) -> Result<Vec<&'static str>> {
    let mut placed = Vec::new();
    let entries = tar
        .entries()
        .map_err(|e| fail(format!("not a tar.gz archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| fail(format!("unreadable entry: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| fail(format!("entry with an unreadable path: {e}")))?
            .into_owned();
        if path.is_absolute()
            || path.components().any(|c| {
                matches!(
                    c,
                    Component::ParentDir | Component::RootDir | Component::Prefix(_)
                )
            })
        {
            return Err(fail(format!(
                "entry `{}` points outside the archive's folder: refused",
                path.display()
            )));
        }
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(&(member, size)) = MEMBERS.iter().find(|(m, _)| *m == name) else {
            continue; // readme.html and the like
        };
        if !entry.header().entry_type().is_file() {
            return Err(fail(format!(
                "entry `{}` is not a regular file",
                path.display()
            )));
        }
        let declared = entry.size();
        let ok = match size {
            Some(max) => declared > 0 && declared <= max && declared % RECORD_BYTES as u64 == 0,
            None => declared <= MAX_TEXT_BYTES,
        };
        if !ok {
            return Err(fail(format!(
                "entry `{}` has {declared} bytes, expected {}",
                path.display(),
                size.map_or(format!("at most {MAX_TEXT_BYTES}"), |max| format!(
                    "whole {RECORD_BYTES}-byte records, at most {max} bytes"
                ))
            )));
        }
        let mut bytes = Vec::with_capacity(declared as usize);
        // `take` bounds the read by the checked size whatever the stream holds.
        (&mut entry)
            .take(declared)
            .read_to_end(&mut bytes)
            .map_err(|e| fail(format!("entry `{}`: {e}", path.display())))?;
        if bytes.len() as u64 != declared {
            return Err(fail(format!(
                "entry `{}` ends after {} of its {declared} bytes",
                path.display(),
                bytes.len()
            )));
        }
        write_atomically(&staging.join(member), &bytes)?;
        placed.push(member);
    }
    if !placed.contains(&"data_batch_1.bin") {
        return Err(fail(
            "holds no cifar-10-batches-bin/data_batch_1.bin".into(),
        ));
    }
    Ok(placed)
}
