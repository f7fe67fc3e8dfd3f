//! The data loader: determinism under a seed (with and without prefetching, and when resumed
//! mid-epoch), batching, normalisation and augmentation.

use convnet_datasets::{Augment, DataLoader, Dataset, DatasetKind, LoaderConfig, Split};

fn mnist_test() -> Dataset {
    Dataset::load(
        DatasetKind::Mnist,
        Split::Test,
        &convnet_testdata::test_data().dir,
    )
    .unwrap()
    .take(1000)
}

fn batches(loader: &DataLoader, epoch: u64) -> Vec<(Vec<f32>, Vec<usize>)> {
    loader
        .epoch(epoch)
        .map(|b| b.unwrap())
        .map(|b| (b.images.to_vec(), b.labels))
        .collect()
}

#[test]
fn same_seed_same_batches_with_or_without_prefetch() {
    let d = mnist_test();
    let mut cfg = LoaderConfig::new(64, 42);
    cfg.augment = Augment {
        crop_padding: Some(2),
        horizontal_flip: true,
        ..Augment::default()
    };
    let a = DataLoader::new(d.clone(), cfg.clone()).unwrap();
    let b = DataLoader::new(
        d.clone(),
        LoaderConfig {
            prefetch: false,
            ..cfg.clone()
        },
    )
    .unwrap();
    assert_eq!(batches(&a, 3), batches(&b, 3));
    assert_ne!(
        batches(&a, 3),
        batches(&a, 4),
        "each epoch is shuffled anew"
    );
    let c = DataLoader::new(d, LoaderConfig { seed: 43, ..cfg }).unwrap();
    assert_ne!(batches(&a, 3), batches(&c, 3));
}

#[test]
fn resuming_mid_epoch_gives_the_remaining_batches() {
    let loader = DataLoader::new(mnist_test(), LoaderConfig::new(100, 7)).unwrap();
    let all = batches(&loader, 2);
    let tail: Vec<_> = loader
        .epoch_from(2, 6)
        .map(|b| b.unwrap())
        .map(|b| (b.images.to_vec(), b.labels))
        .collect();
    assert_eq!(tail, all[6..].to_vec());
}

#[test]
fn batch_counts_follow_drop_last_and_every_example_appears_once() {
    let d = mnist_test();
    let keep = DataLoader::new(d.clone(), LoaderConfig::new(300, 1)).unwrap();
    let sizes: Vec<usize> = keep.epoch(0).map(|b| b.unwrap().labels.len()).collect();
    assert_eq!(sizes, [300, 300, 300, 100]);
    let mut seen: Vec<usize> = keep.epoch(0).flat_map(|b| b.unwrap().labels).collect();
    let mut want: Vec<usize> = (0..d.len()).map(|i| d.label(i)).collect();
    seen.sort();
    want.sort();
    assert_eq!(seen, want);
    let drop = DataLoader::new(
        d,
        LoaderConfig {
            drop_last: true,
            ..LoaderConfig::new(300, 1)
        },
    )
    .unwrap();
    assert_eq!(drop.batches_per_epoch(), 3);
    assert_eq!(drop.epoch(0).count(), 3);
}

#[test]
fn normalisation_centres_the_data() {
    let loader = DataLoader::new(mnist_test(), LoaderConfig::evaluation(1000)).unwrap();
    let batch = loader.epoch(0).next().unwrap().unwrap();
    assert_eq!(batch.images.shape(), &[1000, 1, 28, 28]);
    let v = batch.images.to_vec();
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / v.len() as f64;
    assert!(mean.abs() < 0.05, "{mean}");
    assert!((var.sqrt() - 1.0).abs() < 0.05, "{var}");
    // In order: the first label is the test set's first label.
    assert_eq!(batch.labels[0], loader.dataset().label(0));
}

