//! The fit loop: epochs of training steps with progress, validation, metrics, a CSV log,
//! checkpoints, callbacks, and exact resumption.
//!
//! Exactness: every source of randomness is a function of (seed, position) — the loader's
//! order and augmentation of (seed, epoch, batch), Dropout masks of (seed, global step) — and
//! checkpoints hold parameters, buffers, optimizer and schedule state bit for bit. A run resumed
//! from a checkpoint therefore produces the same losses, to the bit, as one that never stopped.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use convnet_datasets::DataLoader;
use convnet_dist::Communicator;
use convnet_nn::autograd::RunOptions;
use convnet_nn::{Inference, Loss, Model, ParamStore, TrainStep};
use convnet_optim::schedule::Scheduler;
use convnet_optim::{Optimizer, clip_grad_norm};
use convnet_tensor::{Tensor, mix_seed as mix};

use crate::callbacks::{Callback, Control, StepInfo};
use crate::checkpoint::{Checkpoint, TrainPosition};
use crate::data_parallel::{CommunicationReport, DataParallel};
use crate::error::{Result, TrainError};
use crate::evaluation::{evaluate, evaluate_on};
use crate::log::{CsvLog, EpochRecord, StepLog};
use crate::metrics::Running;
use crate::progress::{EpochProgress, ProgressMode};

/// When the learning-rate schedule advances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleUnit {
    /// After every epoch, with the validation loss (else the training loss) as the metric.
    Epoch,
    /// After every optimizer step, with no metric.
    Step,
}

/// How `fit` runs.
#[derive(Debug, Clone)]
pub struct FitConfig {
    /// Epochs to train in total, counting those a resumed run has already done.
    pub epochs: u64,
    /// Seed of the steps' own randomness (Dropout masks); a resumed run must have the
    /// checkpoint's. The data order is the loader's seed.
    pub seed: u64,
    /// How each epoch's progress is shown.
    pub progress: ProgressMode,
    /// Append one row per epoch here.
    pub csv_log: Option<PathBuf>,
    /// Append one row per step here (see [`StepLog`]).
    pub step_log: Option<PathBuf>,
    /// Write `last.safetensors` (every epoch and every `checkpoint_every` steps) and
    /// `best.safetensors` (best validation accuracy) here.
    pub checkpoint_dir: Option<PathBuf>,
    /// Also write `last.safetensors` every this many steps (with `checkpoint_dir`).
    pub checkpoint_every: Option<u64>,
    /// Train on at most this many batches per epoch (a quick run on part of the data).
    pub limit_train_batches: Option<usize>,
    /// Validate on at most this many batches.
    pub limit_val_batches: Option<usize>,
    /// Stop once this many steps have been taken in total, saving `last.safetensors` first
    /// (to be resumed later).
    pub stop_after_steps: Option<u64>,
    /// Rescale the gradients before every step so that their global L2 norm is at most this.
    pub clip_grad_norm: Option<f64>,
    /// When the trainer's scheduler advances.
    pub schedule_unit: ScheduleUnit,
    /// Entries stored in checkpoints (model name, data set, …).
    pub info: Vec<(String, String)>,
}

impl FitConfig {
    /// `epochs` epochs with `seed`: progress [`ProgressMode::Auto`], no log, no checkpoints,
    /// no batch limits, no clipping, the schedule advanced once per epoch.
    pub fn new(epochs: u64, seed: u64) -> Self {
        FitConfig {
            epochs,
            seed,
            progress: ProgressMode::Auto,
            csv_log: None,
            step_log: None,
            checkpoint_dir: None,
            checkpoint_every: None,
            limit_train_batches: None,
            limit_val_batches: None,
            stop_after_steps: None,
            clip_grad_norm: None,
            schedule_unit: ScheduleUnit::Epoch,
            info: Vec::new(),
        }
    }
}

