//! The training side: a [`Callback`] that records every step and validation into the hub and,
//! every few seconds, hands a copy of the weights to a worker thread that computes the layer
//! cards' figures and pictures on a fixed sample batch.
//!
//! The training thread only appends numbers and, at a snapshot, clones the parameter store
//! (shared storage: the optimizer's next in-place update copies what it writes) and offers it
//! to the worker with `try_send`. A worker still busy with the previous snapshot makes this one
//! be skipped, so the step never waits for inspection or PNG encoding.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use convnet_autograd::ParamStore;
use convnet_nn::{Inference, LayerTrace, Loss, Model, TrainStep};
use convnet_tensor::Tensor;
use convnet_train::{Callback, Control, EpochRecord, EvalReport, StepInfo, TensorStats};

use crate::hub::Hub;
use crate::state::{
    DashState, LayerCard, LayerLive, Progress, RunInfo, Sample, Stats, StepPoint, ValPoint,
};

/// How often step points are pushed to the page.
const PUSH_EVERY: Duration = Duration::from_millis(200);
/// Smoothing of the loss curve.
const EMA: f64 = 0.05;
/// Convolutions whose filters are drawn (the first ones: later filters are not pictures).
const FILTER_LAYERS: usize = 2;
/// Misclassified validation images kept.
const MISCLASSIFIED: usize = 12;

/// Images the worker inspects: a fixed batch, so the cards change only as the network does.
#[derive(Debug, Clone)]
pub struct SampleBatch {
    /// `[N, C, H, W]` images as the model reads them.
    pub images: Tensor<f32>,
    /// Their labels.
    pub labels: Vec<usize>,
}

impl SampleBatch {
    /// The first `k` images of a batch (all of them when it has fewer) and their labels.
    pub fn first(images: &Tensor<f32>, labels: &[usize], k: usize) -> convnet_tensor::Result<Self> {
        let k = k.min(labels.len());
        Ok(SampleBatch {
            images: images.narrow(0, 0, k)?.contiguous(),
            labels: labels[..k].to_vec(),
        })
    }
}

enum Job {
    Layers {
        params: ParamStore<f32>,
        step: u64,
        lr: f64,
    },
    Epoch {
        params: ParamStore<f32>,
    },
}

/// The dashboard's callback: add it to a [`convnet_train::Trainer`]'s callbacks.
pub struct Monitor {
    hub: Arc<Hub>,
    started: Instant,
    last_push: Instant,
    last_snapshot: Option<Instant>,
    snapshot_every: Duration,
    pending: Vec<StepPoint>,
    smoothed: Option<f64>,
    step: u64,
    jobs: Option<SyncSender<Job>>,
    worker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor").field("step", &self.step).finish()
    }
}

/// The cards in network order, from the model's summary.
pub fn layer_cards(model: &Model<f32>) -> convnet_nn::Result<Vec<LayerCard>> {
    Ok(model
        .summary(1)?
        .rows
        .into_iter()
        .map(|r| LayerCard {
            name: r.name,
            kind: r.kind,
            output_shape: r.output_shape.to_string(),
            arithmetic: r.arithmetic,
            params: r.params,
            params_formula: r.params_formula,
            ..LayerCard::default()
        })
        .collect())
}

