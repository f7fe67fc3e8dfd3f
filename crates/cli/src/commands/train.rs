//! `convnet train`: the main job — train a zoo model on a real data set or a folder of your own
//! pictures (fine-tuning pretrained weights, layers frozen, if asked), with a progress bar,
//! validation each epoch, a CSV log and checkpoints, then report test accuracy. The loss is
//! cross-entropy, plus GoogLeNet's weighted auxiliary-classifier losses when the model has them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use convnet_datasets::folder::{self, FolderOptions};
use convnet_datasets::{
    Augment, ColorJitter, DataLoader, Dataset, DatasetError, DatasetKind, LoaderConfig,
    ResizedCrop, Split,
};
use convnet_nn::Model;
use convnet_train::{
    Callback, Checkpoint, Control, EarlyStopping, EpochRecord, FitConfig, ProgressMode, Trainer,
};
use convnet_zoo::AuxClassifierLoss;

use crate::Failure;
use crate::args::{LrFindArgs, ProgressName, TrainArgs};
use crate::commands::data::{self, DataSource, HOLDOUT_FRACTION, Preprocess, storage_side};
use crate::commands::{data_dir, dataset_failure, find_data, load_split, model_input, run_config};
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

/// The splits a run trains and reports on, and how its images were prepared.
struct Prepared {
    /// The built-in data set (`None`: a folder), after the MNIST → digits fallback.
    kind: Option<DatasetKind>,
    source: DataSource,
    train: Dataset,
    val: Dataset,
    test: Option<Dataset>,
    pre: Preprocess,
    /// Where a built-in data set was found.
    dir: Option<PathBuf>,
}

pub fn run(args: TrainArgs) -> Result<(), Failure> {
    run_or_sweep(args, None)
}

/// `convnet lr-find`: the run `train` would make, up to its first step, then the range test.
pub fn lr_find(args: LrFindArgs) -> Result<(), Failure> {
    let sweep = (args.start_lr, args.end_lr, args.steps);
    run_or_sweep(args.train, Some(sweep))
}

