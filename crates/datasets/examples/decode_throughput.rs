//! How fast an image folder is read: writes a folder of JPEG photos (real CIFAR-10 pictures
//! scaled up to photo size), then times `load_folder` — decode, convert, resize the shorter
//! side, centre-crop — on all cores, and reports images per second (and, on one thread,
//! how the time splits between decoding and resizing).
//!
//! ```sh
//! cargo run --release -p convnet-datasets --example decode_throughput -- 400 640 480 73
//! ```
//! (images, width, height, stored side; defaults as shown; a fifth argument keeps the folder
//! at that path). CIFAR-10 comes from
//! `$CONVNET_DATA`, else the test fixtures.

use std::path::{Path, PathBuf};
use std::time::Instant;

use convnet_datasets::folder::{FolderOptions, load_folder};
use convnet_datasets::{Dataset, DatasetKind, Split};

fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .map_or(default, |s| s.parse().expect("a number"))
    };
    let (n, w, h, side) = (arg(1, 400), arg(2, 640), arg(3, 480), arg(4, 73));
    let cifar = Dataset::load(
        DatasetKind::Cifar10,
        Split::Train,
        &convnet_testdata::test_data().dir,
    )
    .expect("CIFAR-10 training split");
    // A fifth argument keeps the folder there (to train on it afterwards).
    let kept = std::env::args().nth(5).map(PathBuf::from);
    let temp = tempfile::tempdir().unwrap();
    let dir = kept.as_deref().unwrap_or(temp.path());
    let started = Instant::now();
    let mut bytes = 0u64;
    for i in 0..n {
        let k = i % cifar.len();
        let class = cifar.class_names()[cifar.label(k)].clone();
        let folder = dir.join(&class);
        std::fs::create_dir_all(&folder).unwrap();
        let planes = cifar.image(k);
        let rgb: Vec<u8> = (0..32 * 32)
            .flat_map(|p| [planes[p], planes[1024 + p], planes[2048 + p]])
            .collect();
        let small = image::RgbImage::from_raw(32, 32, rgb).unwrap();
        let photo = image::imageops::resize(
            &small,
            w as u32,
            h as u32,
            image::imageops::FilterType::Triangle,
        );
        let path = folder.join(format!("{i:05}.jpg"));
        photo.save(&path).unwrap();
        bytes += std::fs::metadata(&path).unwrap().len();
    }
    println!(
        "wrote {n} JPEGs of {w}×{h} ({:.1} KB each) in {:.1}s",
        bytes as f64 / n as f64 / 1e3,
        started.elapsed().as_secs_f64()
    );
    breakdown(dir, side);
    for (channels, what) in [(3, "RGB"), (1, "grayscale")] {
        let opts = FolderOptions {
            channels,
            size: side,
            strict: true,
            classes: None,
        };
        let (d, report) = load_folder(dir, &opts).unwrap();
        println!(
            "decoded {} images to {what} {side}×{side} in {:.2}s: {:.0} images/s on {} threads",
            d.len(),
            report.seconds,
            report.images_per_second(),
            rayon::current_num_threads()
        );
    }
}

/// One thread, every file: decoding alone, then the resize and crop, per image.
fn breakdown(dir: &Path, side: usize) {
    let files = files_below(dir);
    let t = Instant::now();
    let pictures: Vec<_> = files
        .iter()
        .map(|f| convnet_datasets::folder::open(f).unwrap())
        .collect();
    let decode = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for p in &pictures {
        std::hint::black_box(convnet_datasets::folder::square(p, 3, side));
    }
    let resize = t.elapsed().as_secs_f64();
    let per = |s: f64| 1e3 * s / files.len() as f64;
    println!(
        "one thread: decode {:.2} ms/image, resize + crop {:.2} ms/image",
        per(decode),
        per(resize)
    );
}

fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(files_below(&p));
        } else {
            out.push(p);
        }
    }
    out
}