impl Monitor {
    /// A monitor for `model` training on `loss`, publishing into `hub` (whose state it
    /// initialises with `run` and the layer cards). `sample` is inspected every
    /// `snapshot_every`; `val_sample` is searched for misclassified images after each epoch.
    pub fn new(
        hub: Arc<Hub>,
        model: &Model<f32>,
        loss: impl Loss<f32> + 'static,
        run: RunInfo,
        sample: SampleBatch,
        val_sample: Option<SampleBatch>,
        snapshot_every: Duration,
    ) -> convnet_nn::Result<Self> {
        let cards = layer_cards(model)?;
        hub.with_state(|s| {
            *s = DashState {
                run,
                layers: cards,
                lr_find: s.lr_find.take(),
                race: crate::state::race_charts(),
                ..DashState::default()
            }
        });
        let worker = Worker {
            hub: Arc::clone(&hub),
            inference: model.inference()?,
            step: model.train_step(loss, 0)?,
            sample,
            val_sample,
            version: 0,
        };
        let (tx, rx) = sync_channel::<Job>(1);
        let handle = std::thread::Builder::new()
            .name("dashboard-worker".into())
            .spawn(move || worker.run(rx))
            .map_err(|e| convnet_nn::NnError::Usage(format!("dashboard worker: {e}")))?;
        Ok(Monitor {
            hub,
            started: Instant::now(),
            last_push: Instant::now(),
            last_snapshot: None,
            snapshot_every,
            pending: Vec::new(),
            smoothed: None,
            step: 0,
            jobs: Some(tx),
            worker: Some(handle),
        })
    }

    fn offer(&self, job: Job) {
        if let Some(tx) = &self.jobs {
            match job {
                // Busy worker: skip this snapshot rather than wait; the next one comes soon.
                Job::Layers { .. } => {
                    let _ = tx.try_send(job);
                }
                // Once an epoch, and nothing replaces it: wait for the worker to take it (at
                // most one snapshot's time) rather than lose the epoch's misclassified images,
                // which a slow machine's busy worker did.
                Job::Epoch { .. } => {
                    let _ = tx.send(job);
                }
            }
        }
    }

    fn push_steps(&mut self) {
        let progress = self.hub.with_state(|s| s.progress);
        let data = serde_json::json!({ "points": self.pending, "progress": progress });
        self.hub.publish("step", &data.to_string());
        self.pending.clear();
        self.last_push = Instant::now();
    }