fn run_or_sweep(mut args: TrainArgs, sweep: Option<(f64, f64, usize)>) -> Result<(), Failure> {
    // Under mpirun, ranks sharing a host share its cores: by default each takes its share
    // rather than all of them (which would oversubscribe the cores N times).
    let threads = args.threads.or_else(|| {
        let local = convnet_dist::launch_info()
            .filter(|i| i.size > 1)?
            .local_size?;
        let cores = std::thread::available_parallelism().ok()?.get();
        Some((cores / local).max(1))
    });
    if let Some(t) = threads {
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
    let source = match args.dataset.as_deref() {
        Some(name) => DataSource::parse(name)?,
        None => DataSource::Builtin(DatasetKind::Mnist),
    };
    let seed = args.seed.unwrap_or(0);
    let loaded = Instant::now();
    let data = match &source {
        DataSource::Builtin(kind) => builtin_data(&args, *kind, &model_name)?,
        DataSource::Folder(path) => folder_data(&args, path, &model_name, seed)?,
    };
    let Prepared {
        kind,
        source,
        train: train_set,
        val: val_set,
        test: test_set,
        pre,
        dir,
    } = data;
    let recipe = Recipe::resolve(&model_name, &args, kind);
    let mut model = build_model(&model_name, Some(pre.classes.len()), Some(pre.input))?;
    if !args.freeze.is_empty() {
        let frozen = model
            .freeze(&args.freeze)
            .map_err(|e| Failure::usage(e.to_string()))?;
        note!(
            "frozen: {} tensors under {} ({} of {} parameters train)",
            frozen.len(),
            args.freeze.join(", "),
            convnet_nn::summary::fmt_count(model.num_trainable() as u64),
            convnet_nn::summary::fmt_count(model.num_params() as u64),
        );
    }

    let mut train_cfg = LoaderConfig::new(recipe.batch_size, seed);
    train_cfg.output_size = pre.output_size();
    if recipe.augment {
        train_cfg.augment = match kind {
            Some(k) => Augment {
                crop_padding: Some(4),
                horizontal_flip: k == DatasetKind::Cifar10,
                ..Augment::default()
            },
            None => folder_augment(),
        };
    }
    let eval_cfg = |batch| LoaderConfig {
        output_size: pre.output_size(),
        ..LoaderConfig::evaluation(batch)
    };
    let train = DataLoader::new(train_set, train_cfg).map_err(Failure::run)?;
    let val = DataLoader::new(val_set, eval_cfg(256)).map_err(Failure::run)?;
    note!(
        "{} on {}: {} train / {} validation images{}, {} classes, input {} (loaded in {:.1}s); \
         {} parameters",
        model_name,
        source,
        train.dataset().len(),
        val.dataset().len(),
        test_set
            .as_ref()
            .map(|t| format!(" / {} test", t.len()))
            .unwrap_or_default(),
        pre.classes.len(),
        convnet_zoo::chw(pre.input),
        loaded.elapsed().as_secs_f64(),
        convnet_nn::summary::fmt_count(model.num_params() as u64),
    );
    note!(
        "{} epochs, batch {}, {:?} lr {} (weight decay {}), {:?} schedule, augmentation {}",
        recipe.epochs,
        recipe.batch_size,
        recipe.optimizer,
        recipe.lr,
        recipe.weight_decay,
        recipe.schedule,
        if recipe.augment { "on" } else { "off" }
    );

    let world = crate::world::get();
    if world.size() > 1 {
        note!(
            "data-parallel on {}: each rank trains on its share of every batch of {}{}",
            world.describe(),
            recipe.batch_size,
            if args.sync_bn {
                ", BatchNorm synchronised"
            } else {
                ", BatchNorm statistics per rank"
            }
        );
    }
    if !(args.bucket_mib > 0.0 && args.bucket_mib <= 1024.0) {
        return Err(Failure::usage(format!(
            "--bucket-mib {} is not between 0 and 1024",
            args.bucket_mib
        )));
    }
    if args.sync_bn {
        model.sync_batch_norm(Some(convnet_train::replicas(&world)));
    }
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
    trainer.set_communicator(world.clone());
    trainer.set_bucket_bytes((args.bucket_mib * (1u64 << 20) as f64) as usize);
    // The trainer's steps are built: what is built from the model from here on (the
    // dashboard's inspection step, on rank 0 alone) must not wait for the other ranks.
    model.sync_batch_norm(None);
    if let Some(path) = &args.resume {
        trainer.resume(path).map_err(Failure::run)?;
        note!(
            "resumed from {} at epoch {}, step {}",
            path.display(),
            trainer.position.epoch,
            trainer.position.step
        );
    } else if let Some(path) = &args.pretrained {
        load_pretrained(&model, path, &mut trainer)?;
    }
    let peak = trainer
        .planned_peak_bytes(recipe.batch_size)
        .map_err(Failure::run)?;
    note!(
        "planned peak of a training step at batch {}: {} of activations and gradients \
         (+ {} of parameters)",
        recipe.batch_size,
        convnet_nn::summary::fmt_bytes(peak as u64),
        convnet_nn::summary::fmt_bytes(4 * model.num_params() as u64),
    );
    trainer.set_check_numerics(args.check_numerics);
    trainer.set_precision(if world.is_root() {
        args.precision.announced()
    } else {
        args.precision.precision
    });
    if world.is_root() {
        trainer.callbacks.push(Box::new(PrintEpoch));
    }
    if let Some(p) = args.early_stopping {
        trainer
            .callbacks
            .push(Box::new(EarlyStopping::new(p, 1e-4)));
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("runs/{model_name}-{}", source.short_name())));
    let _dashboard = if args.dashboard && world.is_root() {
        Some(start_dashboard(
            &args,
            &model,
            &model_name,
            &source.record(),
            &pre.classes,
            recipe.batch_size,
            &val,
            &mut trainer,
            &out,
        )?)
    } else {
        None
    };
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
    fit.step_log = Some(out.join("steps.csv"));
    fit.checkpoint_dir = Some(out.clone());
    fit.checkpoint_every = args.checkpoint_every;
    fit.limit_train_batches = args.limit_train_batches;
    fit.limit_val_batches = args.limit_val_batches;
    fit.stop_after_steps = args.stop_after_steps;
    fit.schedule_unit = unit;
    fit.info = vec![
        ("model".into(), model_name.clone()),
        ("dataset".into(), source.record()),
    ];
    fit.info.extend(pre.info());
    fit.info.extend(run_config::record(
        &model_name,
        &source.record(),
        seed,
        &recipe,
        &args,
    ));

    if let Some((start, end, steps)) = sweep {
        return write_lr_find(&mut trainer, &train, start, end, steps, seed, &out);
    }
    let started = Instant::now();
    let report = trainer
        .fit(&train, Some(&val), &fit)
        .map_err(Failure::run)?;
    let c = report.communication;
    if c.ranks > 1 && report.position.step > 0 {
        let steps = report.step_losses.len().max(1) as f64;
        say!(
            "data-parallel: {} ranks; collectives took {:.2}s of the steps' time on rank 0 \
             ({:.1} ms a step, waiting for the slower rank included), the gradients' allreduce \
             {:.1} ms a step for {} in {:.1} call(s)",
            c.ranks,
            c.step_seconds,
            1e3 * c.step_seconds / steps,
            1e3 * c.gradient_seconds / steps,
            convnet_nn::summary::fmt_bytes((c.gradient_bytes as f64 / steps) as u64),
            c.gradient_calls as f64 / steps
        );
    }
    if report.stopped_early
        && fit
            .stop_after_steps
            .is_some_and(|s| trainer.position.step >= s)
    {
        say!(
            "stopped after step {} ({} steps in {:.1}s); resume with --resume {}",
            trainer.position.step,
            report.step_losses.len(),
            started.elapsed().as_secs_f64(),
            out.join("last.safetensors").display()
        );
        return Ok(());
    }
    if let Some(test) = test_set {
        let loader = DataLoader::new(test, eval_cfg(256)).map_err(Failure::run)?;
        let t = trainer
            .evaluate(&loader, args.limit_val_batches)
            .map_err(Failure::run)?;
        say!(
            "test: loss {:.4}  accuracy {:.2}%  top-5 {:.2}%  ({} images)",
            t.loss,
            100.0 * t.accuracy,
            100.0 * t.top5,
            t.count
        );
    } else if let Some(dir) = &dir {
        say!(
            "test: the {source} test split is not in {}; validation figures above",
            dir.display()
        );
    } else {
        say!(
            "test: an image folder has no test split; the validation figures above are on {} \
             held-out images (`convnet eval --checkpoint … --dataset FOLDER` scores another \
             folder)",
            val.dataset().len()
        );
    }
    say!(
        "trained {} steps in {:.1}s; checkpoints and log.csv in {}",
        trainer.position.step,
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}

/// Folder augmentation: random-resized crops of at least a quarter of the stored square
/// (torchvision's 8 % is meant for ImageNet's large, cluttered photos), mirror images and mild
/// colour jitter.
pub fn folder_augment() -> Augment {
    Augment {
        horizontal_flip: true,
        resized_crop: Some(ResizedCrop {
            min_scale: 0.25,
            ..ResizedCrop::default()
        }),
        color_jitter: Some(ColorJitter {
            brightness: 0.2,
            contrast: 0.2,
            saturation: 0.2,
        }),
        ..Augment::default()
    }
}

/// The given `--mean`/`--std`, if any, for `channels`.
/// Per-channel means and standard deviations.
type Stats = (Vec<f32>, Vec<f32>);

fn given_stats(args: &TrainArgs, channels: usize) -> Result<Option<Stats>, Failure> {
    match (&args.mean, &args.std) {
        (Some(m), Some(s)) => Ok(Some((
            data::parse_stats("mean", m, channels)?,
            data::parse_stats("std", s, channels)?,
        ))),
        (None, None) => Ok(None),
        _ => Err(Failure::usage("--mean and --std go together")),
    }
}

/// A built-in data set: found (or downloaded, or — for the default command — replaced by the
/// embedded digits), resized to the model's input, the last part of its training split held
/// out.
fn builtin_data(
    args: &TrainArgs,
    kind: DatasetKind,
    model_name: &str,
) -> Result<Prepared, Failure> {
    let mut kind = kind;
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
            note!(
                "mnist {why}; training on the built-in digits instead (`convnet download \
                 mnist` fetches MNIST)"
            );
            kind = DatasetKind::Digits;
            data_dir(&args.data)
        }
        Err(e) => return Err(dataset_failure(e)),
    };
    let input = match args.image_size {
        Some(n) => sized_input(model_name, kind.image_shape()[0], n)?,
        None => model_input(model_name, kind)?,
    };
    let mut pre = Preprocess::builtin(kind, input);
    if let Some((m, s)) = given_stats(args, input[0])? {
        (pre.mean, pre.std) = (m, s);
    }
    let normalise = |d: Dataset| {
        d.with_normalization(pre.mean.clone(), pre.std.clone())
            .map_err(Failure::run)
    };
    let mut full =
        normalise(load_split(kind, Split::Train, &dir, input).map_err(dataset_failure)?)?;
    if let Some(n) = args.train_subset {
        full = full.take(n);
    }
    let (train, val) = full
        .split_off(holdout(kind, full.len()))
        .map_err(Failure::run)?;
    let test = match load_split(kind, Split::Test, &dir, input) {
        Ok(t) => Some(normalise(t)?),
        Err(DatasetError::Missing { .. }) => None,
        Err(e) => return Err(Failure::run(e)),
    };
    Ok(Prepared {
        kind: Some(kind),
        source: DataSource::Builtin(kind),
        train,
        val,
        test,
        pre,
        dir: Some(dir),
    })
}

