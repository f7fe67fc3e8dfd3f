//! Where the tests find the real data: `$CONVNET_DATA`, else the workspace's `../shared/data`.

use std::path::PathBuf;

pub fn data_dir() -> PathBuf {
    std::env::var_os("CONVNET_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}
