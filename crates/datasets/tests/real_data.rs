//! The readers on real files — the full data sets in `CONVNET_DATA`, or the committed fixtures
//! cut from them — checked against the figures published for them (counts, class counts,
//! pixel statistics).

use convnet_datasets::{Dataset, DatasetKind, Split};
use convnet_testdata::{Part, TestData, test_data};

fn mean_pixel(d: &Dataset) -> f64 {
    let total: u64 = (0..d.len())
        .map(|i| d.image(i).iter().map(|&p| p as u64).sum::<u64>())
        .sum();
    total as f64 / (d.len() * d.image_len()) as f64 / 255.0
}

/// A split read by convnet-datasets shows the figures published for it (or pinned for the
/// fixtures when they were cut, by a reader of their own).
fn check(data: &TestData, kind: DatasetKind, folder: &str, split: Split, part: Part) -> Dataset {
    let d = Dataset::load(kind, split, &data.dir).unwrap();
    let want = data.facts(folder, part);
    assert_eq!(d.len(), want.len, "{folder} {part:?}");
    assert_eq!(d.class_counts(), want.class_counts, "{folder} {part:?}");
    let mean = mean_pixel(&d);
    assert!(
        (mean - want.mean_pixel).abs() < 1e-5,
        "{folder} {part:?}: mean pixel {mean}, expected {}",
        want.mean_pixel
    );
    d
}

#[test]
fn mnist_train_and_test_match_the_published_figures() {
    let data = test_data();
    check(
        &data,
        DatasetKind::Mnist,
        "mnist",
        Split::Train,
        Part::Train,
    );
    check(&data, DatasetKind::Mnist, "mnist", Split::Test, Part::Test);
}

#[test]
fn fashion_mnist_matches_the_published_figures() {
    let data = test_data();
    let kind = DatasetKind::FashionMnist;
    check(&data, kind, "fashion-mnist", Split::Train, Part::Train);
    check(&data, kind, "fashion-mnist", Split::Test, Part::Test);
}

#[test]
fn cifar_subset_reads_as_is() {
    let data = test_data();
    let train = check(
        &data,
        DatasetKind::Cifar10,
        "cifar-10",
        Split::Train,
        Part::Train,
    );
    assert_eq!(train.image_shape, [3, 32, 32]);
    let first: Vec<usize> = (0..20).map(|i| train.label(i)).collect();
    assert_eq!(
        first,
        [6, 9, 9, 4, 1, 1, 2, 7, 8, 3, 4, 7, 7, 2, 9, 9, 9, 3, 2, 6]
    );
    // The subset has no test batch: the error says which file and how to get it.
    let e = Dataset::load(DatasetKind::Cifar10, Split::Test, &data.dir)
        .unwrap_err()
        .to_string();
    assert!(e.contains("test_batch.bin not found"), "{e}");
}

#[test]
fn the_embedded_digits_need_no_files() {
    // Any directory, even one that does not exist: the digits are compiled in.
    let nowhere = std::path::Path::new("/nonexistent");
    let train = Dataset::load(DatasetKind::Digits, Split::Train, nowhere).unwrap();
    let test = Dataset::load(DatasetKind::Digits, Split::Test, nowhere).unwrap();
    assert_eq!((train.len(), test.len()), (1437, 360));
    assert_eq!(train.image_shape, [1, 8, 8]);
    assert_eq!(
        test.class_counts(),
        [35, 36, 35, 37, 37, 37, 37, 36, 33, 37]
    );
    // The file's first row is a 0 whose top-left pixels are 0, 0, 5, 13 (of 16).
    assert_eq!(train.label(0), 0);
    assert_eq!(&train.image(0)[..4], &[0, 0, 80, 207]);
    // Over both splits, the mean pixel the normalisation constant was computed from.
    let all = mean_pixel(&train) * 1437.0 + mean_pixel(&test) * 360.0;
    assert!((all / 1797.0 - 0.3053).abs() < 5e-5, "{}", all / 1797.0);
    // Resized for a 28×28 model: the same examples, interpolated.
    let big = test.resized(28, 28).unwrap();
    assert_eq!((big.len(), big.image_shape), (360, [1, 28, 28]));
    assert_eq!(big.label(7), test.label(7));
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