/// The input `[channels, n, n]`, refused when the model cannot take it.
fn sized_input(model_name: &str, channels: usize, n: usize) -> Result<[usize; 3], Failure> {
    if !(1..=folder::MAX_SIZE).contains(&n) {
        return Err(Failure::usage(format!(
            "--image-size {n}: must be between 1 and {}",
            folder::MAX_SIZE
        )));
    }
    let input = [channels, n, n];
    let cfg = convnet_zoo::ZooConfig::default().input(input);
    let smallest = convnet_zoo::smallest_input(model_name, &cfg).map_err(|e| match e {
        convnet_zoo::ZooError::UnknownModel { .. } => Failure::usage(e.to_string()),
        other => Failure::run(other),
    })?;
    if n < smallest[1] || n < smallest[2] {
        return Err(Failure::usage(format!(
            "--image-size {n}: {model_name} needs at least {}×{}",
            smallest[1], smallest[2]
        )));
    }
    Ok(input)
}

/// An image folder: decoded at the model's channels and a margin above its input size, with
/// `--val-dir` or a stratified hold-out for validation, normalised with the training split's
/// statistics unless told otherwise.
fn folder_data(
    args: &TrainArgs,
    path: &Path,
    model_name: &str,
    seed: u64,
) -> Result<Prepared, Failure> {
    if args.train_subset.is_some() {
        return Err(Failure::usage(
            "--train-subset applies to the built-in data sets; for a folder, use a smaller folder",
        ));
    }
    let default = convnet_zoo::info(model_name)
        .map_err(|e| Failure::usage(e.to_string()))?
        .default_input;
    let side = args.image_size.unwrap_or(default[1]);
    let input = sized_input(model_name, default[0], side)?;
    let stored = storage_side(side);
    let opts = FolderOptions {
        channels: input[0],
        size: stored,
        strict: args.strict_images,
        classes: None,
    };
    let all = data::read_folder(path, &opts)?;
    let classes = all.class_names().to_vec();
    if classes.len() < 2 {
        return Err(Failure::run(format!(
            "{}: one class folder ({}); classification needs at least two",
            path.display(),
            classes.join(", ")
        )));
    }
    let (train, val) = match &args.val_dir {
        Some(v) => {
            let val = data::read_folder(
                v,
                &FolderOptions {
                    classes: Some(classes.clone()),
                    ..opts.clone()
                },
            )?;
            (all, val)
        }
        None => all
            .stratified_split(HOLDOUT_FRACTION, seed)
            .map_err(Failure::run)?,
    };
    let (mean, std) = match given_stats(args, input[0])? {
        Some(stats) => stats,
        None => match args
            .pretrained
            .as_deref()
            .and_then(|p| pretrained_stats(p, input[0]))
        {
            Some((m, s, whose)) => {
                note!("normalising with {whose} statistics, as the pretrained weights expect");
                (m, s)
            }
            None => train.channel_stats(),
        },
    };
    let pre = Preprocess {
        input,
        classes,
        mean,
        std,
        resize: Some(stored),
    };
    let normalise = |d: Dataset| {
        d.with_normalization(pre.mean.clone(), pre.std.clone())
            .map_err(Failure::run)
    };
    Ok(Prepared {
        kind: None,
        source: DataSource::Folder(path.to_path_buf()),
        train: normalise(train)?,
        val: normalise(val)?,
        test: None,
        pre,
        dir: None,
    })
}

