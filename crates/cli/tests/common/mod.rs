//! What the `convnet` binary's tests share: running it isolated, and reading what it said.

#![allow(dead_code)] // each test file uses its own part

pub mod browser;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use convnet_train::Checkpoint;

/// Where the tests' data is: `$CONVNET_DATA`, else the committed fixtures.
pub fn data_dir() -> PathBuf {
    convnet_testdata::test_data().dir
}

/// The binary, isolated: no download ever (tests never need the internet) and a cache folder
/// of its own, never the user's.
pub fn isolated() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_convnet"));
    c.env("CONVNET_OFFLINE", "1").env(
        "XDG_CACHE_HOME",
        std::env::temp_dir().join(format!("convnet-cli-tests-{}", std::process::id())),
    );
    c
}

/// Runs `convnet ARGS` isolated, reading the tests' data.
pub fn convnet(args: &[&str]) -> Output {
    isolated()
        .args(args)
        .env("CONVNET_DATA", data_dir())
        .output()
        .expect("the convnet binary runs")
}

/// Everything it printed, stdout then stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A checkpoint's parameters as (shape, bits), by name: equal means bit-identical.
pub fn params_of(path: &Path) -> std::collections::BTreeMap<String, (Vec<usize>, Vec<u32>)> {
    Checkpoint::<f32>::load(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .params
        .into_iter()
        .map(|(name, t)| {
            let bits = t.to_vec().iter().map(|v| v.to_bits()).collect();
            (name, (t.shape().to_vec(), bits))
        })
        .collect()
}

/// Saves a 28×28 gray digit as `<stem>.png`, `<stem>.jpg` or an RGB `<stem>-rgb.png`, by
/// `i % 3` (the kinds of files a user has), returning the path.
pub fn save_digit(dir: &Path, stem: &str, i: usize, pixels: &[u8]) -> PathBuf {
    let gray = image::GrayImage::from_raw(28, 28, pixels.to_vec()).expect("28×28 pixels");
    let path = match i % 3 {
        0 => dir.join(format!("{stem}.png")),
        1 => dir.join(format!("{stem}.jpg")),
        _ => dir.join(format!("{stem}-rgb.png")),
    };
    let saved = match i % 3 {
        0 | 1 => gray.save(&path),
        _ => image::DynamicImage::ImageLuma8(gray).to_rgb8().save(&path),
    };
    saved.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}
