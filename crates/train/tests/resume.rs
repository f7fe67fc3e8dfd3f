//! `fit` resumed from a checkpoint continues so exactly that the loss curve is bit-identical
//! to an uninterrupted run — with shuffling, augmentation, Dropout, BatchNorm, momentum and a
//! schedule all in play, and the interruption in the middle of an epoch.

use std::path::Path;

use convnet_datasets::{Augment, DataLoader, Dataset, DatasetKind, LoaderConfig, Split};
use convnet_nn::layers::{
    Activation, BatchNorm, Conv2d, Dropout, Flatten, Linear, MaxPool2d, Sequential,
};
use convnet_nn::{CrossEntropyLoss, Model};
use convnet_optim::SgdConfig;
use convnet_optim::schedule::{Scheduled, StepDecay};
use convnet_train::{Checkpoint, EarlyStopping, FitConfig, ProgressMode, ScheduleUnit, Trainer};

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
            ..Augment::default()
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

/// Interrupted mid-epoch and resumed, a run with validation and early stopping ends with the
/// same per-epoch records (the interrupted epoch's training loss and accuracy include the
/// batches before the interruption), the same best validation accuracy (so `best.safetensors`
/// is not overwritten by a worse epoch) and the same early-stopping counters as one that never
/// stopped. A resume with another seed or batch size is refused, naming what differs.
#[test]
fn resume_carries_epoch_metrics_best_and_early_stopping_and_refuses_another_run() {
    let data = Dataset::load(
        DatasetKind::Mnist,
        Split::Test,
        &convnet_testdata::test_data().dir,
    )
    .unwrap();
    let (train_set, val_set) = data.take(352).split_off(96).unwrap();
    let loader = DataLoader::new(train_set, LoaderConfig::new(32, 5)).unwrap();
    let val = DataLoader::new(val_set, LoaderConfig::evaluation(48)).unwrap();
    let m = model();
    let run = |dir: &Path, stop: Option<u64>, resume: bool| {
        let mut t = trainer(&m);
        t.callbacks.push(Box::new(EarlyStopping::new(100, 0.0)));
        if resume {
            t.resume(&dir.join("last.safetensors")).unwrap();
        }
        let mut fit = FitConfig::new(3, 5);
        fit.progress = ProgressMode::Silent;
        fit.checkpoint_dir = Some(dir.to_path_buf());
        fit.checkpoint_every = Some(1);
        fit.stop_after_steps = stop;
        let report = t.fit(&loader, Some(&val), &fit).unwrap();
        (report, t.callbacks[0].state())
    };
    let (full_dir, cut_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (full, full_stopping) = run(full_dir.path(), None, false);
    assert_eq!(full.history.len(), 3);
    let (part1, _) = run(cut_dir.path(), Some(12), false);
    assert_eq!(part1.position.batch_in_epoch, 4, "interrupted mid-epoch 2");
    let (part2, resumed_stopping) = run(cut_dir.path(), None, true);

    let key = |r: &convnet_train::EpochRecord| {
        (
            r.epoch,
            r.train_loss.to_bits(),
            r.train_accuracy.to_bits(),
            r.val_loss.map(f64::to_bits),
        )
    };
    let joined: Vec<_> = part1
        .history
        .iter()
        .chain(&part2.history)
        .map(key)
        .collect();
    let want: Vec<_> = full.history.iter().map(key).collect();
    assert_eq!(joined, want, "per-epoch records");
    assert_eq!(resumed_stopping, full_stopping, "early-stopping counters");
    let best = |dir: &Path| {
        Checkpoint::<f32>::load(&dir.join("last.safetensors"))
            .unwrap()
            .fit["best_val_accuracy"]
    };
    assert_eq!(
        best(cut_dir.path()).to_bits(),
        best(full_dir.path()).to_bits()
    );
    let saved_best = |dir: &Path| {
        Checkpoint::<f32>::load(&dir.join("best.safetensors"))
            .unwrap()
            .position
    };
    assert_eq!(saved_best(cut_dir.path()), saved_best(full_dir.path()));

    // Another seed, or another batch size, would not continue the same run.
    let mut t = trainer(&m);
    t.resume(&cut_dir.path().join("last.safetensors")).unwrap();
    let mut fit = FitConfig::new(3, 6);
    fit.progress = ProgressMode::Silent;
    let e = t.fit(&loader, Some(&val), &fit).unwrap_err().to_string();
    assert!(
        e.contains("cannot resume exactly") && e.contains("seed 5") && e.contains("seed 6"),
        "{e}"
    );
    let other = DataLoader::new(loader.dataset().clone(), LoaderConfig::new(16, 5)).unwrap();
    let mut t = trainer(&m);
    t.resume(&cut_dir.path().join("last.safetensors")).unwrap();
    fit.seed = 5;
    let e = t.fit(&other, Some(&val), &fit).unwrap_err().to_string();
    assert!(
        e.contains("batch_size = 32") && e.contains("batch_size = 16"),
        "{e}"
    );
}