/// The statistics pretrained weights were trained with: a convnet checkpoint's record, or
/// ImageNet's for torchvision weights of a 3-channel model.
fn pretrained_stats(path: &Path, channels: usize) -> Option<(Vec<f32>, Vec<f32>, &'static str)> {
    match Checkpoint::<f32>::load(path) {
        Ok(ck) => {
            let input = [channels, 1, 1];
            let source = DataSource::Folder(path.to_path_buf());
            let pre = Preprocess::from_info(&ck.info, &source, input).ok()?;
            Some((pre.mean, pre.std, "the pretrained run's"))
        }
        Err(_) if channels == 3 => Some((
            data::IMAGENET_MEAN.to_vec(),
            data::IMAGENET_STD.to_vec(),
            "ImageNet's",
        )),
        Err(_) => None,
    }
}

/// Loads `--pretrained` weights into the trainer's fresh parameters, saying what was replaced.
fn load_pretrained(model: &Model<f32>, path: &Path, trainer: &mut Trainer) -> Result<(), Failure> {
    if !path.is_file() {
        return Err(Failure::no_input(format!(
            "--pretrained {}: not found",
            path.display()
        )));
    }
    let report = convnet_zoo::load_pretrained_file(model, path, &mut trainer.params)
        .map_err(Failure::run)?;
    note!(
        "loaded {} pretrained tensors from {}{}",
        report.loaded,
        path.display(),
        if report.from_checkpoint {
            " (a convnet checkpoint)"
        } else {
            ""
        }
    );
    for (layer, was, now) in &report.replaced {
        note!(
            "replaced the classifier head `{layer}` ({was} → {now} classes): freshly initialised"
        );
    }
    Ok(())
}