/// Loss, accuracy and top-5 of a model on a data set.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    /// Mean loss per example (NaN when no example was evaluated).
    pub loss: f64,
    /// Top-1 accuracy, as a fraction of the examples.
    pub accuracy: f64,
    /// Fraction of the examples whose label is among the five largest logits.
    pub top5: f64,
    /// Examples evaluated.
    pub count: usize,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<usize>>,
    /// Wall time of the evaluation.
    pub seconds: f64,
}

/// What a `fit` call did.
#[derive(Debug, Clone, Default)]
pub struct FitReport {
    /// One record per epoch completed by this call.
    pub history: Vec<EpochRecord>,
    /// The loss of every step taken by this call, in order (the training curve).
    pub step_losses: Vec<f64>,
    /// Where the run stands at the end of the call.
    pub position: TrainPosition,
    /// Whether the call ended before `epochs`: a callback stopped it, or
    /// [`FitConfig::stop_after_steps`] was reached.
    pub stopped_early: bool,
    /// Time and traffic of the data-parallel collectives (all zero on one rank).
    pub communication: CommunicationReport,
}

/// A model with its parameters, optimizer and schedule, ready to fit.
pub struct Trainer {
    step: TrainStep<f32>,
    evaluator: Inference<f32>,
    /// The model's parameters and buffers, updated by every step.
    pub params: ParamStore<f32>,
    /// The optimizer that applies each step's gradients.
    pub optimizer: Box<dyn Optimizer<f32>>,
    /// The learning-rate schedule, advanced as [`FitConfig::schedule_unit`] says.
    pub scheduler: Option<Box<dyn Scheduler>>,
    /// Hooks the fit loop calls, in order.
    pub callbacks: Vec<Box<dyn Callback>>,
    /// Where the run stands: advanced by [`fit`](Self::fit), restored by
    /// [`resume`](Self::resume).
    pub position: TrainPosition,
    classes: usize,
    clip_norm: Option<f64>,
    /// Best validation accuracy so far: `best.safetensors` is rewritten only when beaten.
    best_accuracy: f64,
    /// Running metrics of the current epoch, carried across a mid-epoch checkpoint.
    running: Running,
    /// What this run looks like (see [`run_shape`]): set by `fit`, saved in checkpoints.
    shape: BTreeMap<String, f64>,
    /// What `resume` read that `fit` checks and hands on.
    resumed: Option<Resumed>,
    /// Every step runs in check mode (see [`Trainer::set_check_numerics`]).
    check_numerics: bool,
    /// The ranks this trainer trains with (one, unless [`Trainer::set_communicator`]).
    parallel: DataParallel,
}

/// The saved run's shape and seed (checked against the resumed `fit`) and the callbacks'
/// entries (given to the callbacks before the first step).
#[derive(Debug, Clone)]
struct Resumed {
    shape: BTreeMap<String, f64>,
    seed: Option<u64>,
    callbacks: BTreeMap<String, f64>,
}

