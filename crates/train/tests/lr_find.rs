//! The learning-rate range test on the embedded digits: it sweeps exponentially, finds the
//! regions in order, stops when the loss diverges, and leaves the run exactly as it was.

use std::path::Path;

use convnet_datasets::{DataLoader, Dataset, DatasetKind, LoaderConfig, Split};
use convnet_nn::layers::shorthand::*;
use convnet_nn::{CrossEntropyLoss, Model, Sequential};
use convnet_optim::SgdConfig;
use convnet_train::{LrRangeTest, Trainer};

fn setup() -> (Model<f32>, DataLoader) {
    let digits = Dataset::load(DatasetKind::Digits, Split::Train, Path::new("embedded")).unwrap();
    let loader = DataLoader::new(digits, LoaderConfig::new(32, 0)).unwrap();
    let net = Sequential::default()
        .with(flatten())
        .with(linear(32))
        .with(relu())
        .with(linear(10));
    (Model::new(net, &[1, 8, 8]).unwrap(), loader)
}

fn bits(t: &Trainer) -> Vec<(String, Vec<u32>)> {
    t.params
        .iter()
        .map(|(n, v)| {
            (
                n.to_string(),
                v.to_vec().iter().map(|x| x.to_bits()).collect(),
            )
        })
        .collect()
}

#[test]
fn the_sweep_finds_the_regions_and_puts_everything_back() {
    let (model, loader) = setup();
    let sgd = SgdConfig::new(0.05).momentum(0.9).build::<f32>().unwrap();
    let mut trainer =
        Trainer::new(&model, CrossEntropyLoss::new(), Box::new(sgd), None, 0).unwrap();
    let before = bits(&trainer);
    let state_before = trainer.optimizer.state();

    let test = trainer.lr_range_test(&loader, 1e-5, 1e3, 120, 0).unwrap();
    // Far too large rates make the loss blow up: the sweep stops before its end.
    assert!(test.diverged, "{:?}", test.points.last());
    assert!(test.points.len() < 120);
    // Exponential: a constant ratio between consecutive rates, (1e3/1e-5)^(1/119).
    let ratio = (1e8f64).powf(1.0 / 119.0);
    for w in test.points.windows(2) {
        assert!((w[1].lr / w[0].lr - ratio).abs() < 1e-9);
    }
    // The regions come in order, and the loss does fall between them.
    assert!(test.too_small_below <= test.minimum, "{test:?}");
    assert!(test.steepest <= test.minimum, "{test:?}");
    let first = test.points[0].smoothed;
    let lowest = test
        .points
        .iter()
        .map(|p| p.smoothed)
        .fold(f64::INFINITY, f64::min);
    assert!(lowest < 0.8 * first, "{first} → {lowest}");
    assert!((1e-3..=1.0).contains(&test.steepest), "{}", test.steepest);

    // The run is exactly as it was: weights, optimizer state and learning rate.
    assert_eq!(bits(&trainer), before);
    assert_eq!(trainer.optimizer.state(), state_before);
    assert_eq!(trainer.optimizer.learning_rate(), 0.05);

    // The CSV keeps every point and gives the same regions back.
    let again = LrRangeTest::from_csv(&test.to_csv(), Path::new("lr_find.csv")).unwrap();
    assert_eq!(again.points, test.points);
    assert_eq!(
        (again.steepest, again.minimum, again.too_small_below),
        (test.steepest, test.minimum, test.too_small_below)
    );
    let err = LrRangeTest::from_csv("lr,loss,smoothed\n1,2\n", Path::new("x.csv")).unwrap_err();
    assert!(err.to_string().contains("x.csv: line 2"), "{err}");
    let err = trainer.lr_range_test(&loader, 1.0, 0.1, 10, 0).unwrap_err();
    assert!(err.to_string().contains("0 < start < end"), "{err}");
}
