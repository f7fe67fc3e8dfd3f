//! Image folders as data sets: classes from sorted sub-folder names, files at any depth,
//! grayscale/RGB/RGBA converted to the channels asked for, files that are not images skipped
//! with their reason (or refused when strict), empty classes named, hostile headers refused;
//! the seeded stratified hold-out, per-channel statistics, and the loader's crops.

use std::path::Path;

use convnet_datasets::folder::{FolderOptions, load_folder};
use convnet_datasets::{Augment, DataLoader, LoaderConfig, ResizedCrop};

fn options(channels: usize, size: usize) -> FolderOptions {
    FolderOptions {
        channels,
        size,
        strict: false,
        classes: None,
    }
}

fn gray(path: &Path, value: u8) {
    image::GrayImage::from_pixel(12, 8, image::Luma([value]))
        .save(path)
        .unwrap();
}

fn rgba(path: &Path, rgb: [u8; 3]) {
    image::RgbaImage::from_pixel(9, 9, image::Rgba([rgb[0], rgb[1], rgb[2], 40]))
        .save(path)
        .unwrap();
}

/// `dog/` (2 PNGs, one in a sub-folder), `cat/` (1 JPEG, 1 RGBA PNG, a text file, a hidden
/// file), `.thumbnails/` (ignored).
fn sample(root: &Path) {
    for d in ["dog/puppies", "cat", ".thumbnails"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    gray(&root.join("dog/a.png"), 100);
    gray(&root.join("dog/puppies/b.png"), 110);
    image::RgbImage::from_pixel(16, 16, image::Rgb([200, 10, 10]))
        .save(root.join("cat/c.jpg"))
        .unwrap();
    rgba(&root.join("cat/d.png"), [0, 0, 255]);
    std::fs::write(root.join("cat/readme.txt"), "not a picture").unwrap();
    std::fs::write(root.join("cat/.DS_Store"), [0u8; 8]).unwrap();
    gray(&root.join(".thumbnails/t.png"), 0);
}

#[test]
fn classes_are_sorted_folder_names_and_files_are_found_at_any_depth() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    let (d, report) = load_folder(dir.path(), &options(3, 4)).unwrap();
    assert_eq!(d.class_names(), ["cat", "dog"]);
    assert_eq!(d.class_counts(), [2, 2]);
    assert_eq!(d.image_shape, [3, 4, 4]);
    assert_eq!(report.images, 4);
    assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
    assert!(report.skipped[0].path.ends_with("cat/readme.txt"));
    assert!(report.skipped[0].reason.contains("not a PNG or JPEG"));
    // Labels follow the sorted files: cat/c.jpg (red), cat/d.png (blue, alpha dropped),
    // dog/a.png, dog/puppies/b.png (gray, copied to all three channels).
    let red = d.image(0);
    assert!(red[..16].iter().all(|&v| v > 180) && red[32..].iter().all(|&v| v < 40));
    let blue = d.image(1);
    assert!(blue[..32].iter().all(|&v| v == 0) && blue[32..].iter().all(|&v| v == 255));
    assert_eq!(d.label(2), 1);
    assert!(d.image(2).iter().all(|&v| v == 100));
    assert!(d.image(3).iter().all(|&v| v == 110));

    let (g, _) = load_folder(dir.path(), &options(1, 4)).unwrap();
    assert_eq!(g.image_shape, [1, 4, 4]);
    assert!(g.image(2).iter().all(|&v| v == 100));
}

#[test]
fn strict_refuses_and_empty_or_unreadable_classes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    let strict = FolderOptions {
        strict: true,
        ..options(3, 4)
    };
    let e = load_folder(dir.path(), &strict).unwrap_err().to_string();
    assert!(e.contains("readme.txt") && e.contains("strict"), "{e}");

    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let e = load_folder(dir.path(), &options(3, 4))
        .unwrap_err()
        .to_string();
    assert!(e.contains("'empty' is empty"), "{e}");
    std::fs::write(dir.path().join("empty/x.png"), b"\x89PNG garbage").unwrap();
    let e = load_folder(dir.path(), &options(3, 4))
        .unwrap_err()
        .to_string();
    assert!(e.contains("'empty' has no readable image"), "{e}");

    let none = tempfile::tempdir().unwrap();
    let e = load_folder(none.path(), &options(3, 4))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no class sub-folders"), "{e}");
    let e = load_folder(&none.path().join("missing"), &options(3, 4)).unwrap_err();
    assert!(
        matches!(e, convnet_datasets::DatasetError::Missing { .. }),
        "{e}"
    );
}

#[test]
fn a_validation_folder_must_have_the_training_classes() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    let want = FolderOptions {
        classes: Some(vec!["cat".into(), "dog".into(), "bird".into()]),
        ..options(3, 4)
    };
    let e = load_folder(dir.path(), &want).unwrap_err().to_string();
    assert!(e.contains("\"bird\""), "{e}");
}

