//! `fit` resumed from a checkpoint continues so exactly that the loss curve is bit-identical
//! to an uninterrupted run — with shuffling, augmentation, Dropout, BatchNorm, momentum and a
//! schedule all in play, and the interruption in the middle of an epoch.

use convnet_datasets::{Augment, DataLoader, Dataset, DatasetKind, LoaderConfig, Split};
use convnet_nn::layers::{
    Activation, BatchNorm, Conv2d, Dropout, Flatten, Linear, MaxPool2d, Sequential,
};
use convnet_nn::{CrossEntropyLoss, Model};
use convnet_optim::SgdConfig;
use convnet_optim::schedule::{Scheduled, StepDecay};
use convnet_train::{FitConfig, ProgressMode, ScheduleUnit, Trainer};

fn model() -> Model<f32> {
    let mut net = Sequential::<f32>::new("net");
    let n = net.next_name();
    net.push(Conv2d::new(&n, 1, 4, 5).padding(2));
    let n = net.next_name();
    net.push(BatchNorm::new_2d(&n, 4));
    let n = net.next_name();
    net.push(Activation::relu(&n));
    let n = net.next_name();
    net.push(MaxPool2d::new(&n, 2));
    let n = net.next_name();
    net.push(Flatten::new(&n));
    let n = net.next_name();
    net.push(Dropout::new(&n, 0.25));
    let n = net.next_name();
    net.push(Linear::new(&n, 4 * 14 * 14, 10));
    Model::new(net, &[1, 28, 28]).unwrap()
}

fn trainer(m: &Model<f32>) -> Trainer {
    let opt = SgdConfig::new(0.05).momentum(0.9).build::<f32>().unwrap();
    let sched = Scheduled::new(StepDecay::new(0.05, 5, 0.5).unwrap());
    Trainer::new(
        m,
        CrossEntropyLoss::new(),
        Box::new(opt),
        Some(Box::new(sched)),
        11,
    )
    .unwrap()
}

#[test]
fn resumed_run_matches_uninterrupted_run_bit_for_bit() {
    let data = Dataset::load(
        DatasetKind::Mnist,
        Split::Test,
        &convnet_testdata::test_data().dir,
    )
    .unwrap()
    .take(256);
    let cfg = LoaderConfig {
        augment: Augment {
            crop_padding: Some(2),
            horizontal_flip: false,
        },
        ..LoaderConfig::new(32, 5)
    };
    let loader = DataLoader::new(data, cfg).unwrap();
    let m = model();
    let dir = tempfile::tempdir().unwrap();
    let mut fit = FitConfig::new(2, 5);
    fit.progress = ProgressMode::Silent;
    fit.schedule_unit = ScheduleUnit::Step;

    let full = trainer(&m).fit(&loader, None, &fit).unwrap();
    assert_eq!(full.step_losses.len(), 16);

    let mut first = fit.clone();
    first.checkpoint_dir = Some(dir.path().to_path_buf());
    first.checkpoint_every = Some(1);
    first.stop_after_steps = Some(11);
    let part1 = trainer(&m).fit(&loader, None, &first).unwrap();
    assert!(part1.stopped_early);
    assert_eq!(part1.position.batch_in_epoch, 3, "interrupted mid-epoch");

    let mut resumed = trainer(&m);
    resumed
        .resume(&dir.path().join("last.safetensors"))
        .unwrap();
    let part2 = resumed.fit(&loader, None, &fit).unwrap();
    let joined: Vec<u64> = part1
        .step_losses
        .iter()
        .chain(&part2.step_losses)
        .map(|l| l.to_bits())
        .collect();
    let want: Vec<u64> = full.step_losses.iter().map(|l| l.to_bits()).collect();
    assert_eq!(joined, want);
    assert!(full.step_losses[15] < full.step_losses[0], "the loss falls");
}

#[test]
fn a_corrupt_checkpoint_says_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.safetensors");
    std::fs::write(&path, b"not a checkpoint").unwrap();
    let e = trainer(&model()).resume(&path).unwrap_err().to_string();
    assert!(
        e.contains("bad.safetensors") && e.contains("not a readable safetensors file"),
        "{e}"
    );
}
