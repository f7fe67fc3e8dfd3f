//! How the fixtures are cut from the original files: the first records of each, rebuilt as
//! valid files of the same format (an IDX header whose count is the new count; whole CIFAR-10
//! records; the CIFAR-10 class names unchanged). `regenerate-fixtures` writes them; the tests in
//! `tests/fixtures.rs` cut them again from `$CONVNET_DATA` and compare.
//!
//! The reader here is deliberately separate from convnet-datasets' (a few lines, no
//! validation beyond what cutting needs), so the figures it pins are an independent check on
//! that crate's readers.

use std::io::{Read, Write};
use std::path::Path;

use flate2::read::GzDecoder;
use flate2::{Compression, GzBuilder};

use crate::{Part, SplitFacts};

/// What one fixture file is made of.
#[derive(Debug, Clone, Copy)]
pub enum Recipe {
    /// The first `count` items of a gzipped IDX file (images or labels).
    IdxPrefix {
        /// Number of items kept (and written into the header).
        count: usize,
    },
    /// The first `count` 3,073-byte records of a CIFAR-10 batch.
    CifarPrefix {
        /// Number of records kept.
        count: usize,
    },
    /// The original file, byte for byte.
    Copy,
}

/// One fixture: its path under `fixtures/`, the original it is cut from (relative to the data
/// directory) and how.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Where the fixture lives, relative to `fixtures/`.
    pub path: &'static str,
    /// The original file it is cut from, relative to the data directory.
    pub original: &'static str,
    /// How it is cut.
    pub recipe: Recipe,
}

/// MNIST training images kept: enough for the CLI's short training run to hold out a
/// validation tenth and still train 28 batches of 128.
pub const MNIST_TRAIN: usize = 4000;
/// MNIST test images kept: the loader tests draw a batch of 1,000.
pub const MNIST_TEST: usize = 1000;
/// Fashion-MNIST training images kept.
pub const FASHION_TRAIN: usize = 600;
/// Fashion-MNIST test images kept.
pub const FASHION_TEST: usize = 200;
/// CIFAR-10 records kept from the first training batch.
pub const CIFAR_RECORDS: usize = 200;

const fn idx(path: &'static str, original: &'static str, count: usize) -> Spec {
    Spec {
        path,
        original,
        recipe: Recipe::IdxPrefix { count },
    }
}

/// Every fixture and how it is made.
pub const SPECS: &[Spec] = &[
    idx(
        "mnist/train-images-idx3-ubyte.gz",
        "mnist/train-images-idx3-ubyte.gz",
        MNIST_TRAIN,
    ),
    idx(
        "mnist/train-labels-idx1-ubyte.gz",
        "mnist/train-labels-idx1-ubyte.gz",
        MNIST_TRAIN,
    ),
    idx(
        "mnist/t10k-images-idx3-ubyte.gz",
        "mnist/t10k-images-idx3-ubyte.gz",
        MNIST_TEST,
    ),
    idx(
        "mnist/t10k-labels-idx1-ubyte.gz",
        "mnist/t10k-labels-idx1-ubyte.gz",
        MNIST_TEST,
    ),
    idx(
        "fashion-mnist/train-images-idx3-ubyte.gz",
        "fashion-mnist/train-images-idx3-ubyte.gz",
        FASHION_TRAIN,
    ),
    idx(
        "fashion-mnist/train-labels-idx1-ubyte.gz",
        "fashion-mnist/train-labels-idx1-ubyte.gz",
        FASHION_TRAIN,
    ),
    idx(
        "fashion-mnist/t10k-images-idx3-ubyte.gz",
        "fashion-mnist/t10k-images-idx3-ubyte.gz",
        FASHION_TEST,
    ),
    idx(
        "fashion-mnist/t10k-labels-idx1-ubyte.gz",
        "fashion-mnist/t10k-labels-idx1-ubyte.gz",
        FASHION_TEST,
    ),
    Spec {
        path: "cifar-10/data_batch_1_first200.bin",
        original: "cifar-10/data_batch_1_first4000.bin",
        recipe: Recipe::CifarPrefix {
            count: CIFAR_RECORDS,
        },
    },
    Spec {
        path: "cifar-10/batches.meta.txt",
        original: "cifar-10/batches.meta.txt",
        recipe: Recipe::Copy,
    },
];

const CIFAR_RECORD: usize = 1 + 3 * 32 * 32;

/// Reads a file, gunzipping it when its name ends in `.gz`.
pub fn read_plain(path: &Path) -> Result<Vec<u8>, String> {
    let raw = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    plain(raw, &path.display().to_string())
}

