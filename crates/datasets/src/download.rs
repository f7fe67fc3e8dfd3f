//! Fetches a data set's standard files, verifies each against its published SHA-256 and only
//! then moves it into place: written to a temporary file in the same folder, flushed to disk,
//! and renamed, so an interrupted or corrupt download never leaves a half-written file where a
//! reader would find it. Files already present with the right checksum are not fetched again.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::catalog::{DatasetKind, RemoteFile};
use crate::error::{DatasetError, Result, io};
use crate::fsutil::write_atomically;

/// Largest file we accept from a server (the largest real file, CIFAR-10's archive, is 170 MB).
const MAX_DOWNLOAD: u64 = 256 << 20;

/// Hex SHA-256 of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How a download advances: `(file name, bytes so far, total if the server said)`, called
/// as data arrives (a progress bar, or nothing).
pub type Progress<'a> = &'a mut dyn FnMut(&str, u64, Option<u64>);

/// Downloads the files of `kind` into `dir/<folder>/` from `base_url` (the standard mirror
/// when `None`). Returns the paths of the files now in place.
pub fn download(kind: DatasetKind, dir: &Path, base_url: Option<&str>) -> Result<Vec<PathBuf>> {
    download_with_progress(kind, dir, base_url, &mut |_, _, _| {})
}

/// [`download`], reporting progress. CIFAR-10's archive is verified, unpacked (only its
/// batches, safely: [`crate::archive`]) and removed.
pub fn download_with_progress(
    kind: DatasetKind,
    dir: &Path,
    base_url: Option<&str>,
    progress: Progress<'_>,
) -> Result<Vec<PathBuf>> {
    let base = base_url.or(kind.default_base_url()).ok_or_else(|| {
        DatasetError::Invalid(format!(
            "{kind}: no download is available. {}",
            kind.how_to_get()
        ))
    })?;
    let folder = dir.join(kind.folder());
    match kind.archive() {
        None => fetch_files(kind.remote_files(), &folder, base, progress),
        Some(archive) => {
            let placed = fetch_files(&[archive], &folder, base, progress)?;
            let unpacked = crate::archive::unpack_cifar_archive(&placed[0], &folder);
            let _ = fs::remove_file(&placed[0]);
            unpacked
        }
    }
}

/// Downloads each of `files` from `base_url/<name>` into `folder`, verifying its SHA-256
/// before it is moved into place; a file already there with the right checksum is kept.
/// Returns the paths of the files now in place.
pub fn download_files(files: &[RemoteFile], folder: &Path, base_url: &str) -> Result<Vec<PathBuf>> {
    fetch_files(files, folder, base_url, &mut |_, _, _| {})
}

fn fetch_files(
    files: &[RemoteFile],
    folder: &Path,
    base_url: &str,
    progress: Progress<'_>,
) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(folder).map_err(io(folder))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into();
    let mut placed = Vec::new();
    for file in files {
        let target = folder.join(file.name);
        if let Ok(existing) = fs::read(&target)
            && sha256_hex(&existing) == file.sha256
        {
            placed.push(target);
            continue;
        }
        let url = format!("{}/{}", base_url.trim_end_matches('/'), file.name);
        let bytes = fetch(&agent, &url, &mut |done, total| {
            progress(file.name, done, total)
        })?;
        let got = sha256_hex(&bytes);
        if got != file.sha256 {
            return Err(DatasetError::Checksum {
                name: file.name.to_string(),
                expected: file.sha256.to_string(),
                got,
            });
        }
        write_atomically(&target, &bytes)?;
        placed.push(target);
    }
    Ok(placed)
}

fn fetch(
    agent: &ureq::Agent,
    url: &str,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<Vec<u8>> {
    let fail = |detail: String| DatasetError::Download {
        url: url.to_string(),
        detail,
    };
    let mut response = agent.get(url).call().map_err(|e| fail(e.to_string()))?;
    let total = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if total.is_some_and(|t| t > MAX_DOWNLOAD) {
        return Err(fail(format!(
            "the server announces {} bytes, over the {MAX_DOWNLOAD}-byte limit",
            total.unwrap_or(0)
        )));
    }
    let mut reader = response
        .body_mut()
        .with_config()
        .limit(MAX_DOWNLOAD)
        .reader();
    let mut bytes = Vec::with_capacity(total.unwrap_or(0).min(MAX_DOWNLOAD) as usize);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut chunk).map_err(|e| fail(e.to_string()))?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
        progress(bytes.len() as u64, total);
    }
    if total.is_some_and(|t| t != bytes.len() as u64) {
        return Err(fail(format!(
            "the connection ended after {} of {} bytes",
            bytes.len(),
            total.unwrap_or(0)
        )));
    }
    Ok(bytes)
}
