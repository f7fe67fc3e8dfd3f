//! Where convnet's tests find real data, and what each data set must show there.
//!
//! A test that needs data calls [`test_data`]. With `CONVNET_DATA` set, that directory is used:
//! the full, original data sets, as CI has them, checked against the figures their publishers
//! give. Otherwise the tests use the small real-data fixtures committed in this crate's
//! `fixtures/` folder — prefixes of the original files, cut by [`cut`] and described in
//! `README.md` — so `cargo test --workspace` passes on a fresh clone with no data beside it.
//! With neither, [`test_data`] panics with a message that says what to set: a data test never
//! passes by skipping.
//!
//! This crate depends on no other convnet crate (it is a dev-dependency of several), so it
//! names data sets by their folder (`mnist`, `fashion-mnist`, `cifar-10`).
//!
//! ```
//! use convnet_testdata::sweep::{Damage, damages};
//! use convnet_testdata::{Part, SPLITS, fixture_files};
//!
//! // The four MNIST fixtures, named relative to the `mnist/` folder.
//! let mnist = fixture_files("mnist");
//! assert_eq!(mnist.len(), 4);
//! assert!(mnist.iter().any(|f| f.path == "t10k-labels-idx1-ubyte.gz"));
//! assert!(SPLITS.contains(&("cifar-10", Part::Train)));
//!
//! // A 10-byte file is damaged 20 ways: every truncation and a flip at every offset.
//! assert_eq!(damages(10, 4096, 0, 7).len(), 20);
//! assert_eq!(Damage::Truncate(3).apply(b"abcdef"), b"abc");
//! ```

#![warn(missing_docs)]

use std::path::{Path, PathBuf};

pub mod cut;
pub mod sweep;

/// The environment variable naming the full data directory.
pub const DATA_ENV: &str = "CONVNET_DATA";

/// Which data the tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `$CONVNET_DATA`: the complete original files.
    Full,
    /// The fixtures committed in this crate.
    Fixtures,
}

/// The training or the test split of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The training split (MNIST's `train-*` files, CIFAR-10's `data_batch_*.bin`).
    Train,
    /// The test split (MNIST's `t10k-*` files).
    Test,
}

/// What a split must show when read: its size, images per class, and mean pixel (÷ 255).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitFacts {
    /// Number of images (and labels).
    pub len: usize,
    /// Images per class, indexed by label 0–9.
    pub class_counts: [usize; 10],
    /// Mean of every pixel value of every image, divided by 255 (so in 0–1).
    pub mean_pixel: f64,
}

/// The data directory the tests use, and where it came from.
#[derive(Debug, Clone)]
pub struct TestData {
    /// The data directory, holding `mnist/`, `fashion-mnist/` and `cifar-10/`.
    pub dir: PathBuf,
    /// Whether `dir` holds the full data sets or the committed fixtures.
    pub origin: Origin,
}

/// The folder holding the committed fixtures.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The data the tests run on: `$CONVNET_DATA` when set, else the committed fixtures.
///
/// # Panics
/// When `CONVNET_DATA` names a directory that does not exist, or when it is unset and the
/// fixtures are missing (a copy of the sources without `crates/testdata/fixtures`): the message
/// says what to set. A data test must fail loudly rather than skip.
#[track_caller]
pub fn test_data() -> TestData {
    match std::env::var_os(DATA_ENV) {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            assert!(
                dir.is_dir(),
                "{DATA_ENV}={} is not a directory: point it at a folder holding mnist/, \
                 fashion-mnist/ and cifar-10/ with the original files, or unset it to use the \
                 fixtures committed in crates/testdata/fixtures",
                dir.display()
            );
            TestData {
                dir,
                origin: Origin::Full,
            }
        }
        _ => {
            let dir = fixtures_dir();
            assert!(
                dir.join("mnist").is_dir(),
                "no test data: {DATA_ENV} is unset and the fixtures folder {} is missing. Set \
                 {DATA_ENV} to a folder holding mnist/, fashion-mnist/ and cifar-10/ with the \
                 original files, or restore crates/testdata/fixtures from the repository",
                dir.display()
            );
            TestData {
                dir,
                origin: Origin::Fixtures,
            }
        }
    }
}

impl TestData {
    /// True when the tests run on the complete original data sets.
    pub fn is_full(&self) -> bool {
        self.origin == Origin::Full
    }

    /// What `folder`'s `part` must show: the publishers' figures for the full data, the
    /// figures pinned when the fixtures were cut otherwise.
    ///
    /// # Panics
    /// For a split this crate knows no figures for (e.g. CIFAR-10's test batch, which the
    /// shared data lacks).
    #[track_caller]
    pub fn facts(&self, folder: &str, part: Part) -> SplitFacts {
        let table = match self.origin {
            Origin::Full => FULL_FACTS,
            Origin::Fixtures => FIXTURE_FACTS,
        };
        table
            .iter()
            .find(|(f, p, _)| *f == folder && *p == part)
            .map(|(_, _, facts)| *facts)
            .unwrap_or_else(|| panic!("no figures for {folder} {part:?} in {:?}", self.origin))
    }
}

/// Every split the fixtures hold, with figures in both tables below.
pub const SPLITS: &[(&str, Part)] = &[
    ("mnist", Part::Train),
    ("mnist", Part::Test),
    ("fashion-mnist", Part::Train),
    ("fashion-mnist", Part::Test),
    ("cifar-10", Part::Train),
];

