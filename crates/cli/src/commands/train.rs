//! `convnet train`: the main job — train a zoo model on a real data set, with a progress bar,
//! validation each epoch, a CSV log and checkpoints, then report test accuracy. The loss is
//! cross-entropy, plus GoogLeNet's weighted auxiliary-classifier losses when the model has them.

use std::path::PathBuf;
use std::time::Instant;

use convnet_datasets::{Augment, DataLoader, DatasetError, DatasetKind, LoaderConfig, Split};
use convnet_nn::Model;
use convnet_train::{
    Callback, Checkpoint, Control, EarlyStopping, EpochRecord, FitConfig, ProgressMode, Trainer,
};
use convnet_zoo::AuxClassifierLoss;

use crate::Failure;
use crate::args::{ProgressName, TrainArgs};
use crate::commands::{
    data_dir, dataset_failure, dataset_kind, find_data, load_split, model_input, run_config,
};
use crate::recipes::Recipe;

/// Training images held out for validation (the test split is kept for the final report).
fn holdout(kind: DatasetKind, train_len: usize) -> usize {
    match kind {
        DatasetKind::Cifar10 => (train_len / 8).max(1),
        _ => 5000.min(train_len / 10).max(1),
    }
}

/// Builds a zoo model; unknown names are usage errors listing the valid ones.
pub fn build_model(
    name: &str,
    classes: Option<usize>,
    input: Option<[usize; 3]>,
) -> Result<Model<f32>, Failure> {
    let mut cfg = convnet_zoo::ZooConfig::default();
    if let Some(c) = classes {
        cfg = cfg.classes(c);
    }
    if let Some(i) = input {
        cfg = cfg.input(i);
    }
    convnet_zoo::build::<f32>(name, &cfg).map_err(|e| match e {
        convnet_zoo::ZooError::UnknownModel { .. } => Failure::usage(e.to_string()),
        other => Failure::run(other),
    })
}

