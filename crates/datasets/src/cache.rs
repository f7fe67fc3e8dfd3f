//! Finding a data set: the data directory the user named, else the per-user cache, else a
//! download into the cache — the way Keras and torchvision find theirs, so the default
//! command works on a fresh machine.
//!
//! - The cache is `$XDG_CACHE_HOME/convnet`, else `~/.cache/convnet`, with the same layout
//!   as a data directory (`mnist/`, `fashion-mnist/`, `cifar-10/`).
//! - Downloads are verified (SHA-256) and moved into place atomically (see
//!   [`download`](mod@crate::download)); `CONVNET_OFFLINE=1` (or the CLI's `--offline`)
//!   forbids them, and `CONVNET_MIRROR` replaces the publishers' servers by a mirror with the
//!   same file names.

use std::path::{Path, PathBuf};

use crate::catalog::DatasetKind;
use crate::dataset::Dataset;
use crate::download::{Progress, download_with_progress};
use crate::error::{DatasetError, Result};

/// Set to `1` (or `true`) to forbid downloads.
pub const OFFLINE_ENV: &str = "CONVNET_OFFLINE";
/// A base URL that replaces every data set's own (`<mirror>/<file name>`).
pub const MIRROR_ENV: &str = "CONVNET_MIRROR";

/// The per-user cache: `$XDG_CACHE_HOME/convnet`, else `$HOME/.cache/convnet`.
pub fn cache_dir() -> Option<PathBuf> {
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    nonempty("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| nonempty("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|c| c.join("convnet"))
}

/// Whether `CONVNET_OFFLINE` forbids downloading.
pub fn offline_from_env() -> bool {
    std::env::var(OFFLINE_ENV).is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
}

/// Whether `dir` holds `kind`'s training files (cheap: names only, nothing is read).
pub fn is_present(kind: DatasetKind, dir: &Path) -> bool {
    let folder = dir.join(kind.folder());
    match kind {
        DatasetKind::Digits => true,
        DatasetKind::Cifar10 => std::fs::read_dir(&folder).is_ok_and(|entries| {
            entries.filter_map(|e| e.ok()).any(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with("data_batch_") && n.ends_with(".bin"))
            })
        }),
        DatasetKind::Mnist | DatasetKind::FashionMnist => {
            ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]
                .iter()
                .all(|stem| {
                    folder.join(format!("{stem}.gz")).is_file() || folder.join(stem).is_file()
                })
        }
    }
}

/// How [`locate`] may get a data set that is not on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// Download into the cache, from `mirror` when given, else the publishers' servers.
    Download {
        /// Base URL the file names are appended to, in place of the publishers'
        /// (`CONVNET_MIRROR`).
        mirror: Option<String>,
    },
    /// Never touch the network.
    Offline,
}

impl Fetch {
    /// From the environment: `CONVNET_OFFLINE` and `CONVNET_MIRROR`.
    pub fn from_env() -> Fetch {
        if offline_from_env() {
            Fetch::Offline
        } else {
            Fetch::Download {
                mirror: std::env::var(MIRROR_ENV).ok().filter(|m| !m.is_empty()),
            }
        }
    }
}

/// The directory to load `kind` from: `data_dir` when it holds the files, else the cache
/// when it does, else the cache after downloading into it (unless `fetch` is offline).
/// The error for a data set that cannot be had says where it looked and what to do.
pub fn locate(
    kind: DatasetKind,
    data_dir: &Path,
    fetch: &Fetch,
    progress: Progress<'_>,
) -> Result<PathBuf> {
    locate_in(kind, data_dir, cache_dir().as_deref(), fetch, progress)
}

/// [`locate`] with the cache folder given (`None`: no cache).
pub fn locate_in(
    kind: DatasetKind,
    data_dir: &Path,
    cache: Option<&Path>,
    fetch: &Fetch,
    progress: Progress<'_>,
) -> Result<PathBuf> {
    if is_present(kind, data_dir) {
        return Ok(data_dir.to_path_buf());
    }
    let cache = cache.map(Path::to_path_buf);
    if let Some(c) = &cache
        && is_present(kind, c)
    {
        return Ok(c.clone());
    }
    let missing = |why: String| DatasetError::Missing {
        dataset: kind.name(),
        path: data_dir.join(kind.folder()),
        hint: format!("{why} {}", kind.how_to_get()),
    };
    let mirror = match fetch {
        Fetch::Offline => {
            return Err(missing(format!(
                "Not in the cache either{}, and downloading is off (--offline or {OFFLINE_ENV}).",
                cache
                    .as_ref()
                    .map(|c| format!(" ({})", c.display()))
                    .unwrap_or_default()
            )));
        }
        Fetch::Download { mirror } => mirror.as_deref(),
    };
    let cache = cache.ok_or_else(|| {
        missing("There is no cache folder to download into (set XDG_CACHE_HOME or HOME).".into())
    })?;
    download_with_progress(kind, &cache, mirror, progress)?;
    // What was downloaded must read: a mirror serving other files would fail here, named.
    Dataset::load(kind, crate::dataset::Split::Train, &cache)?;
    Ok(cache)
}