/// The figures the data sets' publishers (and `shared/data/README.md`) give for the full files.
const FULL_FACTS: &[(&str, Part, SplitFacts)] = &[
    (
        "mnist",
        Part::Train,
        SplitFacts {
            len: 60_000,
            class_counts: [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
            mean_pixel: 0.130660,
        },
    ),
    (
        "mnist",
        Part::Test,
        SplitFacts {
            len: 10_000,
            class_counts: [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
            mean_pixel: 0.132515,
        },
    ),
    (
        "fashion-mnist",
        Part::Train,
        SplitFacts {
            len: 60_000,
            class_counts: [6000; 10],
            mean_pixel: 0.286041,
        },
    ),
    (
        "fashion-mnist",
        Part::Test,
        SplitFacts {
            len: 10_000,
            class_counts: [1000; 10],
            mean_pixel: 0.286849,
        },
    ),
    (
        "cifar-10",
        Part::Train,
        SplitFacts {
            len: 4000,
            class_counts: [396, 366, 420, 384, 422, 393, 414, 385, 407, 413],
            mean_pixel: 0.472671,
        },
    ),
];

/// The figures of the committed fixtures, printed by `regenerate-fixtures` when they were cut
/// (with its own reader, not convnet-datasets') and repeated in `README.md`.
const FIXTURE_FACTS: &[(&str, Part, SplitFacts)] = &[
    (
        "mnist",
        Part::Train,
        SplitFacts {
            len: 4000,
            class_counts: [379, 444, 397, 392, 430, 350, 405, 433, 373, 397],
            mean_pixel: 0.129634,
        },
    ),
    (
        "mnist",
        Part::Test,
        SplitFacts {
            len: 1000,
            class_counts: [85, 126, 116, 107, 110, 87, 87, 99, 89, 94],
            mean_pixel: 0.122265,
        },
    ),
    (
        "fashion-mnist",
        Part::Train,
        SplitFacts {
            len: 600,
            class_counts: [62, 66, 57, 58, 59, 58, 66, 61, 58, 55],
            mean_pixel: 0.285757,
        },
    ),
    (
        "fashion-mnist",
        Part::Test,
        SplitFacts {
            len: 200,
            class_counts: [20, 27, 27, 17, 21, 16, 16, 20, 18, 18],
            mean_pixel: 0.295008,
        },
    ),
    (
        "cifar-10",
        Part::Train,
        SplitFacts {
            len: 200,
            class_counts: [14, 28, 22, 21, 19, 19, 18, 21, 15, 23],
            mean_pixel: 0.465082,
        },
    ),
];

/// One committed fixture file: where it lives under `fixtures/` and its SHA-256.
#[derive(Debug, Clone, Copy)]
pub struct FixtureFile {
    /// Path relative to `fixtures/` (or, from [`fixture_files`], to the data set's folder).
    pub path: &'static str,
    /// SHA-256 of the file's bytes, as 64 lowercase hex digits.
    pub sha256: &'static str,
}

/// Every committed fixture with its SHA-256 (the same table as `README.md`).
pub const FIXTURE_FILES: &[FixtureFile] = &[
    FixtureFile {
        path: "mnist/train-images-idx3-ubyte.gz",
        sha256: "127f6c863af7da44da7636b97c5772733b60a847bee833dae2b930728c240123",
    },
    FixtureFile {
        path: "mnist/train-labels-idx1-ubyte.gz",
        sha256: "2abaaf2dc8cfe90c29384a9b45a4326916bf5c5401b0a87b8c3317c314846cc6",
    },
    FixtureFile {
        path: "mnist/t10k-images-idx3-ubyte.gz",
        sha256: "6affb2cdbf6eca7df6e23dcc7c1445e8c0bd3d6f480cbb27c0ab681a9436320e",
    },
    FixtureFile {
        path: "mnist/t10k-labels-idx1-ubyte.gz",
        sha256: "54b4204c4d17ddb4fe7bbfd42d163ff7170bcea00400e0f55d66c3ea5969d6f8",
    },
    FixtureFile {
        path: "fashion-mnist/train-images-idx3-ubyte.gz",
        sha256: "0a67cc0492f76f74b597c910610e1e013ac7eab57fa498a8fdea9b033073a5a3",
    },
    FixtureFile {
        path: "fashion-mnist/train-labels-idx1-ubyte.gz",
        sha256: "d181e5a3e16bb6488d2c21d98dd8e3f63d70b7e7c43d94ca8df364f4642ef0e1",
    },
    FixtureFile {
        path: "fashion-mnist/t10k-images-idx3-ubyte.gz",
        sha256: "c983e6cc02282a891579ffcce00c6647dc97f81dd6ec4d47ed8ac8bfe7e41d51",
    },
    FixtureFile {
        path: "fashion-mnist/t10k-labels-idx1-ubyte.gz",
        sha256: "68177bfb9f49896c1d9b6fc312e52756a4042e12e4bd4facf009080a48ff7f9c",
    },
    FixtureFile {
        path: "cifar-10/data_batch_1_first200.bin",
        sha256: "7c9859cebcbdb4fa86c8bc1aca912d9d6549379aab3719046c304b53c884ecb0",
    },
    FixtureFile {
        path: "cifar-10/batches.meta.txt",
        sha256: "2ce042b1e0b48db4bb214408e6414ba18b2731c24af244f2d6c112fddf31af00",
    },
];

/// The fixtures of one folder (e.g. `mnist`), with paths relative to that folder.
pub fn fixture_files(folder: &str) -> Vec<FixtureFile> {
    FIXTURE_FILES
        .iter()
        .filter_map(|f| {
            let rest = f.path.strip_prefix(folder)?.strip_prefix('/')?;
            Some(FixtureFile {
                path: rest,
                sha256: f.sha256,
            })
        })
        .collect()
}

/// The names of the entries of `dir`, sorted (empty when it does not exist): what a test
/// checks after a download or an unpack left, or did not leave, files behind.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