/// Prints one summary line as each epoch ends.
struct PrintEpoch;

impl Callback for PrintEpoch {
    fn on_epoch_end(&mut self, r: &EpochRecord) -> Control {
        say!(
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

pub fn rayon_threads(n: usize) -> Result<(), Failure> {
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

/// Starts the live dashboard of `--dashboard`: the server, and the monitor among the trainer's
/// callbacks. The server lives as long as the returned value.
#[allow(clippy::too_many_arguments)]
fn start_dashboard(
    args: &TrainArgs,
    model: &convnet_nn::Model<f32>,
    model_name: &str,
    dataset: &str,
    classes: &[String],
    batch_size: usize,
    val: &DataLoader,
    trainer: &mut Trainer,
    out: &std::path::Path,
) -> Result<convnet_dashboard::DashboardServer, Failure> {
    use convnet_dashboard::{DashState, DashboardServer, Hub, Monitor, RunInfo, SampleBatch};
    use std::sync::Arc;

    let first = val
        .epoch(0)
        .next()
        .ok_or_else(|| Failure::usage("--dashboard needs validation images".to_string()))?
        .map_err(Failure::run)?;
    let take = |k: usize| SampleBatch::first(&first.images, &first.labels, k).map_err(Failure::run);
    let run = RunInfo {
        model: model_name.to_string(),
        dataset: dataset.to_string(),
        input: model.input_shape().to_vec(),
        params: model.num_params() as u64,
        classes: classes.to_vec(),
        batch_size,
    };
    let hub = Arc::new(Hub::new(DashState {
        lr_find: super::report::read_lr_find(out),
        ..DashState::default()
    }));
    let monitor = Monitor::new(
        Arc::clone(&hub),
        model,
        AuxClassifierLoss::new(),
        run,
        take(8)?,
        Some(take(256)?),
        std::time::Duration::from_secs(3),
    )
    .map_err(Failure::run)?;
    let server =
        DashboardServer::start(hub, &args.host, args.port.unwrap_or(0)).map_err(Failure::usage)?;
    trainer.callbacks.push(Box::new(monitor));
    say!("dashboard: {}", server.url());
    if args.host != "127.0.0.1" && args.host != "localhost" {
        note!(
            "dashboard: listening on {}, reachable from the network",
            args.host
        );
    }
    Ok(server)
}

/// Runs the range test, prints what it found and writes `lr_find.csv` beside the run's other
/// files (the dashboard and `convnet report` chart it from there).
fn write_lr_find(
    trainer: &mut Trainer,
    train: &DataLoader,
    start: f64,
    end: f64,
    steps: usize,
    seed: u64,
    out: &std::path::Path,
) -> Result<(), Failure> {
    let test = trainer
        .lr_range_test(train, start, end, steps, seed)
        .map_err(|e| match e {
            convnet_train::TrainError::Invalid(m) => Failure::usage(m),
            e => Failure::run(e),
        })?;
    if !crate::world::is_root() {
        return Ok(());
    }
    let csv = test.to_csv();
    std::fs::create_dir_all(out).map_err(|e| Failure::run(format!("{}: {e}", out.display())))?;
    let path = out.join("lr_find.csv");
    convnet_datasets::write_atomically(&path, csv.as_bytes())
        .map_err(|e| Failure::run(format!("{}: {e}", path.display())))?;
    say!(
        "lr-find: {} steps from {start:.1e} to {:.1e}{}",
        test.points.len(),
        test.points.last().map_or(start, |p| p.lr),
        if test.diverged {
            " (stopped: the loss diverged)"
        } else {
            ""
        }
    );
    say!(
        "  too small:  below {:.1e} (the loss has not started to fall)",
        test.too_small_below
    );
    say!(
        "  good:       {:.1e} (steepest fall of the loss)",
        test.steepest
    );
    say!(
        "  too large:  above {:.1e} (past the loss's minimum)",
        test.minimum
    );
    say!(
        "  suggested --lr {:.1e}; written {}",
        test.steepest,
        path.display()
    );
    Ok(())
}