/// The figures that fix which examples each step sees: a resumed run must share them to be
/// exact. Epochs are not among them (a run may be extended); a schedule that depends on the
/// epoch count keeps its own state and checks it.
fn run_shape(
    train: &DataLoader,
    val: Option<&DataLoader>,
    config: &FitConfig,
) -> BTreeMap<String, f64> {
    let per_epoch = config
        .limit_train_batches
        .map_or(train.batches_per_epoch(), |l| {
            l.min(train.batches_per_epoch())
        });
    let mut m = BTreeMap::from([
        ("train_examples".to_string(), train.dataset().len() as f64),
        ("batch_size".to_string(), train.config().batch_size as f64),
        ("batches_per_epoch".to_string(), per_epoch as f64),
    ]);
    if let Some(v) = val {
        let batches = config
            .limit_val_batches
            .map_or(v.batches_per_epoch(), |l| l.min(v.batches_per_epoch()));
        m.insert("val_examples".to_string(), v.dataset().len() as f64);
        m.insert("val_batches".to_string(), batches as f64);
    }
    m
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

impl Trainer {
    /// A trainer for `model` with fresh parameters drawn from `seed`.
    pub fn new<L: Loss<f32> + Clone + 'static>(
        model: &Model<f32>,
        loss: L,
        optimizer: Box<dyn Optimizer<f32>>,
        scheduler: Option<Box<dyn Scheduler>>,
        seed: u64,
    ) -> Result<Trainer> {
        let params = model.init_params(seed)?;
        let step = model.train_step(loss.clone(), seed)?;
        let evaluator = model.evaluator(loss)?;
        let classes = model.num_classes().unwrap_or(0);
        Ok(Trainer {
            step,
            evaluator,
            params,
            optimizer,
            scheduler,
            callbacks: Vec::new(),
            position: TrainPosition::default(),
            classes,
            clip_norm: None,
            best_accuracy: f64::NEG_INFINITY,
            running: Running::default(),
            shape: BTreeMap::new(),
            resumed: None,
            check_numerics: false,
            parallel: DataParallel {
                synchronised_batch_norm: model.batch_norm_synchronised(),
                ..DataParallel::default()
            },
        })
    }

    /// Trains data-parallel over `comm`'s ranks: every rank runs `fit` with the same model,
    /// data and options; each takes its shard of every global batch and the gradients are
    /// averaged before each update (see the `data_parallel` module). One rank (the default)
    /// is training as usual. For synchronised BatchNorm, the model must have been given
    /// [`replicas`](crate::replicas)`(&comm)` before the trainer was made.
    pub fn set_communicator(&mut self, comm: Arc<dyn Communicator>) {
        self.parallel.comm = comm;
    }

    /// The ranks this trainer trains with.
    pub fn communicator(&self) -> &Arc<dyn Communicator> {
        &self.parallel.comm
    }

    /// The size of the buckets gradients are reduced in (default 4 MiB).
    pub fn set_bucket_bytes(&mut self, bytes: usize) {
        self.parallel.bucket_bytes = bytes.max(4);
    }

    /// The most intermediate memory a training step at `batch` holds at once (activations,
    /// gradients, scratch tensors), from the compiled plan before anything runs. Parameters,
    /// optimizer state and kernel scratch (im2col tiles) come on top.
    pub fn planned_peak_bytes(&mut self, batch: usize) -> Result<usize> {
        Ok(self.step.peak_bytes(batch)?)
    }

    /// Precision of the convolutions' and matmuls' products in training and evaluation steps
    /// (parameters, gradients and optimizer state stay `f32`; see
    /// [`Precision`](convnet_nn::tensor::Precision)).
    pub fn set_precision(&mut self, precision: convnet_nn::tensor::Precision) {
        self.step.set_precision(precision);
        self.evaluator.set_precision(precision);
    }

    /// Runs every step in the executor's check mode: the first NaN or infinity anywhere in
    /// the forward or backward pass stops training with the node (its layer path), the op and
    /// its inputs' shapes and statistics. Slower; without it, a non-finite loss triggers one
    /// such re-run of the failing step.
    pub fn set_check_numerics(&mut self, on: bool) {
        self.check_numerics = on;
        self.step.set_run_options(RunOptions {
            check_finite: on,
            ..self.step.run_options()
        });
    }

    /// Restores parameters, optimizer, schedule and position from a checkpoint file.
    pub fn resume(&mut self, path: &std::path::Path) -> Result<()> {
        let ck = Checkpoint::<f32>::load(path)?;
        ck.restore_params(&mut self.params, path)?;
        if let Some(state) = &ck.optimizer {
            self.optimizer
                .load_state(state)
                .map_err(|e| TrainError::Checkpoint {
                    path: path.to_path_buf(),
                    detail: format!("optimizer state does not fit: {e}"),
                })?;
        }
        if let Some(s) = &mut self.scheduler {
            s.load_state(&ck.scheduler)
                .map_err(|e| TrainError::Checkpoint {
                    path: path.to_path_buf(),
                    detail: format!("schedule state does not fit: {e}"),
                })?;
        }
        self.position = ck.position;
        let bad = |detail: String| TrainError::Checkpoint {
            path: path.to_path_buf(),
            detail,
        };
        let count = |k: &str| -> Result<usize> {
            match ck.fit.get(k) {
                None => Ok(0),
                Some(&v) if v >= 0.0 && v <= (1u64 << 53) as f64 && v.fract() == 0.0 => {
                    Ok(v as usize)
                }
                Some(v) => Err(bad(format!("fit entry {k} = {v} is not a count"))),
            }
        };
        self.best_accuracy = ck
            .fit
            .get("best_val_accuracy")
            .copied()
            .unwrap_or(f64::NEG_INFINITY);
        self.running = if ck.position.batch_in_epoch > 0 {
            Running {
                loss_sum: ck.fit.get("running.loss_sum").copied().unwrap_or(0.0),
                correct: count("running.correct")?,
                correct_top5: count("running.correct_top5")?,
                count: count("running.count")?,
            }
        } else {
            Running::default()
        };
        let prefixed = |p: &str| -> BTreeMap<String, f64> {
            ck.fit
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(p)?.to_string(), *v)))
                .collect()
        };
        self.resumed = Some(Resumed {
            shape: prefixed("run."),
            seed: ck.rng.get("seed").copied(),
            callbacks: prefixed("callback."),
        });
        Ok(())
    }

    /// Refuses to continue a resumed run whose seed or shape differ from this fit's, then
    /// hands the callbacks their saved state.
    fn continue_resumed(&mut self, config: &FitConfig) -> Result<()> {
        let Some(r) = self.resumed.take() else {
            return Ok(());
        };
        if let Some(seed) = r.seed
            && seed != config.seed
        {
            return Err(TrainError::Resume(format!(
                "the checkpoint's run has seed {seed}, this fit has seed {}",
                config.seed
            )));
        }
        // Entries only one side has (a checkpoint from before they were recorded) are not
        // compared.
        for (key, saved) in &r.shape {
            if let Some(now) = self.shape.get(key)
                && now.to_bits() != saved.to_bits()
            {
                return Err(TrainError::Resume(format!(
                    "the checkpoint's run has {key} = {saved}, this fit has {key} = {now}"
                )));
            }
        }
        for cb in &mut self.callbacks {
            cb.load_state(&r.callbacks);
        }
        Ok(())
    }

    /// The current state as a checkpoint.
    pub fn checkpoint(&self, config: &FitConfig) -> Checkpoint<f32> {
        let mut fit = BTreeMap::from([
            ("best_val_accuracy".to_string(), self.best_accuracy),
            ("running.loss_sum".to_string(), self.running.loss_sum),
            ("running.correct".to_string(), self.running.correct as f64),
            (
                "running.correct_top5".to_string(),
                self.running.correct_top5 as f64,
            ),
            ("running.count".to_string(), self.running.count as f64),
        ]);
        fit.extend(self.shape.iter().map(|(k, v)| (format!("run.{k}"), *v)));
        for cb in &self.callbacks {
            fit.extend(
                cb.state()
                    .into_iter()
                    .map(|(k, v)| (format!("callback.{k}"), v)),
            );
        }
        Checkpoint {
            params: Checkpoint::params_from(&self.params),
            optimizer: Some(self.optimizer.state()),
            scheduler: self
                .scheduler
                .as_ref()
                .map(|s| s.state())
                .unwrap_or_default(),
            position: self.position,
            rng: [("seed".to_string(), config.seed)].into_iter().collect(),
            info: config.info.iter().cloned().collect(),
            fit,
        }
    }

    fn save(&self, config: &FitConfig, name: &str) -> Result<()> {
        if !self.parallel.comm.is_root() {
            return Ok(());
        }
        if let Some(dir) = &config.checkpoint_dir {
            self.checkpoint(config).save(&dir.join(name))?;
        }
        Ok(())
    }

    /// One optimizer step on a batch of which this rank holds `images` (all of it on one
    /// rank; `global_len` examples across the ranks); returns the global batch's mean loss
    /// and its metric sums.
    pub(crate) fn train_batch(
        &mut self,
        images: &Tensor<f32>,
        targets: &[usize],
        global_len: usize,
        seed: u64,
    ) -> Result<(f64, Running)> {
        let seed = self.parallel.step_seed(seed);
        self.step.reseed(mix(seed ^ mix(self.position.step)));
        let at = format!(
            "step {} (epoch {})",
            self.position.step + 1,
            self.position.epoch + 1
        );
        let out = match self.step.run(&mut self.params, images, targets) {
            Err(e) if self.check_numerics => {
                return Err(TrainError::Training(format!("check numerics at {at}: {e}")));
            }
            other => other?,
        };
        let local = Running::of(out.loss, &out.output, targets);
        let global = self.parallel.sum_metrics(local)?;
        // The global batch's loss, the same on every rank, so that all agree on whether it is
        // finite (and all re-run in check mode together). One rank: the step's own loss.
        let loss = if self.parallel.is_parallel() {
            global.loss()
        } else {
            out.loss
        };
        if !loss.is_finite() {
            // Nothing has been updated by this step: run it again, the same way, in check
            // mode, so the message names where the first NaN or infinity appeared.
            self.step.reseed(mix(seed ^ mix(self.position.step)));
            let before = self.step.run_options();
            self.step.set_run_options(RunOptions {
                check_finite: true,
                ..before
            });
            let rerun = self.step.run(&mut self.params, images, targets);
            self.step.set_run_options(before);
            let found = match rerun {
                Err(e) => format!("the first non-finite value: {e}"),
                Ok(_) => "re-run in check mode, the step found no non-finite value".into(),
            };
            return Err(TrainError::Training(format!(
                "loss became {loss} at {at}; {found}. Lower the learning rate (or clip gradients)"
            )));
        }
        let mut grads = out.grads;
        self.parallel
            .average_gradients(&mut grads, targets.len() as f64 / global_len.max(1) as f64)?;
        if let Some(max) = self.clip_norm {
            clip_grad_norm(&mut grads, max)?;
        }
        self.optimizer.step(&mut self.params, &grads)?;
        self.parallel.average_buffers(&mut self.params)?;
        Ok((loss, global))
    }

    /// Trains for `config.epochs` epochs in total (counting epochs already done by a resumed
    /// run), validating on `val` after each epoch.
    pub fn fit(
        &mut self,
        train: &DataLoader,
        val: Option<&DataLoader>,
        config: &FitConfig,
    ) -> Result<FitReport> {
        let mut report = FitReport::default();
        let root = self.parallel.comm.is_root();
        // Only rank 0 prints, logs and writes checkpoints (see `save`).
        let mut log = match &config.csv_log {
            Some(path) if root => Some(CsvLog::open(path)?),
            _ => None,
        };
        let mut step_log = match &config.step_log {
            Some(path) if root => Some(StepLog::open(path)?),
            _ => None,
        };
        let progress_mode = if root {
            config.progress
        } else {
            ProgressMode::Silent
        };
        self.clip_norm = config.clip_grad_norm;
        let per_epoch = config
            .limit_train_batches
            .map_or(train.batches_per_epoch(), |l| {
                l.min(train.batches_per_epoch())
            });
        self.shape = run_shape(train, val, config);
        self.continue_resumed(config)?;
        // This rank's shard of every batch (the loader itself on one rank), after checking
        // that all ranks run the same fit; then every rank starts from rank 0's parameters.
        let description = self.describe_run(train, val, config);
        let train = &self.parallel.start(&description, train)?;
        self.parallel.broadcast_params(&mut self.params)?;
        if config
            .stop_after_steps
            .is_some_and(|s| self.position.step >= s)
        {
            // Resumed from a run that had already reached its stop: take no further step.
            report.stopped_early = true;
            report.position = self.position;
            report.communication = self.parallel.report;
            return Ok(report);
        }
        while self.position.epoch < config.epochs {
            let epoch = self.position.epoch;
            let label = format!("epoch {}/{}", epoch + 1, config.epochs);
            let progress = EpochProgress::new(progress_mode, &label, per_epoch);
            let started = Instant::now();
            let start = self.position.batch_in_epoch as usize;
            if start == 0 {
                self.running = Running::default();
            }
            // Images of this epoch seen before a resume: not part of this call's throughput.
            let done_before = self.running.count as f64;
            for batch in train
                .epoch_from(epoch, start)
                .take(per_epoch.saturating_sub(start))
            {
                let batch = batch?;
                let (loss, sums) =
                    self.train_batch(&batch.images, &batch.labels, batch.global_len, config.seed)?;
                self.running.merge(&sums);
                if let Some(log) = &mut step_log {
                    log.append(
                        self.position.step + 1,
                        epoch + 1,
                        batch.index,
                        loss,
                        self.optimizer.learning_rate(),
                    )?;
                }
                report.step_losses.push(loss);
                self.position.step += 1;
                self.position.batch_in_epoch += 1;
                if self.scheduler.is_some() && config.schedule_unit == ScheduleUnit::Step {
                    self.advance_schedule(None)?;
                }
                progress.update(
                    batch.index + 1,
                    self.running.count,
                    self.running.loss(),
                    self.running.accuracy(),
                );
                let learning_rate = self.optimizer.learning_rate();
                let info = StepInfo {
                    epoch: epoch + 1,
                    epochs: config.epochs,
                    batch: batch.index,
                    batches_per_epoch: per_epoch,
                    step: self.position.step,
                    loss,
                    accuracy: self.running.accuracy(),
                    learning_rate,
                    images_per_second: (self.running.count as f64 - done_before)
                        / started.elapsed().as_secs_f64().max(1e-9),
                    params: &self.params,
                };
                for cb in &mut self.callbacks {
                    cb.on_batch_end(epoch + 1, batch.index, loss);
                    cb.on_step(&info);
                }
                if config
                    .checkpoint_every
                    .is_some_and(|k| k > 0 && self.position.step.is_multiple_of(k))
                {
                    self.save(config, "last.safetensors")?;
                }
                if config
                    .stop_after_steps
                    .is_some_and(|s| self.position.step >= s)
                {
                    // A deliberate stop: leave a checkpoint to resume from.
                    self.save(config, "last.safetensors")?;
                    progress.finish();
                    report.stopped_early = true;
                    report.position = self.position;
                    report.communication = self.parallel.report;
                    return Ok(report);
                }
            }
            progress.finish();
            let seconds = started.elapsed().as_secs_f64();
            let val_report = match val {
                Some(v) => Some(self.evaluate(v, config.limit_val_batches)?),
                None => None,
            };
            if let Some(r) = &val_report {
                for cb in &mut self.callbacks {
                    cb.on_validation(epoch + 1, r, &self.params);
                }
            }
            self.position.epoch += 1;
            self.position.batch_in_epoch = 0;
            let record = EpochRecord {
                epoch: self.position.epoch,
                train_loss: self.running.loss(),
                train_accuracy: self.running.accuracy(),
                val_loss: val_report.as_ref().map(|r| r.loss),
                val_accuracy: val_report.as_ref().map(|r| r.accuracy),
                val_top5: val_report.as_ref().map(|r| r.top5),
                learning_rate: self.optimizer.learning_rate(),
                seconds,
                images_per_second: (self.running.count as f64 - done_before) / seconds.max(1e-9),
            };
            if self.scheduler.is_some() && config.schedule_unit == ScheduleUnit::Epoch {
                self.advance_schedule(record.val_loss.or(Some(record.train_loss)))?;
            }
            if let Some(log) = &mut log {
                log.append(&record)?;
            }
            let mut stop = false;
            for cb in &mut self.callbacks {
                stop |= cb.on_epoch_end(&record) == Control::Stop;
            }
            let stop = self.parallel.root_decides(stop)?;
            if let Some(acc) = record.val_accuracy
                && acc > self.best_accuracy
            {
                self.best_accuracy = acc;
                self.save(config, "best.safetensors")?;
            }
            // Saved after the callbacks and the best metric have seen the epoch, so a resume
            // from here continues them exactly.
            self.save(config, "last.safetensors")?;
            report.history.push(record);
            if stop {
                report.stopped_early = true;
                break;
            }
        }
        report.position = self.position;
        report.communication = self.parallel.report;
        Ok(report)
    }

    fn advance_schedule(&mut self, metric: Option<f64>) -> Result<()> {
        if let Some(s) = &mut self.scheduler {
            let lr = s.step(metric)?;
            self.optimizer.set_learning_rate(lr);
        }
        Ok(())
    }

    /// Loss, accuracy, top-5 and confusion matrix on a loader's data (eval mode). With
    /// several ranks, each evaluates its shard of every batch and the results are reduced:
    /// every rank must call it with the same loader.
    pub fn evaluate(
        &self,
        loader: &DataLoader,
        limit_batches: Option<usize>,
    ) -> Result<EvalReport> {
        if !self.parallel.is_parallel() {
            return evaluate(
                &self.evaluator,
                &self.params,
                loader,
                limit_batches,
                self.classes,
            );
        }
        let shard = loader
            .clone()
            .sharded(self.parallel.rank(), self.parallel.size())?;
        evaluate_on(
            &self.evaluator,
            &self.params,
            &shard,
            limit_batches,
            self.classes,
            &self.parallel,
        )
    }

    /// This rank's shard of `loader` (all of it on one rank), after every rank has taken
    /// rank 0's parameters.
    pub(crate) fn parallel_shard(&mut self, loader: &DataLoader) -> Result<DataLoader> {
        self.parallel.broadcast_params(&mut self.params)?;
        Ok(loader
            .clone()
            .sharded(self.parallel.rank(), self.parallel.size())?)
    }

    /// What every rank of a data-parallel fit must agree on, one item a line.
    fn describe_run(
        &self,
        train: &DataLoader,
        val: Option<&DataLoader>,
        config: &FitConfig,
    ) -> String {
        let mut lines: Vec<String> = self
            .params
            .iter()
            .map(|(name, t)| format!("parameter {name} {:?}", t.shape()))
            .collect();
        lines.extend(self.shape.iter().map(|(k, v)| format!("run {k} = {v}")));
        lines.push(format!("train loader {:?}", train.config()));
        lines.push(format!("validation loader {:?}", val.map(|v| v.config())));
        lines.push(format!(
            "fit seed {}, epochs {}, clip {:?}, limits {:?}/{:?}, stop after {:?}, schedule {:?}",
            config.seed,
            config.epochs,
            config.clip_grad_norm,
            config.limit_train_batches,
            config.limit_val_batches,
            config.stop_after_steps,
            config.schedule_unit
        ));
        lines.push(format!("position {:?}", self.position));
        lines.push(format!(
            "batch norm {}",
            if self.parallel.synchronised_batch_norm {
                "synchronised"
            } else {
                "per rank"
            }
        ));
        lines.push(format!(
            "optimizer {} at lr {}",
            self.optimizer.name(),
            self.optimizer.learning_rate()
        ));
        lines.join("\n")
    }
}