#[test]
fn flip_mirrors_and_crop_shifts() {
    let d = mnist_test().take(1);
    let plain = DataLoader::new(
        d.clone(),
        LoaderConfig {
            normalize: false,
            ..LoaderConfig::evaluation(1)
        },
    )
    .unwrap();
    let x = plain.epoch(0).next().unwrap().unwrap().images.to_vec();
    let flip_cfg = LoaderConfig {
        normalize: false,
        augment: Augment {
            crop_padding: None,
            horizontal_flip: true,
            ..Augment::default()
        },
        ..LoaderConfig::evaluation(1)
    };
    let flipper = DataLoader::new(d.clone(), flip_cfg).unwrap();
    let mirrored = |img: &[f32]| -> Vec<f32> {
        img.chunks(28)
            .flat_map(|r| r.iter().rev().copied())
            .collect()
    };
    let mut saw_flip = false;
    for epoch in 0..16 {
        let y = flipper
            .epoch(epoch)
            .next()
            .unwrap()
            .unwrap()
            .images
            .to_vec();
        assert!(y == x || y == mirrored(&x));
        saw_flip |= y == mirrored(&x);
    }
    assert!(saw_flip);
    let crop_cfg = LoaderConfig {
        normalize: false,
        augment: Augment {
            crop_padding: Some(4),
            horizontal_flip: false,
            ..Augment::default()
        },
        ..LoaderConfig::evaluation(1)
    };
    let cropper = DataLoader::new(d, crop_cfg).unwrap();
    let shifted = |dy: isize, dx: isize| -> Vec<f32> {
        (0..28 * 28)
            .map(|p| {
                let (y, x0) = ((p / 28) as isize + dy, (p % 28) as isize + dx);
                if (0..28).contains(&y) && (0..28).contains(&x0) {
                    x[(y * 28 + x0) as usize]
                } else {
                    0.0
                }
            })
            .collect()
    };
    let mut shifts = std::collections::HashSet::new();
    for epoch in 0..12 {
        let y = cropper
            .epoch(epoch)
            .next()
            .unwrap()
            .unwrap()
            .images
            .to_vec();
        // The crop is the image shifted by some offset within the padding, zeros outside.
        let found = (-4..=4)
            .flat_map(|dy| (-4..=4).map(move |dx| (dy, dx)))
            .find(|&(dy, dx)| shifted(dy, dx) == y);
        shifts.insert(found.expect("crop is a shift of the image within the padding"));
    }
    assert!(shifts.len() > 1, "offsets vary between epochs");
}

#[test]
fn bad_configuration_is_rejected() {
    assert!(DataLoader::new(mnist_test(), LoaderConfig::new(0, 1)).is_err());
}

#[test]
fn shards_together_are_the_whole_batches_augmentation_included() {
    // 1000 examples in batches of 96: ten of 96 and a last of 40, split over 3 ranks as
    // 32/32/32 and 13/13/14.
    let mut cfg = LoaderConfig::new(96, 5);
    cfg.augment = Augment {
        crop_padding: Some(2),
        horizontal_flip: true,
        ..Augment::default()
    };
    let whole = DataLoader::new(mnist_test(), cfg).unwrap();
    assert_eq!(whole.batch_sizes().collect::<Vec<_>>().last(), Some(&40));
    let shards: Vec<DataLoader> = (0..3)
        .map(|r| whole.clone().sharded(r, 3).unwrap())
        .collect();
    let per_shard: Vec<Vec<_>> = shards
        .iter()
        .map(|s| s.epoch(1).map(|b| b.unwrap()).collect())
        .collect();
    for (i, (images, labels)) in batches(&whole, 1).into_iter().enumerate() {
        let mut joined_images = Vec::new();
        let mut joined_labels = Vec::new();
        for (r, shard) in per_shard.iter().enumerate() {
            let b = &shard[i];
            assert_eq!(b.global_len, labels.len());
            assert_eq!(b.labels.len(), shards[r].shard().range(labels.len()).len());
            joined_images.extend(b.images.to_vec());
            joined_labels.extend(b.labels.iter().copied());
        }
        assert_eq!(joined_labels, labels, "batch {i}");
        assert!(
            joined_images == images,
            "batch {i}: the shards' pixels differ"
        );
    }
    assert_eq!(per_shard[2].last().unwrap().labels.len(), 14);
    assert!(whole.clone().sharded(3, 3).is_err());
    assert!(whole.sharded(0, 0).is_err());
}
