//! The readers on the real files in the shared data directory, checked against the figures
//! its README publishes (counts, class counts, pixel statistics).

mod common;

use convnet_datasets::{Dataset, DatasetKind, Split};

fn mean_pixel(d: &Dataset) -> f64 {
    let total: u64 = (0..d.len())
        .map(|i| d.image(i).iter().map(|&p| p as u64).sum::<u64>())
        .sum();
    total as f64 / (d.len() * d.image_len()) as f64 / 255.0
}

#[test]
fn mnist_train_and_test_match_the_published_figures() {
    let dir = common::data_dir();
    let train = Dataset::load(DatasetKind::Mnist, Split::Train, &dir).unwrap();
    assert_eq!(train.len(), 60_000);
    assert_eq!(
        train.class_counts(),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert!((mean_pixel(&train) - 0.130660).abs() < 1e-5);
    let test = Dataset::load(DatasetKind::Mnist, Split::Test, &dir).unwrap();
    assert_eq!(test.len(), 10_000);
    assert_eq!(
        test.class_counts(),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    assert!((mean_pixel(&test) - 0.132515).abs() < 1e-5);
}

#[test]
fn fashion_mnist_is_balanced() {
    let dir = common::data_dir();
    let test = Dataset::load(DatasetKind::FashionMnist, Split::Test, &dir).unwrap();
    assert_eq!(test.class_counts(), [1000; 10]);
    assert!((mean_pixel(&test) - 0.286849).abs() < 1e-5);
}

#[test]
fn cifar_subset_reads_as_is() {
    let dir = common::data_dir();
    let train = Dataset::load(DatasetKind::Cifar10, Split::Train, &dir).unwrap();
    assert_eq!(train.len(), 4000);
    assert_eq!(train.image_shape, [3, 32, 32]);
    assert_eq!(
        train.class_counts(),
        [396, 366, 420, 384, 422, 393, 414, 385, 407, 413]
    );
    let first: Vec<usize> = (0..20).map(|i| train.label(i)).collect();
    assert_eq!(
        first,
        [6, 9, 9, 4, 1, 1, 2, 7, 8, 3, 4, 7, 7, 2, 9, 9, 9, 3, 2, 6]
    );
    // The subset has no test batch: the error says which file and how to get it.
    let e = Dataset::load(DatasetKind::Cifar10, Split::Test, &dir)
        .unwrap_err()
        .to_string();
    assert!(e.contains("test_batch.bin not found"), "{e}");
}

#[test]
fn missing_data_says_how_to_get_it() {
    let e = Dataset::load(
        DatasetKind::Mnist,
        Split::Train,
        std::path::Path::new("/nonexistent"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("train-images-idx3-ubyte.gz not found"), "{e}");
    assert!(e.contains("convnet download mnist"), "{e}");
}
