//! Where a command's images come from — a built-in data set or a folder of class sub-folders
//! — and the preprocessing a checkpoint records (input, class names, normalisation, resize),
//! so that `eval`, `inspect` and `predict` see pictures exactly as training did.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use convnet_datasets::folder::FolderOptions;
use convnet_datasets::{Dataset, DatasetKind};

use crate::Failure;
use crate::commands::dataset_failure;

/// The share of a folder's images held out for validation when no `--val-dir` is given.
pub const HOLDOUT_FRACTION: f64 = 0.2;

/// ImageNet's per-channel statistics, which torchvision's pretrained weights expect.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// A data set named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    Builtin(DatasetKind),
    /// An image folder (absolute path).
    Folder(PathBuf),
}

impl DataSource {
    /// A built-in name, else an existing folder; anything else is a usage error listing both.
    pub fn parse(name: &str) -> Result<DataSource, Failure> {
        if let Ok(kind) = name.parse::<DatasetKind>() {
            return Ok(DataSource::Builtin(kind));
        }
        let path = Path::new(name);
        if path.is_dir() {
            let abs = path
                .canonicalize()
                .map_err(|e| Failure::run(format!("{}: {e}", path.display())))?;
            return Ok(DataSource::Folder(abs));
        }
        let names: Vec<&str> = DatasetKind::ALL.iter().map(|k| k.name()).collect();
        let message = format!(
            "unknown dataset '{name}'; valid datasets: {}, or a folder of class sub-folders \
             (PATH/<class>/<images>)",
            names.join(", ")
        );
        if name.contains(std::path::MAIN_SEPARATOR) || name.starts_with('.') {
            Err(Failure::no_input(message))
        } else {
            Err(Failure::usage(message))
        }
    }

    /// What checkpoints record (the name, or the folder's path).
    pub fn record(&self) -> String {
        match self {
            DataSource::Builtin(k) => k.name().to_string(),
            DataSource::Folder(p) => p.display().to_string(),
        }
    }

    /// A short name for output folders and messages.
    pub fn short_name(&self) -> String {
        match self {
            DataSource::Builtin(k) => k.name().to_string(),
            DataSource::Folder(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "images".into()),
        }
    }
}

impl std::fmt::Display for DataSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.record())
    }
}

/// How images become a model's input, recorded in every checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    /// The model's input `[c, h, w]`.
    pub input: [usize; 3],
    /// Class names in label order.
    pub classes: Vec<String>,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    /// Folders: pictures' shorter side is resized to this and the centre square kept; the
    /// input is then its centre crop. `None`: pictures are stretched to the input (the
    /// built-in data sets' small, centred images).
    pub resize: Option<usize>,
}

/// The side pictures are stored at for an input of `side`: torchvision's 256-for-224 ratio,
/// so that the centre crop and the random-resized crops have a margin to come from.
pub fn storage_side(side: usize) -> usize {
    (side * 8).div_ceil(7)
}

impl Preprocess {
    /// A built-in data set's classes and published statistics at `input`.
    pub fn builtin(kind: DatasetKind, input: [usize; 3]) -> Preprocess {
        let (mean, std) = kind.normalization();
        Preprocess {
            input,
            classes: kind.class_names().iter().map(|s| s.to_string()).collect(),
            mean: mean.to_vec(),
            std: std.to_vec(),
            resize: None,
        }
    }

    /// Checkpoint entries (the info map).
    pub fn info(&self) -> Vec<(String, String)> {
        let list = |v: &[f32]| {
            v.iter()
                .map(|x| format!("{x:?}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut out = vec![
            ("input".to_string(), convnet_zoo::chw(self.input)),
            ("classes".to_string(), self.classes.len().to_string()),
            ("class_names".to_string(), self.classes.join("\n")),
            ("normalization.mean".to_string(), list(&self.mean)),
            ("normalization.std".to_string(), list(&self.std)),
        ];
        if let Some(r) = self.resize {
            out.push(("resize".to_string(), r.to_string()));
        }
        out
    }

    /// Reads what [`Preprocess::info`] wrote; checkpoints from before it was recorded fall
    /// back to the built-in data set's figures (`input` as given).
    pub fn from_info(
        info: &BTreeMap<String, String>,
        source: &DataSource,
        input: [usize; 3],
    ) -> Result<Preprocess, Failure> {
        let bad = |k: &str| Failure::run(format!("the checkpoint's {k} entry is malformed"));
        let floats = |k: &str| -> Result<Option<Vec<f32>>, Failure> {
            info.get(k)
                .map(|s| {
                    s.split(',')
                        .map(|x| x.trim().parse::<f32>())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| bad(k))
                })
                .transpose()
        };
        let fallback = match source {
            DataSource::Builtin(kind) => Some(Preprocess::builtin(*kind, input)),
            DataSource::Folder(_) => None,
        };
        let classes = match info.get("class_names") {
            Some(s) => s.split('\n').map(str::to_string).collect::<Vec<_>>(),
            None => fallback
                .as_ref()
                .map(|f| f.classes.clone())
                .ok_or_else(|| bad("class_names"))?,
        };
        if let Some(n) = info.get("classes")
            && n.parse::<usize>().ok() != Some(classes.len())
        {
            return Err(bad("classes"));
        }
        let (mean, std) = match (floats("normalization.mean")?, floats("normalization.std")?) {
            (Some(m), Some(s)) => (m, s),
            _ => fallback
                .as_ref()
                .map(|f| (f.mean.clone(), f.std.clone()))
                .ok_or_else(|| bad("normalization"))?,
        };
        if mean.len() != input[0] || std.len() != input[0] {
            return Err(bad("normalization"));
        }
        let resize = match info.get("resize") {
            Some(s) => Some(s.parse().map_err(|_| bad("resize"))?),
            None => None,
        };
        Ok(Preprocess {
            input,
            classes,
            mean,
            std,
            resize,
        })
    }

    /// How a folder is read for this preprocessing.
    pub fn folder_options(&self, strict: bool) -> FolderOptions {
        FolderOptions {
            channels: self.input[0],
            size: self.resize.unwrap_or(self.input[1].max(self.input[2])),
            strict,
            classes: Some(self.classes.clone()),
        }
    }

    /// The loader's output size when stored images are larger than the input.
    pub fn output_size(&self) -> Option<[usize; 2]> {
        self.resize.map(|_| [self.input[1], self.input[2]])
    }

    /// One picture as the model's normalised input `[c, h, w]`.
    pub fn picture(&self, img: &image::DynamicImage) -> Vec<f32> {
        let [c, h, w] = self.input;
        let bytes = match self.resize {
            Some(side) => {
                let stored = convnet_datasets::folder::square(img, c, side);
                centre_crop(&stored, [c, side, side], [h, w])
            }
            None => convnet_datasets::folder::stretched(img, c, h, w),
        };
        let plane = h * w;
        bytes
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                let ch = i / plane;
                (f32::from(p) / 255.0 - self.mean[ch]) / self.std[ch]
            })
            .collect()
    }
}

