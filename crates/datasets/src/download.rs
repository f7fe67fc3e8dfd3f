//! Fetches a data set's standard files, verifies each against its published SHA-256 and only
//! then moves it into place: written to a temporary file in the same folder, flushed to disk,
//! and renamed, so an interrupted or corrupt download never leaves a half-written file where a
//! reader would find it. Files already present with the right checksum are not fetched again.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::catalog::{DatasetKind, RemoteFile};
use crate::error::{DatasetError, Result, io};
use crate::fsutil::write_atomically;

/// Largest file we accept from a server (the largest real file is 26 MB).
const MAX_DOWNLOAD: u64 = 256 << 20;

/// Hex SHA-256 of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Downloads the files of `kind` into `dir/<folder>/` from `base_url` (the standard mirror
/// when `None`). Returns the paths of the files now in place.
pub fn download(kind: DatasetKind, dir: &Path, base_url: Option<&str>) -> Result<Vec<PathBuf>> {
    let base = base_url.or(kind.default_base_url()).ok_or_else(|| {
        DatasetError::Invalid(format!(
            "{kind}: no download is available. {}",
            kind.how_to_get()
        ))
    })?;
    download_files(kind.remote_files(), &dir.join(kind.folder()), base)
}

/// Downloads each of `files` from `base_url/<name>` into `folder`, verifying its SHA-256
/// before it is moved into place; a file already there with the right checksum is kept.
/// Returns the paths of the files now in place.
pub fn download_files(files: &[RemoteFile], folder: &Path, base_url: &str) -> Result<Vec<PathBuf>> {
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
        let bytes = fetch(&agent, &url)?;
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

fn fetch(agent: &ureq::Agent, url: &str) -> Result<Vec<u8>> {
    let fail = |detail: String| DatasetError::Download {
        url: url.to_string(),
        detail,
    };
    let mut response = agent.get(url).call().map_err(|e| fail(e.to_string()))?;
    response
        .body_mut()
        .with_config()
        .limit(MAX_DOWNLOAD)
        .read_to_vec()
        .map_err(|e| fail(e.to_string()))
}