    /// Marks the run finished and pushes what is pending; the worker finishes its last job.
    pub fn finish(&mut self) {
        self.hub.with_state(|s| s.progress.finished = true);
        self.push_steps();
        self.jobs = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl Callback for Monitor {
    fn on_step(&mut self, info: &StepInfo<'_>) {
        self.step = info.step;
        let smoothed = match self.smoothed {
            Some(s) if info.loss.is_finite() => s + EMA * (info.loss - s),
            _ => info.loss,
        };
        self.smoothed = Some(smoothed);
        let point = StepPoint {
            step: info.step,
            loss: info.loss,
            smoothed,
            accuracy: info.accuracy,
            lr: info.learning_rate,
        };
        let elapsed = self.started.elapsed().as_secs_f64();
        let left_in_epoch = info.batches_per_epoch.saturating_sub(info.batch + 1);
        let epochs_left = info.epochs.saturating_sub(info.epoch);
        let steps_left = left_in_epoch as f64 + epochs_left as f64 * info.batches_per_epoch as f64;
        let batch_size = self.hub.with_state(|s| s.run.batch_size).max(1) as f64;
        let eta = if info.images_per_second > 0.0 {
            steps_left * batch_size / info.images_per_second
        } else {
            0.0
        };
        self.hub.with_state(|s| {
            s.train.push(point);
            s.progress = Progress {
                epoch: info.epoch,
                epochs: info.epochs,
                batch: info.batch + 1,
                batches_per_epoch: info.batches_per_epoch,
                step: info.step,
                images_per_second: info.images_per_second,
                elapsed_seconds: elapsed,
                eta_seconds: eta,
                finished: false,
            };
        });
        self.pending.push(point);
        if self.last_push.elapsed() >= PUSH_EVERY {
            self.push_steps();
        }
        if self
            .last_snapshot
            .is_none_or(|t| t.elapsed() >= self.snapshot_every)
        {
            self.last_snapshot = Some(Instant::now());
            self.offer(Job::Layers {
                params: info.params.clone(),
                step: info.step,
                lr: info.learning_rate,
            });
        }
    }

    fn on_validation(&mut self, epoch: u64, report: &EvalReport, params: &ParamStore<f32>) {
        let step = self.step;
        let val = self.hub.with_state(|s| {
            s.val.push(ValPoint {
                epoch,
                step,
                loss: report.loss,
                accuracy: report.accuracy,
            });
            s.confusion = Some(report.confusion.clone());
            s.val.clone()
        });
        let data = serde_json::json!({ "val": val, "confusion": report.confusion });
        self.hub.publish("epoch", &data.to_string());
        self.offer(Job::Epoch {
            params: params.clone(),
        });
    }

    fn on_epoch_end(&mut self, _record: &EpochRecord) -> Control {
        self.push_steps();
        Control::Continue
    }
}

/// Fills `hub` once, synchronously, with the cards' figures and pictures on `sample` and the
/// misclassified images of `val_sample`, for `params` — what the live monitor does every few
/// seconds, for a report of a finished run.
pub fn inspect_into(
    hub: &Arc<Hub>,
    model: &Model<f32>,
    loss: impl Loss<f32> + 'static,
    params: &ParamStore<f32>,
    sample: SampleBatch,
    val_sample: Option<SampleBatch>,
) -> convnet_train::Result<()> {
    let mut worker = Worker {
        hub: Arc::clone(hub),
        inference: model.inference()?,
        step: model.train_step(loss, 0)?,
        sample,
        val_sample,
        version: 1,
    };
    let step = hub.with_state(|s| s.progress.step);
    let lr = hub.with_state(|s| s.train.last().map_or(0.0, |p| p.lr));
    worker.layers(params.clone(), step, lr)?;
    worker.epoch(params)
}

/// Computes the cards' figures and pictures off the training thread.
struct Worker {
    hub: Arc<Hub>,
    inference: Inference<f32>,
    step: TrainStep<f32>,
    sample: SampleBatch,
    val_sample: Option<SampleBatch>,
    version: u64,
}

fn stats(t: &TensorStats) -> Stats {
    Stats {
        min: t.min,
        max: t.max,
        mean: t.mean,
        std: t.std,
    }
}

fn norm(t: &Tensor<f32>) -> f64 {
    t.to_vec()
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt()
}

/// Softmax probability and index of each row's largest logit.
fn verdicts(logits: &Tensor<f32>) -> Vec<(usize, f64)> {
    let classes = logits.shape().get(1).copied().unwrap_or(1).max(1);
    logits
        .to_vec()
        .chunks(classes)
        .map(|row| {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f64 = row.iter().map(|&v| f64::from(v - max).exp()).sum();
            let (i, _) = row
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                );
            (i, 1.0 / sum)
        })
        .collect()
}

impl Worker {
    fn run(mut self, jobs: Receiver<Job>) {
        while let Ok(job) = jobs.recv() {
            self.version += 1;
            let result = match job {
                Job::Layers { params, step, lr } => self.layers(params, step, lr),
                Job::Epoch { params } => self.epoch(&params),
            };
            if let Err(e) = result {
                eprintln!("dashboard: could not inspect the network: {e}");
            }
        }
    }

    fn png(&self, key: &str, image: convnet_train::Result<convnet_train::Image>) -> Option<String> {
        let png = image.ok()?.to_png().ok()?;
        self.hub.put_image(key, png);
        Some(format!("/img/{key}?v={}", self.version))
    }

    fn sample_pictures(&self, images: &Tensor<f32>, prefix: &str, which: &[usize]) -> Vec<String> {
        which
            .iter()
            .map(|&i| {
                self.png(
                    &format!("{prefix}{i}"),
                    convnet_train::feature_maps(images, i),
                )
                .unwrap_or_default()
            })
            .collect()
    }