fn centre_crop(src: &[u8], [c, h, w]: [usize; 3], [oh, ow]: [usize; 2]) -> Vec<u8> {
    let (y0, x0) = ((h - oh.min(h)) / 2, (w - ow.min(w)) / 2);
    let mut out = Vec::with_capacity(c * oh * ow);
    for ch in 0..c {
        for y in 0..oh.min(h) {
            let row = ch * h * w + (y0 + y) * w + x0;
            out.extend_from_slice(&src[row..row + ow.min(w)]);
        }
    }
    out
}

/// Reads an image folder, printing each skipped file, how many were skipped, and the
/// decoding throughput.
pub fn read_folder(path: &Path, opts: &FolderOptions) -> Result<Dataset, Failure> {
    let (data, report) = convnet_datasets::load_folder(path, opts).map_err(dataset_failure)?;
    for s in &report.skipped {
        note!("warning: skipped {}: {}", s.path.display(), s.reason);
    }
    if !report.skipped.is_empty() {
        note!(
            "skipped {} of {} files in {} (--strict-images refuses such folders instead)",
            report.skipped.len(),
            report.images + report.skipped.len(),
            path.display()
        );
    }
    let bytes = (report.images * opts.channels * opts.size * opts.size) as u64;
    note!(
        "decoded {} images from {} in {:.2}s ({:.0} images/s on {} threads), stored at {}×{} \
         ({} in memory)",
        report.images,
        path.display(),
        report.seconds,
        report.images_per_second(),
        rayon::current_num_threads(),
        opts.size,
        opts.size,
        convnet_nn::summary::fmt_bytes(bytes),
    );
    Ok(data)
}

/// Parses `--mean`/`--std` lists such as `0.485,0.456,0.406`.
pub fn parse_stats(flag: &str, s: &str, channels: usize) -> Result<Vec<f32>, Failure> {
    let v: Result<Vec<f32>, _> = s.split(',').map(|x| x.trim().parse::<f32>()).collect();
    match v {
        Ok(v) if v.len() == channels && v.iter().all(|x| x.is_finite()) => Ok(v),
        _ => Err(Failure::usage(format!(
            "--{flag} {s}: expected {channels} comma-separated numbers, one per channel"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preprocessing_survives_the_checkpoint_record() {
        let p = Preprocess {
            input: [3, 24, 24],
            classes: vec!["cat".into(), "dog".into(), "small bird".into()],
            mean: vec![0.1, 0.2, 1.0 / 3.0],
            std: vec![0.5, 0.25, 1.0],
            resize: Some(28),
        };
        let info: BTreeMap<String, String> = p.info().into_iter().collect();
        let source = DataSource::Folder("/x".into());
        assert_eq!(Preprocess::from_info(&info, &source, p.input).unwrap(), p);
    }

    #[test]
    fn old_checkpoints_fall_back_to_the_builtin_figures() {
        let source = DataSource::Builtin(DatasetKind::Cifar10);
        let p = Preprocess::from_info(&BTreeMap::new(), &source, [3, 32, 32]).unwrap();
        assert_eq!(p, Preprocess::builtin(DatasetKind::Cifar10, [3, 32, 32]));
        assert!(
            Preprocess::from_info(
                &BTreeMap::new(),
                &DataSource::Folder("/x".into()),
                [3, 8, 8]
            )
            .is_err()
        );
    }

    #[test]
    fn centre_crop_takes_the_middle() {
        let src: Vec<u8> = (0..2 * 16).collect();
        assert_eq!(
            centre_crop(&src, [2, 4, 4], [2, 2]),
            [5, 6, 9, 10, 21, 22, 25, 26]
        );
    }
}