/// A PNG whose header claims 100,000 × 100,000 RGBA pixels (40 GB decoded).
fn huge_png() -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut crc = flate2::Crc::new();
    crc.update(&ihdr);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc.sum().to_be_bytes());
    png
}

#[test]
fn a_header_claiming_a_gigantic_picture_is_skipped_not_allocated() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    std::fs::write(dir.path().join("dog/huge.png"), huge_png()).unwrap();
    let (d, report) = load_folder(dir.path(), &options(3, 4)).unwrap();
    assert_eq!(d.len(), 4);
    let huge = report
        .skipped
        .iter()
        .find(|s| s.path.ends_with("huge.png"))
        .expect("huge.png skipped");
    assert!(huge.reason.contains("readable"), "{}", huge.reason);
}

#[test]
fn the_stratified_hold_out_is_seeded_disjoint_and_per_class() {
    let dir = tempfile::tempdir().unwrap();
    for (class, n) in [("a", 10), ("b", 20)] {
        std::fs::create_dir(dir.path().join(class)).unwrap();
        for i in 0..n {
            gray(
                &dir.path().join(format!("{class}/{i:02}.png")),
                (i * 10) as u8,
            );
        }
    }
    let (d, _) = load_folder(dir.path(), &options(1, 2)).unwrap();
    let (train, val) = d.stratified_split(0.2, 5).unwrap();
    assert_eq!(val.class_counts(), [2, 4]);
    assert_eq!(train.class_counts(), [8, 16]);
    let key = |s: &convnet_datasets::Dataset| {
        (0..s.len())
            .map(|i| (s.label(i), s.image(i).to_vec()))
            .collect::<Vec<_>>()
    };
    let (again_train, again_val) = d.stratified_split(0.2, 5).unwrap();
    assert_eq!(key(&val), key(&again_val));
    assert_eq!(key(&train), key(&again_train));
    let (_, other) = d.stratified_split(0.2, 6).unwrap();
    assert_ne!(key(&val), key(&other), "another seed, another hold-out");
    let mut all = key(&train);
    all.extend(key(&val));
    all.sort();
    let mut want = key(&d);
    want.sort();
    assert_eq!(all, want, "every image in exactly one part");
    assert!(d.stratified_split(1.0, 0).is_err());
}

#[test]
fn channel_statistics_are_those_of_the_pixels() {
    let dir = tempfile::tempdir().unwrap();
    for (class, v) in [("a", 0u8), ("b", 255u8)] {
        std::fs::create_dir(dir.path().join(class)).unwrap();
        gray(&dir.path().join(format!("{class}/x.png")), v);
    }
    let (d, _) = load_folder(dir.path(), &options(1, 3)).unwrap();
    let (mean, std) = d.channel_stats();
    assert!(
        (mean[0] - 0.5).abs() < 1e-6 && (std[0] - 0.5).abs() < 1e-6,
        "{mean:?} {std:?}"
    );
    assert!(d.with_normalization(vec![0.5], vec![0.0]).is_err());
    assert!(
        d.with_normalization(vec![0.5, 0.5], vec![1.0, 1.0])
            .is_err()
    );
}

#[test]
fn the_loader_crops_to_the_output_size_the_same_way_with_or_without_prefetch() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    let (d, _) = load_folder(dir.path(), &options(3, 10)).unwrap();
    let eval = LoaderConfig {
        output_size: Some([8, 8]),
        ..LoaderConfig::evaluation(4)
    };
    let batch = DataLoader::new(d.clone(), eval)
        .unwrap()
        .epoch(0)
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(batch.images.shape(), [4, 3, 8, 8]);
    let mut train = LoaderConfig::new(2, 9);
    train.output_size = Some([6, 6]);
    train.augment = Augment {
        resized_crop: Some(ResizedCrop::default()),
        horizontal_flip: true,
        ..Augment::default()
    };
    let collect = |cfg: LoaderConfig| {
        DataLoader::new(d.clone(), cfg)
            .unwrap()
            .epoch(1)
            .map(|b| b.unwrap().images.to_vec())
            .collect::<Vec<_>>()
    };
    let inline = collect(LoaderConfig {
        prefetch: false,
        ..train.clone()
    });
    assert_eq!(collect(train.clone()), inline);
    assert_eq!(inline[0].len(), 2 * 3 * 36);
    let too_big = LoaderConfig {
        output_size: Some([12, 12]),
        ..LoaderConfig::evaluation(4)
    };
    let e = DataLoader::new(d, too_big).unwrap_err().to_string();
    assert!(e.contains("cannot centre-crop 12×12"), "{e}");
}
