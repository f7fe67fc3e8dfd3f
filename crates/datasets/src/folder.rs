//! Your own images as a data set: a folder of class sub-folders (torchvision's `ImageFolder`
//! layout, `PATH/cat/*.jpg`, `PATH/dog/*.png`). Class names are the sub-folder names, sorted;
//! files are found at any depth below them, in sorted order.
//!
//! Every image is decoded once, on all cores, straight into one buffer of bytes: converted
//! to the model's channels (grayscale, RGB or RGBA in; RGBA loses its alpha), its shorter
//! side resized to `size` (block averaging, then bilinear), then centre-cropped to
//! `size × size`. The loader crops the model's input from that (a centre crop to evaluate, a
//! random-resized crop to train), so a JPEG is not decoded again every epoch.
//!
//! A file that does not decode (not an image, corrupt, too large) is skipped with the reason
//! and counted, or refused with `strict`; a class folder left without images is an error
//! naming it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use image::DynamicImage;
use image::imageops::FilterType;
use rayon::prelude::*;

use crate::dataset::{Dataset, DatasetMeta};
use crate::error::{DatasetError, Result, io};

/// How a folder is read.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderOptions {
    /// 1 (grayscale) or 3 (RGB).
    pub channels: usize,
    /// Side of the stored square images.
    pub size: usize,
    /// Refuse the folder at the first file that does not decode, instead of skipping it.
    pub strict: bool,
    /// The classes the folder must have, in label order (a validation folder must match its
    /// training folder); `None`: its own sub-folders.
    pub classes: Option<Vec<String>>,
}

/// A file that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// Why it was left out, e.g. `is not a PNG or JPEG image`.
    pub reason: String,
}

/// What reading a folder did.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderReport {
    /// Images decoded and kept.
    pub images: usize,
    /// Files that did not decode (none with [`FolderOptions::strict`]).
    pub skipped: Vec<Skipped>,
    /// Wall time of decoding and resizing.
    pub seconds: f64,
}

impl FolderReport {
    /// Decoding throughput.
    pub fn images_per_second(&self) -> f64 {
        (self.images + self.skipped.len()) as f64 / self.seconds.max(1e-9)
    }
}

/// The largest stored side: a 4096² RGB image is 48 MiB, beyond which a whole folder in
/// memory stops being sensible.
pub const MAX_SIZE: usize = 4096;
/// Refuse pictures whose decoded pixels would need more than this (a hostile PNG can claim
/// 100,000 × 100,000).
const MAX_DECODE_BYTES: u64 = 1 << 30;

/// The class sub-folders of `root`, sorted by name (hidden ones, starting with `.`, are
/// ignored).
pub fn class_folders(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    if !root.is_dir() {
        return Err(DatasetError::Missing {
            dataset: "image folder",
            path: root.to_path_buf(),
            hint: "Pass a folder of class sub-folders (PATH/cat/*.jpg, PATH/dog/*.png).".into(),
        });
    }
    let mut classes = Vec::new();
    for entry in std::fs::read_dir(root).map_err(io(root))? {
        let entry = entry.map_err(io(root))?;
        let path = entry.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            return Err(DatasetError::Invalid(format!(
                "{}: class folder names must be UTF-8",
                path.display()
            )));
        };
        if name.starts_with('.') || !path.is_dir() {
            continue;
        }
        if name.chars().any(char::is_control) {
            return Err(DatasetError::Invalid(format!(
                "{}: a class folder name may not contain control characters",
                path.display()
            )));
        }
        classes.push((name, path));
    }
    classes.sort();
    if classes.is_empty() {
        return Err(DatasetError::Invalid(format!(
            "{}: no class sub-folders; expected {}/<class>/<images>",
            root.display(),
            root.display()
        )));
    }
    Ok(classes)
}