/// The content of a file's bytes `raw`: gunzipped when `name` ends in `.gz`.
pub fn plain(raw: Vec<u8>, name: &str) -> Result<Vec<u8>, String> {
    if !name.ends_with(".gz") {
        return Ok(raw);
    }
    let mut out = Vec::new();
    GzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .map_err(|e| format!("{name}: gunzip: {e}"))?;
    Ok(out)
}

/// The first `count` items of decompressed IDX bytes, with the header's count rewritten.
fn idx_prefix(plain: &[u8], count: usize, name: &str) -> Result<Vec<u8>, String> {
    let rank = *plain.get(3).ok_or(format!("{name}: no IDX header"))? as usize;
    let header = 4 + 4 * rank;
    let dim = |i: usize| -> Result<usize, String> {
        let b = plain
            .get(4 + 4 * i..8 + 4 * i)
            .ok_or(format!("{name}: IDX header cut short"))?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let have = dim(0)?;
    if count > have {
        return Err(format!(
            "{name}: asked for {count} items, file holds {have}"
        ));
    }
    let item: usize = (1..rank).map(dim).product::<Result<usize, String>>()?;
    let end = header + count * item;
    if plain.len() < end {
        return Err(format!("{name}: payload shorter than its header says"));
    }
    let mut out = plain[..end].to_vec();
    out[4..8].copy_from_slice(&(count as u32).to_be_bytes());
    Ok(out)
}

/// Gzips with a fixed header (the uncompressed file's name, mtime 0) so that the same bytes
/// always give the same file.
fn gzip(plain: &[u8], name: &str) -> Vec<u8> {
    let mut enc = GzBuilder::new()
        .filename(name)
        .mtime(0)
        .write(Vec::new(), Compression::best());
    enc.write_all(plain).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

/// Builds the file `spec` describes from the originals under `originals`: the bytes to commit.
pub fn make(spec: &Spec, originals: &Path) -> Result<Vec<u8>, String> {
    let source = originals.join(spec.original);
    match spec.recipe {
        Recipe::Copy => std::fs::read(&source).map_err(|e| format!("{}: {e}", source.display())),
        Recipe::CifarPrefix { count } => {
            let plain = read_plain(&source)?;
            let end = count * CIFAR_RECORD;
            if plain.len() < end {
                return Err(format!(
                    "{}: holds fewer than {count} records",
                    source.display()
                ));
            }
            Ok(plain[..end].to_vec())
        }
        Recipe::IdxPrefix { count } => {
            let plain = read_plain(&source)?;
            let cut = idx_prefix(&plain, count, &source.display().to_string())?;
            let inner = spec
                .path
                .rsplit('/')
                .next()
                .unwrap_or(spec.path)
                .trim_end_matches(".gz");
            Ok(gzip(&cut, inner))
        }
    }
}

/// Count, class counts and mean pixel of `folder`'s `part` under `dir`, read with the plain
/// reader above (CIFAR-10: every `data_batch_*.bin`, whatever `part` says).
pub fn facts_of(dir: &Path, folder: &str, part: Part) -> Result<SplitFacts, String> {
    let (pixels, labels): (Vec<u8>, Vec<u8>) = if folder == "cifar-10" {
        let mut found: Vec<_> = std::fs::read_dir(dir.join(folder))
            .map_err(|e| format!("{folder}: {e}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("data_batch_") && n.ends_with(".bin"))
            })
            .collect();
        found.sort();
        let (mut px, mut lb) = (Vec::new(), Vec::new());
        for f in found {
            for rec in read_plain(&f)?.chunks(CIFAR_RECORD) {
                lb.push(rec[0]);
                px.extend_from_slice(&rec[1..]);
            }
        }
        (px, lb)
    } else {
        let prefix = match part {
            Part::Train => "train",
            Part::Test => "t10k",
        };
        let at = |stem: &str| dir.join(folder).join(format!("{prefix}-{stem}-ubyte.gz"));
        let images = read_plain(&at("images-idx3"))?;
        let labels = read_plain(&at("labels-idx1"))?;
        (images[16..].to_vec(), labels[8..].to_vec())
    };
    let mut class_counts = [0; 10];
    for &l in &labels {
        *class_counts
            .get_mut(l as usize)
            .ok_or(format!("{folder}: label {l} is not in 0–9"))? += 1;
    }
    let total: u64 = pixels.iter().map(|&p| u64::from(p)).sum();
    Ok(SplitFacts {
        len: labels.len(),
        class_counts,
        mean_pixel: total as f64 / pixels.len() as f64 / 255.0,
    })
}