    fn layers(
        &mut self,
        mut params: ParamStore<f32>,
        step: u64,
        lr: f64,
    ) -> convnet_train::Result<()> {
        let images = self.sample.images.clone();
        let labels = self.sample.labels.clone();
        let (logits, traces) = self.inference.forward_inspect(&params, &images)?;
        // A training-mode step on the copy for the gradients; the copy's buffers change, the
        // run's do not.
        let out = self.step.run_inspect(&mut params, &images, &labels)?;
        let grads_by_layer: std::collections::HashMap<&str, &LayerTrace<f32>> =
            out.layers.iter().map(|t| (t.name.as_str(), t)).collect();
        let mut cards: Vec<LayerCard> = self.hub.with_state(|s| s.layers.clone());
        let mut convs = 0;
        for card in &mut cards {
            let Some(trace) = traces.iter().find(|t| t.name == card.name) else {
                continue;
            };
            let act = TensorStats::of(&trace.activation);
            let gradient = grads_by_layer
                .get(card.name.as_str())
                .and_then(|t| t.gradient.as_ref())
                .map(|g| stats(&TensorStats::of(g)));
            let weight_key = format!("{}.weight", card.name);
            let update_ratio = match (params.get(&weight_key), out.grads.get(&weight_key)) {
                (Some(w), Some(g)) if norm(w) > 0.0 => Some(lr * norm(g) / norm(w)),
                _ => None,
            };
            card.live = Some(LayerLive {
                activation: stats(&act),
                zero_fraction: act.zero_fraction,
                gradient,
                update_ratio,
                step,
            });
            if trace.activation.shape().len() == 4 {
                card.activation_image = self.png(
                    &format!("act/{}", card.name),
                    convnet_train::feature_maps(&trace.activation, 0),
                );
            }
            if card.kind == "Conv2d" && convs < FILTER_LAYERS {
                convs += 1;
                if let Some(w) = params.get(&weight_key) {
                    card.filter_image = self.png(
                        &format!("filters/{}", card.name),
                        convnet_train::filter_grid(w),
                    );
                }
                if let Some(g) = out.grads.get(&weight_key) {
                    card.filter_grad_image = self.png(
                        &format!("filter-grads/{}", card.name),
                        convnet_train::filter_grid(g),
                    );
                }
            }
        }
        let verdict = verdicts(&logits);
        let pictures =
            self.sample_pictures(&images, "sample/", &(0..labels.len()).collect::<Vec<_>>());
        let samples: Vec<Sample> = labels
            .iter()
            .zip(&verdict)
            .zip(pictures)
            .map(|((&label, &(predicted, probability)), image)| Sample {
                image,
                label,
                predicted,
                probability,
            })
            .collect();
        self.hub.with_state(|s| {
            s.layers = cards.clone();
            s.samples = samples.clone();
        });
        let data = serde_json::json!({ "layers": cards, "samples": samples });
        self.hub.publish("layers", &data.to_string());
        Ok(())
    }

    fn epoch(&mut self, params: &ParamStore<f32>) -> convnet_train::Result<()> {
        let Some(val) = &self.val_sample else {
            return Ok(());
        };
        let logits = self.inference.forward(params, &val.images)?;
        let wrong: Vec<(usize, usize, f64)> = verdicts(&logits)
            .into_iter()
            .enumerate()
            .filter(|&(i, (p, _))| p != val.labels[i])
            .take(MISCLASSIFIED)
            .map(|(i, (p, prob))| (i, p, prob))
            .collect();
        let which: Vec<usize> = wrong.iter().map(|w| w.0).collect();
        let pictures = self.sample_pictures(&val.images, "wrong/", &which);
        let misclassified: Vec<Sample> = wrong
            .iter()
            .zip(pictures)
            .map(|(&(i, predicted, probability), image)| Sample {
                image,
                label: val.labels[i],
                predicted,
                probability,
            })
            .collect();
        self.hub
            .with_state(|s| s.misclassified = misclassified.clone());
        let data = serde_json::json!({ "misclassified": misclassified });
        self.hub.publish("misclassified", &data.to_string());
        Ok(())
    }
}