/// Every file below `dir`, sorted, hidden files and folders left out.
fn files_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(io(&d))? {
            let path = entry.map_err(io(&d))?.path();
            let hidden = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if hidden {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if path.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads the image folder `root` (see the module documentation).
pub fn load_folder(root: &Path, opts: &FolderOptions) -> Result<(Dataset, FolderReport)> {
    if !matches!(opts.channels, 1 | 3) {
        return Err(DatasetError::Invalid(format!(
            "{}: images can be read as 1 or 3 channels, not {}",
            root.display(),
            opts.channels
        )));
    }
    if opts.size == 0 || opts.size > MAX_SIZE {
        return Err(DatasetError::Invalid(format!(
            "{}: image size {} is not in 1–{MAX_SIZE}",
            root.display(),
            opts.size
        )));
    }
    let found = class_folders(root)?;
    let names: Vec<String> = found.iter().map(|(n, _)| n.clone()).collect();
    let classes = match &opts.classes {
        None => names.clone(),
        Some(want) => {
            let missing: Vec<&String> = want.iter().filter(|c| !names.contains(c)).collect();
            let extra: Vec<&String> = names.iter().filter(|c| !want.contains(c)).collect();
            if !missing.is_empty() || !extra.is_empty() {
                return Err(DatasetError::Invalid(format!(
                    "{}: its classes must be the training folder's; missing {missing:?}, not \
                     in training {extra:?}",
                    root.display()
                )));
            }
            want.clone()
        }
    };
    let mut files: Vec<(PathBuf, u32)> = Vec::new();
    for (name, dir) in &found {
        let label = classes.iter().position(|c| c == name).unwrap_or(0) as u32;
        let inside = files_below(dir)?;
        if inside.is_empty() {
            return Err(DatasetError::Invalid(format!(
                "{}: the class folder '{name}' is empty",
                dir.display()
            )));
        }
        files.extend(inside.into_iter().map(|f| (f, label)));
    }
    let per = opts.channels * opts.size * opts.size;
    let total = files.len().checked_mul(per).ok_or_else(|| {
        DatasetError::Invalid(format!(
            "{}: {} images of {per} bytes do not fit in memory",
            root.display(),
            files.len()
        ))
    })?;
    // Each picture is decoded straight into its slot of the one buffer (never a second copy
    // of the whole folder); the slots of skipped files are closed up afterwards.
    let started = Instant::now();
    let mut images = vec![0u8; total];
    let decoded: Vec<std::result::Result<(), String>> = images
        .par_chunks_mut(per)
        .zip(files.par_iter())
        .map(|(slot, (path, _))| {
            decode_file(path, opts.channels, opts.size).map(|b| slot.copy_from_slice(&b))
        })
        .collect();
    let seconds = started.elapsed().as_secs_f64();
    let mut labels = Vec::with_capacity(files.len());
    let mut skipped = Vec::new();
    let mut per_class = vec![0usize; classes.len()];
    for (i, ((path, label), result)) in files.into_iter().zip(decoded).enumerate() {
        match result {
            Ok(()) => {
                let kept = labels.len();
                if kept != i {
                    images.copy_within(i * per..(i + 1) * per, kept * per);
                }
                labels.push(label);
                per_class[label as usize] += 1;
            }
            Err(reason) if opts.strict => {
                return Err(DatasetError::Invalid(format!(
                    "{}: {reason} (strict: no file is skipped)",
                    path.display()
                )));
            }
            Err(reason) => skipped.push(Skipped { path, reason }),
        }
    }
    images.truncate(labels.len() * per);
    if let Some(empty) = per_class.iter().position(|&n| n == 0) {
        return Err(DatasetError::Invalid(format!(
            "{}: the class folder '{}' has no readable image",
            root.join(&classes[empty]).display(),
            classes[empty]
        )));
    }
    let channels = opts.channels;
    let meta = DatasetMeta {
        name: root.display().to_string(),
        classes,
        // Placeholder statistics until the caller picks them (usually the training split's).
        mean: vec![0.0; channels],
        std: vec![1.0; channels],
    };
    let report = FolderReport {
        images: labels.len(),
        skipped,
        seconds,
    };
    let data = Dataset::new(meta, [channels, opts.size, opts.size], images, labels)?;
    Ok((data, report))
}

/// Decodes one picture to stored form: planar `[channels, size, size]` bytes.
pub fn decode_file(
    path: &Path,
    channels: usize,
    size: usize,
) -> std::result::Result<Vec<u8>, String> {
    Ok(square(&open(path)?, channels, size))
}

/// Opens a PNG or JPEG (by content, not by name) within the decoding limits.
pub fn open(path: &Path) -> std::result::Result<DynamicImage, String> {
    let mut reader = image::ImageReader::open(path)
        .map_err(|e| format!("cannot be opened ({e})"))?
        .with_guessed_format()
        .map_err(|e| format!("cannot be read ({e})"))?;
    if reader.format().is_none() {
        return Err("is not a PNG or JPEG image".into());
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    reader
        .decode()
        .map_err(|e| format!("is not a readable PNG or JPEG image ({e})"))
}

/// Shorter side resized to `size`, centre-cropped to `size × size`, as planar bytes of
/// `channels` (1: luma; 3: RGB).
///
/// A photo two or more times larger than `size` is first shrunk by the largest whole factor
/// that leaves at least `size`, averaging each k×k block (an exact area filter, what Pillow's
/// `reduce` does): the bilinear resize after it then shrinks by less than two, and the result
/// is as smooth as resizing the whole photo — at a fraction of the time, since the resize is
/// what dominates reading a folder of camera pictures.
pub fn square(img: &DynamicImage, channels: usize, size: usize) -> Vec<u8> {
    // Work in the picture's own kind (gray or colour) and convert to `channels` at the end,
    // when the picture is small: luma is linear, so averaging first changes nothing.
    let base = if img.color().has_color() {
        DynamicImage::ImageRgb8(img.to_rgb8())
    } else {
        DynamicImage::ImageLuma8(img.to_luma8())
    };
    let short = base.width().min(base.height()) as usize;
    let k = short / size.max(1);
    let base = if k >= 2 { box_shrink(&base, k) } else { base };
    let (w, h) = (base.width().max(1) as f64, base.height().max(1) as f64);
    let scale = size as f64 / w.min(h);
    let nw = ((w * scale).round() as u32).max(size as u32);
    let nh = ((h * scale).round() as u32).max(size as u32);
    let resized = base.resize_exact(nw, nh, FilterType::Triangle);
    let x0 = (nw - size as u32) / 2;
    let y0 = (nh - size as u32) / 2;
    let cropped = resized.crop_imm(x0, y0, size as u32, size as u32);
    planar(&cropped, channels)
}

/// The mean of every k×k block of a Luma8 or Rgb8 image (the last partial row and column of
/// blocks are left out).
fn box_shrink(img: &DynamicImage, k: usize) -> DynamicImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (ow, oh) = (w / k, h / k);
    let cc = usize::from(img.color().channel_count());
    let src = img.as_bytes();
    let mut out = vec![0u8; ow * oh * cc];
    let mut row = vec![0u32; ow * cc];
    let area = (k * k) as u32;
    for oy in 0..oh {
        row.fill(0);
        for y in oy * k..(oy + 1) * k {
            let line = &src[y * w * cc..(y * w + ow * k) * cc];
            for (ox, block) in line.chunks_exact(k * cc).enumerate() {
                for px in block.chunks_exact(cc) {
                    for (c, &v) in px.iter().enumerate() {
                        row[ox * cc + c] += u32::from(v);
                    }
                }
            }
        }
        for (o, &sum) in out[oy * ow * cc..(oy + 1) * ow * cc].iter_mut().zip(&row) {
            *o = ((sum + area / 2) / area) as u8;
        }
    }
    let (ow, oh) = (ow as u32, oh as u32);
    if cc == 1 {
        DynamicImage::ImageLuma8(image::GrayImage::from_raw(ow, oh, out).expect("sized"))
    } else {
        DynamicImage::ImageRgb8(image::RgbImage::from_raw(ow, oh, out).expect("sized"))
    }
}

/// `img` stretched to exactly `h × w`, as planar bytes of `channels`.
pub fn stretched(img: &DynamicImage, channels: usize, h: usize, w: usize) -> Vec<u8> {
    planar(
        &img.resize_exact(w as u32, h as u32, FilterType::Triangle),
        channels,
    )
}

fn planar(img: &DynamicImage, channels: usize) -> Vec<u8> {
    if channels == 1 {
        return img.to_luma8().into_raw();
    }
    let rgb = img.to_rgb8().into_raw();
    let plane = rgb.len() / 3;
    let mut out = vec![0u8; rgb.len()];
    for (i, px) in rgb.chunks_exact(3).enumerate() {
        out[i] = px[0];
        out[plane + i] = px[1];
        out[2 * plane + i] = px[2];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_resizes_the_shorter_side_and_crops_the_middle() {
        // 8 wide × 4 high, left half black, right half white, RGB: the 4×4 centre crop of the
        // (already 4-high) picture is half black, half white.
        let img = image::RgbImage::from_fn(8, 4, |x, _| {
            if x < 4 {
                image::Rgb([0, 0, 0])
            } else {
                image::Rgb([255, 255, 255])
            }
        });
        let out = square(&DynamicImage::ImageRgb8(img), 3, 4);
        assert_eq!(out.len(), 3 * 16);
        for plane in out.chunks_exact(16) {
            for row in plane.chunks_exact(4) {
                assert_eq!(row, [0, 0, 255, 255]);
            }
        }
    }

    #[test]
    fn box_shrink_averages_blocks() {
        let img =
            image::GrayImage::from_fn(6, 4, |x, y| image::Luma([(x / 2 * 10 + y / 2 * 100) as u8]));
        let out = box_shrink(&DynamicImage::ImageLuma8(img), 2);
        assert_eq!((out.width(), out.height()), (3, 2));
        assert_eq!(out.as_bytes(), [0, 10, 20, 100, 110, 120]);
    }

    #[test]
    fn a_large_photo_shrinks_to_what_a_full_resize_gives() {
        // A smooth 1200×900 gradient: the block-averaged path must agree with resizing the
        // whole picture to within a couple of grey levels.
        let img = image::RgbImage::from_fn(1200, 900, |x, y| {
            image::Rgb([(x / 5) as u8, (y / 4) as u8, ((x + y) / 9) as u8])
        });
        let img = DynamicImage::ImageRgb8(img);
        let fast = square(&img, 3, 64);
        let direct = planar(
            &img.resize_exact(85, 64, FilterType::Triangle)
                .crop_imm(10, 0, 64, 64),
            3,
        );
        let worst = fast
            .iter()
            .zip(&direct)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        assert!(worst <= 3, "largest difference {worst}");
    }

    #[test]
    fn rgb_is_stored_planar_and_gray_as_luma() {
        let img =
            DynamicImage::ImageRgb8(image::RgbImage::from_pixel(2, 2, image::Rgb([10, 20, 30])));
        assert_eq!(
            square(&img, 3, 2),
            [10, 10, 10, 10, 20, 20, 20, 20, 30, 30, 30, 30]
        );
        let gray = square(&img, 1, 2);
        assert!(gray.iter().all(|&v| (17..=20).contains(&v)), "{gray:?}");
    }
}