pub fn run(mut args: TrainArgs) -> Result<(), Failure> {
    if let Some(t) = args.threads {
        rayon_threads(t)?;
    }
    if let Some(path) = &args.resume {
        if !path.is_file() {
            return Err(Failure::no_input(format!(
                "checkpoint {} not found",
                path.display()
            )));
        }
        let ck = Checkpoint::<f32>::load(path).map_err(Failure::run)?;
        run_config::adopt(&mut args, &ck.info)?;
    }
    let model_name = args.model.clone().unwrap_or_else(|| "lenet5".into());
    let mut kind = dataset_kind(args.dataset.as_deref().unwrap_or("mnist"))?;
    let dir = match find_data(&args.data, kind) {
        Ok(dir) => dir,
        Err(e) if args.dataset.is_none() => {
            // The default command works on a fresh machine: without MNIST, the built-in
            // digits, said in one line.
            let why = match &e {
                DatasetError::Missing { .. } => format!(
                    "is not in {} or the cache, and downloading is off",
                    data_dir(&args.data).display()
                ),
                other => format!("could not be downloaded ({other})"),
            };
            eprintln!(
                "mnist {why}; training on the built-in digits instead (`convnet download \
                 mnist` fetches MNIST)"
            );
            kind = DatasetKind::Digits;
            data_dir(&args.data)
        }
        Err(e) => return Err(dataset_failure(e)),
    };
    let seed = args.seed.unwrap_or(0);
    let recipe = Recipe::resolve(&model_name, &args, kind);
    let input = model_input(&model_name, kind)?;
    let model = build_model(&model_name, Some(10), Some(input))?;

    let loaded = Instant::now();
    let mut full = load_split(kind, Split::Train, &dir, input).map_err(dataset_failure)?;
    if let Some(n) = args.train_subset {
        full = full.take(n);
    }
    let (train_set, val_set) = full
        .split_off(holdout(kind, full.len()))
        .map_err(Failure::run)?;
    let test_set = match load_split(kind, Split::Test, &dir, input) {
        Ok(t) => Some(t),
        Err(convnet_datasets::DatasetError::Missing { .. }) => None,
        Err(e) => return Err(Failure::run(e)),
    };
    let mut train_cfg = LoaderConfig::new(recipe.batch_size, seed);
    if recipe.augment {
        train_cfg.augment = Augment {
            crop_padding: Some(4),
            horizontal_flip: kind == DatasetKind::Cifar10,
        };
    }
    let train = DataLoader::new(train_set, train_cfg).map_err(Failure::run)?;
    let val = DataLoader::new(val_set, LoaderConfig::evaluation(256)).map_err(Failure::run)?;
    eprintln!(
        "{} on {}: {} train / {} validation images{} (loaded in {:.1}s); {} parameters",
        model_name,
        kind,
        train.dataset().len(),
        val.dataset().len(),
        test_set
            .as_ref()
            .map(|t| format!(" / {} test", t.len()))
            .unwrap_or_default(),
        loaded.elapsed().as_secs_f64(),
        convnet_nn::summary::fmt_count(model.num_params() as u64),
    );
    eprintln!(
        "{} epochs, batch {}, {:?} lr {} (weight decay {}), {:?} schedule, augmentation {}",
        recipe.epochs,
        recipe.batch_size,
        recipe.optimizer,
        recipe.lr,
        recipe.weight_decay,
        recipe.schedule,
        if recipe.augment { "on" } else { "off" }
    );

    let steps_per_epoch = args
        .limit_train_batches
        .map_or(train.batches_per_epoch(), |l| {
            l.min(train.batches_per_epoch())
        }) as u64;
    let (scheduler, unit) = recipe.scheduler(steps_per_epoch)?;
    let mut trainer = Trainer::new(
        &model,
        AuxClassifierLoss::new(),
        recipe.optimizer()?,
        Some(scheduler),
        seed,
    )
    .map_err(Failure::run)?;
    if let Some(path) = &args.resume {
        trainer.resume(path).map_err(Failure::run)?;
        eprintln!(
            "resumed from {} at epoch {}, step {}",
            path.display(),
            trainer.position.epoch,
            trainer.position.step
        );
    }
    let peak = trainer
        .planned_peak_bytes(recipe.batch_size)
        .map_err(Failure::run)?;
    eprintln!(
        "planned peak of a training step at batch {}: {} of activations and gradients \
         (+ {} of parameters)",
        recipe.batch_size,
        convnet_nn::summary::fmt_bytes(peak as u64),
        convnet_nn::summary::fmt_bytes(4 * model.num_params() as u64),
    );
    trainer.set_check_numerics(args.check_numerics);
    trainer.callbacks.push(Box::new(PrintEpoch));
    if let Some(p) = args.early_stopping {
        trainer
            .callbacks
            .push(Box::new(EarlyStopping::new(p, 1e-4)));
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("runs/{model_name}-{kind}")));
    let mut fit = FitConfig::new(recipe.epochs, seed);
    fit.progress = match args.progress {
        ProgressName::Auto => ProgressMode::Auto,
        ProgressName::Bar => ProgressMode::Bar,
        ProgressName::Lines => ProgressMode::Lines {
            every: (steps_per_epoch as usize / 10).max(1),
        },
        ProgressName::None => ProgressMode::Silent,
    };
    fit.csv_log = Some(out.join("log.csv"));
    fit.checkpoint_dir = Some(out.clone());
    fit.checkpoint_every = args.checkpoint_every;
    fit.limit_train_batches = args.limit_train_batches;
    fit.limit_val_batches = args.limit_val_batches;
    fit.stop_after_steps = args.stop_after_steps;
    fit.schedule_unit = unit;
    fit.info = vec![
        ("model".into(), model_name.clone()),
        ("dataset".into(), kind.name().into()),
        ("classes".into(), "10".into()),
        ("input".into(), convnet_zoo::chw(input)),
    ];
    fit.info.extend(run_config::record(
        &model_name,
        kind.name(),
        seed,
        &recipe,
        &args,
    ));

    let started = Instant::now();
    let report = trainer
        .fit(&train, Some(&val), &fit)
        .map_err(Failure::run)?;
    if report.stopped_early
        && fit
            .stop_after_steps
            .is_some_and(|s| trainer.position.step >= s)
    {
        println!(
            "stopped after step {}; resume with --resume {}",
            trainer.position.step,
            out.join("last.safetensors").display()
        );
        return Ok(());
    }
    if let Some(test) = test_set {
        let loader = DataLoader::new(test, LoaderConfig::evaluation(256)).map_err(Failure::run)?;
        let t = trainer
            .evaluate(&loader, args.limit_val_batches)
            .map_err(Failure::run)?;
        println!(
            "test: loss {:.4}  accuracy {:.2}%  top-5 {:.2}%  ({} images)",
            t.loss,
            100.0 * t.accuracy,
            100.0 * t.top5,
            t.count
        );
    } else {
        println!(
            "test: the {kind} test split is not in {}; validation figures above",
            dir.display()
        );
    }
    println!(
        "trained {} steps in {:.1}s; checkpoints and log.csv in {}",
        trainer.position.step,
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}

/// Prints one summary line as each epoch ends.
struct PrintEpoch;

impl Callback for PrintEpoch {
    fn on_epoch_end(&mut self, r: &EpochRecord) -> Control {
        println!(
            "epoch {:>3}  train loss {:.4} acc {:6.2}%  val loss {:.4} acc {:6.2}%  lr {:.2e}  {:.1}s  {:.0} img/s",
            r.epoch,
            r.train_loss,
            100.0 * r.train_accuracy,
            r.val_loss.unwrap_or(f64::NAN),
            100.0 * r.val_accuracy.unwrap_or(f64::NAN),
            r.learning_rate,
            r.seconds,
            r.images_per_second
        );
        Control::Continue
    }
}

/// Most threads `--threads` accepts: more than any machine this runs on has cores, fewer than
/// would exhaust the process's thread limit while the pool starts.
const MAX_THREADS: usize = 1024;

fn rayon_threads(n: usize) -> Result<(), Failure> {
    if !(1..=MAX_THREADS).contains(&n) {
        return Err(Failure::usage(format!(
            "--threads {n}: must be between 1 and {MAX_THREADS}"
        )));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .map_err(|e| Failure::usage(format!("--threads {n}: {e}")))
}
