//! What convnet knows about each data set: folder, files, checksums, where to download them,
//! class names and the per-channel statistics used for normalisation.

use std::fmt;
use std::str::FromStr;

use crate::error::DatasetError;

/// The data sets convnet reads in their original formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetKind {
    /// MNIST handwritten digits: 28×28 grayscale, 60,000 training and 10,000 test images.
    Mnist,
    /// Zalando's Fashion-MNIST: 28×28 grayscale clothing, MNIST's sizes and file format.
    FashionMnist,
    /// CIFAR-10: 32×32 RGB, ten object classes, in the binary version's batch files.
    Cifar10,
    /// scikit-learn's 8×8 digits, compiled in: always available, no files needed.
    Digits,
}

/// One file of a data set, with its SHA-256 as published alongside the data.
#[derive(Debug, Clone, Copy)]
pub struct RemoteFile {
    /// File name, both on the server (appended to the base URL) and on disk.
    pub name: &'static str,
    /// SHA-256 of the file's bytes, as 64 lowercase hex digits.
    pub sha256: &'static str,
}

impl DatasetKind {
    /// Every data set, in the order `convnet datasets` lists them.
    pub const ALL: [DatasetKind; 4] = [
        DatasetKind::Mnist,
        DatasetKind::FashionMnist,
        DatasetKind::Cifar10,
        DatasetKind::Digits,
    ];

    /// Name used on the command line and in messages.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Cifar10 => "cifar10",
            DatasetKind::Digits => "digits",
        }
    }

    /// Folder inside the `CONVNET_DATA` directory.
    pub fn folder(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Cifar10 => "cifar-10",
            // Never read from disk: the data is embedded.
            DatasetKind::Digits => "sklearn-digits",
        }
    }

    /// `[channels, height, width]` of one image.
    pub fn image_shape(self) -> [usize; 3] {
        match self {
            DatasetKind::Mnist | DatasetKind::FashionMnist => [1, 28, 28],
            DatasetKind::Cifar10 => [3, 32, 32],
            DatasetKind::Digits => [1, 8, 8],
        }
    }

    /// Whether the data is compiled into the crate (no files, no download).
    pub fn is_embedded(self) -> bool {
        self == DatasetKind::Digits
    }

    /// Class names, in label order (label `i` is `class_names()[i]`).
    pub fn class_names(self) -> &'static [&'static str] {
        match self {
            DatasetKind::Mnist | DatasetKind::Digits => {
                &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
            }
            DatasetKind::FashionMnist => &[
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ],
            DatasetKind::Cifar10 => &[
                "airplane",
                "automobile",
                "bird",
                "cat",
                "deer",
                "dog",
                "frog",
                "horse",
                "ship",
                "truck",
            ],
        }
    }

    /// Per-channel mean and standard deviation of the training images (pixels / 255), the
    /// usual normalisation constants.
    pub fn normalization(self) -> (&'static [f32], &'static [f32]) {
        match self {
            DatasetKind::Mnist => (&[0.1307], &[0.3081]),
            DatasetKind::FashionMnist => (&[0.2860], &[0.3530]),
            DatasetKind::Cifar10 => (&[0.4914, 0.4822, 0.4465], &[0.2470, 0.2435, 0.2616]),
            // Over all 1,797 images, after scaling 0–16 to 0–255.
            DatasetKind::Digits => (&[0.3053], &[0.3759]),
        }
    }

    /// The files a download fetches, with their published SHA-256. CIFAR-10 is published as
    /// one archive instead ([`DatasetKind::archive`]).
    pub fn remote_files(self) -> &'static [RemoteFile] {
        match self {
            DatasetKind::Mnist => &[
                RemoteFile {
                    name: "train-images-idx3-ubyte.gz",
                    sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                },
                RemoteFile {
                    name: "train-labels-idx1-ubyte.gz",
                    sha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                },
                RemoteFile {
                    name: "t10k-images-idx3-ubyte.gz",
                    sha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                },
                RemoteFile {
                    name: "t10k-labels-idx1-ubyte.gz",
                    sha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                },
            ],
            DatasetKind::FashionMnist => &[
                RemoteFile {
                    name: "train-images-idx3-ubyte.gz",
                    sha256: "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                },
                RemoteFile {
                    name: "train-labels-idx1-ubyte.gz",
                    sha256: "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                },
                RemoteFile {
                    name: "t10k-images-idx3-ubyte.gz",
                    sha256: "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                },
                RemoteFile {
                    name: "t10k-labels-idx1-ubyte.gz",
                    sha256: "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                },
            ],
            DatasetKind::Cifar10 | DatasetKind::Digits => &[],
        }
    }

    /// The one archive a data set is published as, when it is not published as separate
    /// files: CIFAR-10's binary version, checked by its SHA-256 then unpacked (see
    /// [`crate::archive`]).
    pub fn archive(self) -> Option<RemoteFile> {
        match self {
            DatasetKind::Cifar10 => Some(RemoteFile {
                name: "cifar-10-binary.tar.gz",
                sha256: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
            }),
            _ => None,
        }
    }

    /// Where the standard files are published (the base URL the file names are appended to).
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            DatasetKind::Mnist => Some("https://ossci-datasets.s3.amazonaws.com/mnist/"),
            DatasetKind::FashionMnist => {
                Some("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/")
            }
            DatasetKind::Cifar10 => Some("https://www.cs.toronto.edu/~kriz/"),
            DatasetKind::Digits => None,
        }
    }

    /// How a user obtains the files, for "not found" messages.
    pub fn how_to_get(self) -> String {
        match self {
            DatasetKind::Digits => "digits is built in; nothing to get.".to_string(),
            DatasetKind::Cifar10 => {
                "Run `convnet download cifar10` to fetch, verify and unpack the official \
                 cifar-10-binary.tar.gz, or put data_batch_*.bin and test_batch.bin into \
                 <CONVNET_DATA>/cifar-10/ (set CONVNET_DATA or pass --data-dir)."
                    .to_string()
            }
            _ => format!(
                "Run `convnet download {}` to fetch and verify the four files, or copy them into \
                 <CONVNET_DATA>/{}/ (set CONVNET_DATA or pass --data-dir).",
                self.name(),
                self.folder()
            ),
        }
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DatasetKind {
    type Err = DatasetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = s.to_ascii_lowercase().replace('_', "-");
        DatasetKind::ALL
            .into_iter()
            .find(|k| k.name() == key || k.folder() == key)
            .ok_or_else(|| {
                let valid: Vec<_> = DatasetKind::ALL.iter().map(|k| k.name()).collect();
                DatasetError::Invalid(format!(
                    "unknown dataset '{s}'; valid datasets: {}",
                    valid.join(", ")
                ))
            })
    }
}
